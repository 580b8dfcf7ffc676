//! Our catalogue as a matcher: the configured product phrases and related vocabulary, with the
//! spelling variants buyers use (case, plurals and short inflections, hyphen/space variants), and
//! the neighbouring goods a business rules out (`[business] not_ours`).

pub mod learn;
pub mod normalise;

use regex::Regex;

use super::Business;
use super::PatternError;
use normalise::{Folded, Matcher};

/// The catalogue matcher. Each phrase matches in two ways: literally (case-insensitive, with a
/// short inflection on the last word — the historical matcher, kept so nothing it found is lost)
/// and folded ([`normalise`]: NFKC, simplified Chinese, stems, hyphen/space/closed-up variants,
/// German compound heads). The vocabulary learned from our own quotes ([`learn`]) is matched
/// folded too, but never as a compound head and never for the rules' `{product}` var; a
/// configured `not_ours` phrase still beats it.
#[derive(Debug, Default, Clone)]
pub struct Catalogue {
    /// Products and related vocabulary.
    ours: Option<Regex>,
    not_ours: Option<Regex>,
    /// The `{product}` var body for rules (products only, no leading boundary).
    pub var: Option<String>,
    /// Head nouns of our multi-word phrases ("pump" of "water pump"), singular, lower-cased: a
    /// buyer's "pumps" is our kind of goods even when he names no exact catalogue phrase.
    heads: std::collections::BTreeSet<String>,
    ours_folded: Matcher,
    not_ours_folded: Matcher,
    learned: Matcher,
    learned_terms: Vec<String>,
}

/// The earlier of two spans (the longer one when they start together).
fn earliest(a: Option<(usize, usize)>, b: Option<(usize, usize)>) -> Option<(usize, usize)> {
    match (a, b) {
        (Some(x), Some(y)) => Some(
            if (y.0, std::cmp::Reverse(y.1)) < (x.0, std::cmp::Reverse(x.1)) {
                y
            } else {
                x
            },
        ),
        (x, y) => x.or(y),
    }
}

fn trimmed_span(text: &str, s: usize, e: usize) -> (usize, String) {
    let m = &text[s..e];
    let lead = m.len() - m.trim_start_matches(|c: char| !c.is_alphanumeric()).len();
    (
        s + lead,
        m.trim_matches(|c: char| !c.is_alphanumeric()).to_string(),
    )
}

impl Catalogue {
    pub fn new(business: &Business) -> Result<Catalogue, PatternError> {
        let mut words = business.products.clone();
        words.extend(business.related.iter().cloned());
        let build = |phrases: &[String], key: &str| -> Result<Option<Regex>, PatternError> {
            match catalogue_pattern(phrases) {
                Some((full, _)) => Regex::new(&full)
                    .map(Some)
                    .map_err(|e| PatternError::Invalid(format!("[business] {key}: {e}"))),
                None => Ok(None),
            }
        };
        let heads = words
            .iter()
            .filter(|p| p.trim().contains(' '))
            .filter_map(|p| p.split([' ', '-']).rfind(|w| !w.is_empty()))
            .filter(|w| w.chars().count() >= 4 && w.chars().all(is_latin_word_char))
            .map(singular)
            .collect();
        Ok(Catalogue {
            heads,
            ours: build(&words, "products")?,
            not_ours: build(&business.not_ours, "not_ours")?,
            var: catalogue_pattern(&business.products).map(|c| c.1),
            ours_folded: Matcher::new(&words, true),
            not_ours_folded: Matcher::new(&business.not_ours, true),
            learned: Matcher::default(),
            learned_terms: Vec::new(),
        })
    }

    /// This catalogue plus the vocabulary learned from our own outbound mail.
    pub fn with_learned(&self, terms: &[String]) -> Catalogue {
        let mut c = self.clone();
        c.learned_terms = terms.to_vec();
        c.learned = Matcher::new(terms, false);
        c
    }

    pub fn learned_terms(&self) -> &[String] {
        &self.learned_terms
    }

    pub fn is_empty(&self) -> bool {
        self.ours.is_none()
    }

    /// The first catalogue phrase in `text` (learned vocabulary included): (byte start of the
    /// phrase, the words matched as written).
    pub fn find(&self, text: &str) -> Option<(usize, String)> {
        self.find_in(text, true)
    }

    /// The first phrase of the configured catalogue only (no learned vocabulary).
    pub fn find_configured(&self, text: &str) -> Option<(usize, String)> {
        self.find_in(text, false)
    }

    fn find_in(&self, text: &str, learned: bool) -> Option<(usize, String)> {
        let literal = self.ours.as_ref()?.find(text).map(|m| (m.start(), m.end()));
        let folded = Folded::new(text);
        let mut best = earliest(literal, self.ours_folded.find(&folded));
        if learned {
            best = earliest(best, self.learned.find(&folded));
        }
        let (s, e) = best?;
        Some(trimmed_span(text, s, e)).filter(|(_, m)| !m.is_empty())
    }

    /// The head noun of ours that ends `head` ("stainless pumps" → "pump"), if any.
    pub fn same_kind(&self, head: &str) -> Option<String> {
        let last = head
            .split(|c: char| !c.is_alphanumeric())
            .rfind(|w| !w.is_empty())?;
        let s = singular(last);
        self.heads.contains(&s).then_some(s)
    }

    /// A `not_ours` phrase in `text`.
    pub fn not_ours_in(&self, text: &str) -> Option<String> {
        let literal = self
            .not_ours
            .as_ref()?
            .find(text)
            .map(|m| (m.start(), m.end()));
        let folded = self.not_ours_folded.find(&Folded::new(text));
        let (s, e) = earliest(literal, folded)?;
        Some(trimmed_span(text, s, e).1).filter(|m| !m.is_empty())
    }
}

/// Lower-cased, with an English plural ending dropped: "Pumps" → "pump", "boxes" → "box".
fn singular(w: &str) -> String {
    let w = w.to_lowercase();
    for end in ["ches", "shes", "xes", "sses"] {
        if let Some(s) = w.strip_suffix(end) {
            return format!("{s}{}", &end[..end.len() - 2]);
        }
    }
    match w.strip_suffix('s') {
        Some(s) if !s.ends_with('s') && s.chars().count() >= 3 => s.to_string(),
        _ => w,
    }
}

fn is_latin_word_char(c: char) -> bool {
    c.is_alphanumeric() && !is_cjk(c)
}

fn is_cjk(c: char) -> bool {
    matches!(c as u32, 0x3040..=0x30ff | 0x3400..=0x4dbf | 0x4e00..=0x9fff | 0xf900..=0xfaff | 0xac00..=0xd7af)
}

/// One alternative per catalogue phrase. Latin-script phrases get word boundaries (so "LED"
/// does not match "LEDGER") and tolerate a short inflection on the last word ("high bays",
/// "campanas", "светильники"); CJK phrases match as substrings, which is how those scripts work.
/// Returns (matcher with leading boundary, var body without it: rules put their own boundary).
fn catalogue_pattern(products: &[String]) -> Option<(String, String)> {
    let mut ps: Vec<&str> = products
        .iter()
        .map(|p| p.trim())
        .filter(|p| !p.is_empty())
        .collect();
    if ps.is_empty() {
        return None;
    }
    ps.sort_by_key(|p| std::cmp::Reverse(p.len()));
    let esc = |p: &str| {
        // Spaces and hyphens are interchangeable ("high bay", "high-bay").
        p.split([' ', '-'])
            .filter(|w| !w.is_empty())
            .map(regex::escape)
            .collect::<Vec<_>>()
            .join(r"[\s-]?")
    };
    // Three groups share one tail each, which keeps the compiled automaton small: CJK phrases
    // (no boundaries), short Latin acronyms (plural s only), Latin words (short inflection).
    let (mut cjk, mut short, mut long) = (Vec::new(), Vec::new(), Vec::new());
    let mut stems = Vec::new();
    for p in &ps {
        let last_latin = p.chars().last().is_some_and(is_latin_word_char);
        let last_len = p
            .split_whitespace()
            .last()
            .map(|w| w.chars().count())
            .unwrap_or(0);
        if !last_latin {
            cjk.push(esc(p));
        } else if last_len <= 3 {
            short.push(esc(p));
        } else {
            long.push(esc(p));
        }
        // For counts, the head word of a longer phrase names the item too ("campanas" for
        // "campana LED").
        if let Some(first) = p.split_whitespace().next()
            && p.contains(' ')
            && first.chars().count() >= 6
            && first.chars().all(is_latin_word_char)
        {
            stems.push(regex::escape(first));
        }
    }
    stems.sort();
    stems.dedup();
    let join = |v: &Vec<String>| {
        if v.is_empty() {
            r"[^\s\S]".to_string()
        } else {
            v.join("|")
        }
    };
    let latin_tail = r"(?:$|[^\w])";
    let bare = format!(
        r"(?:{})|(?:{})s?{latin_tail}|(?:{}|{})\p{{L}}{{0,4}}{latin_tail}",
        join(&cjk),
        join(&short),
        join(&long),
        join(&stems)
    );
    let full = format!(
        r"(?:{})|(?:^|[^\w])(?:(?:{})s?|(?:{})\p{{L}}{{0,4}}){latin_tail}",
        join(&cjk),
        join(&short),
        join(&long)
    );
    Some((format!("(?i)(?:{full})"), bare))
}
