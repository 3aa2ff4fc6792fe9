//! Actions that may leak revenue, with the reason. The fold of `report leakage`.

use super::base::{self, FoldError};
use super::summary;
use crate::frame::col;
use polars::prelude::DataFrame;
use serde::{Deserialize, Serialize};

const TIME: &str = "timetaken_ms";
const CHARGE_H: &str = "actionchargehours_ms";
const CHARGE_A: &str = "actionchargeamount_cents";
const PREPAY_H: &str = "actionprepayhours_ms";
const PREPAY_A: &str = "actionprepayamount_cents";
const WHO: &str = "who";
const WHO_ID: &str = "who_agentid";

/// Why an action may leak revenue (in the order reports list them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// Marked billable, time taken, but neither chargeable nor prepay hours.
    BillableNotCharged,
    /// Chargeable hours but no chargeable amount.
    ChargedHoursWithoutAmount,
}

impl Reason {
    /// The reason as reports write it.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::BillableNotCharged => "billable_not_charged",
            Reason::ChargedHoursWithoutAmount => "charged_hours_without_amount",
        }
    }
}

/// Why an action may leak revenue.
fn leak_reason(
    charge_h: i64,
    charge_a: i64,
    billable: Option<bool>,
    time: i64,
    prepay_h: i64,
) -> Option<Reason> {
    if charge_h > 0 && charge_a == 0 {
        Some(Reason::ChargedHoursWithoutAmount)
    } else if billable == Some(true) && time > 0 && charge_h == 0 && prepay_h == 0 {
        Some(Reason::BillableNotCharged)
    } else {
        None
    }
}

/// One action found: (datetime, ticket, id, agent id, agent, contract id, ref, reason,
/// time, chargeable hours and amount, prepay hours and amount).
pub type Leak = (
    i64,
    i64,
    i64,
    Option<i64>,
    String,
    Option<i64>,
    String,
    Reason,
    [i64; 5],
);

/// The footer key of a file's leakage rows.
pub const FOOTER: &str = "halo-billing.leakage.v1";

/// A file with more actions found than this keeps no leakage summary (its rows are read).
pub const FOOTER_ROWS: usize = 4096;

/// The stored columns the fold reads (and `datetime`).
pub const COLUMNS: [&str; 12] = [
    col::TICKET_ID,
    col::ID,
    WHO_ID,
    WHO,
    col::CONTRACT_ID,
    col::CONTRACT_REF,
    "actisbillable",
    TIME,
    CHARGE_H,
    CHARGE_A,
    PREPAY_H,
    PREPAY_A,
];

/// Adds a frame's actions that may leak revenue to `found`.
pub fn fold(found: &mut Vec<Leak>, df: &DataFrame) -> Result<(), FoldError> {
    // The reason from borrowed figures; everything else only for the rows found.
    let billable = base::flag_col(df, "actisbillable")?;
    let m: Vec<std::borrow::Cow<[i64]>> = [TIME, CHARGE_H, CHARGE_A, PREPAY_H, PREPAY_A]
        .iter()
        .map(|c| base::units(df, c))
        .collect::<Result<_, _>>()?;
    let (t, id) = (
        base::int_col(df, col::TICKET_ID)?,
        base::int_col(df, col::ID)?,
    );
    let (aid, who) = (base::int_col(df, WHO_ID)?, base::text_col(df, WHO)?);
    let cid = base::int_col(df, col::CONTRACT_ID)?;
    let cref = base::text_col(df, col::CONTRACT_REF)?;
    let dt = base::datetime_col(df)?;
    // One index across a dozen parallel columns reads better than a dozen zipped iterators.
    #[allow(clippy::needless_range_loop)]
    for i in 0..df.height() {
        let Some(reason) = leak_reason(m[1][i], m[2][i], billable.get(i), m[0][i], m[3][i]) else {
            continue;
        };
        let contract = cid.get(i);
        found.push((
            dt.get(i).unwrap_or_default(),
            t.get(i).unwrap_or_default(),
            id.get(i).unwrap_or_default(),
            aid.get(i),
            who.get(i).unwrap_or_default().to_string(),
            contract,
            if contract.is_some() {
                cref.get(i).unwrap_or_default().to_string()
            } else {
                String::new()
            },
            reason,
            std::array::from_fn(|k| m[k][i]),
        ));
    }
    Ok(())
}

/// The footer entry of a partition frame's leakage rows; none when there are more than
/// [`FOOTER_ROWS`].
pub fn footer(df: &DataFrame) -> Result<Option<(String, String)>, FoldError> {
    let mut found = Vec::new();
    fold(&mut found, df)?;
    Ok((found.len() <= FOOTER_ROWS).then(|| summary::encode(FOOTER, df.height(), &found)))
}
