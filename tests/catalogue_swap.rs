//! The honest test of catalogue fit: the demo mailbox (a pump maker's buyers) judged with another
//! business's catalogue must turn its buyers into "not in our catalogue" drops; judged with its
//! own catalogue, they stay what the answer key says.
//!
//! The vocabulary learned from the mailbox's own outbound mail goes with the catalogue it was
//! learned for: a term is learned only from our messages that name a configured product, so with
//! the furniture catalogue the pump maker's quotes teach nothing (asserted below), and the swap
//! judges the buyers by the swapped catalogue alone — as a furniture maker's own mailbox would.

use std::collections::BTreeMap;
use std::process::Command;

/// The demo's own config with the `[business]` block replaced.
fn config(dir: &std::path::Path, business: &str) -> std::path::PathBuf {
    let own =
        leadsift::demo::CONFIG.replace("DB_PATH", &dir.join("leadsift.db").display().to_string());
    let head = own.split("[business]").next().unwrap_or("");
    let path = dir.join("leadsift.toml");
    std::fs::write(&path, format!("{head}{business}")).unwrap();
    path
}

/// (lead → (class, first reason)) after importing the demo mailbox, and `vocabulary --json`.
fn judge(business: &str) -> (BTreeMap<String, (String, String)>, serde_json::Value) {
    let dir = tempfile::tempdir().unwrap();
    let conf = config(dir.path(), business);
    let mbox = dir.path().join("demo.mbox");
    std::fs::write(&mbox, leadsift::demo::MAILBOX).unwrap();
    let bin = env!("CARGO_BIN_EXE_leadsift");
    let out = Command::new(bin)
        .arg("--config")
        .arg(&conf)
        .arg("import")
        .arg(&mbox)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new(bin)
        .arg("--config")
        .arg(&conf)
        .args(["--now", leadsift::demo::NOW, "leads", "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let leads: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let vocab = Command::new(bin)
        .arg("--config")
        .arg(&conf)
        .args(["vocabulary", "--json"])
        .output()
        .unwrap();
    assert!(
        vocab.status.success(),
        "{}",
        String::from_utf8_lossy(&vocab.stderr)
    );
    let vocab: serde_json::Value = serde_json::from_slice(&vocab.stdout).unwrap();
    let leads = leads
        .iter()
        .map(|l| {
            let reason = l["reasons"][0].as_str().unwrap_or("").to_string();
            (
                l["lead"].as_str().unwrap_or("").to_string(),
                (l["class"].as_str().unwrap_or("").to_string(), reason),
            )
        })
        .collect();
    (leads, vocab)
}

/// The demo's own catalogue, as its config states it.
fn own_business() -> String {
    let c = leadsift::demo::CONFIG;
    let start = c.find("[business]").unwrap();
    c[start..].to_string()
}

/// A furniture maker's catalogue: nothing a pump buyer asks for.
const FURNITURE: &str = r#"[business]
products = ["office chair", "office chairs", "swivel chair", "conference table", "filing cabinet",
  "silla de oficina", "mesa de reuniones", "cadeira de escritório", "chaise de bureau",
  "Bürostuhl", "Konferenztisch", "офисное кресло", "офисные кресла", "كرسي مكتب", "办公椅", "会议桌"]
min_order_value_usd = 3000
"#;

#[test]
fn buyers_of_our_goods_become_not_ours_under_another_catalogue() {
    let (own, own_vocab) = judge(&own_business());
    let (swapped, swapped_vocab) = judge(FURNITURE);
    // Our quotes name our pumps: they count as quoting messages for our catalogue, and for a
    // furniture catalogue none does, so nothing is learned for it.
    assert!(
        own_vocab["quoting_messages"].as_i64().unwrap_or(0) > 0,
        "{own_vocab:#}"
    );
    assert_eq!(swapped_vocab["quoting_messages"], 0, "{swapped_vocab:#}");
    assert_eq!(
        swapped_vocab["terms"],
        serde_json::json!([]),
        "{swapped_vocab:#}"
    );
    let hot: Vec<&String> = own
        .iter()
        .filter(|(_, (c, _))| c == "hot")
        .map(|(l, _)| l)
        .collect();
    assert!(hot.len() >= 6, "the demo has hot buyers: {own:#?}");
    let mut not_ours = 0;
    let mut still_hot = Vec::new();
    for lead in &hot {
        let (class, why) = &swapped[*lead];
        if class == "drop" && why.contains("not in our catalogue") {
            not_ours += 1;
        }
        if class == "hot" {
            still_hot.push((lead, why));
        }
    }
    assert!(
        still_hot.is_empty(),
        "hot under a furniture catalogue: {still_hot:#?}"
    );
    assert!(
        not_ours * 4 >= hot.len() * 3,
        "only {not_ours} of {} hot buyers became not-ours drops: {swapped:#?}",
        hot.len()
    );
}
