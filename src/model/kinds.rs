//! What each kind of field holds and how its JSON token is read.
//!
//! A kind is a zero-sized type; [`Kind::parse_ref`] turns the raw JSON token text into the
//! field's value, and [`Kind::missing`] says what a missing key means (Halo often
//! leaves keys out: missing is null for ids and text, zero for quantities).

use super::datetime::parse_datetime;
use crate::exact::{self, NumberError};
use std::borrow::Cow;

/// A field's value could not be read; names the field and the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("field `{field}`: {reason}")]
pub struct FieldError {
    /// The JSON key.
    pub field: &'static str,
    /// What was wrong with its value.
    pub reason: String,
}

/// A kind of field.
pub trait Kind {
    /// The Rust value a field of this kind holds.
    type Value: Clone + Default + PartialEq + std::fmt::Debug + Send + Sync;
    /// Appended to the field name to name its frame column (the unit, where there is one).
    const SUFFIX: &'static str;
    /// The value as read from a JSON token without copying: text borrowed from the
    /// document where it holds no escape, everything else the value itself.
    type Ref<'a>: Clone + Default + super::canon::Canonical;
    /// Reads the raw JSON token text (`null` included), borrowing what it can.
    fn parse_ref(raw: &str) -> Result<Self::Ref<'_>, String>;
    /// The owned value of a borrowed one.
    fn to_owned(r: Self::Ref<'_>) -> Self::Value;
    /// A borrowed view of an owned value.
    fn borrow(v: &Self::Value) -> Self::Ref<'_>;
    /// What a missing key means.
    fn missing<'a>() -> Self::Ref<'a> {
        Self::Ref::default()
    }
}

/// The parts of [`Kind`] for kinds whose value borrows nothing.
macro_rules! copy_kind {
    ($t:ty) => {
        type Ref<'a> = $t;
        fn to_owned(r: $t) -> $t {
            r
        }
        fn borrow(v: &$t) -> $t {
            *v
        }
    };
}

/// The parts of [`Kind`] for text kinds, which borrow from the document.
macro_rules! text_kind {
    () => {
        type Ref<'a> = Option<Cow<'a, str>>;
        fn to_owned(r: Self::Ref<'_>) -> Self::Value {
            r.map(Cow::into_owned)
        }
        fn borrow(v: &Self::Value) -> Self::Ref<'_> {
            v.as_deref().map(Cow::Borrowed)
        }
    };
}

fn num_err(e: NumberError) -> String {
    e.to_string()
}

/// The text of a JSON string token (`null`: none), borrowed when it holds no escape
/// (the common case: nothing to decode; tokens come from serde_json's raw values,
/// already validated JSON).
fn unquote(raw: &str) -> Result<Option<Cow<'_, str>>, String> {
    let t = exact::trimmed(raw);
    if t == "null" {
        return Ok(None);
    }
    if let Some(inner) = t.strip_prefix('"').and_then(|i| i.strip_suffix('"'))
        && memchr::memchr2(b'\\', b'"', inner.as_bytes()).is_none()
    {
        return Ok(Some(Cow::Borrowed(inner)));
    }
    if t.starts_with('"') {
        return serde_json::from_str::<String>(t)
            .map(|s| Some(Cow::Owned(s)))
            .map_err(|e| e.to_string());
    }
    Err(format!(
        "expected a string, found `{}`",
        t.chars().take(40).collect::<String>()
    ))
}

/// Whole-number ids and codes.
pub struct Int;
impl Kind for Int {
    type Value = Option<i64>;
    copy_kind!(Option<i64>);
    const SUFFIX: &'static str = "";
    fn parse_ref(raw: &str) -> Result<Self::Value, String> {
        exact::parse_whole(raw).map_err(num_err)
    }
}

/// Ids of other records where Halo writes -1 or 0 for "none".
pub struct RefId;
impl Kind for RefId {
    type Value = Option<i64>;
    copy_kind!(Option<i64>);
    const SUFFIX: &'static str = "";
    fn parse_ref(raw: &str) -> Result<Self::Value, String> {
        Ok(exact::parse_whole(raw).map_err(num_err)?.filter(|v| *v > 0))
    }
}

/// Free text. A bare number is kept as its text (lossless); objects and arrays are errors.
pub struct Text;
impl Kind for Text {
    type Value = Option<String>;
    text_kind!();
    const SUFFIX: &'static str = "";
    fn parse_ref(raw: &str) -> Result<Self::Ref<'_>, String> {
        let t = exact::trimmed(raw);
        if t.starts_with('-') || t.as_bytes().first().is_some_and(u8::is_ascii_digit) {
            return Ok(Some(Cow::Borrowed(t)));
        }
        unquote(t)
    }
}

/// Text that keys a report row (contract reference, invoice number): blank means none.
pub struct Key;
impl Kind for Key {
    type Value = Option<String>;
    text_kind!();
    const SUFFIX: &'static str = "";
    fn parse_ref(raw: &str) -> Result<Self::Ref<'_>, String> {
        Ok(Text::parse_ref(raw)?.filter(|s| !exact::trimmed(s).is_empty()))
    }
}

/// Booleans; 0 and 1 are accepted as false and true.
pub struct Flag;
impl Kind for Flag {
    type Value = Option<bool>;
    copy_kind!(Option<bool>);
    const SUFFIX: &'static str = "";
    fn parse_ref(raw: &str) -> Result<Self::Value, String> {
        match exact::trimmed(raw) {
            "null" => Ok(None),
            "true" | "1" => Ok(Some(true)),
            "false" | "0" => Ok(Some(false)),
            other => Err(format!(
                "expected true or false, found `{}`",
                other.chars().take(40).collect::<String>()
            )),
        }
    }
}

/// Date-times, as UTC nanoseconds since the epoch.
pub struct Date;
impl Kind for Date {
    type Value = Option<i64>;
    copy_kind!(Option<i64>);
    const SUFFIX: &'static str = "";
    fn parse_ref(raw: &str) -> Result<Self::Value, String> {
        match unquote(raw)? {
            None => Ok(None),
            Some(s) => parse_datetime(&s).map_err(|e| e.to_string()),
        }
    }
}

fn non_negative(raw: &str, per_one: i64) -> Result<i64, String> {
    let v = exact::parse_units(raw, per_one)
        .map_err(num_err)?
        .unwrap_or(0);
    if v < 0 {
        return Err(format!(
            "`{}` is negative, which this field cannot be",
            raw.trim()
        ));
    }
    Ok(v)
}

/// Non-negative hours, held in milliseconds.
pub struct Hours;
impl Kind for Hours {
    type Value = i64;
    copy_kind!(i64);
    const SUFFIX: &'static str = "_ms";
    fn parse_ref(raw: &str) -> Result<Self::Value, String> {
        non_negative(raw, exact::MS_PER_HOUR)
    }
}

/// Hours that may be negative (adjustments), held in milliseconds.
pub struct SignedHours;
impl Kind for SignedHours {
    type Value = i64;
    copy_kind!(i64);
    const SUFFIX: &'static str = "_ms";
    fn parse_ref(raw: &str) -> Result<Self::Value, String> {
        Ok(exact::parse_units(raw, exact::MS_PER_HOUR)
            .map_err(num_err)?
            .unwrap_or(0))
    }
}

/// Non-negative days, held in milliseconds.
pub struct Days;
impl Kind for Days {
    type Value = i64;
    copy_kind!(i64);
    const SUFFIX: &'static str = "_ms";
    fn parse_ref(raw: &str) -> Result<Self::Value, String> {
        non_negative(raw, exact::MS_PER_DAY)
    }
}

/// Non-negative money, held in cents.
pub struct Money;
impl Kind for Money {
    type Value = i64;
    copy_kind!(i64);
    const SUFFIX: &'static str = "_cents";
    fn parse_ref(raw: &str) -> Result<Self::Value, String> {
        non_negative(raw, exact::CENTS_PER_UNIT)
    }
}

/// Non-negative mileage, held in ten-thousandths.
pub struct Miles;
impl Kind for Miles {
    type Value = i64;
    copy_kind!(i64);
    const SUFFIX: &'static str = "_e4";
    fn parse_ref(raw: &str) -> Result<Self::Value, String> {
        non_negative(raw, exact::MILEAGE_SCALE)
    }
}
