//! Learning from corrections, like SpamAssassin's mass-check: on the leads people classed by hand
//! (hot, or dropped — a scam mark counts as dropped), how often each rule fired, and which rule and
//! dimension weights separate the two better. Pure: reports in, statistics and proposals out.
//!
//! - Rules: a rule's precision is the share of its labelled leads that went the way its sign
//!   points (hot for a positive rule, dropped for a negative or risk rule), smoothed (+1/+2) so a
//!   handful of firings says little. Its factor moves from 1 by how much that precision beats or
//!   trails the share of that class among all labelled leads, within [floor, cap], and only for
//!   rules that fired on at least [`MIN_FIRINGS`] labelled leads.
//! - Dimensions: a coordinate search over each weight (floor…cap × the configured one) for the
//!   weights whose scores rank the hot leads above the dropped ones best (the AUC), preferring the
//!   configured weight on ties.

use std::collections::BTreeMap;

use serde::Serialize;

use super::settings::FeedbackSettings;
use super::{Label, Learned, LearnedWeight, set_weight, weight_of};
use crate::score::{Class, LeadReport};
use crate::vocab::{Dimension, Weights};

/// A rule must have fired on this many labelled leads before its weight is learned.
pub const MIN_FIRINGS: usize = 5;

/// Factors closer to 1 than this are left alone: not worth a change nobody can explain.
const MIN_CHANGE: f64 = 0.05;

/// How a person classed a lead.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Hot,
    Nurture,
    Dropped,
}

/// The person's verdict on a lead, if any: a class set by hand, or else a scam mark (dropped). A
/// scam mark made after a hand-set class has ended it (see [`super::fold`]).
pub fn verdict(r: &LeadReport) -> Option<Verdict> {
    let scam = r
        .corrections
        .iter()
        .rev()
        .find(|c| matches!(c.label, Label::Scam | Label::NotScam | Label::ClearRisk))
        .is_some_and(|c| c.label == Label::Scam);
    match r.manual.as_ref().map(|_| r.class) {
        Some(Class::Hot) => Some(Verdict::Hot),
        Some(Class::Drop) => Some(Verdict::Dropped),
        _ if scam => Some(Verdict::Dropped),
        Some(Class::Nurture) => Some(Verdict::Nurture),
        None => None,
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RuleStat {
    pub rule: String,
    pub dimension: Dimension,
    /// +1 when the rule speaks for the lead (a positive, non-risk weight), -1 against it.
    pub sign: i8,
    pub hot: usize,
    pub nurture: usize,
    pub dropped: usize,
    /// Smoothed share of its hot+dropped leads that went the rule's way; None below MIN_FIRINGS.
    pub precision: Option<f64>,
    /// The factor in force now (1 when nothing was learned).
    pub current: f64,
    /// The factor `--apply` would set, when it differs from 1 by at least MIN_CHANGE.
    pub proposed: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DimensionFit {
    pub dimension: Dimension,
    pub configured: f64,
    pub current: f64,
    pub proposed: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LearnReport {
    pub hot: usize,
    pub nurture: usize,
    pub dropped: usize,
    pub min_leads_per_class: u32,
    /// Enough hot and dropped leads for `--apply`.
    pub enough: bool,
    pub rules: Vec<RuleStat>,
    pub dimensions: Vec<DimensionFit>,
    /// How well the scores rank hot above dropped (share of pairs), with the current weights and
    /// with the proposed ones. None without both classes.
    pub auc_current: Option<f64>,
    pub auc_proposed: Option<f64>,
    /// The same with the configured weights (where the search starts).
    pub auc_configured: Option<f64>,
}

/// One labelled lead, reduced to what learning needs.
struct Sample {
    verdict: Verdict,
    /// Dimension values before clamping, per dimension (baseline + points).
    values: BTreeMap<Dimension, f64>,
    /// Rule → (its first dimension, its sign). A rule that feeds two dimensions (a catalogue match
    /// counts for need and fit) fired once: one factor covers both.
    rules: BTreeMap<String, (Dimension, i8)>,
}

fn sample(r: &LeadReport, verdict: Verdict) -> Sample {
    let mut values: BTreeMap<Dimension, f64> = crate::score::BASELINE.iter().copied().collect();
    let mut rules = BTreeMap::new();
    for c in &r.contributions {
        // What people said is the answer, not a feature: leave their corrections out.
        if c.kind == "correction" {
            continue;
        }
        if let Some(v) = values.get_mut(&c.dimension) {
            *v += c.points;
        }
        // Pattern rules only: history lines are not rules one can weigh.
        if c.rule.starts_with("history.") {
            continue;
        }
        let sign = if c.dimension == Dimension::Risk || c.raw < 0.0 {
            -1
        } else {
            1
        };
        rules.entry(c.rule.clone()).or_insert((c.dimension, sign));
    }
    Sample {
        verdict,
        values,
        rules,
    }
}

/// The 0–100 score of a sample under `w` (scoring's own formula).
fn score(s: &Sample, w: &Weights) -> f64 {
    let v = |d: Dimension| s.values.get(&d).copied().unwrap_or(1.0).clamp(1.0, 5.0);
    crate::score::weighted_score(&v, w)
}

/// Share of (hot, dropped) pairs the scores put in the right order (ties count half).
fn auc(samples: &[Sample], w: &Weights) -> Option<f64> {
    let hot: Vec<f64> = samples
        .iter()
        .filter(|s| s.verdict == Verdict::Hot)
        .map(|s| score(s, w))
        .collect();
    let dropped: Vec<f64> = samples
        .iter()
        .filter(|s| s.verdict == Verdict::Dropped)
        .map(|s| score(s, w))
        .collect();
    if hot.is_empty() || dropped.is_empty() {
        return None;
    }
    let mut right = 0.0;
    for h in &hot {
        for d in &dropped {
            right += if h > d {
                1.0
            } else if h == d {
                0.5
            } else {
                0.0
            };
        }
    }
    Some(right / (hot.len() * dropped.len()) as f64)
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// Statistics and proposals from the current reports (scored with the weights in force).
pub fn analyse(
    reports: &[LeadReport],
    configured: &Weights,
    current: Option<&Learned>,
    fb: &FeedbackSettings,
) -> LearnReport {
    let samples: Vec<Sample> = reports
        .iter()
        .filter_map(|r| verdict(r).map(|v| sample(r, v)))
        .collect();
    let count = |v: Verdict| samples.iter().filter(|s| s.verdict == v).count();
    let (hot, nurture, dropped) = (
        count(Verdict::Hot),
        count(Verdict::Nurture),
        count(Verdict::Dropped),
    );
    let min = fb.min_leads_per_class as usize;
    let (floor, cap) = (fb.weight_floor, fb.weight_cap);

    // Rules.
    // Rule → (dimension, sign) as first seen, and its hot / nurture / dropped counts.
    type Counts = ((Dimension, i8), (usize, usize, usize));
    let mut stats: BTreeMap<String, Counts> = BTreeMap::new();
    for s in &samples {
        for (rule, how) in &s.rules {
            let e = &mut stats.entry(rule.clone()).or_insert((*how, (0, 0, 0))).1;
            match s.verdict {
                Verdict::Hot => e.0 += 1,
                Verdict::Nurture => e.1 += 1,
                Verdict::Dropped => e.2 += 1,
            }
        }
    }
    let labelled = (hot + dropped).max(1) as f64;
    let mut rules: Vec<RuleStat> = stats
        .into_iter()
        .map(|(rule, ((dimension, sign), (h, n, d)))| {
            let current_factor = current.map_or(1.0, |l| l.rule_factor(&rule));
            let (good, prior) = if sign > 0 {
                (h, hot as f64 / labelled)
            } else {
                (d, dropped as f64 / labelled)
            };
            let (precision, proposed) = if h + d >= MIN_FIRINGS {
                let p = (good as f64 + 1.0) / ((h + d) as f64 + 2.0);
                let f = round2((1.0 + (p - prior)).clamp(floor, cap));
                (Some(p), ((f - 1.0).abs() >= MIN_CHANGE).then_some(f))
            } else {
                (None, None)
            };
            RuleStat {
                rule,
                dimension,
                sign,
                hot: h,
                nurture: n,
                dropped: d,
                precision: precision.map(round2),
                current: current_factor,
                proposed,
            }
        })
        .collect();
    rules.sort_by(|a, b| {
        (b.hot + b.dropped + b.nurture)
            .cmp(&(a.hot + a.dropped + a.nurture))
            .then_with(|| a.rule.cmp(&b.rule))
    });

    // Dimensions: coordinate search from the configured weights.
    let now_weights =
        current.map_or_else(|| configured.clone(), |l| l.weights(configured, floor, cap));
    let auc_current = auc(&samples, &now_weights);
    let mut best = configured.clone();
    let mut best_auc = auc(&samples, &best);
    let auc_configured = best_auc;
    const STEPS: [f64; 9] = [0.5, 0.6, 0.75, 0.9, 1.0, 1.1, 1.25, 1.5, 2.0];
    if best_auc.is_some() {
        for _ in 0..2 {
            for d in Dimension::ALL {
                let base = weight_of(configured, d);
                for step in STEPS {
                    let x = round2((base * step).clamp(base * floor, base * cap));
                    let mut w = best.clone();
                    set_weight(&mut w, d, x);
                    let a = auc(&samples, &w);
                    // Strictly better only: ties keep what is closer to the configuration.
                    if a > best_auc.map(|b| b + 1e-9) {
                        best_auc = a;
                        best = w;
                    }
                }
            }
        }
    }
    let dimensions = Dimension::ALL
        .iter()
        .map(|&d| DimensionFit {
            dimension: d,
            configured: weight_of(configured, d),
            current: weight_of(&now_weights, d),
            proposed: weight_of(&best, d),
        })
        .collect();

    LearnReport {
        hot,
        nurture,
        dropped,
        min_leads_per_class: fb.min_leads_per_class,
        enough: hot >= min && dropped >= min,
        rules,
        dimensions,
        auc_current: auc_current.map(round2),
        auc_proposed: best_auc.map(round2),
        auc_configured: auc_configured.map(round2),
    }
}

/// The weights `--apply` stores: every proposed rule factor and every dimension weight that
/// differs from the configured one, each with the reason.
pub fn proposal(r: &LearnReport) -> (Vec<LearnedWeight>, Vec<LearnedWeight>) {
    let rules = r
        .rules
        .iter()
        .filter_map(|s| {
            s.proposed.map(|f| LearnedWeight {
                name: s.rule.clone(),
                factor: f,
                previous: s.current,
                reason: format!(
                    "fired on {} hot, {} dropped, {} nurture lead(s) classed by hand; precision {:.2}",
                    s.hot,
                    s.dropped,
                    s.nurture,
                    s.precision.unwrap_or(0.0)
                ),
            })
        })
        .collect();
    let dims = r
        .dimensions
        .iter()
        .filter(|d| (d.proposed - d.configured).abs() > 1e-9)
        .map(|d| LearnedWeight {
            name: d.dimension.as_str().to_string(),
            factor: d.proposed,
            previous: d.current,
            reason: format!(
                "ranks hand-classed hot above dropped leads better than the configured weights (AUC {} → {})",
                r.auc_configured.map_or("-".into(), |a| format!("{a:.2}")),
                r.auc_proposed.map_or("-".into(), |a| format!("{a:.2}"))
            ),
        })
        .collect();
    (rules, dims)
}

/// The `learn --report` text.
pub fn report_text(r: &LearnReport) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "leads classed by hand: {} hot, {} nurture, {} dropped (scam marks count as dropped)",
        r.hot, r.nurture, r.dropped
    );
    let _ = writeln!(
        out,
        "{}",
        if r.enough {
            format!(
                "enough to learn from (at least {} hot and {} dropped): `leadsift learn --apply` stores the proposals below",
                r.min_leads_per_class, r.min_leads_per_class
            )
        } else {
            format!(
                "not enough to learn from yet: --apply needs at least {} hot and {} dropped leads ([feedback] min_leads_per_class)",
                r.min_leads_per_class, r.min_leads_per_class
            )
        }
    );
    let _ = writeln!(
        out,
        "\n{:<40} {:<10} {:>4} {:>4} {:>4} {:>4}  {:>9}  {:>7}  {:>8}",
        "RULE", "DIMENSION", "SIGN", "HOT", "NUR", "DROP", "PRECISION", "CURRENT", "PROPOSED"
    );
    for s in &r.rules {
        let _ = writeln!(
            out,
            "{:<40} {:<10} {:>4} {:>4} {:>4} {:>4}  {:>9}  {:>7.2}  {:>8}",
            s.rule,
            s.dimension.as_str(),
            if s.sign > 0 { "+" } else { "-" },
            s.hot,
            s.nurture,
            s.dropped,
            s.precision.map_or("-".into(), |p| format!("{p:.2}")),
            s.current,
            s.proposed.map_or("-".into(), |p| format!("×{p:.2}")),
        );
    }
    let _ = writeln!(
        out,
        "\nrules need {MIN_FIRINGS} hand-classed hot/dropped leads before their weight is learned."
    );
    let _ = writeln!(
        out,
        "\ndimension weights (AUC: share of hot/dropped pairs ranked right; now {}, proposed {}):",
        r.auc_current.map_or("-".into(), |a| format!("{a:.2}")),
        r.auc_proposed.map_or("-".into(), |a| format!("{a:.2}"))
    );
    for d in &r.dimensions {
        let _ = writeln!(
            out,
            "  {:<10} configured {:>6.2}  now {:>6.2}  proposed {:>6.2}{}",
            d.dimension.as_str(),
            d.configured,
            d.current,
            d.proposed,
            if (d.proposed - d.current).abs() > 1e-9 {
                "  *"
            } else {
                ""
            }
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::feedback::{Correction, Source};
    use crate::score::{Contribution, Facts, Scorecard};

    fn contribution(rule: &str, d: Dimension, points: f64) -> Contribution {
        Contribution {
            dimension: d,
            points,
            raw: points,
            decay: 1.0,
            rule: rule.into(),
            kind: "k".into(),
            evidence: "e".into(),
            message_id: None,
            date: None,
            subject: None,
            learned_factor: None,
        }
    }

    fn report(lead: &str, manual: Option<Class>, rules: &[(&str, Dimension, f64)]) -> LeadReport {
        let by = |label: Label| Correction {
            id: 1,
            lead: lead.into(),
            label,
            source: Source::Cli,
            message_id: None,
            person: "ann".into(),
            at: chrono::DateTime::UNIX_EPOCH,
            note: None,
        };
        LeadReport {
            lead: lead.into(),
            class: manual.unwrap_or(Class::Nurture),
            score: 50,
            scorecard: Scorecard {
                need: 3,
                budget: 3,
                authority: 3,
                timeline: 3,
                engagement: 3,
                fit: 3,
                risk: 1,
            },
            contacts: vec![],
            messages: 1,
            last_inbound: None,
            waiting_on_us: false,
            waiting_since: None,
            subject: None,
            facts: Facts::default(),
            reasons: vec![],
            steps: vec![],
            decay: 1.0,
            contributions: rules
                .iter()
                .map(|(r, d, p)| contribution(r, *d, *p))
                .collect(),
            auto_class: manual.map(|_| Class::Nurture),
            manual: manual.map(|c| by(Label::Class(c))),
            corrections: manual
                .map(|c| vec![by(Label::Class(c))])
                .unwrap_or_default(),
            learned: None,
        }
    }

    fn settings(min: u32) -> FeedbackSettings {
        FeedbackSettings {
            min_leads_per_class: min,
            ..Default::default()
        }
    }

    #[test]
    fn counts_precision_and_bounded_factors() {
        let mut reports = Vec::new();
        // "budget.good" fires on 6 hot and 0 dropped; "need.noise" on 3 hot and 5 dropped;
        // "risk.x" on 6 dropped; "rare" twice; an unlabelled lead is ignored.
        for i in 0..6 {
            reports.push(report(
                &format!("h{i}"),
                Some(Class::Hot),
                &[
                    ("budget.good", Dimension::Budget, 1.5),
                    ("need.noise", Dimension::Need, 1.0),
                    ("rare", Dimension::Fit, 1.0),
                ][..if i < 3 { 3 } else { 1 }],
            ));
        }
        for i in 0..6 {
            reports.push(report(
                &format!("d{i}"),
                Some(Class::Drop),
                &[
                    ("risk.x", Dimension::Risk, 2.0),
                    ("need.noise", Dimension::Need, 1.0),
                ][..if i < 5 { 2 } else { 1 }],
            ));
        }
        reports.push(report(
            "u",
            None,
            &[("budget.good", Dimension::Budget, 1.5)],
        ));
        let r = analyse(&reports, &Weights::default(), None, &settings(6));
        assert_eq!((r.hot, r.dropped, r.nurture), (6, 6, 0));
        assert!(r.enough);
        let get = |name: &str| r.rules.iter().find(|s| s.rule == name).unwrap().clone();
        let good = get("budget.good");
        assert_eq!((good.hot, good.dropped), (6, 0));
        assert_eq!(good.precision, Some(0.88)); // (6+1)/(6+2)
        assert_eq!(good.proposed, Some(1.38)); // 1 + 0.875 - 0.5
        let noise = get("need.noise");
        assert_eq!((noise.hot, noise.dropped), (3, 5));
        assert_eq!(noise.proposed, Some(0.9)); // 1 + 0.4 - 0.5
        let risk = get("risk.x");
        assert_eq!((risk.sign, risk.dropped), (-1, 6));
        assert!(risk.proposed.is_some_and(|f| f > 1.0));
        assert_eq!(get("rare").proposed, None, "fired on 3 labelled leads only");
        // Bounds hold even for a perfect rule.
        let mut tight = settings(1);
        tight.weight_cap = 1.2;
        tight.weight_floor = 0.95;
        let r2 = analyse(&reports, &Weights::default(), None, &tight);
        for s in &r2.rules {
            if let Some(f) = s.proposed {
                assert!((0.95..=1.2).contains(&f), "{} {f}", s.rule);
            }
        }
        for d in &r2.dimensions {
            assert!(
                d.proposed >= d.configured * 0.95 - 1e-9 && d.proposed <= d.configured * 1.2 + 1e-9
            );
        }
        // The dimension search never makes the ranking worse.
        assert!(
            r.auc_proposed
                >= auc(
                    &reports
                        .iter()
                        .filter_map(|x| verdict(x).map(|v| sample(x, v)))
                        .collect::<Vec<_>>(),
                    &Weights::default()
                )
                .map(round2)
        );
        let (rules, dims) = proposal(&r);
        assert!(
            rules
                .iter()
                .any(|w| w.name == "budget.good" && w.factor == 1.38)
        );
        assert!(dims.iter().all(|w| w.reason.contains("AUC")));
    }

    #[test]
    fn too_few_corrections_are_not_enough() {
        let reports = vec![
            report("h", Some(Class::Hot), &[]),
            report("d", Some(Class::Drop), &[]),
        ];
        let r = analyse(&reports, &Weights::default(), None, &settings(20));
        assert!(!r.enough);
        assert!(report_text(&r).contains("not enough"));
    }
}
