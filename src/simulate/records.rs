//! The simulator's billing records, made from the actions it serves so that they agree
//! with them: every contract the actions name (and one inactive contract no action
//! names), prepay purchases for the block contracts, and one invoice per contract and
//! month that the actions' `invoice_id`/`actioninvoicenumber` name, with one labour line
//! per ticket (the sum of its actions' `actionchargeamount`) and, on contract invoices,
//! a fixed-fee line without a ticket.
//!
//! Halo's quirks are served: `-1` links, `1899-12-30T00:00:00` for no date, an
//! unrounded `tax_total`, `net_total` holding the gross, a quoted `invoice_id` on prepay
//! rows, and one recurring-invoice template a month with a negative id.
//!
//! **Seeded discrepancies** (what `report audit` must find, and nothing else). In each
//! month, of its invoices in id order:
//! - the 1st has its first labour line raised by 12.50 (`lines-differ`, +12.50);
//! - the 2nd is voided while its actions still name it (`voided`);
//! - the 3rd is not served at all (`missing`).
//!
//! With `--invoice-unbilled`, the last month's chargeable work not yet invoiced is
//! served as invoiced since ([`invoiced_since`]), on one new invoice per contract
//! (`INV-YYYYMM-L` and the contract id, id = the month's id + 500): work an export of
//! ours may have billed already (`exported-and-invoiced`). These come after the month's
//! first three invoices, which keep their seeded discrepancies.
//!
//! And on prepay: the first block contract's `contract_prepaybalance` is 1.5 h above its
//! purchases minus its draws (Halo did not count a draw: a tenant setting such as
//! pay-as-you-go when prepay runs out).

use crate::generate::Dataset;
use crate::model::Action;
use chrono::{Datelike, NaiveDate};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// What the record endpoints serve.
#[derive(Debug, Default)]
pub struct Billing {
    /// `(active, record)`.
    pub contracts: Vec<(bool, String)>,
    /// Prepay rows.
    pub prepay: Vec<String>,
    /// `(invoice date as a calendar day, record without lines, record with lines)`.
    pub invoices: Vec<(NaiveDate, String, String)>,
}

const CLIENTS: [&str; 8] = [
    "Acme Dental",
    "Borealis Logistics",
    "Cobalt & Sons",
    "Delta Architects",
    "Ember Bakery",
    "Fjord Legal LLP",
    "Granite Clinics",
    "Harbour Café",
];

/// The customer of contract number `i` (two contracts a customer).
pub fn client_of(i: usize) -> (i64, String) {
    let c = i / 2;
    let name = if c < CLIENTS.len() {
        CLIENTS[c].to_string()
    } else {
        format!("{} {}", CLIENTS[c % CLIENTS.len()], c / CLIENTS.len() + 1)
    };
    (1 + c as i64, name)
}

fn money(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    format!("{sign}{}.{:02}", cents.abs() / 100, cents.abs() % 100)
}

fn hours(ms: i64) -> String {
    crate::exact::format_fixed(ms, crate::exact::MS_PER_HOUR, 4)
}

/// Hours to 9 decimals, as Halo's unrounded balances arrive (an import's rounding to the
/// millisecond gives back `ms`).
fn long_hours(ms: i64) -> String {
    crate::exact::format_fixed(ms, crate::exact::MS_PER_HOUR, 9)
}

fn text(s: &str) -> String {
    serde_json::to_string(s).expect("a string")
}

fn day(d: NaiveDate) -> String {
    format!("{}T00:00:00", d.format("%Y-%m-%d"))
}

fn last_day(y: i32, m: u32) -> NaiveDate {
    let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    NaiveDate::from_ymd_opt(ny, nm, 1).expect("a month") - chrono::Days::new(1)
}

/// Whether contract number `i` is a prepaid block (its references end in `BLK`).
fn is_block(i: usize) -> bool {
    i % 4 == 1
}

/// Builds the records from the data set and the full records of the time entries served.
pub fn build<'a>(data: &Dataset, served: impl Iterator<Item = &'a str>) -> Billing {
    let contracts = data.contracts();
    let months = data.months();
    let index: BTreeMap<i64, usize> = contracts
        .iter()
        .enumerate()
        .map(|(i, c)| (c.0, i))
        .collect();
    // Per invoice id: number, contract, month, and per ticket (amount, hours).
    struct Inv {
        number: String,
        contract: Option<i64>,
        tickets: BTreeMap<i64, (i64, i64)>,
    }
    let mut invoices: BTreeMap<i64, Inv> = BTreeMap::new();
    // Per contract: prepay drawn (hours ms).
    let mut drawn: BTreeMap<i64, i64> = BTreeMap::new();
    for full in served {
        let parsed = crate::ingest::parse_document("simulator", full.as_bytes());
        let Some(a): Option<&Action> = parsed.actions.first() else {
            continue;
        };
        if let Some(c) = a.action_contract_id.filter(|c| *c > 0) {
            *drawn.entry(c).or_default() += a.actionprepayhours;
        }
        let Some(id) = a.invoice_id.filter(|i| *i > 0) else {
            continue;
        };
        let inv = invoices.entry(id).or_insert_with(|| Inv {
            number: a.actioninvoicenumber.clone().unwrap_or_default(),
            contract: a.action_contract_id.filter(|c| *c > 0),
            tickets: BTreeMap::new(),
        });
        let t = inv
            .tickets
            .entry(a.ticket_id.unwrap_or_default())
            .or_default();
        t.0 += a.actionchargeamount;
        t.1 += a.actionchargehours;
    }
    let mut out = Billing::default();
    let start = months
        .first()
        .map(|&(y, m)| NaiveDate::from_ymd_opt(y, m, 1).expect("a month"))
        .unwrap_or_default();
    let middle = months
        .get(months.len() / 2)
        .map(|&(y, m)| NaiveDate::from_ymd_opt(y, m, 1).expect("a month"))
        .unwrap_or(start);
    // Contracts, and prepay purchases for the block contracts.
    let mut block_no = 0;
    for (i, (id, reference, rate)) in contracts.iter().enumerate() {
        let (client_id, client) = client_of(i);
        let block = is_block(i);
        let used = drawn.get(id).copied().unwrap_or(0);
        let mut bought = 0i64;
        if block {
            // Whole hours: 1.5x what is drawn (ok), 1.1x (low), 0.8x (overdrawn).
            let per_ten = [15, 11, 8][block_no % 3];
            let mut purchases = vec![(
                start,
                (used * per_ten / 10).div_euclid(3_600_000) * 3_600_000,
            )];
            if block_no % 3 == 0 {
                purchases.push((middle, 10 * 3_600_000));
            }
            for (k, (date, ms)) in purchases.into_iter().enumerate() {
                bought += ms;
                let amount = ms / 36_000 * rate / 100;
                let pid = 1 + out.prepay.len();
                let mut r = String::new();
                let _ = write!(
                    r,
                    r#"{{"id":{pid},"client_id":{client_id},"client_name":{},"contract_id":{id},"date":"{}","description":{},"hours":{},"amount":{},"expirydate":"1899-12-30T00:00:00","expirychecked":false,"invoice_id":"{}","invoicedate":"{}"}}"#,
                    text(&client),
                    day(date),
                    text(&format!(
                        "Block of {} hours{}",
                        ms / 3_600_000,
                        if k > 0 { " (top-up)" } else { "" }
                    )),
                    hours(ms),
                    money(amount),
                    if k == 0 {
                        String::new()
                    } else {
                        format!("{}", 900_000 + pid)
                    },
                    if k == 0 {
                        "1899-12-30T00:00:00".to_string()
                    } else {
                        day(date)
                    },
                );
                out.prepay.push(r);
            }
            block_no += 1;
        }
        // Halo's balance: purchases minus draws; the first block's is 1.5 h off.
        let balance = bought - used + if block && block_no == 1 { 5_400_000 } else { 0 };
        let record = format!(
            r#"{{"id":{id},"ref":{},"refextra":"","client_id":{client_id},"client_name":{},"site_id":-1,"start_date":"{}","end_date":"1899-12-30T00:00:00","active":true,"expired":false,"contracttype_name":{},"billingperiod":1,"allowprepay":{block},"contract_prepayasamount":false,"contract_prepaytotal":{},"contract_prepayused":{},"contract_prepaybalance":{}}}"#,
            text(reference),
            text(&client),
            day(start),
            text(if block {
                "Prepaid block"
            } else {
                "Managed service"
            }),
            if block {
                long_hours(bought)
            } else {
                "0.0".into()
            },
            if block {
                long_hours(used)
            } else {
                "0.0".into()
            },
            if block {
                long_hours(balance)
            } else {
                "0.0".into()
            },
        );
        out.contracts.push((true, record));
    }
    // One contract no action names, inactive: served only with includeinactive=true.
    let old = contracts.iter().map(|c| c.0).max().unwrap_or(99) + 1;
    let (client_id, client) = client_of(0);
    out.contracts.push((
        false,
        format!(
            r#"{{"id":{old},"ref":"C-OLD-2019","client_id":{client_id},"client_name":{},"site_id":-1,"start_date":"2019-01-01T00:00:00","end_date":"2021-12-31T00:00:00","active":false,"expired":true,"contracttype_name":"Managed service","billingperiod":1,"allowprepay":false,"contract_prepayasamount":false,"contract_prepaytotal":0.0,"contract_prepayused":0.0,"contract_prepaybalance":0.0}}"#,
            text(&client)
        ),
    ));
    // Invoices, by month, with the seeded discrepancies.
    let mut by_month: BTreeMap<(i32, u32), Vec<(i64, &Inv)>> = BTreeMap::new();
    for (id, inv) in &invoices {
        // The id says the month: yy * 100000 + month * 1000 + contract.
        let (y, m) = (2000 + (id / 100_000) as i32, ((id / 1000) % 100) as u32);
        by_month.entry((y, m)).or_default().push((*id, inv));
    }
    let mut line_id = 0i64;
    for ((y, m), list) in by_month {
        let date = last_day(y, m);
        for (k, (id, inv)) in list.iter().enumerate() {
            if k == 2 {
                continue; // seeded: missing
            }
            let (client_id, client) = match inv.contract.and_then(|c| index.get(&c)) {
                Some(&i) => {
                    let (cid, n) = client_of(i);
                    (cid, n)
                }
                None => (-1, "Casual customers".to_string()),
            };
            let mut lines = Vec::new();
            let (mut net, mut tax) = (0i64, 0i64);
            for (t, (ti, (cents, ms))) in inv.tickets.iter().enumerate() {
                let mut amount = *cents;
                if k == 0 && t == 0 {
                    amount += 1250; // seeded: lines-differ
                }
                let line_tax = (amount * 2 + 5).div_euclid(10);
                net += amount;
                tax += line_tax;
                line_id += 1;
                lines.push(format!(
                    r#"{{"id":{line_id},"ihid":{id},"item_code":"LAB","item_shortdescription":"Labour, ticket {ti}","nominal_code":"4000","tax_code":"S","qty_order":{},"unit_price":{},"net_amount":{},"tax_amount":{},"tax_rate":20.0,"net_total":{},"ticket_id":{ti},"actioncode":-1,"lineactiondate":"1899-12-30T00:00:00","contract_id":{},"prepay_id":-1}}"#,
                    hours(*ms),
                    if *ms > 0 { money(amount * 3_600_000 / ms) } else { "0.0".into() },
                    money(amount),
                    money(line_tax),
                    money(amount + line_tax),
                    inv.contract.unwrap_or(-1),
                ));
            }
            if let Some(c) = inv.contract {
                line_id += 1;
                net += 25_000;
                tax += 5_000;
                lines.push(format!(
                    r#"{{"id":{line_id},"ihid":{id},"item_code":"FEE","item_shortdescription":"Monthly service fee","nominal_code":"4010","tax_code":"S","qty_order":1.0,"unit_price":250.0,"net_amount":250.0,"tax_amount":50.0,"tax_rate":20.0,"net_total":300.0,"ticket_id":-1,"actioncode":-1,"lineactiondate":"1899-12-30T00:00:00","contract_id":{c},"prepay_id":-1}}"#
                ));
            }
            let header = format!(
                r#"{{"id":{id},"invoicenumber":{},"thirdpartyinvoicenumber":"","client_id":{client_id},"client_name":{},"invoice_date":"{}","duedate":"{}","dateposted":"{}","last_modified":"{}","contract_id":{},"contract_ref":"","ticket_id":-1,"recurring_invoice_id":-1,"is_recurring_invoice":false,"total":{},"tax_total":{}6,"amountpaid":0.0,"amountdue":{},"currency_code":"GBP","posted":true,"paymentstatus":0,"voided":{},"creditlinkedtoinvoiceid":-1"#,
                text(&inv.number),
                text(&client),
                day(date),
                day(date + chrono::Days::new(30)),
                day(date),
                day(date),
                inv.contract.unwrap_or(-1),
                money(net + tax),
                money(tax),
                money(net + tax),
                k == 1, // seeded: voided
            );
            out.invoices.push((
                date,
                format!("{header}}}"),
                format!("{header},\"lines\":[{}]}}", lines.join(",")),
            ));
        }
        // The month's recurring-invoice template: a negative id, no ticket lines.
        let rid = -(i64::from(y % 100) * 100 + i64::from(m));
        let header = format!(
            r#"{{"id":{rid},"invoicenumber":"","client_id":-1,"client_name":"","invoice_date":"{}","duedate":"1899-12-30T00:00:00","contract_id":-1,"recurring_invoice_id":{},"is_recurring_invoice":true,"total":0.0,"tax_total":0.0,"posted":false,"voided":false"#,
            day(date),
            -rid
        );
        out.invoices.push((
            date,
            format!("{header}}}"),
            format!("{header},\"lines\":[]}}"),
        ));
    }
    out.invoices.sort_by_key(|(d, _, _)| *d);
    out
}

/// Whether calendar day `d` is within `start_date..=end_date` given as `YYYY-MM-DD...`
/// texts (both days included; open ends when absent or unreadable).
pub fn day_in(d: NaiveDate, from: Option<&str>, to: Option<&str>) -> bool {
    let parse = |s: &str| NaiveDate::parse_from_str(s.get(..10)?, "%Y-%m-%d").ok();
    from.and_then(parse).is_none_or(|f| d >= f)
        && to.and_then(parse).is_none_or(|t| d <= t)
        && d.year() > 0
}

/// The full record of an action of `(y, m)` as Halo serves it once its chargeable work,
/// not invoiced before, was invoiced since: unchanged when it was invoiced already or
/// has no chargeable work.
pub fn invoiced_since(full: &str, y: i32, m: u32) -> String {
    let parsed = crate::ingest::parse_document("simulator", full.as_bytes());
    let Some(a) = parsed.actions.first() else {
        return full.to_string();
    };
    let invoiced = a.invoice_id.is_some_and(|i| i > 0)
        || a.actioninvoicenumber
            .as_deref()
            .is_some_and(|n| !n.trim().is_empty());
    if invoiced || (a.actionchargehours <= 0 && a.actionchargeamount <= 0) {
        return full.to_string();
    }
    let cid = a.action_contract_id.filter(|c| *c > 0).unwrap_or(0);
    let id = i64::from(y % 100) * 100_000 + i64::from(m) * 1_000 + 500 + cid;
    let base = full.replace(r#","actioninvoicenumber":"","invoice_id":0"#, "");
    let body = base.strip_suffix('}').unwrap_or(&base);
    format!(r#"{body},"actioninvoicenumber":"INV-{y}{m:02}-L{cid:04}","invoice_id":{id}}}"#)
}
