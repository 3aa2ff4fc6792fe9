//! Chargeable work per contract and charge rate: the fold of the built-in report
//! `charge-rates`, exactly as `queries/charge-rates.sql` says (see
//! [`crate::report::rates`] for the rules in words).

use super::base::{self, FoldError, add};
use super::summary;
use crate::aggregate::Overflow;
use crate::frame::col;
use polars::prelude::*;
use rustc_hash::FxHashMap;

/// The footer key of a file's charge-rate groups.
pub const FOOTER: &str = "halo-billing.charge-rates.v1";

/// The charge-rate column.
pub const CHARGE_RATE: &str = "chargerate";
/// Chargeable hours (ms).
pub const CHARGE_H: &str = "actionchargehours_ms";
/// Chargeable amount (cents).
pub const CHARGE_A: &str = "actionchargeamount_cents";

/// The stored columns the fold reads.
pub const COLUMNS: [&str; 7] = [
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
pub struct Rate {
    /// The greatest reference of the group's rows (none: no row had one).
    pub contract_ref: Option<String>,
    /// Actions.
    pub actions: i64,
    /// Chargeable hours (ms).
    pub hours: i64,
    /// Chargeable amount (cents).
    pub amount: i64,
    /// Of the amount, invoiced.
    pub invoiced: i64,
    /// Of the amount, not invoiced.
    pub unbilled: i64,
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

    /// Adds `o`, keeping the greater reference.
    pub fn merge(&mut self, o: Rate) -> Result<(), Overflow> {
        self.see_ref(o.contract_ref.as_deref());
        add(&mut self.actions, o.actions, "actions")?;
        add(&mut self.hours, o.hours, "chargeable_hours")?;
        add(&mut self.amount, o.amount, "chargeable_amount")?;
        add(&mut self.invoiced, o.invoiced, "invoiced_amount")?;
        add(&mut self.unbilled, o.unbilled, "unbilled_amount")
    }
}

/// Groups by (contract, charge rate).
pub type Rates = FxHashMap<(Option<i64>, Option<i64>), Rate>;

/// A group as the footer holds it: `[contract, rate, reference, actions, [hours, amount,
/// invoiced, unbilled]]`.
pub type Entry = (Option<i64>, Option<i64>, Option<String>, i64, [i64; 4]);

/// Adds the rows of `df` to `groups`; with `contract`, only the rows of that contract id.
pub fn fold(groups: &mut Rates, df: &DataFrame, contract: Option<i64>) -> Result<(), FoldError> {
    let id = base::int_col(df, col::CONTRACT_ID)?;
    let rate = base::int_col(df, CHARGE_RATE)?;
    let hours = base::int_col(df, CHARGE_H)?;
    let amount = base::int_col(df, CHARGE_A)?;
    let invoice_id = base::int_col(df, col::INVOICE_ID)?;
    let refs = base::text_col(df, col::CONTRACT_REF)?;
    let number = base::text_col(df, col::INVOICE_NUMBER)?;
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
pub fn merge(into: &mut Rates, more: Rates) -> Result<(), Overflow> {
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
pub fn footer(df: &DataFrame) -> Result<(String, String), FoldError> {
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
    Ok(summary::encode(FOOTER, df.height(), &list))
}

/// A footer's groups, those of `contract` only when given.
pub fn from_entries(list: Vec<Entry>, contract: Option<i64>) -> Rates {
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

#[cfg(test)]
mod tests {
    use super::*;

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
