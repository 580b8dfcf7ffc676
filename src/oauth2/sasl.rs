//! The SASL messages for OAuth2 (XOAUTH2, and OAUTHBEARER from RFC 7628) and IMAP
//! `AUTHENTICATE` with them, retrying once with a fresh token when a cached one is refused.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, anyhow};
use async_imap::imap_proto::Response;

use super::TokenProvider;
use crate::secret::Secret;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mechanism {
    XOAuth2,
    OAuthBearer,
}

impl Mechanism {
    pub fn as_str(self) -> &'static str {
        match self {
            Mechanism::XOAuth2 => "XOAUTH2",
            Mechanism::OAuthBearer => "OAUTHBEARER",
        }
    }

    /// XOAUTH2 where offered (Microsoft 365 speaks only that), else OAUTHBEARER; XOAUTH2 when the
    /// server lists neither (some do not advertise it before login).
    pub fn choose(capabilities: &[String]) -> Mechanism {
        let has = |m: &str| {
            capabilities
                .iter()
                .any(|c| c.eq_ignore_ascii_case(&format!("AUTH={m}")))
        };
        if !has("XOAUTH2") && has("OAUTHBEARER") {
            Mechanism::OAuthBearer
        } else {
            Mechanism::XOAuth2
        }
    }

    /// The initial client response.
    pub fn initial(self, user: &str, token: &Secret, host: &str, port: u16) -> Vec<u8> {
        match self {
            Mechanism::XOAuth2 => {
                format!("user={user}\x01auth=Bearer {}\x01\x01", token.expose()).into_bytes()
            }
            Mechanism::OAuthBearer => {
                // RFC 5801 saslname: `,` and `=` escaped.
                let a = user.replace('=', "=3D").replace(',', "=2C");
                format!(
                    "n,a={a},\x01host={host}\x01port={port}\x01auth=Bearer {}\x01\x01",
                    token.expose()
                )
                .into_bytes()
            }
        }
    }

    /// The answer to an error challenge, after which the server says NO.
    fn abort(self) -> Vec<u8> {
        match self {
            Mechanism::XOAuth2 => Vec::new(),
            // RFC 7628 3.2.3: a lone %x01.
            Mechanism::OAuthBearer => vec![1],
        }
    }
}

/// One AUTHENTICATE exchange: the initial response, then (on failure) the server's error
/// challenge is kept for the message and the exchange is ended.
struct Exchange {
    mechanism: Mechanism,
    initial: Option<Vec<u8>>,
    error: Arc<Mutex<Option<String>>>,
}

impl async_imap::Authenticator for Exchange {
    type Response = Vec<u8>;
    fn process(&mut self, challenge: &[u8]) -> Vec<u8> {
        if let Some(first) = self.initial.take() {
            return first;
        }
        if let Ok(mut e) = self.error.lock() {
            *e = Some(describe_challenge(challenge));
        }
        self.mechanism.abort()
    }
}

/// `{"status":"401","schemes":"bearer","scope":"…"}` → "status 401"; never the token.
fn describe_challenge(challenge: &[u8]) -> String {
    match serde_json::from_slice::<serde_json::Value>(challenge) {
        Ok(v) => {
            let status = v.get("status").and_then(|s| s.as_str()).unwrap_or("?");
            format!("the server answered status {status:?}")
        }
        Err(_) => "the server refused the token".to_string(),
    }
}

/// Capabilities before login, for choosing the mechanism.
async fn pre_auth_capabilities<T>(
    client: &mut async_imap::Client<T>,
    timeout: Duration,
) -> anyhow::Result<Vec<String>>
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + std::fmt::Debug,
{
    let r = tokio::time::timeout(timeout, async {
        // Untagged answers (the CAPABILITY line among them) go to the channel.
        let (tx, rx) = async_channel::bounded(16);
        client
            .run_command_and_check_ok("CAPABILITY", Some(tx))
            .await?;
        let mut caps = Vec::new();
        while let Ok(u) = rx.try_recv() {
            let async_imap::types::UnsolicitedResponse::Other(resp) = u else {
                continue;
            };
            if let Response::Capabilities(c) = resp.parsed() {
                for cap in c {
                    caps.push(match cap {
                        async_imap::imap_proto::Capability::Imap4rev1 => "IMAP4REV1".into(),
                        async_imap::imap_proto::Capability::Auth(a) => {
                            format!("AUTH={}", a.to_uppercase())
                        }
                        async_imap::imap_proto::Capability::Atom(a) => a.to_uppercase(),
                    });
                }
            }
        }
        Ok::<_, async_imap::error::Error>(caps)
    })
    .await;
    match r {
        Ok(r) => r.context("CAPABILITY"),
        Err(_) => Err(anyhow!(
            "CAPABILITY: no answer within {} s (timeout)",
            timeout.as_secs()
        )),
    }
}

/// Signs in with AUTHENTICATE XOAUTH2/OAUTHBEARER. A cached token the server refuses (it may
/// have expired early, or been revoked) is dropped and a fresh one tried once on the same
/// connection. The error of a refused login names the owner and starts with "logging in as".
pub async fn imap_authenticate<T>(
    mut client: async_imap::Client<T>,
    provider: &TokenProvider,
    host: &str,
    port: u16,
    timeout: Duration,
) -> anyhow::Result<async_imap::Session<T>>
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + std::fmt::Debug,
{
    let user = provider.settings.username.clone();
    let caps = pre_auth_capabilities(&mut client, timeout).await?;
    let mechanism = Mechanism::choose(&caps);
    let mut token = provider.access_token().await?;
    loop {
        let error = Arc::new(Mutex::new(None));
        let exchange = Exchange {
            mechanism,
            initial: Some(mechanism.initial(&user, &token.token, host, port)),
            error: Arc::clone(&error),
        };
        let what = format!("logging in as {user} ({})", mechanism.as_str());
        let r = tokio::time::timeout(timeout, client.authenticate(mechanism.as_str(), exchange))
            .await
            .map_err(|_| anyhow!("{what}: no answer within {} s (timeout)", timeout.as_secs()))?;
        match r {
            Ok(session) => return Ok(session),
            Err((e, back)) => {
                let rejected = matches!(e, async_imap::error::Error::No(_));
                if rejected && token.cached {
                    provider.invalidate(&token.token).await;
                    tracing::info!(owner = %provider.settings.owner, "the server refused the cached OAuth2 access token; trying a fresh one");
                    token = provider.access_token().await?;
                    client = back;
                    continue;
                }
                let detail = error
                    .lock()
                    .ok()
                    .and_then(|e| e.clone())
                    .map(|d| format!(" ({d})"))
                    .unwrap_or_default();
                let hint = if rejected {
                    format!(
                        ": the server refused the OAuth2 access token{detail}; check that the token is for {user} and has the IMAP scope, or sign in again with `{}`",
                        provider.settings.login_command
                    )
                } else {
                    String::new()
                };
                return Err(anyhow::Error::new(e)
                    .context(format!("{what}{hint}",))
                    .context(provider.settings.owner.clone()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages() {
        let t = Secret::new("tok".into());
        assert_eq!(
            Mechanism::XOAuth2.initial("a@b.example", &t, "h", 1),
            b"user=a@b.example\x01auth=Bearer tok\x01\x01"
        );
        assert_eq!(
            Mechanism::OAuthBearer.initial("a,b=c@x", &t, "imap.x", 993),
            b"n,a=a=2Cb=3Dc@x,\x01host=imap.x\x01port=993\x01auth=Bearer tok\x01\x01"
        );
        let caps = |c: &[&str]| c.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            Mechanism::choose(&caps(&["IMAP4rev1", "AUTH=OAUTHBEARER"])),
            Mechanism::OAuthBearer
        );
        assert_eq!(
            Mechanism::choose(&caps(&["AUTH=XOAUTH2", "AUTH=OAUTHBEARER"])),
            Mechanism::XOAuth2
        );
        assert_eq!(
            describe_challenge(br#"{"status":"401","schemes":"bearer"}"#),
            "the server answered status \"401\""
        );
    }
}
