//! Spelling-insensitive phrase matching for the catalogue: full-width and compatibility forms
//! folded (NFKC), case folded, traditional Chinese folded to simplified, inflections compared by
//! Snowball stems (European languages, Russian, Arabic), hyphen/space/closed-up variants
//! ("T-shirt", "t shirt", "tshirt") and, in German and Dutch, a catalogue word as the head of a
//! compound ("Köpergewebe" is a kind of "Gewebe").
//!
//! Precision: a stem is compared only in the languages the text can be in (its script, and for
//! Latin script the language its function words show, plus English, which inquiries in every
//! language mix in); words shorter than four letters or with digits only take a plural s.

use std::collections::HashMap;
use std::sync::LazyLock;

use icu_normalizer::ComposingNormalizerBorrowed;
use rust_stemmers::{Algorithm, Stemmer};

/// Traditional → simplified, from patterns/zh_t2s.txt (source and selection named there).
static T2S: LazyLock<HashMap<char, char>> = LazyLock::new(|| {
    include_str!("../../../patterns/zh_t2s.txt")
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let mut c = l.chars();
            Some((c.next()?, c.next()?))
        })
        .collect()
});

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Lang {
    En,
    De,
    Fr,
    Es,
    Pt,
    It,
    Nl,
    Ru,
    Ar,
}

const LATIN: [Lang; 7] = [
    Lang::En,
    Lang::De,
    Lang::Fr,
    Lang::Es,
    Lang::Pt,
    Lang::It,
    Lang::Nl,
];

static STEMMERS: LazyLock<Vec<(Lang, Stemmer)>> = LazyLock::new(|| {
    [
        (Lang::En, Algorithm::English),
        (Lang::De, Algorithm::German),
        (Lang::Fr, Algorithm::French),
        (Lang::Es, Algorithm::Spanish),
        (Lang::Pt, Algorithm::Portuguese),
        (Lang::It, Algorithm::Italian),
        (Lang::Nl, Algorithm::Dutch),
        (Lang::Ru, Algorithm::Russian),
    ]
    .into_iter()
    .map(|(l, a)| (l, Stemmer::create(a)))
    .collect()
});

fn stem(lang: Lang, word: &str) -> String {
    if lang == Lang::Ar {
        return light_arabic(word);
    }
    STEMMERS
        .iter()
        .find(|(l, _)| *l == lang)
        .map(|(_, s)| s.stem(word).into_owned())
        .unwrap_or_else(|| word.to_string())
}

/// Arabic light stemming (Larkey, Ballesteros and Connell's "light10"): the conjunction و, the
/// article and its fused forms (وال، بال، كال، فال، لل), then the common suffixes, each once,
/// keeping two letters at least. Snowball's Arabic stemmer is not used: it leaves "صمامات" as
/// "صماما" but "الصمامات" as "صمام", so a plural with and without the article would not meet.
fn light_arabic(word: &str) -> String {
    let mut w: Vec<char> = word.chars().collect();
    if w.len() > 3 && w[0] == 'و' {
        w.remove(0);
    }
    for p in ["وال", "بال", "كال", "فال", "لل", "ال"] {
        let p: Vec<char> = p.chars().collect();
        if w.len() >= p.len() + 2 && w.starts_with(&p) {
            w.drain(..p.len());
            break;
        }
    }
    for suf in ["ها", "ان", "ات", "ون", "ين", "يه", "ية", "ه", "ة", "ي"] {
        let sf: Vec<char> = suf.chars().collect();
        if w.len() >= sf.len() + 2 && w.ends_with(&sf) {
            w.truncate(w.len() - sf.len());
        }
    }
    w.into_iter().collect()
}

/// Function words that tell the language of a Latin-script text (a few each; only words that
/// would not name goods). Shared words ("de", "la") count for each language that has them.
const FUNCTION_WORDS: &[(Lang, &[&str])] = &[
    (
        Lang::En,
        &[
            "the", "and", "we", "you", "please", "for", "with", "our", "your", "are", "would",
            "need", "this",
        ],
    ),
    (
        Lang::De,
        &[
            "und",
            "der",
            "die",
            "das",
            "wir",
            "sie",
            "bitte",
            "für",
            "mit",
            "ist",
            "eine",
            "ihre",
            "nicht",
            "auch",
            "benötigen",
            "ihnen",
        ],
    ),
    (
        Lang::Fr,
        &[
            "le", "les", "et", "nous", "vous", "pour", "avec", "des", "est", "une", "votre",
            "notre", "merci", "besoin",
        ],
    ),
    (
        Lang::Es,
        &[
            "el",
            "los",
            "las",
            "y",
            "para",
            "con",
            "por",
            "usted",
            "una",
            "que",
            "del",
            "necesitamos",
            "gracias",
            "nuestra",
        ],
    ),
    (
        Lang::Pt,
        &[
            "os",
            "para",
            "com",
            "uma",
            "que",
            "do",
            "da",
            "dos",
            "precisamos",
            "obrigado",
            "não",
            "você",
            "nossa",
            "em",
        ],
    ),
    (
        Lang::It,
        &[
            "il", "gli", "per", "con", "una", "che", "della", "siamo", "grazie", "vostro",
            "nostra", "abbiamo",
        ],
    ),
    (
        Lang::Nl,
        &[
            "het", "een", "en", "wij", "voor", "met", "van", "zijn", "uw", "graag", "niet", "onze",
        ],
    ),
];

/// The Latin-script language whose function words lead clearly (three at least, ahead of
/// the next by two), if any.
fn guess_latin(tokens: &[Token], flat: &str) -> Option<Lang> {
    let mut counts = [0usize; LATIN.len()];
    for t in tokens.iter().filter(|t| t.kind == Kind::Word).take(400) {
        let w = &flat[t.start..t.end];
        for (i, (_, words)) in FUNCTION_WORDS.iter().enumerate() {
            if words.contains(&w) {
                counts[i] += 1;
            }
        }
    }
    let mut order: Vec<usize> = (0..LATIN.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(counts[i]));
    let (best, next) = (counts[order[0]], counts[order[1]]);
    (best >= 3 && best >= next + 2).then(|| FUNCTION_WORDS[order[0]].0)
}

fn is_cjk(c: char) -> bool {
    matches!(c as u32, 0x3040..=0x30ff | 0x3400..=0x4dbf | 0x4e00..=0x9fff | 0xf900..=0xfaff | 0xac00..=0xd7af | 0x20000..=0x2fa1f)
}

/// Marks that belong to the letter before them (Latin combining accents, Arabic vowel signs).
fn is_mark(c: char) -> bool {
    matches!(c as u32, 0x0300..=0x036f | 0x0610..=0x061a | 0x064b..=0x065f | 0x0670 | 0x0640)
}

fn is_word_char(c: char) -> bool {
    (c.is_alphanumeric() && !is_cjk(c)) || is_mark(c)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Script {
    Latin,
    Cyrillic,
    Arabic,
}

fn script(word: &str) -> Script {
    match word.chars().find(|c| c.is_alphabetic()).map(|c| c as u32) {
        Some(0x0400..=0x052f) => Script::Cyrillic,
        Some(0x0600..=0x06ff | 0x0750..=0x077f) => Script::Arabic,
        _ => Script::Latin,
    }
}

/// Folded form of one word or CJK run: NFKC, lower case, Arabic marks and tatweel dropped,
/// ё as е, traditional Chinese as simplified.
pub fn fold(s: &str) -> String {
    let nfkc = ComposingNormalizerBorrowed::new_nfkc().normalize(s);
    nfkc.chars()
        .filter(|c| !matches!(*c as u32, 0x064b..=0x065f | 0x0670 | 0x0640))
        .flat_map(char::to_lowercase)
        .map(|c| match c {
            'ё' => 'е',
            // Arabic: the hamza-carrying alefs and alef wasla as a bare alef.
            'أ' | 'إ' | 'آ' | 'ٱ' => 'ا',
            c => *T2S.get(&c).unwrap_or(&c),
        })
        .collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Word,
    Cjk,
}

/// One word or CJK run of a text: its folded form at `start..end` in the folded text, and where
/// it stands in the original.
#[derive(Debug, Clone)]
struct Token {
    kind: Kind,
    start: usize,
    end: usize,
    orig: (usize, usize),
    /// Only a space or a hyphen (or nothing) separates it from the next token.
    join_next: bool,
    /// Written with a capital and then small letters (a German noun).
    capitalised: bool,
}

/// A text folded token by token.
#[derive(Debug)]
pub struct Folded {
    flat: String,
    tokens: Vec<Token>,
    latin: Option<Lang>,
}

fn joinable(gap: &str) -> bool {
    let g = ComposingNormalizerBorrowed::new_nfkc().normalize(gap);
    matches!(&*g, "" | " " | "-" | "\u{2010}" | "\u{2011}")
}

impl Folded {
    pub fn new(text: &str) -> Folded {
        let mut flat = String::with_capacity(text.len());
        let mut tokens: Vec<Token> = Vec::new();
        let mut chars = text.char_indices().peekable();
        let mut last_end = 0usize;
        while let Some(&(i, c)) = chars.peek() {
            let kind = if is_cjk(c) {
                Kind::Cjk
            } else if is_word_char(c) && !is_mark(c) {
                Kind::Word
            } else {
                chars.next();
                continue;
            };
            let mut end = i;
            while let Some(&(j, d)) = chars.peek() {
                let same = match kind {
                    Kind::Cjk => is_cjk(d),
                    Kind::Word => is_word_char(d),
                };
                if !same {
                    break;
                }
                end = j + d.len_utf8();
                chars.next();
            }
            let orig = &text[i..end];
            if let Some(prev) = tokens.last_mut() {
                prev.join_next = joinable(&text[last_end..i]);
            }
            let folded = fold(orig);
            let mut first = orig.chars().filter(|c| c.is_alphabetic());
            let capitalised = first.next().is_some_and(char::is_uppercase)
                && first.clone().next().is_some()
                && first.all(|c| !c.is_uppercase());
            let start = flat.len();
            flat.push_str(&folded);
            flat.push(' ');
            tokens.push(Token {
                kind,
                start,
                end: start + folded.len(),
                orig: (i, end),
                join_next: false,
                capitalised,
            });
            last_end = end;
        }
        let mut f = Folded {
            flat,
            tokens,
            latin: None,
        };
        f.latin = guess_latin(&f.tokens, &f.flat);
        f
    }

    fn word(&self, i: usize) -> &str {
        let t = &self.tokens[i];
        &self.flat[t.start..t.end]
    }

    fn langs(&self, s: Script) -> Vec<Lang> {
        match s {
            Script::Cyrillic => vec![Lang::Ru],
            Script::Arabic => vec![Lang::Ar],
            Script::Latin => match self.latin {
                None => LATIN.to_vec(),
                Some(Lang::En) => vec![Lang::En],
                Some(l) => vec![l, Lang::En],
            },
        }
    }

    /// German or Dutch text, or (language not known) a capitalised noun.
    fn compounds(&self, i: usize) -> bool {
        match self.latin {
            Some(Lang::De | Lang::Nl) => true,
            None => self.tokens[i].capitalised,
            Some(_) => false,
        }
    }
}

/// A word of a phrase with its stems in every language of its script.
#[derive(Debug, Clone)]
struct Word {
    norm: String,
    script: Script,
    stems: Vec<(Lang, String)>,
}

fn stemmable(w: &str) -> bool {
    w.chars().count() >= 4 && w.chars().all(char::is_alphabetic)
}

impl Word {
    fn new(norm: String) -> Word {
        let script = script(&norm);
        let stems = if stemmable(&norm) {
            let langs: &[Lang] = match script {
                Script::Latin => &LATIN,
                Script::Cyrillic => &[Lang::Ru],
                Script::Arabic => &[Lang::Ar],
            };
            langs.iter().map(|&l| (l, stem(l, &norm))).collect()
        } else {
            Vec::new()
        };
        Word {
            norm,
            script,
            stems,
        }
    }

    /// `w` (folded) is this word, inflected or not, in one of `langs`.
    fn eq(&self, w: &str, langs: &[Lang]) -> bool {
        if w == self.norm {
            return true;
        }
        if self.stems.is_empty() || !stemmable(w) {
            // Short words and codes: a plural s only ("LEDs", "T8s").
            return self.script == Script::Latin
                && (w.strip_suffix('s') == Some(&self.norm)
                    || w.strip_suffix("es") == Some(&self.norm));
        }
        let prefix = |s: &str| s.chars().take(3).collect::<String>();
        // Arabic inflects at the front too; elsewhere an inflection keeps the beginning.
        if self.script != Script::Arabic && prefix(w) != prefix(&self.norm) {
            return false;
        }
        self.stems
            .iter()
            .any(|(l, s)| langs.contains(l) && s.chars().count() >= 3 && stem(*l, w) == *s)
    }

    /// `w` is this word closed up differently, with a plural s at most: no stemming, since a
    /// closed-up phrase is no word of any language ("panel LED" → "panelled" would stem to
    /// "panel").
    fn closed_up_eq(&self, w: &str) -> bool {
        w == self.norm
            || (self.script == Script::Latin
                && (w.strip_suffix('s') == Some(&self.norm)
                    || w.strip_suffix("es") == Some(&self.norm)))
    }

    /// `w` is a compound whose head is this word ("köpergewebe" → "gewebe"): at least three
    /// letters of modifier in front.
    fn head_of(&self, w: &str, langs: &[Lang]) -> bool {
        let n = self.norm.chars().count();
        if n < 5 || w.chars().count() < n + 3 || !stemmable(w) {
            return false;
        }
        if w.ends_with(&self.norm) {
            return true;
        }
        [Lang::De, Lang::Nl]
            .iter()
            .filter(|l| langs.contains(l))
            .any(|&l| {
                let s = stem(l, &self.norm);
                s.chars().count() >= 4 && stem(l, w).ends_with(&s)
            })
    }
}

#[derive(Debug, Clone)]
struct Phrase {
    words: Vec<Word>,
    /// The words closed up ("tshirt" for "T-shirt").
    joined: Word,
    /// Folded form of a phrase that ends in CJK, matched as a substring.
    cjk: Option<String>,
}

/// Phrases folded once, looked up by the first two letters of their closed-up form.
#[derive(Debug, Clone, Default)]
pub struct Matcher {
    phrases: Vec<Phrase>,
    by_key: HashMap<String, Vec<usize>>,
    /// One-word phrases that may be the head of a compound.
    heads: Vec<usize>,
    cjk: Vec<usize>,
}

fn key(s: &str) -> String {
    s.chars().take(2).collect()
}

impl Matcher {
    /// `compounds`: whether a one-word phrase also matches as the head of a compound.
    pub fn new(phrases: &[String], compounds: bool) -> Matcher {
        let mut m = Matcher::default();
        for p in phrases {
            let f = Folded::new(p.trim());
            if f.tokens.is_empty() {
                continue;
            }
            let idx = m.phrases.len();
            let all_words = f.tokens.iter().all(|t| t.kind == Kind::Word);
            let words: Vec<Word> = (0..f.tokens.len())
                .map(|i| Word::new(f.word(i).to_string()))
                .collect();
            let joined = Word::new(words.iter().map(|w| w.norm.as_str()).collect());
            if all_words {
                let mut keys = vec![key(&joined.norm)];
                if joined.script == Script::Arabic {
                    // Arabic words take prefixes (the article, conjunctions): keyed by stem too.
                    keys.push(key(&stem(Lang::Ar, &words[0].norm)));
                    keys.push(key(&stem(Lang::Ar, &joined.norm)));
                }
                keys.sort();
                keys.dedup();
                for k in keys {
                    m.by_key.entry(k).or_default().push(idx);
                }
                if compounds && words.len() == 1 {
                    m.heads.push(idx);
                }
            } else {
                // CJK in it ("LED灯", "离心泵"): substring matching on the folded text.
                m.cjk.push(idx);
            }
            m.phrases.push(Phrase {
                cjk: (!all_words).then(|| cjk_flat(&f)),
                words,
                joined,
            });
        }
        m
    }

    pub fn is_empty(&self) -> bool {
        self.phrases.is_empty()
    }

    /// The earliest phrase in the text: original byte span.
    pub fn find(&self, f: &Folded) -> Option<(usize, usize)> {
        if self.phrases.is_empty() {
            return None;
        }
        let words = self.find_words(f);
        let cjk = self.find_cjk(f);
        match (words, cjk) {
            (Some(a), Some(b)) => Some(if b.0 < a.0 { b } else { a }),
            (a, b) => a.or(b),
        }
    }

    fn find_words(&self, f: &Folded) -> Option<(usize, usize)> {
        let n = f.tokens.len();
        for i in 0..n {
            if f.tokens[i].kind != Kind::Word {
                continue;
            }
            // The closed-up window starting here, up to three tokens.
            let mut windows: Vec<(usize, String)> = Vec::new();
            let mut joined = String::new();
            for j in i..(i + 3).min(n) {
                if f.tokens[j].kind != Kind::Word || (j > i && !f.tokens[j - 1].join_next) {
                    break;
                }
                joined.push_str(f.word(j));
                windows.push((j, joined.clone()));
            }
            let mut best: Option<usize> = None;
            let mut keys: Vec<String> = windows.iter().map(|(_, w)| key(w)).collect();
            if script(f.word(i)) == Script::Arabic {
                keys.push(key(&stem(Lang::Ar, f.word(i))));
            }
            keys.sort();
            keys.dedup();
            for k in &keys {
                for &pi in self.by_key.get(k).into_iter().flatten() {
                    let p = &self.phrases[pi];
                    let langs = f.langs(p.joined.script);
                    let end = self.sequence(f, i, p, &langs).or_else(|| {
                        windows
                            .iter()
                            .filter(|(j, _)| j + 1 - i != p.words.len())
                            .filter(|_| p.joined.norm.chars().count() >= 3)
                            .find(|(_, w)| p.joined.closed_up_eq(w))
                            .map(|(j, _)| *j)
                    });
                    if let Some(e) = end {
                        best = Some(best.map_or(e, |b: usize| b.max(e)));
                    }
                }
            }
            if best.is_none() && f.compounds(i) {
                let w = f.word(i);
                let langs = f.langs(script(w));
                if self
                    .heads
                    .iter()
                    .any(|&pi| self.phrases[pi].words[0].head_of(w, &langs))
                {
                    best = Some(i);
                }
            }
            if let Some(e) = best {
                return Some((f.tokens[i].orig.0, f.tokens[e].orig.1));
            }
        }
        None
    }

    /// The phrase word by word from token `i`: the last token matched.
    fn sequence(&self, f: &Folded, i: usize, p: &Phrase, langs: &[Lang]) -> Option<usize> {
        let k = p.words.len();
        if i + k > f.tokens.len() {
            return None;
        }
        for (j, w) in p.words.iter().enumerate() {
            let t = i + j;
            if f.tokens[t].kind != Kind::Word || (j > 0 && !f.tokens[t - 1].join_next) {
                return None;
            }
            if !w.eq(f.word(t), langs) {
                return None;
            }
        }
        Some(i + k - 1)
    }

    fn find_cjk(&self, f: &Folded) -> Option<(usize, usize)> {
        if self.cjk.is_empty() {
            return None;
        }
        let (flat, map) = cjk_flat_mapped(f);
        let mut best: Option<(usize, usize)> = None;
        for &pi in &self.cjk {
            let Some(needle) = self.phrases[pi].cjk.as_deref() else {
                continue;
            };
            let starts_word = needle.chars().next().is_some_and(|c| !is_cjk(c));
            let mut from = 0;
            while let Some(pos) = flat[from..].find(needle).map(|p| p + from) {
                let before = flat[..pos].chars().next_back();
                let ok = !starts_word || before.is_none_or(|c| !c.is_alphanumeric() || is_cjk(c));
                if ok {
                    let s = orig_at(&map, pos, false);
                    let e = orig_at(&map, pos + needle.len(), true);
                    if best.is_none_or(|b| s < b.0) {
                        best = Some((s, e));
                    }
                    break;
                }
                from = pos + needle.chars().next().map_or(1, char::len_utf8);
            }
        }
        best
    }
}

/// The folded text for substring search: CJK runs next to each other or to a word closed up,
/// words kept apart by a space, anything else a line break.
fn cjk_flat(f: &Folded) -> String {
    cjk_flat_mapped(f).0
}

/// Also maps each byte offset of the folded text (at char starts) to the original:
/// (folded offset, original start, original end) per char.
fn cjk_flat_mapped(f: &Folded) -> (String, Vec<(usize, usize, usize)>) {
    let mut s = String::new();
    let mut map = Vec::new();
    for (i, t) in f.tokens.iter().enumerate() {
        if i > 0 {
            let prev = &f.tokens[i - 1];
            let sep = if !prev.join_next {
                "\n"
            } else if prev.kind == Kind::Cjk || t.kind == Kind::Cjk {
                ""
            } else {
                " "
            };
            if !sep.is_empty() {
                map.push((s.len(), prev.orig.1, t.orig.0));
                s.push_str(sep);
            }
        }
        let folded = &f.flat[t.start..t.end];
        let orig_chars: Vec<(usize, usize)> = {
            let o = t.orig.0;
            let text_len = t.orig.1 - t.orig.0;
            // Char offsets of the original token are not at hand here; spread evenly when the
            // counts agree (CJK folding is one char for one), else the whole token.
            let n = folded.chars().count();
            if n > 0 && text_len % n == 0 && folded.chars().all(is_cjk) {
                let w = text_len / n;
                (0..n).map(|k| (o + k * w, o + (k + 1) * w)).collect()
            } else {
                vec![(t.orig.0, t.orig.1); n]
            }
        };
        for (k, (off, _)) in folded.char_indices().enumerate() {
            let (a, b) = orig_chars.get(k).copied().unwrap_or(t.orig);
            map.push((s.len() + off, a, b));
        }
        s.push_str(folded);
    }
    (s, map)
}

fn orig_at(map: &[(usize, usize, usize)], pos: usize, end: bool) -> usize {
    if end {
        // The end of the char before `pos`.
        let i = map.partition_point(|m| m.0 < pos);
        map.get(i.saturating_sub(1)).map_or(0, |m| m.2)
    } else {
        let i = map.partition_point(|m| m.0 < pos);
        map.get(i).map_or(0, |m| m.1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn find<'a>(phrases: &[&str], text: &'a str) -> Option<&'a str> {
        let m = Matcher::new(
            &phrases.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
            true,
        );
        m.find(&Folded::new(text)).map(|(s, e)| &text[s..e])
    }

    #[test]
    fn case_and_full_width_forms_fold() {
        assert_eq!(
            find(&["LED panel"], "two ＬＥＤ ＰＡＮＥＬ units"),
            Some("ＬＥＤ ＰＡＮＥＬ")
        );
        assert_eq!(find(&["gear pump"], "Gear Pump wanted"), Some("Gear Pump"));
        assert_eq!(fold("ＡＢＣ１２３"), "abc123");
    }

    #[test]
    fn plurals_and_inflections_by_stem() {
        assert_eq!(
            find(&["ball valve"], "quote 40 ball valves"),
            Some("ball valves")
        );
        assert_eq!(
            find(&["válvula"], "necesitamos 12 válvulas de bola"),
            Some("válvulas")
        );
        assert_eq!(find(&["Ventil"], "wir brauchen Ventile"), Some("Ventile"));
        // Russian adjective and noun both inflect.
        assert_eq!(
            find(&["шаровой кран"], "нужны шаровые краны DN50"),
            Some("шаровые краны")
        );
        assert_eq!(
            find(&["шаровой кран"], "цена шаровых кранов"),
            Some("шаровых кранов")
        );
        // Not a different word that shares a beginning.
        assert_eq!(find(&["valve"], "we value your time"), None);
        assert_eq!(find(&["LED"], "the ledger is attached"), None);
        assert_eq!(find(&["LED"], "LEDs for the hall"), Some("LEDs"));
    }

    #[test]
    fn arabic_article_and_affixes_are_light_stemmed() {
        // "valve" with the article, and with "and the" in front.
        assert_eq!(find(&["صمام"], "نحتاج الصمام الكبير"), Some("الصمام"));
        assert_eq!(find(&["صمام"], "والصمامات للمصنع"), Some("والصمامات"));
        assert_eq!(find(&["مضخة"], "نريد مضخات مياه"), Some("مضخات"));
        assert_eq!(find(&["إضاءة"], "عرض سعر للإضاءة الخارجية"), Some("للإضاءة"));
        assert_eq!(light_arabic("بالكشافات"), "كشاف");
        // Not a different word.
        assert_eq!(find(&["صمام"], "نحتاج صمغ"), None);
    }

    #[test]
    fn hyphen_space_and_closed_up_variants() {
        for text in ["500 T-shirts", "500 t shirts", "500 tshirts", "500 TSHIRT"] {
            assert!(find(&["t-shirt"], text).is_some(), "{text}");
            assert!(find(&["tshirt"], text).is_some(), "{text}");
        }
        assert_eq!(
            find(&["gear pump"], "gear-pumps, 2 sets"),
            Some("gear-pumps")
        );
        // A closed-up phrase is not stemmed: "panel LED" is not "panel".
        assert_eq!(find(&["panel LED"], "mono solar panel 550W"), None);
        // Not across punctuation.
        assert_eq!(find(&["gear pump"], "gear, pump"), None);
    }

    #[test]
    fn german_compound_heads() {
        assert_eq!(
            find(
                &["Gewebe"],
                "Wir benötigen 5000 m Köpergewebe für die Fertigung"
            ),
            Some("Köpergewebe")
        );
        assert_eq!(
            find(&["Ventil"], "Angebot für Kugelventile bitte"),
            Some("Kugelventile")
        );
        // English text: a longer word ending in the phrase is not a compound of it.
        assert_eq!(
            find(
                &["light"],
                "please send the highlights of your offer for the project"
            ),
            None
        );
        // Too short a modifier.
        assert_eq!(find(&["Gewebe"], "Das Abgewebe"), None);
    }

    #[test]
    fn traditional_and_simplified_chinese_are_one() {
        assert_eq!(find(&["离心泵"], "需要離心泵十台"), Some("離心泵"));
        assert_eq!(find(&["離心泵"], "需要离心泵十台"), Some("离心泵"));
        assert_eq!(find(&["LED灯"], "采购ＬＥＤ燈 500个"), Some("ＬＥＤ燈"));
        // A Latin start needs a boundary.
        assert_eq!(find(&["LED灯"], "XLED灯"), None);
    }

    #[test]
    fn language_guess_needs_clear_function_words() {
        assert_eq!(
            Folded::new("wir brauchen bitte die und der Ware").latin,
            Some(Lang::De)
        );
        assert_eq!(
            Folded::new("please send us the price and the catalogue for our shop").latin,
            Some(Lang::En)
        );
        assert_eq!(Folded::new("gear pump 20 sets").latin, None);
    }
}
