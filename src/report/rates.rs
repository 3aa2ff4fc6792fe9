//! `report charge-rates` computed on the reader threads: the built-in report defined by
//! `queries/charge-rates.sql`, folded exactly as that query says, with each partition
//! file's groups in its footer ([`super::totals`]) so that whole months are not read.
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

use super::ReportError;
use super::pack::add;
use super::select;
use super::totals;
use crate::frame::col;
use crate::period::Period;
use crate::store::Store;
use polars::prelude::*;
use rustc_hash::FxHashMap;

/// The report's name: the built-in file report this module computes.
pub const NAME: &str = "charge-rates";

/// The footer key of a file's charge-rate groups ([`super::totals`]).
const FOOTER: &str = "halo-billing.charge-rates.v1";

const CHARGE_RATE: &str = "chargerate";
const CHARGE_H: &str = "actionchargehours_ms";
const CHARGE_A: &str = "actionchargeamount_cents";

/// The stored columns the fold reads.
const COLUMNS: [&str; 7] = [
    col::CONTRACT_ID,
    col::CONTRACT_REF,
    CHARGE_RATE,
    CHARGE_H,
    CHARGE_A,
    col::INVOICE_NUMBER,
    col::INVOICE_ID,
];

/// One group's figures.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Rate {
    /// The greatest reference of the group's rows (none: no row had one).
    contract_ref: Option<String>,
    actions: i64,
    hours: i64,
    amount: i64,
    invoiced: i64,
    unbilled: i64,
}

impl Rate {
    /// Keeps `r` as the reference when it is greater than the one held.
    fn see_ref(&mut self, r: Option<&str>) {
        if let Some(r) = r
            && self.contract_ref.as_deref().is_none_or(|held| r > held)
        {
            self.contract_ref = Some(r.to_string());
        }
    }

    fn merge(&mut self, o: Rate) -> Result<(), ReportError> {
        self.see_ref(o.contract_ref.as_deref());
        add(&mut self.actions, o.actions, "actions")?;
        add(&mut self.hours, o.hours, "chargeable_hours")?;
        add(&mut self.amount, o.amount, "chargeable_amount")?;
        add(&mut self.invoiced, o.invoiced, "invoiced_amount")?;
        add(&mut self.unbilled, o.unbilled, "unbilled_amount")
    }
}

/// Groups by (contract, charge rate).
type Rates = FxHashMap<(Option<i64>, Option<i64>), Rate>;

/// A group as the footer holds it: `[contract, rate, reference, actions, [hours, amount,
/// invoiced, unbilled]]`.
type Entry = (Option<i64>, Option<i64>, Option<String>, i64, [i64; 4]);

/// Adds the rows of `df` to `groups`; with `contract`, only the rows of that contract id.
fn fold(groups: &mut Rates, df: &DataFrame, contract: Option<i64>) -> Result<(), ReportError> {
    let id = select::int_col(df, col::CONTRACT_ID)?;
    let rate = select::int_col(df, CHARGE_RATE)?;
    let hours = select::int_col(df, CHARGE_H)?;
    let amount = select::int_col(df, CHARGE_A)?;
    let invoice_id = select::int_col(df, col::INVOICE_ID)?;
    let refs = select::text_col(df, col::CONTRACT_REF)?;
    let number = select::text_col(df, col::INVOICE_NUMBER)?;
    let rows = id
        .iter()
        .zip(rate.iter())
        .zip(hours.iter().zip(amount.iter()))
        .zip(invoice_id.iter().zip(number.iter()))
        .zip(refs.iter());
    for ((((id, rate), (h, a)), (inv_id, inv_no)), r) in rows {
        if !(h.is_some_and(|h| h > 0) || a.is_some_and(|a| a > 0)) {
            continue;
        }
        if contract.is_some_and(|c| id != Some(c)) {
            continue;
        }
        let id = id.filter(|&c| c != 0);
        let g = groups.entry((id, rate)).or_default();
        g.see_ref(id.and(r));
        let a = a.unwrap_or(0);
        add(&mut g.actions, 1, "actions")?;
        add(&mut g.hours, h.unwrap_or(0), "chargeable_hours")?;
        add(&mut g.amount, a, "chargeable_amount")?;
        if inv_no.is_some() || inv_id.is_some_and(|i| i > 0) {
            add(&mut g.invoiced, a, "invoiced_amount")?;
        } else {
            add(&mut g.unbilled, a, "unbilled_amount")?;
        }
    }
    Ok(())
}

/// Adds `more` (another thread's groups, or a footer's) into `into`.
fn merge(into: &mut Rates, more: Rates) -> Result<(), ReportError> {
    for (k, r) in more {
        match into.get_mut(&k) {
            Some(g) => g.merge(r)?,
            None => {
                into.insert(k, r);
            }
        }
    }
    Ok(())
}

/// The footer entry of a partition frame: the groups of all its rows, in key order.
pub(crate) fn footer(df: &DataFrame) -> Result<(String, String), ReportError> {
    let mut groups = Rates::default();
    fold(&mut groups, df, None)?;
    let mut list: Vec<Entry> = groups
        .into_iter()
        .map(|((c, rate), g)| {
            let sums = [g.hours, g.amount, g.invoiced, g.unbilled];
            (c, rate, g.contract_ref, g.actions, sums)
        })
        .collect();
    list.sort_unstable();
    Ok(totals::encode(FOOTER, df.height(), &list))
}

/// A footer's groups, those of `contract` only when given.
fn from_entries(list: Vec<Entry>, contract: Option<i64>) -> Rates {
    list.into_iter()
        .filter(|e| contract.is_none() || e.0 == contract)
        .map(|(c, rate, contract_ref, actions, s)| {
            let r = Rate {
                contract_ref,
                actions,
                hours: s[0],
                amount: s[1],
                invoiced: s[2],
                unbilled: s[3],
            };
            ((c, rate), r)
        })
        .collect()
}

/// The report's result for `period`: the columns `reports/charge-rates.toml` declares,
/// in integer units, one row per group (unsorted: the caller sorts as the definition
/// says). `contract`: the parameter.
pub fn frame(
    store: &Store,
    period: &Period,
    contract: Option<i64>,
) -> Result<DataFrame, ReportError> {
    let (parts, _) = select::parts(store, period)?;
    // A footer's groups serve a contract parameter by their contract, except 0: its rows
    // are in the group without a contract, with those of no contract id at all.
    let footers_serve = contract != Some(0);
    let states = select::fold_parts(
        store,
        &parts,
        &COLUMNS,
        |groups: &mut Rates, p| {
            if !footers_serve {
                return Ok(false);
            }
            let Some(list) = totals::of_whole_part::<Vec<Entry>>(store, p, FOOTER)? else {
                return Ok(false);
            };
            merge(groups, from_entries(list, contract))?;
            Ok(true)
        },
        |groups, df| fold(groups, df, contract),
    )?;
    let mut groups = Rates::default();
    for s in states {
        merge(&mut groups, s)?;
    }
    to_frame(groups)
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
    DataFrame::new(n, columns).map_err(|source| ReportError::Column {
        column: "charge-rates",
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
            CHARGE_RATE => pick(|r| r.2),
            CHARGE_H => pick(|r| r.3),
            CHARGE_A => pick(|r| r.4),
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
            let want = super::super::sql::run_sql(
                edge_rows().lazy(),
                sql,
                vec![("params", params)],
                Engine::InMemory,
            )
            .unwrap();
            let mut groups = Rates::default();
            fold(&mut groups, &edge_rows(), contract).unwrap();
            let got = sorted(to_frame(groups).unwrap());
            assert!(
                got.equals_missing(&sorted(want.clone())),
                "contract {contract:?}:\n{got}\n{want}"
            );
            if contract == Some(0) {
                continue; // footers do not serve contract 0 (see `frame`)
            }
            let (_, json) = footer(&edge_rows()).unwrap();
            let entries: serde_json::Value = serde_json::from_str(&json).unwrap();
            let list: Vec<Entry> = serde_json::from_value(entries["state"].clone()).unwrap();
            let via = sorted(to_frame(from_entries(list, contract)).unwrap());
            assert!(via.equals_missing(&got), "footer, contract {contract:?}");
        }
    }

    /// Merging keeps the greater reference and adds the figures; an overflow is an
    /// error naming the column.
    #[test]
    fn merging_keeps_the_greater_reference_and_refuses_an_overflow() {
        let mut a = Rate {
            contract_ref: Some("B".into()),
            actions: 1,
            amount: i64::MAX,
            ..Default::default()
        };
        let b = Rate {
            contract_ref: Some("C".into()),
            actions: 2,
            ..Default::default()
        };
        a.merge(b).unwrap();
        assert_eq!((a.contract_ref.as_deref(), a.actions), (Some("C"), 3));
        a.merge(Rate {
            contract_ref: None,
            ..Default::default()
        })
        .unwrap();
        assert_eq!(a.contract_ref.as_deref(), Some("C"));
        let e = a
            .merge(Rate {
                amount: 1,
                ..Default::default()
            })
            .unwrap_err();
        assert!(e.to_string().contains("chargeable_amount"), "{e}");
    }
}
