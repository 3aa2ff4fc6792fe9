//! The month-end pack: unbilled work with its age, agents' billable share and rate, and
//! the drill-down to the actions behind any line. Each reads the columns it needs
//! through [`super::select`] (closed periods honoured as everywhere), sums exact integer
//! units with checked arithmetic, and rounds each shown figure once ([`crate::exact`]).

// Rows are read by index across several columns at once; an index loop reads clearest.
#![allow(clippy::needless_range_loop)]

use super::ReportError;
use super::select;
use super::sheet::{Cell, Sheet};
use super::totals;
use crate::aggregate::Overflow;
use crate::exact;
use crate::frame::col;
use crate::period::Period;
use crate::store::Store;
use polars::prelude::DataFrame;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

const CHARGE_H: &str = "actionchargehours_ms";
const CHARGE_A: &str = "actionchargeamount_cents";
const NONCHARGE_H: &str = "actionnonchargehours_ms";
const PREPAY_H: &str = "actionprepayhours_ms";
const PREPAY_A: &str = "actionprepayamount_cents";
const TIME: &str = "timetaken_ms";
const WHO: &str = "who";
const WHO_ID: &str = "who_agentid";
const NOTE: &str = "note";

/// Adds `b` to `a`, an overflow being an error naming `measure`.
pub(crate) fn add(a: &mut i64, b: i64, measure: &'static str) -> Result<(), ReportError> {
    *a = a.checked_add(b).ok_or(Overflow { measure })?;
    Ok(())
}

/// How many entries carry each value (names, references); Fx hashing, as a report counts
/// one value per row.
pub(crate) type Counts = rustc_hash::FxHashMap<String, u64>;

/// The value most entries carry (the greater on a tie), for names and references.
pub(crate) fn most_common(counts: &Counts) -> String {
    counts
        .iter()
        .max_by(|a, b| a.1.cmp(b.1).then(a.0.cmp(b.0)))
        .map(|(k, _)| k.clone())
        .unwrap_or_default()
}

/// Counts one more entry carrying `value` (none: not counted), copying it only the
/// first time it is seen.
pub(crate) fn count(counts: &mut Counts, value: Option<&str>) {
    let Some(v) = value else { return };
    match counts.get_mut(v) {
        Some(n) => *n += 1,
        None => {
            counts.insert(v.to_string(), 1);
        }
    }
}

/// Adds the counts of `b` to `a`.
pub(crate) fn merge_counts(a: &mut Counts, b: Counts) {
    for (k, n) in b {
        *a.entry(k).or_default() += n;
    }
}

fn num(v: Option<i64>) -> String {
    v.map(|x| x.to_string()).unwrap_or_default()
}

/// Whether an action has been invoiced: an invoice number, or an invoice id above zero.
pub(crate) fn invoiced(number: Option<&str>, id: Option<i64>) -> bool {
    number.is_some_and(|n| !n.trim().is_empty()) || id.is_some_and(|i| i > 0)
}

/// The local calendar date of `ns` in the period's zone.
fn local_date(period: &Period, ns: i64) -> chrono::NaiveDate {
    period.date_of(ns)
}

impl Unbilled {
    fn merge(&mut self, o: Unbilled) -> Result<(), ReportError> {
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

#[derive(Default, Serialize, Deserialize)]
struct Unbilled {
    refs: Counts,
    actions: i64,
    oldest: Option<i64>,
    newest: Option<i64>,
    hours: i64,
    amount: i64,
    ages: [i64; 4],
}

/// Unbilled work by contract.
type UnbilledGroups = BTreeMap<Option<i64>, Unbilled>;

/// The footer key of a file's unbilled work ([`super::totals`]).
const UNBILLED_FOOTER: &str = "halo-billing.unbilled.v1";

const UNBILLED_COLUMNS: [&str; 6] = [
    col::CONTRACT_ID,
    col::CONTRACT_REF,
    col::INVOICE_NUMBER,
    col::INVOICE_ID,
    CHARGE_H,
    CHARGE_A,
];

/// The age of an action at `t`: 0 from `limits[0]` on, 1 from `limits[1]`, 2 from
/// `limits[2]`, else 3.
fn age(t: i64, limits: &[i64; 3]) -> usize {
    limits.iter().position(|l| t >= *l).unwrap_or(3)
}

/// Adds a frame's unbilled rows to the groups, each amount in its [`age`].
fn fold_unbilled(
    groups: &mut UnbilledGroups,
    df: &DataFrame,
    limits: &[i64; 3],
) -> Result<(), ReportError> {
    // Figures borrowed; keys and texts read only for the rows that count.
    let (cid, cref) = (
        select::int_col(df, col::CONTRACT_ID)?,
        select::text_col(df, col::CONTRACT_REF)?,
    );
    let (inum, iid) = (
        select::text_col(df, col::INVOICE_NUMBER)?,
        select::int_col(df, col::INVOICE_ID)?,
    );
    let (h, a) = (select::units(df, CHARGE_H)?, select::units(df, CHARGE_A)?);
    let dt = select::datetime_col(df)?;
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

/// The footer entry of a partition frame's unbilled work: every amount in the first age.
pub(crate) fn unbilled_footer(df: &DataFrame) -> Result<(String, String), ReportError> {
    let mut groups = UnbilledGroups::new();
    fold_unbilled(&mut groups, df, &[i64::MIN; 3])?;
    let list: Vec<(Option<i64>, Unbilled)> = groups.into_iter().collect();
    Ok(totals::encode(UNBILLED_FOOTER, df.height(), &list))
}

/// `report unbilled`: chargeable work (chargeable hours or amount above zero) with no
/// invoice, per contract, with the amount by age: whole days from the action's local
/// date to the last day of the range (0-30, 31-60, 61-90, over 90), in the period's zone.
pub fn unbilled(store: &Store, period: &Period) -> Result<Sheet, ReportError> {
    let (parts, _) = select::parts(store, period)?;
    let last_day = local_date(period, period.to_ns - 1);
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
        &UNBILLED_COLUMNS,
        |groups: &mut UnbilledGroups, p| {
            // A file's summary puts all its amount in the first age; it applies when no
            // age limit falls inside the file's month, so all its rows share one age.
            let (mf, mt) = crate::store::month_bounds(p.file.month());
            if limits.iter().any(|l| mf < *l && *l < mt) {
                return Ok(false);
            }
            let Some(list) =
                totals::of_whole_part::<Vec<(Option<i64>, Unbilled)>>(store, p, UNBILLED_FOOTER)?
            else {
                return Ok(false);
            };
            let age = age(mf, &limits);
            for (k, mut u) in list {
                u.ages.swap(0, age);
                groups.entry(k).or_default().merge(u)?;
            }
            Ok(true)
        },
        |groups, df| fold_unbilled(groups, df, &limits),
    )?;
    let mut groups = UnbilledGroups::new();
    for state in states {
        for (k, u) in state {
            groups.entry(k).or_default().merge(u)?;
        }
    }
    let date = |ns: Option<i64>| {
        ns.map(|t| local_date(period, t).to_string())
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
        ("contract_id", Cell::Number),
        ("contract_ref", Cell::Text),
        ("actions", Cell::Number),
        ("oldest", Cell::Text),
        ("newest", Cell::Text),
        ("chargeable_hours", Cell::Number),
        ("chargeable_amount", Cell::Number),
        ("age_0_30_amount", Cell::Number),
        ("age_31_60_amount", Cell::Number),
        ("age_61_90_amount", Cell::Number),
        ("age_over_90_amount", Cell::Number),
        ("exported_amount", Cell::Number),
    ];
    Ok(Sheet {
        title: format!(
            "Unbilled chargeable work, {} ({}); ages in days to {last_day}",
            period.label,
            period.timezone.name()
        ),
        columns,
        rows,
        total: Some(t),
        notes: vec![
            format!("({})", exact::HOURS_NOTE),
            "(exported_amount: of chargeable_amount, what is already on an export in the register, `halo-billing exports`; the rest is left to bill)".into(),
        ],
    })
}

#[derive(Default, Serialize, Deserialize)]
struct Agent {
    names: Counts,
    actions: i64,
    time: i64,
    charge_h: i64,
    noncharge_h: i64,
    prepay_h: i64,
    charge_a: i64,
    prepay_a: i64,
}

impl Agent {
    fn cells(&self, id: String, name: String) -> Vec<String> {
        let billable_h = self.charge_h + self.prepay_h;
        let billable_a = self.charge_a + self.prepay_a;
        vec![
            id,
            name,
            self.actions.to_string(),
            exact::format_hours(self.time),
            exact::format_hours(self.charge_h),
            exact::format_hours(self.noncharge_h),
            exact::format_hours(self.prepay_h),
            exact::format_money(self.charge_a),
            exact::format_money(self.prepay_a),
            // Tenths of a percent, and cents per hour, each rounded once.
            if self.time > 0 {
                exact::format_fixed(exact::round_to(billable_h, self.time, 1000), 10, 1)
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

    fn merge(&mut self, o: &Agent) -> Result<(), ReportError> {
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
type AgentGroups = BTreeMap<Option<i64>, Agent>;

/// The footer key of a file's agents ([`super::totals`]).
const AGENTS_FOOTER: &str = "halo-billing.agents.v1";

const AGENT_COLUMNS: [&str; 8] = [
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
fn fold_agents(groups: &mut AgentGroups, df: &DataFrame) -> Result<(), ReportError> {
    let (id, who) = (select::ints(df, WHO_ID)?, select::texts(df, WHO)?);
    let m: Vec<std::borrow::Cow<[i64]>> =
        [TIME, CHARGE_H, NONCHARGE_H, PREPAY_H, CHARGE_A, PREPAY_A]
            .iter()
            .map(|c| select::units(df, c))
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
fn merge_agents(
    into: &mut AgentGroups,
    more: impl IntoIterator<Item = (Option<i64>, Agent)>,
) -> Result<(), ReportError> {
    for (k, a) in more {
        let g = into.entry(k).or_default();
        g.merge(&a)?;
        merge_counts(&mut g.names, a.names);
    }
    Ok(())
}

/// The footer entry of a partition frame's agents.
pub(crate) fn agents_footer(df: &DataFrame) -> Result<(String, String), ReportError> {
    let mut groups = AgentGroups::new();
    fold_agents(&mut groups, df)?;
    let list: Vec<(Option<i64>, Agent)> = groups.into_iter().collect();
    Ok(totals::encode(AGENTS_FOOTER, df.height(), &list))
}

/// `report agents`: per agent (`who_agentid`), hours and amounts, the billable share
/// ((chargeable + prepay hours) / time taken, percent with 1 decimal) and the effective
/// rate ((chargeable + prepay amount) / (chargeable + prepay hours), per hour), each
/// computed from the exact integer units and rounded once; empty when the divisor is 0.
pub fn agents(store: &Store, period: &Period) -> Result<Sheet, ReportError> {
    let (parts, _) = select::parts(store, period)?;
    let states = select::fold_parts(
        store,
        &parts,
        &AGENT_COLUMNS,
        |groups: &mut AgentGroups, p| {
            let Some(list) =
                totals::of_whole_part::<Vec<(Option<i64>, Agent)>>(store, p, AGENTS_FOOTER)?
            else {
                return Ok(false);
            };
            merge_agents(groups, list)?;
            Ok(true)
        },
        fold_agents,
    )?;
    let mut groups = AgentGroups::new();
    for state in states {
        merge_agents(&mut groups, state)?;
    }
    let mut total = Agent::default();
    let mut rows = Vec::new();
    for (id, g) in &groups {
        total.merge(g)?;
        rows.push(g.cells(num(*id), most_common(&g.names)));
    }
    let columns = vec![
        ("agent_id", Cell::Number),
        ("agent", Cell::Text),
        ("actions", Cell::Number),
        ("time_taken_hours", Cell::Number),
        ("chargeable_hours", Cell::Number),
        ("non_chargeable_hours", Cell::Number),
        ("prepay_hours", Cell::Number),
        ("chargeable_amount", Cell::Number),
        ("prepay_amount", Cell::Number),
        ("billable_percent", Cell::Number),
        ("effective_rate", Cell::Number),
    ];
    Ok(Sheet {
        title: format!("Agents, {} ({})", period.label, period.timezone.name()),
        columns,
        rows,
        total: Some(total.cells(String::new(), String::new())),
        notes: vec![format!(
            "({}; billable_percent and effective_rate are computed from exact totals and rounded once)",
            exact::HOURS_NOTE
        )],
    })
}

/// One listed action: datetime, ticket, id, the text cells (agent id and name, contract
/// id and reference, invoice number and id, note's first line), the measures.
type Listed = (i64, i64, i64, Vec<String>, [i64; 10]);

/// Which actions `report actions` lists: every filter given must hold.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// `Some(None)`: actions without a contract.
    pub contract: Option<Option<i64>>,
    /// `Some(None)`: actions not invoiced (by number).
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
    let (parts, _) = select::parts(store, period)?;
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
            Some(Some(n)) => Some(c(col::INVOICE_NUMBER).eq(lit(n.as_str()))),
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
            select::int_col(df, col::TICKET_ID)?,
            select::int_col(df, col::ID)?,
        );
        let (aid, who) = (select::int_col(df, WHO_ID)?, select::text_col(df, WHO)?);
        let (cid, cref) = (
            select::int_col(df, col::CONTRACT_ID)?,
            select::text_col(df, col::CONTRACT_REF)?,
        );
        let (inum, iid) = (
            select::text_col(df, col::INVOICE_NUMBER)?,
            select::int_col(df, col::INVOICE_ID)?,
        );
        let note = select::text_col(df, NOTE)?;
        let m: Vec<std::borrow::Cow<[i64]>> = col::MEASURES
            .iter()
            .map(|c| select::units(df, c))
            .collect::<Result<_, _>>()?;
        let dt = select::datetime_col(df)?;
        for i in 0..df.height() {
            let contract = cid.get(i);
            if filter.contract.is_some_and(|c| c != contract)
                || filter.agent.is_some_and(|a| a != aid.get(i))
            {
                continue;
            }
            let inv = inum.get(i).filter(|n| !n.trim().is_empty());
            let keep = filter.invoice.as_ref().is_none_or(|n| n.as_deref() == inv)
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
            return v.to_string();
        }
        match crate::aggregate::MEASURE_NAMES[k] {
            "mileage" => exact::format_mileage(v),
            n if n.ends_with("_hours") => exact::format_hours(v),
            _ => exact::format_money(v),
        }
    };
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
            crate::model::datetime::format_datetime(dt),
        ]);
        r.append(&mut keys);
        r.extend((0..10).map(|k| show(k, m[k])));
        r.push(note);
        rows.push(r);
    }
    let mut t = vec![String::new(); 9];
    t.extend((0..10).map(|k| show(k, total[k])));
    t.push(format!("{} actions", rows.len()));
    let mut columns: Vec<(&'static str, Cell)> = vec![
        ("ticket_id", Cell::Number),
        ("id", Cell::Number),
        ("datetime", Cell::Text),
        ("agent_id", Cell::Number),
        ("agent", Cell::Text),
        ("contract_id", Cell::Number),
        ("contract_ref", Cell::Text),
        ("invoice_number", Cell::Text),
        ("invoice_id", Cell::Number),
    ];
    let names: [&'static str; 10] = if raw {
        col::MEASURES
    } else {
        crate::aggregate::MEASURE_NAMES
    };
    columns.extend(names.iter().map(|n| (*n, Cell::Number)));
    columns.push(("note", Cell::Text));
    Ok(Sheet {
        title: format!(
            "Actions, {} ({}), {} listed",
            period.label,
            period.timezone.name(),
            rows.len()
        ),
        columns,
        rows,
        total: Some(t),
        notes: if raw {
            vec!["(figures in their integer units: hours in ms, money in cents, mileage in 1/10,000)".into()]
        } else {
            vec![format!("({})", exact::HOURS_NOTE)]
        },
    })
}

/// Why an action may leak revenue (in the order reports list them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Reason {
    /// Marked billable, time taken, but neither chargeable nor prepay hours.
    BillableNotCharged,
    /// Chargeable hours but no chargeable amount.
    ChargedHoursWithoutAmount,
}

impl Reason {
    fn as_str(self) -> &'static str {
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
type Leak = (
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

/// The footer key of a file's leakage rows ([`super::totals`]).
const LEAKAGE_FOOTER: &str = "halo-billing.leakage.v1";

/// A file with more actions found than this keeps no leakage summary (its rows are read).
pub(crate) const LEAKAGE_FOOTER_ROWS: usize = 4096;

const LEAKAGE_COLUMNS: [&str; 12] = [
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
fn fold_leakage(found: &mut Vec<Leak>, df: &DataFrame) -> Result<(), ReportError> {
    // The reason from borrowed figures; everything else only for the rows found.
    let billable = select::flag_col(df, "actisbillable")?;
    let m: Vec<std::borrow::Cow<[i64]>> = [TIME, CHARGE_H, CHARGE_A, PREPAY_H, PREPAY_A]
        .iter()
        .map(|c| select::units(df, c))
        .collect::<Result<_, _>>()?;
    let (t, id) = (
        select::int_col(df, col::TICKET_ID)?,
        select::int_col(df, col::ID)?,
    );
    let (aid, who) = (select::int_col(df, WHO_ID)?, select::text_col(df, WHO)?);
    let cid = select::int_col(df, col::CONTRACT_ID)?;
    let cref = select::text_col(df, col::CONTRACT_REF)?;
    let dt = select::datetime_col(df)?;
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
/// [`LEAKAGE_FOOTER_ROWS`].
pub(crate) fn leakage_footer(df: &DataFrame) -> Result<Option<(String, String)>, ReportError> {
    let mut found = Vec::new();
    fold_leakage(&mut found, df)?;
    Ok((found.len() <= LEAKAGE_FOOTER_ROWS)
        .then(|| totals::encode(LEAKAGE_FOOTER, df.height(), &found)))
}

/// `report leakage`: actions that may leak revenue, one row each with the reason
/// (`charged_hours_without_amount`: chargeable hours but no chargeable amount;
/// `billable_not_charged`: marked billable, time taken, but neither chargeable nor
/// prepay hours); `by_contract` gives counts and hours per contract and reason.
pub fn leakage(store: &Store, period: &Period, by_contract: bool) -> Result<Sheet, ReportError> {
    let (parts, _) = select::parts(store, period)?;
    let states = select::fold_parts(
        store,
        &parts,
        &LEAKAGE_COLUMNS,
        |found: &mut Vec<Leak>, p| {
            let Some(more) = totals::of_whole_part::<Vec<Leak>>(store, p, LEAKAGE_FOOTER)? else {
                return Ok(false);
            };
            found.extend(more);
            Ok(true)
        },
        fold_leakage,
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
        return Ok(Sheet {
            title,
            columns: vec![
                ("contract_id", Cell::Number),
                ("contract_ref", Cell::Text),
                ("reason", Cell::Text),
                ("actions", Cell::Number),
                ("time_taken_hours", Cell::Number),
                ("chargeable_hours", Cell::Number),
            ],
            rows,
            total: Some(vec![
                String::new(),
                String::new(),
                String::new(),
                total.0.to_string(),
                exact::format_hours(total.1),
                exact::format_hours(total.2),
            ]),
            notes,
        });
    }
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
                crate::model::datetime::format_datetime(f.0),
                num(f.3),
                f.4.clone(),
                num(f.5),
                f.6.clone(),
            ],
            &f.8,
            f.7.as_str(),
        ));
    }
    Ok(Sheet {
        title,
        columns: vec![
            ("ticket_id", Cell::Number),
            ("id", Cell::Number),
            ("datetime", Cell::Text),
            ("agent_id", Cell::Number),
            ("agent", Cell::Text),
            ("contract_id", Cell::Number),
            ("contract_ref", Cell::Text),
            ("time_taken_hours", Cell::Number),
            ("chargeable_hours", Cell::Number),
            ("chargeable_amount", Cell::Number),
            ("prepay_hours", Cell::Number),
            ("prepay_amount", Cell::Number),
            ("reason", Cell::Text),
        ],
        rows,
        total: Some(figure_row(vec![String::new(); 7], &sums, "")),
        notes,
    })
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
