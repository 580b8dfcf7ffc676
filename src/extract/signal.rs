//! What extraction produces: signals, each tied to a qualification dimension and to the quoted
//! words it came from.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

pub use crate::vocab::Dimension;

/// A parsed value. Serialises as the bare object (`{"amount":500,"unit":"pcs"}`), the shape tools
/// outside the project read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Value {
    Quantity {
        amount: f64,
        unit: String,
    },
    Money {
        amount: f64,
        currency: String,
        /// A unit price ("US$2.5/pc") rather than a total.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        per_unit: bool,
    },
    Deadline {
        date: NaiveDate,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Signal {
    pub dimension: Dimension,
    /// `quantity`, `money`, `deadline` for parsed values; the rule's own kind otherwise.
    pub kind: String,
    /// Points toward the dimension; negative counts against it. For risk, positive = riskier.
    pub weight: f64,
    /// The buyer's words, quoted.
    pub evidence: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
    /// The rule that fired (file-independent id), for explain and learning.
    pub rule: String,
}

/// Message-level flags: such messages are not engagement and carry no buying signals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Flag {
    AutoReply,
    Bounce,
    Bulk,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Extraction {
    pub flags: Vec<Flag>,
    pub signals: Vec<Signal>,
    /// Estimated deal value in USD, from quantity × unit price or a stated budget.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deal_value_usd: Option<f64>,
    /// What the sender asks for, line by line.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<super::items::Item>,
}
