//! `leadsift run`: the long-running daemon. One task per account ([`account`]), one for the
//! digest schedule, one for the systemd watchdog, and the signal handling here.
//!
//! The SQLite store has one owner: a `tokio::sync::Mutex<Store>`; a task holds it for one sync
//! pass (or one digest attempt), so writes never interleave. Settings live in a `watch` channel so
//! SIGHUP can swap them; every loop reads the current ones at each wake-up.

pub mod account;
pub mod notify;
pub mod state;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{DateTime, Utc};
use tokio::sync::{Mutex, watch};
use tracing::{error, info, warn};

use crate::config::Settings;
use crate::digest::{self, DigestError};
use crate::store::Store;

/// How long a loop may go without a heartbeat before the watchdog stops pinging. A first sync of
/// a big mailbox holds the store for minutes, so this is generous; systemd then adds WatchdogSec.
const STALE_AFTER: Duration = Duration::from_secs(600);
/// How often the digest schedule is checked.
const DIGEST_CHECK: Duration = Duration::from_secs(5);
/// SIGTERM: the loops get this long to say DONE/LOGOUT before we exit anyway.
const STOP_GRACE: Duration = Duration::from_secs(4);

/// The daemon's clock: the real one, or `--now` advancing at the real rate from the start.
#[derive(Debug, Clone)]
pub struct Clock {
    base: Option<DateTime<Utc>>,
    started: Instant,
}

impl Clock {
    pub fn new(base: Option<DateTime<Utc>>) -> Clock {
        Clock {
            base,
            started: Instant::now(),
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        match self.base {
            Some(b) => chrono::TimeDelta::from_std(self.started.elapsed())
                .ok()
                .and_then(|d| b.checked_add_signed(d))
                .unwrap_or(b),
            None => Utc::now(),
        }
    }
}

/// What every task shares.
pub struct Shared {
    pub store: Mutex<Store>,
    pub settings: watch::Receiver<Arc<Settings>>,
    pub shutdown: watch::Receiver<bool>,
    pub clock: Clock,
    heartbeats: std::sync::Mutex<BTreeMap<String, Instant>>,
}

impl Shared {
    pub fn settings(&self) -> Arc<Settings> {
        Arc::clone(&self.settings.borrow())
    }

    pub fn stopping(&self) -> bool {
        *self.shutdown.borrow()
    }

    /// A loop says it is alive and making progress.
    pub fn beat(&self, who: &str) {
        if let Ok(mut h) = self.heartbeats.lock() {
            h.insert(who.to_string(), Instant::now());
        }
    }

    fn forget(&self, who: &str) {
        if let Ok(mut h) = self.heartbeats.lock() {
            h.remove(who);
        }
    }

    fn all_fresh(&self) -> bool {
        self.heartbeats
            .lock()
            .map(|h| h.values().all(|t| t.elapsed() < STALE_AFTER))
            .unwrap_or(false)
    }

    /// Resolves when shutdown is requested.
    pub async fn stopped(&self) {
        let mut rx = self.shutdown.clone();
        let _ = rx.wait_for(|s| *s).await;
    }

    /// Sleeps `d`, beating every few seconds as `who`; false if shutdown came first.
    pub async fn sleep(&self, who: &str, d: Duration) -> bool {
        let end = tokio::time::Instant::now() + d;
        loop {
            self.beat(who);
            let now = tokio::time::Instant::now();
            if now >= end {
                return !self.stopping();
            }
            let step = (end - now).min(Duration::from_secs(10));
            tokio::select! {
                _ = tokio::time::sleep(step) => {}
                _ = self.stopped() => return false,
            }
        }
    }
}

/// Entry point of `leadsift run`.
pub fn run(config: &Path, now: Option<DateTime<Utc>>) -> anyhow::Result<ExitCode> {
    let settings = Settings::load(config)?;
    let store = Store::open(&settings.storage_path)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(main_loop(config.to_path_buf(), settings, store, now))?;
    // Tasks still blocked (e.g. on a hung server) are not waited for.
    rt.shutdown_timeout(Duration::from_millis(200));
    Ok(ExitCode::SUCCESS)
}

async fn main_loop(
    config: PathBuf,
    settings: Settings,
    store: Store,
    now: Option<DateTime<Utc>>,
) -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("SIGINT handler")?;
    let mut hup = signal(SignalKind::hangup()).context("SIGHUP handler")?;

    let (settings_tx, settings_rx) = watch::channel(Arc::new(settings));
    let (stop_tx, stop_rx) = watch::channel(false);
    let shared = Arc::new(Shared {
        store: Mutex::new(store),
        settings: settings_rx,
        shutdown: stop_rx,
        clock: Clock::new(now),
        heartbeats: std::sync::Mutex::new(BTreeMap::new()),
    });

    let mut tasks: BTreeMap<String, tokio::task::JoinHandle<()>> = BTreeMap::new();
    spawn_accounts(&shared, &mut tasks);
    shared.beat("digest");
    let digest_task = tokio::spawn(digest_loop(Arc::clone(&shared)));
    let watchdog_task = notify::watchdog_interval()
        .map(|every| tokio::spawn(watchdog_loop(Arc::clone(&shared), every)));

    for n in shared.settings().notes() {
        warn!("{n}");
    }
    notify::notify("READY=1");
    info!(
        accounts = shared.settings().accounts.len(),
        "leadsift running"
    );

    loop {
        tokio::select! {
            _ = term.recv() => { info!("SIGTERM: stopping"); break; }
            _ = int.recv() => { info!("SIGINT: stopping"); break; }
            _ = hup.recv() => {
                notify::notify("RELOADING=1");
                let path = config.clone();
                match tokio::task::spawn_blocking(move || Settings::load(&path)).await {
                    Ok(Ok(new)) => {
                        info!(accounts = new.accounts.len(), "SIGHUP: configuration and patterns reloaded");
                        let _ = settings_tx.send(Arc::new(new));
                        spawn_accounts(&shared, &mut tasks);
                    }
                    Ok(Err(e)) => error!("SIGHUP: the new configuration is invalid, keeping the old one: {e}"),
                    Err(e) => error!("SIGHUP: reloading failed, keeping the old configuration: {e}"),
                }
                notify::notify("READY=1");
            }
        }
    }

    notify::notify("STOPPING=1");
    let _ = stop_tx.send(true);
    let deadline = tokio::time::Instant::now() + STOP_GRACE;
    for (name, t) in tasks {
        if tokio::time::timeout_at(deadline, t).await.is_err() {
            warn!(account = %name, "did not stop in time");
        }
    }
    let _ = tokio::time::timeout_at(deadline, digest_task).await;
    if let Some(w) = watchdog_task {
        w.abort();
    }
    // Whatever still holds the store is abandoned; SQLite's transactions keep the file consistent.
    info!("stopped");
    Ok(())
}

/// Starts a task for every configured account that has none running. A task whose account
/// disappeared from the configuration ends by itself.
fn spawn_accounts(shared: &Arc<Shared>, tasks: &mut BTreeMap<String, tokio::task::JoinHandle<()>>) {
    tasks.retain(|_, t| !t.is_finished());
    for a in &shared.settings().accounts {
        if tasks.contains_key(&a.name) {
            continue;
        }
        let who = format!("account:{}", a.name);
        shared.beat(&who);
        let sh = Arc::clone(shared);
        let name = a.name.clone();
        tasks.insert(
            a.name.clone(),
            tokio::spawn(async move {
                account::run(&sh, &name).await;
                sh.forget(&who);
            }),
        );
    }
}

/// Pings the systemd watchdog at half its interval, but only while every loop beats.
async fn watchdog_loop(shared: Arc<Shared>, every: Duration) {
    let mut warned = false;
    loop {
        tokio::time::sleep(every / 2).await;
        if shared.all_fresh() {
            notify::notify("WATCHDOG=1");
            warned = false;
        } else if !warned {
            warn!(
                "a loop has made no progress for {} s: not pinging the watchdog",
                STALE_AFTER.as_secs()
            );
            warned = true;
        }
    }
}

/// The morning digest: checked every few seconds; sent when due; SMTP failures retried after
/// `schedule::next_retry`. The digest module records it, so it never goes out twice a day.
async fn digest_loop(shared: Arc<Shared>) {
    let mut attempts: u32 = 0;
    let mut retry_at: Option<Instant> = None;
    loop {
        if !shared.sleep("digest", DIGEST_CHECK).await {
            return;
        }
        if retry_at.is_some_and(|t| Instant::now() < t) {
            continue;
        }
        let settings = shared.settings();
        if settings.digest.is_none() || settings.smtp.is_none() {
            continue;
        }
        let now = shared.clock.now();
        let mut store = shared.store.lock().await;
        match digest::due(&store, &settings, now) {
            Ok(true) => {}
            Ok(false) => {
                attempts = 0;
                retry_at = None;
                continue;
            }
            Err(e) => {
                warn!("cannot tell whether the digest is due: {e:#}");
                continue;
            }
        }
        if settings.feedback.learning == crate::config::Learning::Auto {
            auto_learn(&mut store, &settings, now);
        }
        let results = match digest::send_today(&settings, &mut store, now, false).await {
            Ok(results) => results,
            Err(e) => vec![Err(e)],
        };
        let mut failed = false;
        for result in results {
            match result {
                Ok(outcome) => info!("{}", digest::describe(&outcome)),
                Err(e) => {
                    failed = true;
                    let wait = crate::digest::schedule::next_retry(attempts + 1);
                    match &e {
                        DigestError::Smtp { .. } | DigestError::Busy { .. } => {
                            warn!(
                                attempt = attempts + 1,
                                retry_in_secs = wait.as_secs(),
                                "digest not sent: {e}"
                            )
                        }
                        _ => error!(
                            attempt = attempts + 1,
                            retry_in_secs = wait.as_secs(),
                            "digest failed: {e}"
                        ),
                    }
                }
            }
        }
        // Recipients already served are not sent again by the retry (the ledger says so).
        if failed {
            attempts += 1;
            retry_at = Some(Instant::now() + crate::digest::schedule::next_retry(attempts));
        } else {
            attempts = 0;
            retry_at = None;
        }
    }
}

/// `[feedback] learning = "auto"`: before the morning digest, at most once a day, store what
/// `learn --apply` would (logged weight by weight), so the digest is scored with it.
fn auto_learn(store: &mut Store, settings: &Settings, now: DateTime<Utc>) {
    use crate::store::feedback::LearnOutcome;
    let last = match store.learned() {
        Ok(l) => l.and_then(|l| l.applied_at),
        Err(e) => {
            warn!("learning: cannot read the learned weights: {e:#}");
            return;
        }
    };
    if last.is_some_and(|t| now - t < chrono::TimeDelta::hours(20)) {
        return;
    }
    match store.learn_apply(settings, now) {
        Ok(LearnOutcome::Applied {
            set_id,
            rules,
            dimensions,
            rescored,
        }) => info!(
            set_id,
            rules = rules.len(),
            dimensions = dimensions.len(),
            rescored,
            "learning: new weights stored and applied (`leadsift explain` shows them)"
        ),
        Ok(LearnOutcome::NothingToChange) => {
            info!("learning: the weights in force fit the corrections")
        }
        Ok(LearnOutcome::NotEnough { hot, dropped, min }) => info!(
            hot,
            dropped, "learning: not enough corrections yet ({min} hot and {min} dropped needed)"
        ),
        Err(e) => warn!("learning failed: {e:#}"),
    }
}
