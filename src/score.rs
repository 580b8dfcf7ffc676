//! Stage 4: from a lead's messages and their signals to a scorecard, a 0–100 score, a class and
//! the evidence behind every point. Pure: the messages, the settings and `now` come in as values.
//!
//! The model, documented for salespeople in the README ("Scoring"):
//! - Each dimension starts at a documented baseline (a first inquiry from a stranger is an
//!   opportunity with normal standing, not cold mail) and moves by the weights of the signals found
//!   in the buyer's own words. Each rule counts once per lead, at its strongest.
//! - The history adds what no single message shows: reply latency (working hours; weekends
//!   skipped), replies that answer our questions, silence after our last message, and order value
//!   against `[business] min_order_value_usd`.
//! - Evidence decays toward the baseline with a half-life (default 30 days) measured from the last
//!   inbound message, so a hot lead silent for 60 days keeps a quarter of its lead and is no longer
//!   hot. Risk does not decay: a scam stays a scam.
//! - Repeat business (a re-order, an earlier order) counts for fit: it raises long-term value.

pub mod class;
pub mod group;
pub mod history;
pub mod render;
pub mod trace;

use std::collections::BTreeMap;

use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::extract::{Business, Dimension, Extraction, Extractor, Flag, Value};
pub use crate::vocab::Class;
use crate::vocab::feedback::{Correction, LeadFeedback, Learned};
use crate::vocab::{Direction, Me, Weights};

/// What scoring needs of a stored message (no body text).
#[derive(Debug, Clone)]
pub struct MessageView {
    pub id: i64,
    pub message_id: String,
    pub direction: Direction,
    pub date: DateTime<FixedOffset>,
    pub from: Option<String>,
    pub reply_to: Option<String>,
    pub recipients: Vec<String>,
    pub subject: String,
    pub refs: Vec<String>,
    pub extraction: Extraction,
}

impl MessageView {
    pub fn is_flagged(&self) -> bool {
        !self.extraction.flags.is_empty()
    }
    pub fn is_human_inbound(&self) -> bool {
        self.direction == Direction::In && !self.is_flagged()
    }
}

/// `[scoring]`: the dimension weights, the class thresholds and how fast evidence fades.
#[derive(Debug, Clone)]
pub struct ScoringSettings {
    pub weights: Weights,
    pub hot_threshold: f64,
    pub drop_threshold: f64,
    pub half_life_days: f64,
}

/// What the judgement reads from the configuration, borrowed: `&config::Settings` converts into
/// it, so the scorer depends on no configuration code.
#[derive(Clone, Copy)]
pub struct Context<'a> {
    pub scoring: &'a ScoringSettings,
    /// Our catalogue and minimum order value.
    pub business: &'a Business,
    /// Our own addresses and domains: never a lead.
    pub me: &'a Me,
    /// Currency rates and the free-mail list.
    pub extractor: &'a Extractor,
    /// `[feedback]`: learned weights stay within [floor, cap] × the configured weight.
    pub weight_floor: f64,
    pub weight_cap: f64,
}

/// 1–5 per dimension; higher is better for us, except risk (5 = almost surely a scam).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scorecard {
    pub need: u8,
    pub budget: u8,
    pub authority: u8,
    pub timeline: u8,
    pub engagement: u8,
    pub fit: u8,
    pub risk: u8,
}

impl Scorecard {
    pub fn get(&self, d: Dimension) -> u8 {
        match d {
            Dimension::Need => self.need,
            Dimension::Budget => self.budget,
            Dimension::Authority => self.authority,
            Dimension::Timeline => self.timeline,
            Dimension::Engagement => self.engagement,
            Dimension::Fit => self.fit,
            Dimension::Risk => self.risk,
        }
    }
}

/// One line of the points table: which evidence moved which dimension by how much.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Contribution {
    pub dimension: Dimension,
    /// Points after decay.
    pub points: f64,
    /// Points before decay.
    pub raw: f64,
    pub decay: f64,
    pub rule: String,
    pub kind: String,
    pub evidence: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<DateTime<FixedOffset>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// A learned multiplier on the rule's pattern weight (`learn --apply`), already in `raw`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub learned_factor: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Quantity {
    pub amount: f64,
    pub unit: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Money {
    pub amount: f64,
    pub currency: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub per_unit: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Facts {
    pub products: Vec<String>,
    pub quantities: Vec<Quantity>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deadline: Option<NaiveDate>,
    pub money: Vec<Money>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub est_deal_value_usd: Option<f64>,
    /// The colour count when a quantity was stated per colour.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_colour: Option<f64>,
    /// The requested items across the lead's messages (latest mention of each first seen).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub asks_for: Vec<crate::extract::items::Item>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LeadReport {
    pub lead: String,
    pub class: Class,
    pub score: u8,
    pub scorecard: Scorecard,
    pub contacts: Vec<String>,
    pub messages: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_inbound: Option<DateTime<FixedOffset>>,
    pub waiting_on_us: bool,
    /// The oldest inbound message we have not answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waiting_since: Option<DateTime<FixedOffset>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    pub facts: Facts,
    pub reasons: Vec<String>,
    /// The judgement's steps in order (`class::decide`), for `explain`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<trace::Step>,
    pub decay: f64,
    pub contributions: Vec<Contribution>,
    /// With a class set by hand: the class leadsift would have given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_class: Option<Class>,
    /// The correction that set the class by hand.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manual: Option<Correction>,
    /// Every correction of this lead, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub corrections: Vec<Correction>,
    /// The learned weights in force, when any changed this lead's score.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub learned: Option<LearnedUse>,
}

/// Which learned set scored a lead, and what it changed there.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LearnedUse {
    pub set_id: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applied_at: Option<DateTime<Utc>>,
    /// "rule en.budget.target_price ×1.30 (fired on 9 hot, 1 dropped)", "weight budget 15 → 20 (…)".
    pub changes: Vec<String>,
}

impl LeadReport {
    /// "hot", or "hot (by hand; automatic: nurture)".
    pub fn class_label(&self) -> String {
        match (&self.manual, self.auto_class) {
            (Some(_), Some(auto)) if auto != self.class => {
                format!(
                    "{} (by hand; automatic: {})",
                    self.class.as_str(),
                    auto.as_str()
                )
            }
            (Some(_), _) => format!("{} (by hand)", self.class.as_str()),
            _ => self.class.as_str().to_string(),
        }
    }
}

/// Where each dimension starts before any evidence.
pub const BASELINE: [(Dimension, f64); 7] = [
    (Dimension::Need, 2.0),
    (Dimension::Budget, 2.0),
    (Dimension::Authority, 2.5),
    (Dimension::Timeline, 2.0),
    (Dimension::Engagement, 2.5),
    (Dimension::Fit, 3.0),
    (Dimension::Risk, 1.0),
];

fn baseline(d: Dimension) -> f64 {
    BASELINE
        .iter()
        .find(|(x, _)| *x == d)
        .map(|(_, v)| *v)
        .unwrap_or(1.0)
}

/// Signal kinds that mean "this sender sells to us, not buys from us".
const SELLER_KINDS: &[&str] = &["seller", "supplier_pitch", "seo_pitch"];

/// Signal kinds of bulk structure: list headers, unsubscribe footers, many links or images.
const BULK_KINDS: &[&str] = &["bulk"];

/// Seller and bulk evidence is judged by the class steps, not as risk points.
fn judged_as_step(kind: &str) -> bool {
    SELLER_KINDS.contains(&kind) || BULK_KINDS.contains(&kind)
}

use crate::extract::ASK_KINDS;

/// Signal kinds that show the sender wants to buy from us.
/// (A quote request or a target price alone does not count: a supplier fishing for business asks
/// for those too.)
const BUYER_KINDS: &[&str] = &["pi_request", "sample_request", "commitment", "repeat_order"];

/// Signal kinds that say "not now": the budget does not cover it, the project is on hold.
const NOT_NOW_KINDS: &[&str] = &["budget_not_now", "timeline_not_now"];

/// Signal kinds that mean "this sender will not buy": a student, a school project, research only.
const NON_BUYER_KINDS: &[&str] = &["not_buying"];

/// The extractor's own per-message order estimate; scoring makes a per-lead one instead.
const PER_MESSAGE_VALUE_KINDS: &[&str] = &["deal_value", "below_min_order"];

/// Fit signal kinds that state a product mismatch outright.
/// (Not `product_mismatch`: that one only says no catalogue phrase was found in a message.)
const MISMATCH_KINDS: &[&str] = &["product_mismatch_stated", "not_our_line"];

/// Up to this many units, an unpriced order from a free-mail sender is private-size.
const PRIVATE_ORDER_UNITS: f64 = 10.0;

/// Orders below this share of the minimum order value are dropped.
const FAR_BELOW_MIN: f64 = 0.5;

/// Scores one lead. `messages` are the lead's messages (any order).
pub fn score_lead<'a>(
    lead: &str,
    messages: &[&MessageView],
    settings: impl Into<Context<'a>>,
    now: DateTime<Utc>,
) -> LeadReport {
    score_lead_with(
        lead,
        messages,
        settings,
        &LeadFeedback::default(),
        None,
        now,
    )
}

/// Scores one lead with what people said about it (`feedback`) and the learned weights.
pub fn score_lead_with<'a>(
    lead: &str,
    messages: &[&MessageView],
    settings: impl Into<Context<'a>>,
    feedback: &LeadFeedback,
    learned: Option<&Learned>,
    now: DateTime<Utc>,
) -> LeadReport {
    let settings: Context<'_> = settings.into();
    let scoring = &settings.scoring;
    let mut learned_changes: Vec<String> = Vec::new();
    let business = &settings.business;
    let mut msgs: Vec<&MessageView> = messages.to_vec();
    msgs.sort_by(|a, b| {
        a.date
            .cmp(&b.date)
            .then_with(|| a.message_id.cmp(&b.message_id))
    });

    let last_inbound = msgs
        .iter()
        .filter(|m| m.is_human_inbound())
        .map(|m| m.date)
        .max();
    let age_days = last_inbound
        .map(|d| (now - d.with_timezone(&Utc)).num_seconds().max(0) as f64 / 86_400.0)
        .unwrap_or(0.0);
    // Rounded so reports read well and survive a JSON round trip bit for bit.
    let decay = round4(0.5f64.powf(age_days / scoring.half_life_days));

    // Signals: each rule counts once per lead, at its strongest; risk is never decayed.
    let mut best: BTreeMap<(Dimension, String), Contribution> = BTreeMap::new();
    let mut facts = Facts::default();
    let mut seller = None;
    let mut non_buyer = None;
    let mut fishing = None;
    let mut asks = None;
    let mut off_topic = None;
    // Bulk evidence also comes from flagged mail of the lead (a List-Unsubscribe header).
    let mut bulk = msgs
        .iter()
        .filter(|m| m.direction == Direction::In)
        .flat_map(|m| m.extraction.signals.iter())
        .find(|s| BULK_KINDS.contains(&s.kind.as_str()))
        .map(|s| s.evidence.clone());
    for m in msgs.iter().filter(|m| m.is_human_inbound()) {
        if let Some(c) = crate::extract::per_colour(&m.extraction.signals) {
            facts.per_colour = Some(facts.per_colour.map_or(c, |p: f64| p.max(c)));
        }
        for it in &m.extraction.items {
            let seen = facts.asks_for.iter().any(|o| {
                o.product == it.product && o.quantity == it.quantity && o.price == it.price
            });
            if !seen {
                facts.asks_for.push(it.clone());
            }
        }
        // Order value is judged per lead (quantities and prices often come in different
        // messages), so the extractor's per-message estimate is not counted here.
        for s in m
            .extraction
            .signals
            .iter()
            .filter(|s| !PER_MESSAGE_VALUE_KINDS.contains(&s.kind.as_str()))
        {
            let d = if s.dimension == Dimension::Risk {
                1.0
            } else {
                decay
            };
            let factor = learned.map_or(1.0, |l| l.rule_factor(&s.rule));
            let weight = s.weight * factor;
            let c = Contribution {
                dimension: s.dimension,
                points: weight * d,
                raw: weight,
                decay: d,
                rule: s.rule.clone(),
                kind: s.kind.clone(),
                evidence: s.evidence.clone(),
                message_id: Some(m.message_id.clone()),
                date: Some(m.date),
                subject: Some(m.subject.clone()),
                learned_factor: (factor != 1.0).then_some(factor),
            };
            let key = (s.dimension, s.rule.clone());
            // A rule that fired both ways (e.g. catalogue: our product named in one message, none
            // in a short follow-up) counts for its positive finding: a match seen once stays seen.
            let better = match best.get(&key) {
                None => true,
                Some(old) if (old.raw > 0.0) != (c.raw > 0.0) => c.raw > 0.0,
                Some(old) => c.raw.abs() > old.raw.abs(),
            };
            if better {
                best.insert(key, c);
            }
            if s.kind == "price_fishing" && fishing.is_none() {
                fishing = Some(s.evidence.clone());
            }
            if NON_BUYER_KINDS.contains(&s.kind.as_str()) && non_buyer.is_none() {
                non_buyer = Some(s.evidence.clone());
            }
            if SELLER_KINDS.contains(&s.kind.as_str()) && seller.is_none() {
                seller = Some(s.evidence.clone());
            }
            if BULK_KINDS.contains(&s.kind.as_str()) && bulk.is_none() {
                bulk = Some(s.evidence.clone());
            }
            if ASK_KINDS.contains(&s.kind.as_str()) && asks.is_none() {
                asks = Some(s.evidence.clone());
            }
            if s.kind == "asks_nothing" && off_topic.is_none() {
                off_topic = Some(s.evidence.clone());
            }
            collect_fact(
                &mut facts,
                s.kind.as_str(),
                s.value.as_ref(),
                &s.evidence,
                s.dimension,
            );
        }
    }
    facts.est_deal_value_usd = estimate_order_usd(&facts, &|a, c| settings.extractor.to_usd(a, c));
    let mut contributions: Vec<Contribution> = best.into_values().collect();

    // What only the history shows.
    let hist = history::analyse(&msgs, now);
    contributions.extend(history::contributions(&hist, decay));

    let mut reasons = Vec::new();
    let min_order = business.min_order_value_usd;
    let mut far_below_min = None;
    if let (Some(v), true) = (facts.est_deal_value_usd, min_order > 0.0) {
        let (points, text) = if v >= min_order {
            (
                0.5,
                format!(
                    "estimated order ~USD {} clears the minimum order USD {}",
                    fmt_usd(v),
                    fmt_usd(min_order)
                ),
            )
        } else if v >= min_order * FAR_BELOW_MIN {
            (
                -0.5,
                format!(
                    "estimated order ~USD {} is below the minimum order USD {}",
                    fmt_usd(v),
                    fmt_usd(min_order)
                ),
            )
        } else {
            far_below_min = Some(format!(
                "estimated order ~USD {} is far below the minimum order USD {}",
                fmt_usd(v),
                fmt_usd(min_order)
            ));
            (
                -1.5,
                format!(
                    "estimated order ~USD {} is far below the minimum order USD {}",
                    fmt_usd(v),
                    fmt_usd(min_order)
                ),
            )
        };
        contributions.push(Contribution {
            dimension: Dimension::Budget,
            points: points * decay,
            raw: points,
            decay,
            rule: "history.order_value".into(),
            kind: "order_value".into(),
            evidence: text,
            message_id: None,
            date: None,
            subject: None,
            learned_factor: None,
        });
    }

    apply_risk_corrections(&mut contributions, feedback);

    // Dimension values: baseline + evidence, clamped to 1..=5.
    let mut value: BTreeMap<Dimension, f64> =
        Dimension::ALL.iter().map(|d| (*d, baseline(*d))).collect();
    for c in &contributions {
        // Seller and bulk evidence is judged by the class steps, not as risk points.
        if judged_as_step(&c.kind) {
            continue;
        }
        if let Some(v) = value.get_mut(&c.dimension) {
            *v += c.points;
        }
    }
    // A dimension a person confirmed is solid (4), whatever the mail said; the top-up is its own
    // line of evidence, naming who confirmed it.
    for (d, by) in &feedback.confirmed {
        let Some(v) = value.get_mut(d) else { continue };
        let points = (CONFIRMED - *v).max(0.0);
        *v += points;
        contributions.push(correction_contribution(*d, points, "confirm", by));
    }
    let v = |d: Dimension| value.get(&d).copied().unwrap_or(1.0).clamp(1.0, 5.0);
    let card_of = |d: Dimension| v(d).round() as u8;
    let scorecard = Scorecard {
        need: card_of(Dimension::Need),
        budget: card_of(Dimension::Budget),
        authority: card_of(Dimension::Authority),
        timeline: card_of(Dimension::Timeline),
        engagement: card_of(Dimension::Engagement),
        fit: card_of(Dimension::Fit),
        risk: card_of(Dimension::Risk),
    };

    let weights =
        learned.map(|l| l.weights(&scoring.weights, settings.weight_floor, settings.weight_cap));
    let w = weights.as_ref().unwrap_or(&scoring.weights);
    if let Some(l) = learned {
        let mut rules: Vec<&str> = contributions
            .iter()
            .filter(|c| c.learned_factor.is_some())
            .map(|c| c.rule.as_str())
            .collect();
        rules.sort_unstable();
        rules.dedup();
        for r in rules {
            if let Some(lw) = l.rules.get(r) {
                learned_changes.push(format!(
                    "rule {r} ×{} ({})",
                    fmt_weight(lw.factor),
                    lw.reason
                ));
            }
        }
        for (d, lw) in &l.dimensions {
            learned_changes.push(format!(
                "weight {} {} → {} ({})",
                d.as_str(),
                fmt_weight(crate::vocab::weight_of(&scoring.weights, *d)),
                fmt_weight(crate::vocab::weight_of(w, *d)),
                lw.reason
            ));
        }
    }
    let score = weighted_score(&v, w).round() as u8;

    // Class: the named steps of `class::decide` over what the evidence says.
    let risk_total: f64 = contributions
        .iter()
        .filter(|c| c.dimension == Dimension::Risk && !judged_as_step(&c.kind))
        .map(|c| c.raw.max(0.0))
        .sum();
    let top = |d: Dimension| {
        contributions
            .iter()
            .filter(|c| c.dimension == d && c.points > 0.0)
            .filter(|c| !judged_as_step(&c.kind))
            .max_by(|a, b| a.points.total_cmp(&b.points))
            .map(|c| c.evidence.clone())
    };
    let worst = |d: Dimension| {
        contributions
            .iter()
            .filter(|c| c.dimension == d && c.points < 0.0)
            .min_by(|a, b| a.points.total_cmp(&b.points))
            .map(|c| c.evidence.clone())
    };
    let has_kind = |kinds: &[&str]| {
        contributions
            .iter()
            .find(|c| kinds.contains(&c.kind.as_str()) && c.raw != 0.0)
            .map(|c| c.evidence.clone())
    };
    // The buyer says outright that the goods are not ours ("only solar panels, not lights").
    let not_our_line = contributions.iter().any(|c| {
        c.dimension == Dimension::Fit && c.points < 0.0 && MISMATCH_KINDS.contains(&c.kind.as_str())
    });
    let solid = [Dimension::Budget, Dimension::Authority, Dimension::Timeline]
        .iter()
        .filter(|d| v(**d) >= 3.5)
        .count();
    // A handful of pieces for a private person: not worth an exporter's time, unless a price or a
    // decision-maker says otherwise.
    let units: f64 = facts.quantities.iter().map(|q| q.amount).sum();
    let presents_a_business = contributions
        .iter()
        .any(|c| c.dimension == Dimension::Fit && c.points > 0.0 && c.kind != "product_match");
    let private_order = (lead.contains('@')
        && !presents_a_business
        && facts.quantities.len() <= 2
        && units > 0.0
        && units <= PRIVATE_ORDER_UNITS
        && facts.money.is_empty()
        && v(Dimension::Authority) < 3.5)
        .then_some(units);
    // The catalogue line that counted (positive beats negative across messages).
    let not_ours = contributions
        .iter()
        .find(|c| c.rule == "catalogue" && c.dimension == Dimension::Fit && c.kind == "not_ours")
        .map(|c| c.evidence.clone());
    let ours_item = facts
        .asks_for
        .iter()
        .any(|i| i.fit == crate::extract::items::Fit::Ours && i.quantity.is_some());
    // Anything of our catalogue named in the lead's words: an item, or a product need.
    let names_ours = !facts.products.is_empty()
        || facts
            .asks_for
            .iter()
            .any(|i| i.fit == crate::extract::items::Fit::Ours);
    let judgement = class::Judgement {
        marked_scam: feedback.scam.as_ref().map(|by| by.provenance()),
        risk_total,
        risk_card: scorecard.risk,
        top_risk: top(Dimension::Risk),
        seller,
        bulk,
        buyer_intent: ours_item || has_kind(BUYER_KINDS).is_some(),
        names_ours,
        catalogue_known: !business.products.is_empty(),
        asks,
        off_topic,
        we_wrote: msgs.iter().any(|m| m.direction == Direction::Out),
        subject: msgs
            .iter()
            .find(|m| m.is_human_inbound())
            .map(|m| m.subject.clone()),
        non_buyer,
        not_ours,
        stated_mismatch: (v(Dimension::Fit) < 1.5 && not_our_line)
            .then(|| worst(Dimension::Fit).unwrap_or_default()),
        far_below_min,
        fishing,
        has_quantity: !facts.quantities.is_empty(),
        solid,
        private_units: private_order,
        not_now: has_kind(NOT_NOW_KINDS),
        score: f64::from(score),
        need: v(Dimension::Need),
    };
    let thresholds = class::Thresholds {
        hot: scoring.hot_threshold,
        drop: scoring.drop_threshold,
    };
    let (class, why) = class::decide(&judgement, thresholds);
    let steps = trace::trace(&judgement, thresholds);
    reasons.push(why);
    // A class set by hand holds until a person changes it; the automatic one stays beside it.
    let (class, auto_class, manual) = match &feedback.class {
        Some((manual, by)) => {
            reasons.insert(
                0,
                format!(
                    "set to {} by hand: {}{}",
                    manual.as_str(),
                    by.provenance(),
                    if *manual == class {
                        String::new()
                    } else {
                        format!(" (automatic: {})", class.as_str())
                    }
                ),
            );
            (*manual, Some(class), Some(by.clone()))
        }
        None => (class, None, None),
    };
    if decay < 0.5 {
        reasons.push(format!(
            "silent for {} days: evidence decayed to {:.0}%",
            age_days.floor(),
            decay * 100.0
        ));
    }
    for d in [
        Dimension::Need,
        Dimension::Budget,
        Dimension::Authority,
        Dimension::Timeline,
    ] {
        if let Some(e) = top(d) {
            reasons.push(format!("{}: \"{}\"", d.as_str(), e));
        }
    }

    let mut contacts: Vec<String> = msgs
        .iter()
        .filter(|m| m.direction == Direction::In)
        .filter_map(|m| m.from.clone())
        .filter(|a| group::lead_key_matches(a, lead))
        .collect();
    contacts.sort();
    contacts.dedup();
    facts.products.sort();
    facts.products.dedup();

    for c in &mut contributions {
        c.points = round4(c.points);
    }
    contributions.sort_by(|a, b| {
        a.dimension
            .cmp(&b.dimension)
            .then_with(|| b.points.abs().total_cmp(&a.points.abs()))
            .then_with(|| a.rule.cmp(&b.rule))
    });

    LeadReport {
        lead: lead.to_string(),
        class,
        score,
        scorecard,
        contacts,
        messages: msgs.len(),
        last_inbound,
        waiting_on_us: hist.waiting_since.is_some(),
        waiting_since: hist.waiting_since,
        subject: msgs
            .iter()
            .find(|m| m.is_human_inbound())
            .map(|m| m.subject.clone()),
        facts,
        reasons,
        steps,
        decay,
        contributions,
        auto_class,
        manual,
        corrections: feedback.history.clone(),
        learned: learned
            .filter(|_| !learned_changes.is_empty())
            .map(|l| LearnedUse {
                set_id: l.set_id,
                applied_at: l.applied_at,
                changes: learned_changes,
            }),
    }
}

/// The 0–100 score from dimension values `v` (1–5) and weights: the weighted share of the positive
/// dimensions' distance from 1, minus the risk weight × risk's distance from 1.
pub fn weighted_score(v: &dyn Fn(Dimension) -> f64, w: &crate::vocab::Weights) -> f64 {
    let positive = [
        (Dimension::Need, w.need),
        (Dimension::Budget, w.budget),
        (Dimension::Authority, w.authority),
        (Dimension::Timeline, w.timeline),
        (Dimension::Engagement, w.engagement),
        (Dimension::Fit, w.fit),
    ];
    let total_w: f64 = positive
        .iter()
        .map(|(_, w)| w)
        .sum::<f64>()
        .max(f64::EPSILON);
    let pos: f64 = positive
        .iter()
        .map(|(d, w)| w * (v(*d) - 1.0) / 4.0)
        .sum::<f64>()
        / total_w
        * 100.0;
    (pos - w.risk * (v(Dimension::Risk) - 1.0) / 4.0).clamp(0.0, 100.0)
}

/// Where a confirmed dimension stands at least.
const CONFIRMED: f64 = 4.0;

/// A scorecard line that comes from a person, not from the mail.
fn correction_contribution(
    dimension: Dimension,
    points: f64,
    what: &str,
    by: &Correction,
) -> Contribution {
    Contribution {
        dimension,
        points,
        raw: points,
        decay: 1.0,
        rule: format!("feedback.{what}"),
        kind: "correction".into(),
        evidence: by.provenance(),
        message_id: by.message_id.clone(),
        date: Some(by.at.fixed_offset()),
        subject: None,
        learned_factor: None,
    }
}

/// `scam` adds a risk line strong enough to drop the lead; `not-scam` sets the risk signals aside
/// (kept as one zero-point line quoting what was cleared, so the explanation still shows them).
fn apply_risk_corrections(contributions: &mut Vec<Contribution>, feedback: &LeadFeedback) {
    if let Some(by) = &feedback.scam {
        contributions.push(correction_contribution(Dimension::Risk, 4.0, "scam", by));
    } else if let Some(by) = &feedback.not_scam {
        let cleared: Vec<String> = contributions
            .iter()
            .filter(|c| c.dimension == Dimension::Risk && c.raw > 0.0)
            .map(|c| format!("\"{}\"", c.evidence))
            .collect();
        contributions.retain(|c| !(c.dimension == Dimension::Risk && c.raw > 0.0));
        let mut c = correction_contribution(Dimension::Risk, 0.0, "not_scam", by);
        if !cleared.is_empty() {
            c.evidence = format!("{}; cleared: {}", c.evidence, cleared.join(", "));
        }
        contributions.push(c);
    }
}

fn fmt_weight(w: f64) -> String {
    let r = (w * 100.0).round() / 100.0;
    if r.fract() == 0.0 {
        format!("{r:.0}")
    } else {
        format!("{r}")
    }
}

fn collect_fact(
    facts: &mut Facts,
    kind: &str,
    value: Option<&Value>,
    evidence: &str,
    dim: Dimension,
) {
    match value {
        Some(Value::Quantity { amount, unit }) if kind == "quantity" => {
            let q = Quantity {
                amount: *amount,
                unit: unit.clone(),
            };
            if !facts.quantities.contains(&q) {
                facts.quantities.push(q);
            }
        }
        Some(Value::Money {
            amount,
            currency,
            per_unit,
        }) if kind == "money" => {
            let m = Money {
                amount: *amount,
                currency: currency.clone(),
                per_unit: *per_unit,
            };
            if !facts.money.contains(&m) {
                facts.money.push(m);
            }
        }
        Some(Value::Deadline { date }) if kind == "deadline" => {
            // The earliest stated date is the one that binds.
            facts.deadline = Some(facts.deadline.map_or(*date, |d| d.min(*date)));
        }
        _ if dim == Dimension::Need && kind.contains("product") => {
            facts.products.push(evidence.to_string());
        }
        _ => {}
    }
}

fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

/// The lead's order value in USD (see [`crate::extract::values::order_value`]): stated totals,
/// the items' own quantity × unit price, or the ordered quantity × the typical unit price.
pub fn estimate_order_usd(facts: &Facts, to_usd: &dyn Fn(f64, &str) -> Option<f64>) -> Option<f64> {
    let qtys: Vec<(f64, &str)> = facts
        .quantities
        .iter()
        .map(|q| (q.amount, q.unit.as_str()))
        .collect();
    let amounts: Vec<(f64, bool)> = facts
        .money
        .iter()
        .filter_map(|m| Some((to_usd(m.amount, &m.currency)?, m.per_unit)))
        .collect();
    let item_values = crate::extract::items::item_values(&facts.asks_for, to_usd);
    crate::extract::values::order_value(&qtys, &amounts, item_values, facts.per_colour)
}

pub fn fmt_usd(v: f64) -> String {
    let n = v.round() as i64;
    let s = n.abs().to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

/// Scores every lead found in `messages`, sorted by class then score (best first) then name.
pub fn score_all<'a>(
    messages: &[MessageView],
    settings: impl Into<Context<'a>>,
    now: DateTime<Utc>,
) -> Vec<LeadReport> {
    score_all_with(messages, settings, &BTreeMap::new(), None, now)
}

/// [`score_all`] with each lead's corrections and the learned weights.
pub fn score_all_with<'a>(
    messages: &[MessageView],
    settings: impl Into<Context<'a>>,
    feedback: &BTreeMap<String, LeadFeedback>,
    learned: Option<&Learned>,
    now: DateTime<Utc>,
) -> Vec<LeadReport> {
    let settings: Context<'_> = settings.into();
    let groups = group::group(messages, settings);
    let none = LeadFeedback::default();
    let mut out: Vec<LeadReport> = groups
        .iter()
        .map(|(lead, idx)| {
            let ms: Vec<&MessageView> = idx.iter().map(|&i| &messages[i]).collect();
            let fb = feedback.get(lead).unwrap_or(&none);
            score_lead_with(lead, &ms, settings, fb, learned, now)
        })
        .collect();
    sort_reports(&mut out);
    out
}

pub fn sort_reports(out: &mut [LeadReport]) {
    out.sort_by(|a, b| {
        a.class
            .cmp(&b.class)
            .then(b.score.cmp(&a.score))
            .then_with(|| a.lead.cmp(&b.lead))
    });
}

/// Flags that keep a message out of engagement and signals (re-exported for callers).
pub fn flag_names(flags: &[Flag]) -> Vec<&'static str> {
    flags
        .iter()
        .map(|f| match f {
            Flag::AutoReply => "auto_reply",
            Flag::Bounce => "bounce",
            Flag::Bulk => "bulk",
        })
        .collect()
}
