//! The ten measures as report columns: their kinds, and each figure shown exactly (hours
//! and mileage 4 decimals, each its exact value rounded once; money 2, exact).

use super::sheet::{Column, Kind};
use crate::aggregate::{MEASURE_NAMES, MEASURES};
use crate::exact;

/// The measures a table fitted to the terminal leaves to `--wide` (the others are the
/// three hours/amount pairs a month-end is about).
const DETAILS: [&str; 4] = [
    "time_taken_hours",
    "non_bill_hours",
    "travel_hours",
    "mileage",
];

/// The kind of measure `m`.
pub fn kind(m: usize) -> Kind {
    match MEASURE_NAMES[m] {
        "mileage" => Kind::Mileage,
        n if n.ends_with("_hours") => Kind::Hours,
        _ => Kind::Money,
    }
}

/// The measures' columns, in report order; `raw`: in their integer units, under their
/// stored names.
pub fn columns(raw: bool) -> Vec<Column> {
    (0..MEASURES)
        .map(|m| {
            let c = if raw {
                Column::new(crate::frame::col::MEASURES[m], Kind::Integer)
            } else {
                Column::new(MEASURE_NAMES[m], kind(m))
            };
            if DETAILS.contains(&MEASURE_NAMES[m]) {
                c.detail()
            } else {
                c
            }
        })
        .collect()
}

/// Measure `m`'s figure `v` as shown.
pub fn show(m: usize, v: i64) -> String {
    match kind(m) {
        Kind::Mileage => exact::format_mileage(v),
        Kind::Hours => exact::format_hours(v),
        _ => exact::format_money(v),
    }
}

/// Every measure of `sums` as shown.
pub fn shown(sums: &[i64; MEASURES]) -> [String; MEASURES] {
    std::array::from_fn(|m| show(m, sums[m]))
}

/// The columns that say which action a row is and who did it for which contract: the
/// first seven of every per-action sheet (`actions`, `leakage`).
pub fn action_columns() -> Vec<Column> {
    vec![
        Column::new("ticket_id", Kind::Id).key(),
        Column::new("id", Kind::Id).key(),
        Column::new("datetime", Kind::DateTime),
        Column::new("agent_id", Kind::Id),
        Column::new("agent", Kind::Text),
        Column::new("contract_id", Kind::Id),
        Column::new("contract_ref", Kind::Text),
    ]
}
