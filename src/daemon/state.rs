//! The daemon's per-account state in the `account_state` table (migration 4), for `status`.

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use crate::store::Store;

#[derive(Debug, Clone, Serialize)]
pub struct AccountState {
    pub account: String,
    /// `connecting`, `connected`, `backing_off` or `stopped`.
    pub state: String,
    pub since: String,
    pub retry_at: Option<String>,
    pub last_error: Option<String>,
    pub login_failures: u32,
    pub last_sync: Option<String>,
}

/// The last regular digest, as `status` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct LastDigest {
    pub day: String,
    pub status: String,
    pub sent_at: Option<String>,
    pub attempts: u32,
    pub last_error: Option<String>,
}

pub fn set_state(
    store: &Store,
    account: &str,
    state: &str,
    now: DateTime<Utc>,
    retry_at: Option<DateTime<Utc>>,
    error: Option<&str>,
    login_failures: u32,
) -> anyhow::Result<()> {
    store.conn().execute(
        "INSERT INTO account_state (account, state, since, retry_at, last_error, login_failures)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (account) DO UPDATE SET
            since = CASE WHEN state = ?2 THEN since ELSE ?3 END,
            state = ?2, retry_at = ?4,
            last_error = COALESCE(?5, CASE WHEN ?2 = 'connected' THEN NULL ELSE last_error END),
            login_failures = ?6",
        params![
            account,
            state,
            now.to_rfc3339(),
            retry_at.map(|t| t.to_rfc3339()),
            error,
            login_failures
        ],
    )?;
    Ok(())
}

pub fn set_last_sync(store: &Store, account: &str, now: DateTime<Utc>) -> anyhow::Result<()> {
    store.conn().execute(
        "UPDATE account_state SET last_sync = ?2 WHERE account = ?1",
        params![account, now.to_rfc3339()],
    )?;
    Ok(())
}

pub fn account_states(store: &Store) -> anyhow::Result<Vec<AccountState>> {
    let mut st = store.conn().prepare(
        "SELECT account, state, since, retry_at, last_error, login_failures, last_sync
         FROM account_state ORDER BY account",
    )?;
    let rows = st.query_map([], |r| {
        Ok(AccountState {
            account: r.get(0)?,
            state: r.get(1)?,
            since: r.get(2)?,
            retry_at: r.get(3)?,
            last_error: r.get(4)?,
            login_failures: r.get(5)?,
            last_sync: r.get(6)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn last_digest(store: &Store) -> anyhow::Result<Option<LastDigest>> {
    Ok(store
        .conn()
        .query_row(
            "SELECT day, status, sent_at, attempts, last_error FROM digests
             WHERE forced = 0 ORDER BY day DESC, id DESC LIMIT 1",
            [],
            |r| {
                Ok(LastDigest {
                    day: r.get(0)?,
                    status: r.get(1)?,
                    sent_at: r.get(2)?,
                    attempts: r.get(3)?,
                    last_error: r.get(4)?,
                })
            },
        )
        .optional()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_round_trip() {
        let store = Store::open_in_memory().unwrap();
        let t = Utc::now();
        set_state(&store, "a", "backing_off", t, Some(t), Some("boom"), 2).unwrap();
        set_state(&store, "a", "connected", t, None, None, 0).unwrap();
        set_last_sync(&store, "a", t).unwrap();
        let s = account_states(&store).unwrap();
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].state, "connected");
        assert_eq!(s[0].last_error, None);
        assert!(s[0].last_sync.is_some());
        assert!(last_digest(&store).unwrap().is_none());
    }
}
