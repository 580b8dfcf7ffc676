//! `leadsift demo` runs without a server or config, and its classification of the bundled sample
//! mailbox agrees with the mailbox's answer key (src/demo/EXPECTED.md, written with the mailbox).

use std::collections::BTreeMap;
use std::process::Command;

fn expected() -> BTreeMap<String, String> {
    let key = include_str!("../src/demo/EXPECTED.md");
    key.lines()
        .filter_map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            (cells.len() > 3 && cells[1].contains('@'))
                .then(|| (cells[1].to_string(), cells[2].to_string()))
        })
        .collect()
}

#[test]
fn demo_prints_leads_explain_and_digest_and_agrees_with_the_answer_key() {
    let out = Command::new(env!("CARGO_BIN_EXE_leadsift"))
        .arg("demo")
        .env_remove("LEADSIFT_CONFIG")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("leads: 8 hot") || text.contains(" hot, "),
        "{text}"
    );
    assert!(text.contains("--- leadsift explain "), "{text}");

    // Classes per lead from the table: "CLASS SCORE LEAD ...".
    let table: BTreeMap<String, String> = text
        .lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            let class = w.next()?;
            let _score = w.next()?;
            let lead = w.next()?;
            ["hot", "nurture", "drop"]
                .contains(&class)
                .then(|| (lead.trim_end_matches('…').to_string(), class.to_string()))
        })
        .collect();
    let key = expected();
    assert_eq!(key.len(), 25, "answer key rows");
    let mut agree = 0;
    let mut wrong = Vec::new();
    for (address, class) in &key {
        let domain = address.rsplit_once('@').map(|(_, d)| d).unwrap_or("");
        let got = table
            .iter()
            .find(|(lead, _)| {
                *lead == address || *lead == domain || address.starts_with(lead.as_str())
            })
            .map(|(_, c)| c.as_str());
        if got == Some(class.as_str()) {
            agree += 1;
        } else {
            wrong.push(format!("{address}: {class} -> {got:?}"));
        }
        // Never a scam or a drop in hot.
        if class == "drop" {
            assert_ne!(
                got,
                Some("hot"),
                "{address} is a drop in the answer key but shown hot"
            );
        }
    }
    assert!(
        agree >= 23,
        "only {agree}/25 agree with the answer key: {wrong:#?}"
    );
}
