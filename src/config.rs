//! Configuration in two phases: [`raw`] mirrors the TOML file (serde, `deny_unknown_fields`), and
//! [`Settings`] is the one validated value the program runs on, with secrets resolved and patterns
//! compiled. Settings are built once at start (and again on reload).

pub mod feedback;
pub mod oauth2;
pub mod raw;

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use crate::extract::Business;
use crate::extract::Extractor;
pub use crate::score::ScoringSettings;
pub use crate::secret::{self, Secret, SecretSource};
pub use crate::vocab::Me;
pub use feedback::{FeedbackSettings, Learning};

/// Where a mistake in the configuration is, as precisely as we know it.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: cannot read: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error("{path}: {0}", path = .1.display())]
    Patterns(String, PathBuf),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    Implicit,
    StartTls,
    Plaintext,
}

/// How a server section signs in.
#[derive(Debug, Clone)]
pub enum Auth {
    Password(Secret),
    /// XOAUTH2 / OAUTHBEARER with tokens from the provider (shared cache).
    OAuth2(Arc<crate::oauth2::TokenProvider>),
}

#[derive(Debug, Clone)]
pub struct Account {
    pub name: String,
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    pub ca_file: Option<PathBuf>,
    pub username: String,
    pub auth: Auth,
    pub folders: Vec<String>,
    pub sent_folder: Option<String>,
    pub backfill_days: u32,
    /// Lower-cased address: owner of leads arriving here until a colleague writes to them.
    pub owner: Option<String>,
}

#[derive(Debug, Clone)]
pub struct SyncSettings {
    pub max_message_bytes: u64,
    pub batch_size: u32,
    /// Per network operation.
    pub timeout: std::time::Duration,
}

/// Where digests and confirmations are sent from.
#[derive(Debug, Clone)]
pub struct Smtp {
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    pub ca_file: Option<PathBuf>,
    /// With a password or OAuth2: AUTH is used. Without: no AUTH (loopback relays).
    pub credentials: Option<(String, Auth)>,
    /// `Name <address>` as written in the config; validated to parse as a mailbox.
    pub from: String,
}

/// Which leads a digest recipient gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The leads they own, plus hot leads nobody owns yet.
    Own,
    /// Every lead, with its owner shown (a manager; the plain `to = [...]` list).
    All,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Own => "own",
            Scope::All => "all",
        }
    }
}

/// One person who gets a digest of their own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    /// As written (`Ann <ann@ourco.example>` or `ann@ourco.example`): the To header.
    pub mailbox: String,
    /// The bare address, lower-cased: the ledger key and who may reply.
    pub address: String,
    pub scope: Scope,
}

impl Recipient {
    /// A recipient from a mailbox string; None when it is not one.
    pub fn new(mailbox: &str, scope: Scope) -> Option<Recipient> {
        let mb: lettre::message::Mailbox = mailbox.trim().parse().ok()?;
        Some(Recipient {
            mailbox: mailbox.trim().to_string(),
            address: mb.email.to_string().to_lowercase(),
            scope,
        })
    }
}

#[derive(Debug, Clone)]
pub struct DigestSettings {
    /// Everyone who gets a digest, each their own (at least one).
    pub recipients: Vec<Recipient>,
    pub time: chrono::NaiveTime,
    pub timezone: chrono_tz::Tz,
    pub skip_if_empty: bool,
    pub weekly_review: Option<chrono::Weekday>,
    /// Nurture leads waiting on us are in "Answer today" only with a score above this.
    pub answer_nurture_above: u8,
    /// Hot leads we answered go to "Follow up" after this many working days of buyer silence.
    pub follow_up_after_days: u32,
    /// How many nurture leads are listed (the rest counted).
    pub nurture_top: usize,
}

#[derive(Clone)]
pub struct Settings {
    pub source: PathBuf,
    pub storage_path: PathBuf,
    pub me: Me,
    pub business: Business,
    pub accounts: Vec<Account>,
    pub sync: SyncSettings,
    pub scoring: ScoringSettings,
    pub patterns_dir: Option<PathBuf>,
    pub extractor: Arc<Extractor>,
    pub smtp: Option<Smtp>,
    pub digest: Option<DigestSettings>,
    pub daemon: DaemonSettings,
    pub feedback: FeedbackSettings,
}

/// `[daemon]`: how `leadsift run` watches the accounts.
#[derive(Debug, Clone)]
pub struct DaemonSettings {
    /// Servers without IDLE, and every folder but the watched one, are checked this often.
    pub poll_interval: std::time::Duration,
    /// IDLE is re-issued this often so a dead link is noticed.
    pub idle_renew: std::time::Duration,
    /// After this many rejected logins in a row the account waits the longest backoff.
    pub max_login_failures: u32,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("source", &self.source)
            .field("storage_path", &self.storage_path)
            .field("accounts", &self.accounts)
            .finish_non_exhaustive()
    }
}

/// The part of the settings the judgement reads.
impl<'a> From<&'a Settings> for crate::score::Context<'a> {
    fn from(s: &'a Settings) -> Self {
        crate::score::Context {
            scoring: &s.scoring,
            business: &s.business,
            me: &s.me,
            extractor: &s.extractor,
            weight_floor: s.feedback.weight_floor,
            weight_cap: s.feedback.weight_cap,
        }
    }
}

/// What every server section ([[account]], [smtp]) must satisfy: no inline password, a known TLS
/// mode, and plaintext only to a loopback host. Returns the TLS mode.
fn check_server(
    text: &str,
    host: &str,
    tls: &str,
    password: Option<&toml::Spanned<toml::Value>>,
) -> Result<TlsMode, String> {
    if let Some(p) = password {
        return Err(format!(
            "line {}: `password` is not allowed in the config file (it would sit in plain text); use one of `password_file = \"/etc/leadsift/…-password\"`, `password_command = \"...\"` or `password_credential = \"…-password\"` (systemd LoadCredential)",
            raw::line_of(text, p.span().start)
        ));
    }
    let tls = raw::parse_tls(tls)?;
    if tls == TlsMode::Plaintext && !is_loopback_host(host) {
        return Err(format!(
            "tls = \"plaintext\" is only allowed to a loopback host, not {host:?}; use \"implicit\" or \"starttls\""
        ));
    }
    Ok(tls)
}

/// Exactly one of the three password keys, read now so a missing secret fails at start.
fn read_secret(
    file: Option<PathBuf>,
    command: Option<String>,
    credential: Option<String>,
) -> Result<Secret, String> {
    SecretSource::from_keys(file, command, credential)?
        .resolve()
        .map_err(|m| format!("password: {m}"))
}

fn check_ca_file(ca_file: Option<&Path>) -> Result<(), String> {
    if let Some(ca) = ca_file
        && let Err(e) = std::fs::metadata(ca)
    {
        return Err(format!("ca_file {}: {e}", ca.display()));
    }
    Ok(())
}

/// A folder name as a person writes it: UTF-8, sent in modified UTF-7 by the sync. Refused: empty
/// names, control characters, and names already in modified UTF-7 (copied from another tool),
/// which would be encoded a second time.
fn check_folder_name(name: &str) -> Result<(), String> {
    if name.trim().is_empty() {
        return Err("a folder name must not be empty".into());
    }
    if let Some(c) = name.chars().find(|c| c.is_control()) {
        return Err(format!(
            "folder {name:?} contains the control character {c:?}"
        ));
    }
    if name != name.trim() {
        return Err(format!(
            "folder {name:?} starts or ends with a space; write the name exactly as the mail client shows it"
        ));
    }
    if let Ok(decoded) = crate::mutf7::decode(name)
        && !decoded.is_ascii()
    {
        return Err(format!(
            "folder {name:?} is written in IMAP's modified UTF-7; write it as the mail client shows it: {decoded:?}"
        ));
    }
    Ok(())
}

/// True for `localhost`, 127.0.0.0/8 and ::1: the only hosts plaintext may go to.
pub fn is_loopback_host(host: &str) -> bool {
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
        .is_ok_and(|ip| ip.is_loopback())
}

impl Settings {
    /// Things that work but deserve a second look, for `check-config` and the daemon's start.
    pub fn notes(&self) -> Vec<String> {
        let mut notes = Vec::new();
        let oauth2 = self.accounts.iter().map(|a| &a.auth).chain(
            self.smtp
                .iter()
                .filter_map(|s| s.credentials.as_ref().map(|(_, a)| a)),
        );
        for auth in oauth2 {
            if let Auth::OAuth2(p) = auth
                && let oauth2::TokenSource::Refresh(flow) = &p.settings.source
                && let Err(e) = crate::oauth2::current_refresh_token(flow)
            {
                notes.push(format!(
                    "{}: {e}; sign in with `{}`",
                    p.settings.owner, p.settings.login_command
                ));
            }
        }
        if self.digest.is_some() && self.feedback.authserv_id.is_none() {
            notes.push(
                "[feedback] authserv_id is not set: replies to the digest are checked for the digest's token and a sender it went to, but not for DKIM/SPF; set it to your receiving server's Authentication-Results id (and have that server remove incoming headers that claim it)".to_string(),
            );
        }
        notes
    }

    /// Reads, validates and resolves the configuration file.
    pub fn load(path: &Path) -> Result<Settings, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_toml(&text, path)
    }

    /// `path` names the file in messages and anchors relative paths.
    pub fn from_toml(text: &str, path: &Path) -> Result<Settings, ConfigError> {
        let invalid = |message: String| ConfigError::Invalid {
            path: path.to_path_buf(),
            message,
        };
        let raw: raw::RawConfig =
            toml::from_str(text).map_err(|e| invalid(raw::describe_toml_error(&e, text)))?;
        let base = path.parent().unwrap_or(Path::new("."));
        let resolve = |p: &Path| {
            if p.is_absolute() {
                p.to_path_buf()
            } else {
                base.join(p)
            }
        };

        // Rotated OAuth2 refresh tokens live next to the database.
        let storage_path = resolve(&raw.storage.path);
        let state_dir = storage_path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        let mut accounts = Vec::new();
        let mut names = BTreeSet::new();
        for (i, a) in raw.accounts.into_iter().enumerate() {
            let label = format!("[[account]] #{} ({:?})", i + 1, a.name);
            if a.name.trim().is_empty() {
                return Err(invalid(format!("{label}: `name` must not be empty")));
            }
            if !names.insert(a.name.clone()) {
                return Err(invalid(format!("{label}: duplicate account name")));
            }
            let tls = check_server(text, &a.host, &a.tls, a.password.as_ref())
                .map_err(|m| invalid(format!("{label}: {m}")))?;
            let oauth2 = oauth2::parse_auth(a.auth.as_deref())
                .map_err(|m| invalid(format!("{label}: {m}")))?;
            let auth = if oauth2 {
                if a.password_file.is_some()
                    || a.password_command.is_some()
                    || a.password_credential.is_some()
                {
                    return Err(invalid(format!(
                        "{label}: auth = \"oauth2\" signs in with a token: remove password_file / password_command / password_credential"
                    )));
                }
                let o = oauth2::validate(
                    &a.oauth2_keys(),
                    format!("account {:?}", a.name),
                    &a.username,
                    &state_dir,
                    &a.name,
                    format!("leadsift oauth2 login {}", a.name),
                    &resolve,
                )
                .map_err(|m| invalid(format!("{label}: {m}")))?;
                Auth::OAuth2(Arc::new(crate::oauth2::TokenProvider::new(o)))
            } else {
                oauth2::check_unused(&a.oauth2_keys())
                    .map_err(|m| invalid(format!("{label}: {m}")))?;
                Auth::Password(
                    read_secret(
                        a.password_file.as_deref().map(resolve),
                        a.password_command.clone(),
                        a.password_credential.clone(),
                    )
                    .map_err(|m| invalid(format!("{label}: {m}")))?,
                )
            };
            if a.folders.is_empty() {
                return Err(invalid(format!(
                    "{label}: `folders` must name at least one folder"
                )));
            }
            for f in a.folders.iter().chain(&a.sent_folder) {
                check_folder_name(f).map_err(|m| invalid(format!("{label}: {m}")))?;
            }
            let ca_file = a.ca_file.as_deref().map(resolve);
            check_ca_file(ca_file.as_deref()).map_err(|m| invalid(format!("{label}: {m}")))?;
            accounts.push(Account {
                port: a.port.unwrap_or(match tls {
                    TlsMode::Implicit => 993,
                    _ => 143,
                }),
                name: a.name,
                host: a.host,
                tls,
                ca_file,
                username: a.username,
                auth,
                folders: a.folders,
                sent_folder: a.sent_folder,
                backfill_days: a.backfill_days.unwrap_or(365),
                owner: match a.owner.as_deref().map(str::trim) {
                    None => None,
                    Some(o) => Some(
                        Recipient::new(o, Scope::Own)
                            .map(|r| r.address)
                            .ok_or_else(|| {
                                invalid(format!("{label}: owner = {o:?} is not an email address"))
                            })?,
                    ),
                },
            });
        }

        let mut addresses = BTreeSet::new();
        for a in &raw.me.addresses {
            let a = a.trim().to_lowercase();
            if !a.contains('@') {
                return Err(invalid(format!(
                    "[me] addresses: {a:?} is not an email address"
                )));
            }
            addresses.insert(a);
        }
        let domains = raw
            .me
            .domains
            .iter()
            .map(|d| d.trim().trim_start_matches('@').to_lowercase())
            .collect();

        let phrases = |v: &[String]| -> Vec<String> {
            v.iter()
                .map(|p| p.trim().to_string())
                .filter(|p| !p.is_empty())
                .collect()
        };
        let business = Business {
            products: phrases(&raw.business.products),
            related: phrases(&raw.business.related),
            not_ours: phrases(&raw.business.not_ours),
            min_order_value_usd: raw.business.min_order_value_usd.unwrap_or(0.0),
        };
        if business.min_order_value_usd < 0.0 {
            return Err(invalid(
                "[business] min_order_value_usd must not be negative".into(),
            ));
        }

        let sync = SyncSettings {
            max_message_bytes: raw.sync.max_message_bytes.unwrap_or(2 * 1024 * 1024),
            batch_size: raw.sync.batch_size.unwrap_or(500).clamp(1, 500),
            timeout: std::time::Duration::from_secs(raw.sync.timeout_secs.unwrap_or(60).max(1)),
        };
        if sync.max_message_bytes < 1024 {
            return Err(invalid(
                "[sync] max_message_bytes must be at least 1024".into(),
            ));
        }

        let daemon = DaemonSettings {
            poll_interval: std::time::Duration::from_secs(
                raw.daemon.poll_interval_secs.unwrap_or(60).max(1),
            ),
            idle_renew: std::time::Duration::from_secs(
                raw.daemon.idle_renew_secs.unwrap_or(240).max(1),
            ),
            max_login_failures: raw.daemon.max_login_failures.unwrap_or(3).max(1),
        };

        let feedback = raw
            .feedback
            .validate()
            .map_err(|m| invalid(format!("[feedback] {m}")))?;
        // A training folder holds corrections, not inquiries: syncing it would count its
        // messages twice.
        for a in &accounts {
            for f in a.folders.iter().chain(a.sent_folder.iter()) {
                if feedback.folder_label(f).is_some() {
                    return Err(invalid(format!(
                        "[[account]] {:?}: {f:?} is a training folder in [feedback.folders]; its messages are corrections, not leads: remove it from `folders`",
                        a.name
                    )));
                }
            }
        }

        let scoring = raw
            .scoring
            .validate()
            .map_err(|m| invalid(format!("[scoring] {m}")))?;

        let smtp = match raw.smtp {
            None => None,
            Some(m) => {
                let label = "[smtp]";
                let tls = check_server(text, &m.host, &m.tls, m.password.as_ref())
                    .map_err(|e| invalid(format!("{label}: {e}")))?;
                let any_secret = m.password_file.is_some()
                    || m.password_command.is_some()
                    || m.password_credential.is_some();
                let oauth2 = oauth2::parse_auth(m.auth.as_deref())
                    .map_err(|e| invalid(format!("{label}: {e}")))?;
                if !oauth2 {
                    oauth2::check_unused(&m.oauth2_keys())
                        .map_err(|e| invalid(format!("{label}: {e}")))?;
                }
                let credentials = match (&m.username, any_secret) {
                    (_, true) if oauth2 => {
                        return Err(invalid(format!(
                            "{label}: auth = \"oauth2\" signs in with a token: remove password_file / password_command / password_credential"
                        )));
                    }
                    (user, false) if oauth2 => {
                        let o = oauth2::validate(
                            &m.oauth2_keys(),
                            "[smtp]".to_string(),
                            user.as_deref().unwrap_or(""),
                            &state_dir,
                            "smtp",
                            "leadsift oauth2 login --smtp".to_string(),
                            &resolve,
                        )
                        .map_err(|e| invalid(format!("{label}: {e}")))?;
                        Some((
                            o.username.clone(),
                            Auth::OAuth2(Arc::new(crate::oauth2::TokenProvider::new(o))),
                        ))
                    }
                    (Some(user), true) => {
                        let secret = read_secret(
                            m.password_file.as_deref().map(resolve),
                            m.password_command.clone(),
                            m.password_credential.clone(),
                        )
                        .map_err(|e| invalid(format!("{label}: {e}")))?;
                        Some((user.clone(), Auth::Password(secret)))
                    }
                    (None, false) => None,
                    (Some(_), false) => {
                        return Err(invalid(format!(
                            "{label} `username` is set but no password: set `password_file`, `password_command` or `password_credential`"
                        )));
                    }
                    (None, true) => {
                        return Err(invalid(format!(
                            "{label} a password is set but no `username`"
                        )));
                    }
                };
                let ca_file = m.ca_file.as_deref().map(resolve);
                check_ca_file(ca_file.as_deref()).map_err(|e| invalid(format!("{label}: {e}")))?;
                if m.from.parse::<lettre::message::Mailbox>().is_err() {
                    return Err(invalid(format!(
                        "{label} from = {:?} is not a mailbox like \"leadsift <leadsift@ourco.example>\"",
                        m.from
                    )));
                }
                Some(Smtp {
                    port: m.port.unwrap_or(match tls {
                        TlsMode::Implicit => 465,
                        TlsMode::StartTls => 587,
                        TlsMode::Plaintext => 25,
                    }),
                    host: m.host,
                    tls,
                    ca_file,
                    credentials,
                    from: m.from,
                })
            }
        };

        let digest = match raw.digest {
            None => None,
            Some(d) => {
                let label = "[digest]";
                let mut recipients: Vec<Recipient> = Vec::new();
                for a in &d.to {
                    let r = Recipient::new(a, Scope::All).ok_or_else(|| {
                        invalid(format!("{label} to: {a:?} is not an email address"))
                    })?;
                    recipients.push(r);
                }
                for (i, r) in d.recipients.iter().enumerate() {
                    let rl = format!("[[digest.recipient]] #{}", i + 1);
                    let scope = match r.scope.as_str() {
                        "own" => Scope::Own,
                        "all" => Scope::All,
                        other => {
                            return Err(invalid(format!(
                                "{rl}: scope = {other:?} is not \"own\" or \"all\""
                            )));
                        }
                    };
                    let r = Recipient::new(&r.address, scope).ok_or_else(|| {
                        invalid(format!(
                            "{rl}: address = {:?} is not an email address",
                            r.address
                        ))
                    })?;
                    recipients.push(r);
                }
                if recipients.is_empty() {
                    return Err(invalid(format!(
                        "{label} needs at least one recipient: `to = [\"sales@ourco.example\"]` or a [[digest.recipient]] with `address`"
                    )));
                }
                let mut seen = BTreeSet::new();
                for r in &recipients {
                    if !seen.insert(r.address.clone()) {
                        return Err(invalid(format!(
                            "{label} {} is named twice (in `to` or [[digest.recipient]]): each person gets one digest",
                            r.address
                        )));
                    }
                }
                let time = chrono::NaiveTime::parse_from_str(&d.time, "%H:%M").map_err(|_| {
                    invalid(format!(
                        "{label} time = {:?} must be HH:MM (24-hour), e.g. \"08:00\"",
                        d.time
                    ))
                })?;
                let timezone: chrono_tz::Tz = d.timezone.parse().map_err(|_| {
                    invalid(format!("{label} timezone = {:?} is not an IANA time zone name such as \"Asia/Shanghai\"", d.timezone))
                })?;
                let weekly_review = match &d.weekly_review {
                    None => None,
                    Some(w) => Some(w.parse::<chrono::Weekday>().map_err(|_| {
                        invalid(format!(
                            "{label} weekly_review = {w:?} is not a weekday such as \"monday\""
                        ))
                    })?),
                };
                let answer_nurture_above = d.answer_nurture_above.unwrap_or(50);
                if answer_nurture_above > 100 {
                    return Err(invalid(format!(
                        "{label} answer_nurture_above = {answer_nurture_above} must be a score from 0 to 100"
                    )));
                }
                Some(DigestSettings {
                    recipients,
                    time,
                    timezone,
                    skip_if_empty: d.skip_if_empty,
                    weekly_review,
                    answer_nurture_above,
                    follow_up_after_days: d.follow_up_after_days.unwrap_or(3).clamp(1, 60),
                    nurture_top: d.nurture_top.unwrap_or(10).min(1000),
                })
            }
        };

        let patterns_dir = raw.patterns_dir.as_deref().map(resolve);
        let extractor = Extractor::new(&business, patterns_dir.as_deref())
            .map_err(|e| ConfigError::Patterns(e.to_string(), path.to_path_buf()))?;

        Ok(Settings {
            source: path.to_path_buf(),
            storage_path,
            me: Me { addresses, domains },
            business,
            accounts,
            sync,
            scoring,
            patterns_dir,
            extractor: Arc::new(extractor),
            smtp,
            digest,
            daemon,
            feedback,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<Settings, ConfigError> {
        Settings::from_toml(text, Path::new("/tmp/leadsift-test.toml"))
    }

    const BASE: &str = "[storage]\npath = \"/tmp/x.db\"\n";

    #[test]
    fn minimal_config_loads() {
        let s = load(BASE).unwrap();
        assert!(s.accounts.is_empty());
        assert_eq!(s.sync.max_message_bytes, 2 * 1024 * 1024);
    }

    #[test]
    fn unknown_key_names_key_and_line() {
        let err = load(&format!("{BASE}\n[me]\naddresses = []\nadresses = []\n"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("adresses"), "{err}");
        assert!(err.contains("line 6"), "{err}");
    }

    #[test]
    fn inline_password_is_rejected_with_alternatives() {
        let err = load(&format!(
            "{BASE}[[account]]\nname = \"s\"\nhost = \"localhost\"\ntls = \"plaintext\"\nusername = \"u\"\npassword = \"hunter2\"\nfolders = [\"INBOX\"]\n"
        ))
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("password_file")
                && err.contains("password_command")
                && err.contains("password_credential"),
            "{err}"
        );
        assert!(err.contains("line 8"), "{err}");
        assert!(!err.contains("hunter2"));
    }

    #[test]
    fn plaintext_to_remote_host_is_refused() {
        let err = load(&format!(
            "{BASE}[[account]]\nname = \"s\"\nhost = \"imap.example.com\"\ntls = \"plaintext\"\nusername = \"u\"\npassword_command = \"echo x\"\nfolders = [\"INBOX\"]\n"
        ))
        .unwrap_err()
        .to_string();
        assert!(err.contains("loopback"), "{err}");
    }

    #[test]
    fn loopback_hosts() {
        assert!(is_loopback_host("localhost"));
        assert!(is_loopback_host("127.0.0.2"));
        assert!(is_loopback_host("::1"));
        assert!(!is_loopback_host("10.0.0.1"));
        assert!(!is_loopback_host("imap.example.com"));
    }

    #[test]
    fn unreadable_password_file_is_an_error() {
        let err = load(&format!(
            "{BASE}[[account]]\nname = \"s\"\nhost = \"localhost\"\ntls = \"implicit\"\nusername = \"u\"\npassword_file = \"/nonexistent/pw\"\nfolders = [\"INBOX\"]\n"
        ))
        .unwrap_err()
        .to_string();
        assert!(err.contains("/nonexistent/pw"), "{err}");
    }

    #[test]
    fn folder_names_are_checked() {
        let conf = |folders: &str| {
            load(&format!(
                "{BASE}[[account]]\nname = \"s\"\nhost = \"localhost\"\ntls = \"implicit\"\nusername = \"u\"\npassword_command = \"echo x\"\nfolders = {folders}\n"
            ))
        };
        let ok = conf("[\"INBOX\", \"INBOX.询盘\", \"Входящие/Заказы\", \"R&D\"]").unwrap();
        assert_eq!(ok.accounts[0].folders[1], "INBOX.询盘");
        for (folders, says) in [
            ("[\"INBOX.&i+J22A-\"]", "INBOX.询盘"),
            ("[\"\"]", "must not be empty"),
            ("[\"In\\tbox\"]", "control character"),
            ("[\" INBOX\"]", "space"),
        ] {
            let err = conf(folders).unwrap_err().to_string();
            assert!(
                err.contains(says) && err.contains("[[account]] #1"),
                "{folders}: {err}"
            );
        }
    }

    #[test]
    fn bad_tls_value_is_named() {
        let err = load(&format!(
            "{BASE}[[account]]\nname = \"s\"\nhost = \"localhost\"\ntls = \"ssl\"\nusername = \"u\"\npassword_command = \"echo x\"\nfolders = [\"INBOX\"]\n"
        ))
        .unwrap_err()
        .to_string();
        assert!(err.contains("tls") && err.contains("ssl"), "{err}");
    }

    #[test]
    fn smtp_and_digest_sections() {
        let s = load(&format!(
            "{BASE}[smtp]\nhost = \"localhost\"\nport = 2525\ntls = \"plaintext\"\nfrom = \"leadsift <ls@ourco.example>\"\n[digest]\nto = [\"sales@ourco.example\"]\ntime = \"07:30\"\ntimezone = \"Europe/Berlin\"\nweekly_review = \"monday\"\n"
        ))
        .unwrap();
        let d = s.digest.unwrap();
        assert_eq!(d.time.to_string(), "07:30:00");
        assert_eq!(d.timezone, chrono_tz::Europe::Berlin);
        assert_eq!(d.weekly_review, Some(chrono::Weekday::Mon));
        assert!(s.smtp.unwrap().credentials.is_none());
        let err = load(&format!(
            "{BASE}[digest]\nto = [\"a@b.example\"]\ntimezone = \"Mars/Olympus\"\n"
        ))
        .unwrap_err()
        .to_string();
        assert!(err.contains("Mars/Olympus"), "{err}");
        let err = load(&format!(
            "{BASE}[digest]\nto = [\"a@b.example\"]\ntime = \"8am\"\n"
        ))
        .unwrap_err()
        .to_string();
        assert!(err.contains("time"), "{err}");
        let err = load(&format!(
            "{BASE}[smtp]\nhost = \"smtp.example.com\"\ntls = \"plaintext\"\nfrom = \"a@b.example\"\n"
        ))
        .unwrap_err()
        .to_string();
        assert!(err.contains("loopback"), "{err}");
    }

    #[test]
    fn digest_recipients_scopes_and_account_owner() {
        let s = load(&format!(
            "{BASE}[[account]]\nname = \"s\"\nhost = \"localhost\"\ntls = \"plaintext\"\nusername = \"u\"\npassword_command = \"echo x\"\nowner = \"Ann@OurCo.example\"\n[digest]\nto = [\"Boss <boss@ourco.example>\"]\nfollow_up_after_days = 5\n[[digest.recipient]]\naddress = \"Ann <Ann@OurCo.example>\"\n[[digest.recipient]]\naddress = \"lead@ourco.example\"\nscope = \"all\"\n"
        ))
        .unwrap();
        assert_eq!(s.accounts[0].owner.as_deref(), Some("ann@ourco.example"));
        let d = s.digest.unwrap();
        let r: Vec<(&str, &str, Scope)> = d
            .recipients
            .iter()
            .map(|r| (r.mailbox.as_str(), r.address.as_str(), r.scope))
            .collect();
        assert_eq!(
            r,
            [
                (
                    "Boss <boss@ourco.example>",
                    "boss@ourco.example",
                    Scope::All
                ),
                ("Ann <Ann@OurCo.example>", "ann@ourco.example", Scope::Own),
                ("lead@ourco.example", "lead@ourco.example", Scope::All),
            ]
        );
        assert_eq!(
            (
                d.follow_up_after_days,
                d.answer_nurture_above,
                d.nurture_top
            ),
            (5, 50, 10)
        );
        for (bad, needle) in [
            ("[digest]\n", "at least one recipient"),
            ("[digest]\n[[digest.recipient]]\naddress = \"x\"\n", "#1"),
            (
                "[digest]\n[[digest.recipient]]\naddress = \"a@b.example\"\nscope = \"team\"\n",
                "team",
            ),
            (
                "[digest]\nto = [\"a@b.example\"]\n[[digest.recipient]]\naddress = \"A@b.example\"\n",
                "named twice",
            ),
            (
                "[digest]\nto = [\"a@b.example\"]\nanswer_nurture_above = 120\n",
                "answer_nurture_above",
            ),
        ] {
            let err = load(&format!("{BASE}{bad}")).unwrap_err().to_string();
            assert!(err.contains(needle), "{bad}: {err}");
        }
    }

    #[test]
    fn me_domains_match_subdomains() {
        let s = load(&format!(
            "{BASE}[me]\naddresses = [\"Sales@OurCo.example\"]\ndomains = [\"ourco.example\"]\n"
        ))
        .unwrap();
        assert!(s.me.is_ours("sales@ourco.example"));
        assert!(s.me.is_ours("bob@mail.ourco.example"));
        assert!(!s.me.is_ours("bob@notourco.example"));
    }
}
