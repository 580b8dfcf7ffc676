//! A sales team: who owns a lead, and which leads a recipient's digest holds. Pure.
//!
//! A lead's owner is the colleague (one of `[me] addresses`) who last wrote to it; before anyone
//! has, the default `owner` of the account its first message arrived in. A person can reassign it
//! (`leadsift tag LEAD owner:ADDR`, the digest reply `owner LEAD WHO`): the later of that and the
//! last colleague's message wins, so whoever takes the lead over by writing to it owns it.

use chrono::{DateTime, FixedOffset, Utc};

use crate::config::{Recipient, Scope};
use crate::score::{Class, LeadReport};

/// One of our messages to a lead.
#[derive(Debug, Clone, PartialEq)]
pub struct Sent {
    pub date: DateTime<FixedOffset>,
    pub subject: String,
    /// Lower-cased.
    pub from: Option<String>,
}

/// What a lead's messages say about the team.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Activity {
    /// Our last message to the lead, whoever sent it.
    pub last_sent: Option<Sent>,
    /// The last colleague (a `[me] addresses` entry) who wrote to it, and when.
    pub last_colleague: Option<(String, DateTime<Utc>)>,
    /// The account the lead's first inbound message arrived in.
    pub account: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssignmentSource {
    DigestReply,
    Cli,
}

impl AssignmentSource {
    pub fn as_str(self) -> &'static str {
        match self {
            AssignmentSource::DigestReply => "digest_reply",
            AssignmentSource::Cli => "cli",
        }
    }
    pub fn parse(s: &str) -> Option<AssignmentSource> {
        match s {
            "digest_reply" => Some(AssignmentSource::DigestReply),
            "cli" => Some(AssignmentSource::Cli),
            _ => None,
        }
    }
    fn describe(self) -> &'static str {
        match self {
            AssignmentSource::DigestReply => "digest reply",
            AssignmentSource::Cli => "command line",
        }
    }
}

/// An owner set by hand, to be stored.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAssignment {
    pub lead: String,
    /// Lower-cased address.
    pub owner: String,
    pub source: AssignmentSource,
    pub message_id: Option<String>,
    pub person: String,
    pub at: DateTime<Utc>,
}

/// The owner set by hand last.
#[derive(Debug, Clone, PartialEq)]
pub struct Assignment {
    pub owner: String,
    pub source: AssignmentSource,
    pub message_id: Option<String>,
    pub person: String,
    pub at: DateTime<Utc>,
}

/// A lead's owner and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Owner {
    /// Lower-cased address.
    pub address: String,
    /// "last wrote on 2026-11-19", "set by ann via digest reply on …", "default of account sales".
    pub how: String,
}

/// The owner of a lead (None: nobody yet). `account_owner` is the `[[account]] owner` by name.
pub fn owner(
    activity: Option<&Activity>,
    assigned: Option<&Assignment>,
    account_owner: &dyn Fn(&str) -> Option<String>,
) -> Option<Owner> {
    let wrote = activity.and_then(|a| a.last_colleague.as_ref());
    match (wrote, assigned) {
        (Some((who, at)), a) if a.is_none_or(|a| *at > a.at) => Some(Owner {
            address: who.clone(),
            how: format!("last wrote to them on {}", at.format("%Y-%m-%d")),
        }),
        (_, Some(a)) => Some(Owner {
            address: a.owner.clone(),
            how: format!(
                "set by {} via {} on {}",
                a.person,
                a.source.describe(),
                a.at.format("%Y-%m-%d %H:%M UTC")
            ),
        }),
        _ => {
            let account = activity.and_then(|a| a.account.as_deref())?;
            account_owner(account).map(|o| Owner {
                address: o,
                how: format!("default owner of account {account}"),
            })
        }
    }
}

/// Does `recipient`'s digest hold this lead? Everyone's for scope all; for scope own, the leads
/// they own and hot leads nobody owns (someone must answer those).
pub fn in_scope(recipient: Option<&Recipient>, r: &LeadReport, owner: Option<&str>) -> bool {
    match recipient {
        None => true,
        Some(rc) if rc.scope == Scope::All => true,
        Some(rc) => match owner {
            Some(o) => o == rc.address,
            None => r.class == Class::Hot,
        },
    }
}

/// The address a digest-reply `owner LEAD WHO` means: a full address, or the local part of one of
/// `known` (the `[me]` addresses and digest recipients) when exactly one matches.
pub fn resolve_person<'a>(who: &str, known: impl IntoIterator<Item = &'a str>) -> Option<String> {
    let w = who
        .trim()
        .trim_matches(|c| matches!(c, '<' | '>' | '"' | '\''))
        .trim_end_matches(['.', ',', ';'])
        .to_lowercase();
    if w.is_empty() {
        return None;
    }
    let known: Vec<String> = known.into_iter().map(str::to_lowercase).collect();
    if w.contains('@') {
        return crate::feedback::reply::lead_shape(&w).filter(|a| a.contains('@'));
    }
    let mut hits: Vec<&String> = known
        .iter()
        .filter(|k| k.split('@').next() == Some(w.as_str()))
        .collect();
    hits.sort();
    hits.dedup();
    match hits.as_slice() {
        [one] => Some((*one).clone()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn the_later_of_writing_and_reassigning_wins() {
        let acct = |a: &str| (a == "sales").then(|| "carl@ourco.example".to_string());
        let act = Activity {
            last_sent: None,
            last_colleague: Some(("ann@ourco.example".into(), utc("2026-11-18T09:00:00Z"))),
            account: Some("sales".into()),
        };
        assert_eq!(
            owner(Some(&act), None, &acct).unwrap().address,
            "ann@ourco.example"
        );
        let mut a = Assignment {
            owner: "bob@ourco.example".into(),
            source: AssignmentSource::DigestReply,
            message_id: None,
            person: "ann@ourco.example".into(),
            at: utc("2026-11-19T09:00:00Z"),
        };
        let o = owner(Some(&act), Some(&a), &acct).unwrap();
        assert_eq!(o.address, "bob@ourco.example");
        assert!(o.how.contains("digest reply"), "{}", o.how);
        // Ann writes again after the reassignment: she has taken it back.
        a.at = utc("2026-11-17T09:00:00Z");
        assert_eq!(
            owner(Some(&act), Some(&a), &acct).unwrap().address,
            "ann@ourco.example"
        );
        // Nobody wrote: the account's owner, else nobody.
        let fresh = Activity {
            account: Some("sales".into()),
            ..Activity::default()
        };
        assert_eq!(
            owner(Some(&fresh), None, &acct).unwrap().address,
            "carl@ourco.example"
        );
        let elsewhere = Activity {
            account: Some("info".into()),
            ..Activity::default()
        };
        assert_eq!(owner(Some(&elsewhere), None, &acct), None);
        assert_eq!(owner(None, None, &acct), None);
    }

    #[test]
    fn people_by_address_or_unique_local_part() {
        let known = [
            "ann@ourco.example",
            "bob@ourco.example",
            "ann@other.example",
        ];
        assert_eq!(
            resolve_person("Bob", known).as_deref(),
            Some("bob@ourco.example")
        );
        assert_eq!(resolve_person("ann", known), None, "two anns: ambiguous");
        assert_eq!(
            resolve_person("<Ann@OurCo.example>", known).as_deref(),
            Some("ann@ourco.example")
        );
        assert_eq!(resolve_person("zed", known), None);
        assert_eq!(resolve_person("", known), None);
        assert_eq!(resolve_person("a@b", known), None);
    }
}
