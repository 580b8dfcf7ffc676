//! The validated `[feedback]` settings (built by `config::feedback`): the IMAP keywords
//! salespeople use to correct leadsift, the class keywords it writes, who may answer the digest,
//! and how learning from corrections is bounded.

use std::collections::BTreeMap;

use crate::vocab::Class;
use crate::vocab::feedback::Label;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Learning {
    /// Only `leadsift learn --apply` changes weights.
    Manual,
    /// The daemon applies what `learn` finds once a day, when there are enough corrections.
    Auto,
}

#[derive(Debug, Clone)]
pub struct FeedbackSettings {
    pub read_keywords: bool,
    pub write_keywords: bool,
    /// Lowercased IMAP keyword → what it means.
    pub vocabulary: Vec<(String, Label)>,
    pub class_keywords: BTreeMap<Class, String>,
    /// Without CONDSTORE, the FLAGS of this many of the newest UIDs are read on every pass.
    pub flags_window: u32,
    /// The `authserv-id` of our own receiving server's Authentication-Results headers.
    pub authserv_id: Option<String>,
    pub learning: Learning,
    pub min_leads_per_class: u32,
    /// Learned weights stay within [floor, cap] × the configured weight.
    pub weight_floor: f64,
    pub weight_cap: f64,
    /// Training folders (`[feedback.folders]`): folder → the label a message there carries.
    /// Watched read-only; their messages are never leads themselves.
    pub folders: Vec<(String, Label)>,
}

impl FeedbackSettings {
    /// What a keyword on a message means (case-insensitive), if it is one of ours to read.
    pub fn label_for_keyword(&self, kw: &str) -> Option<Label> {
        let kw = kw.to_ascii_lowercase();
        self.vocabulary
            .iter()
            .find(|(k, _)| *k == kw)
            .map(|(_, l)| *l)
    }

    pub fn is_feedback_keyword(&self, kw: &str) -> bool {
        self.label_for_keyword(kw).is_some()
    }

    /// The keyword leadsift writes for `class`.
    pub fn class_keyword(&self, class: Class) -> &str {
        self.class_keywords.get(&class).map_or("", |s| s.as_str())
    }

    pub fn is_class_keyword(&self, kw: &str) -> bool {
        self.class_keywords
            .values()
            .any(|k| k.eq_ignore_ascii_case(kw))
    }

    /// The label of a training folder, if `folder` is one.
    pub fn folder_label(&self, folder: &str) -> Option<Label> {
        self.folders
            .iter()
            .find(|(f, _)| f == folder)
            .map(|(_, l)| *l)
    }

    /// The keyword a person uses for `label`, if any (for help texts).
    pub fn keyword_for(&self, label: Label) -> Option<&str> {
        self.vocabulary
            .iter()
            .find(|(_, l)| *l == label)
            .map(|(k, _)| k.as_str())
    }
}
