//! Acting on replies to the digest (above the store and the digest sender; the reply grammar is
//! `feedback::reply`): verify each pending reply, apply its commands as
//! corrections, and answer with a short confirmation mail.
//!
//! Exactly once, like the digest: a reply's corrections, its result text and the confirmation's
//! exact bytes and Message-ID are recorded in one transaction; the confirmation is marked sent
//! only after the SMTP server accepted it, and retried byte for byte on later passes until then.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use anyhow::Context;
use chrono::{DateTime, Utc};
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, SinglePart};

use crate::config::Settings;
use crate::digest::send;
use crate::feedback::reply::{self, Command, Parsed, ReplyHeaders};
use crate::feedback::{Correction, NewCorrection, Source};
use crate::parse::ParsedMessage;
use crate::score::{self, group};
use crate::store::Store;
use crate::store::commands::{Applied, PendingCommand};

/// After this many failed attempts a confirmation is given up (marked `failed`).
pub const MAX_ATTEMPTS: u32 = 10;

/// What became of one command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineOutcome {
    /// Stored as a correction of `lead` (the lead the name resolved to).
    Applied { lead: String },
    /// `why`: the lead's explain text.
    Why { lead: String, text: String },
    /// The name matches no lead leadsift knows.
    UnknownLead,
    /// `owner LEAD WHO`: the lead now belongs to `owner`.
    Owned { lead: String, owner: String },
    /// `owner LEAD WHO` where WHO is nobody on the team (or several people).
    UnknownPerson,
}

/// The confirmation's text: what was applied, what was not understood, the `why` answers.
pub fn render_result(
    reply_message_id: &str,
    lines: &[(usize, Command, LineOutcome)],
    parsed: &Parsed,
) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "leadsift read your reply <{reply_message_id}>.\n");
    if lines.is_empty() {
        let _ = writeln!(out, "It held no command, so nothing was changed.");
    } else {
        let _ = writeln!(out, "Commands:");
        for (n, cmd, outcome) in lines {
            let what = match (outcome, cmd) {
                (LineOutcome::Applied { lead }, Command::Correct { label, .. }) => {
                    format!("applied to {lead}: {}", label.describe())
                }
                (LineOutcome::Owned { lead, owner }, _) => {
                    format!("applied: {lead} now belongs to {owner}")
                }
                (LineOutcome::UnknownPerson, Command::Owner { who, .. }) => format!(
                    "NOT applied: {who} is not one colleague ([me] addresses or a digest recipient); write the whole address"
                ),
                (LineOutcome::Applied { lead } | LineOutcome::Why { lead, .. }, _) => {
                    format!("explanation of {lead} below")
                }
                (LineOutcome::UnknownPerson, _) => "NOT applied".to_string(),
                (LineOutcome::UnknownLead, _) => format!(
                    "NOT applied: no lead {} (the names are in the digest and in `leadsift leads`)",
                    cmd.lead()
                ),
            };
            let _ = writeln!(out, "  line {n}: {cmd} — {what}");
        }
    }
    if !parsed.not_understood.is_empty() {
        let _ = writeln!(out, "\nNot understood (ignored):");
        for (n, text) in &parsed.not_understood {
            let _ = writeln!(out, "  line {n}: {text}");
        }
        if parsed.not_understood_more > 0 {
            let _ = writeln!(out, "  … and {} more line(s)", parsed.not_understood_more);
        }
        let _ = writeln!(
            out,
            "\nOne command per line, above the quoted digest:\n  hot|nurture|drop|auto LEAD\n  scam|not-scam|clear-risk LEAD\n  +need|+budget|+authority|+timeline LEAD   (-need … withdraws)\n  owner LEAD COLLEAGUE   (an address, or the name before its @)\n  why LEAD\nLEAD is a lead's domain or a contact's address."
        );
    }
    for (n, cmd, outcome) in lines {
        if let LineOutcome::Why { text, .. } = outcome {
            let _ = writeln!(out, "\n== line {n}: {cmd} ==\n{text}");
        }
    }
    out
}

/// A confirmation ready to record and submit.
#[derive(Debug, Clone)]
pub struct Built {
    pub message_id: String,
    pub bytes: Vec<u8>,
}

fn raw_header(name: &'static str, value: &str) -> HeaderValue {
    HeaderValue::new(HeaderName::new_from_ascii_str(name), value.to_string())
}

/// The confirmation mail: from `[smtp] from` to `to`, answering the reply `reply_message_id`
/// (without brackets), marked as an automatic reply so responders leave it alone.
pub fn build_confirmation(
    from: &str,
    to: &str,
    reply_message_id: &str,
    reply_subject: &str,
    body: &str,
    date: DateTime<Utc>,
) -> anyhow::Result<Built> {
    let from: Mailbox = from
        .parse()
        .with_context(|| format!("[smtp] from = {from:?} is not a mailbox"))?;
    let to: Mailbox = to
        .parse()
        .with_context(|| format!("confirmation recipient {to:?} is not an address"))?;
    let message_id = format!("<confirm.{}@{}>", send::new_token(), from.email.domain());
    let parent = format!("<{reply_message_id}>");
    let subject = reply_subject.trim();
    let subject = if subject
        .get(..3)
        .is_some_and(|p| p.eq_ignore_ascii_case("re:"))
    {
        subject.to_string()
    } else if subject.is_empty() {
        "Re: your reply to the leadsift digest".to_string()
    } else {
        format!("Re: {subject}")
    };
    let message = lettre::Message::builder()
        .from(from)
        .to(to)
        .subject(subject)
        .date(date.into())
        .message_id(Some(message_id.clone()))
        .in_reply_to(parent.clone())
        .references(parent)
        // RFC 3834: an automatic answer; vacation responders must not answer it back.
        .raw_header(raw_header("Auto-Submitted", "auto-replied"))
        .raw_header(raw_header("X-Auto-Response-Suppress", "All"))
        .singlepart(SinglePart::plain(body.to_string()))
        .context("building the confirmation")?;
    Ok(Built {
        message_id,
        bytes: message.formatted(),
    })
}

/// What one call of [`process_digest_replies`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RepliesOutcome {
    pub applied: usize,
    pub ignored: usize,
    pub corrections: usize,
    pub confirmations_sent: usize,
    pub confirmations_failed: usize,
}

/// Verifies and applies every pending reply to the digest, rescores the leads they touched, then
/// sends the confirmations not sent yet. Called after scoring in `sync --once` and in each daemon
/// pass (scoring is what finds the replies).
pub async fn process_digest_replies(
    settings: &Settings,
    store: &mut Store,
    now: DateTime<Utc>,
) -> anyhow::Result<RepliesOutcome> {
    let mut outcome = apply_digest_replies(settings, store, now)?;
    send_confirmations(settings, store, now, &mut outcome).await?;
    Ok(outcome)
}

/// The database half of [`process_digest_replies`]: verifies and applies pending replies (their
/// confirmations recorded, not sent). The sync pass calls it before writing class keywords, so a
/// lead corrected by reply gets its new keyword in the same pass.
pub fn apply_digest_replies(
    settings: &Settings,
    store: &mut Store,
    now: DateTime<Utc>,
) -> anyhow::Result<RepliesOutcome> {
    let mut outcome = RepliesOutcome::default();
    let pending = store.pending_commands()?;
    if !pending.is_empty() {
        let sent = store.sent_digests()?;
        let mut touched = BTreeSet::new();
        for p in pending {
            let (message, message_id) = (p.message, p.message_id.clone());
            // One reply that cannot be handled must not hold up the others on every pass.
            if let Err(e) = handle(settings, store, &sent, p, now, &mut outcome, &mut touched) {
                tracing::warn!(message_id = %message_id, "reply to the digest not applied: {e:#}");
                if store.ignore_command(message, None, &format!("error: {e:#}"), now)? {
                    outcome.ignored += 1;
                }
            }
        }
        if !touched.is_empty() {
            store
                .rescore_leads(&touched, settings, now)
                .context("rescoring the leads corrected by digest replies")?;
        }
    }
    Ok(outcome)
}

fn handle(
    settings: &Settings,
    store: &mut Store,
    sent: &[reply::SentDigest],
    p: PendingCommand,
    now: DateTime<Utc>,
    outcome: &mut RepliesOutcome,
    touched: &mut BTreeSet<String>,
) -> anyhow::Result<()> {
    let msg: ParsedMessage = match p.parsed {
        Ok(m) => m,
        Err(e) => {
            tracing::warn!(message_id = %p.message_id, "digest reply ignored: unreadable stored message: {e}");
            if store.ignore_command(
                p.message,
                None,
                &format!("unreadable stored message: {e}"),
                now,
            )? {
                outcome.ignored += 1;
            }
            return Ok(());
        }
    };
    let verified = reply::verify(
        &ReplyHeaders::of(&msg),
        sent,
        settings.feedback.authserv_id.as_deref(),
    );
    let sender_shown = msg
        .from
        .as_ref()
        .map_or("(no From)", |f| f.address.as_str());
    let accepted = match verified {
        Ok(a) => a,
        Err(why) => {
            tracing::warn!(message_id = %msg.message_id, sender = %sender_shown,
                "reply to the digest ignored, nothing applied: {why}");
            if store.ignore_command(p.message, Some(sender_shown), &why.to_string(), now)? {
                outcome.ignored += 1;
            }
            return Ok(());
        }
    };
    let parsed = reply::parse_commands(&msg.text);
    let mut corrections = Vec::new();
    let mut owners = Vec::new();
    let mut lines = Vec::new();
    // Who `owner LEAD ann` can mean: our own addresses and the digest's recipients.
    let team: Vec<&str> = settings
        .me
        .addresses
        .iter()
        .map(String::as_str)
        .chain(
            settings
                .digest
                .iter()
                .flat_map(|d| d.recipients.iter().map(|r| r.address.as_str())),
        )
        .collect();
    for (n, cmd) in &parsed.commands {
        let Some(lead) = store.resolve_lead(cmd.lead(), settings)? else {
            lines.push((*n, cmd.clone(), LineOutcome::UnknownLead));
            continue;
        };
        match cmd {
            Command::Correct { label, .. } => {
                corrections.push(NewCorrection {
                    lead: lead.clone(),
                    label: *label,
                    source: Source::DigestReply,
                    message_id: Some(msg.message_id.clone()),
                    person: accepted.sender.clone(),
                    at: now,
                    note: Some(format!("line {n}: {cmd}")),
                });
                lines.push((*n, cmd.clone(), LineOutcome::Applied { lead }));
            }
            Command::Owner { who, .. } => {
                match crate::team::resolve_person(who, team.iter().copied()) {
                    Some(owner) => {
                        owners.push(crate::team::NewAssignment {
                            lead: lead.clone(),
                            owner: owner.clone(),
                            source: crate::team::AssignmentSource::DigestReply,
                            message_id: Some(msg.message_id.clone()),
                            person: accepted.sender.clone(),
                            at: now,
                        });
                        lines.push((*n, cmd.clone(), LineOutcome::Owned { lead, owner }));
                    }
                    None => lines.push((*n, cmd.clone(), LineOutcome::UnknownPerson)),
                }
            }
            Command::Why { .. } => lines.push((
                *n,
                cmd.clone(),
                LineOutcome::Why {
                    lead,
                    text: String::new(),
                },
            )),
        }
    }
    // `why` answers with the lead as it stands once this reply's corrections are in.
    if lines
        .iter()
        .any(|(_, _, o)| matches!(o, LineOutcome::Why { .. }))
    {
        let texts = explain_after(store, settings, &corrections, &lines, now)?;
        for ((_, _, o), t) in lines.iter_mut().zip(texts) {
            if let (LineOutcome::Why { text, .. }, Some(t)) = (o, t) {
                *text = t;
            }
        }
    }
    let result = render_result(&msg.message_id, &lines, &parsed);
    let confirmation = match &settings.smtp {
        Some(smtp) => Some(build_confirmation(
            &smtp.from,
            &accepted.sender,
            &msg.message_id,
            &msg.subject,
            &result,
            now,
        )?),
        None => {
            tracing::warn!(message_id = %msg.message_id, sender = %accepted.sender,
                "no [smtp] section: the digest reply is applied but not confirmed by mail");
            None
        }
    };
    let applied = Applied {
        sender: &accepted.sender,
        corrections: &corrections,
        owners: &owners,
        result: &result,
        confirmation: confirmation
            .as_ref()
            .map(|c| (c.message_id.as_str(), c.bytes.as_slice())),
    };
    if store.apply_command(p.message, &applied, now)? {
        tracing::info!(message_id = %msg.message_id, sender = %accepted.sender,
            commands = parsed.commands.len(), corrections = corrections.len(), owners = owners.len(),
            not_understood = parsed.not_understood.len() + parsed.not_understood_more,
            "reply to the digest applied");
        outcome.applied += 1;
        outcome.corrections += corrections.len();
        touched.extend(corrections.iter().map(|c| c.lead.clone()));
    }
    Ok(())
}

/// The explain text of each `why` line's lead, scored with `pending` corrections added to the
/// stored ones (they are committed together with the confirmation that carries this text).
fn explain_after(
    store: &Store,
    settings: &Settings,
    pending: &[NewCorrection],
    lines: &[(usize, Command, LineOutcome)],
    now: DateTime<Utc>,
) -> anyhow::Result<Vec<Option<String>>> {
    let views = store.message_views()?;
    let groups = group::group(&views, settings);
    let inputs = store.scoring_inputs()?;
    let mut out = Vec::new();
    for (_, _, o) in lines {
        let LineOutcome::Why { lead, .. } = o else {
            out.push(None);
            continue;
        };
        let Some(members) = groups.get(lead) else {
            out.push(Some(format!("{lead}: no messages stored for this lead.")));
            continue;
        };
        let mut history: Vec<Correction> = inputs
            .feedback
            .get(lead)
            .map(|f| f.history.clone())
            .unwrap_or_default();
        let next = history.iter().map(|c| c.id).max().unwrap_or(0);
        history.extend(
            pending
                .iter()
                .filter(|c| &c.lead == lead)
                .enumerate()
                .map(|(i, c)| Correction {
                    id: next + 1 + i as i64,
                    lead: c.lead.clone(),
                    label: c.label,
                    source: c.source,
                    message_id: c.message_id.clone(),
                    person: c.person.clone(),
                    at: c.at,
                    note: c.note.clone(),
                }),
        );
        let fb = crate::feedback::fold(history);
        let ms: Vec<&score::MessageView> = members.iter().map(|&i| &views[i]).collect();
        let report = score::score_lead_with(lead, &ms, settings, &fb, inputs.learned.as_ref(), now);
        out.push(Some(score::render::explain_text(&report)));
    }
    Ok(out)
}

async fn send_confirmations(
    settings: &Settings,
    store: &mut Store,
    now: DateTime<Utc>,
    outcome: &mut RepliesOutcome,
) -> anyhow::Result<()> {
    let pending = store.pending_confirmations()?;
    if pending.is_empty() {
        return Ok(());
    }
    let Some(smtp) = &settings.smtp else {
        tracing::debug!(
            count = pending.len(),
            "confirmations wait for an [smtp] section"
        );
        return Ok(());
    };
    let envelope_from = match smtp.from.parse::<Mailbox>() {
        Ok(m) => m.email.to_string(),
        Err(e) => anyhow::bail!("[smtp] from = {:?} is not a mailbox: {e}", smtp.from),
    };
    let server = format!("{}:{}", smtp.host, smtp.port);
    for c in pending {
        // Another leadsift process (the daemon beside `sync --once`) may be at the same row.
        if !store.claim_confirmation(c.message, c.attempts)? {
            continue;
        }
        let attempt = c.attempts + 1;
        tracing::info!(reply = %c.reply_to_id, confirmation = %c.message_id, to = %c.to, attempt,
            "sending the confirmation of a digest reply through {server}");
        match send::submit(
            smtp,
            settings.sync.timeout,
            &envelope_from,
            std::slice::from_ref(&c.to),
            &c.bytes,
        )
        .await
        {
            Ok(()) => {
                store.confirmation_sent(c.message, now)?;
                outcome.confirmations_sent += 1;
            }
            Err(e) => {
                let give_up = e.permanent || attempt >= MAX_ATTEMPTS;
                store.confirmation_failed(c.message, &e.reason, give_up)?;
                outcome.confirmations_failed += 1;
                tracing::warn!(reply = %c.reply_to_id, confirmation = %c.message_id, to = %c.to,
                    attempt, permanent = e.permanent,
                    "confirmation not accepted by {server}: {}{}", e.reason,
                    if give_up { "; giving up" } else { "; retried on the next pass" });
                if !e.permanent {
                    // The server is unreachable or busy: the rest wait for the next pass too.
                    break;
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn result_lists_applied_unknown_why_and_not_understood() {
        let parsed = reply::parse_commands(
            "hot acme.example\n+budget li@acme.example\nfrobnicate x\nhot nobody.example\nwhy acme.example\n",
        );
        let lines: Vec<(usize, Command, LineOutcome)> = parsed
            .commands
            .iter()
            .map(|(n, c)| {
                let o = match (n, c) {
                    (4, _) => LineOutcome::UnknownLead,
                    (_, Command::Why { .. }) => LineOutcome::Why {
                        lead: "acme.example".into(),
                        text: "acme.example  —  HOT (score 90/100)\n".into(),
                    },
                    _ => LineOutcome::Applied {
                        lead: "acme.example".into(),
                    },
                };
                (*n, c.clone(), o)
            })
            .collect();
        let t = render_result("r1@ourco.example", &lines, &parsed);
        for s in [
            "<r1@ourco.example>",
            "line 1: hot acme.example — applied to acme.example: class set to hot by hand",
            "line 2: +budget li@acme.example — applied to acme.example: budget confirmed",
            "line 4: hot nobody.example — NOT applied: no lead nobody.example",
            "Not understood (ignored):\n  line 3: frobnicate x",
            "== line 5: why acme.example ==\nacme.example  —  HOT (score 90/100)",
        ] {
            assert!(t.contains(s), "{s:?} missing in:\n{t}");
        }
        let empty = render_result("r2@x", &[], &Parsed::default());
        assert!(empty.contains("no command"), "{empty}");
        assert!(!empty.contains("Not understood"));
    }

    #[test]
    fn confirmation_threads_under_the_reply_and_is_an_auto_reply() {
        let b = build_confirmation(
            "leadsift <leadsift@ourco.example>",
            "jane@ourco.example",
            "r1@mail.ourco.example",
            "RE: leadsift — 1 hot",
            "line 1: hot acme.example — applied\n",
            DateTime::UNIX_EPOCH,
        )
        .unwrap();
        let m = mail_parser::MessageParser::default()
            .parse(&b.bytes)
            .unwrap();
        assert_eq!(format!("<{}>", m.message_id().unwrap()), b.message_id);
        assert!(b.message_id.starts_with("<confirm."));
        assert!(reply::digest_token(&b.message_id).is_none());
        assert_eq!(m.in_reply_to().as_text(), Some("r1@mail.ourco.example"));
        assert_eq!(m.references().as_text(), Some("r1@mail.ourco.example"));
        assert_eq!(m.subject(), Some("RE: leadsift — 1 hot"));
        assert_eq!(
            m.header_raw("Auto-Submitted").map(str::trim),
            Some("auto-replied")
        );
        assert!(m.body_text(0).unwrap().contains("hot acme.example"));
        let b = build_confirmation(
            "leadsift@ourco.example",
            "jane@ourco.example",
            "r1@x",
            "leadsift digest",
            "x",
            DateTime::UNIX_EPOCH,
        )
        .unwrap();
        let m = mail_parser::MessageParser::default()
            .parse(&b.bytes)
            .unwrap();
        assert_eq!(m.subject(), Some("Re: leadsift digest"));
    }
}
