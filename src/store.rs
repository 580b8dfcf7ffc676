//! The local, crash-safe store (SQLite). One writer: a [`Store`] owns its connection and is used
//! from one thread at a time. Every batch of messages and the folder's high-water mark commit in
//! one transaction, so a crash can lose at most an uncommitted batch, which is fetched again.

pub mod commands;
pub mod digests;
pub mod feedback;
pub mod folder_tags;
pub mod keywords;
pub mod leads;
pub mod migrations;
pub mod owners;
pub mod vocabulary;

use std::path::Path;

use anyhow::Context;
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use crate::extract::Extraction;
use crate::parse::ParsedMessage;
pub use crate::vocab::Direction;

/// Where a message sits on an IMAP server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub account: String,
    pub folder: String,
    pub uidvalidity: u32,
    pub uid: u32,
}

/// A message ready to store: parsed and extracted before the transaction opens.
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub parsed: ParsedMessage,
    pub extraction: Extraction,
    pub direction: Direction,
    pub size: u64,
    pub location: Option<Location>,
}

/// A message that could not be parsed.
#[derive(Debug, Clone)]
pub struct Failure {
    /// Identity for de-duplication (the raw hash, or account/folder/uidvalidity/uid).
    pub key: String,
    pub location: Option<Location>,
    /// A file path for imports.
    pub source: Option<String>,
    pub reason: String,
}

#[derive(Debug, Clone)]
pub enum Item {
    Message(Box<NewMessage>),
    Failure(Failure),
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct BatchOutcome {
    pub stored: usize,
    pub duplicates: usize,
    pub failed: usize,
}

impl std::ops::AddAssign for BatchOutcome {
    fn add_assign(&mut self, o: BatchOutcome) {
        self.stored += o.stored;
        self.duplicates += o.duplicates;
        self.failed += o.failed;
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FolderState {
    pub uidvalidity: Option<u32>,
    pub last_uid: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct FolderStatus {
    pub name: String,
    pub uidvalidity: Option<u32>,
    pub last_uid: u32,
    pub messages: u64,
    pub last_sync: Option<String>,
    pub last_error: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AccountStatus {
    pub name: String,
    pub folders: Vec<FolderStatus>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Status {
    pub accounts: Vec<AccountStatus>,
    pub messages: u64,
    pub failed: u64,
}

pub struct Store {
    conn: Connection,
}

impl Store {
    /// Opens (creating with mode 0600 if needed) and migrates the database.
    pub fn open(path: &Path) -> anyhow::Result<Store> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).with_context(|| {
                format!("cannot create the database directory {}", dir.display())
            })?;
        }
        if !path.exists() {
            use std::os::unix::fs::OpenOptionsExt;
            std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(false)
                .mode(0o600)
                .open(path)
                .with_context(|| format!("cannot create the database {}", path.display()))?;
        }
        let conn = Connection::open(path)
            .with_context(|| format!("cannot open the database {}", path.display()))?;
        Self::setup(conn).with_context(|| format!("database {}", path.display()))
    }

    pub fn open_in_memory() -> anyhow::Result<Store> {
        Self::setup(Connection::open_in_memory()?)
    }

    fn setup(mut conn: Connection) -> anyhow::Result<Store> {
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        migrations::migrate(&mut conn).context("migrating the schema")?;
        Ok(Store { conn })
    }

    pub fn conn(&self) -> &Connection {
        &self.conn
    }

    pub fn conn_mut(&mut self) -> &mut Connection {
        &mut self.conn
    }

    pub fn folder_state(&self, account: &str, folder: &str) -> anyhow::Result<Option<FolderState>> {
        Ok(self
            .conn
            .query_row(
                "SELECT uidvalidity, last_uid FROM folders WHERE account = ?1 AND folder = ?2",
                params![account, folder],
                |r| {
                    Ok(FolderState {
                        uidvalidity: r.get(0)?,
                        last_uid: r.get(1)?,
                    })
                },
            )
            .optional()?)
    }

    /// Records the folder's UIDVALIDITY. When it differs from the stored one the high-water mark
    /// goes back to 0, so the folder is rescanned; messages already stored are recognised by
    /// Message-ID (or raw hash) and not stored twice. Returns true when it changed.
    pub fn set_uidvalidity(
        &mut self,
        account: &str,
        folder: &str,
        uidvalidity: u32,
    ) -> anyhow::Result<bool> {
        let tx = self.conn.transaction()?;
        let old: Option<Option<u32>> = tx
            .query_row(
                "SELECT uidvalidity FROM folders WHERE account = ?1 AND folder = ?2",
                params![account, folder],
                |r| r.get(0),
            )
            .optional()?;
        let changed = match old {
            None => {
                tx.execute(
                    "INSERT INTO folders (account, folder, uidvalidity, last_uid) VALUES (?1, ?2, ?3, 0)",
                    params![account, folder, uidvalidity],
                )?;
                false
            }
            Some(Some(old)) if old == uidvalidity => false,
            Some(old) => {
                tx.execute(
                    "UPDATE folders SET uidvalidity = ?3, last_uid = 0 WHERE account = ?1 AND folder = ?2",
                    params![account, folder, uidvalidity],
                )?;
                old.is_some()
            }
        };
        tx.commit()?;
        Ok(changed)
    }

    /// Stores a batch and, in the same transaction, moves the folder's mark to `last_uid`
    /// (when given). Duplicates (same Message-ID) only gain a location.
    pub fn store_batch(
        &mut self,
        folder_mark: Option<(&str, &str, u32)>,
        items: &[Item],
        now: DateTime<Utc>,
    ) -> anyhow::Result<BatchOutcome> {
        let now_s = now.to_rfc3339();
        let tx = self.conn.transaction()?;
        let mut out = BatchOutcome::default();
        {
            let mut find = tx.prepare_cached("SELECT id FROM messages WHERE message_id = ?1")?;
            let mut insert = tx.prepare_cached(
                "INSERT INTO messages (message_id, direction, date, date_unix, from_addr, reply_to, recipients, refs, subject, size, truncated, parsed, extraction, stored_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
            )?;
            let mut locate = tx.prepare_cached(
                "INSERT OR IGNORE INTO locations (account, folder, uidvalidity, uid, message) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            let mut fail = tx.prepare_cached(
                "INSERT OR IGNORE INTO failures (key, account, folder, uid, source, reason, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?;
            for item in items {
                match item {
                    Item::Message(m) => {
                        let p = &m.parsed;
                        let existing: Option<i64> =
                            find.query_row([&p.message_id], |r| r.get(0)).optional()?;
                        let id = match existing {
                            Some(id) => {
                                out.duplicates += 1;
                                id
                            }
                            None => {
                                insert.execute(params![
                                    p.message_id,
                                    m.direction.as_str(),
                                    p.date.to_rfc3339(),
                                    p.date.timestamp(),
                                    p.from.as_ref().map(|f| f.address.as_str()),
                                    p.reply_to.as_ref().map(|f| f.address.as_str()),
                                    serde_json::to_string(
                                        &p.to
                                            .iter()
                                            .chain(&p.cc)
                                            .map(|a| a.address.as_str())
                                            .collect::<Vec<_>>()
                                    )?,
                                    serde_json::to_string(
                                        &p.in_reply_to
                                            .iter()
                                            .chain(&p.references)
                                            .collect::<Vec<_>>()
                                    )?,
                                    p.subject,
                                    m.size as i64,
                                    p.truncated,
                                    serde_json::to_string(p)?,
                                    serde_json::to_string(&m.extraction)?,
                                    now_s,
                                ])?;
                                out.stored += 1;
                                tx.last_insert_rowid()
                            }
                        };
                        if let Some(l) = &m.location {
                            locate.execute(params![
                                l.account,
                                l.folder,
                                l.uidvalidity,
                                l.uid,
                                id
                            ])?;
                        }
                    }
                    Item::Failure(f) => {
                        let l = f.location.as_ref();
                        fail.execute(params![
                            f.key,
                            l.map(|l| l.account.as_str()),
                            l.map(|l| l.folder.as_str()),
                            l.map(|l| l.uid),
                            f.source,
                            f.reason,
                            now_s,
                        ])?;
                        out.failed += 1;
                    }
                }
            }
            if let Some((account, folder, last_uid)) = folder_mark {
                tx.execute(
                    "UPDATE folders SET last_uid = MAX(last_uid, ?3) WHERE account = ?1 AND folder = ?2",
                    params![account, folder, last_uid],
                )?;
            }
        }
        tx.commit()?;
        Ok(out)
    }

    /// Notes the end of a sync pass over a folder: success clears the last error.
    pub fn record_folder_result(
        &mut self,
        account: &str,
        folder: &str,
        now: DateTime<Utc>,
        error: Option<&str>,
    ) -> anyhow::Result<()> {
        self.conn.execute(
            "INSERT INTO folders (account, folder, last_uid, last_sync, last_error) VALUES (?1, ?2, 0, ?3, ?4)
             ON CONFLICT (account, folder) DO UPDATE SET
                last_sync = CASE WHEN ?4 IS NULL THEN ?3 ELSE last_sync END,
                last_error = ?4",
            params![account, folder, now.to_rfc3339(), error],
        )?;
        Ok(())
    }

    pub fn status(&self) -> anyhow::Result<Status> {
        let mut accounts: Vec<AccountStatus> = Vec::new();
        let mut stmt = self.conn.prepare(
            "SELECT f.account, f.folder, f.uidvalidity, f.last_uid, f.last_sync, f.last_error,
                    (SELECT COUNT(*) FROM locations l WHERE l.account = f.account AND l.folder = f.folder
                        AND l.uidvalidity IS f.uidvalidity)
             FROM folders f ORDER BY f.account, f.folder",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                FolderStatus {
                    name: r.get(1)?,
                    uidvalidity: r.get(2)?,
                    last_uid: r.get(3)?,
                    last_sync: r.get(4)?,
                    last_error: r.get(5)?,
                    messages: r.get::<_, i64>(6)? as u64,
                },
            ))
        })?;
        for row in rows {
            let (account, folder) = row?;
            match accounts.last_mut() {
                Some(a) if a.name == account => a.folders.push(folder),
                _ => accounts.push(AccountStatus {
                    name: account,
                    folders: vec![folder],
                }),
            }
        }
        let messages: i64 = self
            .conn
            .query_row("SELECT COUNT(*) FROM messages", [], |r| r.get(0))?;
        let failed: i64 = self
            .conn
            .query_row("SELECT COUNT(*) FROM failures", [], |r| r.get(0))?;
        Ok(Status {
            accounts,
            messages: messages as u64,
            failed: failed as u64,
        })
    }
}

/// Message fixtures for the store's unit tests.
#[cfg(test)]
pub(crate) mod testing {
    use super::*;

    /// An inbound message ready to store, with no signals: `headers` (CRLF-separated, without
    /// Message-ID) and `body`, at `location` if given.
    pub fn inbound(id: &str, headers: &str, body: &str, location: Option<Location>) -> Item {
        let raw = format!("Message-ID: <{id}>\r\n{headers}\r\n\r\n{body}\r\n");
        let parsed = crate::parse::parse(raw.as_bytes(), Utc::now().fixed_offset(), false)
            .expect("a valid test message");
        Item::Message(Box::new(NewMessage {
            parsed,
            extraction: Extraction {
                flags: vec![],
                signals: vec![],
                deal_value_usd: None,
                items: Vec::new(),
            },
            direction: Direction::In,
            size: raw.len() as u64,
            location,
        }))
    }

    pub fn at(account: &str, folder: &str, uidvalidity: u32, uid: u32) -> Option<Location> {
        Some(Location {
            account: account.into(),
            folder: folder.into(),
            uidvalidity,
            uid,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(id: &str, uid: u32) -> Item {
        testing::inbound(
            id,
            "From: a@b.example\r\nSubject: s",
            "body",
            testing::at("a", "INBOX", 7, uid),
        )
    }

    #[test]
    fn migrations_run_from_an_empty_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite");
        let store = Store::open(&path).unwrap();
        let v: u32 = store
            .conn()
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(v as usize, migrations::MIGRATIONS.len());
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        drop(store);
        // Reopening is a no-op.
        let store = Store::open(&path).unwrap();
        let v: u32 = store
            .conn()
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(v as usize, migrations::MIGRATIONS.len());
        let strict: i64 = store
            .conn()
            .query_row("SELECT COUNT(*) FROM pragma_table_list WHERE schema = 'main' AND name NOT LIKE 'sqlite_%' AND strict = 0", [], |r| r.get(0))
            .unwrap();
        assert_eq!(strict, 0, "every table is STRICT");
    }

    #[test]
    fn migration_5_keeps_what_version_4_stored() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite");
        {
            let mut conn = Connection::open(&path).unwrap();
            let tx = conn.transaction().unwrap();
            for sql in &migrations::MIGRATIONS[..4] {
                tx.execute_batch(sql).unwrap();
            }
            tx.pragma_update(None, "user_version", 4).unwrap();
            tx.commit().unwrap();
            conn.execute(
                "INSERT INTO folders (account, folder, uidvalidity, last_uid) VALUES ('a', 'INBOX', 7, 42)",
                [],
            )
            .unwrap();
        }
        let store = Store::open(&path).unwrap();
        assert_eq!(
            store.folder_state("a", "INBOX").unwrap(),
            Some(FolderState {
                uidvalidity: Some(7),
                last_uid: 42
            })
        );
        let modseq: Option<i64> = store
            .conn()
            .query_row(
                "SELECT highestmodseq FROM folders WHERE account = 'a'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(modseq, None);
        let tables: i64 = store
            .conn()
            .query_row(
                "SELECT COUNT(*) FROM sqlite_schema WHERE type = 'table' AND name IN ('corrections', 'commands', 'learned_weights')",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(tables, 3);
    }

    #[test]
    fn batch_dedups_and_moves_mark() {
        let mut s = Store::open_in_memory().unwrap();
        assert!(!s.set_uidvalidity("a", "INBOX", 7).unwrap());
        let o = s
            .store_batch(
                Some(("a", "INBOX", 2)),
                &[msg("x@1", 1), msg("x@2", 2)],
                Utc::now(),
            )
            .unwrap();
        assert_eq!(
            o,
            BatchOutcome {
                stored: 2,
                duplicates: 0,
                failed: 0
            }
        );
        assert_eq!(s.folder_state("a", "INBOX").unwrap().unwrap().last_uid, 2);
        // UIDVALIDITY change: mark resets, same messages are duplicates.
        assert!(s.set_uidvalidity("a", "INBOX", 8).unwrap());
        assert_eq!(s.folder_state("a", "INBOX").unwrap().unwrap().last_uid, 0);
        let o = s
            .store_batch(
                Some(("a", "INBOX", 3)),
                &[msg("x@1", 1), msg("x@2", 2), msg("x@3", 3)],
                Utc::now(),
            )
            .unwrap();
        assert_eq!(
            o,
            BatchOutcome {
                stored: 1,
                duplicates: 2,
                failed: 0
            }
        );
        assert_eq!(s.status().unwrap().messages, 3);
    }
}
