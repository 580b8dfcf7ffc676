//! Value parsers: numbers in the many ways buyers write them, money, units and dates resolved
//! against the message's own date. The word lists come from the pattern files ([`Lexicon`]).

use chrono::{Datelike, Duration, NaiveDate};

use super::rules::Lexicon;

/// Parses "1,240", "1.800", "62,00", "25 000", "2.5", "1,850,000.00", "５００" and Chinese numerals
/// ("两", "三十", "5万" is handled by the multiplier). None for anything else.
pub fn parse_number(raw: &str, lex: &Lexicon) -> Option<f64> {
    let s: String = raw
        .trim()
        .chars()
        .map(|c| match c {
            // Full-width digits and separators.
            '０'..='９' => char::from(b'0' + (c as u32 - '０' as u32) as u8),
            '，' => ',',
            '．' => '.',
            '\u{a0}' | '\u{202f}' | '\u{2009}' | '\'' => ' ',
            _ => c,
        })
        .collect();
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    if !s.chars().any(|c| c.is_ascii_digit()) {
        return cjk_or_word_number(s, lex);
    }
    if !s
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, ',' | '.' | ' '))
    {
        return None;
    }
    // Spaces only ever separate thousands groups.
    let s: String = s.chars().filter(|c| *c != ' ').collect();
    let last_comma = s.rfind(',');
    let last_dot = s.rfind('.');
    let norm = match (last_comma, last_dot) {
        (Some(c), Some(d)) => {
            let (dec, thou) = if c > d { (',', '.') } else { ('.', ',') };
            s.replace(thou, "").replace(dec, ".")
        }
        (Some(_), None) => one_separator(&s, ','),
        (None, Some(_)) => one_separator(&s, '.'),
        (None, None) => s.clone(),
    };
    let v: f64 = norm.parse().ok()?;
    v.is_finite().then_some(v)
}

/// One kind of separator: repeated or followed by exactly three digits → thousands; else decimal.
fn one_separator(s: &str, sep: char) -> String {
    let parts: Vec<&str> = s.split(sep).collect();
    if parts.len() > 2
        || parts
            .get(1)
            .is_some_and(|p| p.len() == 3 && !parts[0].is_empty() && parts[0] != "0")
    {
        parts.concat()
    } else {
        s.replace(sep, ".")
    }
}

fn cjk_or_word_number(s: &str, lex: &Lexicon) -> Option<f64> {
    let lower = s.to_lowercase();
    if let Some(v) = lex.numerals.get(lower.as_str()) {
        return Some(*v);
    }
    // Chinese: 十 百 千 万 with digits 一..九 / 两.
    let digit = |c: char| -> Option<f64> {
        Some(match c {
            '零' | '〇' => 0.0,
            '一' | '壹' => 1.0,
            '二' | '两' | '兩' | '贰' => 2.0,
            '三' | '叁' => 3.0,
            '四' | '肆' => 4.0,
            '五' | '伍' => 5.0,
            '六' | '陆' => 6.0,
            '七' | '柒' => 7.0,
            '八' | '捌' => 8.0,
            '九' | '玖' => 9.0,
            _ => return None,
        })
    };
    let mut total = 0.0;
    let mut section = 0.0;
    let mut cur: Option<f64> = None;
    let mut any = false;
    for c in lower.chars() {
        if let Some(d) = digit(c) {
            cur = Some(d);
            any = true;
            continue;
        }
        let unit = match c {
            '十' | '拾' => 10.0,
            '百' | '佰' => 100.0,
            '千' | '仟' => 1000.0,
            '万' | '萬' => 10_000.0,
            _ => return None,
        };
        any = true;
        if unit >= 10_000.0 {
            total += (section + cur.unwrap_or(0.0)).max(1.0) * unit;
            section = 0.0;
        } else {
            section += cur.unwrap_or(1.0) * unit;
        }
        cur = None;
    }
    any.then(|| total + section + cur.unwrap_or(0.0))
}

pub fn normalise_unit(raw: &str, lex: &Lexicon) -> String {
    let t = raw.trim().trim_end_matches('.').to_lowercase();
    if let Some(u) = lex.units.get(&t) {
        return u.clone();
    }
    // Inflected forms ("piezas" is listed, "штук" may not be): longest listed prefix wins.
    lex.units
        .iter()
        .filter(|(k, _)| k.chars().count() >= 3 && t.starts_with(k.as_str()))
        .max_by_key(|(k, _)| k.len())
        .map(|(_, u)| u.clone())
        .unwrap_or(t)
}

pub fn normalise_currency(raw: &str, lex: &Lexicon) -> Option<String> {
    let t: String = raw
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase();
    let t = t.trim_end_matches('.');
    if let Some(c) = lex.currencies.get(t) {
        return Some(c.clone());
    }
    lex.currencies
        .iter()
        .filter(|(k, _)| k.chars().count() >= 4 && t.starts_with(k.as_str()))
        .max_by_key(|(k, _)| k.len())
        .map(|(_, c)| c.clone())
}

pub fn multiplier(raw: &str, lex: &Lexicon) -> f64 {
    let t = raw.trim().trim_end_matches('.').to_lowercase();
    if t.is_empty() {
        return 1.0;
    }
    lex.multipliers.get(&t).copied().unwrap_or(1.0)
}

pub fn to_usd(amount: f64, currency: &str, lex: &Lexicon) -> Option<f64> {
    lex.usd_rates.get(currency).map(|r| amount * r)
}

/// How a date was stated: a day, a whole month/quarter/half (resolved to its last day), or a
/// span from the message date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatePrecision {
    Day,
    Period,
    Relative,
}

fn has_word(text: &str, tokens: &[String], words: &[&str]) -> bool {
    tokens.iter().any(|t| {
        let (stem, prefix) = match t.strip_suffix('*') {
            Some(s) => (s, true),
            None => (t.as_str(), false),
        };
        if stem.is_empty() {
            return false;
        }
        if stem.chars().any(is_cjk) {
            return text.contains(stem);
        }
        words.iter().any(|w| {
            if prefix {
                w.starts_with(stem)
            } else {
                *w == stem
            }
        })
    })
}

fn is_cjk(c: char) -> bool {
    matches!(c as u32, 0x3040..=0x30ff | 0x3400..=0x4dbf | 0x4e00..=0x9fff | 0xf900..=0xfaff)
}

fn class<'a>(lex: &'a Lexicon, name: &str) -> &'a [String] {
    lex.date_words.get(name).map(Vec::as_slice).unwrap_or(&[])
}

fn last_day(y: i32, m: u32) -> Option<NaiveDate> {
    let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    NaiveDate::from_ymd_opt(ny, nm, 1).and_then(|d| d.pred_opt())
}

fn add_months(d: NaiveDate, n: i32) -> Option<NaiveDate> {
    let total = d.year() * 12 + d.month0() as i32 + n;
    let (y, m) = (total.div_euclid(12), total.rem_euclid(12) as u32 + 1);
    let day = d.day().min(last_day(y, m)?.day());
    NaiveDate::from_ymd_opt(y, m, day)
}

/// A day/month without a year is the next one from the message date; a date up to a month in
/// the past is kept as written (a buyer recalling a recent date).
fn infer_year(base: NaiveDate, m: u32, d: Option<u32>) -> Option<NaiveDate> {
    let make = |y: i32| match d {
        Some(d) => NaiveDate::from_ymd_opt(y, m, d),
        None => last_day(y, m),
    };
    let this = make(base.year())?;
    if this < base - Duration::days(31) {
        make(base.year() + 1)
    } else {
        Some(this)
    }
}

fn year_of(n: u32) -> Option<i32> {
    match n {
        1990..=2100 => Some(n as i32),
        // "30/01/27"
        0..=99 => Some(2000 + n as i32),
        _ => None,
    }
}

/// Resolves a date expression ("20th December", "15 de enero de 2027", "22.01.2027",
/// "Ende Oktober", "end of next month", "Q1 2027", "within 2 weeks", "12月31日", "下个月底",
/// "两周内") against `base`, the message's date in the writer's own offset.
pub fn resolve_date(
    text: &str,
    base: NaiveDate,
    lex: &Lexicon,
) -> Option<(NaiveDate, DatePrecision)> {
    let lower = text.to_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| !(c.is_alphanumeric() || c == '-'))
        .flat_map(|w| w.split('-'))
        .filter(|w| !w.is_empty())
        .collect();
    // Digit runs with their positions in `lower`.
    let nums: Vec<(usize, u32, usize)> = {
        let mut v = Vec::new();
        let b = lower.as_bytes();
        let mut i = 0;
        while i < b.len() {
            if b[i].is_ascii_digit() {
                let s = i;
                while i < b.len() && b[i].is_ascii_digit() {
                    i += 1;
                }
                if let Ok(n) = lower[s..i].parse::<u32>() {
                    v.push((s, n, i - s));
                }
            } else {
                i += 1;
            }
        }
        v
    };

    // Numeric forms first: 2027-01-22, 22.01.2027, 30/01/2027, 2027年1月10日.
    if nums.len() >= 3 {
        for w in nums.windows(3) {
            let gap = |a: &(usize, u32, usize), b: &(usize, u32, usize)| {
                let between = &lower[a.0 + a.2..b.0];
                between.chars().count() <= 2
                    && between
                        .chars()
                        .all(|c| matches!(c, '.' | '/' | '-' | '年' | '月' | ' '))
            };
            if !(gap(&w[0], &w[1]) && gap(&w[1], &w[2])) {
                continue;
            }
            let (a, b, c) = (w[0], w[1], w[2]);
            if a.2 == 4 {
                if let Some(d) = NaiveDate::from_ymd_opt(a.1 as i32, b.1, c.1) {
                    return Some((d, DatePrecision::Day));
                }
            } else if let Some(y) = year_of(c.1) {
                // Day first (the rest of the world); month first when the day can't be a month.
                let d = NaiveDate::from_ymd_opt(y, b.1, a.1)
                    .or_else(|| NaiveDate::from_ymd_opt(y, a.1, b.1));
                if let Some(d) = d {
                    return Some((d, DatePrecision::Day));
                }
            }
        }
    }

    let year = nums.iter().find(|n| n.2 == 4).and_then(|n| year_of(n.1));
    let small: Vec<u32> = nums.iter().filter(|n| n.2 <= 2).map(|n| n.1).collect();
    let is_end = has_word(&lower, class(lex, "end"), &words);
    let is_next = has_word(&lower, class(lex, "next"), &words);

    // Month by name.
    let month = lex.months.iter().find_map(|(t, m)| {
        let (stem, prefix) = match t.strip_suffix('*') {
            Some(s) => (s, true),
            None => (t.as_str(), false),
        };
        let hit = if stem.chars().any(is_cjk) {
            lower.contains(stem)
        } else {
            words.iter().any(|w| {
                if prefix {
                    w.starts_with(stem)
                } else {
                    *w == stem
                }
            })
        };
        hit.then_some(*m)
    });
    // Vietnamese names a month by its number after a word: "tháng 12" is December ("12 tháng" is
    // a span of twelve months, handled below).
    let prefix_month = words.windows(2).find_map(|w| {
        has_word(&lower, class(lex, "month_prefix"), &w[..1])
            .then(|| w[1].parse::<u32>().ok())
            .flatten()
            .filter(|m| (1..=12).contains(m))
    });
    // Chinese/Japanese "12月31日" / "1月".
    let cjk_month = nums.iter().find_map(|n| {
        let after = &lower[n.0 + n.2..];
        (after.starts_with('月') && (1..=12).contains(&n.1)).then_some(n.1)
    });
    let cjk_day = nums.iter().find_map(|n| {
        let after = &lower[n.0 + n.2..];
        ((after.starts_with('日') || after.starts_with('号')) && (1..=31).contains(&n.1))
            .then_some(n.1)
    });
    if let Some(m) = month.or(prefix_month).or(cjk_month) {
        let day = if month.is_none() && prefix_month.is_some() {
            // The month's own number is not the day: "ngày 15 tháng 1" → 15, "tháng 1" → none.
            let mut rest = small.clone();
            if let Some(i) = rest.iter().rposition(|n| *n == m) {
                rest.remove(i);
            }
            rest.into_iter().find(|d| (1..=31).contains(d))
        } else if cjk_month.is_some() && month.is_none() {
            cjk_day
        } else {
            small.iter().copied().find(|d| (1..=31).contains(d))
        };
        let day = if is_end { None } else { day };
        let d = match year {
            Some(y) => match day {
                Some(d) => NaiveDate::from_ymd_opt(y, m, d),
                None => last_day(y, m),
            },
            None => infer_year(base, m, day),
        }?;
        return Some((
            d,
            if day.is_some() {
                DatePrecision::Day
            } else {
                DatePrecision::Period
            },
        ));
    }

    // Quarters and halves: "Q1 2027", "first quarter of 2027", "1. Quartal", "第一季度".
    let ordinal = || -> Option<u32> {
        for (name, n) in [("first", 1), ("second", 2), ("third", 3), ("fourth", 4)] {
            if has_word(&lower, class(lex, name), &words) {
                return Some(n);
            }
        }
        small.iter().copied().find(|n| (1..=4).contains(n))
    };
    let q_short = words.iter().find_map(|w| {
        let b = w.as_bytes();
        (b.len() == 2 && b[0] == b'q' && (b'1'..=b'4').contains(&b[1]))
            .then(|| u32::from(b[1] - b'0'))
    });
    let h_short = words.iter().find_map(|w| {
        let b = w.as_bytes();
        (b.len() == 2 && b[0] == b'h' && (b'1'..=b'2').contains(&b[1]))
            .then(|| u32::from(b[1] - b'0'))
    });
    let y = year.unwrap_or_else(|| base.year());
    if let Some(q) = q_short.or_else(|| {
        has_word(&lower, class(lex, "quarter"), &words)
            .then(ordinal)
            .flatten()
    }) {
        let mut d = last_day(y, q * 3)?;
        if year.is_none() && d < base {
            d = last_day(y + 1, q * 3)?;
        }
        return Some((d, DatePrecision::Period));
    }
    if let Some(h) = h_short.or_else(|| {
        has_word(&lower, class(lex, "half"), &words)
            .then(ordinal)
            .flatten()
    }) {
        let h = h.min(2);
        return Some((last_day(y, h * 6)?, DatePrecision::Period));
    }

    // Relative: "within 2 weeks", "10 days", "两周内", "end of next month", "月底".
    let n = nums
        .first()
        .map(|n| f64::from(n.1))
        .or_else(|| words.iter().find_map(|w| lex.numerals.get(*w).copied()))
        .or_else(|| {
            // Leading Chinese numeral: "两周", "三个月".
            let head: String = lower
                .chars()
                .skip_while(|c| !is_cjk(*c))
                .take_while(|c| "一二两三四五六七八九十".contains(*c))
                .collect();
            (!head.is_empty())
                .then(|| parse_number(&head, lex))
                .flatten()
        });
    let has = |c: &str| has_word(&lower, class(lex, c), &words);
    if has("month") && (is_end || is_next) && nums.is_empty() {
        let shift = if is_next { 1 } else { 0 };
        let m = add_months(base, shift)?;
        let d = if is_end {
            last_day(m.year(), m.month())?
        } else {
            m
        };
        return Some((d, DatePrecision::Period));
    }
    if has("year") && is_end && nums.is_empty() {
        let y = if is_next {
            base.year() + 1
        } else {
            base.year()
        };
        return Some((NaiveDate::from_ymd_opt(y, 12, 31)?, DatePrecision::Period));
    }
    if let Some(n) = n.filter(|n| *n > 0.0 && *n <= 366.0) {
        let n = n as i64;
        if has("day") {
            return Some((base + Duration::days(n), DatePrecision::Relative));
        }
        if has("week") {
            return Some((base + Duration::days(7 * n), DatePrecision::Relative));
        }
        if has("month") {
            return Some((add_months(base, n as i32)?, DatePrecision::Relative));
        }
    }
    if has("week") && is_next && nums.is_empty() {
        return Some((base + Duration::days(7), DatePrecision::Relative));
    }
    None
}
