//! `report charge-rates` computed on the reader threads: the built-in report defined by
//! `queries/charge-rates.sql`, folded exactly as that query says, with each partition
//! file's groups in its footer ([`crate::fold::rates`]) so that whole months are not read.
//!
//! The SQL file stays the report's definition: `--engine sql` runs it through polars,
//! DuckDB runs it in `benches/` and `queries/`, and the tests compare this fold with it
//! row for row (edge cases included: contract 0, null references and rates, empty
//! invoice numbers, invoice ids of 0 or below, null figures). What the query says, in
//! the fold's words:
//! - a row counts when its chargeable hours or chargeable amount is above 0;
//! - with the `contract` parameter, only rows whose `action_contract_id` equals it;
//! - the group is (contract, `chargerate`), the contract being none when its id is null
//!   or 0; the reference shown is the greatest one (byte order) of the group's rows that
//!   have a contract, none when there is none;
//! - a row is invoiced when it has an invoice number (any, even empty) or an invoice id
//!   above 0: its chargeable amount is then invoiced, else unbilled;
//! - null figures add nothing.

use super::error::ReportError;
use super::footers;
use super::select;
use crate::fold::rates::{self as fold, Entry, Rates};
use crate::period::Period;
use crate::store::{ClosedPeriod, Store};
use polars::prelude::*;

/// The report's name: the built-in file report this module computes.
pub const NAME: &str = "charge-rates";

/// The report's result for `period`: the columns `reports/charge-rates.toml` declares,
/// in integer units, one row per group (unsorted: the caller sorts as the definition
/// says), and the closes whose frozen copies it read. `contract`: the parameter.
pub fn frame(
    store: &Store,
    period: &Period,
    contract: Option<i64>,
) -> Result<(DataFrame, Vec<ClosedPeriod>), ReportError> {
    let (parts, closes) = select::parts(store, period)?;
    // A footer's groups serve a contract parameter by their contract, except 0: its rows
    // are in the group without a contract, with those of no contract id at all.
    let footers_serve = contract != Some(0);
    let states = select::fold_parts(
        store,
        &parts,
        &fold::COLUMNS,
        |groups: &mut Rates, p| {
            if !footers_serve {
                return Ok(false);
            }
            let Some(list) = footers::of_whole_part::<Vec<Entry>>(store, p, fold::FOOTER)? else {
                return Ok(false);
            };
            fold::merge(groups, fold::from_entries(list, contract))?;
            Ok(true)
        },
        |groups, df| Ok(fold::fold(groups, df, contract)?),
    )?;
    let mut groups = Rates::default();
    for s in states {
        fold::merge(&mut groups, s)?;
    }
    Ok((to_frame(groups)?, closes))
}

/// Groups as the report's result frame.
fn to_frame(groups: Rates) -> Result<DataFrame, ReportError> {
    let n = groups.len();
    let (mut id, mut reference, mut rate) = (Vec::new(), Vec::new(), Vec::new());
    let mut figures: [Vec<i64>; 5] = Default::default();
    for ((c, r), g) in groups {
        id.push(c);
        rate.push(r);
        reference.push(g.contract_ref);
        for (v, x) in figures
            .iter_mut()
            .zip([g.actions, g.hours, g.amount, g.invoiced, g.unbilled])
        {
            v.push(x);
        }
    }
    let [actions, hours, amount, invoiced, unbilled] = figures;
    let columns = vec![
        Column::new("contract_id".into(), id),
        Column::new("contract_ref".into(), reference),
        Column::new("charge_rate".into(), rate),
        Column::new("actions".into(), actions),
        Column::new("chargeable_hours".into(), hours),
        Column::new("chargeable_amount".into(), amount),
        Column::new("invoiced_amount".into(), invoiced),
        Column::new("unbilled_amount".into(), unbilled),
    ];
    DataFrame::new(n, columns).map_err(|source| ReportError::column("charge-rates", source))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::col;

    /// Rows covering every rule of the query: contract null / 0 / 7 / 8, references
    /// null or several, rates null or set, invoice number null / empty / set, invoice id
    /// null / -1 / 0 / 5, hours and amounts null, 0 or above.
    fn edge_rows() -> DataFrame {
        #[allow(clippy::type_complexity)]
        let rows: Vec<(
            Option<i64>,
            Option<&str>,
            Option<i64>,
            Option<i64>,
            Option<i64>,
            Option<&str>,
            Option<i64>,
        )> = vec![
            (
                Some(7),
                Some("A"),
                Some(1),
                Some(3_600_000),
                Some(10_000),
                None,
                None,
            ),
            (
                Some(7),
                Some("B"),
                Some(1),
                Some(1),
                Some(40),
                Some(""),
                None,
            ),
            (Some(7), Some("B"), Some(1), Some(2), None, None, None),
            (Some(7), None, Some(1), None, Some(5), None, Some(5)),
            (Some(7), Some("A2"), None, Some(0), Some(7), None, Some(-1)),
            (Some(7), Some("Z"), Some(2), Some(0), Some(0), None, None),
            (
                Some(8),
                None,
                Some(1),
                Some(60_000),
                Some(1_234),
                Some("INV-1"),
                Some(0),
            ),
            (Some(8), None, Some(1), Some(-5), Some(-3), None, None),
            (
                Some(0),
                Some("zero"),
                Some(1),
                Some(1_000),
                Some(100),
                None,
                Some(0),
            ),
            (
                None,
                Some("none"),
                Some(1),
                Some(2_000),
                Some(200),
                None,
                None,
            ),
            (
                None,
                None,
                None,
                Some(3_000),
                Some(300),
                Some("INV-2"),
                None,
            ),
            (Some(0), Some("zz"), None, None, Some(1), None, Some(3)),
        ];
        let pick = |f: fn(&_) -> Option<i64>| rows.iter().map(f).collect::<Vec<_>>();
        let text = |f: fn(&_) -> Option<&str>| rows.iter().map(f).collect::<Vec<_>>();
        df!(
            col::CONTRACT_ID => pick(|r| r.0),
            col::CONTRACT_REF => text(|r| r.1),
            fold::CHARGE_RATE => pick(|r| r.2),
            fold::CHARGE_H => pick(|r| r.3),
            fold::CHARGE_A => pick(|r| r.4),
            col::INVOICE_NUMBER => text(|r| r.5),
            col::INVOICE_ID => pick(|r| r.6),
        )
        .unwrap()
    }

    /// The result sorted as the definition sorts it, figures as i64.
    fn sorted(df: DataFrame) -> DataFrame {
        let mut df = df
            .sort(
                ["contract_id", "charge_rate"],
                SortMultipleOptions::default(),
            )
            .unwrap();
        for name in ["actions", "chargeable_hours", "chargeable_amount"] {
            let c = df.column(name).unwrap().cast(&DataType::Int64).unwrap();
            df.with_column(c).unwrap();
        }
        df
    }

    /// The fold, and the same fold through a footer, against the SQL file run by
    /// polars over the same rows: equal for no parameter and for contracts 7, 0 and 9.
    #[test]
    fn the_fold_gives_what_the_sql_file_gives_on_every_edge_case() {
        let sql = include_str!("../../queries/charge-rates.sql");
        for contract in [None, Some(7), Some(0), Some(9)] {
            let params = df!("contract" => [contract]).unwrap();
            let want = crate::report::sql::run_sql(
                edge_rows().lazy(),
                sql,
                vec![("params", params)],
                Engine::InMemory,
            )
            .unwrap();
            let mut groups = Rates::default();
            fold::fold(&mut groups, &edge_rows(), contract).unwrap();
            let got = sorted(to_frame(groups).unwrap());
            assert!(
                got.equals_missing(&sorted(want.clone())),
                "contract {contract:?}:\n{got}\n{want}"
            );
            if contract == Some(0) {
                continue; // footers do not serve contract 0 (see `frame`)
            }
            let (_, json) = fold::footer(&edge_rows()).unwrap();
            let entries: serde_json::Value = serde_json::from_str(&json).unwrap();
            let list: Vec<Entry> = serde_json::from_value(entries["state"].clone()).unwrap();
            let via = sorted(to_frame(fold::from_entries(list, contract)).unwrap());
            assert!(via.equals_missing(&got), "footer, contract {contract:?}");
        }
    }
}
