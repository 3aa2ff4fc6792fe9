//! Per agent (`who_agentid`): actions, hours and amounts. The fold of `report agents`.

use super::base::{self, Counts, FoldError, add, count, merge_counts};
use super::summary;
use crate::aggregate::Overflow;
use polars::prelude::DataFrame;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

const TIME: &str = "timetaken_ms";
const CHARGE_H: &str = "actionchargehours_ms";
const NONCHARGE_H: &str = "actionnonchargehours_ms";
const PREPAY_H: &str = "actionprepayhours_ms";
const CHARGE_A: &str = "actionchargeamount_cents";
const PREPAY_A: &str = "actionprepayamount_cents";
const WHO: &str = "who";
const WHO_ID: &str = "who_agentid";

/// One agent's figures (hours in ms, amounts in cents).
#[derive(Default, Serialize, Deserialize)]
pub struct Agent {
    /// The agent's names, counted.
    pub names: Counts,
    /// Actions.
    pub actions: i64,
    /// Time taken.
    pub time: i64,
    /// Chargeable hours.
    pub charge_h: i64,
    /// Non-chargeable hours.
    pub noncharge_h: i64,
    /// Prepay hours.
    pub prepay_h: i64,
    /// Chargeable amount.
    pub charge_a: i64,
    /// Prepay amount.
    pub prepay_a: i64,
}

impl Agent {
    /// Adds the figures of `o` (not its names).
    pub fn merge(&mut self, o: &Agent) -> Result<(), Overflow> {
        self.actions += o.actions;
        add(&mut self.time, o.time, "time_taken_hours")?;
        add(&mut self.charge_h, o.charge_h, "chargeable_hours")?;
        add(&mut self.noncharge_h, o.noncharge_h, "non_chargeable_hours")?;
        add(&mut self.prepay_h, o.prepay_h, "prepay_hours")?;
        add(&mut self.charge_a, o.charge_a, "chargeable_amount")?;
        add(&mut self.prepay_a, o.prepay_a, "prepay_amount")
    }
}

/// The agents of some rows, by `who_agentid`.
pub type Groups = BTreeMap<Option<i64>, Agent>;

/// A footer's state: the groups as a list.
pub type Listed = Vec<(Option<i64>, Agent)>;

/// The footer key of a file's agents.
pub const FOOTER: &str = "halo-billing.agents.v1";

/// The stored columns the fold reads.
pub const COLUMNS: [&str; 8] = [
    WHO_ID,
    WHO,
    TIME,
    CHARGE_H,
    NONCHARGE_H,
    PREPAY_H,
    CHARGE_A,
    PREPAY_A,
];

/// Adds a frame's rows to the agents' groups.
pub fn fold(groups: &mut Groups, df: &DataFrame) -> Result<(), FoldError> {
    let (id, who) = (base::ints(df, WHO_ID)?, base::texts(df, WHO)?);
    let m: Vec<std::borrow::Cow<[i64]>> =
        [TIME, CHARGE_H, NONCHARGE_H, PREPAY_H, CHARGE_A, PREPAY_A]
            .iter()
            .map(|c| base::units(df, c))
            .collect::<Result<_, _>>()?;
    for i in 0..df.height() {
        let one = Agent {
            actions: 1,
            time: m[0][i],
            charge_h: m[1][i],
            noncharge_h: m[2][i],
            prepay_h: m[3][i],
            charge_a: m[4][i],
            prepay_a: m[5][i],
            ..Default::default()
        };
        let g = groups.entry(id[i]).or_default();
        count(&mut g.names, who[i]);
        g.merge(&one)?;
    }
    Ok(())
}

/// Adds agents' groups (another thread's, or a file's footer) into `into`.
pub fn merge(
    into: &mut Groups,
    more: impl IntoIterator<Item = (Option<i64>, Agent)>,
) -> Result<(), Overflow> {
    for (k, a) in more {
        let g = into.entry(k).or_default();
        g.merge(&a)?;
        merge_counts(&mut g.names, a.names);
    }
    Ok(())
}

/// The footer entry of a partition frame's agents.
pub fn footer(df: &DataFrame) -> Result<(String, String), FoldError> {
    let mut groups = Groups::new();
    fold(&mut groups, df)?;
    let list: Listed = groups.into_iter().collect();
    Ok(summary::encode(FOOTER, df.height(), &list))
}
