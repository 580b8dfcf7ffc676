//! Requested items: what the sender asks for, one entry per counted line item — the product
//! phrase, its quantity, the specs and the unit price written beside it — and whether the product
//! is ours. Pure: the caller hands in the writer's text, where the quantity and price facts
//! matched, and the catalogue matcher.
//!
//! The product phrase is the text the quantity counts: on a list line ("- TC twill 150 cm:
//! 20,000 m") the words before the number, in a sentence ("we need 6,000 sets of uniforms in
//! navy twill") the words after it. Its *head* ends at the first comma, bracket or material word
//! ("in", "made of", "aus", "من" …, from the patterns' `item_breaks`): a catalogue word after the
//! head names the material of something else, not the thing bought.

use serde::{Deserialize, Serialize};

use super::catalogue::Catalogue;
use super::rules::Lexicon;
use super::signal::Value;

/// Is the requested product one we make?
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fit {
    /// The product phrase names an item of our catalogue (or its vocabulary).
    Ours,
    /// A specific product is named and nothing in it is ours.
    NotOurs,
    /// No product named ("please quote 500 pcs").
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Quantity {
    pub amount: f64,
    pub unit: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Price {
    pub amount: f64,
    pub currency: String,
    /// A price per unit (the usual case beside a line item) rather than the line's total.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub per_unit: bool,
}

/// One requested line item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Item {
    /// The product as the buyer wrote it (may be empty when only a count was given).
    pub product: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantity: Option<Quantity>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub spec: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price: Option<Price>,
    pub fit: Fit,
    /// The catalogue phrase that made it ours, or the head that is not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matched: Option<String>,
    /// The line the item was read from, quoted.
    pub evidence: String,
}

impl Item {
    /// "20,000 m of TC twill", "6,000 sets of security uniforms", "TC twill".
    pub fn describe(&self) -> String {
        match (&self.quantity, self.product.is_empty()) {
            (Some(q), true) => format!("{} {}", fmt_amount(q.amount), q.unit),
            (Some(q), false) => format!("{} {} of {}", fmt_amount(q.amount), q.unit, self.product),
            (None, _) => self.product.clone(),
        }
    }
}

/// Σ quantity × the item's own unit price, in USD, over the items that state both (an amount above
/// the quantity is the line's total, not a unit price, and is left to the caller's totals).
pub fn item_values(items: &[Item], to_usd: &dyn Fn(f64, &str) -> Option<f64>) -> f64 {
    items
        .iter()
        .filter_map(|i| {
            let (q, p) = (i.quantity.as_ref()?, i.price.as_ref()?);
            let usd = to_usd(p.amount, &p.currency)?;
            (p.per_unit || usd < q.amount).then_some(q.amount * usd)
        })
        .sum()
}

pub fn fmt_amount(v: f64) -> String {
    if v.fract().abs() > 1e-9 {
        return format!("{v}");
    }
    let s = (v.round() as i64).to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A fact found in the text, with its byte span: the inputs of item building.
#[derive(Debug, Clone)]
pub struct Located<'a> {
    pub start: usize,
    pub end: usize,
    pub kind: &'a str,
    pub value: Option<&'a Value>,
    pub evidence: &'a str,
}

/// The line of `text` around byte `pos`: (start, end).
fn line_at(text: &str, pos: usize) -> (usize, usize) {
    let pos = pos.min(text.len());
    let start = text[..pos].rfind('\n').map_or(0, |i| i + 1);
    let end = text[pos..].find('\n').map_or(text.len(), |i| pos + i);
    (start, end)
}

fn is_sentence_end(c: char) -> bool {
    matches!(
        c,
        '.' | ';' | '!' | '?' | '。' | '；' | '！' | '？' | '؟' | '\n'
    )
}

/// Separators between a product and its count or its details.
fn is_sep(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            ':' | '：'
                | '-'
                | '–'
                | '—'
                | '='
                | ','
                | '，'
                | '、'
                | '،'
                | '('
                | ')'
                | '（'
                | '）'
                | '*'
                | '•'
                | '·'
                | '|'
                | '/'
                | 'x'
                | '×'
        )
}

/// Strips list bullets and numbering: "- ", "1) ", "2. ", "a) ", "• ".
fn strip_bullet(s: &str) -> &str {
    let t = s.trim_start();
    let t = t.trim_start_matches(['-', '*', '•', '·', '–', '—', '>']);
    let t = t.trim_start();
    let digits = t.chars().take_while(|c| c.is_ascii_digit()).count();
    if (1..=2).contains(&digits) {
        let rest = &t[digits..];
        // "1 | poplin | 24,000 m": a table row's number cell.
        if let Some(r) = rest.trim_start().strip_prefix('|') {
            return r.trim_start();
        }
        if let Some(r) = rest.strip_prefix([')', '.', '、']) {
            // "2. " is a bullet; "2.5" is a number.
            if !r.starts_with(|c: char| c.is_ascii_digit()) {
                return r.trim_start();
            }
        }
    }
    t
}

/// Words in `s`, lower-cased, as (byte start, word).
fn words(s: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in s.char_indices() {
        if c.is_alphanumeric() || c == '\'' {
            start.get_or_insert(i);
        } else if let Some(st) = start.take() {
            out.push((st, s[st..i].to_lowercase()));
        }
    }
    if let Some(st) = start {
        out.push((st, s[st..].to_lowercase()));
    }
    out
}

fn is_cjk(c: char) -> bool {
    matches!(c as u32, 0x3400..=0x4dbf | 0x4e00..=0x9fff | 0xf900..=0xfaff)
}

/// The byte length of the head of a product phrase: up to the first comma, bracket or item-break
/// word (multi-word breaks such as "made of" allowed).
fn head_len(phrase: &str, lex: &Lexicon) -> usize {
    let mut end = phrase
        .char_indices()
        .find(|(_, c)| {
            matches!(
                c,
                ',' | '，' | '、' | '،' | '(' | '（' | ';' | '；' | ':' | '：' | '|'
            )
        })
        .map_or(phrase.len(), |(i, _)| i);
    let lower = phrase.to_lowercase();
    // Lower-casing can change byte lengths (rare scripts); then only the punctuation cut holds.
    if lower.len() == phrase.len() {
        for b in &lex.item_breaks {
            if b.chars().any(is_cjk) {
                if let Some(i) = lower.find(b.as_str())
                    && i > 0
                {
                    end = end.min(i);
                }
                continue;
            }
            let mut from = 0;
            while let Some(i) = lower[from..].find(b.as_str()).map(|i| i + from) {
                let before_ok = i > 0 && lower[..i].ends_with(char::is_whitespace);
                let after = &lower[i + b.len()..];
                let after_ok = after.is_empty() || after.starts_with(char::is_whitespace);
                if before_ok && after_ok {
                    end = end.min(i);
                    break;
                }
                from = i + b.len();
            }
        }
    }
    end
}

/// Connectives between a count and what it counts: "of", "de", "du", "von", "из", "من".
fn strip_connective<'a>(s: &'a str, lex: &Lexicon) -> &'a str {
    let t = s.trim_start_matches(is_sep);
    let lower = t.to_lowercase();
    if lower.len() != t.len() {
        return t;
    }
    for c in &lex.item_connectives {
        if let Some(rest) = lower.strip_prefix(c.as_str())
            && rest.starts_with(char::is_whitespace)
        {
            return t[c.len()..].trim_start();
        }
    }
    t
}

/// Does the phrase name a product: a word of 3+ letters (or 2+ CJK characters) that is not a
/// filler word ("please", "quote", "total", "colour"…) or a unit?
fn names_product(head: &str, lex: &Lexicon) -> bool {
    let cjk: usize = head.chars().filter(|c| is_cjk(*c)).count();
    if cjk >= 2 {
        return true;
    }
    words(head).iter().any(|(_, w)| {
        w.chars().filter(|c| c.is_alphabetic()).count() >= 3
            && !w.chars().any(|c| c.is_ascii_digit())
            && !lex.item_noise.contains(w)
            && !lex.units.contains_key(w)
    })
}

/// A word that cannot be part of a product's name in running text: filler, connective,
/// material/purpose break or unit.
fn is_stop_word(w: &str, lex: &Lexicon) -> bool {
    w.chars().all(|c| c.is_ascii_digit())
        || lex.item_noise.contains(w)
        || lex.units.contains_key(w)
        || lex.item_connectives.iter().any(|c| c == w)
        || lex.item_breaks.iter().any(|b| b == w)
}

/// In a sentence the goods stand right next to their count ("we need twill 20,000 m", "36 sets
/// stainless pumps"): the run of name words touching the count, from the end of the text before
/// it (`before`) or the start of the text after it. "How much would 1 pcs cost" names nothing.
fn adjacent_run<'a>(s: &'a str, before: bool, lex: &Lexicon) -> &'a str {
    let ws = words(s);
    let mut span: Option<(usize, usize)> = None;
    let mut take = |st: usize| {
        let len = s[st..]
            .find(|c: char| !(c.is_alphanumeric() || c == '\''))
            .unwrap_or(s.len() - st);
        let end = st + len;
        span = Some(match span {
            None => (st, end),
            Some((a, b)) => (a.min(st), b.max(end)),
        });
    };
    if before {
        for (st, w) in ws.iter().rev() {
            if is_stop_word(w, lex) {
                break;
            }
            take(*st);
        }
    } else {
        // Leading articles and determiners ("a", "the", "our") open a name, not end it.
        let lead = ws
            .iter()
            .take_while(|(_, w)| lex.item_articles.contains(w))
            .count();
        for (st, w) in &ws[lead..] {
            if is_stop_word(w, lex) {
                break;
            }
            take(*st);
        }
    }
    span.map_or("", |(a, b)| &s[a..b])
}

/// Cuts a phrase to its last sentence (for text before a count) or its first (after one), and
/// to a readable length next to the count.
fn clip(s: &str, before: bool) -> &str {
    clip_keep(s, before, before)
}

/// [`clip`], keeping the end of the phrase (`keep_end`) or its start when it is too long: a list
/// line names its goods first ("Tricoline 65/35, 45x45, width 1.50 m, dyed, …: 3,000 m").
fn clip_keep(s: &str, before: bool, keep_end: bool) -> &str {
    let s = if before {
        match s.char_indices().rev().find(|(_, c)| is_sentence_end(*c)) {
            Some((i, c)) => &s[i + c.len_utf8()..],
            None => s,
        }
    } else {
        match s.char_indices().find(|(_, c)| is_sentence_end(*c)) {
            Some((i, _)) => &s[..i],
            None => s,
        }
    };
    let s = s.trim_matches(is_sep);
    // At most ~70 characters, cut at a word boundary: the end of text before a count (next to
    // the count), the start of text after one.
    let n = s.chars().count();
    if n <= 70 {
        return s;
    }
    let cut = if keep_end {
        let from = s.char_indices().nth(n - 70).map_or(0, |(i, _)| i);
        let from = s[from..].find(' ').map_or(from, |i| from + i);
        &s[from..]
    } else {
        let to = s.char_indices().nth(70).map_or(s.len(), |(i, _)| i);
        &s[..s[..to].rfind(' ').unwrap_or(to)]
    };
    cut.trim_matches(is_sep)
}

/// Builds the items of one text (subject or body) from its quantity facts.
pub fn items(text: &str, facts: &[Located<'_>], catalogue: &Catalogue, lex: &Lexicon) -> Vec<Item> {
    let mut out: Vec<Item> = Vec::new();
    for q in facts.iter().filter(|f| f.kind == "quantity") {
        let Some(Value::Quantity { amount, unit }) = q.value else {
            continue;
        };
        let (ls, le) = line_at(text, q.start);
        let line = &text[ls..le];
        let before_raw = &text[ls..q.start.max(ls)];
        let before = strip_bullet(before_raw);
        // A list line ("- TC twill, 150 cm: 20,000 m") names the goods first; in a sentence
        // ("Hello, we need twill 20,000 m") the goods stand right before the count.
        let list_line = before.len() < before_raw.len()
            || before_raw
                .trim_end()
                .ends_with([':', '：', '-', '–', '—', '=', '|']);
        let before = clip_keep(before, true, !list_line);
        let before = if list_line {
            before
        } else {
            let clause = before
                .rfind([',', '，', '、', '،'])
                .map_or(before, |i| before[i..].trim_start_matches(is_sep));
            adjacent_run(clause, true, lex)
        };
        let after_raw = &text[q.end.min(le)..le];
        let after = clip(strip_connective(after_raw, lex), false);
        let connected =
            strip_connective(after_raw, lex).len() < after_raw.trim_start_matches(is_sep).len();
        let after = if connected {
            after
        } else {
            adjacent_run(after, false, lex)
        };
        let after_head = &after[..head_len(after, lex)];
        // "N m of X" names X; a list line "X: N m" names X before the count.
        let product = if connected && names_product(after_head, lex) {
            after
        } else if names_product(&before[..head_len(before, lex)], lex) {
            before
        } else if names_product(after_head, lex) {
            after
        } else {
            ""
        };
        let head = &product[..head_len(product, lex)];
        let (fit, matched) = judge(product, head.len(), catalogue, lex);
        let same_line = |f: &&Located<'_>| f.start >= ls && f.end <= le;
        let price = facts
            .iter()
            .filter(same_line)
            .filter(|f| f.kind == "money")
            .find_map(|f| match f.value {
                Some(Value::Money {
                    amount,
                    currency,
                    per_unit,
                }) => Some(Price {
                    amount: *amount,
                    currency: currency.clone(),
                    per_unit: *per_unit,
                }),
                _ => None,
            });
        let spec: Vec<String> = facts
            .iter()
            .filter(same_line)
            .filter(|f| f.kind == "spec")
            .map(|f| f.evidence.to_string())
            .take(4)
            .collect();
        let item = Item {
            product: product.to_string(),
            quantity: Some(Quantity {
                amount: *amount,
                unit: unit.clone(),
            }),
            spec,
            price,
            fit,
            matched,
            evidence: super::evidence(line),
        };
        // One line may repeat its count ("20,000 m (twenty thousand metres)").
        if !out
            .iter()
            .any(|o| o.quantity == item.quantity && o.evidence == item.evidence)
        {
            out.push(item);
        }
    }
    for r in requested(text, facts, catalogue, lex) {
        // A counted item on the line already names these goods ("please quote high bays 200 pcs").
        let lower = r.product.to_lowercase();
        if out.iter().any(|o| {
            let p = o.product.to_lowercase();
            o.evidence == r.evidence && !p.is_empty() && (p.contains(&lower) || lower.contains(&p))
        }) {
            continue;
        }
        // "Please quote stainless pumps … 36 sets": the count on the same line counts them.
        let mut counted = false;
        for o in out
            .iter_mut()
            .filter(|o| o.product.is_empty() && o.evidence == r.evidence)
        {
            o.product.clone_from(&r.product);
            o.fit = r.fit;
            o.matched.clone_from(&r.matched);
            counted = true;
        }
        if !counted && !out.iter().any(|o| o.product == r.product) {
            out.push(r);
        }
    }
    out
}

/// Goods asked for without a count ("Please quote stainless end-suction pumps, 15 kW"): the name
/// words after a request phrase of the patterns' `item_requests`, up to the end of the sentence.
/// A sentence that counts its goods is left to the counted items.
fn requested(text: &str, facts: &[Located<'_>], catalogue: &Catalogue, lex: &Lexicon) -> Vec<Item> {
    let lower = text.to_lowercase();
    let mut out: Vec<Item> = Vec::new();
    if lower.len() != text.len() {
        return out;
    }
    let mut taken: Vec<(usize, usize)> = Vec::new();
    // Longest phrases first, so "please quote" claims its words before "quote".
    for r in &lex.item_requests {
        let cjk = r.chars().any(is_cjk);
        let mut from = 0;
        while let Some(i) = lower[from..].find(r.as_str()).map(|i| i + from) {
            let end = i + r.len();
            from = end;
            let word_edge = |c: Option<char>| c.is_none_or(|c| !c.is_alphanumeric());
            let whole_word =
                word_edge(lower[..i].chars().last()) && word_edge(lower[end..].chars().next());
            if !(cjk || whole_word) {
                continue;
            }
            if taken.iter().any(|&(a, b)| i < b && a < end) {
                continue;
            }
            taken.push((i, end));
            let (ls, le) = line_at(text, i);
            let sentence_end = text[end..le]
                .char_indices()
                .find(|(_, c)| is_sentence_end(*c))
                .map_or(le, |(j, _)| end + j);
            let rest = strip_connective(&text[end..sentence_end], lex);
            let rest = &rest[..head_len(rest, lex)];
            let name = adjacent_run(rest, false, lex).trim_matches(is_sep);
            if !names_product(name, lex) {
                continue;
            }
            let (fit, matched) = judge(name, name.len(), catalogue, lex);
            if out.iter().any(|o| o.product == name) {
                continue;
            }
            let spec = facts
                .iter()
                .filter(|f| f.kind == "spec" && f.start >= ls && f.end <= le)
                .map(|f| f.evidence.to_string())
                .take(4)
                .collect();
            out.push(Item {
                product: name.to_string(),
                quantity: None,
                spec,
                price: None,
                fit,
                matched,
                evidence: super::evidence(&text[ls..le]),
            });
        }
    }
    out
}

/// Ours when a catalogue phrase starts inside the head; not ours when a product is named
/// otherwise (a catalogue word only after the head is the material of something else).
fn judge(
    phrase: &str,
    head_end: usize,
    catalogue: &Catalogue,
    lex: &Lexicon,
) -> (Fit, Option<String>) {
    if phrase.is_empty() {
        return (Fit::Unknown, None);
    }
    if let Some(n) = catalogue.not_ours_in(&phrase[..head_end]) {
        return (Fit::NotOurs, Some(n));
    }
    if let Some((start, m)) = catalogue.find(phrase)
        && start < head_end.max(1)
    {
        return (Fit::Ours, Some(m));
    }
    let head = &phrase[..head_end];
    // "stainless pumps" is our kind of goods, if not a catalogue phrase: no verdict either way.
    if names_product(head, lex) && catalogue.same_kind(head).is_none() {
        (Fit::NotOurs, Some(head.trim().to_string()))
    } else {
        (Fit::Unknown, None)
    }
}

/// The subject of an inquiry names the goods after its cue ("RFQ: …", "询价：…", "Anfrage …").
pub fn subject_item(subject_rest: &str, catalogue: &Catalogue, lex: &Lexicon) -> Option<Item> {
    let phrase = clip(subject_rest, false);
    if phrase.is_empty() {
        return None;
    }
    let head = head_len(phrase, lex);
    let (fit, matched) = judge(phrase, head, catalogue, lex);
    (fit != Fit::Unknown).then(|| Item {
        product: phrase.to_string(),
        quantity: None,
        spec: Vec::new(),
        price: None,
        fit,
        matched,
        evidence: super::evidence(subject_rest),
    })
}

/// The subject after an inquiry cue ("RFQ: 3 x 40HQ twill" → "3 x 40HQ twill"), if it starts
/// with one.
pub fn subject_cue_rest<'a>(subject: &'a str, lex: &Lexicon) -> Option<&'a str> {
    let t = subject.trim_start();
    let lower = t.to_lowercase();
    if lower.len() != t.len() {
        return None;
    }
    lex.item_cues.iter().find_map(|c| {
        let rest = lower.strip_prefix(c.as_str())?;
        let cjk = c.chars().any(is_cjk);
        // A Latin cue is a whole word: "RFQ:" yes, "RFQuick" no.
        (cjk || rest.is_empty() || rest.starts_with(|ch: char| !ch.is_alphanumeric()))
            .then(|| t[c.len()..].trim_start_matches(is_sep))
            .filter(|r| !r.is_empty())
    })
}
