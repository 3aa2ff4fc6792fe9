//! `halo-billing report`: a period's totals per contract or per invoice.

use super::{StoreArg, write_output};
use crate::error::Error;
use crate::progress::Progress;
use crate::report::{self, ReportKind, adjust::By, format::Format, html::Chart};
use crate::store::Store;
use std::path::PathBuf;

/// Report a period's hours and amounts per contract or per invoice, or the adjustments of
/// a closed period.
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
///   halo-billing report contracts --from 2026-10-01 --to 2026-10-16 --timezone Europe/London --out h1.csv
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// Which report: contracts, invoices, adjustments, unbilled, agents, actions, leakage,
    /// prepay, or a report defined by files (built in, or in --reports-dir); see --list.
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
    /// For actions: only this invoice's (`none`: not invoiced).
    #[arg(long, value_name = "NUMBER|none")]
    invoice: Option<String>,
    /// For actions: only this agent's (`none`: actions without an agent).
    #[arg(long, value_name = "ID|none")]
    agent: Option<String>,
    /// For actions: only chargeable work not yet invoiced.
    #[arg(long)]
    unbilled: bool,
    /// For prepay: a CSV of purchases, top-ups and expiries (contract_id,date,hours,amount;
    /// see reports/prepay-balances.example.csv).
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
fn layout(args: &Args) -> Result<report::format::Options, Error> {
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
    let width = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse().ok())
        .or_else(|| {
            console::Term::stdout()
                .size_checked()
                .map(|(_, w)| w as usize)
        })
        .unwrap_or(120);
    Ok(report::format::Options {
        wide: args.wide,
        width,
        totals: args.totals,
        delimiter,
        decimal_comma: args.decimal_comma,
    })
}

/// The drill-down filter from --contract, --invoice, --agent and --unbilled.
fn drill_filter(args: &Args) -> Result<report::pack::Filter, Error> {
    let id = |flag: &str, v: &str| -> Result<Option<i64>, Error> {
        if v.eq_ignore_ascii_case("none") {
            return Ok(None);
        }
        v.trim()
            .parse()
            .map(Some)
            .map_err(|_| Error::Usage(format!("{flag} `{v}` is not a whole number (or `none`)")))
    };
    Ok(report::pack::Filter {
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

/// The reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Which {
    /// Totals per contract.
    Contracts,
    /// Totals per invoice.
    Invoices,
    /// What changed after a period was closed (see --by).
    Adjustments,
    /// Chargeable work not yet invoiced, per contract, with its age (--to DATE alone:
    /// everything before that date).
    Unbilled,
    /// Per agent: hours, amounts, billable share and effective rate.
    Agents,
    /// The actions behind a line of another report (--contract, --invoice, --agent,
    /// --unbilled; --raw for integer units).
    Actions,
    /// Actions that may leak revenue, with the reason (--by contract: counts per
    /// contract and reason).
    Leakage,
    /// Prepaid blocks per contract and month: drawn, running totals; with --balances,
    /// purchased, remaining and a status (ok, low, overdrawn).
    Prepay,
    /// The month-end pack on one page (--format html): contracts, invoices, unbilled,
    /// prepay, agents and leakage, with charts.
    Pack,
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
    Ok(Which::value_variants()
        .iter()
        .filter_map(|w| w.to_possible_value().map(|v| v.get_name().to_string()))
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
        for w in Which::value_variants() {
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

/// Runs a report defined by files.
fn run_file(args: &Args, def: &report::defs::ReportDef) -> Result<(), Error> {
    if args.by.is_some()
        || args.balances.is_some()
        || args.contract.is_some()
        || args.invoice.is_some()
        || args.agent.is_some()
        || args.unbilled
    {
        return Err(Error::Usage(format!(
            "report `{}` is defined by files: it takes the period options, --param NAME=VALUE, --raw and the output options",
            def.name
        )));
    }
    let values = def.param_values(&args.params).map_err(Error::Usage)?;
    let period = args
        .period
        .resolve(&args.store.zone(args.timezone.as_deref())?)?;
    let layout = layout(args)?;
    let root = args.store.existing()?;
    args.store
        .refuse_inside(args.out.as_deref(), "--out", None)?;
    let store = Store::open(&root)?;
    if store.manifest().files.is_empty() {
        return Err(Error::EmptyStore(root));
    }
    let sheet = report::sql::run_report(
        &store,
        &period,
        def,
        &values,
        args.raw,
        args.engine == Engine::Sql,
    )
    .map_err(|e| match e {
        report::sql::QueryError::Report(r) => Error::Report(r),
        other => Error::Usage(other.to_string()),
    })?;
    write_sheet(
        args,
        sheet,
        (&store, &period),
        &layout,
        (&def.name, Chart::None),
        None,
    )
}

/// Writes a sheet with its coverage line: a gap stops it before anything is written
/// with --strict (exit 5), else is said on standard error. `balances` (prepay): each
/// block's history since its purchase counts too.
fn write_sheet(
    args: &Args,
    mut sheet: report::sheet::Sheet,
    (store, period): (&Store, &crate::period::Period),
    layout: &report::format::Options,
    (id, chart): (&str, Chart),
    balances: Option<&[report::prepay::Balance]>,
) -> Result<(), Error> {
    let (gaps, line) = coverage(store, period, balances)?;
    strict_gate(args, &gaps, &line)?;
    sheet.notes.push(line.clone());
    write_output(args.out.as_deref(), |w| {
        if args.format == Format::Html {
            let section = report::html::Section {
                id,
                sheet: &sheet,
                chart,
            };
            report::html::page(&sheet.title, &[section], w)
        } else {
            report::sheet::write(&sheet, args.format, layout, w)
        }
    })?;
    say_gaps(&gaps, &line);
    Ok(())
}

/// `report pack`: the month's reports in one HTML page.
fn pack(
    args: &Args,
    store: &Store,
    root: &std::path::Path,
    period: &crate::period::Period,
) -> Result<(), Error> {
    if args.format != Format::Html {
        return Err(Error::Usage(
            "`report pack` writes one HTML page: add --format html (and --out FILE.html)".into(),
        ));
    }
    let balances = match &args.balances {
        Some(f) => Some(report::prepay::read_balances(f, period)?),
        None => None,
    };
    let (gaps, line) = coverage(store, period, balances.as_deref())?;
    strict_gate(args, &gaps, &line)?;
    let sheets = report::html::month_end(
        store,
        root,
        period,
        balances.as_deref(),
        args.low_below as i64,
    )?;
    let title = format!(
        "Month-end pack, {} ({}); {line}",
        period.label,
        period.timezone.name()
    );
    write_output(args.out.as_deref(), |w| {
        report::html::pack_page(&title, &sheets, w)
    })?;
    say_gaps(&gaps, &line);
    Ok(())
}

/// What of the time the figures depend on the store does not cover, and the coverage
/// line: the period, and with prepay balances every block's history since its purchase
/// (a balance counts every draw since then).
pub(crate) fn coverage(
    store: &Store,
    period: &crate::period::Period,
    balances: Option<&[report::prepay::Balance]>,
) -> Result<(Vec<(i64, i64)>, String), Error> {
    let first_purchase = balances
        .into_iter()
        .flatten()
        .filter(|b| b.at_ns < period.to_ns)
        .map(|b| b.at_ns)
        .min();
    let from = first_purchase.map_or(period.from_ns, |f| f.min(period.from_ns));
    let gaps = report::coverage_gaps_from(store, from, period.to_ns)?;
    let mut line = report::format::coverage_text(&gaps);
    if from < period.from_ns {
        line.push_str(&format!(
            " (prepaid blocks' balances count every draw since the block was bought, so these figures depend on the store's history from {}, the first purchase in the balances file)",
            crate::model::datetime::format_datetime(from)
        ));
    }
    Ok((gaps, line))
}

/// With --strict, a coverage gap stops the report before anything is written (exit 5).
fn strict_gate(args: &Args, gaps: &[(i64, i64)], line: &str) -> Result<(), Error> {
    if args.strict && !gaps.is_empty() {
        return Err(Error::Incomplete(format!(
            "{line}; nothing was written (--strict)"
        )));
    }
    Ok(())
}

/// A coverage gap (without --strict): said on standard error, even with --quiet.
fn say_gaps(gaps: &[(i64, i64)], line: &str) {
    if !gaps.is_empty() {
        eprintln!("halo-billing: {line}");
    }
}

/// Runs `report`.
pub fn run(args: Args, progress: &Progress) -> Result<(), Error> {
    use clap::ValueEnum;
    if args.list {
        return list(&args);
    }
    let name = args.name.clone().unwrap_or_default();
    let builtin = Which::from_str(&name, true).ok();
    let def = match builtin {
        Some(w) if args.engine == Engine::Sql => {
            let v = w.to_possible_value().expect("no hidden variants");
            let found = file_reports(&args)?
                .into_iter()
                .find(|d| d.twin_of.as_deref() == Some(v.get_name()));
            Some(found.ok_or_else(|| {
                Error::Usage(format!(
                    "`report {}` has no SQL twin; --engine sql applies to contracts and invoices",
                    v.get_name()
                ))
            })?)
        }
        Some(_) => None,
        None => {
            let defs = file_reports(&args)?;
            let names = report_names(args.reports_dir.clone())?;
            Some(
                defs.into_iter()
                    .find(|d| d.name == name && d.twin_of.is_none())
                    .ok_or_else(|| {
                        Error::Usage(format!(
                            "there is no report `{name}`; the reports are: {} (see `report --list`)",
                            names.join(", ")
                        ))
                    })?,
            )
        }
    };
    if let Some(def) = def {
        return run_file(&args, &def);
    }
    if !args.params.is_empty() {
        return Err(Error::Usage(
            "--param applies to reports defined by files (see `report --list`)".into(),
        ));
    }
    let kind = builtin.expect("a built-in report");
    let period = if kind == Which::Unbilled {
        args.period
            .resolve_open_start(&args.store.zone(args.timezone.as_deref())?)?
    } else {
        args.period
            .resolve(&args.store.zone(args.timezone.as_deref())?)?
    };
    let drill = args.contract.is_some()
        || args.invoice.is_some()
        || args.agent.is_some()
        || args.unbilled
        || args.raw;
    if args.balances.is_some() && !matches!(kind, Which::Prepay | Which::Pack) {
        return Err(Error::Usage("--balances applies to `report prepay`".into()));
    }
    if drill && kind != Which::Actions {
        return Err(Error::Usage(
            "--contract, --invoice, --agent, --unbilled and --raw apply to `report actions` (the drill-down)".into(),
        ));
    }
    let root = args.store.existing()?;
    args.store
        .refuse_inside(args.out.as_deref(), "--out", None)?;
    let store = Store::open(&root)?;
    if store.manifest().files.is_empty() {
        return Err(Error::EmptyStore(root));
    }
    match (kind, args.by) {
        (_, None) | (Which::Adjustments, _) => {}
        (Which::Leakage, Some(By::Action | By::Contract)) => {}
        (Which::Leakage, Some(_)) => {
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
    if kind == Which::Pack {
        return pack(&args, &store, &root, &period);
    }
    if matches!(
        kind,
        Which::Unbilled | Which::Agents | Which::Actions | Which::Leakage | Which::Prepay
    ) {
        let layout = layout(&args)?;
        let balances = match (&args.balances, kind) {
            (Some(f), Which::Prepay) => Some(report::prepay::read_balances(f, &period)?),
            _ => None,
        };
        let sheet = match kind {
            Which::Unbilled => report::pack::unbilled(&store, &period)?,
            Which::Agents => report::pack::agents(&store, &period)?,
            Which::Prepay => {
                report::prepay::prepay(&store, &period, balances.as_deref(), args.low_below as i64)?
            }
            Which::Leakage => {
                report::pack::leakage(&store, &period, args.by == Some(By::Contract))?
            }
            _ => report::pack::actions(&store, &period, &drill_filter(&args)?, args.raw)?,
        };
        let (id, chart) = match kind {
            Which::Unbilled => ("unbilled", Chart::UnbilledByAge),
            Which::Agents => ("agents", Chart::BillableShare),
            Which::Prepay => ("prepay", Chart::PrepayBurnDown),
            Which::Leakage => ("leakage", Chart::None),
            _ => ("actions", Chart::None),
        };
        return write_sheet(
            &args,
            sheet,
            (&store, &period),
            &layout,
            (id, chart),
            balances.as_deref(),
        );
    }
    let kind = match kind {
        Which::Contracts => ReportKind::Contracts,
        Which::Invoices => ReportKind::Invoices,
        Which::Unbilled
        | Which::Agents
        | Which::Actions
        | Which::Leakage
        | Which::Prepay
        | Which::Pack => {
            unreachable!("handled above")
        }
        Which::Adjustments => {
            let grid = report::adjust::adjustments(&store, &period, args.by.unwrap_or(By::Action))?;
            let layout = layout(&args)?;
            progress.note(&grid.title);
            return write_output(args.out.as_deref(), |w| {
                report::format::write_grid(&grid, args.format, &layout, w)
            });
        }
    };
    let (_, report) = report::build_current(&root, kind, &period)?;
    for c in &report.closed {
        progress.note(&format!(
            "period {} ({}) is closed (since {}, {} actions, sha256 {}): its figures are from the close; see `report adjustments` for later changes",
            c.period, c.timezone, c.closed_at, c.actions, c.sha256
        ));
    }
    if report.undated > 0 {
        progress.note(&format!(
            "{} action(s) in the store have no usable datetime, so they belong to no period and are in no report",
            report.undated
        ));
    }
    for c in &report.conflicts {
        progress.note(&crate::report::safe::shown(c));
    }
    let layout = layout(&args)?;
    let line = report::format::coverage_line(&report);
    strict_gate(&args, &report.gaps, &line)?;
    write_output(args.out.as_deref(), |w| {
        report::format::write_with(&report, args.format, &layout, w)
    })?;
    if let Some(out) = &args.out {
        progress.note(&format!(
            "wrote {} rows to `{}`",
            report.rows.len(),
            out.display()
        ));
    }
    // Said even with --quiet: figures with a hole in them must not go out unnoticed.
    say_gaps(&report.gaps, &line);
    Ok(())
}
