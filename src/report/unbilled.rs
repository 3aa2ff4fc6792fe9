//! `report unbilled`: chargeable work (chargeable hours or amount above zero) with no
//! invoice, per contract, with the amount by age: whole days from the action's local
//! date to the last day of the range (0-30, 31-60, 61-90, over 90), in the period's zone;
//! and how much of each row is already on an export in the register.

use super::error::ReportError;
use super::footers;
use super::select;
use super::sheet::{Chart, Column, Kind, Scope, Sheet};
use crate::exact;
use crate::fold::base::{add, most_common};
use crate::fold::unbilled::{self as fold, Groups, Listed, Unbilled};
use crate::period::Period;
use crate::store::Store;

fn num(v: Option<i64>) -> String {
    v.map(|x| x.to_string()).unwrap_or_default()
}

/// The report (see the module doc).
pub fn unbilled(store: &Store, period: &Period) -> Result<Sheet, ReportError> {
    let (parts, closes) = select::parts(store, period)?;
    let last_day = period.date_of(period.to_ns - 1);
    // Age buckets by instant: an action is at most 30 days old when its local date is on
    // or after last_day - 30, i.e. from the start of that local day (found once, not per
    // row).
    let day_start = |days_back: i64| -> i64 {
        let d = last_day - chrono::Duration::days(days_back);
        period.start_of_day_ns(d)
    };
    let limits = [day_start(30), day_start(60), day_start(90)];
    let states = select::fold_parts(
        store,
        &parts,
        &fold::COLUMNS,
        |groups: &mut Groups, p| {
            // A file's summary puts all its amount in the first age; it applies when no
            // age limit falls inside the file's month, so all its rows share one age.
            let (mf, mt) = crate::store::month_bounds(p.file.month());
            if limits.iter().any(|l| mf < *l && *l < mt) {
                return Ok(false);
            }
            let Some(list) = footers::of_whole_part::<Listed>(store, p, fold::FOOTER)? else {
                return Ok(false);
            };
            let age = fold::age(mf, &limits);
            for (k, mut u) in list {
                u.ages.swap(0, age);
                groups.entry(k).or_default().merge(u)?;
            }
            Ok(true)
        },
        |groups, df| Ok(fold::fold(groups, df, &limits)?),
    )?;
    let mut groups = Groups::new();
    for state in states {
        for (k, u) in state {
            groups.entry(k).or_default().merge(u)?;
        }
    }
    let date = |ns: Option<i64>| {
        ns.map(|t| period.date_of(t).to_string())
            .unwrap_or_default()
    };
    // Of each row's amount, how much is already on an export (the register).
    let exported = super::billed::exported_by_contract(store, period)?.unwrap_or_default();
    let mut exported_total = 0;
    let mut total = Unbilled::default();
    let mut rows = Vec::new();
    for (cid, g) in &groups {
        total.actions += g.actions;
        total.oldest = total.oldest.min(g.oldest).or(g.oldest);
        total.newest = total.newest.max(g.newest);
        add(&mut total.hours, g.hours, "chargeable_hours")?;
        add(&mut total.amount, g.amount, "chargeable_amount")?;
        for b in 0..4 {
            add(&mut total.ages[b], g.ages[b], "age")?;
        }
        let mut r = vec![
            num(*cid),
            if cid.is_some() {
                most_common(&g.refs)
            } else {
                String::new()
            },
            g.actions.to_string(),
            date(g.oldest),
            date(g.newest),
            exact::format_hours(g.hours),
            exact::format_money(g.amount),
        ];
        r.extend(g.ages.iter().map(|v| exact::format_money(*v)));
        let on_export = exported.get(cid).copied().unwrap_or(0);
        add(&mut exported_total, on_export, "exported_amount")?;
        r.push(exact::format_money(on_export));
        rows.push(r);
    }
    let mut t = vec![
        String::new(),
        String::new(),
        total.actions.to_string(),
        date(total.oldest),
        date(total.newest),
        exact::format_hours(total.hours),
        exact::format_money(total.amount),
    ];
    t.extend(total.ages.iter().map(|v| exact::format_money(*v)));
    t.push(exact::format_money(exported_total));
    let columns = vec![
        Column::new("contract_id", Kind::Id).key(),
        Column::new("contract_ref", Kind::Text),
        Column::new("actions", Kind::Count),
        Column::new("oldest", Kind::Date),
        Column::new("newest", Kind::Date),
        Column::new("chargeable_hours", Kind::Hours),
        Column::new("chargeable_amount", Kind::Money),
        Column::new("age_0_30_amount", Kind::Money),
        Column::new("age_31_60_amount", Kind::Money),
        Column::new("age_61_90_amount", Kind::Money),
        Column::new("age_over_90_amount", Kind::Money),
        Column::new("exported_amount", Kind::Money),
    ];
    let title = format!(
        "Unbilled chargeable work, {} ({}); ages in days to {last_day}",
        period.label,
        period.timezone.name()
    );
    let mut sheet = Sheet::new("unbilled", title, columns, Scope::new(period, closes));
    sheet.rows = rows;
    sheet.total = Some(t);
    sheet.notes = vec![
        format!("({})", exact::HOURS_NOTE),
        "(exported_amount: of chargeable_amount, what is already on an export in the register, `halo-billing exports`; the rest is left to bill)".into(),
    ];
    sheet.blank_key = Some("(no contract)");
    sheet.chart = Chart::UnbilledByAge;
    Ok(sheet)
}
