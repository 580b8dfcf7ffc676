//! The validated oauth2 settings of one server section (built by `config::oauth2`).

use std::path::PathBuf;

use crate::secret::{Secret, SecretSource};

/// Where an access token comes from.
#[derive(Debug, Clone)]
pub enum TokenSource {
    /// A helper command that prints a current access token (it refreshes on its own).
    Command(String),
    /// leadsift's own refresh-token flow.
    Refresh(RefreshFlow),
}

#[derive(Debug, Clone)]
pub struct RefreshFlow {
    pub token_url: String,
    pub client_id: String,
    /// None: a public client (installed app / device code without a secret).
    pub client_secret: Option<Secret>,
    /// The configured refresh token (a file or a credential), if any.
    pub refresh_token: Option<SecretSource>,
    /// Where a rotated refresh token (and one from `leadsift oauth2 login`) is written, mode 0600.
    pub state_file: PathBuf,
    pub scopes: Vec<String>,
    /// RFC 8628 device authorization endpoint, for `leadsift oauth2 login`.
    pub device_url: Option<String>,
    /// Authorization endpoint for the browser (loopback redirect + PKCE) flow.
    pub auth_url: Option<String>,
}

/// The validated oauth2 settings of one section.
#[derive(Debug, Clone)]
pub struct OAuth2Settings {
    /// "account \"sales\"" or "[smtp]": named in every error.
    pub owner: String,
    /// The SASL user (the mailbox address).
    pub username: String,
    pub source: TokenSource,
    /// The command that signs this section in again ("leadsift oauth2 login sales").
    pub login_command: String,
}
