//! Accounting exports: the period's figures as files Xero, QuickBooks Online and DATEV
//! import without edits, and a plain ledger CSV.
//!
//! Xero and QuickBooks get sales invoices for the chargeable work not yet invoiced (the
//! `unbilled` selection); DATEV gets revenue bookings for invoices already issued in Halo.
//! Everything is validated before a byte is written ([`validate`]), and every line is
//! priced so the target system's own arithmetic, round(Quantity x UnitAmount, 2), gives
//! exactly the amount we billed ([`price`]).

pub mod mapping;
pub mod plan;
pub mod write;

use crate::exact;
use crate::fold::base as pack;
use crate::period::Period;
use crate::report::ReportError;
use mapping::{DateFormat, Entry, InvoicePer, Lines, Mapping, UnitPrice};
use std::collections::{BTreeMap, HashMap, HashSet};

/// Marks a value the user still has to fill in (written by `--init-mapping`).
pub const PLACEHOLDER: &str = "FILL-IN";

/// Chargeable work of one contract and charge rate (exact integer units).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Work {
    /// Actions.
    pub actions: i64,
    /// Chargeable hours, milliseconds.
    pub hours_ms: i64,
    /// Chargeable amount, cents.
    pub amount_cents: i64,
}

impl Work {
    /// Adds another piece of work (checked).
    pub fn absorb(&mut self, o: &Work) -> Result<(), ReportError> {
        self.actions += o.actions;
        pack::add(&mut self.hours_ms, o.hours_ms, "chargeable_hours")?;
        Ok(pack::add(
            &mut self.amount_cents,
            o.amount_cents,
            "chargeable_amount",
        )?)
    }

    /// The sum of `parts`.
    fn total<'a>(parts: impl IntoIterator<Item = &'a Work>) -> Result<Work, ReportError> {
        let mut t = Work::default();
        for w in parts {
            t.absorb(w)?;
        }
        Ok(t)
    }

    fn add(&mut self, hours: i64, amount: i64) -> Result<(), ReportError> {
        self.actions += 1;
        pack::add(&mut self.hours_ms, hours, "chargeable_hours")?;
        Ok(pack::add(
            &mut self.amount_cents,
            amount,
            "chargeable_amount",
        )?)
    }
}

/// A contract's unbilled work.
#[derive(Debug, Clone, Default)]
pub struct ContractWork {
    /// The reference most of its actions carry.
    pub reference: String,
    /// Per charge rate (`None`: no rate).
    pub by_rate: BTreeMap<Option<i64>, Work>,
    /// Per charge rate and ticket: the work, and the rate it agrees on.
    pub by_ticket: BTreeMap<(Option<i64>, i64), (Work, RateFit)>,
}

impl ContractWork {
    /// Adds one action's new work (`hours_ms`, `amount_cents`) on `rate`, of `ticket`.
    pub fn add(
        &mut self,
        rate: Option<i64>,
        ticket: i64,
        hours_ms: i64,
        amount_cents: i64,
    ) -> Result<(), ReportError> {
        self.by_rate
            .entry(rate)
            .or_default()
            .add(hours_ms, amount_cents)?;
        let t = self.by_ticket.entry((rate, ticket)).or_default();
        t.0.add(hours_ms, amount_cents)?;
        t.1.take(hours_ms, amount_cents);
        Ok(())
    }

    /// The hourly rate the actions of charge rate `rate` agree on: what all its tickets'
    /// fits admit.
    pub fn fit(&self, rate: Option<i64>) -> RateFit {
        let mut fit = RateFit::default();
        for (_, (_, f)) in self.by_ticket.range((rate, i64::MIN)..=(rate, i64::MAX)) {
            fit.merge(f);
        }
        fit
    }
}

/// The hourly rates (whole cents an hour) that Halo's pricing of every action of a line
/// agrees with: an action of `h` hours and amount `a` admits the rates `r` with
/// round(h x r) = a, rounding half away from zero as the import does; a line's rate is
/// one all its actions admit. Work with a negative amount, or an amount without hours,
/// admits none.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RateFit {
    /// Some action was taken.
    seen: bool,
    /// No rate fits every action.
    mixed: bool,
    /// The rates every action admits, inclusive, in cents an hour.
    lo: i64,
    hi: i64,
}

impl RateFit {
    /// Takes one action's hours and amount.
    pub fn take(&mut self, hours_ms: i64, amount_cents: i64) {
        if self.mixed || (hours_ms == 0 && amount_cents == 0) {
            return;
        }
        if hours_ms <= 0 || amount_cents < 0 {
            self.mixed = true;
            return;
        }
        // a - 1/2 <= h x r / 3,600,000 < a + 1/2, in whole numbers.
        let (h, a) = (i128::from(hours_ms), i128::from(amount_cents));
        let lo = ((2 * a - 1) * 1_800_000).div_euclid(h)
            + i128::from(((2 * a - 1) * 1_800_000).rem_euclid(h) != 0);
        let lo = lo.max(0);
        let hi_excl = (2 * a + 1) * 1_800_000;
        let hi = hi_excl.div_euclid(h) - i128::from(hi_excl.rem_euclid(h) == 0);
        let (lo, hi) = (lo as i64, hi.min(i128::from(i64::MAX)) as i64);
        if lo > hi {
            // No whole-cent rate gives this amount for these hours.
            self.mixed = true;
            return;
        }
        self.merge(&RateFit {
            seen: true,
            mixed: false,
            lo,
            hi,
        });
    }

    /// What both fits admit.
    pub fn merge(&mut self, o: &RateFit) {
        if !o.seen || self.mixed {
            return;
        }
        if o.mixed {
            self.mixed = true;
            return;
        }
        if !self.seen {
            *self = *o;
            return;
        }
        self.lo = self.lo.max(o.lo);
        self.hi = self.hi.min(o.hi);
        if self.lo > self.hi {
            self.mixed = true;
        }
    }

    /// The rate of `w`'s work, in cents an hour: of the rates every action admits, the
    /// nearest to its amount over its hours; `None` when none fits them all.
    pub fn rate(&self, w: &Work) -> Option<i64> {
        if !self.seen || self.mixed || w.hours_ms <= 0 || self.lo > self.hi {
            return None;
        }
        let mean = (i128::from(w.amount_cents) * 3_600_000 + i128::from(w.hours_ms) / 2)
            .div_euclid(i128::from(w.hours_ms)) as i64;
        Some(mean.clamp(self.lo, self.hi))
    }
}

/// Revenue of one issued invoice in one posting month, per contract.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct IssuedKey {
    /// Posting month (local), `(year, month)`.
    pub month: (i32, u32),
    /// Halo's invoice number.
    pub invoice: String,
    /// The contract (`None`: none).
    pub contract: Option<i64>,
}

/// A line's quantity and unit amount, both in 1/10,000, and whether it fell back to
/// quantity 1 (the hours then go in the description).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Priced {
    /// Quantity, 1/10,000.
    pub quantity_e4: i64,
    /// Unit amount, 1/10,000 of the currency.
    pub unit_e4: i64,
    /// Quantity 1 because no hours-based pair rounds to the amount.
    pub fallback: bool,
}

/// What an accounting system makes of a line: round(Quantity x UnitAmount, 2) in cents,
/// or `None` when the exact product lies on a half cent (where systems that round half to
/// even and half away from zero disagree).
pub fn line_amount(quantity_e4: i64, unit_e4: i64) -> Option<i64> {
    // Quantity x UnitAmount in 1e-8 of the currency = 1e-6 cents.
    let p = quantity_e4 as i128 * unit_e4 as i128;
    let (q, r) = (p.div_euclid(1_000_000), p.rem_euclid(1_000_000));
    match r.cmp(&500_000) {
        std::cmp::Ordering::Less => Some(q as i64),
        std::cmp::Ordering::Greater => Some(q as i64 + 1),
        std::cmp::Ordering::Equal => None,
    }
}

/// Chooses a quantity (the hours, 4 decimals) and a unit amount (4 decimals) whose product,
/// rounded to the cent by any rounding rule, is exactly `amount_cents`; when the hours are
/// zero or no such unit amount exists (more than about 100 hours on one line), quantity 1
/// and the amount as the unit amount.
pub fn price(amount_cents: i64, hours_ms: i64) -> Priced {
    let q = exact::round_to(hours_ms, 3_600_000, 10_000);
    if q > 0 {
        let target = amount_cents as i128 * 1_000_000;
        let u0 = (target + q as i128 / 2).div_euclid(q as i128) as i64;
        for u in [u0, u0 - 1, u0 + 1] {
            if line_amount(q, u) == Some(amount_cents) {
                return Priced {
                    quantity_e4: q,
                    unit_e4: u,
                    fallback: false,
                };
            }
        }
    }
    Priced {
        quantity_e4: 10_000,
        unit_e4: amount_cents * 100,
        fallback: true,
    }
}

/// One invoice line.
#[derive(Debug, Clone)]
pub struct Line {
    /// The contract it bills.
    pub contract: Option<i64>,
    /// The contract's reference.
    pub contract_ref: String,
    /// The charge rate (per-charge-type lines).
    pub charge_rate: Option<i64>,
    /// Description (one line of text).
    pub description: String,
    /// The work behind it.
    pub work: Work,
    /// Quantity and unit amount.
    pub priced: Priced,
    /// Account code.
    pub account_code: String,
    /// Tax type / code.
    pub tax_type: String,
    /// Item code.
    pub item: String,
    /// QuickBooks US: taxable.
    pub taxable: bool,
}

/// What a sales document is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Document {
    /// An invoice (new work, or a correction that adds).
    Invoice,
    /// A credit note (a correction that takes away): its lines carry the credited
    /// amounts as positive figures, as Xero and QuickBooks import them.
    CreditNote,
}

impl Document {
    /// Its name in the register and the ledger: `invoice`, `credit_note`.
    pub fn name(self) -> &'static str {
        match self {
            Document::Invoice => "invoice",
            Document::CreditNote => "credit_note",
        }
    }
}

/// One sales invoice or credit note.
#[derive(Debug, Clone)]
pub struct Invoice {
    /// Its number (unique in the export and among the register's active documents).
    pub number: String,
    /// An invoice or a credit note.
    pub document: Document,
    /// For a correction: the number of the document it corrects.
    pub corrects: Option<String>,
    /// The customer.
    pub customer: String,
    /// E-mail.
    pub email: String,
    /// Reference.
    pub reference: String,
    /// Invoice date.
    pub date: chrono::NaiveDate,
    /// Due date.
    pub due: chrono::NaiveDate,
    /// Terms in days.
    pub terms_days: i64,
    /// Currency (empty: the organisation's).
    pub currency: String,
    /// How dates are written.
    pub date_format: DateFormat,
    /// QuickBooks tax columns.
    pub quickbooks_tax: mapping::QuickbooksTax,
    /// Its lines.
    pub lines: Vec<Line>,
}

impl Invoice {
    /// The exact total of its lines as written on it, cents (a credit note's positive).
    pub fn total_cents(&self) -> i64 {
        self.lines.iter().map(|l| l.work.amount_cents).sum()
    }

    /// What it adds to the billed amount: its total, negated for a credit note.
    pub fn signed_total_cents(&self) -> i64 {
        match self.document {
            Document::Invoice => self.total_cents(),
            Document::CreditNote => -self.total_cents(),
        }
    }
}

/// The export to write, and what was left out.
#[derive(Debug, Default)]
pub struct Invoices {
    /// The invoices, in number order.
    pub invoices: Vec<Invoice>,
    /// Work left out: chargeable work without a contract and no `[contracts.none]`
    /// (actions, amount in cents).
    pub left_out: Option<Work>,
}

/// Why nothing was written: every problem at once.
#[derive(Debug, thiserror::Error)]
#[error("the export was not written; fix the mapping `{mapping}`:\n  {}", problems.join("\n  "))]
pub struct Invalid {
    /// The mapping file.
    pub mapping: String,
    /// Each problem, one line.
    pub problems: Vec<String>,
}

/// Text for an accounting cell: each run of control characters (line breaks, tabs, ESC,
/// bidirectional overrides; with the spaces around it) becomes one space; leading and
/// trailing space goes.
pub fn one_line(s: &str) -> String {
    s.split(crate::report::safe::is_control)
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Whether a spreadsheet would run `text`, as written to a file (one line), as a
/// formula: it begins with `=`, `+`, `-` or `@` (a tab or carriage return, the other two
/// triggers, never survive [`one_line`]).
pub fn reads_as_formula(text: &str) -> bool {
    one_line(text).starts_with(['=', '+', '-', '@', '\t', '\r'])
}

/// The warnings for texts an import file carries verbatim that a spreadsheet would run
/// as a formula: one per field and contract (`target` names the file's system). Files
/// for an accounting system are read by it, not by a spreadsheet, and an apostrophe put
/// before such a text would reach the customer's invoice; whoever opens the file in a
/// spreadsheet first is told instead.
pub fn formula_texts(invoices: &[Invoice], target: &str) -> Vec<String> {
    let mut seen: std::collections::BTreeSet<(String, String, String)> = Default::default();
    for inv in invoices {
        let contract = inv
            .lines
            .first()
            .map(|l| mapping::key(l.contract))
            .unwrap_or_else(|| "none".into());
        for (field, value) in [
            ("customer", &inv.customer),
            ("e-mail", &inv.email),
            ("invoice number", &inv.number),
            ("reference", &inv.reference),
        ] {
            if reads_as_formula(value) {
                seen.insert((field.into(), contract.clone(), one_line(value)));
            }
        }
        for l in &inv.lines {
            for (field, value) in [
                ("line description", &l.description),
                ("item", &l.item),
                ("account code", &l.account_code),
                ("tax type", &l.tax_type),
            ] {
                if reads_as_formula(value) {
                    seen.insert((field.into(), mapping::key(l.contract), one_line(value)));
                }
            }
        }
    }
    seen.into_iter()
        .map(|(field, contract, value)| {
            formula_warning(target, &field, &format!("contract {contract}"), &value)
        })
        .collect()
}

/// The warnings of [`formula_texts`] for DATEV bookings (by Halo's invoice number).
pub fn formula_bookings(bookings: &[write::Booking]) -> Vec<String> {
    let mut seen: std::collections::BTreeSet<(String, String, String)> = Default::default();
    for b in bookings {
        for (field, value) in [
            ("Belegfeld 1 (invoice)", &b.invoice),
            ("Buchungstext", &b.text),
        ] {
            if reads_as_formula(value) {
                seen.insert((field.into(), b.invoice.clone(), one_line(value)));
            }
        }
    }
    seen.into_iter()
        .map(|(field, invoice, value)| {
            formula_warning("DATEV", &field, &format!("invoice {invoice}"), &value)
        })
        .collect()
}

fn formula_warning(target: &str, field: &str, whose: &str, value: &str) -> String {
    format!(
        "the {field} of {whose}, `{}`, begins like a spreadsheet formula: the {target} file carries it verbatim, as {target} reads it \
         (an apostrophe would show on the invoice); opened in a spreadsheet first, it would run as a formula: import it, do not open it",
        crate::report::safe::shown(value)
    )
}

/// The period as it appears in invoice numbers: `2026-10` for a month, else
/// `20261001-20261016` (first and last day).
pub fn period_token(period: &Period) -> String {
    if !period.label.contains("..") && period.label.len() == 7 {
        return period.label.clone();
    }
    let first = period.date_of(period.from_ns);
    let last = period.date_of(period.to_ns - 1);
    format!("{}-{}", first.format("%Y%m%d"), last.format("%Y%m%d"))
}

/// The invoice date of `rule` for `period`.
fn invoice_date(rule: &str, period: &Period) -> Result<chrono::NaiveDate, String> {
    match rule {
        "period-end" => Ok(period.date_of(period.to_ns - 1)),
        "period-start" => Ok(period.date_of(period.from_ns)),
        d => chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").map_err(|_| {
            format!("invoice_date `{d}` is not `period-end`, `period-start` or a date YYYY-MM-DD")
        }),
    }
}

/// Fills an invoice-number (or reference) scheme.
fn fill(
    scheme: &str,
    period: &str,
    contract: Option<i64>,
    reference: &str,
    customer: &str,
    seq: usize,
) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = scheme;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let Some(close) = rest[open..].find('}') else {
            return Err(format!("`{scheme}` has a `{{` without its `}}`"));
        };
        let name = &rest[open + 1..open + close];
        out.push_str(&match name {
            "period" => period.to_string(),
            "contract_id" => mapping::key(contract),
            "contract_ref" => reference.to_string(),
            "customer" => customer.to_string(),
            "seq" => format!("{seq:04}"),
            other => {
                return Err(format!(
                    "`{scheme}` names `{{{other}}}`; the placeholders are {{period}}, {{contract_id}}, {{contract_ref}}, {{customer}} and {{seq}}"
                ));
            }
        });
        rest = &rest[open + close + 1..];
    }
    out.push_str(rest);
    Ok(one_line(&out))
}

/// Which values a format requires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// Xero: customer, account code, tax type, terms.
    Xero,
    /// QuickBooks Online: customer, terms.
    Quickbooks,
    /// The plain ledger: customer.
    Ledger,
}

/// A value the format needs, or a problem naming the section and key.
fn need(value: &Option<String>, key: &str, section: &str, problems: &mut Vec<String>) -> String {
    match value.as_deref().map(str::trim) {
        Some(v) if !v.is_empty() && v != PLACEHOLDER => one_line(v),
        Some(v) if v == PLACEHOLDER => {
            problems.push(format!("[{section}] {key} is still {PLACEHOLDER}"));
            String::new()
        }
        _ => {
            problems.push(format!(
                "[{section}] has no {key} (and [defaults] gives none)"
            ));
            String::new()
        }
    }
}

/// The register's active sales documents, for numbering and for corrections.
#[derive(Debug, Default)]
pub struct Issued {
    /// Document numbers in use (never given again while their export stands).
    pub numbers: HashSet<String>,
    /// Each document's customer (a correction goes to whom the original went).
    pub customers: HashMap<String, String>,
}

impl Issued {
    /// The active sales documents of `register`.
    pub fn of(register: &crate::store::register::Register) -> Issued {
        let mut out = Issued::default();
        for e in &register.exports {
            if e.active() && e.ledger() == "sales" {
                for d in &e.documents {
                    out.numbers.insert(d.number.clone());
                    out.customers.insert(d.number.clone(), d.customer.clone());
                }
            }
        }
        out
    }
}

/// Problems said once, in the order found.
#[derive(Default)]
struct Problems {
    list: Vec<String>,
    seen: HashSet<String>,
}

impl Problems {
    fn push(&mut self, p: String) {
        if self.seen.insert(p.clone()) {
            self.list.push(p);
        }
    }
}

/// A value the format needs from `entry` (`pick`), or a problem naming the section that
/// gives it: the contract's own, or `[defaults]` (said once, however many contracts
/// inherit it).
fn need_from(
    map: &Mapping,
    contract: Option<i64>,
    entry: &Entry,
    key: &str,
    pick: impl Fn(&Entry) -> &Option<String>,
    problems: &mut Problems,
) -> String {
    let section = map.section_of(contract, |e| pick(e).is_some());
    let mut list = Vec::new();
    let v = need(pick(entry), key, &section, &mut list);
    for p in list {
        problems.push(p);
    }
    v
}

/// The first number from `base` (itself, then `-2`, `-3`, ...) that neither the register
/// nor this export uses.
fn free_number(base: &str, taken: &HashSet<String>, mine: &HashSet<String>) -> String {
    (1..)
        .map(|n| match n {
            1 => base.to_string(),
            n => format!("{base}-{n}"),
        })
        .find(|c| !taken.contains(c) && !mine.contains(c))
        .expect("a free number")
}

/// Builds the sales documents: invoices for the work never exported (one per contract
/// or customer), and for each corrected document an invoice (`{number}-C1`) or a credit
/// note (`{number}-CN1`) of the differences, addressed to the original's customer.
/// Everything is validated first: every unmapped contract and every missing required
/// value is listed at once; a problem in `[defaults]` once, at `[defaults]`.
pub fn invoices(
    sales: &plan::SalesPlan,
    issued: &Issued,
    map: &Mapping,
    mapping_name: &str,
    period: &Period,
    target: Target,
) -> Result<Invoices, Invalid> {
    let overflow = |e: ReportError| Invalid {
        mapping: mapping_name.to_string(),
        problems: vec![e.to_string()],
    };
    let mut problems = Problems::default();
    let mut out = Invoices::default();
    let token = period_token(period);
    // A mapped contract with new work, in contract order.
    struct Draft {
        contract: Option<i64>,
        reference: String,
        entry: Entry,
        customer: String,
    }
    let mut drafts: Vec<Draft> = Vec::new();
    let mut unmapped = Vec::new();
    let mut unmapped_contract = |cid: Option<i64>, reference: &str| {
        let shown = format!(
            "{}{}",
            mapping::key(cid),
            if reference.is_empty() {
                String::new()
            } else {
                format!(" ({reference})")
            }
        );
        if !unmapped.contains(&shown) {
            unmapped.push(shown);
        }
    };
    for (cid, work) in &sales.unbilled {
        let Some(entry) = map.resolve(*cid) else {
            if cid.is_none() {
                out.left_out = Some(Work::total(work.by_rate.values()).map_err(overflow)?);
            } else {
                unmapped_contract(*cid, &work.reference);
            }
            continue;
        };
        let customer = need_from(
            map,
            *cid,
            &entry,
            "customer",
            |e| &e.customer,
            &mut problems,
        );
        drafts.push(Draft {
            contract: *cid,
            reference: work.reference.clone(),
            entry,
            customer,
        });
    }
    // Group into invoices: per contract, or per customer where the entry says so.
    #[derive(PartialEq, Eq, PartialOrd, Ord)]
    enum Group {
        Contract(Option<i64>),
        Customer(String),
    }
    let mut groups: BTreeMap<Group, Vec<usize>> = BTreeMap::new();
    for (i, d) in drafts.iter().enumerate() {
        let key = match d.entry.invoice_per.unwrap_or(InvoicePer::Contract) {
            InvoicePer::Contract => Group::Contract(d.contract),
            InvoicePer::Customer => Group::Customer(d.customer.clone()),
        };
        groups.entry(key).or_default().push(i);
    }
    let mut mine: HashSet<String> = HashSet::new();
    let mut seen_numbers: HashMap<String, String> = HashMap::new();
    for (seq, members) in groups.values().enumerate() {
        let first = &drafts[members[0]];
        let e = &first.entry;
        let section = |has: fn(&Entry) -> bool| map.section_of(first.contract, has);
        let scheme = e
            .invoice_number
            .clone()
            .unwrap_or_else(|| "HB-{period}-{contract_id}".to_string());
        let base = match fill(
            &scheme,
            &token,
            first.contract,
            &first.reference,
            &first.customer,
            seq + 1,
        ) {
            Ok(n) => n,
            Err(m) => {
                problems.push(format!(
                    "[{}] invoice_number: {m}",
                    section(|e| e.invoice_number.is_some())
                ));
                continue;
            }
        };
        if base.is_empty() {
            problems.push(format!(
                "[{}] invoice_number gives an empty number",
                section(|e| e.invoice_number.is_some())
            ));
        }
        let here = format!("contracts.{}", mapping::key(first.contract));
        if let Some(other) = seen_numbers.insert(base.clone(), here.clone()) {
            problems.push(format!(
                "invoice number `{base}` is given twice ([{other}] and [{here}]); add {{contract_id}} or {{seq}} to invoice_number"
            ));
        }
        // A number an earlier export issued is taken: the next free one (`-2`, ...).
        let number = free_number(&base, &issued.numbers, &mine);
        mine.insert(number.clone());
        let Some((date, terms)) = dates(map, first.contract, e, (target, period), &mut problems)
        else {
            continue;
        };
        let reference = match &e.reference {
            Some(r) => fill(
                r,
                &token,
                first.contract,
                &first.reference,
                &first.customer,
                seq + 1,
            )
            .unwrap_or_else(|m| {
                problems.push(format!(
                    "[{}] reference: {m}",
                    section(|e| e.reference.is_some())
                ));
                String::new()
            }),
            None => one_line(&first.reference),
        };
        let mut inv = blank(
            number,
            Document::Invoice,
            None,
            &first.customer,
            e,
            reference,
            date,
            terms,
        );
        for &m in members {
            let d = &drafts[m];
            let work = &sales.unbilled[&d.contract];
            let cells: Vec<LineWork> = if d.entry.lines == Some(Lines::PerTicket) {
                work.by_ticket
                    .iter()
                    .map(|((r, t), (w, fit))| LineWork {
                        rate: *r,
                        ticket: Some(*t),
                        work: w.clone(),
                        fit: *fit,
                    })
                    .collect()
            } else {
                work.by_rate
                    .iter()
                    .map(|(r, w)| LineWork {
                        rate: *r,
                        ticket: None,
                        work: w.clone(),
                        fit: work.fit(*r),
                    })
                    .collect()
            };
            push_lines(
                &mut inv,
                LineSource {
                    map,
                    contract: d.contract,
                    reference: &d.reference,
                    entry: &d.entry,
                    target,
                    period,
                    note: None,
                },
                cells,
                &mut problems,
            );
        }
        out.invoices.push(inv);
    }
    // Corrections: one document per corrected document.
    for (orig, cells) in &sales.corrections {
        let mut by_contract: BTreeMap<Option<i64>, Vec<(Option<i64>, Work)>> = BTreeMap::new();
        for ((c, rate), w) in cells {
            by_contract.entry(*c).or_default().push((*rate, w.clone()));
        }
        let net: i64 = cells.values().map(|w| w.amount_cents).sum();
        let document = if net < 0 {
            Document::CreditNote
        } else {
            Document::Invoice
        };
        let first = *by_contract.keys().next().expect("a correction has a cell");
        let Some(e) = map.resolve(first) else {
            unmapped_contract(first, "");
            continue;
        };
        let suffix = if document == Document::CreditNote {
            "CN"
        } else {
            "C"
        };
        let number = (1..)
            .map(|n| format!("{orig}-{suffix}{n}"))
            .find(|c| !issued.numbers.contains(c) && !mine.contains(c))
            .expect("a free number");
        mine.insert(number.clone());
        let Some((date, terms)) = dates(map, first, &e, (target, period), &mut problems) else {
            continue;
        };
        let customer = issued.customers.get(orig).cloned().unwrap_or_else(|| {
            need_from(map, first, &e, "customer", |e| &e.customer, &mut problems)
        });
        let reference = format!("Correction to {orig}");
        let mut inv = blank(
            number,
            document,
            Some(orig.clone()),
            &customer,
            &e,
            reference,
            date,
            terms,
        );
        for (c, list) in by_contract {
            let Some(entry) = map.resolve(c) else {
                unmapped_contract(c, "");
                continue;
            };
            let cells = list
                .into_iter()
                .map(|(r, mut w)| {
                    if document == Document::CreditNote {
                        w.hours_ms = -w.hours_ms;
                        w.amount_cents = -w.amount_cents;
                    }
                    // A correction is priced as money (quantity 1): no rate.
                    LineWork {
                        rate: r,
                        ticket: None,
                        work: w,
                        fit: RateFit::default(),
                    }
                })
                .collect();
            push_lines(
                &mut inv,
                LineSource {
                    map,
                    contract: c,
                    reference: sales.refs.get(&c).map(String::as_str).unwrap_or_default(),
                    entry: &entry,
                    target,
                    period,
                    note: Some(orig),
                },
                cells,
                &mut problems,
            );
        }
        out.invoices.push(inv);
    }
    if !unmapped.is_empty() {
        problems.list.insert(
            0,
            format!(
                "{} contract(s) with unbilled work have no [contracts.ID] section: {} (`export --init-mapping FILE` writes one to fill in)",
                unmapped.len(),
                unmapped.join(", ")
            ),
        );
    }
    if !problems.list.is_empty() {
        return Err(Invalid {
            mapping: mapping_name.to_string(),
            problems: problems.list,
        });
    }
    out.invoices.sort_by(|a, b| a.number.cmp(&b.number));
    Ok(out)
}

/// A document's date and its terms in days, from `e` (of `contract`), or `None` (with the
/// problem noted, at the section that gives the value) when the date rule is wrong.
fn dates(
    map: &Mapping,
    contract: Option<i64>,
    e: &Entry,
    (target, period): (Target, &Period),
    problems: &mut Problems,
) -> Option<(chrono::NaiveDate, i64)> {
    let rule = e.invoice_date.as_deref().unwrap_or("period-end");
    let date = match invoice_date(rule, period) {
        Ok(d) => d,
        Err(m) => {
            let section = map.section_of(contract, |e| e.invoice_date.is_some());
            problems.push(format!("[{section}] {m}"));
            return None;
        }
    };
    let section = map.section_of(contract, |e| e.terms_days.is_some());
    Some((date, terms(target, e, &section, problems)))
}

/// The terms in days of `e` for `target` (the ledger needs none).
fn terms(target: Target, e: &Entry, section: &str, problems: &mut Problems) -> i64 {
    match (target, e.terms_days) {
        (_, Some(t)) if t >= 0 => t,
        (_, Some(t)) => {
            problems.push(format!("[{section}] terms_days {t} is below zero"));
            0
        }
        (Target::Ledger, None) => 0,
        (_, None) => {
            problems.push(format!(
                "[{section}] has no terms_days (and [defaults] gives none)"
            ));
            0
        }
    }
}

/// A document without lines.
#[allow(clippy::too_many_arguments)]
fn blank(
    number: String,
    document: Document,
    corrects: Option<String>,
    customer: &str,
    e: &Entry,
    reference: String,
    date: chrono::NaiveDate,
    terms: i64,
) -> Invoice {
    Invoice {
        number,
        document,
        corrects,
        customer: customer.to_string(),
        email: e.email.clone().map(|s| one_line(&s)).unwrap_or_default(),
        reference,
        date,
        due: date + chrono::Duration::days(terms),
        terms_days: terms,
        currency: e.currency.clone().map(|s| one_line(&s)).unwrap_or_default(),
        date_format: e.date_format.unwrap_or(DateFormat::Dmy),
        quickbooks_tax: e.quickbooks_tax.unwrap_or(mapping::QuickbooksTax::Vat),
        lines: Vec::new(),
    }
}

/// Where a document's lines come from: one contract's cells under its mapping entry.
struct LineSource<'a> {
    map: &'a Mapping,
    contract: Option<i64>,
    reference: &'a str,
    entry: &'a Entry,
    target: Target,
    period: &'a Period,
    /// For a correction: the document corrected (named in each description).
    note: Option<&'a str>,
}

/// One line's worth of work: its charge rate, its ticket (per-ticket lines), the work,
/// and the hourly rate its actions' pricing agrees on.
struct LineWork {
    rate: Option<i64>,
    ticket: Option<i64>,
    work: Work,
    fit: RateFit,
}

/// The line's quantity and unit price: the hours at the rate the actions agree on, when
/// there is one and the product rounds to a whole cent under every rule; the rest of the
/// amount (a few cents, either way) then goes on a rounding line. Else [`price`]: a
/// unit price (4 decimals) that reproduces the amount exactly.
fn price_at_rate(w: &Work, fit: &RateFit) -> (Priced, i64) {
    if let Some(rate) = fit.rate(w) {
        let q = exact::round_to(w.hours_ms, 3_600_000, 10_000);
        if q > 0
            && let Some(at_rate) = line_amount(q, rate * 100)
        {
            return (
                Priced {
                    quantity_e4: q,
                    unit_e4: rate * 100,
                    fallback: false,
                },
                w.amount_cents - at_rate,
            );
        }
    }
    (price(w.amount_cents, w.hours_ms), 0)
}

/// Adds one contract's lines (per charge rate, per ticket and rate, or one per contract)
/// to `inv`.
fn push_lines(
    inv: &mut Invoice,
    src: LineSource<'_>,
    cells: Vec<LineWork>,
    problems: &mut Problems,
) {
    let e = src.entry;
    let (account_code, tax_type) = match src.target {
        Target::Xero => (
            need_from(
                src.map,
                src.contract,
                e,
                "account_code",
                |e| &e.account_code,
                problems,
            ),
            need_from(
                src.map,
                src.contract,
                e,
                "tax_type",
                |e| &e.tax_type,
                problems,
            ),
        ),
        _ => (
            e.account_code
                .clone()
                .map(|s| one_line(&s))
                .unwrap_or_default(),
            e.tax_type.clone().map(|s| one_line(&s)).unwrap_or_default(),
        ),
    };
    let item = e.item.clone().map(|s| one_line(&s)).unwrap_or_default();
    let label = if src.reference.is_empty() {
        match src.contract {
            Some(c) => format!("Contract {c}"),
            None => "Work without a contract".to_string(),
        }
    } else {
        src.reference.to_string()
    };
    let per_contract = e.lines == Some(Lines::PerContract);
    let cells: Vec<LineWork> = if per_contract {
        let mut t = Work::default();
        let mut fit = RateFit::default();
        for c in &cells {
            t.actions += c.work.actions;
            t.hours_ms += c.work.hours_ms;
            t.amount_cents += c.work.amount_cents;
            fit.merge(&c.fit);
        }
        vec![LineWork {
            rate: None,
            ticket: None,
            work: t,
            fit,
        }]
    } else {
        cells
    };
    for LineWork {
        rate,
        ticket,
        work: mut w,
        fit,
    } in cells
    {
        // A correction is a difference of money: quantity 1 at the amount, with the
        // difference in hours in its description (a rate per hour of a difference would
        // read as nonsense on the customer's document).
        let (priced, rounding) = match src.note {
            Some(_) => (
                Priced {
                    quantity_e4: 10_000,
                    unit_e4: w.amount_cents * 100,
                    fallback: true,
                },
                0,
            ),
            None if e.unit_price == Some(UnitPrice::Exact) => {
                (price(w.amount_cents, w.hours_ms), 0)
            }
            None => price_at_rate(&w, &fit),
        };
        w.amount_cents -= rounding;
        let what = match (per_contract, rate) {
            (true, _) => "time".to_string(),
            (false, Some(r)) => src
                .map
                .charge_rates
                .get(&r.to_string())
                .cloned()
                .unwrap_or_else(|| format!("charge rate {r}")),
            (false, None) => "no charge rate".to_string(),
        };
        let what = match src.note {
            Some(orig) => format!("{what}, correction to {orig}"),
            None => what,
        };
        let hours = exact::format_hours(w.hours_ms);
        let label = match ticket {
            Some(t) => format!("{label}, ticket {t}"),
            None => label.clone(),
        };
        let description = if priced.fallback {
            format!("{label}: {what}, {hours} h, {}", src.period.label)
        } else {
            format!("{label}: {what}, {}", src.period.label)
        };
        let line = |description: String, work: Work, priced: Priced| Line {
            contract: src.contract,
            contract_ref: src.reference.to_string(),
            charge_rate: rate,
            description: one_line(&description),
            work,
            priced,
            account_code: account_code.clone(),
            tax_type: tax_type.clone(),
            item: item.clone(),
            taxable: e.taxable.unwrap_or(false),
        };
        let at = exact::format_money(priced.unit_e4 / 100);
        inv.lines.push(line(description, w, priced));
        if rounding != 0 {
            // What the hours at the rate do not reach (or pass), to the cent: the
            // invoice totals exactly what the actions billed.
            inv.lines.push(line(
                format!(
                    "{label}: rounding of {what} ({hours} h at {at} an hour), {}",
                    src.period.label
                ),
                Work {
                    actions: 0,
                    hours_ms: 0,
                    amount_cents: rounding,
                },
                Priced {
                    quantity_e4: 10_000,
                    unit_e4: rounding * 100,
                    fallback: false,
                },
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// round(h x r), half away from zero, for positive work: how Halo's amounts arrive
    /// once imported.
    fn halo_amount(hours_ms: i64, rate_cents: i64) -> i64 {
        let p = i128::from(hours_ms) * i128::from(rate_cents);
        ((2 * p + 3_600_000).div_euclid(7_200_000)) as i64
    }

    #[test]
    fn the_rate_found_prices_every_action_as_halo_did_and_mixed_rates_find_none() {
        let minutes = [5i64, 10, 15, 20, 30, 40, 45, 60, 90, 120, 180, 7, 13];
        for rate in (1..60_000).step_by(613) {
            for start in 0..minutes.len() {
                let mut fit = RateFit::default();
                let mut w = Work::default();
                for m in minutes.iter().cycle().skip(start).take(4) {
                    let h = m * 60_000;
                    let a = halo_amount(h, rate);
                    fit.take(h, a);
                    w.add(h, a).unwrap();
                }
                let r = fit.rate(&w).expect("one rate priced them all");
                for m in minutes.iter().cycle().skip(start).take(4) {
                    let h = m * 60_000;
                    assert_eq!(halo_amount(h, r), halo_amount(h, rate), "rate {rate}: {r}");
                }
            }
        }
        let mut fit = RateFit::default();
        let mut w = Work::default();
        for (h, a) in [(3_600_000, 10_000), (3_600_000, 15_000)] {
            fit.take(h, a);
            w.add(h, a).unwrap();
        }
        assert_eq!(
            fit.rate(&w),
            None,
            "100.00 and 150.00 an hour are not one rate"
        );
        let mut fit = RateFit::default();
        fit.take(0, 500);
        assert_eq!(
            fit.rate(&Work {
                actions: 1,
                hours_ms: 0,
                amount_cents: 500
            }),
            None
        );
    }

    #[test]
    fn every_priced_line_rounds_to_its_amount_or_falls_back_to_quantity_one() {
        // Amounts and hours of every shape up to 1,000 h: the pair always reproduces
        // the amount under any rounding rule (never a half cent).
        let mut fallbacks = 0;
        let mut n = 0;
        let mut x: u64 = 7;
        for _ in 0..200_000 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let amount = (x >> 33) as i64 % 5_000_000 - 100_000;
            let hours = (x >> 11) as i64 % 3_600_000_000;
            let p = price(amount, hours);
            assert_eq!(
                line_amount(p.quantity_e4, p.unit_e4),
                Some(amount),
                "{amount} cents, {hours} ms: {p:?}"
            );
            if p.fallback {
                fallbacks += 1;
                assert_eq!(p.quantity_e4, 10_000);
            } else {
                assert_eq!(p.quantity_e4, exact::round_to(hours, 3_600_000, 10_000));
            }
            n += 1;
        }
        // Hours-based pairs exist for lines under about 100 h; most lines are.
        assert!(fallbacks < n, "{fallbacks} of {n}");
        assert!(price(12345, 0).fallback, "no hours: quantity 1");
        // A line that needs the fallback: 150 h at an amount no 4-decimal rate reaches.
        assert!(price(1_500_002, 150 * 3_600_000 + 360).fallback);
    }

    #[test]
    fn a_half_cent_product_is_never_chosen() {
        // 1 x 1.005: exactly 100.5 cents.
        assert_eq!(line_amount(10_000, 10_050), None);
        assert_eq!(line_amount(10_000, 10_049), Some(100));
        assert_eq!(line_amount(10_000, 10_051), Some(101));
        assert_eq!(line_amount(15_000, -10_050), Some(-151)); // -1.5075 -> -1.51
    }

    #[test]
    fn invoice_number_schemes_fill_their_placeholders_and_refuse_unknown_ones() {
        assert_eq!(
            fill(
                "HB-{period}-{contract_id}",
                "2026-10",
                Some(101),
                "C-1",
                "ACME",
                1
            )
            .unwrap(),
            "HB-2026-10-101"
        );
        assert_eq!(
            fill("{customer}/{seq}", "2026-10", None, "", "ACME", 12).unwrap(),
            "ACME/0012"
        );
        assert!(
            fill("{nope}", "p", None, "", "", 1)
                .unwrap_err()
                .contains("{nope}")
        );
    }
}
