//! The business vocabulary learned from our own outbound mail ([`crate::extract::catalogue::learn`]):
//! counted per term and message in `vocabulary_sources`, decided into `vocabulary` after each
//! sync or import batch, and handed to extraction as data (an extractor whose catalogue carries
//! the terms). Inbound messages are extracted when they arrive with the configured catalogue;
//! the refresh re-extracts those the vocabulary can change (no product of ours found), so the
//! stored extractions always reflect the vocabulary in force.
//!
//! The vocabulary belongs to the catalogue it was learned with: a changed `[business]` block
//! (its fingerprint in `meta`) starts the learning over.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, Transaction, params};
use serde::Serialize;

use super::Store;
use crate::config::{Business, Settings};
use crate::extract::Extractor;
use crate::extract::catalogue::learn::{self, Learner};
use crate::extract::catalogue::normalise::{Folded, Matcher};
use crate::parse::ParsedMessage;

/// Highest outbound message row learned from.
const LEARNED_UPTO: &str = "vocabulary_learned_upto";
/// How many of our messages named a product of the catalogue (the base of the rates).
const QUOTING: &str = "vocabulary_quoting_messages";
/// Highest inbound message row extracted with the vocabulary in force.
const EXTRACTED_UPTO: &str = "vocabulary_extracted_upto";
const FINGERPRINT: &str = "vocabulary_catalogue";
/// Bump when the learner changes what it learns: the next refresh starts over.
const LEARNER_VERSION: u32 = 1;
/// Buyers' rates come from the most recent inbound messages, at most this many.
const INBOUND_SAMPLE: i64 = 2_000;

/// One term in force, for `leadsift vocabulary`.
#[derive(Debug, Clone, Serialize)]
pub struct Term {
    pub term: String,
    pub kind: String,
    /// Our messages (to different addressees) that used it on a price line.
    pub messages: i64,
    /// Inbound messages (of the sample) that use it.
    pub inbound: i64,
    pub example: String,
    pub learned_at: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// Our messages that named a product of the catalogue.
    pub quoting_messages: i64,
    /// Learned with a different `[business]` block than the one configured now.
    pub stale: bool,
    pub terms: Vec<Term>,
}

/// What a refresh did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Refresh {
    pub learned_from: usize,
    pub terms: usize,
    pub added: usize,
    pub removed: usize,
    pub reextracted: usize,
}

fn fingerprint(b: &Business) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(LEARNER_VERSION.to_le_bytes());
    for (tag, list) in [("p", &b.products), ("r", &b.related), ("n", &b.not_ours)] {
        for p in list {
            h.update(tag.as_bytes());
            h.update(p.as_bytes());
            h.update([0]);
        }
    }
    format!("{:x}", h.finalize())
}

fn meta(conn: &rusqlite::Connection, key: &str) -> anyhow::Result<Option<String>> {
    Ok(conn
        .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
        .optional()?)
}

fn meta_i64(conn: &rusqlite::Connection, key: &str) -> anyhow::Result<i64> {
    Ok(meta(conn, key)?.and_then(|v| v.parse().ok()).unwrap_or(0))
}

fn set_meta(tx: &Transaction<'_>, key: &str, value: &str) -> anyhow::Result<()> {
    tx.execute(
        "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = ?2",
        params![key, value],
    )?;
    Ok(())
}

fn parsed(id: i64, json: &str) -> Option<ParsedMessage> {
    match serde_json::from_str(json) {
        Ok(p) => Some(p),
        Err(e) => {
            tracing::warn!(row = id, "vocabulary: cannot read stored message: {e}");
            None
        }
    }
}

impl Store {
    /// The terms in force (folded keys' written forms), for building the extractor.
    pub fn vocabulary_terms(&self) -> anyhow::Result<Vec<String>> {
        let mut st = self
            .conn
            .prepare("SELECT term FROM vocabulary ORDER BY key")?;
        let rows = st.query_map([], |r| r.get::<_, String>(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The extractor with the vocabulary in force.
    pub fn vocabulary_extractor(&self, settings: &Settings) -> anyhow::Result<Extractor> {
        Ok(settings.extractor.with_learned(&self.vocabulary_terms()?))
    }

    pub fn vocabulary(&self, settings: &Settings) -> anyhow::Result<Summary> {
        let mut st = self.conn.prepare(
            "SELECT term, kind, messages, inbound, example, learned_at FROM vocabulary ORDER BY messages DESC, key",
        )?;
        let terms = st
            .query_map([], |r| {
                Ok(Term {
                    term: r.get(0)?,
                    kind: r.get(1)?,
                    messages: r.get(2)?,
                    inbound: r.get(3)?,
                    example: r.get(4)?,
                    learned_at: r.get(5)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        let fp = meta(&self.conn, FINGERPRINT)?;
        Ok(Summary {
            quoting_messages: meta_i64(&self.conn, QUOTING)?,
            stale: fp.is_some_and(|f| f != fingerprint(&settings.business)),
            terms,
        })
    }

    /// Learns from the outbound messages stored since the last refresh, decides the terms,
    /// and re-extracts the inbound messages the vocabulary can change; rescores every lead when
    /// a stored extraction changed. Run after each sync or import batch, before scoring.
    pub fn refresh_vocabulary(
        &mut self,
        settings: &Settings,
        now: DateTime<Utc>,
    ) -> anyhow::Result<Refresh> {
        let mut out = Refresh::default();
        let fp = fingerprint(&settings.business);
        let started_over = meta(&self.conn, FINGERPRINT)?.as_deref() != Some(fp.as_str());
        if started_over {
            let tx = self.conn.transaction()?;
            tx.execute("DELETE FROM vocabulary_sources", [])?;
            let had = tx.execute("DELETE FROM vocabulary", [])?;
            out.removed = had;
            for k in [LEARNED_UPTO, QUOTING] {
                set_meta(&tx, k, "0")?;
            }
            set_meta(&tx, FINGERPRINT, &fp)?;
            tx.commit()?;
        }
        if settings.extractor.catalogue().is_empty() {
            return Ok(out);
        }
        let learner = Learner::new(&settings.extractor);

        // 1. Our new outbound messages.
        let upto = meta_i64(&self.conn, LEARNED_UPTO)?;
        let mut quoting = meta_i64(&self.conn, QUOTING)?;
        let new: Vec<(i64, String)> = {
            let mut st = self.conn.prepare(
                "SELECT id, parsed FROM messages WHERE direction = 'out' AND id > ?1 ORDER BY id",
            )?;
            st.query_map([upto], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<_, _>>()?
        };
        let max_out = new.iter().map(|(id, _)| *id).max();
        {
            let tx = self.conn.transaction()?;
            {
                let mut ins = tx.prepare(
                    "INSERT OR IGNORE INTO vocabulary_sources (key, message, term, kind, example) VALUES (?1, ?2, ?3, ?4, ?5)",
                )?;
                for (id, json) in &new {
                    let Some(msg) = parsed(*id, json) else {
                        continue;
                    };
                    let Some(cands) = learner.candidates(&msg) else {
                        continue;
                    };
                    quoting += 1;
                    out.learned_from += 1;
                    for c in cands {
                        ins.execute(params![c.key, id, c.term, c.kind.as_str(), c.example])?;
                    }
                }
            }
            if let Some(m) = max_out {
                set_meta(&tx, LEARNED_UPTO, &m.to_string())?;
            }
            set_meta(&tx, QUOTING, &quoting.to_string())?;
            tx.commit()?;
        }

        // 2. Decide the terms, when something new was learned (or learning started over).
        let old: BTreeSet<String> = {
            let mut st = self.conn.prepare("SELECT key FROM vocabulary")?;
            st.query_map([], |r| r.get::<_, String>(0))?
                .collect::<Result<_, _>>()?
        };
        let mut changed = started_over && out.removed > 0;
        if max_out.is_some() {
            let decided = self.decide(&learner, quoting)?;
            let new_keys: BTreeSet<String> = decided.keys().cloned().collect();
            out.added = new_keys.difference(&old).count();
            out.removed += old.difference(&new_keys).count();
            let stamp = now.to_rfc3339();
            // A term keeps the date it first came into force.
            let since: BTreeMap<String, String> = {
                let mut st = self
                    .conn
                    .prepare("SELECT key, learned_at FROM vocabulary")?;
                st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect::<Result<_, _>>()?
            };
            let tx = self.conn.transaction()?;
            tx.execute("DELETE FROM vocabulary", [])?;
            {
                let mut ins = tx.prepare(
                    "INSERT INTO vocabulary (key, term, kind, messages, inbound, example, learned_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )?;
                for (key, d) in &decided {
                    let at = since.get(key).unwrap_or(&stamp);
                    ins.execute(params![
                        key, d.term, d.kind, d.messages, d.inbound, d.example, at
                    ])?;
                }
            }
            tx.commit()?;
            changed |= out.added > 0 || out.removed > 0;
        }
        out.terms = self.vocabulary_terms()?.len();

        // 3. Inbound extractions the vocabulary can change.
        let extracted_upto = if changed {
            0
        } else {
            meta_i64(&self.conn, EXTRACTED_UPTO)?
        };
        let (n, any_scored_changed) =
            self.reextract_for_vocabulary(settings, extracted_upto, out.removed > 0)?;
        out.reextracted = n;
        if any_scored_changed {
            self.rescore_all(settings, now)?;
        }
        Ok(out)
    }

    /// Candidate keys used by two of our messages or more, with buyers' counts, kept by
    /// [`learn::keep`].
    fn decide(
        &self,
        learner: &Learner<'_>,
        quoting: i64,
    ) -> anyhow::Result<BTreeMap<String, Decided>> {
        let mut cands: Vec<Decided> = {
            let mut st = self.conn.prepare(
                // Counted per addressee: a PO number repeated in one buyer's thread is no habit.
                "SELECT v.key, COUNT(DISTINCT m.recipients), MIN(v.message) FROM vocabulary_sources v
                 JOIN messages m ON m.id = v.message GROUP BY v.key HAVING COUNT(DISTINCT m.recipients) >= 2 ORDER BY v.key",
            )?;
            let rows: Vec<(String, i64, i64)> = st
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                .collect::<Result<_, _>>()?;
            let mut first = self.conn.prepare(
                "SELECT term, kind, example FROM vocabulary_sources WHERE key = ?1 AND message = ?2",
            )?;
            let mut out = Vec::new();
            for (key, n, msg) in rows {
                let (term, kind, example): (String, String, String) = first
                    .query_row(params![key, msg], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
                out.push(Decided {
                    key,
                    term,
                    kind,
                    messages: n,
                    inbound: 0,
                    example,
                });
            }
            out
        };
        if cands.is_empty() {
            return Ok(BTreeMap::new());
        }
        // Buyers' use of each candidate, in the most recent inbound messages' own words.
        let matchers: Vec<Matcher> = cands
            .iter()
            .map(|c| Matcher::new(std::slice::from_ref(&c.term), false))
            .collect();
        let mut inbound = 0usize;
        {
            let mut st = self.conn.prepare(
                "SELECT id, parsed FROM messages WHERE direction = 'in' ORDER BY id DESC LIMIT ?1",
            )?;
            let rows = st.query_map([INBOUND_SAMPLE], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
            })?;
            for row in rows {
                let (id, json) = row?;
                let Some(msg) = parsed(id, &json) else {
                    continue;
                };
                inbound += 1;
                let own = format!("{}\n{}", msg.subject, learner.own_text(&msg));
                let folded = Folded::new(&own);
                for (c, m) in cands.iter_mut().zip(&matchers) {
                    if m.find(&folded).is_some() {
                        c.inbound += 1;
                    }
                }
            }
        }
        let quoting = quoting.max(0) as usize;
        Ok(cands
            .into_iter()
            .filter(|c| {
                learn::keep(
                    learn::Kind::parse(&c.kind),
                    c.messages as usize,
                    quoting,
                    c.inbound as usize,
                    inbound,
                )
            })
            .map(|c| (c.key.clone(), c))
            .collect())
    }

    /// Re-extracts inbound messages after row `after` with the vocabulary in force: those
    /// without a product of ours (the only ones more vocabulary can change), or every one when
    /// terms were removed. Returns how many were re-extracted and whether any of them had been
    /// scored already with a different extraction.
    fn reextract_for_vocabulary(
        &mut self,
        settings: &Settings,
        after: i64,
        all: bool,
    ) -> anyhow::Result<(usize, bool)> {
        let terms = self.vocabulary_terms()?;
        let max_in: i64 = self.conn.query_row(
            "SELECT COALESCE(MAX(id), 0) FROM messages WHERE direction = 'in'",
            [],
            |r| r.get(0),
        )?;
        if terms.is_empty() && !all {
            let tx = self.conn.transaction()?;
            set_meta(&tx, EXTRACTED_UPTO, &max_in.to_string())?;
            tx.commit()?;
            return Ok((0, false));
        }
        let scored_upto: i64 = meta(&self.conn, "scored_upto")?
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let ex = settings.extractor.with_learned(&terms);
        let filter = if all {
            ""
        } else {
            " AND instr(extraction, '\"product_match\"') = 0"
        };
        let tx = self.conn.transaction()?;
        let mut n = 0;
        let mut scored_changed = false;
        {
            let mut read = tx.prepare(&format!(
                "SELECT id, parsed, extraction FROM messages WHERE direction = 'in' AND id > ?1{filter} ORDER BY id"
            ))?;
            let mut write = tx.prepare("UPDATE messages SET extraction = ?2 WHERE id = ?1")?;
            let rows = read.query_map([after], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                ))
            })?;
            for row in rows {
                let (id, json, before) = row?;
                let Some(msg) = parsed(id, &json) else {
                    continue;
                };
                let now = serde_json::to_string(&ex.extract(&msg))?;
                n += 1;
                if now != before {
                    write.execute(params![id, now])?;
                    scored_changed |= id <= scored_upto;
                }
            }
        }
        set_meta(&tx, EXTRACTED_UPTO, &max_in.to_string())?;
        tx.commit()?;
        Ok((n, scored_changed))
    }
}

struct Decided {
    key: String,
    term: String,
    kind: String,
    messages: i64,
    inbound: i64,
    example: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Item;

    const CONFIG: &str = r#"
[storage]
path = "/tmp/unused.db"
[me]
addresses = ["sales@ours.example"]
[business]
products = ["gear pump", "bomba de engranajes"]
min_order_value_usd = 1000
"#;

    fn settings(config: &str) -> Settings {
        Settings::from_toml(config, std::path::Path::new("/tmp/leadsift-vocab.toml"))
            .expect("config")
    }

    /// Each quote goes to its own buyer, except ids that name one ("q7+b3" goes to b3).
    fn to_of(id: &str) -> String {
        let local = id.split('@').next().unwrap_or(id);
        let who = local.split('+').nth(1).unwrap_or(local);
        format!("{who}@buyer.example")
    }

    fn raw(id: &str, from: &str, subject: &str, body: &str) -> String {
        format!(
            "From: {from}\r\nTo: {}\r\nSubject: {subject}\r\nMessage-ID: <{id}>\r\nDate: Mon, 2 Nov 2026 10:00:00 +0000\r\n\r\n{}",
            to_of(id),
            body.replace('\n', "\r\n")
        )
    }

    fn store_raw(store: &mut Store, s: &Settings, raws: &[String]) {
        let items: Vec<Item> = raws
            .iter()
            .map(|r| {
                crate::ingest::prepare(
                    crate::ingest::Raw {
                        bytes: r.as_bytes(),
                        fallback_date: Utc::now().fixed_offset(),
                        truncated: false,
                        size: r.len() as u64,
                        location: None,
                        source: None,
                    },
                    s,
                )
            })
            .collect();
        store.store_batch(None, &items, Utc::now()).expect("stored");
    }

    fn quote(i: usize) -> String {
        raw(
            &format!("q{i}@ours.example"),
            "Sales <sales@ours.example>",
            "Re: pumps",
            &format!(
                "Dear customer,\n\nOur gear pump offer:\nHX-250 gear pump, 2.2 kW: USD 410/set\nSP-40 sump pump, 0.75 kW: USD 96/pc\nFreight: USD 1,200 in total\n\nBest regards,\nAnna\nHarbour Road {i}"
            ),
        )
    }

    #[test]
    fn learns_from_our_quotes_and_makes_a_buyer_of_our_model_ours() {
        let s = settings(CONFIG);
        let mut store = Store::open_in_memory().unwrap();
        let buyer = raw(
            "b1@client.example",
            "Buyer <buyer@client.example>",
            "Inquiry",
            "Hello,\n\nplease quote 20 pcs of HX-250 with delivery to Mombasa.\n\nThanks",
        );
        let others: Vec<String> = (0..4)
            .map(|i| {
                raw(
                    &format!("o{i}@else.example"),
                    &format!("Someone <s{i}@else{i}.example>"),
                    "Hello",
                    "Do you attend the trade fair in March?",
                )
            })
            .collect();
        store_raw(&mut store, &s, &others);
        store_raw(&mut store, &s, &[buyer]);
        let fit = |store: &Store| -> String {
            store
                .conn()
                .query_row(
                    "SELECT extraction FROM messages WHERE message_id = 'b1@client.example'",
                    [],
                    |r| r.get(0),
                )
                .unwrap()
        };
        assert!(!fit(&store).contains("product_match"), "{}", fit(&store));
        // One quote is not yet a habit.
        store_raw(&mut store, &s, &[quote(1)]);
        let r = store.refresh_vocabulary(&s, Utc::now()).unwrap();
        assert_eq!((r.learned_from, r.terms), (1, 0));
        // Nor is the same quote again to the same buyer.
        let again = quote(1).replace("<q1@", "<q9+q1@");
        store_raw(&mut store, &s, &[again]);
        let r = store.refresh_vocabulary(&s, Utc::now()).unwrap();
        assert_eq!((r.learned_from, r.terms), (1, 0));
        store_raw(&mut store, &s, &[quote(2), quote(3)]);
        let r = store.refresh_vocabulary(&s, Utc::now()).unwrap();
        assert_eq!(r.learned_from, 2);
        let terms = store.vocabulary_terms().unwrap();
        assert!(terms.contains(&"HX-250".to_string()), "{terms:?}");
        assert!(terms.contains(&"sump pump".to_string()), "{terms:?}");
        assert!(
            !terms
                .iter()
                .any(|t| t.contains("Harbour") || t.contains("Freight")),
            "{terms:?}"
        );
        assert!(fit(&store).contains("product_match"), "{}", fit(&store));
        let v = store.vocabulary(&s).unwrap();
        assert_eq!(v.quoting_messages, 4);
        assert!(!v.stale);
        let hx = v.terms.iter().find(|t| t.term == "HX-250").unwrap();
        assert_eq!(hx.messages, 3);
        assert!(hx.example.starts_with("HX-250 gear pump"));

        // Another catalogue: the vocabulary was learned for this one and starts over; the same
        // quotes name nothing of the new catalogue, so nothing is learned.
        let other = settings(&CONFIG.replace(
            r#"products = ["gear pump", "bomba de engranajes"]"#,
            r#"products = ["office chair"]"#,
        ));
        assert!(store.vocabulary(&other).unwrap().stale);
        let r = store.refresh_vocabulary(&other, Utc::now()).unwrap();
        assert_eq!(r.terms, 0);
        assert!(store.vocabulary_terms().unwrap().is_empty());
    }

    #[test]
    fn a_term_our_buyers_use_as_much_as_we_do_is_not_ours() {
        let s = settings(CONFIG);
        let mut store = Store::open_in_memory().unwrap();
        let mut raws: Vec<String> = (0..3).map(quote).collect();
        // Buyers mention "sump pump" all the time: it says nothing about us.
        for i in 0..4 {
            raws.push(raw(
                &format!("b{i}@client.example"),
                &format!("Buyer {i} <b{i}@client{i}.example>"),
                "Question",
                "Hello, do you have a sump pump? Thanks",
            ));
        }
        store_raw(&mut store, &s, &raws);
        store.refresh_vocabulary(&s, Utc::now()).unwrap();
        let terms = store.vocabulary_terms().unwrap();
        assert!(terms.contains(&"HX-250".to_string()), "{terms:?}");
        assert!(!terms.contains(&"sump pump".to_string()), "{terms:?}");
    }
}
