//! `report leakage`: actions that may leak revenue, one row each with the reason
//! (`charged_hours_without_amount`: chargeable hours but no chargeable amount;
//! `billable_not_charged`: marked billable, time taken, but neither chargeable nor
//! prepay hours); `--by contract` gives counts and hours per contract and reason.

use super::error::ReportError;
use super::footers;
use super::select;
use super::sheet::{Column, Kind, Scope, Sheet};
use crate::exact;
use crate::fold::base::{Counts, add, count, most_common};
use crate::fold::leakage::{self as fold, Leak, Reason};
use crate::period::Period;
use crate::store::Store;
use std::collections::BTreeMap;

fn num(v: Option<i64>) -> String {
    v.map(|x| x.to_string()).unwrap_or_default()
}

/// The report (see the module doc); `by_contract`: per contract and reason.
pub fn leakage(store: &Store, period: &Period, by_contract: bool) -> Result<Sheet, ReportError> {
    let (parts, closes) = select::parts(store, period)?;
    let states = select::fold_parts(
        store,
        &parts,
        &fold::COLUMNS,
        |found: &mut Vec<Leak>, p| {
            let Some(more) = footers::of_whole_part::<Vec<Leak>>(store, p, fold::FOOTER)? else {
                return Ok(false);
            };
            found.extend(more);
            Ok(true)
        },
        |found, df| Ok(fold::fold(found, df)?),
    )?;
    let mut found: Vec<Leak> = states.into_iter().flatten().collect();
    found.sort_by_key(|f| (f.0, f.1, f.2));
    let title = format!(
        "Possible revenue leakage, {} ({}), {} action(s)",
        period.label,
        period.timezone.name(),
        found.len()
    );
    let notes = vec![format!("({})", exact::HOURS_NOTE)];
    if by_contract {
        // (contract, reason) -> (refs, actions, time, chargeable hours)
        type Acc = (Counts, i64, i64, i64);
        let mut groups: BTreeMap<(Option<i64>, Reason), Acc> = BTreeMap::new();
        for f in &found {
            let g = groups.entry((f.5, f.7)).or_default();
            count(&mut g.0, Some(f.6.as_str()).filter(|r| !r.is_empty()));
            g.1 += 1;
            add(&mut g.2, f.8[0], "time_taken_hours")?;
            add(&mut g.3, f.8[1], "chargeable_hours")?;
        }
        let mut total = (0i64, 0i64, 0i64);
        let mut rows = Vec::new();
        for ((cid, reason), g) in &groups {
            total.0 += g.1;
            add(&mut total.1, g.2, "time_taken_hours")?;
            add(&mut total.2, g.3, "chargeable_hours")?;
            rows.push(vec![
                num(*cid),
                if cid.is_some() {
                    most_common(&g.0)
                } else {
                    String::new()
                },
                reason.as_str().to_string(),
                g.1.to_string(),
                exact::format_hours(g.2),
                exact::format_hours(g.3),
            ]);
        }
        let columns = vec![
            Column::new("contract_id", Kind::Id).key(),
            Column::new("contract_ref", Kind::Text),
            Column::new("reason", Kind::Text).key(),
            Column::new("actions", Kind::Count),
            Column::new("time_taken_hours", Kind::Hours),
            Column::new("chargeable_hours", Kind::Hours),
        ];
        let mut sheet = Sheet::new("leakage", title, columns, Scope::new(period, closes));
        sheet.rows = rows;
        sheet.total = Some(vec![
            String::new(),
            String::new(),
            String::new(),
            total.0.to_string(),
            exact::format_hours(total.1),
            exact::format_hours(total.2),
        ]);
        sheet.notes = notes;
        return Ok(sheet);
    }
    // One precision for the whole datetime column.
    let digits = crate::model::datetime::column_digits(found.iter().map(|f| f.0));
    let mut sums = [0i64; 5];
    let mut rows = Vec::new();
    for f in &found {
        for (sum, v) in sums.iter_mut().zip(f.8) {
            add(sum, v, "leakage")?;
        }
        rows.push(figure_row(
            vec![
                f.1.to_string(),
                f.2.to_string(),
                crate::model::datetime::format_datetime_digits(f.0, digits),
                num(f.3),
                f.4.clone(),
                num(f.5),
                f.6.clone(),
            ],
            &f.8,
            f.7.as_str(),
        ));
    }
    let mut columns = super::measures::action_columns();
    columns.extend([
        Column::new("time_taken_hours", Kind::Hours),
        Column::new("chargeable_hours", Kind::Hours),
        Column::new("chargeable_amount", Kind::Money),
        Column::new("prepay_hours", Kind::Hours),
        Column::new("prepay_amount", Kind::Money),
        Column::new("reason", Kind::Text),
    ]);
    let mut sheet = Sheet::new("leakage", title, columns, Scope::new(period, closes));
    sheet.rows = rows;
    sheet.total = Some(figure_row(vec![String::new(); 7], &sums, ""));
    sheet.notes = notes;
    Ok(sheet)
}

/// Key cells, then time, chargeable hours and amount, prepay hours and amount, then the
/// reason.
fn figure_row(mut keys: Vec<String>, m: &[i64; 5], reason: &str) -> Vec<String> {
    keys.extend([
        exact::format_hours(m[0]),
        exact::format_hours(m[1]),
        exact::format_money(m[2]),
        exact::format_hours(m[3]),
        exact::format_money(m[4]),
        reason.to_string(),
    ]);
    keys
}
