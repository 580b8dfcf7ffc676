//! `auth = "oauth2"` on an `[[account]]` or on `[smtp]`: where the access token comes from. The
//! key names are the ones other mail tools use, so a file written for them reads here too.
//!
//! Either `oauth2_token_command` (pizauth, oama, … print an access token) or leadsift's own
//! refresh-token flow (`oauth2_token_url` + `oauth2_client_id`, the refresh token from a file, a
//! credential, or what `leadsift oauth2 login` stored in the state directory).

use std::path::{Path, PathBuf};

pub use crate::oauth2::settings::{OAuth2Settings, RefreshFlow, TokenSource};
use crate::secret::SecretSource;

/// The oauth2 keys of one section, as written.
#[derive(Debug, Default, Clone, Copy)]
pub struct RawOAuth2<'a> {
    pub token_command: Option<&'a str>,
    pub token_url: Option<&'a str>,
    pub client_id: Option<&'a str>,
    pub client_secret_file: Option<&'a Path>,
    pub client_secret_credential: Option<&'a str>,
    pub refresh_token_file: Option<&'a Path>,
    pub refresh_token_credential: Option<&'a str>,
    pub scopes: &'a [String],
    pub device_url: Option<&'a str>,
    pub auth_url: Option<&'a str>,
}

impl RawOAuth2<'_> {
    /// The names of the keys that are set, for "needs auth = oauth2" messages.
    fn set_keys(&self) -> Vec<&'static str> {
        let mut v = Vec::new();
        let pairs: [(&'static str, bool); 10] = [
            ("oauth2_token_command", self.token_command.is_some()),
            ("oauth2_token_url", self.token_url.is_some()),
            ("oauth2_client_id", self.client_id.is_some()),
            (
                "oauth2_client_secret_file",
                self.client_secret_file.is_some(),
            ),
            (
                "oauth2_client_secret_credential",
                self.client_secret_credential.is_some(),
            ),
            (
                "oauth2_refresh_token_file",
                self.refresh_token_file.is_some(),
            ),
            (
                "oauth2_refresh_token_credential",
                self.refresh_token_credential.is_some(),
            ),
            ("oauth2_scopes", !self.scopes.is_empty()),
            ("oauth2_device_url", self.device_url.is_some()),
            ("oauth2_auth_url", self.auth_url.is_some()),
        ];
        for (k, set) in pairs {
            if set {
                v.push(k);
            }
        }
        v
    }
}

/// `auth = "password"` (default) or `"oauth2"`.
pub fn parse_auth(auth: Option<&str>) -> Result<bool, String> {
    match auth {
        None | Some("password") => Ok(false),
        Some("oauth2") => Ok(true),
        Some(other) => Err(format!(
            "auth = {other:?} is not one of \"password\", \"oauth2\""
        )),
    }
}

/// Refuses oauth2 keys on a section that signs in with a password.
pub fn check_unused(raw: &RawOAuth2<'_>) -> Result<(), String> {
    let keys = raw.set_keys();
    if keys.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{} set but auth is not \"oauth2\"; add `auth = \"oauth2\"` or remove them",
            keys.join(", ")
        ))
    }
}

/// An endpoint must be https, or http to a loopback host (tests, a local proxy).
fn check_endpoint(key: &str, value: &str) -> Result<String, String> {
    let url = url::Url::parse(value).map_err(|e| format!("{key} = {value:?} is not a URL: {e}"))?;
    let host = url.host_str().unwrap_or("");
    match url.scheme() {
        "https" if !host.is_empty() => Ok(value.to_string()),
        "http" if super::is_loopback_host(host) => Ok(value.to_string()),
        "http" => Err(format!(
            "{key} = {value:?}: plain http is only allowed to a loopback host; use https"
        )),
        _ => Err(format!("{key} = {value:?} must be an https:// URL")),
    }
}

/// The well-known endpoints next to a token URL, so Microsoft 365 and Gmail need only the
/// token URL: (device authorization, browser authorization).
fn known_endpoints(token_url: &str) -> (Option<String>, Option<String>) {
    if let Some(base) = token_url
        .strip_prefix("https://login.microsoftonline.com/")
        .and_then(|rest| rest.strip_suffix("/oauth2/v2.0/token"))
    {
        let root = format!("https://login.microsoftonline.com/{base}/oauth2/v2.0");
        return (
            Some(format!("{root}/devicecode")),
            Some(format!("{root}/authorize")),
        );
    }
    if token_url == "https://oauth2.googleapis.com/token"
        || token_url == "https://accounts.google.com/o/oauth2/token"
    {
        // Google's device flow does not allow the Gmail scope: the browser flow only.
        return (
            None,
            Some("https://accounts.google.com/o/oauth2/v2/auth".to_string()),
        );
    }
    (None, None)
}

/// A file name for `owner_key` (an account name or "smtp") that cannot escape the directory.
pub fn state_file_name(owner_key: &str) -> String {
    let safe: String = owner_key
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{}.refresh", safe.trim_start_matches('.'))
}

/// Validates the oauth2 keys of a section with `auth = "oauth2"`. `state_dir` is where rotated
/// refresh tokens go; `file_key` names the section's state file (account name, or "smtp").
pub fn validate(
    raw: &RawOAuth2<'_>,
    owner: String,
    username: &str,
    state_dir: &Path,
    file_key: &str,
    login_command: String,
    resolve: &dyn Fn(&Path) -> PathBuf,
) -> Result<OAuth2Settings, String> {
    if username.trim().is_empty() {
        return Err("auth = \"oauth2\" needs `username` (the mailbox address)".into());
    }
    let flow_keys = raw.token_url.is_some()
        || raw.client_id.is_some()
        || raw.client_secret_file.is_some()
        || raw.client_secret_credential.is_some()
        || raw.refresh_token_file.is_some()
        || raw.refresh_token_credential.is_some();
    let source = match (raw.token_command, flow_keys) {
        (Some(_), true) => {
            return Err(
                "set either `oauth2_token_command` or the refresh-token flow (`oauth2_token_url`, `oauth2_client_id`, …), not both".into(),
            );
        }
        (Some(cmd), false) => {
            if cmd.trim().is_empty() {
                return Err("oauth2_token_command must not be empty".into());
            }
            TokenSource::Command(cmd.to_string())
        }
        (None, false) => {
            return Err(
                "auth = \"oauth2\" needs `oauth2_token_command` (e.g. \"pizauth show office365\") or `oauth2_token_url` and `oauth2_client_id`".into(),
            );
        }
        (None, true) => {
            let token_url = raw
                .token_url
                .ok_or("the refresh-token flow needs `oauth2_token_url`")?;
            let token_url = check_endpoint("oauth2_token_url", token_url)?;
            let client_id = raw
                .client_id
                .filter(|c| !c.trim().is_empty())
                .ok_or("the refresh-token flow needs `oauth2_client_id`")?
                .to_string();
            let client_secret = match (raw.client_secret_file, raw.client_secret_credential) {
                (None, None) => None,
                (Some(_), Some(_)) => {
                    return Err(
                        "set only one of `oauth2_client_secret_file` and `oauth2_client_secret_credential`".into(),
                    );
                }
                (f, c) => Some(
                    SecretSource::from_keys(f.map(resolve), None, c.map(str::to_string))
                        .and_then(|s| s.resolve())
                        .map_err(|m| format!("oauth2 client secret: {m}"))?,
                ),
            };
            let refresh_token = match (raw.refresh_token_file, raw.refresh_token_credential) {
                (None, None) => None,
                (Some(_), Some(_)) => {
                    return Err(
                        "set only one of `oauth2_refresh_token_file` and `oauth2_refresh_token_credential`".into(),
                    );
                }
                (f, c) => Some(
                    SecretSource::from_keys(f.map(resolve), None, c.map(str::to_string))
                        .map_err(|m| format!("oauth2 refresh token: {m}"))?,
                ),
            };
            let (known_device, known_auth) = known_endpoints(&token_url);
            let device_url = match raw.device_url {
                Some(u) => Some(check_endpoint("oauth2_device_url", u)?),
                None => known_device,
            };
            let auth_url = match raw.auth_url {
                Some(u) => Some(check_endpoint("oauth2_auth_url", u)?),
                None => known_auth,
            };
            for s in raw.scopes {
                if s.is_empty() || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
                    return Err(format!(
                        "oauth2_scopes: {s:?} is not a scope (no spaces; one scope per string)"
                    ));
                }
            }
            TokenSource::Refresh(RefreshFlow {
                token_url,
                client_id,
                client_secret,
                refresh_token,
                state_file: state_dir.join("oauth2").join(state_file_name(file_key)),
                scopes: raw.scopes.to_vec(),
                device_url,
                auth_url,
            })
        }
    };
    Ok(OAuth2Settings {
        owner,
        username: username.to_string(),
        source,
        login_command,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(raw: &RawOAuth2<'_>) -> Result<OAuth2Settings, String> {
        validate(
            raw,
            "account \"a\"".into(),
            "me@ourco.example",
            Path::new("/var/lib/leadsift"),
            "a",
            "leadsift oauth2 login a".into(),
            &|p: &Path| p.to_path_buf(),
        )
    }

    #[test]
    fn one_source_of_token() {
        assert!(
            v(&RawOAuth2::default())
                .unwrap_err()
                .contains("oauth2_token_command")
        );
        let both = RawOAuth2 {
            token_command: Some("pizauth show x"),
            token_url: Some("https://login.example/token"),
            ..Default::default()
        };
        assert!(v(&both).unwrap_err().contains("not both"));
        let cmd = RawOAuth2 {
            token_command: Some("pizauth show x"),
            ..Default::default()
        };
        assert!(matches!(v(&cmd).unwrap().source, TokenSource::Command(_)));
    }

    #[test]
    fn endpoints_are_https_unless_loopback() {
        let flow = |url: &'static str| RawOAuth2 {
            token_url: Some(url),
            client_id: Some("cid"),
            ..Default::default()
        };
        assert!(
            v(&flow("http://login.example/token"))
                .unwrap_err()
                .contains("loopback")
        );
        assert!(v(&flow("ftp://x/token")).unwrap_err().contains("https"));
        assert!(v(&flow("http://127.0.0.1:8080/token")).is_ok());
        let ms = v(&flow(
            "https://login.microsoftonline.com/common/oauth2/v2.0/token",
        ))
        .unwrap();
        let TokenSource::Refresh(f) = ms.source else {
            panic!()
        };
        assert_eq!(
            f.device_url.as_deref(),
            Some("https://login.microsoftonline.com/common/oauth2/v2.0/devicecode")
        );
        assert_eq!(
            f.state_file,
            Path::new("/var/lib/leadsift/oauth2/a.refresh")
        );
        let g = v(&flow("https://oauth2.googleapis.com/token")).unwrap();
        let TokenSource::Refresh(f) = g.source else {
            panic!()
        };
        assert!(f.device_url.is_none() && f.auth_url.is_some());
        let no_id = RawOAuth2 {
            token_url: Some("https://login.example/token"),
            ..Default::default()
        };
        assert!(v(&no_id).unwrap_err().contains("oauth2_client_id"));
    }

    #[test]
    fn keys_without_oauth2_are_named() {
        let raw = RawOAuth2 {
            client_id: Some("x"),
            ..Default::default()
        };
        assert!(check_unused(&raw).unwrap_err().contains("oauth2_client_id"));
        assert!(parse_auth(Some("kerberos")).is_err());
        assert_eq!(state_file_name("../../etc/x"), "_.._etc_x.refresh");
    }
}
