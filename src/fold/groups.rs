//! Totals per contract and per invoice: the fold of `report contracts` and
//! `report invoices`, over a frame's rows or a part of them, and its footer entry.

use super::base::{self, FoldError};
use crate::aggregate::{self, Input, MEASURES, Totals};
use crate::frame::col;
use polars::prelude::*;
use rustc_hash::FxHashMap;

/// Which grouping.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportKind {
    /// One row per contract (`action_contract_id`, `action_contract_ref`).
    Contracts,
    /// One row per invoice (`actioninvoicenumber`, `invoice_id`); unbilled work is the
    /// row with an empty invoice number.
    Invoices,
}

/// Group totals with owned keys `(id, text)`, so that a file's frame can be dropped once
/// summed. Contracts: (contract id or 0, reference; `None` when there is no contract).
/// Invoices: (invoice id or 0, invoice number).
pub type Groups = FxHashMap<(i64, Option<String>), Totals>;

/// The footer key of a report kind's totals. The version is part of the key: a later
/// layout gets a new key, and files carrying only an older one are read row by row.
pub fn key(kind: ReportKind) -> &'static str {
    match kind {
        ReportKind::Contracts => "halo-billing.totals.contracts.v1",
        ReportKind::Invoices => "halo-billing.totals.invoices.v1",
    }
}

/// The key columns of a report kind: (id, text).
pub fn columns(kind: ReportKind) -> (&'static str, &'static str) {
    match kind {
        ReportKind::Contracts => (col::CONTRACT_ID, col::CONTRACT_REF),
        ReportKind::Invoices => (col::INVOICE_ID, col::INVOICE_NUMBER),
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
) -> Result<Groups, FoldError> {
    let (id_col, text_col) = columns(kind);
    let datetime: Option<Vec<i64>> = if whole {
        None
    } else {
        let dt = base::datetime_col(df)?;
        // Dated partitions hold no null datetimes; a null would be a store bug, and is
        // kept out of every period rather than guessed.
        Some(dt.iter().map(|v| v.unwrap_or(i64::MIN)).collect())
    };
    let key_id: Vec<i64> = base::int_col(df, id_col)?
        .iter()
        .map(|v| v.unwrap_or(0))
        .collect();
    let texts = base::text_col(df, text_col)?;
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
        let ca = base::int_col(df, name)?;
        measures.push(ca.cont_slice().map_err(|source| FoldError::Column {
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

/// One group as the footer stores it: `[id, text, actions, [the ten sums]]`.
type Entry = (i64, Option<String>, i64, [i64; MEASURES]);

/// The footer entry of a frame's contracts or invoices groups: a JSON array of integers
/// (exact), in key order so that equal frames give equal files.
pub fn footer(df: &DataFrame, kind: ReportKind) -> Result<(String, String), FoldError> {
    let groups = slice_groups(df, kind, true, i64::MIN, i64::MAX)?;
    let mut entries: Vec<Entry> = groups
        .into_iter()
        .map(|((id, text), t)| (id, text, t.actions, t.sums))
        .collect();
    entries.sort_unstable();
    let json = serde_json::to_string(&entries).expect("integers and strings");
    Ok((key(kind).to_string(), json))
}

/// The groups of a footer entry `json` of a file of `rows` rows; the reason it cannot be
/// used otherwise (said of the file by the caller).
pub fn decode(kind: ReportKind, json: &str, rows: u64) -> Result<Groups, String> {
    let entries: Vec<Entry> =
        serde_json::from_str(json).map_err(|e| format!("(`{}`) cannot be read: {e}", key(kind)))?;
    let mut groups = Groups::default();
    let mut actions: i64 = 0;
    for (id, text, count, sums) in entries {
        actions = actions.saturating_add(count);
        let t = Totals {
            actions: count,
            sums,
        };
        if groups.insert((id, text), t).is_some() {
            return Err(format!("(`{}`) list a group twice", key(kind)));
        }
    }
    if actions != rows as i64 {
        return Err(format!(
            "(`{}`) count {actions} actions but the file holds {rows} rows",
            key(kind),
        ));
    }
    Ok(groups)
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
            .map(|kind| footer(&frame(), kind).unwrap());
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

    #[test]
    fn a_footer_whose_counts_are_not_the_files_rows_is_refused() {
        let (_, json) = footer(&frame(), ReportKind::Contracts).unwrap();
        assert_eq!(decode(ReportKind::Contracts, &json, 5).unwrap().len(), 4);
        let e = decode(ReportKind::Contracts, &json, 6).unwrap_err();
        assert!(
            e.contains("count 5 actions but the file holds 6 rows"),
            "{e}"
        );
    }
}
