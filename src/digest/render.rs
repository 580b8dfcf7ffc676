//! The digest's content: from lead reports (and the snapshots of earlier digests) to a view model,
//! then to plain text and HTML with minijinja. Pure: the clock, the team and the snapshots come in
//! as values.
//!
//! It is a salesperson's to-do list for the morning, top first: **Answer today** (hot leads
//! waiting on us, by score then by how long they have waited; nurture ones only above a score),
//! **Follow up** (hot leads we answered that have been silent for some working days), **New** since
//! the last digest and **Moved**, then **Nurture** (the top few) and **Drop** (the count and the new
//! ones with their reason), and the weekly review on its day. Each recipient gets the leads in
//! their scope ([`super::team::in_scope`]).
//!
//! All customer text reaches the HTML only through template variables with HTML auto-escaping on;
//! the templates are the only place markup is written.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, Utc, Weekday};
use chrono_tz::Tz;
use serde::Serialize;

use super::questions::{Question, Questions};
use super::{Snapshot, SnapshotEntry};
use crate::config::{Recipient, Scope};
use crate::extract::Dimension;
use crate::score::{Class, LeadReport};
use crate::store::owners::LeadTeam;

const TEXT_TEMPLATE: &str = include_str!("templates/digest.txt.j2");
const HTML_TEMPLATE: &str = include_str!("templates/digest.html.j2");

/// Caps that keep a digest readable however large the mailbox.
const MAX_ANSWER: usize = 50;
const MAX_FOLLOW_UP: usize = 50;
const MAX_DROP: usize = 100;
const MAX_MOVED: usize = 50;
const MAX_WEEKLY: usize = 30;
const MAX_EVIDENCE: usize = 3;
const EVIDENCE_CHARS: usize = 200;
const SUBJECT_CHARS: usize = 90;

/// The `[digest]` choices rendering needs.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Nurture leads waiting on us are in "Answer today" only above this score.
    pub answer_nurture_above: u8,
    /// Working days of buyer silence after our answer before a hot lead is to follow up.
    pub follow_up_after_days: u32,
    /// Nurture leads listed one per line.
    pub nurture_top: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            answer_nurture_above: 50,
            follow_up_after_days: 3,
            nurture_top: 10,
        }
    }
}

/// What a digest is made from.
pub struct Input<'a> {
    pub reports: &'a [LeadReport],
    /// Lead → owner and our last message (leads missing here have neither).
    pub team: &'a HashMap<String, LeadTeam>,
    /// Whose digest: None renders everyone's (as `digest --print` does), owners shown.
    pub recipient: Option<&'a Recipient>,
    pub options: Options,
    pub questions: &'a Questions,
    /// The snapshot of the last digest sent to this recipient before today, with its day.
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
    /// Lead → class and score now, of the leads in this digest: the next one's baseline.
    pub snapshot: Snapshot,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub hot: usize,
    pub nurture: usize,
    pub drop: usize,
    pub total: usize,
    pub answer: usize,
    pub follow_up: usize,
}

#[derive(Serialize)]
struct View {
    subject: String,
    day: String,
    generated: String,
    /// "ann@ourco.example: your leads and unowned hot ones", or "everyone's leads".
    scope: String,
    show_owner: bool,
    counts: Counts,
    answer: Vec<Todo>,
    answer_more: usize,
    follow_up: Vec<Todo>,
    follow_up_more: usize,
    follow_up_days: u32,
    /// Hot leads answered recently: the ball is in the buyer's court.
    hot_with_buyer: usize,
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

/// One lead to act on today.
#[derive(Serialize)]
struct Todo {
    lead: String,
    contact: String,
    /// The owner's address, "nobody yet", or empty when owners are not shown.
    owner: String,
    class: &'static str,
    score: u8,
    subject: String,
    /// What they ask for, each item a short phrase (see [`asks_for`]).
    asks_for: Vec<String>,
    /// The one quote that matters.
    quote: Option<Evidence>,
    /// `52 h`, with days added past two: `130 h (5 d)`; empty when not waiting on us.
    waited: String,
    hours: Option<i64>,
    since: String,
    question: Option<Question>,
    /// Follow up: what we last sent and when.
    last_sent: String,
    silent_days: u32,
    manual: String,
}

#[derive(Serialize, Clone)]
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
    owner: String,
    subject: String,
    score: u8,
    last_message: String,
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
    owner: String,
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

/// What the buyer asks for, as short phrases: the one place the digest reads it, so the requested
/// items of a richer judgement (product, quantity and unit, spec, price per item) can replace the
/// key facts here without touching the templates. Today: the key facts — products, quantities,
/// prices, the deadline and the estimated deal value.
pub fn asks_for(r: &LeadReport) -> Vec<String> {
    let f = &r.facts;
    let mut out = Vec::new();
    // The requested items when the extractor found them ("20,000 m of TC twill"); else the
    // products and counts found anywhere.
    let items: Vec<String> = f
        .asks_for
        .iter()
        .filter(|i| i.fit != crate::extract::items::Fit::NotOurs || r.class == Class::Drop)
        .take(3)
        .map(|i| short(&i.describe(), 80))
        .collect();
    // The same product quoted twice with different case is one product to a reader.
    let mut seen = BTreeSet::new();
    let products: Vec<&str> = f
        .products
        .iter()
        .map(String::as_str)
        .filter(|p| seen.insert(p.to_lowercase()))
        .collect();
    if !items.is_empty() {
        out.extend(items);
    } else if !products.is_empty() {
        out.push(short(&products.join(", "), 120));
    }
    let quantities = if f.asks_for.iter().any(|i| i.quantity.is_some()) {
        &[][..]
    } else {
        &f.quantities[..]
    };
    for q in quantities.iter().take(3) {
        out.push(short(&format!("{} {}", number(q.amount), q.unit), 40));
    }
    for m in f.money.iter().take(3) {
        out.push(short(
            &format!(
                "{} {}{}",
                m.currency,
                number(m.amount),
                if m.per_unit { "/unit" } else { "" }
            ),
            40,
        ));
    }
    if let Some(d) = f.deadline {
        out.push(format!("by {}", d.format("%a %-d %b %Y")));
    }
    if let Some(v) = f.est_deal_value_usd {
        out.push(format!("~USD {} in all", crate::score::fmt_usd(v)));
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

/// Who: the company (the lead) and the first contact.
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

/// Lead → class and score, for the next digest's comparisons.
pub fn snapshot<'a>(reports: impl IntoIterator<Item = &'a LeadReport>) -> Snapshot {
    reports
        .into_iter()
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

/// Working days (Monday to Friday) after local day `from` up to and including `to`.
pub fn working_days_between(from: NaiveDate, to: NaiveDate) -> u32 {
    let mut n = 0;
    let mut d = from;
    // Bounded: a lead silent for years counts as "long enough" well before this.
    for _ in 0..400 {
        let Some(next) = d.succ_opt() else { break };
        if next > to {
            break;
        }
        if !matches!(next.weekday(), Weekday::Sat | Weekday::Sun) {
            n += 1;
        }
        d = next;
    }
    n
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

/// Renders `input.recipient`'s digest for `input.now`'s local day.
pub fn render(input: &Input<'_>) -> anyhow::Result<Rendered> {
    let tz = input.timezone;
    let local = input.now.with_timezone(&tz);
    let day = local.date_naive();
    let opts = input.options;
    let team_of = |lead: &str| input.team.get(lead);
    let owner_of = |lead: &str| {
        team_of(lead)
            .and_then(|t| t.owner.as_ref())
            .map(|o| o.address.as_str())
    };
    let reports: Vec<&LeadReport> = input
        .reports
        .iter()
        .filter(|r| super::team::in_scope(input.recipient, r, owner_of(&r.lead)))
        .collect();
    let show_owner = input.recipient.is_none_or(|r| r.scope == Scope::All);
    let owner_cell = |lead: &str| {
        if show_owner {
            owner_of(lead).unwrap_or("nobody yet").to_string()
        } else {
            match owner_of(lead) {
                None => "nobody yet: yours to take".into(),
                Some(_) => String::new(),
            }
        }
    };
    let count = |k: Class| reports.iter().filter(|r| r.class == k).count();
    let hours =
        |since: DateTime<FixedOffset>| (input.now - since.with_timezone(&Utc)).num_hours().max(0);
    let by_score =
        |a: &&LeadReport, b: &&LeadReport| b.score.cmp(&a.score).then_with(|| a.lead.cmp(&b.lead));
    let todo = |r: &LeadReport| {
        let waiting = r.waiting_since.filter(|_| r.waiting_on_us);
        Todo {
            lead: r.lead.clone(),
            contact: contact_of(r),
            owner: owner_cell(&r.lead),
            class: r.class.as_str(),
            score: r.score,
            subject: subject_of(r),
            asks_for: asks_for(r),
            quote: evidence(r, tz).into_iter().next(),
            waited: waiting.map(|s| waited(hours(s))).unwrap_or_default(),
            hours: waiting.map(hours),
            since: waiting.map(|s| when(s, tz)).unwrap_or_default(),
            question: input.questions.next_question(r),
            last_sent: String::new(),
            silent_days: 0,
            manual: manual_note(r),
        }
    };

    // Answer today: hot leads waiting on us (and nurture ones above the bar), best first, then
    // the longest wait.
    let mut answer: Vec<&LeadReport> = reports
        .iter()
        .copied()
        .filter(|r| r.waiting_on_us && r.waiting_since.is_some())
        .filter(|r| match r.class {
            Class::Hot => true,
            Class::Nurture => r.score > opts.answer_nurture_above,
            Class::Drop => false,
        })
        .collect();
    answer.sort_by(|a, b| {
        b.score
            .cmp(&a.score)
            .then_with(|| a.waiting_since.cmp(&b.waiting_since))
            .then_with(|| a.lead.cmp(&b.lead))
    });
    let answer_count = answer.len();
    let (answer, answer_more) = capped(answer, MAX_ANSWER);
    let answer: Vec<Todo> = answer.into_iter().map(todo).collect();

    // Follow up: hot leads where we wrote last and the buyer has been silent long enough.
    let mut follow: Vec<(&LeadReport, u32, &super::team::Sent)> = Vec::new();
    let mut hot_with_buyer = 0;
    for r in reports
        .iter()
        .copied()
        .filter(|r| r.class == Class::Hot && !r.waiting_on_us)
    {
        let Some(sent) = team_of(&r.lead).and_then(|t| t.last_sent.as_ref()) else {
            continue;
        };
        if r.last_inbound.is_some_and(|i| i > sent.date) {
            continue;
        }
        let silent = working_days_between(sent.date.with_timezone(&tz).date_naive(), day);
        if silent >= opts.follow_up_after_days {
            follow.push((r, silent, sent));
        } else {
            hot_with_buyer += 1;
        }
    }
    follow.sort_by(|a, b| {
        b.0.score
            .cmp(&a.0.score)
            .then_with(|| b.1.cmp(&a.1))
            .then_with(|| a.0.lead.cmp(&b.0.lead))
    });
    let follow_count = follow.len();
    let (follow, follow_up_more) = capped(follow, MAX_FOLLOW_UP);
    let follow_up: Vec<Todo> = follow
        .into_iter()
        .map(|(r, silent, sent)| {
            let mut t = todo(r);
            t.silent_days = silent;
            t.last_sent = format!(
                "{}{}: “{}”",
                when(sent.date, tz),
                sent.from
                    .as_deref()
                    .map(|f| format!(" by {f}"))
                    .unwrap_or_default(),
                short(&sent.subject, SUBJECT_CHARS)
            );
            t
        })
        .collect();

    let counts = Counts {
        hot: count(Class::Hot),
        nurture: count(Class::Nurture),
        drop: count(Class::Drop),
        total: reports.len(),
        answer: answer_count,
        follow_up: follow_count,
    };
    let subject = format!(
        "leadsift: {} to answer, {} to follow up — {}",
        counts.answer,
        counts.follow_up,
        day_label(day)
    );

    let mv = |r: &LeadReport, before: Option<&SnapshotEntry>| Move {
        lead: r.lead.clone(),
        from: before.map_or("new", |b| b.class.as_str()),
        to: r.class.as_str(),
        before: before.map_or(0, |b| b.score),
        score: r.score,
        subject: subject_of(r),
        owner: if show_owner {
            owner_cell(&r.lead)
        } else {
            String::new()
        },
    };
    let moved = input.previous.map(|(since, prev)| {
        let mut up = Vec::new();
        let mut down = Vec::new();
        let mut new = Vec::new();
        for r in reports.iter().copied() {
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
        .copied()
        .filter(|r| r.class == Class::Nurture)
        .collect();
    nurture.sort_by(by_score);
    let (nurture, nurture_more) = capped(nurture, opts.nurture_top);
    let nurture = nurture
        .into_iter()
        .map(|r| Compact {
            lead: r.lead.clone(),
            contact: contact_of(r),
            owner: if show_owner {
                owner_cell(&r.lead)
            } else {
                String::new()
            },
            subject: subject_of(r),
            score: r.score,
            last_message: last_message(r, tz),
            manual: manual_note(r),
        })
        .collect();

    // Drops worth a second look: the ones the last digest did not already show as drops.
    let mut drops: Vec<&LeadReport> = reports
        .iter()
        .copied()
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
        .then(|| weekly(&reports, input.week_ago, input.now, tz));

    let empty = counts.hot == 0
        && counts.nurture == 0
        && moved
            .as_ref()
            .is_none_or(|m| m.new.is_empty() && m.up.is_empty() && m.down.is_empty())
        && (input.previous.is_some() || counts.total == 0);

    let scope = match input.recipient {
        None => "everyone's leads".to_string(),
        Some(r) if r.scope == Scope::All => format!("for {}: everyone's leads", r.address),
        Some(r) => format!("for {}: your leads and hot ones nobody owns yet", r.address),
    };
    let view = View {
        keywords: input.keywords.join(", "),
        subject: subject.clone(),
        day: day.format("%A %-d %B %Y").to_string(),
        generated: format!("{} ({})", local.format("%a %-d %b %Y %H:%M %Z"), tz.name()),
        scope,
        show_owner,
        counts,
        answer,
        answer_more,
        follow_up,
        follow_up_more,
        follow_up_days: opts.follow_up_after_days,
        hot_with_buyer,
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
        snapshot: snapshot(reports.iter().copied()),
    })
}

fn move_of(r: &LeadReport, before: Option<&SnapshotEntry>) -> Move {
    Move {
        lead: r.lead.clone(),
        from: before.map_or("new", |b| b.class.as_str()),
        to: r.class.as_str(),
        before: before.map_or(0, |b| b.score),
        score: r.score,
        subject: subject_of(r),
        owner: String::new(),
    }
}

fn weekly(
    reports: &[&LeadReport],
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
    for r in reports.iter().copied() {
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
                    .map(|r| move_of(r, before.get(&r.lead)))
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
            steps: vec![],
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
            ..Facts::default()
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

    fn no_team() -> &'static HashMap<String, LeadTeam> {
        static EMPTY: std::sync::OnceLock<HashMap<String, LeadTeam>> = std::sync::OnceLock::new();
        EMPTY.get_or_init(HashMap::new)
    }

    fn input<'a>(reports: &'a [LeadReport]) -> Input<'a> {
        Input {
            reports,
            team: no_team(),
            recipient: None,
            options: Options::default(),
            questions: Questions::builtin().unwrap(),
            previous: None,
            week_ago: None,
            weekly_review: false,
            now: now(),
            timezone: chrono_tz::Asia::Shanghai,
            keywords: vec!["lead-hot".into(), "lead-drop".into()],
        }
    }

    fn sent(date: &str, subject: &str) -> LeadTeam {
        LeadTeam {
            owner: None,
            last_sent: Some(crate::team::Sent {
                date: t(date),
                subject: subject.into(),
                from: Some("ann@ourco.example".into()),
            }),
        }
    }

    fn owned(team: &mut HashMap<String, LeadTeam>, lead: &str, owner: &str) {
        team.entry(lead.into()).or_default().owner = Some(crate::team::Owner {
            address: owner.into(),
            how: "test".into(),
        });
    }

    /// Hot and nurture leads waiting on us, some answered and silent, a drop.
    fn morning() -> (Vec<LeadReport>, HashMap<String, LeadTeam>) {
        let mut old_nurture = report("old-nurture.example", Class::Nurture, 40, "price list?");
        old_nurture.waiting_on_us = true;
        old_nurture.waiting_since = Some(t("2026-11-01T08:00:00+08:00"));
        let mut good_nurture = report("good-nurture.example", Class::Nurture, 55, "samples?");
        good_nurture.waiting_on_us = true;
        good_nurture.waiting_since = Some(t("2026-11-10T08:00:00+08:00"));
        let mut hot2 = report("second-hot.example", Class::Hot, 70, "RFQ valves");
        hot2.waiting_on_us = true;
        hot2.waiting_since = Some(t("2026-11-19T18:00:00+08:00"));
        let mut spam = report("spam.example", Class::Drop, 5, "card order");
        spam.waiting_on_us = true;
        spam.waiting_since = Some(t("2026-10-01T08:00:00+08:00"));
        let mut silent = report("silent-hot.example", Class::Hot, 75, "RFQ cables");
        silent.last_inbound = Some(t("2026-11-13T10:00:00+08:00"));
        let mut recent = report("recent-hot.example", Class::Hot, 65, "RFQ fans");
        recent.last_inbound = Some(t("2026-11-18T10:00:00+08:00"));
        let mut acme = hot();
        acme.scorecard.budget = 2;
        let reports = vec![old_nurture, good_nurture, hot2, spam, silent, recent, acme];
        let mut team = HashMap::new();
        // Answered Mon 16 Nov: Tue..Fri = 4 working days by Fri 20 Nov.
        team.insert(
            "silent-hot.example".into(),
            sent("2026-11-16T09:00:00+08:00", "Re: RFQ cables — our offer"),
        );
        // Answered Wed 18 Nov: 2 working days, not yet.
        team.insert(
            "recent-hot.example".into(),
            sent("2026-11-18T12:00:00+08:00", "Re: RFQ fans"),
        );
        (reports, team)
    }

    #[test]
    fn the_first_screen_is_todays_work() {
        let (reports, team) = morning();
        let mut i = input(&reports);
        i.team = &team;
        let r = render(&i).unwrap();
        assert_eq!(
            r.subject,
            "leadsift: 3 to answer, 1 to follow up — Fri 20 Nov"
        );
        let text = &r.text;
        // Section order.
        let at = |s: &str| {
            text.find(s)
                .unwrap_or_else(|| panic!("{s} missing:\n{text}"))
        };
        assert!(at("== Answer today (3) ==") < at("== Follow up (1) =="));
        assert!(at("== Follow up (1) ==") < at("== New and moved =="));
        assert!(at("== New and moved ==") < at("== Nurture (2) =="));
        assert!(at("== Nurture (2) ==") < at("== Drop =="));
        // Answer today: hot by score (acme 82, second-hot 70), then the nurture lead above 50;
        // the old nurture lead (40) and the waiting drop are not there.
        let answer = &text[at("== Answer today")..at("== Follow up")];
        let order: Vec<usize> = [
            "1. acme.example",
            "2. second-hot.example",
            "3. good-nurture.example",
        ]
        .iter()
        .map(|s| {
            answer
                .find(s)
                .unwrap_or_else(|| panic!("{s} missing:\n{answer}"))
        })
        .collect();
        assert!(order.windows(2).all(|w| w[0] < w[1]), "{answer}");
        assert!(!answer.contains("old-nurture.example") && !answer.contains("spam.example"));
        // Each entry: who, what they ask for, the quote, hours waited, the next question.
        for s in [
            "acme.example (li@acme.example) — hot 82, waiting 48 h (2 d) since Wed 18 Nov 08:00",
            "asks for: submersible pump · 400 pcs · USD 60/unit · by Sun 20 Dec 2026 · ~USD 24,000 in all",
            "> \"I am the purchasing manager\" (authority +2.0",
        ] {
            assert!(answer.contains(s), "{s:?} missing:\n{answer}");
        }
        assert!(
            answer.contains("ask (budget, en): What is your target price per unit?"),
            "{answer}"
        );
        // Follow up: the hot lead silent 4 working days, with what we sent; not the recent one.
        let follow = &text[at("== Follow up")..at("== New and moved")];
        assert!(follow.contains("silent-hot.example"), "{follow}");
        assert!(follow.contains("silent 4 working days"), "{follow}");
        assert!(
            follow.contains(
                "we last sent: Mon 16 Nov 09:00 by ann@ourco.example: “Re: RFQ cables — our offer”"
            ),
            "{follow}"
        );
        assert!(!follow.contains("recent-hot.example 1"), "{follow}");
        assert!(
            follow.contains("1 more hot lead answered recently"),
            "{follow}"
        );
        // HTML: the same order, and the first lead entry is a hot lead waiting on us.
        let h = &r.html;
        let hat = |s: &str| h.find(s).unwrap_or_else(|| panic!("{s} missing"));
        assert!(hat("id=\"answer\"") < hat("id=\"follow-up\""));
        assert!(hat("id=\"follow-up\"") < hat("id=\"moved\""));
        assert!(hat("id=\"moved\"") < hat("id=\"nurture\""));
        assert!(hat("id=\"nurture\"") < hat("id=\"drop\""));
        let first = &h[hat("data-lead=")..];
        assert!(
            first.starts_with("data-lead=\"acme.example\" data-class=\"hot\" data-waiting=\"yes\""),
            "{}",
            &first[..120]
        );
        // Manager view (everyone's): owners shown.
        assert!(answer.contains("owner: nobody yet"), "{answer}");
    }

    #[test]
    fn the_nurture_bar_and_the_follow_up_days_are_settings() {
        let (reports, team) = morning();
        let mut i = input(&reports);
        i.team = &team;
        i.options.answer_nurture_above = 30;
        i.options.follow_up_after_days = 2;
        let r = render(&i).unwrap();
        assert_eq!(
            r.subject,
            "leadsift: 4 to answer, 2 to follow up — Fri 20 Nov"
        );
        i.options.answer_nurture_above = 60;
        i.options.nurture_top = 1;
        let r = render(&i).unwrap();
        assert!(
            r.subject.starts_with("leadsift: 2 to answer"),
            "{}",
            r.subject
        );
        assert!(
            r.text
                .contains("... and 1 more: leadsift leads --class nurture"),
            "{}",
            r.text
        );
    }

    #[test]
    fn a_salesperson_gets_own_leads_and_unowned_hot_ones() {
        let (reports, mut team) = morning();
        owned(&mut team, "acme.example", "ann@ourco.example");
        owned(&mut team, "second-hot.example", "bob@ourco.example");
        owned(&mut team, "good-nurture.example", "bob@ourco.example");
        let ann = Recipient::new("Ann <ann@ourco.example>", Scope::Own).unwrap();
        let boss = Recipient::new("boss@ourco.example", Scope::All).unwrap();
        let mut i = input(&reports);
        i.team = &team;
        i.recipient = Some(&ann);
        let r = render(&i).unwrap();
        assert!(r.text.contains("acme.example"), "{}", r.text);
        assert!(!r.text.contains("second-hot.example"), "{}", r.text);
        assert!(!r.text.contains("good-nurture.example"), "{}", r.text);
        // Unowned hot: in; unowned nurture and drop: only the manager's.
        assert!(r.text.contains("silent-hot.example"));
        assert!(!r.text.contains("old-nurture.example") && !r.text.contains("spam.example"));
        assert!(
            r.text.contains("for ann@ourco.example: your leads"),
            "{}",
            r.text
        );
        assert!(
            r.snapshot.contains_key("acme.example")
                && !r.snapshot.contains_key("second-hot.example")
        );
        assert_eq!(
            r.subject,
            "leadsift: 1 to answer, 1 to follow up — Fri 20 Nov"
        );
        i.recipient = Some(&boss);
        let r = render(&i).unwrap();
        for l in [
            "acme.example",
            "second-hot.example",
            "old-nurture.example",
            "spam.example",
        ] {
            assert!(r.text.contains(l), "{l}");
        }
        assert!(r.text.contains("owner: bob@ourco.example"), "{}", r.text);
    }

    #[test]
    fn working_days_skip_weekends() {
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        assert_eq!(working_days_between(d("2026-11-16"), d("2026-11-20")), 4);
        // Friday to Wednesday: Mon, Tue, Wed.
        assert_eq!(working_days_between(d("2026-11-13"), d("2026-11-18")), 3);
        assert_eq!(working_days_between(d("2026-11-20"), d("2026-11-20")), 0);
        assert_eq!(working_days_between(d("2026-11-20"), d("2026-11-23")), 1);
        assert_eq!(working_days_between(d("2026-11-21"), d("2026-11-19")), 0);
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
                .contains("hot 82 (set by hand by <b>ann</b>@ourco.example; automatic: nurture)"),
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
