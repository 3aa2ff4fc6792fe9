//! `report agents`: per agent (`who_agentid`), hours and amounts, the billable share
//! ((chargeable + prepay hours) / time taken, percent with 1 decimal) and the effective
//! rate ((chargeable + prepay amount) / (chargeable + prepay hours), per hour), each
//! computed from the exact integer units and rounded once; empty when the divisor is 0.

use super::error::ReportError;
use super::footers;
use super::select;
use super::sheet::{Chart, Column, Kind, Scope, Sheet};
use crate::exact;
use crate::fold::agents::{self as fold, Agent, Groups, Listed};
use crate::fold::base::most_common;
use crate::period::Period;
use crate::store::Store;

/// An agent's row.
fn cells(a: &Agent, id: String, name: String) -> Vec<String> {
    let billable_h = a.charge_h + a.prepay_h;
    let billable_a = a.charge_a + a.prepay_a;
    vec![
        id,
        name,
        a.actions.to_string(),
        exact::format_hours(a.time),
        exact::format_hours(a.charge_h),
        exact::format_hours(a.noncharge_h),
        exact::format_hours(a.prepay_h),
        exact::format_money(a.charge_a),
        exact::format_money(a.prepay_a),
        // Tenths of a percent, and cents per hour, each rounded once.
        if a.time > 0 {
            exact::format_fixed(exact::round_to(billable_h, a.time, 1000), 10, 1)
        } else {
            String::new()
        },
        if billable_h > 0 {
            exact::format_money(exact::round_to(billable_a, billable_h, exact::MS_PER_HOUR))
        } else {
            String::new()
        },
    ]
}

/// The report (see the module doc).
pub fn agents(store: &Store, period: &Period) -> Result<Sheet, ReportError> {
    let (parts, closes) = select::parts(store, period)?;
    let states = select::fold_parts(
        store,
        &parts,
        &fold::COLUMNS,
        |groups: &mut Groups, p| {
            let Some(list) = footers::of_whole_part::<Listed>(store, p, fold::FOOTER)? else {
                return Ok(false);
            };
            fold::merge(groups, list)?;
            Ok(true)
        },
        |groups, df| Ok(fold::fold(groups, df)?),
    )?;
    let mut groups = Groups::new();
    for state in states {
        fold::merge(&mut groups, state)?;
    }
    let mut total = Agent::default();
    let mut rows = Vec::new();
    for (id, g) in &groups {
        total.merge(g)?;
        let id = id.map(|v| v.to_string()).unwrap_or_default();
        rows.push(cells(g, id, most_common(&g.names)));
    }
    let columns = vec![
        Column::new("agent_id", Kind::Id).key(),
        Column::new("agent", Kind::Text),
        Column::new("actions", Kind::Count),
        Column::new("time_taken_hours", Kind::Hours),
        Column::new("chargeable_hours", Kind::Hours),
        Column::new("non_chargeable_hours", Kind::Hours),
        Column::new("prepay_hours", Kind::Hours),
        Column::new("chargeable_amount", Kind::Money),
        Column::new("prepay_amount", Kind::Money),
        Column::new("billable_percent", Kind::Percent),
        Column::new("effective_rate", Kind::Money),
    ];
    let title = format!("Agents, {} ({})", period.label, period.timezone.name());
    let mut sheet = Sheet::new("agents", title, columns, Scope::new(period, closes));
    sheet.rows = rows;
    sheet.total = Some(cells(&total, String::new(), String::new()));
    sheet.notes = vec![format!(
        "({}; billable_percent and effective_rate are computed from exact totals and rounded once)",
        exact::HOURS_NOTE
    )];
    sheet.blank_key = Some("(no agent)");
    sheet.chart = Chart::BillableShare;
    Ok(sheet)
}
