//! The export mapping (TOML): which customer, accounts, tax and numbering each contract's
//! invoices get. `[defaults]` fills what a `[contracts.ID]` section leaves out;
//! `[contracts.none]` addresses chargeable work without a contract; `[charge_rates]`
//! names Halo's charge rates in line descriptions; `[datev]` holds the DATEV header
//! values. Every key is documented in README.md ("The mapping file").

use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

/// How an invoice's lines are formed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Lines {
    /// One line per Halo charge rate (`chargerate`).
    PerChargeType,
    /// One line per contract.
    PerContract,
    /// One line per ticket and charge rate, the ticket's number in the description.
    PerTicket,
}

/// How a line of work is priced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnitPrice {
    /// The hourly rate the line's actions agree on, with a rounding line for the cents
    /// the hours at the rate do not reach (the default).
    Rate,
    /// One line per rate whose unit amount (4 decimals) gives its amount exactly, no
    /// rounding line (the behaviour before rates were shown).
    Exact,
}

/// Who gets one invoice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InvoicePer {
    /// One invoice per contract.
    Contract,
    /// One invoice per customer: contracts mapped to the same customer share it.
    Customer,
}

/// How dates are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum DateFormat {
    /// 31/10/2026 (Xero's default regions, UK, AU, NZ).
    #[serde(rename = "dd/mm/yyyy")]
    Dmy,
    /// 10/31/2026 (US organisations).
    #[serde(rename = "mm/dd/yyyy")]
    Mdy,
    /// 2026-10-31.
    #[serde(rename = "yyyy-mm-dd")]
    Iso,
}

impl DateFormat {
    /// `d` in this format.
    pub fn show(self, d: chrono::NaiveDate) -> String {
        match self {
            Self::Dmy => d.format("%d/%m/%Y").to_string(),
            Self::Mdy => d.format("%m/%d/%Y").to_string(),
            Self::Iso => d.format("%Y-%m-%d").to_string(),
        }
    }
}

/// QuickBooks Online's tax columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum QuickbooksTax {
    /// US sales tax: `Taxable,TaxRate`.
    Us,
    /// CA/UK/AU VAT or GST: `ItemTaxCode,ItemTaxAmount`.
    Vat,
}

/// One section: `[defaults]`, `[contracts.ID]` or `[contracts.none]`. Every key is
/// optional here; what a format needs is checked when exporting.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// Customer (Xero ContactName, QuickBooks Customer).
    pub customer: Option<String>,
    /// The customer's e-mail (Xero EmailAddress).
    pub email: Option<String>,
    /// Xero AccountCode / QuickBooks income account.
    pub account_code: Option<String>,
    /// Xero TaxType / QuickBooks tax code (or US tax rate name).
    pub tax_type: Option<String>,
    /// QuickBooks US: whether lines are taxable.
    pub taxable: Option<bool>,
    /// Xero InventoryItemCode / QuickBooks Item(Product/Service).
    pub item: Option<String>,
    /// Days from the invoice date to the due date.
    pub terms_days: Option<i64>,
    /// Currency code, written only where set.
    pub currency: Option<String>,
    /// The invoice-number scheme: `{period}`, `{contract_id}`, `{contract_ref}`,
    /// `{customer}`, `{seq}`.
    pub invoice_number: Option<String>,
    /// `period-end` (default), `period-start`, or a date `YYYY-MM-DD`.
    pub invoice_date: Option<String>,
    /// Lines per charge type, per ticket or per contract.
    pub lines: Option<Lines>,
    /// A line's unit price: the rate (`rate`, default) or an exact unit amount (`exact`).
    pub unit_price: Option<UnitPrice>,
    /// One invoice per contract (default) or per customer.
    pub invoice_per: Option<InvoicePer>,
    /// DATEV Konto (revenue).
    pub revenue_account: Option<String>,
    /// DATEV Gegenkonto (the debtor).
    pub debtor_account: Option<String>,
    /// Date format of Xero and QuickBooks files.
    pub date_format: Option<DateFormat>,
    /// QuickBooks tax columns (`us` or `vat`).
    pub quickbooks_tax: Option<QuickbooksTax>,
    /// Xero Reference (text; `{contract_ref}` and `{period}` are filled in).
    pub reference: Option<String>,
}

/// The DATEV header values.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Datev {
    /// Beraternummer.
    pub consultant: Option<u64>,
    /// Mandantennummer.
    pub client: Option<u64>,
    /// First month of the fiscal year (1-12, default 1).
    pub fiscal_year_start_month: Option<u32>,
    /// Sachkontenlänge (default 4).
    pub account_length: Option<u32>,
    /// Currency (WKZ, default EUR).
    pub currency: Option<String>,
}

/// A mapping file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mapping {
    /// What every contract gets unless its section says otherwise.
    #[serde(default)]
    pub defaults: Entry,
    /// Per contract id (`none`: work without a contract).
    #[serde(default)]
    pub contracts: BTreeMap<String, Entry>,
    /// Names of Halo charge rates for line descriptions (`1 = "Remote support"`).
    #[serde(default)]
    pub charge_rates: BTreeMap<String, String>,
    /// DATEV header values.
    #[serde(default)]
    pub datev: Datev,
    /// Each contract's customer as Halo names it (`client_name` of its contract record),
    /// for contracts whose section names none ([`Mapping::with_halo_customers`]).
    #[serde(skip)]
    pub halo_customers: BTreeMap<i64, String>,
}

/// The mapping key of a contract id (`none` for no contract).
pub fn key(contract: Option<i64>) -> String {
    contract.map_or_else(|| "none".to_string(), |c| c.to_string())
}

impl Mapping {
    /// Reads and parses `path`; the message names the file and TOML's line and column.
    pub fn read(path: &Path) -> Result<Mapping, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read the mapping `{}`: {e}", path.display()))?;
        let m: Mapping = toml::from_str(&text)
            .map_err(|e| format!("the mapping `{}` does not parse: {e}", path.display()))?;
        for k in m.contracts.keys() {
            if k != "none" && k.parse::<i64>().is_err() {
                return Err(format!(
                    "the mapping `{}`: [contracts.{k}] is not a contract id (a whole number) or `none`",
                    path.display()
                ));
            }
        }
        Ok(m)
    }

    /// The same mapping, taking each contract's customer from Halo (`client_name` of its
    /// contract record) where its section names none, and mapping a contract without a
    /// section that Halo names a customer for with the defaults.
    pub fn with_halo_customers(mut self, customers: BTreeMap<i64, String>) -> Mapping {
        self.halo_customers = customers;
        self
    }

    /// The section of `contract` over the defaults, its customer Halo's where the section
    /// names none (the section's own customer, then Halo's, then the defaults'); `None`
    /// when the contract has no section and Halo names no customer for it (unmapped).
    pub fn resolve(&self, contract: Option<i64>) -> Option<Entry> {
        let halo = contract.and_then(|c| self.halo_customers.get(&c));
        match (self.contracts.get(&key(contract)), halo) {
            (Some(c), h) => {
                let mut e = self.over_defaults(c);
                if let (None, Some(h)) = (&c.customer, h) {
                    e.customer = Some(h.clone());
                }
                Some(e)
            }
            (None, Some(h)) => Some(self.over_defaults(&Entry {
                customer: Some(h.clone()),
                ..Entry::default()
            })),
            (None, None) => None,
        }
    }

    /// For bookings of issued invoices (DATEV), where work without a contract needs
    /// accounts but no customer: `[contracts.none]` if present, else `[defaults]`.
    pub fn resolve_booking(&self, contract: Option<i64>) -> Option<Entry> {
        match contract {
            None => {
                Some(self.over_defaults(self.contracts.get("none").unwrap_or(&Entry::default())))
            }
            c => self.resolve(c),
        }
    }

    /// The section a value of `contract`'s comes from: `contracts.ID` when that section
    /// sets it (`has`), else `defaults`, so that a problem in `[defaults]` is reported
    /// once, where it can be fixed.
    pub fn section_of(&self, contract: Option<i64>, has: impl Fn(&Entry) -> bool) -> String {
        match self.contracts.get(&key(contract)) {
            Some(c) if has(c) => format!("contracts.{}", key(contract)),
            _ if has(&self.defaults) => "defaults".to_string(),
            _ => format!("contracts.{}", key(contract)),
        }
    }

    fn over_defaults(&self, c: &Entry) -> Entry {
        let d = &self.defaults;
        macro_rules! pick {
            ($($f:ident),*) => { Entry { $( $f: c.$f.clone().or_else(|| d.$f.clone()), )* } };
        }
        pick!(
            customer,
            email,
            account_code,
            tax_type,
            taxable,
            item,
            terms_days,
            currency,
            invoice_number,
            invoice_date,
            lines,
            unit_price,
            invoice_per,
            revenue_account,
            debtor_account,
            date_format,
            quickbooks_tax,
            reference
        )
    }
}

/// A contract for [`template`]: id, reference, its chargeable amounts not yet invoiced
/// and invoiced (shown in a comment), and its customer as Halo names it, if known.
pub type TemplateContract = (Option<i64>, String, String, String, Option<String>);

/// A mapping to start from: `[defaults]` with placeholders and one section per contract
/// of the period; work without a contract is offered as a commented-out section.
pub fn template(contracts: &[TemplateContract], period: &str) -> String {
    let mut s = format!(
        "# halo-billing export mapping, written for the contracts of {period}.\n\
         # Fill in every FILL-IN; `[defaults]` applies where a contract's section is silent.\n\
         # See README.md, \"The mapping file\", for every key.\n\n\
         [defaults]\n\
         account_code = \"200\"            # Xero AccountCode / QuickBooks income account\n\
         tax_type = \"Tax on Sales\"       # Xero TaxType / QuickBooks tax code\n\
         item = \"Labour\"                 # InventoryItemCode / Item(Product/Service)\n\
         terms_days = 30                 # DueDate = InvoiceDate + terms\n\
         # currency = \"GBP\"              # only for foreign-currency invoices\n\
         invoice_number = \"HB-{{period}}-{{contract_id}}\"\n\
         invoice_date = \"period-end\"     # the last day of the period\n\
         lines = \"per_charge_type\"       # or \"per_ticket\", \"per_contract\"\n\
         # unit_price = \"rate\"           # or \"exact\": one line per rate, no rounding line\n\
         invoice_per = \"contract\"        # or \"customer\": one invoice per customer\n\
         revenue_account = \"8400\"        # DATEV Konto\n\
         debtor_account = \"10000\"        # DATEV Gegenkonto\n\
         date_format = \"dd/mm/yyyy\"      # or \"mm/dd/yyyy\", \"yyyy-mm-dd\"\n\
         quickbooks_tax = \"vat\"          # or \"us\" (Taxable, TaxRate)\n"
    );
    for (id, reference, unbilled, invoiced, halo) in contracts {
        let Some(id) = id else {
            s.push_str(&format!(
                "\n# Chargeable work without a contract ({unbilled} not yet invoiced in {period}) is left out of Xero and\n\
                 # QuickBooks invoices (and named in a warning) unless it gets a customer here:\n\
                 # [contracts.none]\n# customer = \"\"\n"
            ));
            continue;
        };
        let customer = match halo {
            Some(name) => format!(
                "customer = {}   # Halo's client_name for this contract: change it only to override Halo\n",
                toml_string(name)
            ),
            None => "customer = \"FILL-IN\"\n".to_string(),
        };
        s.push_str(&format!(
            "\n[contracts.{id}]   # {} ({period}: chargeable {unbilled} not yet invoiced, {invoiced} invoiced)\n{customer}# email = \"\"\n",
            if reference.is_empty() {
                "no reference".to_string()
            } else {
                crate::report::safe::shown(reference).into_owned()
            }
        ));
    }
    s
}

/// `s` as a TOML basic string (control characters escaped).
fn toml_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn halo_s_customer_fills_a_contract_the_mapping_names_none_for_and_the_mapping_overrides_it() {
        let m: Mapping = toml::from_str(
            "[defaults]\ncustomer = \"Default Ltd\"\n[contracts.1]\ncustomer = \"Mine\"\n[contracts.2]\nemail = \"a@b\"\n",
        )
        .unwrap();
        let m = m.with_halo_customers(
            [
                (1, "Halo One".into()),
                (2, "Halo Two".into()),
                (3, "Halo Three".into()),
            ]
            .into(),
        );
        let customer = |c| m.resolve(Some(c)).and_then(|e| e.customer);
        assert_eq!(customer(1).as_deref(), Some("Mine"));
        assert_eq!(customer(2).as_deref(), Some("Halo Two"));
        assert_eq!(
            customer(3).as_deref(),
            Some("Halo Three"),
            "no section: Halo's, over the defaults"
        );
        assert_eq!(
            customer(4),
            None,
            "no section and no Halo customer: unmapped"
        );
    }

    #[test]
    fn the_issue_s_mapping_parses_and_a_contract_inherits_the_defaults() {
        let m: Mapping = toml::from_str(
            r#"
[defaults]
account_code = "200"            # Xero AccountCode / QuickBooks income account
tax_type = "Tax on Sales"       # Xero TaxType / QuickBooks tax code
item = "Labour"                 # InventoryItemCode / Item(Product/Service)
terms_days = 30                 # DueDate = InvoiceDate + terms
currency = "GBP"
invoice_number = "HB-{period}-{contract_id}"
invoice_date = "period-end"     # the last day of the period
lines = "per_charge_type"       # or "per_contract"
revenue_account = "8400"        # DATEV Konto
debtor_account = "10000"        # DATEV Gegenkonto
date_format = "dd/mm/yyyy"      # or "mm/dd/yyyy", "yyyy-mm-dd"

[contracts.101]
customer = "ACME Ltd"
email = "ap@acme.example"
"#,
        )
        .unwrap();
        let e = m.resolve(Some(101)).unwrap();
        assert_eq!(e.customer.as_deref(), Some("ACME Ltd"));
        assert_eq!(e.account_code.as_deref(), Some("200"));
        assert_eq!(e.terms_days, Some(30));
        assert_eq!(e.lines, Some(Lines::PerChargeType));
        assert_eq!(e.date_format, Some(DateFormat::Dmy));
        assert!(m.resolve(Some(102)).is_none(), "102 has no section");
        assert!(m.resolve(None).is_none());
    }

    #[test]
    fn the_template_parses_as_a_mapping() {
        let t = template(
            &[
                (Some(7), "C-7".into(), "10.00".into(), "0.00".into(), None),
                (
                    Some(8),
                    "C-8".into(),
                    "5.00".into(),
                    "0.00".into(),
                    Some("Quote \" and \\ back\u{7}".into()),
                ),
                (None, String::new(), "1.00".into(), "2.00".into(), None),
            ],
            "2026-10",
        );
        let m: Mapping = toml::from_str(&t).unwrap();
        assert_eq!(
            m.contracts.len(),
            2,
            "[contracts.none] is offered commented out"
        );
        assert_eq!(
            m.resolve(Some(8)).unwrap().customer.as_deref(),
            Some("Quote \" and \\ back\u{7}"),
            "Halo's customer is written filled in, and reads back exactly"
        );
        assert_eq!(
            m.resolve(Some(7)).unwrap().customer.as_deref(),
            Some("FILL-IN")
        );
        assert!(t.contains("# [contracts.none]"));
    }
}
