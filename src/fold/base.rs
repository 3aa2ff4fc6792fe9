//! What every fold shares: its error, checked addition, counts of names and references,
//! and the frame's columns read as plain slices.

use crate::aggregate::Overflow;
use crate::frame::col;
use polars::prelude::*;
use std::borrow::Cow;

/// A fold could not run over a frame.
#[derive(Debug, thiserror::Error)]
pub enum FoldError {
    /// A column is missing or not of its type.
    #[error("store column `{column}`: {source}")]
    Column {
        /// Column name.
        column: &'static str,
        /// polars' error.
        source: PolarsError,
    },
    /// A sum overflowed.
    #[error(transparent)]
    Overflow(#[from] Overflow),
}

/// Adds `b` to `a`, an overflow being an error naming `measure`.
pub fn add(a: &mut i64, b: i64, measure: &'static str) -> Result<(), Overflow> {
    *a = a.checked_add(b).ok_or(Overflow { measure })?;
    Ok(())
}

/// How many entries carry each value (names, references); Fx hashing, as a fold counts
/// one value per row.
pub type Counts = rustc_hash::FxHashMap<String, u64>;

/// The value most entries carry (the greater on a tie), for names and references.
pub fn most_common(counts: &Counts) -> String {
    counts
        .iter()
        .max_by(|a, b| a.1.cmp(b.1).then(a.0.cmp(b.0)))
        .map(|(k, _)| k.clone())
        .unwrap_or_default()
}

/// Counts one more entry carrying `value` (none: not counted), copying it only the
/// first time it is seen.
pub fn count(counts: &mut Counts, value: Option<&str>) {
    let Some(v) = value else { return };
    match counts.get_mut(v) {
        Some(n) => *n += 1,
        None => {
            counts.insert(v.to_string(), 1);
        }
    }
}

/// Adds the counts of `b` to `a`.
pub fn merge_counts(a: &mut Counts, b: Counts) {
    for (k, n) in b {
        *a.entry(k).or_default() += n;
    }
}

/// Whether an action has been invoiced: an invoice number, or an invoice id above zero.
pub fn invoiced(number: Option<&str>, id: Option<i64>) -> bool {
    number.is_some_and(|n| !n.trim().is_empty()) || id.is_some_and(|i| i > 0)
}

fn bad(column: &'static str) -> impl FnOnce(PolarsError) -> FoldError {
    move |source| FoldError::Column { column, source }
}

/// A whole-number column itself, for reading a few rows by index (`get(i)`) where
/// collecting the whole column would cost more than the rows used.
pub fn int_col<'a>(df: &'a DataFrame, name: &'static str) -> Result<&'a Int64Chunked, FoldError> {
    df.column(name).and_then(|c| c.i64()).map_err(bad(name))
}

/// A text column itself, for reading a few rows by index.
pub fn text_col<'a>(df: &'a DataFrame, name: &'static str) -> Result<&'a StringChunked, FoldError> {
    df.column(name).and_then(|c| c.str()).map_err(bad(name))
}

/// A flag column itself, for reading rows by index.
pub fn flag_col<'a>(
    df: &'a DataFrame,
    name: &'static str,
) -> Result<&'a BooleanChunked, FoldError> {
    df.column(name).and_then(|c| c.bool()).map_err(bad(name))
}

/// The `datetime` column's UTC nanoseconds, for reading rows by index.
pub fn datetime_col(df: &DataFrame) -> Result<&Int64Chunked, FoldError> {
    df.column(col::DATETIME)
        .and_then(|c| c.datetime().map(|d| d.physical()))
        .map_err(bad(col::DATETIME))
}

/// A whole-number column (nulls as `None`).
pub fn ints(df: &DataFrame, name: &'static str) -> Result<Vec<Option<i64>>, FoldError> {
    df.column(name)
        .and_then(|c| c.i64().map(|a| a.iter().collect()))
        .map_err(bad(name))
}

/// A figure column in integer units (nulls as 0), borrowed from the frame when it is one
/// chunk without nulls (as the store writes them).
pub fn units<'a>(df: &'a DataFrame, name: &'static str) -> Result<Cow<'a, [i64]>, FoldError> {
    let ca = df.column(name).and_then(|c| c.i64()).map_err(bad(name))?;
    if ca.null_count() == 0
        && let Ok(slice) = ca.cont_slice()
    {
        return Ok(Cow::Borrowed(slice));
    }
    Ok(Cow::Owned(
        ca.iter().map(Option::unwrap_or_default).collect(),
    ))
}

/// A text column, borrowed from the frame (no copy per row).
pub fn texts<'a>(df: &'a DataFrame, name: &'static str) -> Result<Vec<Option<&'a str>>, FoldError> {
    df.column(name)
        .and_then(|c| c.str().map(|a| a.iter().collect()))
        .map_err(bad(name))
}

/// The `datetime` column (UTC nanoseconds).
pub fn datetimes(df: &DataFrame) -> Result<Vec<Option<i64>>, FoldError> {
    df.column(col::DATETIME)
        .and_then(|c| c.datetime().map(|d| d.physical().iter().collect()))
        .map_err(bad(col::DATETIME))
}
