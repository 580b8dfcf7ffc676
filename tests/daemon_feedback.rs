//! Feedback through the daemon (`leadsift run`) against real servers: a salesperson's IMAP keyword
//! set from another client wakes the daemon's IDLE and becomes a correction, with leadsift's own
//! class keyword following; a reply to the digest delivered through Postfix is applied and
//! confirmed once, and nothing goes out again after a restart.

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
#[path = "digest_support/seed.rs"]
mod seed;

use std::collections::BTreeSet;
use std::process::Command;
use std::time::{Duration, Instant};

use daemon::{DAEMON_CONF, Daemon, count, scored};
use dovecot::Dovecot;
use mail_parser::MessageParser;
use postfix::smtp_deliver;
use run::{AccountConf, Leadsift, class_keyword, correction_labels, digest_reply, inquiry, set};

/// Every wait for an event gets this long: generous, for a loaded 2-core machine. The poll
/// interval (60 s) is well above it, so an event seen in time came from IDLE, not from polling.
const LIMIT: Duration = Duration::from_secs(20);
/// How often a wait looks again.
const POLL: Duration = Duration::from_millis(100);

const LEAD: &str = "buyer.example";
const INQUIRY_ID: &str = "inq-1@buyer.example";
const OWNER: &str = "sales@example.test";
const PERSON: &str = "IMAP user sales@example.test (account sales)";
/// 08:00:01 in Shanghai on the seed day: the digest is due as soon as the daemon starts.
const DIGEST_DUE: &str = "2026-11-20T08:00:01+08:00";
const LATER: &str = "2026-11-20T09:00:00+08:00";

fn corrections(ls: &Leadsift) -> i64 {
    count(ls, "SELECT COUNT(*) FROM corrections")
}

fn lead(ls: &Leadsift, now: Option<&str>) -> serde_json::Value {
    run::lead(&ls.leads_json(now), LEAD).clone()
}

/// The flags of INBOX's UID 1, read with the tests' own IMAP client.
fn flags_of_first(d: &Dovecot) -> BTreeSet<String> {
    d.flags("INBOX").get(&1).cloned().unwrap_or_default()
}

/// The process titles of this Dovecot's IMAP processes (its process group).
fn imap_titles(d: &Dovecot) -> Vec<String> {
    let Some(pgid) = std::fs::read_to_string(d.dir.join("run/master.pid"))
        .ok()
        .and_then(|s| s.trim().parse::<i32>().ok())
    else {
        return Vec::new();
    };
    let out = Command::new("ps")
        .args(["-eo", "pgid=,args="])
        .output()
        .expect("ps");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let (g, args) = l.trim_start().split_once(' ')?;
            (g.parse::<i32>().ok() == Some(pgid) && args.starts_with("dovecot/imap "))
                .then(|| args.to_string())
        })
        .collect()
}

/// `verbose_proctitle`: each IMAP process's title shows its user and the command it runs, so
/// the test can see the daemon's IDLE. A reload (no restart: the ports stay bound) is enough
/// for new processes; waits until one shows it.
fn show_imap_commands(d: &Dovecot) {
    let mut conf = std::fs::read_to_string(&d.conf).expect("dovecot.conf");
    conf.push_str("verbose_proctitle = yes\n");
    std::fs::write(&d.conf, conf).expect("dovecot.conf");
    d.doveadm(&["reload"]);
    let t0 = Instant::now();
    loop {
        let c = d.client();
        let titles = imap_titles(d);
        c.logout();
        if titles.iter().any(|t| t.contains(dovecot::USER)) {
            return;
        }
        assert!(
            t0.elapsed() < LIMIT,
            "verbose_proctitle not in effect: {titles:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// True while some IMAP process of this Dovecot is in IDLE. Only the daemon IDLEs here.
fn dovecot_idling(d: &Dovecot) -> bool {
    imap_titles(d).iter().any(|t| t.contains(" IDLE]"))
}

/// Waits until the daemon has finished a pass after `after` passes and is back in IDLE, so a
/// flag change made now can only reach it through IDLE.
fn wait_idle(d: &Daemon, dc: &Dovecot, after: usize) {
    d.wait_until("daemon back in IDLE", LIMIT, POLL, || {
        d.passes() > after && dovecot_idling(dc)
    });
}

#[test]
fn keyword_set_by_another_client_wakes_the_daemon_and_its_class_keyword_follows() {
    let dc = Dovecot::start();
    show_imap_commands(&dc);
    let mut c = dc.client();
    c.append("INBOX", "", &inquiry(1));
    c.logout();
    let ls = Leadsift::new(&[AccountConf::implicit(&dc)], DAEMON_CONF);
    let d = Daemon::start(&ls, &[]);
    d.wait_until("the inquiry scored", LIMIT, POLL, || {
        scored(&ls, INQUIRY_ID)
    });
    let before = lead(&ls, None);
    assert_eq!(before["manual"], false, "{before}");
    let auto = before["class"].as_str().expect("class").to_string();
    assert_ne!(auto, "hot", "lead-hot must change the class: {before}");
    d.wait_until("the automatic class keyword", LIMIT, POLL, || {
        flags_of_first(&dc) == set(&[class_keyword(&auto)])
    });
    wait_idle(&d, &dc, 0);

    // Another client tags the message: the FETCH FLAGS update wakes the daemon's IDLE.
    let passes = d.passes();
    let t0 = chrono::Utc::now() - chrono::TimeDelta::seconds(2);
    dc.imaplib_store(INQUIRY_ID, "+FLAGS", "lead-hot");
    d.wait_until("the keyword became a correction", LIMIT, POLL, || {
        corrections(&ls) == 1
    });
    let hot = lead(&ls, None);
    assert_eq!(hot["class"], "hot", "{hot}");
    assert_eq!(hot["manual"], true, "{hot}");
    assert_eq!(hot["auto_class"], auto.as_str(), "{hot}");
    let by = &hot["set_by"];
    assert_eq!(by["source"], "keyword", "{hot}");
    assert_eq!(by["person"], PERSON, "{hot}");
    assert_eq!(by["message_id"], INQUIRY_ID, "{hot}");
    let at: chrono::DateTime<chrono::Utc> = by["at"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no time in {by}"));
    assert!(at >= t0 && at <= chrono::Utc::now(), "{at}");
    let out = ls.run(&["explain", LEAD]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!(
            "by {PERSON} via IMAP keyword, message {INQUIRY_ID}"
        )),
        "{text}"
    );
    // leadsift's own keyword follows; the salesperson's stays.
    d.wait_until("$LeadHot on the message", LIMIT, POLL, || {
        flags_of_first(&dc) == set(&["lead-hot", "$LeadHot"])
    });
    wait_idle(&d, &dc, passes);
    assert_eq!(corrections(&ls), 1, "one tag, one correction");

    // The tag removed: back to the automatic class, and the class keyword with it.
    let passes = d.passes();
    dc.imaplib_store(INQUIRY_ID, "-FLAGS", "lead-hot");
    d.wait_until("the removal became a correction", LIMIT, POLL, || {
        corrections(&ls) == 2
    });
    let back = lead(&ls, None);
    assert_eq!(back["manual"], false, "{back}");
    assert_eq!(back["class"], auto.as_str(), "{back}");
    let labels = correction_labels(&back);
    assert_eq!(labels, ["hot", "auto"], "{back}");
    d.wait_until("the class keyword back to automatic", LIMIT, POLL, || {
        flags_of_first(&dc) == set(&[class_keyword(&auto)])
    });
    wait_idle(&d, &dc, passes);
    assert_eq!(corrections(&ls), 2);

    let (ok, _, log) = d.stop(LIMIT);
    assert!(ok, "exit status on SIGTERM\n{}", run::tail(&log, 30));
    assert!(
        !log.contains(dovecot::PASSWORD),
        "the password is in the log"
    );
}

/// The Message-IDs and In-Reply-Tos of INBOX's messages.
fn inbox_ids(d: &Dovecot) -> Vec<(String, Option<String>)> {
    d.messages("INBOX")
        .iter()
        .map(|raw| {
            let m = MessageParser::default().parse(raw).expect("parses");
            (
                m.message_id().unwrap_or_default().to_string(),
                m.in_reply_to().as_text().map(str::to_string),
            )
        })
        .collect()
}

fn inbox_messages(d: &Dovecot) -> u64 {
    d.mailbox_status("INBOX")
        .get("messages")
        .copied()
        .unwrap_or(0)
}

/// (status, reply_status, attempts, reply_message_id) of the command row of `message_id`.
fn command_row(
    ls: &Leadsift,
    message_id: &str,
) -> Option<(String, Option<String>, i64, Option<String>)> {
    let db =
        rusqlite::Connection::open_with_flags(&ls.db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .ok()?;
    db.query_row(
        "SELECT c.status, c.reply_status, c.attempts, c.reply_message_id
         FROM commands c JOIN messages m ON m.id = c.message WHERE m.message_id = ?1",
        [message_id],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
    )
    .ok()
}

/// How many messages Postfix accepted on the submission port (authenticated: leadsift's).
fn submissions(pf: &postfix::Postfix) -> usize {
    pf.log().matches("sasl_username=").count()
}

#[test]
fn a_digest_reply_reaches_the_running_daemon_and_is_confirmed_once_even_across_a_restart() {
    let dc = Dovecot::start();
    let pf = postfix::Postfix::start(&dc);
    let mut c = dc.client();
    c.append("INBOX", "", &inquiry(1));
    c.logout();
    let ls = Leadsift::new(&[AccountConf::plaintext(&dc)], DAEMON_CONF);
    // The digest goes to the synced mailbox's owner; replies come back there.
    seed::digest_reply_config(&ls, pf.submission_port, &dc.certs.ca, "");

    // The daemon scores the inquiry and sends the digest (due at start).
    let d = Daemon::start(&ls, &["--now", DIGEST_DUE]);
    d.wait_until("the inquiry scored", LIMIT, POLL, || {
        scored(&ls, INQUIRY_ID)
    });
    d.wait_until("the digest sent", LIMIT, POLL, || {
        count(&ls, "SELECT COUNT(*) FROM digests WHERE status = 'sent'") == 1
    });
    let mut digest_id = String::new();
    d.wait_until("the digest delivered", LIMIT, POLL, || {
        match inbox_ids(&dc)
            .into_iter()
            .find(|(id, _)| id.starts_with("digest."))
        {
            Some((id, _)) => {
                digest_id = id;
                true
            }
            None => false,
        }
    });
    let before = lead(&ls, Some(LATER));
    assert_eq!(before["manual"], false, "{before}");
    let auto = before["class"].as_str().expect("class").to_string();
    assert_ne!(auto, "hot", "`hot` must change the class: {before}");

    // The owner answers the digest; the reply arrives through Postfix while the daemon IDLEs.
    let body = format!(
        "hot {LEAD}\n\nOn Fri, 20 Nov 2026 at 08:00, leadsift <leadsift@example.test> wrote:\n> == Drop ==\n> drop {LEAD}\n"
    );
    smtp_deliver(
        pf.smtp_port,
        OWNER,
        &digest_reply(
            "reply-1@example.test",
            &format!("Sales <{OWNER}>"),
            &digest_id,
            "",
            &body,
        ),
    );
    d.wait_until("the reply applied and confirmed", LIMIT, POLL, || {
        command_row(&ls, "reply-1@example.test")
            .is_some_and(|r| r.0 == "applied" && r.1.as_deref() == Some("sent"))
    });
    let hot = lead(&ls, Some(LATER));
    assert_eq!(hot["class"], "hot", "{hot}");
    assert_eq!(hot["manual"], true, "{hot}");
    assert_eq!(hot["auto_class"], auto.as_str(), "{hot}");
    let by = &hot["set_by"];
    assert_eq!(by["source"], "digest_reply", "{hot}");
    assert_eq!(by["person"], OWNER, "{hot}");
    assert_eq!(by["message_id"], "reply-1@example.test", "{hot}");
    assert_eq!(corrections(&ls), 1);

    // The confirmation arrives in the owner's mailbox, and the daemon syncs it (no command).
    let row = command_row(&ls, "reply-1@example.test").expect("command row");
    let confirm_id = row
        .3
        .clone()
        .expect("confirmation Message-ID")
        .trim_matches(['<', '>'])
        .to_string();
    d.wait_until("the confirmation delivered", LIMIT, POLL, || {
        inbox_ids(&dc)
            .iter()
            .any(|(id, irt)| *id == confirm_id && irt.as_deref() == Some("reply-1@example.test"))
    });
    d.wait_until("the confirmation synced", LIMIT, POLL, || {
        count(
            &ls,
            &format!("SELECT COUNT(*) FROM messages WHERE message_id = '{confirm_id}'"),
        ) == 1
    });
    // leadsift's class keyword follows the class set by reply. The pass that applies a reply
    // writes class keywords before it reads the replies, so this is the next pass's work: here
    // the confirmation's arrival in INBOX wakes it.
    d.wait_until("$LeadHot on the inquiry", LIMIT, POLL, || {
        flags_of_first(&dc) == set(&["$LeadHot"])
    });
    let (ok, _, log) = d.stop(LIMIT);
    assert!(ok, "exit status on SIGTERM\n{}", run::tail(&log, 30));

    let inbox = inbox_ids(&dc);
    assert_eq!(
        inbox.len(),
        4,
        "inquiry, digest, reply, confirmation: {inbox:?}"
    );
    assert_eq!(
        inbox
            .iter()
            .filter(|(_, irt)| irt.as_deref() == Some("reply-1@example.test"))
            .count(),
        1,
        "one confirmation: {inbox:?}"
    );
    let sent = submissions(&pf);
    assert_eq!(sent, 2, "the digest and one confirmation:\n{}", pf.log());

    // Restarted (still the digest's morning): nothing is applied, confirmed or sent again.
    let d = Daemon::start(&ls, &["--now", DIGEST_DUE]);
    d.wait_until("a pass after the restart", LIMIT, POLL, || d.passes() > 0);
    // The digest loop checks every 5 s; give it and the mail system time to show a resend.
    std::thread::sleep(Duration::from_secs(8));
    assert_eq!(submissions(&pf), sent, "sent again:\n{}", pf.log());
    assert_eq!(inbox_messages(&dc), 4, "{:?}", inbox_ids(&dc));
    assert_eq!(command_row(&ls, "reply-1@example.test"), Some(row));
    assert_eq!(corrections(&ls), 1);
    assert_eq!(ls.count("SELECT COUNT(*) FROM commands"), 1);
    assert_eq!(ls.count("SELECT COUNT(*) FROM digests"), 1);
    assert_eq!(lead(&ls, Some(LATER))["class"], "hot");
    let (ok, _, log) = d.stop(LIMIT);
    assert!(ok, "exit status on SIGTERM\n{}", run::tail(&log, 30));
    assert!(
        !log.contains(dovecot::PASSWORD),
        "the password is in the log"
    );
}
