//! Scores in the database: incremental refresh after each stored batch agrees with a full rescore,
//! and the CLI's `leads --json` is byte-for-byte deterministic for a given `--now`.

use std::path::Path;
use std::process::Command;

use chrono::{DateTime, Utc};
use leadsift::config::Settings;
use leadsift::store::Store;

fn write_config(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("leadsift.toml");
    std::fs::write(
        &path,
        format!(
            "[storage]\npath = \"{}\"\n[me]\naddresses = [\"sales@ourco.example\"]\n[business]\nproducts = [\"water pump\"]\nmin_order_value_usd = 1000\n",
            dir.join("db.sqlite").display()
        ),
    )
    .unwrap();
    path
}

fn eml(
    id: &str,
    from: &str,
    to: &str,
    date: &str,
    subject: &str,
    refs: &[&str],
    body: &str,
) -> String {
    let mut h = format!(
        "Message-ID: <{id}>\r\nFrom: {from}\r\nTo: {to}\r\nDate: {date}\r\nSubject: {subject}\r\n"
    );
    if let Some(last) = refs.last() {
        h.push_str(&format!(
            "In-Reply-To: <{last}>\r\nReferences: {}\r\n",
            refs.iter()
                .map(|r| format!("<{r}>"))
                .collect::<Vec<_>>()
                .join(" ")
        ));
    }
    format!("{h}Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n")
}

fn mailbox() -> Vec<(String, String)> {
    vec![
        (
            "01.eml".into(),
            eml(
                "q1@acme.example",
                "Li <li@acme.example>",
                "sales@ourco.example",
                "Mon, 16 Nov 2026 09:00:00 +0100",
                "RFQ water pump",
                &[],
                "We need 200 pcs water pump, delivery before 20 December. I am the purchasing manager.",
            ),
        ),
        (
            "02.eml".into(),
            eml(
                "r1@ourco.example",
                "sales@ourco.example",
                "li@acme.example",
                "Mon, 16 Nov 2026 11:00:00 +0100",
                "Re: RFQ water pump",
                &["q1@acme.example"],
                "Thank you, USD 80/pc FOB.",
            ),
        ),
        (
            "03.eml".into(),
            eml(
                "q2@acme.example",
                "Wang <wang@mail.acme.example>",
                "sales@ourco.example",
                "Mon, 16 Nov 2026 12:00:00 +0100",
                "Re: RFQ water pump",
                &["q1@acme.example", "r1@ourco.example"],
                "Please send PI.",
            ),
        ),
        (
            "04.eml".into(),
            eml(
                "g1@gmail.com",
                "bob@gmail.com",
                "sales@ourco.example",
                "Tue, 17 Nov 2026 12:00:00 +0000",
                "price",
                &[],
                "Dear Sir, send price list.",
            ),
        ),
        (
            "05.eml".into(),
            eml(
                "r2@ourco.example",
                "sales@ourco.example",
                "bob@gmail.com",
                "Tue, 17 Nov 2026 13:00:00 +0000",
                "Re: price",
                &["g1@gmail.com"],
                "Which model and quantity?",
            ),
        ),
    ]
}

#[test]
fn incremental_refresh_matches_a_full_rescore() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path());
    let settings = Settings::load(&config).unwrap();
    let now: DateTime<Utc> = DateTime::parse_from_rfc3339("2026-11-20T08:00:00+08:00")
        .unwrap()
        .into();
    let mut store = Store::open(&settings.storage_path).unwrap();
    // One message at a time, as the daemon stores them.
    for (name, text) in mailbox() {
        let p = dir.path().join(&name);
        std::fs::write(&p, text).unwrap();
        leadsift::import::import(&[p], &settings, &mut store, now).unwrap();
        store.refresh_leads(&settings, now).unwrap();
    }
    let incremental = store.stored_reports().unwrap();
    assert_eq!(
        incremental.len(),
        2,
        "{:?}",
        incremental.iter().map(|r| &r.lead).collect::<Vec<_>>()
    );
    let acme = incremental
        .iter()
        .find(|r| r.lead == "acme.example")
        .unwrap();
    assert_eq!(acme.messages, 3);
    assert_eq!(acme.contacts, ["li@acme.example", "wang@mail.acme.example"]);
    assert!(acme.waiting_on_us);
    store.rescore_all(&settings, now).unwrap();
    let full = store.stored_reports().unwrap();
    assert_eq!(
        serde_json::to_string(&incremental).unwrap(),
        serde_json::to_string(&full).unwrap()
    );
    assert_eq!(
        serde_json::to_string(&full).unwrap(),
        serde_json::to_string(&store.compute_reports(&settings, now).unwrap()).unwrap()
    );
}

#[test]
fn leads_json_is_deterministic_and_csv_has_a_row_per_lead() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path());
    let mail = dir.path().join("mail");
    std::fs::create_dir(&mail).unwrap();
    for (name, text) in mailbox() {
        std::fs::write(mail.join(name), text).unwrap();
    }
    let bin = env!("CARGO_BIN_EXE_leadsift");
    let run = |args: &[&str]| {
        let out = Command::new(bin)
            .arg("--config")
            .arg(&config)
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    };
    let imported = String::from_utf8(run(&["import", mail.to_str().unwrap()])).unwrap();
    assert!(
        imported.contains("imported 5, skipped 0 duplicate(s), failed 0"),
        "{imported}"
    );
    let again = String::from_utf8(run(&["import", mail.to_str().unwrap()])).unwrap();
    assert!(
        again.contains("imported 0, skipped 5 duplicate(s)"),
        "{again}"
    );
    let a = run(&["--now", "2026-11-20T08:00:00+08:00", "leads", "--json"]);
    let b = run(&["--now", "2026-11-20T08:00:00+08:00", "leads", "--json"]);
    assert_eq!(a, b);
    let doc: serde_json::Value = serde_json::from_slice(&a).unwrap();
    let leads = doc.as_array().unwrap();
    assert_eq!(leads.len(), 2);
    for key in [
        "lead",
        "class",
        "score",
        "scorecard",
        "contacts",
        "messages",
        "last_inbound",
        "waiting_on_us",
        "facts",
        "reasons",
    ] {
        assert!(leads[0].get(key).is_some(), "missing {key} in {}", leads[0]);
    }
    let csv = String::from_utf8(run(&[
        "--now",
        "2026-11-20T08:00:00+08:00",
        "leads",
        "--csv",
    ]))
    .unwrap();
    assert_eq!(csv.lines().count(), 3, "{csv}");
    assert!(csv.starts_with("lead,class,score,need,"));
    let explain = String::from_utf8(run(&[
        "--now",
        "2026-11-20T08:00:00+08:00",
        "explain",
        "wang@mail.acme.example",
    ]))
    .unwrap();
    assert!(explain.starts_with("acme.example"), "{explain}");
}
