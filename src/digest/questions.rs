//! The next question to ask a lead: the one for its weakest qualifying dimension not yet answered
//! (need = how many, budget, authority, timeline), in the buyer's language. The questions are
//! data (`patterns/questions.toml`, optionally overridden per language by the same file in
//! `patterns_dir`); choosing one is pure.
//!
//! The buyer's language: the script of their own words (subject and quoted evidence) when it is
//! Han, Arabic or Cyrillic; else the language of the rules that fired on their mail (rule ids start
//! with the pattern file's language, `es.need.quantity`); else common words; else English.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::extract::Dimension;
use crate::feedback::Label;
use crate::score::LeadReport;

const BUILTIN: &str = include_str!("../../patterns/questions.toml");

/// The dimensions a question can qualify, in the order ties are broken.
pub const QUALIFYING: [Dimension; 4] = [
    Dimension::Need,
    Dimension::Budget,
    Dimension::Authority,
    Dimension::Timeline,
];

/// A dimension at or above this on the scorecard (1–5) counts as answered.
const ANSWERED: u8 = 4;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct LanguageDoc {
    name: String,
    script: Option<String>,
    #[serde(default)]
    words: Vec<String>,
    need: String,
    budget: String,
    authority: String,
    timeline: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Script {
    Han,
    Arabic,
    Cyrillic,
}

#[derive(Debug, Clone)]
struct Language {
    script: Option<Script>,
    words: BTreeSet<String>,
    questions: [String; 4],
}

/// Every language's questions.
#[derive(Debug, Clone)]
pub struct Questions {
    languages: BTreeMap<String, Language>,
}

/// The question to ask, and in which language.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Question {
    pub dimension: &'static str,
    pub lang: String,
    pub text: String,
}

fn parse(text: &str, name: &str) -> Result<BTreeMap<String, Language>, String> {
    let docs: BTreeMap<String, LanguageDoc> =
        toml::from_str(text).map_err(|e| format!("{name}: {}", e.message().trim()))?;
    let mut out = BTreeMap::new();
    for (code, d) in docs {
        let script = match d.script.as_deref() {
            None => None,
            Some("han") => Some(Script::Han),
            Some("arabic") => Some(Script::Arabic),
            Some("cyrillic") => Some(Script::Cyrillic),
            Some(other) => {
                return Err(format!(
                    "{name}: [{code}] script = {other:?} is not \"han\", \"arabic\" or \"cyrillic\""
                ));
            }
        };
        let questions = [d.need, d.budget, d.authority, d.timeline];
        if let Some(i) = questions.iter().position(|q| q.trim().is_empty()) {
            return Err(format!(
                "{name}: [{code}] ({}) {} is empty",
                d.name,
                QUALIFYING[i].as_str()
            ));
        }
        out.insert(
            code.to_lowercase(),
            Language {
                script,
                words: d.words.iter().map(|w| w.to_lowercase()).collect(),
                questions,
            },
        );
    }
    Ok(out)
}

impl Questions {
    /// The built-in questions (parsed once).
    pub fn builtin() -> Result<&'static Questions, String> {
        static BUILT: OnceLock<Result<Questions, String>> = OnceLock::new();
        BUILT
            .get_or_init(|| {
                parse(BUILTIN, "patterns/questions.toml (built in)")
                    .map(|languages| Questions { languages })
            })
            .as_ref()
            .map_err(Clone::clone)
    }

    /// The built-in questions with `dir/questions.toml`'s languages replacing or adding to them.
    pub fn load(dir: Option<&Path>) -> Result<Questions, String> {
        let mut q = Questions::builtin()?.clone();
        if let Some(path) = dir.map(|d| d.join("questions.toml")).filter(|p| p.exists()) {
            let text = std::fs::read_to_string(&path)
                .map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
            q.languages
                .extend(parse(&text, &path.display().to_string())?);
        }
        Ok(q)
    }

    pub fn languages(&self) -> impl Iterator<Item = &str> {
        self.languages.keys().map(String::as_str)
    }

    /// The question for `dimension` in `lang` (English when that language has none).
    pub fn text(&self, lang: &str, dimension: Dimension) -> Option<&str> {
        let i = QUALIFYING.iter().position(|d| *d == dimension)?;
        self.languages
            .get(lang)
            .or_else(|| self.languages.get("en"))
            .map(|l| l.questions[i].as_str())
    }

    /// The buyer's language, as a code with questions here.
    pub fn language_of(&self, r: &LeadReport) -> String {
        let mut texts: Vec<&str> = Vec::new();
        if let Some(s) = &r.subject {
            texts.push(s);
        }
        for c in r.contributions.iter().filter(|c| c.message_id.is_some()) {
            texts.push(&c.evidence);
        }
        // The script of the buyer's words.
        let (mut han, mut arabic, mut cyrillic, mut latin) = (0usize, 0usize, 0usize, 0usize);
        for c in texts.iter().flat_map(|t| t.chars()) {
            match c as u32 {
                0x3400..=0x4dbf | 0x4e00..=0x9fff | 0xf900..=0xfaff => han += 1,
                0x0600..=0x06ff | 0x0750..=0x077f | 0xfb50..=0xfdff | 0xfe70..=0xfeff => {
                    arabic += 1
                }
                0x0400..=0x04ff => cyrillic += 1,
                _ if c.is_alphabetic() => latin += 1,
                _ => {}
            }
        }
        // Han characters carry a word each; letters of the other scripts are letters.
        let scripts = [
            (Script::Han, han * 3),
            (Script::Arabic, arabic),
            (Script::Cyrillic, cyrillic),
        ];
        if let Some((script, n)) = scripts.iter().max_by_key(|(_, n)| *n)
            && *n > latin
            && let Some(code) = self
                .languages
                .iter()
                .find(|(_, l)| l.script == Some(*script))
                .map(|(c, _)| c)
        {
            return code.clone();
        }
        // The languages of the rules that fired on the buyer's mail.
        let mut votes: BTreeMap<&str, usize> = BTreeMap::new();
        for c in r.contributions.iter().filter(|c| c.message_id.is_some()) {
            if let Some((prefix, _)) = c.rule.split_once('.')
                && let Some((code, _)) = self.languages.get_key_value(prefix)
            {
                *votes.entry(code.as_str()).or_default() += 1;
            }
        }
        if let Some((code, _)) = votes.iter().max_by_key(|(c, n)| (**n, **c == "en")) {
            return code.to_string();
        }
        // Common words.
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for w in texts
            .iter()
            .flat_map(|t| t.split(|c: char| !c.is_alphanumeric()))
            .filter(|w| !w.is_empty())
        {
            let w = w.to_lowercase();
            for (code, l) in &self.languages {
                if l.words.contains(&w) {
                    *counts.entry(code.as_str()).or_default() += 1;
                }
            }
        }
        counts
            .into_iter()
            .filter(|(_, n)| *n >= 2)
            .max_by_key(|(c, n)| (*n, *c == "en"))
            .map(|(c, _)| c.to_string())
            .unwrap_or_else(|| "en".into())
    }

    /// The question for the lead's weakest qualifying dimension nobody has answered yet: below
    /// [`ANSWERED`] on the scorecard and not confirmed by a person. None when all are answered.
    pub fn next_question(&self, r: &LeadReport) -> Option<Question> {
        let mut confirmed = BTreeSet::new();
        for c in &r.corrections {
            match c.label {
                Label::Confirm(d) => {
                    confirmed.insert(d);
                }
                Label::Unconfirm(d) => {
                    confirmed.remove(&d);
                }
                _ => {}
            }
        }
        let (_, dimension) = QUALIFYING
            .iter()
            .enumerate()
            .filter(|(_, d)| !confirmed.contains(*d))
            .map(|(i, d)| ((r.scorecard.get(*d), i), *d))
            .filter(|((v, _), _)| *v < ANSWERED)
            .min_by_key(|(k, _)| *k)?;
        let lang = self.language_of(r);
        let text = self.text(&lang, dimension)?.to_string();
        Some(Question {
            dimension: dimension.as_str(),
            lang,
            text,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::score::{Class, Contribution, Facts, Scorecard};

    /// The languages the product supports: each must have a question for every dimension.
    const SUPPORTED: [&str; 13] = [
        "en", "zh", "es", "pt", "fr", "de", "ru", "ar", "tr", "vi", "id", "it", "pl",
    ];

    #[test]
    fn every_supported_language_has_a_question_for_every_dimension() {
        let q = Questions::builtin().unwrap();
        for lang in SUPPORTED {
            let l = q
                .languages
                .get(lang)
                .unwrap_or_else(|| panic!("no questions for {lang}"));
            for (i, d) in QUALIFYING.iter().enumerate() {
                let text = &l.questions[i];
                assert!(!text.trim().is_empty(), "{lang}: {}", d.as_str());
                assert!(
                    text.ends_with('?') || text.ends_with('？') || text.ends_with('؟'),
                    "{lang} {}: a question ends with a question mark: {text}",
                    d.as_str()
                );
            }
            // Four different questions, not one copied.
            let distinct: BTreeSet<&String> = l.questions.iter().collect();
            assert_eq!(distinct.len(), 4, "{lang}");
            if l.script.is_none() {
                assert!(
                    !l.words.is_empty(),
                    "{lang}: Latin script needs common words"
                );
            }
        }
        assert_eq!(q.languages().count(), SUPPORTED.len());
    }

    #[test]
    fn a_bad_file_is_named() {
        let e = parse("[xx]\nname = \"X\"\nneed = \"?\"\n", "mine.toml").unwrap_err();
        assert!(e.contains("mine.toml") && e.contains("budget"), "{e}");
        let e = parse(
            "[xx]\nname = \"X\"\nscript = \"runic\"\nneed = \"a?\"\nbudget = \"b?\"\nauthority = \"c?\"\ntimeline = \"d?\"\n",
            "mine.toml",
        )
        .unwrap_err();
        assert!(e.contains("runic"), "{e}");
    }

    fn report(subject: &str, rules: &[(&str, &str)], card: [u8; 4]) -> LeadReport {
        LeadReport {
            lead: "x.example".into(),
            class: Class::Hot,
            score: 70,
            scorecard: Scorecard {
                need: card[0],
                budget: card[1],
                authority: card[2],
                timeline: card[3],
                engagement: 3,
                fit: 3,
                risk: 1,
            },
            contacts: vec![],
            messages: 1,
            last_inbound: None,
            waiting_on_us: true,
            waiting_since: None,
            subject: Some(subject.into()),
            facts: Facts::default(),
            reasons: vec![],
            steps: vec![],
            decay: 1.0,
            contributions: rules
                .iter()
                .map(|(rule, ev)| Contribution {
                    dimension: Dimension::Need,
                    points: 1.0,
                    raw: 1.0,
                    decay: 1.0,
                    rule: (*rule).into(),
                    kind: "k".into(),
                    evidence: (*ev).into(),
                    message_id: Some("m@x".into()),
                    date: None,
                    subject: None,
                    learned_factor: None,
                })
                .collect(),
            auto_class: None,
            manual: None,
            corrections: vec![],
            learned: None,
        }
    }

    #[test]
    fn the_buyers_language() {
        let q = Questions::builtin().unwrap();
        let lang = |s: &str, rules: &[(&str, &str)]| q.language_of(&report(s, rules, [3; 4]));
        assert_eq!(lang("询价：LED工矿灯 500套", &[]), "zh");
        assert_eq!(lang("طلب عرض سعر", &[]), "ar");
        assert_eq!(lang("Запрос цены на светильники", &[]), "ru");
        assert_eq!(lang("RFQ", &[("es.need.quantity", "500 unidades")]), "es");
        assert_eq!(lang("Anfrage", &[("de.need.quantity", "500 Stück")]), "de");
        assert_eq!(
            lang("Richiesta di offerta per 500 pezzi, grazie", &[]),
            "it"
        );
        assert_eq!(lang("Zapytanie: cena za 500 sztuk, proszę", &[]), "pl");
        assert_eq!(lang("Teklif: 500 adet için fiyat lütfen", &[]), "tr");
        assert_eq!(lang("Hello", &[]), "en");
        assert_eq!(lang("", &[("common.fit.x", "")]), "en");
        // English rules on a Chinese subject: the script wins, the buyer reads Chinese.
        assert_eq!(lang("询价 工矿灯", &[("en.need.quantity", "500")]), "zh");
    }

    #[test]
    fn the_weakest_unanswered_dimension() {
        let q = Questions::builtin().unwrap();
        // need 5, budget 2, authority 3, timeline 2: budget (ties go need, budget, authority, timeline).
        let r = report("Hello, please send price", &[], [5, 2, 3, 2]);
        let n = q.next_question(&r).unwrap();
        assert_eq!(n.dimension, "budget");
        assert_eq!(n.lang, "en");
        assert_eq!(n.text, "What is your target price per unit?");
        // Budget confirmed by a person: timeline next.
        let mut r = r;
        r.corrections.push(crate::feedback::Correction {
            id: 1,
            lead: r.lead.clone(),
            label: Label::Confirm(Dimension::Budget),
            source: crate::feedback::Source::Cli,
            message_id: None,
            person: "ann".into(),
            at: chrono::Utc::now(),
            note: None,
        });
        assert_eq!(q.next_question(&r).unwrap().dimension, "timeline");
        // Everything answered: no question.
        assert_eq!(q.next_question(&report("x", &[], [4, 5, 4, 4])), None);
        // In the buyer's language.
        let zh = q
            .next_question(&report("询价 工矿灯", &[], [2, 4, 4, 4]))
            .unwrap();
        assert_eq!((zh.dimension, zh.lang.as_str()), ("need", "zh"));
        assert!(zh.text.contains("数量"));
    }
}
