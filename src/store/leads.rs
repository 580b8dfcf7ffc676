//! Scores in the database: loading what scoring needs (no body text), and writing each lead's
//! report. `refresh_leads` is incremental from a watermark (the highest message row scored), so a
//! crash between storing and scoring only delays the scores; `rescore_all` recomputes everything.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use anyhow::Context;
use chrono::{DateTime, Utc};
use rusqlite::{Transaction, params};

use super::{Direction, Store};
use crate::config::Settings;
use crate::feedback::{LeadFeedback, Learned};
use crate::score::{self, LeadReport, MessageView, group};

const WATERMARK: &str = "scored_upto";
/// The highest correction id whose lead has been rescored: a crash between storing corrections
/// and rescoring only delays the rescore to the next refresh.
const CORRECTIONS_WATERMARK: &str = "corrections_scored_upto";
/// When every lead was last rescored (RFC 3339): classes also change by decay alone.
const FULL_RESCORE_AT: &str = "full_rescore_at";

/// Past this many new messages, `refresh_leads` rescores everything in one pass.
const FULL_RESCORE_ABOVE: usize = 2_000;

const VIEW_COLUMNS: &str = "m.id, m.message_id, m.direction, m.date, m.from_addr, m.reply_to, m.recipients, m.subject, m.refs, m.extraction";

fn view_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Result<MessageView, String>> {
    let id: i64 = r.get(0)?;
    let direction: String = r.get(2)?;
    let date: String = r.get(3)?;
    let recipients: String = r.get(6)?;
    let refs: String = r.get(8)?;
    let extraction: String = r.get(9)?;
    let message_id: String = r.get(1)?;
    let build = || -> Result<MessageView, String> {
        Ok(MessageView {
            id,
            direction: if direction == "out" {
                Direction::Out
            } else {
                Direction::In
            },
            date: DateTime::parse_from_rfc3339(&date).map_err(|e| format!("date: {e}"))?,
            from: r.get(4).map_err(|e| e.to_string())?,
            reply_to: r.get(5).map_err(|e| e.to_string())?,
            recipients: serde_json::from_str(&recipients)
                .map_err(|e| format!("recipients: {e}"))?,
            subject: r.get(7).map_err(|e| e.to_string())?,
            refs: serde_json::from_str(&refs).map_err(|e| format!("refs: {e}"))?,
            extraction: serde_json::from_str(&extraction)
                .map_err(|e| format!("extraction: {e}"))?,
            message_id: message_id.clone(),
        })
    };
    Ok(build().map_err(|e| format!("message row {id} <{message_id}>: {e}")))
}

/// Replies to the digest are commands, never part of a lead.
const NOT_A_COMMAND: &str = "NOT EXISTS (SELECT 1 FROM commands c WHERE c.message = m.id)";

/// `join` and `filter` narrow the messages; command mails are always left out.
fn load_views(
    conn: &rusqlite::Connection,
    join: &str,
    filter: &str,
    args: &[&dyn rusqlite::ToSql],
) -> anyhow::Result<Vec<MessageView>> {
    let filter = if filter.is_empty() {
        NOT_A_COMMAND.to_string()
    } else {
        format!("{filter} AND {NOT_A_COMMAND}")
    };
    let sql = format!("SELECT {VIEW_COLUMNS} FROM messages m {join} WHERE {filter} ORDER BY m.id");
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(args, view_from_row)?;
    let mut out = Vec::new();
    for row in rows {
        match row? {
            Ok(v) => out.push(v),
            // A damaged row must not stop scoring of everything else.
            Err(e) => tracing::warn!("skipping unreadable stored message: {e}"),
        }
    }
    Ok(out)
}

impl Store {
    /// Every stored message, as scoring sees it, in storage order.
    pub fn message_views(&self) -> anyhow::Result<Vec<MessageView>> {
        load_views(&self.conn, "", "", &[])
    }

    /// Every lead's corrections and the learned weights: what scoring applies besides the mail.
    pub fn scoring_inputs(&self) -> anyhow::Result<ScoringInputs> {
        Ok(ScoringInputs {
            feedback: super::feedback::all_feedback(&self.conn)?,
            learned: super::feedback::learned(&self.conn)?,
        })
    }

    /// Fresh reports for every lead (not written anywhere): what `leads` and `explain` show.
    pub fn compute_reports(
        &self,
        settings: &Settings,
        now: DateTime<Utc>,
    ) -> anyhow::Result<Vec<LeadReport>> {
        let views = self.message_views()?;
        let inputs = self.scoring_inputs()?;
        Ok(score::score_all_with(
            &views,
            settings,
            &inputs.feedback,
            inputs.learned.as_ref(),
            now,
        ))
    }

    /// Recomputes every lead from scratch and replaces the stored reports.
    pub fn rescore_all(
        &mut self,
        settings: &Settings,
        now: DateTime<Utc>,
    ) -> anyhow::Result<usize> {
        detect_commands(&self.conn, 0, now)?;
        let views = self.message_views()?;
        let inputs = self.scoring_inputs()?;
        let groups = group::group(&views, settings);
        let max_id = views.iter().map(|v| v.id).max().unwrap_or(0);
        let tx = self.conn.transaction()?;
        // Most memberships do not change between rescores: write only the difference.
        let mut old: HashMap<String, HashSet<i64>> = HashMap::new();
        {
            let mut stmt = tx.prepare("SELECT lead, message FROM message_leads")?;
            for row in stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))? {
                let (lead, id) = row?;
                old.entry(lead).or_default().insert(id);
            }
        }
        // Scoring and serialising are pure: spread them over the cores, then write in order.
        let ordered: Vec<(&String, &Vec<usize>)> = groups.iter().collect();
        let workers = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .clamp(1, 8);
        let chunk = ordered.len().div_ceil(workers).max(1);
        let scored: Vec<anyhow::Result<Vec<(LeadReport, String)>>> = std::thread::scope(|scope| {
            let handles: Vec<_> = ordered
                .chunks(chunk)
                .map(|part| {
                    let views = &views;
                    let inputs = &inputs;
                    scope.spawn(move || {
                        part.iter()
                            .map(|(lead, idx)| {
                                let ms: Vec<&MessageView> =
                                    idx.iter().map(|&i| &views[i]).collect();
                                let report = inputs.score(lead, &ms, settings, now);
                                let json = serde_json::to_string(&report)?;
                                Ok((report, json))
                            })
                            .collect()
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err(anyhow::anyhow!("a scoring thread panicked")))
                })
                .collect()
        });
        {
            let mut ins =
                tx.prepare_cached("INSERT INTO message_leads (lead, message) VALUES (?1, ?2)")?;
            let mut upsert = tx.prepare_cached(UPSERT_REPORT)?;
            for part in scored {
                for (report, json) in part? {
                    upsert.execute(params![
                        report.lead,
                        report.class.as_str(),
                        report.score,
                        json,
                        now.to_rfc3339()
                    ])?;
                    let mut known = old.get_mut(&report.lead);
                    for &i in groups_index(&ordered, &report.lead) {
                        let id = views[i].id;
                        if !known.as_mut().is_some_and(|k| k.remove(&id)) {
                            ins.execute(params![report.lead, id])?;
                        }
                    }
                }
            }
            let mut del =
                tx.prepare_cached("DELETE FROM message_leads WHERE lead = ?1 AND message = ?2")?;
            for (lead, ids) in &old {
                for id in ids {
                    del.execute(params![lead, id])?;
                }
            }
        }
        // Leads that no longer exist (e.g. a domain became ours).
        tx.execute(
            "CREATE TEMP TABLE IF NOT EXISTS live_leads (lead TEXT PRIMARY KEY)",
            [],
        )?;
        tx.execute("DELETE FROM live_leads", [])?;
        {
            let mut ins = tx.prepare_cached("INSERT INTO live_leads (lead) VALUES (?1)")?;
            for lead in groups.keys() {
                ins.execute([lead])?;
            }
        }
        tx.execute(
            "DELETE FROM leads WHERE lead NOT IN (SELECT lead FROM live_leads)",
            [],
        )?;
        set_watermark(&tx, max_id)?;
        let corrections_upto: i64 =
            tx.query_row("SELECT COALESCE(MAX(id), 0) FROM corrections", [], |r| {
                r.get(0)
            })?;
        set_meta(&tx, CORRECTIONS_WATERMARK, &corrections_upto.to_string())?;
        set_meta(&tx, FULL_RESCORE_AT, &now.to_rfc3339())?;
        tx.commit()?;
        Ok(groups.len())
    }

    /// Rescores every lead when the last full rescore is older than `max_age` (or never ran), so
    /// stored classes follow decay too (leadsift's class keywords are written from them).
    /// Returns whether it ran.
    pub fn rescore_all_if_older(
        &mut self,
        max_age: chrono::TimeDelta,
        settings: &Settings,
        now: DateTime<Utc>,
    ) -> anyhow::Result<bool> {
        let last = meta(&self.conn, FULL_RESCORE_AT)?
            .and_then(|v| DateTime::parse_from_rfc3339(&v).ok())
            .map(|d| d.with_timezone(&Utc));
        if last.is_some_and(|t| now - t < max_age) {
            return Ok(false);
        }
        self.rescore_all(settings, now)?;
        Ok(true)
    }

    /// Scores the leads touched by messages stored since the last refresh. Returns how many leads
    /// were updated.
    pub fn refresh_leads(
        &mut self,
        settings: &Settings,
        now: DateTime<Utc>,
    ) -> anyhow::Result<usize> {
        let upto = watermark(&self.conn)?;
        detect_commands(&self.conn, upto, now)?;
        let new = load_views(&self.conn, "", "m.id > ?1", &[&upto])?;
        let Some(max_id) = new.iter().map(|v| v.id).max() else {
            return self.rescore_leads(&BTreeSet::new(), settings, now);
        };
        if new.len() > FULL_RESCORE_ABOVE {
            // A first sync or a big import: one full pass is cheaper than many partial ones.
            return self.rescore_all(settings, now);
        }
        let inputs = self.scoring_inputs()?;
        let tx = self.conn.transaction()?;
        // Leads each new message may belong to: its sender's, its recipients', its thread's.
        let mut keys: Vec<BTreeSet<String>> = vec![BTreeSet::new(); new.len()];
        {
            let mut by_ref = tx.prepare_cached(
                "SELECT ml.lead FROM message_leads ml JOIN messages m ON m.id = ml.message WHERE m.message_id = ?1",
            )?;
            for (i, m) in new.iter().enumerate() {
                keys[i].extend(m.from.as_deref().and_then(|f| group::lead_key(f, settings)));
                if m.direction == Direction::Out {
                    keys[i].extend(
                        m.recipients
                            .iter()
                            .filter_map(|r| group::lead_key(r, settings)),
                    );
                }
                for r in &m.refs {
                    for l in by_ref.query_map([r], |row| row.get::<_, String>(0))? {
                        keys[i].insert(l?);
                    }
                }
            }
        }
        // Threads among the new messages themselves (a reply stored with its inquiry); two passes
        // reach replies that were stored before what they answer.
        let pos: HashMap<&str, usize> = new
            .iter()
            .enumerate()
            .map(|(i, m)| (m.message_id.as_str(), i))
            .collect();
        for _ in 0..2 {
            for i in 0..new.len() {
                let inherited: Vec<String> = new[i]
                    .refs
                    .iter()
                    .filter_map(|r| pos.get(r.as_str()))
                    .flat_map(|&j| keys[j].iter().cloned())
                    .collect();
                keys[i].extend(inherited);
            }
        }
        let mut by_lead: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for (i, ks) in keys.iter().enumerate() {
            for k in ks {
                by_lead.entry(k.as_str()).or_default().push(i);
            }
        }
        let mut updated = 0;
        for (lead, idx) in &by_lead {
            // The lead's known messages plus its new ones; grouping decides membership.
            let candidates = known_messages(&tx, lead, upto)?
                .into_iter()
                .chain(idx.iter().map(|&i| new[i].clone()));
            if rescore_one(&tx, lead, candidates.collect(), settings, &inputs, now)? {
                updated += 1;
            }
        }
        set_watermark(&tx, max_id)?;
        tx.commit()?;
        // Leads corrected since they were last scored.
        Ok(updated + self.rescore_leads(&BTreeSet::new(), settings, now)?)
    }

    /// Rescores the named leads from their stored messages, and every lead with corrections made
    /// since it was last scored.
    pub fn rescore_leads(
        &mut self,
        leads: &BTreeSet<String>,
        settings: &Settings,
        now: DateTime<Utc>,
    ) -> anyhow::Result<usize> {
        let corrected_upto: i64 = meta(&self.conn, CORRECTIONS_WATERMARK)?
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let (corrected, newest): (BTreeSet<String>, i64) = {
            let mut stmt = self
                .conn
                .prepare_cached("SELECT lead, id FROM corrections WHERE id > ?1")?;
            let rows = stmt.query_map([corrected_upto], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
            })?;
            let mut leads = BTreeSet::new();
            let mut newest = corrected_upto;
            for row in rows {
                let (lead, id) = row?;
                leads.insert(lead);
                newest = newest.max(id);
            }
            (leads, newest)
        };
        if leads.is_empty() && corrected.is_empty() {
            return Ok(0);
        }
        let inputs = self.scoring_inputs()?;
        let upto = watermark(&self.conn)?;
        let tx = self.conn.transaction()?;
        let mut updated = 0;
        for lead in leads.union(&corrected) {
            let candidates = known_messages(&tx, lead, upto)?;
            if rescore_one(&tx, lead, candidates, settings, &inputs, now)? {
                updated += 1;
            }
        }
        if newest > corrected_upto {
            set_meta(&tx, CORRECTIONS_WATERMARK, &newest.to_string())?;
        }
        tx.commit()?;
        Ok(updated)
    }

    /// The stored reports, sorted like `leads`.
    pub fn stored_reports(&self) -> anyhow::Result<Vec<LeadReport>> {
        let mut stmt = self
            .conn
            .prepare("SELECT lead, report FROM leads ORDER BY lead")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
        let mut out = Vec::new();
        for row in rows {
            let (lead, json) = row?;
            out.push(
                serde_json::from_str(&json)
                    .with_context(|| format!("stored report of lead {lead}"))?,
            );
        }
        score::sort_reports(&mut out);
        Ok(out)
    }

    /// Stored class per lead (for "moved since" comparisons).
    pub fn stored_classes(&self) -> anyhow::Result<BTreeMap<String, String>> {
        let mut stmt = self.conn.prepare("SELECT lead, class FROM leads")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

/// Corrections and learned weights, loaded once per scoring run.
#[derive(Debug, Default)]
pub struct ScoringInputs {
    pub feedback: BTreeMap<String, LeadFeedback>,
    pub learned: Option<Learned>,
}

impl ScoringInputs {
    pub fn score(
        &self,
        lead: &str,
        messages: &[&MessageView],
        settings: &Settings,
        now: DateTime<Utc>,
    ) -> LeadReport {
        let none = LeadFeedback::default();
        let fb = self.feedback.get(lead).unwrap_or(&none);
        score::score_lead_with(lead, messages, settings, fb, self.learned.as_ref(), now)
    }
}

/// A lead's messages as scored so far (up to the watermark).
fn known_messages(tx: &Transaction<'_>, lead: &str, upto: i64) -> anyhow::Result<Vec<MessageView>> {
    load_views(
        tx,
        "JOIN message_leads ml ON ml.message = m.id",
        "ml.lead = ?1 AND m.id <= ?2",
        &[&lead, &upto],
    )
}

/// Groups `candidates`, scores `lead` and writes its report; false when the lead has no messages.
fn rescore_one(
    tx: &Transaction<'_>,
    lead: &str,
    candidates: Vec<MessageView>,
    settings: &Settings,
    inputs: &ScoringInputs,
    now: DateTime<Utc>,
) -> anyhow::Result<bool> {
    let groups = group::group(&candidates, settings);
    let Some(members) = groups.get(lead) else {
        return Ok(false);
    };
    let ms: Vec<&MessageView> = members.iter().map(|&i| &candidates[i]).collect();
    let report = inputs.score(lead, &ms, settings, now);
    write_lead(tx, &report, ms.iter().map(|m| m.id), now)?;
    Ok(true)
}

/// Marks every message after row `after` that answers a digest we sent (its References or
/// In-Reply-To name a digest's Message-ID) as a pending command: kept out of scoring, verified
/// and applied by `store::commands`. Either direction: the salespeople who answer the digest are
/// usually among `[me]`, which makes their replies outbound.
fn detect_commands(
    conn: &rusqlite::Connection,
    after: i64,
    now: DateTime<Utc>,
) -> anyhow::Result<usize> {
    let n = conn
        .prepare_cached(
            "INSERT OR IGNORE INTO commands (message, digest, status, sender, detected_at)
             SELECT m.id, MIN(d.id), 'pending', m.from_addr, ?2
             FROM messages m, json_each(m.refs) r
             JOIN digests d ON d.message_id = '<' || r.value || '>'
             WHERE m.id > ?1 AND json_valid(m.refs)
             GROUP BY m.id",
        )?
        .execute(params![after, now.to_rfc3339()])
        .context("finding replies to the digest")?;
    if n > 0 {
        tracing::info!(
            replies = n,
            "replies to the digest found: kept out of scoring"
        );
    }
    Ok(n)
}

const UPSERT_REPORT: &str =
    "INSERT INTO leads (lead, class, score, report, updated_at) VALUES (?1, ?2, ?3, ?4, ?5)
     ON CONFLICT (lead) DO UPDATE SET class = ?2, score = ?3, report = ?4, updated_at = ?5";

/// The message indices of `lead` in the groups (sorted by lead, as a BTreeMap yields them).
fn groups_index<'a>(groups: &'a [(&String, &Vec<usize>)], lead: &str) -> &'a [usize] {
    groups
        .binary_search_by(|(l, _)| l.as_str().cmp(lead))
        .map(|i| groups[i].1.as_slice())
        .unwrap_or(&[])
}

fn upsert_report(
    tx: &Transaction<'_>,
    report: &LeadReport,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    tx.prepare_cached(UPSERT_REPORT)?.execute(params![
        report.lead,
        report.class.as_str(),
        report.score,
        serde_json::to_string(report)?,
        now.to_rfc3339()
    ])?;
    Ok(())
}

fn write_lead(
    tx: &Transaction<'_>,
    report: &LeadReport,
    messages: impl Iterator<Item = i64>,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    upsert_report(tx, report, now)?;
    let mut ins =
        tx.prepare_cached("INSERT OR IGNORE INTO message_leads (lead, message) VALUES (?1, ?2)")?;
    for id in messages {
        ins.execute(params![report.lead, id])?;
    }
    Ok(())
}

fn watermark(conn: &rusqlite::Connection) -> anyhow::Result<i64> {
    Ok(meta(conn, WATERMARK)?
        .and_then(|v| v.parse().ok())
        .unwrap_or(0))
}

fn meta(conn: &rusqlite::Connection, key: &str) -> anyhow::Result<Option<String>> {
    Ok(rusqlite::OptionalExtension::optional(conn.query_row(
        "SELECT value FROM meta WHERE key = ?1",
        [key],
        |r| r.get(0),
    ))?)
}

fn set_meta(tx: &Transaction<'_>, key: &str, value: &str) -> anyhow::Result<()> {
    tx.execute(
        "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = ?2",
        params![key, value],
    )?;
    Ok(())
}

fn set_watermark(tx: &Transaction<'_>, id: i64) -> anyhow::Result<()> {
    set_meta(tx, WATERMARK, &id.to_string())
}

impl Store {
    /// Runs extraction again on every stored inbound message (after the patterns changed).
    pub fn reextract_all(&mut self, settings: &Settings) -> anyhow::Result<usize> {
        // With the vocabulary learned from our own mail, as a vocabulary refresh would.
        let extractor = self.vocabulary_extractor(settings)?;
        let tx = self.conn.transaction()?;
        let mut n = 0;
        {
            let mut read =
                tx.prepare("SELECT id, parsed FROM messages WHERE direction = 'in' ORDER BY id")?;
            let mut write = tx.prepare("UPDATE messages SET extraction = ?2 WHERE id = ?1")?;
            let rows = read.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))?;
            for row in rows {
                let (id, parsed) = row?;
                match serde_json::from_str::<crate::parse::ParsedMessage>(&parsed) {
                    Ok(p) => {
                        let ex = extractor.extract(&p);
                        write.execute(params![id, serde_json::to_string(&ex)?])?;
                        n += 1;
                    }
                    Err(e) => tracing::warn!(row = id, "cannot re-extract stored message: {e}"),
                }
            }
        }
        tx.commit()?;
        Ok(n)
    }
}
