//! Stage 1: IMAP → store. Read-only toward the mailbox (`EXAMINE`, `BODY.PEEK[]`), incremental by
//! UID, and exactly once across crashes and UIDVALIDITY changes.
//!
//! Per folder: EXAMINE gives UIDVALIDITY (a change resets the mark, and the rescan de-duplicates by
//! Message-ID). The first pass (mark 0) searches `SINCE` the backfill date; later passes search
//! `UID mark+1:*`. Candidates go in batches: sizes first (so big messages are fetched partially),
//! then bodies, parsed on worker threads while the download goes on. Each batch and the new mark
//! commit in one transaction; the mark never passes a UID that was asked for and did not arrive.
//!
//! Keywords, both ways (`[feedback]`): after its messages, each folder gets a flags pass on the
//! same read-only session — with CONDSTORE only the flags changed since the HIGHESTMODSEQ of the
//! last pass, else the last `flags_window` UIDs — plus every stored message whose keywords were
//! never read. Once the account's folders are done and the new mail is scored, keyword changes
//! become corrections, the leads they touch are rescored, and leadsift's own class keyword is
//! written (the only time a folder is opened read-write) where the lead's class changed.

/// The codec lives at the crate root so the configuration can check folder names with it.
pub use crate::mutf7;
pub mod pool;
pub mod session;
pub mod tls;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use anyhow::{Context, anyhow, bail};
use chrono::{DateTime, TimeDelta, Utc};
use tracing::{debug, info, warn};

use crate::config::{Account, Settings};
use crate::store::keywords::FlagsPass;
use crate::store::{BatchOutcome, Item, Location, Store};
use pool::{Job, ParsePool, Submitter};
use session::{ImapSession, Selected};
use tokio::sync::mpsc;

/// The result of one pass over one folder.
#[derive(Debug, Default, Clone)]
pub struct FolderReport {
    /// Message bodies downloaded (including partial ones and refetches).
    pub fetched: usize,
    pub outcome: BatchOutcome,
    pub error: Option<String>,
}

/// The result of one pass over one account.
#[derive(Debug, Default)]
pub struct AccountReport {
    pub account: String,
    pub outcome: BatchOutcome,
    /// Message bodies downloaded over all folders.
    pub fetched: usize,
    pub folders: BTreeMap<String, FolderReport>,
    /// One line: why the account (or some of its folders) failed.
    pub error: Option<String>,
    /// The part of `error` that is not one folder's own: the login, the connection, scoring.
    /// A pass with only folder errors still synced the other folders.
    pub account_error: Option<String>,
}

/// One pass over every account and folder. Failures of one account do not stop the others.
pub async fn sync_once(
    settings: &Settings,
    store: &mut Store,
    now: DateTime<Utc>,
) -> Vec<AccountReport> {
    let shared = Arc::new(settings.clone());
    let mut reports = Vec::new();
    for account in &settings.accounts {
        let report = sync_account(&shared, account, store, now, &BTreeSet::new()).await;
        match &report.error {
            None => {
                info!(account = %account.name, fetched = report.fetched, stored = report.outcome.stored,
                duplicates = report.outcome.duplicates, failed = report.outcome.failed, "account synced")
            }
            Some(e) => warn!(account = %account.name, "account sync failed: {e}"),
        }
        reports.push(report);
    }
    reports
}

/// One pass over one account's folders on its own connection (for the daemon, which calls it
/// on every wake-up). Logs in, syncs every folder and the Sent folder, logs out.
/// Folders in `skip` (failing ones waiting for their retry) are left out.
pub async fn sync_account_pass(
    settings: &Arc<Settings>,
    account: &Account,
    store: &mut Store,
    now: DateTime<Utc>,
    skip: &BTreeSet<String>,
) -> AccountReport {
    sync_account(settings, account, store, now, skip).await
}

async fn sync_account(
    settings: &Arc<Settings>,
    account: &Account,
    store: &mut Store,
    now: DateTime<Utc>,
    skip: &BTreeSet<String>,
) -> AccountReport {
    let mut report = AccountReport {
        account: account.name.clone(),
        ..Default::default()
    };
    let timeout = settings.sync.timeout;
    let mut session = match ImapSession::connect(account, timeout).await {
        Ok(s) => s,
        Err(e) => {
            // The session's errors already name the account.
            let e = describe(&e);
            report.error = Some(e.clone());
            report.account_error = Some(e);
            return report;
        }
    };
    debug!(account = %account.name, "logged in to {}:{}", account.host, account.port);

    // Errors of the account as a whole, and of single folders (which never stop the others).
    let mut errors: Vec<String> = Vec::new();
    let mut folder_errors: Vec<String> = Vec::new();
    let mut folders: Vec<String> = Vec::new();
    for f in &account.folders {
        if !folders.contains(f) {
            folders.push(f.clone());
        }
    }
    let sent = match &account.sent_folder {
        Some(s) => Some(s.clone()),
        None => match session.find_sent_folder().await {
            Ok(Some(s)) => Some(s),
            Ok(None) => {
                warn!(account = %account.name, "no folder is marked \\Sent and sent_folder is not set; our replies are not synced");
                None
            }
            Err(e) => {
                errors.push(format!("finding the Sent folder: {}", describe(&e)));
                None
            }
        },
    };
    if let Some(s) = &sent
        && !folders.contains(s)
    {
        folders.push(s.clone());
    }

    folders.retain(|f| !skip.contains(f));
    let mut session = Some(session);
    let mut pending = folders.len();
    for folder in &folders {
        let Some(s) = session.take().filter(|s| !s.is_broken()) else {
            break;
        };
        pending -= 1;
        let mut fr = FolderReport::default();
        let (back, result) = sync_folder(settings, account, s, store, folder, now, &mut fr).await;
        session = back;
        let err = result.err().map(|e| describe(&e));
        if let Err(e) = store.record_folder_result(&account.name, folder, now, err.as_deref()) {
            warn!(account = %account.name, folder = %folder, "cannot record the folder's sync result: {e:#}");
        }
        match &err {
            None => {
                info!(account = %account.name, folder = %folder, fetched = fr.fetched, stored = fr.outcome.stored,
                duplicates = fr.outcome.duplicates, failed = fr.outcome.failed, "folder synced")
            }
            Some(e) if session.as_ref().is_some_and(|s| !s.is_broken()) => {
                warn!(account = %account.name, folder = %folder, "folder sync failed: {e}");
                folder_errors.push(format!("folder {folder}: {e}"));
            }
            // The connection broke: not this folder's fault, the account reconnects.
            Some(e) => {
                warn!(account = %account.name, folder = %folder, "folder sync failed: {e}");
                errors.push(format!("folder {folder}: {e}"));
            }
        }
        fr.error = err;
        report.fetched += fr.fetched;
        report.outcome += fr.outcome;
        report.folders.insert(folder.clone(), fr);
    }
    if pending > 0 {
        errors.push(format!(
            "{pending} folder(s) not synced: the connection was lost"
        ));
    }
    if let Some(s) = session.as_mut().filter(|s| !s.is_broken()) {
        read_training_folders(settings, account, s, store, &mut errors).await;
    }
    // Our own quotes in Sent teach the vocabulary, before scoring sees the extractions.
    if let Err(e) = store.refresh_vocabulary(settings, now) {
        warn!(account = %account.name, "vocabulary refresh failed: {e:#}");
    }
    // What was committed gets scored, even when a folder failed; then the keywords.
    if let Err(e) = store.refresh_leads(settings, now) {
        warn!(account = %account.name, "scoring failed: {e:#}");
        errors.push(format!("scoring: {e:#}"));
    }
    // Once a day every lead is rescored: classes also move by decay alone, and the class
    // keywords below are written from the stored classes.
    match store.rescore_all_if_older(TimeDelta::hours(24), settings, now) {
        Ok(true) => debug!(account = %account.name, "daily rescore of every lead done"),
        Ok(false) => {}
        Err(e) => warn!(account = %account.name, "daily rescore failed: {e:#}"),
    }
    if settings.feedback.read_keywords {
        match apply_keywords(settings, account, store, now) {
            Ok(n) if n > 0 => {
                info!(account = %account.name, leads = n, "corrections from keywords applied")
            }
            Ok(_) => {}
            Err(e) => {
                warn!(account = %account.name, "applying keyword corrections failed: {e:#}");
                errors.push(format!("applying keyword corrections: {e:#}"));
            }
        }
    }
    if !settings.feedback.folders.is_empty() {
        let r = store
            .apply_folder_tags(account, settings, now)
            .and_then(|touched| {
                if !touched.is_empty() {
                    store.rescore_leads(&touched, settings, now)?;
                }
                Ok(touched.len())
            });
        match r {
            Ok(n) if n > 0 => {
                info!(account = %account.name, leads = n, "corrections from training folders applied")
            }
            Ok(_) => {}
            Err(e) => {
                warn!(account = %account.name, "applying training-folder corrections failed: {e:#}");
                errors.push(format!("applying training-folder corrections: {e:#}"));
            }
        }
    }
    // Replies to the digest found by scoring: applied now (confirmations are sent by the caller),
    // so their corrections get class keywords in this pass.
    if let Err(e) = crate::confirm::apply_digest_replies(settings, store, now) {
        warn!(account = %account.name, "applying replies to the digest failed: {e:#}");
        errors.push(format!("replies to the digest: {e:#}"));
    }
    if settings.feedback.write_keywords
        && let Some(s) = session.as_mut().filter(|s| !s.is_broken())
    {
        // The Sent folder holds our own mail: the class goes on the buyers' messages only, in
        // the folders that synced in this pass (a failing one waits for its retry).
        let targets: Vec<String> = account
            .folders
            .iter()
            .filter(|&f| Some(f) != sent.as_ref())
            .filter(|&f| report.folders.get(f).is_some_and(|r| r.error.is_none()))
            .cloned()
            .collect();
        // A failed write is retried on the next pass; the sync itself went fine.
        if let Err(e) = write_class_keywords(settings, account, s, store, &targets).await {
            warn!(account = %account.name, "writing class keywords failed: {}", describe(&e));
        }
    }
    if let Some(s) = session {
        s.logout().await;
    }
    if !errors.is_empty() {
        report.account_error = Some(format!("account {}: {}", account.name, errors.join("; ")));
    }
    errors.extend(folder_errors);
    if !errors.is_empty() {
        report.error = Some(errors.join("; "));
    }
    report
}

/// Reads which messages each training folder (`[feedback.folders]`) holds, read-only. A folder
/// that cannot be opened keeps what was recorded before (nothing is withdrawn for it).
async fn read_training_folders(
    settings: &Settings,
    account: &Account,
    session: &mut ImapSession,
    store: &mut Store,
    errors: &mut Vec<String>,
) {
    let name = account.name.as_str();
    for (folder, label) in &settings.feedback.folders {
        let r: anyhow::Result<usize> = async {
            session.examine(folder).await?;
            let ids: BTreeSet<String> = session.message_ids().await?.into_values().collect();
            store.record_folder_tags(name, folder, &ids)
        }
        .await;
        match r {
            Ok(pending) => {
                debug!(account = name, folder = %folder, label = %label.as_str(), pending, "training folder read")
            }
            Err(e) if session.is_broken() => {
                errors.push(format!("training folder {folder}: {}", describe(&e)));
                return;
            }
            // Most often: not created yet. Nothing is withdrawn for it.
            Err(e) => {
                debug!(account = name, folder = %folder, "training folder not read: {}", describe(&e))
            }
        }
    }
}

/// The hint when a server cannot keep new keywords, once per account and folder.
fn note_no_keywords(settings: &Settings, account: &str, selected: &Selected) {
    static NOTED: Mutex<BTreeSet<(String, String)>> = Mutex::new(BTreeSet::new());
    if selected.permanent_flags.is_empty() || selected.permanent_flags.iter().any(|f| f == "\\*") {
        return;
    }
    let first = NOTED
        .lock()
        .map(|mut n| n.insert((account.to_string(), selected.name.clone())))
        .unwrap_or(false);
    if first {
        let how = if settings.feedback.folders.is_empty() {
            "set up training folders in [feedback.folders] (e.g. hot = \"Leads/Hot\") and have people move or copy messages there"
        } else {
            "the training folders in [feedback.folders] are the way to correct leads here"
        };
        warn!(account, folder = %selected.name, permanent_flags = ?selected.permanent_flags,
            "this server does not keep new keywords here (no \\* in PERMANENTFLAGS): keyword corrections will not stick; {how}");
    }
}

/// One line for an error chain: async-imap repeats an I/O error as its own source, and rustls's
/// words for a vanished peer point at a manual; say what happened instead.
pub fn describe(e: &anyhow::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    let hint = e.downcast_ref::<session::Hint>().map(|h| h.0.as_str());
    for cause in e.chain() {
        if let Some(words) = cause
            .downcast_ref::<async_imap::error::Error>()
            .and_then(session::server_words)
        {
            parts.push(format!("the server said: {words}"));
            continue;
        }
        if matches!(
            cause.downcast_ref::<async_imap::error::Error>(),
            Some(async_imap::error::Error::Io(_))
        ) {
            continue;
        }
        let text = match cause.downcast_ref::<std::io::Error>().map(|io| io.kind()) {
            Some(std::io::ErrorKind::UnexpectedEof) => {
                "the server closed the connection unexpectedly".to_string()
            }
            Some(
                std::io::ErrorKind::ConnectionReset
                | std::io::ErrorKind::ConnectionAborted
                | std::io::ErrorKind::BrokenPipe,
            ) => format!("the server closed the connection unexpectedly ({cause})"),
            Some(std::io::ErrorKind::TimedOut) => {
                "timed out waiting for the server (timeout_secs)".to_string()
            }
            _ => cause.to_string(),
        };
        if parts.last() != Some(&text) {
            parts.push(text);
        }
        if hint.is_some_and(|h| parts.last().is_some_and(|p| p == h)) {
            break;
        }
    }
    parts.join(": ")
}

/// `SINCE` takes a date (no time) in IMAP's `d-Mon-yyyy` form.
fn since_date(now: DateTime<Utc>, days: u32) -> String {
    let day = now
        .checked_sub_signed(TimeDelta::days(i64::from(days)))
        .unwrap_or(DateTime::<Utc>::UNIX_EPOCH);
    day.format("%-d-%b-%Y").to_string()
}

/// One folder: the IMAP side runs as its own task (search, sizes, bodies → parser threads), while
/// this task stores each parsed batch with its mark. Network, parsing and SQLite overlap. The
/// session comes back unless the IMAP task died.
async fn sync_folder(
    settings: &Arc<Settings>,
    account: &Account,
    mut session: ImapSession,
    store: &mut Store,
    folder: &str,
    now: DateTime<Utc>,
    report: &mut FolderReport,
) -> (Option<ImapSession>, anyhow::Result<()>) {
    let name = account.name.as_str();
    let prepared: anyhow::Result<(FetchCtx, u32, Selected)> = async {
        let selected = session.examine(folder).await?;
        if store.set_uidvalidity(name, folder, selected.uidvalidity)? {
            warn!(
                account = name,
                folder,
                uidvalidity = selected.uidvalidity,
                "UIDVALIDITY changed: rescanning the folder (messages already stored are recognised by Message-ID)"
            );
        }
        let mark = store.folder_state(name, folder)?.map_or(0, |s| s.last_uid);
        let ctx = FetchCtx {
            settings: Arc::clone(settings),
            account: account.name.clone(),
            backfill_days: account.backfill_days,
            folder: folder.to_string(),
            uidvalidity: selected.uidvalidity,
            uid_next: selected.uid_next,
            now,
        };
        Ok((ctx, mark, selected))
    }
    .await;
    let (ctx, mark, selected) = match prepared {
        Ok(p) => p,
        Err(e) => return (Some(session), Err(e)),
    };
    let (jobs, mut results) = match ParsePool::start(Arc::clone(settings)) {
        Ok(p) => p,
        Err(e) => return (Some(session), Err(e)),
    };
    // One finished batch may wait while the previous one is stored: bounded memory.
    let (ends_tx, mut ends_rx) = mpsc::channel::<BatchEnd>(1);
    let fetcher = tokio::spawn(async move {
        let r = fetch_folder(&ctx, &mut session, &jobs, &ends_tx, mark).await;
        (session, r)
    });

    let mut store_error = None;
    while let Some(end) = ends_rx.recv().await {
        let t0 = std::time::Instant::now();
        let stored: anyhow::Result<()> = async {
            let items: Vec<Item> = results
                .collect(end.id, end.submitted)
                .await?
                .into_iter()
                .map(|(_, i)| i)
                .collect();
            let t1 = std::time::Instant::now();
            let outcome = store
                .store_batch(Some((name, folder, end.mark)), &items, now)
                .with_context(|| format!("storing UIDs {}..{}", end.uids.0, end.uids.1))?;
            log_items(name, folder, &items);
            debug!(
                account = name,
                folder,
                batch = end.id,
                messages = items.len(),
                mark = end.mark,
                parse_wait_ms = (t1 - t0).as_millis() as u64,
                store_ms = t1.elapsed().as_millis() as u64,
                "batch stored"
            );
            report.fetched += items.len();
            report.outcome += outcome;
            Ok(())
        }
        .await;
        if let Err(e) = stored {
            store_error = Some(e);
            break;
        }
    }
    // If storing failed, the IMAP task's next hand-over fails and it stops.
    drop(ends_rx);
    let (session, fetched) = match fetcher.await {
        Ok((s, r)) => (Some(s), r),
        Err(e) => (None, Err(anyhow!("the IMAP task failed: {e}"))),
    };
    let result = match (store_error, fetched) {
        (Some(e), _) => Err(e),
        (None, r) => r,
    };
    match (session, result) {
        (Some(mut s), Ok(())) if settings.feedback.read_keywords => {
            let r = read_keywords(settings, name, &mut s, store, &selected)
                .await
                .context("reading keywords");
            (Some(s), r)
        }
        other => other,
    }
}

/// At most this many UIDs per FETCH or STORE command, so command lines stay short.
const UIDS_PER_COMMAND: usize = 1000;

/// The flags pass over the folder selected (read-only) as `selected`: reads the keywords of the
/// stored messages that may have changed and records them with the HIGHESTMODSEQ of that
/// EXAMINE (changes made during the pass are read again next time, never missed).
async fn read_keywords(
    settings: &Settings,
    account: &str,
    session: &mut ImapSession,
    store: &mut Store,
    selected: &Selected,
) -> anyhow::Result<()> {
    note_no_keywords(settings, account, selected);
    let folder = selected.name.as_str();
    let mark = store
        .folder_state(account, folder)?
        .map_or(0, |s| s.last_uid);
    let modseq = selected.highest_modseq;
    let last = store.folder_modseq(account, folder)?;
    let mut flags: BTreeMap<u32, Vec<String>> = BTreeMap::new();
    // UIDs fetched without a modifier: whatever of them did not come back is gone.
    let mut complete: Option<(u32, u32)> = None;
    if mark > 0 {
        match (modseq, last) {
            (Some(now), Some(since)) if now == since => {}
            (Some(now), Some(since)) if now > since => {
                flags = session
                    .uid_fetch_flags(&format!("1:{mark}"), Some(since))
                    .await?;
            }
            // First time, or the server's mod-sequences went back (a restored mailbox): all.
            (Some(_), _) => {
                flags = session.uid_fetch_flags(&format!("1:{mark}"), None).await?;
                complete = Some((1, mark));
            }
            (None, _) => {
                let window = settings.feedback.flags_window.max(1);
                let low = mark.saturating_sub(window - 1).max(1);
                flags = session
                    .uid_fetch_flags(&format!("{low}:{mark}"), None)
                    .await?;
                complete = Some((low, mark));
            }
        }
    }
    // Stored messages whose keywords were never read (new mail, a new UIDVALIDITY, a pass that
    // was cut short, messages outside the window).
    let unread: Vec<u32> = store
        .unread_keyword_uids(account, folder, selected.uidvalidity)?
        .into_iter()
        .filter(|u| !flags.contains_key(u))
        .collect();
    let (covered, rest): (Vec<u32>, Vec<u32>) = unread
        .into_iter()
        .partition(|u| complete.is_some_and(|(lo, hi)| (lo..=hi).contains(u)));
    let mut absent = covered;
    for chunk in rest.chunks(UIDS_PER_COMMAND) {
        let got = session
            .uid_fetch_flags(&session::uid_set(chunk), None)
            .await?;
        absent.extend(chunk.iter().filter(|u| !got.contains_key(u)));
        flags.extend(got);
    }
    let pass = FlagsPass {
        account,
        folder,
        uidvalidity: selected.uidvalidity,
        flags: &flags,
        absent: &absent,
        modseq,
    };
    let changed = store.record_keywords(&pass, &settings.feedback)?;
    debug!(
        account,
        folder,
        read = flags.len(),
        gone = absent.len(),
        changed,
        modseq = ?modseq,
        since = ?last,
        "flags pass"
    );
    Ok(())
}

/// Keyword changes on the account's messages → corrections → the touched leads rescored.
/// Returns how many leads were touched.
fn apply_keywords(
    settings: &Settings,
    account: &Account,
    store: &mut Store,
    now: DateTime<Utc>,
) -> anyhow::Result<usize> {
    let touched = store.apply_keyword_corrections(account, settings, now)?;
    if !touched.is_empty() {
        store.rescore_leads(&touched, settings, now)?;
    }
    Ok(touched.len())
}

/// (account, folder, keyword) the server cannot store permanently: warned about once per
/// account and folder, and not tried again while the process runs.
static REFUSED: Mutex<BTreeSet<(String, String, String)>> = Mutex::new(BTreeSet::new());

/// Puts the class keyword of each lead on its inbound messages in `folders` where it differs from
/// what we wrote last: opens such a folder read-write (only then), removes the other class
/// keywords and adds the right one, grouped by keyword, and notes each change once the server
/// said OK. Nothing else on the messages is touched.
async fn write_class_keywords(
    settings: &Settings,
    account: &Account,
    session: &mut ImapSession,
    store: &mut Store,
    folders: &[String],
) -> anyhow::Result<()> {
    let fb = &settings.feedback;
    let name = account.name.as_str();
    let refused = |folder: &str, kw: &str| {
        REFUSED
            .lock()
            .map(|r| {
                r.contains(&(
                    name.to_string(),
                    folder.to_string(),
                    kw.to_ascii_lowercase(),
                ))
            })
            .unwrap_or(false)
    };
    let mut by_folder: BTreeMap<String, BTreeMap<String, Vec<u32>>> = BTreeMap::new();
    let mut uidvalidity: BTreeMap<String, u32> = BTreeMap::new();
    for w in store.class_keyword_writes(name, folders, fb)? {
        if refused(&w.folder, &w.desired) {
            continue;
        }
        uidvalidity.insert(w.folder.clone(), w.uidvalidity);
        by_folder
            .entry(w.folder)
            .or_default()
            .entry(w.desired)
            .or_default()
            .push(w.uid);
    }
    let all: Vec<&str> = fb.class_keywords.values().map(String::as_str).collect();
    for (folder, by_kw) in by_folder {
        let r: anyhow::Result<()> = async {
            let selected = session.select(&folder).await?;
            if Some(&selected.uidvalidity) != uidvalidity.get(&folder) {
                // The next pass's EXAMINE notices the new UIDVALIDITY and rescans.
                debug!(account = name, folder = %folder, "UIDVALIDITY changed: class keywords wait for the rescan");
                return Ok(());
            }
            note_no_keywords(settings, name, &selected);
            for (kw, uids) in by_kw {
                if !selected.can_create_keywords(&kw) {
                    let mut r = REFUSED.lock().map_err(|_| anyhow!("keyword registry poisoned"))?;
                    let first = !r.iter().any(|(a, f, _)| a == name && *f == folder);
                    r.insert((name.to_string(), folder.clone(), kw.to_ascii_lowercase()));
                    if first {
                        warn!(account = name, folder = %folder, keyword = %kw,
                            permanent_flags = ?selected.permanent_flags,
                            "the server does not allow new keywords here (no \\* in PERMANENTFLAGS): leadsift's class keyword is not written");
                    }
                    continue;
                }
                let others: Vec<&str> = all
                    .iter()
                    .copied()
                    .filter(|k| !k.eq_ignore_ascii_case(&kw))
                    .collect();
                for chunk in uids.chunks(UIDS_PER_COMMAND) {
                    session.uid_store_keywords(chunk, &[&kw], &others).await?;
                    store.set_lead_keyword(name, &folder, selected.uidvalidity, chunk, &kw)?;
                }
                info!(account = name, folder = %folder, keyword = %kw, messages = uids.len(), "class keyword written");
            }
            Ok(())
        }
        .await;
        if let Err(e) = r {
            let e = e.context(format!("folder {folder}"));
            if session.is_broken() {
                return Err(e);
            }
            // Refused (NO/BAD): the other folders still get theirs; this one is tried next pass.
            warn!(account = name, folder = %folder, "cannot write class keywords: {}", describe(&e));
        }
    }
    Ok(())
}

/// Everything the IMAP task needs, owned.
struct FetchCtx {
    settings: Arc<Settings>,
    account: String,
    backfill_days: u32,
    folder: String,
    uidvalidity: u32,
    uid_next: Option<u32>,
    now: DateTime<Utc>,
}

/// What the IMAP task hands to the store after each batch: how many messages went to the
/// parsers under batch `id`, and the mark that may be committed with them.
struct BatchEnd {
    id: u64,
    submitted: usize,
    mark: u32,
    uids: (u32, u32),
}

async fn fetch_folder(
    ctx: &FetchCtx,
    session: &mut ImapSession,
    jobs: &Submitter,
    ends: &mpsc::Sender<BatchEnd>,
    mut mark: u32,
) -> anyhow::Result<()> {
    let (name, folder) = (ctx.account.as_str(), ctx.folder.as_str());
    let batch_size = ctx.settings.sync.batch_size.max(1) as usize;
    let mut backfill = mark == 0;
    let mut stalls = 0;
    let mut id = 0u64;
    loop {
        let query = if backfill {
            format!("SINCE {}", since_date(ctx.now, ctx.backfill_days))
        } else {
            format!("UID {}:*", mark.saturating_add(1))
        };
        // `UID n:*` also matches the highest UID when it is below n: filter by the mark.
        let candidates: Vec<u32> = session
            .uid_search(&query)
            .await?
            .into_iter()
            .filter(|&u| u > mark)
            .collect();
        if candidates.is_empty() {
            // Every UID below UIDNEXT (as of EXAMINE) was searched and what matched is on its way
            // to the store: the rest is outside the backfill window for good, or was expunged
            // before we saw it (spam deleted at once). The mark moves past them, or every pass
            // (and the daemon's UIDNEXT check) would come back for UIDs that no longer exist.
            if let Some(top) = ctx
                .uid_next
                .map(|n| n.saturating_sub(1))
                .filter(|&t| t > mark)
            {
                hand_over(
                    ends,
                    BatchEnd {
                        id,
                        submitted: 0,
                        mark: top,
                        uids: (top, top),
                    },
                )
                .await?;
                id += 1;
                mark = top;
            }
            if backfill {
                backfill = false;
                continue;
            }
            return Ok(());
        }
        debug!(
            account = name,
            folder,
            count = candidates.len(),
            mark,
            "{query}"
        );
        let before = mark;
        let mut first_missing = None;
        for chunk in candidates.chunks(batch_size) {
            let t0 = std::time::Instant::now();
            let batch = fetch_batch(ctx, session, jobs, id, chunk, mark).await;
            debug!(
                account = name,
                folder,
                batch = id,
                uids = chunk.len(),
                fetch_ms = t0.elapsed().as_millis() as u64,
                "batch fetched"
            );
            let uids = (chunk[0], chunk[chunk.len() - 1]);
            hand_over(
                ends,
                BatchEnd {
                    id,
                    submitted: batch.submitted,
                    mark: batch.mark,
                    uids,
                },
            )
            .await?;
            id += 1;
            mark = mark.max(batch.mark);
            if let Some(e) = batch.error {
                return Err(e);
            }
            if let Some(u) = batch.first_missing {
                // The server ended the answer early: search again from the mark.
                first_missing = Some(u);
                break;
            }
        }
        if mark == before {
            stalls += 1;
            if stalls >= 3 {
                bail!(
                    "the server keeps not returning UID {} (asked 3 times); not skipping it",
                    first_missing.unwrap_or(mark + 1)
                );
            }
        } else {
            stalls = 0;
        }
    }
}

async fn hand_over(ends: &mpsc::Sender<BatchEnd>, end: BatchEnd) -> anyhow::Result<()> {
    ends.send(end).await.map_err(|_| anyhow!("storing stopped"))
}

struct Batch {
    submitted: usize,
    /// The highest UID the folder's mark may move to once this batch is stored.
    mark: u32,
    /// The lowest UID asked for whose absence is not explained by an expunge.
    first_missing: Option<u32>,
    error: Option<anyhow::Error>,
}

/// Sizes, then bodies (whole or partial) of one batch of UIDs, each body queued for parsing as it
/// arrives. What arrived counts even when the connection broke half-way, so it can be kept.
async fn fetch_batch(
    ctx: &FetchCtx,
    session: &mut ImapSession,
    jobs: &Submitter,
    id: u64,
    chunk: &[u32],
    mark: u32,
) -> Batch {
    let mut batch = Batch {
        submitted: 0,
        mark,
        first_missing: None,
        error: None,
    };
    let sizes = match session.uid_sizes(chunk).await {
        Ok(s) => s,
        Err(e) => {
            batch.error = Some(e);
            return batch;
        }
    };
    let max = ctx.settings.sync.max_message_bytes;
    let (small, large): (Vec<u32>, Vec<u32>) = sizes
        .keys()
        .copied()
        .partition(|u| sizes.get(u).is_some_and(|&s| s <= max));

    let mut received: BTreeSet<u32> = BTreeSet::new();
    let mut unconfirmed: BTreeSet<u32> = BTreeSet::new();
    for (uids, partial) in [(small, None), (large, Some(max))] {
        if uids.is_empty() {
            continue;
        }
        if batch.error.is_some() {
            unconfirmed.extend(uids);
            continue;
        }
        let out = session
            .uid_fetch_bodies(&uids, partial, |fetched| {
                if fetched.truncated {
                    info!(account = %ctx.account, folder = %ctx.folder, uid = fetched.uid, size = fetched.size,
                        "message larger than max_message_bytes: fetched its first {max} bytes");
                }
                let job = Job {
                    batch: id,
                    location: Location {
                        account: ctx.account.clone(),
                        folder: ctx.folder.clone(),
                        uidvalidity: ctx.uidvalidity,
                        uid: fetched.uid,
                    },
                    fallback_date: ctx.now.fixed_offset(),
                    fetched,
                };
                jobs.submit(job)
            })
            .await;
        batch.submitted += out.received.len();
        // Servers answer in UID order; then a UID missing below the last one that arrived was
        // expunged. Out of order, nothing missing can be explained that way.
        let ascending = out.received.windows(2).all(|w| w[0] < w[1]);
        let last = out.received.iter().copied().max();
        let got: BTreeSet<u32> = out.received.iter().copied().collect();
        for &u in &uids {
            if !got.contains(&u) && (!ascending || last.is_none_or(|l| u > l)) {
                unconfirmed.insert(u);
            }
        }
        received.extend(got);
        if let Some(e) = out.error {
            batch.error = Some(e);
        }
    }
    batch.first_missing = unconfirmed.first().copied();
    batch.mark = match batch.first_missing {
        Some(limit) => received
            .range(..limit)
            .next_back()
            .copied()
            .unwrap_or(mark)
            .max(mark),
        // Everything asked for is accounted for; UIDs the size fetch did not return are gone.
        None if batch.error.is_none() => chunk.last().copied().unwrap_or(mark).max(mark),
        None => received.last().copied().unwrap_or(mark).max(mark),
    };
    if let Some(u) = batch.first_missing
        && batch.error.is_none()
    {
        warn!(account = %ctx.account, folder = %ctx.folder, uid = u, "the server's answer ended before this UID; fetching it again");
    }
    batch
}

fn log_items(account: &str, folder: &str, items: &[Item]) {
    for item in items {
        match item {
            Item::Message(m) => {
                let uid = m.location.as_ref().map_or(0, |l| l.uid);
                debug!(account, folder, uid, message_id = ?m.parsed.message_id,
                    direction = m.direction.as_str(), truncated = m.parsed.truncated, "message");
            }
            Item::Failure(f) => {
                let uid = f.location.as_ref().map_or(0, |l| l.uid);
                warn!(
                    account,
                    folder, uid, "cannot parse the message: {}", f.reason
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_is_an_imap_date() {
        let now = DateTime::parse_from_rfc3339("2026-03-05T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(since_date(now, 4), "1-Mar-2026");
        assert_eq!(since_date(now, 0), "5-Mar-2026");
        assert!(since_date(now, u32::MAX).ends_with("1970") || since_date(now, u32::MAX).len() > 5);
    }
}
