//! Reporting periods: `--period YYYY-MM` or `--from DATE --to DATE` (half-open), in an
//! IANA time zone, turned into a UTC range of nanoseconds.

use chrono::{LocalResult, NaiveDate, NaiveDateTime, TimeZone};
use chrono_tz::Tz;

/// A half-open UTC range `[from_ns, to_ns)` and how the user named it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Period {
    /// First instant included (UTC nanoseconds).
    pub from_ns: i64,
    /// First instant excluded.
    pub to_ns: i64,
    /// As the user named it: `2026-10` or `2026-10-01..2026-11-01`.
    pub label: String,
    /// The zone the boundaries were read in.
    pub timezone: Tz,
}

/// A period that cannot be understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PeriodError {
    /// Not `YYYY-MM`.
    #[error("period `{0}` is not a month like 2026-10")]
    BadMonth(String),
    /// Not `YYYY-MM-DD` or `YYYY-MM-DDTHH:MM[:SS]`.
    #[error("`{0}` is not a date like 2026-10-01 (or 2026-10-01T08:00)")]
    BadDate(String),
    /// Unknown zone name.
    #[error("`{0}` is not an IANA time zone name (e.g. Europe/London, America/New_York, UTC)")]
    BadZone(String),
    /// `--to` not after `--from`.
    #[error("the period is empty: `--to {to}` is not after `--from {from}`")]
    Empty {
        /// Start.
        from: String,
        /// End.
        to: String,
    },
    /// Neither or both forms given.
    #[error("give either --period YYYY-MM, or both --from and --to")]
    Missing,
}

/// Parses a time zone name.
pub fn parse_zone(name: &str) -> Result<Tz, PeriodError> {
    name.parse::<Tz>()
        .map_err(|_| PeriodError::BadZone(name.to_string()))
}

fn local_to_utc_ns(tz: Tz, t: NaiveDateTime, shown: &str) -> Result<i64, PeriodError> {
    let dt = match tz.from_local_datetime(&t) {
        LocalResult::Single(d) => d,
        LocalResult::Ambiguous(first, _) => first,
        // A local time skipped by a daylight-saving change: the range starts where the
        // clock resumes, an hour later.
        LocalResult::None => tz
            .from_local_datetime(&(t + chrono::Duration::hours(1)))
            .earliest()
            .ok_or_else(|| PeriodError::BadDate(shown.to_string()))?,
    };
    dt.timestamp_nanos_opt()
        .ok_or_else(|| PeriodError::BadDate(shown.to_string()))
}

fn parse_local(s: &str) -> Result<NaiveDateTime, PeriodError> {
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(d.and_hms_opt(0, 0, 0).expect("midnight"));
    }
    for f in [
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, f) {
            return Ok(t);
        }
    }
    Err(PeriodError::BadDate(s.to_string()))
}

impl Period {
    /// The first instant (UTC nanoseconds) of the local calendar day `d` in the period's
    /// zone (the earliest, where a change of clocks makes midnight ambiguous or missing).
    pub fn start_of_day_ns(&self, d: chrono::NaiveDate) -> i64 {
        use chrono::TimeZone;
        let midnight = d.and_hms_opt(0, 0, 0).expect("midnight exists");
        let local = match self.timezone.from_local_datetime(&midnight) {
            chrono::LocalResult::Single(t) | chrono::LocalResult::Ambiguous(t, _) => t,
            chrono::LocalResult::None => {
                // Midnight skipped by a change of clocks: the day starts an hour later.
                let later = midnight + chrono::Duration::hours(1);
                self.timezone
                    .from_local_datetime(&later)
                    .earliest()
                    .expect("an hour after a skipped midnight exists")
            }
        };
        local.timestamp_nanos_opt().unwrap_or(i64::MIN)
    }

    /// The local calendar date of the instant `ns` (UTC nanoseconds) in the period's zone.
    pub fn date_of(&self, ns: i64) -> chrono::NaiveDate {
        use chrono::TimeZone;
        self.timezone.timestamp_nanos(ns).date_naive()
    }

    /// The calendar month `YYYY-MM` in `tz`.
    pub fn month(month: &str, tz: Tz) -> Result<Period, PeriodError> {
        let bad = || PeriodError::BadMonth(month.to_string());
        let (y, m) = month.split_once('-').ok_or_else(bad)?;
        if y.len() != 4 || m.len() != 2 {
            return Err(bad());
        }
        let (y, m): (i32, u32) = (y.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
        let start = NaiveDate::from_ymd_opt(y, m, 1).ok_or_else(bad)?;
        let end = if m == 12 {
            NaiveDate::from_ymd_opt(y + 1, 1, 1)
        } else {
            NaiveDate::from_ymd_opt(y, m + 1, 1)
        }
        .ok_or_else(bad)?;
        Ok(Period {
            from_ns: local_to_utc_ns(tz, start.and_hms_opt(0, 0, 0).expect("midnight"), month)?,
            to_ns: local_to_utc_ns(tz, end.and_hms_opt(0, 0, 0).expect("midnight"), month)?,
            label: month.to_string(),
            timezone: tz,
        })
    }

    /// `[from, to)` in `tz`.
    pub fn range(from: &str, to: &str, tz: Tz) -> Result<Period, PeriodError> {
        let f = local_to_utc_ns(tz, parse_local(from)?, from)?;
        let t = local_to_utc_ns(tz, parse_local(to)?, to)?;
        if t <= f {
            return Err(PeriodError::Empty {
                from: from.into(),
                to: to.into(),
            });
        }
        Ok(Period {
            from_ns: f,
            to_ns: t,
            label: format!("{from}..{to}"),
            timezone: tz,
        })
    }

    /// From command-line options: exactly one of `period` or (`from` and `to`).
    pub fn from_args(
        period: Option<&str>,
        from: Option<&str>,
        to: Option<&str>,
        tz: &str,
    ) -> Result<Period, PeriodError> {
        let tz = parse_zone(tz)?;
        match (period, from, to) {
            (Some(p), None, None) => Period::month(p, tz),
            (None, Some(f), Some(t)) => Period::range(f, t, tz),
            _ => Err(PeriodError::Missing),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn month_in_utc_and_in_a_zone() {
        let p = Period::month("2026-10", Tz::UTC).unwrap();
        assert_eq!(p.to_ns - p.from_ns, 31 * 86_400 * 1_000_000_000);
        let b = Period::month("2026-10", parse_zone("Europe/Berlin").unwrap()).unwrap();
        assert_eq!(p.from_ns - b.from_ns, 2 * 3600 * 1_000_000_000); // CEST, UTC+2
        assert_eq!(p.to_ns - b.to_ns, 3600 * 1_000_000_000); // CET after the change
        let d = Period::month("2026-12", Tz::UTC).unwrap();
        assert_eq!(d.to_ns, Period::month("2027-01", Tz::UTC).unwrap().from_ns);
    }

    #[test]
    fn bad_input_is_named() {
        assert_eq!(
            Period::month("2026-13", Tz::UTC).unwrap_err(),
            PeriodError::BadMonth("2026-13".into())
        );
        assert_eq!(
            Period::month("202610", Tz::UTC).unwrap_err(),
            PeriodError::BadMonth("202610".into())
        );
        assert!(matches!(
            parse_zone("Mars/Olympus"),
            Err(PeriodError::BadZone(_))
        ));
        assert!(matches!(
            Period::range("2026-10-02", "2026-10-01", Tz::UTC),
            Err(PeriodError::Empty { .. })
        ));
        assert_eq!(
            Period::from_args(None, Some("2026-10-01"), None, "UTC").unwrap_err(),
            PeriodError::Missing
        );
    }
}
