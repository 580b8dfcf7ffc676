//! Tags by folder against a real Dovecot: a salesperson copies or moves a message into a training
//! folder (`[feedback.folders]`) with Python's imaplib, as a mail client (or Gmail's labels) would;
//! leadsift, reading those folders read-only, turns that into the folder's correction for the
//! message's lead, and takes it back when the message leaves the folder. The message is never a
//! second lead, and leadsift never moves mail.

#[path = "support/certs.rs"]
mod certs;
#[path = "support/dovecot.rs"]
mod dovecot;
#[path = "support/leadsift.rs"]
mod leadsift;

use std::process::Command;

use dovecot::{Dovecot, PASSWORD, USER};
use leadsift::{
    AccountConf, Leadsift, class_keyword, correction_labels, inquiry, lead, show, text,
};

/// Runs `ops` (Python statements on an imaplib connection `m`, logged in) like a mail client.
fn imaplib(d: &Dovecot, ops: &str) {
    let script = format!(
        "import imaplib, sys\nm = imaplib.IMAP4('127.0.0.1', {})\nm.login('{USER}', '{PASSWORD}')\ndef one(mid):\n    typ, data = m.uid('SEARCH', None, 'HEADER', 'Message-ID', mid)\n    uids = data[0].split()\n    assert typ == 'OK' and len(uids) == 1, (typ, data)\n    return uids[0]\n{ops}\nm.logout()\n",
        d.imap_port
    );
    let out = Command::new("python3")
        .args(["-c", &script])
        .output()
        .expect("python3");
    assert!(out.status.success(), "imaplib: {}", show(&out));
}

fn labels(ls: &Leadsift) -> Vec<String> {
    let leads = ls.leads_json(None);
    correction_labels(lead(&leads, "buyer.example"))
        .into_iter()
        .map(str::to_string)
        .collect()
}

fn class(ls: &Leadsift) -> String {
    let leads = ls.leads_json(None);
    lead(&leads, "buyer.example")["class"]
        .as_str()
        .unwrap_or("")
        .to_string()
}

#[test]
fn a_message_copied_or_moved_into_a_training_folder_corrects_its_lead_and_leaving_takes_it_back() {
    let d = Dovecot::start();
    let mut c = d.client();
    c.ok("CREATE \"Leads/Hot\"");
    c.ok("CREATE \"Leads/Drop\"");
    c.append("INBOX", "", &inquiry(1));
    c.logout();
    let ls = Leadsift::new(&[AccountConf::implicit(&d)], "");
    let mut config = std::fs::read_to_string(&ls.config).expect("config");
    config.push_str("\n[feedback.folders]\nhot = \"Leads/Hot\"\ndrop = \"Leads/Drop\"\n");
    std::fs::write(&ls.config, config).expect("config");

    ls.sync_ok();
    assert!(labels(&ls).is_empty());
    let auto = class(&ls);
    assert_ne!(
        auto, "hot",
        "the test needs a lead that is not hot on its own"
    );

    // Copied into Leads/Hot (Gmail: the label "Leads/Hot" added).
    imaplib(
        &d,
        "m.select('INBOX')\nm.uid('COPY', one('inq-1@buyer.example'), 'Leads/Hot')",
    );
    let out = ls.run(&["sync", "--once"]);
    assert!(out.status.success(), "{}", show(&out));
    assert!(
        text(&out.stderr).contains("moved or copied into a training folder"),
        "{}",
        show(&out)
    );
    assert_eq!(labels(&ls), ["hot"]);
    assert_eq!(class(&ls), "hot");
    let leads = ls.leads_json(None);
    let c0 = &lead(&leads, "buyer.example")["corrections"][0];
    assert_eq!(c0["message_id"], "inq-1@buyer.example");
    assert_eq!(
        c0["note"],
        "message moved or copied into training folder Leads/Hot"
    );
    // Nothing doubled: one message, one lead; the copy was never fetched as mail.
    assert_eq!(ls.count("SELECT COUNT(*) FROM messages"), 1);
    assert_eq!(leads.len(), 1, "{leads:?}");
    // Applied once: another pass adds nothing.
    ls.sync_ok();
    assert_eq!(labels(&ls), ["hot"]);

    // Taken out of the folder: back to automatic.
    imaplib(
        &d,
        "m.select('Leads/Hot')\nu = one('inq-1@buyer.example')\nm.uid('STORE', u, '+FLAGS', '(\\\\Deleted)')\nm.expunge()",
    );
    ls.sync_ok();
    assert_eq!(labels(&ls), ["hot", "auto"]);
    assert_eq!(class(&ls), auto);

    // Moved (not copied) from INBOX to Leads/Drop: the stored message stays, the lead is dropped.
    imaplib(
        &d,
        "m.select('INBOX')\ntyp, data = m.uid('MOVE', one('inq-1@buyer.example'), 'Leads/Drop')\nassert typ == 'OK', data",
    );
    ls.sync_ok();
    assert_eq!(labels(&ls), ["hot", "auto", "drop"]);
    assert_eq!(class(&ls), "drop");
    assert_eq!(ls.count("SELECT COUNT(*) FROM messages"), 1);
    // Read-only: the moved message kept what it had in INBOX (leadsift's class keyword from
    // there) and got nothing in the training folder: no \Seen, no new class keyword.
    let flags = d.flags("Leads/Drop");
    assert_eq!(flags.len(), 1);
    assert!(
        flags
            .values()
            .all(|f| f.iter().all(|k| k == class_keyword(&auto))),
        "leadsift changed the training folder: {flags:?}"
    );
}

#[test]
fn a_training_folder_cannot_also_be_synced() {
    let d = Dovecot::start();
    let ls = Leadsift::new(&[AccountConf::implicit(&d)], "");
    let config = std::fs::read_to_string(&ls.config)
        .expect("config")
        .replace(
            "folders = [\"INBOX\"]",
            "folders = [\"INBOX\", \"Leads/Hot\"]",
        );
    std::fs::write(
        &ls.config,
        format!("{config}\n[feedback.folders]\nhot = \"Leads/Hot\"\n"),
    )
    .expect("config");
    let out = ls.run(&["check-config"]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("Leads/Hot") && err.contains("training folder"),
        "{err}"
    );
}
