//! Halo's date-time strings, read as UTC instants in nanoseconds since the Unix epoch.
//!
//! Accepted: `YYYY-MM-DD`, optionally followed by `T` (or a space) and `HH:MM[:SS]`, then 0 to
//! 9 fractional digits, then `Z`, an offset `±HH:MM`/`±HHMM`, or nothing (Halo stores UTC,
//! so no offset means UTC). `1900-01-01T00:00:00`, `1899-12-30T00:00:00` and
//! `0001-01-01T00:00:00` are Halo's and .NET's ways of saying "no date" and read as none.

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};

/// Why a date-time string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DateError {
    /// Not a string of the accepted shape.
    #[error("`{0}` is not a date-time (expected e.g. 2026-10-01T09:30:00Z)")]
    Malformed(String),
    /// A valid shape naming an impossible date or time (`2026-02-30`).
    #[error("`{0}` names no real date or time")]
    Impossible(String),
    /// Outside what nanoseconds since 1970 can hold (years 1677 to 2262).
    #[error("`{0}` is outside the supported years 1677-2262")]
    OutOfRange(String),
}

fn digits(b: &[u8], at: usize, n: usize) -> Option<u32> {
    let s = b.get(at..at + n)?;
    let mut v = 0u32;
    for &c in s {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + (c - b'0') as u32;
    }
    Some(v)
}

/// Parses one date-time string (already unescaped, without quotes).
/// `Ok(None)` means Halo's "no date".
pub fn parse_datetime(s: &str) -> Result<Option<i64>, DateError> {
    let malformed = || DateError::Malformed(s.chars().take(40).collect());
    let b = crate::exact::trimmed(s).as_bytes();
    if b.is_empty() {
        return Ok(None);
    }
    let (y, mo, d) = match (digits(b, 0, 4), digits(b, 5, 2), digits(b, 8, 2)) {
        (Some(y), Some(mo), Some(d)) if b[4] == b'-' && b[7] == b'-' => (y, mo, d),
        _ => return Err(malformed()),
    };
    let mut i = 10;
    let (mut hh, mut mm, mut ss, mut nanos) = (0, 0, 0, 0u32);
    let mut offset_secs: i64 = 0;
    if i < b.len() && (b[i] == b'T' || b[i] == b' ') {
        hh = digits(b, i + 1, 2).ok_or_else(malformed)?;
        if b.get(i + 3) != Some(&b':') {
            return Err(malformed());
        }
        mm = digits(b, i + 4, 2).ok_or_else(malformed)?;
        i += 6;
        if b.get(i) == Some(&b':') {
            ss = digits(b, i + 1, 2).ok_or_else(malformed)?;
            i += 3;
            if b.get(i) == Some(&b'.') {
                i += 1;
                let start = i;
                while i < b.len() && b[i].is_ascii_digit() {
                    i += 1;
                }
                let n = i - start;
                if n == 0 || n > 9 {
                    return Err(malformed());
                }
                nanos = digits(b, start, n).ok_or_else(malformed)? * 10u32.pow(9 - n as u32);
            }
        }
        match b.get(i) {
            None => {}
            Some(b'Z') | Some(b'z') if i + 1 == b.len() => i += 1,
            Some(&sign @ (b'+' | b'-')) => {
                let oh = digits(b, i + 1, 2).ok_or_else(malformed)?;
                let om_at = if b.get(i + 3) == Some(&b':') {
                    i + 4
                } else {
                    i + 3
                };
                let om = digits(b, om_at, 2).ok_or_else(malformed)?;
                i = om_at + 2;
                if oh > 23 || om > 59 {
                    return Err(malformed());
                }
                let secs = (oh * 3600 + om * 60) as i64;
                offset_secs = if sign == b'+' { secs } else { -secs };
            }
            Some(_) => return Err(malformed()),
        }
    }
    if i != b.len() {
        return Err(malformed());
    }
    let midnight = hh == 0 && mm == 0 && ss == 0 && nanos == 0;
    if midnight
        && ((y, mo, d) == (1900, 1, 1) || (y, mo, d) == (1899, 12, 30) || (y, mo, d) == (1, 1, 1))
    {
        return Ok(None);
    }
    let impossible = || DateError::Impossible(s.chars().take(40).collect());
    let date = NaiveDate::from_ymd_opt(y as i32, mo, d).ok_or_else(impossible)?;
    let time = NaiveTime::from_hms_nano_opt(hh, mm, ss, nanos).ok_or_else(impossible)?;
    let utc = NaiveDateTime::new(date, time).and_utc();
    let nanos = utc
        .timestamp_nanos_opt()
        .and_then(|n| n.checked_sub(offset_secs.checked_mul(1_000_000_000)?))
        .ok_or_else(|| DateError::OutOfRange(s.chars().take(40).collect()))?;
    Ok(Some(nanos))
}

/// Formats nanoseconds since the epoch as `YYYY-MM-DDTHH:MM:SS[.fffffff]Z` (the
/// date-time cells of reports, rejected records, the generator): the fraction as chrono's `%.f` writes it
/// (none when whole seconds, else 3, 6 or 9 digits, the fewest that hold it).
///
/// Written by hand into one buffer for any instant from 1970 (a report formats a date
/// per row, and chrono's formatter grew its string ten times per date); earlier
/// instants go through chrono, with which a property test holds this equal.
pub fn format_datetime(nanos: i64) -> String {
    if nanos < 0 {
        return chrono_datetime(nanos);
    }
    let (secs, frac) = (nanos / 1_000_000_000, (nanos % 1_000_000_000) as u32);
    let (days, rem) = (secs / 86_400, (secs % 86_400) as u32);
    let (y, m, d) = civil_from_days(days);
    let mut b = [0u8; 30];
    let two = |b: &mut [u8], at: usize, v: u32| {
        b[at] = b'0' + (v / 10) as u8;
        b[at + 1] = b'0' + (v % 10) as u8;
    };
    // i64 nanoseconds end in 2262: the year has four digits.
    two(&mut b, 0, (y / 100) as u32);
    two(&mut b, 2, (y % 100) as u32);
    b[4] = b'-';
    two(&mut b, 5, m);
    b[7] = b'-';
    two(&mut b, 8, d);
    b[10] = b'T';
    two(&mut b, 11, rem / 3600);
    b[13] = b':';
    two(&mut b, 14, rem / 60 % 60);
    b[16] = b':';
    two(&mut b, 17, rem % 60);
    let mut len = 19;
    let (digits, value) = match frac {
        0 => (0, 0),
        f if f % 1_000_000 == 0 => (3, f / 1_000_000),
        f if f % 1_000 == 0 => (6, f / 1_000),
        f => (9, f),
    };
    if digits > 0 {
        b[len] = b'.';
        let mut v = value;
        for i in (0..digits).rev() {
            b[len + 1 + i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
        len += 1 + digits;
    }
    b[len] = b'Z';
    len += 1;
    std::str::from_utf8(&b[..len])
        .expect("ASCII digits and separators")
        .to_string()
}

/// The fraction digits a date-time column needs so that every one of `nanos` is written
/// exactly with the same precision: 0, 3, 6 or 9 (the most any of them needs).
pub fn column_digits(nanos: impl IntoIterator<Item = i64>) -> usize {
    nanos
        .into_iter()
        .map(|n| match n.rem_euclid(1_000_000_000) {
            0 => 0,
            f if f % 1_000_000 == 0 => 3,
            f if f % 1_000 == 0 => 6,
            _ => 9,
        })
        .max()
        .unwrap_or(0)
}

/// [`format_datetime`] with at least `digits` fraction digits (0, 3, 6 or 9; see
/// [`column_digits`]): every cell of a column the same shape.
pub fn format_datetime_digits(nanos: i64, digits: usize) -> String {
    let s = format_datetime(nanos);
    let body = &s[..s.len() - 1];
    let have = body.find('.').map_or(0, |dot| body.len() - dot - 1);
    if have >= digits {
        return s;
    }
    let mut out = String::with_capacity(body.len() + 1 + digits + 1);
    out.push_str(body);
    if have == 0 {
        out.push('.');
    }
    out.extend(std::iter::repeat_n('0', digits - have));
    out.push('Z');
    out
}

/// The proleptic Gregorian (year, month, day) of `days` since 1970-01-01 (`days >= 0`),
/// by counting 400-year eras from 0000-03-01 (months from March, so that the leap day
/// ends a year).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097; // day of the era, 0..146_096
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365; // 0..399
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // day of the year from March
    let mp = (5 * doy + 2) / 153; // month from March, 0..11
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// [`format_datetime`] by chrono (instants before 1970).
fn chrono_datetime(nanos: i64) -> String {
    // The format is parsed once, not on every call.
    static ITEMS: std::sync::LazyLock<Vec<chrono::format::Item<'static>>> =
        std::sync::LazyLock::new(|| {
            chrono::format::StrftimeItems::new("%Y-%m-%dT%H:%M:%S%.fZ")
                .parse_to_owned()
                .expect("a valid format")
        });
    let dt = chrono::DateTime::from_timestamp_nanos(nanos);
    dt.format_with_items(ITEMS.iter()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Option<i64> {
        parse_datetime(s).unwrap()
    }

    use proptest::prelude::Strategy as _;

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(20_000))]
        /// The hand-written formatter writes what chrono writes, for every instant an
        /// i64 holds (whole seconds, milli-, micro- and nanosecond fractions).
        #[test]
        fn format_datetime_writes_what_chrono_writes(
            nanos in proptest::prop_oneof![
                proptest::prelude::any::<i64>(),
                (0i64..i64::MAX / 1_000_000_000).prop_map(|s| s * 1_000_000_000),
                (0i64..i64::MAX / 1_000_000).prop_map(|ms| ms * 1_000_000),
                (0i64..i64::MAX / 1_000).prop_map(|us| us * 1_000),
            ],
        ) {
            proptest::prop_assert_eq!(format_datetime(nanos), chrono_datetime(nanos));
        }
    }

    #[test]
    fn format_datetime_at_leap_days_and_year_ends() {
        for s in [
            "1970-01-01T00:00:00Z",
            "2000-02-29T23:59:59.999Z",
            "2024-02-29T00:00:00.000001Z",
            "2100-03-01T00:00:00.000000001Z",
            "2026-12-31T23:59:59.9Z",
            "2262-04-11T23:47:16.854775807Z",
        ] {
            let ns = p(s).unwrap();
            assert_eq!(format_datetime(ns), chrono_datetime(ns), "{s}");
        }
        assert_eq!(
            format_datetime(p("2026-12-31T23:59:59.9Z").unwrap()),
            "2026-12-31T23:59:59.900Z"
        );
    }

    #[test]
    fn halo_forms_are_utc() {
        let base = p("2024-06-20T14:45:18Z").unwrap();
        assert_eq!(p("2024-06-20T14:45:18"), Some(base));
        assert_eq!(p("2024-06-20T14:45:18.0782286Z"), Some(base + 78_228_600));
        assert_eq!(p("2024-06-20T14:45:18.897"), Some(base + 897_000_000));
        assert_eq!(p("2024-06-20T16:45:18+02:00"), Some(base));
        assert_eq!(p("2024-06-20T14:45"), Some(base - 18_000_000_000));
        assert_eq!(
            p("2024-06-20"),
            Some(base - (14 * 3600 + 45 * 60 + 18) * 1_000_000_000)
        );
    }

    #[test]
    fn no_date_sentinels() {
        assert_eq!(p("1900-01-01T00:00:00"), None);
        assert_eq!(p("1899-12-30T00:00:00"), None);
        assert_eq!(p("0001-01-01T00:00:00"), None);
        assert_eq!(p(""), None);
    }

    #[test]
    fn bad_dates_are_errors() {
        assert!(matches!(
            parse_datetime("yesterday"),
            Err(DateError::Malformed(_))
        ));
        assert!(matches!(
            parse_datetime("2026-02-30T00:00:00"),
            Err(DateError::Impossible(_))
        ));
        assert!(matches!(
            parse_datetime("2026-01-01T00:00:00.1234567890"),
            Err(DateError::Malformed(_))
        ));
        assert!(matches!(
            parse_datetime("1500-01-01T10:00:00"),
            Err(DateError::OutOfRange(_))
        ));
        assert!(matches!(
            parse_datetime("2026-01-01T00:00:00Zjunk"),
            Err(DateError::Malformed(_))
        ));
    }

    #[test]
    fn format_round_trip() {
        let n = p("2024-06-20T14:45:18.0782286Z").unwrap();
        assert_eq!(format_datetime(n), "2024-06-20T14:45:18.078228600Z");
    }

    #[test]
    fn fractions_print_as_3_6_or_9_digits_or_none() {
        let f = |s: &str| format_datetime(p(s).unwrap());
        assert_eq!(f("2026-10-01T00:00:00Z"), "2026-10-01T00:00:00Z");
        assert_eq!(f("2026-10-01T00:00:00.5Z"), "2026-10-01T00:00:00.500Z");
        assert_eq!(
            f("2026-10-01T00:00:00.0001Z"),
            "2026-10-01T00:00:00.000100Z"
        );
        assert_eq!(
            f("1969-12-31T23:59:59.000000001Z"),
            "1969-12-31T23:59:59.000000001Z"
        );
    }

    #[test]
    fn a_column_of_date_times_is_written_with_one_precision() {
        let ns = [
            1_790_000_000_000_000_000i64,
            1_790_000_000_926_080_700,
            1_790_000_000_500_000_000,
        ];
        let d = column_digits(ns);
        assert_eq!(d, 9);
        let shown: Vec<String> = ns.iter().map(|n| format_datetime_digits(*n, d)).collect();
        assert_eq!(
            shown,
            [
                "2026-09-21T14:13:20.000000000Z",
                "2026-09-21T14:13:20.926080700Z",
                "2026-09-21T14:13:20.500000000Z"
            ]
        );
        assert_eq!(column_digits([1_790_000_000_000_000_000i64]), 0);
        assert_eq!(
            format_datetime_digits(1_790_000_000_500_000_000, 0),
            "2026-09-21T14:13:20.500Z"
        );
    }
}
