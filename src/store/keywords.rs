//! IMAP keywords in the database: the feedback keywords the server had on each message location
//! (`locations.keywords`), which of them were turned into corrections already
//! (`locations.keywords_applied`), and the class keyword leadsift wrote (`locations.lead_keyword`).
//!
//! Keyword sets are stored as JSON arrays of lowercased keywords, sorted; NULL counts as empty.
//! The turning of keyword changes into labels ([`diff_labels`]) is pure.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Context;
use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};
use tracing::{debug, info, warn};

use super::Store;
use super::feedback::insert_correction;
use crate::config::{FeedbackSettings, Settings};
use crate::extract::Dimension;
use crate::feedback::{Label, NewCorrection, Source};
use crate::score::{Class, group};

/// The feedback keywords among `flags`, lowercased, sorted, without repeats.
pub fn feedback_keywords(flags: &[String], fb: &FeedbackSettings) -> BTreeSet<String> {
    flags
        .iter()
        .filter(|f| fb.is_feedback_keyword(f))
        .map(|f| f.to_ascii_lowercase())
        .collect()
}

fn parse_set(json: Option<&str>) -> BTreeSet<String> {
    json.and_then(|j| serde_json::from_str::<BTreeSet<String>>(j).ok())
        .unwrap_or_default()
}

fn to_json(set: &BTreeSet<String>) -> anyhow::Result<String> {
    Ok(serde_json::to_string(set)?)
}

/// What a lead's corrections say now, as far as keyword removals need to know.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MarkState {
    pub class: Option<Class>,
    pub confirmed: BTreeSet<Dimension>,
    /// `Some(Label::Scam)` or `Some(Label::NotScam)`.
    pub risk: Option<Label>,
}

impl MarkState {
    pub fn apply(&mut self, label: Label) {
        match label {
            Label::Class(c) => self.class = Some(c),
            Label::Auto => self.class = None,
            Label::Confirm(d) => {
                self.confirmed.insert(d);
            }
            Label::Unconfirm(d) => {
                self.confirmed.remove(&d);
            }
            Label::Scam | Label::NotScam => self.risk = Some(label),
            Label::ClearRisk => self.risk = None,
        }
    }
}

/// What withdrawing `label` means given the lead's marks now: only what is still in force is
/// undone (the manual class goes back to automatic only while it is `label`'s class).
pub fn undo_label(label: Label, state: &MarkState) -> Option<Label> {
    match label {
        Label::Class(c) if state.class == Some(c) => Some(Label::Auto),
        Label::Confirm(d) if state.confirmed.contains(&d) => Some(Label::Unconfirm(d)),
        Label::Scam | Label::NotScam if state.risk == Some(label) => Some(Label::ClearRisk),
        _ => None,
    }
}

/// The labels that follow from keywords `removed` and `added` on one message, given what the
/// lead's corrections say now (`state`, updated as the labels are decided). Removals first, so a
/// keyword moved from `lead-hot` to `lead-drop` ends as drop. Removing a keyword undoes only what
/// is still in force: removing `lead-hot` goes back to automatic only while the manual class is
/// hot (someone may have set another class since); the same for a confirmation or a risk mark.
pub fn diff_labels(
    removed: &BTreeSet<String>,
    added: &BTreeSet<String>,
    fb: &FeedbackSettings,
    state: &mut MarkState,
) -> Vec<(Label, String, bool)> {
    let mut out = Vec::new();
    for kw in removed {
        let Some(label) = fb.label_for_keyword(kw) else {
            continue;
        };
        if let Some(l) = undo_label(label, state) {
            state.apply(l);
            out.push((l, kw.clone(), false));
        }
    }
    for kw in added {
        if let Some(label) = fb.label_for_keyword(kw) {
            state.apply(label);
            out.push((label, kw.clone(), true));
        }
    }
    out
}

/// What one flags pass over a folder read.
#[derive(Debug, Clone, Copy)]
pub struct FlagsPass<'a> {
    pub account: &'a str,
    pub folder: &'a str,
    pub uidvalidity: u32,
    /// UID → flags as the server sent them.
    pub flags: &'a BTreeMap<u32, Vec<String>>,
    /// UIDs asked for without a modifier that did not come back: expunged.
    pub absent: &'a [u32],
    /// HIGHESTMODSEQ at the EXAMINE before the pass (None without CONDSTORE).
    pub modseq: Option<u64>,
}

/// A location whose keywords changed since they were last applied.
struct Pending {
    folder: String,
    uidvalidity: u32,
    uid: u32,
    message_id: String,
    direction: String,
    from: Option<String>,
    keywords: Option<String>,
    applied: Option<String>,
    message: i64,
}

/// One message location whose leadsift class keyword must change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeywordWrite {
    pub folder: String,
    pub uidvalidity: u32,
    pub uid: u32,
    /// What we wrote last (None: nothing yet).
    pub current: Option<String>,
    pub desired: String,
}

impl Store {
    /// HIGHESTMODSEQ stored at the folder's last flags pass.
    pub fn folder_modseq(&self, account: &str, folder: &str) -> anyhow::Result<Option<u64>> {
        let v: Option<Option<i64>> = self
            .conn
            .query_row(
                "SELECT highestmodseq FROM folders WHERE account = ?1 AND folder = ?2",
                params![account, folder],
                |r| r.get(0),
            )
            .optional()?;
        Ok(v.flatten().and_then(|m| u64::try_from(m).ok()))
    }

    /// UIDs of the folder's current locations whose keywords were never read.
    pub fn unread_keyword_uids(
        &self,
        account: &str,
        folder: &str,
        uidvalidity: u32,
    ) -> anyhow::Result<Vec<u32>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT uid FROM locations WHERE account = ?1 AND folder = ?2 AND uidvalidity = ?3
               AND keywords IS NULL ORDER BY uid",
        )?;
        let rows = stmt.query_map(params![account, folder, uidvalidity], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Records one flags pass over a folder in one transaction: the feedback keywords of every
    /// UID read (locations of the pass's UIDVALIDITY only), an empty set for each UID asked for
    /// and not there (expunged), and the folder's HIGHESTMODSEQ as of the EXAMINE that preceded
    /// the pass. Returns how many locations changed.
    pub fn record_keywords(
        &mut self,
        pass: &FlagsPass<'_>,
        fb: &FeedbackSettings,
    ) -> anyhow::Result<usize> {
        let FlagsPass {
            account,
            folder,
            uidvalidity,
            flags,
            absent,
            modseq,
        } = *pass;
        let tx = self.conn.transaction()?;
        let mut changed = 0;
        {
            let mut upd = tx.prepare_cached(
                "UPDATE locations SET keywords = ?5
                 WHERE account = ?1 AND folder = ?2 AND uidvalidity = ?3 AND uid = ?4
                   AND keywords IS NOT ?5",
            )?;
            let none = Vec::new();
            let all = flags
                .iter()
                .map(|(u, f)| (*u, f))
                .chain(absent.iter().map(|u| (*u, &none)));
            for (uid, f) in all {
                let kws = feedback_keywords(f, fb);
                changed +=
                    upd.execute(params![account, folder, uidvalidity, uid, to_json(&kws)?])?;
            }
            tx.execute(
                "UPDATE folders SET highestmodseq = ?3 WHERE account = ?1 AND folder = ?2",
                params![account, folder, modseq.and_then(|m| i64::try_from(m).ok())],
            )?;
        }
        tx.commit()?;
        Ok(changed)
    }

    /// Turns every keyword change not applied yet on the account's current locations into
    /// corrections (source keyword, the message's Message-ID, the IMAP user as the person) and
    /// marks them applied, in one transaction. Returns the leads that got corrections: rescore
    /// them ([`Store::rescore_leads`]).
    pub fn apply_keyword_corrections(
        &mut self,
        account: &crate::config::Account,
        settings: &Settings,
        now: DateTime<Utc>,
    ) -> anyhow::Result<BTreeSet<String>> {
        let fb = &settings.feedback;
        let mut pending = Vec::new();
        {
            let mut stmt = self.conn.prepare_cached(
                "SELECT l.folder, l.uidvalidity, l.uid, m.message_id, m.direction, m.from_addr,
                        l.keywords, l.keywords_applied, m.id
                 FROM locations l
                 JOIN folders f ON f.account = l.account AND f.folder = l.folder AND f.uidvalidity = l.uidvalidity
                 JOIN messages m ON m.id = l.message
                 WHERE l.account = ?1 AND l.keywords IS NOT NULL
                   AND l.keywords IS NOT COALESCE(l.keywords_applied, '[]')
                 ORDER BY m.id, l.folder",
            )?;
            let rows = stmt.query_map([&account.name], |r| {
                Ok(Pending {
                    folder: r.get(0)?,
                    uidvalidity: r.get(1)?,
                    uid: r.get(2)?,
                    message_id: r.get(3)?,
                    direction: r.get(4)?,
                    from: r.get(5)?,
                    keywords: r.get(6)?,
                    applied: r.get(7)?,
                    message: r.get(8)?,
                })
            })?;
            for row in rows {
                pending.push(row?);
            }
        }
        if pending.is_empty() {
            return Ok(BTreeSet::new());
        }
        let person = format!("IMAP user {} (account {})", account.username, account.name);
        let mut states: BTreeMap<String, MarkState> = BTreeMap::new();
        let mut corrections: Vec<NewCorrection> = Vec::new();
        let mut done: Vec<(&Pending, Option<String>)> = Vec::new();
        // Message → keywords applied for it in this run (a message in two folders at once).
        let mut applied_now: BTreeMap<i64, Option<String>> = BTreeMap::new();
        for p in &pending {
            let now_set = parse_set(p.keywords.as_deref());
            let applied = match &p.applied {
                Some(a) => parse_set(Some(a)),
                // A location never applied: a message seen again under a new UIDVALIDITY, moved
                // to another synced folder or present in two keeps what was applied at its other
                // place, so a tag is never applied twice (nor again after later corrections).
                None => match applied_now.get(&p.message) {
                    Some(a) => parse_set(a.as_deref()),
                    None => parse_set(
                        self.previously_applied(&account.name, p.message)?
                            .as_deref(),
                    ),
                },
            };
            applied_now.insert(p.message, p.keywords.clone());
            let removed: BTreeSet<String> = applied.difference(&now_set).cloned().collect();
            let added: BTreeSet<String> = now_set.difference(&applied).cloned().collect();
            if removed.is_empty() && added.is_empty() {
                done.push((p, p.keywords.clone()));
                continue;
            }
            let Some(lead) = self.lead_of(p.message, &p.direction, p.from.as_deref(), settings)?
            else {
                warn!(account = %account.name, folder = %p.folder, uid = p.uid, message_id = %p.message_id,
                    "feedback keyword on a message that belongs to no lead: ignored");
                done.push((p, p.keywords.clone()));
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
            for (label, kw, set) in diff_labels(&removed, &added, fb, st) {
                info!(account = %account.name, folder = %p.folder, uid = p.uid, message_id = %p.message_id,
                    lead = %lead, keyword = %kw, label = %label.as_str(),
                    "keyword {} by the IMAP user", if set { "set" } else { "removed" });
                corrections.push(NewCorrection {
                    lead: lead.clone(),
                    label,
                    source: Source::Keyword,
                    message_id: Some(p.message_id.clone()),
                    person: person.clone(),
                    at: now,
                    note: Some(format!(
                        "keyword {kw} {} in {}",
                        if set { "set" } else { "removed" },
                        p.folder
                    )),
                });
            }
            done.push((p, p.keywords.clone()));
        }
        let touched: BTreeSet<String> = corrections.iter().map(|c| c.lead.clone()).collect();
        let tx = self.conn.transaction()?;
        for c in &corrections {
            insert_correction(&tx, c)?;
        }
        {
            let mut upd = tx.prepare_cached(
                "UPDATE locations SET keywords_applied = ?5
                 WHERE account = ?1 AND folder = ?2 AND uidvalidity = ?3 AND uid = ?4",
            )?;
            for (p, kws) in &done {
                upd.execute(params![account.name, p.folder, p.uidvalidity, p.uid, kws])?;
            }
        }
        tx.commit()
            .context("storing the corrections from keywords")?;
        debug!(account = %account.name, locations = done.len(), corrections = corrections.len(), "keyword changes applied");
        Ok(touched)
    }

    /// What was applied at another location of the same message in this account (an older
    /// UIDVALIDITY, or another folder it was moved or copied from), the newest such location first.
    fn previously_applied(&self, account: &str, message: i64) -> anyhow::Result<Option<String>> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT keywords_applied FROM locations
                 WHERE account = ?1 AND message = ?2 AND keywords_applied IS NOT NULL
                 ORDER BY rowid DESC LIMIT 1",
            )?
            .query_row(params![account, message], |r| r.get(0))
            .optional()?)
    }

    /// The lead a message belongs to: for an inbound message the lead scoring put it in, else the
    /// sender's lead; for one of ours, the one lead it serves, if only one.
    pub(super) fn lead_of(
        &self,
        message: i64,
        direction: &str,
        from: Option<&str>,
        settings: &Settings,
    ) -> anyhow::Result<Option<String>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT lead FROM message_leads WHERE message = ?1 ORDER BY lead")?;
        let leads: Vec<String> = stmt
            .query_map([message], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        if direction == "in" {
            // The sender's own lead first, when scoring put the message there.
            let sender = from.and_then(|f| group::lead_key(f, settings));
            if let Some(s) = sender.as_ref().filter(|s| leads.contains(s)) {
                return Ok(Some(s.clone()));
            }
            if let Some(l) = leads.into_iter().next() {
                return Ok(Some(l));
            }
            return Ok(sender);
        }
        if let Some(l) = from.and_then(|f| group::lead_key(f, settings)) {
            return Ok(Some(l));
        }
        Ok(if leads.len() == 1 {
            leads.into_iter().next()
        } else {
            None
        })
    }

    /// Inbound messages of the account, in `folders` (current UIDVALIDITY), that belong to a lead
    /// and whose class keyword is not the one for the lead's class.
    pub fn class_keyword_writes(
        &self,
        account: &str,
        folders: &[String],
        fb: &FeedbackSettings,
    ) -> anyhow::Result<Vec<KeywordWrite>> {
        let mut stmt = self.conn.prepare_cached(
            // A message that serves several leads shows the best of their classes.
            "SELECT l.folder, l.uidvalidity, l.uid, l.lead_keyword,
                    CASE MIN(CASE le.class WHEN 'hot' THEN 0 WHEN 'nurture' THEN 1 ELSE 2 END)
                        WHEN 0 THEN 'hot' WHEN 1 THEN 'nurture' ELSE 'drop' END
             FROM locations l
             JOIN folders f ON f.account = l.account AND f.folder = l.folder AND f.uidvalidity = l.uidvalidity
             JOIN messages m ON m.id = l.message
             JOIN message_leads ml ON ml.message = m.id
             JOIN leads le ON le.lead = ml.lead
             WHERE l.account = ?1 AND m.direction = 'in'
             GROUP BY l.folder, l.uidvalidity, l.uid
             ORDER BY l.folder, l.uid",
        )?;
        let rows = stmt.query_map([account], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, u32>(1)?,
                r.get::<_, u32>(2)?,
                r.get::<_, Option<String>>(3)?,
                r.get::<_, String>(4)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (folder, uidvalidity, uid, current, class) = row?;
            if !folders.contains(&folder) {
                continue;
            }
            let Some(class) = Class::parse(&class) else {
                continue;
            };
            let desired = fb.class_keyword(class);
            if desired.is_empty() || current.as_deref() == Some(desired) {
                continue;
            }
            out.push(KeywordWrite {
                folder,
                uidvalidity,
                uid,
                current,
                desired: desired.to_string(),
            });
        }
        Ok(out)
    }

    /// Notes that the server accepted `keyword` on these UIDs.
    pub fn set_lead_keyword(
        &mut self,
        account: &str,
        folder: &str,
        uidvalidity: u32,
        uids: &[u32],
        keyword: &str,
    ) -> anyhow::Result<()> {
        let tx = self.conn.transaction()?;
        {
            let mut upd = tx.prepare_cached(
                "UPDATE locations SET lead_keyword = ?5
                 WHERE account = ?1 AND folder = ?2 AND uidvalidity = ?3 AND uid = ?4",
            )?;
            for uid in uids {
                upd.execute(params![account, folder, uidvalidity, uid, keyword])?;
            }
        }
        tx.commit()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::feedback::RawFeedback;
    use crate::store::Item;

    fn fb() -> FeedbackSettings {
        RawFeedback::default().validate().unwrap()
    }

    fn kws(k: &[&str]) -> BTreeSet<String> {
        k.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn removing_a_keyword_undoes_only_what_is_still_in_force() {
        let fb = fb();
        let mut st = MarkState::default();
        let l = diff_labels(&kws(&[]), &kws(&["lead-hot", "lead-budget"]), &fb, &mut st);
        let labels: Vec<Label> = l.iter().map(|(l, _, _)| *l).collect();
        assert_eq!(
            labels,
            vec![Label::Confirm(Dimension::Budget), Label::Class(Class::Hot)]
        );
        // Moved from hot to drop on one message: drop wins.
        let l = diff_labels(&kws(&["lead-hot"]), &kws(&["lead-drop"]), &fb, &mut st);
        let labels: Vec<Label> = l.iter().map(|(l, _, _)| *l).collect();
        assert_eq!(labels, vec![Label::Auto, Label::Class(Class::Drop)]);
        assert_eq!(st.class, Some(Class::Drop));
        // Removing lead-hot elsewhere while the manual class is drop changes nothing.
        assert!(diff_labels(&kws(&["lead-hot"]), &kws(&[]), &fb, &mut st).is_empty());
        let l = diff_labels(&kws(&["lead-budget", "lead-need"]), &kws(&[]), &fb, &mut st);
        assert_eq!(
            l.iter().map(|(l, _, _)| *l).collect::<Vec<_>>(),
            vec![Label::Unconfirm(Dimension::Budget)]
        );
        diff_labels(&kws(&[]), &kws(&["lead-scam"]), &fb, &mut st);
        assert!(diff_labels(&kws(&["lead-not-scam"]), &kws(&[]), &fb, &mut st).is_empty());
        let l = diff_labels(&kws(&["lead-scam"]), &kws(&[]), &fb, &mut st);
        assert_eq!(l[0].0, Label::ClearRisk);
        assert!(!l[0].2);
    }

    #[test]
    fn only_feedback_keywords_are_kept_lowercased() {
        let flags: Vec<String> = ["\\Seen", "$label1", "Lead-Hot", "lead-hot", "$LeadHot"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(feedback_keywords(&flags, &fb()), kws(&["lead-hot"]));
    }

    fn settings(dir: &std::path::Path) -> Settings {
        let pw = dir.join("pw");
        std::fs::write(&pw, "x\n").unwrap();
        let text = format!(
            "[storage]\npath = \"{}/db\"\n[me]\naddresses = [\"sales@ourco.example\"]\n\
             [[account]]\nname = \"sales\"\nhost = \"localhost\"\ntls = \"implicit\"\nusername = \"sales@ourco.example\"\n\
             password_file = \"{}\"\nfolders = [\"INBOX\"]\n",
            dir.display(),
            pw.display()
        );
        Settings::from_toml(&text, &dir.join("leadsift.toml")).unwrap()
    }

    fn inbound(id: &str, uid: u32) -> Item {
        crate::store::testing::inbound(
            id,
            "From: Li <li@acme.example>\r\nTo: sales@ourco.example\r\nSubject: valves",
            "quote please",
            crate::store::testing::at("sales", "INBOX", 7, uid),
        )
    }

    fn flags(uid: u32, f: &[&str]) -> BTreeMap<u32, Vec<String>> {
        BTreeMap::from([(uid, f.iter().map(|s| s.to_string()).collect())])
    }

    #[test]
    fn keywords_become_corrections_once_and_the_class_keyword_follows() {
        let dir = tempfile::tempdir().unwrap();
        let s = settings(dir.path());
        let account = &s.accounts[0];
        let now = Utc::now();
        let mut st = Store::open_in_memory().unwrap();
        st.set_uidvalidity("sales", "INBOX", 7).unwrap();
        st.store_batch(
            Some(("sales", "INBOX", 1)),
            &[inbound("q@acme.example", 1)],
            now,
        )
        .unwrap();
        st.refresh_leads(&s, now).unwrap();
        let lead = "acme.example";
        let auto: String = st
            .conn()
            .query_row("SELECT class FROM leads WHERE lead = ?1", [lead], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(
            st.unread_keyword_uids("sales", "INBOX", 7).unwrap(),
            vec![1]
        );
        // Nothing read yet: nothing to apply.
        assert!(
            st.apply_keyword_corrections(account, &s, now)
                .unwrap()
                .is_empty()
        );

        let n = st
            .record_keywords(
                &FlagsPass {
                    account: "sales",
                    folder: "INBOX",
                    uidvalidity: 7,
                    flags: &flags(1, &["\\Seen", "$label1", "Lead-Hot"]),
                    absent: &[],
                    modseq: Some(42),
                },
                &s.feedback,
            )
            .unwrap();
        assert_eq!(n, 1);
        assert_eq!(st.folder_modseq("sales", "INBOX").unwrap(), Some(42));
        assert!(
            st.unread_keyword_uids("sales", "INBOX", 7)
                .unwrap()
                .is_empty()
        );
        let touched = st.apply_keyword_corrections(account, &s, now).unwrap();
        assert_eq!(touched, BTreeSet::from([lead.to_string()]));
        let cs = st.corrections_for(lead).unwrap();
        assert_eq!(cs.len(), 1);
        assert_eq!(cs[0].label, Label::Class(Class::Hot));
        assert_eq!(cs[0].source, Source::Keyword);
        assert_eq!(cs[0].message_id.as_deref(), Some("q@acme.example"));
        assert_eq!(
            cs[0].person,
            "IMAP user sales@ourco.example (account sales)"
        );
        // Applied once: the next pass adds nothing.
        assert!(
            st.apply_keyword_corrections(account, &s, now)
                .unwrap()
                .is_empty()
        );
        st.rescore_leads(&touched, &s, now).unwrap();
        let class: String = st
            .conn()
            .query_row("SELECT class FROM leads WHERE lead = ?1", [lead], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(class, "hot");

        let folders = vec!["INBOX".to_string()];
        let w = st
            .class_keyword_writes("sales", &folders, &s.feedback)
            .unwrap();
        assert_eq!(w.len(), 1);
        assert_eq!(w[0].desired, "$LeadHot");
        assert_eq!(w[0].current, None);
        assert!(
            st.class_keyword_writes("sales", &["Other".to_string()], &s.feedback)
                .unwrap()
                .is_empty()
        );
        st.set_lead_keyword("sales", "INBOX", 7, &[1], "$LeadHot")
            .unwrap();
        assert!(
            st.class_keyword_writes("sales", &folders, &s.feedback)
                .unwrap()
                .is_empty()
        );

        // The same message under a new UIDVALIDITY, still tagged: nothing is applied twice.
        st.set_uidvalidity("sales", "INBOX", 8).unwrap();
        let mut again = inbound("q@acme.example", 5);
        if let Item::Message(m) = &mut again {
            m.location.as_mut().unwrap().uidvalidity = 8;
        }
        st.store_batch(Some(("sales", "INBOX", 5)), &[again], now)
            .unwrap();
        st.record_keywords(
            &FlagsPass {
                account: "sales",
                folder: "INBOX",
                uidvalidity: 8,
                flags: &flags(5, &["lead-hot"]),
                absent: &[],
                modseq: None,
            },
            &s.feedback,
        )
        .unwrap();
        assert_eq!(st.folder_modseq("sales", "INBOX").unwrap(), None);
        assert!(
            st.apply_keyword_corrections(account, &s, now)
                .unwrap()
                .is_empty()
        );
        assert_eq!(st.corrections_for(lead).unwrap().len(), 1);

        // Removed on the server (the message is gone: absent): back to automatic, and the class
        // keyword follows.
        st.record_keywords(
            &FlagsPass {
                account: "sales",
                folder: "INBOX",
                uidvalidity: 8,
                flags: &BTreeMap::new(),
                absent: &[5],
                modseq: Some(3),
            },
            &s.feedback,
        )
        .unwrap();
        let touched = st.apply_keyword_corrections(account, &s, now).unwrap();
        st.rescore_leads(&touched, &s, now).unwrap();
        let cs = st.corrections_for(lead).unwrap();
        assert_eq!(cs.len(), 2);
        assert_eq!(cs[1].label, Label::Auto);
        assert_eq!(
            cs[1].note.as_deref(),
            Some("keyword lead-hot removed in INBOX")
        );
        let w = st
            .class_keyword_writes("sales", &folders, &s.feedback)
            .unwrap();
        // Only the location under the current UIDVALIDITY, which never got a keyword.
        assert_eq!(w.len(), 1);
        assert_eq!(w[0].uid, 5);
        assert_eq!(w[0].current, None);
        let auto = Class::parse(&auto).unwrap();
        assert_eq!(w[0].desired, s.feedback.class_keyword(auto));
    }

    #[test]
    fn a_tagged_message_moved_to_another_folder_is_not_applied_again() {
        let dir = tempfile::tempdir().unwrap();
        let s = settings(dir.path());
        let account = &s.accounts[0];
        let now = Utc::now();
        let mut st = Store::open_in_memory().unwrap();
        st.set_uidvalidity("sales", "INBOX", 7).unwrap();
        st.store_batch(
            Some(("sales", "INBOX", 1)),
            &[inbound("m@acme.example", 1)],
            now,
        )
        .unwrap();
        st.refresh_leads(&s, now).unwrap();
        fn pass<'a>(
            folder: &'a str,
            uidvalidity: u32,
            f: &'a BTreeMap<u32, Vec<String>>,
        ) -> FlagsPass<'a> {
            FlagsPass {
                account: "sales",
                folder,
                uidvalidity,
                flags: f,
                absent: &[],
                modseq: None,
            }
        }
        let tagged = flags(1, &["lead-hot"]);
        st.record_keywords(&pass("INBOX", 7, &tagged), &s.feedback)
            .unwrap();
        st.apply_keyword_corrections(account, &s, now).unwrap();
        // A later correction by reply: drop.
        st.add_corrections(&[NewCorrection {
            lead: "acme.example".into(),
            label: Label::Class(Class::Drop),
            source: Source::DigestReply,
            message_id: None,
            person: "ann@ourco.example".into(),
            at: now,
            note: None,
        }])
        .unwrap();
        // The message is archived (still tagged) into another synced folder, and also copied.
        for (folder, uidvalidity) in [("Archive", 9), ("Copies", 3)] {
            st.set_uidvalidity("sales", folder, uidvalidity).unwrap();
            let mut moved = inbound("m@acme.example", 1);
            if let Item::Message(m) = &mut moved {
                let l = m.location.as_mut().unwrap();
                l.folder = folder.into();
                l.uidvalidity = uidvalidity;
            }
            st.store_batch(Some(("sales", folder, 1)), &[moved], now)
                .unwrap();
            st.record_keywords(&pass(folder, uidvalidity, &tagged), &s.feedback)
                .unwrap();
        }
        assert!(
            st.apply_keyword_corrections(account, &s, now)
                .unwrap()
                .is_empty()
        );
        let cs = st.corrections_for("acme.example").unwrap();
        assert_eq!(
            cs.iter().map(|c| c.label.as_str()).collect::<Vec<_>>(),
            ["hot", "drop"],
            "the drop stays in force"
        );
    }
}
