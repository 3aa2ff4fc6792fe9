//! `halo-billing report`: parses the arguments, picks the report from the catalog
//! ([`crate::report::catalog`]) and hands its sheet to a renderer.

use super::{StoreArg, write_output};
use crate::error::Error;
use crate::progress::Progress;
use crate::report::catalog::{self, Builtin, Request};
use crate::report::render::{self, Format};
use crate::report::sheet::Sheet;
use crate::report::{self, adjust::By};
use crate::store::Store;
use std::path::PathBuf;

/// Report a period's figures: per contract, invoice, agent or prepaid block, unbilled
/// work, possible leakage, the actions behind a line, a closed period's adjustments, or
/// a report defined by files.
///
/// Every report leaves in one shape and is written by one renderer per format: CSV (the
/// columns below are a contract), JSON (one schema for every report, see
/// reports/README.md: period, closes, coverage, typed columns, rows, totals, notes),
/// a table fitted to the terminal (--wide: every column) or an HTML page.
///
/// A closed period (see `halo-billing close`) is reported from its frozen copy: the same
/// bytes every time. `report adjustments --period P [--by action|contract|invoice]` lists
/// what changed since the close (new, changed, deleted actions) with the deltas to bill
/// or credit.
///
/// contracts: one row per contract (actions without a contract: the row with an empty
/// contract_id). Columns:
///   contract_id,contract_ref,actions,time_taken_hours,non_bill_hours,travel_hours,
///   mileage,chargeable_hours,chargeable_amount,non_chargeable_hours,
///   non_chargeable_amount,prepay_hours,prepay_amount
///
/// invoices: one row per invoice (work not yet invoiced: the row with an empty
/// invoice_number). Columns: invoice_number,invoice_id,actions, then the same measures.
///
/// audit: Halo's invoices (synced with the actions) against the actions that name them,
/// one row per invoice dated in the period and per invoice the period's actions name
/// that Halo never returned. Columns:
///   invoice_id,invoice_number,customer,invoice_date,status,lines_amount,actions,
///   actions_amount,difference,finding
/// finding: ok, lines-differ, voided, missing or exported-and-invoiced (README.md, "The
/// invoice audit", says what each means and what to do); --findings-only leaves out the
/// ok rows. An audit that finds is a success (exit 0); `report actions --invoice N` lists
/// the actions behind a row.
///
/// Rows are sorted by key. Hours and mileage have 4 decimals, money 2. Money is the exact
/// sum of the actions in the row, and every money total the exact sum of its rows; each
/// hours figure (row or total) is its exact value rounded on its own. Both reports of one
/// period have the same totals. An action belongs to the period by its `datetime`, read in
/// --timezone (default: the store's reporting zone, see `halo-billing timezone`, else
/// UTC). CSV text cells are made safe to open in a spreadsheet.
///
/// Coverage: every report says whether the store covers its whole range (committed sync
/// windows, imports' date ranges, closes); a gap is named with the command that fills
/// it (on standard error, in the JSON's "coverage", under the table). --strict makes a
/// gap exit 5 before anything is written, for scheduled jobs. Time after now is not a
/// gap (the current month is covered up to now); a range with no start (unbilled --to
/// DATE) is, since earlier work may exist; prepay balances need each block's history
/// since its purchase.
///
/// Reports defined by files: a query (queries/NAME.sql) and its definition
/// (reports/NAME.toml: title, parameters, column types, sort); the built-in ones are
/// compiled in, yours live in --reports-dir. `report --list` shows them all. contracts
/// and invoices have SQL twins (--engine sql) that give the same figures; the built-in
/// charge-rates is computed by the exact parallel fold its query describes, and
/// --engine sql runs its query instead (the same figures).
///
/// Examples:
///   halo-billing report contracts --period 2026-10
///   halo-billing report --list
///   halo-billing report charge-rates --period 2026-10 --param contract=101
///   halo-billing report invoices --period 2026-10 --format table
///   halo-billing report audit --period 2026-10 --findings-only --format table
///   halo-billing report contracts --from 2026-10-01 --to 2026-10-16 --timezone Europe/London --out h1.csv
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// Which report: contracts, invoices, adjustments, unbilled, agents, actions, leakage,
    /// prepay, audit, or a report defined by files (built in, or in --reports-dir); see --list.
    #[arg(value_name = "NAME", required_unless_present = "list")]
    name: Option<String>,
    /// List every report: the built-in ones, the SQL reports compiled in (queries/*.sql
    /// with reports/*.toml) and the user's in --reports-dir.
    #[arg(long)]
    list: bool,
    /// For contracts, invoices and charge-rates: `rayon` (the default, the fast exact
    /// path) or `sql` (the report's query, queries/NAME.sql, which gives the same
    /// figures).
    #[arg(long, value_enum, default_value_t = Engine::Rayon)]
    engine: Engine,
    /// For a report defined by files: a parameter's value (repeatable), NAME=VALUE.
    #[arg(long = "param", value_name = "NAME=VALUE")]
    params: Vec<String>,
    /// A folder of user reports: NAME.toml (the definition) beside NAME.sql (the query).
    #[arg(long, env = "HALO_BILLING_REPORTS", value_name = "DIR")]
    reports_dir: Option<PathBuf>,
    /// For adjustments only: one row per changed action (the default), or net deltas per
    /// contract or invoice.
    #[arg(long, value_enum)]
    by: Option<By>,
    #[command(flatten)]
    period: super::PeriodArgs,
    /// IANA time zone the period is read in, e.g. Europe/London [default: the store's
    /// zone (see `halo-billing timezone`), else UTC].
    #[arg(long, value_name = "ZONE")]
    timezone: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Csv)]
    format: Format,
    /// For actions: only this contract's (`none`: actions without a contract).
    #[arg(long, value_name = "ID|none")]
    contract: Option<String>,
    /// For actions: only this invoice's, by its number or its id (`none`: not
    /// invoiced).
    #[arg(long, value_name = "NUMBER|ID|none")]
    invoice: Option<String>,
    /// For actions: only this agent's (`none`: actions without an agent).
    #[arg(long, value_name = "ID|none")]
    agent: Option<String>,
    /// For actions: only chargeable work not yet invoiced.
    #[arg(long)]
    unbilled: bool,
    /// For prepay: a CSV of purchases, top-ups and expiries (contract_id,date,hours,amount;
    /// see reports/prepay-balances.example.csv) [default: Halo's prepay records, when the
    /// store holds them].
    #[arg(long, value_name = "FILE")]
    balances: Option<PathBuf>,
    /// For prepay with --balances: a block is `low` when its remaining hours are below
    /// this share of the hours purchased.
    #[arg(long, value_name = "PERCENT", default_value = "20%", value_parser = super::sync::parse_share)]
    low_below: u64,
    /// For actions: figures in their integer units (ms, cents, 1/10,000), exact to the
    /// millisecond when summed.
    #[arg(long)]
    raw: bool,
    /// For audit: only the invoices with a finding (not `ok`).
    #[arg(long)]
    findings_only: bool,
    /// Table: every column (by default the table fits the terminal, COLUMNS or 120
    /// characters, with the key, reference, actions and the three hours/amount pairs).
    #[arg(long)]
    wide: bool,
    /// CSV: a last row labelled TOTAL.
    #[arg(long)]
    totals: bool,
    /// CSV: the field delimiter: `,` (default), `;` or `tab`.
    #[arg(long, value_name = "CHAR", default_value = ",")]
    delimiter: String,
    /// CSV: a comma as the decimal mark (needs --delimiter ';' or tab).
    #[arg(long)]
    decimal_comma: bool,
    /// Exit 5, writing nothing, when the figures depend on time the store does not cover
    /// (the period; for prepay balances, each block's history since its purchase; for a
    /// range with no start, anything before the store's first covered day), for
    /// scheduled jobs that must not send incomplete figures.
    #[arg(long)]
    strict: bool,
    /// Write to FILE (atomically: complete or not at all) instead of standard output.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    #[command(flatten)]
    store: StoreArg,
}

/// The layout options, checked together.
fn layout(args: &Args) -> Result<render::Options, Error> {
    let delimiter = match args.delimiter.as_str() {
        "," => b',',
        ";" => b';',
        "tab" | "\t" => b'\t',
        other => {
            return Err(Error::Usage(format!(
                "--delimiter `{other}` is not one of `,`, `;` or `tab`"
            )));
        }
    };
    if args.decimal_comma && delimiter == b',' {
        return Err(Error::Usage(
            "--decimal-comma needs another delimiter: add --delimiter ';' (or tab)".into(),
        ));
    }
    if args.format != Format::Csv && (args.totals || args.decimal_comma || delimiter != b',') {
        return Err(Error::Usage(
            "--totals, --delimiter and --decimal-comma apply to --format csv (the table and JSON always carry totals)".into(),
        ));
    }
    if args.wide && args.format != Format::Table {
        return Err(Error::Usage("--wide applies to --format table".into()));
    }
    Ok(render::Options {
        wide: args.wide,
        width: terminal_width(),
        totals: args.totals,
        delimiter,
        decimal_comma: args.decimal_comma,
    })
}

/// The width a table fits: COLUMNS, else the terminal's, else 120.
pub(crate) fn terminal_width() -> usize {
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse().ok())
        .or_else(|| {
            console::Term::stdout()
                .size_checked()
                .map(|(_, w)| w as usize)
        })
        .unwrap_or(120)
}

/// The drill-down filter from --contract, --invoice, --agent and --unbilled.
fn drill_filter(args: &Args) -> Result<report::actions::Filter, Error> {
    let id = |flag: &str, v: &str| -> Result<Option<i64>, Error> {
        if v.eq_ignore_ascii_case("none") {
            return Ok(None);
        }
        v.trim()
            .parse()
            .map(Some)
            .map_err(|_| Error::Usage(format!("{flag} `{v}` is not a whole number (or `none`)")))
    };
    Ok(report::actions::Filter {
        contract: args
            .contract
            .as_deref()
            .map(|v| id("--contract", v))
            .transpose()?,
        invoice: args
            .invoice
            .as_deref()
            .map(|v| (!v.eq_ignore_ascii_case("none")).then(|| v.to_string())),
        agent: args
            .agent
            .as_deref()
            .map(|v| id("--agent", v))
            .transpose()?,
        unbilled: args.unbilled,
    })
}

/// Which engine computes contracts and invoices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Engine {
    /// The exact parallel aggregation.
    Rayon,
    /// The report's SQL twin, through polars SQL.
    Sql,
}

/// The reports defined by files: built in, then the user's folder.
fn file_reports(args: &Args) -> Result<Vec<report::defs::ReportDef>, Error> {
    reports_of(args.reports_dir.as_ref())
}

/// The reports defined by files: built in, then those in `reports_dir` (else the default
/// folder).
fn reports_of(reports_dir: Option<&PathBuf>) -> Result<Vec<report::defs::ReportDef>, Error> {
    let mut defs = report::defs::built_in();
    let dir = match reports_dir {
        Some(d) if !d.is_dir() => {
            return Err(Error::Usage(format!(
                "--reports-dir `{}` is not a folder",
                d.display()
            )));
        }
        Some(d) => Some(d.clone()),
        None => report::defs::default_folder(),
    };
    if let Some(dir) = dir {
        defs.extend(report::defs::load_folder(&dir).map_err(|e| Error::Usage(e.to_string()))?);
    }
    Ok(defs)
}

/// Every report name `report NAME` takes: the built-in ones (`pack` included) and those
/// defined by files (built in, and in `reports_dir`, else `HALO_BILLING_REPORTS`, else
/// the default folder).
pub(crate) fn report_names(reports_dir: Option<PathBuf>) -> Result<Vec<String>, Error> {
    use clap::ValueEnum;
    let dir = reports_dir.or_else(|| std::env::var_os("HALO_BILLING_REPORTS").map(PathBuf::from));
    let defs = reports_of(dir.as_ref())?;
    Ok(Builtin::value_variants()
        .iter()
        .map(|w| w.name())
        .chain(
            defs.iter()
                .filter(|d| d.twin_of.is_none())
                .map(|d| d.name.clone()),
        )
        .collect())
}

/// `report --list`.
fn list(args: &Args) -> Result<(), Error> {
    use clap::ValueEnum;
    let defs = file_reports(args)?;
    write_output(None, |out| {
        writeln!(out, "Built-in reports (exact, parallel):")?;
        for w in Builtin::value_variants() {
            let v = w.to_possible_value().expect("no hidden variants");
            let twin = defs
                .iter()
                .find(|d| d.twin_of.as_deref() == Some(v.get_name()))
                .map(|d| format!(" [SQL twin: --engine sql, {}]", d.sql_path))
                .unwrap_or_default();
            let help = v.get_help().map(|h| h.to_string()).unwrap_or_default();
            let first = help
                .split(" (")
                .next()
                .unwrap_or_default()
                .trim_end_matches('.');
            writeln!(out, "  {:<22} {first}{twin}", v.get_name())?;
        }
        writeln!(
            out,
            "Reports defined by files (`report NAME [--param NAME=VALUE]`):"
        )?;
        for d in defs.iter().filter(|d| d.twin_of.is_none()) {
            let native = if report::sql::has_native(d) {
                " [computed by the exact parallel fold; --engine sql runs the query]"
            } else {
                ""
            };
            writeln!(out, "  {}{native}", d.list_line())?;
        }
        Ok(())
    })
}

/// What `report NAME` names: a built-in report, or one defined by files (a built-in
/// report's SQL twin with --engine sql).
enum Named {
    Builtin(Builtin),
    Defined(Box<report::defs::ReportDef>),
}

/// Finds the report `args` names.
fn named(args: &Args) -> Result<Named, Error> {
    use clap::ValueEnum;
    let name = args.name.clone().unwrap_or_default();
    match Builtin::from_str(&name, true).ok() {
        Some(w) if args.engine == Engine::Sql => file_reports(args)?
            .into_iter()
            .find(|d| d.twin_of.as_deref() == Some(w.name().as_str()))
            .map(|d| Named::Defined(Box::new(d)))
            .ok_or_else(|| {
                Error::Usage(format!(
                    "`report {}` has no SQL twin; --engine sql applies to contracts and invoices",
                    w.name()
                ))
            }),
        Some(w) => Ok(Named::Builtin(w)),
        None => {
            let names = report_names(args.reports_dir.clone())?;
            file_reports(args)?
                .into_iter()
                .find(|d| d.name == name && d.twin_of.is_none())
                .map(|d| Named::Defined(Box::new(d)))
                .ok_or_else(|| {
                    Error::Usage(format!(
                        "there is no report `{name}`; the reports are: {} (see `report --list`)",
                        names.join(", ")
                    ))
                })
        }
    }
}

/// The options `args` gives that the report `named` does not take: refused before
/// anything runs.
fn check_options(args: &Args, named: &Named) -> Result<(), Error> {
    let filters =
        args.contract.is_some() || args.invoice.is_some() || args.agent.is_some() || args.unbilled;
    let drill = filters || args.raw;
    let which = match named {
        Named::Defined(def) => {
            if args.by.is_some() || args.balances.is_some() || filters {
                return Err(Error::Usage(format!(
                    "report `{}` is defined by files: it takes the period options, --param NAME=VALUE, --raw and the output options",
                    def.name
                )));
            }
            return Ok(());
        }
        Named::Builtin(w) => *w,
    };
    if !args.params.is_empty() {
        return Err(Error::Usage(
            "--param applies to reports defined by files (see `report --list`)".into(),
        ));
    }
    if args.balances.is_some() && !matches!(which, Builtin::Prepay | Builtin::Pack) {
        return Err(Error::Usage("--balances applies to `report prepay`".into()));
    }
    if drill && which != Builtin::Actions {
        return Err(Error::Usage(
            "--contract, --invoice, --agent, --unbilled and --raw apply to `report actions` (the drill-down)".into(),
        ));
    }
    if args.findings_only && which != Builtin::Audit {
        return Err(Error::Usage(
            "--findings-only applies to `report audit`".into(),
        ));
    }
    match (which, args.by) {
        (_, None) | (Builtin::Adjustments, _) => {}
        (Builtin::Leakage, Some(By::Action | By::Contract)) => {}
        (Builtin::Leakage, Some(_)) => {
            return Err(Error::Usage(
                "`report leakage` takes --by action (the default) or --by contract".into(),
            ));
        }
        _ => {
            return Err(Error::Usage(
                "--by applies to `report adjustments` and `report leakage` only: `report contracts` and `report invoices` are already one row per contract and per invoice".into(),
            ));
        }
    }
    if which == Builtin::Pack && args.format != Format::Html {
        return Err(Error::Usage(
            "`report pack` writes one HTML page: add --format html (and --out FILE.html)".into(),
        ));
    }
    Ok(())
}

/// Writes `sheet` in `format` to `out` (standard output when none) and says on standard
/// error what a reader of it must know: closes its figures come from, undated actions,
/// its warnings, how many rows went to a file, and (even with --quiet) a coverage gap.
/// With `strict`, a gap stops it before anything is written (exit 5).
pub(crate) fn deliver(
    sheet: &Sheet,
    format: Format,
    layout: &render::Options,
    out: Option<&std::path::Path>,
    strict: bool,
    progress: &Progress,
) -> Result<(), Error> {
    let scope = &sheet.scope;
    if strict && !scope.gaps.is_empty() {
        return Err(Error::Incomplete(format!(
            "{}; nothing was written (--strict)",
            scope.coverage
        )));
    }
    for c in &scope.closes {
        let what = if scope.since_close {
            "these figures are what changed in the store since that close"
        } else {
            "its figures are from the close; see `report adjustments` for later changes"
        };
        progress.note(&format!(
            "period {} ({}) is closed (since {}, {} actions, sha256 {}): {what}",
            c.period, c.timezone, c.closed_at, c.actions, c.sha256
        ));
    }
    if scope.undated > 0 {
        progress.note(&format!(
            "{} action(s) in the store have no usable datetime, so they belong to no period and are in no report",
            scope.undated
        ));
    }
    for w in &sheet.warnings {
        progress.note(&report::safe::shown(w));
    }
    write_output(out, |w| render::write(sheet, format, layout, w))?;
    if let Some(out) = out {
        progress.note(&format!(
            "wrote {} row(s) to `{}`",
            sheet.rows.len(),
            out.display()
        ));
    }
    // Said even with --quiet: figures with a hole in them must not go out unnoticed.
    if !scope.gaps.is_empty() {
        eprintln!("halo-billing: {}", scope.coverage);
    }
    Ok(())
}

/// `report pack`: the month's reports in one HTML page.
fn pack(
    args: &Args,
    store: &Store,
    root: &std::path::Path,
    req: &Request,
    progress: &Progress,
) -> Result<(), Error> {
    let sheets = catalog::pack(store, root, req)?;
    // The page's coverage is the prepay section's: the period, and with balances every
    // block's history since its purchase.
    let prepay = sheets
        .iter()
        .find(|s| s.report == "prepay")
        .expect("the pack has a prepay section");
    let (gaps, line) = (&prepay.scope.gaps, &prepay.scope.coverage);
    if args.strict && !gaps.is_empty() {
        return Err(Error::Incomplete(format!(
            "{line}; nothing was written (--strict)"
        )));
    }
    // The coverage is said under the title and in each section, not glued to it.
    let title = format!(
        "Month-end pack, {} ({})",
        req.period.label,
        req.period.timezone.name()
    );
    let all: Vec<&Sheet> = sheets.iter().collect();
    write_output(args.out.as_deref(), |w| render::html::page(&title, &all, w))?;
    if let Some(out) = &args.out {
        let rows: usize = sheets.iter().map(|s| s.rows.len()).sum();
        progress.note(&format!(
            "wrote the month-end pack ({} sections, {rows} row(s)) to `{}`",
            sheets.len(),
            out.display()
        ));
    }
    if !gaps.is_empty() {
        eprintln!("halo-billing: {line}");
    }
    Ok(())
}

/// Runs `report`.
pub fn run(args: Args, progress: &Progress) -> Result<(), Error> {
    if args.list {
        return list(&args);
    }
    let named = named(&args)?;
    check_options(&args, &named)?;
    let layout = layout(&args)?;
    let zone = args.store.zone(args.timezone.as_deref())?;
    let period = match named {
        Named::Builtin(Builtin::Unbilled) => args.period.resolve_open_start(&zone)?,
        _ => args.period.resolve(&zone)?,
    };
    let values = match &named {
        Named::Defined(def) => def.param_values(&args.params).map_err(Error::Usage)?,
        Named::Builtin(_) => Vec::new(),
    };
    let root = args.store.existing()?;
    args.store
        .refuse_inside(args.out.as_deref(), "--out", None)?;
    let store = Store::open(&root)?;
    if store.manifest().files.is_empty() {
        return Err(Error::EmptyStore(root));
    }
    let balances = match &args.balances {
        Some(f) => Some(report::prepay::read_balances(f, &period)?),
        None => None,
    };
    let req = Request {
        period: &period,
        by: args.by,
        filter: drill_filter(&args)?,
        raw: args.raw,
        balances: balances.as_deref(),
        low_below_per_mille: args.low_below as i64,
        findings_only: args.findings_only,
    };
    let sheet = match &named {
        Named::Builtin(Builtin::Pack) => return pack(&args, &store, &root, &req, progress),
        Named::Builtin(which) => catalog::build(&store, &root, *which, &req)?,
        Named::Defined(def) => {
            catalog::defined(&store, def, &values, &req, args.engine == Engine::Sql).map_err(
                |e| match e {
                    report::sql::QueryError::Report(r) => Error::Report(r),
                    other => Error::Usage(other.to_string()),
                },
            )?
        }
    };
    deliver(
        &sheet,
        args.format,
        &layout,
        args.out.as_deref(),
        args.strict,
        progress,
    )
}
