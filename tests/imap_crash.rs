//! Crash safety of the IMAP sync against a real Dovecot: leadsift killed with SIGKILL at random
//! points, Dovecot killed or frozen in the middle of a sync.

#[path = "support/certs.rs"]
mod certs;
#[path = "support/dovecot.rs"]
mod dovecot;
#[path = "support/leadsift.rs"]
mod leadsift;

use std::collections::BTreeSet;
use std::process::Child;
use std::time::{Duration, Instant, SystemTime};

use dovecot::Dovecot;
use leadsift::{AccountConf, Leadsift, inquiry, message, reply};
use rand::{Rng, SeedableRng};

const DAY: Duration = Duration::from_secs(86_400);

/// A mailbox big enough that a sync takes a while: `inbound` messages in INBOX, `outbound` replies
/// in Sent, each padded to a few KB like real mail. Most INBOX messages are copies of our own
/// mail (Bcc to self), which skip signal extraction: these tests are about the IMAP side and must
/// not slow down as the extractor grows (in debug builds it costs up to ~1 s per message). Every
/// 50th is a buyer's inquiry, so the inbound path is exercised too.
fn big_mailbox(inbound: usize, outbound: usize) -> (Dovecot, BTreeSet<String>) {
    let d = Dovecot::start();
    let now = SystemTime::now();
    let pad = format!(
        "\r\n{}",
        "Technical specification line, pressure rating PN16, DN50 flanges.\r\n".repeat(40)
    );
    let mut ids = BTreeSet::new();
    for n in 0..inbound {
        let (mut m, id) = if n % 50 == 0 {
            (inquiry(n), format!("inq-{n}@buyer.example"))
        } else {
            (
                message(
                    &format!("copy-{n}@ourco.example"),
                    leadsift::ME,
                    &format!("buyer{n}@buyer.example"),
                    &format!("Quotation {n}"),
                    "Please find our quotation below.",
                ),
                format!("copy-{n}@ourco.example"),
            )
        };
        m.extend_from_slice(pad.as_bytes());
        d.put("INBOX", &m, if n % 3 == 0 { "S" } else { "" }, now - DAY);
        ids.insert(id);
    }
    for n in 0..outbound {
        d.put("Sent", &reply(n), "S", now - DAY);
        ids.insert(format!("reply-{n}@ourco.example"));
    }
    (d, ids)
}

/// The folder's high-water mark as committed so far (0 while the database is not there yet).
fn mark(ls: &Leadsift, folder: &str) -> u32 {
    let Ok(db) =
        rusqlite::Connection::open_with_flags(&ls.db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
    else {
        return 0;
    };
    db.query_row(
        "SELECT last_uid FROM folders WHERE folder = ?1",
        [folder],
        |r| r.get(0),
    )
    .unwrap_or(0)
}

fn wait_exit(child: &mut Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + limit;
    loop {
        if let Ok(Some(s)) = child.try_wait() {
            return Some(s);
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Everything is stored exactly once and the marks are at the top of each folder.
fn assert_complete(
    d: &Dovecot,
    ls: &Leadsift,
    ids: &BTreeSet<String>,
    inbound: usize,
    outbound: usize,
) {
    let stored: BTreeSet<String> = ls.directions().into_keys().collect();
    assert_eq!(stored.len(), ids.len());
    assert_eq!(&stored, ids);
    assert_eq!(
        ls.count("SELECT COUNT(*) FROM messages") as usize,
        ids.len()
    );
    assert_eq!(ls.count("SELECT COUNT(*) FROM failures"), 0);
    assert_eq!(
        ls.count("SELECT COUNT(*) FROM locations WHERE folder = 'INBOX'") as usize,
        inbound
    );
    assert_eq!(
        ls.count("SELECT COUNT(*) FROM locations WHERE folder = 'Sent'") as usize,
        outbound
    );
    let st = ls.status_json();
    assert_eq!(st["messages"].as_u64(), Some(ids.len() as u64), "{st}");
    assert_eq!(st["failed"], 0);
    for (folder, n) in [("INBOX", inbound), ("Sent", outbound)] {
        let f = st["accounts"][0]["folders"]
            .as_array()
            .and_then(|fs| fs.iter().find(|f| f["name"] == folder))
            .unwrap_or_else(|| panic!("{st}"));
        assert_eq!(f["messages"].as_u64(), Some(n as u64), "{st}");
        assert_eq!(
            f["last_uid"].as_u64(),
            Some(d.mailbox_status(folder)["uidnext"] - 1),
            "{st}"
        );
        assert!(f["last_error"].is_null(), "{st}");
    }
}

#[test]
fn sigkill_at_random_points_then_a_complete_run_stores_everything_once() {
    let (inbound, outbound) = (2_000, 300);
    let (d, ids) = big_mailbox(inbound, outbound);
    let ls = Leadsift::new(&[AccountConf::implicit(&d)], "batch_size = 100");
    let seed: u64 = rand::rng().random();
    eprintln!("seed {seed}");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);

    // Kill points: one at a random moment early on (connecting, logging in, first batch), then
    // once the store has passed each of five random UIDs plus a random few milliseconds (so the
    // kill lands anywhere in the next batch: fetching, parsing or committing), then one more.
    let mut targets: Vec<u32> = (0..5)
        .map(|_| rng.random_range(1..inbound as u32))
        .collect();
    targets.sort_unstable();
    let mut plan: Vec<Option<u32>> = vec![None];
    plan.extend(targets.iter().map(|&t| Some(t)));
    plan.push(None);

    let mut killed_mid_sync = 0;
    let mut marks = Vec::new();
    for target in plan {
        let mut child = ls
            .cmd(&["sync", "--once"])
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let mut deadline = match target {
            None => Some(Instant::now() + Duration::from_millis(rng.random_range(0..400))),
            Some(_) => None,
        };
        loop {
            if let Ok(Some(_)) = child.try_wait() {
                break;
            }
            if deadline.is_none()
                && let Some(t) = target
                && mark(&ls, "INBOX") >= t
            {
                deadline = Some(Instant::now() + Duration::from_millis(rng.random_range(0..60)));
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                child.kill().unwrap(); // SIGKILL
                child.wait().unwrap();
                killed_mid_sync += 1;
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        marks.push(mark(&ls, "INBOX"));
    }
    eprintln!("kill targets {targets:?}; INBOX marks after each kill: {marks:?}");
    assert!(
        killed_mid_sync >= 5,
        "only {killed_mid_sync} kills landed mid-sync"
    );
    let inside = marks
        .iter()
        .filter(|&&m| m > 0 && (m as usize) < inbound)
        .count();
    assert!(inside >= 3, "too few kills inside INBOX: {marks:?}");

    ls.sync_ok();
    assert_complete(&d, &ls, &ids, inbound, outbound);
    // And a further pass finds nothing.
    let out = ls.sync_ok();
    assert!(
        out.contains("sales: 0 new, 0 duplicate(s), 0 failed"),
        "{out}"
    );
}

#[test]
fn dovecot_killed_mid_sync_fails_clearly_and_the_next_sync_completes() {
    let (inbound, outbound) = (2_500, 100);
    let (mut d, ids) = big_mailbox(inbound, outbound);
    let ls = Leadsift::new(
        &[AccountConf::implicit(&d)],
        "batch_size = 100\ntimeout_secs = 20",
    );
    // stderr to a file: a pipe nobody reads fills up and blocks the logging child.
    let log = ls.dir.path().join("sync.err");
    let mut child = ls
        .cmd(&["sync", "--once"])
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while mark(&ls, "INBOX") == 0 {
        assert!(Instant::now() < deadline, "no progress");
        assert!(
            child.try_wait().unwrap().is_none(),
            "sync ended before any batch was seen"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    d.kill();
    let t0 = Instant::now();
    let status =
        wait_exit(&mut child, Duration::from_secs(30)).expect("sync hung after Dovecot died");
    let err = std::fs::read_to_string(&log).unwrap();
    eprintln!("exit after {:?}: {status}", t0.elapsed());
    assert!(!status.success(), "{err}");
    let line = err
        .lines()
        .find(|l| l.starts_with("sales: sync failed"))
        .unwrap_or_else(|| panic!("{err}"));
    eprintln!("{line}");
    assert!(
        line.contains("the server closed the connection unexpectedly"),
        "{line}"
    );
    let partial = mark(&ls, "INBOX");
    assert!(
        partial > 0 && (partial as usize) < inbound,
        "mark {partial}"
    );
    let st = ls.status_json();
    assert!(
        st["accounts"][0]["folders"][0]["last_error"].is_string(),
        "the failure is recorded: {st}"
    );

    d.restart();
    ls.sync_ok();
    assert_complete(&d, &ls, &ids, inbound, outbound);
}

#[test]
fn frozen_server_gives_a_timeout_not_a_hang() {
    let (d, ids) = big_mailbox(1_500, 10);
    let ls = Leadsift::new(
        &[AccountConf::implicit(&d)],
        "batch_size = 50\ntimeout_secs = 2",
    );
    // stderr to a file: a pipe nobody reads fills up and blocks the logging child.
    let log = ls.dir.path().join("sync.err");
    let mut child = ls
        .cmd(&["sync", "--once"])
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while mark(&ls, "INBOX") == 0 {
        assert!(Instant::now() < deadline, "no progress");
        std::thread::sleep(Duration::from_millis(1));
    }
    let pgid: i32 = std::fs::read_to_string(d.dir.join("run/master.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    dovecot::kill_group(pgid, "STOP");
    let t0 = Instant::now();
    let status = wait_exit(&mut child, Duration::from_secs(30));
    dovecot::kill_group(pgid, "CONT");
    let status = status.expect("sync hung on a frozen server");
    let err = std::fs::read_to_string(&log).unwrap();
    assert!(!status.success());
    assert!(
        t0.elapsed() < Duration::from_secs(15),
        "took {:?}",
        t0.elapsed()
    );
    let line = err
        .lines()
        .find(|l| l.starts_with("sales: sync failed"))
        .unwrap_or_else(|| panic!("{err}"));
    eprintln!("{line}");
    assert!(
        line.contains("timeout") || line.contains("timed out"),
        "{line}"
    );

    ls.sync_ok();
    assert_complete(&d, &ls, &ids, 1_500, 10);
}

#[test]
fn unreachable_server_fails_with_a_clear_message() {
    // A listener that accepts and never says anything: the greeting times out.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let d = Dovecot::start();
    let mut dead = AccountConf::plaintext(&d);
    dead.name = "dead".into();
    dead.port = port;
    let mut gone = AccountConf::plaintext(&d);
    gone.name = "gone".into();
    gone.port = dovecot::free_port();
    d.put("INBOX", &inquiry(1), "", SystemTime::now() - DAY);
    let good = AccountConf::plaintext(&d);
    let ls = Leadsift::new(&[dead, gone, good], "timeout_secs = 1");
    let t0 = Instant::now();
    let out = ls.run(&["sync", "--once"]);
    // Far below the 60 s default: the 1 s timeout applied (debug start-up alone can take seconds).
    assert!(t0.elapsed() < Duration::from_secs(30), "{:?}", t0.elapsed());
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    let dead_line = err
        .lines()
        .find(|l| l.starts_with("dead: sync failed"))
        .unwrap_or_else(|| panic!("{err}"));
    assert!(
        dead_line.contains("greeting") && dead_line.contains("timed out"),
        "{dead_line}"
    );
    let gone_line = err
        .lines()
        .find(|l| l.starts_with("gone: sync failed"))
        .unwrap_or_else(|| panic!("{err}"));
    assert!(
        gone_line.contains("connecting to") && gone_line.contains("refused"),
        "{gone_line}"
    );
    // The failures did not stop the good account.
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("sales: 1 new"), "{stdout}");
    drop(silent);
}
