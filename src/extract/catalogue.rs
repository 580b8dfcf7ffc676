//! Our catalogue as a matcher: the configured product phrases and related vocabulary, with the
//! spelling variants buyers use (case, plurals and short inflections, hyphen/space variants), and
//! the neighbouring goods a business rules out (`[business] not_ours`).

use regex::Regex;

use super::Business;
use super::PatternError;

#[derive(Debug, Default)]
pub struct Catalogue {
    /// Products and related vocabulary.
    ours: Option<Regex>,
    not_ours: Option<Regex>,
    /// The `{product}` var body for rules (products only, no leading boundary).
    pub var: Option<String>,
    /// Head nouns of our multi-word phrases ("pump" of "water pump"), singular, lower-cased: a
    /// buyer's "pumps" is our kind of goods even when he names no exact catalogue phrase.
    heads: std::collections::BTreeSet<String>,
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
        })
    }

    pub fn is_empty(&self) -> bool {
        self.ours.is_none()
    }

    /// The first catalogue phrase in `text`: (byte start of the phrase, the words matched).
    pub fn find(&self, text: &str) -> Option<(usize, String)> {
        let m = self.ours.as_ref()?.find(text)?;
        let s = m.as_str();
        let lead = s.len() - s.trim_start_matches(|c: char| !c.is_alphanumeric()).len();
        Some((
            m.start() + lead,
            s.trim_matches(|c: char| !c.is_alphanumeric()).to_string(),
        ))
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
        let m = self.not_ours.as_ref()?.find(text)?;
        Some(
            m.as_str()
                .trim_matches(|c: char| !c.is_alphanumeric())
                .to_string(),
        )
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
