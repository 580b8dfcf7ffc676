//! The TOML file as written: every section and key, nothing resolved yet.

use std::path::PathBuf;

use serde::Deserialize;

use super::{ScoringSettings, TlsMode};
pub use crate::vocab::Weights;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    /// A directory of the user's own pattern files; their rules override built-in ones by id.
    pub patterns_dir: Option<PathBuf>,
    pub storage: RawStorage,
    #[serde(default)]
    pub me: RawMe,
    #[serde(default)]
    pub business: RawBusiness,
    #[serde(default, rename = "account")]
    pub accounts: Vec<RawAccount>,
    #[serde(default)]
    pub sync: RawSync,
    #[serde(default)]
    pub scoring: RawScoring,
    pub smtp: Option<RawSmtp>,
    pub digest: Option<RawDigest>,
    #[serde(default)]
    pub daemon: RawDaemon,
    #[serde(default)]
    pub feedback: super::feedback::RawFeedback,
}

/// `[daemon]`: how `leadsift run` watches the accounts.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDaemon {
    pub poll_interval_secs: Option<u64>,
    pub idle_renew_secs: Option<u64>,
    pub max_login_failures: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSmtp {
    pub host: String,
    pub port: Option<u16>,
    #[serde(default = "default_smtp_tls")]
    pub tls: String,
    pub ca_file: Option<PathBuf>,
    pub username: Option<String>,
    /// Only here to be refused with a helpful message.
    pub password: Option<toml::Spanned<toml::Value>>,
    pub password_file: Option<PathBuf>,
    pub password_command: Option<String>,
    pub password_credential: Option<String>,
    /// `"password"` (default) or `"oauth2"`.
    pub auth: Option<String>,
    pub oauth2_token_command: Option<String>,
    pub oauth2_token_url: Option<String>,
    pub oauth2_client_id: Option<String>,
    pub oauth2_client_secret_file: Option<PathBuf>,
    pub oauth2_client_secret_credential: Option<String>,
    pub oauth2_refresh_token_file: Option<PathBuf>,
    pub oauth2_refresh_token_credential: Option<String>,
    #[serde(default)]
    pub oauth2_scopes: Vec<String>,
    pub oauth2_device_url: Option<String>,
    pub oauth2_auth_url: Option<String>,
    pub from: String,
}

fn default_smtp_tls() -> String {
    "starttls".into()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDigest {
    /// Everyone on it gets every lead (scope "all"); `[[digest.recipient]]` is the finer way.
    #[serde(default)]
    pub to: Vec<String>,
    #[serde(default, rename = "recipient")]
    pub recipients: Vec<RawRecipient>,
    /// Nurture leads waiting on us appear in "Answer today" only above this score.
    pub answer_nurture_above: Option<u8>,
    /// Hot leads we answered are listed under "Follow up" after this many silent working days.
    pub follow_up_after_days: Option<u32>,
    /// Nurture leads listed one per line; the rest are counted.
    pub nurture_top: Option<usize>,
    #[serde(default = "default_digest_time")]
    pub time: String,
    #[serde(default = "default_timezone")]
    pub timezone: String,
    #[serde(default)]
    pub skip_if_empty: bool,
    pub weekly_review: Option<String>,
}

/// `[[digest.recipient]]`: one salesperson (scope "own") or a manager (scope "all").
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRecipient {
    pub address: String,
    #[serde(default = "default_scope")]
    pub scope: String,
}

fn default_scope() -> String {
    "own".into()
}

fn default_digest_time() -> String {
    "08:00".into()
}

fn default_timezone() -> String {
    "UTC".into()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStorage {
    pub path: PathBuf,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMe {
    #[serde(default)]
    pub addresses: Vec<String>,
    #[serde(default)]
    pub domains: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBusiness {
    #[serde(default)]
    pub products: Vec<String>,
    /// Specs, parts and words only our kind of product has: they count as ours too.
    #[serde(default)]
    pub related: Vec<String>,
    /// Close neighbours we do not sell (a fabric mill: garments): named goods become "not ours".
    #[serde(default)]
    pub not_ours: Vec<String>,
    pub min_order_value_usd: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAccount {
    pub name: String,
    pub host: String,
    pub port: Option<u16>,
    #[serde(default = "default_tls")]
    pub tls: String,
    pub ca_file: Option<PathBuf>,
    pub username: String,
    /// Only here to be refused with a helpful message.
    pub password: Option<toml::Spanned<toml::Value>>,
    pub password_file: Option<PathBuf>,
    pub password_command: Option<String>,
    pub password_credential: Option<String>,
    /// `"password"` (default) or `"oauth2"`.
    pub auth: Option<String>,
    pub oauth2_token_command: Option<String>,
    pub oauth2_token_url: Option<String>,
    pub oauth2_client_id: Option<String>,
    pub oauth2_client_secret_file: Option<PathBuf>,
    pub oauth2_client_secret_credential: Option<String>,
    pub oauth2_refresh_token_file: Option<PathBuf>,
    pub oauth2_refresh_token_credential: Option<String>,
    #[serde(default)]
    pub oauth2_scopes: Vec<String>,
    pub oauth2_device_url: Option<String>,
    pub oauth2_auth_url: Option<String>,
    #[serde(default = "default_folders")]
    pub folders: Vec<String>,
    pub sent_folder: Option<String>,
    pub backfill_days: Option<u32>,
    /// Owner of the leads that arrive here before a colleague has written to them.
    pub owner: Option<String>,
}

fn default_tls() -> String {
    "implicit".into()
}

fn default_folders() -> Vec<String> {
    vec!["INBOX".into()]
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSync {
    pub max_message_bytes: Option<u64>,
    pub batch_size: Option<u32>,
    pub timeout_secs: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawScoring {
    pub weights: Option<Weights>,
    pub hot_threshold: Option<f64>,
    pub drop_threshold: Option<f64>,
    pub half_life_days: Option<f64>,
}

impl RawScoring {
    pub fn validate(&self) -> Result<ScoringSettings, String> {
        let weights = self.weights.clone().unwrap_or_default();
        for (name, w) in [
            ("need", weights.need),
            ("budget", weights.budget),
            ("authority", weights.authority),
            ("timeline", weights.timeline),
            ("engagement", weights.engagement),
            ("fit", weights.fit),
            ("risk", weights.risk),
        ] {
            if !(0.0..=1000.0).contains(&w) {
                return Err(format!("weights.{name} = {w} must be between 0 and 1000"));
            }
        }
        let hot = self.hot_threshold.unwrap_or(60.0);
        let drop = self.drop_threshold.unwrap_or(30.0);
        if !(0.0..=100.0).contains(&hot) || !(0.0..=100.0).contains(&drop) || drop >= hot {
            return Err(format!(
                "thresholds must satisfy 0 <= drop_threshold ({drop}) < hot_threshold ({hot}) <= 100"
            ));
        }
        let half_life_days = self.half_life_days.unwrap_or(30.0);
        if !(half_life_days > 0.0 && half_life_days <= 3650.0) {
            return Err(format!(
                "half_life_days = {half_life_days} must be in (0, 3650]"
            ));
        }
        Ok(ScoringSettings {
            weights,
            hot_threshold: hot,
            drop_threshold: drop,
            half_life_days,
        })
    }
}

pub fn parse_tls(s: &str) -> Result<TlsMode, String> {
    match s {
        "implicit" => Ok(TlsMode::Implicit),
        "starttls" => Ok(TlsMode::StartTls),
        "plaintext" => Ok(TlsMode::Plaintext),
        other => Err(format!(
            "tls = {other:?} is not one of \"implicit\", \"starttls\", \"plaintext\""
        )),
    }
}

/// 1-based line of a byte offset.
pub fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// toml's own message already shows line, column and the offending key; put the line first so a
/// one-line log still says where.
pub fn describe_toml_error(e: &toml::de::Error, text: &str) -> String {
    let msg = e.message().trim().to_string();
    match e.span() {
        Some(span) => {
            let line = line_of(text, span.start);
            let snippet = text.lines().nth(line - 1).unwrap_or("").trim();
            format!("line {line}: {msg} (at `{snippet}`)")
        }
        None => msg,
    }
}

/// The oauth2 keys of a section, borrowed for validation ([`super::oauth2::validate`]).
macro_rules! oauth2_view {
    ($t:ty) => {
        impl $t {
            pub fn oauth2_keys(&self) -> super::oauth2::RawOAuth2<'_> {
                super::oauth2::RawOAuth2 {
                    token_command: self.oauth2_token_command.as_deref(),
                    token_url: self.oauth2_token_url.as_deref(),
                    client_id: self.oauth2_client_id.as_deref(),
                    client_secret_file: self.oauth2_client_secret_file.as_deref(),
                    client_secret_credential: self.oauth2_client_secret_credential.as_deref(),
                    refresh_token_file: self.oauth2_refresh_token_file.as_deref(),
                    refresh_token_credential: self.oauth2_refresh_token_credential.as_deref(),
                    scopes: &self.oauth2_scopes,
                    device_url: self.oauth2_device_url.as_deref(),
                    auth_url: self.oauth2_auth_url.as_deref(),
                }
            }
        }
    };
}
oauth2_view!(RawAccount);
oauth2_view!(RawSmtp);
