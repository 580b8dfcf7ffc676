//! Stage 2 of the pipeline: raw RFC 5322 bytes → [`ParsedMessage`], the owned, storable view every
//! later stage works from. Pure code: no I/O, no clock.

use chrono::{DateTime, FixedOffset, TimeZone, Utc};
use mail_parser::{HeaderValue, MessageParser, MimeHeaders, PartType};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Upper bound for the text kept per message: enough for any human inquiry, small enough that a
/// pasted log file cannot bloat the database.
pub const MAX_TEXT_BYTES: usize = 64 * 1024;

/// MIME nesting deeper than this is not followed (nesting bombs).
const MAX_PARTS: usize = 2_000;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mailbox {
    pub name: Option<String>,
    /// Lower-cased address (`local@domain`).
    pub address: String,
}

impl Mailbox {
    pub fn domain(&self) -> &str {
        self.address.rsplit_once('@').map(|(_, d)| d).unwrap_or("")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    pub name: String,
    pub content_type: String,
    pub size: usize,
}

/// The headers later stages branch on (auto-replies, bulk mail, bounces, digest replies).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Headers {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_submitted: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub x_autoreply: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub precedence: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub list_id: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub list_unsubscribe: bool,
    /// `multipart/report` (delivery status notifications, MDNs).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub report: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub authentication_results: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParsedMessage {
    /// Without angle brackets. Synthesised from the raw bytes' hash when the header is missing.
    pub message_id: String,
    pub message_id_synthesised: bool,
    pub in_reply_to: Vec<String>,
    pub references: Vec<String>,
    pub from: Option<Mailbox>,
    pub reply_to: Option<Mailbox>,
    pub to: Vec<Mailbox>,
    pub cc: Vec<Mailbox>,
    /// The Date header in the writer's own offset; the caller's fallback (INTERNALDATE) otherwise.
    pub date: DateTime<FixedOffset>,
    pub date_from_header: bool,
    pub subject: String,
    /// Plain text of the body (HTML converted), at most [`MAX_TEXT_BYTES`].
    pub text: String,
    pub attachments: Vec<Attachment>,
    pub headers: Headers,
    /// The raw message was cut (size limit) before parsing.
    pub truncated: bool,
    /// How the body is made: evidence of bulk mail. Absent in messages stored before it existed.
    #[serde(default, skip_serializing_if = "Shape::is_plain")]
    pub shape: Shape,
}

/// The make-up of a body that its text alone does not show: marketing mail is HTML-only, with
/// many links and images; a person's inquiry has a signature link or two.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shape {
    /// HTML body and no plain-text alternative.
    #[serde(default)]
    pub html_only: bool,
    /// Distinct web links (HTML `href`s and URLs in plain text; `mailto:` and anchors do not
    /// count), counted up to [`MAX_SHAPE_COUNT`].
    #[serde(default)]
    pub links: u16,
    /// `<img>` tags in the HTML, counted up to [`MAX_SHAPE_COUNT`].
    #[serde(default)]
    pub images: u16,
    /// The first link (web or `mailto:`) that unsubscribes or removes the reader from a list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub removal_link: Option<String>,
}

/// Words in a link that take the reader off a mailing list, in the languages list mail comes in.
const REMOVAL_LINK_WORDS: &[&str] = &[
    "unsub",
    "optout",
    "opt-out",
    "opt_out",
    "remove",
    "removal",
    "desinscri",
    "desabonn",
    "abmeld",
    "abbestell",
    "darse-de-baja",
    "descadastr",
    "disiscri",
    "otpisat",
];

/// Counting links and images stops here: past it, the number tells nothing more.
pub const MAX_SHAPE_COUNT: u16 = 200;

impl Shape {
    fn is_plain(&self) -> bool {
        self == &Shape::default()
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ParseError {
    #[error("empty message")]
    Empty,
    #[error("not an RFC 5322 message (no header could be parsed)")]
    NotAMessage,
}

/// Hex SHA-256 of the raw bytes; the identity of a message without a Message-ID.
pub fn raw_hash(raw: &[u8]) -> String {
    let digest = Sha256::digest(raw);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Parses one raw message. `fallback_date` (IMAP INTERNALDATE, or the file's time) is used when the
/// Date header is missing or unreadable. `truncated` is recorded as given.
pub fn parse(
    raw: &[u8],
    fallback_date: DateTime<FixedOffset>,
    truncated: bool,
) -> Result<ParsedMessage, ParseError> {
    if raw.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(ParseError::Empty);
    }
    let msg = MessageParser::default()
        .parse(raw)
        .ok_or(ParseError::NotAMessage)?;
    if msg.headers().is_empty() {
        return Err(ParseError::NotAMessage);
    }

    let (message_id, message_id_synthesised) = match msg.message_id().map(clean_id) {
        Some(id) if !id.is_empty() => (id, false),
        _ => (format!("{}@leadsift.invalid", &raw_hash(raw)[..32]), true),
    };

    let (date, date_from_header) = match msg.date().and_then(to_chrono) {
        Some(d) => (d, true),
        None => (fallback_date, false),
    };

    let mut headers = Headers::default();
    for h in msg.headers() {
        let name = h.name().to_ascii_lowercase();
        let text = || header_text(h.value());
        match name.as_str() {
            "auto-submitted" => headers.auto_submitted = text().map(|t| t.to_ascii_lowercase()),
            "x-autoreply" | "x-autorespond" | "x-auto-response-suppress" => {
                headers.x_autoreply |= name != "x-auto-response-suppress"
                    || text().is_some_and(|t| t.to_ascii_lowercase().contains("oof"))
            }
            "precedence" => headers.precedence = text().map(|t| t.to_ascii_lowercase()),
            "list-id" => headers.list_id = text(),
            "list-unsubscribe" => headers.list_unsubscribe = true,
            _ => {}
        }
    }
    // Raw values: the parsed form of an unknown header loses nothing, but raw keeps every instance.
    headers.authentication_results = msg
        .headers_raw()
        .filter(|(n, _)| n.eq_ignore_ascii_case("authentication-results"))
        .map(|(_, v)| collapse_ws(v))
        .collect();
    headers.report = msg.root_part().content_type().is_some_and(|ct| {
        ct.ctype().eq_ignore_ascii_case("multipart")
            && ct
                .subtype()
                .is_some_and(|s| s.eq_ignore_ascii_case("report"))
    });

    let subject = msg.subject().map(collapse_ws).unwrap_or_default();
    let from = msg.from().and_then(|a| first_mailbox(a));
    let reply_to = msg.reply_to().and_then(|a| first_mailbox(a));
    let to = msg.to().map(all_mailboxes).unwrap_or_default();
    let cc = msg.cc().map(all_mailboxes).unwrap_or_default();

    let mut text = String::new();
    let mut shape = ShapeCounter::default();
    for i in 0..msg.text_body_count().min(MAX_PARTS) {
        // HTML bodies go through our own pass first, so table cells and blocks stay apart.
        let part_text = match msg.text_part(i as u32) {
            Some(part) if part.is_text_html() => {
                shape.html_text = true;
                part.text_contents().map(|h| html_to_text(h).into())
            }
            _ => msg.body_text(i).inspect(|t| shape.plain(t)),
        };
        if let Some(t) = part_text {
            if !text.is_empty() {
                text.push_str("\n\n");
            }
            text.push_str(&t);
            if text.len() >= MAX_TEXT_BYTES {
                break;
            }
        }
    }
    if text.trim().is_empty() {
        // HTML-only mail where the text bodies gave nothing, e.g. an HTML part marked as attachment.
        if let Some(h) = msg.body_html(0) {
            shape.html_text = true;
            text = html_to_text(&h);
        }
    }
    if text.trim().is_empty() {
        // A body the parser filed as a nameless attachment (odd MIME from bulk mailers and old
        // clients): its text is still the message.
        let nameless_text = msg.attachments().take(MAX_PARTS).find(|p| {
            p.attachment_name().is_none_or(|n| n.trim().is_empty())
                && p.is_text()
                && p.text_contents().is_some_and(|t| !t.trim().is_empty())
        });
        if let Some(part) = nameless_text {
            let t = part.text_contents().unwrap_or_default();
            if part.is_text_html() {
                shape.html_text = true;
                shape.html(t);
                text = html_to_text(t);
            } else {
                shape.plain(t);
                text = t.to_string();
            }
        }
    }
    for i in 0..msg.html_body_count().min(MAX_PARTS) {
        if let Some(h) = msg.html_part(i as u32).filter(|p| p.is_text_html()) {
            shape.html(h.text_contents().unwrap_or_default());
        }
    }
    let text = bound(
        label_table_cells(&normalise_newlines(&text)),
        MAX_TEXT_BYTES,
    );

    let mut attachments = Vec::new();
    for part in msg.attachments().take(MAX_PARTS) {
        let content_type = part
            .content_type()
            .map(|ct| match ct.subtype() {
                Some(s) => format!("{}/{}", ct.ctype(), s).to_ascii_lowercase(),
                None => ct.ctype().to_ascii_lowercase(),
            })
            .unwrap_or_else(|| "application/octet-stream".into());
        let name = part
            .attachment_name()
            .map(collapse_ws)
            .or_else(|| match &part.body {
                PartType::Message(m) => m.subject().map(|s| format!("{}.eml", collapse_ws(s))),
                _ => None,
            })
            .unwrap_or_default();
        attachments.push(Attachment {
            name,
            content_type,
            size: part.len(),
        });
    }

    Ok(ParsedMessage {
        message_id,
        message_id_synthesised,
        in_reply_to: id_list(msg.in_reply_to()),
        references: id_list(msg.references()),
        from,
        reply_to,
        to,
        cc,
        date,
        date_from_header,
        subject,
        text,
        attachments,
        headers,
        truncated,
        shape: shape.finish(),
    })
}

/// Counts what [`Shape`] reports while the text parts go by.
#[derive(Default)]
struct ShapeCounter {
    /// Some of the text came from HTML.
    html_text: bool,
    /// Some of the text came from a non-empty plain-text part.
    plain: bool,
    links: std::collections::HashSet<String>,
    images: u16,
    removal_link: Option<String>,
}

impl ShapeCounter {
    fn html(&mut self, h: &str) {
        static HREF: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
            regex::Regex::new(r#"(?i)<a\s[^>]*?href\s*=\s*["']?\s*([^"'\s>]+)"#)
                .unwrap_or_else(|_| unreachable!("constant regex"))
        });
        static IMG: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
            regex::Regex::new(r"(?i)<img\b").unwrap_or_else(|_| unreachable!("constant regex"))
        });
        let h = &h[..floor_boundary(h, MAX_TEXT_BYTES * 4)];
        for c in HREF.captures_iter(h).take(usize::from(MAX_SHAPE_COUNT) * 4) {
            // `mailto:remove@…` counts as a removal link, not as a web link.
            if let Some(m) = c.get(1) {
                self.link(m.as_str());
            }
        }
        let imgs = IMG.find_iter(h).take(usize::from(MAX_SHAPE_COUNT)).count();
        self.images = self.images.saturating_add(imgs as u16).min(MAX_SHAPE_COUNT);
    }

    fn plain(&mut self, t: &str) {
        static URL: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
            regex::Regex::new(r#"(?i)\b(?:https?://|www\.|mailto:)[^\s<>"'()\[\]]+"#)
                .unwrap_or_else(|_| unreachable!("constant regex"))
        });
        self.plain = self.plain || !t.trim().is_empty();
        let t = &t[..floor_boundary(t, MAX_TEXT_BYTES)];
        for m in URL.find_iter(t).take(usize::from(MAX_SHAPE_COUNT) * 4) {
            self.link(m.as_str());
        }
    }

    fn link(&mut self, target: &str) {
        let l = target
            .trim_end_matches(['.', ',', ';', ':', '!', '?'])
            .to_ascii_lowercase();
        if self.removal_link.is_none() && REMOVAL_LINK_WORDS.iter().any(|w| l.contains(w)) {
            self.removal_link = Some(l.chars().take(90).collect());
        }
        let web = l.starts_with("http://") || l.starts_with("https://") || l.starts_with("www.");
        if web && self.links.len() < usize::from(MAX_SHAPE_COUNT) {
            self.links.insert(l);
        }
    }

    fn finish(self) -> Shape {
        Shape {
            html_only: self.html_text && !self.plain,
            links: self.links.len() as u16,
            images: self.images,
            removal_link: self.removal_link,
        }
    }
}

/// The largest char boundary at or below `max`.
fn floor_boundary(s: &str, max: usize) -> usize {
    if s.len() <= max {
        return s.len();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    end
}

fn clean_id(id: &str) -> String {
    id.trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .trim()
        .to_string()
}

fn id_list(v: &HeaderValue<'_>) -> Vec<String> {
    let mut out: Vec<String> = match v {
        HeaderValue::Text(t) => vec![clean_id(t)],
        HeaderValue::TextList(l) => l.iter().map(|t| clean_id(t)).collect(),
        _ => Vec::new(),
    };
    out.retain(|s| !s.is_empty());
    out
}

fn header_text(v: &HeaderValue<'_>) -> Option<String> {
    match v {
        HeaderValue::Text(t) => Some(t.trim().to_string()),
        HeaderValue::TextList(l) => Some(l.join(", ")),
        HeaderValue::Address(a) => a.first().and_then(|x| x.address()).map(str::to_string),
        _ => None,
    }
}

fn collapse_ws(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn to_mailbox(a: &mail_parser::Addr<'_>) -> Option<Mailbox> {
    let address = a.address()?.trim().trim_matches(|c| c == '<' || c == '>');
    if address.is_empty() {
        return None;
    }
    Some(Mailbox {
        name: a.name().map(collapse_ws).filter(|n| !n.is_empty()),
        address: address.to_lowercase(),
    })
}

fn first_mailbox(a: &mail_parser::Address<'_>) -> Option<Mailbox> {
    a.iter().find_map(to_mailbox)
}

fn all_mailboxes(a: &mail_parser::Address<'_>) -> Vec<Mailbox> {
    a.iter().filter_map(to_mailbox).take(500).collect()
}

fn to_chrono(d: &mail_parser::DateTime) -> Option<DateTime<FixedOffset>> {
    if !d.is_valid() {
        return None;
    }
    let secs = i32::from(d.tz_hour) * 3600 + i32::from(d.tz_minute) * 60;
    let offset = FixedOffset::east_opt(if d.tz_before_gmt { -secs } else { secs })?;
    let utc = Utc.timestamp_opt(d.to_timestamp(), 0).single()?;
    Some(utc.with_timezone(&offset))
}

fn normalise_newlines(s: &str) -> String {
    s.replace("\r\n", "\n").replace('\r', "\n")
}

/// Cuts `s` to at most `max` bytes on a character boundary.
pub fn bound(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
    s
}

/// HTML → text with mail-parser's converter, after marking where cells, rows and blocks end:
/// the converter itself only breaks lines at `<br>` and `</p>`, which glues `<td>5000K</td><td>2,500
/// pcs</td>` into "5000K2,500 pcs".
fn html_to_text(html: &str) -> String {
    static BLOCK_END: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"(?i)</(?:tr|div|li|h[1-6]|table|blockquote|ul|ol)\s*>|<(?:tr|li|div|table)(?:\s[^>]*)?>")
            .unwrap_or_else(|_| unreachable!("constant regex"))
    });
    static CELL_END: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"(?i)</t[dh]\s*>").unwrap_or_else(|_| unreachable!("constant regex"))
    });
    let marked = BLOCK_END.replace_all(html, "$0<br>");
    let marked = CELL_END.replace_all(&marked, "$0 | ");
    mail_parser::decoders::html::html_to_text(&marked)
}

/// Table rows as lines of cells ("a | b | c"), with a header's unit or currency carried into
/// its bare number cells: under "Qty (m)" the cell "24,000" says "24,000 m", under "Price
/// (USD/m)" the cell "1.05" says "USD 1.05/m". Buyers send their RFQs as tables; the numbers
/// in them are only values with the header beside them.
fn label_table_cells(text: &str) -> String {
    if !text.contains(['|', '\t']) {
        return text.to_string();
    }
    let lines: Vec<&str> = text.lines().collect();
    let cells = |l: &str| -> Vec<String> {
        let sep = if l.contains('|') { '|' } else { '\t' };
        let mut v: Vec<String> = l.split(sep).map(|c| c.trim().to_string()).collect();
        while v.last().is_some_and(|c| c.is_empty()) {
            v.pop();
        }
        if v.first().is_some_and(|c| c.is_empty()) {
            v.remove(0);
        }
        v
    };
    let is_row = |l: &str| (l.contains('|') || l.contains('\t')) && cells(l).len() >= 2;
    let mut out: Vec<String> = Vec::with_capacity(lines.len());
    let mut i = 0;
    while i < lines.len() {
        if !is_row(lines[i]) {
            out.push(lines[i].to_string());
            i += 1;
            continue;
        }
        let header = cells(lines[i]);
        let labels: Vec<Option<CellLabel>> = header.iter().map(|h| CellLabel::of(h)).collect();
        out.push(lines[i].to_string());
        i += 1;
        if header.iter().any(|h| is_bare_number(h)) || labels.iter().all(Option::is_none) {
            continue;
        }
        loop {
            // HTML rows come apart by blank lines: they do not end the table.
            let mut j = i;
            while j < lines.len() && lines[j].trim().is_empty() {
                j += 1;
            }
            if j >= lines.len() || !is_row(lines[j]) {
                break;
            }
            out.extend(lines[i..j].iter().map(|l| l.to_string()));
            i = j;
            let row = cells(lines[i]);
            if row.len() != header.len() {
                break;
            }
            let labelled: Vec<String> = row
                .iter()
                .zip(&labels)
                .map(|(c, l)| match l {
                    Some(l) if is_bare_number(c) => l.apply(c),
                    _ => c.clone(),
                })
                .collect();
            out.push(labelled.join(" | "));
            i += 1;
        }
    }
    let mut s = out.join("\n");
    if text.ends_with('\n') {
        s.push('\n');
    }
    s
}

fn is_bare_number(c: &str) -> bool {
    !c.is_empty()
        && c.chars().any(|ch| ch.is_ascii_digit())
        && c.chars()
            .all(|ch| ch.is_ascii_digit() || matches!(ch, ',' | '.' | ' ' | '\''))
}

/// What a header's bracket says about the numbers under it.
#[derive(Debug, PartialEq)]
enum CellLabel {
    Unit(String),
    Money {
        currency: String,
        per: Option<String>,
    },
}

impl CellLabel {
    /// "Qty (m)" → unit m; "Target price (USD/m CFR Jebel Ali)" → USD per m; "Item" → none.
    fn of(header: &str) -> Option<CellLabel> {
        let open = header.find(['(', '[', '（'])?;
        let inner = header[open..]
            .trim_start_matches(['(', '[', '（'])
            .split([')', ']', '）'])
            .next()?;
        let first = inner.split_whitespace().next()?;
        let (head, per) = match first.split_once('/') {
            Some((h, p)) => (h, Some(p)),
            None => (first, None),
        };
        let is_code = head.len() == 3 && head.chars().all(|c| c.is_ascii_uppercase());
        let is_symbol = matches!(head, "$" | "€" | "£" | "¥" | "₹" | "US$" | "RMB");
        let per = per
            .filter(|p| !p.is_empty() && p.chars().count() <= 6)
            .map(str::to_string);
        if is_code || is_symbol {
            return Some(CellLabel::Money {
                currency: head.to_string(),
                per,
            });
        }
        // A unit is a short word ("m", "kg", "pcs", "yds", "m²"), not a sentence.
        let unit_like = inner.split_whitespace().count() == 1
            && (1..=6).contains(&head.chars().count())
            && head
                .chars()
                .all(|c| c.is_alphabetic() || matches!(c, '²' | '³'));
        unit_like.then(|| CellLabel::Unit(head.to_string()))
    }

    fn apply(&self, n: &str) -> String {
        match self {
            CellLabel::Unit(u) => format!("{n} {u}"),
            CellLabel::Money {
                currency,
                per: Some(p),
            } => format!("{currency} {n}/{p}"),
            CellLabel::Money {
                currency,
                per: None,
            } => format!("{currency} {n}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fallback() -> DateTime<FixedOffset> {
        DateTime::parse_from_rfc3339("2026-01-01T00:00:00+00:00").unwrap()
    }

    #[test]
    fn a_body_filed_as_a_nameless_attachment_is_still_the_text() {
        let raw = "From: a@x.example\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\nContent-Disposition: attachment\r\n\r\nWe need 20 pumps by May.\r\n--b\r\nContent-Type: text/plain\r\nContent-Disposition: attachment; filename=\"notes.txt\"\r\n\r\nnot the body\r\n--b--\r\n";
        let m = parse(raw.as_bytes(), fallback(), false).unwrap();
        assert_eq!(m.text.trim(), "We need 20 pumps by May.");
    }

    #[test]
    fn shape_counts_distinct_links_images_and_html_only() {
        let html = "From: a@x.example\r\nContent-Type: text/html\r\n\r\n<p>Hi</p><a href=\"https://a.example/1\">1</a> <a href='https://a.example/2'>2</a> <a href=\"https://a.example/1\">again</a> <a href=\"mailto:x@a.example\">mail</a> <img src=\"cid:logo\"><IMG src=x>\r\n";
        let m = parse(html.as_bytes(), fallback(), false).unwrap();
        assert_eq!(
            m.shape,
            Shape {
                html_only: true,
                links: 2,
                images: 2,
                removal_link: None,
            }
        );
        let alt = "From: a@x.example\r\nContent-Type: multipart/alternative; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nSee www.a.example and https://b.example/x.\r\n--b\r\nContent-Type: text/html\r\n\r\n<p>See <a href=\"https://b.example/x\">b</a></p><img src=x>\r\n--b--\r\n";
        let m = parse(alt.as_bytes(), fallback(), false).unwrap();
        assert!(!m.shape.html_only);
        assert_eq!((m.shape.links, m.shape.images), (2, 1));
        let list = "From: a@x.example\r\nContent-Type: text/html\r\n\r\n<p>News</p><a href=\"mailto:lists@a.example?subject=Remove\">leave</a>\r\n";
        let m = parse(list.as_bytes(), fallback(), false).unwrap();
        assert_eq!(
            m.shape.removal_link.as_deref(),
            Some("mailto:lists@a.example?subject=remove")
        );
        assert_eq!(m.shape.links, 0);
        let plain = "From: a@x.example\r\n\r\nNeed 20 pumps.\r\n";
        let m = parse(plain.as_bytes(), fallback(), false).unwrap();
        assert_eq!(m.shape, Shape::default());
    }

    #[test]
    fn basic_fields() {
        let raw = b"Message-ID: <abc@x.example>\r\nFrom: \"Li Wei\" <Li@Acme.Example>\r\nReply-To: other@gmail.com\r\nTo: sales@ourco.example, b@ourco.example\r\nIn-Reply-To: <p1@ourco.example>\r\nReferences: <p0@ourco.example> <p1@ourco.example>\r\nDate: Fri, 20 Nov 2026 10:00:00 +0800\r\nSubject: RFQ  high bay\r\n\r\nWe need 500 pcs.\r\n";
        let m = parse(raw, fallback(), false).unwrap();
        assert_eq!(m.message_id, "abc@x.example");
        assert!(!m.message_id_synthesised);
        assert_eq!(m.from.as_ref().unwrap().address, "li@acme.example");
        assert_eq!(m.from.as_ref().unwrap().name.as_deref(), Some("Li Wei"));
        assert_eq!(m.reply_to.as_ref().unwrap().address, "other@gmail.com");
        assert_eq!(m.to.len(), 2);
        assert_eq!(m.in_reply_to, vec!["p1@ourco.example"]);
        assert_eq!(m.references, vec!["p0@ourco.example", "p1@ourco.example"]);
        assert_eq!(m.date.to_rfc3339(), "2026-11-20T10:00:00+08:00");
        assert_eq!(m.subject, "RFQ high bay");
        assert!(m.text.contains("500 pcs"));
    }

    #[test]
    fn missing_id_and_date_are_synthesised() {
        let raw = b"From: a@b.example\r\nSubject: x\r\n\r\nhello\r\n";
        let m = parse(raw, fallback(), false).unwrap();
        assert!(m.message_id_synthesised);
        assert!(m.message_id.ends_with("@leadsift.invalid"));
        assert_eq!(m.date, fallback());
        assert!(!m.date_from_header);
        // Same bytes, same identity.
        assert_eq!(
            parse(raw, fallback(), false).unwrap().message_id,
            m.message_id
        );
    }

    #[test]
    fn html_only_yields_text() {
        let raw = b"From: a@b.example\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<html><body><p>Need <b>400</b> high bays</p><script>x</script></body></html>\r\n";
        let m = parse(raw, fallback(), false).unwrap();
        assert!(m.text.contains("Need"), "{}", m.text);
        assert!(m.text.contains("400"), "{}", m.text);
        assert!(!m.text.contains("<b>"));
    }

    #[test]
    fn html_table_cells_stay_apart() {
        let raw = b"From: a@b.example\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<table><tr><td>5000K</td><td>2,500 pcs</td></tr><tr><td>IP66</td><td>600 pcs</td></tr></table><div>Delivery: January</div>\r\n";
        let m = parse(raw, fallback(), false).unwrap();
        assert!(
            m.text.contains("5000K") && m.text.contains("2,500 pcs"),
            "{:?}",
            m.text
        );
        assert!(!m.text.contains("5000K2,500"), "{:?}", m.text);
        assert!(!m.text.contains("IP66600"), "{:?}", m.text);
        assert!(
            m.text.contains("\nDelivery: January") || m.text.contains("pcs \nDelivery"),
            "{:?}",
            m.text
        );
    }

    #[test]
    fn report_and_bulk_headers() {
        let raw = b"From: MAILER-DAEMON@mx.example\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\r\nList-Unsubscribe: <mailto:u@x>\r\nPrecedence: Bulk\r\nAuto-Submitted: Auto-Replied\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nfailed\r\n--b--\r\n";
        let m = parse(raw, fallback(), false).unwrap();
        assert!(m.headers.report);
        assert!(m.headers.list_unsubscribe);
        assert_eq!(m.headers.precedence.as_deref(), Some("bulk"));
        assert_eq!(m.headers.auto_submitted.as_deref(), Some("auto-replied"));
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert_eq!(parse(b"   \r\n", fallback(), false), Err(ParseError::Empty));
        // Random bytes either parse into something or give a clean error.
        let junk: Vec<u8> = (0..5000u32).map(|i| (i * 7919 % 251) as u8).collect();
        let _ = parse(&junk, fallback(), false);
    }

    #[test]
    fn text_is_bounded() {
        let mut raw = b"From: a@b.example\r\n\r\n".to_vec();
        raw.extend(std::iter::repeat_n(b'x', MAX_TEXT_BYTES * 2));
        let m = parse(&raw, fallback(), false).unwrap();
        assert!(m.text.len() <= MAX_TEXT_BYTES);
    }
    #[test]
    fn table_headers_label_their_number_cells() {
        let t = "Our RFQ:\nNo. | Article | Qty (yds) | Price (EUR/yd) | Notes\n1 | canvas 12 oz | 5,000 | 2.40 | ecru\n2 | duck 10 oz | 800 | 3 | 12 colours\nThanks\n";
        let out = label_table_cells(t);
        assert!(
            out.contains("1 | canvas 12 oz | 5,000 yds | EUR 2.40/yd | ecru"),
            "{out}"
        );
        assert!(
            out.contains("2 | duck 10 oz | 800 yds | EUR 3/yd | 12 colours"),
            "{out}"
        );
        assert!(out.starts_with("Our RFQ:\nNo. | Article"), "{out}");
        // A row of another width ends the table; text outside tables is untouched.
        let t = "Size | Qty (pcs)\n\nL | 40\nM | 60 | extra\nwe need 5 more\n";
        let out = label_table_cells(t);
        assert!(out.contains("L | 40 pcs"), "{out}");
        assert!(out.contains("M | 60 | extra"), "{out}");
        assert!(out.ends_with("we need 5 more\n"), "{out}");
    }

    #[test]
    fn a_header_without_a_unit_or_a_numeric_header_labels_nothing() {
        let t = "Item | Quantity | Remarks (see note 2)\npoplin | 300 | 150 cm wide\n";
        assert_eq!(label_table_cells(t), t);
        let t = "2024 | 2025\n10 | 20\n";
        assert_eq!(label_table_cells(t), t);
        assert_eq!(
            CellLabel::of("Price (USD)"),
            Some(CellLabel::Money {
                currency: "USD".into(),
                per: None
            })
        );
        assert_eq!(
            CellLabel::of("Weight (kg)"),
            Some(CellLabel::Unit("kg".into()))
        );
        assert_eq!(CellLabel::of("Comments (optional text here)"), None);
    }

    #[test]
    fn html_table_rfq_reads_as_labelled_rows() {
        let raw = "From: a@b.example\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>Please quote:</p><table><tr><th>Fabric</th><th>Qty (m)</th><th>Target (USD/m)</th></tr><tr><td>denim 10 oz</td><td>12,000</td><td>2.10</td></tr></table>\r\n";
        let m = parse(raw.as_bytes(), fallback(), false).unwrap();
        assert!(
            m.text.contains("denim 10 oz | 12,000 m | USD 2.10/m"),
            "{}",
            m.text
        );
    }
}
