//! Scoring benchmark (run by bench/score.sh, not part of the normal suite): 100,000 stored
//! messages across 10,000 leads; full `rescore` time and the incremental cost per new message.

use std::time::Instant;

use chrono::{DateTime, Duration, Utc};
use leadsift::config::Settings;
use leadsift::extract::{Dimension, Extraction, Signal, Value};
use leadsift::parse::parse;
use leadsift::store::{Direction, Item, NewMessage, Store};

const LEADS: usize = 10_000;
const PER_LEAD: usize = 10;

fn signals(i: usize) -> Vec<Signal> {
    let s = |d, kind: &str, w, ev: &str| Signal {
        dimension: d,
        kind: kind.into(),
        weight: w,
        evidence: ev.into(),
        value: None,
        rule: format!("bench.{kind}"),
    };
    let mut v = vec![
        s(Dimension::Need, "product", 1.0, "submersible pump"),
        Signal {
            value: Some(Value::Quantity {
                amount: (100 + i % 900) as f64,
                unit: "pcs".into(),
            }),
            ..s(Dimension::Need, "quantity", 1.5, "500 pcs")
        },
        Signal {
            value: Some(Value::Money {
                amount: 40.0,
                currency: "USD".into(),
                per_unit: true,
            }),
            ..s(Dimension::Budget, "money", 1.0, "USD 40/pc")
        },
    ];
    if i.is_multiple_of(3) {
        v.push(s(Dimension::Authority, "decider", 1.5, "I am the owner"));
    }
    if i.is_multiple_of(5) {
        v.push(s(Dimension::Risk, "advance_fee", 3.0, "registration fee"));
    }
    v
}

fn message(lead: usize, n: usize, start: DateTime<Utc>) -> Item {
    let inbound = n.is_multiple_of(2);
    let (from, to) = if inbound {
        (
            format!("buyer{lead}@company{lead}.example"),
            "sales@ourco.example".to_string(),
        )
    } else {
        (
            "sales@ourco.example".to_string(),
            format!("buyer{lead}@company{lead}.example"),
        )
    };
    let date = start + Duration::minutes((lead * PER_LEAD + n) as i64);
    let refs = if n > 0 {
        format!("In-Reply-To: <m{lead}.{}@bench>\r\n", n - 1)
    } else {
        String::new()
    };
    let raw = format!(
        "Message-ID: <m{lead}.{n}@bench>\r\nFrom: {from}\r\nTo: {to}\r\n{refs}Date: {}\r\nSubject: RFQ {lead}\r\n\r\nbody\r\n",
        date.to_rfc2822()
    );
    let parsed =
        parse(raw.as_bytes(), date.fixed_offset(), false).expect("generated message parses");
    Item::Message(Box::new(NewMessage {
        parsed,
        extraction: Extraction {
            flags: vec![],
            signals: if inbound { signals(lead + n) } else { vec![] },
            deal_value_usd: Some(20_000.0),
            items: Vec::new(),
        },
        direction: if inbound {
            Direction::In
        } else {
            Direction::Out
        },
        size: raw.len() as u64,
        location: None,
    }))
}

#[test]
#[ignore = "benchmark: run with bench/score.sh"]
fn bench_rescore_and_incremental() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("c.toml");
    std::fs::write(&config, format!("[storage]\npath = \"{}\"\n[me]\naddresses = [\"sales@ourco.example\"]\n[business]\nmin_order_value_usd = 5000\n", dir.path().join("db").display())).unwrap();
    let settings = Settings::load(&config).unwrap();
    let mut store = Store::open(&settings.storage_path).unwrap();
    let start: DateTime<Utc> = DateTime::parse_from_rfc3339("2026-06-01T00:00:00Z")
        .unwrap()
        .into();
    let now = start + Duration::days(200);
    let t = Instant::now();
    for chunk in (0..LEADS).collect::<Vec<_>>().chunks(500) {
        let items: Vec<Item> = chunk
            .iter()
            .flat_map(|&l| (0..PER_LEAD).map(move |n| (l, n)))
            .map(|(l, n)| message(l, n, start))
            .collect();
        store.store_batch(None, &items, now).unwrap();
    }
    println!(
        "generated and stored {} messages across {LEADS} leads in {:.1} s",
        LEADS * PER_LEAD,
        t.elapsed().as_secs_f64()
    );

    // Where the time goes: loading, grouping, scoring (in memory), then the full rescore with writes.
    let t = Instant::now();
    let views = store.message_views().unwrap();
    let load = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let groups = leadsift::score::group::group(&views, &settings);
    let grouping = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let reports = leadsift::score::score_all(&views, &settings, now);
    let scoring = t.elapsed().as_secs_f64() - grouping;
    assert_eq!(groups.len(), reports.len());
    println!("breakdown: load {load:.2} s, group {grouping:.2} s, score {scoring:.2} s");
    drop(views);

    let t = Instant::now();
    let n = store.rescore_all(&settings, now).unwrap();
    let full = t.elapsed().as_secs_f64();
    assert_eq!(n, LEADS);
    println!(
        "full rescore: {full:.2} s for {} messages / {n} leads (goal <= 2 s)",
        LEADS * PER_LEAD
    );

    // Incremental: new replies arrive in small batches, as the daemon stores them.
    let new = 500;
    let t = Instant::now();
    for k in 0..new {
        let item = message(k * 7 % LEADS, PER_LEAD + k / LEADS, start);
        store.store_batch(None, &[item], now).unwrap();
        store.refresh_leads(&settings, now).unwrap();
    }
    let per = t.elapsed().as_secs_f64() / new as f64 * 1000.0;
    println!(
        "incremental: {per:.3} ms per new message, storing and rescoring its lead (goal <= 1 ms)"
    );
}
