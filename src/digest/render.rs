//! The digest's content: from lead reports (and the snapshots of earlier digests) to a view model,
//! then to plain text and HTML with minijinja. Pure: the clock and the snapshots come in as values.
//!
//! All customer text reaches the HTML only through template variables with HTML auto-escaping on;
//! the templates are the only place markup is written.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::Serialize;

use super::{Snapshot, SnapshotEntry};
use crate::extract::Dimension;
use crate::score::{Class, LeadReport};

const TEXT_TEMPLATE: &str = include_str!("templates/digest.txt.j2");
const HTML_TEMPLATE: &str = include_str!("templates/digest.html.j2");

/// Caps that keep a digest readable however large the mailbox; hot leads are never capped.
const MAX_WAITING: usize = 50;
const MAX_NURTURE: usize = 100;
const MAX_DROP: usize = 100;
const MAX_MOVED: usize = 50;
const MAX_WEEKLY: usize = 30;
const MAX_EVIDENCE: usize = 3;
const EVIDENCE_CHARS: usize = 200;
const SUBJECT_CHARS: usize = 90;

/// What a digest is made from.
pub struct Input<'a> {
    pub reports: &'a [LeadReport],
    /// The snapshot of the last digest sent before today, with its day.
    pub previous: Option<(NaiveDate, &'a Snapshot)>,
    /// On the weekly-review day: the snapshot of the digest about a week earlier.
    pub week_ago: Option<(NaiveDate, &'a Snapshot)>,
    /// True on the configured weekly-review day (even without an earlier digest to compare).
    pub weekly_review: bool,
    pub now: DateTime<Utc>,
    pub timezone: Tz,
    /// The IMAP keywords people tag with (`lead-hot`, …), for the how-to-correct footer; empty
    /// when keywords are not read.
    pub keywords: Vec<String>,
}

/// A rendered digest.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub day: NaiveDate,
    pub subject: String,
    pub text: String,
    pub html: String,
    pub counts: Counts,
    /// Nothing to chase and nothing moved (what `skip_if_empty` skips).
    pub empty: bool,
    /// Lead → class and score now: the next digest's "moved since" baseline.
    pub snapshot: Snapshot,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub hot: usize,
    pub nurture: usize,
    pub drop: usize,
    pub total: usize,
}

#[derive(Serialize)]
struct View {
    subject: String,
    day: String,
    generated: String,
    counts: Counts,
    waiting: Vec<Waiting>,
    waiting_more: usize,
    hot: Vec<Hot>,
    moved: Option<Moved>,
    nurture: Vec<Compact>,
    nurture_more: usize,
    drop: Drops,
    weekly: Option<Weekly>,
    keywords: String,
}

/// A class set by hand, with who set it and the automatic class when that differs.
fn manual_note(r: &LeadReport) -> String {
    let Some(by) = &r.manual else {
        return String::new();
    };
    match r.auto_class.filter(|a| *a != r.class) {
        Some(a) => format!("set by hand by {}; automatic: {}", by.person, a.as_str()),
        None => format!("set by hand by {}", by.person),
    }
}

#[derive(Serialize)]
struct Waiting {
    lead: String,
    contact: String,
    subject: String,
    class: &'static str,
    score: u8,
    hours: i64,
    /// `52 h`, with days added past two: `130 h (5 d)`.
    waited: String,
    since: String,
}

#[derive(Serialize)]
struct Hot {
    lead: String,
    contacts: String,
    subject: String,
    score: u8,
    card: Vec<Card>,
    card_line: String,
    facts: Vec<Fact>,
    evidence: Vec<Evidence>,
    last_message: String,
    messages: usize,
    waiting_hours: Option<i64>,
    waited: String,
    /// "set by hand by ann; automatic: nurture", or empty.
    manual: String,
}

#[derive(Serialize)]
struct Card {
    label: &'static str,
    value: u8,
}

#[derive(Serialize)]
struct Fact {
    label: &'static str,
    value: String,
}

#[derive(Serialize)]
struct Evidence {
    text: String,
    dimension: &'static str,
    points: String,
    date: String,
}

#[derive(Serialize)]
struct Compact {
    lead: String,
    contact: String,
    subject: String,
    score: u8,
    last_message: String,
    why: String,
    manual: String,
}

#[derive(Serialize)]
struct Move {
    lead: String,
    from: &'static str,
    to: &'static str,
    before: u8,
    score: u8,
    subject: String,
}

#[derive(Serialize)]
struct Moved {
    since: String,
    up: Vec<Move>,
    down: Vec<Move>,
    new: Vec<Move>,
    new_more: usize,
    up_more: usize,
    down_more: usize,
}

#[derive(Serialize)]
struct DropRow {
    lead: String,
    reason: String,
}

#[derive(Serialize)]
struct Drops {
    count: usize,
    /// What the list holds: all drops (first digest) or the ones new since the last digest.
    scope: String,
    leads: Vec<DropRow>,
    more: usize,
}

#[derive(Serialize)]
struct MoveGroup {
    from: &'static str,
    to: &'static str,
    count: usize,
    leads: Vec<Move>,
    more: usize,
}

#[derive(Serialize)]
struct Stale {
    lead: String,
    class: &'static str,
    before: u8,
    score: u8,
    silent_days: i64,
    subject: String,
}

#[derive(Serialize)]
struct Weekly {
    since: Option<String>,
    moves: Vec<MoveGroup>,
    new: Vec<(String, usize)>,
    stale: Vec<Stale>,
}

/// Whitespace collapsed and cut to `n` characters: customer text is unbounded.
fn short(s: &str, n: usize) -> String {
    let mut out = String::with_capacity(s.len().min(n * 4));
    let mut count = 0;
    for word in s.split_whitespace() {
        if count > 0 {
            out.push(' ');
            count += 1;
        }
        for c in word.chars() {
            if count + 1 >= n {
                out.push('…');
                return out;
            }
            // Control characters (bidi overrides aside, which are not Cc) have no place in mail.
            if !c.is_control() {
                out.push(c);
                count += 1;
            }
        }
    }
    out
}

fn waited(hours: i64) -> String {
    if hours >= 48 {
        format!("{hours} h ({} d)", hours / 24)
    } else {
        format!("{hours} h")
    }
}

fn day_label(d: NaiveDate) -> String {
    d.format("%a %-d %b").to_string()
}

fn when(d: DateTime<FixedOffset>, tz: Tz) -> String {
    d.with_timezone(&tz).format("%a %-d %b %H:%M").to_string()
}

fn number(x: f64) -> String {
    if (x - x.round()).abs() < 1e-9 {
        crate::score::fmt_usd(x)
    } else {
        format!("{x:.2}")
    }
}

fn card(r: &LeadReport) -> Vec<Card> {
    Dimension::ALL
        .iter()
        .map(|d| Card {
            label: d.as_str(),
            value: r.scorecard.get(*d),
        })
        .collect()
}

fn card_line(r: &LeadReport) -> String {
    let c = &r.scorecard;
    format!(
        "need {} · budget {} · authority {} · timeline {} · engagement {} · fit {} · risk {}",
        c.need, c.budget, c.authority, c.timeline, c.engagement, c.fit, c.risk
    )
}

fn facts(r: &LeadReport) -> Vec<Fact> {
    let f = &r.facts;
    let mut out = Vec::new();
    if !f.products.is_empty() {
        // The same product quoted twice with different case is one product to a reader.
        let mut seen = BTreeSet::new();
        let products: Vec<&str> = f
            .products
            .iter()
            .map(String::as_str)
            .filter(|p| seen.insert(p.to_lowercase()))
            .collect();
        out.push(Fact {
            label: "product",
            value: short(&products.join(", "), 160),
        });
    }
    if !f.quantities.is_empty() {
        let q: Vec<String> = f
            .quantities
            .iter()
            .map(|q| format!("{} {}", number(q.amount), q.unit))
            .collect();
        out.push(Fact {
            label: "quantity",
            value: short(&q.join(", "), 160),
        });
    }
    if let Some(d) = f.deadline {
        out.push(Fact {
            label: "deadline",
            value: d.format("%a %-d %b %Y").to_string(),
        });
    }
    if !f.money.is_empty() {
        let m: Vec<String> = f
            .money
            .iter()
            .map(|m| {
                format!(
                    "{} {}{}",
                    m.currency,
                    number(m.amount),
                    if m.per_unit { "/unit" } else { "" }
                )
            })
            .collect();
        out.push(Fact {
            label: "money",
            value: short(&m.join(", "), 160),
        });
    }
    if let Some(v) = f.est_deal_value_usd {
        out.push(Fact {
            label: "est. deal value",
            value: format!("~USD {}", crate::score::fmt_usd(v)),
        });
    }
    out
}

/// The strongest pieces of the buyer's own words: positive points, quoted from a message.
fn evidence(r: &LeadReport, tz: Tz) -> Vec<Evidence> {
    let mut cs: Vec<_> = r
        .contributions
        .iter()
        .filter(|c| c.points > 0.0 && c.dimension != Dimension::Risk && c.message_id.is_some())
        .filter(|c| !c.evidence.trim().is_empty())
        .collect();
    cs.sort_by(|a, b| {
        b.points
            .total_cmp(&a.points)
            .then_with(|| a.rule.cmp(&b.rule))
    });
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for c in cs {
        let text = short(&c.evidence, EVIDENCE_CHARS);
        if !seen.insert(text.to_lowercase()) {
            continue;
        }
        out.push(Evidence {
            text,
            dimension: c.dimension.as_str(),
            points: format!("{:+.1}", c.points),
            date: c.date.map(|d| when(d, tz)).unwrap_or_default(),
        });
        if out.len() == MAX_EVIDENCE {
            break;
        }
    }
    out
}

fn subject_of(r: &LeadReport) -> String {
    short(r.subject.as_deref().unwrap_or(""), SUBJECT_CHARS)
}

fn contact_of(r: &LeadReport) -> String {
    r.contacts
        .first()
        .cloned()
        .unwrap_or_else(|| r.lead.clone())
}

fn last_message(r: &LeadReport, tz: Tz) -> String {
    r.last_inbound
        .map(|d| when(d, tz))
        .unwrap_or_else(|| "-".into())
}

fn mv(r: &LeadReport, before: Option<&SnapshotEntry>) -> Move {
    Move {
        lead: r.lead.clone(),
        from: before.map_or("new", |b| b.class.as_str()),
        to: r.class.as_str(),
        before: before.map_or(0, |b| b.score),
        score: r.score,
        subject: subject_of(r),
    }
}

/// Lead → class and score, for the next digest's comparisons.
pub fn snapshot(reports: &[LeadReport]) -> Snapshot {
    reports
        .iter()
        .map(|r| {
            (
                r.lead.clone(),
                SnapshotEntry {
                    class: r.class,
                    score: r.score,
                },
            )
        })
        .collect()
}

fn capped<T>(mut v: Vec<T>, n: usize) -> (Vec<T>, usize) {
    let more = v.len().saturating_sub(n);
    v.truncate(n);
    (v, more)
}

fn environment() -> Result<minijinja::Environment<'static>, minijinja::Error> {
    let mut env = minijinja::Environment::new();
    // Explicit, not left to the default: only the HTML template escapes, and it always does.
    env.set_auto_escape_callback(|name| {
        if name.ends_with(".html.j2") {
            minijinja::AutoEscape::Html
        } else {
            minijinja::AutoEscape::None
        }
    });
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    env.add_template("digest.txt.j2", TEXT_TEMPLATE)?;
    env.add_template("digest.html.j2", HTML_TEMPLATE)?;
    Ok(env)
}

/// Renders the digest for `input.now`'s local day.
pub fn render(input: &Input<'_>) -> anyhow::Result<Rendered> {
    let tz = input.timezone;
    let local = input.now.with_timezone(&tz);
    let day = local.date_naive();
    let reports = input.reports;
    let count = |k: Class| reports.iter().filter(|r| r.class == k).count();
    let counts = Counts {
        hot: count(Class::Hot),
        nurture: count(Class::Nurture),
        drop: count(Class::Drop),
        total: reports.len(),
    };
    let subject = format!(
        "leadsift — {} hot, {} nurture, {} drop — {}",
        counts.hot,
        counts.nurture,
        counts.drop,
        day_label(day)
    );

    // Waiting on us: leads worth an answer, oldest first.
    let mut waiting: Vec<(&LeadReport, DateTime<FixedOffset>)> = reports
        .iter()
        .filter(|r| r.class != Class::Drop)
        .filter_map(|r| r.waiting_since.filter(|_| r.waiting_on_us).map(|s| (r, s)))
        .collect();
    waiting.sort_by(|a, b| a.1.cmp(&b.1).then_with(|| a.0.lead.cmp(&b.0.lead)));
    let hours =
        |since: DateTime<FixedOffset>| (input.now - since.with_timezone(&Utc)).num_hours().max(0);
    let (waiting, waiting_more) = capped(
        waiting
            .into_iter()
            .map(|(r, since)| Waiting {
                lead: r.lead.clone(),
                contact: contact_of(r),
                subject: subject_of(r),
                class: r.class.as_str(),
                score: r.score,
                hours: hours(since),
                waited: waited(hours(since)),
                since: when(since, tz),
            })
            .collect(),
        MAX_WAITING,
    );

    let by_score =
        |a: &&LeadReport, b: &&LeadReport| b.score.cmp(&a.score).then_with(|| a.lead.cmp(&b.lead));
    let mut hot: Vec<&LeadReport> = reports.iter().filter(|r| r.class == Class::Hot).collect();
    hot.sort_by(by_score);
    let hot = hot
        .into_iter()
        .map(|r| Hot {
            lead: r.lead.clone(),
            contacts: short(&r.contacts.join(", "), 160),
            subject: subject_of(r),
            score: r.score,
            card: card(r),
            card_line: card_line(r),
            facts: facts(r),
            evidence: evidence(r, tz),
            last_message: last_message(r, tz),
            messages: r.messages,
            waiting_hours: r.waiting_since.filter(|_| r.waiting_on_us).map(hours),
            waited: r
                .waiting_since
                .filter(|_| r.waiting_on_us)
                .map(|s| waited(hours(s)))
                .unwrap_or_default(),
            manual: manual_note(r),
        })
        .collect();

    let moved = input.previous.map(|(since, prev)| {
        let mut up = Vec::new();
        let mut down = Vec::new();
        let mut new = Vec::new();
        for r in reports {
            match prev.get(&r.lead) {
                None => new.push(r),
                Some(b) if b.class != Class::Hot && r.class == Class::Hot => {
                    up.push(mv(r, Some(b)))
                }
                Some(b) if b.class == Class::Hot && r.class != Class::Hot => {
                    down.push(mv(r, Some(b)))
                }
                Some(_) => {}
            }
        }
        // Best first among the new: hot, then nurture, then drop.
        new.sort_by(|a, b| a.class.cmp(&b.class).then(by_score(a, b)));
        let (new, new_more) = capped(new.into_iter().map(|r| mv(r, None)).collect(), MAX_MOVED);
        let (up, up_more) = capped(up, MAX_MOVED);
        let (down, down_more) = capped(down, MAX_MOVED);
        Moved {
            since: day_label(since),
            up,
            down,
            new,
            new_more,
            up_more,
            down_more,
        }
    });

    let mut nurture: Vec<&LeadReport> = reports
        .iter()
        .filter(|r| r.class == Class::Nurture)
        .collect();
    nurture.sort_by(by_score);
    let (nurture, nurture_more) = capped(
        nurture
            .into_iter()
            .map(|r| Compact {
                lead: r.lead.clone(),
                contact: contact_of(r),
                subject: subject_of(r),
                score: r.score,
                last_message: last_message(r, tz),
                why: short(r.reasons.first().map(String::as_str).unwrap_or(""), 120),
                manual: manual_note(r),
            })
            .collect(),
        MAX_NURTURE,
    );

    // Drops worth a second look: the ones the last digest did not already show as drops.
    let mut drops: Vec<&LeadReport> = reports
        .iter()
        .filter(|r| r.class == Class::Drop)
        .filter(|r| {
            input
                .previous
                .is_none_or(|(_, prev)| prev.get(&r.lead).is_none_or(|b| b.class != Class::Drop))
        })
        .collect();
    drops.sort_by(by_score);
    let listed = drops.len();
    let (drop_rows, drop_more) = capped(
        drops
            .into_iter()
            .map(|r| DropRow {
                lead: r.lead.clone(),
                reason: short(r.reasons.first().map(String::as_str).unwrap_or(""), 160),
            })
            .collect(),
        MAX_DROP,
    );
    let drop = Drops {
        count: counts.drop,
        scope: match input.previous {
            Some((since, _)) => format!("{listed} new since {}", day_label(since)),
            None => format!("{listed} listed"),
        },
        leads: drop_rows,
        more: drop_more,
    };

    let weekly = input
        .weekly_review
        .then(|| weekly(reports, input.week_ago, input.now, tz));

    let empty = counts.hot == 0
        && counts.nurture == 0
        && moved
            .as_ref()
            .is_none_or(|m| m.new.is_empty() && m.up.is_empty() && m.down.is_empty())
        && (input.previous.is_some() || counts.total == 0);

    let view = View {
        keywords: input.keywords.join(", "),
        subject: subject.clone(),
        day: day.format("%A %-d %B %Y").to_string(),
        generated: format!("{} ({})", local.format("%a %-d %b %Y %H:%M %Z"), tz.name()),
        counts,
        waiting,
        waiting_more,
        hot,
        moved,
        nurture,
        nurture_more,
        drop,
        weekly,
    };
    let env = environment()?;
    let ctx = minijinja::Value::from_serialize(&view);
    let text = env.get_template("digest.txt.j2")?.render(&ctx)?;
    let html = env.get_template("digest.html.j2")?.render(&ctx)?;
    Ok(Rendered {
        day,
        subject,
        text,
        html,
        counts,
        empty,
        snapshot: snapshot(reports),
    })
}

fn weekly(
    reports: &[LeadReport],
    week_ago: Option<(NaiveDate, &Snapshot)>,
    now: DateTime<Utc>,
    tz: Tz,
) -> Weekly {
    let Some((since, before)) = week_ago else {
        return Weekly {
            since: None,
            moves: Vec::new(),
            new: Vec::new(),
            stale: Vec::new(),
        };
    };
    let mut groups: BTreeMap<(Class, Class), Vec<&LeadReport>> = BTreeMap::new();
    let mut new: BTreeMap<Class, usize> = BTreeMap::new();
    let mut stale = Vec::new();
    // The week-ago digest went out on `since`; anything the buyer wrote after that day began
    // counts as activity.
    let since_start = since
        .and_hms_opt(0, 0, 0)
        .and_then(|t| super::schedule::first_valid_instant(t, tz))
        .unwrap_or(now);
    for r in reports {
        match before.get(&r.lead) {
            None => *new.entry(r.class).or_default() += 1,
            Some(b) => {
                if b.class != r.class {
                    groups.entry((b.class, r.class)).or_default().push(r);
                }
                let silent = r
                    .last_inbound
                    .is_none_or(|d| d.with_timezone(&Utc) < since_start);
                if b.class == Class::Hot && silent {
                    stale.push((r, b));
                }
            }
        }
    }
    let moves = groups
        .into_iter()
        .map(|((from, to), mut leads)| {
            leads.sort_by(|a, b| b.score.cmp(&a.score).then_with(|| a.lead.cmp(&b.lead)));
            let count = leads.len();
            let (leads, more) = capped(
                leads
                    .into_iter()
                    .map(|r| mv(r, before.get(&r.lead)))
                    .collect(),
                MAX_WEEKLY,
            );
            MoveGroup {
                from: from.as_str(),
                to: to.as_str(),
                count,
                leads,
                more,
            }
        })
        .collect();
    stale.sort_by(|a, b| {
        a.0.last_inbound
            .cmp(&b.0.last_inbound)
            .then_with(|| a.0.lead.cmp(&b.0.lead))
    });
    stale.truncate(MAX_WEEKLY);
    let stale = stale
        .into_iter()
        .map(|(r, b)| Stale {
            lead: r.lead.clone(),
            class: r.class.as_str(),
            before: b.score,
            score: r.score,
            silent_days: r
                .last_inbound
                .map_or(0, |d| (now - d.with_timezone(&Utc)).num_days()),
            subject: subject_of(r),
        })
        .collect();
    Weekly {
        since: Some(format!("{} {}", day_label(since), since.year())),
        moves,
        new: new
            .into_iter()
            .map(|(c, n)| (c.as_str().to_string(), n))
            .collect(),
        stale,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::score::{Contribution, Facts, Money, Quantity, Scorecard};

    fn t(s: &str) -> DateTime<FixedOffset> {
        DateTime::parse_from_rfc3339(s).unwrap()
    }

    fn now() -> DateTime<Utc> {
        t("2026-11-20T08:00:00+08:00").with_timezone(&Utc)
    }

    fn contribution(d: Dimension, points: f64, evidence: &str) -> Contribution {
        Contribution {
            dimension: d,
            points,
            raw: points,
            decay: 1.0,
            rule: format!("test.{}", d.as_str()),
            kind: "k".into(),
            evidence: evidence.into(),
            message_id: Some("m@x".into()),
            date: Some(t("2026-11-19T10:00:00+08:00")),
            subject: None,
            learned_factor: None,
        }
    }

    fn report(lead: &str, class: Class, score: u8, subject: &str) -> LeadReport {
        LeadReport {
            lead: lead.into(),
            class,
            score,
            scorecard: Scorecard {
                need: 5,
                budget: 4,
                authority: 4,
                timeline: 5,
                engagement: 3,
                fit: 4,
                risk: 1,
            },
            contacts: vec![format!("li@{lead}")],
            messages: 2,
            last_inbound: Some(t("2026-11-19T10:00:00+08:00")),
            waiting_on_us: false,
            waiting_since: None,
            subject: Some(subject.into()),
            facts: Facts::default(),
            reasons: vec![format!("{} because", class.as_str())],
            decay: 1.0,
            contributions: vec![],
            auto_class: None,
            manual: None,
            corrections: vec![],
            learned: None,
        }
    }

    fn hot() -> LeadReport {
        let mut r = report(
            "acme.example",
            Class::Hot,
            82,
            "RFQ 400 pcs submersible pump",
        );
        r.waiting_on_us = true;
        r.waiting_since = Some(t("2026-11-18T08:00:00+08:00"));
        r.facts = Facts {
            products: vec!["submersible pump".into()],
            quantities: vec![Quantity {
                amount: 400.0,
                unit: "pcs".into(),
            }],
            deadline: chrono::NaiveDate::from_ymd_opt(2026, 12, 20),
            money: vec![Money {
                amount: 60.0,
                currency: "USD".into(),
                per_unit: true,
            }],
            est_deal_value_usd: Some(24_000.0),
        };
        r.contributions = vec![
            contribution(Dimension::Authority, 2.0, "I am the purchasing manager"),
            contribution(Dimension::Timeline, 1.8, "before 20 December"),
            contribution(Dimension::Need, 1.5, "400 pcs"),
            contribution(Dimension::Fit, 0.5, "company domain"),
            contribution(Dimension::Risk, 3.0, "western union"),
        ];
        r
    }

    fn input<'a>(reports: &'a [LeadReport]) -> Input<'a> {
        Input {
            reports,
            previous: None,
            week_ago: None,
            weekly_review: false,
            now: now(),
            timezone: chrono_tz::Asia::Shanghai,
            keywords: vec!["lead-hot".into(), "lead-drop".into()],
        }
    }

    #[test]
    fn a_class_set_by_hand_shows_who_and_the_automatic_class() {
        let mut r = hot();
        r.auto_class = Some(Class::Nurture);
        r.manual = Some(crate::feedback::Correction {
            id: 1,
            lead: r.lead.clone(),
            label: crate::feedback::Label::Class(Class::Hot),
            source: crate::feedback::Source::DigestReply,
            message_id: None,
            person: "<b>ann</b>@ourco.example".into(),
            at: now(),
            note: None,
        });
        let reports = vec![r];
        let out = render(&input(&reports)).unwrap();
        assert!(
            out.text
                .contains("score 82 (set by hand by <b>ann</b>@ourco.example; automatic: nurture)"),
            "{}",
            out.text
        );
        assert!(
            out.html.contains(
                "set by hand by &lt;b&gt;ann&lt;&#x2f;b&gt;@ourco.example; automatic: nurture"
            ),
            "{}",
            out.html
        );
        assert!(out.text.contains("lead-hot, lead-drop"));
    }

    #[test]
    fn subject_counts_and_local_date() {
        let reports = vec![
            hot(),
            report("b.example", Class::Nurture, 40, "price?"),
            report("c.example", Class::Drop, 5, "SEO"),
            report("d.example", Class::Drop, 4, "SEO"),
        ];
        let r = render(&input(&reports)).unwrap();
        assert_eq!(
            r.subject,
            "leadsift — 1 hot, 1 nurture, 2 drop — Fri 20 Nov"
        );
        // 23:30 UTC on the 19th is already Friday the 20th in Shanghai.
        let mut i = input(&reports);
        i.now = t("2026-11-19T23:30:00Z").with_timezone(&Utc);
        assert!(render(&i).unwrap().subject.ends_with("Fri 20 Nov"));
        i.timezone = chrono_tz::America::New_York;
        assert!(render(&i).unwrap().subject.ends_with("Thu 19 Nov"));
    }

    #[test]
    fn sections_facts_and_evidence() {
        let reports = vec![
            hot(),
            report("b.example", Class::Nurture, 40, "price list please"),
            report("spam.example", Class::Drop, 5, "SEO offer"),
        ];
        let r = render(&input(&reports)).unwrap();
        for part in [&r.text, &r.html] {
            for s in ["Waiting on us", "Hot", "Moved", "Nurture", "Drop"] {
                assert!(part.contains(s), "{s} missing:\n{part}");
            }
            for s in [
                "acme.example",
                "li@acme.example",
                "score 82",
                "submersible pump",
                "400 pcs",
                "Sun 20 Dec 2026",
                "USD 60/unit",
                "~USD 24,000",
                "I am the purchasing manager",
                "before 20 December",
                "48 h",
                "b.example",
                "spam.example",
                "drop because",
            ] {
                // minijinja escapes `/` too.
                let needle = if part == &r.html {
                    s.replace('/', "&#x2f;")
                } else {
                    s.to_string()
                };
                assert!(part.contains(&needle), "{s:?} missing:\n{part}");
            }
            // Risk evidence and weak points beyond the top three are not quoted.
            assert!(!part.contains("western union"));
            assert!(!part.contains("company domain"));
            assert!(!part.contains("Weekly review"));
        }
        assert!(r.text.contains("First digest"));
        assert!(!r.empty);
        assert_eq!(r.snapshot["acme.example"].class, Class::Hot);
        assert_eq!(r.snapshot.len(), 3);
    }

    #[test]
    fn customer_text_is_escaped_in_html() {
        let evil = "<script>document.title='pwned'</script><img src=x onerror=\"alert(1)\"></table></td>\"'&";
        let mut h = hot();
        h.subject = Some(evil.into());
        h.contributions[0].evidence = evil.into();
        h.facts.products = vec![evil.into()];
        h.contacts = vec!["<b>x</b>@acme.example".into()];
        let mut n = report("n.example", Class::Nurture, 40, evil);
        n.waiting_on_us = true;
        n.waiting_since = Some(t("2026-11-19T08:00:00+08:00"));
        let mut d = report("d.example", Class::Drop, 4, evil);
        d.reasons = vec![evil.into()];
        let reports = vec![h, n, d];
        let r = render(&input(&reports)).unwrap();
        assert!(!r.html.contains("<script"), "{}", r.html);
        assert!(!r.html.contains("<img"));
        assert!(!r.html.contains("<b>x"));
        assert!(r.html.contains("&lt;script&gt;"));
        // The template's own table structure is intact: opening and closing tags balance.
        assert_eq!(
            r.html.matches("<table").count(),
            r.html.matches("</table>").count()
        );
        // The text part carries it verbatim: it is plain text.
        assert!(r.text.contains("<script>document.title='pwned'</script>"));
    }

    #[test]
    fn moved_since_the_previous_digest() {
        let mut prev = Snapshot::new();
        let entry = |class, score| SnapshotEntry { class, score };
        prev.insert("up.example".into(), entry(Class::Nurture, 50));
        prev.insert("down.example".into(), entry(Class::Hot, 80));
        prev.insert("same.example".into(), entry(Class::Nurture, 40));
        prev.insert("olddrop.example".into(), entry(Class::Drop, 3));
        let reports = vec![
            report("up.example", Class::Hot, 75, "a"),
            report("down.example", Class::Nurture, 45, "b"),
            report("same.example", Class::Nurture, 41, "c"),
            report("fresh.example", Class::Nurture, 35, "d"),
            report("olddrop.example", Class::Drop, 3, "e"),
            report("newdrop.example", Class::Drop, 2, "f"),
        ];
        let mut i = input(&reports);
        let day = chrono::NaiveDate::from_ymd_opt(2026, 11, 19).unwrap();
        i.previous = Some((day, &prev));
        let r = render(&i).unwrap();
        assert!(r.text.contains("Since Thu 19 Nov"), "{}", r.text);
        assert!(
            r.text
                .contains("up to hot:     up.example (nurture 50 -> hot 75)")
        );
        assert!(
            r.text
                .contains("down from hot: down.example (hot 80 -> nurture 45)")
        );
        assert!(r.text.contains("new:           fresh.example (nurture 35)"));
        assert!(r.text.contains("new:           newdrop.example (drop 2)"));
        assert!(!r.text.contains("new:           same.example"));
        // Drops already shown in the last digest are counted, not listed again.
        assert!(
            r.text.contains("2 dropped (1 new since Thu 19 Nov)"),
            "{}",
            r.text
        );
        assert!(r.text.contains("- newdrop.example"));
        assert!(!r.text.contains("- olddrop.example"));
    }

    #[test]
    fn weekly_review_moves_and_stale_hot_leads() {
        let mut week = Snapshot::new();
        let entry = |class, score| SnapshotEntry { class, score };
        week.insert("cooled.example".into(), entry(Class::Hot, 80));
        week.insert("still.example".into(), entry(Class::Hot, 85));
        week.insert("warmed.example".into(), entry(Class::Nurture, 50));
        let mut cooled = report("cooled.example", Class::Nurture, 55, "a");
        cooled.last_inbound = Some(t("2026-11-05T10:00:00+08:00"));
        let mut still = report("still.example", Class::Hot, 78, "b");
        still.last_inbound = Some(t("2026-11-10T10:00:00+08:00"));
        let reports = vec![
            cooled,
            still,
            report("warmed.example", Class::Hot, 70, "c"),
            report("brand.example", Class::Nurture, 30, "d"),
        ];
        let mut i = input(&reports);
        i.weekly_review = true;
        let day = chrono::NaiveDate::from_ymd_opt(2026, 11, 13).unwrap();
        i.week_ago = Some((day, &week));
        let r = render(&i).unwrap();
        let t = &r.text;
        assert!(t.contains("== Weekly review =="), "{t}");
        assert!(t.contains("Since Fri 13 Nov 2026"), "{t}");
        assert!(t.contains("hot -> nurture: 1"), "{t}");
        assert!(t.contains("nurture -> hot: 1"), "{t}");
        assert!(t.contains("new nurture: 1"), "{t}");
        assert!(
            t.contains("cooled.example: silent 14 days, now nurture 55 (was hot 80)"),
            "{t}"
        );
        assert!(
            t.contains("still.example: silent 9 days, now hot 78"),
            "{t}"
        );
        assert!(r.html.contains("id=\"weekly\""));
        // On the review day without an earlier digest, say so rather than omit the section.
        let mut i = input(&reports);
        i.weekly_review = true;
        assert!(
            render(&i)
                .unwrap()
                .text
                .contains("No digest from a week ago")
        );
    }

    #[test]
    fn empty_when_nothing_to_chase_or_moved() {
        let none: Vec<LeadReport> = Vec::new();
        assert!(render(&input(&none)).unwrap().empty);
        let drops = vec![report("d.example", Class::Drop, 2, "x")];
        let mut prev = Snapshot::new();
        prev.insert(
            "d.example".into(),
            SnapshotEntry {
                class: Class::Drop,
                score: 2,
            },
        );
        let mut i = input(&drops);
        let day = chrono::NaiveDate::from_ymd_opt(2026, 11, 19).unwrap();
        i.previous = Some((day, &prev));
        assert!(render(&i).unwrap().empty);
        assert!(
            !render(&input(&drops)).unwrap().empty,
            "first digest shows the drop"
        );
    }

    #[test]
    fn short_collapses_and_cuts() {
        assert_eq!(short("  a \n\t b  ", 10), "a b");
        assert_eq!(short("abcdefghij", 5), "abcd…");
        assert_eq!(short("a\u{7}b", 10), "ab");
    }
}
