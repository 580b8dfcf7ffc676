//! Replies to the digest against real servers: the digest goes out through Postfix submission and
//! arrives in the owner's INBOX over LMTP; replies come back through Postfix's SMTP port into the
//! mailbox leadsift syncs; `sync --once` applies the trusted one, ignores the others, and mails
//! a confirmation that arrives over LMTP too.

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

use std::time::Duration;

use leadsift::config::Settings;
use mail_parser::MessageParser;
use postfix::{smtp_deliver, wait_for_messages};
use run::{digest_reply, show, text};

const OWNER: &str = "sales@example.test";
const AUTHSERV: &str = "mx.example.test";
const LATER: &str = "2026-11-20T09:00:00+08:00";

/// `leads --json` as (lead → document).
fn leads(ls: &run::Leadsift) -> std::collections::BTreeMap<String, serde_json::Value> {
    let out = ls.run(&["--now", LATER, "leads", "--json"]);
    assert!(out.status.success(), "{}", show(&out));
    let doc: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).expect("JSON");
    doc.into_iter()
        .map(|l| (l["lead"].as_str().expect("lead").to_string(), l))
        .collect()
}

/// (Message-ID, status, sender, reason, reply_status) of each command row.
type CommandRow = (
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
);

fn commands(ls: &run::Leadsift) -> Vec<CommandRow> {
    ls.rows(
        "SELECT m.message_id, c.status, c.sender, c.reason, c.reply_status
         FROM commands c JOIN messages m ON m.id = c.message ORDER BY m.message_id",
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
    )
}

const QUOTED_DIGEST: &str = "\n\nOn Fri, 20 Nov 2026 at 08:00, leadsift <leadsift@example.test> wrote:\n> == Drop ==\n> drop acme-pumps.example\n";

#[test]
fn the_owners_reply_is_applied_and_confirmed_and_forgeries_are_ignored() {
    let d = dovecot::Dovecot::start();
    let pf = postfix::Postfix::start(&d);
    let ls = run::Leadsift::new(&[run::AccountConf::plaintext(&d)], "");
    // The salespeople are ours (`[me]`), as in any real setup; the digest reaches the synced
    // mailbox's owner, and replies from the owner must pass the configured server's checks.
    seed::digest_reply_config(
        &ls,
        pf.submission_port,
        &d.certs.ca,
        &format!("\n[feedback]\nauthserv_id = \"{AUTHSERV}\"\n"),
    );
    let settings = Settings::load(&ls.config).expect("config loads");
    seed::store(&settings, &seed::three_leads());
    let before = leads(&ls);
    assert_eq!(before["bob.garden@gmail.com"]["class"], "nurture");
    assert_eq!(before["acme-pumps.example"]["class"], "hot");

    // The digest goes out and arrives; its Message-ID is read back over IMAP.
    let out = ls.run(&["--now", seed::NOW, "digest", "--send"]);
    assert!(out.status.success(), "{}\n{}", show(&out), pf.log());
    wait_for_messages(&d, 1, &pf);
    let raws = d.messages("INBOX");
    let digest = MessageParser::default().parse(&raws[0]).expect("digest");
    let digest_id = digest.message_id().expect("digest Message-ID").to_string();
    assert!(digest_id.starts_with("digest."), "{digest_id}");

    // The owner's reply: commands above the quote, one line leadsift cannot read.
    let good_body = format!(
        "Hi leadsift,\nhot bob.garden@gmail.com\n+budget BOB.GARDEN@gmail.com\nwhy bob.garden@gmail.com\nfrobnicate x\nhot nobody.example\n\n-- \nSales team{QUOTED_DIGEST}"
    );
    let forged_body = format!("hot rankrise.example\ndrop acme-pumps.example{QUOTED_DIGEST}");
    let replies = [
        digest_reply(
            "reply-good@example.test",
            &format!("Sales <{OWNER}>"),
            &digest_id,
            // Other servers' verdicts count for nothing, either way.
            "Authentication-Results: evil.example; dkim=fail\r\n",
            &good_body,
        ),
        // The same text, but not an answer to the digest.
        digest_reply(
            "reply-no-token@example.test",
            &format!("Sales <{OWNER}>"),
            "something-else@example.test",
            "",
            &good_body,
        ),
        // A buyer answering the digest (it was forwarded to him, say): he must not steer it.
        digest_reply(
            "reply-buyer@rankrise.example",
            "Priya <priya@rankrise.example>",
            &digest_id,
            "",
            &forged_body,
        ),
        // The owner's address, but our server's checks failed: forged. The forger's own "pass"
        // under another authserv-id does not help.
        digest_reply(
            "reply-forged@example.test",
            &format!("Sales <{OWNER}>"),
            &digest_id,
            &format!(
                "Authentication-Results: {AUTHSERV}; dkim=fail (bad signature) header.d=example.test; spf=fail smtp.mailfrom=example.test\r\nAuthentication-Results: evil.example; dkim=pass header.d=example.test; spf=pass\r\n"
            ),
            &forged_body,
        ),
    ];
    for r in &replies {
        smtp_deliver(pf.smtp_port, OWNER, r);
    }
    wait_for_messages(&d, 5, &pf);

    let out = ls.run(&["--now", LATER, "sync", "--once"]);
    assert!(out.status.success(), "{}\n{}", show(&out), pf.log());
    let err = text(&out.stderr);

    // The owner's reply is applied, with provenance; the forged ones changed nothing.
    let after = leads(&ls);
    let bob = &after["bob.garden@gmail.com"];
    assert_eq!(bob["class"], "hot", "{bob:#}");
    assert_eq!(bob["manual"], true);
    assert_eq!(bob["auto_class"], "nurture");
    assert_eq!(bob["set_by"]["source"], "digest_reply");
    assert_eq!(bob["set_by"]["person"], OWNER);
    assert_eq!(bob["set_by"]["message_id"], "reply-good@example.test");
    let labels: Vec<&str> = bob["corrections"]
        .as_array()
        .expect("corrections")
        .iter()
        .map(|c| c["label"].as_str().expect("label"))
        .collect();
    assert_eq!(labels, ["hot", "+budget"]);
    for (lead, class) in [("acme-pumps.example", "hot"), ("rankrise.example", "drop")] {
        assert_eq!(after[lead]["class"], class, "{lead}");
        assert_eq!(after[lead]["manual"], false, "{lead}");
    }
    assert_eq!(
        ls.count("SELECT COUNT(*) FROM corrections"),
        2,
        "only the owner's two commands"
    );
    assert_eq!(
        ls.count(
            "SELECT COUNT(*) FROM corrections WHERE message_id <> 'reply-good@example.test' OR source <> 'digest_reply' OR person <> 'sales@example.test'"
        ),
        0
    );
    // Reply mails are never leads: not the buyer's (a command), not ours.
    for l in after.keys() {
        assert!(
            [
                "acme-pumps.example",
                "bob.garden@gmail.com",
                "rankrise.example"
            ]
            .contains(&l.as_str()),
            "unexpected lead {l}: {:#}",
            after[l]
        );
    }
    assert_eq!(
        after["rankrise.example"]["messages"],
        before["rankrise.example"]["messages"]
    );

    // What became of each reply, and the warnings naming the ignored ones.
    let rows = commands(&ls);
    let row = |id: &str| {
        rows.iter()
            .find(|r| r.0 == id)
            .unwrap_or_else(|| panic!("no command row for {id}: {rows:?}"))
    };
    assert_eq!(
        rows.len(),
        3,
        "the reply without the token is no command: {rows:?}"
    );
    let good = row("reply-good@example.test");
    assert_eq!(
        (good.1.as_str(), good.4.as_deref()),
        ("applied", Some("sent"))
    );
    let buyer = row("reply-buyer@rankrise.example");
    assert_eq!(buyer.1, "ignored");
    assert!(
        buyer
            .3
            .as_deref()
            .unwrap_or("")
            .contains("priya@rankrise.example is not the recipient of the digest it answers"),
        "{buyer:?}"
    );
    let forged = row("reply-forged@example.test");
    assert_eq!(forged.1, "ignored");
    let reason = forged.3.as_deref().unwrap_or("");
    assert!(
        reason.contains("authentication failed") && reason.contains("dkim=fail"),
        "{reason}"
    );
    assert_eq!(forged.4, None, "no confirmation to a forgery");
    for (id, who) in [
        ("reply-buyer@rankrise.example", "priya@rankrise.example"),
        ("reply-forged@example.test", OWNER),
    ] {
        assert!(
            err.lines().any(|l| l.contains("WARN")
                && l.contains("ignored")
                && l.contains(id)
                && l.contains(who)),
            "no warning naming {id} and {who}:\n{err}"
        );
    }

    // The confirmation arrives in the owner's mailbox, threaded under the reply.
    wait_for_messages(&d, 6, &pf);
    let raws = d.messages("INBOX");
    let confirmations: Vec<_> = raws
        .iter()
        .map(|r| MessageParser::default().parse(r).expect("parses"))
        .filter(|m| m.in_reply_to().as_text() == Some("reply-good@example.test"))
        .collect();
    assert_eq!(confirmations.len(), 1);
    let c = &confirmations[0];
    assert_eq!(c.subject(), Some("Re: leadsift digest"));
    assert_eq!(
        c.header_raw("Auto-Submitted").map(str::trim),
        Some("auto-replied")
    );
    assert_eq!(
        c.to().and_then(|t| t.first()).and_then(|a| a.address()),
        Some(OWNER)
    );
    let body = c.body_text(0).expect("text").replace("\r\n", "\n");
    for s in [
        "line 2: hot bob.garden@gmail.com — applied to bob.garden@gmail.com: class set to hot by hand",
        "line 3: +budget bob.garden@gmail.com — applied to bob.garden@gmail.com: budget confirmed",
        "line 6: hot nobody.example — NOT applied: no lead nobody.example",
        "Not understood (ignored):\n  line 1: Hi leadsift,\n  line 5: frobnicate x\n",
        // `why` answers with the explain text, corrections included.
        "== line 4: why bob.garden@gmail.com ==\nbob.garden@gmail.com",
        "by sales@example.test via digest reply",
        "BUDGET",
    ] {
        assert!(body.contains(s), "{s:?} missing in:\n{body}");
    }
    assert!(
        !body.contains("Sales team") && !body.contains("acme-pumps"),
        "the signature and the quoted digest are not read:\n{body}"
    );

    // The next pass syncs the confirmation: no command, no lead, nothing sent twice.
    let out = ls.run(&["--now", LATER, "sync", "--once"]);
    assert!(out.status.success(), "{}", show(&out));
    assert_eq!(commands(&ls), rows);
    assert_eq!(ls.count("SELECT COUNT(*) FROM corrections"), 2);
    assert_eq!(leads(&ls).len(), 3);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(d.mailbox_status("INBOX").get("messages"), Some(&6));
}

#[test]
fn a_confirmation_the_server_refuses_is_retried_on_the_next_pass() {
    let d = dovecot::Dovecot::start();
    let pf = postfix::Postfix::start(&d);
    let ls = run::Leadsift::new(&[run::AccountConf::plaintext(&d)], "");
    seed::digest_reply_config(&ls, pf.submission_port, &d.certs.ca, "");
    let settings = Settings::load(&ls.config).expect("config loads");
    seed::store(&settings, &seed::three_leads());
    let out = ls.run(&["--now", seed::NOW, "digest", "--send"]);
    assert!(out.status.success(), "{}", show(&out));
    wait_for_messages(&d, 1, &pf);
    let digest_id = {
        let raws = d.messages("INBOX");
        let m = MessageParser::default().parse(&raws[0]).expect("digest");
        m.message_id().expect("id").to_string()
    };
    smtp_deliver(
        pf.smtp_port,
        OWNER,
        &digest_reply(
            "reply-1@example.test",
            OWNER,
            &digest_id,
            "",
            "drop rankrise.example",
        ),
    );
    wait_for_messages(&d, 2, &pf);

    // The submission port is closed while the reply is applied: applied, confirmation pending.
    let sub = std::net::TcpListener::bind(("127.0.0.1", 0)).expect("bind");
    let closed = sub.local_addr().expect("addr").port();
    drop(sub);
    let path = ls.config.clone();
    let conf = std::fs::read_to_string(&path).expect("config");
    std::fs::write(
        &path,
        conf.replace(
            &format!("port = {}", pf.submission_port),
            &format!("port = {closed}"),
        ),
    )
    .expect("config");
    let out = ls.run(&["--now", LATER, "sync", "--once"]);
    assert!(out.status.success(), "{}", show(&out));
    let rows = commands(&ls);
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (rows[0].1.as_str(), rows[0].4.as_deref()),
        ("applied", Some("pending"))
    );
    assert_eq!(ls.count("SELECT COUNT(*) FROM corrections"), 1);
    let (attempts, error): (i64, Option<String>) = ls
        .db()
        .query_row("SELECT attempts, last_error FROM commands", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .expect("row");
    assert_eq!(attempts, 1);
    assert!(
        error.is_some_and(|e| e.contains("refused")),
        "{}",
        show(&out)
    );
    assert!(
        text(&out.stderr).contains("retried on the next pass"),
        "{}",
        show(&out)
    );

    // Server back: the next pass sends the recorded confirmation, once, and applies nothing again.
    std::fs::write(&path, conf).expect("config");
    let out = ls.run(&["--now", LATER, "sync", "--once"]);
    assert!(out.status.success(), "{}", show(&out));
    let rows = commands(&ls);
    assert_eq!(rows[0].4.as_deref(), Some("sent"), "{}", show(&out));
    assert_eq!(ls.count("SELECT COUNT(*) FROM corrections"), 1);
    wait_for_messages(&d, 3, &pf);
    let out = ls.run(&["--now", LATER, "sync", "--once"]);
    assert!(out.status.success(), "{}", show(&out));
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(d.mailbox_status("INBOX").get("messages"), Some(&3));
    assert_eq!(leads(&ls)["rankrise.example"]["set_by"]["person"], OWNER);
}
