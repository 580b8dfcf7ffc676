//! Leads for the digest tests, stored directly with their signals, so the tests pin the digest
//! and not the extractor (which has its own tests and changes on its own schedule).
#![allow(dead_code)]

use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use leadsift::config::Settings;
use leadsift::extract::{Dimension, Extraction, Signal, Value};
use leadsift::store::{Direction, Item, NewMessage, Store};

/// The instant the tests judge the mailbox at (a Friday, 08:00 in Shanghai).
pub const NOW: &str = "2026-11-20T08:00:00+08:00";

pub const XSS_SUBJECT: &str =
    "<script>document.title='pwned'</script> RFQ </table></td></tr> 400 pcs pumps";
pub const XSS_BODY: &str = "We need 400 pcs. <img src=x onerror=\"document.body.setAttribute('data-pwned','1')\"> </table> <script>document.body.appendChild(document.createElement('pwned'))</script>";

pub fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(NOW)
        .expect("NOW")
        .with_timezone(&Utc)
}

fn sig(d: Dimension, kind: &str, w: f64, ev: &str, value: Option<Value>) -> Signal {
    Signal {
        dimension: d,
        kind: kind.into(),
        weight: w,
        evidence: ev.into(),
        value,
        rule: format!("test.{kind}"),
    }
}

/// A specific, complete inquiry: hot.
pub fn strong_inquiry(evidence_extra: &str) -> Vec<Signal> {
    vec![
        sig(Dimension::Need, "product", 1.5, "submersible pump", None),
        sig(
            Dimension::Need,
            "quantity",
            1.5,
            "400 pcs",
            Some(Value::Quantity {
                amount: 400.0,
                unit: "pcs".into(),
            }),
        ),
        sig(
            Dimension::Budget,
            "money",
            1.5,
            "USD 60/pc",
            Some(Value::Money {
                amount: 60.0,
                currency: "USD".into(),
                per_unit: true,
            }),
        ),
        sig(
            Dimension::Budget,
            "payment_terms",
            1.0,
            "30% T/T deposit",
            None,
        ),
        sig(
            Dimension::Authority,
            "decider",
            2.0,
            &format!("I am the purchasing manager{evidence_extra}"),
            None,
        ),
        sig(
            Dimension::Timeline,
            "deadline",
            2.0,
            "before 20 December",
            Some(Value::Deadline {
                date: NaiveDate::from_ymd_opt(2026, 12, 20).expect("date"),
            }),
        ),
        sig(
            Dimension::Engagement,
            "asks_pi",
            1.0,
            "please send PI",
            None,
        ),
        sig(
            Dimension::Fit,
            "company_domain",
            1.0,
            "company domain",
            None,
        ),
    ]
}

pub struct Seed {
    pub id: String,
    pub from: String,
    /// The To header (inbound seeds go to the sales mailbox).
    pub to: String,
    pub date: String,
    pub subject: String,
    pub body: String,
    pub signals: Vec<Signal>,
    pub deal: Option<f64>,
}

fn raw(s: &Seed) -> Vec<u8> {
    format!(
        "Message-ID: <{}>\r\nFrom: {}\r\nTo: {}\r\nDate: {}\r\nSubject: {}\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{}\r\n",
        s.id, s.from, s.to, s.date, s.subject, s.body
    )
    .into_bytes()
}

/// Stores inbound messages with the given signals.
pub fn store(settings: &Settings, seeds: &[Seed]) {
    let all: Vec<(&Seed, Direction)> = seeds.iter().map(|s| (s, Direction::In)).collect();
    store_directed(settings, &all);
}

/// Stores messages, inbound or ours (`Direction::Out`: `from` is a colleague, `to` the buyer).
pub fn store_directed(settings: &Settings, seeds: &[(&Seed, Direction)]) {
    let mut store = Store::open(&settings.storage_path).expect("open store");
    let fallback: DateTime<FixedOffset> = now().fixed_offset();
    let items: Vec<Item> = seeds
        .iter()
        .map(|(s, direction)| {
            let bytes = raw(s);
            let parsed = leadsift::parse::parse(&bytes, fallback, false).expect("parse seed");
            Item::Message(Box::new(NewMessage {
                parsed,
                extraction: Extraction {
                    flags: vec![],
                    signals: s.signals.clone(),
                    deal_value_usd: s.deal,
                    items: Vec::new(),
                },
                direction: *direction,
                size: bytes.len() as u64,
                location: None,
            }))
        })
        .collect();
    store.store_batch(None, &items, now()).expect("store seeds");
    store.refresh_leads(settings, now()).expect("score seeds");
}

/// A hot lead, a nurture lead and a dropped seller.
pub fn three_leads() -> Vec<Seed> {
    vec![
        Seed {
            id: "rfq-1@acme-pumps.example".into(),
            from: "Li Wei <li.wei@acme-pumps.example>".into(),
            to: "sales@ourco.example".into(),
            date: "Thu, 19 Nov 2026 10:00:00 +0800".into(),
            subject: "RFQ: 400 pcs submersible pump, delivery before 20 December".into(),
            body: "Dear sales, we need 400 pcs submersible pump, target USD 60/pc, 30% T/T deposit. I am the purchasing manager. Please send PI.".into(),
            signals: strong_inquiry(""),
            deal: Some(24_000.0),
        },
        Seed {
            id: "q-1@gmail.com".into(),
            from: "Bob <bob.garden@gmail.com>".into(),
            to: "sales@ourco.example".into(),
            date: "Wed, 18 Nov 2026 09:00:00 +0000".into(),
            subject: "price list".into(),
            body: "Dear Sir, send price list.".into(),
            signals: vec![],
            deal: None,
        },
        Seed {
            id: "seo-1@rankrise.example".into(),
            from: "Priya <priya@rankrise.example>".into(),
            to: "sales@ourco.example".into(),
            date: "Tue, 17 Nov 2026 09:00:00 +0000".into(),
            subject: "Your website is not on Google page 1".into(),
            body: "We are a leading SEO agency.".into(),
            signals: vec![sig(
                Dimension::Fit,
                "seo_pitch",
                -2.0,
                "we are a leading SEO agency",
                None,
            )],
            deal: None,
        },
    ]
}

/// A hot lead whose subject and body carry markup and script.
pub fn hostile_lead() -> Seed {
    Seed {
        id: "xss-1@evil-buyer.example".into(),
        from: "Mallory <mallory@evil-buyer.example>".into(),
        to: "sales@ourco.example".into(),
        date: "Thu, 19 Nov 2026 11:00:00 +0800".into(),
        subject: XSS_SUBJECT.into(),
        body: XSS_BODY.into(),
        signals: {
            let mut s = strong_inquiry(XSS_BODY);
            s[0].evidence = XSS_SUBJECT.into();
            // The strongest point: the one quote the digest shows.
            s[5].evidence = format!("before 20 December {XSS_BODY}");
            s
        },
        deal: Some(24_000.0),
    }
}

/// The `[smtp]` and `[digest]` sections for a config.
pub fn smtp_digest_config(
    port: u16,
    ca: &std::path::Path,
    password_file: &std::path::Path,
) -> String {
    format!(
        "\n[smtp]\nhost = \"localhost\"\nport = {port}\ntls = \"starttls\"\nca_file = \"{}\"\nusername = \"sales@example.test\"\npassword_file = \"{}\"\nfrom = \"leadsift <leadsift@example.test>\"\n\n[digest]\nto = [\"sales@example.test\"]\ntime = \"08:00\"\ntimezone = \"Asia/Shanghai\"\n",
        ca.display(),
        password_file.display()
    )
}

/// Sets `ls` up to send the digest through the Postfix submission `port` (CA `ca`) to the synced
/// mailbox's owner, where replies come back: the salespeople are ours (`[me]` domains, as in any
/// real setup), then `[smtp]` and `[digest]`, then `extra` (more sections, or nothing).
pub fn digest_reply_config(
    ls: &super::run::Leadsift,
    port: u16,
    ca: &std::path::Path,
    extra: &str,
) {
    let config = std::fs::read_to_string(&ls.config)
        .expect("config")
        .replace("[me]\n", "[me]\ndomains = [\"example.test\"]\n");
    let config = format!(
        "{config}{}{extra}",
        smtp_digest_config(port, ca, &ls.dir.path().join("imap-password"))
    );
    std::fs::write(&ls.config, config).expect("config");
}
