//! OAuth2 access tokens for IMAP and SMTP (XOAUTH2 / OAUTHBEARER): from a helper command, or
//! from leadsift's own refresh-token flow with the token cached in memory until shortly before
//! it expires. A refresh token the provider rotates is written back (mode 0600) under the state
//! directory. Tokens never reach a log: they travel as [`Secret`].
//!
//! The token endpoint is called with ureq (blocking, rustls with ring) on tokio's blocking pool.

pub mod login;
pub mod sasl;
pub mod settings;

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use tracing::{debug, info};

use crate::secret::{Secret, SecretSource};
pub use settings::{OAuth2Settings, RefreshFlow, TokenSource};

/// Why no access token could be had. `refused`: the provider (or the server) said no to the
/// credentials themselves, so retrying soon will not help — a person must sign in again.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct OAuth2Error {
    pub message: String,
    pub refused: bool,
}

/// One section's token source with its cache. Shared (`Arc`) by every session of the account.
pub struct TokenProvider {
    pub settings: OAuth2Settings,
    /// Also serialises refreshes: a rotating refresh token must not be spent twice at once.
    cache: tokio::sync::Mutex<Option<Cached>>,
}

impl std::fmt::Debug for TokenProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenProvider")
            .field("owner", &self.settings.owner)
            .finish_non_exhaustive()
    }
}

struct Cached {
    token: Secret,
    /// Refreshed from then on: a while before the provider's expiry.
    refresh_at: Instant,
}

/// An access token, and whether it came from the cache (then a rejection may just mean it
/// expired early, and one fresh token is worth a try).
pub struct AccessToken {
    pub token: Secret,
    pub cached: bool,
}

/// What the token endpoint gave.
#[derive(Debug)]
pub struct TokenResponse {
    pub access_token: Secret,
    pub expires_in: Option<u64>,
    pub refresh_token: Option<Secret>,
}

/// How long before the provider's expiry a token is renewed.
fn refresh_margin(expires_in: u64) -> u64 {
    (expires_in / 10).clamp(60, 300)
}

/// Tokens without `expires_in` are kept this long.
const DEFAULT_LIFETIME: u64 = 300;

pub const HTTP_TIMEOUT: Duration = Duration::from_secs(30);

impl TokenProvider {
    pub fn new(settings: OAuth2Settings) -> TokenProvider {
        TokenProvider {
            settings,
            cache: tokio::sync::Mutex::new(None),
        }
    }

    fn err(&self, refused: bool, what: impl std::fmt::Display) -> OAuth2Error {
        OAuth2Error {
            message: format!("{}: {what}", self.settings.owner),
            refused,
        }
    }

    /// A current access token: the cached one while it is fresh, else a new one.
    pub async fn access_token(&self) -> Result<AccessToken, OAuth2Error> {
        match &self.settings.source {
            TokenSource::Command(cmd) => {
                // The helper keeps its own cache and refreshes on its own: ask it every time.
                let src = SecretSource::Command(cmd.clone());
                let token = tokio::task::spawn_blocking(move || src.resolve())
                    .await
                    .map_err(|e| self.err(false, format!("oauth2_token_command: {e}")))?
                    .map_err(|m| {
                        self.err(
                            false,
                            format!(
                                "oauth2_token_command: {}",
                                m.replace("password_command", "the command")
                                    .replace("the password", "the access token")
                            ),
                        )
                    })?;
                Ok(AccessToken {
                    token,
                    cached: false,
                })
            }
            TokenSource::Refresh(flow) => {
                let mut cache = self.cache.lock().await;
                if let Some(c) = cache.as_ref()
                    && Instant::now() < c.refresh_at
                {
                    return Ok(AccessToken {
                        token: c.token.clone(),
                        cached: true,
                    });
                }
                let got = self.refresh(flow).await?;
                let lifetime = got.expires_in.unwrap_or(DEFAULT_LIFETIME);
                let keep = lifetime.saturating_sub(refresh_margin(lifetime));
                *cache = (keep > 0).then(|| Cached {
                    token: got.access_token.clone(),
                    refresh_at: Instant::now() + Duration::from_secs(keep),
                });
                debug!(owner = %self.settings.owner, expires_in = ?got.expires_in, "OAuth2 access token refreshed");
                Ok(AccessToken {
                    token: got.access_token,
                    cached: false,
                })
            }
        }
    }

    /// The server rejected `token`: forget it, unless a newer one is cached already.
    pub async fn invalidate(&self, token: &Secret) {
        let mut cache = self.cache.lock().await;
        if cache.as_ref().is_some_and(|c| c.token == *token) {
            *cache = None;
        }
    }

    /// Spends the refresh token at the token endpoint; keeps a rotated one.
    async fn refresh(&self, flow: &RefreshFlow) -> Result<TokenResponse, OAuth2Error> {
        let refresh_token = current_refresh_token(flow).map_err(|m| {
            self.err(
                true,
                format!("{m}; sign in with `{}`", self.settings.login_command),
            )
        })?;
        let mut form: Vec<(&str, String)> = vec![
            ("grant_type", "refresh_token".into()),
            ("refresh_token", refresh_token.expose().to_string()),
            ("client_id", flow.client_id.clone()),
        ];
        if let Some(s) = &flow.client_secret {
            form.push(("client_secret", s.expose().to_string()));
        }
        if !flow.scopes.is_empty() {
            form.push(("scope", flow.scopes.join(" ")));
        }
        let got = match token_request(&flow.token_url, form).await {
            Ok(t) => t,
            Err(EndpointError::Oauth { code, description }) => {
                // invalid_grant: revoked, expired or already spent; invalid_client: wrong id or
                // secret. Either way a person has to act.
                let refused = matches!(
                    code.as_str(),
                    "invalid_grant" | "invalid_client" | "unauthorized_client" | "invalid_scope"
                );
                let hint = if refused {
                    format!(
                        "; the refresh token was revoked or has expired, or the client is wrong: sign in again with `{}`",
                        self.settings.login_command
                    )
                } else {
                    String::new()
                };
                return Err(self.err(
                    refused,
                    format!(
                        "the token endpoint {} refused the refresh token: {code}{}{hint}",
                        flow.token_url,
                        description.map(|d| format!(" ({d})")).unwrap_or_default()
                    ),
                ));
            }
            Err(EndpointError::Other(m)) => return Err(self.err(false, m)),
        };
        if let Some(new) = &got.refresh_token
            && new != &refresh_token
        {
            write_secret_file(&flow.state_file, new.expose()).map_err(|e| {
                self.err(
                    false,
                    format!(
                        "the provider rotated the refresh token but {} cannot be written: {e}",
                        flow.state_file.display()
                    ),
                )
            })?;
            info!(owner = %self.settings.owner, file = %flow.state_file.display(), "OAuth2 refresh token rotated: the new one is stored");
        }
        Ok(got)
    }
}

/// The refresh token to use: the newer of the configured one (file or credential) and the one in
/// the state directory (rotated, or from `leadsift oauth2 login`).
pub fn current_refresh_token(flow: &RefreshFlow) -> Result<Secret, String> {
    let mtime = |p: &Path| {
        std::fs::metadata(p)
            .and_then(|m| m.modified())
            .unwrap_or(SystemTime::UNIX_EPOCH)
    };
    let configured = flow.refresh_token.as_ref().map(|s| {
        let path = match s {
            SecretSource::File(p) => Some(p.clone()),
            SecretSource::Credential(n) => std::env::var_os("CREDENTIALS_DIRECTORY")
                .map(|d| std::path::PathBuf::from(d).join(n)),
            SecretSource::Command(_) => None,
        };
        (s, path.as_deref().map(mtime))
    });
    let state = flow.state_file.exists().then(|| mtime(&flow.state_file));
    let use_state = match (&configured, state) {
        (_, None) => false,
        (None, Some(_)) => true,
        (Some((_, t)), Some(st)) => t.is_none_or(|t| st >= t),
    };
    if use_state {
        return SecretSource::File(flow.state_file.clone())
            .resolve()
            .map_err(|m| format!("refresh token: {}", m.replace("password", "token")));
    }
    match configured {
        Some((s, _)) => s
            .resolve()
            .map_err(|m| format!("refresh token: {}", m.replace("password", "token"))),
        None => Err(format!(
            "no OAuth2 refresh token yet (none configured, and {} does not exist)",
            flow.state_file.display()
        )),
    }
}

/// Writes `value` to `path` atomically with mode 0600 (its directory 0700 when created).
pub fn write_secret_file(path: &Path, value: &str) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)?;
    // The umask may have taken bits away, never added: still make it exact.
    f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    f.write_all(value.as_bytes())?;
    f.write_all(b"\n")?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, path)?;
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// What went wrong at a token endpoint.
#[derive(Debug)]
pub enum EndpointError {
    /// An OAuth2 error response (RFC 6749 5.2): `error` and `error_description`.
    Oauth {
        code: String,
        description: Option<String>,
    },
    /// Network, HTTP or a body that is not a token response.
    Other(String),
}

/// POSTs a form to `url` and reads the JSON answer: (HTTP status, body).
pub async fn post_form(
    url: &str,
    form: Vec<(&'static str, String)>,
) -> Result<(u16, serde_json::Value), String> {
    let url = url.to_string();
    tokio::task::spawn_blocking(move || {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(HTTP_TIMEOUT))
            .build()
            .into();
        let mut resp = agent
            .post(&url)
            .header("Accept", "application/json")
            .send_form(form.iter().map(|(k, v)| (*k, v.as_str())))
            .map_err(|e| format!("cannot reach {url}: {e}"))?;
        let status = resp.status().as_u16();
        let body = resp
            .body_mut()
            .read_to_string()
            .map_err(|e| format!("{url}: cannot read the answer: {e}"))?;
        let json = serde_json::from_str(&body).map_err(|_| {
            format!(
                "{url} answered HTTP {status} without JSON: {}",
                body.chars().take(200).collect::<String>()
            )
        })?;
        Ok((status, json))
    })
    .await
    .map_err(|e| format!("{e}"))?
}

/// A token request (refresh, authorization code or device code): the tokens, or the endpoint's
/// OAuth2 error.
pub async fn token_request(
    url: &str,
    form: Vec<(&'static str, String)>,
) -> Result<TokenResponse, EndpointError> {
    let (status, json) = post_form(url, form).await.map_err(EndpointError::Other)?;
    if let Some(code) = json.get("error").and_then(|e| e.as_str()) {
        return Err(EndpointError::Oauth {
            code: code.to_string(),
            description: json
                .get("error_description")
                .and_then(|d| d.as_str())
                .map(|d| d.chars().take(300).collect()),
        });
    }
    let Some(access) = json.get("access_token").and_then(|a| a.as_str()) else {
        return Err(EndpointError::Other(format!(
            "{url} answered HTTP {status} without an access_token"
        )));
    };
    if !(200..300).contains(&status) {
        return Err(EndpointError::Other(format!(
            "{url} answered HTTP {status}"
        )));
    }
    // Some providers send expires_in as a string.
    let expires_in = json.get("expires_in").and_then(|e| {
        e.as_u64()
            .or_else(|| e.as_str().and_then(|s| s.trim().parse().ok()))
    });
    Ok(TokenResponse {
        access_token: Secret::new(access.to_string()),
        expires_in,
        refresh_token: json
            .get("refresh_token")
            .and_then(|r| r.as_str())
            .filter(|r| !r.is_empty())
            .map(|r| Secret::new(r.to_string())),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_files_are_0600_and_replaced_whole() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("oauth2/acct.refresh");
        write_secret_file(&p, "one").unwrap();
        write_secret_file(&p, "two").unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "two\n");
        let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let dmode = std::fs::metadata(p.parent().unwrap())
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(dmode, 0o700);
    }

    #[test]
    fn margins() {
        assert_eq!(refresh_margin(3600), 300);
        assert_eq!(refresh_margin(600), 60);
        assert_eq!(3600 - refresh_margin(3600), 3300);
    }

    #[test]
    fn the_newer_refresh_token_wins() {
        let dir = tempfile::tempdir().unwrap();
        let configured = dir.path().join("configured");
        std::fs::write(&configured, "old\n").unwrap();
        let old = SystemTime::now() - Duration::from_secs(3600);
        std::fs::File::options()
            .write(true)
            .open(&configured)
            .unwrap()
            .set_modified(old)
            .unwrap();
        let mut flow = RefreshFlow {
            token_url: "https://x/token".into(),
            client_id: "c".into(),
            client_secret: None,
            refresh_token: Some(SecretSource::File(configured)),
            state_file: dir.path().join("state/x.refresh"),
            scopes: vec![],
            device_url: None,
            auth_url: None,
        };
        assert_eq!(current_refresh_token(&flow).unwrap().expose(), "old");
        write_secret_file(&flow.state_file, "rotated").unwrap();
        assert_eq!(current_refresh_token(&flow).unwrap().expose(), "rotated");
        flow.refresh_token = None;
        assert_eq!(current_refresh_token(&flow).unwrap().expose(), "rotated");
        flow.state_file = dir.path().join("none");
        assert!(
            current_refresh_token(&flow)
                .unwrap_err()
                .contains("no OAuth2 refresh token")
        );
    }
}
