//! `report actions`: the drill-down, the actions behind a line of another report, one
//! row each, with the first line of the note. `--raw` shows figures in their integer
//! units (ms, cents, 1/10,000), whose sums are exact to the millisecond.

// Rows are read by index across several columns at once; an index loop reads clearest.
#![allow(clippy::needless_range_loop)]

use super::error::ReportError;
use super::select;
use super::sheet::{Column, Kind, Scope, Sheet};
use crate::exact;
use crate::fold::base::{self, add, invoiced};
use crate::frame::col;
use crate::period::Period;
use crate::store::Store;
use polars::prelude::DataFrame;

const CHARGE_H: &str = "actionchargehours_ms";
const CHARGE_A: &str = "actionchargeamount_cents";
const WHO: &str = "who";
const WHO_ID: &str = "who_agentid";
const NOTE: &str = "note";

fn num(v: Option<i64>) -> String {
    v.map(|x| x.to_string()).unwrap_or_default()
}

/// One listed action: datetime, ticket, id, the text cells (agent id and name, contract
/// id and reference, invoice number and id, note's first line), the measures.
type Listed = (i64, i64, i64, Vec<String>, [i64; 10]);

/// Which actions `report actions` lists: every filter given must hold.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// `Some(None)`: actions without a contract.
    pub contract: Option<Option<i64>>,
    /// `Some(None)`: actions not invoiced (by number). `Some(Some(n))`: actions whose
    /// invoice number is `n`, or whose invoice id is `n` when `n` is a whole number (the
    /// audit's rows name an invoice either way).
    pub invoice: Option<Option<String>>,
    /// `Some(None)`: actions without an agent.
    pub agent: Option<Option<i64>>,
    /// Only chargeable work not yet invoiced (as `report unbilled` counts it).
    pub unbilled: bool,
}

/// `report actions`: the actions behind a line of another report, one row each, with the
/// first line of the note. `raw` shows figures in their integer units (ms, cents,
/// 1/10,000), whose sums are exact to the millisecond.
pub fn actions(
    store: &Store,
    period: &Period,
    filter: &Filter,
    raw: bool,
) -> Result<Sheet, ReportError> {
    let (parts, closes) = select::parts(store, period)?;
    let mut cols: Vec<&str> = vec![
        col::TICKET_ID,
        col::ID,
        WHO_ID,
        WHO,
        col::CONTRACT_ID,
        col::CONTRACT_REF,
        col::INVOICE_NUMBER,
        col::INVOICE_ID,
        NOTE,
    ];
    cols.extend(col::MEASURES);
    // The filters go to the reader as predicates that hold for every row the filter
    // keeps (rows are decoded only where they hold); the loop below checks every filter
    // again exactly.
    use polars::prelude::{Expr, col as c, lit};
    let key = |name: &str, v: Option<i64>| match v {
        Some(v) => c(name).eq(lit(v)),
        None => c(name).is_null(),
    };
    let predicate = [
        filter.contract.map(|v| key(col::CONTRACT_ID, v)),
        filter.agent.map(|v| key(WHO_ID, v)),
        match &filter.invoice {
            Some(Some(n)) => Some(match n.trim().parse::<i64>() {
                Ok(v) => c(col::INVOICE_NUMBER)
                    .eq(lit(n.as_str()))
                    .or(c(col::INVOICE_ID).eq(lit(v))),
                Err(_) => c(col::INVOICE_NUMBER).eq(lit(n.as_str())),
            }),
            _ => None,
        },
        filter
            .unbilled
            .then(|| c(CHARGE_H).gt(lit(0i64)).or(c(CHARGE_A).gt(lit(0i64)))),
    ]
    .into_iter()
    .flatten()
    .reduce(Expr::and);
    let fold = |found: &mut Vec<Listed>, df: &DataFrame| {
        // The filter from keys and borrowed figures; texts only for the rows listed.
        let (t, id) = (
            base::int_col(df, col::TICKET_ID)?,
            base::int_col(df, col::ID)?,
        );
        let (aid, who) = (base::int_col(df, WHO_ID)?, base::text_col(df, WHO)?);
        let (cid, cref) = (
            base::int_col(df, col::CONTRACT_ID)?,
            base::text_col(df, col::CONTRACT_REF)?,
        );
        let (inum, iid) = (
            base::text_col(df, col::INVOICE_NUMBER)?,
            base::int_col(df, col::INVOICE_ID)?,
        );
        let note = base::text_col(df, NOTE)?;
        let m: Vec<std::borrow::Cow<[i64]>> = col::MEASURES
            .iter()
            .map(|c| base::units(df, c))
            .collect::<Result<_, _>>()?;
        let dt = base::datetime_col(df)?;
        for i in 0..df.height() {
            let contract = cid.get(i);
            if filter.contract.is_some_and(|c| c != contract)
                || filter.agent.is_some_and(|a| a != aid.get(i))
            {
                continue;
            }
            let inv = inum.get(i).filter(|n| !n.trim().is_empty());
            let by_id = |n: &str| {
                n.trim()
                    .parse::<i64>()
                    .ok()
                    .is_some_and(|v| iid.get(i) == Some(v))
            };
            let keep = filter
                .invoice
                .as_ref()
                .is_none_or(|n| n.as_deref() == inv || n.as_deref().is_some_and(by_id))
                && (!filter.unbilled
                    || ((m[4][i] > 0 || m[5][i] > 0) && !invoiced(inum.get(i), iid.get(i))));
            if !keep {
                continue;
            }
            let first_line = note
                .get(i)
                .and_then(|n| n.lines().next())
                .unwrap_or("")
                .to_string();
            found.push((
                dt.get(i).unwrap_or_default(),
                t.get(i).unwrap_or_default(),
                id.get(i).unwrap_or_default(),
                vec![
                    num(aid.get(i)),
                    who.get(i).unwrap_or_default().to_string(),
                    num(contract),
                    if contract.is_some() {
                        cref.get(i).unwrap_or_default().to_string()
                    } else {
                        String::new()
                    },
                    inv.unwrap_or_default().to_string(),
                    num(iid.get(i)),
                    first_line,
                ],
                std::array::from_fn(|k| m[k][i]),
            ));
        }
        Ok(())
    };
    // One contract's rows are read where the files' contract index puts them; files
    // without an index, and other filters, go to polars with the predicate.
    let (mut states, rest) = match filter.contract {
        Some(contract) => select::fold_contract(store, &parts, &cols, contract, fold)?,
        None => (Vec::new(), parts),
    };
    match predicate {
        Some(p) if !rest.is_empty() => {
            let mut found = Vec::new();
            fold(&mut found, &select::frame_where(store, &rest, &cols, p)?)?;
            states.push(found);
        }
        Some(_) => {}
        None => states.extend(select::fold_frames(store, &rest, &cols, fold)?),
    }
    let mut found: Vec<Listed> = states.into_iter().flatten().collect();
    found.sort_by_key(|f| (f.0, f.1, f.2));
    let show = |k: usize, v: i64| -> String {
        if raw {
            v.to_string()
        } else {
            super::measures::show(k, v)
        }
    };
    // One precision for the whole datetime column.
    let digits = crate::model::datetime::column_digits(found.iter().map(|f| f.0));
    let mut total = [0i64; 10];
    let mut rows = Vec::with_capacity(found.len());
    for (dt, t, id, mut keys, m) in found {
        for k in 0..10 {
            add(&mut total[k], m[k], crate::aggregate::MEASURE_NAMES[k])?;
        }
        let note = keys.pop().expect("seven key cells, the note last");
        let mut r = Vec::with_capacity(20);
        r.extend([
            t.to_string(),
            id.to_string(),
            crate::model::datetime::format_datetime_digits(dt, digits),
        ]);
        r.append(&mut keys);
        r.extend((0..10).map(|k| show(k, m[k])));
        r.push(note);
        rows.push(r);
    }
    let mut t = vec![String::new(); 9];
    t.extend((0..10).map(|k| show(k, total[k])));
    t.push(format!("{} actions", rows.len()));
    let mut columns = super::measures::action_columns();
    columns.extend([
        Column::new("invoice_number", Kind::Text),
        Column::new("invoice_id", Kind::Id),
    ]);
    columns.extend(super::measures::columns(raw));
    columns.push(Column::new("note", Kind::Text));
    let title = format!(
        "Actions, {} ({}), {} listed",
        period.label,
        period.timezone.name(),
        rows.len()
    );
    let mut sheet = Sheet::new("actions", title, columns, Scope::new(period, closes));
    sheet.rows = rows;
    sheet.total = Some(t);
    sheet.notes = if raw {
        vec![
            "(figures in their integer units: hours in ms, money in cents, mileage in 1/10,000)"
                .into(),
        ]
    } else {
        vec![format!("({})", exact::HOURS_NOTE)]
    };
    Ok(sheet)
}
