//! Halo's own billing records beside the actions: contracts (`GET /api/ClientContract`),
//! prepay purchases (`GET /api/ClientPrepay`) and invoices with their lines
//! (`GET /api/Invoice?includelines=true`), as `shared/halo-api/BILLING-RECORDS.md`
//! describes them.
//!
//! Each kind is a [`Spec`]: the JSON fields read, each with the column it becomes and
//! its kind. Numbers are read from their JSON text exactly and converted once to integer
//! units (money in cents, hours in ms, quantities and unrounded taxes in ten-thousandths),
//! as actions are ([`crate::exact`]); Halo's `-1` links and `1899-12-30` dates are read
//! as no value. A record that cannot be read is refused alone, with its place and
//! reason; its stored copy stays.
//!
//! The store keeps one table per kind (`records/<table>/part-gNNNNNN.parquet`), upserted
//! by key: a record replaces the stored one with its key, an invoice's lines replace all
//! its stored lines, and nothing is ever deleted because an answer lacked it.

use polars::prelude::*;
use std::collections::{BTreeMap, BTreeSet};

/// How a field is read and stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A whole number (ids, links, codes); `-1` and `0` links read as no value where
    /// the spec says so ([`Field::link`]). A quoted whole number is read too (Halo
    /// types some ids as strings).
    Id,
    /// Text; a number is kept as its JSON text.
    Text,
    /// `true`/`false` (or `1`/`0`).
    Flag,
    /// A date-time, UTC nanoseconds; Halo's "no date" values read as none.
    Date,
    /// Money in cents, rounded once, half away from zero.
    Money,
    /// Hours in milliseconds.
    Hours,
    /// A quantity, unit price or unrounded tax in ten-thousandths.
    Fine,
}

impl Kind {
    fn suffix(self) -> &'static str {
        match self {
            Kind::Money => "_cents",
            Kind::Hours => "_ms",
            Kind::Fine => "_e4",
            _ => "",
        }
    }
    fn dtype(self) -> DataType {
        match self {
            Kind::Text => DataType::String,
            Kind::Flag => DataType::Boolean,
            Kind::Date => DataType::Datetime(TimeUnit::Nanoseconds, None),
            _ => DataType::Int64,
        }
    }
}

/// One field of a record: its JSON name, how it is read, and whether `-1`/`0` mean "no
/// link".
#[derive(Debug, Clone, Copy)]
pub struct Field {
    /// As Halo spells it.
    pub json: &'static str,
    /// How it is read.
    pub kind: Kind,
    /// Whether `-1` and `0` mean "none" (Halo's unused links).
    pub link: bool,
}

const fn f(json: &'static str, kind: Kind) -> Field {
    Field {
        json,
        kind,
        link: false,
    }
}
const fn link(json: &'static str) -> Field {
    Field {
        json,
        kind: Kind::Id,
        link: true,
    }
}

/// The stored tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Table {
    /// `GET /api/ClientContract`.
    Contracts,
    /// `GET /api/ClientPrepay`.
    Prepay,
    /// `GET /api/Invoice` headers.
    Invoices,
    /// The invoices' `lines[]`.
    InvoiceLines,
}

impl Table {
    /// Every table, in the order they are written.
    pub const ALL: [Table; 4] = [
        Table::Contracts,
        Table::Prepay,
        Table::Invoices,
        Table::InvoiceLines,
    ];

    /// The folder (under `records/`) and the name in messages.
    pub fn name(self) -> &'static str {
        match self {
            Table::Contracts => "contracts",
            Table::Prepay => "prepay",
            Table::Invoices => "invoices",
            Table::InvoiceLines => "invoice_lines",
        }
    }

    /// The table a store path `records/<name>/...` belongs to.
    pub fn of_path(rel: &str) -> Option<Table> {
        let name = rel.strip_prefix("records/")?.split('/').next()?;
        Table::ALL.into_iter().find(|t| t.name() == name)
    }

    /// Its fields, in column order.
    pub fn fields(self) -> &'static [Field] {
        match self {
            Table::Contracts => CONTRACT_FIELDS,
            Table::Prepay => PREPAY_FIELDS,
            Table::Invoices => INVOICE_FIELDS,
            Table::InvoiceLines => LINE_FIELDS,
        }
    }

    /// The columns of its key.
    pub fn key(self) -> &'static [&'static str] {
        match self {
            Table::InvoiceLines => &["ihid", "id"],
            _ => &["id"],
        }
    }

    /// The column names, in order.
    pub fn columns(self) -> Vec<String> {
        self.fields().iter().map(column_name).collect()
    }

    /// Where column `name` is (a name this code uses: a panic is a typo here).
    pub fn at(self, name: &str) -> usize {
        self.fields()
            .iter()
            .position(|f| column_name(f) == name)
            .unwrap_or_else(|| panic!("table {} has no column {name}", self.name()))
    }
}

/// The column a field is stored as: its JSON name with the unit's suffix.
pub fn column_name(f: &Field) -> String {
    format!("{}{}", f.json, f.kind.suffix())
}

const CONTRACT_FIELDS: &[Field] = &[
    f("id", Kind::Id),
    f("ref", Kind::Text),
    f("refextra", Kind::Text),
    link("client_id"),
    f("client_name", Kind::Text),
    link("site_id"),
    f("start_date", Kind::Date),
    f("end_date", Kind::Date),
    f("active", Kind::Flag),
    f("expired", Kind::Flag),
    f("contracttype_name", Kind::Text),
    f("billingperiod", Kind::Id),
    f("allowprepay", Kind::Flag),
    f("contract_prepayasamount", Kind::Flag),
    // Halo's balance is hours or money as `contract_prepayasamount` says: kept both ways,
    // the reader takes the one that applies.
    f("contract_prepaybalance", Kind::Hours),
    f("contract_prepaybalance", Kind::Money),
    f("contract_prepaytotal", Kind::Hours),
    f("contract_prepaytotal", Kind::Money),
];

const PREPAY_FIELDS: &[Field] = &[
    f("id", Kind::Id),
    link("client_id"),
    f("client_name", Kind::Text),
    // Not in the rows recorded from a live tenant (the list can be filtered by it):
    // read when present; without it a purchase goes to its client's one prepay contract.
    link("contract_id"),
    f("date", Kind::Date),
    f("description", Kind::Text),
    f("hours", Kind::Hours),
    f("amount", Kind::Money),
    f("expirydate", Kind::Date),
    f("invoice_id", Kind::Text),
    f("invoicedate", Kind::Date),
];

const INVOICE_FIELDS: &[Field] = &[
    f("id", Kind::Id),
    f("invoicenumber", Kind::Text),
    f("thirdpartyinvoicenumber", Kind::Text),
    link("client_id"),
    f("client_name", Kind::Text),
    f("invoice_date", Kind::Date),
    f("duedate", Kind::Date),
    f("dateposted", Kind::Date),
    f("last_modified", Kind::Date),
    link("contract_id"),
    f("contract_ref", Kind::Text),
    link("ticket_id"),
    link("recurring_invoice_id"),
    f("total", Kind::Money),
    f("tax_total", Kind::Fine),
    f("amountpaid", Kind::Money),
    f("amountdue", Kind::Money),
    f("currency_code", Kind::Text),
    f("posted", Kind::Flag),
    f("paymentstatus", Kind::Id),
    f("voided", Kind::Flag),
    link("creditlinkedtoinvoiceid"),
];

const LINE_FIELDS: &[Field] = &[
    f("ihid", Kind::Id),
    f("id", Kind::Id),
    f("item_code", Kind::Text),
    f("item_shortdescription", Kind::Text),
    f("nominal_code", Kind::Text),
    f("tax_code", Kind::Text),
    f("qty_order", Kind::Fine),
    f("unit_price", Kind::Fine),
    f("net_amount", Kind::Money),
    f("tax_amount", Kind::Money),
    f("net_total", Kind::Money),
    link("ticket_id"),
    link("actioncode"),
    f("lineactiondate", Kind::Date),
    link("contract_id"),
    link("prepay_id"),
];

/// One cell: a whole number (ids, units, date-times), a text or a flag.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Cell {
    /// Ids, units, date-times (nanoseconds).
    Int(Option<i64>),
    /// Text.
    Text(Option<String>),
    /// Flags.
    Flag(Option<bool>),
}

impl Cell {
    /// The number, if this is one and set.
    pub fn int(&self) -> Option<i64> {
        match self {
            Cell::Int(v) => *v,
            _ => None,
        }
    }
    /// The text, empty when unset.
    pub fn text(&self) -> &str {
        match self {
            Cell::Text(Some(s)) => s,
            _ => "",
        }
    }
    /// The flag, if set.
    pub fn flag(&self) -> Option<bool> {
        match self {
            Cell::Flag(v) => *v,
            _ => None,
        }
    }
}

/// One record: its cells in the table's column order.
pub type Row = Vec<Cell>;

/// Rows of one table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rows {
    /// In input (or stored) order.
    pub rows: Vec<Row>,
}

/// Records read from one or more answers: rows per table, and the invoices whose lines
/// came with them (their stored lines are replaced).
#[derive(Debug, Clone, Default)]
pub struct Batch {
    /// Rows per table.
    pub tables: BTreeMap<Table, Vec<Row>>,
    /// Invoice ids whose `lines[]` arrived (possibly empty).
    pub invoices_with_lines: BTreeSet<i64>,
}

impl Batch {
    /// Whether nothing was read.
    pub fn is_empty(&self) -> bool {
        self.tables.values().all(Vec::is_empty) && self.invoices_with_lines.is_empty()
    }

    /// Adds `other`'s records after this batch's.
    pub fn extend(&mut self, other: Batch) {
        for (t, rows) in other.tables {
            self.tables.entry(t).or_default().extend(rows);
        }
        self.invoices_with_lines.extend(other.invoices_with_lines);
    }

    /// Records read per table.
    pub fn count(&self, t: Table) -> usize {
        self.tables.get(&t).map_or(0, Vec::len)
    }
}

fn key_of(t: Table, row: &Row) -> Vec<Cell> {
    t.key().iter().map(|k| row[t.at(k)].clone()).collect()
}

/// `stored` with `batch`'s rows of `t` upserted: a later row replaces an earlier one of
/// the same key, kept in the earlier one's place; for invoice lines, every stored line
/// of an invoice whose lines arrived is replaced by the lines that arrived. Nothing
/// else is removed. Also returns how many rows were new and how many replaced a
/// different stored row.
pub fn upsert(t: Table, stored: &[Row], batch: &Batch) -> (Vec<Row>, usize, usize) {
    let incoming = batch.tables.get(&t).map(Vec::as_slice).unwrap_or(&[]);
    let mut out: Vec<Row> = if t == Table::InvoiceLines {
        let ihid = t.at("ihid");
        stored
            .iter()
            .filter(|r| {
                r[ihid]
                    .int()
                    .is_none_or(|i| !batch.invoices_with_lines.contains(&i))
            })
            .cloned()
            .collect()
    } else {
        stored.to_vec()
    };
    let mut place: std::collections::HashMap<Vec<Cell>, usize> = out
        .iter()
        .enumerate()
        .map(|(i, r)| (key_of(t, r), i))
        .collect();
    let before: std::collections::HashMap<Vec<Cell>, &Row> =
        stored.iter().map(|r| (key_of(t, r), r)).collect();
    for r in incoming {
        let k = key_of(t, r);
        match place.get(&k) {
            Some(&i) => out[i] = r.clone(),
            None => {
                place.insert(k, out.len());
                out.push(r.clone());
            }
        }
    }
    let (mut new, mut changed) = (0, 0);
    for r in &out {
        match before.get(&key_of(t, r)) {
            None => new += 1,
            Some(old) if *old != r => changed += 1,
            Some(_) => {}
        }
    }
    (out, new, changed)
}

/// The rows of `t` as a polars frame (its columns in order).
pub fn to_frame(t: Table, rows: &[Row]) -> PolarsResult<DataFrame> {
    let cols = t
        .fields()
        .iter()
        .enumerate()
        .map(|(i, fd)| {
            let name: PlSmallStr = column_name(fd).into();
            match fd.kind {
                Kind::Text => StringChunked::from_iter_options(
                    name,
                    rows.iter().map(|r| match &r[i] {
                        Cell::Text(v) => v.as_deref(),
                        _ => None,
                    }),
                )
                .into_column(),
                Kind::Flag => {
                    BooleanChunked::from_iter_options(name, rows.iter().map(|r| r[i].flag()))
                        .into_column()
                }
                Kind::Date => {
                    Int64Chunked::from_iter_options(name, rows.iter().map(|r| r[i].int()))
                        .into_datetime(TimeUnit::Nanoseconds, None)
                        .into_column()
                }
                _ => Int64Chunked::from_iter_options(name, rows.iter().map(|r| r[i].int()))
                    .into_column(),
            }
        })
        .collect();
    DataFrame::new(rows.len(), cols)
}

/// The rows of a stored table's frame; a column missing or of another type is an error
/// naming it.
pub fn from_frame(t: Table, df: &DataFrame) -> Result<Vec<Row>, String> {
    let mut rows: Vec<Row> = vec![Vec::with_capacity(t.fields().len()); df.height()];
    for fd in t.fields() {
        let name = column_name(fd);
        let c = df
            .column(&name)
            .map_err(|_| format!("has no column `{name}`"))?;
        if c.dtype() != &fd.kind.dtype() {
            return Err(format!(
                "column `{name}` is {}, expected {}",
                c.dtype(),
                fd.kind.dtype()
            ));
        }
        let bad = |e: PolarsError| format!("column `{name}`: {e}");
        match fd.kind {
            Kind::Text => {
                for (r, v) in rows.iter_mut().zip(c.str().map_err(bad)?.iter()) {
                    r.push(Cell::Text(v.map(str::to_string)));
                }
            }
            Kind::Flag => {
                for (r, v) in rows.iter_mut().zip(c.bool().map_err(bad)?.iter()) {
                    r.push(Cell::Flag(v));
                }
            }
            Kind::Date => {
                for (r, v) in rows
                    .iter_mut()
                    .zip(c.datetime().map_err(bad)?.physical().iter())
                {
                    r.push(Cell::Int(v));
                }
            }
            _ => {
                for (r, v) in rows.iter_mut().zip(c.i64().map_err(bad)?.iter()) {
                    r.push(Cell::Int(v));
                }
            }
        }
    }
    Ok(rows)
}

/// The stored records a report reads: every table's rows.
#[derive(Debug, Clone, Default)]
pub struct Stored {
    /// Rows per table (a table the store does not hold is empty).
    pub tables: BTreeMap<Table, Vec<Row>>,
    /// When they were last committed (RFC 3339), if ever.
    pub committed_at: Option<String>,
}

impl Stored {
    /// The rows of `t`.
    pub fn rows(&self, t: Table) -> &[Row] {
        self.tables.get(&t).map(Vec::as_slice).unwrap_or(&[])
    }

    /// Whether the store holds any row of `t`.
    pub fn has(&self, t: Table) -> bool {
        !self.rows(t).is_empty()
    }

    /// Each contract's customer (`client_name`), where Halo gave one.
    pub fn customers(&self) -> BTreeMap<i64, String> {
        let t = Table::Contracts;
        let (id, name) = (t.at("id"), t.at("client_name"));
        self.rows(t)
            .iter()
            .filter_map(|r| {
                let n = r[name].text().trim();
                Some((r[id].int()?, n.to_string())).filter(|_| !n.is_empty())
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(t: Table, pairs: &[(&str, Cell)]) -> Row {
        let mut r: Row = t
            .fields()
            .iter()
            .map(|fd| match fd.kind {
                Kind::Text => Cell::Text(None),
                Kind::Flag => Cell::Flag(None),
                _ => Cell::Int(None),
            })
            .collect();
        for (k, v) in pairs {
            r[t.at(k)] = v.clone();
        }
        r
    }

    #[test]
    fn an_upsert_replaces_by_key_and_removes_only_the_lines_of_invoices_that_came_again() {
        let t = Table::InvoiceLines;
        let line = |ihid, id, cents| {
            row(
                t,
                &[
                    ("ihid", Cell::Int(Some(ihid))),
                    ("id", Cell::Int(Some(id))),
                    ("net_amount_cents", Cell::Int(Some(cents))),
                ],
            )
        };
        let stored = vec![line(1, 1, 100), line(1, 2, 200), line(2, 1, 300)];
        let mut batch = Batch::default();
        batch.invoices_with_lines.insert(1);
        batch.tables.insert(t, vec![line(1, 2, 250)]);
        let got = upsert(t, &stored, &batch);
        assert_eq!(got, (vec![line(2, 1, 300), line(1, 2, 250)], 0, 1));
        let c = Table::Contracts;
        let stored = vec![row(c, &[("id", Cell::Int(Some(7)))])];
        let empty = Batch::default();
        assert_eq!(
            upsert(c, &stored, &empty).0,
            stored,
            "an empty batch removes nothing"
        );
    }

    #[test]
    fn a_table_goes_through_a_frame_and_back_unchanged() {
        let t = Table::Contracts;
        let rows = vec![
            row(
                t,
                &[
                    ("id", Cell::Int(Some(101))),
                    ("client_name", Cell::Text(Some("Acme".into()))),
                    ("active", Cell::Flag(Some(true))),
                    ("start_date", Cell::Int(Some(1_700_000_000_000_000_000))),
                    ("contract_prepaybalance_cents", Cell::Int(Some(-250))),
                ],
            ),
            row(t, &[("id", Cell::Int(Some(102)))]),
        ];
        let df = to_frame(t, &rows).unwrap();
        assert_eq!(from_frame(t, &df).unwrap(), rows);
    }
}
