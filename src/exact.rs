//! Exact quantities: the one place where numbers are rounded.
//!
//! # Rounding policy
//!
//! Halo sends hours and money as .NET doubles written in JSON (`0.1`, `-0.0`,
//! `0.30000000000000004`, `41.666666666666664`, sometimes `1E-05`). We never let those
//! become binary floating point. The JSON text is read as an exact decimal and
//! converted **once**, at ingest, to an integer count of a fixed unit:
//!
//! | quantity | unit held | example |
//! |---|---|---|
//! | money (`action*amount`) | cents (1/100) | `41.666666666666664` → 4167 |
//! | hours (`timetaken`, `nonbilltime`, `traveltime`, `action*hours`, `timetakenadjusted`) | milliseconds (1/3,600,000 h) | `0.3333333333333333` → 1,200,000 |
//! | days (`timetakendays`) | milliseconds (1/86,400,000 day) | `0.5` → 43,200,000 |
//! | mileage | ten-thousandths (1/10,000) | `12.34567` → 123,457 |
//!
//! The conversion rounds half away from zero (`0.005` → 1 cent, `-0.005` → -1 cent).
//! After that every figure is an integer, every total is an exact integer sum of its
//! parts (checked: an overflow is an error, never a wrap), and nothing is rounded again.
//!
//! Hours are held in milliseconds rather than in 1/10,000 h so that the common
//! 20-minute entry (`0.3333333333333333`) is exact: three of them are exactly
//! 3,600,000 ms = `1.0000` h.
//!
//! Display is the only other place figures meet decimals. Money (2 decimals) and mileage
//! (4 decimals) are shown exactly, since their units are the displayed ones, so a money
//! total is always the exact sum of its rows as shown. Hours are shown with 4 decimals:
//! **every hours figure is its own exact value rounded once, half away from zero**
//! ([`format_hours`]), a row and a total alike. So a contract's hours read the same in
//! every report and match Halo's own figure; a total is the exact total rounded (so the
//! contracts and invoices reports of one period show the same totals), and may differ
//! from the sum of its shown rows by a few 0.0001 h. Tables and JSON say so in one line
//! ([`HOURS_NOTE`]).

/// The line reports carry about hours rounding.
pub const HOURS_NOTE: &str = "hours: each row and each total is its exact value rounded to 0.0001 h on its own, so a column may differ from the sum of its shown rows by a few 0.0001 h; money is exact";

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::{Decimal, RoundingStrategy};
use std::str::FromStr;

/// Milliseconds in one hour: the unit of every hours figure.
pub const MS_PER_HOUR: i64 = 3_600_000;
/// Milliseconds in one day: the unit of `timetakendays`.
pub const MS_PER_DAY: i64 = 86_400_000;
/// Minor units (cents) in one currency unit.
pub const CENTS_PER_UNIT: i64 = 100;
/// Ten-thousandths in one mile (or kilometre): the unit of mileage.
pub const MILEAGE_SCALE: i64 = 10_000;

/// Why a JSON token could not become an exact quantity.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NumberError {
    /// A JSON string stood where a number belongs.
    #[error("expected a number, found the string {0}")]
    StringNotNumber(String),
    /// `NaN`, `Infinity` or `-Infinity`, bare or quoted.
    #[error("`{0}` is not a finite number")]
    NotFinite(String),
    /// true/false/object/array or anything else that is not a number.
    #[error("expected a number, found `{0}`")]
    NotNumber(String),
    /// The value does not fit the unit's 64-bit range.
    #[error("`{0}` is out of range")]
    OutOfRange(String),
    /// A fractional value where a whole number belongs.
    #[error("expected a whole number, found `{0}`")]
    NotWhole(String),
}

fn shorten(text: &str) -> String {
    const MAX: usize = 40;
    if text.len() <= MAX {
        text.to_string()
    } else {
        let mut end = MAX;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}…", &text[..end])
    }
}

fn is_non_finite_word(s: &str) -> bool {
    matches!(
        s.trim_start_matches(['-', '+']),
        "NaN" | "nan" | "Infinity" | "infinity" | "inf" | "Inf"
    )
}

/// `text` without leading and trailing whitespace, as `str::trim`; without looking at
/// its characters when it starts and ends with ASCII that is not whitespace (tokens as
/// the readers give them).
pub(crate) fn trimmed(text: &str) -> &str {
    match text.as_bytes() {
        [a, .., z] | [a @ z] if a.is_ascii_graphic() && z.is_ascii_graphic() => text,
        _ => text.trim(),
    }
}

/// Reads one JSON number token exactly as a decimal.
///
/// `text` is the raw JSON token (what `serde_json::value::RawValue::get` returns).
/// Returns `Ok(None)` for `null`.
pub fn parse_decimal(text: &str) -> Result<Option<Decimal>, NumberError> {
    let t = trimmed(text);
    if t == "null" {
        return Ok(None);
    }
    if let Some(inner) = t.strip_prefix('"') {
        let inner = inner.strip_suffix('"').unwrap_or(inner);
        if is_non_finite_word(inner) {
            return Err(NumberError::NotFinite(shorten(inner)));
        }
        return Err(NumberError::StringNotNumber(shorten(t)));
    }
    if is_non_finite_word(t) {
        return Err(NumberError::NotFinite(shorten(t)));
    }
    let first = t.as_bytes().first().copied().unwrap_or(b' ');
    if !(first == b'-' || first.is_ascii_digit()) {
        return Err(NumberError::NotNumber(shorten(t)));
    }
    // JSON grammar only: digits, one sign, one dot, one exponent. rust_decimal alone
    // would also accept `1_000`, which JSON does not.
    if !t
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'.' | b'e' | b'E'))
    {
        return Err(NumberError::NotNumber(shorten(t)));
    }
    let parsed = if t.contains(['e', 'E']) {
        Decimal::from_scientific(t)
    } else {
        Decimal::from_str(t)
    };
    match parsed {
        Ok(d) => Ok(Some(d)),
        // Too many digits or too large for 96 bits: nothing a real Halo double produces.
        Err(_) => Err(NumberError::OutOfRange(shorten(t))),
    }
}

/// Converts an exact decimal to an integer count of `1/units_per_one`, rounding half
/// away from zero. This is the only rounding of a quantity anywhere in the program.
pub fn to_units(value: Decimal, units_per_one: i64, original: &str) -> Result<i64, NumberError> {
    value
        .checked_mul(Decimal::from(units_per_one))
        .map(|d| d.round_dp_with_strategy(0, RoundingStrategy::MidpointAwayFromZero))
        .and_then(|d| d.to_i64())
        .ok_or_else(|| NumberError::OutOfRange(shorten(original)))
}

/// Reads a JSON number token as a count of `1/units_per_one` (see the policy above).
/// `null` gives `Ok(None)`.
pub fn parse_units(text: &str, units_per_one: i64) -> Result<Option<i64>, NumberError> {
    if let Some(v) = plain_units(text.as_bytes(), units_per_one) {
        return Ok(Some(v));
    }
    match parse_decimal(text)? {
        None => Ok(None),
        Some(d) => to_units(d, units_per_one, text).map(Some),
    }
}

/// The integer fast path of [`parse_units`], for the tokens Halo nearly always sends: an
/// optional `-`, digits, optionally a `.` and more digits, at most 19 digits in all, no
/// exponent, nothing around it. The same exact value and the same rounding (half away
/// from zero) as the decimal path, computed in `u128`; `None` sends every other token
/// (and any result outside `i64`) to the decimal path.
fn plain_units(t: &[u8], units_per_one: i64) -> Option<i64> {
    let (neg, digits) = match t.first()? {
        b'-' => (true, &t[1..]),
        _ => (false, t),
    };
    let mut mantissa: u128 = 0;
    let mut count = 0u32;
    let mut scale = None;
    for (i, &b) in digits.iter().enumerate() {
        match b {
            b'0'..=b'9' => {
                mantissa = mantissa * 10 + u128::from(b - b'0');
                count += 1;
            }
            b'.' if scale.is_none() && i > 0 && i + 1 < digits.len() => scale = Some(i),
            _ => return None,
        }
    }
    if count == 0 || count > 19 || units_per_one <= 0 {
        return None;
    }
    let decimals = scale.map_or(0, |i| digits.len() - i - 1) as u32;
    let den = 10u128.pow(decimals);
    let num = mantissa * units_per_one as u128;
    let mut q = num / den;
    if 2 * (num % den) >= den {
        q += 1;
    }
    let q = i64::try_from(q).ok()?;
    Some(if neg { -q } else { q })
}

/// Reads a JSON number token that must be a whole number (ids, counts).
pub fn parse_whole(text: &str) -> Result<Option<i64>, NumberError> {
    let t = trimmed(text);
    // Fast path: plain integers are by far the most common token.
    if let Ok(v) = t.parse::<i64>() {
        return Ok(Some(v));
    }
    match parse_decimal(t)? {
        None => Ok(None),
        Some(d) if d.fract().is_zero() => d
            .to_i64()
            .map(Some)
            .ok_or_else(|| NumberError::OutOfRange(shorten(t))),
        Some(_) => Err(NumberError::NotWhole(shorten(t))),
    }
}

/// Formats `units` (a count of `1/units_per_one`) as a decimal with `decimals` places,
/// rounding half away from zero when the unit is finer than the display.
///
/// `format_fixed(1_200_000, MS_PER_HOUR, 4)` is `0.3333`; `format_fixed(4167, 100, 2)`
/// is `41.67`.
pub fn format_fixed(units: i64, units_per_one: i64, decimals: u32) -> String {
    narrow_fixed(units, units_per_one, decimals)
        .unwrap_or_else(|| wide_fixed(units, units_per_one, decimals))
}

/// [`format_fixed`] in 64-bit integers, when every step fits (any figure a report
/// shows): the same rounding, half away from zero, and the same text. `None` when a
/// step would not fit; formatting a 128-bit integer divides by 10^19 for every run of
/// digits, which was most of a long report's time spent on figures.
fn narrow_fixed(units: i64, units_per_one: i64, decimals: u32) -> Option<String> {
    let scale = 10u64.checked_pow(decimals)?;
    let den = u64::try_from(units_per_one).ok().filter(|&d| d > 0)?;
    let num = units.unsigned_abs().checked_mul(scale)?;
    let q = num.checked_mul(2)?.checked_add(den)? / den.checked_mul(2)?;
    // Digits written from the right into one buffer: the fraction (all `decimals` of
    // it), the point, the whole part, the sign. A u64 has at most 20 digits.
    let mut b = [0u8; 48];
    let mut at = b.len();
    let (mut int, mut frac) = (q / scale, q % scale);
    if decimals > 0 {
        for _ in 0..decimals {
            at -= 1;
            b[at] = b'0' + (frac % 10) as u8;
            frac /= 10;
        }
        at -= 1;
        b[at] = b'.';
    }
    loop {
        at -= 1;
        b[at] = b'0' + (int % 10) as u8;
        int /= 10;
        if int == 0 {
            break;
        }
    }
    if units < 0 && q > 0 {
        at -= 1;
        b[at] = b'-';
    }
    Some(
        std::str::from_utf8(&b[at..])
            .expect("ASCII digits")
            .to_string(),
    )
}

/// [`format_fixed`] in 128-bit integers: every `i64` figure.
fn wide_fixed(units: i64, units_per_one: i64, decimals: u32) -> String {
    let scale = 10i128.pow(decimals);
    let q = round_div(units as i128 * scale, units_per_one as i128);
    let neg = q < 0;
    let q = q.unsigned_abs();
    let int = q / scale as u128;
    let frac = q % scale as u128;
    let sign = if neg { "-" } else { "" };
    if decimals == 0 {
        format!("{sign}{int}")
    } else {
        format!("{sign}{int}.{frac:0width$}", width = decimals as usize)
    }
}

/// Hours held in milliseconds, shown with 4 decimals.
pub fn format_hours(ms: i64) -> String {
    format_fixed(ms, MS_PER_HOUR, 4)
}

/// Money held in cents, shown with 2 decimals.
pub fn format_money(cents: i64) -> String {
    format_fixed(cents, CENTS_PER_UNIT, 2)
}

/// Mileage held in ten-thousandths, shown with 4 decimals.
pub fn format_mileage(e4: i64) -> String {
    format_fixed(e4, MILEAGE_SCALE, 4)
}

/// Rounds `units` (a count of `1/units_per_one`) half away from zero to a count of
/// `1/shown_per_one` (e.g. milliseconds to ten-thousandths of an hour).
pub fn round_to(units: i64, units_per_one: i64, shown_per_one: i64) -> i64 {
    round_div(units as i128 * shown_per_one as i128, units_per_one as i128) as i64
}

/// `num / den` rounded half away from zero, in integers (`den > 0`): the display side of
/// the rounding policy, so no floating point on the way out either.
fn round_div(num: i128, den: i128) -> i128 {
    if num >= 0 {
        (2 * num + den) / (2 * den)
    } else {
        -((2 * -num + den) / (2 * den))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #[test]
        fn figures_format_the_same_in_64_and_128_bit_integers(
            units in proptest::prop_oneof![
                proptest::prelude::any::<i64>(),
                -10_000_000_000i64..10_000_000_000,
                -2_000i64..2_000,
            ],
            per_one in proptest::sample::select(vec![1i64, 100, 10_000, MS_PER_HOUR, 1_000, 7]),
            decimals in 0u32..6,
        ) {
            let narrow = narrow_fixed(units, per_one, decimals);
            if let Some(n) = &narrow {
                proptest::prop_assert_eq!(n, &wide_fixed(units, per_one, decimals));
            }
            if (-1_000_000_000_000..1_000_000_000_000).contains(&units) {
                proptest::prop_assert!(narrow.is_some(), "{} {} {}", units, per_one, decimals);
            }
        }
    }

    #[test]
    fn trimmed_is_str_trim_on_every_kind_of_edge() {
        for t in [
            "",
            " ",
            "x",
            " x",
            "x ",
            "\"a b\"",
            "12",
            "null",
            "\u{a0}x",
            "x\u{2003}",
            "\u{85}",
            "é",
            " é ",
            "\tnull\n",
            "-1.5",
            "\"\"",
        ] {
            assert_eq!(trimmed(t), t.trim(), "{t:?}");
        }
    }

    #[test]
    fn twenty_minute_entries_sum_to_one_hour() {
        let ms = parse_units("0.3333333333333333", MS_PER_HOUR)
            .unwrap()
            .unwrap();
        assert_eq!(ms, 1_200_000);
        assert_eq!(format_hours(3 * ms), "1.0000");
        assert_eq!(format_hours(ms), "0.3333");
    }

    #[test]
    fn float_noise_is_read_exactly_then_rounded_once() {
        assert_eq!(parse_units("0.30000000000000004", 100).unwrap(), Some(30));
        assert_eq!(parse_units("41.666666666666664", 100).unwrap(), Some(4167));
        assert_eq!(parse_units("0.1", MS_PER_HOUR).unwrap(), Some(360_000));
        assert_eq!(parse_units("0.005", 100).unwrap(), Some(1));
        assert_eq!(parse_units("-0.005", 100).unwrap(), Some(-1));
        assert_eq!(parse_units("-0.0", 100).unwrap(), Some(0));
        assert_eq!(parse_units("1E-05", MS_PER_HOUR).unwrap(), Some(36));
        assert_eq!(parse_units("2.5e2", 100).unwrap(), Some(25_000));
        assert_eq!(parse_units("null", 100).unwrap(), None);
    }

    #[test]
    fn the_integer_fast_path_gives_the_decimal_paths_units_for_random_tokens() {
        // Tokens of every shape the fast path takes (and some it must pass on), checked
        // against the rust_decimal path alone, for each unit.
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut fast = 0;
        for _ in 0..200_000 {
            let r = next();
            let int_digits = 1 + (r % 12) as usize;
            let frac_digits = ((r >> 8) % 20) as usize;
            let mut t = String::new();
            if r & (1 << 20) != 0 {
                t.push('-');
            }
            for k in 0..int_digits + frac_digits {
                if k == int_digits {
                    t.push('.');
                }
                let d = (next() % 10) as u8;
                // Mostly a leading 0 or small integer part, as .NET writes them.
                let d = if k == 0 && r & (1 << 21) != 0 { 0 } else { d };
                t.push(char::from(b'0' + d));
            }
            for unit in [MS_PER_HOUR, MS_PER_DAY, CENTS_PER_UNIT, MILEAGE_SCALE, 1] {
                let slow = parse_decimal(&t)
                    .and_then(|d| to_units(d.unwrap(), unit, &t))
                    .ok();
                let quick = plain_units(t.as_bytes(), unit);
                if quick.is_some() {
                    fast += 1;
                    assert_eq!(quick, slow, "{t} at {unit} per one");
                }
                assert_eq!(parse_units(&t, unit).ok().flatten(), slow, "{t}");
            }
        }
        assert!(fast > 400_000, "the fast path took only {fast} tokens");
        for odd in [
            "1e5",
            "1.",
            ".5",
            "-",
            "",
            "+1",
            "1.2.3",
            "00000000000000000001.5",
        ] {
            assert_eq!(plain_units(odd.as_bytes(), 100), None, "{odd}");
        }
        assert_eq!(plain_units(b"0.005", 100), Some(1));
        assert_eq!(plain_units(b"-0.005", 100), Some(-1));
        assert_eq!(plain_units(b"-0.0", 100), Some(0));
    }

    #[test]
    fn non_numbers_are_errors_with_the_value() {
        assert!(
            matches!(parse_units("\"abc\"", 100), Err(NumberError::StringNotNumber(s)) if s == "\"abc\"")
        );
        assert!(matches!(
            parse_units("\"NaN\"", 100),
            Err(NumberError::NotFinite(_))
        ));
        assert!(matches!(
            parse_units("NaN", 100),
            Err(NumberError::NotFinite(_))
        ));
        assert!(matches!(
            parse_units("-Infinity", 100),
            Err(NumberError::NotFinite(_))
        ));
        assert!(matches!(
            parse_units("true", 100),
            Err(NumberError::NotNumber(_))
        ));
        assert!(matches!(
            parse_units("1e400", 100),
            Err(NumberError::OutOfRange(_))
        ));
        assert!(matches!(parse_whole("1.5"), Err(NumberError::NotWhole(_))));
        assert_eq!(parse_whole("7.0").unwrap(), Some(7));
    }

    #[test]
    fn hours_rows_round_on_their_own_half_away_from_zero() {
        // 28.83333 h (contract 101 in issue 7) shows 28.8333, not an apportioned 28.8334.
        assert_eq!(format_hours(103_799_988), "28.8333");
        // 30 s of non-billable time shows 0.0083.
        assert_eq!(format_hours(30_000), "0.0083");
        // Three 20-minute rows each show 0.3333; their exact total shows 1.0000.
        assert_eq!(format_hours(1_200_000), "0.3333");
        assert_eq!(format_hours(3 * 1_200_000), "1.0000");
    }

    #[test]
    fn display_rounds_half_away_from_zero() {
        assert_eq!(format_money(-5), "-0.05");
        assert_eq!(format_money(123_456), "1234.56");
        assert_eq!(format_hours(180), "0.0001"); // 0.00005 h rounds up
        assert_eq!(format_hours(179), "0.0000");
        assert_eq!(format_hours(-180), "-0.0001");
        assert_eq!(format_mileage(123_457), "12.3457");
        assert_eq!(format_fixed(i64::MAX, 1, 0), i64::MAX.to_string());
    }
}
