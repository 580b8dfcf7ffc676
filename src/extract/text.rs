//! The writer's own words: quoted replies cut off, the signature kept apart.

use super::rules::RuleSet;

/// New text split into the body proper and the signature block.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Parts {
    pub body: String,
    pub signature: String,
}

/// Lines a quote header can start on carry one of these; the rest skip the regex set (speed).
fn may_start_quote(line: &str) -> bool {
    line.contains(':')
        || line.contains('：')
        || line.starts_with('-')
        || line.starts_with('_')
        || line.starts_with('—')
        || line.starts_with('*')
        || line.contains("原始") // 原始邮件 without colon
}

/// Index of the first line where quoted material begins, if any.
fn quote_start(lines: &[&str], rules: &RuleSet) -> Option<usize> {
    for (i, raw) in lines.iter().enumerate() {
        let line = raw.trim();
        if line.starts_with('>') {
            return Some(i);
        }
        if !may_start_quote(line) {
            continue;
        }
        let hits = rules.quote_set.matches(line);
        let next_line = lines.get(i + 1).map(|l| l.trim()).unwrap_or("");
        // Gmail wraps a long "On ... <addr>\nwrote:" attribution over two lines.
        let joined_hits = if hits.matched_any()
            || next_line.is_empty()
            || !(next_line.ends_with(':') || next_line.ends_with('：'))
        {
            None
        } else {
            Some(rules.quote_set.matches(&format!("{line} {next_line}")))
        };
        let all: Vec<usize> = hits
            .iter()
            .chain(joined_hits.iter().flat_map(|h| h.iter()))
            .collect();
        for qi in all {
            let q = &rules.quotes[qi];
            match &q.next {
                None => return Some(i),
                Some(next) => {
                    if lines
                        .iter()
                        .skip(i + 1)
                        .take(5)
                        .any(|l| next.is_match(l.trim()))
                    {
                        return Some(i);
                    }
                }
            }
        }
    }
    None
}

fn is_signoff(line: &str, rules: &RuleSet) -> bool {
    let l = line
        .trim()
        .trim_end_matches([',', '!', '.', '，', '！', '،'])
        .trim();
    if l.is_empty() || l.chars().count() > 45 {
        return false;
    }
    let lower = l.to_lowercase();
    rules.lexicon.signoffs.iter().any(|s| {
        lower == *s
            || (lower.starts_with(s.as_str())
                && lower[s.len()..].starts_with(|c: char| !c.is_alphanumeric())
                && lower.chars().count() <= s.chars().count() + 25)
    })
}

fn looks_like_signature_block(block: &[&str]) -> bool {
    !block.is_empty()
        && block.len() <= 6
        && block.iter().all(|l| {
            let t = l.trim();
            t.chars().count() <= 70
                && !t.ends_with(['.', '?', '!', ':', '。', '？', '！', '：'])
                && !t.starts_with(['-', '*', '•', '·'])
                && !t.starts_with(|c: char| c.is_ascii_digit())
        })
}

/// Cuts quoted replies and separates the signature. `text` is the parsed plain text.
pub fn split(text: &str, rules: &RuleSet) -> Parts {
    let lines: Vec<&str> = text.lines().collect();
    let end = quote_start(&lines, rules).unwrap_or(lines.len());
    // Inline replies: `>` lines further up are quotes too.
    let mut own: Vec<&str> = lines[..end]
        .iter()
        .copied()
        .filter(|l| !l.trim_start().starts_with('>'))
        .collect();
    while own.last().is_some_and(|l| l.trim().is_empty()) {
        own.pop();
    }
    while own.first().is_some_and(|l| l.trim().is_empty()) {
        own.remove(0);
    }

    let mut sig_start = None;
    // "-- " is the standard delimiter; otherwise the last sign-off with a short tail.
    if let Some(i) = own.iter().rposition(|l| l.trim_end() == "--") {
        sig_start = Some(i);
    } else if let Some(i) = own.iter().rposition(|l| is_signoff(l, rules))
        && own.len() - i <= 15
        && i > 0
    {
        sig_start = Some(i);
    }
    if sig_start.is_none() {
        // No sign-off: a short trailing block of name/company lines after a blank line.
        if let Some(blank) = own.iter().rposition(|l| l.trim().is_empty())
            && blank > 0
            && looks_like_signature_block(&own[blank + 1..])
        {
            sig_start = Some(blank + 1);
        }
    }
    match sig_start {
        Some(i) => Parts {
            body: own[..i].join("\n"),
            signature: own[i..].join("\n"),
        },
        None => Parts {
            body: own.join("\n"),
            signature: String::new(),
        },
    }
}

fn is_clause_break(c: char) -> bool {
    matches!(c, '\n' | '。' | '！' | '？' | ';' | '；' | '!' | '?')
}

/// The byte span of the clause (sentence or line) around `pos`. A "." ends a clause only when a
/// space follows, so "22.01.2027" and "1.800" stay whole.
pub fn clause_at(text: &str, pos: usize) -> (usize, usize) {
    let pos = pos.min(text.len());
    let bytes = text.as_bytes();
    let mut start = 0;
    for (i, c) in text[..pos].char_indices().rev() {
        if is_clause_break(c) || (c == '.' && bytes.get(i + 1).is_some_and(|b| *b == b' ')) {
            start = i + c.len_utf8();
            break;
        }
    }
    let mut end = text.len();
    for (i, c) in text[pos..].char_indices() {
        let at = pos + i;
        if is_clause_break(c)
            || (c == '.' && bytes.get(at + 1).is_none_or(|b| *b == b' ' || *b == b'\n'))
        {
            end = at;
            break;
        }
    }
    (start, end.max(start))
}
