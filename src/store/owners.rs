//! Who owns which lead, as the database knows it: what each lead's messages say (who of us wrote
//! last, where the buyer's mail arrived, what we sent last) and the owners people set by hand.
//! The rule that combines them is `team::owner` (pure).

use std::collections::HashMap;

use anyhow::Context;
use chrono::{DateTime, Utc};
use rusqlite::{Transaction, params};

use super::Store;
use crate::config::{Me, Settings};
use crate::team::{Activity, Assignment, AssignmentSource, NewAssignment, Owner, Sent};

/// Replies to the digest are commands, never part of a lead.
const NOT_A_COMMAND: &str = "NOT EXISTS (SELECT 1 FROM commands c WHERE c.message = m.id)";

pub fn insert_assignment(tx: &Transaction<'_>, a: &NewAssignment) -> anyhow::Result<i64> {
    tx.prepare_cached(
        "INSERT INTO owner_assignments (lead, owner, source, message_id, person, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        a.lead,
        a.owner,
        a.source.as_str(),
        a.message_id,
        a.person,
        a.at.to_rfc3339()
    ])?;
    Ok(tx.last_insert_rowid())
}

impl Store {
    /// Per lead: our last message to it, the last of it written by one of `[me] addresses`, and
    /// the account its first inbound message arrived in.
    pub fn lead_activity(&self, me: &Me) -> anyhow::Result<HashMap<String, Activity>> {
        let sql = format!(
            "SELECT ml.lead, m.direction, m.from_addr, m.date_unix, m.date, m.subject,
                    (SELECT l.account FROM locations l WHERE l.message = m.id ORDER BY l.rowid LIMIT 1)
             FROM message_leads ml JOIN messages m ON m.id = ml.message
             WHERE {NOT_A_COMMAND} ORDER BY m.date_unix, m.id"
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let mut rows = stmt.query([])?;
        let mut out: HashMap<String, Activity> = HashMap::new();
        // Earliest inbound per lead, for the account's default owner.
        let mut first_in: HashMap<String, i64> = HashMap::new();
        while let Some(r) = rows.next()? {
            let lead: String = r.get(0)?;
            let direction: String = r.get(1)?;
            let from: Option<String> = r.get(2)?;
            let unix: i64 = r.get(3)?;
            let date: String = r.get(4)?;
            let subject: String = r.get(5)?;
            let account: Option<String> = r.get(6)?;
            let Ok(date) = DateTime::parse_from_rfc3339(&date) else {
                tracing::warn!(lead = %lead, "skipping a message with an unreadable stored date {date:?}");
                continue;
            };
            let a = out.entry(lead.clone()).or_default();
            if direction == "out" {
                let from = from.map(|f| f.to_lowercase());
                if let Some(f) = from.as_deref().filter(|f| me.addresses.contains(*f)) {
                    a.last_colleague = Some((f.to_string(), date.with_timezone(&Utc)));
                }
                a.last_sent = Some(Sent {
                    date,
                    subject,
                    from,
                });
            } else if account.is_some() && first_in.get(&lead).is_none_or(|u| unix < *u) {
                first_in.insert(lead, unix);
                a.account = account;
            }
        }
        Ok(out)
    }

    /// The owner set by hand last, per lead.
    pub fn owner_assignments(&self) -> anyhow::Result<HashMap<String, Assignment>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT lead, owner, source, message_id, person, at FROM owner_assignments ORDER BY id",
        )?;
        let mut rows = stmt.query([])?;
        let mut out = HashMap::new();
        while let Some(r) = rows.next()? {
            let lead: String = r.get(0)?;
            let source: String = r.get(2)?;
            let at: String = r.get(5)?;
            let parsed = (|| -> anyhow::Result<Assignment> {
                Ok(Assignment {
                    owner: r.get(1)?,
                    source: AssignmentSource::parse(&source)
                        .with_context(|| format!("source {source:?}"))?,
                    message_id: r.get(3)?,
                    person: r.get(4)?,
                    at: DateTime::parse_from_rfc3339(&at)
                        .with_context(|| format!("at {at:?}"))?
                        .with_timezone(&Utc),
                })
            })();
            match parsed {
                Ok(a) => {
                    out.insert(lead, a);
                }
                Err(e) => {
                    tracing::warn!(lead = %lead, "skipping an unreadable owner assignment: {e:#}")
                }
            }
        }
        Ok(out)
    }

    /// Records owners set by hand, in one transaction.
    pub fn assign_owners(&mut self, assignments: &[NewAssignment]) -> anyhow::Result<()> {
        let tx = self.conn.transaction()?;
        for a in assignments {
            insert_assignment(&tx, a)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Every lead's owner and what the digest needs besides its report (our last message).
    pub fn team_view(&self, settings: &Settings) -> anyhow::Result<HashMap<String, LeadTeam>> {
        let activity = self.lead_activity(&settings.me)?;
        let assigned = self.owner_assignments()?;
        let account_owner = |account: &str| {
            settings
                .accounts
                .iter()
                .find(|a| a.name == account)
                .and_then(|a| a.owner.clone())
        };
        let mut leads: Vec<&String> = activity.keys().chain(assigned.keys()).collect();
        leads.sort();
        leads.dedup();
        let mut out = HashMap::with_capacity(leads.len());
        for lead in leads {
            let act = activity.get(lead.as_str());
            let owner = crate::team::owner(act, assigned.get(lead.as_str()), &account_owner);
            out.insert(
                lead.clone(),
                LeadTeam {
                    owner,
                    last_sent: act.and_then(|a| a.last_sent.clone()),
                },
            );
        }
        Ok(out)
    }
}

/// A lead's place in the team.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LeadTeam {
    pub owner: Option<Owner>,
    /// Our last message to the lead.
    pub last_sent: Option<Sent>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing;
    use crate::store::{Direction, Item, NewMessage};

    #[test]
    fn activity_assignments_and_the_owner_rule() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = format!(
            "[storage]\npath = \"{}\"\n[me]\naddresses = [\"ann@ourco.example\", \"bob@ourco.example\"]\n[[account]]\nname = \"sales\"\nhost = \"localhost\"\ntls = \"plaintext\"\nusername = \"u\"\npassword_command = \"echo x\"\nowner = \"Carl@OurCo.example\"\n",
            dir.path().join("db").display()
        );
        let settings = Settings::from_toml(&cfg, &dir.path().join("c.toml")).unwrap();
        let mut store = Store::open_in_memory().unwrap();
        let now = Utc::now();
        let msg = |id: &str, from: &str, to: &str, date: &str, dir: Direction, uid: u32| {
            let raw = format!(
                "Message-ID: <{id}>\r\nFrom: {from}\r\nTo: {to}\r\nDate: {date}\r\nSubject: s {id}\r\n\r\nWe need 400 pcs.\r\n"
            );
            let parsed = crate::parse::parse(raw.as_bytes(), now.fixed_offset(), false).unwrap();
            Item::Message(Box::new(NewMessage {
                extraction: settings.extractor.extract(&parsed),
                parsed,
                direction: dir,
                size: raw.len() as u64,
                location: testing::at("sales", "INBOX", 1, uid),
            }))
        };
        let items = vec![
            msg(
                "a1@acme.example",
                "li@acme.example",
                "sales@ourco.example",
                "Mon, 16 Nov 2026 09:00:00 +0000",
                Direction::In,
                1,
            ),
            msg(
                "o1@ourco.example",
                "ann@ourco.example",
                "li@acme.example",
                "Tue, 17 Nov 2026 09:00:00 +0000",
                Direction::Out,
                2,
            ),
            msg(
                "a2@acme.example",
                "li@acme.example",
                "ann@ourco.example",
                "Wed, 18 Nov 2026 09:00:00 +0000",
                Direction::In,
                3,
            ),
            msg(
                "b1@beta.example",
                "jo@beta.example",
                "sales@ourco.example",
                "Wed, 18 Nov 2026 09:00:00 +0000",
                Direction::In,
                4,
            ),
        ];
        store.store_batch(None, &items, now).unwrap();
        store.refresh_leads(&settings, now).unwrap();
        let team = store.team_view(&settings).unwrap();
        let acme = &team["acme.example"];
        assert_eq!(acme.owner.as_ref().unwrap().address, "ann@ourco.example");
        assert_eq!(
            acme.last_sent.as_ref().unwrap().subject,
            "s o1@ourco.example"
        );
        // Nobody of us wrote to beta yet: the account's default owner.
        let beta = team["beta.example"].owner.clone().unwrap();
        assert_eq!(beta.address, "carl@ourco.example");
        assert!(beta.how.contains("sales"), "{}", beta.how);
        // A correction later than Ann's message reassigns it.
        store
            .assign_owners(&[NewAssignment {
                lead: "acme.example".into(),
                owner: "bob@ourco.example".into(),
                source: AssignmentSource::Cli,
                message_id: None,
                person: "ann".into(),
                at: now,
            }])
            .unwrap();
        let team = store.team_view(&settings).unwrap();
        let o = team["acme.example"].owner.clone().unwrap();
        assert_eq!(o.address, "bob@ourco.example");
        assert!(o.how.contains("set by ann"), "{}", o.how);
    }
}
