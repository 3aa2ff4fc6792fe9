//! Prepay drawn per contract and month: the fold of `report prepay`.

use super::base::{self, Counts, FoldError, add, count, merge_counts};
use super::summary;
use crate::aggregate::Overflow;
use crate::frame::col;
use chrono::{Datelike, TimeZone};
use polars::prelude::DataFrame;
use std::collections::{BTreeMap, HashMap};

const HOURS: &str = "actionprepayhours_ms";
const AMOUNT: &str = "actionprepayamount_cents";

/// A contract's prepay drawn per local month: (hours in ms, amount in cents).
pub type Draws = BTreeMap<(i32, u32), (i64, i64)>;

/// Prepay drawn per contract and month, and the contracts' references.
#[derive(Default)]
pub struct Drawn {
    /// Per contract, its months' draws.
    pub by: BTreeMap<i64, Draws>,
    /// Per contract, its references counted.
    pub refs: HashMap<i64, Counts>,
}

/// [`Drawn`] as a list (a footer holds it so): (contract, its months' draws, references).
pub type DrawnList = Vec<(i64, Vec<((i32, u32), (i64, i64))>, Counts)>;

impl Drawn {
    /// The draws as a list, by contract.
    pub fn into_list(self) -> DrawnList {
        let Drawn { by, mut refs } = self;
        by.into_iter()
            .map(|(c, d)| {
                (
                    c,
                    d.into_iter().collect(),
                    refs.remove(&c).unwrap_or_default(),
                )
            })
            .collect()
    }

    /// Adds a list's draws.
    pub fn merge(&mut self, list: DrawnList) -> Result<(), Overflow> {
        for (c, months, r) in list {
            let by = self.by.entry(c).or_default();
            for (mo, (h, a)) in months {
                let m = by.entry(mo).or_default();
                add(&mut m.0, h, "prepay_hours")?;
                add(&mut m.1, a, "prepay_amount")?;
            }
            merge_counts(self.refs.entry(c).or_default(), r);
        }
        Ok(())
    }
}

/// The footer key of a file's prepay draws.
pub const FOOTER: &str = "halo-billing.prepay.v1";

/// The stored columns the fold reads (and `datetime`).
pub const COLUMNS: [&str; 4] = [col::CONTRACT_ID, col::CONTRACT_REF, HOURS, AMOUNT];

/// Adds a frame's prepay draws (rows with a contract and prepay hours or amount) to `d`,
/// by the month `local_month` gives each row's datetime.
pub fn fold(
    d: &mut Drawn,
    df: &DataFrame,
    local_month: &impl Fn(i64) -> (i32, u32),
) -> Result<(), FoldError> {
    let cid = base::ints(df, col::CONTRACT_ID)?;
    let cref = base::texts(df, col::CONTRACT_REF)?;
    let h = base::units(df, HOURS)?;
    let a = base::units(df, AMOUNT)?;
    let dt = base::datetimes(df)?;
    for i in 0..df.height() {
        let (Some(c), Some(t)) = (cid[i], dt[i]) else {
            continue;
        };
        if h[i] == 0 && a[i] == 0 {
            continue;
        }
        let m =
            d.by.entry(c)
                .or_default()
                .entry(local_month(t))
                .or_default();
        add(&mut m.0, h[i], "prepay_hours")?;
        add(&mut m.1, a[i], "prepay_amount")?;
        count(d.refs.entry(c).or_default(), cref[i]);
    }
    Ok(())
}

/// The footer entry of a partition frame's prepay draws, by UTC month.
pub fn footer(df: &DataFrame) -> Result<(String, String), FoldError> {
    let mut d = Drawn::default();
    fold(&mut d, df, &|ns| {
        let t = chrono::Utc.timestamp_nanos(ns);
        (t.year(), t.month())
    })?;
    Ok(summary::encode(FOOTER, df.height(), &d.into_list()))
}
