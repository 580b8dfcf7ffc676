//! Feedback through the daemon (`leadsift run`) against real servers: a salesperson's IMAP keyword
//! set from another client wakes the daemon's IDLE and becomes a correction, with leadsift's own
//! class keyword following; a reply to the digest delivered through Postfix is applied and
//! confirmed once, and nothing goes out again after a restart.

#[path = "support/certs.rs"]
mod certs;
#[path = "support/dovecot.rs"]
mod dovecot;
#[path = "support/postfix.rs"]
mod postfix;
#[path = "support/leadsift.rs"]
mod run;
#[path = "digest_support/seed.rs"]
mod seed;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use dovecot::Dovecot;
use mail_parser::MessageParser;
use run::{AccountConf, Leadsift, inquiry};

const DAEMON_CONF: &str =
    "timeout_secs = 10\n\n[daemon]\npoll_interval_secs = 60\nidle_renew_secs = 240\n";

/// Every wait for an event gets this long: generous, for a loaded 2-core machine. The poll
/// interval (60 s) is well above it, so an event seen in time came from IDLE, not from polling.
const LIMIT: Duration = Duration::from_secs(20);

const LEAD: &str = "buyer.example";
const INQUIRY_ID: &str = "inq-1@buyer.example";
const OWNER: &str = "sales@example.test";
const PERSON: &str = "IMAP user sales@example.test (account sales)";
/// 08:00:01 in Shanghai on the seed day: the digest is due as soon as the daemon starts.
const DIGEST_DUE: &str = "2026-11-20T08:00:01+08:00";
const LATER: &str = "2026-11-20T09:00:00+08:00";

struct Daemon {
    child: Child,
    log: std::path::PathBuf,
}

impl Daemon {
    fn start(ls: &Leadsift, extra: &[&str]) -> Daemon {
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

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn passes(&self) -> usize {
        self.log().matches("pass done").count()
    }

    /// SIGTERM and wait (bounded); returns (exit success, log).
    fn stop(mut self) -> (bool, String) {
        let ok = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(ok.success());
        let t0 = Instant::now();
        loop {
            if let Some(st) = self.child.try_wait().expect("try_wait") {
                return (st.success(), self.log());
            }
            if t0.elapsed() > LIMIT {
                let _ = self.child.kill();
                return (false, self.log());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `f` every 100 ms until it holds; panics with the daemon's log after `limit`.
fn wait_until(what: &str, limit: Duration, d: &Daemon, mut f: impl FnMut() -> bool) {
    let t0 = Instant::now();
    while !f() {
        assert!(
            t0.elapsed() < limit,
            "{what}: not within {limit:?}\n{}",
            run::tail(&d.log(), 60)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A count, or -1 while the database (or the table) does not exist yet.
fn count(ls: &Leadsift, sql: &str) -> i64 {
    rusqlite::Connection::open_with_flags(&ls.db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .and_then(|db| db.query_row(sql, [], |r| r.get(0)))
        .unwrap_or(-1)
}

fn scored(ls: &Leadsift, message_id: &str) -> bool {
    count(
        ls,
        &format!(
            "SELECT COUNT(*) FROM message_leads ml JOIN messages m ON m.id = ml.message WHERE m.message_id = '{message_id}'"
        ),
    ) > 0
}

fn corrections(ls: &Leadsift) -> i64 {
    count(ls, "SELECT COUNT(*) FROM corrections")
}

fn leads_json(ls: &Leadsift, now: Option<&str>) -> Vec<serde_json::Value> {
    let mut args = Vec::new();
    if let Some(n) = now {
        args.extend(["--now", n]);
    }
    args.extend(["leads", "--json"]);
    let out = ls.run(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("leads --json is JSON")
}

fn lead(ls: &Leadsift, now: Option<&str>) -> serde_json::Value {
    let leads = leads_json(ls, now);
    leads
        .iter()
        .find(|l| l["lead"] == LEAD)
        .cloned()
        .unwrap_or_else(|| panic!("no lead {LEAD} in {leads:?}"))
}

fn class_keyword(class: &str) -> &'static str {
    match class {
        "hot" => "$LeadHot",
        "nurture" => "$LeadNurture",
        "drop" => "$LeadDrop",
        other => panic!("class {other}"),
    }
}

fn set(flags: &[&str]) -> BTreeSet<String> {
    flags.iter().map(|f| f.to_string()).collect()
}

/// The flags of INBOX's UID 1, read with the tests' own IMAP client.
fn flags_of_first(d: &Dovecot) -> BTreeSet<String> {
    let mut c = d.client();
    let f = c.flags("INBOX");
    c.logout();
    f.get(&1).cloned().unwrap_or_default()
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
    wait_until("daemon back in IDLE", LIMIT, d, || {
        d.passes() > after && dovecot_idling(dc)
    });
}

/// Adds (`+FLAGS`) or removes (`-FLAGS`) `keyword` on the message with `message_id` in INBOX the
/// way a mail client does it: Python's imaplib, SELECT (read-write), UID SEARCH, UID STORE.
fn imaplib_store(d: &Dovecot, message_id: &str, op: &str, keyword: &str) {
    const SCRIPT: &str = r#"
import imaplib, sys
port, user, password, mid, op, kw = sys.argv[1:]
m = imaplib.IMAP4("127.0.0.1", int(port))
m.login(user, password)
typ, _ = m.select("INBOX")
assert typ == "OK", typ
typ, data = m.uid("SEARCH", None, "HEADER", "Message-ID", mid)
uids = data[0].split()
assert typ == "OK" and len(uids) == 1, (typ, data)
typ, data = m.uid("STORE", uids[0], op, "(" + kw + ")")
assert typ == "OK", (typ, data)
m.logout()
"#;
    let out = Command::new("python3")
        .args(["-c", SCRIPT])
        .args([
            &d.imap_port.to_string(),
            dovecot::USER,
            dovecot::PASSWORD,
            message_id,
            op,
            keyword,
        ])
        .output()
        .expect("running python3 (tests/run.sh installs it)");
    assert!(
        out.status.success(),
        "imaplib {op} {keyword}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
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
    wait_until("the inquiry scored", LIMIT, &d, || scored(&ls, INQUIRY_ID));
    let before = lead(&ls, None);
    assert_eq!(before["manual"], false, "{before}");
    let auto = before["class"].as_str().expect("class").to_string();
    assert_ne!(auto, "hot", "lead-hot must change the class: {before}");
    wait_until("the automatic class keyword", LIMIT, &d, || {
        flags_of_first(&dc) == set(&[class_keyword(&auto)])
    });
    wait_idle(&d, &dc, 0);

    // Another client tags the message: the FETCH FLAGS update wakes the daemon's IDLE.
    let passes = d.passes();
    let t0 = chrono::Utc::now() - chrono::TimeDelta::seconds(2);
    imaplib_store(&dc, INQUIRY_ID, "+FLAGS", "lead-hot");
    wait_until("the keyword became a correction", LIMIT, &d, || {
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
    wait_until("$LeadHot on the message", LIMIT, &d, || {
        flags_of_first(&dc) == set(&["lead-hot", "$LeadHot"])
    });
    wait_idle(&d, &dc, passes);
    assert_eq!(corrections(&ls), 1, "one tag, one correction");

    // The tag removed: back to the automatic class, and the class keyword with it.
    let passes = d.passes();
    imaplib_store(&dc, INQUIRY_ID, "-FLAGS", "lead-hot");
    wait_until("the removal became a correction", LIMIT, &d, || {
        corrections(&ls) == 2
    });
    let back = lead(&ls, None);
    assert_eq!(back["manual"], false, "{back}");
    assert_eq!(back["class"], auto.as_str(), "{back}");
    let labels: Vec<&str> = back["corrections"]
        .as_array()
        .expect("corrections")
        .iter()
        .filter_map(|c| c["label"].as_str())
        .collect();
    assert_eq!(labels, ["hot", "auto"], "{back}");
    wait_until("the class keyword back to automatic", LIMIT, &d, || {
        flags_of_first(&dc) == set(&[class_keyword(&auto)])
    });
    wait_idle(&d, &dc, passes);
    assert_eq!(corrections(&ls), 2);

    let (ok, log) = d.stop();
    assert!(ok, "exit status on SIGTERM\n{}", run::tail(&log, 30));
    assert!(
        !log.contains(dovecot::PASSWORD),
        "the password is in the log"
    );
}

/// Every message in INBOX, raw, read over IMAP.
fn fetch_inbox(d: &Dovecot) -> Vec<Vec<u8>> {
    let mut c = d.client();
    c.ok("EXAMINE INBOX");
    let mut out = Vec::new();
    for l in c.ok("UID FETCH 1:* (BODY.PEEK[])") {
        let Some(pos) = l.find("BODY[] {") else {
            continue;
        };
        let rest = &l[pos + "BODY[] {".len()..];
        let (n, rest) = rest.split_once("}\r\n").expect("literal");
        let n: usize = n.parse().expect("literal size");
        out.push(rest.as_bytes()[..n.min(rest.len())].to_vec());
    }
    c.logout();
    out
}

/// The Message-IDs and In-Reply-Tos of INBOX's messages.
fn inbox_ids(d: &Dovecot) -> Vec<(String, Option<String>)> {
    fetch_inbox(d)
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

/// Reads one (possibly multi-line) SMTP reply and checks its code.
fn expect(code: &str, r: &mut BufReader<TcpStream>) {
    loop {
        let mut l = String::new();
        r.read_line(&mut l).expect("read SMTP reply");
        assert!(l.starts_with(code), "expected {code}, got {l:?}");
        if l.as_bytes().get(3) != Some(&b'-') {
            break;
        }
    }
}

/// Hands one message to Postfix's SMTP port (no AUTH: loopback is in mynetworks), envelope to
/// the synced mailbox, as the receiving MX would.
fn smtp_deliver(port: u16, envelope_from: &str, raw: &[u8]) {
    let s = TcpStream::connect(("127.0.0.1", port)).expect("connect to Postfix");
    s.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let mut r = BufReader::new(s.try_clone().expect("clone"));
    let mut w = s;
    expect("220", &mut r);
    for (cmd, code) in [
        ("EHLO client.example.test".to_string(), "250"),
        (format!("MAIL FROM:<{envelope_from}>"), "250"),
        (format!("RCPT TO:<{OWNER}>"), "250"),
        ("DATA".to_string(), "354"),
    ] {
        write!(w, "{cmd}\r\n").expect("write");
        expect(code, &mut r);
    }
    for line in String::from_utf8_lossy(raw).split("\r\n") {
        let dotted = if line.starts_with('.') {
            format!(".{line}")
        } else {
            line.to_string()
        };
        write!(w, "{dotted}\r\n").expect("write");
    }
    write!(w, ".\r\n").expect("write");
    expect("250", &mut r);
    write!(w, "QUIT\r\n").expect("write");
}

fn reply(id: &str, in_reply_to: &str, body: &str) -> Vec<u8> {
    format!(
        "Message-ID: <{id}>\r\nFrom: Sales <{OWNER}>\r\nTo: leadsift <leadsift@example.test>\r\nSubject: Re: leadsift digest\r\nDate: Fri, 20 Nov 2026 08:30:00 +0800\r\nIn-Reply-To: <{in_reply_to}>\r\nReferences: <{in_reply_to}>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{}\r\n",
        body.replace('\n', "\r\n")
    )
    .into_bytes()
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
    let config = std::fs::read_to_string(&ls.config)
        .expect("config")
        .replace("[me]\n", "[me]\ndomains = [\"example.test\"]\n");
    let config = format!(
        "{config}{}",
        seed::smtp_digest_config(
            pf.submission_port,
            &dc.certs.ca,
            &ls.dir.path().join("imap-password"),
        )
    );
    std::fs::write(&ls.config, config).expect("config");

    // The daemon scores the inquiry and sends the digest (due at start).
    let d = Daemon::start(&ls, &["--now", DIGEST_DUE]);
    wait_until("the inquiry scored", LIMIT, &d, || scored(&ls, INQUIRY_ID));
    wait_until("the digest sent", LIMIT, &d, || {
        count(&ls, "SELECT COUNT(*) FROM digests WHERE status = 'sent'") == 1
    });
    let mut digest_id = String::new();
    wait_until("the digest delivered", LIMIT, &d, || {
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
        &reply("reply-1@example.test", &digest_id, &body),
    );
    wait_until("the reply applied and confirmed", LIMIT, &d, || {
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
    wait_until("the confirmation delivered", LIMIT, &d, || {
        inbox_ids(&dc)
            .iter()
            .any(|(id, irt)| *id == confirm_id && irt.as_deref() == Some("reply-1@example.test"))
    });
    wait_until("the confirmation synced", LIMIT, &d, || {
        count(
            &ls,
            &format!("SELECT COUNT(*) FROM messages WHERE message_id = '{confirm_id}'"),
        ) == 1
    });
    // leadsift's class keyword follows the class set by reply. The pass that applies a reply
    // writes class keywords before it reads the replies, so this is the next pass's work: here
    // the confirmation's arrival in INBOX wakes it.
    wait_until("$LeadHot on the inquiry", LIMIT, &d, || {
        flags_of_first(&dc) == set(&["$LeadHot"])
    });
    let (ok, log) = d.stop();
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
    wait_until("a pass after the restart", LIMIT, &d, || d.passes() > 0);
    // The digest loop checks every 5 s; give it and the mail system time to show a resend.
    std::thread::sleep(Duration::from_secs(8));
    assert_eq!(submissions(&pf), sent, "sent again:\n{}", pf.log());
    assert_eq!(inbox_messages(&dc), 4, "{:?}", inbox_ids(&dc));
    assert_eq!(command_row(&ls, "reply-1@example.test"), Some(row));
    assert_eq!(corrections(&ls), 1);
    assert_eq!(ls.count("SELECT COUNT(*) FROM commands"), 1);
    assert_eq!(ls.count("SELECT COUNT(*) FROM digests"), 1);
    assert_eq!(lead(&ls, Some(LATER))["class"], "hot");
    let (ok, log) = d.stop();
    assert!(ok, "exit status on SIGTERM\n{}", run::tail(&log, 30));
    assert!(
        !log.contains(dovecot::PASSWORD),
        "the password is in the log"
    );
}
