//! Value parsers: numbers in the many ways buyers write them, money, units and dates resolved
//! against the message's own date. The word lists come from the pattern files ([`Lexicon`]).

use chrono::{Datelike, Duration, NaiveDate, Weekday};

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
    if !lower.chars().any(is_cjk) {
        return word_number(&lower, lex);
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
            '廿' => 20.0,
            _ => return None,
        })
    };
    // Digit by digit, no place words: "二零一五" is 2015.
    if lower.chars().count() > 1 && lower.chars().all(|c| c != '廿' && digit(c).is_some()) {
        return lower
            .chars()
            .try_fold(0.0, |acc, c| Some(acc * 10.0 + digit(c)?));
    }
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

/// Numbers in words from the [numerals] tables, in any language that builds them from parts:
/// "twenty three", "two hundred and fifty", "veinte y tres", "dos mil", "двадцать пять",
/// "zweiundzwanzig" (compounds are split into listed words), "خمسة وعشرون" (joiner prefixes).
fn word_number(s: &str, lex: &Lexicon) -> Option<f64> {
    let mut vals = Vec::new();
    for w in s
        .split(|c: char| c.is_whitespace() || c == '-' || c == ',')
        .filter(|w| !w.is_empty())
    {
        split_numeral(w, lex, &mut vals, 0)?;
    }
    if vals.is_empty() {
        return None;
    }
    let (mut total, mut cur) = (0.0, 0.0);
    for v in vals {
        if v >= 1000.0 {
            // Scale words: "two thousand", "три миллиона".
            total += if cur == 0.0 { 1.0 } else { cur } * v;
            cur = 0.0;
        } else if v == 100.0 && cur > 0.0 && cur < 100.0 {
            cur *= 100.0;
        } else {
            cur += v;
        }
    }
    Some(total + cur)
}

/// One word: listed as a numeral, a joiner, or a compound of those (longest part first).
fn split_numeral(w: &str, lex: &Lexicon, out: &mut Vec<f64>, depth: u8) -> Option<()> {
    if let Some(v) = lex.numerals.get(w) {
        out.push(*v);
        return Some(());
    }
    if lex.numeral_joiners.iter().any(|j| j == w) {
        return Some(());
    }
    if depth > 6 {
        return None;
    }
    let cuts: Vec<usize> = w.char_indices().map(|(i, _)| i).skip(1).collect();
    for &cut in cuts.iter().rev() {
        let (head, rest) = w.split_at(cut);
        let joiner = lex.numeral_joiners.iter().any(|j| j == head);
        let numeral = head.chars().count() >= 2 && lex.numerals.contains_key(head);
        if !(joiner || numeral) {
            continue;
        }
        let mut tail = Vec::new();
        if split_numeral(rest, lex, &mut tail, depth + 1).is_some() {
            if let Some(v) = lex.numerals.get(head).filter(|_| numeral) {
                out.push(*v);
            }
            out.extend(tail);
            return Some(());
        }
    }
    None
}

/// A money match's amount and currency from its named groups: `n` (+ `mult`), `cur`, and for
/// sub-units `cents` (added to the amount) or `sub` (the unit of `n` or `cents`: "10 cents",
/// "$20 and 43c", "20 долларов 43 цента"). `fixed` is the rule's own currency.
pub fn money_value<'a>(
    group: &dyn Fn(&str) -> Option<&'a str>,
    fixed: Option<&str>,
    lex: &Lexicon,
) -> Option<(f64, String)> {
    let sub = group("sub").and_then(|s| {
        let t = s.trim().trim_end_matches('.').to_lowercase();
        lex.subunits.get(&t).cloned()
    });
    let mut n = parse_number(group("n")?, lex)? * multiplier(group("mult").unwrap_or(""), lex);
    let currency = match (fixed, group("cur")) {
        (Some(c), _) => c.to_uppercase(),
        (None, Some(c)) if !c.is_empty() => normalise_currency(c, lex)?,
        _ => sub.as_ref()?.0.clone(),
    };
    let cents = group("cents")
        .or_else(|| group("cents2"))
        .or_else(|| group("cents3"));
    match (cents, &sub) {
        (Some(c), sub) => {
            let c = parse_number(c, lex)?;
            let factor = sub.as_ref().map_or(0.01, |s| s.1);
            if c * factor >= 1.0 {
                return None;
            }
            n += c * factor;
        }
        // No main amount before it: "10 cents" is the whole value.
        (None, Some(s)) if group("cur").is_none() || fixed.is_some() => n *= s.1,
        _ => {}
    }
    Some(((n * 1e6).round() / 1e6, currency))
}

/// The canonical unit of a unit word and the factor its number is multiplied by ("km" → m ×1000;
/// "metros" → m ×1). Unknown words are kept, lower-cased.
pub fn normalise_unit(raw: &str, lex: &Lexicon) -> (String, f64) {
    let t: String = raw
        .trim()
        .trim_end_matches('.')
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase();
    if let Some((u, f)) = lex.unit_scale.get(&t) {
        return (u.clone(), *f);
    }
    if let Some(u) = lex.units.get(&t) {
        return (u.clone(), 1.0);
    }
    // Inflected forms ("piezas" is listed, "штук" may not be): longest listed prefix wins.
    let u = lex
        .units
        .iter()
        .filter(|(k, _)| k.chars().count() >= 3 && t.starts_with(k.as_str()))
        .max_by_key(|(k, _)| k.len())
        .map(|(_, u)| u.clone())
        .unwrap_or(t);
    (u, 1.0)
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

/// An order's value in USD from what the buyer stated: `quantities` (amount, unit), `amounts` in
/// USD (with "per unit" marked), and `item_values` (Σ quantity × own unit price of the items that
/// state both). The largest of: a stated total, the items' own values, and the dominant unit's
/// quantity × the median unit price. With a quantity known, an amount smaller than it is read as
/// a unit price ("OK for USD 1.84" on 20,000 m); a total written beside its lines counts once.
/// `per_colour`: the number of colours when a quantity was stated per colour ("3,000 m per
/// colour, 4 colours" is 12,000 m).
pub fn order_value(
    quantities: &[(f64, &str)],
    amounts: &[(f64, bool)],
    item_values: f64,
    per_colour: Option<f64>,
) -> Option<f64> {
    let mut by_unit: Vec<(&str, Vec<f64>)> = Vec::new();
    for &(a, u) in quantities
        .iter()
        .filter(|(a, u)| *a > 0.0 && *u != "container")
    {
        match by_unit.iter_mut().find(|(x, _)| *x == u) {
            Some((_, v)) => v.push(a),
            None => by_unit.push((u, vec![a])),
        }
    }
    let units = by_unit
        .iter()
        .map(|(_, v)| {
            let sum: f64 = v.iter().sum();
            let max = v.iter().copied().fold(0.0, f64::max);
            // "20,000 m: 10,000 + 6,000 + 4,000": the total and its parts.
            let total = if v.len() > 2 && (sum - 2.0 * max).abs() <= 0.01 * max {
                max
            } else {
                sum
            };
            total.max(max * per_colour.unwrap_or(1.0))
        })
        .fold(0.0, f64::max);
    let mut unit_prices = Vec::new();
    let mut totals = Vec::new();
    for &(usd, per_unit) in amounts {
        if per_unit || (units > 0.0 && usd < units) {
            unit_prices.push(usd);
        } else {
            totals.push(usd);
        }
    }
    let computed = if units > 0.0 && !unit_prices.is_empty() {
        unit_prices.sort_by(f64::total_cmp);
        Some(units * unit_prices[unit_prices.len() / 2])
    } else {
        None
    };
    [
        totals.into_iter().reduce(f64::max),
        computed,
        (item_values > 0.0).then_some(item_values),
    ]
    .into_iter()
    .flatten()
    .reduce(f64::max)
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
        if stem.chars().any(is_cjk) || stem.contains(' ') {
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

/// The weekday a date text names (1 = Monday): a listed word, or for CJK a listed substring.
fn find_weekday(lower: &str, lex: &Lexicon) -> Option<u32> {
    let words: Vec<&str> = lower
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    lex.weekdays
        .iter()
        .filter(|(t, _)| {
            let (stem, prefix) = match t.strip_suffix('*') {
                Some(s) => (s, true),
                None => (t.as_str(), false),
            };
            if stem.chars().any(is_cjk) {
                lower.contains(stem)
            } else {
                words.iter().any(|w| {
                    if prefix {
                        w.starts_with(stem)
                    } else {
                        *w == stem
                    }
                })
            }
        })
        // The longest listed token wins: 星期天 over 天-less forms.
        .max_by_key(|(t, _)| t.len())
        .map(|(_, n)| *n)
}

/// Runs of Chinese numerals before a date word become digits: 三月一号 → 3月1号,
/// 二零一五年 → 2015年, 三天 → 3天.
fn cjk_numerals_to_digits(lower: &str, lex: &Lexicon) -> String {
    const NUM: &str = "零〇一二两兩三四五六七八九十廿";
    if !lower.chars().any(|c| NUM.contains(c)) {
        return lower.to_string();
    }
    let chars: Vec<char> = lower.chars().collect();
    let mut out = String::with_capacity(lower.len());
    let mut i = 0;
    while i < chars.len() {
        if NUM.contains(chars[i]) {
            let s = i;
            while i < chars.len() && NUM.contains(chars[i]) {
                i += 1;
            }
            let run: String = chars[s..i].iter().collect();
            let follows = chars
                .get(i)
                .is_some_and(|c| "年月日号號天周週星个個".contains(*c));
            match parse_number(&run, lex).filter(|_| follows) {
                Some(v) => out.push_str(&format!("{v}")),
                None => out.push_str(&run),
            }
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
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
    // Weekdays before Chinese numerals become digits (星期一 is Monday, not "week 1").
    let weekday = find_weekday(&lower, lex);
    let lower = cjk_numerals_to_digits(&lower, lex);
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
    let has = |c: &str| has_word(&lower, class(lex, c), &words);

    // German calendar weeks: "KW 6" is due by the Friday of ISO week 6.
    if has("calendar_week")
        && let Some(w) = small.first().copied().filter(|w| (1..=53).contains(w))
    {
        let y = year.unwrap_or_else(|| base.year());
        let mut d = NaiveDate::from_isoywd_opt(y, w, Weekday::Fri)?;
        if year.is_none() && d < base - Duration::days(7) {
            d = NaiveDate::from_isoywd_opt(y + 1, w, Weekday::Fri)?;
        }
        return Some((d, DatePrecision::Day));
    }
    if nums.is_empty() {
        for (c, days) in [("after_tomorrow", 2), ("tomorrow", 1), ("today", 0)] {
            if has(c) {
                return Some((base + Duration::days(days), DatePrecision::Day));
            }
        }
    }
    // "March next year", "下年9月", "明年九月".
    let next_year = has("next_year") || (is_next && has("year") && !is_end);

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
        (after.starts_with(['日', '号', '號']) && (1..=31).contains(&n.1)).then_some(n.1)
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
        let year = year.or(next_year.then(|| base.year() + 1));
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

    // Day of this or next month: "20th of next month", "下個月20号".
    if has("month")
        && (is_next || has("this"))
        && !is_end
        && let Some(d) = cjk_day.or_else(|| small.first().copied())
    {
        let m = add_months(base, i32::from(is_next))?;
        let d = NaiveDate::from_ymd_opt(m.year(), m.month(), d)?;
        return Some((d, DatePrecision::Day));
    }
    // Day and month without a year: "10/10", "15.2.", "2/15" — the next such date.
    if let [a, b] = nums.as_slice() {
        let between = &lower[a.0 + a.2..b.0];
        if between.trim().len() == 1 && between.trim().chars().all(|c| matches!(c, '.' | '/' | '-'))
        {
            if a.2 == 4 {
                let y = year_of(a.1)?;
                return Some((
                    last_day(y, b.1).filter(|_| b.1 <= 12)?,
                    DatePrecision::Period,
                ));
            }
            let (d, m) = if a.1 > 12 || b.1 <= 12 {
                (a.1, b.1)
            } else {
                (b.1, a.1)
            };
            if (1..=12).contains(&m) && (1..=31).contains(&d) {
                return Some((infer_year(base, m, Some(d))?, DatePrecision::Day));
            }
        }
    }

    // Weekdays: the next one after the message date, or the one in this / next week.
    if let Some(wd) = weekday {
        let today = base.weekday().number_from_monday();
        let monday = base - Duration::days(i64::from(today) - 1);
        let d = if has("week") && is_next {
            monday + Duration::days(7 + i64::from(wd) - 1)
        } else if has("week") && has("this") {
            monday + Duration::days(i64::from(wd) - 1)
        } else {
            base + Duration::days(i64::from((wd + 7 - today - 1) % 7 + 1))
        };
        return Some((d, DatePrecision::Day));
    }
    // End of this / next week: its Friday; "this week" alone the same.
    if has("week") && nums.is_empty() && (is_end || has("this")) {
        let today = base.weekday().number_from_monday();
        let friday = base + Duration::days(5 - i64::from(today));
        let d = if is_next {
            friday + Duration::days(7)
        } else {
            friday.max(base)
        };
        return Some((d, DatePrecision::Period));
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

#[cfg(test)]
mod tests {
    use super::*;

    fn lex() -> Lexicon {
        let vars = [("product".to_string(), "high bay".to_string())].into();
        match super::super::rules::load(None, &vars) {
            Ok(set) => set.lexicon,
            Err(e) => panic!("built-in patterns: {e}"),
        }
    }

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default()
    }

    #[test]
    fn numbers_in_words() {
        let lex = lex();
        for (s, v) in [
            ("twenty three", 23.0),
            ("two hundred and fifty", 250.0),
            ("veinte y tres", 23.0),
            ("dos mil quinientos", 2500.0),
            ("двадцать пять", 25.0),
            ("zweiundzwanzig", 22.0),
            ("dreihundertfünfzig", 350.0),
            ("خمسة وعشرون", 25.0),
            ("quatre-vingt-dix", 90.0),
            ("两万", 20000.0),
            ("三千", 3000.0),
            ("二零一五", 2015.0),
        ] {
            assert_eq!(parse_number(s, &lex), Some(v), "{s}");
        }
        assert_eq!(parse_number("tent", &lex), None);
    }

    #[test]
    fn money_with_sub_units() {
        let lex = lex();
        let groups = |pairs: &'static [(&'static str, &'static str)]| {
            move |n: &str| pairs.iter().find(|(k, _)| *k == n).map(|(_, v)| *v)
        };
        let g = groups(&[
            ("n", "20"),
            ("cur", "dollars"),
            ("cents", "43"),
            ("sub", "cents"),
        ]);
        assert_eq!(money_value(&g, None, &lex), Some((20.43, "USD".into())));
        let g = groups(&[("n", "ten"), ("sub", "cents")]);
        assert_eq!(money_value(&g, None, &lex), Some((0.1, "USD".into())));
        let g = groups(&[("n", "4.7"), ("mult", "billion"), ("cur", "US$")]);
        assert_eq!(money_value(&g, None, &lex), Some((4.7e9, "USD".into())));
        // A "cents" part of a whole unit or more is not a sub-unit.
        let g = groups(&[
            ("n", "3"),
            ("cur", "CAD"),
            ("cents", "150"),
            ("sub", "cents"),
        ]);
        assert_eq!(money_value(&g, None, &lex), None);
    }

    #[test]
    fn dates_the_way_buyers_write_them() {
        let lex = lex();
        // A Tuesday.
        let base = day(2026, 11, 17);
        let r = |s: &str| resolve_date(s, base, &lex).map(|d| d.0);
        assert_eq!(r("Friday"), Some(day(2026, 11, 20)));
        assert_eq!(r("Tuesday"), Some(day(2026, 11, 24)));
        assert_eq!(r("martes"), Some(day(2026, 11, 24)));
        assert_eq!(r("wednesday of next week"), Some(day(2026, 11, 25)));
        assert_eq!(r("tomorrow"), Some(day(2026, 11, 18)));
        assert_eq!(r("pasado mañana"), Some(day(2026, 11, 19)));
        assert_eq!(r("end of next week"), Some(day(2026, 11, 27)));
        assert_eq!(r("KW 6"), Some(day(2027, 2, 12)));
        assert_eq!(r("by 10/10"), Some(day(2027, 10, 10)));
        assert_eq!(r("24/11"), Some(day(2026, 11, 24)));
        assert_eq!(r("märz 3"), Some(day(2027, 3, 3)));
        assert_eq!(r("June next year"), Some(day(2027, 6, 30)));
        assert_eq!(r("下年9月"), Some(day(2027, 9, 30)));
        assert_eq!(r("三月一号"), Some(day(2027, 3, 1)));
        assert_eq!(r("下個月十五號"), Some(day(2026, 12, 15)));
        assert_eq!(r("下周四"), Some(day(2026, 11, 26)));
        assert_eq!(r("в течение 3 недель"), Some(day(2026, 12, 8)));
        assert_eq!(r("آذار"), Some(day(2027, 3, 31)));
    }
}

#[cfg(test)]
mod order_value_tests {
    use super::order_value;

    #[test]
    fn metres_times_price_per_metre() {
        let v = order_value(&[(12_000.0, "m")], &[(1.9, true)], 0.0, None);
        assert_eq!(v, Some(22_800.0));
    }

    #[test]
    fn a_total_beside_its_lines_counts_once() {
        let q = [(9_000.0, "m"), (5_000.0, "m"), (4_000.0, "m")];
        assert_eq!(order_value(&q, &[(2.0, false)], 0.0, None), Some(18_000.0));
    }

    #[test]
    fn a_budget_larger_than_the_count_is_a_total() {
        assert_eq!(
            order_value(&[(1_500.0, "m")], &[(2_700.0, false)], 0.0, None),
            Some(2_700.0)
        );
    }

    #[test]
    fn item_prices_win_when_larger() {
        assert_eq!(
            order_value(&[(3.0, "sets")], &[], 54_000.0, None),
            Some(54_000.0)
        );
    }

    #[test]
    fn containers_are_not_units() {
        assert_eq!(
            order_value(&[(2.0, "container")], &[(1.5, true)], 0.0, None),
            None
        );
    }

    #[test]
    fn a_quantity_per_colour_counts_for_each_colour() {
        let v = order_value(&[(3_000.0, "m")], &[(1.2, false)], 0.0, Some(4.0));
        assert_eq!(v, Some(14_400.0));
    }
}
