//! `halo-billing status`: what the store holds.

use super::StoreArg;
use crate::error::Error;
use crate::progress::Progress;
use crate::store::Store;
use std::collections::BTreeMap;

/// Summarise the store: actions per month, sync windows, closed periods with their
/// hashes, leftovers of interrupted runs.
///
/// Reads only the manifest and the sync records; it takes no lock and can run while a
/// writer is busy (it shows the last committed state).
///
/// --rebuild-manifest is the way back when manifest.json was removed or damaged, or a
/// data file was: the manifest is made again from the sound data files (a file the old
/// manifest names must match its checksum; any other must read whole, with the store's
/// columns and only rows of its folder's month); an action in several files keeps its
/// newest copy. Files that are not sound, or whose rows all live in newer files, move to
/// STORE/recovered/ (nothing is deleted), and the months they held stop counting as
/// covered until they are synced or imported again.
///
/// --files prints the data files of the committed state (absolute paths, one a line), and
/// --view duckdb|spark a ready statement that makes an `actions` view over exactly those
/// files: an outside engine reading them sees one committed state, never a file a
/// crashed or running writer left beside them (a glob over the folders would count
/// those too). A commit keeps the files it replaced for HALO_BILLING_KEEP_REPLACED
/// minutes (60 unless the writer's environment says otherwise; 0: removed at once), so
/// a query over a list taken before it still reads its files whole. Date-times are UTC
/// instants in microseconds (Spark reads them with its defaults), the nanoseconds past
/// each in `<name>_sub_us` (--schema says every column).
///
/// Examples:
///   halo-billing status
///   halo-billing status --verify
///   halo-billing status --rebuild-manifest
///   duckdb -c "$(halo-billing status --view duckdb); SELECT count(*) FROM actions"
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    #[command(flatten)]
    store: StoreArg,
    /// Also check every data file against the size, SHA-256 and checksum the manifest
    /// records, and look for data files it does not name (exit 1 on any finding).
    #[arg(long, conflicts_with = "rebuild_manifest")]
    verify: bool,
    /// Make the manifest again from the store's sound data files (see above).
    #[arg(long)]
    rebuild_manifest: bool,
    /// Print the committed data files (absolute paths), one a line, and nothing else.
    #[arg(long, conflicts_with_all = ["verify", "rebuild_manifest", "view"])]
    files: bool,
    /// Print the store's columns (actions and Halo's records) as a Markdown table: type,
    /// unit, what Halo's no-values become, and which report columns they feed.
    #[arg(long, conflicts_with_all = ["verify", "rebuild_manifest", "files", "view"])]
    schema: bool,
    /// Print a statement making an `actions` view over the committed files, for DuckDB
    /// (SQL) or Spark (PySpark), and nothing else.
    #[arg(long, value_enum, conflicts_with_all = ["verify", "rebuild_manifest"])]
    view: Option<View>,
}

/// Which engine `--view` writes for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum View {
    /// `CREATE OR REPLACE VIEW actions AS SELECT * FROM read_parquet([...], hive_partitioning = true)`.
    Duckdb,
    /// `spark.read.parquet(...)` with the partition base path, registered as `actions`.
    Spark,
}

/// The committed data files of the store at `root`, absolute.
fn committed_files(root: &std::path::Path) -> Result<Vec<String>, Error> {
    let store = Store::open(root)?;
    Ok(store
        .manifest()
        .files
        .iter()
        .map(|f| root.join(&f.path).display().to_string())
        .collect())
}

/// Type, unit and null meaning of a field kind of the field table.
fn kind_doc(kind: &str) -> (&'static str, &'static str) {
    match kind {
        "Int" => ("INT64", "whole number; null when Halo sent none"),
        "RefId" => (
            "INT64",
            "id; null when Halo sent -1, 0 (no link; any id below 1) or none",
        ),
        "Text" => (
            "STRING",
            "text as Halo sent it (a bare number as its text); null when absent",
        ),
        "Key" => (
            "STRING",
            "text as Halo sent it; null when absent or blank (a blank invoice number: not invoiced)",
        ),
        "Flag" => ("BOOLEAN", "null when absent"),
        "Date" => (
            "TIMESTAMP(MICROS, isAdjustedToUTC=true)",
            "an instant in UTC, whole microseconds (floored; the nanoseconds past them in the next column); null for Halo's no-date values (1900-01-01, 1899-12-30, 0001-01-01)",
        ),
        "Hours" | "SignedHours" => (
            "INT64",
            "milliseconds: divide by 3,600,000 for hours; 0 when absent",
        ),
        "Days" => ("INT64", "milliseconds (Halo sends days); 0 when absent"),
        "Money" => ("INT64", "cents: divide by 100; 0 when absent"),
        "Miles" => ("INT64", "ten-thousandths: divide by 10,000; 0 when absent"),
        "Hash" => ("INT64", "not a Halo field"),
        _ => ("", ""),
    }
}

/// The store's columns as Markdown (`status --schema`).
fn schema_text() -> String {
    let cell = |s: &str| s.replace('|', "\\|").replace('\n', " ");
    let mut t = String::from(
        "# The store's columns\n\nActions (`STORE/actions/year=Y/month=M/*.parquet`, hive partitions `year`, `month` of the UTC month; \
         read the committed files: `halo-billing status --files`). Every figure is an exact integer in its unit, rounded once on import \
         (half away from zero).\n\n| column | type | unit, nulls | Halo field |\n|---|---|---|---|\n",
    );
    for (name, kind, doc) in crate::frame::column_docs() {
        let (ty, unit) = kind_doc(kind);
        t.push_str(&format!(
            "| `{name}` | {ty} | {} | {} |\n",
            cell(unit),
            cell(doc)
        ));
        if kind == "Date" {
            t.push_str(&format!(
                "| `{}` | INT16 | nanoseconds past `{name}`'s microsecond, 0 to 999 (Halo's 7th fractional digit as hundreds); null when `{name}` is | not a Halo field: `{name}` exact to the nanosecond is `{name}` + this |\n",
                crate::store::timeunit::sub_us_name(&name),
            ));
        }
    }
    t.push_str(
        "\nWhich store column feeds each report column (contracts, invoices, adjustments, actions; unbilled, agents, leakage, prepay use the same):\n\n\
         | report column | store column |\n|---|---|\n\
         | `contract_id`, `contract_ref` | `action_contract_id`, `action_contract_ref` |\n\
         | `invoice_number`, `invoice_id` | `actioninvoicenumber`, `invoice_id` |\n\
         | `time_taken_hours` | `timetaken_ms` |\n| `non_bill_hours` | `nonbilltime_ms` |\n| `travel_hours` | `traveltime_ms` |\n\
         | `mileage` | `mileage_e4` |\n| `chargeable_hours`, `chargeable_amount` | `actionchargehours_ms`, `actionchargeamount_cents` |\n\
         | `non_chargeable_hours`, `non_chargeable_amount` | `actionnonchargehours_ms`, `actionnonchargeamount_cents` |\n\
         | `prepay_hours`, `prepay_amount` | `actionprepayhours_ms`, `actionprepayamount_cents` |\n\
         | a row's period | `datetime`, read in the report's time zone |\n",
    );
    t.push_str(
        "\nHalo's records (`STORE/records/<table>/*.parquet`, one file each in the manifest's `records`): each field under Halo's name, \
         `_cents` money, `_ms` hours, `_e4` quantities and unrounded taxes; links of -1 or 0 and Halo's no-date values are null.\n\n\
         | table | key | columns |\n|---|---|---|\n",
    );
    for table in crate::records::Table::ALL {
        t.push_str(&format!(
            "| `{}` | {} | {} |\n",
            table.name(),
            table.key().join(", "),
            table
                .columns()
                .iter()
                .map(|c| format!("`{c}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    t
}

/// `s` as a single-quoted SQL string literal.
fn sql_quoted(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// `s` as a single-quoted Python string literal.
fn py_quoted(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// One line of the status text.
macro_rules! say {
    ($out:expr, $($arg:tt)*) => {{
        use std::fmt::Write as _;
        let _ = writeln!($out, $($arg)*);
    }};
}

/// Runs `status`: the text is built first and written at once, so that a closed pipe
/// (`status | head -1`) is not an error, and what was found is shown before a failed
/// verification's error.
pub fn run(args: Args, progress: &Progress) -> Result<(), Error> {
    if args.rebuild_manifest {
        return rebuild(&args, progress);
    }
    if args.schema {
        return super::write_output(None, |w| w.write_all(schema_text().as_bytes()));
    }
    if args.files || args.view.is_some() {
        let root = args.store.existing()?;
        let root = std::fs::canonicalize(&root).unwrap_or(root);
        let files = committed_files(&root)?;
        let text = match args.view {
            None => files.iter().map(|f| format!("{f}\n")).collect::<String>(),
            Some(View::Duckdb) => format!(
                "CREATE OR REPLACE VIEW actions AS SELECT * FROM read_parquet([{}], hive_partitioning = true)\n",
                files
                    .iter()
                    .map(|f| sql_quoted(f))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Some(View::Spark) => format!(
                "spark.read.option(\"basePath\", {}).parquet({}).createOrReplaceTempView(\"actions\")\n",
                py_quoted(&root.join("actions").display().to_string()),
                files
                    .iter()
                    .map(|f| py_quoted(f))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        return super::write_output(None, |w| w.write_all(text.as_bytes()));
    }
    let mut out = String::new();
    let result = describe(&args, &mut out);
    super::write_output(None, |w| w.write_all(out.as_bytes()))?;
    result
}

/// `status --rebuild-manifest`.
fn rebuild(args: &Args, progress: &Progress) -> Result<(), Error> {
    let root = args.store.existing()?;
    let _lock = crate::store::StoreLock::acquire(&root)?;
    let done = Store::rebuild_manifest(&root, progress)?;
    let mut text = format!(
        "manifest of `{}` rebuilt: {} action(s) in {} file(s) kept as they are, {} written again without rows a newer file holds",
        root.display(),
        done.rows,
        done.kept,
        done.rewritten
    );
    for (rel, why) in &done.set_aside {
        text.push_str(&format!(
            "\n  set aside in {}: {rel}: {why}",
            root.join("recovered").display()
        ));
    }
    if !done.uncovered.is_empty() {
        let months: Vec<String> = done
            .uncovered
            .iter()
            .map(|(y, m)| format!("{y}-{m:02}"))
            .collect();
        text.push_str(&format!(
            "\n  no longer counted as covered: {} (sync or import them again: `halo-billing sync --period {}`)",
            months.join(", "),
            months[0]
        ));
    }
    // Said even with --quiet: what was set aside is the user's to look at.
    eprintln!("halo-billing: {text}");
    Ok(())
}

fn describe(args: &Args, out: &mut String) -> Result<(), Error> {
    let root = args.store.existing()?;
    let store = Store::open(&root)?;
    let m = store.manifest();
    say!(out, "store      {}", root.display());
    if m.files.is_empty() {
        say!(
            out,
            "state      empty (run `halo-billing import` or `halo-billing sync`)"
        );
    } else {
        say!(
            out,
            "state      schema version {}, generation {}, committed {}",
            m.schema_version,
            m.generation,
            m.committed_at.as_deref().unwrap_or("-")
        );
        if m.schema_version < crate::store::SCHEMA_VERSION {
            say!(
                out,
                "dates      stored in nanoseconds (schema version {}), which Spark cannot read: the next import or sync rewrites the store once in version {} (UTC microseconds; nothing else changes)",
                m.schema_version,
                crate::store::SCHEMA_VERSION
            );
        }
        if !store.hashes_current() {
            say!(
                out,
                "hashes     of an earlier scheme: recomputed once by the next import, sync or close (nothing else changes)"
            );
        } else if m.summaries == 0 {
            say!(
                out,
                "summaries  none in the files' footers yet: reports read every row; the next import, sync or close rewrites the files once with them (rows unchanged)"
            );
        } else if m.summaries < crate::store::SUMMARIES {
            say!(
                out,
                "summaries  of an earlier release: reports without theirs (charge-rates) read every row; the next import, sync or close rewrites the files once with them (rows unchanged)"
            );
        }
    }
    let settings = store.settings()?;
    match (&settings.timezone, &settings.timezone_set) {
        (Some(z), Some(how)) => say!(out, "zone       {z}: periods are read in it (set by {how})"),
        (Some(z), None) => say!(out, "zone       {z}: periods are read in it"),
        (None, _) => say!(
            out,
            "zone       not set: periods are read in UTC until the first close or `halo-billing timezone ZONE`"
        ),
    }
    say!(out, "actions    {} in {} file(s)", m.rows(), m.files.len());
    let mut months: BTreeMap<(i32, u32), (u64, u64)> = BTreeMap::new();
    for f in &m.files {
        let e = months.entry(f.month()).or_default();
        e.0 += f.rows;
        e.1 += f.bytes;
    }
    for ((y, mo), (rows, bytes)) in &months {
        let label = if (*y, *mo) == (0, 0) {
            "undated".to_string()
        } else {
            format!("{y}-{mo:02}")
        };
        say!(out, "  {label:<9}{rows:>12} actions {bytes:>14} bytes");
    }
    let tomb: u64 = m.tombstones.iter().map(|f| f.rows).sum();
    say!(
        out,
        "deleted    {tomb} action(s) Halo stopped returning, kept as tombstones ({} file(s), excluded from reports)",
        m.tombstones.len()
    );
    let kept: Vec<&crate::store::Retired> = m
        .retired
        .iter()
        .filter(|r| root.join(&r.path).exists())
        .collect();
    if !kept.is_empty() {
        let last = kept.iter().filter_map(|r| r.since.as_deref()).max();
        say!(
            out,
            "replaced   {} file(s) earlier commits replaced, kept for outside readers that listed them (last replaced {}; removed by the first writer {} minutes after, see {})",
            kept.len(),
            last.unwrap_or("before grace periods"),
            crate::store::keep_replaced()?.num_minutes(),
            crate::store::KEEP_REPLACED_VAR
        );
    }
    let rows_of = |t: crate::records::Table| {
        m.records
            .iter()
            .find(|f| crate::records::Table::of_path(&f.path) == Some(t))
            .map_or(0, |f| f.rows)
    };
    use crate::records::Table;
    say!(
        out,
        "records    Halo's: {} contract(s), {} prepay record(s), {} invoice(s) with {} line(s){}",
        rows_of(Table::Contracts),
        rows_of(Table::Prepay),
        rows_of(Table::Invoices),
        rows_of(Table::InvoiceLines),
        if m.records.is_empty() {
            " (none synced or imported yet: `sync` fetches them)"
        } else {
            ""
        }
    );
    let windows: BTreeMap<String, String> = std::fs::read(store.sync_state_path())
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    match (
        windows.keys().next(),
        windows.keys().last(),
        windows.values().max(),
    ) {
        (Some(first), Some(last), Some(when)) => {
            let from = first.split("..").next().unwrap_or(first);
            let to = last.split("..").nth(1).unwrap_or(last);
            say!(
                out,
                "sync       {} window(s) committed covering {from} .. {to}; last sync {when}",
                windows.len()
            );
        }
        _ => say!(out, "sync       no windows synced"),
    }
    let pending = std::fs::read_dir(store.sync_pending_dir())
        .map(|d| d.count())
        .unwrap_or(0);
    if pending > 0 {
        say!(
            out,
            "           {pending} window(s) fetched by an interrupted sync, waiting for the next run"
        );
    }
    let rejects = std::fs::read_dir(root.join("rejects"))
        .map(|d| d.count())
        .unwrap_or(0);
    say!(
        out,
        "rejects    {rejects} file(s) of refused records in {}",
        root.join("rejects").display()
    );
    let closed = store.closed_periods()?;
    if closed.is_empty() {
        say!(out, "closed     no periods closed");
    }
    for c in &closed {
        match (&c.reopened_at, &c.reopen_reason) {
            (None, _) => say!(
                out,
                "closed     {} ({}) since {}: {} actions, sha256 {}",
                c.period,
                c.timezone,
                c.closed_at,
                c.actions,
                c.sha256
            ),
            (Some(at), reason) => say!(
                out,
                "reopened   {} ({}) closed {} ({} actions, sha256 {}), reopened {at}: {}",
                c.period,
                c.timezone,
                c.closed_at,
                c.actions,
                c.sha256,
                reason.as_deref().unwrap_or("")
            ),
        }
    }
    if let Some(holder) = crate::store::StoreLock::holder(&root) {
        say!(out, "lock       held by {holder} (a writer is at work)");
    }
    if args.verify {
        let mut problems = store.verify();
        let closes = store.closed_periods()?;
        for c in closes.iter() {
            if let Err(e) = store.verify_close(c) {
                problems.push(e.to_string());
            }
        }
        if !problems.is_empty() {
            return Err(Error::Verify(format!(
                "store `{}` failed verification:\n  {}",
                root.display(),
                problems.join("\n  ")
            )));
        }
        say!(
            out,
            "verify     all {} file(s) match the manifest's sizes, SHA-256 and checksums, no data file is unnamed, and all {} frozen copies of closes match theirs",
            m.files.len() + m.tombstones.len(),
            closes.len()
        );
    }
    Ok(())
}
