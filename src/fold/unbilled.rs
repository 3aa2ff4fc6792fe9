//! Unbilled work per contract: chargeable work (chargeable hours or amount above zero)
//! with no invoice, with the amount by age. The fold of `report unbilled`.

use super::base::{self, Counts, FoldError, add, count, invoiced, merge_counts};
use super::summary;
use crate::aggregate::Overflow;
use crate::frame::col;
use polars::prelude::DataFrame;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

const CHARGE_H: &str = "actionchargehours_ms";
const CHARGE_A: &str = "actionchargeamount_cents";

/// One contract's unbilled work.
#[derive(Default, Serialize, Deserialize)]
pub struct Unbilled {
    /// Its references, counted.
    pub refs: Counts,
    /// Actions.
    pub actions: i64,
    /// The oldest action's datetime (UTC ns).
    pub oldest: Option<i64>,
    /// The newest action's datetime.
    pub newest: Option<i64>,
    /// Chargeable hours (ms).
    pub hours: i64,
    /// Chargeable amount (cents).
    pub amount: i64,
    /// The amount by age (cents): 0-30, 31-60, 61-90, over 90 days.
    pub ages: [i64; 4],
}

impl Unbilled {
    /// Adds `o` (another thread's, or a footer's).
    pub fn merge(&mut self, o: Unbilled) -> Result<(), Overflow> {
        merge_counts(&mut self.refs, o.refs);
        self.actions += o.actions;
        self.oldest = match (self.oldest, o.oldest) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.newest = self.newest.max(o.newest);
        add(&mut self.hours, o.hours, "chargeable_hours")?;
        add(&mut self.amount, o.amount, "chargeable_amount")?;
        for b in 0..4 {
            add(&mut self.ages[b], o.ages[b], "age")?;
        }
        Ok(())
    }
}

/// Unbilled work by contract.
pub type Groups = BTreeMap<Option<i64>, Unbilled>;

/// The footer key of a file's unbilled work.
pub const FOOTER: &str = "halo-billing.unbilled.v1";

/// The stored columns the fold reads (and `datetime`).
pub const COLUMNS: [&str; 6] = [
    col::CONTRACT_ID,
    col::CONTRACT_REF,
    col::INVOICE_NUMBER,
    col::INVOICE_ID,
    CHARGE_H,
    CHARGE_A,
];

/// The age of an action at `t`: 0 from `limits[0]` on, 1 from `limits[1]`, 2 from
/// `limits[2]`, else 3.
pub fn age(t: i64, limits: &[i64; 3]) -> usize {
    limits.iter().position(|l| t >= *l).unwrap_or(3)
}

/// Adds a frame's unbilled rows to the groups, each amount in its [`age`].
pub fn fold(groups: &mut Groups, df: &DataFrame, limits: &[i64; 3]) -> Result<(), FoldError> {
    // Figures borrowed; keys and texts read only for the rows that count.
    let (cid, cref) = (
        base::int_col(df, col::CONTRACT_ID)?,
        base::text_col(df, col::CONTRACT_REF)?,
    );
    let (inum, iid) = (
        base::text_col(df, col::INVOICE_NUMBER)?,
        base::int_col(df, col::INVOICE_ID)?,
    );
    let (h, a) = (base::units(df, CHARGE_H)?, base::units(df, CHARGE_A)?);
    let dt = base::datetime_col(df)?;
    for i in 0..df.height() {
        if (h[i] <= 0 && a[i] <= 0) || invoiced(inum.get(i), iid.get(i)) {
            continue;
        }
        let Some(t) = dt.get(i) else { continue };
        let g = groups.entry(cid.get(i)).or_default();
        count(&mut g.refs, cref.get(i));
        g.actions += 1;
        g.oldest = Some(g.oldest.map_or(t, |o| o.min(t)));
        g.newest = Some(g.newest.map_or(t, |o| o.max(t)));
        add(&mut g.hours, h[i], "chargeable_hours")?;
        add(&mut g.amount, a[i], "chargeable_amount")?;
        add(&mut g.ages[age(t, limits)], a[i], "age")?;
    }
    Ok(())
}

/// A footer's state: the groups as a list.
pub type Listed = Vec<(Option<i64>, Unbilled)>;

/// The footer entry of a partition frame's unbilled work: every amount in the first age.
pub fn footer(df: &DataFrame) -> Result<(String, String), FoldError> {
    let mut groups = Groups::new();
    fold(&mut groups, df, &[i64::MIN; 3])?;
    let list: Listed = groups.into_iter().collect();
    Ok(summary::encode(FOOTER, df.height(), &list))
}
