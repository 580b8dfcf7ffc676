//! Parsing off the network path: messages go to a few worker threads as they arrive, so parsing
//! overlaps the download instead of following it. The job queue is bounded, which bounds memory
//! (and slows the reader down when parsing falls behind).

use std::collections::BTreeMap;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};

use anyhow::anyhow;
use chrono::{DateTime, FixedOffset};
use tokio::sync::mpsc;

use crate::config::Settings;
use crate::ingest::{self, Raw};
use crate::store::{Failure, Item, Location};

use super::session::Fetched;

pub struct Job {
    /// Which batch the message belongs to: results of consecutive batches interleave.
    pub batch: u64,
    pub fetched: Fetched,
    pub location: Location,
    pub fallback_date: DateTime<FixedOffset>,
}

/// The sending half: the IMAP side queues messages here.
pub struct Submitter {
    jobs: mpsc::Sender<Job>,
}

/// The receiving half: the store side takes parsed batches from here.
pub struct Results {
    results: mpsc::UnboundedReceiver<(u64, u32, Item)>,
    /// Results that arrived for batches not asked for yet.
    early: BTreeMap<u64, Vec<(u32, Item)>>,
}

pub struct ParsePool;

impl ParsePool {
    /// Starts the worker threads; they stop when the [`Submitter`] is dropped.
    pub fn start(settings: Arc<Settings>) -> anyhow::Result<(Submitter, Results)> {
        let workers = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .clamp(1, 4);
        let (jobs, rx) = mpsc::channel::<Job>(workers * 2 + 2);
        let rx = Arc::new(Mutex::new(rx));
        let (tx, results) = mpsc::unbounded_channel();
        for i in 0..workers {
            let rx = Arc::clone(&rx);
            let tx = tx.clone();
            let settings = Arc::clone(&settings);
            std::thread::Builder::new()
                .name(format!("leadsift-parse-{i}"))
                .spawn(move || worker(&rx, &tx, &settings))
                .map_err(|e| anyhow!("cannot start a parser thread: {e}"))?;
        }
        Ok((
            Submitter { jobs },
            Results {
                results,
                early: BTreeMap::new(),
            },
        ))
    }
}

impl Submitter {
    /// Queues one message; waits while the queue is full.
    pub async fn submit(&self, job: Job) {
        // Send fails only when every worker is gone; `Results::collect` reports that.
        let _ = self.jobs.send(job).await;
    }
}

impl Results {
    /// The `n` results of `batch`, in UID order.
    pub async fn collect(&mut self, batch: u64, n: usize) -> anyhow::Result<Vec<(u32, Item)>> {
        let mut out = self.early.remove(&batch).unwrap_or_default();
        while out.len() < n {
            match self.results.recv().await {
                Some((b, uid, item)) if b == batch => out.push((uid, item)),
                Some((b, uid, item)) => self.early.entry(b).or_default().push((uid, item)),
                None => return Err(anyhow!("the parser threads stopped")),
            }
        }
        out.sort_by_key(|(uid, _)| *uid);
        Ok(out)
    }
}

fn worker(
    rx: &Mutex<mpsc::Receiver<Job>>,
    tx: &mpsc::UnboundedSender<(u64, u32, Item)>,
    settings: &Settings,
) {
    loop {
        // Dropped before parsing so the other workers can take the next job.
        let job = {
            let mut rx = rx.lock().unwrap_or_else(|p| p.into_inner());
            rx.blocking_recv()
        };
        let Some(job) = job else { return };
        let uid = job.fetched.uid;
        let location = job.location.clone();
        // A parser bug on hostile input must cost one message, not the whole sync.
        let item = std::panic::catch_unwind(AssertUnwindSafe(|| {
            ingest::prepare(
                Raw {
                    bytes: &job.fetched.body,
                    fallback_date: job.fetched.internal_date.unwrap_or(job.fallback_date),
                    truncated: job.fetched.truncated,
                    size: job.fetched.size,
                    location: Some(job.location.clone()),
                    source: None,
                },
                settings,
            )
        }))
        .unwrap_or_else(|_| {
            Item::Failure(Failure {
                key: format!(
                    "imap:{}/{}/{}/{}",
                    location.account, location.folder, location.uidvalidity, location.uid
                ),
                location: Some(location),
                source: None,
                reason: "the parser panicked on this message".into(),
            })
        });
        if tx.send((job.batch, uid, item)).is_err() {
            return;
        }
    }
}
