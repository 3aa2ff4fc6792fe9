//! The export files, built whole in memory (the caller writes them atomically, all or
//! none): Xero's and QuickBooks Online's invoice imports, the plain ledger, DATEV's EXTF
//! Buchungsstapel. Every text cell is one line and neutralised against formulas.

use super::mapping::{Mapping, QuickbooksTax};
use super::{Document, Invoice, Work};
use crate::exact;
use crate::period::Period;
use crate::report::safe;
use std::collections::BTreeMap;

/// Xero's limit of invoices per import file.
pub const XERO_MAX_INVOICES: usize = 500;

/// Xero's "Import invoices" header: 27 columns, asterisks included.
pub const XERO_HEADER: [&str; 27] = [
    "*ContactName",
    "EmailAddress",
    "POAddressLine1",
    "POAddressLine2",
    "POAddressLine3",
    "POAddressLine4",
    "POCity",
    "PORegion",
    "POPostalCode",
    "POCountry",
    "*InvoiceNumber",
    "Reference",
    "*InvoiceDate",
    "*DueDate",
    "InventoryItemCode",
    "*Description",
    "*Quantity",
    "*UnitAmount",
    "Discount",
    "*AccountCode",
    "*TaxType",
    "TrackingName1",
    "TrackingOption1",
    "TrackingName2",
    "TrackingOption2",
    "Currency",
    "BrandingTheme",
];

/// Xero's "Import credit notes" header: the invoice layout with `*CreditNoteNumber` and
/// `*CreditNoteDate` in place of the invoice's number and date (a credit note has no due
/// date: that column stays empty). Amounts are positive: Xero credits them.
pub fn xero_credit_note_header() -> [&'static str; 27] {
    let mut h = XERO_HEADER;
    h[10] = "*CreditNoteNumber";
    h[12] = "*CreditNoteDate";
    h[13] = "DueDate";
    h
}

/// QuickBooks Online's invoice import header, US sales tax.
pub const QUICKBOOKS_US_HEADER: [&str; 16] = [
    "InvoiceNo",
    "Customer",
    "InvoiceDate",
    "DueDate",
    "Terms",
    "Location",
    "Memo",
    "Item(Product/Service)",
    "ItemDescription",
    "ItemQuantity",
    "ItemRate",
    "ItemAmount",
    "Taxable",
    "TaxRate",
    "ServiceDate",
    "Currency",
];

/// QuickBooks Online's invoice import header, CA/UK/AU (VAT, GST).
pub const QUICKBOOKS_VAT_HEADER: [&str; 15] = [
    "InvoiceNo",
    "Customer",
    "InvoiceDate",
    "DueDate",
    "Terms",
    "Location",
    "Memo",
    "Item(Product/Service)",
    "ItemDescription",
    "ItemQuantity",
    "ItemRate",
    "ItemAmount",
    "ItemTaxCode",
    "ItemTaxAmount",
    "Currency",
];

/// The ledger's header (our own layout, documented in README.md).
pub const LEDGER_HEADER: [&str; 21] = [
    "invoice_number",
    "customer",
    "contract_id",
    "contract_ref",
    "invoice_date",
    "due_date",
    "currency",
    "line",
    "description",
    "charge_rate",
    "actions",
    "hours",
    "quantity",
    "unit_amount",
    "amount",
    "account_code",
    "tax_type",
    "item",
    "fallback",
    "document",
    "corrects",
];

/// A file to write: its name (beside the others) and its bytes.
#[derive(Debug, Clone)]
pub struct OutFile {
    /// File name.
    pub name: String,
    /// Content.
    pub bytes: Vec<u8>,
}

/// A text cell of a file for people (the ledger CSV): one line, safe to open in a
/// spreadsheet.
fn text(s: &str) -> String {
    safe::cell(&super::one_line(s)).into_owned()
}

/// A text cell of a file an accounting system imports (Xero, QuickBooks): one line,
/// verbatim. An apostrophe put before a formula-like text would reach the customer's
/// invoice; the export warns of such texts instead ([`super::formula_texts`]).
fn import_text(s: &str) -> String {
    super::one_line(s)
}

fn e4(v: i64) -> String {
    exact::format_fixed(v, 10_000, 4)
}

fn csv_bytes(header: &[&str], rows: &[Vec<String>]) -> Vec<u8> {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    w.write_record(header).expect("in memory");
    for r in rows {
        w.write_record(r).expect("in memory");
    }
    w.into_inner().expect("in memory")
}

/// Xero files: the invoices in `stem.csv` (or `stem-1.csv`, `stem-2.csv`, ... of at most
/// 500 invoices), and credit notes, if any, the same way in `stem-credit-notes.csv` for
/// Xero's credit note import.
pub fn xero(invoices: &[Invoice], stem: &str) -> Vec<OutFile> {
    let (credits, plain): (Vec<&Invoice>, Vec<&Invoice>) = invoices
        .iter()
        .partition(|i| i.document == Document::CreditNote);
    let mut files = xero_files(&plain, stem, &XERO_HEADER, false);
    if !credits.is_empty() {
        files.extend(xero_files(
            &credits,
            &format!("{stem}-credit-notes"),
            &xero_credit_note_header(),
            true,
        ));
    }
    files
}

fn xero_files(
    invoices: &[&Invoice],
    stem: &str,
    header: &[&str; 27],
    credit: bool,
) -> Vec<OutFile> {
    let chunks: Vec<&[&Invoice]> = if invoices.is_empty() {
        vec![&[]]
    } else {
        invoices.chunks(XERO_MAX_INVOICES).collect()
    };
    let many = chunks.len() > 1;
    chunks
        .iter()
        .enumerate()
        .map(|(k, chunk)| {
            let mut rows = Vec::new();
            for inv in *chunk {
                let date = |d| inv.date_format.show(d);
                for l in &inv.lines {
                    let mut r = vec![String::new(); 27];
                    r[0] = import_text(&inv.customer);
                    r[1] = import_text(&inv.email);
                    r[10] = import_text(&inv.number);
                    r[11] = import_text(&inv.reference);
                    r[12] = date(inv.date);
                    if !credit {
                        r[13] = date(inv.due);
                    }
                    r[14] = import_text(&l.item);
                    r[15] = import_text(&l.description);
                    r[16] = e4(l.priced.quantity_e4);
                    r[17] = e4(l.priced.unit_e4);
                    r[19] = import_text(&l.account_code);
                    r[20] = import_text(&l.tax_type);
                    r[25] = import_text(&inv.currency);
                    rows.push(r);
                }
            }
            OutFile {
                name: if many {
                    format!("{stem}-{}.csv", k + 1)
                } else {
                    format!("{stem}.csv")
                },
                bytes: csv_bytes(header, &rows),
            }
        })
        .collect()
}

/// QuickBooks Online's files: the invoices in `stem.csv`, and credit memos, if any, in
/// `stem-credit-memos.csv` in the same layout with `CreditMemoNo` and `CreditMemoDate` for
/// the number and date (no due date or terms; amounts positive). The tax columns follow
/// the first document's mapping (`us` or `vat`): one file has one header.
pub fn quickbooks(invoices: &[Invoice], stem: &str) -> Vec<OutFile> {
    let (credits, plain): (Vec<&Invoice>, Vec<&Invoice>) = invoices
        .iter()
        .partition(|i| i.document == Document::CreditNote);
    let mut files = vec![quickbooks_file(&plain, stem, false)];
    if !credits.is_empty() {
        files.push(quickbooks_file(
            &credits,
            &format!("{stem}-credit-memos"),
            true,
        ));
    }
    files
}

fn quickbooks_file(invoices: &[&Invoice], stem: &str, credit: bool) -> OutFile {
    let tax = invoices
        .first()
        .map(|i| i.quickbooks_tax)
        .unwrap_or(QuickbooksTax::Vat);
    let mut rows = Vec::new();
    for inv in invoices {
        let date = |d| inv.date_format.show(d);
        for l in &inv.lines {
            let mut r = vec![
                import_text(&inv.number),
                import_text(&inv.customer),
                date(inv.date),
            ];
            if !credit {
                r.push(date(inv.due));
                r.push(format!("Net {}", inv.terms_days));
            }
            r.extend([
                String::new(),
                import_text(&inv.reference),
                import_text(&l.item),
                import_text(&l.description),
                e4(l.priced.quantity_e4),
                e4(l.priced.unit_e4),
                exact::format_money(l.work.amount_cents),
            ]);
            match tax {
                QuickbooksTax::Us => {
                    r.push(if l.taxable { "Y" } else { "N" }.into());
                    r.push(if l.taxable {
                        import_text(&l.tax_type)
                    } else {
                        String::new()
                    });
                    r.push(date(inv.date));
                }
                QuickbooksTax::Vat => {
                    r.push(import_text(&l.tax_type));
                    // The tax is QuickBooks' to compute from the code.
                    r.push(String::new());
                }
            }
            r.push(import_text(&inv.currency));
            rows.push(r);
        }
    }
    let header: Vec<&str> = match tax {
        QuickbooksTax::Us => QUICKBOOKS_US_HEADER.to_vec(),
        QuickbooksTax::Vat => QUICKBOOKS_VAT_HEADER.to_vec(),
    };
    let header: Vec<&str> = if credit {
        header
            .into_iter()
            .filter(|h| !matches!(*h, "DueDate" | "Terms"))
            .map(|h| match h {
                "InvoiceNo" => "CreditMemoNo",
                "InvoiceDate" => "CreditMemoDate",
                other => other,
            })
            .collect()
    } else {
        header
    };
    OutFile {
        name: format!("{stem}.csv"),
        bytes: csv_bytes(&header, &rows),
    }
}

/// The plain ledger of invoice lines.
/// Each line as written on its document: a credit note's amounts are positive, its
/// `document` is `credit_note` and `corrects` names the document it corrects.
pub fn ledger(invoices: &[Invoice], stem: &str) -> OutFile {
    let mut rows = Vec::new();
    for inv in invoices {
        for (n, l) in inv.lines.iter().enumerate() {
            rows.push(vec![
                text(&inv.number),
                text(&inv.customer),
                super::mapping::key(l.contract).replace("none", ""),
                text(&l.contract_ref),
                inv.date.to_string(),
                inv.due.to_string(),
                text(&inv.currency),
                (n + 1).to_string(),
                text(&l.description),
                l.charge_rate.map(|r| r.to_string()).unwrap_or_default(),
                l.work.actions.to_string(),
                exact::format_hours(l.work.hours_ms),
                e4(l.priced.quantity_e4),
                e4(l.priced.unit_e4),
                exact::format_money(l.work.amount_cents),
                text(&l.account_code),
                text(&l.tax_type),
                text(&l.item),
                l.priced.fallback.to_string(),
                inv.document.name().to_string(),
                text(inv.corrects.as_deref().unwrap_or_default()),
            ]);
        }
    }
    OutFile {
        name: format!("{stem}.csv"),
        bytes: csv_bytes(&LEDGER_HEADER, &rows),
    }
}

/// DATEV's booking columns written (the first 14 of the format's 125; the rest may be
/// left out).
pub const DATEV_COLUMNS: [&str; 14] = [
    "Umsatz (ohne Soll/Haben-Kz)",
    "Soll/Haben-Kennzeichen",
    "WKZ Umsatz",
    "Kurs",
    "Basis-Umsatz",
    "WKZ Basis-Umsatz",
    "Konto",
    "Gegenkonto (ohne BU-Schlüssel)",
    "BU-Schlüssel",
    "Belegdatum",
    "Belegfeld 1",
    "Belegfeld 2",
    "Skonto",
    "Buchungstext",
];

/// One DATEV booking: an invoice's revenue on one account in one posting month.
#[derive(Debug, Clone)]
pub struct Booking {
    /// Posting month.
    pub month: (i32, u32),
    /// Halo's invoice number (Belegfeld 1).
    pub invoice: String,
    /// Revenue account (Konto).
    pub revenue_account: String,
    /// Debtor account (Gegenkonto).
    pub debtor_account: String,
    /// Booking text.
    pub text: String,
    /// The work booked.
    pub work: Work,
    /// A correction of work booked by an earlier export (the difference).
    pub correction: bool,
}

/// The DATEV bookings of the issued invoices: one per (month, invoice, revenue account),
/// and for each booked invoice whose work changed since an earlier export, one
/// correction booking of the difference; every contract mapped (listed at once
/// otherwise).
pub fn datev_bookings(
    plan: &super::plan::BookingPlan,
    map: &Mapping,
) -> Result<Vec<Booking>, Vec<String>> {
    let refs = &plan.refs;
    let mut problems = Vec::new();
    // (correction, month, invoice, revenue account, debtor account)
    type Key = (bool, (i32, u32), String, String, String);
    let mut out: BTreeMap<Key, Booking> = BTreeMap::new();
    let mut unmapped = std::collections::BTreeSet::new();
    let all = plan
        .issued
        .iter()
        .map(|kw| (false, kw))
        .chain(plan.corrections.iter().map(|kw| (true, kw)));
    for (correction, (k, w)) in all {
        let Some(e) = map.resolve_booking(k.contract) else {
            unmapped.insert(super::mapping::key(k.contract));
            continue;
        };
        let rev_section = map.section_of(k.contract, |e| e.revenue_account.is_some());
        let deb_section = map.section_of(k.contract, |e| e.debtor_account.is_some());
        let revenue = super::need(
            &e.revenue_account,
            "revenue_account",
            &rev_section,
            &mut problems,
        );
        let debtor = super::need(
            &e.debtor_account,
            "debtor_account",
            &deb_section,
            &mut problems,
        );
        for (what, v, section) in [
            ("revenue_account", &revenue, &rev_section),
            ("debtor_account", &debtor, &deb_section),
        ] {
            if !v.is_empty() && !v.chars().all(|c| c.is_ascii_digit()) {
                problems.push(format!("[{section}] {what} `{v}` is not an account number"));
            }
        }
        let reference = refs.get(&k.contract).cloned().unwrap_or_default();
        let text = if correction {
            format!("Korrektur {} {}", k.invoice, reference)
        } else {
            format!("{} {}", k.invoice, reference)
        };
        let b = out
            .entry((
                correction,
                k.month,
                k.invoice.clone(),
                revenue.clone(),
                debtor.clone(),
            ))
            .or_insert_with(|| Booking {
                month: k.month,
                invoice: k.invoice.clone(),
                revenue_account: revenue,
                debtor_account: debtor,
                text: super::one_line(&text),
                work: Work::default(),
                correction,
            });
        if let Err(e) = b.work.absorb(w) {
            problems.push(e.to_string());
        }
    }
    if map.datev.consultant.is_none() {
        problems.push("[datev] has no consultant (the Beraternummer)".into());
    }
    if map.datev.client.is_none() {
        problems.push("[datev] has no client (the Mandantennummer)".into());
    }
    if !unmapped.is_empty() {
        problems.insert(
            0,
            format!(
                "{} contract(s) with invoiced work have no [contracts.ID] section: {}",
                unmapped.len(),
                unmapped.into_iter().collect::<Vec<_>>().join(", ")
            ),
        );
    }
    if problems.is_empty() {
        let mut list: Vec<Booking> = out.into_values().collect();
        list.retain(|b| b.work.amount_cents != 0 || !b.correction);
        list.sort_by(|a, b| {
            (a.month, &a.invoice, a.correction).cmp(&(b.month, &b.invoice, b.correction))
        });
        Ok(list)
    } else {
        let mut seen = std::collections::HashSet::new();
        problems.retain(|p| seen.insert(p.clone()));
        Err(problems)
    }
}

/// Text as Windows-1252; a character it cannot hold becomes `?` and is reported.
fn cp1252(s: &str, lost: &mut Vec<char>) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut buf = [0u8; 4];
    for c in s.chars() {
        let (bytes, _, bad) = encoding_rs::WINDOWS_1252.encode(c.encode_utf8(&mut buf));
        if bad {
            lost.push(c);
            out.push(b'?');
        } else {
            out.extend_from_slice(&bytes);
        }
    }
    out
}

/// A DATEV text field: quoted, one line, at most `max` characters, `"` doubled.
fn datev_text(s: &str, max: usize) -> String {
    // Verbatim, as DATEV imports it (the export warns of formula-like texts).
    let one: String = super::one_line(s).chars().take(max).collect();
    format!("\"{}\"", one.replace('"', "\"\""))
}

/// One EXTF Buchungsstapel per posting month: header record (31 fields), column names,
/// one line per booking; semicolons, decimal comma, Windows-1252. `created` is the
/// header's "Erzeugt am" (`YYYYMMDDHHMMSSFFF`), given so that the same store gives the
/// same bytes. Returns the files and the characters Windows-1252 could not hold.
pub fn datev(
    bookings: &[Booking],
    map: &Mapping,
    period: &Period,
    created: &str,
) -> (Vec<OutFile>, Vec<char>) {
    use chrono::{Datelike, NaiveDate};
    let d = &map.datev;
    let first_day = period.date_of(period.from_ns);
    let last_day = period.date_of(period.to_ns - 1);
    let mut by_month: BTreeMap<(i32, u32), Vec<&Booking>> = BTreeMap::new();
    for b in bookings {
        by_month.entry(b.month).or_default().push(b);
    }
    let mut lost = Vec::new();
    let mut files = Vec::new();
    for ((y, m), list) in by_month {
        let start = NaiveDate::from_ymd_opt(y, m, 1)
            .expect("a month")
            .max(first_day);
        let next = if m == 12 {
            NaiveDate::from_ymd_opt(y + 1, 1, 1)
        } else {
            NaiveDate::from_ymd_opt(y, m + 1, 1)
        }
        .expect("a month");
        let end = next.pred_opt().expect("a day").min(last_day);
        let fy_month = d.fiscal_year_start_month.unwrap_or(1).clamp(1, 12);
        let fy_year = if m >= fy_month { y } else { y - 1 };
        let currency = d.currency.clone().unwrap_or_else(|| "EUR".into());
        let header = [
            "\"EXTF\"".to_string(),
            "700".into(),
            "21".into(),
            "\"Buchungsstapel\"".into(),
            "13".into(),
            created.to_string(),
            String::new(),
            "\"RE\"".into(),
            "\"halo-billing\"".into(),
            "\"\"".into(),
            d.consultant.map(|c| c.to_string()).unwrap_or_default(),
            d.client.map(|c| c.to_string()).unwrap_or_default(),
            format!("{fy_year:04}{fy_month:02}01"),
            d.account_length.unwrap_or(4).to_string(),
            start.format("%Y%m%d").to_string(),
            end.format("%Y%m%d").to_string(),
            datev_text(&format!("Halo {y:04}-{m:02}"), 30),
            "\"\"".into(),
            "1".into(),
            "0".into(),
            "0".into(),
            datev_text(&currency, 3),
            String::new(),
            "\"\"".into(),
            String::new(),
            String::new(),
            "\"\"".into(),
            String::new(),
            String::new(),
            "\"\"".into(),
            "\"\"".into(),
        ];
        debug_assert_eq!(header.len(), 31);
        let mut text = header.join(";");
        text.push_str("\r\n");
        text.push_str(&DATEV_COLUMNS.join(";"));
        text.push_str("\r\n");
        for b in list {
            let amount = b.work.amount_cents;
            // Revenue is a credit (H) on the revenue account; a negative total a debit.
            let (sign, abs) = if amount < 0 {
                ("S", -amount)
            } else {
                ("H", amount)
            };
            let line = [
                exact::format_money(abs).replace('.', ","),
                format!("\"{sign}\""),
                datev_text(&currency, 3),
                String::new(),
                String::new(),
                String::new(),
                b.revenue_account.clone(),
                b.debtor_account.clone(),
                "\"\"".into(),
                format!("{:02}{:02}", end.day(), end.month()),
                datev_text(&b.invoice, 36),
                "\"\"".into(),
                String::new(),
                datev_text(&b.text, 60),
            ];
            text.push_str(&line.join(";"));
            text.push_str("\r\n");
        }
        files.push(OutFile {
            name: format!("EXTF_Buchungsstapel_{y:04}-{m:02}.csv"),
            bytes: cp1252(&text, &mut lost),
        });
    }
    (files, lost)
}
