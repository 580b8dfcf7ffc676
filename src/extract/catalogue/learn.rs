//! The business vocabulary in our own outbound mail: the model codes and product names our
//! salespeople put a price on. Pure: the store hands in stored messages and keeps the counts.
//!
//! Only our own words count (the quoted thread and the signature are cut, so a buyer's text and
//! our address never teach anything), only in a message that names a product of the configured
//! catalogue (the anchor: the vocabulary extends *this* catalogue, so judged with another
//! business's catalogue the same mailbox teaches nothing), and only on a price line:
//! - a model code on a line with a price ("HX-250: USD 410/set" → `HX-250`);
//! - the product name written right after such a code ("HX-250 sump pump, 0.75 kW: USD 96/pc"
//!   → `sump pump`), unless the configured catalogue already names it.
//!
//! A greeting, a colour or a payment term never follows a model code; a code that is a number
//! with a unit ("150W", "40HQ"), a currency ("USD120") or a short standard rating ("IP65") is
//! not a model. The store then keeps a
//! term only when several of our messages use it and it is markedly more ours than our buyers'
//! ([`keep`]).

use regex::Regex;

use crate::extract::{Extractor, text};
use crate::parse::ParsedMessage;

/// One term one outbound message teaches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// As we wrote it.
    pub term: String,
    /// Folded and closed up: "hx-250" and "HX 250" count as one.
    pub key: String,
    pub kind: Kind,
    /// The line it was read from.
    pub example: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Model,
    Product,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Model => "model",
            Kind::Product => "product",
        }
    }
}

/// The key terms are counted under.
pub fn key(term: &str) -> String {
    super::normalise::fold(term)
        .chars()
        .filter(|c| c.is_alphanumeric())
        .collect()
}

/// A term seen in `ours` of our `anchored` quoting messages and in `theirs` of `inbound`
/// inbound messages is ours: at least two of our messages use it, and a product name must be at
/// least twice as common in our quotes as in what buyers write (so trade words everyone uses —
/// freight, deposit — stay out). A model code is exempt from that test: buyers who copy our
/// code from a quote are what it is for, only one that half the inbound mail carries is
/// boilerplate.
pub fn keep(kind: Kind, ours: usize, anchored: usize, theirs: usize, inbound: usize) -> bool {
    if ours < 2 || anchored == 0 {
        return false;
    }
    let our_rate = ours as f64 / anchored as f64;
    let their_rate = if inbound == 0 {
        0.0
    } else {
        theirs as f64 / inbound as f64
    };
    match kind {
        Kind::Model => their_rate <= 0.5,
        Kind::Product => their_rate * 2.0 <= our_rate,
    }
}

impl Kind {
    pub fn parse(s: &str) -> Kind {
        if s == "model" {
            Kind::Model
        } else {
            Kind::Product
        }
    }
}

/// Built once per refresh from the extractor's word tables.
pub struct Learner<'a> {
    ex: &'a Extractor,
    money: Regex,
    unit_price: Regex,
}

fn alternation<'s>(words: impl Iterator<Item = &'s String>) -> String {
    let mut w: Vec<&String> = words.filter(|w| !w.is_empty()).collect();
    w.sort_by_key(|w| std::cmp::Reverse(w.len()));
    w.iter()
        .map(|w| regex::escape(w))
        .collect::<Vec<_>>()
        .join("|")
}

impl<'a> Learner<'a> {
    pub fn new(ex: &'a Extractor) -> Learner<'a> {
        let cur = alternation(ex.rules.lexicon.currencies.keys());
        let cur = if cur.is_empty() { "usd".into() } else { cur };
        let amount = format!(
            r"(?:(?:^|[^\p{{L}}])(?:{cur})\s?\d[\d.,]*|\d[\d.,]*\s?(?:{cur})(?:$|[^\p{{L}}]))"
        );
        // A price per something: "USD 1.62/m", "$410 per set", "96 EUR each", "за шт".
        let per = r"\s*(?:/|per\s|each|a\s|por\s|par\s|pro\s|je\s|за\s|لكل|每)";
        let build = |p: &str| Regex::new(&format!("(?i){p}")).ok();
        let never = || Regex::new(r"[^\s\S]").expect("a valid empty pattern");
        Learner {
            ex,
            money: build(&amount).unwrap_or_else(never),
            unit_price: build(&format!("{amount}{per}")).unwrap_or_else(never),
        }
    }

    /// Our own words in a message (quoted thread and signature cut).
    pub fn own_text(&self, msg: &ParsedMessage) -> String {
        text::split(&msg.text, &self.ex.rules).body
    }

    /// What one outbound message teaches; `None` when it names nothing of our configured
    /// catalogue (then it does not count as a quoting message either).
    pub fn candidates(&self, msg: &ParsedMessage) -> Option<Vec<Candidate>> {
        let body = self.own_text(msg);
        self.ex.catalogue.find_configured(&body)?;
        let mut out: Vec<Candidate> = Vec::new();
        for line in body.lines() {
            let line = line.trim();
            if line.is_empty() || !self.money.is_match(line) {
                continue;
            }
            let example: String = line.chars().take(160).collect();
            let unit_price = self.unit_price.is_match(line);
            for (code, end) in self.model_codes(line) {
                if let Some(p) = self.product_after(&line[end..]).filter(|_| unit_price) {
                    out.push(Candidate {
                        key: key(&p),
                        term: p,
                        kind: Kind::Product,
                        example: example.clone(),
                    });
                }
                out.push(Candidate {
                    key: key(&code),
                    term: code,
                    kind: Kind::Model,
                    example: example.clone(),
                });
            }
        }
        let mut seen = std::collections::HashSet::new();
        out.retain(|c| !c.key.is_empty() && seen.insert(c.key.clone()));
        Some(out)
    }

    fn is_word_table_entry(&self, w: &str) -> bool {
        let lex = &self.ex.rules.lexicon;
        lex.units.contains_key(w)
            || lex.currencies.contains_key(w)
            || lex.item_noise.contains(w)
            || lex.multipliers.contains_key(w)
            || lex.numerals.contains_key(w)
            || lex.item_breaks.iter().any(|b| b == w)
            || lex.item_connectives.iter().any(|b| b == w)
            || lex.item_cues.iter().any(|b| b == w)
            || lex.months.iter().any(|(m, _)| m == w)
            || lex.weekdays.iter().any(|(d, _)| d == w)
    }

    /// Tokens of letters and digits ("HX-250", "TPS150"): at least two of each, starting with
    /// a letter, not a standard rating ("IP65") and not a measure or an amount ("150W",
    /// "USD120", "M3").
    fn model_codes(&self, line: &str) -> Vec<(String, usize)> {
        let mut out = Vec::new();
        let is_sep =
            |c: char| c.is_whitespace() || matches!(c, ',' | ';' | ':' | '(' | ')' | '：' | '，');
        let mut rest = line;
        let mut off = 0;
        while !rest.is_empty() {
            let n = rest.find(is_sep).unwrap_or(rest.len());
            let raw = &rest[..n];
            let next = rest[n..].chars().next().map_or(0, char::len_utf8);
            let raw_end = off + n;
            rest = &rest[n + next..];
            off = raw_end + next;
            let t = raw.trim_matches(|c: char| !c.is_alphanumeric());
            if !t.is_ascii() {
                continue;
            }
            let letters: String = t.chars().filter(|c| c.is_alphabetic()).collect();
            let digits = t.chars().filter(|c| c.is_ascii_digit()).count();
            let n = t.chars().count();
            if !(4..=24).contains(&n)
                || letters.chars().count() < 2
                || digits < 2
                || !t.starts_with(|c: char| c.is_alphabetic())
                || t.chars()
                    .any(|c| !(c.is_alphanumeric() || matches!(c, '-' | '/' | '.')))
            {
                continue;
            }
            // Short codes are standard ratings and sizes every trade writes (IP65, E27, DN50),
            // not our models: five letters and digits at least, or a hyphen inside ("HX-25").
            let alnum = t.chars().filter(|c| c.is_alphanumeric()).count();
            if alnum < 5 && !t.contains('-') {
                continue;
            }
            // The letters alone are a unit or a currency: an amount or a measure.
            let lower = letters.to_lowercase();
            if self.is_word_table_entry(&lower) || lower.chars().all(|c| c == 'x') {
                continue;
            }
            out.push((t.to_string(), raw_end));
        }
        out
    }

    /// The product name right after one of our model codes ("HX-250 sump pump, 0.75 kW" →
    /// "sump pump"): one to four words of letters, up to a number, a punctuation mark or a word
    /// of the word tables ("with", "pcs"); none when the configured catalogue already names it.
    /// Colours, greetings and payment terms do not follow a model code.
    fn product_after(&self, rest: &str) -> Option<String> {
        let l = rest.trim_start_matches([' ', '-', '–', '\t']);
        let mut words: Vec<&str> = Vec::new();
        let mut end = 0;
        for w in l.split_inclusive(' ') {
            let word = w.trim_end_matches(' ');
            let bare = word.trim_end_matches([',', ':', ';', '：', '，', '、', '.']);
            // Letters, or letters joined by hyphens ("high-bay"); "SP-40" is a code.
            let lettered = bare
                .split('-')
                .all(|p| !p.is_empty() && p.chars().all(char::is_alphabetic));
            if bare.is_empty()
                || !lettered
                || words.len() == 4
                || self.is_word_table_entry(&bare.to_lowercase())
            {
                break;
            }
            words.push(bare);
            if bare.len() < word.len() {
                end += bare.len();
                break;
            }
            end += w.len();
        }
        let short = |w: &&str| {
            let cjk = w.chars().any(|c| c as u32 >= 0x2e80);
            w.chars().count() < if cjk { 2 } else { 3 }
        };
        if words.is_empty() || words.iter().any(short) {
            return None;
        }
        let phrase = l[..end].trim_end().to_string();
        // Already ours: nothing to learn.
        if self.ex.catalogue.find_configured(&phrase).is_some() {
            return None;
        }
        Some(phrase)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract::Business;

    fn extractor() -> Extractor {
        let business = Business {
            products: vec!["gear pump".into(), "bomba de engranajes".into()],
            related: Vec::new(),
            not_ours: Vec::new(),
            min_order_value_usd: 1000.0,
        };
        Extractor::new(&business, None).expect("built-in rules")
    }

    fn msg(text: &str) -> ParsedMessage {
        let raw = format!(
            "From: Sales <sales@ours.example>\r\nTo: buyer@client.example\r\nSubject: Re: pumps\r\nMessage-ID: <q1@ours.example>\r\nDate: Mon, 2 Nov 2026 10:00:00 +0000\r\n\r\n{}",
            text.replace('\n', "\r\n")
        );
        crate::parse::parse(raw.as_bytes(), chrono::Utc::now().fixed_offset(), false)
            .expect("parses")
    }

    #[test]
    fn price_lines_of_a_quote_teach_models_and_products() {
        let ex = extractor();
        let l = Learner::new(&ex);
        let m = msg(
            "Dear Mr. Rossi,\n\nThank you for your inquiry. Our gear pump offer:\n\nHX-250 gear pump, 2.2 kW: USD 410/set FOB\nSP-40 sump pump, 0.75 kW: USD 96 per piece\nBlack SP-40: USD 90 per piece\nFreight: USD 1,200 in total\nPayment: 30% deposit\n\nBest regards,\nAnna Li\nSales Manager\nRoom 1502, Harbour Road 88, Ningbo\nTel: +86 574 0000 0000\n\n-----Original Message-----\nFrom: buyer@client.example\nWe need 40 office chairs CH-9000 at USD 50/pc",
        );
        let c = l.candidates(&m).expect("anchored: names a gear pump");
        let terms: Vec<(&str, Kind)> = c.iter().map(|c| (c.term.as_str(), c.kind)).collect();
        assert!(terms.contains(&("HX-250", Kind::Model)), "{terms:?}");
        assert!(terms.contains(&("SP-40", Kind::Model)), "{terms:?}");
        assert!(terms.contains(&("sump pump", Kind::Product)), "{terms:?}");
        // Not the measures, the trade words, the greeting, the signature or the quoted buyer.
        for bad in [
            "2.2", "kW", "Freight", "Payment", "Dear", "Harbour", "CH-9000", "office",
        ] {
            assert!(
                !terms.iter().any(|(t, _)| t.contains(bad)),
                "{bad}: {terms:?}"
            );
        }
        let hx = c.iter().find(|c| c.term == "HX-250").unwrap();
        assert_eq!(hx.key, "hx250");
        assert!(hx.example.starts_with("HX-250 gear pump"));
    }

    #[test]
    fn a_message_naming_nothing_of_ours_teaches_nothing() {
        let ex = extractor();
        let l = Learner::new(&ex);
        let m = msg("Hi,\n\nModel CH-9000 office chair: USD 50/pc\n\nRegards");
        assert_eq!(l.candidates(&m), None);
    }

    #[test]
    fn measures_and_amounts_are_not_models() {
        let ex = extractor();
        let l = Learner::new(&ex);
        let line = "gear pump 150W 40HQ USD120 M3 21x21 IP65 E27 KP-12/B TPS150, 门幅150cm";
        let codes = l.model_codes(line);
        let names: Vec<&str> = codes.iter().map(|(c, _)| c.as_str()).collect();
        assert_eq!(names, ["KP-12/B", "TPS150"]);
        // Where each ends, for the product name after it.
        assert_eq!(
            &line[..codes[1].1],
            "gear pump 150W 40HQ USD120 M3 21x21 IP65 E27 KP-12/B TPS150"
        );
    }

    #[test]
    fn keep_needs_two_of_our_messages_and_a_clear_lead_over_buyers() {
        use Kind::{Model, Product};
        assert!(keep(Product, 3, 10, 1, 50));
        assert!(!keep(Product, 1, 10, 0, 50), "one message is not a habit");
        assert!(!keep(Model, 1, 10, 0, 50), "one message is not a habit");
        assert!(
            !keep(Product, 4, 10, 20, 50),
            "as common in buyers' mail: a trade word"
        );
        assert!(keep(Model, 4, 10, 20, 50), "buyers quoting our code back");
        assert!(!keep(Model, 4, 10, 30, 50), "in most mail: boilerplate");
        assert!(keep(Product, 2, 4, 0, 0));
    }
}
