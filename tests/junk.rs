//! Junk is not a lead: mail to a list, a seller's offer and a long text that asks for nothing we
//! sell are dropped with the phrase or header that shows it; a stranger's first inquiry for our
//! goods stays an opportunity, a short hello stays in the middle. End to end: import + leads with
//! the demo's pump catalogue.

use std::collections::BTreeMap;
use std::process::Command;

const NOW: &str = "2026-11-20T08:00:00Z";

fn msg(from: &str, id: &str, subject: &str, headers: &str, body: &str) -> String {
    format!(
        "From MAILER {from}\nFrom: {from}\nTo: sales@tianyu-pumps.example\nMessage-ID: <{id}@junk.test>\nDate: Wed, 18 Nov 2026 09:00:00 +0000\nSubject: {subject}\n{headers}\n{body}\n\n"
    )
}

/// lead → (class, reasons) after importing `mbox` with the demo's configuration.
fn judge(mbox: &str) -> BTreeMap<String, (String, Vec<String>)> {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("leadsift.toml");
    std::fs::write(
        &conf,
        leadsift::demo::CONFIG.replace("DB_PATH", &dir.path().join("l.db").display().to_string()),
    )
    .unwrap();
    let file = dir.path().join("junk.mbox");
    std::fs::write(&file, mbox).unwrap();
    let bin = env!("CARGO_BIN_EXE_leadsift");
    let run = |args: &[&str]| {
        let out = Command::new(bin)
            .arg("--config")
            .arg(&conf)
            .args(["--now", NOW])
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    };
    run(&["import", file.to_str().unwrap()]);
    let leads: Vec<serde_json::Value> = serde_json::from_slice(&run(&["leads", "--json"])).unwrap();
    leads
        .iter()
        .map(|l| {
            let reasons = l["reasons"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|r| r.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default();
            (
                l["lead"].as_str().unwrap_or("").to_string(),
                (l["class"].as_str().unwrap_or("").to_string(), reasons),
            )
        })
        .collect()
}

#[test]
fn junk_drops_with_its_evidence_and_inquiries_stay_opportunities() {
    let advert = "Our travel club has new holiday packages for the coming winter season. \
        Families can choose between beach resorts, mountain lodges and city breaks, with flights, \
        hotels and guided tours included in one simple price. Members collect points on every \
        booking and can use them for upgrades, late check-out and airport lounges. Our friendly \
        team has planned trips for more than twenty years and knows every destination well.";
    let mbox = [
        msg(
            "editor@fair-news.example",
            "n1",
            "This month in trade fairs",
            "",
            "Three new halls open at the spring fair, and the conference programme is online.\n\nTo unsubscribe from this list, write to the editor.",
        ),
        msg(
            "li.wei@farm-coop.example",
            "i1",
            "Inquiry",
            "",
            "Dear Sir/Madam,\n\nPlease quote 12 submersible pumps.\n\nRegards,\nLi Wei",
        ),
        msg("tours@holiday-club.example", "a1", "Winter holidays", "", advert),
        msg(
            "amina@new-contact.example",
            "h1",
            "Hello",
            "",
            "Hello, do you export to Kenya? Regards, Amina",
        ),
        msg(
            "print@print-house.example",
            "s1",
            "Printing",
            "",
            "We offer a wide range of printing services: brochures, labels and boxes. Please send your artwork and we quote the same day.",
        ),
        msg(
            "deals1@yahoo.ca",
            "y1",
            "Offer",
            "List-Unsubscribe: <mailto:leave@deals.example>\n",
            "Special prices this week.",
        ),
        msg(
            "deals1@yahoo.ca",
            "y2",
            "Offer again",
            "",
            "Still special prices this week, reply to this mail for the list.",
        ),
        msg(
            "other@yahoo.ca",
            "y3",
            "Pumps",
            "",
            "Please quote 2 submersible pumps.",
        ),
    ]
    .concat();
    let leads = judge(&mbox);
    let class = |lead: &str| {
        leads
            .get(lead)
            .unwrap_or_else(|| panic!("no lead {lead}: {leads:#?}"))
    };
    let drop_why = |lead: &str| {
        let (c, why) = class(lead);
        assert_eq!(c, "drop", "{lead}: {why:?}");
        why.join(" | ")
    };
    assert!(
        drop_why("fair-news.example").contains("bulk mail: \"To unsubscribe\""),
        "{leads:#?}"
    );
    assert!(
        drop_why("holiday-club.example").contains("asks for nothing we sell"),
        "{leads:#?}"
    );
    assert!(
        drop_why("print-house.example").contains("a seller, not a buyer"),
        "{leads:#?}"
    );
    // The List-Unsubscribe header of his first mail is the evidence against his second.
    assert!(
        drop_why("deals1@yahoo.ca").contains("List-Unsubscribe header"),
        "{leads:#?}"
    );
    // Free mail under any public suffix: each sender a lead of his own.
    let (_, other) = class("other@yahoo.ca");
    assert!(
        !other.join(" ").contains("bulk"),
        "judged apart from deals1@yahoo.ca: {other:?}"
    );
    assert_ne!(class("farm-coop.example").0, "drop", "{leads:#?}");
    assert_eq!(class("new-contact.example").0, "nurture", "{leads:#?}");
}
