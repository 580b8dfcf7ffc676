//! `leadsift run` as a child process of a test: started with its stderr in a log file under the
//! run's temp dir, stopped with SIGTERM (killed on drop), and waited on by polling. Needs the
//! harness in support/leadsift.rs included as `mod run`.
#![allow(dead_code)]

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::run::{Leadsift, tail};

/// The `[sync]` lines of a daemon test: polling (60 s) far slower than any wait of a test, so
/// what a test sees in time came through IDLE.
pub const DAEMON_CONF: &str =
    "timeout_secs = 10\n\n[daemon]\npoll_interval_secs = 60\nidle_renew_secs = 240\n";

pub struct Daemon {
    child: Child,
    log: std::path::PathBuf,
}

impl Daemon {
    /// `leadsift [extra…] run`.
    pub fn start(ls: &Leadsift, extra: &[&str]) -> Daemon {
        let log = ls.dir.path().join(format!(
            "daemon-{}.log",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .expect("clock")
                .as_nanos()
        ));
        let f = std::fs::File::create(&log).expect("daemon log");
        let mut args = extra.to_vec();
        args.push("run");
        let child = ls
            .cmd(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::from(f))
            .spawn()
            .expect("spawn leadsift run");
        Daemon { child, log }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// How many sync passes the daemon has finished.
    pub fn passes(&self) -> usize {
        self.log().matches("pass done").count()
    }

    pub fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args([&format!("-{sig}"), &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(ok.success());
    }

    pub fn alive(&mut self) -> bool {
        self.child.try_wait().expect("try_wait").is_none()
    }

    /// SIGTERM and wait, killing it after `limit`; returns (exit success, how long it took, log).
    pub fn stop(mut self, limit: Duration) -> (bool, Duration, String) {
        let t0 = Instant::now();
        self.signal("TERM");
        loop {
            if let Some(st) = self.child.try_wait().expect("try_wait") {
                return (st.success(), t0.elapsed(), self.log());
            }
            if t0.elapsed() > limit {
                let _ = self.child.kill();
                return (false, t0.elapsed(), self.log());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Polls `f` every `every` until it holds; panics with the end of the log after `limit`.
    /// Returns how long it took.
    pub fn wait_until(
        &self,
        what: &str,
        limit: Duration,
        every: Duration,
        mut f: impl FnMut() -> bool,
    ) -> Duration {
        let t0 = Instant::now();
        while !f() {
            assert!(
                t0.elapsed() < limit,
                "{what}: not within {limit:?}\n{}",
                tail(&self.log(), 60)
            );
            std::thread::sleep(every);
        }
        t0.elapsed()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A count, or -1 while the database (or the table) does not exist yet.
pub fn count(ls: &Leadsift, sql: &str) -> i64 {
    rusqlite::Connection::open_with_flags(&ls.db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .and_then(|db| db.query_row(sql, [], |r| r.get(0)))
        .unwrap_or(-1)
}

/// True once the message with `message_id` counts for a lead.
pub fn scored(ls: &Leadsift, message_id: &str) -> bool {
    count(
        ls,
        &format!(
            "SELECT COUNT(*) FROM message_leads ml JOIN messages m ON m.id = ml.message WHERE m.message_id = '{message_id}'"
        ),
    ) > 0
}
