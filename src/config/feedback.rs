//! `[feedback]`: the IMAP keywords salespeople use to correct leadsift, the class keywords it
//! writes, who may answer the digest, and how learning from corrections is bounded.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;

pub use crate::feedback::settings::{FeedbackSettings, Learning};
use crate::vocab::feedback::Label;
use crate::vocab::{Class, Dimension};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFeedback {
    pub read_keywords: Option<bool>,
    pub write_keywords: Option<bool>,
    /// Label → IMAP keyword, e.g. `hot = "lead-hot"`, `budget = "lead-budget"`.
    #[serde(default)]
    pub keywords: BTreeMap<String, String>,
    /// Class → the keyword leadsift writes, e.g. `hot = "$LeadHot"`.
    #[serde(default)]
    pub class_keywords: BTreeMap<String, String>,
    pub flags_window: Option<u32>,
    pub authserv_id: Option<String>,
    pub learning: Option<String>,
    pub min_leads_per_class: Option<u32>,
    pub weight_floor: Option<f64>,
    pub weight_cap: Option<f64>,
    /// Label → training folder, e.g. `hot = "Leads/Hot"`: a message there is tagged so.
    #[serde(default)]
    pub folders: BTreeMap<String, String>,
}

/// The default vocabulary: `lead-hot`, `lead-nurture`, `lead-drop`, `lead-need`, `lead-budget`,
/// `lead-authority`, `lead-timeline`, `lead-scam`, `lead-not-scam`.
pub const DEFAULT_KEYWORDS: [(&str, &str); 9] = [
    ("hot", "lead-hot"),
    ("nurture", "lead-nurture"),
    ("drop", "lead-drop"),
    ("need", "lead-need"),
    ("budget", "lead-budget"),
    ("authority", "lead-authority"),
    ("timeline", "lead-timeline"),
    ("scam", "lead-scam"),
    ("not_scam", "lead-not-scam"),
];

const DEFAULT_CLASS_KEYWORDS: [(Class, &str); 3] = [
    (Class::Hot, "$LeadHot"),
    (Class::Nurture, "$LeadNurture"),
    (Class::Drop, "$LeadDrop"),
];

/// The defaults are what an empty `[feedback]` section validates to.
impl Default for FeedbackSettings {
    fn default() -> Self {
        // The defaults are valid by construction; validate() of an empty section builds them.
        RawFeedback::default()
            .validate()
            .unwrap_or_else(|_| FeedbackSettings {
                read_keywords: false,
                write_keywords: false,
                vocabulary: Vec::new(),
                class_keywords: BTreeMap::new(),
                flags_window: 2000,
                authserv_id: None,
                learning: Learning::Manual,
                min_leads_per_class: 20,
                weight_floor: 0.5,
                weight_cap: 2.0,
                folders: Vec::new(),
            })
    }
}

/// An IMAP keyword is an atom: no spaces, controls or `(){%*"\]`, and not a system flag.
fn check_keyword(what: &str, kw: &str) -> Result<(), String> {
    if kw.starts_with('\\') {
        return Err(format!(
            "{what} = {kw:?} is a system flag; leadsift only reads and writes keywords"
        ));
    }
    let bad = kw.is_empty()
        || kw.len() > 100
        || kw
            .chars()
            .any(|c| !c.is_ascii_graphic() || "(){%*\"\\]".contains(c));
    if bad {
        return Err(format!(
            "{what} = {kw:?} is not a valid IMAP keyword (letters, digits and -_$.; no spaces, no `(){{%*\"\\]`)"
        ));
    }
    Ok(())
}

/// The label a `[feedback.keywords]` key names.
fn label_of_key(key: &str) -> Option<Label> {
    match key {
        "hot" => Some(Label::Class(Class::Hot)),
        "nurture" => Some(Label::Class(Class::Nurture)),
        "drop" => Some(Label::Class(Class::Drop)),
        "scam" => Some(Label::Scam),
        "not_scam" => Some(Label::NotScam),
        _ => Dimension::parse(key)
            .filter(|d| crate::vocab::feedback::CONFIRMABLE.contains(d))
            .map(Label::Confirm),
    }
}

impl RawFeedback {
    pub fn validate(&self) -> Result<FeedbackSettings, String> {
        let mut keywords: BTreeMap<String, String> = DEFAULT_KEYWORDS
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        for (k, v) in &self.keywords {
            if label_of_key(k).is_none() {
                return Err(format!(
                    "keywords.{k}: unknown label; use hot, nurture, drop, need, budget, authority, timeline, engagement, fit, scam or not_scam"
                ));
            }
            keywords.insert(k.clone(), v.clone());
        }
        let mut seen = BTreeSet::new();
        let mut vocabulary = Vec::new();
        for (k, v) in &keywords {
            check_keyword(&format!("keywords.{k}"), v)?;
            if !seen.insert(v.to_ascii_lowercase()) {
                return Err(format!("keywords.{k} = {v:?} is used twice"));
            }
            if let Some(label) = label_of_key(k) {
                vocabulary.push((v.to_ascii_lowercase(), label));
            }
        }
        let mut class_keywords: BTreeMap<Class, String> = DEFAULT_CLASS_KEYWORDS
            .iter()
            .map(|(c, k)| (*c, k.to_string()))
            .collect();
        for (k, v) in &self.class_keywords {
            let Some(c) = Class::parse(k) else {
                return Err(format!(
                    "class_keywords.{k}: not a class; use hot, nurture or drop"
                ));
            };
            class_keywords.insert(c, v.clone());
        }
        for (c, v) in &class_keywords {
            check_keyword(&format!("class_keywords.{}", c.as_str()), v)?;
            if !seen.insert(v.to_ascii_lowercase()) {
                return Err(format!(
                    "class_keywords.{} = {v:?} is used twice (each keyword has one meaning)",
                    c.as_str()
                ));
            }
        }
        let learning = match self.learning.as_deref() {
            None | Some("manual") => Learning::Manual,
            Some("auto") => Learning::Auto,
            Some(other) => {
                return Err(format!(
                    "learning = {other:?} is not one of \"manual\", \"auto\""
                ));
            }
        };
        let weight_floor = self.weight_floor.unwrap_or(0.5);
        let weight_cap = self.weight_cap.unwrap_or(2.0);
        if !(0.0..=1.0).contains(&weight_floor) || !(1.0..=10.0).contains(&weight_cap) {
            return Err(format!(
                "weights must satisfy 0 <= weight_floor ({weight_floor}) <= 1 <= weight_cap ({weight_cap}) <= 10"
            ));
        }
        let min_leads_per_class = self.min_leads_per_class.unwrap_or(20);
        if min_leads_per_class == 0 {
            return Err("min_leads_per_class must be at least 1".into());
        }
        let authserv_id = match self.authserv_id.as_deref().map(str::trim) {
            None => None,
            Some("") => return Err("authserv_id must not be empty (leave it out instead)".into()),
            Some(a) => Some(a.to_ascii_lowercase()),
        };
        let mut folders: Vec<(String, Label)> = Vec::new();
        for (k, f) in &self.folders {
            let Some(label) = label_of_key(k) else {
                return Err(format!(
                    "folders.{k}: unknown label; use hot, nurture, drop, scam, not_scam or a dimension to confirm (need, budget, …)"
                ));
            };
            if f.trim().is_empty() {
                return Err(format!("folders.{k} must name a folder"));
            }
            if folders.iter().any(|(g, _)| g == f) {
                return Err(format!(
                    "folders.{k} = {f:?} is used twice (each training folder has one meaning)"
                ));
            }
            folders.push((f.clone(), label));
        }
        Ok(FeedbackSettings {
            folders,
            read_keywords: self.read_keywords.unwrap_or(true),
            write_keywords: self.write_keywords.unwrap_or(true),
            vocabulary,
            class_keywords,
            flags_window: self.flags_window.unwrap_or(2000).max(1),
            authserv_id,
            learning,
            min_leads_per_class,
            weight_floor,
            weight_cap,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_overrides() {
        let f = RawFeedback::default().validate().unwrap();
        assert_eq!(
            f.label_for_keyword("Lead-Hot"),
            Some(Label::Class(Class::Hot))
        );
        assert_eq!(
            f.label_for_keyword("lead-budget"),
            Some(Label::Confirm(Dimension::Budget))
        );
        assert_eq!(f.label_for_keyword("lead-not-scam"), Some(Label::NotScam));
        assert_eq!(f.class_keyword(Class::Nurture), "$LeadNurture");
        assert!(f.is_class_keyword("$leaddrop"));
        assert!(f.read_keywords && f.write_keywords);

        let raw: RawFeedback =
            toml::from_str("keywords = { hot = \"Chase\" }\nclass_keywords = { hot = \"$Hot\" }")
                .unwrap();
        let f = raw.validate().unwrap();
        assert_eq!(f.label_for_keyword("chase"), Some(Label::Class(Class::Hot)));
        assert_eq!(f.label_for_keyword("lead-hot"), None);
        assert_eq!(f.class_keyword(Class::Hot), "$Hot");
    }

    #[test]
    fn mistakes_are_named() {
        let bad = |t: &str| {
            toml::from_str::<RawFeedback>(t)
                .map_err(|e| e.to_string())
                .and_then(|r| r.validate())
                .unwrap_err()
        };
        assert!(bad("keywords = { warm = \"x\" }").contains("keywords.warm"));
        assert!(bad("keywords = { hot = \"lead hot\" }").contains("not a valid IMAP keyword"));
        assert!(bad("keywords = { hot = \"lead-drop\" }").contains("used twice"));
        assert!(bad("class_keywords = { hot = \"\\\\Seen\" }").contains("system flag"));
        assert!(bad("learning = \"sometimes\"").contains("learning"));
        assert!(bad("weight_floor = 2.0").contains("weight_floor"));
        assert!(bad("colour = 1").contains("unknown field"));
        assert!(bad("folders = { warm = \"Leads/Warm\" }").contains("folders.warm"));
        assert!(bad("folders = { hot = \"Leads/X\", drop = \"Leads/X\" }").contains("used twice"));
        let f: RawFeedback =
            toml::from_str("[folders]\nhot = \"Leads/Hot\"\nscam = \"Leads/Scam\"").unwrap();
        let f = f.validate().unwrap();
        assert_eq!(f.folder_label("Leads/Hot"), Some(Label::Class(Class::Hot)));
        assert_eq!(f.folder_label("Leads/Scam"), Some(Label::Scam));
        assert_eq!(f.folder_label("INBOX"), None);
    }
}
