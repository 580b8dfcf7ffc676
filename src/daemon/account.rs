//! One account's loop: connect a watching session, sync every folder (on its own connection,
//! through [`crate::sync::sync_account_pass`]) and score, then IDLE on the first inbound folder
//! (or poll when the server has no IDLE) and sync again on every wake-up and at least every
//! `poll_interval`. A folder that fails on its own (missing, refused) is left out and retried on
//! its own backoff while the others sync and IDLE goes on. Any other error drops the session and
//! reconnects after a jittered exponential backoff (1 s doubling to 5 min); rejected logins back
//! off to the maximum after `max_login_failures` in a row.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::anyhow;
use rand::Rng;
use tracing::{debug, info, warn};

use super::{Shared, state};
use crate::config::{Account, Settings};
use crate::sync::session::{IdleEnd, ImapSession};
use crate::sync::{describe, sync_account_pass};

const BACKOFF_MIN: Duration = Duration::from_secs(1);
const BACKOFF_MAX: Duration = Duration::from_secs(300);

/// The backoff after `failures` consecutive failures (≥ 1), ±20 % jitter, within the bounds.
pub fn backoff(failures: u32) -> Duration {
    let base = BACKOFF_MIN
        .saturating_mul(1u32 << failures.saturating_sub(1).min(16))
        .min(BACKOFF_MAX);
    let jitter = rand::rng().random_range(0.8..1.2);
    base.mul_f64(jitter).clamp(BACKOFF_MIN, BACKOFF_MAX)
}

/// Was this a rejected login (NO to LOGIN), rather than a network fault?
fn is_auth_rejected(e: &anyhow::Error) -> bool {
    let login = e
        .chain()
        .any(|c| c.to_string().starts_with("logging in as"));
    let no = e.chain().any(|c| {
        matches!(
            c.downcast_ref::<async_imap::error::Error>(),
            Some(async_imap::error::Error::No(_))
        )
    });
    // A refresh token the provider refused (revoked, expired): a person must sign in again.
    let oauth2 = e.chain().any(|c| {
        c.downcast_ref::<crate::oauth2::OAuth2Error>()
            .is_some_and(|o| o.refused)
    });
    (login && no) || oauth2
}

/// Folders whose last sync failed (a missing mailbox, a refused command) while the account is
/// fine: each waits for its own retry, with its own backoff, and the others go on.
#[derive(Debug, Default)]
struct FailingFolders(BTreeMap<String, (u32, Instant)>);

impl FailingFolders {
    /// Folders still waiting for their retry: left out of the pass.
    fn waiting(&self, now: Instant) -> BTreeSet<String> {
        self.0
            .iter()
            .filter(|(_, (_, at))| *at > now)
            .map(|(f, _)| f.clone())
            .collect()
    }

    fn any_due(&self, now: Instant) -> bool {
        self.0.values().any(|(_, at)| *at <= now)
    }

    /// Time until the next retry, if any folder is failing.
    fn next_retry(&self, now: Instant) -> Option<Duration> {
        self.0
            .values()
            .map(|(_, at)| at.saturating_duration_since(now))
            .min()
    }

    fn contains(&self, folder: &str) -> bool {
        self.0.contains_key(folder)
    }

    fn record(&mut self, account: &str, folder: &str, error: Option<&str>) {
        match error {
            None => {
                if self.0.remove(folder).is_some() {
                    info!(account, folder, "the folder syncs again");
                }
            }
            Some(e) => {
                let n = self.0.get(folder).map_or(0, |(n, _)| *n) + 1;
                let wait = backoff(n);
                self.0
                    .insert(folder.to_string(), (n, Instant::now() + wait));
                warn!(
                    account,
                    folder,
                    failures = n,
                    retry_in_ms = wait.as_millis() as u64,
                    "the folder is retried on its own; the account's other folders go on: {e}"
                );
            }
        }
    }
}

enum Failure {
    Login(anyhow::Error),
    Other(anyhow::Error),
}

pub async fn run(shared: &Arc<Shared>, name: &str) {
    let who = format!("account:{name}");
    let mut failures: u32 = 0;
    let mut login_failures: u32 = 0;
    let mut capped_logged = false;
    let mut failing = FailingFolders::default();
    loop {
        if shared.stopping() {
            break;
        }
        let settings = shared.settings();
        let Some(account) = settings.accounts.iter().find(|a| a.name == name).cloned() else {
            info!(account = name, "no longer configured: stopping its loop");
            return;
        };
        // While retrying, the state stays `backing_off` with its error, so `status` names it.
        if failures == 0 {
            record(shared, name, "connecting", None, None, login_failures).await;
        }
        match watch(
            shared,
            &settings,
            &account,
            &who,
            &mut failures,
            &mut login_failures,
            &mut failing,
        )
        .await
        {
            Ok(()) => break,
            Err(f) => {
                failures += 1;
                let (e, wait) = match f {
                    Failure::Login(e) => {
                        login_failures += 1;
                        let max = settings.daemon.max_login_failures;
                        if login_failures >= max {
                            if !capped_logged {
                                warn!(
                                    account = name,
                                    failures = login_failures,
                                    "the server rejected the login {login_failures} times in a row; retrying every {} s until the credentials are fixed: {}",
                                    BACKOFF_MAX.as_secs(),
                                    describe(&e)
                                );
                                capped_logged = true;
                            }
                            (e, BACKOFF_MAX)
                        } else {
                            (e, backoff(failures))
                        }
                    }
                    Failure::Other(e) => (e, backoff(failures)),
                };
                let msg = describe(&e);
                if !capped_logged || login_failures == 0 {
                    warn!(
                        account = name,
                        retry_in_ms = wait.as_millis() as u64,
                        "{msg}"
                    );
                }
                let until = shared.clock.now()
                    + chrono::TimeDelta::from_std(wait).unwrap_or(chrono::TimeDelta::zero());
                record(
                    shared,
                    name,
                    "backing_off",
                    Some(until),
                    Some(&msg),
                    login_failures,
                )
                .await;
                if !shared.sleep(&who, wait).await {
                    break;
                }
            }
        }
    }
    record(shared, name, "stopped", None, None, login_failures).await;
}

async fn record(
    shared: &Shared,
    name: &str,
    st: &str,
    retry_at: Option<chrono::DateTime<chrono::Utc>>,
    error: Option<&str>,
    login_failures: u32,
) {
    let now = shared.clock.now();
    let store = shared.store.lock().await;
    if let Err(e) = state::set_state(&store, name, st, now, retry_at, error, login_failures) {
        warn!(account = name, "cannot record the account state: {e:#}");
    }
}

/// One connected stretch: returns Ok only on shutdown.
async fn watch(
    shared: &Arc<Shared>,
    settings: &Arc<Settings>,
    account: &Account,
    who: &str,
    failures: &mut u32,
    login_failures: &mut u32,
    failing: &mut FailingFolders,
) -> Result<(), Failure> {
    let name = account.name.as_str();
    let timeout = settings.sync.timeout;
    let mut session = ImapSession::connect(account, timeout).await.map_err(|e| {
        if is_auth_rejected(&e) {
            Failure::Login(e)
        } else {
            Failure::Other(e)
        }
    })?;
    *login_failures = 0;
    let can_idle = session.has_capability("IDLE");
    info!(account = name, folder = ?account.folders.first(), idle = can_idle, "connected");
    record(shared, name, "connected", None, None, 0).await;

    let mut last_pass: Option<Instant> = None;
    let mut wake = true;
    loop {
        shared.beat(who);
        if shared.stopping() {
            session.logout().await;
            return Ok(());
        }
        // Settings may have been reloaded: a changed account reconnects with the new ones.
        let current = shared.settings();
        let poll = current.daemon.poll_interval;
        let due = last_pass.is_none_or(|t| t.elapsed() >= poll);
        if wake || due || failing.any_due(Instant::now()) {
            let skip = failing.waiting(Instant::now());
            let results = pass(shared, &current, name, &skip)
                .await
                .map_err(Failure::Other)?;
            for (f, error) in &results {
                failing.record(name, f, error.as_deref());
            }
            *failures = 0;
            last_pass = Some(Instant::now());
            if let Some(folder) = idle_folder(account, failing) {
                // Anything that arrived during the pass? EXAMINE shows UIDNEXT; compare with the mark.
                let sel = match session.examine(&folder).await {
                    Ok(s) => s,
                    // The folder went away since the pass: the next one takes over IDLE.
                    Err(e) if !session.is_broken() => {
                        failing.record(name, &folder, Some(&describe(&e)));
                        wake = true;
                        continue;
                    }
                    Err(e) => return Err(Failure::Other(e)),
                };
                let (mark, seen_modseq) = {
                    let store = shared.store.lock().await;
                    let mark = store
                        .folder_state(name, &folder)
                        .map_err(Failure::Other)?
                        .map_or(0, |s| s.last_uid);
                    let seen = store.folder_modseq(name, &folder).map_err(Failure::Other)?;
                    (mark, seen)
                };
                if sel.uid_next.is_some_and(|n| n.saturating_sub(1) > mark) {
                    debug!(account = name, folder = %folder, mark, "more mail arrived during the pass");
                    wake = true;
                    continue;
                }
                // A flag changed after the pass read this folder's flags: this EXAMINE already
                // shows it, so IDLE will not report it; HIGHESTMODSEQ does. (Our own keyword
                // writes also move it: one more pass, which finds nothing to write, and it settles.)
                if current.feedback.read_keywords
                    && let (Some(now_ms), Some(seen)) = (sel.highest_modseq, seen_modseq)
                    && now_ms > seen
                {
                    debug!(account = name, folder = %folder, seen, now = now_ms, "flags changed during the pass");
                    wake = true;
                    continue;
                }
            }
        }
        if !current.accounts.iter().any(|a| a.name == name) {
            session.logout().await;
            return Ok(());
        }
        let until_poll = poll.saturating_sub(last_pass.map_or(poll, |t| t.elapsed()));
        let mut wait = current.daemon.idle_renew.min(until_poll);
        if let Some(r) = failing.next_retry(Instant::now()) {
            wait = wait.min(r);
        }
        let wait = wait.max(Duration::from_secs(1));
        // The folder EXAMINEd last is the one IDLE watches; with every folder failing, poll.
        let watched = idle_folder(account, failing)
            .filter(|f| session.selected().is_some_and(|s| &s.name == f));
        if can_idle && let Some(folder) = watched {
            let (back, r) = session.idle(wait, shared.stopped()).await;
            let end = r.map_err(Failure::Other)?;
            let Some(s) = back else {
                return Err(Failure::Other(anyhow!("IDLE ended without a session")));
            };
            session = s;
            debug!(account = name, folder = %folder, ?end, "IDLE ended");
            match end {
                IdleEnd::NewData => wake = true,
                IdleEnd::Timeout => wake = false,
                IdleEnd::Stopped => {
                    session.logout().await;
                    return Ok(());
                }
            }
        } else {
            if !shared.sleep(who, wait).await {
                session.logout().await;
                return Ok(());
            }
            wake = false;
        }
    }
}

/// The folder IDLE watches: the first configured one that is not failing.
fn idle_folder(account: &Account, failing: &FailingFolders) -> Option<String> {
    account
        .folders
        .iter()
        .find(|f| !failing.contains(f))
        .cloned()
}

/// One sync pass over the account's folders (but those in `skip`), then scoring, holding the
/// store. Err when the account as a whole failed; else each folder synced and its error.
async fn pass(
    shared: &Arc<Shared>,
    settings: &Arc<Settings>,
    name: &str,
    skip: &BTreeSet<String>,
) -> anyhow::Result<BTreeMap<String, Option<String>>> {
    let Some(account) = settings.accounts.iter().find(|a| a.name == name) else {
        return Ok(BTreeMap::new());
    };
    let now = shared.clock.now();
    let mut store = shared.store.lock().await;
    let t0 = Instant::now();
    // The pass scores what it committed and applies keyword and digest-reply corrections.
    let report = sync_account_pass(settings, account, &mut store, now, skip).await;
    let replies = crate::confirm::process_digest_replies(settings, &mut store, now);
    if let Err(e) = replies.await {
        warn!(account = name, "replies to the digest: {e:#}");
    }
    // The account synced even when one of its folders did not; `status` shows that folder's error.
    if report.account_error.is_none() {
        let _ = state::set_last_sync(&store, name, now);
    }
    drop(store);
    debug!(
        account = name,
        stored = report.outcome.stored,
        ms = t0.elapsed().as_millis() as u64,
        "pass done"
    );
    match report.account_error {
        None => Ok(report
            .folders
            .into_iter()
            .map(|(f, r)| (f, r.error))
            .collect()),
        Some(e) => Err(anyhow!("{e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_caps() {
        assert!(backoff(1) >= BACKOFF_MIN && backoff(1) <= Duration::from_millis(1200));
        let b4 = backoff(4);
        assert!(b4 >= Duration::from_millis(6400) && b4 <= Duration::from_millis(9600));
        assert!(backoff(30) <= BACKOFF_MAX);
        assert!(backoff(30) >= Duration::from_secs(240));
    }
}
