//! Tags by folder (`[feedback.folders]`): for servers that keep no custom keywords (Exchange /
//! Microsoft 365) and for Gmail, whose labels are folders over IMAP. Each pass records which
//! Message-IDs each training folder holds (`folder_tags.present`); a message that arrived there
//! becomes the folder's correction for its lead, one that left takes it back (`applied` follows
//! `present` once the correction is stored). Matched to leads by Message-ID, so a message moved
//! (or copied, or labelled) into the folder counts once, whatever its UID there.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Context;
use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};
use tracing::{debug, info, warn};

use super::Store;
use super::feedback::insert_correction;
use super::keywords::{MarkState, undo_label};
use crate::config::Settings;
use crate::feedback::{NewCorrection, Source};

impl Store {
    /// One complete read of training folder `folder`: the Message-IDs it holds now. Returns how
    /// many tags now wait to be applied or withdrawn for this folder.
    pub fn record_folder_tags(
        &mut self,
        account: &str,
        folder: &str,
        message_ids: &BTreeSet<String>,
    ) -> anyhow::Result<usize> {
        let tx = self.conn.transaction()?;
        tx.execute(
            "UPDATE folder_tags SET present = 0 WHERE account = ?1 AND folder = ?2",
            params![account, folder],
        )?;
        {
            let mut up = tx.prepare_cached(
                "INSERT INTO folder_tags (account, folder, message_id, present, applied)
                 VALUES (?1, ?2, ?3, 1, 0)
                 ON CONFLICT (account, folder, message_id) DO UPDATE SET present = 1",
            )?;
            for id in message_ids {
                up.execute(params![account, folder, id])?;
            }
        }
        let pending: i64 = tx.query_row(
            "SELECT COUNT(*) FROM folder_tags WHERE account = ?1 AND folder = ?2 AND present != applied",
            params![account, folder],
            |r| r.get(0),
        )?;
        tx.commit()?;
        Ok(usize::try_from(pending).unwrap_or(0))
    }

    /// Turns the training folders' changes into corrections (source keyword, the message's
    /// Message-ID, the IMAP user as the person), in one transaction. A message not stored yet
    /// waits for a later pass. Returns the leads that got corrections: rescore them.
    pub fn apply_folder_tags(
        &mut self,
        account: &crate::config::Account,
        settings: &Settings,
        now: DateTime<Utc>,
    ) -> anyhow::Result<BTreeSet<String>> {
        let fb = &settings.feedback;
        // Message-ID → (folder, present) of each change.
        let mut changes: BTreeMap<String, Vec<(String, bool)>> = BTreeMap::new();
        {
            let mut stmt = self.conn.prepare_cached(
                "SELECT message_id, folder, present FROM folder_tags
                 WHERE account = ?1 AND present != applied ORDER BY message_id, folder",
            )?;
            let rows = stmt.query_map([&account.name], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)? == 1,
                ))
            })?;
            for row in rows {
                let (id, folder, present) = row?;
                changes.entry(id).or_default().push((folder, present));
            }
        }
        if changes.is_empty() {
            return Ok(BTreeSet::new());
        }
        let person = format!("IMAP user {} (account {})", account.username, account.name);
        let mut states: BTreeMap<String, MarkState> = BTreeMap::new();
        let mut corrections = Vec::new();
        let mut done: Vec<(String, String)> = Vec::new();
        for (message_id, folders) in &changes {
            let message: Option<(i64, String, Option<String>)> = self
                .conn
                .prepare_cached(
                    "SELECT id, direction, from_addr FROM messages WHERE message_id = ?1
                     ORDER BY id LIMIT 1",
                )?
                .query_row([message_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .optional()?;
            let Some((mid, direction, from)) = message else {
                // Tagged before leadsift synced it (or never synced): applied once it arrives.
                debug!(account = %account.name, message_id = %message_id,
                    "a message in a training folder is not stored yet: its tag waits");
                continue;
            };
            let lead = self.lead_of(mid, &direction, from.as_deref(), settings)?;
            let Some(lead) = lead else {
                warn!(account = %account.name, message_id = %message_id,
                    "message in a training folder belongs to no lead: ignored");
                done.extend(folders.iter().map(|(f, _)| (f.clone(), message_id.clone())));
                continue;
            };
            if !states.contains_key(&lead) {
                let mut st = MarkState::default();
                for c in self.corrections_for(&lead)? {
                    st.apply(c.label);
                }
                states.insert(lead.clone(), st);
            }
            let st = states.entry(lead.clone()).or_default();
            // Removals first, so a message moved from Leads/Hot to Leads/Drop ends as drop.
            let mut ordered: Vec<&(String, bool)> = folders.iter().collect();
            ordered.sort_by_key(|(_, present)| *present);
            for (folder, present) in ordered {
                done.push((folder.clone(), message_id.clone()));
                // A folder no longer configured: its state is cleared without a correction.
                let Some(tag) = fb.folder_label(folder) else {
                    continue;
                };
                let label = if *present {
                    Some(tag)
                } else {
                    undo_label(tag, st)
                };
                let Some(label) = label else { continue };
                st.apply(label);
                let verb = if *present {
                    "moved or copied into"
                } else {
                    "taken out of"
                };
                info!(account = %account.name, folder = %folder, message_id = %message_id,
                    lead = %lead, label = %label.as_str(), "message {verb} a training folder");
                corrections.push(NewCorrection {
                    lead: lead.clone(),
                    label,
                    source: Source::Keyword,
                    message_id: Some(message_id.clone()),
                    person: person.clone(),
                    at: now,
                    note: Some(format!("message {verb} training folder {folder}")),
                });
            }
        }
        let touched: BTreeSet<String> = corrections.iter().map(|c| c.lead.clone()).collect();
        let tx = self.conn.transaction()?;
        for c in &corrections {
            insert_correction(&tx, c)?;
        }
        {
            let mut upd = tx.prepare_cached(
                "UPDATE folder_tags SET applied = present
                 WHERE account = ?1 AND folder = ?2 AND message_id = ?3",
            )?;
            for (folder, id) in &done {
                upd.execute(params![account.name, folder, id])?;
            }
        }
        tx.execute(
            "DELETE FROM folder_tags WHERE account = ?1 AND present = 0 AND applied = 0",
            [&account.name],
        )?;
        tx.commit()
            .context("storing the corrections from training folders")?;
        Ok(touched)
    }
}
