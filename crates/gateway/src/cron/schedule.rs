//! Schedule math: when a job runs next. `at` is absolute (ISO-8601 or epoch ms) or relative
//! (`20m`, `+1h`, resolved once when the job is created); `every` runs on the grid
//! `anchorMs + k·everyMs`; `cron` expressions (5 fields, or 6 with seconds first) are evaluated
//! in an IANA zone with DST handled by `croner` + `chrono-tz`. Also the clock the scheduler
//! reads: the system clock, or in tests the epoch milliseconds written in the file named by
//! `OPENCLAW_TEST_CLOCK`, so tests move time without sleeping.

use std::str::FromStr;

use chrono::{DateTime, TimeZone, Utc};
use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};
use openclaw_protocol::cron::CronSchedule;

/// Why a schedule is not usable; `field` is the path under `schedule` the error names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleError {
    pub field: &'static str,
    pub message: String,
}

impl ScheduleError {
    fn new(field: &'static str, message: impl Into<String>) -> Self {
        Self {
            field,
            message: message.into(),
        }
    }
}

/// The test clock file, when the test knob is set.
fn test_clock() -> Option<std::path::PathBuf> {
    openclaw_config::env::var("TEST_CLOCK").map(std::path::PathBuf::from)
}

/// True when "now" comes from the test clock (the timer then re-reads it often instead of
/// sleeping until a due time that the test will reach by writing the file).
pub fn test_clock_active() -> bool {
    test_clock().is_some()
}

/// Now, in epoch milliseconds.
pub fn now_ms() -> u64 {
    if let Some(path) = test_clock()
        && let Some(ms) = std::fs::read_to_string(path)
            .ok()
            .and_then(|t| t.trim().parse::<u64>().ok())
    {
        return ms;
    }
    crate::state::now_ms()
}

fn parser() -> CronParser {
    CronParser::builder()
        .seconds(Seconds::Optional)
        .year(Year::Disallowed)
        .build()
}

/// Parses a cron expression (5 or 6 fields).
pub fn parse_cron(expr: &str) -> Result<Cron, ScheduleError> {
    let fields = expr.split_whitespace().count();
    if !(5..=6).contains(&fields) && !expr.trim().starts_with('@') {
        return Err(ScheduleError::new(
            "expr",
            format!("invalid cron expression {expr:?}: expected 5 or 6 fields, got {fields}"),
        ));
    }
    parser()
        .parse(expr)
        .map_err(|e| ScheduleError::new("expr", format!("invalid cron expression {expr:?}: {e}")))
}

/// Parses an IANA zone name.
pub fn parse_tz(tz: &str) -> Result<chrono_tz::Tz, ScheduleError> {
    chrono_tz::Tz::from_str(tz.trim())
        .map_err(|_| ScheduleError::new("tz", format!("unknown time zone: {tz}")))
}

/// `20m`, `+20m`, `in 20m` → milliseconds.
fn relative_ms(s: &str) -> Option<u64> {
    let s = s.trim();
    let s = s.strip_prefix("in ").unwrap_or(s).trim();
    let s = s.strip_prefix('+').unwrap_or(s);
    if s.is_empty() || !s.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    if s.chars().all(|c| c.is_ascii_digit()) {
        return None; // bare digits are epoch ms, not a duration
    }
    crate::heartbeat::parse_every(s).map(|d| d.as_millis() as u64)
}

/// The instant an `at` value names (relative values count from `now`).
pub fn parse_at(at: &str, now: u64) -> Result<u64, ScheduleError> {
    let t = at.trim();
    if !t.is_empty() && t.chars().all(|c| c.is_ascii_digit()) {
        return t
            .parse::<u64>()
            .map_err(|_| ScheduleError::new("at", format!("invalid time: {at}")));
    }
    if let Some(ms) = relative_ms(t) {
        return Ok(now.saturating_add(ms));
    }
    if let Ok(dt) = DateTime::parse_from_rfc3339(t) {
        return u64::try_from(dt.timestamp_millis())
            .map_err(|_| ScheduleError::new("at", format!("time before 1970: {at}")));
    }
    // A zone-less ISO time is UTC (as `Date.parse` of the reference's normalised form).
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(n) = chrono::NaiveDateTime::parse_from_str(t, fmt) {
            return u64::try_from(n.and_utc().timestamp_millis())
                .map_err(|_| ScheduleError::new("at", format!("time before 1970: {at}")));
        }
    }
    Err(ScheduleError::new(
        "at",
        format!("invalid time {at:?}: expected an ISO-8601 time, epoch ms or a duration like 20m"),
    ))
}

/// The ISO form stored for an absolute `at`.
pub fn iso(ms: u64) -> String {
    Utc.timestamp_millis_opt(ms as i64)
        .single()
        .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_else(|| ms.to_string())
}

/// Checks a schedule a caller sent and returns it as stored: `at` made absolute, `every`
/// given its anchor. An `at` in the past is refused.
pub fn normalize(s: &CronSchedule, now: u64) -> Result<CronSchedule, ScheduleError> {
    match s {
        CronSchedule::At { at } => {
            let ms = parse_at(at, now)?;
            if ms <= now {
                return Err(ScheduleError::new(
                    "at",
                    format!("at is in the past: {}", iso(ms)),
                ));
            }
            Ok(CronSchedule::At { at: iso(ms) })
        }
        CronSchedule::Every {
            every_ms,
            anchor_ms,
        } => {
            if *every_ms == 0 {
                return Err(ScheduleError::new("everyMs", "everyMs must be at least 1"));
            }
            Ok(CronSchedule::Every {
                every_ms: *every_ms,
                anchor_ms: Some(anchor_ms.unwrap_or(now)),
            })
        }
        CronSchedule::Cron {
            expr,
            tz,
            stagger_ms,
        } => {
            parse_cron(expr)?;
            if let Some(tz) = tz.as_deref().filter(|t| !t.trim().is_empty()) {
                parse_tz(tz)?;
            }
            Ok(CronSchedule::Cron {
                expr: expr.trim().to_string(),
                tz: tz.clone().filter(|t| !t.trim().is_empty()),
                stagger_ms: *stagger_ms,
            })
        }
    }
}

fn next_in<Z: TimeZone>(cron: &Cron, zone: &Z, after_ms: u64) -> Option<u64> {
    let start = zone.timestamp_millis_opt(after_ms as i64).single()?;
    let next = cron.find_next_occurrence(&start, false).ok()?;
    u64::try_from(next.timestamp_millis()).ok()
}

/// The first run strictly after `after` (None: the schedule never runs again).
pub fn next_after(s: &CronSchedule, after: u64) -> Option<u64> {
    match s {
        CronSchedule::At { at } => {
            let ms = parse_at(at, after).ok()?;
            (ms > after).then_some(ms)
        }
        CronSchedule::Every {
            every_ms,
            anchor_ms,
        } => {
            let every = (*every_ms).max(1);
            let anchor = anchor_ms.unwrap_or(after);
            if after < anchor {
                return Some(anchor);
            }
            let k = (after - anchor) / every + 1;
            anchor.checked_add(k.checked_mul(every)?)
        }
        CronSchedule::Cron { expr, tz, .. } => {
            let cron = parse_cron(expr).ok()?;
            match tz.as_deref().filter(|t| !t.trim().is_empty()) {
                Some(tz) => next_in(&cron, &parse_tz(tz).ok()?, after),
                None => next_in(&cron, &chrono::Local, after),
            }
        }
    }
}

/// The first run of a new (or re-scheduled) job: an `at` job runs at its time, others at
/// their next slot after `now`.
pub fn first_run(s: &CronSchedule, now: u64) -> Option<u64> {
    match s {
        CronSchedule::At { at } => parse_at(at, now).ok(),
        _ => next_after(s, now),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> u64 {
        DateTime::parse_from_rfc3339(s).unwrap().timestamp_millis() as u64
    }

    #[test]
    fn berlin_across_dst() {
        let s = CronSchedule::Cron {
            expr: "30 2 * * *".into(),
            tz: Some("Europe/Berlin".into()),
            stagger_ms: None,
        };
        // 2026-03-29: 02:30 does not exist in Berlin (clocks jump 02:00 → 03:00).
        let before = utc("2026-03-28T00:00:00Z");
        let a = next_after(&s, before).unwrap();
        assert_eq!(a, utc("2026-03-28T01:30:00Z")); // 02:30 CET
        // The missing 02:30 runs at the first instant after the gap (03:00 CEST), not never
        // and not at 02:30 CET rules (01:30Z).
        let b = next_after(&s, a).unwrap();
        assert_eq!(b, utc("2026-03-29T01:00:00Z"));
        let c = next_after(&s, utc("2026-03-30T00:00:00Z")).unwrap();
        assert_eq!(c, utc("2026-03-30T00:30:00Z")); // 02:30 CEST
    }

    #[test]
    fn every_runs_on_the_anchor_grid_without_bursts() {
        let s = CronSchedule::Every {
            every_ms: 1000,
            anchor_ms: Some(500),
        };
        assert_eq!(next_after(&s, 0), Some(500));
        assert_eq!(next_after(&s, 500), Some(1500));
        // Long downtime: the next slot after now, not every missed one.
        assert_eq!(next_after(&s, 1_000_250), Some(1_000_500));
    }

    #[test]
    fn at_values() {
        assert_eq!(parse_at("20m", 1000).unwrap(), 1000 + 1_200_000);
        assert_eq!(parse_at("+1h", 0).unwrap(), 3_600_000);
        assert_eq!(parse_at("1796137522897", 0).unwrap(), 1796137522897);
        assert_eq!(
            parse_at("2026-12-02T10:00:00Z", 0).unwrap(),
            utc("2026-12-02T10:00:00Z")
        );
        assert_eq!(parse_at("soon", 0).unwrap_err().field, "at");
        let past = CronSchedule::At { at: "1000".into() };
        assert_eq!(normalize(&past, 5000).unwrap_err().field, "at");
    }

    #[test]
    fn bad_expressions_and_zones() {
        assert_eq!(parse_cron("61 * * * *").unwrap_err().field, "expr");
        assert_eq!(parse_cron("* * *").unwrap_err().field, "expr");
        assert!(parse_cron("0 0 9 * * 1-5").is_ok());
        assert_eq!(parse_tz("Mars/Olympus").unwrap_err().field, "tz");
    }
}
