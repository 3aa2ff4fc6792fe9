//! Actions as columnar frames (polars), with the column schema generated from the one
//! field table in [`crate::model`].
//!
//! Column names are the Halo field names, with the unit appended where a figure is held
//! in integer units: `timetaken_ms`, `actionchargeamount_cents`, `mileage_e4` (see
//! [`crate::exact`]). Date-times are `Datetime(ns)` columns holding UTC.
//!
//! This module builds and checks frames; it does not read or write files.

use crate::for_each_action_field;
use crate::model::ActionRef;
use crate::model::kinds::{self, Kind};
use polars::prelude::*;

/// How a kind of field becomes a polars column.
pub trait FrameKind: Kind {
    /// The column's data type.
    fn dtype() -> DataType;
    /// Collects a column's values row by row.
    type Builder: Default + Send;
    /// An empty builder with room for `rows` rows.
    fn builder(rows: usize) -> Self::Builder;
    /// Appends one row's value.
    fn push(b: &mut Self::Builder, v: &Self::Ref<'_>);
    /// Rows so far.
    fn rows(b: &Self::Builder) -> usize;
    /// The column of `parts`' rows, one part after the other (each value copied once).
    fn finish(name: &str, parts: &[&Self::Builder]) -> Column;
    /// Reads the column back, one value per row.
    fn values(c: &Column) -> PolarsResult<Vec<Self::Value>>;
}

/// The builder parts of [`FrameKind`] for kinds collected as a plain vector of values.
macro_rules! vec_builder {
    ($v:ty) => {
        type Builder = Vec<$v>;
        fn builder(rows: usize) -> Vec<$v> {
            Vec::with_capacity(rows)
        }
        fn push(b: &mut Vec<$v>, v: &$v) {
            b.push(*v);
        }
        fn rows(b: &Vec<$v>) -> usize {
            b.len()
        }
    };
}

/// An integer column from optional values (`parts` one after the other): all-null and
/// null-free columns (most of them) are built without the per-row validity builder.
fn opt_i64_column(name: &str, parts: &[&Vec<Option<i64>>]) -> Int64Chunked {
    let values = || parts.iter().flat_map(|p| p.iter().copied());
    let len: usize = parts.iter().map(|p| p.len()).sum();
    let nulls = values().filter(Option::is_none).count();
    if nulls == len {
        return Int64Chunked::full_null(name.into(), len);
    }
    if nulls == 0 {
        let data = values().map(Option::unwrap_or_default).collect();
        return Int64Chunked::from_vec(name.into(), data);
    }
    Int64Chunked::from_iter_options(name.into(), values())
}

macro_rules! opt_i64_kind {
    ($($k:ident),*) => {$(
        impl FrameKind for kinds::$k {
            fn dtype() -> DataType { DataType::Int64 }
            vec_builder!(Option<i64>);
            fn finish(name: &str, parts: &[&Vec<Option<i64>>]) -> Column {
                opt_i64_column(name, parts).into_column()
            }
            fn values(c: &Column) -> PolarsResult<Vec<Option<i64>>> {
                Ok(c.i64()?.iter().collect())
            }
        }
    )*};
}
opt_i64_kind!(Int, RefId);

macro_rules! units_kind {
    ($($k:ident),*) => {$(
        impl FrameKind for kinds::$k {
            fn dtype() -> DataType { DataType::Int64 }
            vec_builder!(i64);
            fn finish(name: &str, parts: &[&Vec<i64>]) -> Column {
                Int64Chunked::from_vec(name.into(), parts.iter().flat_map(|p| p.iter().copied()).collect())
                    .into_column()
            }
            fn values(c: &Column) -> PolarsResult<Vec<i64>> {
                Ok(c.i64()?.iter().map(Option::unwrap_or_default).collect())
            }
        }
    )*};
}
units_kind!(Hours, SignedHours, Days, Money, Miles);

/// A text column collected into one buffer (no allocation per value): row `i` is
/// `text[ends[i - 1]..ends[i]]` when `present[i]`.
#[derive(Default)]
pub struct TextBuilder {
    text: String,
    ends: Vec<usize>,
    present: Vec<bool>,
}

impl TextBuilder {
    fn get(&self, i: usize) -> Option<&str> {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        self.present[i].then(|| &self.text[start..self.ends[i]])
    }
}

macro_rules! text_kind {
    ($($k:ident),*) => {$(
        impl FrameKind for kinds::$k {
            fn dtype() -> DataType { DataType::String }
            type Builder = TextBuilder;
            fn builder(rows: usize) -> TextBuilder {
                TextBuilder {
                    text: String::new(),
                    ends: Vec::with_capacity(rows),
                    present: Vec::with_capacity(rows),
                }
            }
            fn push(b: &mut TextBuilder, v: &Option<std::borrow::Cow<'_, str>>) {
                if let Some(t) = v {
                    b.text.push_str(t);
                }
                b.ends.push(b.text.len());
                b.present.push(v.is_some());
            }
            fn rows(b: &TextBuilder) -> usize {
                b.present.len()
            }
            fn finish(name: &str, parts: &[&TextBuilder]) -> Column {
                let n = parts.iter().map(|b| b.present.len()).sum();
                if !parts.iter().any(|b| b.present.contains(&true)) {
                    return StringChunked::full_null(name.into(), n).into_column();
                }
                let values = parts.iter().flat_map(|b| (0..b.present.len()).map(|i| b.get(i)));
                StringChunked::from_iter_options(name.into(), values).into_column()
            }
            fn values(c: &Column) -> PolarsResult<Vec<Option<String>>> {
                Ok(c.str()?.iter().map(|v| v.map(str::to_string)).collect())
            }
        }
    )*};
}
text_kind!(Text, Key);

impl FrameKind for kinds::Flag {
    fn dtype() -> DataType {
        DataType::Boolean
    }
    vec_builder!(Option<bool>);
    fn finish(name: &str, parts: &[&Vec<Option<bool>>]) -> Column {
        BooleanChunked::from_iter_options(name.into(), parts.iter().flat_map(|p| p.iter().copied()))
            .into_column()
    }
    fn values(c: &Column) -> PolarsResult<Vec<Option<bool>>> {
        Ok(c.bool()?.iter().collect())
    }
}

impl FrameKind for kinds::Date {
    fn dtype() -> DataType {
        DataType::Datetime(TimeUnit::Nanoseconds, None)
    }
    vec_builder!(Option<i64>);
    fn finish(name: &str, parts: &[&Vec<Option<i64>>]) -> Column {
        opt_i64_column(name, parts)
            .into_datetime(TimeUnit::Nanoseconds, None)
            .into_column()
    }
    fn values(c: &Column) -> PolarsResult<Vec<Option<i64>>> {
        Ok(c.datetime()?.physical().iter().collect())
    }
}

macro_rules! define_frame {
    ($($field:ident : $kind:ident = $doc:literal),* $(,)?) => {
        /// Accumulates actions row by row, then turns them into a frame.
        #[derive(Default)]
        pub struct ActionColumns {
            $( $field: <kinds::$kind as FrameKind>::Builder, )*
            content_hash: Vec<i64>,
        }

        impl ActionColumns {
            /// Appends one action read from its document, with its content hash
            /// (encoded into `scratch`, a buffer reused across rows).
            pub fn push_ref(&mut self, a: &ActionRef<'_>, scratch: &mut Vec<u8>) {
                self.content_hash.push(a.content_hash(scratch));
                $( <kinds::$kind as FrameKind>::push(&mut self.$field, &a.$field); )*
            }

            /// Empty columns with room for `rows` rows.
            pub fn with_capacity(rows: usize) -> ActionColumns {
                ActionColumns {
                    content_hash: Vec::with_capacity(rows),
                    $( $field: <kinds::$kind as FrameKind>::builder(rows), )*
                }
            }

            /// Rows so far.
            pub fn len(&self) -> usize {
                self.content_hash.len()
            }

            /// Whether no row has been pushed.
            pub fn is_empty(&self) -> bool {
                self.content_hash.is_empty()
            }

            /// The frame, columns in schema order.
            pub fn into_frame(self) -> PolarsResult<DataFrame> {
                Self::frame_of(&[self])
            }

            /// One frame of the rows of `parts`, one part after the other: each value
            /// is copied once, from its part into the frame's column (no part is first
            /// appended to another).
            pub fn frame_of(parts: &[ActionColumns]) -> PolarsResult<DataFrame> {
                let height = parts.iter().map(ActionColumns::len).sum();
                $( debug_assert!(parts.iter().all(|p|
                    <kinds::$kind as FrameKind>::rows(&p.$field) == p.len())); )*
                DataFrame::new(height, vec![
                    $( <kinds::$kind as FrameKind>::finish(
                        &format!("{}{}", stringify!($field), <kinds::$kind as Kind>::SUFFIX),
                        &parts.iter().map(|p| &p.$field).collect::<Vec<_>>(),
                    ), )*
                    Int64Chunked::from_vec(
                        col::CONTENT_HASH.into(),
                        parts.iter().flat_map(|p| p.content_hash.iter().copied()).collect(),
                    )
                    .into_column(),
                ])
            }
        }

        /// The content hash of every row of `df`, computed from its columns with the
        /// same canonical encoding as [`Action::content_hash`] (used to migrate stores
        /// and to compare copies whatever hash scheme wrote them).
        pub fn content_hashes(df: &DataFrame) -> PolarsResult<Vec<i64>> {
            use crate::model::canon;
            let mut bufs: Vec<Vec<u8>> = vec![canon::HEADER.to_vec(); df.height()];
            $(
                {
                    let name = format!("{}{}", stringify!($field), <kinds::$kind as Kind>::SUFFIX);
                    let values = <kinds::$kind as FrameKind>::values(df.column(&name)?)?;
                    for (b, v) in bufs.iter_mut().zip(&values) {
                        canon::Canonical::encode(v, b);
                    }
                }
            )*
            Ok(bufs.iter().map(|b| canon::hash(b)).collect())
        }

        /// Every stored column of the actions: its name, its kind (the field table's) and
        /// the field's description, in column order, then `content_hash`.
        pub fn column_docs() -> Vec<(String, &'static str, &'static str)> {
            vec![
                $( (
                    format!("{}{}", stringify!($field), <kinds::$kind as Kind>::SUFFIX),
                    stringify!($kind),
                    $doc,
                ), )*
                (col::CONTENT_HASH.to_string(), "Hash", "First 8 bytes of the SHA-256 of the action's canonical encoding (scheme in model/canon.rs): equal for identical copies."),
            ]
        }

        /// The frame schema: every field's column in table order, then `content_hash`.
        pub fn schema() -> Schema {
            Schema::from_iter([
                $( Field::new(
                    format!("{}{}", stringify!($field), <kinds::$kind as Kind>::SUFFIX).into(),
                    <kinds::$kind as FrameKind>::dtype(),
                ), )*
                Field::new(col::CONTENT_HASH.into(), DataType::Int64),
            ])
        }
    };
}

for_each_action_field!(define_frame);

/// Column names the aggregation and the store need; each is checked against
/// [`schema`] by a unit test so a renamed field breaks the build's tests, not a report.
pub mod col {
    /// `(ticket_id, id)` identity.
    pub const TICKET_ID: &str = "ticket_id";
    /// Per-ticket action number.
    pub const ID: &str = "id";
    /// When the action happened.
    pub const DATETIME: &str = "datetime";
    /// When Halo last changed it.
    pub const LAST_UPDATED: &str = "last_updated";
    /// Contract id (null = none).
    pub const CONTRACT_ID: &str = "action_contract_id";
    /// Contract reference.
    pub const CONTRACT_REF: &str = "action_contract_ref";
    /// Invoice number (null = not invoiced).
    pub const INVOICE_NUMBER: &str = "actioninvoicenumber";
    /// Invoice record id.
    pub const INVOICE_ID: &str = "invoice_id";
    /// Hash of all fields ([`crate::model::Action::content_hash`]); not a Halo field.
    pub const CONTENT_HASH: &str = "content_hash";
    /// The ten summed measures, in report column order.
    pub const MEASURES: [&str; 10] = [
        "timetaken_ms",
        "nonbilltime_ms",
        "traveltime_ms",
        "mileage_e4",
        "actionchargehours_ms",
        "actionchargeamount_cents",
        "actionnonchargehours_ms",
        "actionnonchargeamount_cents",
        "actionprepayhours_ms",
        "actionprepayamount_cents",
    ];
}

/// Checks that a frame read from elsewhere has exactly the schema this build writes.
pub fn check_schema(df: &DataFrame) -> Result<(), String> {
    let want = schema();
    let got = df.schema();
    for (name, dtype) in want.iter() {
        match got.get(name) {
            None => return Err(format!("column `{name}` is missing")),
            Some(d) if d != dtype => {
                return Err(format!("column `{name}` is {d}, expected {dtype}"));
            }
            Some(_) => {}
        }
    }
    if got.len() != want.len() {
        return Err(format!("{} columns, expected {}", got.len(), want.len()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Action;

    #[test]
    fn named_columns_exist_in_schema() {
        let s = schema();
        let mut names = vec![
            col::TICKET_ID,
            col::ID,
            col::DATETIME,
            col::LAST_UPDATED,
            col::CONTRACT_ID,
            col::CONTRACT_REF,
            col::INVOICE_NUMBER,
            col::INVOICE_ID,
        ];
        names.extend(col::MEASURES);
        for n in names {
            assert!(s.get(n).is_some(), "{n} not in schema");
        }
        assert_eq!(s.len(), crate::model::FIELD_NAMES.len() + 1);
    }

    #[test]
    fn frame_matches_schema() {
        let mut c = ActionColumns::default();
        let a = Action {
            id: Some(1),
            ticket_id: Some(2),
            timetaken: 5,
            ..Default::default()
        };
        c.push_ref(&a.as_ref(), &mut Vec::new());
        let df = c.into_frame().unwrap();
        check_schema(&df).unwrap();
        assert_eq!(df.height(), 1);
    }

    #[test]
    fn hashes_from_columns_equal_hashes_from_actions() {
        let mut c = ActionColumns::default();
        let mut want = Vec::new();
        let mut scratch = Vec::new();
        for a in crate::generate::sample_actions(300, 5) {
            want.push(a.content_hash());
            c.push_ref(&a.as_ref(), &mut scratch);
        }
        assert_eq!(want.len(), 300);
        let df = c.into_frame().unwrap();
        assert_eq!(content_hashes(&df).unwrap(), want);
        let stored = df.column(col::CONTENT_HASH).unwrap().i64().unwrap();
        assert_eq!(stored.iter().map(Option::unwrap).collect::<Vec<_>>(), want);
    }
}
