//! Corrections and learned weights in the database, and rescoring the leads they touch.

use std::collections::BTreeMap;

use anyhow::Context;
use chrono::{DateTime, Utc};
use rusqlite::{Connection, Transaction, params};

use super::Store;
use crate::extract::Dimension;
use crate::feedback::{self, Correction, Label, Learned, LearnedWeight, NewCorrection, Source};

const CORRECTION_COLUMNS: &str = "id, lead, label, source, message_id, person, at, note";

fn correction_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Result<Correction, String>> {
    let id: i64 = r.get(0)?;
    let label: String = r.get(2)?;
    let source: String = r.get(3)?;
    let at: String = r.get(6)?;
    let built = (|| {
        Ok(Correction {
            id,
            lead: r.get(1).map_err(|e| e.to_string())?,
            label: Label::parse(&label).ok_or_else(|| format!("unknown label {label:?}"))?,
            source: Source::parse(&source).ok_or_else(|| format!("unknown source {source:?}"))?,
            message_id: r.get(4).map_err(|e| e.to_string())?,
            person: r.get(5).map_err(|e| e.to_string())?,
            at: DateTime::parse_from_rfc3339(&at)
                .map_err(|e| format!("time {at:?}: {e}"))?
                .with_timezone(&Utc),
            note: r.get(7).map_err(|e| e.to_string())?,
        })
    })();
    Ok(built.map_err(|e: String| format!("correction {id}: {e}")))
}

/// Stores one correction inside the caller's transaction; returns its id.
pub fn insert_correction(tx: &Transaction<'_>, c: &NewCorrection) -> anyhow::Result<i64> {
    tx.prepare_cached(
        "INSERT INTO corrections (lead, label, source, message_id, person, at, note)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        c.lead,
        c.label.as_str(),
        c.source.as_str(),
        c.message_id,
        c.person,
        c.at.to_rfc3339(),
        c.note
    ])?;
    tracing::info!(lead = %c.lead, label = %c.label.as_str(), source = c.source.as_str(),
        person = %c.person, message_id = ?c.message_id, "correction recorded");
    Ok(tx.last_insert_rowid())
}

fn load_corrections(
    conn: &Connection,
    filter: &str,
    args: &[&dyn rusqlite::ToSql],
) -> anyhow::Result<Vec<Correction>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {CORRECTION_COLUMNS} FROM corrections {filter} ORDER BY id"
    ))?;
    let mut out = Vec::new();
    for row in stmt.query_map(args, correction_from_row)? {
        match row? {
            Ok(c) => out.push(c),
            Err(e) => tracing::warn!("skipping unreadable correction: {e}"),
        }
    }
    Ok(out)
}

/// Every lead's corrections, folded: what scoring applies.
pub fn all_feedback(conn: &Connection) -> anyhow::Result<BTreeMap<String, feedback::LeadFeedback>> {
    let mut by_lead: BTreeMap<String, Vec<Correction>> = BTreeMap::new();
    for c in load_corrections(conn, "", &[])? {
        by_lead.entry(c.lead.clone()).or_default().push(c);
    }
    Ok(by_lead
        .into_iter()
        .map(|(l, cs)| (l, feedback::fold(cs)))
        .collect())
}

/// The newest learned set, if any.
pub fn learned(conn: &Connection) -> anyhow::Result<Option<Learned>> {
    let set: Option<(i64, String)> = rusqlite::OptionalExtension::optional(conn.query_row(
        "SELECT set_id, applied_at FROM learned_weights ORDER BY set_id DESC LIMIT 1",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    ))?;
    let Some((set_id, applied_at)) = set else {
        return Ok(None);
    };
    let mut learned = Learned {
        set_id,
        applied_at: DateTime::parse_from_rfc3339(&applied_at)
            .ok()
            .map(|d| d.with_timezone(&Utc)),
        ..Default::default()
    };
    let mut stmt = conn.prepare_cached(
        "SELECT kind, name, factor, previous, reason FROM learned_weights WHERE set_id = ?1 ORDER BY id",
    )?;
    let rows = stmt.query_map([set_id], |r| {
        Ok((
            r.get::<_, String>(0)?,
            LearnedWeight {
                name: r.get(1)?,
                factor: r.get(2)?,
                previous: r.get(3)?,
                reason: r.get(4)?,
            },
        ))
    })?;
    for row in rows {
        let (kind, w) = row?;
        match kind.as_str() {
            "rule" => {
                learned.rules.insert(w.name.clone(), w);
            }
            _ => match Dimension::parse(&w.name) {
                Some(d) => {
                    learned.dimensions.insert(d, w);
                }
                None => {
                    tracing::warn!(name = %w.name, "ignoring a learned weight for an unknown dimension")
                }
            },
        }
    }
    Ok(Some(learned))
}

impl Store {
    /// Stores corrections in one transaction; returns their ids.
    pub fn add_corrections(&mut self, cs: &[NewCorrection]) -> anyhow::Result<Vec<i64>> {
        let tx = self.conn.transaction()?;
        let ids = cs
            .iter()
            .map(|c| insert_correction(&tx, c))
            .collect::<anyhow::Result<Vec<_>>>()?;
        tx.commit()?;
        Ok(ids)
    }

    pub fn corrections_for(&self, lead: &str) -> anyhow::Result<Vec<Correction>> {
        load_corrections(&self.conn, "WHERE lead = ?1", &[&lead])
    }

    pub fn all_corrections(&self) -> anyhow::Result<Vec<Correction>> {
        load_corrections(&self.conn, "", &[])
    }

    pub fn learned(&self) -> anyhow::Result<Option<Learned>> {
        learned(&self.conn)
    }

    /// Stores a new learned set (one transaction); returns its set id.
    pub fn store_learned(
        &mut self,
        rules: &[LearnedWeight],
        dimensions: &[LearnedWeight],
        at: DateTime<Utc>,
    ) -> anyhow::Result<i64> {
        let tx = self.conn.transaction()?;
        let set_id: i64 = tx.query_row(
            "SELECT COALESCE(MAX(set_id), 0) + 1 FROM learned_weights",
            [],
            |r| r.get(0),
        )?;
        {
            let mut ins = tx.prepare(
                "INSERT INTO learned_weights (set_id, applied_at, kind, name, factor, previous, reason)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?;
            for (kind, ws) in [("rule", rules), ("dimension", dimensions)] {
                for w in ws {
                    ins.execute(params![
                        set_id,
                        at.to_rfc3339(),
                        kind,
                        w.name,
                        w.factor,
                        w.previous,
                        w.reason
                    ])
                    .with_context(|| format!("storing the learned weight of {kind} {}", w.name))?;
                }
            }
        }
        tx.commit()?;
        Ok(set_id)
    }
}

impl Store {
    /// The lead a person means by `name`: a lead as listed (`acme.example`, `bob@gmail.com`), any
    /// address of a lead's company (`li@sales.acme.example` → `acme.example`), or a subdomain.
    /// None when no stored lead matches.
    pub fn resolve_lead(
        &self,
        name: &str,
        settings: &crate::config::Settings,
    ) -> anyhow::Result<Option<String>> {
        let name = name
            .trim()
            .trim_matches(|c| c == '<' || c == '>')
            .to_lowercase();
        if name.is_empty() {
            return Ok(None);
        }
        let mut candidates = vec![name.clone()];
        if name.contains('@') {
            candidates.extend(crate::score::group::lead_key(&name, settings));
        } else {
            candidates.extend(psl::domain_str(&name).map(str::to_string));
        }
        let mut stmt = self
            .conn
            .prepare_cached("SELECT lead FROM leads WHERE lead = ?1")?;
        for c in candidates {
            if let Some(l) =
                rusqlite::OptionalExtension::optional(stmt.query_row([&c], |r| r.get(0)))?
            {
                return Ok(Some(l));
            }
        }
        Ok(None)
    }
}

/// What `learn --apply` did.
#[derive(Debug, Clone, PartialEq)]
pub enum LearnOutcome {
    /// Fewer hand-classed hot or dropped leads than `[feedback] min_leads_per_class`.
    NotEnough {
        hot: usize,
        dropped: usize,
        min: u32,
    },
    /// The corrections agree with the weights in force: nothing stored.
    NothingToChange,
    Applied {
        set_id: i64,
        rules: Vec<LearnedWeight>,
        dimensions: Vec<LearnedWeight>,
        rescored: usize,
    },
}

impl Store {
    /// `learn --report`: rule statistics and proposals from the current corrections.
    pub fn learn_report(
        &self,
        settings: &crate::config::Settings,
        now: DateTime<Utc>,
    ) -> anyhow::Result<feedback::learn::LearnReport> {
        let reports = self.compute_reports(settings, now)?;
        let learned = self.learned()?;
        Ok(feedback::learn::analyse(
            &reports,
            &settings.scoring.weights,
            learned.as_ref(),
            &settings.feedback,
        ))
    }

    /// `learn --apply`: stores the proposals as a new learned set and rescores every lead, when
    /// there are enough corrections. Every stored weight is logged.
    pub fn learn_apply(
        &mut self,
        settings: &crate::config::Settings,
        now: DateTime<Utc>,
    ) -> anyhow::Result<LearnOutcome> {
        let report = self.learn_report(settings, now)?;
        if !report.enough {
            return Ok(LearnOutcome::NotEnough {
                hot: report.hot,
                dropped: report.dropped,
                min: report.min_leads_per_class,
            });
        }
        let (rules, dimensions) = feedback::learn::proposal(&report);
        let current = self.learned()?.unwrap_or_default();
        let same_rules = rules.len() == current.rules.len()
            && rules.iter().all(|w| {
                current
                    .rules
                    .get(&w.name)
                    .is_some_and(|c| c.factor == w.factor)
            });
        let same_dims = dimensions.len() == current.dimensions.len()
            && dimensions.iter().all(|w| {
                Dimension::parse(&w.name)
                    .and_then(|d| current.dimensions.get(&d))
                    .is_some_and(|c| c.factor == w.factor)
            });
        if same_rules && same_dims {
            return Ok(LearnOutcome::NothingToChange);
        }
        let set_id = self.store_learned(&rules, &dimensions, now)?;
        for w in &rules {
            tracing::info!(set_id, rule = %w.name, factor = w.factor, previous = w.previous, "learned rule weight: {}", w.reason);
        }
        for w in &dimensions {
            tracing::info!(set_id, dimension = %w.name, weight = w.factor, previous = w.previous, "learned dimension weight: {}", w.reason);
        }
        let rescored = self.rescore_all(settings, now)?;
        Ok(LearnOutcome::Applied {
            set_id,
            rules,
            dimensions,
            rescored,
        })
    }
}

/// For `status`: how much correcting has happened.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct FeedbackSummary {
    /// Corrections per source.
    pub corrections: BTreeMap<String, i64>,
    pub last_correction: Option<String>,
    /// Digest replies per status (pending, applied, ignored).
    pub digest_replies: BTreeMap<String, i64>,
    pub learned_set: Option<i64>,
    pub learned_at: Option<String>,
}

impl Store {
    pub fn feedback_summary(&self) -> anyhow::Result<FeedbackSummary> {
        let mut s = FeedbackSummary::default();
        let counts = |sql: &str| -> anyhow::Result<BTreeMap<String, i64>> {
            let mut stmt = self.conn.prepare(sql)?;
            let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
            Ok(rows.collect::<Result<_, _>>()?)
        };
        s.corrections = counts("SELECT source, COUNT(*) FROM corrections GROUP BY source")?;
        s.digest_replies = counts("SELECT status, COUNT(*) FROM commands GROUP BY status")?;
        s.last_correction = self
            .conn
            .query_row("SELECT MAX(at) FROM corrections", [], |r| r.get(0))?;
        if let Some(l) = self.learned()? {
            s.learned_set = Some(l.set_id);
            s.learned_at = l.applied_at.map(|d| d.to_rfc3339());
        }
        Ok(s)
    }
}

impl FeedbackSummary {
    /// One line for `status`.
    pub fn line(&self) -> String {
        let total: i64 = self.corrections.values().sum();
        let by = self
            .corrections
            .iter()
            .map(|(k, n)| {
                let src = Source::parse(k).map_or(k.as_str(), |s| s.describe());
                format!("{n} {src}")
            })
            .collect::<Vec<_>>()
            .join(", ");
        let mut out = format!("feedback: {total} correction(s)");
        if total > 0 {
            out.push_str(&format!(
                " ({by}), last {}",
                self.last_correction.as_deref().unwrap_or("?")
            ));
        }
        let replies = self
            .digest_replies
            .iter()
            .map(|(k, n)| format!("{n} {k}"))
            .collect::<Vec<_>>()
            .join(", ");
        if !replies.is_empty() {
            out.push_str(&format!("; digest replies: {replies}"));
        }
        match (self.learned_set, &self.learned_at) {
            (Some(id), Some(at)) => out.push_str(&format!("; learned weights: set {id} from {at}")),
            _ => out.push_str("; learned weights: none"),
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Settings;
    use crate::score::Class;
    use crate::store::Item;

    fn settings(dir: &std::path::Path) -> Settings {
        let text = format!(
            "[storage]\npath = \"{}/db\"\n[me]\naddresses = [\"sales@ourco.example\"]\n",
            dir.display()
        );
        Settings::from_toml(&text, &dir.join("leadsift.toml")).unwrap()
    }

    fn inbound(id: &str) -> Item {
        crate::store::testing::inbound(
            id,
            "From: Li <li@acme.example>\r\nTo: sales@ourco.example\r\nSubject: valves",
            "quote please",
            None,
        )
    }

    fn stored_class(st: &Store) -> String {
        st.conn()
            .query_row(
                "SELECT class FROM leads WHERE lead = 'acme.example'",
                [],
                |r| r.get(0),
            )
            .unwrap()
    }

    #[test]
    fn corrections_stored_but_not_rescored_are_caught_up_by_the_next_refresh() {
        let dir = tempfile::tempdir().unwrap();
        let s = settings(dir.path());
        let now = Utc::now();
        let mut st = Store::open_in_memory().unwrap();
        st.store_batch(None, &[inbound("q@acme.example")], now)
            .unwrap();
        st.refresh_leads(&s, now).unwrap();
        assert_ne!(stored_class(&st), "drop");
        // As if the process died right after the corrections committed.
        st.add_corrections(&[NewCorrection {
            lead: "acme.example".into(),
            label: Label::Class(Class::Drop),
            source: Source::Cli,
            message_id: None,
            person: "ann".into(),
            at: now,
            note: None,
        }])
        .unwrap();
        assert_ne!(stored_class(&st), "drop");
        // No new mail: the refresh still rescores the corrected lead, once.
        assert_eq!(st.refresh_leads(&s, now).unwrap(), 1);
        assert_eq!(stored_class(&st), "drop");
        assert_eq!(st.refresh_leads(&s, now).unwrap(), 0);
    }

    #[test]
    fn every_lead_is_rescored_once_a_day() {
        let dir = tempfile::tempdir().unwrap();
        let s = settings(dir.path());
        let now = Utc::now();
        let mut st = Store::open_in_memory().unwrap();
        st.store_batch(None, &[inbound("q@acme.example")], now)
            .unwrap();
        let day = chrono::TimeDelta::hours(24);
        assert!(st.rescore_all_if_older(day, &s, now).unwrap(), "never ran");
        assert!(
            !st.rescore_all_if_older(day, &s, now + chrono::TimeDelta::hours(23))
                .unwrap()
        );
        assert!(
            st.rescore_all_if_older(day, &s, now + chrono::TimeDelta::hours(25))
                .unwrap()
        );
    }
}
