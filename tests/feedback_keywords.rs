//! Feedback through IMAP keywords against a real Dovecot (which has CONDSTORE): a salesperson's
//! `lead-*` keywords become corrections, and leadsift's own `$Lead*` class keyword follows the
//! lead's class without touching any other flag.

#[path = "support/certs.rs"]
mod certs;
#[path = "support/dovecot.rs"]
mod dovecot;
#[path = "support/leadsift.rs"]
mod leadsift;

use std::collections::BTreeMap;
use std::time::Duration;

use ::leadsift::sync::session::ImapSession;
use dovecot::Dovecot;
use leadsift::{AccountConf, Leadsift, class_keyword, correction_labels, inquiry, lead, set};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// The session layer on its own: CONDSTORE, CHANGEDSINCE, PERMANENTFLAGS and a STORE that names
/// only the keywords it is given.
#[test]
fn session_reads_flags_since_a_modseq_and_stores_only_the_given_keywords() {
    let d = Dovecot::start();
    let mut c = d.client();
    c.append("INBOX", "\\Seen $label1", &inquiry(1));
    c.append("INBOX", "", &inquiry(2));
    c.append("INBOX", "$LeadDrop", &inquiry(3));
    c.logout();
    let ls = Leadsift::new(&[AccountConf::implicit(&d)], "");
    let settings = ::leadsift::config::Settings::load(&ls.config).expect("config");
    let account = settings.accounts[0].clone();

    runtime().block_on(async {
        let mut s = ImapSession::connect(&account, Duration::from_secs(20))
            .await
            .expect("login");
        assert!(s.condstore(), "Dovecot offers CONDSTORE and ENABLE");
        let sel = s.examine("INBOX").await.expect("EXAMINE");
        assert!(sel.read_only);
        let modseq = sel
            .highest_modseq
            .expect("HIGHESTMODSEQ after ENABLE CONDSTORE");
        let all = s.uid_fetch_flags("1:*", None).await.expect("FETCH FLAGS");
        assert_eq!(all.len(), 3);
        assert_eq!(
            set(&all[&1].iter().map(String::as_str).collect::<Vec<_>>()),
            set(&["\\Seen", "$label1"])
        );
        assert!(all[&2].is_empty(), "{all:?}");
        // Nothing changed since the EXAMINE.
        let since = s
            .uid_fetch_flags("1:*", Some(modseq))
            .await
            .expect("CHANGEDSINCE");
        assert!(since.is_empty(), "{since:?}");
        // EXAMINE is read-only: no STORE.
        assert!(
            s.uid_store_keywords(&[1], &["$LeadHot"], &[])
                .await
                .is_err()
        );
        assert!(
            !s.is_broken(),
            "a refused STORE leaves the connection usable"
        );

        let sel = s.select("INBOX").await.expect("SELECT");
        assert!(!sel.read_only);
        assert!(
            sel.permanent_flags.iter().any(|f| f == "\\*"),
            "{:?}",
            sel.permanent_flags
        );
        assert!(sel.can_create_keywords("$LeadHot"));
        s.uid_store_keywords(&[1, 2, 3], &["$LeadHot"], &["$LeadDrop", "$LeadNurture"])
            .await
            .expect("STORE");
        // A keyword that is not an atom is refused before anything is sent.
        assert!(
            s.uid_store_keywords(&[1], &["bad keyword"], &[])
                .await
                .is_err()
        );
        assert!(!s.is_broken());

        let sel = s.examine("INBOX").await.expect("EXAMINE again");
        let changed = s
            .uid_fetch_flags("1:*", Some(modseq))
            .await
            .expect("CHANGEDSINCE");
        assert_eq!(changed.keys().copied().collect::<Vec<_>>(), vec![1, 2, 3]);
        let later = sel.highest_modseq.expect("HIGHESTMODSEQ");
        assert!(later > modseq);
        assert!(
            s.uid_fetch_flags("1:*", Some(later))
                .await
                .expect("FETCH")
                .is_empty()
        );
        s.logout().await;
    });

    let mut c = d.client();
    let flags = c.flags("INBOX");
    c.logout();
    assert_eq!(
        flags,
        BTreeMap::from([
            (1, set(&["\\Seen", "$label1", "$LeadHot"])),
            (2, set(&["$LeadHot"])),
            (3, set(&["$LeadHot"])),
        ])
    );
}

/// A message from a second lead (inbound).
fn other_inquiry() -> Vec<u8> {
    leadsift::message(
        "q-1@other.example",
        "Bob <bob@other.example>",
        leadsift::ME,
        "Price for 2000 pumps",
        "Hello, please quote 2000 pumps, delivery to Hamburg in March.\r\nBob",
    )
}

fn explain(ls: &Leadsift, name: &str) -> String {
    let out = ls.run(&["explain", name]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn highestmodseq(d: &Dovecot, folder: &str) -> u64 {
    let out = d.doveadm(&[
        "mailbox",
        "status",
        "-u",
        dovecot::USER,
        "highestmodseq",
        folder,
    ]);
    out.split_whitespace()
        .find_map(|kv| kv.strip_prefix("highestmodseq="))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("doveadm said {out:?}"))
}

const PERSON: &str = "IMAP user sales@example.test (account sales)";

#[test]
fn lead_hot_keyword_set_with_imaplib_makes_the_lead_hot_by_hand_and_removing_it_makes_it_automatic_again()
 {
    let d = Dovecot::start();
    let mut c = d.client();
    c.append("INBOX", "", &inquiry(1));
    c.logout();
    let ls = Leadsift::new(&[AccountConf::implicit(&d)], "");
    ls.sync_ok();
    let before = lead(&ls.leads_json(None), "buyer.example").clone();
    assert_eq!(before["manual"], false, "{before}");
    let auto = before["class"].as_str().expect("class").to_string();
    // The test means something only if the keyword changes the class.
    let wanted = if auto == "hot" { "drop" } else { "hot" };
    let keyword = format!("lead-{wanted}");

    let t0 = chrono::Utc::now() - chrono::TimeDelta::seconds(2);
    d.imaplib_store("inq-1@buyer.example", "+FLAGS", &keyword);
    ls.sync_ok();
    let after = lead(&ls.leads_json(None), "buyer.example").clone();
    assert_eq!(after["class"], wanted, "{after}");
    assert_eq!(after["manual"], true, "{after}");
    assert_eq!(after["auto_class"], auto.as_str(), "{after}");
    let by = &after["set_by"];
    assert_eq!(by["person"], PERSON, "{after}");
    assert_eq!(by["source"], "keyword", "{after}");
    assert_eq!(by["message_id"], "inq-1@buyer.example", "{after}");
    let at: chrono::DateTime<chrono::Utc> = by["at"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no time in {by}"));
    assert!(at >= t0 && at <= chrono::Utc::now(), "{at}");
    let text = explain(&ls, "buyer.example");
    assert!(
        text.contains(&format!(
            "by {PERSON} via IMAP keyword, message inq-1@buyer.example"
        )),
        "{text}"
    );
    // leadsift's own keyword follows the class set by hand, in the same pass.
    assert_eq!(
        d.flags("INBOX")[&1],
        set(&[&keyword, class_keyword(wanted)])
    );

    // The next sync with nothing changed records nothing new.
    ls.sync_ok();
    assert_eq!(
        lead(&ls.leads_json(None), "buyer.example")["corrections"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );

    d.imaplib_store("inq-1@buyer.example", "-FLAGS", &keyword);
    ls.sync_ok();
    let back = lead(&ls.leads_json(None), "buyer.example").clone();
    assert_eq!(back["manual"], false, "{back}");
    assert_eq!(back["class"], auto.as_str(), "{back}");
    let labels = correction_labels(&back);
    assert_eq!(labels, vec![wanted, "auto"], "{back}");
    assert!(explain(&ls, "buyer.example").contains("class back to automatic"));
    assert_eq!(d.flags("INBOX")[&1], set(&[class_keyword(&auto)]));
}

#[test]
fn class_keyword_follows_the_class_and_leaves_seen_and_the_users_keywords_alone() {
    let d = Dovecot::start();
    let mut c = d.client();
    c.append("INBOX", "\\Seen $label1", &inquiry(1));
    c.append("INBOX", "\\Flagged", &other_inquiry());
    c.append("Sent", "\\Seen", &leadsift::reply(1));
    c.logout();
    let sent_before = d.flags("Sent");
    let ls = Leadsift::new(&[AccountConf::implicit(&d)], "");
    ls.sync_ok();
    let leads = ls.leads_json(None);
    let c1 = lead(&leads, "buyer.example")["class"]
        .as_str()
        .expect("class")
        .to_string();
    let c2 = lead(&leads, "other.example")["class"]
        .as_str()
        .expect("class")
        .to_string();
    assert_eq!(
        d.flags("INBOX"),
        BTreeMap::from([
            (1, set(&["\\Seen", "$label1", class_keyword(&c1)])),
            (2, set(&["\\Flagged", class_keyword(&c2)])),
        ])
    );
    assert_eq!(
        d.flags("Sent"),
        sent_before,
        "our own mail gets no class keyword"
    );

    // Nothing changed: no write at all (the mailbox's HIGHESTMODSEQ stays).
    let modseq = highestmodseq(&d, "INBOX");
    ls.sync_ok();
    assert_eq!(highestmodseq(&d, "INBOX"), modseq);

    // The class changes by `leadsift tag` on one lead and by a keyword on the other.
    let t1 = if c1 == "drop" { "hot" } else { "drop" };
    let out = ls.run(&["tag", "buyer.example", t1, "--by", "li"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let t2 = if c2 == "drop" { "nurture" } else { "drop" };
    d.imaplib_store("q-1@other.example", "+FLAGS", &format!("lead-{t2}"));
    ls.sync_ok();
    let leads = ls.leads_json(None);
    assert_eq!(lead(&leads, "buyer.example")["class"], t1);
    assert_eq!(lead(&leads, "other.example")["class"], t2);
    assert_eq!(
        d.flags("INBOX"),
        BTreeMap::from([
            (1, set(&["\\Seen", "$label1", class_keyword(t1)])),
            (
                2,
                set(&["\\Flagged", &format!("lead-{t2}"), class_keyword(t2)])
            ),
        ])
    );
    assert_eq!(d.flags("Sent"), sent_before);

    // A new message of a lead is labelled too.
    let mut c = d.client();
    c.append("INBOX", "", &inquiry(2));
    c.logout();
    ls.sync_ok();
    assert_eq!(d.flags("INBOX")[&3], set(&[class_keyword(t1)]));
}

#[test]
fn with_write_keywords_off_the_flags_stay_exactly_as_they_were_and_tags_are_still_read() {
    let d = Dovecot::start();
    let mut c = d.client();
    c.append("INBOX", "\\Seen $label1", &inquiry(1));
    c.append("INBOX", "", &other_inquiry());
    c.logout();
    let before = d.flags("INBOX");
    let ls = Leadsift::new(
        &[AccountConf::implicit(&d)],
        "\n[feedback]\nwrite_keywords = false\n",
    );
    ls.sync_ok();
    assert_eq!(d.flags("INBOX"), before);

    d.imaplib_store("q-1@other.example", "+FLAGS", "lead-scam");
    let tagged = d.flags("INBOX");
    ls.sync_ok();
    ls.sync_ok();
    assert_eq!(d.flags("INBOX"), tagged, "leadsift wrote to the mailbox");
    let l = lead(&ls.leads_json(None), "other.example").clone();
    assert_eq!(l["class"], "drop", "{l}");
    let cs = l["corrections"].as_array().expect("corrections");
    assert_eq!(cs.len(), 1, "{l}");
    assert_eq!(cs[0]["label"], "scam");
    assert_eq!(cs[0]["person"], PERSON);
}

/// A folder where the user may not create keywords (Dovecot's ACL plugin without the `w`
/// right): PERMANENTFLAGS has no `\*`, so a new keyword would not stick. leadsift says so once
/// and the sync still succeeds.
#[test]
fn a_folder_that_allows_no_new_keywords_is_reported_once_and_the_sync_goes_on() {
    let mut d = Dovecot::start();
    let mut c = d.client();
    c.append("INBOX", "\\Seen", &inquiry(1));
    c.append("INBOX", "", &other_inquiry());
    c.logout();
    let mut conf = std::fs::read_to_string(&d.conf).expect("dovecot.conf");
    conf.push_str("mail_plugins = $mail_plugins acl\nplugin {\n  acl = vfile\n}\n");
    std::fs::write(&d.conf, conf).expect("dovecot.conf");
    // Everything but `w` (flags other than \Seen and \Deleted, keywords included).
    let acl = d.maildir("INBOX").join("dovecot-acl");
    std::fs::write(&acl, "owner lrstipekxa\n").expect("dovecot-acl");
    d.chown_mail();
    d.restart();
    let mut c = d.client();
    let lines = c.ok("SELECT INBOX");
    let permanent = lines
        .iter()
        .find(|l| l.contains("PERMANENTFLAGS"))
        .cloned()
        .unwrap_or_default();
    assert!(
        permanent.contains("\\Seen") && !permanent.contains("\\*"),
        "{permanent}"
    );
    c.logout();
    let before = d.flags("INBOX");

    let ls = Leadsift::new(&[AccountConf::implicit(&d)], "");
    let out = ls.run(&["sync", "--once"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert_eq!(
        err.matches("does not allow new keywords").count(),
        1,
        "{err}"
    );
    assert_eq!(d.flags("INBOX"), before);
    assert_eq!(ls.count("SELECT COUNT(*) FROM messages"), 2);
}

/// Without CONDSTORE (Dovecot told not to announce it) each pass reads the flags of the last
/// `flags_window` UIDs, plus any stored message whose keywords were never read.
#[test]
fn without_condstore_the_last_flags_window_uids_are_read() {
    let mut d = Dovecot::start();
    let mut conf = std::fs::read_to_string(&d.conf).expect("dovecot.conf");
    conf.push_str("imap_capability = IMAP4rev1 LITERAL+ SASL-IR ID ENABLE IDLE SPECIAL-USE\n");
    std::fs::write(&d.conf, conf).expect("dovecot.conf");
    d.restart();
    let mut c = d.client();
    let caps = c.ok("CAPABILITY").join(" ");
    assert!(!caps.contains("CONDSTORE"), "{caps}");
    c.append("INBOX", "lead-drop", &other_inquiry());
    c.append("INBOX", "", &inquiry(1));
    c.logout();
    let ls = Leadsift::new(
        &[AccountConf::implicit(&d)],
        "\n[feedback]\nwrite_keywords = false\nflags_window = 1\n",
    );
    // First pass: every stored message is read once, so the keyword set before is seen.
    ls.sync_ok();
    let leads = ls.leads_json(None);
    assert_eq!(lead(&leads, "other.example")["class"], "drop");
    assert_eq!(lead(&leads, "other.example")["manual"], true);
    assert_eq!(
        ls.count("SELECT COUNT(*) FROM folders WHERE highestmodseq IS NOT NULL"),
        0
    );

    // Later passes read only the last UID: a change on UID 1 waits, one on UID 2 is seen.
    d.imaplib_store("q-1@other.example", "-FLAGS", "lead-drop");
    d.imaplib_store("inq-1@buyer.example", "+FLAGS", "lead-nurture");
    ls.sync_ok();
    let leads = ls.leads_json(None);
    assert_eq!(lead(&leads, "other.example")["manual"], true);
    assert_eq!(lead(&leads, "buyer.example")["class"], "nurture");
    assert_eq!(lead(&leads, "buyer.example")["manual"], true);
}
