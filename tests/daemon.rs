//! `leadsift run` against a real Dovecot (and Postfix for the digest), see tests/support/.

#[path = "support/certs.rs"]
mod certs;
#[path = "support/daemon.rs"]
mod daemon;
#[path = "support/dovecot.rs"]
mod dovecot;
#[path = "support/postfix.rs"]
mod postfix;
#[path = "support/leadsift.rs"]
mod run;

use std::process::Command;
use std::time::Duration;

use daemon::{DAEMON_CONF, Daemon, count, scored};
use dovecot::Dovecot;
use run::{AccountConf, Leadsift, inquiry};

/// How often a wait looks again.
const POLL: Duration = Duration::from_millis(20);
/// How long `Daemon::stop` waits for the exit.
const STOP_LIMIT: Duration = Duration::from_secs(15);

fn idling(d: &Daemon) -> bool {
    d.log().contains("connected") && d.log().contains("IDLE") || d.log().contains("pass done")
}

#[test]
fn append_is_scored_within_5s_and_survives_a_dovecot_crash_then_sigterm_exits_0() {
    let mut dc = Dovecot::start();
    dc.put("INBOX", &inquiry(0), "", std::time::SystemTime::now());
    let ls = Leadsift::new(&[AccountConf::implicit(&dc)], DAEMON_CONF);
    let d = Daemon::start(&ls, &[]);
    d.wait_until("first pass", Duration::from_secs(15), POLL, || {
        scored(&ls, "inq-0@buyer.example")
    });
    d.wait_until("idling", Duration::from_secs(5), POLL, || idling(&d));
    std::thread::sleep(Duration::from_millis(300));

    let mut c = dc.client();
    c.append("INBOX", "", &inquiry(1));
    c.logout();
    let took = d.wait_until("APPEND scored (IDLE)", Duration::from_secs(5), POLL, || {
        scored(&ls, "inq-1@buyer.example")
    });
    eprintln!("APPEND → scored in {took:?}");

    // Crash the server while the daemon idles, start it again.
    dc.kill();
    std::thread::sleep(Duration::from_millis(500));
    dc.restart();
    let mut c = dc.client();
    c.append("INBOX", "", &inquiry(2));
    c.logout();
    d.wait_until(
        "scored after the crash",
        Duration::from_secs(20),
        POLL,
        || scored(&ls, "inq-2@buyer.example"),
    );
    assert_eq!(
        ls.count("SELECT COUNT(*) FROM messages"),
        3,
        "nothing doubled"
    );
    assert_eq!(
        ls.count("SELECT COUNT(*) FROM locations"),
        3,
        "nothing doubled"
    );

    let st = ls.status_json();
    assert_eq!(st["daemon"]["accounts"][0]["account"], "sales", "{st}");

    let (ok, took, log) = d.stop(STOP_LIMIT);
    assert!(ok, "exit status on SIGTERM\n{}", run::tail(&log, 30));
    assert!(took < Duration::from_secs(5), "stopped in {took:?}");
    assert!(
        !log.contains(dovecot::PASSWORD),
        "the password is in the log"
    );
}

#[test]
fn a_wrong_password_stops_only_its_own_account_and_status_names_it() {
    let dc = Dovecot::start();
    let good = AccountConf::plaintext(&dc);
    let bad = AccountConf {
        name: "broken".into(),
        ..AccountConf::plaintext(&dc)
    };
    let ls = Leadsift::new(&[good, bad], DAEMON_CONF);
    // The second account's password file holds a wrong, recognisable password.
    let wrong = "Wr0ng-Pa55-Zebra-42";
    let wrong_file = ls.dir.path().join("wrong-password");
    std::fs::write(&wrong_file, format!("{wrong}\n")).unwrap();
    let text = std::fs::read_to_string(&ls.config).unwrap();
    let (head, tail) = text.split_at(text.find("name = \"broken\"").unwrap());
    let tail = tail.replacen(
        &format!("{}", ls.dir.path().join("imap-password").display()),
        &format!("{}", wrong_file.display()),
        1,
    );
    std::fs::write(&ls.config, format!("{head}{tail}")).unwrap();

    let mut d = Daemon::start(&ls, &[]);
    d.wait_until("first pass", Duration::from_secs(15), POLL, || {
        idling(&d) && d.log().contains("broken")
    });
    let mut c = dc.client();
    c.append("INBOX", "", &inquiry(5));
    c.logout();
    d.wait_until(
        "good account still scores",
        Duration::from_secs(5),
        POLL,
        || scored(&ls, "inq-5@buyer.example"),
    );
    assert!(d.alive());
    let out = ls.run(&["status"]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(text.contains("daemon: broken: backing off until"), "{text}");
    let st = ls.status_json();
    let accounts = st["daemon"]["accounts"].as_array().unwrap().clone();
    let broken = accounts.iter().find(|a| a["account"] == "broken").unwrap();
    assert_eq!(broken["state"], "backing_off", "{st}");
    let sales = accounts.iter().find(|a| a["account"] == "sales").unwrap();
    assert_eq!(sales["state"], "connected", "{st}");
    let (ok, _, log) = d.stop(STOP_LIMIT);
    assert!(ok);
    assert!(!log.contains(wrong), "the wrong password is in the log");
    assert!(
        !log.contains(dovecot::PASSWORD),
        "the password is in the log"
    );
}

#[test]
fn sighup_with_a_broken_pattern_file_keeps_running_on_the_old_rules() {
    let dc = Dovecot::start();
    let ls = Leadsift::new(&[AccountConf::plaintext(&dc)], DAEMON_CONF);
    let pdir = ls.dir.path().join("patterns");
    std::fs::create_dir(&pdir).unwrap();
    let text = std::fs::read_to_string(&ls.config).unwrap();
    std::fs::write(
        &ls.config,
        format!("patterns_dir = \"{}\"\n{text}", pdir.display()),
    )
    .unwrap();
    let mut d = Daemon::start(&ls, &[]);
    d.wait_until("idling", Duration::from_secs(15), POLL, || idling(&d));
    std::fs::write(pdir.join("broken.toml"), "[[rule]\nthis is = not toml").unwrap();
    d.signal("HUP");
    d.wait_until("reload refused", Duration::from_secs(5), POLL, || {
        d.log().contains("keeping the old one")
    });
    assert!(d.alive());
    let mut c = dc.client();
    c.append("INBOX", "", &inquiry(7));
    c.logout();
    d.wait_until("still scoring", Duration::from_secs(5), POLL, || {
        scored(&ls, "inq-7@buyer.example")
    });
    let (ok, _, _) = d.stop(STOP_LIMIT);
    assert!(ok);
}

#[test]
fn digest_due_by_now_goes_out_once_and_not_again_after_a_restart() {
    let dc = Dovecot::start();
    let pf = postfix::Postfix::start(&dc);
    let ls = Leadsift::new(&[], DAEMON_CONF);
    let mut config = std::fs::read_to_string(&ls.config).unwrap();
    config.push_str(&format!(
        "\n[smtp]\nhost = \"localhost\"\nport = {}\ntls = \"starttls\"\nca_file = \"{}\"\nusername = \"{}\"\npassword_file = \"{}\"\nfrom = \"leadsift <leadsift@example.test>\"\n\n[digest]\nto = [\"{}\"]\ntime = \"08:00\"\ntimezone = \"Asia/Shanghai\"\n",
        pf.submission_port,
        dc.certs.ca.display(),
        dovecot::USER,
        ls.dir.path().join("imap-password").display(),
        dovecot::USER,
    ));
    std::fs::write(&ls.config, config).unwrap();
    // 08:00:01 in Shanghai: due right away.
    let now = "2026-11-20T08:00:01+08:00";
    let d = Daemon::start(&ls, &["--now", now]);
    d.wait_until("digest sent", Duration::from_secs(20), POLL, || {
        count(&ls, "SELECT COUNT(*) FROM digests WHERE status = 'sent'") == 1
    });
    d.wait_until("delivered", Duration::from_secs(10), POLL, || {
        dc.mailbox_status("INBOX").get("messages").copied() == Some(1)
    });
    let (ok, _, _) = d.stop(STOP_LIMIT);
    assert!(ok);
    let d = Daemon::start(&ls, &["--now", now]);
    std::thread::sleep(Duration::from_secs(8));
    assert_eq!(ls.count("SELECT COUNT(*) FROM digests"), 1);
    assert_eq!(
        dc.mailbox_status("INBOX").get("messages").copied(),
        Some(1),
        "{}",
        pf.log()
    );
    let out = ls.run(&["status"]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("last digest: 2026-11-20 sent"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let (ok, _, _) = d.stop(STOP_LIMIT);
    assert!(ok);
}

#[test]
fn systemd_unit_exposure_is_at_most_2() {
    let unit = concat!(env!("CARGO_MANIFEST_DIR"), "/systemd/leadsift.service");
    let Ok(out) = Command::new("systemd-analyze")
        .args(["security", "--offline=true", unit])
        .output()
    else {
        eprintln!("systemd-analyze not installed: skipped");
        return;
    };
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let line = text
        .lines()
        .find(|l| l.contains("Overall exposure level"))
        .unwrap_or_else(|| {
            panic!(
                "no exposure line:\n{text}\n{}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
    let value: f64 = line
        .split_whitespace()
        .find_map(|w| w.parse().ok())
        .expect("a number");
    assert!(value <= 2.0, "{line}");
}
