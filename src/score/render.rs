//! Text, JSON and CSV views of lead reports: what `leads` and `explain` print. Pure.

use std::fmt::Write as _;

use serde_json::json;

use super::{Class, LeadReport};
use crate::vocab::Dimension;

fn short(s: &str, n: usize) -> String {
    let s: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if s.chars().count() <= n {
        s
    } else {
        let mut t: String = s.chars().take(n.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

/// The JSON document of one lead, in the shape tools outside the project read.
pub fn lead_json(r: &LeadReport) -> serde_json::Value {
    json!({
        "lead": r.lead,
        "class": r.class,
        "score": r.score,
        "scorecard": r.scorecard,
        "contacts": r.contacts,
        "messages": r.messages,
        "last_inbound": r.last_inbound.map(|d| d.to_rfc3339()),
        "waiting_on_us": r.waiting_on_us,
        "waiting_since": r.waiting_since.map(|d| d.to_rfc3339()),
        "subject": r.subject,
        "facts": r.facts,
        "reasons": r.reasons,
        "manual": r.manual.is_some(),
        "auto_class": r.auto_class.unwrap_or(r.class),
        "set_by": r.manual,
        "corrections": r.corrections,
        "learned": r.learned,
    })
}

pub fn leads_table(reports: &[LeadReport]) -> String {
    let mut out = String::new();
    let cells: Vec<String> = reports.iter().map(class_cell).collect();
    let cw = cells
        .iter()
        .map(|c| c.chars().count())
        .max()
        .unwrap_or(0)
        .max(8);
    let _ = writeln!(
        out,
        "{:<cw$} {:>5}  {:<32} {:<13} {:>4}  {:<10} {:<4} WHY",
        "CLASS", "SCORE", "LEAD", "N B A T E F R", "MSGS", "LAST IN", "WAIT"
    );
    for (r, cell) in reports.iter().zip(&cells) {
        let c = &r.scorecard;
        let _ = writeln!(
            out,
            "{:<cw$} {:>5}  {:<32} {} {} {} {} {} {} {} {:>4}  {:<10} {:<4} {}",
            cell,
            r.score,
            short(&r.lead, 32),
            c.need,
            c.budget,
            c.authority,
            c.timeline,
            c.engagement,
            c.fit,
            c.risk,
            r.messages,
            r.last_inbound
                .map(|d| d.format("%Y-%m-%d").to_string())
                .unwrap_or_else(|| "-".into()),
            if r.waiting_on_us { "yes" } else { "" },
            short(r.reasons.first().map(String::as_str).unwrap_or(""), 70),
        );
    }
    let count = |k: Class| reports.iter().filter(|r| r.class == k).count();
    let _ = writeln!(
        out,
        "{} leads: {} hot, {} nurture, {} drop",
        reports.len(),
        count(Class::Hot),
        count(Class::Nurture),
        count(Class::Drop)
    );
    if reports.iter().any(|r| r.manual.is_some()) {
        let _ = writeln!(
            out,
            "* class set by hand (`leadsift explain LEAD` says who and when)"
        );
    }
    out
}

/// "hot", "hot*" (set by hand, as automatic) or "hot* (auto nurture)" (by hand, differs).
fn class_cell(r: &LeadReport) -> String {
    match (&r.manual, r.auto_class) {
        (Some(_), Some(a)) if a != r.class => {
            format!("{}* (auto {})", r.class.as_str(), a.as_str())
        }
        (Some(_), _) => format!("{}*", r.class.as_str()),
        _ => r.class.as_str().to_string(),
    }
}

pub fn leads_csv(reports: &[LeadReport]) -> anyhow::Result<String> {
    leads_csv_with_owner(reports, &|_| None)
}

/// The CSV of `leads --csv`, with each lead's owner (a colleague's address) in the last column.
pub fn leads_csv_with_owner(
    reports: &[LeadReport],
    owner_of: &dyn Fn(&str) -> Option<String>,
) -> anyhow::Result<String> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "lead",
        "class",
        "score",
        "need",
        "budget",
        "authority",
        "timeline",
        "engagement",
        "fit",
        "risk",
        "contacts",
        "messages",
        "last_inbound",
        "waiting_on_us",
        "products",
        "quantities",
        "deadline",
        "money",
        "est_deal_value_usd",
        "reasons",
        "auto_class",
        "set_by",
        "owner",
    ])?;
    for r in reports {
        let c = &r.scorecard;
        let f = &r.facts;
        w.write_record([
            r.lead.clone(),
            r.class.as_str().to_string(),
            r.score.to_string(),
            c.need.to_string(),
            c.budget.to_string(),
            c.authority.to_string(),
            c.timeline.to_string(),
            c.engagement.to_string(),
            c.fit.to_string(),
            c.risk.to_string(),
            r.contacts.join("; "),
            r.messages.to_string(),
            r.last_inbound.map(|d| d.to_rfc3339()).unwrap_or_default(),
            r.waiting_on_us.to_string(),
            f.products.join("; "),
            f.quantities
                .iter()
                .map(|q| format!("{} {}", q.amount, q.unit))
                .collect::<Vec<_>>()
                .join("; "),
            f.deadline.map(|d| d.to_string()).unwrap_or_default(),
            f.money
                .iter()
                .map(|m| format!("{} {}", m.amount, m.currency))
                .collect::<Vec<_>>()
                .join("; "),
            f.est_deal_value_usd
                .map(|v| format!("{v:.0}"))
                .unwrap_or_default(),
            r.reasons.join(" | "),
            r.auto_class.unwrap_or(r.class).as_str().to_string(),
            r.manual
                .as_ref()
                .map(|c| c.provenance())
                .unwrap_or_default(),
            owner_of(&r.lead).unwrap_or_default(),
        ])?;
    }
    Ok(String::from_utf8(w.into_inner()?)?)
}

/// The points table of one lead, like SpamAssassin's report: every contribution with its evidence.
pub fn explain_text(r: &LeadReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}  —  {} (score {}/100)",
        r.lead,
        r.class_label().to_uppercase(),
        r.score
    );
    // What they want comes first: each requested item, whether it is ours, and its line.
    if !r.facts.asks_for.is_empty() {
        let _ = writeln!(out, "asks for:");
        for i in &r.facts.asks_for {
            let fit = match i.fit {
                crate::extract::items::Fit::Ours => "ours",
                crate::extract::items::Fit::NotOurs => "not ours",
                crate::extract::items::Fit::Unknown => "product not named",
            };
            let price = i
                .price
                .as_ref()
                .map(|p| format!(" at {} {}", p.currency, p.amount))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "  - {}{price} ({fit}): \"{}\"",
                i.describe(),
                i.evidence
            );
        }
    }
    let _ = writeln!(out, "contacts: {}", r.contacts.join(", "));
    let _ = writeln!(
        out,
        "messages: {}, last inbound: {}, waiting on us: {}",
        r.messages,
        r.last_inbound
            .map(|d| d.to_rfc3339())
            .unwrap_or_else(|| "-".into()),
        match r.waiting_since {
            Some(d) => format!("yes, since {}", d.to_rfc3339()),
            None => "no".into(),
        }
    );
    if r.decay < 0.999 {
        let _ = writeln!(
            out,
            "decay: evidence kept at {:.0}% (silence since the last inbound message; risk does not decay)",
            r.decay * 100.0
        );
    }
    // The judgement's steps in order: the first that settles the class decides.
    if !r.steps.is_empty() {
        let by_hand = if r.manual.is_some() {
            " (the automatic class; a person set it by hand)"
        } else {
            ""
        };
        let _ = writeln!(out, "judgement{by_hand}:");
        for s in &r.steps {
            let what = match &s.outcome {
                super::trace::Outcome::Passed => "passed".to_string(),
                super::trace::Outcome::NotReached => "not reached".to_string(),
                super::trace::Outcome::Decided { class, reason } => {
                    format!("DECIDED {}: {reason}", class.as_str())
                }
            };
            let _ = writeln!(out, "  {:<10} {what}", s.name);
        }
    }
    let _ = writeln!(out, "why:");
    for reason in &r.reasons {
        let _ = writeln!(out, "  - {reason}");
    }
    for d in Dimension::ALL {
        let _ = writeln!(
            out,
            "\n{:<10} {}/5  (baseline {:.1})",
            d.as_str().to_uppercase(),
            r.scorecard.get(d),
            super::baseline(d)
        );
        for c in r.contributions.iter().filter(|c| c.dimension == d) {
            let when = c
                .date
                .map(|d| d.format("%Y-%m-%d").to_string())
                .unwrap_or_else(|| "history".into());
            let decay = if (c.decay - 1.0).abs() > 1e-9 {
                format!(" ({:+.2} × {:.2} decay)", c.raw, c.decay)
            } else {
                String::new()
            };
            let learned = c
                .learned_factor
                .map(|f| format!(" (learned ×{f:.2})"))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "  {:+6.2}{decay}{learned}  {:<28} {}  \"{}\"",
                c.points,
                short(&c.rule, 28),
                when,
                short(&c.evidence, 120)
            );
            if let Some(s) = &c.subject {
                let _ = writeln!(out, "           in: {}", short(s, 80));
            }
        }
    }
    let f = &r.facts;
    let _ = writeln!(out, "\nfacts:");
    if !f.products.is_empty() {
        let _ = writeln!(out, "  products: {}", f.products.join(", "));
    }
    if !f.quantities.is_empty() {
        let _ = writeln!(
            out,
            "  quantities: {}",
            f.quantities
                .iter()
                .map(|q| format!("{} {}", q.amount, q.unit))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    if let Some(d) = f.deadline {
        let _ = writeln!(out, "  deadline: {d}");
    }
    if !f.money.is_empty() {
        let _ = writeln!(
            out,
            "  money: {}",
            f.money
                .iter()
                .map(|m| format!(
                    "{} {}{}",
                    m.currency,
                    m.amount,
                    if m.per_unit { "/unit" } else { "" }
                ))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    if let Some(v) = f.est_deal_value_usd {
        let _ = writeln!(out, "  estimated deal value: ~USD {}", super::fmt_usd(v));
    }
    if !r.corrections.is_empty() {
        let _ = writeln!(
            out,
            "\ncorrections (oldest first; the latest of each kind holds):"
        );
        for c in &r.corrections {
            let _ = writeln!(
                out,
                "  {}  {:<11} {}  by {} via {}{}",
                c.at.format("%Y-%m-%d %H:%M UTC"),
                c.label.as_str(),
                c.label.describe(),
                c.person,
                c.source.describe(),
                c.message_id
                    .as_deref()
                    .map(|m| format!(", message {m}"))
                    .unwrap_or_default()
            );
        }
    }
    if let Some(l) = &r.learned {
        let _ = writeln!(
            out,
            "\nlearned weights (set {}{}):",
            l.set_id,
            l.applied_at
                .map(|d| format!(", applied {}", d.format("%Y-%m-%d")))
                .unwrap_or_default()
        );
        for c in &l.changes {
            let _ = writeln!(out, "  {c}");
        }
    }
    out
}
