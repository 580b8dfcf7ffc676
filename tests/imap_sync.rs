//! IMAP sync against a real Dovecot started by each test (see tests/support/).

#[path = "support/certs.rs"]
mod certs;
#[path = "support/dovecot.rs"]
mod dovecot;
#[path = "support/leadsift.rs"]
mod leadsift;

use std::collections::BTreeSet;
use std::time::{Duration, SystemTime};

use dovecot::Dovecot;
use leadsift::{AccountConf, Leadsift, inquiry, message, reply};

const DAY: Duration = Duration::from_secs(86_400);

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// INBOX with `inbound` inquiries, Sent with `outbound` replies, all recent.
fn populated(inbound: usize, outbound: usize) -> Dovecot {
    let d = Dovecot::start();
    let now = SystemTime::now();
    for n in 0..inbound {
        d.put("INBOX", &inquiry(n), "", now - DAY);
    }
    for n in 0..outbound {
        d.put("Sent", &reply(n), "S", now - DAY);
    }
    d
}

fn folder<'a>(status: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    status["accounts"][0]["folders"]
        .as_array()
        .and_then(|f| f.iter().find(|f| f["name"] == name))
        .unwrap_or_else(|| panic!("no folder {name} in {status}"))
}

#[test]
fn implicit_tls_first_sync_stores_inbox_and_sent_with_direction_then_only_new() {
    let d = populated(3, 2);
    let ls = Leadsift::new(&[AccountConf::implicit(&d)], "");
    let out = ls.sync_ok();
    assert!(
        out.contains("sales: 5 new, 0 duplicate(s), 0 failed"),
        "{out}"
    );

    let dirs = ls.directions();
    assert_eq!(dirs.len(), 5, "{dirs:?}");
    for n in 0..3 {
        assert_eq!(dirs[&format!("inq-{n}@buyer.example")], "in");
    }
    for n in 0..2 {
        assert_eq!(dirs[&format!("reply-{n}@ourco.example")], "out");
    }
    let st = ls.status_json();
    assert_eq!(st["messages"], 5);
    assert_eq!(folder(&st, "INBOX")["messages"], 3);
    assert_eq!(folder(&st, "Sent")["messages"], 2);
    assert_eq!(folder(&st, "INBOX")["last_uid"], 3);
    assert_eq!(
        folder(&st, "INBOX")["uidvalidity"].as_u64(),
        d.mailbox_status("INBOX").get("uidvalidity").copied()
    );

    // Nothing new: nothing fetched.
    let out = ls.sync_ok();
    assert!(
        out.contains("sales: 0 new, 0 duplicate(s), 0 failed"),
        "{out}"
    );

    // Two APPENDs: exactly those two are fetched (no duplicates means nothing old was refetched).
    let mut c = d.client();
    c.append("INBOX", "", &inquiry(100));
    c.append("Sent", "\\Seen", &reply(100));
    c.logout();
    let out = ls.sync_ok();
    assert!(
        out.contains("sales: 2 new, 0 duplicate(s), 0 failed"),
        "{out}"
    );
    assert_eq!(ls.count("SELECT COUNT(*) FROM messages"), 7);
    assert_eq!(ls.directions()["inq-100@buyer.example"], "in");
    assert_eq!(ls.directions()["reply-100@ourco.example"], "out");
}

#[test]
fn starttls_login_and_sync() {
    let d = populated(2, 1);
    let ls = Leadsift::new(&[AccountConf::starttls(&d)], "");
    let out = ls.sync_ok();
    assert!(out.contains("sales: 3 new"), "{out}");
    assert!(d.log().contains("TLS"), "the session used TLS");
}

#[test]
fn plaintext_to_loopback_works() {
    let d = populated(1, 0);
    let ls = Leadsift::new(&[AccountConf::plaintext(&d)], "");
    let out = ls.sync_ok();
    assert!(out.contains("sales: 1 new"), "{out}");
}

#[test]
fn server_certificate_from_an_untrusted_ca_is_refused() {
    let d = populated(1, 0);
    let other = tempfile::tempdir().unwrap();
    let wrong = certs::Certs::generate(other.path(), "other");
    for mut a in [AccountConf::implicit(&d), AccountConf::starttls(&d)] {
        a.ca_file = Some(wrong.ca.clone());
        let ls = Leadsift::new(&[a], "");
        let out = ls.run(&["sync", "--once"]);
        assert!(!out.status.success());
        let err = stderr(&out);
        let line = err
            .lines()
            .find(|l| l.starts_with("sales: sync failed"))
            .unwrap_or_else(|| panic!("{err}"));
        assert!(line.contains("certificate"), "{line}");
        assert!(line.contains("UnknownIssuer"), "{line}");
        assert_eq!(ls.count("SELECT COUNT(*) FROM messages"), 0);
    }
    // Without ca_file the system roots do not know the test CA either.
    let mut a = AccountConf::implicit(&d);
    a.ca_file = None;
    let ls = Leadsift::new(&[a], "");
    let out = ls.run(&["sync", "--once"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("certificate"), "{}", stderr(&out));
}

#[test]
fn host_name_is_verified() {
    // A certificate from the trusted CA, but for another name.
    let d = Dovecot::start_with_names("DNS:mail.example.test");
    d.put("INBOX", &inquiry(1), "", SystemTime::now() - DAY);
    for a in [AccountConf::implicit(&d), AccountConf::starttls(&d)] {
        let ls = Leadsift::new(&[a], "");
        let out = ls.run(&["sync", "--once"]);
        assert!(!out.status.success());
        let err = stderr(&out);
        assert!(err.contains("certificate not valid for name"), "{err}");
        assert_eq!(ls.count("SELECT COUNT(*) FROM messages"), 0);
    }
}

#[test]
fn plaintext_to_a_remote_host_is_refused_by_config_validation() {
    let d = Dovecot::start();
    let mut a = AccountConf::plaintext(&d);
    a.host = "imap.example.com".into();
    let ls = Leadsift::new(&[a], "");
    for args in [&["check-config"][..], &["sync", "--once"]] {
        let out = ls.run(args);
        assert!(!out.status.success());
        let err = stderr(&out);
        assert!(
            err.contains("plaintext") && err.contains("loopback"),
            "{err}"
        );
    }
}

#[test]
fn flags_on_the_server_are_unchanged_by_a_sync() {
    let d = Dovecot::start();
    let mut c = d.client();
    let flag_sets = [
        "",
        "\\Seen",
        "\\Flagged \\Answered",
        "$Label1 \\Seen",
        "\\Draft",
        "Junk",
    ];
    for (n, f) in flag_sets.iter().enumerate() {
        c.append("INBOX", f, &inquiry(n));
        c.append("Sent", f, &reply(n));
    }
    let before = (c.flags("INBOX"), c.flags("Sent"));
    c.logout();
    let unseen: Vec<u32> = before
        .0
        .iter()
        .filter(|(_, f)| !f.contains("\\Seen"))
        .map(|(u, _)| *u)
        .collect();
    assert_eq!(unseen.len(), 4);

    // Reading only: leadsift's own class keyword (SELECT + STORE) is switched off here; what it
    // writes when on is tested in tests/feedback_keywords.rs.
    let ls = Leadsift::new(
        &[AccountConf::implicit(&d)],
        "\n[feedback]\nwrite_keywords = false\n",
    );
    let out = ls.sync_ok();
    assert!(out.contains("sales: 12 new"), "{out}");

    let mut c = d.client();
    let after = (c.flags("INBOX"), c.flags("Sent"));
    c.logout();
    assert_eq!(before, after, "flags changed on the server");
    // And \Recent survived too (EXAMINE, not SELECT): a fresh SELECT still reports them recent.
    let mut c = d.client();
    let lines = c.ok("SELECT INBOX");
    assert!(lines.iter().any(|l| l.contains("6 RECENT")), "{lines:?}");
    c.logout();
}

#[test]
fn uidvalidity_change_rescans_without_duplicates() {
    let d = Dovecot::start();
    let mut c = d.client();
    c.ok("CREATE Leads");
    for n in 0..3 {
        c.append("Leads", "", &inquiry(n));
    }
    c.logout();
    let mut a = AccountConf::implicit(&d);
    a.folders = vec!["Leads".into()];
    let ls = Leadsift::new(&[a], "");
    let out = ls.sync_ok();
    assert!(out.contains("sales: 3 new"), "{out}");
    let v1 = folder(&ls.status_json(), "Leads")["uidvalidity"]
        .as_u64()
        .unwrap();

    // Recreate the mailbox: same messages plus one, new UIDVALIDITY, UIDs start again at 1.
    let mut c = d.client();
    c.ok("DELETE Leads");
    // UIDVALIDITY is time-based in Dovecot; make sure it differs.
    std::thread::sleep(Duration::from_millis(1100));
    c.ok("CREATE Leads");
    for n in 0..4 {
        c.append("Leads", "", &inquiry(n));
    }
    c.logout();
    let v2 = d.mailbox_status("Leads")["uidvalidity"];
    assert_ne!(v1, v2);

    let out = ls.sync_ok();
    assert!(
        out.contains("sales: 1 new, 3 duplicate(s), 0 failed"),
        "{out}"
    );
    assert_eq!(ls.count("SELECT COUNT(*) FROM messages"), 4);
    let st = ls.status_json();
    let f = folder(&st, "Leads");
    assert_eq!(f["uidvalidity"].as_u64(), Some(v2));
    assert_eq!(f["last_uid"], 4);
    assert_eq!(f["messages"], 4);
    assert_eq!(st["messages"], 4);
}

#[test]
fn first_sync_reads_only_backfill_days() {
    let d = Dovecot::start();
    let now = SystemTime::now();
    d.put("INBOX", &inquiry(1), "", now - 400 * DAY);
    d.put("INBOX", &inquiry(2), "", now - 10 * DAY);
    d.put("INBOX", &inquiry(3), "", now - 800 * DAY);
    let mut a = AccountConf::implicit(&d);
    a.backfill_days = 30;
    let ls = Leadsift::new(&[a], "");
    let out = ls.sync_ok();
    assert!(out.contains("sales: 1 new"), "{out}");
    assert!(ls.directions().contains_key("inq-2@buyer.example"));
    // The old ones stay out on later passes; new mail still comes in.
    let mut c = d.client();
    c.append("INBOX", "", &inquiry(4));
    c.logout();
    let out = ls.sync_ok();
    assert!(out.contains("sales: 1 new, 0 duplicate(s)"), "{out}");
    let ids: BTreeSet<String> = ls.directions().into_keys().collect();
    assert_eq!(
        ids,
        BTreeSet::from([
            "inq-2@buyer.example".to_string(),
            "inq-4@buyer.example".to_string()
        ])
    );
}

#[test]
fn large_message_is_stored_truncated_without_downloading_it_whole() {
    let d = Dovecot::start();
    let now = SystemTime::now();
    let big_body = "All work and no play makes a very long quotation.\r\n".repeat(40_000); // ≈ 2 MB
    let big = message(
        "big@buyer.example",
        "buyer@buyer.example",
        leadsift::ME,
        "Specs attached",
        &big_body,
    );
    assert!(big.len() > 1_900_000);
    d.put("INBOX", &big, "", now - DAY);
    d.put("INBOX", &inquiry(1), "", now - DAY);
    let ls = Leadsift::new(&[AccountConf::plaintext(&d)], "max_message_bytes = 65536");
    let out = ls.sync_ok();
    assert!(
        out.contains("sales: 2 new, 0 duplicate(s), 0 failed"),
        "{out}"
    );
    let (truncated, size): (i64, i64) = ls
        .db()
        .query_row(
            "SELECT truncated, size FROM messages WHERE message_id = 'big@buyer.example'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(truncated, 1);
    assert_eq!(size as usize, big.len());
    let small: i64 = ls
        .db()
        .query_row(
            "SELECT truncated FROM messages WHERE message_id = 'inq-1@buyer.example'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(small, 0);
    // Dovecot logs the bytes each session sent: far less than the big message.
    let sent: u64 = d
        .log()
        .lines()
        .filter(|l| l.contains("Disconnected") && l.contains("imap("))
        .filter_map(|l| {
            l.split(" out=")
                .nth(1)?
                .split_whitespace()
                .next()?
                .parse::<u64>()
                .ok()
        })
        .sum();
    assert!(sent > 0, "no logout line in the Dovecot log:\n{}", d.log());
    assert!(
        sent < 200_000,
        "leadsift's sessions pulled {sent} bytes for a {} byte message",
        big.len()
    );
}
