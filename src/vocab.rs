//! The shared vocabulary every stage speaks: the qualification dimensions, the classes, which way
//! a message went, the dimension weights and who "we" are. Plain types only; this module imports
//! nothing of ours, so every stage (extract, score, feedback, store, digest) can use it.

pub mod feedback;

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dimension {
    Need,
    Budget,
    Authority,
    Timeline,
    Engagement,
    Fit,
    Risk,
}

impl Dimension {
    pub const ALL: [Dimension; 7] = [
        Dimension::Need,
        Dimension::Budget,
        Dimension::Authority,
        Dimension::Timeline,
        Dimension::Engagement,
        Dimension::Fit,
        Dimension::Risk,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Dimension::Need => "need",
            Dimension::Budget => "budget",
            Dimension::Authority => "authority",
            Dimension::Timeline => "timeline",
            Dimension::Engagement => "engagement",
            Dimension::Fit => "fit",
            Dimension::Risk => "risk",
        }
    }

    pub fn parse(s: &str) -> Option<Dimension> {
        Dimension::ALL.into_iter().find(|d| d.as_str() == s)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Class {
    Hot,
    Nurture,
    Drop,
}

impl Class {
    pub fn as_str(self) -> &'static str {
        match self {
            Class::Hot => "hot",
            Class::Nurture => "nurture",
            Class::Drop => "drop",
        }
    }
    pub fn parse(s: &str) -> Option<Class> {
        match s {
            "hot" => Some(Class::Hot),
            "nurture" => Some(Class::Nurture),
            "drop" => Some(Class::Drop),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    In,
    Out,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::In => "in",
            Direction::Out => "out",
        }
    }
}

/// Weight of each dimension in the 0–100 score. Risk is subtracted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Weights {
    pub need: f64,
    pub budget: f64,
    pub authority: f64,
    pub timeline: f64,
    pub engagement: f64,
    pub fit: f64,
    pub risk: f64,
}

impl Default for Weights {
    fn default() -> Self {
        Weights {
            need: 25.0,
            budget: 15.0,
            authority: 15.0,
            timeline: 15.0,
            engagement: 15.0,
            fit: 15.0,
            risk: 40.0,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Me {
    /// Lower-cased.
    pub addresses: BTreeSet<String>,
    /// Registrable domains that are ours: mail from them is never a lead.
    pub domains: BTreeSet<String>,
}

impl Me {
    pub fn is_ours(&self, address: &str) -> bool {
        let a = address.to_lowercase();
        if self.addresses.contains(&a) {
            return true;
        }
        let domain = a.rsplit_once('@').map(|(_, d)| d).unwrap_or("");
        self.domains
            .iter()
            .any(|d| domain == d || domain.ends_with(&format!(".{d}")))
    }
}

/// One dimension's weight.
pub fn weight_of(w: &Weights, d: Dimension) -> f64 {
    match d {
        Dimension::Need => w.need,
        Dimension::Budget => w.budget,
        Dimension::Authority => w.authority,
        Dimension::Timeline => w.timeline,
        Dimension::Engagement => w.engagement,
        Dimension::Fit => w.fit,
        Dimension::Risk => w.risk,
    }
}

pub fn set_weight(w: &mut Weights, d: Dimension, x: f64) {
    match d {
        Dimension::Need => w.need = x,
        Dimension::Budget => w.budget = x,
        Dimension::Authority => w.authority = x,
        Dimension::Timeline => w.timeline = x,
        Dimension::Engagement => w.engagement = x,
        Dimension::Fit => w.fit = x,
        Dimension::Risk => w.risk = x,
    }
}
