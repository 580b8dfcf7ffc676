//! What only the thread history shows: how fast the buyer answers us, whether we owe an answer,
//! and whether the buyer went silent after our last message.

use chrono::{DateTime, Datelike, Duration, FixedOffset, Utc, Weekday};

use super::{Contribution, MessageView};
use crate::vocab::Dimension;
use crate::vocab::Direction;

#[derive(Debug, Clone, Default)]
pub struct History {
    /// The oldest human inbound message after our last message to the lead.
    pub waiting_since: Option<DateTime<FixedOffset>>,
    /// (working hours from our message to the buyer's reply, the reply).
    pub latencies: Vec<(f64, String, DateTime<FixedOffset>)>,
    /// Our last message, when the buyer has not written since, and the working days since.
    pub silent_since_ours: Option<(DateTime<FixedOffset>, f64)>,
}

/// Hours between two instants, not counting Saturdays and Sundays (UTC days).
pub fn working_hours_between(a: DateTime<Utc>, b: DateTime<Utc>) -> f64 {
    if b <= a {
        return 0.0;
    }
    let mut total = 0.0;
    let mut t = a;
    while t < b {
        let next_midnight = (t.date_naive() + Duration::days(1))
            .and_hms_opt(0, 0, 0)
            .map(|n| n.and_utc())
            .unwrap_or(b);
        let end = next_midnight.min(b);
        if !matches!(t.weekday(), Weekday::Sat | Weekday::Sun) {
            total += (end - t).num_seconds() as f64 / 3600.0;
        }
        t = end;
    }
    total
}

/// `msgs` sorted by date.
pub fn analyse(msgs: &[&MessageView], now: DateTime<Utc>) -> History {
    let mut h = History::default();
    let mut last_ours: Option<DateTime<FixedOffset>> = None;
    let mut first_unanswered: Option<DateTime<FixedOffset>> = None;
    let mut last_human: Option<DateTime<FixedOffset>> = None;
    for m in msgs {
        match m.direction {
            Direction::Out => {
                last_ours = Some(m.date);
                first_unanswered = None;
            }
            Direction::In if m.is_human_inbound() => {
                if let Some(ours) = last_ours.filter(|o| last_human.is_none_or(|h| h <= *o)) {
                    let hours =
                        working_hours_between(ours.with_timezone(&Utc), m.date.with_timezone(&Utc));
                    h.latencies.push((hours, m.message_id.clone(), m.date));
                }
                last_human = Some(m.date);
                first_unanswered.get_or_insert(m.date);
            }
            Direction::In => {}
        }
    }
    h.waiting_since = first_unanswered;
    if let Some(ours) = last_ours
        && last_human.is_none_or(|h| h < ours)
    {
        let days = working_hours_between(ours.with_timezone(&Utc), now) / 24.0;
        h.silent_since_ours = Some((ours, days));
    }
    h
}

fn contribution(
    points: f64,
    decay: f64,
    rule: &str,
    evidence: String,
    date: Option<DateTime<FixedOffset>>,
) -> Contribution {
    Contribution {
        dimension: Dimension::Engagement,
        points: points * decay,
        raw: points,
        decay,
        rule: rule.into(),
        kind: "history".into(),
        evidence,
        message_id: None,
        date,
        subject: None,
        learned_factor: None,
    }
}

pub fn contributions(h: &History, decay: f64) -> Vec<Contribution> {
    let mut out = Vec::new();
    if let Some((hours, _, date)) = h.latencies.iter().min_by(|a, b| a.0.total_cmp(&b.0)) {
        let (points, how) = match *hours {
            x if x <= 8.0 => (1.0, "fast"),
            x if x <= 24.0 => (0.75, "fast"),
            x if x <= 72.0 => (0.25, "timely"),
            x if x <= 120.0 => (0.0, "slow"),
            _ => (-0.5, "very slow"),
        };
        if points != 0.0 {
            out.push(contribution(
                points,
                decay,
                "history.reply_latency",
                format!("{how} reply: answered our message within {hours:.1} working hours"),
                Some(*date),
            ));
        }
    }
    let replies = h.latencies.len();
    if replies >= 2 {
        out.push(contribution(
            (0.25 * (replies - 1) as f64).min(0.75),
            decay,
            "history.replies",
            format!("answered our messages {replies} times"),
            None,
        ));
    }
    if let Some((ours, days)) = h.silent_since_ours
        && days >= 5.0
    {
        // Silence is itself a recency fact: not decayed.
        out.push(contribution(
            -0.5,
            1.0,
            "history.silence",
            format!(
                "no answer to our message of {} for {:.0} working days",
                ours.format("%Y-%m-%d"),
                days
            ),
            Some(ours),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn weekends_do_not_count() {
        // Friday 18:00 → Monday 10:00 is 6 + 10 working hours.
        let h = working_hours_between(t("2026-11-20T18:00:00Z"), t("2026-11-23T10:00:00Z"));
        assert!((h - 16.0).abs() < 1e-9, "{h}");
        assert_eq!(
            working_hours_between(t("2026-11-23T10:00:00Z"), t("2026-11-23T09:00:00Z")),
            0.0
        );
    }
}
