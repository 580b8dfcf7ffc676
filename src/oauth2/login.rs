//! `leadsift oauth2 login`: gets the first refresh token and stores it (mode 0600) in the state
//! directory. Two flows: the device code (RFC 8628, Microsoft 365: open a URL on any device and
//! enter a code) and, where the provider does not allow that for mail (Gmail), the installed-app
//! flow: a browser sign-in that redirects to a one-shot listener on 127.0.0.1 (RFC 8252), with
//! PKCE (RFC 7636).

use std::io::Write;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use base64::Engine;
use rand::Rng;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::settings::{RefreshFlow, TokenSource};
use super::{EndpointError, TokenProvider, TokenResponse, post_form, token_request};

/// How long the browser flow waits for the redirect.
const BROWSER_WAIT: Duration = Duration::from_secs(600);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// The device code when the provider has a device endpoint, else the browser.
    Auto,
    Device,
    Browser,
}

/// Runs the sign-in for `provider`'s section and stores the refresh token. `port`: the
/// loopback port for the browser flow (0: any; a fixed one helps `ssh -L`). Progress and the
/// instructions go to `out`.
pub async fn login(
    provider: &TokenProvider,
    flow: Flow,
    port: u16,
    out: &mut (dyn Write + Send),
) -> anyhow::Result<()> {
    let owner = &provider.settings.owner;
    let f = match &provider.settings.source {
        TokenSource::Refresh(f) => f,
        TokenSource::Command(cmd) => bail!(
            "{owner} gets its tokens from oauth2_token_command ({cmd:?}): sign in with that helper (e.g. `pizauth` or `oama`), not with leadsift"
        ),
    };
    let use_device = match flow {
        Flow::Device => true,
        Flow::Browser => false,
        Flow::Auto => f.device_url.is_some(),
    };
    let got = if use_device {
        device_flow(f, out).await
    } else {
        browser_flow(f, port, out).await
    }
    .with_context(|| format!("{owner}: signing in"))?;
    let Some(refresh) = got.refresh_token else {
        bail!(
            "{owner}: the provider returned no refresh token; add the scope that grants one (Microsoft: \"offline_access\") to oauth2_scopes"
        );
    };
    super::write_secret_file(&f.state_file, refresh.expose())
        .with_context(|| format!("{owner}: writing {}", f.state_file.display()))?;
    writeln!(
        out,
        "Signed in. The refresh token is stored in {} (mode 0600); leadsift renews access tokens from it.",
        f.state_file.display()
    )?;
    Ok(())
}

fn with_client(
    f: &RefreshFlow,
    mut form: Vec<(&'static str, String)>,
) -> Vec<(&'static str, String)> {
    form.push(("client_id", f.client_id.clone()));
    if let Some(s) = &f.client_secret {
        form.push(("client_secret", s.expose().to_string()));
    }
    form
}

async fn device_flow(
    f: &RefreshFlow,
    out: &mut (dyn Write + Send),
) -> anyhow::Result<TokenResponse> {
    let url = f.device_url.as_deref().ok_or_else(|| {
        anyhow!("no device authorization endpoint is known for this provider: set oauth2_device_url, or use --browser")
    })?;
    let mut form = vec![("client_id", f.client_id.clone())];
    if !f.scopes.is_empty() {
        form.push(("scope", f.scopes.join(" ")));
    }
    let (status, json) = post_form(url, form).await.map_err(|m| anyhow!(m))?;
    if let Some(e) = json.get("error").and_then(|e| e.as_str()) {
        let d = json
            .get("error_description")
            .and_then(|d| d.as_str())
            .unwrap_or("");
        bail!("the device authorization endpoint {url} refused: {e} {d}");
    }
    let field = |k: &str| json.get(k).and_then(|v| v.as_str()).map(str::to_string);
    let (Some(device_code), Some(user_code)) = (field("device_code"), field("user_code")) else {
        bail!("{url} answered HTTP {status} without device_code and user_code");
    };
    // Google says verification_url; RFC 8628 says verification_uri.
    let verify = field("verification_uri")
        .or_else(|| field("verification_url"))
        .ok_or_else(|| anyhow!("{url} answered without verification_uri"))?;
    let num = |k: &str| {
        json.get(k)
            .and_then(|v| v.as_u64().or_else(|| v.as_str()?.parse().ok()))
    };
    let mut interval = num("interval").unwrap_or(5).max(1);
    let expires = Instant::now() + Duration::from_secs(num("expires_in").unwrap_or(900));
    writeln!(
        out,
        "To sign in, open {verify} in any browser and enter the code {user_code}"
    )?;
    if let Some(c) = field("verification_uri_complete") {
        writeln!(out, "(or open {c} directly)")?;
    }
    writeln!(out, "Waiting for the sign-in to finish…")?;
    out.flush()?;
    loop {
        tokio::time::sleep(Duration::from_secs(interval)).await;
        if Instant::now() > expires {
            bail!(
                "the code {user_code} expired before the sign-in was finished; run the command again"
            );
        }
        let form = with_client(
            f,
            vec![
                (
                    "grant_type",
                    "urn:ietf:params:oauth:grant-type:device_code".into(),
                ),
                ("device_code", device_code.clone()),
            ],
        );
        match token_request(&f.token_url, form).await {
            Ok(t) => return Ok(t),
            Err(EndpointError::Oauth { code, .. }) if code == "authorization_pending" => {}
            Err(EndpointError::Oauth { code, .. }) if code == "slow_down" => interval += 5,
            Err(EndpointError::Oauth { code, description }) => bail!(
                "the sign-in did not complete: {code}{}",
                description.map(|d| format!(" ({d})")).unwrap_or_default()
            ),
            Err(EndpointError::Other(m)) => bail!(m),
        }
    }
}

/// 43–128 characters from the unreserved set (RFC 7636 4.1).
fn random_token(len: usize) -> String {
    const SET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~";
    let mut rng = rand::rng();
    (0..len)
        .map(|_| SET[rng.random_range(0..SET.len())] as char)
        .collect()
}

/// The S256 code challenge of a verifier.
pub fn pkce_challenge(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

async fn browser_flow(
    f: &RefreshFlow,
    port: u16,
    out: &mut (dyn Write + Send),
) -> anyhow::Result<TokenResponse> {
    let auth_url = f.auth_url.as_deref().ok_or_else(|| {
        anyhow!("no authorization endpoint is known for this provider: set oauth2_auth_url")
    })?;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .with_context(|| format!("listening on 127.0.0.1:{port} for the redirect"))?;
    let port = listener.local_addr()?.port();
    let redirect_uri = format!("http://127.0.0.1:{port}/");
    let verifier = random_token(64);
    let state = random_token(24);
    let mut params = vec![
        ("response_type", "code".to_string()),
        ("client_id", f.client_id.clone()),
        ("redirect_uri", redirect_uri.clone()),
        ("code_challenge", pkce_challenge(&verifier)),
        ("code_challenge_method", "S256".into()),
        ("state", state.clone()),
        // Google hands out a refresh token only with these two.
        ("access_type", "offline".into()),
        ("prompt", "consent".into()),
    ];
    if !f.scopes.is_empty() {
        params.push(("scope", f.scopes.join(" ")));
    }
    let url = url::Url::parse_with_params(auth_url, &params)
        .with_context(|| format!("oauth2_auth_url {auth_url:?}"))?;
    writeln!(
        out,
        "To sign in, open this address in a browser on this machine:"
    )?;
    writeln!(out, "{url}")?;
    writeln!(
        out,
        "(From another computer: `ssh -L {port}:127.0.0.1:{port}` to this server first, or run with --port.) Waiting for the browser…"
    )?;
    out.flush()?;
    let code = tokio::time::timeout(BROWSER_WAIT, wait_for_code(&listener, &state))
        .await
        .map_err(|_| {
            anyhow!(
                "no sign-in arrived within {} minutes",
                BROWSER_WAIT.as_secs() / 60
            )
        })??;
    let form = with_client(
        f,
        vec![
            ("grant_type", "authorization_code".into()),
            ("code", code),
            ("redirect_uri", redirect_uri),
            ("code_verifier", verifier),
        ],
    );
    token_request(&f.token_url, form)
        .await
        .map_err(|e| match e {
            EndpointError::Oauth { code, description } => anyhow!(
                "the token endpoint refused the authorization code: {code}{}",
                description.map(|d| format!(" ({d})")).unwrap_or_default()
            ),
            EndpointError::Other(m) => anyhow!(m),
        })
}

/// Answers requests on the loopback listener until one carries our `state` and a code (or an
/// error from the provider).
async fn wait_for_code(listener: &tokio::net::TcpListener, state: &str) -> anyhow::Result<String> {
    loop {
        let (mut conn, _) = listener.accept().await?;
        let mut buf = vec![0u8; 8192];
        let mut n = 0;
        // The request line and headers; the redirect has no body.
        while n < buf.len() && !buf[..n].windows(4).any(|w| w == b"\r\n\r\n") {
            match tokio::time::timeout(Duration::from_secs(10), conn.read(&mut buf[n..])).await {
                Ok(Ok(0)) | Err(_) => break,
                Ok(Ok(k)) => n += k,
                Ok(Err(_)) => break,
            }
        }
        let head = String::from_utf8_lossy(&buf[..n]);
        let target = head
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("GET "))
            .and_then(|l| l.split(' ').next())
            .unwrap_or("");
        let query = target.split_once('?').map(|(_, q)| q).unwrap_or("");
        let pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect();
        let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        let (status, body, outcome) = match (get("state"), get("code"), get("error")) {
            (Some(s), _, Some(e)) if s == state => (
                "400 Bad Request",
                format!("leadsift: the sign-in failed: {e}"),
                Some(Err(anyhow!(
                    "the provider refused the sign-in: {e}{}",
                    get("error_description")
                        .map(|d| format!(" ({d})"))
                        .unwrap_or_default()
                ))),
            ),
            (Some(s), Some(code), None) if s == state => (
                "200 OK",
                "leadsift: signed in. You can close this window.".to_string(),
                Some(Ok(code)),
            ),
            // A favicon request, a stray visitor, an old tab: not ours.
            _ => ("404 Not Found", "not found".to_string(), None),
        };
        let resp = format!(
            "HTTP/1.1 {status}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        let _ = conn.write_all(resp.as_bytes()).await;
        let _ = conn.shutdown().await;
        if let Some(o) = outcome {
            return o;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_s256_is_base64url_of_sha256() {
        // Computed independently: Python's hashlib + base64.urlsafe_b64encode, padding removed.
        assert_eq!(
            pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWl5EjXk"),
            "K-9SCbRGGjxxLOsc4_CNrBJfBMaVy-Gew9YxXjQPOXA"
        );
        let v = random_token(64);
        assert_eq!(v.len(), 64);
        assert_ne!(v, random_token(64));
    }
}
