//! Stage 5: the morning digest — whom to chase today — mailed to each salesperson exactly once a
//! day. [`render`] makes its content (pure), [`team`] says who owns which lead and whose digest
//! holds it, [`questions`] picks the next question to ask, [`send`] builds and submits the
//! message, [`schedule`] says when it is due; this module ties them to the store.
//!
//! Every recipient gets a digest of their own (own leads, or everyone's for a manager), with its
//! own Message-ID, so a reply is trusted only from the person whose digest it quotes.
//!
//! Exactly once, per recipient: the day's digest (local day in the digest's zone, Message-ID, content hash,
//! snapshot and the exact bytes) is recorded *before* it is submitted and marked sent only after
//! the SMTP server accepted it. A recorded but unsent digest is resubmitted byte for byte (same
//! Message-ID) on the next attempt the same day; a sent one is never sent again that day unless
//! forced. A short lease on the row keeps two processes (the daemon and `digest --send`) from
//! submitting it at once. The one window left is a crash after the server accepted the message
//! and before the row was marked: the retry then sends a second copy with the same Message-ID,
//! which mail clients show as one.

pub mod questions;
pub mod render;
pub mod schedule;
pub mod send;
/// Team ownership sits below the store (which persists it); re-exported for the digest's callers.
pub use crate::team;

use std::io::Write;
use std::time::Duration;

use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, Utc};
use sha2::Digest as _;

use crate::config::{DigestSettings, Recipient, Settings, Smtp};
use crate::store::Store;
use crate::store::digests::{DigestRow, DigestStatus, NewDigest};
pub use crate::store::digests::{Snapshot, SnapshotEntry};
pub use render::Rendered;

/// Settings for `digest --print` and the demo when the config has no `[digest]`.
pub fn fallback_settings(timezone: chrono_tz::Tz) -> DigestSettings {
    let o = render::Options::default();
    DigestSettings {
        recipients: Vec::new(),
        time: NaiveTime::from_hms_opt(8, 0, 0).unwrap_or_default(),
        timezone,
        skip_if_empty: false,
        weekly_review: None,
        answer_nurture_above: o.answer_nurture_above,
        follow_up_after_days: o.follow_up_after_days,
        nurture_top: o.nurture_top,
    }
}

fn options(digest: &DigestSettings) -> render::Options {
    render::Options {
        answer_nurture_above: digest.answer_nurture_above,
        follow_up_after_days: digest.follow_up_after_days,
        nurture_top: digest.nurture_top,
    }
}

/// What every recipient's digest of one morning is made from: scored once, rendered per person.
pub struct Today {
    pub reports: Vec<crate::score::LeadReport>,
    pub team: std::collections::HashMap<String, crate::store::owners::LeadTeam>,
    pub questions: questions::Questions,
}

impl Today {
    pub fn load(store: &Store, settings: &Settings, now: DateTime<Utc>) -> anyhow::Result<Today> {
        Ok(Today {
            reports: store.compute_reports(settings, now)?,
            team: store.team_view(settings)?,
            questions: questions::Questions::load(settings.patterns_dir.as_deref())
                .map_err(anyhow::Error::msg)?,
        })
    }
}

/// `recipient`'s digest (None: everyone's, owners shown) as it would go out now; nothing recorded.
pub fn render_for(
    store: &Store,
    settings: &Settings,
    digest: &DigestSettings,
    today: &Today,
    recipient: Option<&Recipient>,
    now: DateTime<Utc>,
) -> anyhow::Result<Rendered> {
    let day = schedule::local_day(now, digest.timezone);
    let key = recipient.map_or("", |r| r.address.as_str());
    let previous = store.snapshot_before(day, key)?;
    let weekly_review = digest.weekly_review == Some(day.weekday());
    let week_ago = if weekly_review {
        store.snapshot_week_before(day, key)?
    } else {
        None
    };
    render::render(&render::Input {
        reports: &today.reports,
        team: &today.team,
        recipient,
        options: options(digest),
        questions: &today.questions,
        previous: previous.as_ref().map(|(d, s)| (*d, s)),
        week_ago: week_ago.as_ref().map(|(d, s)| (*d, s)),
        weekly_review,
        now,
        timezone: digest.timezone,
        keywords: footer_keywords(settings),
    })
}

/// Everyone's digest as it would go out now (nothing recorded): `digest --print`, the demo.
pub fn render_today(
    store: &Store,
    settings: &Settings,
    digest: &DigestSettings,
    now: DateTime<Utc>,
) -> anyhow::Result<Rendered> {
    let today = Today::load(store, settings, now)?;
    render_for(store, settings, digest, &today, None, now)
}

/// `digest --print [--html] [--for ADDR]`: renders to `out`, sends and records nothing. Without
/// `for_address`, everyone's leads with their owners.
pub fn print(
    store: &Store,
    settings: &Settings,
    now: DateTime<Utc>,
    html: bool,
    for_address: Option<&str>,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let fallback;
    let digest = match &settings.digest {
        Some(d) => d,
        None => {
            fallback = fallback_settings(chrono_tz::UTC);
            &fallback
        }
    };
    let recipient = match for_address {
        None => None,
        Some(a) => {
            let want = crate::feedback::reply::recipient_address(a);
            Some(
                digest
                    .recipients
                    .iter()
                    .find(|r| r.address == want)
                    .cloned()
                    // Anyone may look at what a salesperson's digest would be.
                    .or_else(|| Recipient::new(a, crate::config::Scope::Own))
                    .ok_or_else(|| anyhow::anyhow!("--for {a:?} is not an email address"))?,
            )
        }
    };
    let today = Today::load(store, settings, now)?;
    let r = render_for(store, settings, digest, &today, recipient.as_ref(), now)?;
    if html {
        out.write_all(r.html.as_bytes())?;
    } else {
        writeln!(out, "Subject: {}\n", r.subject)?;
        out.write_all(r.text.as_bytes())?;
    }
    Ok(())
}

/// What a send attempt did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The server accepted it.
    Sent {
        day: NaiveDate,
        message_id: String,
        to: Vec<String>,
        attempts: u32,
    },
    /// Today's digest had gone out before: nothing sent.
    AlreadySent {
        day: NaiveDate,
        recipient: String,
        message_id: Option<String>,
        sent_at: Option<String>,
    },
    /// `skip_if_empty` and nothing to report: recorded as skipped, nothing sent.
    Skipped { day: NaiveDate, recipient: String },
}

/// Why a digest did not go out. The daemon retries [`DigestError::Smtp`] and
/// [`DigestError::Busy`] after [`schedule::next_retry`].
#[derive(Debug, thiserror::Error)]
pub enum DigestError {
    #[error("{0}")]
    NotConfigured(&'static str),
    #[error(
        "the digest for {day} to {recipient} ({message_id}) is being sent by another leadsift process right now; try again in a few minutes"
    )]
    Busy {
        day: NaiveDate,
        recipient: String,
        message_id: String,
    },
    #[error(
        "sending the digest for {day} to {recipient} ({message_id}) through {server} failed: {error}; it is recorded as not sent and will be retried"
    )]
    Smtp {
        day: NaiveDate,
        recipient: String,
        message_id: String,
        server: String,
        error: send::SubmitError,
    },
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

fn configured(settings: &Settings) -> Result<(&Smtp, &DigestSettings), DigestError> {
    let smtp = settings.smtp.as_ref().ok_or(DigestError::NotConfigured(
        "no [smtp] section in the configuration: the digest has no server to go through",
    ))?;
    let digest = settings.digest.as_ref().ok_or(DigestError::NotConfigured(
        "no [digest] section in the configuration: the digest has no recipients",
    ))?;
    Ok((smtp, digest))
}

fn content_hash(r: &Rendered) -> String {
    let mut h = sha2::Sha256::new();
    for part in [&r.subject, &r.text, &r.html] {
        h.update(part.as_bytes());
        h.update([0u8]);
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// How long a sender may hold a digest: several SMTP round trips at the configured timeout.
fn lease(settings: &Settings) -> chrono::Duration {
    let t = settings
        .sync
        .timeout
        .saturating_mul(10)
        .max(Duration::from_secs(300));
    chrono::Duration::from_std(t).unwrap_or(chrono::Duration::minutes(10))
}

enum Recorded {
    Row(i64),
    Skipped,
    /// Another process recorded today's regular digest first.
    Lost,
}

struct Ctx<'a> {
    settings: &'a Settings,
    smtp: &'a Smtp,
    digest: &'a DigestSettings,
    recipient: &'a Recipient,
    now: DateTime<Utc>,
}

fn record(store: &mut Store, c: &Ctx<'_>, today: &Today, forced: bool) -> anyhow::Result<Recorded> {
    let rendered = render_for(store, c.settings, c.digest, today, Some(c.recipient), c.now)?;
    let (smtp, digest, now) = (c.smtp, c.digest, c.now);
    let hash = content_hash(&rendered);
    if digest.skip_if_empty && rendered.empty && !forced {
        let skipped = NewDigest {
            day: rendered.day,
            recipient: c.recipient.address.clone(),
            forced,
            status: DigestStatus::Skipped,
            message_id: None,
            token: None,
            content_hash: hash,
            subject: rendered.subject.clone(),
            envelope_from: None,
            envelope_to: Vec::new(),
            message: None,
            snapshot: rendered.snapshot,
        };
        return Ok(match store.insert_digest(&skipped, now)? {
            Some(_) => {
                tracing::info!(day = %rendered.day, recipient = %c.recipient.address, "nothing to report: digest skipped (skip_if_empty)");
                Recorded::Skipped
            }
            None => Recorded::Lost,
        });
    }
    let built = send::build(
        &smtp.from,
        std::slice::from_ref(&c.recipient.mailbox),
        &rendered,
        now,
    )?;
    let new = NewDigest {
        day: rendered.day,
        recipient: c.recipient.address.clone(),
        forced,
        status: DigestStatus::Pending,
        message_id: Some(built.message_id.clone()),
        token: Some(built.token),
        content_hash: hash,
        subject: rendered.subject,
        envelope_from: Some(built.envelope_from),
        envelope_to: built.envelope_to,
        message: Some(built.bytes),
        snapshot: rendered.snapshot,
    };
    Ok(match store.insert_digest(&new, now)? {
        Some(id) => {
            tracing::info!(day = %new.day, recipient = %new.recipient, message_id = %built.message_id, forced, "digest recorded");
            Recorded::Row(id)
        }
        None => Recorded::Lost,
    })
}

fn already(row: &DigestRow, recipient: &str) -> Outcome {
    match row.status {
        DigestStatus::Skipped => Outcome::Skipped {
            day: row.day,
            recipient: recipient.to_string(),
        },
        _ => Outcome::AlreadySent {
            day: row.day,
            recipient: recipient.to_string(),
            message_id: row.message_id.clone(),
            sent_at: row.sent_at.clone(),
        },
    }
}

/// Sends today's digest to every recipient unless it already went out to them (or `force`).
/// Safe to call again after any failure or crash: see the module comment. One recipient's
/// failure does not hold up the others: each gets its own result, in configuration order. The
/// daemon calls this when [`due`] says so, and again after [`schedule::next_retry`] when one
/// failed.
pub async fn send_today(
    settings: &Settings,
    store: &mut Store,
    now: DateTime<Utc>,
    force: bool,
) -> Result<Vec<Result<Outcome, DigestError>>, DigestError> {
    let (smtp, digest) = configured(settings)?;
    let day = schedule::local_day(now, digest.timezone);
    let expired = store.expire_digests_before(day)?;
    if expired > 0 {
        tracing::warn!(day = %day, "{expired} unsent digest(s) of earlier days will not be sent");
    }
    // Scored once for the whole team; rendered per recipient.
    let mut today: Option<Today> = None;
    let mut out = Vec::new();
    for recipient in &digest.recipients {
        let c = Ctx {
            settings,
            smtp,
            digest,
            recipient,
            now,
        };
        out.push(send_one(store, &c, &mut today, day, force).await);
    }
    Ok(out)
}

async fn send_one(
    store: &mut Store,
    c: &Ctx<'_>,
    today: &mut Option<Today>,
    day: NaiveDate,
    force: bool,
) -> Result<Outcome, DigestError> {
    let (settings, smtp, now) = (c.settings, c.smtp, c.now);
    let who = c.recipient.address.as_str();
    let mut id = None;
    // Twice at most: if another process records this digest between our look and our insert,
    // the second look finds it.
    for _ in 0..2 {
        let existing = store.regular_digest(day, who)?;
        let mut record_now = |store: &mut Store, forced: bool| -> anyhow::Result<Recorded> {
            if today.is_none() {
                *today = Some(Today::load(store, settings, now)?);
            }
            match today.as_ref() {
                Some(t) => record(store, c, t, forced),
                None => Err(anyhow::anyhow!("today's leads could not be loaded")),
            }
        };
        match existing {
            Some(row) if row.status == DigestStatus::Pending => {
                tracing::info!(day = %day, recipient = who, message_id = row.message_id.as_deref().unwrap_or(""), attempts = row.attempts, "retrying the recorded digest");
                id = Some(row.id);
            }
            Some(row) if !force => return Ok(already(&row, who)),
            Some(_) => match record_now(store, true)? {
                Recorded::Row(i) => id = Some(i),
                Recorded::Skipped | Recorded::Lost => {
                    return Err(anyhow::anyhow!("a forced digest could not be recorded").into());
                }
            },
            None => match record_now(store, false)? {
                Recorded::Row(i) => id = Some(i),
                Recorded::Skipped => {
                    return Ok(Outcome::Skipped {
                        day,
                        recipient: who.to_string(),
                    });
                }
                Recorded::Lost => continue,
            },
        }
        break;
    }
    let id = id.ok_or_else(|| anyhow::anyhow!("today's digest to {who} could not be recorded"))?;
    let row = store
        .digest(id)?
        .ok_or_else(|| anyhow::anyhow!("digest row {id} vanished"))?;
    let message_id = row.message_id.clone().unwrap_or_default();
    if !store.claim_digest(id, now, now + lease(settings))? {
        let row = store.digest(id)?;
        return match row {
            Some(r) if r.status == DigestStatus::Sent => Ok(already(&r, who)),
            _ => Err(DigestError::Busy {
                day,
                recipient: who.to_string(),
                message_id,
            }),
        };
    }
    let (Some(from), Some(bytes)) = (row.envelope_from.as_deref(), row.message.as_deref()) else {
        return Err(anyhow::anyhow!("digest row {id} has no message to send").into());
    };
    let server = format!("{}:{}", smtp.host, smtp.port);
    tracing::info!(day = %day, recipient = who, message_id = %message_id, server = %server, attempt = row.attempts + 1, "submitting the digest");
    match send::submit(smtp, settings.sync.timeout, from, &row.envelope_to, bytes).await {
        Ok(()) => {
            store.mark_digest_sent(id, now)?;
            tracing::info!(day = %day, recipient = who, message_id = %message_id, "digest accepted by {server}");
            Ok(Outcome::Sent {
                day,
                message_id,
                to: row.envelope_to,
                attempts: row.attempts + 1,
            })
        }
        Err(error) => {
            store.mark_digest_failed(id, &error.reason)?;
            tracing::warn!(day = %day, recipient = who, message_id = %message_id, permanent = error.permanent, "digest not accepted by {server}: {}", error.reason);
            Err(DigestError::Smtp {
                day,
                recipient: who.to_string(),
                message_id,
                server,
                error,
            })
        }
    }
}

/// Is today's digest due at `now` for anyone, given what the store says was handled? (For the
/// daemon.)
pub fn due(store: &Store, settings: &Settings, now: DateTime<Utc>) -> anyhow::Result<bool> {
    let Some(digest) = &settings.digest else {
        return Ok(false);
    };
    for r in &digest.recipients {
        if schedule::is_due(now, digest, store.last_handled_digest_day(&r.address)?) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// One line for the terminal about an outcome.
pub fn describe(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Sent {
            day,
            message_id,
            to,
            attempts,
        } => format!(
            "sent the digest for {day} to {} ({message_id}{})",
            to.join(", "),
            if *attempts > 1 {
                format!(", attempt {attempts}")
            } else {
                String::new()
            }
        ),
        Outcome::AlreadySent {
            day,
            recipient,
            message_id,
            sent_at,
        } => format!(
            "the digest for {day} was already sent to {recipient}{}{}; nothing sent (--force sends it again)",
            sent_at
                .as_deref()
                .map(|t| format!(" at {t}"))
                .unwrap_or_default(),
            message_id
                .as_deref()
                .map(|m| format!(" ({m})"))
                .unwrap_or_default(),
        ),
        Outcome::Skipped { day, recipient } => format!(
            "nothing to report for {day} to {recipient}: no digest sent (skip_if_empty = true; --force sends one anyway)"
        ),
    }
}

/// The tagging keywords the footer suggests: the class ones, budget and scam, as configured.
fn footer_keywords(settings: &Settings) -> Vec<String> {
    use crate::feedback::Label;
    use crate::score::Class;
    let f = &settings.feedback;
    if !f.read_keywords {
        return Vec::new();
    }
    [
        Label::Class(Class::Hot),
        Label::Class(Class::Drop),
        Label::Confirm(crate::extract::Dimension::Budget),
        Label::Scam,
    ]
    .into_iter()
    .filter_map(|l| f.keyword_for(l).map(str::to_string))
    .collect()
}
