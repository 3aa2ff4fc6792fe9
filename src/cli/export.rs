//! `halo-billing export`: accounting files.

use super::StoreArg;
use crate::error::Error;
use crate::exact;
use crate::export::{self, mapping::Mapping, plan, write::OutFile};
use crate::progress::Progress;
use crate::store::register::{DocumentRecord, ExportRecord, FileRecord, Line};
use crate::store::{Store, StoreLock};
use std::collections::{BTreeMap, HashMap};
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
/// The register: every export that issues documents is recorded in the store (its
/// documents, each action's amount and content hash, its files with their SHA-256;
/// `halo-billing exports` lists them), before its files are written. So no work is
/// billed twice: work already on an export is left out of the next (named, with the
/// documents it went out on; exit 6), and work that changed since it was exported is
/// billed as the difference, as a correction naming the original document (invoice
/// `NUMBER-C1`; a credit note `NUMBER-CN1` where it is negative, in Xero's and
/// QuickBooks' credit-note files), or refused with --changed refuse (exit 7). The same
/// export again (same format, period and zone) with nothing new writes the same bytes.
/// DATEV keeps its own register, by Halo's invoice numbers: an invoice's work is
/// booked once; a change is booked as the difference. An export that was never
/// imported can be withdrawn: `halo-billing exports withdraw N --reason ...`.
///
/// Coverage: an export whose period the store does not wholly cover exits 5 and writes
/// nothing (--allow-gaps writes it anyway, saying so).
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
    /// IANA time zone the period is read in, e.g. Europe/London [default: the store's
    /// zone (see `halo-billing timezone`), else UTC].
    #[arg(long, value_name = "ZONE")]
    timezone: Option<String>,
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
    /// Write the export even when the store does not cover the whole period (the gaps
    /// are named); by default such an export exits 5 and writes nothing.
    #[arg(long)]
    allow_gaps: bool,
    /// Work exported before that changed since (amount, hours, contract): `correct` bills
    /// the difference as a correction naming the original document (a credit note where
    /// it is negative; DATEV: a correction booking), `refuse` writes nothing and lists
    /// each changed action (exit 7).
    #[arg(long, value_enum, default_value_t = plan::OnChange::Correct, value_name = "HOW")]
    changed: plan::OnChange,
    #[command(flatten)]
    store: StoreArg,
}

/// The export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum ExportFormat {
    /// Xero "Import invoices" CSV.
    Xero,
    /// QuickBooks Online "Import invoices" CSV.
    Quickbooks,
    /// DATEV EXTF Buchungsstapel (revenue of issued invoices).
    Datev,
    /// A plain ledger of invoice lines.
    Csv,
}

impl ExportFormat {
    /// Its name on the command line and in the register.
    pub(crate) fn name(self) -> &'static str {
        match self {
            ExportFormat::Xero => "xero",
            ExportFormat::Quickbooks => "quickbooks",
            ExportFormat::Datev => "datev",
            ExportFormat::Csv => "csv",
        }
    }
}

/// Writes every file or none: each goes to a new temporary file first (created
/// exclusively, under an unpredictable name); only when all are complete are they
/// renamed into place. An error removes the temporary files.
fn write_all(dir: &Path, files: &[OutFile]) -> Result<(), Error> {
    let out_err = |path: &Path, source| Error::Output {
        path: path.to_path_buf(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(|e| out_err(dir, e))?;
    let mut temps = Vec::new();
    for f in files {
        let path = dir.join(&f.name);
        let mut tmp = crate::fsutil::temp_file_beside(&path).map_err(|e| out_err(&path, e))?;
        crate::fsutil::default_mode(tmp.as_file())
            .and_then(|()| std::io::Write::write_all(tmp.as_file_mut(), &f.bytes))
            .and_then(|()| tmp.as_file().sync_all())
            .map_err(|e| out_err(&path, e))?;
        temps.push((tmp, path));
    }
    for (tmp, path) in temps {
        tmp.persist(&path).map_err(|e| out_err(&path, e.error))?;
    }
    crate::fsutil::sync_dir(dir).map_err(|e| out_err(dir, e))
}

/// What an export issues, ready to record and write.
struct Issue {
    files: Vec<OutFile>,
    documents: Vec<DocumentRecord>,
    lines: Vec<Line>,
    /// Work exported before, left out (or corrected).
    already: plan::Already,
    /// Exported actions that changed since.
    changed: Vec<plan::Changed>,
    /// Chargeable work without a contract, left out (sales).
    left_out: Option<export::Work>,
    /// One line on what was written.
    summary: String,
    /// Characters Windows-1252 could not hold (DATEV).
    lost: Vec<char>,
    /// Warnings said even with --quiet.
    warnings: Vec<String>,
}

/// The sales documents (Xero, QuickBooks, ledger) for the period's rows.
fn sales(
    store: &Store,
    period: &crate::period::Period,
    rows: &[crate::report::billed::ActionRow],
    format: ExportFormat,
    (map, mapping_name): (&Mapping, &str),
    stem: &str,
    on_change: plan::OnChange,
) -> Result<Issue, Error> {
    let billed = crate::report::billed::ledger(store, "sales")?;
    let plan = plan::sales(store, period, rows, &billed)?;
    refuse_changed(&plan.changed, on_change)?;
    let target = match format {
        ExportFormat::Xero => export::Target::Xero,
        ExportFormat::Quickbooks => export::Target::Quickbooks,
        _ => export::Target::Ledger,
    };
    let issued = export::Issued::of(&store.register()?);
    let built = export::invoices(&plan, &issued, map, mapping_name, period, target)
        .map_err(|e| Error::Usage(e.to_string()))?;
    let files = match format {
        ExportFormat::Xero => export::write::xero(&built.invoices, stem),
        ExportFormat::Quickbooks => export::write::quickbooks(&built.invoices, stem),
        _ => vec![export::write::ledger(&built.invoices, stem)],
    };
    // Reconciliation: what was billed before, what this export issues and what it
    // leaves out add up to the period's unbilled work now.
    let issued_now: i64 = built.invoices.iter().map(|i| i.signed_total_cents()).sum();
    let left = built.left_out.as_ref().map_or(0, |w| w.amount_cents);
    if plan.already.amount_cents + issued_now + left != plan.unbilled_total {
        return Err(Error::Verify(format!(
            "the export's own check failed: exported before {} + issued now {} + left out {} != unbilled now {}; nothing written",
            exact::format_money(plan.already.amount_cents),
            exact::format_money(issued_now),
            exact::format_money(left),
            exact::format_money(plan.unbilled_total)
        )));
    }
    // Each action's share goes on the document that carries it.
    let mut new_doc: HashMap<Option<i64>, String> = HashMap::new();
    let mut correction_doc: HashMap<String, String> = HashMap::new();
    for inv in &built.invoices {
        match &inv.corrects {
            Some(orig) => {
                correction_doc.insert(orig.clone(), inv.number.clone());
            }
            None => {
                for l in &inv.lines {
                    new_doc.insert(l.contract, inv.number.clone());
                }
            }
        }
    }
    let lines: Vec<Line> = plan
        .contributions
        .iter()
        .filter_map(|c| {
            let doc = match &c.corrects {
                Some(orig) => correction_doc.get(orig),
                None => new_doc.get(&c.share.contract),
            }?;
            Some(c.line(doc))
        })
        .collect();
    let documents: Vec<DocumentRecord> = built
        .invoices
        .iter()
        .map(|i| {
            let mut contracts: Vec<String> = i
                .lines
                .iter()
                .map(|l| export::mapping::key(l.contract))
                .collect();
            contracts.dedup();
            DocumentRecord {
                number: i.number.clone(),
                document: i.document.name().into(),
                customer: i.customer.clone(),
                contracts,
                date: i.date.to_string(),
                total_cents: i.total_cents(),
                corrects: i.corrects.clone(),
            }
        })
        .collect();
    let line_count: usize = built.invoices.iter().map(|i| i.lines.len()).sum();
    let fallback = built
        .invoices
        .iter()
        .flat_map(|i| &i.lines)
        .filter(|l| l.priced.fallback)
        .count();
    let credits = built
        .invoices
        .iter()
        .filter(|i| i.document == export::Document::CreditNote)
        .count();
    let corrections = built
        .invoices
        .iter()
        .filter(|i| i.corrects.is_some())
        .count();
    let mut warnings = match format {
        ExportFormat::Xero => export::formula_texts(&built.invoices, "Xero"),
        ExportFormat::Quickbooks => export::formula_texts(&built.invoices, "QuickBooks"),
        // The ledger CSV is for people: its texts are made safe to open in a spreadsheet.
        _ => Vec::new(),
    };
    if !plan.invoiced_since.is_empty() {
        warnings.push(format!(
            "{} action(s) on earlier exports have since been invoiced in Halo as well: check that they were not billed twice, (ticket_id, id): {}",
            plan.invoiced_since.len(),
            keys_shown(&plan.invoiced_since)
        ));
    }
    Ok(Issue {
        files,
        summary: format!(
            "{} document(s) ({} invoice(s), {} credit note(s); {} correction(s) of earlier documents), {} line(s) ({} priced as quantity 1), {} in all",
            built.invoices.len(),
            built.invoices.len() - credits,
            credits,
            corrections,
            line_count,
            fallback,
            exact::format_money(issued_now)
        ),
        documents,
        lines,
        already: plan.already,
        changed: plan.changed,
        left_out: built.left_out,
        lost: Vec::new(),
        warnings,
    })
}

/// The DATEV bookings of the invoices Halo issued in the period.
fn datev(
    store: &Store,
    period: &crate::period::Period,
    rows: &[crate::report::billed::ActionRow],
    map: &Mapping,
    mapping_name: &str,
    on_change: plan::OnChange,
) -> Result<Issue, Error> {
    let booked = crate::report::billed::ledger(store, "bookings")?;
    let plan = plan::bookings(store, period, rows, &booked)?;
    refuse_changed(&plan.changed, on_change)?;
    let bookings = export::write::datev_bookings(&plan, map).map_err(|problems| {
        Error::Usage(
            export::Invalid {
                mapping: mapping_name.to_string(),
                problems,
            }
            .to_string(),
        )
    })?;
    let booked_now: i64 = bookings.iter().map(|b| b.work.amount_cents).sum();
    if plan.already.amount_cents + booked_now != plan.issued_total {
        return Err(Error::Verify(format!(
            "the export's own check failed: booked before {} + booked now {} != invoiced now {}; nothing written",
            exact::format_money(plan.already.amount_cents),
            exact::format_money(booked_now),
            exact::format_money(plan.issued_total)
        )));
    }
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
    let (files, lost) = export::write::datev(&bookings, map, period, &created);
    let lines = plan
        .contributions
        .iter()
        .map(|c| c.line(c.invoice.as_deref().unwrap_or_default()))
        .collect();
    let documents = bookings
        .iter()
        .map(|b| DocumentRecord {
            number: b.invoice.clone(),
            document: "booking".into(),
            customer: String::new(),
            contracts: Vec::new(),
            date: format!("{:04}-{:02}", b.month.0, b.month.1),
            total_cents: b.work.amount_cents,
            corrects: b.correction.then(|| b.invoice.clone()),
        })
        .collect();
    let corrections = bookings.iter().filter(|b| b.correction).count();
    Ok(Issue {
        summary: format!(
            "{} booking(s) ({} correction(s) of earlier bookings), {} in all",
            bookings.len(),
            corrections,
            exact::format_money(booked_now)
        ),
        files,
        documents,
        lines,
        already: plan.already,
        changed: plan.changed,
        left_out: None,
        lost,
        warnings: export::formula_bookings(&bookings),
    })
}

/// `--changed refuse`: exported work that changed stops the export, each action listed.
fn refuse_changed(changed: &[plan::Changed], on_change: plan::OnChange) -> Result<(), Error> {
    if changed.is_empty() || on_change == plan::OnChange::Correct {
        return Ok(());
    }
    let list: Vec<String> = changed
        .iter()
        .map(|c| format!("  {}", c.describe()))
        .collect();
    Err(Error::Changed(format!(
        "{} exported action(s) changed since they were exported; nothing was written (--changed refuse). \
         Check them in Halo, then export with --changed correct to bill the differences as corrections of the documents named, \
         or withdraw an export that was never imported (`halo-billing exports withdraw N --reason ...`):\n{}",
        changed.len(),
        list.join("\n")
    )))
}

/// The first 20 keys, as `(ticket_id, id)`.
fn keys_shown(keys: &[(i64, i64)]) -> String {
    let shown: Vec<String> = keys
        .iter()
        .take(20)
        .map(|(t, i)| format!("({t}, {i})"))
        .collect();
    let more = keys.len().saturating_sub(20);
    if more > 0 {
        format!("{} … ({more} more)", shown.join(" "))
    } else {
        shown.join(" ")
    }
}

/// Up to ten names, then how many more.
fn some_of(names: impl IntoIterator<Item = String>) -> String {
    let all: Vec<String> = names.into_iter().collect();
    let mut s = all.iter().take(10).cloned().collect::<Vec<_>>().join(", ");
    if all.len() > 10 {
        s.push_str(&format!(" … and {} more", all.len() - 10));
    }
    s
}

/// The absolute form of `p` where its folder resolves.
fn absolute(p: &Path) -> String {
    let dir = p
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    match (std::fs::canonicalize(dir), p.file_name()) {
        (Ok(d), Some(n)) => d.join(n).display().to_string(),
        _ => p.display().to_string(),
    }
}

/// `--init-mapping FILE`: every contract of the period, to fill in.
fn init_mapping(
    path: &Path,
    rows: &[crate::report::billed::ActionRow],
    period: &crate::period::Period,
    customers: &BTreeMap<i64, String>,
    progress: &Progress,
) -> Result<(), Error> {
    if path.exists() {
        return Err(Error::Usage(format!(
            "`{}` exists already; --init-mapping writes a new file and never overwrites one",
            path.display()
        )));
    }
    // contract -> (references, not yet invoiced, invoiced), in cents
    let mut contracts: BTreeMap<Option<i64>, (crate::fold::base::Counts, i64, i64)> =
        BTreeMap::new();
    for r in rows {
        let chargeable = r.unbilled();
        let booked = r.invoiced && r.amount_cents != 0 && r.invoice_number.is_some();
        if !chargeable && !booked {
            continue;
        }
        let e = contracts.entry(r.contract).or_default();
        crate::fold::base::count(&mut e.0, Some(&r.contract_ref));
        if chargeable {
            e.1 += r.amount_cents;
        } else {
            e.2 += r.amount_cents;
        }
    }
    let list: Vec<export::mapping::TemplateContract> = contracts
        .into_iter()
        .map(|(c, (r, u, i))| {
            let reference = if c.is_some() {
                crate::fold::base::most_common(&r)
            } else {
                String::new()
            };
            let halo = c.and_then(|c| customers.get(&c)).cloned();
            (
                c,
                reference,
                exact::format_money(u),
                exact::format_money(i),
                halo,
            )
        })
        .collect();
    let text = export::mapping::template(&list, &period.label);
    super::write_output(Some(path), |w| w.write_all(text.as_bytes()))?;
    let sections = list.iter().filter(|c| c.0.is_some()).count();
    let from_halo = list
        .iter()
        .filter(|c| c.0.is_some() && c.4.is_some())
        .count();
    progress.note(&format!(
        "wrote `{}`: {sections} contract section(s), {from_halo} with the customer Halo names, {} to fill in (customer = \"FILL-IN\")",
        path.display(),
        sections - from_halo
    ));
    Ok(())
}

/// Runs `export`.
pub fn run(args: Args, progress: &Progress) -> Result<(), Error> {
    let root = args.store.existing()?;
    let zone = args.store.zone(args.timezone.as_deref())?;
    let period = args.period.resolve(&zone)?;
    let store = Store::open(&root)?;
    if store.manifest().files.is_empty() {
        return Err(Error::EmptyStore(root));
    }
    args.store
        .refuse_inside(args.out.as_deref(), "--out", None)?;
    args.store
        .refuse_inside(args.init_mapping.as_deref(), "--init-mapping", None)?;
    if let Some(path) = &args.init_mapping {
        let rows = crate::report::billed::action_rows(&store, &period)?;
        let customers = store
            .records(&[crate::records::Table::Contracts])?
            .customers();
        return init_mapping(path, &rows, &period, &customers, progress);
    }
    let (format, mapping_path, out) = (
        args.format.expect("clap requires it"),
        args.mapping.clone().expect("clap requires it"),
        args.out.clone().expect("clap requires it"),
    );
    let map = Mapping::read(&mapping_path)
        .map_err(Error::Usage)?
        .with_halo_customers(
            store
                .records(&[crate::records::Table::Contracts])?
                .customers(),
        );
    let mapping_name = mapping_path.display().to_string();
    if crate::fsutil::is_special(&out) {
        return Err(Error::Usage(format!(
            "--out `{}` is not a file or a folder (a device?): an export writes files, recorded with their SHA-256",
            out.display()
        )));
    }
    let (dir, stem) = if format == ExportFormat::Datev {
        if out.is_file() {
            return Err(Error::Usage(format!(
                "--out `{}` is a file; DATEV writes one file per posting month into a folder",
                out.display()
            )));
        }
        (out.clone(), String::new())
    } else {
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
            .unwrap_or(Path::new("."))
            .to_path_buf();
        let stem = out
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "export".into());
        (dir, stem)
    };
    // An export records what it issued in the store's register: one writer at a time.
    let _lock = StoreLock::acquire(&root)?;
    let store = Store::open(&root)?;
    // Never on half a history: a gap in the period writes nothing unless allowed.
    let gaps = crate::report::coverage::gaps(&store, period.from_ns, period.to_ns)?;
    let coverage = crate::report::coverage::text(&gaps);
    if !gaps.is_empty() {
        if !args.allow_gaps {
            return Err(Error::Incomplete(format!(
                "the export was not written: {coverage}. Fill the gap first; --allow-gaps writes it anyway"
            )));
        }
        eprintln!("halo-billing: {coverage} (written anyway: --allow-gaps)");
    }
    let rows = crate::report::billed::action_rows(&store, &period)?;
    let kind = format.name();
    let issue = match format {
        ExportFormat::Datev => datev(&store, &period, &rows, &map, &mapping_name, args.changed)?,
        _ => sales(
            &store,
            &period,
            &rows,
            format,
            (&map, &mapping_name),
            &stem,
            args.changed,
        )?,
    };
    let register = store.register()?;
    // The same export again (same kind, range and zone, nothing new to issue): its
    // recorded files, byte for byte.
    let same = register.exports.iter().rev().find(|e| {
        e.active()
            && e.kind == kind
            && (e.from_ns, e.to_ns) == (period.from_ns, period.to_ns)
            && e.timezone == period.timezone.name()
    });
    let (files, seq, reissued) = match same {
        Some(rec) if issue.documents.is_empty() => {
            let old_stem = Path::new(&rec.out)
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            let mut files = Vec::new();
            for f in &rec.files {
                let bytes = store.export_file(rec, &f.name)?;
                let name = match f.name.strip_prefix(&old_stem) {
                    Some(rest) if format != ExportFormat::Datev => format!("{stem}{rest}"),
                    _ => f.name.clone(),
                };
                files.push(OutFile { name, bytes });
            }
            (files, Some(rec.seq), true)
        }
        _ => (issue.files.clone(), None, false),
    };
    let replaced = replaced_exports(&register, &dir, &files, seq);
    let seq = match seq {
        Some(s) => Some(s),
        None if !issue.documents.is_empty() => {
            let total: i64 = issue.lines.iter().map(|l| l.amount_cents).sum();
            let rec = ExportRecord {
                seq: 0,
                kind: kind.to_string(),
                period: period.label.clone(),
                timezone: period.timezone.name().to_string(),
                from_ns: period.from_ns,
                to_ns: period.to_ns,
                at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                store_generation: store.manifest().generation,
                out: absolute(&out),
                mapping: absolute(&mapping_path),
                mapping_sha256: crate::jobs::file_sha256(&mapping_path).unwrap_or_default(),
                files: files
                    .iter()
                    .map(|f| FileRecord {
                        name: f.name.clone(),
                        path: absolute(&dir.join(&f.name)),
                        bytes: f.bytes.len() as u64,
                        sha256: crate::store::sha256_hex(&f.bytes),
                    })
                    .collect(),
                documents: issue.documents.clone(),
                actions: {
                    let mut keys: Vec<(i64, i64)> = issue.lines.iter().map(|l| l.key).collect();
                    keys.sort_unstable();
                    keys.dedup();
                    keys.len() as u64
                },
                total_cents: total,
                withdrawn: None,
            };
            let copies: Vec<(String, Vec<u8>)> = files
                .iter()
                .map(|f| (f.name.clone(), f.bytes.clone()))
                .collect();
            // The commit point: recorded before the files are renamed into place, so a
            // crash in between leaves an export the same command writes again.
            Some(store.record_export(rec, &issue.lines, &copies)?)
        }
        None => None,
    };
    write_all(&dir, &files).map_err(|e| match (seq, reissued) {
        // Recorded, not written: the same command writes the recorded files.
        (Some(s), false) => Error::Verify(format!(
            "{e}; export {s} is recorded in the register, so running the same command again writes its files (`halo-billing exports show {s}`)"
        )),
        _ => e,
    })?;
    let names: Vec<String> = files.iter().map(|f| f.name.clone()).collect();
    if reissued {
        progress.note(&format!(
            "export {} written again unchanged (nothing new to issue since): {} in `{}`",
            seq.expect("re-issued"),
            names.join(", "),
            dir.display()
        ));
    } else {
        progress.note(&format!(
            "wrote {} in `{}`: {}{}",
            if names.is_empty() {
                "no file".to_string()
            } else {
                names.join(", ")
            },
            dir.display(),
            issue.summary,
            match seq {
                Some(s) => format!("; recorded as export {s} (`halo-billing exports show {s}`)"),
                None => "; nothing to issue, so nothing recorded".into(),
            }
        ));
    }
    progress.note(&coverage);
    for r in &replaced {
        progress.note(r);
    }
    if !issue.lost.is_empty() {
        let mut chars: Vec<String> = issue.lost.iter().map(|c| format!("`{c}`")).collect();
        chars.dedup();
        eprintln!(
            "halo-billing: warning: {} character(s) that Windows-1252 cannot hold were written as `?`: {}",
            issue.lost.len(),
            chars.join(" ")
        );
    }
    for w in &issue.warnings {
        eprintln!("halo-billing: warning: {w}");
    }
    if !issue.changed.is_empty() && !reissued {
        progress.note(&format!(
            "{} exported action(s) changed since they were exported; their differences are on the correction documents above (--changed refuse lists them instead of correcting):\n  {}",
            issue.changed.len(),
            issue
                .changed
                .iter()
                .take(20)
                .map(plan::Changed::describe)
                .collect::<Vec<_>>()
                .join("\n  ")
        ));
    }
    // Said even with --quiet: money that is not on this export.
    let mut left = Vec::new();
    let own = if reissued { seq } else { None };
    let (actions, amount, documents, exports) = issue.already.besides(own);
    if actions > 0 {
        left.push(format!(
            "{actions} action(s) of this period were exported before, {} in all: left out of this export (already billed), on {} (export(s) {})",
            exact::format_money(amount),
            some_of(documents),
            some_of(exports.iter().map(|s| s.to_string()))
        ));
    }
    if let Some(w) = &issue.left_out {
        left.push(format!(
            "chargeable work without a contract was left out: {} action(s), {} h, {}; give it a contract in Halo, or a customer under [contracts.none] in the mapping",
            w.actions,
            exact::format_hours(w.hours_ms),
            exact::format_money(w.amount_cents)
        ));
    }
    if !left.is_empty() {
        for l in &left {
            eprintln!("halo-billing: warning: {l}");
        }
        return Err(Error::LeftOut(
            "the export was written, but work was left out of it (see the warnings above)".into(),
        ));
    }
    Ok(())
}

/// Lines saying which output files held an earlier export's file (copies stay in the
/// store), when this export replaces them with other bytes.
fn replaced_exports(
    register: &crate::store::register::Register,
    dir: &Path,
    files: &[OutFile],
    own: Option<u32>,
) -> Vec<String> {
    let mut out = Vec::new();
    for f in files {
        let path = dir.join(&f.name);
        let Ok(old) = std::fs::read(&path) else {
            continue;
        };
        let sha = crate::store::sha256_hex(&old);
        if sha == crate::store::sha256_hex(&f.bytes) {
            continue;
        }
        if let Some(e) = register
            .exports
            .iter()
            .find(|e| Some(e.seq) != own && e.files.iter().any(|r| r.sha256 == sha))
        {
            out.push(format!(
                "`{}` held export {}'s file, which this export replaces; that export stands (its copy is in the store: `halo-billing exports show {}`)",
                path.display(),
                e.seq,
                e.seq
            ));
        }
    }
    out
}
