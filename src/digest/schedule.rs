//! When the digest is due: pure functions of the clock, the `[digest]` settings and the last day
//! a digest was handled (sent or skipped). The daemon asks [`is_due`] and sleeps until
//! [`next_due`]; after a failed attempt it waits [`next_retry`].
//!
//! A day's digest is due from `time` in the configured zone until the end of that local day,
//! unless one was already handled that day, so a digest missed while the machine was down goes out
//! when leadsift comes back the same day. Local times are resolved per day, so DST is honoured:
//! a `time` inside a skipped hour is due at the first valid instant after it, and a `time` that
//! occurs twice (clocks going back) is due at its first occurrence.

use std::time::Duration;

use chrono::{DateTime, LocalResult, NaiveDate, NaiveDateTime, TimeZone, Timelike, Utc};
use chrono_tz::Tz;

use crate::config::DigestSettings;

/// The digest's day for an instant: the local date in the digest's zone.
pub fn local_day(now: DateTime<Utc>, tz: Tz) -> NaiveDate {
    now.with_timezone(&tz).date_naive()
}

/// The first instant at or after local `at` that exists in `tz`. None only when nothing in the
/// next two days does (no real zone skips that much).
pub fn first_valid_instant(at: NaiveDateTime, tz: Tz) -> Option<DateTime<Utc>> {
    let mut t = at;
    // Transitions fall on whole minutes; the longest real gap is one skipped day (Samoa, 2011).
    for _ in 0..(2 * 24 * 60) {
        match tz.from_local_datetime(&t) {
            LocalResult::Single(d) => return Some(d.with_timezone(&Utc)),
            LocalResult::Ambiguous(first, _) => return Some(first.with_timezone(&Utc)),
            LocalResult::None => {
                // Step to the next whole minute inside the gap.
                t = t
                    .checked_add_signed(chrono::Duration::minutes(1))?
                    .with_second(0)?;
            }
        }
    }
    None
}

/// The instant `day`'s digest becomes due.
pub fn due_instant(day: NaiveDate, settings: &DigestSettings) -> Option<DateTime<Utc>> {
    first_valid_instant(day.and_time(settings.time), settings.timezone)
}

/// Is a digest due at `now`? `last_handled` is the local day of the last digest sent (or
/// deliberately skipped).
pub fn is_due(
    now: DateTime<Utc>,
    settings: &DigestSettings,
    last_handled: Option<NaiveDate>,
) -> bool {
    let today = local_day(now, settings.timezone);
    if last_handled.is_some_and(|d| d >= today) {
        return false;
    }
    // A due instant that falls on the next local day (a skipped `time` at the very end of a day)
    // belongs to that day's window, not today's.
    due_instant(today, settings)
        .is_some_and(|due| now >= due && local_day(due, settings.timezone) == today)
}

/// The next instant at or after `now` when [`is_due`] becomes true (`now` itself when it is).
pub fn next_due(
    now: DateTime<Utc>,
    settings: &DigestSettings,
    last_handled: Option<NaiveDate>,
) -> Option<DateTime<Utc>> {
    if is_due(now, settings, last_handled) {
        return Some(now);
    }
    let mut day = local_day(now, settings.timezone);
    for _ in 0..4 {
        if last_handled.is_none_or(|d| d < day)
            && let Some(due) = due_instant(day, settings)
            && due > now
        {
            return Some(due);
        }
        day = day.succ_opt()?;
    }
    None
}

/// How long to wait before attempt `attempts + 1` after `attempts` failed ones: 1, 2, 4 … minutes,
/// capped at 30, so a mail server that is down for an hour is not hammered and one that is back
/// is used within half an hour.
pub fn next_retry(attempts: u32) -> Duration {
    let minutes = 1u64 << attempts.saturating_sub(1).min(5);
    Duration::from_secs(60 * minutes.min(30))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveTime;

    fn settings(tz: Tz, time: &str) -> DigestSettings {
        DigestSettings {
            time: NaiveTime::parse_from_str(time, "%H:%M").unwrap(),
            ..crate::digest::fallback_settings(tz)
        }
    }

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn due_from_time_until_the_end_of_the_local_day() {
        let s = settings(chrono_tz::Asia::Shanghai, "08:00");
        assert!(!is_due(utc("2026-11-20T07:59:59+08:00"), &s, None));
        assert!(is_due(utc("2026-11-20T08:00:00+08:00"), &s, None));
        assert!(is_due(utc("2026-11-20T23:59:59+08:00"), &s, None));
        // Already sent today: not due; sent yesterday: due.
        assert!(!is_due(
            utc("2026-11-20T09:00:00+08:00"),
            &s,
            Some(day("2026-11-20"))
        ));
        assert!(is_due(
            utc("2026-11-20T09:00:00+08:00"),
            &s,
            Some(day("2026-11-19"))
        ));
        // The next local day starts a new window, before its `time` nothing is due.
        assert!(!is_due(
            utc("2026-11-21T00:00:01+08:00"),
            &s,
            Some(day("2026-11-20"))
        ));
        assert!(!is_due(utc("2026-11-21T00:00:01+08:00"), &s, None));
    }

    #[test]
    fn next_due_and_retry() {
        let s = settings(chrono_tz::Asia::Shanghai, "08:00");
        let now = utc("2026-11-20T07:00:00+08:00");
        assert_eq!(
            next_due(now, &s, None),
            Some(utc("2026-11-20T08:00:00+08:00"))
        );
        assert_eq!(
            next_due(
                utc("2026-11-20T09:00:00+08:00"),
                &s,
                Some(day("2026-11-20"))
            ),
            Some(utc("2026-11-21T08:00:00+08:00"))
        );
        let later = utc("2026-11-20T10:00:00+08:00");
        assert_eq!(next_due(later, &s, None), Some(later));
        assert_eq!(next_retry(1), Duration::from_secs(60));
        assert_eq!(next_retry(2), Duration::from_secs(120));
        assert_eq!(next_retry(5), Duration::from_secs(16 * 60));
        assert_eq!(next_retry(50), Duration::from_secs(30 * 60));
    }

    #[test]
    fn dst_shifts_the_utc_instant() {
        // Berlin: CET (+1) until 29 March 2026, CEST (+2) after.
        let s = settings(chrono_tz::Europe::Berlin, "08:00");
        assert_eq!(
            due_instant(day("2026-03-28"), &s),
            Some(utc("2026-03-28T07:00:00Z"))
        );
        assert_eq!(
            due_instant(day("2026-03-29"), &s),
            Some(utc("2026-03-29T06:00:00Z"))
        );
        assert!(!is_due(
            utc("2026-03-29T05:59:59Z"),
            &s,
            Some(day("2026-03-28"))
        ));
        assert!(is_due(
            utc("2026-03-29T06:00:00Z"),
            &s,
            Some(day("2026-03-28"))
        ));
    }

    #[test]
    fn skipped_and_repeated_local_times() {
        // 02:30 does not exist in Berlin on 29 March 2026 (02:00 → 03:00): due at 03:00 CEST.
        let s = settings(chrono_tz::Europe::Berlin, "02:30");
        assert_eq!(
            due_instant(day("2026-03-29"), &s),
            Some(utc("2026-03-29T01:00:00Z"))
        );
        assert!(!is_due(utc("2026-03-29T00:59:59Z"), &s, None));
        assert!(is_due(utc("2026-03-29T01:00:00Z"), &s, None));
        // 02:30 happens twice on 25 October 2026 (03:00 CEST → 02:00 CET): the first one counts.
        assert_eq!(
            due_instant(day("2026-10-25"), &s),
            Some(utc("2026-10-25T00:30:00Z"))
        );
        // New York: 02:30 is skipped on 8 March 2026 → 03:00 EDT = 07:00 UTC.
        let ny = settings(chrono_tz::America::New_York, "02:30");
        assert_eq!(
            due_instant(day("2026-03-08"), &ny),
            Some(utc("2026-03-08T07:00:00Z"))
        );
    }
}
