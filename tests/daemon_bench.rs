//! Benchmarks for `leadsift run` (ignored by default; run through bench/daemon.sh):
//! APPEND → scored latency over N messages, and idle CPU / RSS with a large database.

#[path = "support/certs.rs"]
mod certs;
#[path = "support/dovecot.rs"]
mod dovecot;
#[path = "support/leadsift.rs"]
mod run;

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use run::{AccountConf, Leadsift, message};

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn spawn(ls: &Leadsift) -> Child {
    ls.cmd(&["run"])
        .env("LEADSIFT_LOG", "leadsift=warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn")
}

fn scored(ls: &Leadsift, id: &str) -> bool {
    let Ok(db) =
        rusqlite::Connection::open_with_flags(&ls.db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
    else {
        return false;
    };
    db.query_row(
        "SELECT COUNT(*) FROM message_leads ml JOIN messages m ON m.id = ml.message WHERE m.message_id = ?1",
        [id],
        |r| r.get::<_, i64>(0),
    )
    .is_ok_and(|n| n > 0)
}

fn inquiry(n: usize) -> Vec<u8> {
    message(
        &format!("bench-{n}@buyer{}.example", n % 50),
        &format!("Buyer {n} <buyer{n}@buyer{}.example>", n % 50),
        run::ME,
        &format!("Inquiry {n}: 500 units of valves"),
        &format!(
            "Hello, we need a quote for 500 units, order #{n}. Delivery to Rotterdam.\r\nRegards"
        ),
    )
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// (utime + stime) clock ticks and VmRSS kB of a process.
fn cpu_rss(pid: u32) -> (u64, u64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = f.get(11).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0)
        + f.get(12).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let rss = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    (ticks, rss)
}

#[test]
#[ignore]
fn bench_append_to_scored_latency() {
    let n = env_usize("BENCH_MESSAGES", 200);
    let dc = dovecot::Dovecot::start();
    let ls = Leadsift::new(&[AccountConf::plaintext(&dc)], "timeout_secs = 10\n");
    let mut child = spawn(&ls);
    let t0 = Instant::now();
    while !ls.db.exists() || t0.elapsed() < Duration::from_secs(2) {
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut c = dc.client();
    let mut lat = Vec::with_capacity(n);
    for i in 0..n {
        let id = format!("bench-{i}@buyer{}.example", i % 50);
        let t = Instant::now();
        c.append("INBOX", "", &inquiry(i));
        while !scored(&ls, &id) {
            assert!(
                t.elapsed() < Duration::from_secs(30),
                "message {i} never scored"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        lat.push(t.elapsed());
    }
    c.logout();
    let _ = child.kill();
    let _ = child.wait();
    lat.sort();
    println!(
        "BENCH append->scored over {n} messages: p50 {:?}  p99 {:?}  max {:?}",
        pct(&lat, 0.5),
        pct(&lat, 0.99),
        lat[lat.len() - 1]
    );
}

#[test]
#[ignore]
fn bench_idle_cpu_and_rss_with_a_large_database() {
    let n = env_usize("BENCH_DB_MESSAGES", 100_000);
    let dc = dovecot::Dovecot::start();
    let ls = Leadsift::new(&[AccountConf::plaintext(&dc)], "timeout_secs = 10\n");
    let mbox = ls.dir.path().join("big.mbox");
    {
        use std::io::Write;
        let mut f = std::io::BufWriter::new(std::fs::File::create(&mbox).unwrap());
        for i in 0..n {
            f.write_all(b"From buyer@example Mon Nov  2 10:00:00 2026\n")
                .unwrap();
            let m = String::from_utf8(inquiry(1_000_000 + i))
                .unwrap()
                .replace("\r\n", "\n");
            f.write_all(m.as_bytes()).unwrap();
            f.write_all(b"\n").unwrap();
        }
    }
    let t = Instant::now();
    let out = ls.run(&["import", mbox.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    println!("BENCH imported {n} messages in {:?}", t.elapsed());
    let mut child = spawn(&ls);
    let pid = child.id();
    std::thread::sleep(Duration::from_secs(10));
    let (c0, _) = cpu_rss(pid);
    let window = Duration::from_secs(env_usize("BENCH_IDLE_SECS", 30) as u64);
    std::thread::sleep(window);
    let (c1, rss) = cpu_rss(pid);
    let _ = child.kill();
    let _ = child.wait();
    let cpu = (c1 - c0) as f64 / 100.0 / window.as_secs_f64() * 100.0;
    println!(
        "BENCH idle with {n} messages in the DB: CPU {cpu:.2} %  RSS {} MB",
        rss / 1024
    );
}
