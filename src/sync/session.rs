//! Our own IMAP session type over async-imap: it owns the connection and what we know about it
//! (capabilities, the selected folder), puts a timeout on every network operation, and remembers
//! when the connection is no longer usable so nobody sends another command down a dead link.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Debug;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use async_imap::types::{Capability, Flag, NameAttribute};
use chrono::{DateTime, FixedOffset};
use futures_util::StreamExt;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_io_timeout::TimeoutStream;

use crate::config::{Account, Auth, TlsMode};

/// Anything we can speak IMAP over: plain TCP or TLS, both with socket timeouts.
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send + Debug {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + Debug> Io for T {}
type Stream = Box<dyn Io>;
type Tcp = Pin<Box<TimeoutStream<TcpStream>>>;

/// The folder opened on this session: read-only (EXAMINE) for reading, read-write (SELECT) only
/// to write our own keywords.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selected {
    pub name: String,
    pub uidvalidity: u32,
    pub uid_next: Option<u32>,
    pub exists: u32,
    /// HIGHESTMODSEQ, when CONDSTORE is enabled on this session and the folder has mod-sequences.
    pub highest_modseq: Option<u64>,
    /// PERMANENTFLAGS as the server listed them (`\*` = new keywords may be created). Empty when
    /// the server sent none (EXAMINE: usually `()`).
    pub permanent_flags: Vec<String>,
    pub read_only: bool,
}

impl Selected {
    /// Whether storing `keyword` will stick: PERMANENTFLAGS has `\*` or the keyword itself.
    /// No PERMANENTFLAGS at all means every flag is permanent (RFC 3501, 7.1).
    pub fn can_create_keywords(&self, keyword: &str) -> bool {
        self.permanent_flags.is_empty()
            || self
                .permanent_flags
                .iter()
                .any(|f| f == "\\*" || f.eq_ignore_ascii_case(keyword))
    }
}

/// One message as it came off the wire.
#[derive(Debug)]
pub struct Fetched {
    pub uid: u32,
    pub internal_date: Option<DateTime<FixedOffset>>,
    /// RFC822.SIZE: the size on the server.
    pub size: u64,
    pub body: Vec<u8>,
    pub truncated: bool,
}

/// What one `UID FETCH` returned. `error` is set when the response ended abnormally; `received`
/// still lists what did arrive (in arrival order) so it can be kept.
#[derive(Debug, Default)]
pub struct FetchOutcome {
    pub received: Vec<u32>,
    pub error: Option<anyhow::Error>,
}

pub struct ImapSession {
    inner: async_imap::Session<Stream>,
    /// The account's name, for error messages.
    account: String,
    host: String,
    timeout: Duration,
    capabilities: BTreeSet<String>,
    /// CONDSTORE was enabled (`ENABLE CONDSTORE`): EXAMINE reports HIGHESTMODSEQ and
    /// `CHANGEDSINCE` may be used.
    condstore: bool,
    selected: Option<Selected>,
    broken: bool,
}

/// A message meant for a person that already says what failed, where, and the likely fix: the
/// causes under it (kept for callers that branch on them) are not repeated by
/// [`crate::sync::describe`].
#[derive(Debug)]
pub struct Hint(pub String);

impl std::fmt::Display for Hint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// IMAP servers greet at once; one silent this long is most likely waiting for a TLS handshake.
const GREETING_PATIENCE: Duration = Duration::from_secs(5);

/// Connection refused (nothing listens on the port).
fn refused(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::ConnectionRefused)
    })
}

/// The TLS handshake read something that is not TLS at all: a plaintext IMAP greeting.
fn speaks_plaintext(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
            .is_some_and(|r| matches!(r, rustls::Error::InvalidMessage(_)))
    })
}

/// What the server said in a NO or BAD, without async-imap's debug dressing
/// (`code: Some(…), info: Some("…")`).
pub fn server_words(e: &async_imap::error::Error) -> Option<String> {
    let raw = match e {
        async_imap::error::Error::No(s) | async_imap::error::Error::Bad(s) => s,
        _ => return None,
    };
    let info = raw
        .split_once("info: Some(\"")
        .or_else(|| raw.split_once("information: Some(\""))
        .and_then(|(_, rest)| rest.rsplit_once("\")"))
        .map(|(text, _)| text.replace("\\\"", "\""));
    let code = raw
        .split_once("code: Some(")
        .and_then(|(_, rest)| rest.split_once(')'))
        .map(|(c, _)| c.to_string());
    match (code, info) {
        (Some(c), Some(i)) => Some(format!("[{}] {i}", c.to_uppercase())),
        (None, Some(i)) => Some(i),
        (Some(c), None) => Some(format!("[{}]", c.to_uppercase())),
        (None, None) => Some(raw.clone()),
    }
}

/// The server answered NO or BAD: the command failed, the connection is fine.
fn is_no_or_bad(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        matches!(
            c.downcast_ref::<async_imap::error::Error>(),
            Some(async_imap::error::Error::No(_) | async_imap::error::Error::Bad(_))
        )
    })
}

/// A rejected LOGIN, as a sentence with the likely fix.
fn login_hint(e: anyhow::Error, account: &Account) -> anyhow::Error {
    let words = e
        .chain()
        .filter_map(|c| c.downcast_ref::<async_imap::error::Error>())
        .find_map(server_words);
    let Some(words) = words else { return e };
    let lower = words.to_lowercase();
    let fix = if lower.contains("tls") || lower.contains("ssl") || lower.contains("privacy") {
        "the server wants TLS before the password: use tls = \"starttls\" or \"implicit\""
    } else {
        "check `username` and the password (password_file, password_command or password_credential)"
    };
    // Keep the NO in the chain: callers tell a rejected login from a network fault by it.
    e.context(Hint(format!(
        "the server rejected the login as {:?} ({words}): {fix}",
        account.username
    )))
}

/// Runs one network step under the timeout, turning expiry into an error that says what hung.
async fn timed<T, E, F>(timeout: Duration, what: &str, fut: F) -> anyhow::Result<T>
where
    F: Future<Output = Result<T, E>>,
    E: Into<anyhow::Error>,
{
    match tokio::time::timeout(timeout, fut).await {
        Ok(r) => r.map_err(Into::into).with_context(|| what.to_string()),
        Err(_) => Err(anyhow!(
            "{what}: timed out, no answer within {} s (timeout_secs)",
            timeout.as_secs()
        )),
    }
}

/// `1,3,5:9` from sorted UIDs.
pub fn uid_set(uids: &[u32]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < uids.len() {
        let start = uids[i];
        let mut end = start;
        while i + 1 < uids.len() && uids[i + 1] == end + 1 {
            i += 1;
            end = uids[i];
        }
        if !out.is_empty() {
            out.push(',');
        }
        if start == end {
            out.push_str(&start.to_string());
        } else {
            out.push_str(&format!("{start}:{end}"));
        }
        i += 1;
    }
    out
}

impl ImapSession {
    /// Connects, does TLS as configured, reads the greeting and logs in. Errors name the
    /// account and, where the cause is a likely mistake in the config, the fix.
    pub async fn connect(account: &Account, timeout: Duration) -> anyhow::Result<ImapSession> {
        Self::connect_inner(account, timeout)
            .await
            .with_context(|| format!("account {}", account.name))
    }

    async fn connect_inner(account: &Account, timeout: Duration) -> anyhow::Result<ImapSession> {
        let addr = format!(
            "{}:{}",
            account.host.trim_start_matches('[').trim_end_matches(']'),
            account.port
        );
        let what = format!("connecting to {}:{}", account.host, account.port);
        let tcp = match timed(timeout, &what, TcpStream::connect(&addr)).await {
            Ok(t) => t,
            Err(e) if refused(&e) => bail!(
                "connecting to {}:{}: connection refused: is the IMAP server running there, and is `port` right?",
                account.host,
                account.port
            ),
            Err(e) => return Err(e),
        };
        let _ = tcp.set_nodelay(true);
        let mut tcp = TimeoutStream::new(tcp);
        // No read timeout on the socket: every command below runs under `timed`, and IDLE waits
        // longer than `timeout` on purpose (renewing it sooner than the server's own 60 s check
        // means some servers never announce mail during IDLE).
        tcp.set_write_timeout(Some(timeout));
        let tcp: Tcp = Box::pin(tcp);

        let stream: Stream = match account.tls {
            TlsMode::Implicit => {
                let tls = Self::tls_handshake(account, tcp, timeout).await?;
                let mut client = async_imap::Client::new(Box::new(tls) as Stream);
                Self::greeting(&mut client, timeout).await?;
                client.into_inner()
            }
            TlsMode::StartTls => {
                let mut client = async_imap::Client::new(tcp);
                Self::plain_greeting(account, &mut client, timeout).await?;
                timed(
                    timeout,
                    "STARTTLS",
                    client.run_command_and_check_ok("STARTTLS", None),
                )
                .await
                .context("the server refused STARTTLS")?;
                // The TLS layer starts on the bare socket; no second greeting follows.
                Box::new(Self::tls_handshake(account, client.into_inner(), timeout).await?)
            }
            TlsMode::Plaintext => {
                let mut client = async_imap::Client::new(tcp);
                Self::plain_greeting(account, &mut client, timeout).await?;
                Box::new(client.into_inner())
            }
        };
        let client = async_imap::Client::new(stream);
        let (inner, caps) = match &account.auth {
            Auth::Password(password) => timed(
                timeout,
                &format!("logging in as {}", account.username),
                async {
                    client
                        .login_with_capabilities(&account.username, password.expose())
                        .await
                        .map_err(|(e, _)| e)
                },
            )
            .await
            .map_err(|e| login_hint(e, account))?,
            Auth::OAuth2(provider) => (
                crate::oauth2::sasl::imap_authenticate(
                    client,
                    provider,
                    &account.host,
                    account.port,
                    timeout,
                )
                .await?,
                None,
            ),
        };
        let mut session = ImapSession {
            inner,
            account: account.name.clone(),
            host: account.host.clone(),
            timeout,
            capabilities: BTreeSet::new(),
            condstore: false,
            selected: None,
            broken: false,
        };
        let caps = match caps {
            Some(c) => c,
            None => timed(timeout, "CAPABILITY", session.inner.capabilities()).await?,
        };
        session.capabilities = caps
            .iter()
            .map(|c| match c {
                Capability::Imap4rev1 => "IMAP4REV1".to_string(),
                Capability::Auth(a) => format!("AUTH={}", a.to_uppercase()),
                Capability::Atom(a) => a.to_uppercase(),
            })
            .collect();
        if session.has_capability("CONDSTORE") && session.has_capability("ENABLE") {
            // EXAMINE then reports HIGHESTMODSEQ, and FETCH may ask for changes since one.
            let r = timed(
                timeout,
                "ENABLE CONDSTORE",
                session.inner.run_command_and_check_ok("ENABLE CONDSTORE"),
            )
            .await;
            match session.classify(r) {
                Ok(()) => session.condstore = true,
                Err(e) if !session.broken => {
                    tracing::warn!(host = %session.host, "ENABLE CONDSTORE refused; reading flags without it: {e:#}")
                }
                Err(e) => return Err(e),
            }
            session.drain_unsolicited();
        }
        Ok(session)
    }

    async fn tls_handshake(
        account: &Account,
        tcp: Tcp,
        timeout: Duration,
    ) -> anyhow::Result<tokio_rustls::client::TlsStream<Tcp>> {
        let config = super::tls::client_config(account.ca_file.as_deref())?;
        let name = super::tls::server_name(&account.host)?;
        let connector = tokio_rustls::TlsConnector::from(config);
        let trust = match &account.ca_file {
            Some(ca) => format!("system roots and {}", ca.display()),
            None => "system roots".to_string(),
        };
        let r = timed(
            timeout,
            &format!("TLS handshake with {}:{}", account.host, account.port),
            connector.connect(name, tcp),
        )
        .await;
        if let Err(e) = &r
            && speaks_plaintext(e)
        {
            // The server's plaintext greeting ("* OK …") is not a TLS record.
            bail!(
                "{host}:{port}: port {port} speaks plaintext, not TLS: use tls = \"starttls\" or port 993",
                port = account.port,
                host = account.host
            );
        }
        r.with_context(|| {
            format!(
                "server certificate not accepted for {:?} (trusted: {trust})",
                account.host
            )
        })
    }

    /// The greeting on a connection that starts in plaintext. A server that expects TLS from the
    /// first byte says nothing and waits for ours; rather than the full timeout, give up after
    /// a few seconds with the likely fix.
    async fn plain_greeting<T: AsyncRead + AsyncWrite + Unpin + Send + Debug>(
        account: &Account,
        client: &mut async_imap::Client<T>,
        timeout: Duration,
    ) -> anyhow::Result<()> {
        if timeout <= GREETING_PATIENCE {
            return Self::greeting(client, timeout).await;
        }
        match tokio::time::timeout(GREETING_PATIENCE, Self::greeting(client, timeout)).await {
            Ok(r) => r,
            Err(_) => bail!(
                "no IMAP greeting from {host}:{port} within {s} s: the port seems to expect TLS from the first byte (implicit TLS): use tls = \"implicit\", or port 143 for tls = \"{mode}\"",
                host = account.host,
                port = account.port,
                s = GREETING_PATIENCE.as_secs(),
                mode = if account.tls == TlsMode::Plaintext {
                    "plaintext"
                } else {
                    "starttls"
                },
            ),
        }
    }

    async fn greeting<T: AsyncRead + AsyncWrite + Unpin + Send + Debug>(
        client: &mut async_imap::Client<T>,
        timeout: Duration,
    ) -> anyhow::Result<()> {
        let greeting = timed(
            timeout,
            "reading the server greeting",
            client.read_response(),
        )
        .await?
        .ok_or_else(|| anyhow!("the server closed the connection before its greeting"))?;
        if let async_imap::imap_proto::Response::Data {
            status: async_imap::imap_proto::Status::Bye,
            outcome,
        } = greeting.parsed()
        {
            bail!(
                "the server said BYE: {}",
                outcome.information.as_deref().unwrap_or("")
            );
        }
        Ok(())
    }

    pub fn is_broken(&self) -> bool {
        self.broken
    }

    /// Err naming `what` when the connection is no longer usable: nothing more goes down it.
    fn ensure_usable(&self, what: &str) -> anyhow::Result<()> {
        if self.broken {
            bail!(
                "{what}: the connection to {} is no longer usable",
                self.host
            );
        }
        Ok(())
    }

    pub fn has_capability(&self, cap: &str) -> bool {
        self.capabilities.contains(&cap.to_uppercase())
    }

    pub fn selected(&self) -> Option<&Selected> {
        self.selected.as_ref()
    }

    /// CONDSTORE is on for this session: `Selected::highest_modseq` and `CHANGEDSINCE` work.
    pub fn condstore(&self) -> bool {
        self.condstore
    }

    /// Drops queued unsolicited responses: the channel is bounded and we act on none of them
    /// (every pass re-searches), so keeping it empty is all that matters.
    fn drain_unsolicited(&mut self) {
        while self.inner.unsolicited_responses.try_recv().is_ok() {}
    }

    /// Empties the unsolicited queue; true if it held news about the selected mailbox (new or
    /// expunged messages, changed flags).
    fn take_mailbox_changes(&mut self) -> bool {
        use async_imap::types::UnsolicitedResponse as U;
        let mut changed = false;
        while let Ok(r) = self.inner.unsolicited_responses.try_recv() {
            changed |= match r {
                U::Exists(_) | U::Recent(_) | U::Expunge(_) => true,
                U::Other(data) => matches!(
                    data.parsed(),
                    async_imap::imap_proto::Response::Fetch(..)
                        | async_imap::imap_proto::Response::Vanished { .. }
                ),
                _ => false,
            };
        }
        changed
    }

    fn classify<T>(&mut self, r: anyhow::Result<T>) -> anyhow::Result<T> {
        if let Err(e) = &r {
            // NO and BAD leave the connection usable; anything else (I/O, parse, timeout) does not.
            if !is_no_or_bad(e) {
                self.broken = true;
            }
        }
        r
    }

    /// The folder with SPECIAL-USE `\Sent`, if the server marks one.
    pub async fn find_sent_folder(&mut self) -> anyhow::Result<Option<String>> {
        let r = self.list_sent().await;
        self.classify(r)
    }

    async fn list_sent(&mut self) -> anyhow::Result<Option<String>> {
        self.ensure_usable("LIST")?;
        let timeout = self.timeout;
        let names = timed(timeout, "LIST", async {
            let stream = self.inner.list(Some(""), Some("*")).await?;
            let names: Vec<_> = stream.collect().await;
            Ok::<_, async_imap::error::Error>(names)
        })
        .await?;
        let mut sent = None;
        for n in names {
            let n = n.context("LIST")?;
            if sent.is_none()
                && n.attributes()
                    .iter()
                    .any(|a| matches!(a, NameAttribute::Sent))
            {
                sent = Some(super::mutf7::display(n.name()));
            }
        }
        self.drain_unsolicited();
        Ok(sent)
    }

    /// Opens `folder` read-only: EXAMINE cannot change flags, not even `\Recent`.
    pub async fn examine(&mut self, folder: &str) -> anyhow::Result<Selected> {
        self.open(folder, true).await
    }

    /// Opens `folder` read-write (SELECT): only to store our own keywords. Clears `\Recent`
    /// for this session, as any client's SELECT does.
    pub async fn select(&mut self, folder: &str) -> anyhow::Result<Selected> {
        self.open(folder, false).await
    }

    async fn open(&mut self, folder: &str, read_only: bool) -> anyhow::Result<Selected> {
        self.selected = None;
        let r = self.open_inner(folder, read_only).await;
        let r = self.classify(r);
        if let Ok(s) = &r {
            self.selected = Some(s.clone());
        }
        r
    }

    async fn open_inner(&mut self, folder: &str, read_only: bool) -> anyhow::Result<Selected> {
        let verb = if read_only { "EXAMINE" } else { "SELECT" };
        self.ensure_usable(verb)?;
        let what = format!("{verb} {folder}");
        // People write names in UTF-8; the wire wants modified UTF-7 (RFC 3501 §5.1.3).
        let wire = super::mutf7::encode(folder);
        let mailbox = if read_only {
            timed(self.timeout, &what, self.inner.examine(&wire)).await
        } else {
            timed(self.timeout, &what, self.inner.select(&wire)).await
        };
        let mailbox = match mailbox {
            Ok(m) => m,
            Err(e) => {
                let words = e
                    .chain()
                    .filter_map(|c| c.downcast_ref::<async_imap::error::Error>())
                    .find_map(server_words);
                let Some(words) = words else { return Err(e) };
                let lower = words.to_lowercase();
                let missing = [
                    "exist",
                    "nonexistent",
                    "not found",
                    "no such",
                    "unknown mailbox",
                ]
                .iter()
                .any(|w| lower.contains(w));
                // Keep the NO in the chain: it tells callers the connection is still fine.
                return Err(if missing {
                    e.context(Hint(format!(
                        "mailbox {folder} does not exist on account {} (the server said: {words}); check `folders` and `sent_folder` in the config",
                        self.account
                    )))
                } else {
                    e.context(Hint(format!(
                        "{verb} of mailbox {folder} on account {} refused: {words}",
                        self.account
                    )))
                });
            }
        };
        self.drain_unsolicited();
        let uidvalidity = mailbox
            .uid_validity
            .ok_or_else(|| anyhow!("{verb} {folder}: the server sent no UIDVALIDITY"))?;
        // Courier sends no UIDNEXT with SELECT/EXAMINE; STATUS has it. Asked after the EXAMINE
        // and before any SEARCH, so every UID below it that still exists is found by that SEARCH.
        let uid_next = match mailbox.uid_next {
            Some(n) => Some(n),
            None => {
                let what = format!("STATUS {folder} (UIDNEXT)");
                let st = timed(self.timeout, &what, self.inner.status(&wire, "(UIDNEXT)")).await;
                self.drain_unsolicited();
                match st {
                    Ok(m) => m.uid_next,
                    // Then the mark just does not move past expunged UIDs.
                    Err(e) if !is_no_or_bad(&e) => return Err(e),
                    Err(_) => None,
                }
            }
        };
        Ok(Selected {
            name: folder.to_string(),
            uidvalidity,
            uid_next,
            exists: mailbox.exists,
            highest_modseq: mailbox.highest_modseq.filter(|_| self.condstore),
            permanent_flags: mailbox.permanent_flags.iter().map(flag_name).collect(),
            read_only,
        })
    }

    /// `UID SEARCH <query>`, sorted.
    pub async fn uid_search(&mut self, query: &str) -> anyhow::Result<Vec<u32>> {
        let r = if let Err(e) = self.ensure_usable("UID SEARCH") {
            Err(e)
        } else {
            timed(
                self.timeout,
                &format!("UID SEARCH {query}"),
                self.inner.uid_search(query),
            )
            .await
        };
        let set = self.classify(r)?;
        self.drain_unsolicited();
        let mut v: Vec<u32> = set.into_iter().collect();
        v.sort_unstable();
        Ok(v)
    }

    /// RFC822.SIZE of each UID that exists (expunged ones are simply absent).
    pub async fn uid_sizes(&mut self, uids: &[u32]) -> anyhow::Result<BTreeMap<u32, u64>> {
        let r = self.uid_sizes_inner(uids).await;
        self.classify(r)
    }

    async fn uid_sizes_inner(&mut self, uids: &[u32]) -> anyhow::Result<BTreeMap<u32, u64>> {
        self.ensure_usable("UID FETCH")?;
        let mut out = BTreeMap::new();
        if uids.is_empty() {
            return Ok(out);
        }
        let set = uid_set(uids);
        let what = format!("UID FETCH {} (UID RFC822.SIZE)", abbreviate(&set));
        self.fetch_each(&set, "(UID RFC822.SIZE)", &what, |f| {
            if let (Some(uid), Some(size)) = (f.uid, f.size) {
                out.insert(uid, u64::from(size));
            }
        })
        .await?;
        Ok(out)
    }

    /// Runs `UID FETCH set query`, handing each response to `each`, with the timeout on every
    /// step; `what` names the command in errors.
    async fn fetch_each(
        &mut self,
        set: &str,
        query: &str,
        what: &str,
        mut each: impl FnMut(&async_imap::types::Fetch),
    ) -> anyhow::Result<()> {
        let timeout = self.timeout;
        let mut stream = timed(timeout, what, self.inner.uid_fetch(set, query)).await?;
        loop {
            let next = tokio::time::timeout(timeout, stream.next())
                .await
                .map_err(|_| {
                    anyhow!(
                        "{what}: timed out, no answer within {} s (timeout_secs)",
                        timeout.as_secs()
                    )
                })?;
            match next {
                None => break,
                Some(Err(e)) => return Err(anyhow::Error::new(e).context(what.to_string())),
                Some(Ok(f)) => each(&f),
            }
        }
        drop(stream);
        self.drain_unsolicited();
        Ok(())
    }

    /// FLAGS of the messages in `uid_set` (an IMAP UID set such as `1:500`), or with
    /// `changedsince` only of those whose flags changed after that mod-sequence (CONDSTORE must be
    /// on). Expunged UIDs are simply absent. Flags keep the server's spelling; `\Recent` is left
    /// out.
    pub async fn uid_fetch_flags(
        &mut self,
        uid_set: &str,
        changedsince: Option<u64>,
    ) -> anyhow::Result<BTreeMap<u32, Vec<String>>> {
        if changedsince.is_some() && !self.condstore {
            bail!("UID FETCH (CHANGEDSINCE): CONDSTORE is not enabled on this connection");
        }
        let r = self.uid_fetch_flags_inner(uid_set, changedsince).await;
        self.classify(r)
    }

    async fn uid_fetch_flags_inner(
        &mut self,
        uid_set: &str,
        changedsince: Option<u64>,
    ) -> anyhow::Result<BTreeMap<u32, Vec<String>>> {
        self.ensure_usable("UID FETCH")?;
        let mut out = BTreeMap::new();
        if uid_set.is_empty() {
            return Ok(out);
        }
        let query = match changedsince {
            Some(m) => format!("(UID FLAGS) (CHANGEDSINCE {m})"),
            None => "(UID FLAGS)".to_string(),
        };
        let what = format!("UID FETCH {} {query}", abbreviate(uid_set));
        self.fetch_each(uid_set, &query, &what, |f| {
            // A FETCH without UID is an unsolicited one for a sequence number: skip it.
            let Some(uid) = f.uid else { return };
            let flags: Vec<String> = f
                .flags()
                .filter(|fl| !matches!(fl, Flag::Recent))
                .map(|fl| flag_name(&fl))
                .collect();
            out.insert(uid, flags);
        })
        .await?;
        Ok(out)
    }

    /// Adds and removes keywords on `uids` in the folder opened with [`Self::select`], with
    /// `+FLAGS.SILENT` / `-FLAGS.SILENT` naming only the given keywords: `\Seen` and every
    /// other flag stay as they are. Removal goes first, so a keyword in both lists ends up set.
    pub async fn uid_store_keywords(
        &mut self,
        uids: &[u32],
        add: &[&str],
        remove: &[&str],
    ) -> anyhow::Result<()> {
        // Mistakes of the caller, found before anything is sent: the connection stays usable.
        match &self.selected {
            Some(s) if !s.read_only => {}
            Some(s) => bail!("UID STORE: {} is open read-only", s.name),
            None => bail!("UID STORE: no folder is selected"),
        }
        for k in add.iter().chain(remove) {
            if !is_keyword(k) {
                bail!("UID STORE: {k:?} is not a valid IMAP keyword");
            }
        }
        let r = self.uid_store_keywords_inner(uids, add, remove).await;
        self.classify(r)
    }

    async fn uid_store_keywords_inner(
        &mut self,
        uids: &[u32],
        add: &[&str],
        remove: &[&str],
    ) -> anyhow::Result<()> {
        self.ensure_usable("UID STORE")?;
        if uids.is_empty() {
            return Ok(());
        }
        let set = uid_set(uids);
        let timeout = self.timeout;
        for (op, kws) in [("-FLAGS.SILENT", remove), ("+FLAGS.SILENT", add)] {
            if kws.is_empty() {
                continue;
            }
            let query = format!("{op} ({})", kws.join(" "));
            let what = format!("UID STORE {} {query}", abbreviate(&set));
            let mut stream = timed(timeout, &what, self.inner.uid_store(&set, &query)).await?;
            loop {
                let next = tokio::time::timeout(timeout, stream.next())
                    .await
                    .map_err(|_| {
                        anyhow!(
                            "{what}: timed out, no answer within {} s (timeout_secs)",
                            timeout.as_secs()
                        )
                    })?;
                match next {
                    None => break,
                    Some(Err(e)) => return Err(anyhow::Error::new(e).context(what)),
                    // With CONDSTORE on, servers may report the new MODSEQ even when silent.
                    Some(Ok(_)) => {}
                }
            }
            drop(stream);
            self.drain_unsolicited();
        }
        Ok(())
    }

    /// Fetches the bodies of `uids` with `BODY.PEEK[]` (never sets `\Seen`), or only their first
    /// `partial` bytes, handing each message to `sink` as it arrives.
    pub async fn uid_fetch_bodies<F, Fut>(
        &mut self,
        uids: &[u32],
        partial: Option<u64>,
        mut sink: F,
    ) -> FetchOutcome
    where
        F: FnMut(Fetched) -> Fut,
        Fut: Future<Output = ()>,
    {
        let mut out = FetchOutcome::default();
        if uids.is_empty() {
            return out;
        }
        if let Err(e) = self.ensure_usable("UID FETCH") {
            out.error = Some(e);
            return out;
        }
        let set = uid_set(uids);
        let section = match partial {
            Some(n) => format!("BODY.PEEK[]<0.{n}>"),
            None => "BODY.PEEK[]".to_string(),
        };
        let query = format!("(UID INTERNALDATE RFC822.SIZE FLAGS {section})");
        let what = format!("UID FETCH {} {query}", abbreviate(&set));
        let timeout = self.timeout;
        let asked: BTreeSet<u32> = uids.iter().copied().collect();
        let result: anyhow::Result<()> = async {
            let mut stream = timed(timeout, &what, self.inner.uid_fetch(&set, &query)).await?;
            loop {
                let next = tokio::time::timeout(timeout, stream.next())
                    .await
                    .map_err(|_| {
                        anyhow!(
                            "{what}: timed out, no answer within {} s (timeout_secs)",
                            timeout.as_secs()
                        )
                    })?;
                let f = match next {
                    None => break,
                    // A broken link can yield errors forever: stop at the first one.
                    Some(Err(e)) => return Err(anyhow::Error::new(e).context(what.clone())),
                    Some(Ok(f)) => f,
                };
                // Unsolicited FETCH responses (flag changes by other clients) carry no body.
                let (Some(uid), Some(body)) = (f.uid, f.body()) else {
                    continue;
                };
                if !asked.contains(&uid) {
                    continue;
                }
                let size = f.size.map(u64::from).unwrap_or(body.len() as u64);
                let fetched = Fetched {
                    uid,
                    internal_date: f.internal_date(),
                    size,
                    truncated: partial.is_some() && (body.len() as u64) < size,
                    body: body.to_vec(),
                };
                drop(f);
                out.received.push(uid);
                sink(fetched).await;
            }
            Ok(())
        }
        .await;
        if let Err(e) = self.classify(result) {
            out.error = Some(e);
        } else {
            self.drain_unsolicited();
        }
        out
    }

    /// Says goodbye politely; errors are irrelevant at this point.
    pub async fn logout(mut self) {
        if !self.broken {
            let _ = tokio::time::timeout(self.timeout, self.inner.logout()).await;
        }
    }
}

/// A flag as IMAP spells it (`\Seen`, `$Label1`, `\*`).
fn flag_name(f: &Flag<'_>) -> String {
    match f {
        Flag::Seen => "\\Seen".to_string(),
        Flag::Answered => "\\Answered".to_string(),
        Flag::Flagged => "\\Flagged".to_string(),
        Flag::Deleted => "\\Deleted".to_string(),
        Flag::Draft => "\\Draft".to_string(),
        Flag::Recent => "\\Recent".to_string(),
        Flag::MayCreate => "\\*".to_string(),
        Flag::Custom(s) => s.to_string(),
    }
}

/// An IMAP keyword is a non-empty atom without `\` (RFC 3501 `flag-keyword`): safe to put in a
/// STORE command unquoted.
pub fn is_keyword(k: &str) -> bool {
    !k.is_empty()
        && k.bytes().all(|b| {
            b.is_ascii_graphic()
                && !matches!(b, b'(' | b')' | b'{' | b'%' | b'*' | b'"' | b'\\' | b']')
        })
}

/// Keeps log lines and error messages short when a UID set is long.
fn abbreviate(set: &str) -> String {
    if set.len() <= 40 {
        return set.to_string();
    }
    let first = set.split(',').next().unwrap_or("");
    let last = set.rsplit(',').next().unwrap_or("");
    format!("{first},…,{last}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uid_sets() {
        assert_eq!(uid_set(&[1, 2, 3, 5, 7, 8]), "1:3,5,7:8");
        assert_eq!(uid_set(&[4]), "4");
        assert_eq!(uid_set(&[]), "");
    }

    #[test]
    fn keywords_are_atoms() {
        for k in ["$LeadHot", "lead-hot", "$label1", "Junk"] {
            assert!(is_keyword(k), "{k}");
        }
        for k in [
            "", "\\Seen", "a b", "x)", "(x", "q\"", "a*", "a%", "a]", "ä",
        ] {
            assert!(!is_keyword(k), "{k}");
        }
    }

    #[test]
    fn server_words_drop_async_imaps_debug_dressing() {
        use async_imap::error::Error;
        let no = Error::No(r#"code: None, info: Some("Mailbox doesn't exist: Nope")"#.into());
        assert_eq!(
            server_words(&no).as_deref(),
            Some("Mailbox doesn't exist: Nope")
        );
        let no = Error::No(
            r#"code: Some(Nonexistent), info: Some("Mailbox does not exist, or must be subscribed to.")"#
                .into(),
        );
        assert_eq!(
            server_words(&no).as_deref(),
            Some("[NONEXISTENT] Mailbox does not exist, or must be subscribed to.")
        );
        let bad = Error::Bad(r#"code: None, info: Some("say "hi"")"#.into());
        assert_eq!(server_words(&bad).as_deref(), Some(r#"say "hi""#));
        assert_eq!(server_words(&Error::ConnectionLost), None);
    }

    #[test]
    fn a_hint_ends_the_description() {
        let e = anyhow::Error::new(async_imap::error::Error::No(
            r#"code: None, info: Some("Mailbox does not exist")"#.into(),
        ))
        .context("EXAMINE Nope")
        .context(Hint("mailbox Nope does not exist on account a".into()))
        .context("account a");
        assert_eq!(
            crate::sync::describe(&e),
            "account a: mailbox Nope does not exist on account a"
        );
        let e = anyhow::Error::new(async_imap::error::Error::No(
            r#"code: None, info: Some("Mailbox does not exist")"#.into(),
        ))
        .context("UID SEARCH ALL");
        assert_eq!(
            crate::sync::describe(&e),
            "UID SEARCH ALL: the server said: Mailbox does not exist"
        );
    }

    #[test]
    fn keyword_creation_follows_permanentflags() {
        let mut s = Selected {
            name: "INBOX".into(),
            uidvalidity: 1,
            uid_next: None,
            exists: 0,
            highest_modseq: None,
            permanent_flags: vec!["\\Seen".into(), "\\*".into()],
            read_only: false,
        };
        assert!(s.can_create_keywords("$LeadHot"));
        s.permanent_flags = vec!["\\Seen".into(), "$leadhot".into()];
        assert!(s.can_create_keywords("$LeadHot"));
        assert!(!s.can_create_keywords("$LeadDrop"));
        s.permanent_flags.clear();
        assert!(s.can_create_keywords("$LeadDrop"));
    }
}

/// How one IMAP IDLE ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdleEnd {
    /// The server reported a change (EXISTS, EXPUNGE, FETCH, …).
    NewData,
    /// The wait ran out: time to re-issue IDLE (or to poll other folders).
    Timeout,
    /// `stop` resolved (shutdown or reload).
    Stopped,
}

impl ImapSession {
    /// IDLE on the folder selected last (EXAMINE it first) until the server reports a change,
    /// `wait` passes, or `stop` resolves; then DONE. What the server sends along with its answer
    /// to DONE counts too: servers that check the mailbox when IDLE ends (Courier, Cyrus) announce
    /// new mail there. A dead link shows when DONE gets no answer within `timeout`. Consumes the
    /// session because async-imap's IDLE does; gives it back unless the connection broke.
    pub async fn idle<S>(
        self,
        wait: Duration,
        stop: S,
    ) -> (Option<ImapSession>, anyhow::Result<IdleEnd>)
    where
        S: Future<Output = ()>,
    {
        let ImapSession {
            inner,
            account,
            host,
            timeout,
            capabilities,
            condstore,
            selected,
            broken,
        } = self;
        if broken {
            return (
                None,
                Err(anyhow!(
                    "IDLE: the connection to {host} is no longer usable"
                )),
            );
        }
        let wait = wait.max(Duration::from_secs(1));
        let mut handle = inner.idle();
        if let Err(e) = timed(timeout, "IDLE", handle.init()).await {
            return (None, Err(e));
        }
        let end = {
            let (fut, interrupt) = handle.wait_with_timeout(wait);
            tokio::pin!(fut);
            tokio::pin!(stop);
            let r = tokio::select! {
                r = &mut fut => r.map(|r| match r {
                    async_imap::extensions::idle::IdleResponse::NewData(_) => IdleEnd::NewData,
                    async_imap::extensions::idle::IdleResponse::Timeout => IdleEnd::Timeout,
                    // Not caused by us: the stream ended.
                    async_imap::extensions::idle::IdleResponse::ManualInterrupt => IdleEnd::NewData,
                }),
                _ = tokio::time::sleep(wait + Duration::from_secs(1)) => Ok(IdleEnd::Timeout),
                () = &mut stop => Ok(IdleEnd::Stopped),
            };
            drop(interrupt);
            r
        };
        let end = match end {
            Ok(e) => e,
            Err(e) => return (None, Err(anyhow::Error::new(e).context("IDLE"))),
        };
        match timed(timeout, "IDLE DONE", handle.done()).await {
            Ok(inner) => {
                let mut s = ImapSession {
                    inner,
                    account,
                    host,
                    timeout,
                    capabilities,
                    condstore,
                    selected,
                    broken: false,
                };
                let announced = s.take_mailbox_changes();
                let end = match end {
                    IdleEnd::Timeout if announced => IdleEnd::NewData,
                    other => other,
                };
                (Some(s), Ok(end))
            }
            Err(e) => (None, Err(e)),
        }
    }
}

// Reading training folders ([feedback.folders]).
mod tags;
