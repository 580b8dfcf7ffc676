//! Replies to the digest: the command language salespeople write in them, and the checks a reply
//! must pass before any of its commands count. Pure: no I/O, no clock.
//!
//! A reply is trusted only when it answers a digest leadsift sent (its In-Reply-To/References
//! carry the digest's unguessable Message-ID token), comes from one of the digest's recipients,
//! and — where the receiving server stamped Authentication-Results under the configured
//! authserv-id — passed DKIM or SPF for the From domain. Everything else is ignored: a buyer
//! must not be able to mark himself hot.

use std::fmt;

use super::Label;

/// One command line of a reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// A correction: `hot` `nurture` `drop` `auto` `scam` `not-scam` `clear-risk`, `+need` to
    /// confirm a dimension and `-need` to withdraw that (any dimension [`Label::parse`] knows).
    Correct { label: Label, lead: String },
    /// Send the lead's `explain` text back.
    Why { lead: String },
    /// `owner LEAD WHO`: give the lead to a colleague. `who` is an address or the part before the
    /// `@` of a colleague's (lower-cased; resolved against the team when applied).
    Owner { lead: String, who: String },
}

impl Command {
    pub fn lead(&self) -> &str {
        match self {
            Command::Correct { lead, .. } | Command::Why { lead } | Command::Owner { lead, .. } => {
                lead
            }
        }
    }
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Command::Correct { label, lead } => write!(f, "{} {lead}", label.as_str()),
            Command::Why { lead } => write!(f, "why {lead}"),
            Command::Owner { lead, who } => write!(f, "owner {lead} {who}"),
        }
    }
}

/// At most this many lines that were not commands are reported back.
pub const MAX_NOT_UNDERSTOOD: usize = 10;

/// What a reply's text says. Line numbers are 1-based in the body text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Parsed {
    pub commands: Vec<(usize, Command)>,
    /// Lines above the quoted original that are not commands, the first [`MAX_NOT_UNDERSTOOD`].
    pub not_understood: Vec<(usize, String)>,
    /// How many more such lines there were.
    pub not_understood_more: usize,
}

/// A line is at most this long to be kept in a report (a pasted essay is cut).
const MAX_LINE_CHARS: usize = 200;

/// Reads the command lines of a reply, stopping at the quoted original or the signature.
pub fn parse_commands(body_text: &str) -> Parsed {
    let lines: Vec<&str> = body_text.lines().collect();
    let mut out = Parsed::default();
    for (i, raw) in lines.iter().enumerate() {
        let line = clean_line(raw);
        if is_quote_start(raw, &line, lines.get(i + 1).copied()) {
            break;
        }
        if line.is_empty() {
            continue;
        }
        match parse_line(&line) {
            Some(c) => out.commands.push((i + 1, c)),
            None if out.not_understood.len() < MAX_NOT_UNDERSTOOD => {
                out.not_understood.push((i + 1, shorten(&line)))
            }
            None => out.not_understood_more += 1,
        }
    }
    out
}

/// Trims whitespace and the invisible characters some clients leave at line starts.
fn clean_line(raw: &str) -> String {
    raw.trim_matches(|c: char| {
        c.is_whitespace() || matches!(c, '\u{feff}' | '\u{200b}' | '\u{200e}' | '\u{200f}')
    })
    .to_string()
}

fn shorten(s: &str) -> String {
    if s.chars().count() <= MAX_LINE_CHARS {
        return s.to_string();
    }
    let mut t: String = s.chars().take(MAX_LINE_CHARS - 1).collect();
    t.push('…');
    t
}

/// The verbs of the attribution lines mail clients put above a quoted original ("On … wrote:",
/// "Am … schrieb Jane:"), in the languages the patterns cover.
const WROTE: [&str; 7] = [
    "wrote",
    "schrieb",
    "a écrit",
    "escribió",
    "escreveu",
    "написал",
    "写道",
];

/// An attribution line: ends with a colon and names the writing.
fn is_attribution(line: &str) -> bool {
    let l = line.to_lowercase();
    (l.ends_with(':') || l.ends_with('：')) && WROTE.iter().any(|w| l.contains(w))
}

/// Does the original (or the signature) start at this line? `raw` is the line as written, `line`
/// the cleaned one, `next` the following raw line.
fn is_quote_start(raw: &str, line: &str, next: Option<&str>) -> bool {
    if line.starts_with('>') {
        return true;
    }
    // The signature separator "-- " (many clients drop the trailing space).
    if raw.trim_end_matches(['\r', '\n']) == "-- " || line == "--" {
        return true;
    }
    // "-----Original Message-----", "----- Original Message -----", Thunderbird's forward banner.
    if line.starts_with("--") {
        let inner = line.trim_matches(|c: char| c == '-' || c.is_whitespace());
        let inner = inner.to_lowercase();
        if inner == "original message" || inner == "forwarded message" {
            return true;
        }
    }
    // Apple Mail's forward banner.
    if line.eq_ignore_ascii_case("begin forwarded message:") {
        return true;
    }
    // Outlook puts a rule of underscores above its header block.
    if line.len() >= 10 && line.chars().all(|c| c == '_') {
        return true;
    }
    // Outlook's header block of the original: "From: …" (also German and French/Spanish).
    let lower = line.to_lowercase();
    if ["from:", "von:", "de:"]
        .iter()
        .any(|p| lower.starts_with(p))
    {
        return true;
    }
    // "On Fri, 20 Nov 2026 at 08:00, leadsift <…> wrote:", possibly wrapped over two lines.
    if is_attribution(line) {
        return true;
    }
    let starts_attribution = ["on ", "am ", "le ", "el ", "em "]
        .iter()
        .any(|p| lower.starts_with(p));
    starts_attribution && next.is_some_and(|n| is_attribution(&clean_line(n)))
}

/// A colleague as `owner LEAD WHO` names them: an address, or a plain name (`ann`, `li.wei`).
fn person_shape(word: &str) -> Option<String> {
    let w = word
        .trim_matches(|c: char| matches!(c, '<' | '>' | '"' | '\'' | '(' | ')' | '[' | ']'))
        .trim_end_matches(['.', ',', ';', ':', '!', '?']);
    if w.contains('@') {
        return lead_shape(w).filter(|a| a.contains('@'));
    }
    let ok = !w.is_empty()
        && w.chars().count() <= 64
        && w.chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '+'));
    ok.then(|| w.to_lowercase())
}

/// One line → a command, or None when it is not one.
fn parse_line(line: &str) -> Option<Command> {
    let mut words = line.split_whitespace();
    let verb = words.next()?;
    let verb = verb.strip_suffix(':').unwrap_or(verb);
    let lead = lead_shape(words.next()?)?;
    let owner = verb.eq_ignore_ascii_case("owner");
    let who = if owner {
        Some(person_shape(words.next()?)?)
    } else {
        None
    };
    // Outlook turns addresses and domains into "x <mailto:x>" / "x <http://x>" in plain text.
    for rest in words {
        let r = rest.to_ascii_lowercase();
        let autolink = r.starts_with('<')
            && r.ends_with('>')
            && (r.starts_with("<mailto:") || r.starts_with("<http:") || r.starts_with("<https:"));
        if !autolink {
            return None;
        }
    }
    if let Some(who) = who {
        return Some(Command::Owner { lead, who });
    }
    if verb.eq_ignore_ascii_case("why") {
        return Some(Command::Why { lead });
    }
    Some(Command::Correct {
        label: Label::parse(verb)?,
        lead,
    })
}

/// A domain (`acme.com`) or an email address (`li@polymix.de`), lower-cased, or None when the
/// word has neither shape. Surrounding brackets, quotes, `mailto:` and trailing punctuation go.
pub fn lead_shape(word: &str) -> Option<String> {
    let bracket = |c: char| matches!(c, '<' | '>' | '"' | '\'' | '(' | ')' | '[' | ']');
    let mut w = word;
    // `"bob@gmail.com",` and `(acme.com).`: brackets and punctuation in either order.
    for _ in 0..2 {
        w = w
            .trim_matches(bracket)
            .trim_end_matches(['.', ',', ';', ':', '!', '?']);
    }
    let w = w.strip_prefix("mailto:").unwrap_or(w).to_lowercase();
    match w.rsplit_once('@') {
        Some((local, domain)) => (valid_local(local) && valid_domain(domain)).then_some(w),
        None => valid_domain(&w).then_some(w),
    }
}

fn valid_local(local: &str) -> bool {
    !local.is_empty()
        && local.len() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local
            .chars()
            .all(|c| c.is_alphanumeric() || "!#$%&'*+/=?^_`{|}~.-".contains(c))
}

fn valid_domain(domain: &str) -> bool {
    if domain.is_empty() || domain.len() > 253 {
        return false;
    }
    let labels: Vec<&str> = domain.split('.').collect();
    if labels.len() < 2 {
        return false;
    }
    let label_ok = |l: &&str| {
        !l.is_empty()
            && l.chars().count() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars().all(|c| c.is_alphanumeric() || c == '-')
    };
    // The top-level label is never all digits: that would be an IP address.
    labels.iter().all(label_ok)
        && labels
            .last()
            .is_some_and(|t| !t.chars().all(|c| c.is_ascii_digit()))
}

// ---------------------------------------------------------------------------------------------
// Authentication-Results (RFC 8601)

/// One `method=result` of an Authentication-Results header, with its properties
/// (`header.d` → `example.com`), all lower-cased except property values' case is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MethodResult {
    pub method: String,
    pub result: String,
    pub properties: Vec<(String, String)>,
}

impl MethodResult {
    pub fn property(&self, name: &str) -> Option<&str> {
        self.properties
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// One Authentication-Results header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthResults {
    /// Lower-cased.
    pub authserv_id: String,
    pub results: Vec<MethodResult>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Word(String),
    Quoted(String),
    Semi,
    Eq,
}

/// Splits a header value into words, quoted strings, `;` and `=`; comments (nested, with
/// quoted-pairs) are dropped. None when a quote or comment never closes.
fn tokens(value: &str) -> Option<Vec<Tok>> {
    let mut out = Vec::new();
    let mut chars = value.chars().peekable();
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut Vec<Tok>| {
        if !word.is_empty() {
            out.push(Tok::Word(std::mem::take(word)));
        }
    };
    while let Some(c) = chars.next() {
        match c {
            '(' => {
                flush(&mut word, &mut out);
                let mut depth = 1;
                while depth > 0 {
                    match chars.next()? {
                        '\\' => {
                            chars.next()?;
                        }
                        '(' => depth += 1,
                        ')' => depth -= 1,
                        _ => {}
                    }
                }
            }
            '"' => {
                flush(&mut word, &mut out);
                let mut s = String::new();
                loop {
                    match chars.next()? {
                        '\\' => s.push(chars.next()?),
                        '"' => break,
                        ch => s.push(ch),
                    }
                }
                out.push(Tok::Quoted(s));
            }
            ';' => {
                flush(&mut word, &mut out);
                out.push(Tok::Semi);
            }
            '=' => {
                flush(&mut word, &mut out);
                out.push(Tok::Eq);
            }
            c if c.is_whitespace() => flush(&mut word, &mut out),
            c => word.push(c),
        }
    }
    flush(&mut word, &mut out);
    Some(out)
}

fn is_keyword(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// Parses one Authentication-Results value (without the header name). None when it has no
/// authserv-id; result clauses that do not parse are skipped, the rest kept.
pub fn parse_authentication_results(value: &str) -> Option<AuthResults> {
    let toks = tokens(value)?;
    let mut clauses = toks.split(|t| *t == Tok::Semi);
    let head = clauses.next()?;
    let authserv_id = match head.first()? {
        Tok::Word(w) | Tok::Quoted(w) => w.to_lowercase(),
        _ => return None,
    };
    if authserv_id.is_empty() {
        return None;
    }
    let mut results = Vec::new();
    for clause in clauses {
        if let Some(r) = method_result(clause) {
            results.push(r);
        }
    }
    Some(AuthResults {
        authserv_id,
        results,
    })
}

fn method_result(clause: &[Tok]) -> Option<MethodResult> {
    let mut it = clause.iter().peekable();
    let Tok::Word(method) = it.next()? else {
        return None;
    };
    // "dkim/1" or "dkim / 1": the version is not needed.
    let method = method.split('/').next().unwrap_or("").to_ascii_lowercase();
    if let Some(Tok::Word(w)) = it.peek()
        && w.starts_with('/')
    {
        it.next();
        if w == "/" {
            it.next();
        }
    }
    if !is_keyword(&method) {
        return None;
    }
    if it.next()? != &Tok::Eq {
        return None;
    }
    let result = match it.next()? {
        Tok::Word(w) if is_keyword(w) => w.to_ascii_lowercase(),
        _ => return None,
    };
    let mut properties = Vec::new();
    while let Some(t) = it.next() {
        let Tok::Word(name) = t else { continue };
        if it.peek() != Some(&&Tok::Eq) {
            continue;
        }
        it.next();
        let value = match it.next() {
            Some(Tok::Word(v) | Tok::Quoted(v)) => v.clone(),
            _ => continue,
        };
        properties.push((name.to_ascii_lowercase(), value));
    }
    Some(MethodResult {
        method,
        result,
        properties,
    })
}

/// The organisational domain (public-suffix aware), for DMARC-style relaxed alignment.
fn org_domain(domain: &str) -> String {
    let d = domain.trim().trim_end_matches('.').to_lowercase();
    psl::domain_str(&d).unwrap_or(&d).to_string()
}

fn domain_of(identity: &str) -> &str {
    identity.rsplit_once('@').map_or(identity, |(_, d)| d)
}

/// Does this result vouch for mail from `from_domain`? A pass counts only when the domain it names
/// (DKIM `header.d`/`header.i`, SPF `smtp.mailfrom`/`smtp.helo`, DMARC `header.from`) shares the
/// From address's organisational domain: a DKIM pass for the sender's own domain says nothing
/// about a forged From, and a pass that names no domain says nothing about it either.
fn vouches_for(r: &MethodResult, from_domain: &str) -> bool {
    if r.result != "pass" {
        return false;
    }
    let identity = match r.method.as_str() {
        "dkim" => r.property("header.d").or(r.property("header.i")),
        "spf" => r.property("smtp.mailfrom").or(r.property("smtp.helo")),
        "dmarc" => r.property("header.from"),
        _ => return false,
    };
    match identity {
        Some(id) => {
            let d = domain_of(id);
            !d.is_empty() && org_domain(d) == org_domain(from_domain)
        }
        None => false,
    }
}

/// Checks the Authentication-Results headers stamped under `authserv_id`: Ok when there are
/// none (the receiving server did not check this message, e.g. mail submitted by a logged-in
/// user) or when one of them has an aligned dkim, spf or dmarc pass; Err with what they said.
///
/// Headers under other authserv-ids are ignored: anyone can write those. The receiving server
/// must remove incoming headers that claim its own authserv-id (RFC 8601 section 5).
pub fn check_authentication(
    headers: &[String],
    authserv_id: &str,
    from_domain: &str,
) -> Result<(), String> {
    let want = authserv_id.trim().to_lowercase();
    let ours: Vec<AuthResults> = headers
        .iter()
        .filter_map(|h| parse_authentication_results(h))
        .filter(|a| a.authserv_id == want)
        .collect();
    if ours.is_empty() {
        return Ok(());
    }
    if ours
        .iter()
        .any(|a| a.results.iter().any(|r| vouches_for(r, from_domain)))
    {
        return Ok(());
    }
    let said: Vec<String> = ours
        .iter()
        .flat_map(|a| &a.results)
        .filter(|r| matches!(r.method.as_str(), "dkim" | "spf" | "dmarc"))
        .map(|r| {
            let id = match r.method.as_str() {
                "dkim" => r.property("header.d").or(r.property("header.i")),
                "spf" => r.property("smtp.mailfrom").or(r.property("smtp.helo")),
                _ => r.property("header.from"),
            };
            match id {
                Some(id) => format!("{}={} ({id})", r.method, r.result),
                None => format!("{}={}", r.method, r.result),
            }
        })
        .collect();
    Err(if said.is_empty() {
        format!("{want}: no dkim, spf or dmarc result")
    } else {
        format!("{want}: {} for From domain {from_domain}", said.join(", "))
    })
}

// ---------------------------------------------------------------------------------------------
// Verification

/// The unguessable token of a digest Message-ID (`digest.<32 hex>@domain`, brackets optional).
pub fn digest_token(message_id: &str) -> Option<&str> {
    let id = message_id
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>');
    let (local, _) = id.rsplit_once('@')?;
    let token = local.strip_prefix("digest.")?;
    (token.len() == 32 && token.chars().all(|c| c.is_ascii_hexdigit())).then_some(token)
}

/// Why a reply to the digest was not acted on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Ignored {
    #[error("In-Reply-To/References name no digest Message-ID")]
    NoDigestToken,
    #[error("it answers <{0}>, which is not a digest leadsift sent")]
    UnknownToken(String),
    #[error("the sender {0} is not the recipient of the digest it answers")]
    SenderNotRecipient(String),
    #[error("authentication failed: {0}")]
    AuthFailed(String),
    #[error("an automatic reply ({0}), not a person's")]
    AutoReply(String),
}

/// A digest leadsift sent, as verification needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentDigest {
    pub id: i64,
    pub token: String,
    /// Whom it went to (as recorded: `Name <a@b>` or `a@b`): only they may answer it.
    pub recipients: Vec<String>,
}

/// What a trusted reply is: the digest it answers and who wrote it (lower-cased address).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    pub digest: i64,
    pub sender: String,
}

/// The parts of a stored message verification reads.
#[derive(Debug, Clone, Copy)]
pub struct ReplyHeaders<'a> {
    pub in_reply_to: &'a [String],
    pub references: &'a [String],
    /// The From address, lower-cased.
    pub from: Option<&'a str>,
    pub authentication_results: &'a [String],
    pub auto_submitted: Option<&'a str>,
    pub x_autoreply: bool,
}

impl<'a> ReplyHeaders<'a> {
    pub fn of(m: &'a crate::parse::ParsedMessage) -> ReplyHeaders<'a> {
        ReplyHeaders {
            in_reply_to: &m.in_reply_to,
            references: &m.references,
            from: m.from.as_ref().map(|f| f.address.as_str()),
            authentication_results: &m.headers.authentication_results,
            auto_submitted: m.headers.auto_submitted.as_deref(),
            x_autoreply: m.headers.x_autoreply,
        }
    }
}

/// The address in a `[digest] to` entry (`Name <a@b>` or `a@b`), lower-cased.
pub fn recipient_address(entry: &str) -> String {
    let e = entry.trim();
    let inner = match (e.rfind('<'), e.rfind('>')) {
        (Some(a), Some(b)) if a < b => &e[a + 1..b],
        _ => e,
    };
    inner.trim().to_lowercase()
}

/// Accepts a reply only when all hold: it answers a sent digest (token match), its From is a
/// recipient of *that* digest (each salesperson has their own: one cannot answer another's), it
/// is not an automatic reply, and — with `authserv_id` set — the Authentication-Results under
/// that id (if any) show an aligned DKIM or SPF pass.
pub fn verify(
    h: &ReplyHeaders<'_>,
    sent: &[SentDigest],
    authserv_id: Option<&str>,
) -> Result<Accepted, Ignored> {
    let refs: Vec<&String> = h.in_reply_to.iter().chain(h.references).collect();
    let tokens: Vec<(&String, &str)> = refs
        .iter()
        .filter_map(|r| digest_token(r).map(|t| (*r, t)))
        .collect();
    let Some((first, _)) = tokens.first() else {
        return Err(Ignored::NoDigestToken);
    };
    let quoted = tokens
        .iter()
        .find_map(|(_, t)| sent.iter().find(|d| d.token.eq_ignore_ascii_case(t)))
        .ok_or_else(|| Ignored::UnknownToken(first.to_string()))?;
    let digest = quoted.id;
    let sender = h.from.map(str::to_lowercase).unwrap_or_default();
    if sender.is_empty()
        || !quoted
            .recipients
            .iter()
            .any(|t| recipient_address(t) == sender)
    {
        return Err(Ignored::SenderNotRecipient(if sender.is_empty() {
            "(no From)".into()
        } else {
            sender
        }));
    }
    if let Some(a) = h.auto_submitted.filter(|a| !a.eq_ignore_ascii_case("no")) {
        return Err(Ignored::AutoReply(format!("Auto-Submitted: {a}")));
    }
    if h.x_autoreply {
        return Err(Ignored::AutoReply("X-Autoreply".into()));
    }
    if let Some(id) = authserv_id.filter(|i| !i.trim().is_empty()) {
        check_authentication(h.authentication_results, id, domain_of(&sender))
            .map_err(Ignored::AuthFailed)?;
    }
    Ok(Accepted { digest, sender })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(label: &str, lead: &str) -> Command {
        Command::Correct {
            label: Label::parse(label).unwrap(),
            lead: lead.into(),
        }
    }

    #[test]
    fn commands_from_the_issue() {
        let p = parse_commands(
            "hot acme.com\ndrop bob@gmail.com\nscam strange-buyer.biz\n+budget li@polymix.de\nwhy acme.com\n",
        );
        assert_eq!(
            p.commands,
            vec![
                (1, c("hot", "acme.com")),
                (2, c("drop", "bob@gmail.com")),
                (3, c("scam", "strange-buyer.biz")),
                (4, c("+budget", "li@polymix.de")),
                (
                    5,
                    Command::Why {
                        lead: "acme.com".into()
                    }
                ),
            ]
        );
        assert!(p.not_understood.is_empty());
    }

    #[test]
    fn case_blank_lines_and_every_verb() {
        let p = parse_commands(
            "  HOT   Acme.COM  \r\n\r\nNurture x.example\nAUTO x.example\nNot-Scam y.example\nnotscam y.example\n-Need z.example\n+authority z.example\n-timeline z.example\nWhy: Bob@Gmail.com\nhot: a.example\n",
        );
        let got: Vec<String> = p.commands.iter().map(|(_, c)| c.to_string()).collect();
        assert_eq!(
            got,
            [
                "hot acme.com",
                "nurture x.example",
                "auto x.example",
                "not-scam y.example",
                "not-scam y.example",
                "-need z.example",
                "+authority z.example",
                "-timeline z.example",
                "why bob@gmail.com",
                "hot a.example",
            ]
        );
        assert_eq!(p.commands[1].0, 3, "line numbers count blank lines");
        assert!(p.not_understood.is_empty(), "{:?}", p.not_understood);
    }

    #[test]
    fn not_understood_lines_are_kept_and_capped() {
        let p = parse_commands(
            "Hi leadsift,\nhot\nhot acme\nhot acme.com please\nfrobnicate x.example\n+risk acme.com\nwhy 10.0.0.1\nhot a@@b.example\nhot acme.com\nthanks",
        );
        assert_eq!(p.commands, vec![(9, c("hot", "acme.com"))]);
        let lines: Vec<usize> = p.not_understood.iter().map(|(n, _)| *n).collect();
        assert_eq!(lines, [1, 2, 3, 4, 5, 6, 7, 8, 10]);
        assert_eq!(p.not_understood[4].1, "frobnicate x.example");
        let many = "blah\n".repeat(25);
        let p = parse_commands(&many);
        assert_eq!(p.not_understood.len(), MAX_NOT_UNDERSTOOD);
        assert_eq!(p.not_understood_more, 15);
        let long = "x".repeat(1000);
        let p = parse_commands(&long);
        assert!(p.not_understood[0].1.chars().count() <= MAX_LINE_CHARS);
    }

    #[test]
    fn outlook_autolinks_are_tolerated() {
        let p = parse_commands(
            "drop bob@gmail.com <mailto:bob@gmail.com>\nhot acme.com <http://acme.com>\nhot acme.com <b.example>\n",
        );
        assert_eq!(
            p.commands,
            vec![(1, c("drop", "bob@gmail.com")), (2, c("hot", "acme.com"))]
        );
        assert_eq!(p.not_understood.len(), 1);
    }

    #[test]
    fn stops_at_the_quoted_original() {
        let cases = [
            "hot a.example\n\n> hot b.example\n",
            "hot a.example\nOn Fri, 20 Nov 2026 at 08:00, leadsift <leadsift@example.test> wrote:\nhot b.example",
            "hot a.example\nOn Fri, 20 Nov 2026 at 08:00, leadsift <\nleadsift@example.test> wrote:\nhot b.example",
            "hot a.example\n-----Original Message-----\nhot b.example",
            "hot a.example\n----- Original Message -----\nhot b.example",
            "hot a.example\n________________________________\nFrom: leadsift\nhot b.example",
            "hot a.example\nFrom: leadsift <leadsift@example.test>\nSent: Friday\nhot b.example",
            "hot a.example\n-- \nJane, Sales\nhot b.example",
            "hot a.example\n--\nJane\nhot b.example",
            "hot a.example\nAm 20.11.2026 um 08:00 schrieb leadsift:\nhot b.example",
            "hot a.example\nLe ven. 20 nov. 2026, leadsift a écrit :\nhot b.example",
            "hot a.example\n-------- Forwarded Message --------\nhot b.example",
            "hot a.example\nBegin forwarded message:\nhot b.example",
        ];
        for text in cases {
            let p = parse_commands(text);
            assert_eq!(p.commands, vec![(1, c("hot", "a.example"))], "{text:?}");
            assert!(p.not_understood.is_empty(), "{text:?}: {p:?}");
        }
        // A withdrawal is not a signature separator.
        let p = parse_commands("-need a.example\n-- \n");
        assert_eq!(p.commands, vec![(1, c("-need", "a.example"))]);
    }

    #[test]
    fn lead_shapes() {
        for (w, want) in [
            ("acme.com", Some("acme.com")),
            ("ACME.co.uk.", Some("acme.co.uk")),
            ("<li@PolyMix.de>", Some("li@polymix.de")),
            ("mailto:li@polymix.de", Some("li@polymix.de")),
            ("\"bob@gmail.com\",", Some("bob@gmail.com")),
            ("bücher.de", Some("bücher.de")),
            ("xn--bcher-kva.de", Some("xn--bcher-kva.de")),
            ("acme", None),
            ("10.0.0.1", None),
            ("-acme.com", None),
            ("acme-.com", None),
            ("a..com", None),
            ("@acme.com", None),
            ("a b@c.com", None),
            ("li@", None),
            ("li@acme", None),
            (".li@acme.com", None),
            ("li\"x@acme.com", None),
        ] {
            assert_eq!(lead_shape(w).as_deref(), want, "{w}");
        }
    }

    #[test]
    fn authentication_results_parse() {
        let a = parse_authentication_results(
            "mx.ourco.example 1; dkim=pass (2048-bit key; unprotected) header.d=ourco.example header.i=@ourco.example header.s=sel header.b=\"AbC;d=\"; spf = pass (mx: domain of x designates 1.2.3.4) smtp.mailfrom=jane@ourco.example; dmarc=pass (p=reject dis=none) header.from=ourco.example; auth/1=pass smtp.auth=jane",
        )
        .unwrap();
        assert_eq!(a.authserv_id, "mx.ourco.example");
        let m: Vec<(&str, &str)> = a
            .results
            .iter()
            .map(|r| (r.method.as_str(), r.result.as_str()))
            .collect();
        assert_eq!(
            m,
            [
                ("dkim", "pass"),
                ("spf", "pass"),
                ("dmarc", "pass"),
                ("auth", "pass")
            ]
        );
        assert_eq!(a.results[0].property("header.d"), Some("ourco.example"));
        assert_eq!(a.results[0].property("header.b"), Some("AbC;d="));
        assert_eq!(
            a.results[1].property("smtp.mailfrom"),
            Some("jane@ourco.example")
        );

        let none = parse_authentication_results("\"MX.Example\"; none").unwrap();
        assert_eq!(none.authserv_id, "mx.example");
        assert!(none.results.is_empty());
        // A comment with a nested comment, quoted parens and a semicolon hides nothing outside it.
        let a = parse_authentication_results(
            "mx.example; dkim=fail (bad (nested; \\) really) sig) header.d=x.example; spf=softfail",
        )
        .unwrap();
        assert_eq!(a.results.len(), 2);
        assert_eq!(a.results[0].result, "fail");
        assert_eq!(a.results[0].property("header.d"), Some("x.example"));
        assert_eq!(a.results[1].method, "spf");
        // Unclosed comments or quotes, or no authserv-id: nothing.
        assert_eq!(parse_authentication_results("mx; dkim=pass (oops"), None);
        assert_eq!(parse_authentication_results("mx; dkim=\"pass"), None);
        assert_eq!(parse_authentication_results("; dkim=pass"), None);
        assert_eq!(parse_authentication_results(""), None);
        // Garbage clauses are skipped, good ones kept.
        let a = parse_authentication_results("mx; =pass; dkim; spf=pass; x=(y)").unwrap();
        assert_eq!(a.results.len(), 1);
        assert_eq!(a.results[0].method, "spf");
    }

    #[test]
    fn authentication_checks_only_the_trusted_server_and_alignment() {
        let check = |hs: &[&str]| {
            let hs: Vec<String> = hs.iter().map(|s| s.to_string()).collect();
            check_authentication(&hs, "MX.ourco.example", "ourco.example")
        };
        assert_eq!(check(&[]), Ok(()), "the server did not check it");
        assert_eq!(
            check(&["evil.example; dkim=fail"]),
            Ok(()),
            "other servers' verdicts count for nothing either way"
        );
        assert!(check(&["mx.ourco.example; dkim=fail header.d=ourco.example; spf=fail"]).is_err());
        assert!(check(&["evil.example; dkim=pass", "mx.ourco.example; spf=fail"]).is_err());
        assert_eq!(
            check(&["mx.ourco.example; dkim=pass header.d=mail.ourco.example"]),
            Ok(())
        );
        assert_eq!(
            check(&["mx.ourco.example; spf=pass smtp.mailfrom=bounce@ourco.example"]),
            Ok(())
        );
        assert!(
            check(&["mx.ourco.example; dkim=pass"]).is_err(),
            "a pass that names no domain vouches for no From"
        );
        assert_eq!(
            check(&[
                "mx.ourco.example; dkim=fail",
                "mx.ourco.example; spf=pass smtp.mailfrom=ourco.example"
            ]),
            Ok(()),
            "separate milters each stamp their own header"
        );
        // A valid signature of the attacker's own domain does not vouch for our From.
        let e = check(&["mx.ourco.example; dkim=pass header.d=attacker.example; spf=none"])
            .unwrap_err();
        assert!(e.contains("dkim=pass (attacker.example)"), "{e}");
        assert!(check(&["mx.ourco.example; spf=pass smtp.mailfrom=x@attacker.example"]).is_err());
        assert!(check(&["mx.ourco.example; auth=pass"]).is_err());
        assert!(check(&["mx.ourco.example; dkim=neutral; spf=temperror"]).is_err());
    }

    const TOKEN: &str = "0123456789abcdef0123456789abcdef";

    fn headers<'a>(irt: &'a [String], from: Option<&'a str>, ar: &'a [String]) -> ReplyHeaders<'a> {
        ReplyHeaders {
            in_reply_to: irt,
            references: &[],
            from,
            authentication_results: ar,
            auto_submitted: None,
            x_autoreply: false,
        }
    }

    #[test]
    fn verification() {
        let to = vec![
            "Sales Team <Sales@OurCo.example>".to_string(),
            "jane@ourco.example".to_string(),
        ];
        let sent = [SentDigest {
            id: 7,
            token: TOKEN.into(),
            recipients: to.clone(),
        }];
        let good = vec![format!("digest.{TOKEN}@ourco.example")];
        let ar: Vec<String> = vec![];
        let ok = verify(
            &headers(&good, Some("sales@ourco.example"), &ar),
            &sent,
            None,
        );
        assert_eq!(
            ok,
            Ok(Accepted {
                digest: 7,
                sender: "sales@ourco.example".into()
            })
        );
        // The token in References only (some clients) is as good.
        let refs = good.clone();
        let h = ReplyHeaders {
            references: &refs,
            ..headers(&[], Some("jane@ourco.example"), &ar)
        };
        assert!(verify(&h, &sent, None).is_ok());

        let other = vec!["x@ourco.example".to_string()];
        assert_eq!(
            verify(
                &headers(&other, Some("sales@ourco.example"), &ar),
                &sent,
                None
            ),
            Err(Ignored::NoDigestToken)
        );
        let unknown = vec![format!("digest.{}@ourco.example", "f".repeat(32))];
        assert!(matches!(
            verify(
                &headers(&unknown, Some("sales@ourco.example"), &ar),
                &sent,
                None
            ),
            Err(Ignored::UnknownToken(_))
        ));
        assert_eq!(
            verify(
                &headers(&good, Some("buyer@acme.example"), &ar),
                &sent,
                None
            ),
            Err(Ignored::SenderNotRecipient("buyer@acme.example".into()))
        );
        assert!(matches!(
            verify(&headers(&good, None, &ar), &sent, None),
            Err(Ignored::SenderNotRecipient(_))
        ));
        let failing = vec!["mx.ourco.example; dkim=fail; spf=fail".to_string()];
        assert!(matches!(
            verify(
                &headers(&good, Some("jane@ourco.example"), &failing),
                &sent,
                Some("mx.ourco.example")
            ),
            Err(Ignored::AuthFailed(_))
        ));
        // Without a configured authserv-id the headers are not consulted.
        assert!(
            verify(
                &headers(&good, Some("jane@ourco.example"), &failing),
                &sent,
                None
            )
            .is_ok()
        );
        let h = ReplyHeaders {
            auto_submitted: Some("auto-replied"),
            ..headers(&good, Some("jane@ourco.example"), &ar)
        };
        assert!(matches!(
            verify(&h, &sent, None),
            Err(Ignored::AutoReply(_))
        ));
        let h = ReplyHeaders {
            auto_submitted: Some("no"),
            ..headers(&good, Some("jane@ourco.example"), &ar)
        };
        assert!(verify(&h, &sent, None).is_ok());
    }

    #[test]
    fn owner_commands() {
        let p = parse_commands(
            "owner acme.example ann\nOwner: li@polymix.de Bob@OurCo.example\nowner acme.example\nowner acme.example ann bob\nowner acme.example a@@b\nowner acme.example <ann@ourco.example> <mailto:ann@ourco.example>\n",
        );
        let got: Vec<String> = p.commands.iter().map(|(_, c)| c.to_string()).collect();
        assert_eq!(
            got,
            [
                "owner acme.example ann",
                "owner li@polymix.de bob@ourco.example",
                "owner acme.example ann@ourco.example",
            ]
        );
        assert_eq!(p.not_understood.len(), 3, "{:?}", p.not_understood);
        assert_eq!(p.commands[0].1.lead(), "acme.example");
    }

    #[test]
    fn a_reply_counts_only_from_the_recipient_of_the_digest_it_quotes() {
        let other = "f".repeat(32);
        let sent = [
            SentDigest {
                id: 1,
                token: TOKEN.into(),
                recipients: vec!["Ann <ann@ourco.example>".into()],
            },
            SentDigest {
                id: 2,
                token: other.clone(),
                recipients: vec!["bob@ourco.example".into()],
            },
        ];
        let ar: Vec<String> = vec![];
        let anns = vec![format!("digest.{TOKEN}@ourco.example")];
        let bobs = vec![format!("digest.{other}@ourco.example")];
        assert_eq!(
            verify(&headers(&anns, Some("ann@ourco.example"), &ar), &sent, None),
            Ok(Accepted {
                digest: 1,
                sender: "ann@ourco.example".into()
            })
        );
        // Ann quoting Bob's digest: refused, although she gets a digest too.
        assert_eq!(
            verify(&headers(&bobs, Some("ann@ourco.example"), &ar), &sent, None),
            Err(Ignored::SenderNotRecipient("ann@ourco.example".into()))
        );
        assert!(verify(&headers(&bobs, Some("bob@ourco.example"), &ar), &sent, None).is_ok());
    }

    #[test]
    fn digest_tokens() {
        assert_eq!(
            digest_token(&format!("<digest.{TOKEN}@ourco.example>")),
            Some(TOKEN)
        );
        assert_eq!(digest_token(&format!("digest.{TOKEN}@x")), Some(TOKEN));
        assert_eq!(digest_token("digest.abc@x"), None);
        assert_eq!(digest_token(&format!("digest.{TOKEN}")), None);
        assert_eq!(digest_token(&format!("x.{TOKEN}@x")), None);
    }
}
