//! Learning from the salespeople's corrections: what a reply to the digest says ([`reply`]), what
//! the corrections teach about rule and dimension weights ([`learn`]), and the settings that bound
//! it. The correction types themselves are shared vocabulary ([`crate::vocab::feedback`]) so the
//! scorer can apply them without depending on this module.

pub mod learn;
pub mod reply;
pub mod settings;

pub use crate::vocab::feedback::{
    CONFIRMABLE, Correction, Label, LeadFeedback, Learned, LearnedWeight, NewCorrection, Source,
    fold,
};
pub use crate::vocab::{set_weight, weight_of};
