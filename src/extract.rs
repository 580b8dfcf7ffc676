//! Stage 3: signals from one parsed message. Pure code: rules come in as data (`patterns/`), the
//! message as a [`ParsedMessage`]; nothing here touches the network, the disk after loading, or
//! the clock.
//!
//! Order of work: flags (auto-reply, bounce, bulk) end it early; then the writer's own words are
//! cut from the quoted thread ([`text`]), every rule scope is prefiltered with a `RegexSet`, the
//! matching rules run, vetoes remove facts that are not what they look like (sample quantities,
//! reply-by dates), values are parsed ([`values`]) and header facts are added.

pub mod catalogue;
pub mod items;
pub mod rules;
pub mod signal;
pub mod text;
pub mod values;

use std::collections::BTreeMap;
use std::path::Path;

use crate::parse::ParsedMessage;
use rules::{FlagKind, Rule, RuleSet, Scope, ValueKind, VetoScope};
pub use signal::{Dimension, Extraction, Flag, Signal, Value};

/// `[business]`: what extraction needs to know about us, our catalogue. Built by `config`.
#[derive(Debug, Clone, Default)]
pub struct Business {
    /// Our catalogue: product phrases in any language.
    pub products: Vec<String>,
    /// `[business] related`: vocabulary only our kind of product has; matches count as ours.
    pub related: Vec<String>,
    /// `[business] not_ours`: neighbouring goods we do not sell.
    pub not_ours: Vec<String>,
    pub min_order_value_usd: f64,
}

#[derive(Debug, thiserror::Error)]
pub enum PatternError {
    #[error("{0}")]
    Invalid(String),
}

/// Rule matching stops looking past this many bytes of the writer's text: enough for any
/// inquiry, and it bounds the cost of a pasted log or a spam novel.
const MAX_SCAN_BYTES: usize = 16 * 1024;

/// Evidence longer than this is cut at a word boundary.
const MAX_EVIDENCE_CHARS: usize = 90;

/// Compiled rules plus the catalogue matcher, built once at start.
#[derive(Debug)]
pub struct Extractor {
    /// Shared with the copies that carry a learned vocabulary ([`Extractor::with_learned`]).
    rules: std::sync::Arc<RuleSet>,
    catalogue: catalogue::Catalogue,
    min_order_value_usd: f64,
}

/// Subject prefixes of replies and forwards: such a subject repeats an earlier message.
fn is_reply_subject(s: &str) -> bool {
    let l = s.trim_start().to_lowercase();
    [
        "re:",
        "re ",
        "aw:",
        "fw:",
        "fwd:",
        "wg:",
        "tr:",
        "res:",
        "rv:",
        "enc:",
        "sv:",
        "ответ:",
        "回复",
        "答复",
        "回覆",
        "转发",
        "轉寄",
        "رد:",
    ]
    .iter()
    .any(|p| l.starts_with(p))
}

/// A signal before vetoes: where it matched, in which text.
#[derive(Debug)]
struct Hit {
    rule: usize,
    /// Subject, attachments and body(+signature) are separate texts.
    space: Space,
    start: usize,
    end: usize,
    signal: Signal,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Space {
    Text,
    Subject,
    Attachments,
}

fn evidence(s: &str) -> String {
    let collapsed = s.split_whitespace().collect::<Vec<_>>().join(" ");
    let trimmed =
        collapsed.trim_matches(|c: char| c.is_whitespace() || matches!(c, ',' | ';' | '(' | ':'));
    if trimmed.chars().count() <= MAX_EVIDENCE_CHARS {
        return trimmed.to_string();
    }
    let cut: String = trimmed.chars().take(MAX_EVIDENCE_CHARS).collect();
    let cut = match cut.rfind(' ') {
        Some(i) if i > MAX_EVIDENCE_CHARS / 2 => &cut[..i],
        _ => cut.as_str(),
    };
    format!("{cut}…")
}

fn cap(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

impl Extractor {
    pub fn new(business: &Business, user_dir: Option<&Path>) -> Result<Extractor, PatternError> {
        let catalogue = catalogue::Catalogue::new(business)?;
        let mut vars = BTreeMap::new();
        // `{product}` lets quantity rules say "180 campanas" without a unit word. With no
        // catalogue it matches nothing.
        vars.insert(
            "product".to_string(),
            catalogue.var.clone().unwrap_or_else(|| r"[^\s\S]".into()),
        );
        let rules = rules::load(user_dir, &vars)?;
        Ok(Extractor {
            rules: std::sync::Arc::new(rules),
            catalogue,
            min_order_value_usd: business.min_order_value_usd,
        })
    }

    /// The same rules with the catalogue extended by the vocabulary learned from our own
    /// outbound mail (loaded by the store; see `catalogue::learn`).
    pub fn with_learned(&self, terms: &[String]) -> Extractor {
        Extractor {
            rules: std::sync::Arc::clone(&self.rules),
            catalogue: self.catalogue.with_learned(terms),
            min_order_value_usd: self.min_order_value_usd,
        }
    }

    pub fn catalogue(&self) -> &catalogue::Catalogue {
        &self.catalogue
    }

    /// The rule set, for `patterns check` and tests.
    pub fn rules(&self) -> &RuleSet {
        &self.rules
    }

    /// Builds every rule's regex now (they are otherwise built on first use), so `check-config`
    /// reports one that parses but is too big. Returns how many were built.
    pub fn compile_all(&self) -> Result<usize, String> {
        let errors: Vec<&str> = self
            .rules
            .rules
            .iter()
            .filter_map(|r| r.regex().err())
            .collect();
        if errors.is_empty() {
            Ok(self.rules.rules.len())
        } else {
            Err(errors.join("; "))
        }
    }

    fn flags(&self, msg: &ParsedMessage) -> Vec<Flag> {
        let mut flags = Vec::new();
        let h = &msg.headers;
        let from = msg.from.as_ref().map(|f| f.address.as_str()).unwrap_or("");
        let local = from.split('@').next().unwrap_or("");
        if h.report
            || local.eq_ignore_ascii_case("mailer-daemon")
            || local.eq_ignore_ascii_case("postmaster")
        {
            flags.push(Flag::Bounce);
        }
        if h.auto_submitted
            .as_deref()
            .is_some_and(|a| !a.trim().is_empty() && a.trim() != "no")
            || h.x_autoreply
        {
            flags.push(Flag::AutoReply);
        }
        if h.list_unsubscribe
            || h.list_id.is_some()
            || h.precedence
                .as_deref()
                .is_some_and(|p| matches!(p.trim(), "bulk" | "list" | "junk"))
        {
            flags.push(Flag::Bulk);
        }
        // Subject and body rules with a `flag` ("Out of office", "自动回复", "Undelivered Mail").
        for (scope, idx, set) in &self.rules.flag_sets {
            let text = match scope {
                Scope::Subject => msg.subject.as_str(),
                Scope::Body | Scope::All => cap(&msg.text, 2048),
                _ => continue,
            };
            for i in set.matches(text).iter() {
                let f = match self.rules.rules[idx[i]].flag {
                    Some(FlagKind::AutoReply) => Flag::AutoReply,
                    Some(FlagKind::Bounce) => Flag::Bounce,
                    Some(FlagKind::Bulk) => Flag::Bulk,
                    None => continue,
                };
                if !flags.contains(&f) {
                    flags.push(f);
                }
            }
        }
        flags.sort();
        flags
    }

    pub fn extract(&self, msg: &ParsedMessage) -> Extraction {
        let flags = self.flags(msg);
        if !flags.is_empty() {
            // Flagged mail is not read as an inquiry; a bulk header stays on record as the
            // evidence that the sender mails a list (scoring reads it when he writes again).
            return Extraction {
                flags,
                signals: bulk_header(&msg.headers).into_iter().collect(),
                ..Extraction::default()
            };
        }
        let parts = text::split(cap(&msg.text, MAX_SCAN_BYTES * 2), &self.rules);
        let body = cap(&parts.body, MAX_SCAN_BYTES);
        let sig = cap(&parts.signature, 4096);
        // One coordinate space for body, signature and both: the signature follows the body.
        let all = format!("{body}\n{sig}");
        let sig_off = body.len() + 1;
        let subject = if is_reply_subject(&msg.subject) {
            ""
        } else {
            cap(&msg.subject, 1024)
        };
        let att_names: String = msg
            .attachments
            .iter()
            .take(50)
            .map(|a| a.name.as_str())
            .collect::<Vec<_>>()
            .join("\n");
        let base = msg.date.date_naive();

        let mut hits: Vec<Hit> = Vec::new();
        let mut vetoes: Vec<(Space, usize, usize, usize)> = Vec::new(); // (space, start, end, rule)
        for (scope, idx, set) in &self.rules.sets {
            let (text, space, off) = match scope {
                Scope::Body => (body, Space::Text, 0),
                Scope::Signature => (sig, Space::Text, sig_off),
                Scope::All => (all.as_str(), Space::Text, 0),
                Scope::Subject => (subject, Space::Subject, 0),
                Scope::Attachments => (att_names.as_str(), Space::Attachments, 0),
            };
            if text.is_empty() {
                continue;
            }
            for i in set.matches(text).iter() {
                let ri = idx[i];
                let r = &self.rules.rules[ri];
                if r.flag.is_some() {
                    continue;
                }
                // A rule whose regex cannot be built was logged once and is skipped.
                let Ok(regex) = r.regex() else { continue };
                for c in regex.captures_iter(text).take(20) {
                    let Some(m) = c.get(0) else { continue };
                    // Body rules share the body+signature scan; their signature matches don't count.
                    if r.scope == Scope::Body && m.start() >= body.len() {
                        break;
                    }
                    if !r.veto.is_empty() {
                        vetoes.push((space, m.start() + off, m.end() + off, ri));
                    }
                    let Some(dimension) = r.dimension else {
                        continue;
                    };
                    let value = match r.value {
                        None => None,
                        Some(v) => match self.parse_value(r, v, &c, base) {
                            Some(v) => Some(v),
                            None => continue,
                        },
                    };
                    hits.push(Hit {
                        rule: ri,
                        space,
                        start: m.start() + off,
                        end: m.end() + off,
                        signal: Signal {
                            dimension,
                            kind: r.kind.clone(),
                            weight: r.weight,
                            evidence: evidence(m.as_str()),
                            value,
                            rule: r.id.clone(),
                        },
                    });
                }
            }
        }

        // Vetoes: a sample count is not an order, a reply-by date is not a delivery date.
        hits.retain(|h| {
            !vetoes.iter().any(|&(space, s, e, ri)| {
                let v = &self.rules.rules[ri];
                if space != h.space || ri == h.rule || !v.veto.contains(&h.signal.kind) {
                    return false;
                }
                match v.veto_scope {
                    VetoScope::Overlap => s < h.end && h.start < e,
                    VetoScope::Clause => {
                        let text = match space {
                            Space::Text => all.as_str(),
                            Space::Subject => subject,
                            Space::Attachments => att_names.as_str(),
                        };
                        text::clause_at(text, h.start) == text::clause_at(text, s)
                    }
                }
            })
        });

        // The same words matched by two rules of the same kind count once (first rule wins).
        hits.sort_by_key(|h| (h.space as u8, h.start, h.rule));
        let mut kept: Vec<Hit> = Vec::with_capacity(hits.len());
        for h in hits {
            let dup = kept.iter().any(|k| {
                k.space == h.space
                    && k.signal.kind == h.signal.kind
                    && k.start < h.end
                    && h.start < k.end
            });
            // A subject repeating a body fact ("- 350 units" in both) is one fact.
            let repeat = h.space == Space::Subject
                && h.signal.value.is_some()
                && kept.iter().any(|k| {
                    k.space == Space::Text
                        && k.signal.kind == h.signal.kind
                        && k.signal.value == h.signal.value
                });
            if !dup && !repeat {
                kept.push(h);
            }
        }
        let items = self.items(&kept, all.as_str(), sig_off, subject);
        let mut signals: Vec<Signal> = kept.into_iter().map(|h| h.signal).collect();

        self.catalogue_signals(subject, body, &items, &mut signals);
        self.header_signals(msg, &mut signals);
        bulk_signals(&msg.shape, &mut signals);
        // A generic "send your price list" counts against a lead only when nothing specific
        // came with it.
        let specific = signals.iter().any(|s| {
            matches!(
                s.kind.as_str(),
                "quantity" | "product_match" | "spec" | "deadline"
            )
        });
        if specific {
            signals.retain(|s| s.kind != "generic_request");
        }
        if !self.catalogue.is_empty()
            && let Some(s) = asks_nothing(body, &signals, &items)
        {
            signals.push(s);
        }
        let deal_value_usd = self.deal_value(&signals, &items);
        if let Some(v) = deal_value_usd {
            let ok = v >= self.min_order_value_usd;
            signals.push(Signal {
                dimension: Dimension::Budget,
                kind: if ok { "deal_value" } else { "below_min_order" }.into(),
                weight: if ok { 1.0 } else { -2.0 },
                evidence: format!(
                    "≈ USD {v:.0} (minimum order USD {:.0})",
                    self.min_order_value_usd
                ),
                value: Some(Value::Money {
                    amount: (v * 100.0).round() / 100.0,
                    currency: "USD".into(),
                    per_unit: false,
                }),
                rule: "deal_value".into(),
            });
        }
        Extraction {
            flags,
            signals,
            deal_value_usd,
            items,
        }
    }

    /// The requested items of the body (not the signature) and the subject.
    fn items(&self, kept: &[Hit], all: &str, sig_off: usize, subject: &str) -> Vec<items::Item> {
        let lex = &self.rules.lexicon;
        let located = |space: Space, limit: usize| -> Vec<items::Located<'_>> {
            kept.iter()
                .filter(|h| h.space == space && h.end <= limit)
                .map(|h| items::Located {
                    start: h.start,
                    end: h.end,
                    kind: h.signal.kind.as_str(),
                    value: h.signal.value.as_ref(),
                    evidence: h.signal.evidence.as_str(),
                })
                .collect()
        };
        let mut out = items::items(all, &located(Space::Text, sig_off), &self.catalogue, lex);
        let subject_items = items::items(
            subject,
            &located(Space::Subject, subject.len()),
            &self.catalogue,
            lex,
        );
        // A subject count repeats a body line ("RFQ: 20,000 m twill"): keep the body's.
        for it in subject_items {
            if !out.iter().any(|o| o.quantity == it.quantity) {
                out.push(it);
            }
        }
        if out.is_empty()
            && let Some(rest) = items::subject_cue_rest(subject, lex)
            && let Some(it) = items::subject_item(rest, &self.catalogue, lex)
        {
            out.push(it);
        }
        out
    }

    fn parse_value(
        &self,
        r: &Rule,
        v: ValueKind,
        c: &regex::Captures<'_>,
        base: chrono::NaiveDate,
    ) -> Option<Value> {
        let lex = &self.rules.lexicon;
        let group = |n: &str| c.name(n).map(|m| m.as_str()).unwrap_or("");
        match v {
            ValueKind::Quantity => {
                let n =
                    values::parse_number(group("n"), lex)? * values::multiplier(group("mult"), lex);
                let (unit, factor) = match &r.unit {
                    Some(u) => (u.clone(), 1.0),
                    None => values::normalise_unit(group("unit"), lex),
                };
                // Rounded: "1,5 km" is 1500 m, not 1499.9999.
                let n = (n * factor * 1000.0).round() / 1000.0;
                if !(n > 0.0 && n < 1e9) {
                    return None;
                }
                Some(Value::Quantity { amount: n, unit })
            }
            ValueKind::Money => {
                let opt = |n: &str| c.name(n).map(|m| m.as_str());
                let (n, currency) = values::money_value(&opt, r.currency.as_deref(), lex)?;
                if !(n > 0.0 && n < 1e11) {
                    return None;
                }
                Some(Value::Money {
                    amount: n,
                    currency,
                    per_unit: r.per_unit || c.name("per").is_some(),
                })
            }
            ValueKind::Date => {
                let (date, _) = values::resolve_date(group("date"), base, lex)?;
                Some(Value::Deadline { date })
            }
        }
    }

    /// Our products named in the subject or the writer's words: need and fit. Goods named that
    /// are not ours (and nothing of ours named besides) count hard against fit.
    fn catalogue_signals(
        &self,
        subject: &str,
        body: &str,
        items: &[items::Item],
        signals: &mut Vec<Signal>,
    ) {
        use items::Fit;
        if self.catalogue.is_empty() {
            return;
        }
        let mut push = |dimension, kind: &str, weight, evidence: String| {
            signals.push(Signal {
                dimension,
                kind: kind.into(),
                weight,
                evidence,
                value: None,
                rule: "catalogue".into(),
            })
        };
        if let Some(m) = items.iter().find(|i| i.fit == Fit::Ours) {
            let ev = evidence(m.matched.as_deref().unwrap_or(&m.product));
            push(Dimension::Need, "product_match", 1.0, ev.clone());
            push(Dimension::Fit, "product_match", 2.0, ev);
            return;
        }
        let not_ours: Vec<&items::Item> = items.iter().filter(|i| i.fit == Fit::NotOurs).collect();
        // Our words outside the lines of goods that are not ours (there they name a material).
        let masked: String = if not_ours.is_empty() {
            String::new()
        } else {
            body.lines()
                .filter(|l| !not_ours.iter().any(|i| evidence(l) == i.evidence))
                .collect::<Vec<_>>()
                .join("\n")
        };
        let text = if not_ours.is_empty() {
            body
        } else {
            masked.as_str()
        };
        let subject_ours = self
            .catalogue
            .find(subject)
            .filter(|_| !not_ours.iter().any(|i| i.quantity.is_none()));
        match self.catalogue.find(text).or(subject_ours) {
            Some((_, m)) => {
                let ev = evidence(&m);
                push(Dimension::Need, "product_match", 1.0, ev.clone());
                push(Dimension::Fit, "product_match", 2.0, ev);
            }
            None => {
                if let Some(i) = not_ours.first() {
                    let head = i.matched.as_deref().unwrap_or(&i.product);
                    push(Dimension::Fit, "not_ours", -4.0, evidence(head));
                }
            }
        }
    }

    fn header_signals(&self, msg: &ParsedMessage, signals: &mut Vec<Signal>) {
        let is_free = |domain: &str| self.is_free_mail(domain);
        let mut push = |dimension, kind: &str, weight, evidence: String| {
            signals.push(Signal {
                dimension,
                kind: kind.into(),
                weight,
                evidence,
                value: None,
                rule: format!("header.{kind}"),
            })
        };
        let Some(from) = &msg.from else { return };
        let domain = from.domain();
        if domain.is_empty() {
            return;
        }
        let free = is_free(domain);
        if free {
            push(Dimension::Fit, "freemail", -1.0, from.address.clone());
        } else {
            push(Dimension::Fit, "company_domain", 1.0, domain.to_string());
        }
        if let Some(rt) = &msg.reply_to {
            let rd = rt.domain();
            if !rd.is_empty()
                && !rd.eq_ignore_ascii_case(domain)
                && registrable(rd) != registrable(domain)
            {
                push(
                    Dimension::Risk,
                    "reply_to_mismatch",
                    3.0,
                    format!("From {} / Reply-To {}", from.address, rt.address),
                );
            }
        }
        if free
            && let Some(claim) = signals
                .iter()
                .find(|s| s.kind == "org_claim")
                .map(|s| s.evidence.clone())
        {
            signals.push(Signal {
                dimension: Dimension::Risk,
                kind: "freemail_org_claim".into(),
                weight: 3.0,
                evidence: format!("{claim} (from {})", from.address),
                value: None,
                rule: "header.freemail_org_claim".into(),
            });
        }
    }

    /// Estimated order value in USD of this one message (see [`values::order_value`]).
    fn deal_value(&self, signals: &[Signal], items: &[items::Item]) -> Option<f64> {
        let lex = &self.rules.lexicon;
        let amounts: Vec<(f64, bool)> = signals
            .iter()
            .filter(|s| s.kind == "money" && s.dimension == Dimension::Budget)
            .filter_map(|s| match &s.value {
                Some(Value::Money {
                    amount,
                    currency,
                    per_unit,
                }) => Some((values::to_usd(*amount, currency, lex)?, *per_unit)),
                _ => None,
            })
            .collect();
        let qtys: Vec<(f64, &str)> = signals
            .iter()
            .filter(|s| s.kind == "quantity")
            .filter_map(|s| match &s.value {
                Some(Value::Quantity { amount, unit }) => Some((*amount, unit.as_str())),
                _ => None,
            })
            .collect();
        let item_values = items::item_values(items, &|a, c| values::to_usd(a, c, lex));
        values::order_value(&qtys, &amounts, item_values, per_colour(signals))
    }
}

/// The bulk-mail header a message carries (List-Unsubscribe, List-Id, Precedence: bulk/list/junk),
/// as a `bulk` signal that names it.
fn bulk_header(h: &crate::parse::Headers) -> Option<Signal> {
    let evidence = if h.list_unsubscribe {
        "List-Unsubscribe header".to_string()
    } else if let Some(id) = &h.list_id {
        format!("List-Id: {}", evidence(id))
    } else {
        let p = h.precedence.as_deref().map(str::trim)?;
        if !matches!(p, "bulk" | "list" | "junk") {
            return None;
        }
        format!("Precedence: {p}")
    };
    Some(Signal {
        dimension: Dimension::Risk,
        kind: "bulk".into(),
        weight: 2.0,
        evidence,
        value: None,
        rule: "header.bulk".into(),
    })
}

/// Signal kinds that ask us for something a supplier sells: a quote, a price list, samples,
/// documents, a count of goods, a drawing or PO to work from. (Not a bare "agreed" or "target":
/// those answer an offer.)
pub const ASK_KINDS: &[&str] = &[
    "quote_request",
    "pi_request",
    "sample_request",
    "docs_request",
    "generic_request",
    "quantity",
    "containers",
    "repeat_order",
    "moq_question",
    "spec_attachment",
    "po_attachment",
];

/// A text this long that names nothing we sell and asks for nothing is about something else
/// (an advert, a newsletter, a chain letter); a shorter one may be a first hello.
const ASKS_NOTHING_WORDS: usize = 40;

/// Words in `s`, with CJK and Thai (written without spaces) counted as two characters a word.
fn word_count(s: &str) -> usize {
    let unspaced = |c: char| matches!(c, '\u{3040}'..='\u{30FF}' | '\u{3400}'..='\u{4DBF}' | '\u{4E00}'..='\u{9FFF}' | '\u{AC00}'..='\u{D7AF}' | '\u{0E00}'..='\u{0E7F}');
    s.split_whitespace()
        .map(|w| match w.chars().filter(|c| unspaced(*c)).count() {
            0 => 1,
            n => n.div_ceil(2),
        })
        .sum()
}

/// The fact that the writer's words (`body`, signature cut) are long, name nothing of our
/// catalogue (no match, no requested item) and ask for nothing a supplier sells.
fn asks_nothing(body: &str, signals: &[Signal], items: &[items::Item]) -> Option<Signal> {
    let names_goods = !items.is_empty()
        || signals
            .iter()
            .any(|s| matches!(s.kind.as_str(), "product_match" | "not_ours"));
    let asks = signals.iter().any(|s| ASK_KINDS.contains(&s.kind.as_str()));
    let words = word_count(body);
    (!names_goods && !asks && words >= ASKS_NOTHING_WORDS).then(|| Signal {
        dimension: Dimension::Need,
        kind: "asks_nothing".into(),
        weight: 0.0,
        evidence: format!("{words} words that name nothing of ours and ask for nothing"),
        value: None,
        rule: "catalogue.asks_nothing".into(),
    })
}

/// A person's inquiry carries a signature link or two; this many distinct links is a mailing.
const BULK_LINKS: u16 = 6;
/// A logo or two in a signature is normal; this many images is a designed mailing.
const BULK_IMAGES: u16 = 4;
/// An HTML-only message with this many links (or [`BULK_HTML_IMAGES`] images) is a designed
/// mailing too: mail programs send a plain-text part beside the HTML of what a person types.
const BULK_HTML_LINKS: u16 = 3;
const BULK_HTML_IMAGES: u16 = 2;

/// Bulk structure from the body's make-up (see [`crate::parse::Shape`]): many links, many
/// images, HTML-only marketing. Signals of kind `bulk`; scoring judges them as a step (bulk mail
/// that names nothing we sell is dropped), not as risk points.
fn bulk_signals(shape: &crate::parse::Shape, signals: &mut Vec<Signal>) {
    let evidence = if let Some(l) = &shape.removal_link {
        format!("unsubscribe link {l}")
    } else if shape.links >= BULK_LINKS {
        format!("{} links", shape.links)
    } else if shape.images >= BULK_IMAGES {
        format!("{} images", shape.images)
    } else if shape.html_only
        && (shape.links >= BULK_HTML_LINKS || shape.images >= BULK_HTML_IMAGES)
    {
        format!(
            "HTML-only, {} link{} and {} image{}",
            shape.links,
            if shape.links == 1 { "" } else { "s" },
            shape.images,
            if shape.images == 1 { "" } else { "s" }
        )
    } else {
        return;
    };
    signals.push(Signal {
        dimension: Dimension::Risk,
        kind: "bulk".into(),
        weight: 2.0,
        evidence,
        value: None,
        rule: "shape.bulk".into(),
    });
}

/// The colour count, when a quantity in these signals is stated per colour.
pub fn per_colour(signals: &[Signal]) -> Option<f64> {
    signals.iter().find(|s| s.kind == "per_colour")?;
    signals
        .iter()
        .filter(|s| s.kind == "colours")
        .filter_map(|s| match &s.value {
            Some(Value::Quantity { amount, .. }) => Some(*amount),
            _ => None,
        })
        .reduce(f64::max)
        .filter(|c| *c > 1.0 && *c <= 30.0)
}

/// Whether `domain` is a consumer mail provider of the `freemail` list: the domain or any parent
/// (`mail.yahoo.co.uk` → `yahoo.co.uk` → `co.uk` …) is listed, or a `brand.*` entry names its
/// registrable domain under any public suffix (`yahoo.*` covers yahoo.ca, yahoo.com.ar,
/// mail.yahoo.co.jp).
fn is_free_mail_in(free: &std::collections::HashSet<String>, domain: &str) -> bool {
    let domain = domain.trim().trim_end_matches('.').to_ascii_lowercase();
    let mut d = domain.as_str();
    loop {
        if free.contains(d) {
            return true;
        }
        match d.split_once('.') {
            Some((_, parent)) if !parent.is_empty() => d = parent,
            _ => break,
        }
    }
    let (Some(registrable), Some(suffix)) = (psl::domain_str(&domain), psl::suffix_str(&domain))
    else {
        return false;
    };
    let brand = registrable
        .strip_suffix(suffix)
        .and_then(|b| b.strip_suffix('.'))
        .unwrap_or("");
    !brand.is_empty() && free.contains(&format!("{brand}.*"))
}

/// The last two labels of a domain (three for `co.uk`-style suffixes): enough to tell
/// `mail.acme.example` and `acme.example` apart from `gmail.com`.
fn registrable(domain: &str) -> String {
    let d = domain.to_ascii_lowercase();
    match psl::domain_str(&d) {
        Some(r) => r.to_string(),
        None => {
            let labels: Vec<&str> = d.rsplit('.').take(2).collect();
            labels.into_iter().rev().collect::<Vec<_>>().join(".")
        }
    }
}

pub mod cli {
    //! The `extract` and `patterns check` commands.
    use std::io::Write;
    use std::path::Path;
    use std::process::ExitCode;

    use chrono::{DateTime, Utc};

    use super::{Business, Extractor};
    use crate::vocab::Me;

    pub fn print(
        extractor: &Extractor,
        me: &Me,
        raw: &[u8],
        now: DateTime<Utc>,
        json: bool,
        out: &mut dyn Write,
    ) -> anyhow::Result<()> {
        let parsed = crate::parse::parse(raw, now.fixed_offset(), false)?;
        // Our own mail never scores for a buyer (same rule as ingest).
        let ours = parsed.from.as_ref().is_some_and(|f| me.is_ours(&f.address));
        let ex = if ours {
            super::Extraction {
                flags: Vec::new(),
                signals: Vec::new(),
                deal_value_usd: None,
                items: Vec::new(),
            }
        } else {
            extractor.extract(&parsed)
        };
        let mut doc = serde_json::json!({
            "message_id": parsed.message_id,
            "date": parsed.date.to_rfc3339(),
            "flags": ex.flags,
            "signals": ex.signals,
            "items": ex.items,
        });
        if let (Some(v), Some(o)) = (ex.deal_value_usd, doc.as_object_mut()) {
            o.insert("deal_value_usd".into(), serde_json::json!(v));
        }
        if json {
            serde_json::to_writer_pretty(&mut *out, &doc)?;
        } else {
            if !ex.flags.is_empty() {
                writeln!(
                    out,
                    "flags: {}",
                    ex.flags
                        .iter()
                        .map(|f| format!("{f:?}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )?;
            }
            for s in &ex.signals {
                let v = s
                    .value
                    .as_ref()
                    .map(|v| serde_json::to_string(v).unwrap_or_default())
                    .unwrap_or_default();
                writeln!(
                    out,
                    "{:<10} {:<18} {:+.1}  {:?} {v}",
                    s.dimension.as_str(),
                    s.kind,
                    s.weight,
                    s.evidence
                )?;
            }
        }
        writeln!(out)?;
        Ok(())
    }

    /// Compiles the built-in and user rules and runs every example. Exit 1 on any failure, with
    /// file, rule id and example named.
    pub fn patterns_check(
        user_dir: Option<&Path>,
        out: &mut dyn Write,
    ) -> anyhow::Result<ExitCode> {
        // A small demonstration catalogue so the `{product}` examples have something to match.
        let business = Business {
            products: [
                "high bay",
                "floodlight",
                "campana LED",
                "projecteur LED",
                "refletor LED",
            ]
            .map(String::from)
            .to_vec(),
            ..Business::default()
        };
        let ex = match super::Extractor::new(&business, user_dir) {
            Ok(e) => e,
            Err(e) => {
                writeln!(out, "FAIL: {e}")?;
                return Ok(ExitCode::FAILURE);
            }
        };
        let base = chrono::NaiveDate::from_ymd_opt(2026, 11, 20).unwrap_or_default();
        let parse_ok = |r: &super::Rule, c: &regex::Captures<'_>| match r.value {
            Some(v) => ex.parse_value(r, v, c, base).is_some(),
            None => true,
        };
        let (n, fails) = super::rules::check(ex.rules(), &parse_ok);
        for f in &fails {
            writeln!(
                out,
                "FAIL: {}: rule {}: example {:?}: {}",
                f.file, f.rule, f.example, f.problem
            )?;
        }
        writeln!(
            out,
            "{} rules, {} quote markers, {} examples, {} failed",
            ex.rules().rules.len(),
            ex.rules().quotes.len(),
            n,
            fails.len()
        )?;
        Ok(if fails.is_empty() {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        })
    }

    /// Parse + extract over every file under `dir` (recursively); prints messages/s and MB/s on
    /// one core. Used by bench/extract.sh; reads everything first so only the work is timed.
    pub fn bench(extractor: &Extractor, dir: &Path, out: &mut dyn Write) -> anyhow::Result<()> {
        let mut files = Vec::new();
        let mut stack = vec![dir.to_path_buf()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d)? {
                let p = e?.path();
                if p.is_dir() {
                    stack.push(p);
                } else if !p
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with('.'))
                {
                    files.push(std::fs::read(&p)?);
                }
            }
        }
        let bytes: usize = files.iter().map(Vec::len).sum();
        let fallback = Utc::now().fixed_offset();
        let mut signals = 0usize;
        let started = std::time::Instant::now();
        for raw in &files {
            if let Ok(p) = crate::parse::parse(raw, fallback, false) {
                signals += extractor.extract(&p).signals.len();
            }
        }
        let secs = started.elapsed().as_secs_f64().max(1e-9);
        writeln!(
            out,
            "messages={} bytes={} seconds={:.3} msgs_per_s={:.0} mb_per_s={:.1} signals={}",
            files.len(),
            bytes,
            secs,
            files.len() as f64 / secs,
            bytes as f64 / 1e6 / secs,
            signals
        )?;
        Ok(())
    }
}

impl Extractor {
    /// Converts an amount to USD with the patterns' fixed rates (scoring estimates a lead's
    /// order value across its messages with the same rates extraction uses).
    /// A consumer mail provider from the patterns' `freemail` list (subdomains included); scoring
    /// makes each such sender a lead of its own.
    pub fn is_free_mail(&self, domain: &str) -> bool {
        is_free_mail_in(&self.rules.lexicon.freemail, domain)
    }

    pub fn to_usd(&self, amount: f64, currency: &str) -> Option<f64> {
        values::to_usd(amount, currency, &self.rules.lexicon)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::{Headers, Shape};

    fn free(list: &[&str]) -> std::collections::HashSet<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn free_mail_brands_count_under_any_public_suffix() {
        let f = free(&["yahoo.*", "gmx.*", "bigfoot.com", "qq.com"]);
        for d in [
            "yahoo.ca",
            "yahoo.com.ar",
            "mail.yahoo.co.jp",
            "GMX.at",
            "bigfoot.com",
            "vip.qq.com",
        ] {
            assert!(is_free_mail_in(&f, d), "{d}");
        }
        // A company's own domain that merely contains the brand, and a brand as a subdomain.
        for d in [
            "yahoo-pumps.example",
            "yahoo.acme.example",
            "notbigfoot.com",
            "acme.com",
            "",
        ] {
            assert!(!is_free_mail_in(&f, d), "{d}");
        }
    }

    #[test]
    fn many_links_many_images_or_html_only_marketing_is_bulk() {
        let bulk = |shape: Shape| {
            let mut v = Vec::new();
            bulk_signals(&shape, &mut v);
            v.first().map(|s| (s.kind.clone(), s.evidence.clone()))
        };
        let shape = |html_only, links, images| Shape {
            html_only,
            links,
            images,
            removal_link: None,
        };
        assert_eq!(
            bulk(shape(false, 7, 0)),
            Some(("bulk".into(), "7 links".into()))
        );
        assert_eq!(
            bulk(shape(false, 1, 5)),
            Some(("bulk".into(), "5 images".into()))
        );
        assert_eq!(
            bulk(shape(true, 3, 0)),
            Some(("bulk".into(), "HTML-only, 3 links and 0 images".into()))
        );
        // A person's mail: a website link in the signature, a logo, or HTML with one link.
        assert_eq!(bulk(shape(false, 2, 1)), None);
        assert_eq!(bulk(shape(true, 1, 1)), None);
        assert_eq!(bulk(shape(false, 5, 3)), None);
        let list = Shape {
            removal_link: Some("https://news.example/unsubscribe?id=7".into()),
            ..Shape::default()
        };
        assert_eq!(
            bulk(list),
            Some((
                "bulk".into(),
                "unsubscribe link https://news.example/unsubscribe?id=7".into()
            ))
        );
    }

    #[test]
    fn words_count_spaced_and_unspaced_scripts() {
        assert_eq!(word_count("We need twenty pumps"), 4);
        assert_eq!(word_count("我们需要水泵"), 3);
        assert_eq!(word_count("  "), 0);
    }

    #[test]
    fn a_long_text_that_names_and_asks_nothing_is_marked() {
        let long = "word ".repeat(ASKS_NOTHING_WORDS);
        let short = "Hello, are you the exporter? Call me.";
        let s = asks_nothing(&long, &[], &[]).map(|s| (s.kind, s.weight));
        assert_eq!(s, Some(("asks_nothing".into(), 0.0)));
        // A first hello is short: not marked.
        assert!(asks_nothing(short, &[], &[]).is_none());
        // Asking for a quote, or naming goods, is not asking for nothing.
        let ask = Signal {
            dimension: Dimension::Need,
            kind: "quote_request".into(),
            weight: 1.0,
            evidence: "please quote".into(),
            value: None,
            rule: "t".into(),
        };
        assert!(asks_nothing(&long, &[ask], &[]).is_none());
        let ours = Signal {
            kind: "product_match".into(),
            ..Signal {
                dimension: Dimension::Fit,
                kind: String::new(),
                weight: 2.0,
                evidence: "pump".into(),
                value: None,
                rule: "catalogue".into(),
            }
        };
        assert!(asks_nothing(&long, &[ours], &[]).is_none());
    }

    #[test]
    fn a_bulk_header_is_named_in_the_evidence() {
        let h = Headers {
            list_unsubscribe: true,
            ..Headers::default()
        };
        assert_eq!(
            bulk_header(&h).map(|s| s.evidence),
            Some("List-Unsubscribe header".into())
        );
        let h = Headers {
            list_id: Some("<metal-news.lists.example>".into()),
            ..Headers::default()
        };
        assert_eq!(
            bulk_header(&h).map(|s| s.evidence),
            Some("List-Id: <metal-news.lists.example>".into())
        );
        let h = Headers {
            precedence: Some("bulk".into()),
            ..Headers::default()
        };
        assert_eq!(
            bulk_header(&h).map(|s| s.evidence),
            Some("Precedence: bulk".into())
        );
        let h = Headers {
            precedence: Some("first-class".into()),
            ..Headers::default()
        };
        assert!(bulk_header(&h).is_none());
    }
}
