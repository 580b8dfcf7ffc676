//! Corrections from the salespeople: what they can say about a lead (a [`Label`]), where it came
//! from (a [`Source`]), and what is in force once every correction is applied in order
//! ([`LeadFeedback`]). Pure: storing and reading corrections is in `store::feedback`, learning from them in
//! `feedback::learn`.
//!
//! A correction holds until a person changes it: the latest class label is the manual class until
//! an `auto` or a `scam` mark clears it; a confirmed dimension stays confirmed until withdrawn (`-budget`); `scam` and
//! `not-scam` replace each other and `clear-risk` removes both.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Class, Dimension, Weights, set_weight, weight_of};

/// The dimensions a person can confirm (risk has its own labels).
pub const CONFIRMABLE: [Dimension; 6] = [
    Dimension::Need,
    Dimension::Budget,
    Dimension::Authority,
    Dimension::Timeline,
    Dimension::Engagement,
    Dimension::Fit,
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Label {
    /// Set the class by hand.
    Class(Class),
    /// Back to the automatic class.
    Auto,
    /// The person confirms this dimension (the buyer's budget is real, …).
    Confirm(Dimension),
    /// Withdraws an earlier confirmation.
    Unconfirm(Dimension),
    /// The lead is a scam: drop it whatever it says.
    Scam,
    /// The risk signals fired wrongly: ignore them for this lead.
    NotScam,
    /// Neither: back to what the risk signals say.
    ClearRisk,
}

impl Label {
    /// Case-insensitive: `hot`, `nurture`, `drop`, `auto`, `+budget`, `-budget` (any confirmable
    /// dimension), `scam`, `not-scam` (also `not_scam`, `notscam`), `clear-risk`.
    pub fn parse(s: &str) -> Option<Label> {
        let s = s.trim().to_ascii_lowercase();
        if let Some(c) = Class::parse(&s) {
            return Some(Label::Class(c));
        }
        let dim = |d: &str| Dimension::parse(d).filter(|d| CONFIRMABLE.contains(d));
        match s.as_str() {
            "auto" => Some(Label::Auto),
            "scam" => Some(Label::Scam),
            "not-scam" | "not_scam" | "notscam" => Some(Label::NotScam),
            "clear-risk" | "clear_risk" => Some(Label::ClearRisk),
            _ => {
                if let Some(d) = s.strip_prefix('+') {
                    dim(d).map(Label::Confirm)
                } else if let Some(d) = s.strip_prefix('-') {
                    dim(d).map(Label::Unconfirm)
                } else {
                    None
                }
            }
        }
    }

    pub fn as_str(&self) -> String {
        match self {
            Label::Class(c) => c.as_str().to_string(),
            Label::Auto => "auto".into(),
            Label::Confirm(d) => format!("+{}", d.as_str()),
            Label::Unconfirm(d) => format!("-{}", d.as_str()),
            Label::Scam => "scam".into(),
            Label::NotScam => "not-scam".into(),
            Label::ClearRisk => "clear-risk".into(),
        }
    }

    /// What it means, for explanations and confirmations.
    pub fn describe(&self) -> String {
        match self {
            Label::Class(c) => format!("class set to {} by hand", c.as_str()),
            Label::Auto => "class back to automatic".into(),
            Label::Confirm(d) => format!("{} confirmed", d.as_str()),
            Label::Unconfirm(d) => format!("{} confirmation withdrawn", d.as_str()),
            Label::Scam => "marked a scam".into(),
            Label::NotScam => "risk signals cleared (not a scam)".into(),
            Label::ClearRisk => "scam / not-scam marks removed".into(),
        }
    }
}

impl Serialize for Label {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.as_str())
    }
}

impl<'de> Deserialize<'de> for Label {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Label, D::Error> {
        let s = String::deserialize(d)?;
        Label::parse(&s).ok_or_else(|| serde::de::Error::custom(format!("unknown label {s:?}")))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// An IMAP keyword on one of the lead's messages.
    Keyword,
    /// A line in a reply to the morning digest.
    DigestReply,
    /// `leadsift tag`.
    Cli,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Keyword => "keyword",
            Source::DigestReply => "digest_reply",
            Source::Cli => "cli",
        }
    }

    pub fn parse(s: &str) -> Option<Source> {
        match s {
            "keyword" => Some(Source::Keyword),
            "digest_reply" => Some(Source::DigestReply),
            "cli" => Some(Source::Cli),
            _ => None,
        }
    }

    /// In words: "IMAP keyword", "digest reply", "command line".
    pub fn describe(self) -> &'static str {
        match self {
            Source::Keyword => "IMAP keyword",
            Source::DigestReply => "digest reply",
            Source::Cli => "command line",
        }
    }
}

/// A correction to be stored.
#[derive(Debug, Clone, PartialEq)]
pub struct NewCorrection {
    pub lead: String,
    pub label: Label,
    pub source: Source,
    /// The tagged message, or the digest reply that carried the command.
    pub message_id: Option<String>,
    pub person: String,
    pub at: DateTime<Utc>,
    pub note: Option<String>,
}

/// A stored correction, with its provenance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Correction {
    pub id: i64,
    pub lead: String,
    pub label: Label,
    pub source: Source,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    pub person: String,
    pub at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl Correction {
    /// "hot by li@acme.example via digest reply on 2026-11-20 08:14 UTC (message <…>)".
    pub fn provenance(&self) -> String {
        format!(
            "{} by {} via {} on {}{}",
            self.label.as_str(),
            self.person,
            self.source.describe(),
            self.at.format("%Y-%m-%d %H:%M UTC"),
            self.message_id
                .as_deref()
                .map(|m| format!(" (message {m})"))
                .unwrap_or_default()
        )
    }
}

/// What a lead's corrections add up to.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LeadFeedback {
    /// The class set by hand, and the correction that set it.
    pub class: Option<(Class, Correction)>,
    pub confirmed: BTreeMap<Dimension, Correction>,
    pub scam: Option<Correction>,
    pub not_scam: Option<Correction>,
    /// Every correction, oldest first.
    pub history: Vec<Correction>,
}

impl LeadFeedback {
    pub fn is_empty(&self) -> bool {
        self.history.is_empty()
    }
}

/// Applies `history` in order (by id).
pub fn fold(mut history: Vec<Correction>) -> LeadFeedback {
    history.sort_by_key(|c| c.id);
    let mut f = LeadFeedback::default();
    for c in &history {
        match c.label {
            Label::Class(class) => f.class = Some((class, c.clone())),
            Label::Auto => f.class = None,
            Label::Confirm(d) => {
                f.confirmed.insert(d, c.clone());
            }
            Label::Unconfirm(d) => {
                f.confirmed.remove(&d);
            }
            // Marking a scam is a person changing the class too: it ends a class set earlier by
            // hand (a class set after it holds again).
            Label::Scam => {
                f.scam = Some(c.clone());
                f.not_scam = None;
                f.class = None;
            }
            Label::NotScam => {
                f.not_scam = Some(c.clone());
                f.scam = None;
            }
            Label::ClearRisk => {
                f.scam = None;
                f.not_scam = None;
            }
        }
    }
    f.history = history;
    f
}

/// One learned weight, with why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LearnedWeight {
    pub name: String,
    /// Rules: the multiplier on the pattern's weight. Dimensions: the weight itself.
    pub factor: f64,
    /// What it was before this set.
    pub previous: f64,
    pub reason: String,
}

/// The weights in force from the newest `learn --apply`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Learned {
    pub set_id: i64,
    pub applied_at: Option<DateTime<Utc>>,
    /// Rule id → learned weight (factor = multiplier).
    pub rules: BTreeMap<String, LearnedWeight>,
    /// Dimension → learned weight (factor = the dimension's weight).
    pub dimensions: BTreeMap<Dimension, LearnedWeight>,
}

impl Learned {
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty() && self.dimensions.is_empty()
    }

    pub fn rule_factor(&self, rule: &str) -> f64 {
        self.rules.get(rule).map_or(1.0, |w| w.factor)
    }

    /// The configured weights with the learned ones in place, each kept within [floor, cap] ×
    /// the weight configured now (the configuration may have changed since the set was learned).
    pub fn weights(&self, configured: &Weights, floor: f64, cap: f64) -> Weights {
        let mut w = configured.clone();
        for (d, lw) in &self.dimensions {
            let c = weight_of(configured, *d);
            set_weight(&mut w, *d, lw.factor.clamp(c * floor, c * cap));
        }
        w
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(id: i64, label: &str) -> Correction {
        Correction {
            id,
            lead: "acme.example".into(),
            label: Label::parse(label).unwrap(),
            source: Source::Cli,
            message_id: None,
            person: "ann".into(),
            at: DateTime::UNIX_EPOCH,
            note: None,
        }
    }

    #[test]
    fn labels_round_trip() {
        for s in [
            "hot",
            "nurture",
            "drop",
            "auto",
            "+need",
            "-budget",
            "+fit",
            "scam",
            "not-scam",
            "clear-risk",
        ] {
            assert_eq!(Label::parse(s).unwrap().as_str(), s);
        }
        assert_eq!(Label::parse("HOT"), Some(Label::Class(Class::Hot)));
        assert_eq!(Label::parse("not_scam"), Some(Label::NotScam));
        assert_eq!(Label::parse("+risk"), None);
        assert_eq!(Label::parse("+"), None);
        assert_eq!(Label::parse("warm"), None);
    }

    #[test]
    fn latest_correction_wins() {
        let f = fold(vec![c(3, "drop"), c(1, "hot"), c(2, "+budget")]);
        assert_eq!(f.class.as_ref().map(|(k, _)| *k), Some(Class::Drop));
        assert!(f.confirmed.contains_key(&Dimension::Budget));
        let f = fold(vec![
            c(1, "hot"),
            c(2, "auto"),
            c(3, "+budget"),
            c(4, "-budget"),
        ]);
        assert_eq!(f.class, None);
        assert!(f.confirmed.is_empty());
        assert_eq!(f.history.len(), 4);
        let f = fold(vec![c(1, "scam"), c(2, "not-scam")]);
        assert!(f.scam.is_none() && f.not_scam.is_some());
        let f = fold(vec![c(1, "scam"), c(2, "clear-risk")]);
        assert!(f.scam.is_none() && f.not_scam.is_none());
        // A scam mark after a hand-set class ends it; a class after the mark holds again.
        let f = fold(vec![c(1, "hot"), c(2, "scam")]);
        assert!(f.class.is_none() && f.scam.is_some());
        let f = fold(vec![c(1, "scam"), c(2, "hot")]);
        assert_eq!(f.class.as_ref().map(|(k, _)| *k), Some(Class::Hot));
    }
}
