//! Date-times as the store's Parquet files hold them (schema version 3), and back.
//!
//! In memory a date-time is a UTC instant in nanoseconds (`Datetime(ns)`, see
//! [`crate::model::datetime`]). On disk each such column `c` becomes two:
//!
//! - `c`: the instant in whole microseconds, floored, as `TIMESTAMP(MICROS,
//!   isAdjustedToUTC=true)`: the unit Spark writes and every engine reads (Spark refuses
//!   nanoseconds), marked as UTC so that an engine's `AT TIME ZONE` converts it as
//!   `--timezone` does;
//! - `c_sub_us` (`INT16`): the nanoseconds past that microsecond, 0 to 999; null where
//!   `c` is.
//!
//! Halo writes at most 7 fractional digits (100 ns): `…:18.0782286Z` is stored as
//! `…:18.078228Z` and `c_sub_us` = 600. Nothing is lost (any nanosecond value survives
//! the round trip, tested), the content hash, closes and reports see the same
//! nanoseconds as before, and an outside engine reading `c` alone is off by less than a
//! microsecond, always downwards.
//!
//! Files of schema version 2 (nanoseconds, not marked UTC) read as they are; the next
//! writer rewrites them ([`super::Store::migrate`]).

use polars::prelude::*;

/// The suffix of the column holding a date-time's nanoseconds past its microsecond.
pub const SUB_US: &str = "_sub_us";

/// The name of `c`'s sub-microsecond column.
pub fn sub_us_name(c: &str) -> String {
    format!("{c}{SUB_US}")
}

/// The stored date-time type: microseconds, UTC.
pub fn stored_dtype() -> DataType {
    DataType::Datetime(TimeUnit::Microseconds, Some(TimeZone::UTC))
}

/// `df` as a store file holds it: each `Datetime(ns)` column split into UTC microseconds
/// and its `_sub_us` column (right after it). Other columns are untouched.
pub fn to_stored(df: &DataFrame) -> PolarsResult<DataFrame> {
    if !df
        .columns()
        .iter()
        .any(|c| matches!(c.dtype(), DataType::Datetime(TimeUnit::Nanoseconds, _)))
    {
        return Ok(df.clone());
    }
    let mut cols = Vec::with_capacity(df.width() + 8);
    for c in df.columns() {
        if !matches!(c.dtype(), DataType::Datetime(TimeUnit::Nanoseconds, _)) {
            cols.push(c.clone());
            continue;
        }
        let ns = c.datetime()?.physical();
        let us: Int64Chunked = ns.apply_values(|v| v.div_euclid(1000));
        let sub: Int16Chunked = ns
            .iter()
            .map(|v| v.map(|v| v.rem_euclid(1000) as i16))
            .collect();
        cols.push(
            us.with_name(c.name().clone())
                .into_datetime(TimeUnit::Microseconds, Some(TimeZone::UTC))
                .into_column(),
        );
        cols.push(sub.with_name(sub_us_name(c.name()).into()).into_column());
    }
    DataFrame::new(df.height(), cols)
}

/// Whether the Parquet file at `path` holds its date-times in schema version 2's form
/// (nanoseconds): its `datetime` column, when it has one, is in nanoseconds.
pub fn holds_nanoseconds(path: &std::path::Path) -> PolarsResult<bool> {
    let file = std::fs::File::open(path)?;
    let schema = ParquetReader::new(file).schema()?;
    Ok(schema.iter_values().any(|f| {
        matches!(
            f.dtype,
            ArrowDataType::Timestamp(ArrowTimeUnit::Nanosecond, _)
        )
    }))
}

/// Nanoseconds per unit of `unit`.
fn ns_per(unit: TimeUnit) -> i64 {
    match unit {
        TimeUnit::Nanoseconds => 1,
        TimeUnit::Microseconds => 1_000,
        TimeUnit::Milliseconds => 1_000_000,
    }
}

/// `df` as read from a store file of either schema version, as the rest of the program
/// sees it: every date-time column in nanoseconds, without a time zone, its `_sub_us`
/// column (when the file has one) added back in and dropped. A value past what
/// nanoseconds hold (year 2262) is an error naming the column.
pub fn from_stored(df: DataFrame) -> PolarsResult<DataFrame> {
    let is_stored = |d: &DataType| matches!(d, DataType::Datetime(u, tz) if *u != TimeUnit::Nanoseconds || tz.is_some());
    if !df.columns().iter().any(|c| is_stored(c.dtype())) {
        return Ok(df);
    }
    let height = df.height();
    let mut subs: Vec<String> = Vec::new();
    let mut cols = Vec::with_capacity(df.width());
    for c in df.columns() {
        let DataType::Datetime(unit, _) = c.dtype() else {
            cols.push(c.clone());
            continue;
        };
        if !is_stored(c.dtype()) {
            cols.push(c.clone());
            continue;
        }
        let per = ns_per(*unit);
        let v = c.datetime()?.physical();
        let sub_name = sub_us_name(c.name());
        let sub = match df.column(&sub_name) {
            Ok(s) if *unit == TimeUnit::Microseconds => {
                subs.push(sub_name.clone());
                Some(s.cast(&DataType::Int64)?.i64()?.clone())
            }
            _ => None,
        };
        let overflow = || polars_err!(ComputeError: "column `{}` holds a date-time past what nanoseconds hold (year 2262)", c.name());
        let ns: Int64Chunked = match &sub {
            None if per == 1 => v.clone(),
            // In i128: the floored microsecond of the earliest nanosecond value lies
            // below what i64 nanoseconds hold, and its `_sub_us` brings it back.
            _ => {
                let subs: Box<dyn Iterator<Item = Option<i64>>> = match &sub {
                    Some(s) => Box::new(s.iter()),
                    None => Box::new(std::iter::repeat(Some(0))),
                };
                v.iter()
                    .zip(subs)
                    .map(|(t, sub)| {
                        t.map(|t| {
                            let ns = t as i128 * per as i128 + sub.unwrap_or(0) as i128;
                            i64::try_from(ns).map_err(|_| overflow())
                        })
                        .transpose()
                    })
                    .collect::<PolarsResult<_>>()?
            }
        };
        cols.push(
            ns.with_name(c.name().clone())
                .into_datetime(TimeUnit::Nanoseconds, None)
                .into_column(),
        );
    }
    let cols = cols
        .into_iter()
        .filter(|c| !subs.iter().any(|s| s == c.name().as_str()))
        .collect();
    DataFrame::new(height, cols)
}

/// The columns to read from a file whose columns are `has` for a caller wanting `want`:
/// `want`, each date-time's `_sub_us` column after it when the file has one.
pub fn stored_columns(want: &[&str], has: impl Fn(&str) -> bool) -> Vec<String> {
    let mut out = Vec::with_capacity(want.len() + 2);
    for c in want {
        out.push(c.to_string());
        let sub = sub_us_name(c);
        if !want.contains(&sub.as_str()) && has(&sub) {
            out.push(sub);
        }
    }
    out
}

/// For a lazy scan of store files of schema version 3: the expressions that turn each
/// date-time column of `schema` (the in-memory schema) back into nanoseconds, and the
/// `_sub_us` columns to drop after.
pub fn joined_exprs(schema: &Schema) -> (Vec<Expr>, Vec<PlSmallStr>) {
    let mut exprs = Vec::new();
    let mut subs = Vec::new();
    for (name, d) in schema.iter() {
        if !matches!(d, DataType::Datetime(..)) {
            continue;
        }
        let sub = sub_us_name(name);
        exprs.push(
            (col(name.clone()).cast(DataType::Int64) * lit(1000i64)
                + col(sub.as_str()).cast(DataType::Int64).fill_null(lit(0i64)))
            .cast(DataType::Datetime(TimeUnit::Nanoseconds, None))
            .alias(name.clone()),
        );
        subs.push(sub.into());
    }
    (exprs, subs)
}

/// A predicate on a stored (schema version 3) date-time column `c` that holds exactly
/// where its nanoseconds `t` satisfy `from_ns <= t < to_ns`, written on the stored
/// columns so that polars can skip row groups by their statistics.
pub fn stored_range(c: &str, from_ns: i64, to_ns: i64) -> Expr {
    let us = |v: i64| lit(v).cast(stored_dtype());
    let sub = || {
        col(sub_us_name(c).as_str())
            .cast(DataType::Int64)
            .fill_null(lit(0i64))
    };
    let (q1, r1) = (from_ns.div_euclid(1000), from_ns.rem_euclid(1000));
    let (q2, r2) = (to_ns.div_euclid(1000), to_ns.rem_euclid(1000));
    // t >= from  <=>  us > q1, or us = q1 and sub >= r1.
    let lower = if r1 == 0 {
        col(c).gt_eq(us(q1))
    } else {
        col(c)
            .gt(us(q1))
            .or(col(c).eq(us(q1)).and(sub().gt_eq(lit(r1))))
    };
    // t < to  <=>  us < q2, or us = q2 and sub < r2.
    let upper = if r2 == 0 {
        col(c).lt(us(q2))
    } else {
        col(c)
            .lt(us(q2))
            .or(col(c).eq(us(q2)).and(sub().lt(lit(r2))))
    };
    lower.and(upper)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(ns: &[Option<i64>]) -> DataFrame {
        let c = Int64Chunked::from_iter_options("datetime".into(), ns.iter().copied())
            .into_datetime(TimeUnit::Nanoseconds, None)
            .into_column();
        let n = Int64Chunked::from_vec("n".into(), (0..ns.len() as i64).collect()).into_column();
        DataFrame::new(ns.len(), vec![c, n]).unwrap()
    }

    fn values(df: &DataFrame, c: &str) -> Vec<Option<i64>> {
        df.column(c)
            .unwrap()
            .datetime()
            .unwrap()
            .physical()
            .iter()
            .collect()
    }

    #[test]
    fn every_nanosecond_survives_the_stored_form_and_a_seventh_digit_lands_in_sub_us() {
        // 2024-06-20T14:45:18.0782286Z, Halo's 7 digits; before 1970; whole seconds; the
        // extremes nanoseconds hold; none.
        let ns = [
            Some(1_718_894_718_078_228_600),
            Some(-1_234_567_891),
            Some(1_790_000_000_000_000_000),
            Some(i64::MAX),
            Some(i64::MIN),
            None,
        ];
        let stored = to_stored(&frame(&ns)).unwrap();
        assert_eq!(stored.column("datetime").unwrap().dtype(), &stored_dtype());
        let us = stored
            .column("datetime")
            .unwrap()
            .datetime()
            .unwrap()
            .physical()
            .get(0);
        assert_eq!(us, Some(1_718_894_718_078_228));
        let sub: Vec<Option<i16>> = stored
            .column("datetime_sub_us")
            .unwrap()
            .i16()
            .unwrap()
            .iter()
            .collect();
        assert_eq!(
            sub,
            vec![Some(600), Some(109), Some(0), Some(807), Some(192), None]
        );
        let names = |df: &DataFrame| -> Vec<String> {
            df.get_column_names()
                .iter()
                .map(|n| n.to_string())
                .collect()
        };
        assert_eq!(names(&stored), ["datetime", "datetime_sub_us", "n"]);
        let back = from_stored(stored).unwrap();
        assert_eq!(names(&back), ["datetime", "n"]);
        assert_eq!(values(&back, "datetime"), ns.to_vec());
    }

    #[test]
    fn a_file_of_schema_version_2_reads_unchanged() {
        let df = frame(&[Some(1_718_894_718_078_228_600), None]);
        assert_eq!(from_stored(df.clone()).unwrap(), df);
    }

    #[test]
    fn microseconds_without_a_sub_us_column_read_as_whole_microseconds() {
        let us = Int64Chunked::from_vec("d".into(), vec![5, -3])
            .into_datetime(TimeUnit::Microseconds, Some(TimeZone::UTC))
            .into_column();
        let back = from_stored(DataFrame::new(2, vec![us]).unwrap()).unwrap();
        assert_eq!(values(&back, "d"), vec![Some(5_000), Some(-3_000)]);
    }

    #[test]
    fn the_stored_range_predicate_keeps_exactly_the_rows_in_range() {
        let ns: Vec<Option<i64>> = (-2_100..2_100).step_by(7).map(Some).collect();
        let stored = to_stored(&frame(&ns)).unwrap();
        for (from, to) in [(0, 1_000), (-1_001, 999), (1, 1_999), (-700, -699), (5, 5)] {
            let kept = stored
                .clone()
                .lazy()
                .filter(stored_range("datetime", from, to))
                .collect()
                .unwrap();
            let kept = values(&from_stored(kept).unwrap(), "datetime");
            let want: Vec<Option<i64>> = ns
                .iter()
                .copied()
                .filter(|t| t.is_some_and(|t| t >= from && t < to))
                .collect();
            assert_eq!(kept, want, "[{from}, {to})");
        }
    }
}
