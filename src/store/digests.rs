//! The digests table: what was recorded, claimed, sent or skipped on which local day. The
//! exactly-once rules live in `crate::digest`; this is only the bookkeeping, each step a single
//! statement so it is atomic on its own.

use std::collections::BTreeMap;

use anyhow::Context;
use chrono::{DateTime, NaiveDate, Utc};
use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};

use super::Store;
use crate::vocab::Class;

/// A lead's standing when a digest went out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotEntry {
    pub class: Class,
    pub score: u8,
}

/// Lead → standing, stored with each digest: the baseline for "moved since" and the weekly review.
pub type Snapshot = BTreeMap<String, SnapshotEntry>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DigestStatus {
    /// Recorded, not (yet) accepted by the SMTP server.
    Pending,
    Sent,
    /// `skip_if_empty` and nothing to report.
    Skipped,
    /// Pending from an earlier day: never sent, superseded by a later day's digest.
    Expired,
}

impl DigestStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DigestStatus::Pending => "pending",
            DigestStatus::Sent => "sent",
            DigestStatus::Skipped => "skipped",
            DigestStatus::Expired => "expired",
        }
    }
    fn parse(s: &str) -> Option<DigestStatus> {
        Some(match s {
            "pending" => DigestStatus::Pending,
            "sent" => DigestStatus::Sent,
            "skipped" => DigestStatus::Skipped,
            "expired" => DigestStatus::Expired,
            _ => return None,
        })
    }
}

/// A digest to record: everything needed to submit it later without rendering again.
#[derive(Debug, Clone)]
pub struct NewDigest {
    pub day: NaiveDate,
    /// The recipient's lower-cased address: one regular digest per recipient and day.
    pub recipient: String,
    pub forced: bool,
    pub status: DigestStatus,
    pub message_id: Option<String>,
    pub token: Option<String>,
    pub content_hash: String,
    pub subject: String,
    pub envelope_from: Option<String>,
    pub envelope_to: Vec<String>,
    pub message: Option<Vec<u8>>,
    pub snapshot: Snapshot,
}

/// A recorded digest, without its snapshot.
#[derive(Debug, Clone)]
pub struct DigestRow {
    pub id: i64,
    pub day: NaiveDate,
    /// Empty for digests recorded before recipients had digests of their own.
    pub recipient: String,
    pub forced: bool,
    pub status: DigestStatus,
    pub message_id: Option<String>,
    pub token: Option<String>,
    pub content_hash: String,
    pub subject: String,
    pub envelope_from: Option<String>,
    pub envelope_to: Vec<String>,
    pub message: Option<Vec<u8>>,
    pub created_at: String,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub sent_at: Option<String>,
}

const ROW_COLUMNS: &str = "id, day, forced, status, message_id, token, content_hash, subject, envelope_from, envelope_to, message, created_at, attempts, last_error, sent_at, recipient";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<anyhow::Result<DigestRow>> {
    let id: i64 = r.get(0)?;
    let day: String = r.get(1)?;
    let status: String = r.get(3)?;
    let to: Option<String> = r.get(9)?;
    let parsed = (|| -> anyhow::Result<DigestRow> {
        Ok(DigestRow {
            id,
            day: day.parse().with_context(|| format!("day {day:?}"))?,
            forced: r.get::<_, i64>(2)? != 0,
            status: DigestStatus::parse(&status).with_context(|| format!("status {status:?}"))?,
            message_id: r.get(4)?,
            token: r.get(5)?,
            content_hash: r.get(6)?,
            subject: r.get(7)?,
            envelope_from: r.get(8)?,
            envelope_to: match to {
                Some(t) => serde_json::from_str(&t).context("envelope_to")?,
                None => Vec::new(),
            },
            message: r.get(10)?,
            created_at: r.get(11)?,
            attempts: r.get(12)?,
            last_error: r.get(13)?,
            sent_at: r.get(14)?,
            recipient: r.get(15)?,
        })
    })();
    Ok(parsed.with_context(|| format!("digest row {id}")))
}

impl Store {
    /// The regular (not forced) digest of `day` for `recipient`, if one was recorded.
    pub fn regular_digest(
        &self,
        day: NaiveDate,
        recipient: &str,
    ) -> anyhow::Result<Option<DigestRow>> {
        let sql = format!(
            "SELECT {ROW_COLUMNS} FROM digests WHERE day = ?1 AND recipient = ?2 AND forced = 0"
        );
        self.conn
            .query_row(&sql, params![day.to_string(), recipient], row)
            .optional()?
            .transpose()
    }

    pub fn digest(&self, id: i64) -> anyhow::Result<Option<DigestRow>> {
        let sql = format!("SELECT {ROW_COLUMNS} FROM digests WHERE id = ?1");
        self.conn.query_row(&sql, [id], row).optional()?.transpose()
    }

    /// Every recorded digest, oldest first (for tests and status views).
    pub fn digests(&self) -> anyhow::Result<Vec<DigestRow>> {
        let sql = format!("SELECT {ROW_COLUMNS} FROM digests ORDER BY id");
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt.query_map([], row)?;
        let mut out = Vec::new();
        for r in rows {
            out.push(r??);
        }
        Ok(out)
    }

    /// The digest whose Message-ID carries `token` (replies must quote it).
    pub fn digest_by_token(&self, token: &str) -> anyhow::Result<Option<DigestRow>> {
        let sql = format!("SELECT {ROW_COLUMNS} FROM digests WHERE token = ?1");
        self.conn
            .query_row(&sql, [token], row)
            .optional()?
            .transpose()
    }

    /// Records a digest. For a regular one, `Ok(None)` means that day already has one (another
    /// process recorded it first); nothing is written then.
    pub fn insert_digest(
        &mut self,
        d: &NewDigest,
        now: DateTime<Utc>,
    ) -> anyhow::Result<Option<i64>> {
        let n = self.conn.execute(
            "INSERT INTO digests (day, forced, status, message_id, token, content_hash, subject, envelope_from, envelope_to, message, snapshot, created_at, recipient)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
             ON CONFLICT (day, recipient) WHERE forced = 0 DO NOTHING",
            params![
                d.day.to_string(),
                d.forced as i64,
                d.status.as_str(),
                d.message_id,
                d.token,
                d.content_hash,
                d.subject,
                d.envelope_from,
                serde_json::to_string(&d.envelope_to)?,
                d.message,
                serde_json::to_string(&d.snapshot)?,
                now.to_rfc3339(),
                d.recipient,
            ],
        )?;
        Ok((n == 1).then(|| self.conn.last_insert_rowid()))
    }

    /// Takes the right to submit a pending digest until `until` (a lease, so a crashed sender
    /// does not block it forever). False when it is not pending or another process holds it.
    pub fn claim_digest(
        &mut self,
        id: i64,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> anyhow::Result<bool> {
        let n = self.conn.execute(
            "UPDATE digests SET claimed_until = ?3, attempts = attempts + 1, last_attempt_at = ?4
             WHERE id = ?1 AND status = 'pending' AND (claimed_until IS NULL OR claimed_until <= ?2)",
            params![id, now.timestamp(), until.timestamp(), now.to_rfc3339()],
        )?;
        Ok(n == 1)
    }

    /// The SMTP server accepted it.
    pub fn mark_digest_sent(&mut self, id: i64, now: DateTime<Utc>) -> anyhow::Result<()> {
        self.conn.execute(
            "UPDATE digests SET status = 'sent', sent_at = ?2, claimed_until = NULL, last_error = NULL WHERE id = ?1",
            params![id, now.to_rfc3339()],
        )?;
        Ok(())
    }

    /// The attempt failed: stays pending, the lease is released for the next attempt.
    pub fn mark_digest_failed(&mut self, id: i64, error: &str) -> anyhow::Result<()> {
        self.conn.execute(
            "UPDATE digests SET claimed_until = NULL, last_error = ?2 WHERE id = ?1",
            params![id, error],
        )?;
        Ok(())
    }

    /// Pending digests of days before `day` will never go out: say so.
    pub fn expire_digests_before(&mut self, day: NaiveDate) -> anyhow::Result<usize> {
        Ok(self.conn.execute(
            "UPDATE digests SET status = 'expired', claimed_until = NULL WHERE status = 'pending' AND day < ?1",
            [day.to_string()],
        )?)
    }

    /// The last local day whose regular digest to `recipient` was sent or skipped: what the
    /// schedule needs. A digest from before recipients had their own (recipient '') counts for
    /// everyone, so an upgrade on the morning it went out sends nothing twice.
    pub fn last_handled_digest_day(&self, recipient: &str) -> anyhow::Result<Option<NaiveDate>> {
        let d: Option<String> = self.conn.query_row(
            "SELECT MAX(day) FROM digests WHERE forced = 0 AND status IN ('sent', 'skipped') AND recipient IN (?1, '')",
            [recipient],
            |r| r.get(0),
        )?;
        d.map(|d| d.parse().with_context(|| format!("digest day {d:?}")))
            .transpose()
    }

    /// The snapshot of the most recent digest sent to `recipient` before `day` ("new since the
    /// last digest"); one from before recipients had their own (recipient '') serves too.
    pub fn snapshot_before(
        &self,
        day: NaiveDate,
        recipient: &str,
    ) -> anyhow::Result<Option<(NaiveDate, Snapshot)>> {
        self.snapshot_where(
            "status = 'sent' AND day < ?1 AND recipient IN (?2, '') ORDER BY day DESC, id DESC",
            day,
            recipient,
        )
    }

    /// The snapshot of the digest sent about a week before `day`: the latest one at least seven
    /// days earlier, else (a young installation) the earliest one before `day`.
    pub fn snapshot_week_before(
        &self,
        day: NaiveDate,
        recipient: &str,
    ) -> anyhow::Result<Option<(NaiveDate, Snapshot)>> {
        let week = day - chrono::Duration::days(7);
        if let Some(s) = self.snapshot_where(
            "status = 'sent' AND day <= ?1 AND recipient IN (?2, '') ORDER BY day DESC, id DESC",
            week,
            recipient,
        )? {
            return Ok(Some(s));
        }
        self.snapshot_where(
            "status = 'sent' AND day < ?1 AND recipient IN (?2, '') ORDER BY day, id",
            day,
            recipient,
        )
    }

    fn snapshot_where(
        &self,
        condition: &str,
        day: NaiveDate,
        recipient: &str,
    ) -> anyhow::Result<Option<(NaiveDate, Snapshot)>> {
        let sql = format!("SELECT day, snapshot FROM digests WHERE {condition} LIMIT 1");
        let found: Option<(String, String)> = self
            .conn
            .query_row(&sql, params![day.to_string(), recipient], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?;
        let Some((d, json)) = found else {
            return Ok(None);
        };
        let day: NaiveDate = d.parse().with_context(|| format!("digest day {d:?}"))?;
        let snap = serde_json::from_str(&json)
            .with_context(|| format!("snapshot of the digest of {day}"))?;
        Ok(Some((day, snap)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::score::Class;

    fn new(day: &str, forced: bool) -> NewDigest {
        let mut snapshot = Snapshot::new();
        snapshot.insert(
            "acme.example".into(),
            SnapshotEntry {
                class: Class::Hot,
                score: 80,
            },
        );
        NewDigest {
            day: day.parse().unwrap(),
            recipient: "sales@ourco.example".into(),
            forced,
            status: DigestStatus::Pending,
            message_id: Some(format!("<digest.{day}{forced}@ourco.example>")),
            token: Some(format!("{day}{forced}")),
            content_hash: "h".into(),
            subject: "s".into(),
            envelope_from: Some("ls@ourco.example".into()),
            envelope_to: vec!["sales@ourco.example".into()],
            message: Some(b"raw".to_vec()),
            snapshot,
        }
    }

    #[test]
    fn one_regular_digest_per_day_and_leases() {
        let mut s = Store::open_in_memory().unwrap();
        let now = Utc::now();
        let id = s
            .insert_digest(&new("2026-11-20", false), now)
            .unwrap()
            .unwrap();
        let mut again = new("2026-11-20", false);
        again.message_id = Some("<other@x>".into());
        again.token = Some("other".into());
        assert_eq!(s.insert_digest(&again, now).unwrap(), None);
        // Forced ones sit beside it.
        assert!(
            s.insert_digest(&new("2026-11-20", true), now)
                .unwrap()
                .is_some()
        );
        let lease = now + chrono::Duration::minutes(5);
        assert!(s.claim_digest(id, now, lease).unwrap());
        assert!(!s.claim_digest(id, now, lease).unwrap(), "lease is held");
        s.mark_digest_failed(id, "connection refused").unwrap();
        assert!(s.claim_digest(id, now, lease).unwrap());
        assert_eq!(
            s.last_handled_digest_day("sales@ourco.example").unwrap(),
            None
        );
        s.mark_digest_sent(id, now).unwrap();
        assert!(!s.claim_digest(id, now, lease).unwrap(), "sent is final");
        let row = s
            .regular_digest("2026-11-20".parse().unwrap(), "sales@ourco.example")
            .unwrap()
            .unwrap();
        // Another recipient has a digest of their own that day; the old-style row ('') counts
        // for everyone.
        let mut bobs = new("2026-11-20", false);
        bobs.recipient = "bob@ourco.example".into();
        bobs.message_id = Some("<bob@x>".into());
        bobs.token = Some("bob".into());
        assert!(s.insert_digest(&bobs, now).unwrap().is_some());
        assert_eq!(s.insert_digest(&bobs, now).unwrap(), None);
        assert_eq!(
            s.last_handled_digest_day("bob@ourco.example").unwrap(),
            None
        );
        assert_eq!(row.status, DigestStatus::Sent);
        assert_eq!(row.attempts, 2);
        assert_eq!(row.envelope_to, ["sales@ourco.example"]);
        assert_eq!(
            s.last_handled_digest_day("sales@ourco.example").unwrap(),
            row.day.into()
        );
        let (d, snap) = s
            .snapshot_before("2026-11-21".parse().unwrap(), "sales@ourco.example")
            .unwrap()
            .unwrap();
        assert_eq!(d, row.day);
        assert_eq!(snap["acme.example"].score, 80);
        assert!(
            s.snapshot_before("2026-11-20".parse().unwrap(), "sales@ourco.example")
                .unwrap()
                .is_none()
        );
        assert!(s.digest_by_token("2026-11-20false").unwrap().is_some());
    }

    #[test]
    fn migration_6_gives_old_digests_their_recipient() {
        let mut conn = rusqlite::Connection::open_in_memory().unwrap();
        let tx = conn.transaction().unwrap();
        for sql in &crate::store::migrations::MIGRATIONS[..5] {
            tx.execute_batch(sql).unwrap();
        }
        tx.pragma_update(None, "user_version", 5).unwrap();
        tx.commit().unwrap();
        for (day, to) in [
            ("2026-11-19", "[\"Sales@OurCo.example\"]"),
            ("2026-11-18", "[\"a@ourco.example\",\"b@ourco.example\"]"),
        ] {
            conn.execute(
                "INSERT INTO digests (day, status, content_hash, subject, envelope_to, snapshot, created_at) VALUES (?1, 'sent', 'h', 's', ?2, '{}', 'now')",
                params![day, to],
            )
            .unwrap();
        }
        crate::store::migrations::migrate(&mut conn).unwrap();
        let got: Vec<(String, String)> = conn
            .prepare("SELECT day, recipient FROM digests ORDER BY day")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            got,
            [
                ("2026-11-18".to_string(), String::new()),
                ("2026-11-19".to_string(), "sales@ourco.example".to_string())
            ]
        );
    }

    #[test]
    fn week_before_prefers_seven_days_back() {
        let mut s = Store::open_in_memory().unwrap();
        let now = Utc::now();
        for day in ["2026-11-10", "2026-11-13", "2026-11-17"] {
            let id = s.insert_digest(&new(day, false), now).unwrap().unwrap();
            s.mark_digest_sent(id, now).unwrap();
        }
        let week = |d: &str| {
            s.snapshot_week_before(d.parse().unwrap(), "sales@ourco.example")
                .unwrap()
                .map(|(d, _)| d.to_string())
        };
        assert_eq!(week("2026-11-20").as_deref(), Some("2026-11-13"));
        assert_eq!(week("2026-11-16").as_deref(), Some("2026-11-10"));
        // Younger than a week: the earliest one.
        assert_eq!(week("2026-11-12").as_deref(), Some("2026-11-10"));
        assert_eq!(week("2026-11-10"), None);
        // An unsent one from an earlier day expires.
        s.insert_digest(&new("2026-11-18", false), now).unwrap();
        assert_eq!(
            s.expire_digests_before("2026-11-19".parse().unwrap())
                .unwrap(),
            1
        );
    }
}
