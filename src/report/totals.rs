//! Group totals of a frame, and the summaries each partition file carries in its footer.
//!
//! A partition file's footer holds, for each grouping report, the state that report's
//! fold reaches over all of the file's rows (the same fold function, run by the store
//! when it writes the file): the contracts and invoices groups ([`slice_groups`]), the
//! agents, the unbilled work per contract, the prepay draws per contract, the groups of
//! charge-rates ([`super::rates`]), the leakage rows (when there are at most
//! [`super::pack::LEAKAGE_FOOTER_ROWS`]); the store keeps each packed
//! ([`crate::store::footer`]). A report over a
//! period that contains the file's whole month merges that state instead of decoding the
//! file's 65,536 rows; a month cut by the period (its edges, another time zone) is still
//! folded row by row, as is a file whose summary does not apply to the report asked
//! (each report says when: e.g. unbilled ages cut inside the month). The figures are the
//! same either way: the footer holds exact integer sums and counts of the same rows, and
//! none of them depends on how rows are split.
//!
//! Files written before footers existed (and closed periods' frozen copies) have none and
//! are read row by row. A footer that is present but unreadable, or that was not made
//! from the file's rows (its row or action count is not the file's), is an error naming
//! the file, never skipped.

use super::{ReportError, ReportKind};
use crate::aggregate::{self, Input, MEASURES, Totals};
use crate::frame::col;
use crate::store::{FileEntry, Store, StoreError};
use polars::prelude::*;
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize, de::DeserializeOwned};

/// Group totals with owned keys `(id, text)`, so that a file's frame can be dropped once
/// summed. Contracts: (contract id or 0, reference; `None` when there is no contract).
/// Invoices: (invoice id or 0, invoice number).
pub type Groups = FxHashMap<(i64, Option<String>), Totals>;

/// The footer key of a report kind's totals. The version is part of the key: a later
/// layout gets a new key, and files carrying only an older one are read row by row.
fn key(kind: ReportKind) -> &'static str {
    match kind {
        ReportKind::Contracts => "halo-billing.totals.contracts.v1",
        ReportKind::Invoices => "halo-billing.totals.invoices.v1",
    }
}

/// Sums the rows of a frame by `kind`'s groups: every row when `whole`, else only those
/// whose `datetime` lies in `[from_ns, to_ns)`.
pub fn slice_groups(
    df: &DataFrame,
    kind: ReportKind,
    whole: bool,
    from_ns: i64,
    to_ns: i64,
) -> Result<Groups, ReportError> {
    let (id_col, text_col) = columns(kind);
    let datetime: Option<Vec<i64>> = if whole {
        None
    } else {
        let dt = super::select::datetime_col(df)?;
        // Dated partitions hold no null datetimes; a null would be a store bug, and is
        // kept out of every period rather than guessed.
        Some(dt.iter().map(|v| v.unwrap_or(i64::MIN)).collect())
    };
    let key_id: Vec<i64> = super::select::int_col(df, id_col)?
        .iter()
        .map(|v| v.unwrap_or(0))
        .collect();
    let texts = df
        .column(text_col)
        .and_then(|c| c.str())
        .map_err(|source| ReportError::Column {
            column: text_col,
            source,
        })?;
    let key_text: Vec<Option<&str>> = match kind {
        // Actions without a contract form one row whatever reference they carry.
        ReportKind::Contracts => texts
            .iter()
            .zip(&key_id)
            .map(|(t, id)| if *id == 0 { None } else { t })
            .collect(),
        ReportKind::Invoices => texts.iter().collect(),
    };
    let mut measures: Vec<&[i64]> = Vec::with_capacity(MEASURES);
    for name in col::MEASURES {
        let ca = super::select::int_col(df, name)?;
        measures.push(ca.cont_slice().map_err(|source| ReportError::Column {
            column: name,
            source,
        })?);
    }
    let input = Input {
        datetime: datetime.as_deref(),
        key_id: &key_id,
        key_text: &key_text,
        measures: std::array::from_fn(|m| measures[m]),
    };
    let grouped = aggregate::aggregate(&input, from_ns, to_ns)?;
    Ok(grouped
        .groups
        .into_iter()
        .map(|((id, t), v)| ((id, t.map(str::to_string)), v))
        .collect())
}

/// The key columns of a report kind: (id, text).
pub fn columns(kind: ReportKind) -> (&'static str, &'static str) {
    match kind {
        ReportKind::Contracts => (col::CONTRACT_ID, col::CONTRACT_REF),
        ReportKind::Invoices => (col::INVOICE_ID, col::INVOICE_NUMBER),
    }
}

/// One group as the footer stores it: `[id, text, actions, [the ten sums]]`.
type Entry = (i64, Option<String>, i64, [i64; MEASURES]);

/// The footer entries of a partition frame: every report's summary of all its rows.
/// Contracts and invoices: JSON arrays of integers (exact), in key order so that equal
/// frames give equal files; the others: [`encode`]d fold states.
pub fn footer(df: &DataFrame) -> Result<Vec<(String, String)>, ReportError> {
    use rayon::prelude::*;
    type Entry = Result<Option<(String, String)>, ReportError>;
    // Each summary is its own fold over all the rows: they run side by side.
    let summaries: [fn(&DataFrame) -> Entry; 7] = [
        |df| groups_footer(df, ReportKind::Contracts).map(Some),
        |df| groups_footer(df, ReportKind::Invoices).map(Some),
        |df| super::pack::agents_footer(df).map(Some),
        |df| super::pack::unbilled_footer(df).map(Some),
        super::pack::leakage_footer,
        |df| super::prepay::footer(df).map(Some),
        |df| super::rates::footer(df).map(Some),
    ];
    let done: Vec<Option<(String, String)>> = summaries
        .par_iter()
        .map(|f| f(df))
        .collect::<Result<_, _>>()?;
    Ok(done.into_iter().flatten().collect())
}

/// The footer entry of a frame's contracts or invoices groups.
fn groups_footer(df: &DataFrame, kind: ReportKind) -> Result<(String, String), ReportError> {
    let groups = slice_groups(df, kind, true, i64::MIN, i64::MAX)?;
    let mut entries: Vec<Entry> = groups
        .into_iter()
        .map(|((id, text), t)| (id, text, t.actions, t.sums))
        .collect();
    entries.sort_unstable();
    let json = serde_json::to_string(&entries).expect("integers and strings");
    Ok((key(kind).to_string(), json))
}

/// A report's summary as a footer holds it: the fold's state and the rows folded.
#[derive(Serialize, Deserialize)]
struct Summary<T> {
    rows: u64,
    state: T,
}

/// The footer entry `key` for a fold `state` reached over `rows` rows.
pub fn encode<T: Serialize>(key: &str, rows: usize, state: &T) -> (String, String) {
    let json = serde_json::to_string(&Summary {
        rows: rows as u64,
        state,
    })
    .expect("a fold state of integers and strings");
    (key.to_string(), json)
}

/// The fold state under `key` in the footer of part `p`'s file, when `p` takes the whole
/// file ([`super::select::whole`]) and the footer holds one; `None` otherwise (the
/// caller folds the rows). A summary that cannot be read, or was made over another row
/// count than the file's, is an error naming the file.
pub fn of_whole_part<T: DeserializeOwned>(
    store: &Store,
    p: &super::select::Part,
    key: &str,
) -> Result<Option<T>, ReportError> {
    if !super::select::whole(p) {
        return Ok(None);
    }
    let Some(json) = store.read_footer(&p.file, key)? else {
        return Ok(None);
    };
    let bad = |reason| damaged(store, &p.file, reason);
    let s: Summary<T> =
        serde_json::from_str(&json).map_err(|e| bad(format!("(`{key}`) cannot be read: {e}")))?;
    if s.rows != p.file.rows {
        return Err(bad(format!(
            "(`{key}`) were made over {} rows but the file holds {} rows",
            s.rows, p.file.rows
        )));
    }
    Ok(Some(s.state))
}

/// The error for a footer summary of `file` that cannot be used.
fn damaged(store: &Store, file: &FileEntry, reason: String) -> ReportError {
    ReportError::Store(StoreError::Totals {
        path: store.root().join(&file.path),
        reason,
    })
}

/// The totals `file`'s footer holds for `kind`; `None` when it holds none (a file written
/// before footers existed), so the caller sums its rows instead.
pub fn read(
    store: &Store,
    file: &FileEntry,
    kind: ReportKind,
) -> Result<Option<Groups>, ReportError> {
    let Some(json) = store.read_footer(file, key(kind))? else {
        return Ok(None);
    };
    let bad = |reason| damaged(store, file, reason);
    let entries: Vec<Entry> = serde_json::from_str(&json)
        .map_err(|e| bad(format!("(`{}`) cannot be read: {e}", key(kind))))?;
    let mut groups = Groups::default();
    let mut actions: i64 = 0;
    for (id, text, count, sums) in entries {
        actions = actions.saturating_add(count);
        let t = Totals {
            actions: count,
            sums,
        };
        if groups.insert((id, text), t).is_some() {
            return Err(bad(format!("(`{}`) list a group twice", key(kind))));
        }
    }
    if actions != file.rows as i64 {
        return Err(bad(format!(
            "(`{}`) count {actions} actions but the file holds {} rows",
            key(kind),
            file.rows
        )));
    }
    Ok(Some(groups))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Five rows: contract 7 "A" twice, no contract once (its reference ignored),
    /// contract 8 under two references; invoices I1, I2 (twice) and none (twice).
    fn frame() -> DataFrame {
        let n = 5;
        let mut cols = vec![
            Column::new(
                col::CONTRACT_ID.into(),
                [Some(7i64), None, Some(7), Some(8), Some(8)],
            ),
            Column::new(
                col::CONTRACT_REF.into(),
                [Some("A"), Some("ignored"), Some("A"), Some("B"), Some("B2")],
            ),
            Column::new(
                col::INVOICE_ID.into(),
                [Some(1i64), None, None, Some(2), Some(2)],
            ),
            Column::new(
                col::INVOICE_NUMBER.into(),
                [Some("I1"), None, None, Some("I2"), Some("I2")],
            ),
        ];
        for (m, name) in col::MEASURES.iter().enumerate() {
            // Row r's measure m: (r + 1) * 1000 + m.
            let v: Vec<i64> = (0..n).map(|r| (r as i64 + 1) * 1000 + m as i64).collect();
            cols.push(Column::new((*name).into(), v));
        }
        DataFrame::new(n, cols).unwrap()
    }

    #[test]
    fn a_frames_footer_lists_each_group_once_in_key_order_with_its_exact_sums() {
        let footer = [ReportKind::Contracts, ReportKind::Invoices]
            .map(|kind| groups_footer(&frame(), kind).unwrap());
        let keys: Vec<&str> = footer.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            [key(ReportKind::Contracts), key(ReportKind::Invoices)]
        );
        let sums = |rows: &[i64], m: i64| rows.iter().map(|r| (r + 1) * 1000 + m).sum::<i64>();
        let entry = |id: i64, text: Option<&str>, rows: &[i64]| -> Entry {
            (
                id,
                text.map(str::to_string),
                rows.len() as i64,
                std::array::from_fn(|m| sums(rows, m as i64)),
            )
        };
        let contracts: Vec<Entry> = serde_json::from_str(&footer[0].1).unwrap();
        assert_eq!(
            contracts,
            [
                entry(0, None, &[1]),
                entry(7, Some("A"), &[0, 2]),
                entry(8, Some("B"), &[3]),
                entry(8, Some("B2"), &[4])
            ]
        );
        let invoices: Vec<Entry> = serde_json::from_str(&footer[1].1).unwrap();
        assert_eq!(
            invoices,
            [
                entry(0, None, &[1, 2]),
                entry(1, Some("I1"), &[0]),
                entry(2, Some("I2"), &[3, 4])
            ]
        );
    }
}
