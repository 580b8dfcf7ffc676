//! The commands table: replies to the digest and what became of them. Scoring inserts the
//! `pending` rows (see `store::leads`); `feedback::confirm` verifies and applies them through the
//! steps here, each atomic on its own.

use rusqlite::{OptionalExtension, params};

use super::Store;
use super::feedback::insert_correction;
use crate::feedback::NewCorrection;
use crate::feedback::reply::SentDigest;
use crate::parse::ParsedMessage;

/// A reply waiting to be verified.
#[derive(Debug)]
pub struct PendingCommand {
    /// The message's row id.
    pub message: i64,
    pub message_id: String,
    /// The stored parse, or why it cannot be read.
    pub parsed: Result<ParsedMessage, String>,
}

/// What an accepted reply did, recorded in one transaction.
#[derive(Debug)]
pub struct Applied<'a> {
    pub sender: &'a str,
    pub corrections: &'a [NewCorrection],
    /// Owners given by `owner LEAD WHO` lines.
    pub owners: &'a [crate::team::NewAssignment],
    /// The confirmation's text.
    pub result: &'a str,
    /// The confirmation's Message-ID and exact bytes; None when there is no `[smtp]` to send it.
    pub confirmation: Option<(&'a str, &'a [u8])>,
}

/// A recorded confirmation not yet accepted by the SMTP server.
#[derive(Debug, Clone)]
pub struct PendingConfirmation {
    pub message: i64,
    /// The reply it answers.
    pub reply_to_id: String,
    /// The confirmation's own Message-ID.
    pub message_id: String,
    pub to: String,
    pub bytes: Vec<u8>,
    pub attempts: u32,
}

/// A row of the commands table, for status views and tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandRow {
    pub message: i64,
    pub message_id: String,
    pub digest: Option<i64>,
    pub status: String,
    pub sender: Option<String>,
    pub reason: Option<String>,
    pub result: Option<String>,
    pub reply_status: Option<String>,
    pub reply_message_id: Option<String>,
    pub attempts: u32,
    pub last_error: Option<String>,
}

impl Store {
    /// Replies not verified yet, oldest first.
    pub fn pending_commands(&self) -> anyhow::Result<Vec<PendingCommand>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT c.message, m.message_id, m.parsed FROM commands c JOIN messages m ON m.id = c.message
             WHERE c.status = 'pending' ORDER BY c.message",
        )?;
        let rows = stmt.query_map([], |r| {
            let json: String = r.get(2)?;
            Ok(PendingCommand {
                message: r.get(0)?,
                message_id: r.get(1)?,
                parsed: serde_json::from_str(&json).map_err(|e| e.to_string()),
            })
        })?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// The digests that went out (or may have): replies must answer one of them.
    pub fn sent_digests(&self) -> anyhow::Result<Vec<SentDigest>> {
        let mut stmt = self.conn.prepare_cached(
            // Also digests submitted but never marked sent (a crash after the server accepted
            // one): only a digest that reached its recipients can be quoted, as its token is
            // unguessable.
            "SELECT id, token, envelope_to FROM digests WHERE token IS NOT NULL AND (status = 'sent' OR attempts > 0) ORDER BY id",
        )?;
        let rows = stmt.query_map([], |r| {
            let to: Option<String> = r.get(2)?;
            Ok(SentDigest {
                id: r.get(0)?,
                token: r.get(1)?,
                // An unreadable list names nobody: such a digest cannot be answered.
                recipients: to
                    .and_then(|t| serde_json::from_str(&t).ok())
                    .unwrap_or_default(),
            })
        })?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// Marks a pending reply ignored, with why. False when it was no longer pending.
    pub fn ignore_command(
        &mut self,
        message: i64,
        sender: Option<&str>,
        reason: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> anyhow::Result<bool> {
        let n = self.conn.execute(
            "UPDATE commands SET status = 'ignored', sender = COALESCE(?2, sender), reason = ?3, processed_at = ?4
             WHERE message = ?1 AND status = 'pending'",
            params![message, sender, reason, now.to_rfc3339()],
        )?;
        Ok(n == 1)
    }

    /// Applies an accepted reply: its corrections, its result and its confirmation (to be sent)
    /// in one transaction. False, with nothing written, when it was no longer pending (another
    /// leadsift process applied it first).
    pub fn apply_command(
        &mut self,
        message: i64,
        a: &Applied<'_>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> anyhow::Result<bool> {
        let tx = self.conn.transaction()?;
        let (reply_status, reply_id, bytes) = match a.confirmation {
            Some((id, bytes)) => (Some("pending"), Some(id), Some(bytes)),
            None => (None, None, None),
        };
        let n = tx.execute(
            "UPDATE commands SET status = 'applied', sender = ?2, result = ?3, reply_status = ?4,
                 reply_message_id = ?5, reply = ?6, reason = NULL, processed_at = ?7
             WHERE message = ?1 AND status = 'pending'",
            params![
                message,
                a.sender,
                a.result,
                reply_status,
                reply_id,
                bytes,
                now.to_rfc3339()
            ],
        )?;
        if n != 1 {
            return Ok(false);
        }
        for c in a.corrections {
            insert_correction(&tx, c)?;
        }
        for o in a.owners {
            super::owners::insert_assignment(&tx, o)?;
        }
        tx.commit()?;
        Ok(true)
    }

    /// Confirmations recorded and not yet accepted by the server, oldest first.
    pub fn pending_confirmations(&self) -> anyhow::Result<Vec<PendingConfirmation>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT c.message, m.message_id, c.reply_message_id, c.sender, c.reply, c.attempts
             FROM commands c JOIN messages m ON m.id = c.message
             WHERE c.reply_status = 'pending' AND c.reply IS NOT NULL AND c.sender IS NOT NULL
                 AND c.reply_message_id IS NOT NULL
             ORDER BY c.message",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(PendingConfirmation {
                message: r.get(0)?,
                reply_to_id: r.get(1)?,
                message_id: r.get(2)?,
                to: r.get(3)?,
                bytes: r.get(4)?,
                attempts: r.get(5)?,
            })
        })?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// Takes the right to make attempt `seen + 1` at sending a confirmation. False when another
    /// process made that attempt already (or it is no longer pending).
    pub fn claim_confirmation(&mut self, message: i64, seen: u32) -> anyhow::Result<bool> {
        let n = self.conn.execute(
            "UPDATE commands SET attempts = attempts + 1
             WHERE message = ?1 AND reply_status = 'pending' AND attempts = ?2",
            params![message, seen],
        )?;
        Ok(n == 1)
    }

    /// The SMTP server accepted the confirmation.
    pub fn confirmation_sent(
        &mut self,
        message: i64,
        now: chrono::DateTime<chrono::Utc>,
    ) -> anyhow::Result<()> {
        self.conn.execute(
            "UPDATE commands SET reply_status = 'sent', last_error = NULL, processed_at = COALESCE(processed_at, ?2)
             WHERE message = ?1",
            params![message, now.to_rfc3339()],
        )?;
        Ok(())
    }

    /// The attempt failed: stays pending for the next pass, or `failed` when `give_up`.
    pub fn confirmation_failed(
        &mut self,
        message: i64,
        error: &str,
        give_up: bool,
    ) -> anyhow::Result<()> {
        self.conn.execute(
            "UPDATE commands SET last_error = ?2,
                 reply_status = CASE WHEN ?3 THEN 'failed' ELSE reply_status END
             WHERE message = ?1 AND reply_status = 'pending'",
            params![message, error, give_up],
        )?;
        Ok(())
    }

    /// Every command row, oldest first.
    pub fn command_rows(&self) -> anyhow::Result<Vec<CommandRow>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT c.message, m.message_id, c.digest, c.status, c.sender, c.reason, c.result,
                    c.reply_status, c.reply_message_id, c.attempts, c.last_error
             FROM commands c JOIN messages m ON m.id = c.message ORDER BY c.message",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(CommandRow {
                message: r.get(0)?,
                message_id: r.get(1)?,
                digest: r.get(2)?,
                status: r.get(3)?,
                sender: r.get(4)?,
                reason: r.get(5)?,
                result: r.get(6)?,
                reply_status: r.get(7)?,
                reply_message_id: r.get(8)?,
                attempts: r.get(9)?,
                last_error: r.get(10)?,
            })
        })?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// The command row of one message (by Message-ID), if it is a reply to the digest.
    pub fn command_for(&self, message_id: &str) -> anyhow::Result<Option<CommandRow>> {
        let id: Option<i64> = self
            .conn
            .query_row(
                "SELECT c.message FROM commands c JOIN messages m ON m.id = c.message WHERE m.message_id = ?1",
                [message_id],
                |r| r.get(0),
            )
            .optional()?;
        Ok(match id {
            Some(id) => self.command_rows()?.into_iter().find(|r| r.message == id),
            None => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::feedback::{Label, Source};
    use chrono::Utc;

    fn store_reply(s: &mut Store, id: &str, refs: &str) -> i64 {
        let reply = crate::store::testing::inbound(
            id,
            &format!("From: jane@ourco.example\r\nIn-Reply-To: <{refs}>\r\nSubject: Re: digest"),
            "hot acme.example",
            None,
        );
        s.store_batch(None, &[reply], Utc::now()).unwrap();
        s.conn
            .query_row("SELECT id FROM messages WHERE message_id = ?1", [id], |r| {
                r.get(0)
            })
            .unwrap()
    }

    fn pend(s: &Store, message: i64) {
        s.conn
            .execute(
                "INSERT INTO commands (message, status, sender, detected_at) VALUES (?1, 'pending', 'jane@ourco.example', '2026-11-20T00:00:00Z')",
                [message],
            )
            .unwrap();
    }

    #[test]
    fn apply_once_and_confirm_once() {
        let mut s = Store::open_in_memory().unwrap();
        let now = Utc::now();
        let m = store_reply(&mut s, "r1@ourco.example", "digest.x@ourco.example");
        pend(&s, m);
        let pending = s.pending_commands().unwrap();
        assert_eq!(pending.len(), 1);
        assert_eq!(pending[0].message_id, "r1@ourco.example");
        assert!(
            pending[0]
                .parsed
                .as_ref()
                .unwrap()
                .text
                .contains("hot acme")
        );
        let c = NewCorrection {
            lead: "acme.example".into(),
            label: Label::parse("hot").unwrap(),
            source: Source::DigestReply,
            message_id: Some("r1@ourco.example".into()),
            person: "jane@ourco.example".into(),
            at: now,
            note: None,
        };
        let a = Applied {
            sender: "jane@ourco.example",
            corrections: std::slice::from_ref(&c),
            owners: &[],
            result: "applied",
            confirmation: Some(("<confirm.1@ourco.example>", b"raw")),
        };
        assert!(s.apply_command(m, &a, now).unwrap());
        assert!(!s.apply_command(m, &a, now).unwrap(), "applied once only");
        assert!(!s.ignore_command(m, None, "x", now).unwrap());
        assert_eq!(s.corrections_for("acme.example").unwrap().len(), 1);
        assert!(s.pending_commands().unwrap().is_empty());

        let p = s.pending_confirmations().unwrap();
        assert_eq!(p.len(), 1);
        assert_eq!(
            (p[0].to.as_str(), p[0].bytes.as_slice()),
            ("jane@ourco.example", &b"raw"[..])
        );
        assert_eq!(p[0].reply_to_id, "r1@ourco.example");
        assert!(s.claim_confirmation(m, 0).unwrap());
        assert!(
            !s.claim_confirmation(m, 0).unwrap(),
            "that attempt is taken"
        );
        s.confirmation_failed(m, "connection refused", false)
            .unwrap();
        let p = s.pending_confirmations().unwrap();
        assert_eq!(p[0].attempts, 1);
        assert!(s.claim_confirmation(m, 1).unwrap());
        s.confirmation_sent(m, now).unwrap();
        assert!(s.pending_confirmations().unwrap().is_empty());
        let row = s.command_for("r1@ourco.example").unwrap().unwrap();
        assert_eq!(row.status, "applied");
        assert_eq!(row.reply_status.as_deref(), Some("sent"));
        assert_eq!(row.attempts, 2);
        assert_eq!(row.last_error, None);

        // Another reply, ignored; and one whose confirmation fails for good.
        let m2 = store_reply(&mut s, "r2@ourco.example", "digest.y@ourco.example");
        pend(&s, m2);
        assert!(
            s.ignore_command(m2, Some("eve@evil.example"), "not a recipient", now)
                .unwrap()
        );
        let row = s.command_for("r2@ourco.example").unwrap().unwrap();
        assert_eq!(
            (row.status.as_str(), row.sender.as_deref()),
            ("ignored", Some("eve@evil.example"))
        );
        assert_eq!(row.reason.as_deref(), Some("not a recipient"));
        let m3 = store_reply(&mut s, "r3@ourco.example", "digest.z@ourco.example");
        pend(&s, m3);
        assert!(
            s.apply_command(
                m3,
                &Applied {
                    corrections: &[],
                    ..a
                },
                now
            )
            .unwrap()
        );
        assert!(s.claim_confirmation(m3, 0).unwrap());
        s.confirmation_failed(m3, "550 no such user", true).unwrap();
        assert!(s.pending_confirmations().unwrap().is_empty());
        assert_eq!(
            s.command_for("r3@ourco.example")
                .unwrap()
                .unwrap()
                .reply_status
                .as_deref(),
            Some("failed")
        );
    }
}
