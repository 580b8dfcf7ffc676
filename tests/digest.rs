//! The digest against real servers: Postfix submission (STARTTLS + AUTH through Dovecot's SASL)
//! delivers over LMTP into the recipient's INBOX, which the test reads back over IMAP. Also the
//! exactly-once rules across a mail server outage, `--print`, and the schedule on a real store.

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

use std::net::TcpStream;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use leadsift::config::Settings;
use leadsift::store::Store;
use mail_parser::{MessageParser, MimeHeaders};
use postfix::wait_for_messages;
use run::{show, text};

/// A leadsift config with `[smtp]` through the Postfix submission port and `[digest]` to the
/// Dovecot user.
fn leadsift_with_smtp(d: &dovecot::Dovecot, submission_port: u16) -> (run::Leadsift, Settings) {
    let ls = run::Leadsift::new(&[], "");
    let mut config = std::fs::read_to_string(&ls.config).expect("config");
    config.push_str(&seed::smtp_digest_config(
        submission_port,
        &d.certs.ca,
        &ls.dir.path().join("imap-password"),
    ));
    std::fs::write(&ls.config, config).expect("config");
    let settings = Settings::load(&ls.config).expect("config loads");
    (ls, settings)
}

fn postfix_start(pf: &postfix::Postfix) {
    let out = std::process::Command::new("postfix")
        .arg("-c")
        .arg(&pf.conf_dir)
        .arg("start")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("postfix start");
    assert!(out.status.success(), "postfix start: {}", show(&out));
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", pf.submission_port)).is_err() {
        assert!(Instant::now() < deadline, "Postfix did not come back");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// (day, status, attempts, Message-ID, token) of each recorded digest.
type DigestRow = (String, String, i64, Option<String>, Option<String>);

fn digest_rows(ls: &run::Leadsift) -> Vec<DigestRow> {
    ls.rows(
        "SELECT day, status, attempts, message_id, token FROM digests ORDER BY id",
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
    )
}

#[test]
fn digest_goes_out_exactly_once_across_an_outage() {
    let d = dovecot::Dovecot::start();
    let pf = postfix::Postfix::start(&d);
    let (ls, settings) = leadsift_with_smtp(&d, pf.submission_port);
    seed::store(&settings, &seed::three_leads());

    // Postfix down: a clear failure, recorded but not as sent, nothing delivered.
    pf.stop();
    let out = ls.run(&["--now", seed::NOW, "digest", "--send"]);
    assert!(!out.status.success(), "{}", show(&out));
    let err = text(&out.stderr);
    assert!(
        err.contains("sending the digest for 2026-11-20")
            && err.contains(&format!("localhost:{}", pf.submission_port))
            && err.contains("will be retried"),
        "{err}"
    );
    assert!(
        !err.contains(dovecot::PASSWORD),
        "the password must not be logged"
    );
    let rows = digest_rows(&ls);
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!((rows[0].1.as_str(), rows[0].2), ("pending", 1));
    let first_id = rows[0]
        .3
        .clone()
        .expect("message id recorded before sending");
    assert_eq!(d.mailbox_status("INBOX").get("messages"), Some(&0));
    let settings_now: DateTime<Utc> = seed::now();
    {
        let store = Store::open(&settings.storage_path).expect("store");
        assert!(
            leadsift::digest::due(&store, &settings, settings_now).expect("due"),
            "an unsent digest is still due"
        );
    }

    // Postfix back: the next --send delivers the recorded digest, once.
    postfix_start(&pf);
    let out = ls.run(&["--now", "2026-11-20T08:05:00+08:00", "digest", "--send"]);
    assert!(out.status.success(), "{}\n{}", show(&out), pf.log());
    let said = text(&out.stdout);
    assert!(
        said.contains("sent the digest for 2026-11-20 to sales@example.test")
            && said.contains(&first_id)
            && said.contains("attempt 2"),
        "{said}"
    );
    wait_for_messages(&d, 1, &pf);
    let rows = digest_rows(&ls);
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].1, "sent");
    {
        let store = Store::open(&settings.storage_path).expect("store");
        assert!(!leadsift::digest::due(&store, &settings, settings_now).expect("due"));
    }

    // A third --send says so and sends nothing.
    let out = ls.run(&["--now", "2026-11-20T09:00:00+08:00", "digest", "--send"]);
    assert!(out.status.success(), "{}", show(&out));
    assert!(
        text(&out.stdout).contains("the digest for 2026-11-20 was already sent"),
        "{}",
        show(&out)
    );
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(d.mailbox_status("INBOX").get("messages"), Some(&1));

    // What arrived: one multipart/alternative message with both parts and the seeded facts.
    let raws = d.messages("INBOX");
    assert_eq!(raws.len(), 1);
    let msg = MessageParser::default()
        .parse(&raws[0])
        .expect("the digest parses");
    let token = rows[0].4.clone().expect("token");
    assert_eq!(token.len(), 32, "128 bits in hex: {token}");
    assert!(token.chars().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(
        msg.message_id(),
        Some(format!("digest.{token}@example.test").as_str())
    );
    assert_eq!(format!("<{}>", msg.message_id().unwrap_or("")), first_id);
    assert_eq!(
        msg.header_raw("Auto-Submitted").map(str::trim),
        Some("auto-generated")
    );
    assert!(msg.date().is_some());
    assert_eq!(
        msg.subject(),
        Some("leadsift: 1 to answer, 0 to follow up — Fri 20 Nov")
    );
    let ct = msg.content_type().expect("content type");
    assert_eq!(
        (ct.ctype(), ct.subtype()),
        ("multipart", Some("alternative"))
    );
    assert_eq!(msg.text_body.len(), 1);
    assert_eq!(msg.html_body.len(), 1);
    let plain = msg.body_text(0).expect("text part").into_owned();
    let html = msg.body_html(0).expect("html part").into_owned();
    assert_ne!(plain, html);
    assert!(html.contains("<!DOCTYPE html>"));
    for part in [&plain, &html] {
        for s in [
            "Answer today",
            "Follow up",
            "New and moved",
            "Nurture",
            "Drop",
            "acme-pumps.example",
            "li.wei@acme-pumps.example",
            "submersible pump",
            "400 pcs",
            "Sun 20 Dec 2026",
            "~USD 24,000",
            // The one quote that matters (the strongest point; ties go by rule).
            "before 20 December",
            "bob.garden@gmail.com",
            "rankrise.example",
            "seller, not a buyer",
        ] {
            assert!(part.contains(s), "{s:?} missing in:\n{part}");
        }
    }
    assert!(plain.contains("USD 60/unit"), "{plain}");

    // --force sends another, with a new Message-ID.
    let out = ls.run(&[
        "--now",
        "2026-11-20T10:00:00+08:00",
        "digest",
        "--send",
        "--force",
    ]);
    assert!(out.status.success(), "{}", show(&out));
    wait_for_messages(&d, 2, &pf);
    let rows = digest_rows(&ls);
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[1].1, "sent");
    assert_ne!(rows[0].3, rows[1].3);
}

#[test]
fn print_sends_and_records_nothing() {
    let ls = run::Leadsift::new(&[], "");
    let settings = Settings::load(&ls.config).expect("config");
    seed::store(&settings, &seed::three_leads());
    let out = ls.run(&["--now", seed::NOW, "digest", "--print"]);
    assert!(out.status.success(), "{}", show(&out));
    let t = text(&out.stdout);
    // No [digest] section: the day is UTC's.
    assert!(
        t.starts_with("Subject: leadsift: 1 to answer, 0 to follow up — Fri 20 Nov"),
        "{t}"
    );
    for s in [
        "== Answer today (1) ==",
        "== Follow up (0) ==",
        "== New and moved ==",
        "== Nurture (1) ==",
        "== Drop ==",
    ] {
        assert!(t.contains(s), "{s} missing:\n{t}");
    }
    let out = ls.run(&["--now", seed::NOW, "digest", "--print", "--html"]);
    assert!(out.status.success(), "{}", show(&out));
    assert!(text(&out.stdout).starts_with("<!DOCTYPE html>"));
    assert_eq!(ls.count("SELECT COUNT(*) FROM digests"), 0);

    // Sending without [smtp]: a clear reason, non-zero, nothing recorded.
    let out = ls.run(&["--now", seed::NOW, "digest", "--send"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("no [smtp] section"),
        "{}",
        show(&out)
    );
    assert_eq!(ls.count("SELECT COUNT(*) FROM digests"), 0);
    // One of --print or --send is required.
    assert!(!ls.run(&["digest"]).status.success());
}

#[test]
fn due_before_and_after_eight_across_a_dst_change() {
    let ls = run::Leadsift::new(&[], "");
    let mut config = std::fs::read_to_string(&ls.config).expect("config");
    config.push_str("\n[digest]\nto = [\"sales@example.test\"]\ntime = \"08:00\"\ntimezone = \"America/New_York\"\n");
    std::fs::write(&ls.config, config).expect("config");
    let settings = Settings::load(&ls.config).expect("config");
    let mut store = Store::open(&settings.storage_path).expect("store");
    let at = |s: &str| {
        DateTime::parse_from_rfc3339(s)
            .expect("time")
            .with_timezone(&Utc)
    };
    let due = |store: &Store, s: &str| leadsift::digest::due(store, &settings, at(s)).expect("due");

    // Saturday 31 October 2026, EDT (UTC-4): 08:00 local is 12:00 UTC.
    assert!(!due(&store, "2026-10-31T11:59:59Z"));
    assert!(due(&store, "2026-10-31T12:00:00Z"));
    // Sent that morning: not due again that day, however late.
    record_sent(&mut store, "2026-10-31");
    assert!(!due(&store, "2026-10-31T12:00:01Z"));
    assert!(!due(&store, "2026-11-01T03:59:59Z"), "23:59:59 EDT");
    // Sunday 1 November: clocks went back at 02:00, now EST (UTC-5): 08:00 local is 13:00 UTC.
    assert!(!due(&store, "2026-11-01T12:59:59Z"), "07:59:59 EST");
    assert!(due(&store, "2026-11-01T13:00:00Z"), "08:00 EST");
    // Missed while the machine was down: still due when it is back the same day…
    assert!(due(&store, "2026-11-02T04:59:59Z"), "23:59:59 EST");
    // …but not once the next local day has begun before its own 08:00.
    assert!(!due(&store, "2026-11-02T05:00:00Z"), "00:00 EST on the 2nd");
    // Spring: on Sunday 14 March 2027 clocks go forward at 02:00 (EDT again): 08:00 is 12:00 UTC.
    record_sent(&mut store, "2027-03-13");
    assert!(!due(&store, "2027-03-14T11:59:59Z"));
    assert!(due(&store, "2027-03-14T12:00:00Z"));
}

fn record_sent(store: &mut Store, day: &str) {
    use leadsift::store::digests::{DigestStatus, NewDigest};
    let id = store
        .insert_digest(
            &NewDigest {
                day: day.parse().expect("day"),
                recipient: "sales@example.test".into(),
                forced: false,
                status: DigestStatus::Pending,
                message_id: Some(format!("<digest.{day}@example.test>")),
                token: Some(day.into()),
                content_hash: String::new(),
                subject: String::new(),
                envelope_from: None,
                envelope_to: vec![],
                message: None,
                snapshot: Default::default(),
            },
            Utc::now(),
        )
        .expect("insert")
        .expect("new day");
    store.mark_digest_sent(id, Utc::now()).expect("mark");
}

#[test]
fn an_empty_day_is_skipped_when_configured_and_not_due_again() {
    let ls = run::Leadsift::new(&[], "");
    let mut config = std::fs::read_to_string(&ls.config).expect("config");
    // A closed port: a skipped day must not even try the server.
    config.push_str(&format!(
        "\n[smtp]\nhost = \"127.0.0.1\"\nport = {}\ntls = \"plaintext\"\nfrom = \"leadsift <leadsift@example.test>\"\n\n[digest]\nto = [\"sales@example.test\"]\ntimezone = \"Asia/Shanghai\"\nskip_if_empty = true\n",
        dovecot::free_port()
    ));
    std::fs::write(&ls.config, config).expect("config");
    let out = ls.run(&["--now", seed::NOW, "digest", "--send"]);
    assert!(out.status.success(), "{}", show(&out));
    assert!(
        text(&out.stdout).contains("nothing to report for 2026-11-20"),
        "{}",
        show(&out)
    );
    let rows = digest_rows(&ls);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].1, "skipped");
    let settings = Settings::load(&ls.config).expect("config");
    let store = Store::open(&settings.storage_path).expect("store");
    assert!(!leadsift::digest::due(&store, &settings, seed::now()).expect("due"));
    // --force still tries to send one (and fails clearly on the closed port).
    let out = ls.run(&["--now", seed::NOW, "digest", "--send", "--force"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("Connection refused"),
        "{}",
        show(&out)
    );
}

const ANN: &str = "ann@example.test";
const BOB: &str = "bob@example.test";
const BOSS: &str = "boss@example.test";

/// Polls (up to 20 s) until `address`'s INBOX holds `n` messages; returns them.
fn wait_for_inbox(
    d: &dovecot::Dovecot,
    address: &str,
    n: usize,
    pf: &postfix::Postfix,
) -> Vec<Vec<u8>> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let msgs = d.inbox_of(address);
        if msgs.len() >= n {
            return msgs;
        }
        assert!(
            Instant::now() < deadline,
            "{address} never got {n} message(s), has {}:\n{}\n{}",
            msgs.len(),
            pf.log(),
            d.log()
        );
        std::thread::sleep(Duration::from_millis(25));
    }
}

fn team_seeds() -> Vec<seed::Seed> {
    let mut seeds = seed::three_leads();
    for (id, from, subject) in [
        (
            "rfq-7@nordic-valves.example",
            "Erik <erik@nordic-valves.example>",
            "RFQ: 400 pcs ball valves DN50",
        ),
        (
            "rfq-9@kaira-trading.example",
            "Kaira <kaira@kaira-trading.example>",
            "RFQ: 400 pcs pumps for Mumbai",
        ),
    ] {
        seeds.push(seed::Seed {
            id: id.into(),
            from: from.into(),
            to: "sales@ourco.example".into(),
            date: "Thu, 19 Nov 2026 09:00:00 +0800".into(),
            subject: subject.into(),
            body: "We need 400 pcs. I am the purchasing manager.".into(),
            signals: seed::strong_inquiry(""),
            deal: Some(24_000.0),
        });
    }
    seeds
}

#[test]
fn a_team_gets_one_digest_each_with_its_own_leads_and_a_reply_counts_only_for_ones_own() {
    let d = dovecot::Dovecot::start();
    for u in [ANN, BOB, BOSS] {
        d.add_user(u);
    }
    let pf = postfix::Postfix::start(&d);
    let ls = run::Leadsift::new(&[run::AccountConf::plaintext(&d)], "");
    // Two salespeople (own leads) and a manager (everyone's); the colleagues are `[me]`.
    let config = std::fs::read_to_string(&ls.config)
        .expect("config")
        .replace(
            "[me]\naddresses = [\"sales@ourco.example\"]\n",
            &format!("[me]\naddresses = [\"sales@ourco.example\", \"{ANN}\", \"{BOB}\"]\ndomains = [\"example.test\"]\n"),
        );
    let smtp = seed::smtp_digest_config(
        pf.submission_port,
        &d.certs.ca,
        &ls.dir.path().join("imap-password"),
    )
    .replace("to = [\"sales@example.test\"]\n", "");
    let team = format!(
        "\n[[digest.recipient]]\naddress = \"Ann <{ANN}>\"\nscope = \"own\"\n\n[[digest.recipient]]\naddress = \"{BOB}\"\n\n[[digest.recipient]]\naddress = \"{BOSS}\"\nscope = \"all\"\n"
    );
    std::fs::write(&ls.config, format!("{config}{smtp}{team}")).expect("config");
    let settings = Settings::load(&ls.config).expect("config loads");

    // Ann wrote to Acme before its buyer's latest message: Acme is hers and waiting on her.
    let seeds = team_seeds();
    let ours = seed::Seed {
        id: "ann-1@example.test".into(),
        from: format!("Ann <{ANN}>"),
        to: "Li Wei <li.wei@acme-pumps.example>".into(),
        date: "Wed, 18 Nov 2026 09:00:00 +0800".into(),
        subject: "Re: RFQ: 400 pcs submersible pump".into(),
        body: "Dear Li, which voltage?".into(),
        signals: vec![],
        deal: None,
    };
    let mut all: Vec<(&seed::Seed, leadsift::store::Direction)> = seeds
        .iter()
        .map(|s| (s, leadsift::store::Direction::In))
        .collect();
    all.push((&ours, leadsift::store::Direction::Out));
    seed::store_directed(&settings, &all);
    // Nordic Valves is given to Bob by hand; Kaira Trading is nobody's yet.
    let out = ls.run(&[
        "--now",
        seed::NOW,
        "tag",
        "nordic-valves.example",
        "owner:bob",
    ]);
    assert!(out.status.success(), "{}", show(&out));
    assert!(
        text(&out.stdout).contains("owner set to bob@example.test"),
        "{}",
        show(&out)
    );
    let out = ls.run(&["--now", seed::NOW, "leads", "--owner", ANN, "--json"]);
    assert!(out.status.success(), "{}", show(&out));
    let anns: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(anns.len(), 1, "{anns:?}");
    assert_eq!(anns[0]["lead"], "acme-pumps.example");
    assert_eq!(anns[0]["owner"], ANN);

    // Each gets exactly one digest, the same morning, however often it is sent.
    for now in [seed::NOW, "2026-11-20T08:30:00+08:00"] {
        let out = ls.run(&["--now", now, "digest", "--send"]);
        assert!(out.status.success(), "{}\n{}", show(&out), pf.log());
    }
    let said = text(
        &ls.run(&["--now", "2026-11-20T09:00:00+08:00", "digest", "--send"])
            .stdout,
    );
    for who in [ANN, BOB, BOSS] {
        assert!(
            said.contains(&format!("was already sent to {who}")),
            "{said}"
        );
    }
    let digest_of = |who: &str| {
        let raws = wait_for_inbox(&d, who, 1, &pf);
        let m = MessageParser::default()
            .parse(&raws[0])
            .expect("digest parses");
        (
            m.message_id().expect("Message-ID").to_string(),
            m.body_text(0).expect("text part").into_owned(),
            m.subject().unwrap_or("").to_string(),
        )
    };
    let (ann_id, ann_text, ann_subject) = digest_of(ANN);
    let (bob_id, bob_text, _) = digest_of(BOB);
    let (_, boss_text, boss_subject) = digest_of(BOSS);
    assert_ne!(ann_id, bob_id);
    // Ann: her lead and the unowned hot one; not Bob's, not the manager-only nurture and drop.
    assert_eq!(
        ann_subject,
        "leadsift: 2 to answer, 0 to follow up — Fri 20 Nov"
    );
    for s in [
        "acme-pumps.example",
        "kaira-trading.example",
        "nobody yet: yours to take",
    ] {
        assert!(ann_text.contains(s), "{s} missing in Ann's:\n{ann_text}");
    }
    for s in [
        "nordic-valves.example",
        "rankrise.example",
        "bob.garden@gmail.com",
    ] {
        assert!(!ann_text.contains(s), "{s} in Ann's:\n{ann_text}");
    }
    assert!(
        bob_text.contains("nordic-valves.example") && bob_text.contains("kaira-trading.example")
    );
    assert!(!bob_text.contains("acme-pumps.example"), "{bob_text}");
    // The manager: everyone's, with the owners.
    assert_eq!(
        boss_subject,
        "leadsift: 3 to answer, 0 to follow up — Fri 20 Nov"
    );
    for s in [
        "acme-pumps.example",
        "nordic-valves.example",
        "kaira-trading.example",
        "rankrise.example",
        "bob.garden@gmail.com",
        &format!("owner: {ANN}"),
        &format!("owner: {BOB}"),
    ] {
        assert!(
            boss_text.contains(s),
            "{s} missing in the manager's:\n{boss_text}"
        );
    }
    std::thread::sleep(Duration::from_millis(500));
    for who in [ANN, BOB, BOSS] {
        assert_eq!(d.inbox_of(who).len(), 1, "{who} got more than one digest");
    }
    let rows: Vec<(String, String)> = ls.rows(
        "SELECT recipient, status FROM digests ORDER BY recipient",
        |r| Ok((r.get(0)?, r.get(1)?)),
    );
    assert_eq!(
        rows,
        [ANN, BOB, BOSS].map(|w| (w.to_string(), "sent".to_string()))
    );

    // Ann answers her digest; the same lines sent as an answer to Bob's digest are refused.
    let body = "hot bob.garden@gmail.com\nowner kaira-trading.example ann\n\nOn Fri, 20 Nov 2026 at 08:00, leadsift <leadsift@example.test> wrote:\n> ...\n";
    smtp_deliver_reply(&pf, "reply-ann@example.test", ANN, &ann_id, body);
    smtp_deliver_reply(
        &pf,
        "reply-ann-to-bobs@example.test",
        ANN,
        &bob_id,
        &body.replace("hot bob", "drop bob"),
    );
    wait_for_messages(&d, 2, &pf);
    let out = ls.run(&["--now", "2026-11-20T09:00:00+08:00", "sync", "--once"]);
    assert!(out.status.success(), "{}\n{}", show(&out), pf.log());
    let rows: Vec<(String, String, Option<String>)> = ls.rows(
        "SELECT m.message_id, c.status, c.reason FROM commands c JOIN messages m ON m.id = c.message ORDER BY m.message_id",
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    );
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(
        (rows[0].0.as_str(), rows[0].1.as_str()),
        ("reply-ann-to-bobs@example.test", "ignored")
    );
    assert!(
        rows[0]
            .2
            .as_deref()
            .unwrap_or("")
            .contains("not the recipient of the digest"),
        "{rows:?}"
    );
    assert_eq!(
        (rows[1].0.as_str(), rows[1].1.as_str()),
        ("reply-ann@example.test", "applied")
    );
    let leads = run::Leadsift::leads_json(&ls, Some("2026-11-20T09:00:00+08:00"));
    let bob = run::lead(&leads, "bob.garden@gmail.com");
    assert_eq!(bob["class"], "hot", "{bob:#}");
    assert_eq!(bob["set_by"]["person"], ANN);
    assert_eq!(run::lead(&leads, "kaira-trading.example")["owner"], ANN);
    // The confirmation reached Ann only.
    wait_for_inbox(&d, ANN, 2, &pf);
    assert_eq!(d.inbox_of(BOB).len(), 1);
}

/// A reply from `from` to the digest `digest_id`, handed to Postfix as the MX would.
fn smtp_deliver_reply(pf: &postfix::Postfix, id: &str, from: &str, digest_id: &str, body: &str) {
    let raw = run::digest_reply(id, from, digest_id, "", body);
    postfix::smtp_deliver(pf.smtp_port, from, &raw);
}
