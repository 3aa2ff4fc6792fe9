//! `halo-billing export`: accounting files.

use super::StoreArg;
use crate::error::Error;
use crate::exact;
use crate::export::{self, mapping::Mapping, write::OutFile};
use crate::progress::Progress;
use crate::store::Store;
use std::path::{Path, PathBuf};

/// Write the period's figures as files accounting systems import without edits.
///
/// xero, quickbooks: sales invoices for the chargeable work not yet invoiced (the
/// `report unbilled` selection): one invoice per contract (or per customer, with
/// invoice_per = "customer"), one line per charge rate or per contract, in Xero's
/// 27-column import layout (at most 500 invoices a file: more go to FILE-1.csv,
/// FILE-2.csv, ...) or QuickBooks Online's (`quickbooks_tax` = "us" or "vat" picks the
/// tax columns). Every line's Quantity (the hours) and UnitAmount (4 decimals) are
/// chosen so that round(Quantity x UnitAmount, 2), as the accounting system computes it,
/// is exactly the amount billed; where no such pair exists the line is quantity 1 with
/// the hours in its description. Chargeable work without a contract is left out (and
/// named, with its total) unless the mapping has [contracts.none].
///
/// datev: EXTF Buchungsstapel revenue bookings for invoices already issued in Halo
/// (actioninvoicenumber): one booking per invoice and revenue account, the invoice's
/// chargeable amount in the period; one file per posting month, EXTF_Buchungsstapel_
/// YYYY-MM.csv in the --out folder; semicolons, decimal comma, Windows-1252.
///
/// csv: a plain ledger of the invoice lines (README.md lists its columns).
///
/// The mapping (TOML) gives each contract its customer, accounts, tax, item, terms,
/// currency and invoice-number scheme; [defaults] fills the gaps. `--init-mapping FILE`
/// writes one listing every contract of the period, to fill in. Nothing is written
/// until everything is valid: every unmapped contract and missing value is listed at
/// once (exit 2). Files are written whole or not at all.
///
/// Examples:
///   halo-billing export --init-mapping mapping.toml --period 2026-10
///   halo-billing export xero --period 2026-10 --mapping mapping.toml --out xero-2026-10.csv
///   halo-billing export datev --period 2026-10 --mapping mapping.toml --out datev/
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// The format.
    #[arg(value_enum, required_unless_present = "init_mapping")]
    format: Option<ExportFormat>,
    #[command(flatten)]
    period: super::PeriodArgs,
    /// IANA time zone the period is read in.
    #[arg(long, default_value = "UTC", value_name = "ZONE")]
    timezone: String,
    /// The mapping file (TOML).
    #[arg(long, value_name = "FILE", required_unless_present = "init_mapping")]
    mapping: Option<PathBuf>,
    /// Where to write: a file (xero, quickbooks, csv) or a folder (datev).
    #[arg(long, value_name = "PATH", required_unless_present = "init_mapping")]
    out: Option<PathBuf>,
    /// Write a mapping listing every contract of the period, with placeholders to fill
    /// in, to FILE (refused if FILE exists).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["format", "mapping", "out"])]
    init_mapping: Option<PathBuf>,
    #[command(flatten)]
    store: StoreArg,
}

/// The export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum ExportFormat {
    /// Xero "Import invoices" CSV.
    Xero,
    /// QuickBooks Online "Import invoices" CSV.
    Quickbooks,
    /// DATEV EXTF Buchungsstapel (revenue of issued invoices).
    Datev,
    /// A plain ledger of invoice lines.
    Csv,
}

/// Writes every file or none: each goes to a temporary name first; only when all are
/// complete are they renamed into place.
fn write_all(dir: &Path, files: &[OutFile]) -> Result<(), Error> {
    let out_err = |path: &Path, source| Error::Output {
        path: path.to_path_buf(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(|e| out_err(dir, e))?;
    let mut temps = Vec::new();
    let result = (|| -> Result<(), Error> {
        for f in files {
            let path = dir.join(&f.name);
            let tmp = crate::fsutil::temp_beside(&path);
            temps.push(tmp.clone());
            let written = std::fs::File::create(&tmp).and_then(|mut file| {
                std::io::Write::write_all(&mut file, &f.bytes)?;
                file.sync_all()
            });
            written.map_err(|e| out_err(&path, e))?;
        }
        for f in files {
            let path = dir.join(&f.name);
            std::fs::rename(crate::fsutil::temp_beside(&path), &path)
                .map_err(|e| out_err(&path, e))?;
        }
        crate::fsutil::sync_dir(dir).map_err(|e| out_err(dir, e))
    })();
    if result.is_err() {
        for t in temps {
            let _ = std::fs::remove_file(t);
        }
    }
    result
}

/// Runs `export`.
pub fn run(args: Args, progress: &Progress) -> Result<(), Error> {
    let period = args.period.resolve(&args.timezone)?;
    let root = args.store.existing()?;
    let store = Store::open(&root)?;
    if store.manifest().files.is_empty() {
        return Err(Error::EmptyStore(root));
    }
    let sel = export::select(&store, &period)?;
    if let Some(path) = &args.init_mapping {
        if path.exists() {
            return Err(Error::Usage(format!(
                "`{}` exists already; --init-mapping writes a new file and never overwrites one",
                path.display()
            )));
        }
        // contract -> (reference, not yet invoiced, invoiced), in cents
        let mut contracts: std::collections::BTreeMap<Option<i64>, (String, i64, i64)> =
            Default::default();
        for (c, w) in &sel.unbilled {
            let e = contracts.entry(*c).or_default();
            e.0 = w.reference.clone();
            e.1 += w.by_rate.values().map(|r| r.amount_cents).sum::<i64>();
        }
        for (k, w) in &sel.issued {
            let e = contracts.entry(k.contract).or_default();
            if e.0.is_empty() {
                e.0 = sel
                    .issued_refs
                    .get(&k.contract)
                    .cloned()
                    .unwrap_or_default();
            }
            e.2 += w.amount_cents;
        }
        let list: Vec<export::mapping::TemplateContract> = contracts
            .into_iter()
            .map(|(c, (r, u, i))| (c, r, exact::format_money(u), exact::format_money(i)))
            .collect();
        let text = export::mapping::template(&list, &period.label);
        super::write_output(Some(path), |w| w.write_all(text.as_bytes()))?;
        progress.note(&format!(
            "wrote `{}`: {} contract section(s) to fill in (customer = \"FILL-IN\")",
            path.display(),
            list.iter().filter(|c| c.0.is_some()).count()
        ));
        return Ok(());
    }
    let (format, mapping_path, out) = (
        args.format.expect("clap requires it"),
        args.mapping.clone().expect("clap requires it"),
        args.out.clone().expect("clap requires it"),
    );
    let map = Mapping::read(&mapping_path).map_err(Error::Usage)?;
    let mapping_name = mapping_path.display().to_string();
    if format == ExportFormat::Datev {
        let bookings = export::write::datev_bookings(&sel.issued, &sel.issued_refs, &map).map_err(
            |problems| {
                Error::Usage(
                    export::Invalid {
                        mapping: mapping_name.clone(),
                        problems,
                    }
                    .to_string(),
                )
            },
        )?;
        let created: String = store
            .manifest()
            .committed_at
            .clone()
            .unwrap_or_default()
            .chars()
            .filter(char::is_ascii_digit)
            .chain(std::iter::repeat('0'))
            .take(17)
            .collect();
        let (files, lost) = export::write::datev(&bookings, &map, &period, &created);
        if out.is_file() {
            return Err(Error::Usage(format!(
                "--out `{}` is a file; DATEV writes one file per posting month into a folder",
                out.display()
            )));
        }
        write_all(&out, &files)?;
        let total: i64 = bookings.iter().map(|b| b.work.amount_cents).sum();
        progress.note(&format!(
            "wrote {} DATEV file(s) to `{}`: {} booking(s), {} in total",
            files.len(),
            out.display(),
            bookings.len(),
            exact::format_money(total)
        ));
        if !lost.is_empty() {
            let mut chars: Vec<String> = lost.iter().map(|c| format!("`{c}`")).collect();
            chars.dedup();
            eprintln!(
                "halo-billing: warning: {} character(s) that Windows-1252 cannot hold were written as `?`: {}",
                lost.len(),
                chars.join(" ")
            );
        }
        return Ok(());
    }
    let target = match format {
        ExportFormat::Xero => export::Target::Xero,
        ExportFormat::Quickbooks => export::Target::Quickbooks,
        _ => export::Target::Ledger,
    };
    let built = export::invoices(&sel, &map, &mapping_name, &period, target)
        .map_err(|e| Error::Usage(e.to_string()))?;
    if out.is_dir() {
        return Err(Error::Usage(format!(
            "--out `{}` is a folder; give a file name, e.g. `{}`",
            out.display(),
            out.join("xero.csv").display()
        )));
    }
    let dir = out
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let stem = out
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "export".into());
    let files = match format {
        ExportFormat::Xero => export::write::xero(&built.invoices, &stem),
        ExportFormat::Quickbooks => vec![export::write::quickbooks(&built.invoices, &stem)],
        _ => vec![export::write::ledger(&built.invoices, &stem)],
    };
    // Reconciliation: the invoices and what was left out add up to the unbilled work.
    let unbilled: i64 = sel
        .unbilled
        .values()
        .flat_map(|w| w.by_rate.values())
        .map(|w| w.amount_cents)
        .sum();
    let invoiced: i64 = built.invoices.iter().map(|i| i.total_cents()).sum();
    let left = built.left_out.as_ref().map_or(0, |w| w.amount_cents);
    if invoiced + left != unbilled {
        return Err(Error::Verify(format!(
            "the export's own check failed: invoices {} + left out {} != unbilled {}; nothing written",
            exact::format_money(invoiced),
            exact::format_money(left),
            exact::format_money(unbilled)
        )));
    }
    write_all(dir, &files)?;
    let lines: usize = built.invoices.iter().map(|i| i.lines.len()).sum();
    let fallback = built
        .invoices
        .iter()
        .flat_map(|i| &i.lines)
        .filter(|l| l.priced.fallback)
        .count();
    let names: Vec<String> = files.iter().map(|f| f.name.clone()).collect();
    progress.note(&format!(
        "wrote {} in `{}`: {} invoice(s), {} line(s) ({} priced as quantity 1), {} in total",
        names.join(", "),
        dir.display(),
        built.invoices.len(),
        lines,
        fallback,
        exact::format_money(invoiced)
    ));
    if let Some(w) = &built.left_out {
        // Said even with --quiet: money that is not on any invoice.
        eprintln!(
            "halo-billing: warning: chargeable work without a contract was left out: {} action(s), {} h, {}; give it a contract in Halo, or a customer under [contracts.none] in the mapping",
            w.actions,
            exact::format_hours(w.hours_ms),
            exact::format_money(w.amount_cents)
        );
    }
    Ok(())
}
