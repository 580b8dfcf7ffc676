//! Stage 1: IMAP → store. Read-only toward the mailbox (`BODY.PEEK[]`), incremental by UID, and
//! exactly once across crashes and UIDVALIDITY changes.

use chrono::{DateTime, Utc};

use crate::config::Settings;
use crate::store::Store;

/// The result of one pass over one account.
#[derive(Debug)]
pub struct AccountReport {
    pub account: String,
    pub outcome: crate::store::BatchOutcome,
    pub error: Option<String>,
}

/// One pass over every account and folder. Failures of one account do not stop the others.
pub async fn sync_once(settings: &Settings, store: &mut Store, now: DateTime<Utc>) -> Vec<AccountReport> {
    let _ = (store, now);
    settings
        .accounts
        .iter()
        .map(|a| AccountReport {
            account: a.name.clone(),
            outcome: Default::default(),
            error: Some("IMAP sync is not implemented yet".into()),
        })
        .collect()
}
