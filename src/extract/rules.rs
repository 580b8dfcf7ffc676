//! Rules as data: the TOML pattern files under `patterns/`, their loading, compilation and
//! self-check. Built-in files are embedded so the binary works without them installed; a user
//! directory adds files whose rules override built-in ones by id.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::OnceLock;

use regex::{Regex, RegexSet};
use serde::Deserialize;

use super::PatternError;
use super::signal::Dimension;

/// The built-in pattern files, in load order (later files may use earlier tables).
pub const BUILTIN: &[(&str, &str)] = &[
    ("common.toml", include_str!("../../patterns/common.toml")),
    ("en.toml", include_str!("../../patterns/en.toml")),
    ("zh.toml", include_str!("../../patterns/zh.toml")),
    ("es.toml", include_str!("../../patterns/es.toml")),
    ("pt.toml", include_str!("../../patterns/pt.toml")),
    ("fr.toml", include_str!("../../patterns/fr.toml")),
    ("de.toml", include_str!("../../patterns/de.toml")),
    ("ru.toml", include_str!("../../patterns/ru.toml")),
    ("ar.toml", include_str!("../../patterns/ar.toml")),
    ("tr.toml", include_str!("../../patterns/tr.toml")),
    ("vi.toml", include_str!("../../patterns/vi.toml")),
    ("id.toml", include_str!("../../patterns/id.toml")),
    ("it.toml", include_str!("../../patterns/it.toml")),
    ("pl.toml", include_str!("../../patterns/pl.toml")),
];

/// Upper bound on compiled regex size: a user rule must not eat the daemon's memory.
const REGEX_SIZE_LIMIT: usize = 8 << 20;
/// Lazy-DFA cache per regex; the prefilter sets get more so they rarely thrash.
const DFA_CACHE: usize = 4 << 20;
/// Rules per prefilter set.
const SET_CHUNK: usize = 12;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileDoc {
    #[serde(default)]
    #[allow(dead_code)]
    lang: Option<String>,
    #[serde(default)]
    vars: BTreeMap<String, String>,
    #[serde(default)]
    units: BTreeMap<String, Vec<String>>,
    /// Tokens read as a multiple of a canonical unit (`km` = 1000 `m`).
    #[serde(default)]
    unit_scale: BTreeMap<String, UnitScaleDoc>,
    #[serde(default)]
    currencies: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    multipliers: BTreeMap<String, f64>,
    /// Currency → USD per unit, fixed (see common.toml for the date they were taken).
    #[serde(default)]
    usd_rates: BTreeMap<String, f64>,
    #[serde(default)]
    months: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    date_words: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    numerals: BTreeMap<String, f64>,
    /// Words joining numerals ("twenty and three", "veinte y tres", "zweiundzwanzig").
    #[serde(default)]
    numeral_joiners: Vec<String>,
    /// 1 = Monday .. 7 = Sunday.
    #[serde(default)]
    weekdays: BTreeMap<String, Vec<String>>,
    /// Currency → sub-unit word → its value in the main unit ("cents" = 0.01).
    #[serde(default)]
    subunits: BTreeMap<String, BTreeMap<String, f64>>,
    #[serde(default)]
    freemail: Vec<String>,
    #[serde(default)]
    quote: Vec<QuoteDoc>,
    #[serde(default)]
    signoff: Vec<String>,
    /// Requested items (see `extract::items`): words that end a product's head ("in", "made
    /// of"), connectives between a count and its goods ("of", "de"), filler words that name no
    /// product ("please", "total"), and subject cues of an inquiry ("RFQ", "询价").
    #[serde(default)]
    item_breaks: Vec<String>,
    #[serde(default)]
    item_connectives: Vec<String>,
    #[serde(default)]
    item_noise: Vec<String>,
    #[serde(default)]
    item_cues: Vec<String>,
    /// Phrases that ask for goods without a count ("please quote", "price for", "we want to
    /// buy"): the words after them name an item.
    #[serde(default)]
    item_requests: Vec<String>,
    /// Articles and determiners that open a product's name ("a", "the", "un", "der").
    #[serde(default)]
    item_articles: Vec<String>,
    #[serde(default)]
    rule: Vec<RuleDoc>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct UnitScaleDoc {
    unit: String,
    factor: f64,
    words: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct QuoteDoc {
    id: String,
    regex: String,
    /// Must match one of the next few lines too (Outlook header blocks).
    #[serde(default)]
    next: Option<String>,
    #[serde(default, rename = "match")]
    must_match: Vec<String>,
    #[serde(default)]
    no_match: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleDoc {
    id: String,
    #[serde(default)]
    dimension: Option<String>,
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    flag: Option<String>,
    #[serde(default)]
    weight: f64,
    regex: String,
    #[serde(default)]
    value: Option<String>,
    #[serde(default)]
    scope: Option<String>,
    /// Fixed unit or currency for value rules whose regex has no such group.
    #[serde(default)]
    unit: Option<String>,
    #[serde(default)]
    currency: Option<String>,
    #[serde(default)]
    per_unit: bool,
    /// Kinds this rule cancels where it matches (overlap) or in the same clause.
    #[serde(default)]
    veto: Vec<String>,
    #[serde(default)]
    veto_scope: Option<String>,
    #[serde(default)]
    description: String,
    #[serde(default, rename = "match")]
    must_match: Vec<String>,
    #[serde(default)]
    no_match: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    /// The writer's new words, signature excluded.
    Body,
    Signature,
    Subject,
    /// Attachment file names, one per line.
    Attachments,
    /// Body and signature.
    All,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    Quantity,
    Money,
    Date,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VetoScope {
    Overlap,
    Clause,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlagKind {
    AutoReply,
    Bounce,
    Bulk,
}

#[derive(Debug)]
pub struct Rule {
    pub id: String,
    pub file: String,
    pub dimension: Option<Dimension>,
    pub kind: String,
    pub flag: Option<FlagKind>,
    pub weight: f64,
    /// The expanded regex. Its own compiled form is built on first use ([`Rule::regex`]): the
    /// prefilter sets find the candidates, and most rules fire on few messages, so building all
    /// of them at start would cost memory and start-up time for nothing. Syntax and capture
    /// groups are checked at load time.
    pattern: String,
    compiled: OnceLock<Result<Regex, String>>,
    pub value: Option<ValueKind>,
    pub scope: Scope,
    pub unit: Option<String>,
    pub currency: Option<String>,
    pub per_unit: bool,
    pub veto: Vec<String>,
    pub veto_scope: VetoScope,
    pub description: String,
    must_match: Vec<String>,
    no_match: Vec<String>,
}

#[derive(Debug)]
pub struct QuoteRule {
    pub id: String,
    pub file: String,
    pub regex: Regex,
    pub next: Option<Regex>,
    must_match: Vec<String>,
    no_match: Vec<String>,
}

/// Word lists shared by the value parsers, merged over all files.
#[derive(Debug, Default)]
pub struct Lexicon {
    /// lower-cased token → normalised unit.
    pub units: HashMap<String, String>,
    /// lower-cased token → (canonical unit, factor): `km` → (`m`, 1000).
    pub unit_scale: HashMap<String, (String, f64)>,
    /// lower-cased token → ISO code.
    pub currencies: HashMap<String, String>,
    pub multipliers: HashMap<String, f64>,
    pub usd_rates: HashMap<String, f64>,
    /// (token, month); a token ending in `*` is a prefix.
    pub months: Vec<(String, u32)>,
    /// class → tokens (`*` suffix = prefix).
    pub date_words: HashMap<String, Vec<String>>,
    pub numerals: HashMap<String, f64>,
    pub numeral_joiners: Vec<String>,
    /// (token, weekday 1 = Monday); a token ending in `*` is a prefix.
    pub weekdays: Vec<(String, u32)>,
    /// lower-cased sub-unit word → (ISO code, value in the main unit).
    pub subunits: HashMap<String, (String, f64)>,
    /// Lower-cased consumer mail domains: looked up for every address scoring groups.
    pub freemail: std::collections::HashSet<String>,
    pub signoffs: Vec<String>,
    pub item_breaks: Vec<String>,
    /// Longest first, so "of the" is stripped before "of".
    pub item_connectives: Vec<String>,
    pub item_noise: std::collections::HashSet<String>,
    /// Longest first.
    pub item_cues: Vec<String>,
    /// Longest first.
    pub item_requests: Vec<String>,
    pub item_articles: std::collections::HashSet<String>,
}

#[derive(Debug)]
pub struct RuleSet {
    pub rules: Vec<Rule>,
    pub quotes: Vec<QuoteRule>,
    pub lexicon: Lexicon,
    /// Per scope: the indices into `rules` and a RegexSet over them, for the prefilter. The
    /// `All` set also holds the `Body` rules.
    pub sets: Vec<(Scope, Vec<usize>, RegexSet)>,
    /// The same for rules that set a message flag.
    pub flag_sets: Vec<(Scope, Vec<usize>, RegexSet)>,
    /// One set over every quote-start regex, checked per line.
    pub quote_set: RegexSet,
}

fn invalid(file: &str, id: &str, msg: impl std::fmt::Display) -> PatternError {
    PatternError::Invalid(format!("{file}: rule {id:?}: {msg}"))
}

/// Replaces `{name}` with the var's text, repeatedly so vars may use vars. Counted repetitions
/// like `{2,4}` are left alone because their content is not a known var name.
fn expand(s: &str, vars: &BTreeMap<String, String>) -> Result<String, String> {
    let mut out = s.to_string();
    for _ in 0..8 {
        let mut changed = false;
        let mut next = String::with_capacity(out.len());
        let mut rest = out.as_str();
        while let Some(open) = rest.find('{') {
            next.push_str(&rest[..open]);
            let after = &rest[open + 1..];
            match after.find('}') {
                Some(close) if vars.contains_key(&after[..close]) => {
                    next.push_str("(?:");
                    next.push_str(&vars[&after[..close]]);
                    next.push(')');
                    rest = &after[close + 1..];
                    changed = true;
                }
                _ => {
                    next.push('{');
                    rest = after;
                }
            }
        }
        next.push_str(rest);
        out = next;
        if !changed {
            return Ok(out);
        }
    }
    Err("vars nest too deeply (a var refers to itself?)".into())
}

/// `\b` becomes an ASCII word boundary: Unicode boundaries make the lazy DFA give up on
/// non-ASCII text (a big slowdown for the RegexSet prefilter), and rules for scripts without
/// ASCII letters do not use `\b` anyway.
fn ascii_boundaries(re: &str) -> String {
    let mut out = String::with_capacity(re.len());
    let mut chars = re.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('b') => out.push_str(r"(?-u:\b)"),
                Some(n) => {
                    out.push(c);
                    out.push(n);
                }
                None => out.push(c),
            }
        } else {
            out.push(c);
        }
    }
    out
}

impl Rule {
    /// The rule's regex, compiled on first use (thread-safe). Err only for a regex that parses
    /// but exceeds the size limit; `check-config` and `patterns check` compile every rule.
    pub fn regex(&self) -> Result<&Regex, &str> {
        self.compiled
            .get_or_init(|| {
                compile(&self.pattern).map_err(|e| {
                    let msg = format!("{}: rule {:?}: bad regex: {e}", self.file, self.id);
                    tracing::error!("{msg}; the rule is skipped");
                    msg
                })
            })
            .as_ref()
            .map_err(String::as_str)
    }
}

/// Checks a regex's syntax (as `compile` would build it) and returns its capture group names,
/// without building the automata.
fn parse_pattern(re: &str) -> Result<Vec<String>, String> {
    use regex_syntax::hir::{Hir, HirKind};
    fn names(h: &Hir, out: &mut Vec<String>) {
        match h.kind() {
            HirKind::Capture(c) => {
                if let Some(n) = &c.name {
                    out.push(n.to_string());
                }
                names(&c.sub, out);
            }
            HirKind::Concat(v) | HirKind::Alternation(v) => v.iter().for_each(|x| names(x, out)),
            HirKind::Repetition(r) => names(&r.sub, out),
            _ => {}
        }
    }
    let hir = regex_syntax::ParserBuilder::new()
        .build()
        .parse(&ascii_boundaries(re))
        .map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    names(&hir, &mut out);
    Ok(out)
}

fn compile(re: &str) -> Result<Regex, regex::Error> {
    regex::RegexBuilder::new(&ascii_boundaries(re))
        .size_limit(REGEX_SIZE_LIMIT)
        .dfa_size_limit(DFA_CACHE)
        .build()
}

struct Source {
    name: String,
    text: String,
}

/// Loads the built-in files, then `*.toml` in `user_dir` (sorted by name). `extra_vars` are
/// visible to every rule (the catalogue, built from the config).
pub fn load(
    user_dir: Option<&Path>,
    extra_vars: &BTreeMap<String, String>,
) -> Result<RuleSet, PatternError> {
    let mut sources: Vec<Source> = BUILTIN
        .iter()
        .map(|(n, t)| Source {
            name: format!("patterns/{n} (built in)"),
            text: (*t).to_string(),
        })
        .collect();
    if let Some(dir) = user_dir {
        let entries = std::fs::read_dir(dir)
            .map_err(|e| PatternError::Invalid(format!("patterns_dir {}: {e}", dir.display())))?;
        let mut paths: Vec<_> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            // The digest's next questions (digest::questions) live beside the rules.
            .filter(|p| p.file_name().is_none_or(|n| n != "questions.toml"))
            .collect();
        paths.sort();
        for p in paths {
            let text = std::fs::read_to_string(&p)
                .map_err(|e| PatternError::Invalid(format!("{}: cannot read: {e}", p.display())))?;
            sources.push(Source {
                name: p.display().to_string(),
                text,
            });
        }
    }
    build(&sources, extra_vars)
}

fn build(
    sources: &[Source],
    extra_vars: &BTreeMap<String, String>,
) -> Result<RuleSet, PatternError> {
    let mut docs = Vec::new();
    for s in sources {
        let doc: FileDoc = toml::from_str(&s.text)
            .map_err(|e| PatternError::Invalid(format!("{}: {}", s.name, e.to_string().trim())))?;
        docs.push((s.name.clone(), doc));
    }
    // Global vars: every file's vars are visible to every file, so a language file can use the
    // common units; a file's own vars win over same-named ones from elsewhere.
    let mut global = extra_vars.clone();
    for (_, d) in &docs {
        for (k, v) in &d.vars {
            global.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }

    let mut lex = Lexicon::default();
    for (file, d) in &docs {
        for (unit, toks) in &d.units {
            for t in toks {
                lex.units.insert(t.to_lowercase(), unit.clone());
            }
        }
        for (name, sc) in &d.unit_scale {
            if !(sc.factor.is_finite() && sc.factor > 0.0) {
                return Err(PatternError::Invalid(format!(
                    "{file}: [unit_scale] {name}: factor must be a positive number"
                )));
            }
            for t in &sc.words {
                lex.unit_scale
                    .insert(t.to_lowercase(), (sc.unit.clone(), sc.factor));
            }
        }
        for (code, toks) in &d.currencies {
            lex.currencies
                .insert(code.to_lowercase(), code.to_uppercase());
            for t in toks {
                lex.currencies.insert(t.to_lowercase(), code.to_uppercase());
            }
        }
        for (k, v) in &d.multipliers {
            lex.multipliers.insert(k.to_lowercase(), *v);
        }
        for (k, v) in &d.usd_rates {
            lex.usd_rates.insert(k.to_uppercase(), *v);
        }
        for (m, toks) in &d.months {
            let n: u32 = m
                .parse()
                .ok()
                .filter(|n| (1..=12).contains(n))
                .ok_or_else(|| {
                    PatternError::Invalid(format!("{file}: [months] key {m:?} is not 1..12"))
                })?;
            for t in toks {
                lex.months.push((t.to_lowercase(), n));
            }
        }
        for (k, toks) in &d.date_words {
            lex.date_words
                .entry(k.clone())
                .or_default()
                .extend(toks.iter().map(|t| t.to_lowercase()));
        }
        for (k, v) in &d.numerals {
            lex.numerals.insert(k.to_lowercase(), *v);
        }
        lex.numeral_joiners
            .extend(d.numeral_joiners.iter().map(|s| s.to_lowercase()));
        for (w, toks) in &d.weekdays {
            let n: u32 = w
                .parse()
                .ok()
                .filter(|n| (1..=7).contains(n))
                .ok_or_else(|| {
                    PatternError::Invalid(format!("{file}: [weekdays] key {w:?} is not 1..7"))
                })?;
            for t in toks {
                lex.weekdays.push((t.to_lowercase(), n));
            }
        }
        for (code, subs) in &d.subunits {
            for (t, v) in subs {
                lex.subunits
                    .insert(t.to_lowercase(), (code.to_uppercase(), *v));
            }
        }
        lex.freemail
            .extend(d.freemail.iter().map(|s| s.to_lowercase()));
        lex.signoffs
            .extend(d.signoff.iter().map(|s| s.to_lowercase()));
        let lower = |v: &[String]| v.iter().map(|s| s.to_lowercase()).collect::<Vec<_>>();
        lex.item_breaks.extend(lower(&d.item_breaks));
        lex.item_connectives.extend(lower(&d.item_connectives));
        lex.item_noise.extend(lower(&d.item_noise));
        lex.item_cues.extend(lower(&d.item_cues));
        lex.item_requests.extend(lower(&d.item_requests));
        lex.item_articles.extend(lower(&d.item_articles));
    }
    // Vars built from the word tables, so a language adds a word in one place and the rules
    // match it: {numword}, {cur_word}, {cur_code}, {subunit}, {weekday}. A file's own var of the
    // same name wins.
    for (name, re) in table_vars(&lex) {
        global.entry(name.into()).or_insert(re);
    }

    let mut by_id: HashMap<String, usize> = HashMap::new();
    let mut rules: Vec<Rule> = Vec::new();
    let mut quotes: Vec<QuoteRule> = Vec::new();
    for (file, d) in docs {
        let mut vars = global.clone();
        vars.extend(d.vars.clone());

        for q in d.quote {
            let re = expand(&q.regex, &vars).map_err(|e| invalid(&file, &q.id, e))?;
            let regex =
                compile(&re).map_err(|e| invalid(&file, &q.id, format!("bad regex: {e}")))?;
            let next = match &q.next {
                Some(n) => {
                    let n = expand(n, &vars).map_err(|e| invalid(&file, &q.id, e))?;
                    Some(
                        compile(&n)
                            .map_err(|e| invalid(&file, &q.id, format!("bad `next` regex: {e}")))?,
                    )
                }
                None => None,
            };
            quotes.retain(|x| x.id != q.id);
            quotes.push(QuoteRule {
                id: q.id,
                file: file.clone(),
                regex,
                next,
                must_match: q.must_match,
                no_match: q.no_match,
            });
        }

        for r in d.rule {
            let rule = compile_rule(&file, r, &vars)?;
            match by_id.get(&rule.id) {
                Some(&i) => rules[i] = rule,
                None => {
                    by_id.insert(rule.id.clone(), rules.len());
                    rules.push(rule);
                }
            }
        }
    }

    // Body and All rules share one set over body+signature (the body is scanned once; body-only
    // matches in the signature are dropped by the caller). Flag rules get their own small sets.
    let group = |want: &dyn Fn(&Rule) -> bool| -> Result<(Vec<usize>, RegexSet), PatternError> {
        let idx: Vec<usize> = (0..rules.len()).filter(|&i| want(&rules[i])).collect();
        let set =
            regex::RegexSetBuilder::new(idx.iter().map(|&i| ascii_boundaries(&rules[i].pattern)))
                .size_limit(REGEX_SIZE_LIMIT * 8)
                .dfa_size_limit(DFA_CACHE * 16)
                .build()
                .map_err(|e| {
                    // Name the rule that does not fit (rules are otherwise built on first use).
                    idx.iter()
                        .find_map(|&i| {
                            let r = &rules[i];
                            compile(&r.pattern)
                                .err()
                                .map(|e| invalid(&r.file, &r.id, format!("bad regex: {e}")))
                        })
                        .unwrap_or_else(|| PatternError::Invalid(format!("rule set: {e}")))
                })?;
        Ok((idx, set))
    };
    let mut sets = Vec::new();
    let mut flag_sets = Vec::new();
    for scope in [
        Scope::All,
        Scope::Signature,
        Scope::Subject,
        Scope::Attachments,
    ] {
        let in_scope =
            |r: &Rule| r.scope == scope || (scope == Scope::All && r.scope == Scope::Body);
        // Small sets: the lazy DFA of one huge overlapping set keeps rebuilding states (bounded
        // repetitions in many rules multiply), several small ones stay warm.
        let all: Vec<usize> = (0..rules.len())
            .filter(|&i| rules[i].flag.is_none() && in_scope(&rules[i]))
            .collect();
        for chunk in all.chunks(SET_CHUNK) {
            let (idx, set) = group(&|r: &Rule| chunk.iter().any(|&i| std::ptr::eq(&rules[i], r)))?;
            sets.push((scope, idx, set));
        }
        let (idx, set) = group(&|r: &Rule| r.flag.is_some() && in_scope(r))?;
        if !idx.is_empty() {
            flag_sets.push((scope, idx, set));
        }
    }
    for v in [
        &mut lex.item_connectives,
        &mut lex.item_cues,
        &mut lex.item_requests,
    ] {
        v.sort_by_key(|w| std::cmp::Reverse(w.len()));
        v.dedup();
    }
    let quote_set = regex::RegexSetBuilder::new(quotes.iter().map(|q| q.regex.as_str()))
        .size_limit(REGEX_SIZE_LIMIT * 4)
        .build()
        .map_err(|e| PatternError::Invalid(format!("quote rules: {e}")))?;
    Ok(RuleSet {
        rules,
        quotes,
        lexicon: lex,
        sets,
        flag_sets,
        quote_set,
    })
}

/// Regex alternations over table words, longest first so the longest word wins.
fn table_vars(lex: &Lexicon) -> Vec<(&'static str, String)> {
    fn alt<'a>(words: impl Iterator<Item = &'a str>) -> String {
        let mut v: Vec<&str> = words
            .map(|w| w.trim_end_matches('*'))
            .filter(|w| !w.is_empty())
            .collect();
        v.sort_by(|a, b| b.len().cmp(&a.len()).then(a.cmp(b)));
        v.dedup();
        if v.is_empty() {
            // Matches nothing, so a rule using an empty table stays valid.
            return r"[^\s\S]".into();
        }
        v.iter()
            .map(|w| regex::escape(w))
            .collect::<Vec<_>>()
            .join("|")
    }
    // One-letter numerals ("a") are articles more often than numbers.
    let numword = alt(lex
        .numerals
        .keys()
        .map(String::as_str)
        .filter(|k| k.chars().count() >= 2));
    let codes: std::collections::BTreeSet<&str> = lex
        .currencies
        .values()
        .map(String::as_str)
        .chain(lex.usd_rates.keys().map(String::as_str))
        .collect();
    let cur_code = format!("(?-i:{})", alt(codes.into_iter()));
    // Lower-case codes stay out ("10 pen drives" is not 10 PEN); {cur_code} matches codes.
    let cur_word = alt(lex
        .currencies
        .iter()
        .filter(|(k, c)| k.to_uppercase() != **c)
        .map(|(k, _)| k.as_str())
        .filter(|k| k.chars().count() >= 2 || !k.chars().all(char::is_alphanumeric)));
    let subunit = alt(lex.subunits.keys().map(String::as_str));
    let numjoin = alt(lex.numeral_joiners.iter().map(String::as_str));
    let weekday = alt(lex.weekdays.iter().map(|(t, _)| t.as_str()));
    vec![
        ("numword", numword),
        ("cur_code", cur_code),
        ("cur_word", cur_word),
        ("subunit", subunit),
        ("numjoin", numjoin),
        ("weekday", weekday),
    ]
}

fn compile_rule(
    file: &str,
    r: RuleDoc,
    vars: &BTreeMap<String, String>,
) -> Result<Rule, PatternError> {
    let id = r.id.clone();
    if id.trim().is_empty() {
        return Err(PatternError::Invalid(format!(
            "{file}: a rule has an empty id"
        )));
    }
    let flag = match r.flag.as_deref() {
        None => None,
        Some("auto_reply") => Some(FlagKind::AutoReply),
        Some("bounce") => Some(FlagKind::Bounce),
        Some("bulk") => Some(FlagKind::Bulk),
        Some(f) => {
            return Err(invalid(
                file,
                &id,
                format!("unknown flag {f:?} (auto_reply, bounce, bulk)"),
            ));
        }
    };
    let dimension = match r.dimension.as_deref() {
        Some(d) => Some(Dimension::parse(d).ok_or_else(|| {
            invalid(file, &id, format!("unknown dimension {d:?} (need, budget, authority, timeline, engagement, fit, risk)"))
        })?),
        None if flag.is_none() && r.veto.is_empty() => {
            return Err(invalid(file, &id, "needs a `dimension` (or a `flag`, or a `veto`)"));
        }
        None => None,
    };
    let value = match r.value.as_deref() {
        None => None,
        Some("quantity") => Some(ValueKind::Quantity),
        Some("money") => Some(ValueKind::Money),
        Some("date") => Some(ValueKind::Date),
        Some(v) => {
            return Err(invalid(
                file,
                &id,
                format!("unknown value parser {v:?} (quantity, money, date)"),
            ));
        }
    };
    let kind = match (&r.kind, value) {
        (Some(k), _) => k.clone(),
        (None, Some(ValueKind::Quantity)) => "quantity".into(),
        (None, Some(ValueKind::Money)) => "money".into(),
        (None, Some(ValueKind::Date)) => "deadline".into(),
        (None, None) => id.rsplit('.').next().unwrap_or(&id).to_string(),
    };
    let scope = match r.scope.as_deref().unwrap_or("body") {
        "body" => Scope::Body,
        "signature" => Scope::Signature,
        "subject" => Scope::Subject,
        "attachments" => Scope::Attachments,
        "all" => Scope::All,
        s => {
            return Err(invalid(
                file,
                &id,
                format!("unknown scope {s:?} (body, signature, subject, attachments, all)"),
            ));
        }
    };
    let veto_scope = match r.veto_scope.as_deref().unwrap_or("overlap") {
        "overlap" => VetoScope::Overlap,
        "clause" => VetoScope::Clause,
        s => {
            return Err(invalid(
                file,
                &id,
                format!("unknown veto_scope {s:?} (overlap, clause)"),
            ));
        }
    };
    let re = expand(&r.regex, vars).map_err(|e| invalid(file, &id, e))?;
    let names = parse_pattern(&re).map_err(|e| invalid(file, &id, format!("bad regex: {e}")))?;
    let need = |g: &str| -> Result<(), PatternError> {
        if names.iter().any(|n| n == g) {
            Ok(())
        } else {
            Err(invalid(
                file,
                &id,
                format!("value parser needs a named group (?P<{g}>...)"),
            ))
        }
    };
    match value {
        Some(ValueKind::Quantity) => {
            need("n")?;
            if r.unit.is_none() {
                need("unit")?;
            }
        }
        Some(ValueKind::Money) => {
            need("n")?;
            // A sub-unit word names its currency ("10 cents").
            if r.currency.is_none() && !names.iter().any(|n| n == "sub") {
                need("cur")?;
            }
        }
        Some(ValueKind::Date) => need("date")?,
        None => {}
    }
    if r.must_match.is_empty() {
        return Err(invalid(file, &id, "needs at least one `match` example"));
    }
    Ok(Rule {
        id,
        file: file.to_string(),
        dimension,
        kind,
        flag,
        weight: r.weight,
        pattern: re,
        compiled: OnceLock::new(),
        value,
        scope,
        unit: r.unit,
        currency: r.currency,
        per_unit: r.per_unit,
        veto: r.veto,
        veto_scope,
        description: r.description,
        must_match: r.must_match,
        no_match: r.no_match,
    })
}

/// One failed example: which file, rule and text.
#[derive(Debug)]
pub struct CheckFailure {
    pub file: String,
    pub rule: String,
    pub example: String,
    pub problem: String,
}

/// Runs every rule's examples. Value rules must also yield a value for each `match` example.
pub fn check(
    set: &RuleSet,
    parse_ok: &dyn Fn(&Rule, &regex::Captures<'_>) -> bool,
) -> (usize, Vec<CheckFailure>) {
    let mut n = 0;
    let mut fails = Vec::new();
    for r in &set.rules {
        let regex = match r.regex() {
            Ok(re) => re,
            Err(e) => {
                n += 1;
                fails.push(CheckFailure {
                    file: r.file.clone(),
                    rule: r.id.clone(),
                    example: String::new(),
                    problem: e.to_string(),
                });
                continue;
            }
        };
        for ex in &r.must_match {
            n += 1;
            match regex.captures(ex) {
                None => fails.push(CheckFailure {
                    file: r.file.clone(),
                    rule: r.id.clone(),
                    example: ex.clone(),
                    problem: "should match but does not".into(),
                }),
                Some(c) if r.value.is_some() && !parse_ok(r, &c) => fails.push(CheckFailure {
                    file: r.file.clone(),
                    rule: r.id.clone(),
                    example: ex.clone(),
                    problem: "matches but its value does not parse".into(),
                }),
                Some(_) => {}
            }
        }
        for ex in &r.no_match {
            n += 1;
            if let Some(m) = regex.find(ex) {
                fails.push(CheckFailure {
                    file: r.file.clone(),
                    rule: r.id.clone(),
                    example: ex.clone(),
                    problem: format!("should not match but matches {:?}", m.as_str()),
                });
            }
        }
    }
    for q in &set.quotes {
        for ex in &q.must_match {
            n += 1;
            if !q.regex.is_match(ex) {
                fails.push(CheckFailure {
                    file: q.file.clone(),
                    rule: q.id.clone(),
                    example: ex.clone(),
                    problem: "should match but does not".into(),
                });
            }
        }
        for ex in &q.no_match {
            n += 1;
            if q.regex.is_match(ex) {
                fails.push(CheckFailure {
                    file: q.file.clone(),
                    rule: q.id.clone(),
                    example: ex.clone(),
                    problem: "should not match but matches".into(),
                });
            }
        }
    }
    (n, fails)
}
