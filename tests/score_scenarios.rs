//! Scenario tests for scoring: each rule of the scoring issue on a small, hand-built history.
//! Signals are given directly (extraction has its own tests), so these pin the scoring logic.

use chrono::{DateTime, Duration, FixedOffset, Utc};
use leadsift::config::Settings;
use leadsift::extract::{Dimension, Extraction, Flag, Signal, Value};
use leadsift::score::{self, Class, LeadReport, MessageView};
use leadsift::store::Direction;

fn settings(extra: &str) -> Settings {
    let text = format!(
        "[storage]\npath = \"/tmp/unused.db\"\n[me]\naddresses = [\"sales@ourco.example\"]\ndomains = [\"ourco.example\"]\n[business]\nproducts = [\"pump\"]\nmin_order_value_usd = 5000\n{extra}"
    );
    Settings::from_toml(&text, std::path::Path::new("/tmp/score-test.toml")).unwrap()
}

fn t(s: &str) -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339(s).unwrap()
}

fn sig(d: Dimension, kind: &str, w: f64, ev: &str) -> Signal {
    Signal {
        dimension: d,
        kind: kind.into(),
        weight: w,
        evidence: ev.into(),
        value: None,
        rule: format!("test.{kind}"),
    }
}

/// A specific, complete inquiry: need, budget, authority, timeline, fit.
fn strong_inquiry() -> Vec<Signal> {
    vec![
        sig(Dimension::Need, "product", 1.5, "submersible pump"),
        Signal {
            value: Some(Value::Quantity {
                amount: 400.0,
                unit: "pcs".into(),
            }),
            ..sig(Dimension::Need, "quantity", 1.5, "400 pcs")
        },
        Signal {
            value: Some(Value::Money {
                amount: 60.0,
                currency: "USD".into(),
                per_unit: true,
            }),
            ..sig(Dimension::Budget, "money", 1.5, "USD 60/pc")
        },
        sig(Dimension::Budget, "payment_terms", 1.0, "30% T/T deposit"),
        sig(
            Dimension::Authority,
            "decider",
            2.0,
            "I am the purchasing manager",
        ),
        Signal {
            value: Some(Value::Deadline {
                date: chrono::NaiveDate::from_ymd_opt(2026, 12, 20).unwrap(),
            }),
            ..sig(Dimension::Timeline, "deadline", 2.0, "before 20 December")
        },
        sig(Dimension::Engagement, "asks_pi", 1.0, "please send PI"),
        sig(Dimension::Fit, "company_domain", 1.0, "company domain"),
    ]
}

struct Msg {
    id: i64,
    mid: &'static str,
    dir: Direction,
    date: &'static str,
    from: &'static str,
    to: &'static str,
    refs: Vec<&'static str>,
    signals: Vec<Signal>,
    flags: Vec<Flag>,
}

impl Msg {
    fn inbound(
        id: i64,
        mid: &'static str,
        date: &'static str,
        from: &'static str,
        signals: Vec<Signal>,
    ) -> Msg {
        Msg {
            id,
            mid,
            dir: Direction::In,
            date,
            from,
            to: "sales@ourco.example",
            refs: vec![],
            signals,
            flags: vec![],
        }
    }
    fn ours(
        id: i64,
        mid: &'static str,
        date: &'static str,
        to: &'static str,
        refs: Vec<&'static str>,
    ) -> Msg {
        Msg {
            id,
            mid,
            dir: Direction::Out,
            date,
            from: "sales@ourco.example",
            to,
            refs,
            signals: vec![],
            flags: vec![],
        }
    }
    fn replying(mut self, refs: Vec<&'static str>) -> Msg {
        self.refs = refs;
        self
    }
    fn view(&self) -> MessageView {
        MessageView {
            id: self.id,
            message_id: self.mid.into(),
            direction: self.dir,
            date: t(self.date),
            from: Some(self.from.into()),
            reply_to: None,
            recipients: vec![self.to.into()],
            subject: "RFQ pumps".into(),
            refs: self.refs.iter().map(|s| s.to_string()).collect(),
            extraction: Extraction {
                flags: self.flags.clone(),
                signals: self.signals.clone(),
                deal_value_usd: None,
                items: Vec::new(),
            },
        }
    }
}

fn run(msgs: &[Msg], now: &str, s: &Settings) -> Vec<LeadReport> {
    let views: Vec<MessageView> = msgs.iter().map(Msg::view).collect();
    score::score_all(&views, s, t(now).with_timezone(&Utc))
}

fn lead<'a>(r: &'a [LeadReport], name: &str) -> &'a LeadReport {
    r.iter().find(|l| l.lead == name).unwrap_or_else(|| {
        panic!(
            "no lead {name} in {:?}",
            r.iter().map(|l| &l.lead).collect::<Vec<_>>()
        )
    })
}

#[test]
fn free_mail_senders_are_each_their_own_lead_companies_group_by_registrable_domain() {
    let s = settings("");
    let msgs = [
        Msg::inbound(
            1,
            "a@x",
            "2026-11-18T10:00:00+08:00",
            "ann@gmail.com",
            vec![],
        ),
        Msg::inbound(
            2,
            "b@x",
            "2026-11-18T10:00:00+08:00",
            "bob@gmail.com",
            vec![],
        ),
        Msg::inbound(
            3,
            "c@x",
            "2026-11-18T10:00:00+08:00",
            "li@acme.com.br",
            vec![],
        ),
        Msg::inbound(
            4,
            "d@x",
            "2026-11-18T10:00:00+08:00",
            "wang@mail.acme.com.br",
            vec![],
        ),
        Msg::inbound(
            5,
            "e@x",
            "2026-11-18T10:00:00+08:00",
            "jo@buyer.co.uk",
            vec![],
        ),
        Msg::inbound(
            6,
            "f@x",
            "2026-11-18T10:00:00+08:00",
            "colleague@ourco.example",
            vec![],
        ),
    ];
    let r = run(&msgs, "2026-11-20T08:00:00+08:00", &s);
    let mut names: Vec<&str> = r.iter().map(|l| l.lead.as_str()).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "acme.com.br",
            "ann@gmail.com",
            "bob@gmail.com",
            "buyer.co.uk"
        ]
    );
    assert_eq!(
        lead(&r, "acme.com.br").contacts,
        ["li@acme.com.br", "wang@mail.acme.com.br"]
    );
}

#[test]
fn a_specific_first_inquiry_from_a_stranger_is_an_opportunity() {
    let s = settings("");
    let r = run(
        &[Msg::inbound(
            1,
            "a@x",
            "2026-11-19T10:00:00+08:00",
            "li@newbuyer.example",
            strong_inquiry(),
        )],
        "2026-11-20T08:00:00+08:00",
        &s,
    );
    let l = lead(&r, "newbuyer.example");
    assert_eq!(l.class, Class::Hot, "{:#?}", l.reasons);
    assert!(l.waiting_on_us);
    // A bare first hello with nothing in it still starts in the middle, not in drop.
    let r = run(
        &[Msg::inbound(
            1,
            "a@x",
            "2026-11-19T10:00:00+08:00",
            "li@hello.example",
            vec![],
        )],
        "2026-11-20T08:00:00+08:00",
        &s,
    );
    assert_eq!(
        lead(&r, "hello.example").class,
        Class::Nurture,
        "{:#?}",
        lead(&r, "hello.example").reasons
    );
}

#[test]
fn waiting_on_us_until_we_reply() {
    let s = settings("");
    let mut msgs = vec![Msg::inbound(
        1,
        "q1@b",
        "2026-11-16T09:00:00+01:00",
        "p@buyer.example",
        strong_inquiry(),
    )];
    let r = run(&msgs, "2026-11-20T08:00:00+08:00", &s);
    assert!(lead(&r, "buyer.example").waiting_on_us);
    assert_eq!(
        lead(&r, "buyer.example").waiting_since,
        Some(t("2026-11-16T09:00:00+01:00"))
    );
    msgs.push(Msg::ours(
        2,
        "r1@ourco",
        "2026-11-16T20:00:00+08:00",
        "p@buyer.example",
        vec!["q1@b"],
    ));
    let r = run(&msgs, "2026-11-20T08:00:00+08:00", &s);
    assert!(!lead(&r, "buyer.example").waiting_on_us);
    msgs.push(
        Msg::inbound(
            3,
            "q2@b",
            "2026-11-17T09:00:00+01:00",
            "p@buyer.example",
            vec![],
        )
        .replying(vec!["q1@b", "r1@ourco"]),
    );
    let r = run(&msgs, "2026-11-20T08:00:00+08:00", &s);
    assert_eq!(
        lead(&r, "buyer.example").waiting_since,
        Some(t("2026-11-17T09:00:00+01:00"))
    );
}

fn engagement_points(l: &LeadReport) -> f64 {
    l.contributions
        .iter()
        .filter(|c| c.dimension == Dimension::Engagement && c.rule.starts_with("history."))
        .map(|c| c.points)
        .sum()
}

#[test]
fn reply_latency_counts_working_hours_and_skips_weekends() {
    let s = settings("");
    let thread = |reply: &'static str| {
        vec![
            Msg::inbound(
                1,
                "q@b",
                "2026-11-02T09:00:00+00:00",
                "p@buyer.example",
                vec![sig(Dimension::Need, "product", 1.0, "pump")],
            ),
            // We answer on Friday evening.
            Msg::ours(
                2,
                "r@o",
                "2026-11-06T18:00:00+00:00",
                "p@buyer.example",
                vec!["q@b"],
            ),
            Msg::inbound(3, "q2@b", reply, "p@buyer.example", vec![]).replying(vec!["q@b", "r@o"]),
        ]
    };
    // Monday 09:00 is 6 + 9 = 15 working hours later: fast, although 63 clock hours passed.
    let fast = run(
        &thread("2026-11-09T09:00:00+00:00"),
        "2026-11-10T08:00:00+00:00",
        &s,
    );
    let fast = lead(&fast, "buyer.example");
    assert!(engagement_points(fast) > 0.5, "{:#?}", fast.contributions);
    assert!(fast.contributions.iter().any(|c| c.rule == "history.reply_latency" && c.evidence.contains("15.0 working hours")));
    // Three weeks later is a long silence: engagement goes down.
    let slow = run(
        &thread("2026-11-27T09:00:00+00:00"),
        "2026-11-28T08:00:00+00:00",
        &s,
    );
    let slow = lead(&slow, "buyer.example");
    assert!(engagement_points(slow) < 0.0, "{:#?}", slow.contributions);
    assert!(fast.score > slow.score);
}

#[test]
fn silence_after_our_message_lowers_engagement() {
    let s = settings("");
    let msgs = [
        Msg::inbound(
            1,
            "q@b",
            "2026-11-02T09:00:00+00:00",
            "p@buyer.example",
            vec![sig(Dimension::Need, "product", 1.0, "pump")],
        ),
        Msg::ours(
            2,
            "r@o",
            "2026-11-02T12:00:00+00:00",
            "p@buyer.example",
            vec!["q@b"],
        ),
    ];
    let r = run(&msgs, "2026-11-20T08:00:00+00:00", &s);
    assert!(
        lead(&r, "buyer.example")
            .contributions
            .iter()
            .any(|c| c.rule == "history.silence" && c.points < 0.0)
    );
}

#[test]
fn evidence_decays_and_a_silent_hot_lead_is_no_longer_hot() {
    let s = settings("");
    let msgs = [Msg::inbound(
        1,
        "a@x",
        "2026-09-01T10:00:00+00:00",
        "li@buyer.example",
        strong_inquiry(),
    )];
    let then = run(&msgs, "2026-09-02T10:00:00+00:00", &s);
    assert_eq!(lead(&then, "buyer.example").class, Class::Hot);
    let later = run(&msgs, "2026-11-01T10:00:00+00:00", &s);
    let l = lead(&later, "buyer.example");
    assert_ne!(l.class, Class::Hot, "silent 61 days: {:#?}", l.reasons);
    assert!(
        (l.decay - 0.5f64.powf(61.0 / 30.0)).abs() < 1e-4,
        "{}",
        l.decay
    );
    assert!(
        l.contributions
            .iter()
            .filter(|c| c.dimension == Dimension::Need)
            .all(|c| c.points < c.raw)
    );
    // A shorter half-life decays faster.
    let s7 = settings("[scoring]\nhalf_life_days = 7\n");
    let l7 = run(&msgs, "2026-09-15T10:00:00+00:00", &s7);
    assert!(lead(&l7, "buyer.example").decay < 0.5);
}

#[test]
fn a_strong_scam_sign_drops_an_otherwise_perfect_lead() {
    let s = settings("");
    let mut signals = strong_inquiry();
    signals.push(sig(
        Dimension::Risk,
        "advance_fee",
        3.0,
        "pay the registration fee of USD 450 first",
    ));
    let r = run(
        &[Msg::inbound(
            1,
            "a@x",
            "2026-11-19T10:00:00+08:00",
            "minister@gmail.com",
            signals,
        )],
        "2026-11-20T08:00:00+08:00",
        &s,
    );
    let l = lead(&r, "minister@gmail.com");
    assert_eq!(l.class, Class::Drop);
    assert!(l.reasons[0].contains("registration fee"), "{:?}", l.reasons);
}

#[test]
fn sellers_and_tiny_orders_are_dropped() {
    let s = settings("");
    let r = run(
        &[Msg::inbound(
            1,
            "a@x",
            "2026-11-19T10:00:00+08:00",
            "seo@agency.example",
            vec![sig(
                Dimension::Risk,
                "seller",
                0.5,
                "we can rank your website on Google",
            )],
        )],
        "2026-11-20T08:00:00+08:00",
        &s,
    );
    assert_eq!(lead(&r, "agency.example").class, Class::Drop);
    // Everything a hot lead says, but for 2 pieces at USD 60: ~USD 120 against a 5,000 minimum.
    let mut signals = strong_inquiry();
    for sg in &mut signals {
        if let Some(Value::Quantity { amount, .. }) = &mut sg.value {
            *amount = 2.0;
        }
    }
    let tiny = Msg::inbound(
        1,
        "a@x",
        "2026-11-19T10:00:00+08:00",
        "joe@gmail.com",
        signals,
    );
    let r = run(&[tiny], "2026-11-20T08:00:00+08:00", &s);
    let l = lead(&r, "joe@gmail.com");
    assert_eq!(l.class, Class::Drop);
    assert!(
        l.reasons[0].contains("far below the minimum order"),
        "{:?}",
        l.reasons
    );
}

#[test]
fn auto_replies_and_bounces_neither_create_leads_nor_count_as_engagement() {
    let s = settings("");
    let mut ooo = Msg::inbound(
        3,
        "ooo@b",
        "2026-11-02T12:05:00+00:00",
        "p@buyer.example",
        vec![],
    )
    .replying(vec!["r@o"]);
    ooo.flags = vec![Flag::AutoReply];
    let mut bounce = Msg::inbound(
        4,
        "dsn@mx",
        "2026-11-02T12:06:00+00:00",
        "mailer-daemon@mx.other.example",
        vec![],
    );
    bounce.flags = vec![Flag::Bounce];
    let mut lone_ooo = Msg::inbound(
        5,
        "ooo2@c",
        "2026-11-02T12:06:00+00:00",
        "x@someone.example",
        vec![],
    );
    lone_ooo.flags = vec![Flag::AutoReply];
    let msgs = [
        Msg::inbound(
            1,
            "q@b",
            "2026-11-02T09:00:00+00:00",
            "p@buyer.example",
            vec![sig(Dimension::Need, "product", 1.0, "pump")],
        ),
        Msg::ours(
            2,
            "r@o",
            "2026-11-02T12:00:00+00:00",
            "p@buyer.example",
            vec!["q@b"],
        ),
        ooo,
        bounce,
        lone_ooo,
    ];
    let r = run(&msgs, "2026-11-03T08:00:00+00:00", &s);
    assert_eq!(
        r.len(),
        1,
        "{:?}",
        r.iter().map(|l| &l.lead).collect::<Vec<_>>()
    );
    let l = lead(&r, "buyer.example");
    assert_eq!(l.messages, 3, "the auto-reply joins the lead's history");
    assert!(
        !l.waiting_on_us,
        "an auto-reply is not a message we owe an answer to"
    );
    assert!(
        !l.contributions
            .iter()
            .any(|c| c.rule == "history.reply_latency"),
        "{:#?}",
        l.contributions
    );
}

#[test]
fn every_point_traces_to_evidence_and_output_is_deterministic() {
    let s = settings("");
    let msgs = [
        Msg::inbound(
            1,
            "q@b",
            "2026-11-16T09:00:00+01:00",
            "p@buyer.example",
            strong_inquiry(),
        ),
        Msg::ours(
            2,
            "r@o",
            "2026-11-16T12:00:00+08:00",
            "p@buyer.example",
            vec!["q@b"],
        ),
        Msg::inbound(
            3,
            "q2@b",
            "2026-11-16T10:00:00+01:00",
            "p@buyer.example",
            vec![sig(
                Dimension::Engagement,
                "asks_sample",
                1.0,
                "send 2 samples",
            )],
        )
        .replying(vec!["r@o"]),
    ];
    let a = run(&msgs, "2026-11-20T08:00:00+08:00", &s);
    let b = run(&msgs, "2026-11-20T08:00:00+08:00", &s);
    assert_eq!(
        serde_json::to_string(&a).unwrap(),
        serde_json::to_string(&b).unwrap()
    );
    for c in &a[0].contributions {
        assert!(!c.evidence.trim().is_empty(), "{c:?}");
    }
    let later = run(
        &msgs,
        &(t("2026-11-20T08:00:00+08:00") + Duration::days(10)).to_rfc3339(),
        &s,
    );
    assert!(later[0].score <= a[0].score);
}

#[test]
fn order_value_is_estimated_per_lead_across_messages() {
    let s = settings("");
    let q = |n: f64| Signal {
        value: Some(Value::Quantity {
            amount: n,
            unit: "pcs".into(),
        }),
        ..sig(Dimension::Need, "quantity", 1.5, "pcs")
    };
    let price = |a: f64, per_unit: bool| Signal {
        value: Some(Value::Money {
            amount: a,
            currency: "USD".into(),
            per_unit,
        }),
        ..sig(Dimension::Budget, "money", 1.0, "USD")
    };
    // Quantities in the inquiry, the counter-price ("OK for USD 44") in a later reply.
    let msgs = [
        Msg::inbound(
            1,
            "q@b",
            "2026-11-16T09:00:00+00:00",
            "p@buyer.example",
            vec![q(400.0), q(60.0)],
        ),
        Msg::ours(
            2,
            "r@o",
            "2026-11-16T12:00:00+00:00",
            "p@buyer.example",
            vec!["q@b"],
        ),
        Msg::inbound(
            3,
            "q2@b",
            "2026-11-17T09:00:00+00:00",
            "p@buyer.example",
            vec![price(44.0, false)],
        )
        .replying(vec!["q@b", "r@o"]),
    ];
    let r = run(&msgs, "2026-11-18T08:00:00+00:00", &s);
    let l = lead(&r, "buyer.example");
    assert_eq!(l.facts.est_deal_value_usd, Some(460.0 * 44.0));
    assert!(
        l.contributions
            .iter()
            .any(|c| c.rule == "history.order_value" && c.points > 0.0)
    );
    // A stated budget larger than quantity × price wins.
    let msgs = [Msg::inbound(
        1,
        "q@b",
        "2026-11-16T09:00:00+00:00",
        "p@buyer.example",
        vec![q(100.0), price(20.0, true), price(25_000.0, false)],
    )];
    let r = run(&msgs, "2026-11-18T08:00:00+00:00", &s);
    assert_eq!(
        lead(&r, "buyer.example").facts.est_deal_value_usd,
        Some(25_000.0)
    );
}

#[test]
fn stated_product_mismatch_price_fishing_and_private_orders_are_dropped() {
    let s = settings("");
    let now = "2026-11-20T08:00:00+08:00";
    // "We only need solar panels, not pumps": the buyer says the goods are not ours.
    let mismatch = vec![
        sig(Dimension::Need, "quantity", 2.0, "1,240 pcs"),
        sig(
            Dimension::Fit,
            "product_mismatch_stated",
            -2.0,
            "we only need solar panels and inverters",
        ),
        sig(Dimension::Fit, "product_mismatch", -3.0, "1,240 pcs"),
    ];
    let r = run(
        &[Msg::inbound(
            1,
            "a@x",
            "2026-11-19T10:00:00+08:00",
            "e@solar.example",
            mismatch,
        )],
        now,
        &s,
    );
    let l = lead(&r, "solar.example");
    assert_eq!(l.class, Class::Drop);
    assert!(
        l.reasons[0].starts_with("not our product line"),
        "{:?}",
        l.reasons
    );

    // "All models, lowest price, quantity depends on price".
    let fishing = vec![
        sig(Dimension::Need, "product_match", 1.0, "street light"),
        sig(Dimension::Risk, "price_fishing", 1.5, "all models"),
        sig(Dimension::Budget, "target_price", 1.5, "too high"),
    ];
    let r = run(
        &[Msg::inbound(
            1,
            "a@x",
            "2026-11-19T10:00:00+08:00",
            "ali@gmail.com",
            fishing.clone(),
        )],
        now,
        &s,
    );
    assert_eq!(
        lead(&r, "ali@gmail.com").class,
        Class::Drop,
        "{:?}",
        lead(&r, "ali@gmail.com").reasons
    );
    // The same words from a buyer who also names quantities are a negotiation, not fishing.
    let mut with_qty = fishing;
    with_qty.push(Signal {
        value: Some(Value::Quantity {
            amount: 800.0,
            unit: "pcs".into(),
        }),
        ..sig(Dimension::Need, "quantity", 2.0, "800 pcs")
    });
    let r = run(
        &[Msg::inbound(
            1,
            "a@x",
            "2026-11-19T10:00:00+08:00",
            "ali@gmail.com",
            with_qty,
        )],
        now,
        &s,
    );
    assert_ne!(lead(&r, "ali@gmail.com").class, Class::Drop);

    // Six floodlights for a garage, paid by PayPal, from a free-mail address: private-size.
    let garage = vec![
        Signal {
            value: Some(Value::Quantity {
                amount: 6.0,
                unit: "pcs".into(),
            }),
            ..sig(Dimension::Need, "quantity", 2.0, "6 refletores")
        },
        sig(Dimension::Fit, "product_match", 2.0, "refletores"),
        sig(Dimension::Budget, "payment_terms", 1.0, "PayPal"),
    ];
    let r = run(
        &[Msg::inbound(
            1,
            "a@x",
            "2026-11-19T10:00:00+08:00",
            "jorge@hotmail.com",
            garage.clone(),
        )],
        now,
        &s,
    );
    let l = lead(&r, "jorge@hotmail.com");
    assert_eq!(l.class, Class::Drop);
    assert!(
        l.reasons[0].contains("private-size order"),
        "{:?}",
        l.reasons
    );
    // A trading company writing from qq.com about 5 sets is a business, not a private buyer.
    let mut company = garage;
    company.push(sig(
        Dimension::Fit,
        "buyer_type",
        1.0,
        "我司是上海恒通国际贸易有限公司",
    ));
    let r = run(
        &[Msg::inbound(
            1,
            "a@x",
            "2026-11-19T10:00:00+08:00",
            "wang@qq.com",
            company,
        )],
        now,
        &s,
    );
    assert_ne!(lead(&r, "wang@qq.com").class, Class::Drop);
}

#[test]
fn a_catalogue_match_in_one_message_outweighs_its_absence_in_a_follow_up() {
    let s = settings("");
    let msgs = [
        Msg::inbound(
            1,
            "q@b",
            "2026-11-16T09:00:00+00:00",
            "p@buyer.example",
            vec![sig(Dimension::Fit, "product_match", 2.0, "solar pump")],
        ),
        Msg::ours(
            2,
            "r@o",
            "2026-11-16T12:00:00+00:00",
            "p@buyer.example",
            vec!["q@b"],
        ),
        Msg::inbound(
            3,
            "q2@b",
            "2026-11-17T09:00:00+00:00",
            "p@buyer.example",
            vec![Signal {
                rule: "test.product_match".into(),
                ..sig(
                    Dimension::Fit,
                    "product_mismatch",
                    -3.0,
                    "send lowest price",
                )
            }],
        )
        .replying(vec!["q@b", "r@o"]),
    ];
    let r = run(&msgs, "2026-11-18T08:00:00+00:00", &s);
    let fit: Vec<_> = lead(&r, "buyer.example")
        .contributions
        .iter()
        .filter(|c| c.dimension == Dimension::Fit)
        .map(|c| c.evidence.clone())
        .collect();
    assert_eq!(fit, ["solar pump"]);
}

#[test]
fn a_student_is_not_a_buyer() {
    let s = settings("");
    let signals = vec![
        sig(Dimension::Need, "product_match", 1.0, "solar water pumps"),
        sig(
            Dimension::Need,
            "not_buying",
            -3.0,
            "doing a school project",
        ),
    ];
    let r = run(
        &[Msg::inbound(
            1,
            "a@x",
            "2026-11-19T10:00:00+08:00",
            "sofia@gmail.com",
            signals,
        )],
        "2026-11-20T08:00:00+08:00",
        &s,
    );
    let l = lead(&r, "sofia@gmail.com");
    assert_eq!(l.class, Class::Drop);
    assert!(l.reasons[0].starts_with("not a buyer"), "{:?}", l.reasons);
}

#[test]
fn explain_shows_the_judgement_steps_in_order_with_the_one_that_decided() {
    let s = settings("");
    let step_lines = |text: &str| -> Vec<String> {
        text.lines()
            .skip_while(|l| !l.starts_with("judgement"))
            .skip(1)
            .take_while(|l| l.starts_with("  "))
            .map(|l| l.trim().to_string())
            .collect()
    };
    let order = [
        "risk",
        "bulk",
        "seller",
        "non_buyer",
        "fit",
        "asks",
        "value",
        "fishing",
        "private",
        "score",
    ];

    // A clean, complete inquiry: every drop step passes and the score decides.
    let r = run(
        &[Msg::inbound(
            1,
            "a@x",
            "2026-11-19T10:00:00+08:00",
            "buyer@pumps-buyer.example",
            strong_inquiry(),
        )],
        "2026-11-20T08:00:00+08:00",
        &s,
    );
    let l = lead(&r, "pumps-buyer.example");
    let text = score::render::explain_text(l);
    let lines = step_lines(&text);
    let names: Vec<&str> = lines
        .iter()
        .map(|l| l.split_whitespace().next().unwrap_or(""))
        .collect();
    assert_eq!(names, order, "{text}");
    assert!(lines[..9].iter().all(|l| l.ends_with("passed")), "{text}");
    assert!(
        lines[9].contains(&format!("DECIDED {}: {}", l.class.as_str(), l.reasons[0])),
        "{text}"
    );

    // A strong scam sign: the first step decides and the rest are not reached.
    let mut signals = strong_inquiry();
    signals.push(sig(
        Dimension::Risk,
        "advance_fee",
        3.0,
        "a registration fee is paid before the order",
    ));
    let r = run(
        &[Msg::inbound(
            1,
            "a@x",
            "2026-11-19T10:00:00+08:00",
            "buyer@pumps-buyer.example",
            signals,
        )],
        "2026-11-20T08:00:00+08:00",
        &s,
    );
    let l = lead(&r, "pumps-buyer.example");
    let text = score::render::explain_text(l);
    let lines = step_lines(&text);
    assert_eq!(lines.len(), order.len(), "{text}");
    assert!(lines[0].starts_with("risk"), "{text}");
    assert!(lines[0].contains("DECIDED drop: risk"), "{text}");
    assert!(lines[0].contains("registration fee"), "{text}");
    assert!(
        lines[1..].iter().all(|l| l.ends_with("not reached")),
        "{text}"
    );
}
