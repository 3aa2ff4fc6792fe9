//! The local store: actions as Parquet files partitioned by the month of their
//! `datetime`, and a manifest naming the files that make up the current state.
//!
//! Layout (the only module that knows it):
//!
//! ```text
//! STORE/manifest.json                                   which files are current
//! STORE/.lock                                           the writer's OS lock (pid and start inside)
//! STORE/actions/year=2026/month=10/part-g000003-0000.parquet   (65,536 rows per file)
//! STORE/actions/year=0/month=0/part-...parquet          actions with no usable datetime
//! STORE/rejects/import-<time>.ndjson                    records refused by an import
//! STORE/tombstones/part-g....parquet                    actions Halo stopped returning
//! STORE/sync/windows.json                               windows `sync` has committed
//! STORE/coverage.json                                   date ranges `import` brought
//! STORE/sync/pending/<from>_<to>.json                   fetched windows not yet committed
//! STORE/sync/held-deletions-<time>.csv                  deletions a sync's guard held back
//! STORE/settings.json                                   the store's reporting time zone
//! STORE/exports.json, STORE/exports/<seq>/              the export register (`crate::register`)
//! ```
//!
//! Partitions are hive-style so other engines read them directly. Months are UTC months.
//! A commit writes new files under a new generation number, flushes them, then replaces
//! the manifest atomically; files the new manifest no longer names are removed after.
//! Readers go through the manifest only, so they never see a half-written state.
//!
//! One writer at a time holds `STORE/.lock` ([`StoreLock`]); a writer starting after a
//! crash removes what the crashed one left ([`Store::clean_leftovers`]). A commit
//! rewrites only the month partitions whose rows changed; a re-import of unchanged data
//! writes nothing.

mod closed;
mod coverage;
mod encode;
pub mod footer;
pub mod index;
mod lock;
mod manifest;
mod migrate;
mod rebuild;
pub mod register;
mod settings;
pub mod timeunit;
mod verify;
mod write;

pub use closed::{ClosedPeriod, digest, key_hashes};
pub use coverage::{gaps as coverage_gaps, minus as coverage_minus};
pub use lock::{Holder, StoreLock};
pub use manifest::{FileEntry, Manifest, Retired, SCHEMA_VERSION, SUMMARIES};
pub use migrate::Migration;
pub use rebuild::Rebuilt;
pub use settings::Settings;
pub use write::{CommitStats, DeletionGuard, HeldAction, HeldWindow, Writer};

use crate::frame;
use polars::prelude::*;
use std::fs::File;
use std::path::{Path, PathBuf};

/// Store failures; each names the file or setting at fault.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A file could not be read or written.
    #[error("{action} `{path}`: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// Parquet reading or writing failed.
    #[error("parquet `{path}`: {source}")]
    Parquet {
        /// The file.
        path: PathBuf,
        /// polars' error.
        source: PolarsError,
    },
    /// The manifest is not one this build can read.
    #[error("store manifest `{path}`: {reason}")]
    Manifest {
        /// The manifest file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A data file does not have the schema the manifest promises.
    #[error("store file `{path}` has an unexpected schema: {reason}")]
    Schema {
        /// The file.
        path: PathBuf,
        /// The difference.
        reason: String,
    },
    /// Another process is writing to the store.
    #[error(
        "store `{path}` is being written by {holder}; nothing was done. Run this again when it has finished (the operating system releases the lock when that process ends, however it ends)"
    )]
    Locked {
        /// The store.
        path: PathBuf,
        /// Who holds the lock.
        holder: lock::Holder,
    },
    /// A closed period's frozen copy cannot be trusted or used.
    #[error("closed period `{path}`: {reason}")]
    Closed {
        /// The frozen copy (or the registry).
        path: PathBuf,
        /// What is wrong, and what to do.
        reason: String,
    },
    /// A total does not fit in 64 bits.
    #[error("{0}")]
    Overflow(String),
    /// A setting from the environment that does not read.
    #[error("{0}")]
    Setting(String),
    /// The group totals a partition file carries in its footer cannot be used.
    #[error(
        "store file `{path}`: the totals in its footer {reason}; the file may be damaged (check it with `halo-billing status --verify`)"
    )]
    Totals {
        /// The file.
        path: PathBuf,
        /// What is wrong with them.
        reason: String,
    },
    /// A store folder holds data files but no manifest.
    #[error(
        "store `{path}` holds {files} data file(s) but no manifest.json (removed, or lost in a restore), so its state is unknown \
         and nothing is read or written: an import or sync now would start a new store over them. Restore manifest.json from \
         a backup, or rebuild it from the files: `halo-billing status --rebuild-manifest`"
    )]
    NoManifest {
        /// The store.
        path: PathBuf,
        /// Data files found.
        files: usize,
    },
    /// A store file differs from what the manifest recorded of it.
    #[error(
        "store file `{path}` {reason}: it was changed or damaged after it was written, so no figure is computed from it. \
         Restore it from a backup of the store; or take it out with `halo-billing status --rebuild-manifest` (its month is then \
         no longer covered) and sync or import that month again"
    )]
    Damaged {
        /// The file.
        path: PathBuf,
        /// How it differs.
        reason: String,
    },
    /// A value the store keeps in a partition file's footer cannot be read.
    #[error(
        "store file `{path}`: the value `{key}` in its footer {reason}; the file may be damaged (check it with `halo-billing status --verify`)"
    )]
    Footer {
        /// The file.
        path: PathBuf,
        /// The footer key.
        key: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A partition file's contract index does not fit the file.
    #[error(
        "store file `{path}`: the contract index in its footer {reason}; the file may be damaged (check it with `halo-billing status --verify`)"
    )]
    Index {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
}

/// A store folder and its current manifest.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
    manifest: Manifest,
}

/// Rows per data file: readers hold about this many rows of the columns they need at a
/// time.
pub const FILE_ROWS: usize = 65_536;

/// Rows per Parquet row group of a partition file. A partition file's rows are clustered
/// by contract (see `write::MonthFiles::write`), so the row groups' statistics let a
/// reader filtering on one contract skip most of a file.
pub const ROW_GROUP_ROWS: usize = 8_192;

/// A `(year, month)` partition key; `(0, 0)` holds actions without a usable datetime.
pub type Month = (i32, u32);

/// The partition key of an action's datetime (UTC nanoseconds).
pub fn month_of(datetime: Option<i64>) -> Month {
    use chrono::Datelike;
    match datetime {
        None => (0, 0),
        Some(ns) => {
            let dt = chrono::DateTime::from_timestamp_nanos(ns);
            (dt.year(), dt.month())
        }
    }
}

/// SHA-256 of `bytes`, as lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The XXH3-128 of `bytes`, hex: the checksum a reader verifies a store file against.
pub fn xxh3_hex(bytes: &[u8]) -> String {
    format!("{:032x}", xxhash_rust::xxh3::xxh3_128(bytes))
}

/// The lock file's name inside a store folder.
pub fn lock_file_name() -> &'static str {
    lock::LOCK_FILE
}

/// Every file under the store's data folders (`actions/` and `tombstones/`), whatever
/// the manifest says of it.
pub(crate) fn data_folder_files(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.join("actions"), root.join("tombstones")];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            match e.file_type() {
                Ok(t) if t.is_dir() => stack.push(e.path()),
                Ok(t) if t.is_file() => out.push(e.path()),
                _ => {}
            }
        }
    }
    out.sort();
    out
}

/// Every file under `records/<table>/` (Halo's billing records).
fn records_folder_files(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for t in crate::records::Table::ALL {
        if let Ok(entries) = std::fs::read_dir(root.join("records").join(t.name())) {
            out.extend(
                entries
                    .flatten()
                    .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
                    .map(|e| e.path()),
            );
        }
    }
    out.sort();
    out
}

/// The month of a partition folder `.../year=2026/month=10`, if it is one.
pub fn month_of_folder(dir: &Path) -> Option<Month> {
    let m = dir
        .file_name()?
        .to_str()?
        .strip_prefix("month=")?
        .parse()
        .ok()?;
    let y = dir
        .parent()?
        .file_name()?
        .to_str()?
        .strip_prefix("year=")?
        .parse()
        .ok()?;
    Some((y, m))
}

/// The UTC range `[from, to)` of a month partition, in nanoseconds (the undated
/// partition `(0, 0)` gets an empty range).
pub fn month_bounds(m: Month) -> (i64, i64) {
    use chrono::NaiveDate;
    let start = |y: i32, mo: u32| {
        NaiveDate::from_ymd_opt(y, mo, 1)
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .and_then(|t| t.and_utc().timestamp_nanos_opt())
    };
    let next = if m.1 == 12 {
        (m.0 + 1, 1)
    } else {
        (m.0, m.1 + 1)
    };
    match (start(m.0, m.1), start(next.0, next.1)) {
        (Some(a), Some(b)) if m != (0, 0) => (a, b),
        _ => (0, 0),
    }
}

impl Store {
    /// Opens the store at `root`; a folder without a manifest is an empty store.
    pub fn open(root: &Path) -> Result<Store, StoreError> {
        let path = root.join(manifest::FILE_NAME);
        let manifest = Manifest::load(&path)?;
        let store = Store {
            root: root.to_path_buf(),
            manifest,
        };
        // No manifest: an empty store, unless data files say otherwise (a removed or
        // lost manifest). Then nothing may start a new state over them.
        if store.manifest.generation == 0 && !path.exists() {
            let held = store.unnamed_files();
            if !held.is_empty() {
                return Err(StoreError::NoManifest {
                    path: root.to_path_buf(),
                    files: held.len(),
                });
            }
        }
        Ok(store)
    }

    /// The store folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The current manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// Where a refused-records file for a run started at `stamp` goes.
    pub fn rejects_path(&self, stamp: &str) -> PathBuf {
        self.root
            .join("rejects")
            .join(format!("import-{stamp}.ndjson"))
    }

    /// A rejects file name no earlier run used: the time to the millisecond, and a
    /// counter when that name is taken (two imports within one millisecond, or a clock
    /// set back).
    pub fn new_rejects_path(&self) -> PathBuf {
        let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ").to_string();
        let first = self.rejects_path(&stamp);
        (1..)
            .map(|n| match n {
                1 => first.clone(),
                n => self.rejects_path(&format!("{stamp}-{n}")),
            })
            .find(|p| !p.exists())
            .expect("an unused name")
    }

    /// Removes what a killed writer left behind: staging folders, temporary files, data
    /// files of a later generation than the manifest's (written by a commit that never
    /// switched), and the files the last commit retired (replaced, not yet removed). Any
    /// other file the manifest does not name is left where it is: the store does not own
    /// it ([`Store::stray_files`] names them). Call only while holding the lock.
    pub fn clean_leftovers(&self) -> Result<usize, StoreError> {
        let mut removed = 0;
        let Ok(entries) = std::fs::read_dir(&self.root) else {
            return Ok(0);
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let p = e.path();
            let kind = e.file_type();
            if name.starts_with(".staging-") && kind.as_ref().is_ok_and(|t| t.is_dir()) {
                removed += usize::from(std::fs::remove_dir_all(&p).is_ok());
            } else if name.starts_with('.')
                && name.contains(".tmp-")
                && kind.as_ref().is_ok_and(|t| t.is_file())
            {
                removed += usize::from(std::fs::remove_file(&p).is_ok());
            }
        }
        removed += self.remove_expired(&self.manifest.retired)?;
        for (path, generation) in self.unnamed_files() {
            if generation.is_some_and(|g| g > self.manifest.generation) {
                removed += usize::from(std::fs::remove_file(&path).is_ok());
            }
        }
        Ok(removed)
    }

    /// The retired list of a commit that replaces `replaced`: the files earlier commits
    /// retired that are still on disk, and `replaced`, retired now.
    pub(crate) fn retiring<'a>(
        &self,
        replaced: impl Iterator<Item = &'a FileEntry>,
    ) -> Vec<Retired> {
        let now = chrono::Utc::now();
        self.manifest
            .retired
            .iter()
            .filter(|r| self.root.join(&r.path).exists())
            .cloned()
            .chain(replaced.map(|f| Retired::now(f.path.clone(), now)))
            .collect()
    }

    /// Removes the files of `retired` whose grace period ([`keep_replaced`]) has ended
    /// (or that carry no time: retired by a build before grace periods); returns how
    /// many it removed.
    pub(crate) fn remove_expired(&self, retired: &[Retired]) -> Result<usize, StoreError> {
        let keep = keep_replaced()?;
        let now = chrono::Utc::now();
        let mut removed = 0;
        for r in retired.iter().filter(|r| r.expired(now, keep)) {
            removed += usize::from(std::fs::remove_file(self.root.join(&r.path)).is_ok());
        }
        Ok(removed)
    }

    /// The data files under `actions/` and `tombstones/` that the manifest does not name
    /// (nor retire), with the generation in their names.
    fn unnamed_files(&self) -> Vec<(PathBuf, Option<u64>)> {
        let named: std::collections::HashSet<PathBuf> = self
            .manifest
            .files
            .iter()
            .chain(&self.manifest.tombstones)
            .chain(&self.manifest.records)
            .map(|f| self.root.join(&f.path))
            .chain(
                self.manifest
                    .retired
                    .iter()
                    .map(|r| self.root.join(&r.path)),
            )
            .collect();
        data_folder_files(&self.root)
            .into_iter()
            .chain(records_folder_files(&self.root))
            .filter(|p| !named.contains(p))
            .map(|p| {
                let generation = p
                    .file_name()
                    .and_then(|n| n.to_str())
                    .and_then(manifest::generation_of);
                (p, generation)
            })
            .collect()
    }

    /// Data files the store holds whose manifest does not name them and that no crashed
    /// writer of a later generation left: a removed manifest entry, or a file put there
    /// by hand. Their months are not vouched for (reports count them as not covered);
    /// `status --verify` lists them.
    pub fn stray_files(&self) -> Vec<PathBuf> {
        self.unnamed_files()
            .into_iter()
            .filter(|(_, g)| g.is_none_or(|g| g <= self.manifest.generation))
            .map(|(p, _)| p)
            .collect()
    }

    /// Checks every file the manifest names against its size and SHA-256; returns one
    /// line per problem (empty: all good).
    pub fn verify(&self) -> Vec<String> {
        let mut problems = Vec::new();
        for f in self
            .manifest
            .files
            .iter()
            .chain(&self.manifest.tombstones)
            .chain(&self.manifest.records)
        {
            match std::fs::read(self.root.join(&f.path)) {
                Err(e) => problems.push(format!("{}: {e}", f.path)),
                Ok(b) if b.len() as u64 != f.bytes => problems.push(format!(
                    "{}: {} bytes, manifest says {}",
                    f.path,
                    b.len(),
                    f.bytes
                )),
                Ok(b) if !f.sha256.is_empty() && sha256_hex(&b) != f.sha256 => {
                    problems.push(format!("{}: SHA-256 differs from the manifest", f.path))
                }
                Ok(b) if f.xxh3.as_ref().is_some_and(|x| *x != xxh3_hex(&b)) => {
                    problems.push(format!("{}: checksum differs from the manifest", f.path))
                }
                Ok(_) => {}
            }
        }
        for (p, g) in self.unnamed_files() {
            if g.is_some_and(|g| g > self.manifest.generation) {
                problems.push(format!(
                    "{}: left by a writer that never committed (generation {} after the manifest's {}): no report reads it and the next writer removes it, \
                     but an outside engine reading the folder by a glob would count its rows; read the manifest's files instead (`halo-billing status --files`)",
                    p.strip_prefix(&self.root).unwrap_or(&p).display(),
                    g.unwrap_or_default(),
                    self.manifest.generation
                ));
            }
        }
        for p in self.stray_files() {
            problems.push(format!(
                "{}: a data file the manifest does not name (a removed entry, or put there by hand): its month is not \
                 counted as covered. If it belongs to the store, rebuild the manifest (`halo-billing status --rebuild-manifest`); \
                 else move it out of the store",
                p.strip_prefix(&self.root).unwrap_or(&p).display()
            ));
        }
        problems
    }

    /// The stored rows of one table of Halo's billing records (none: empty), the file
    /// checked against the manifest first.
    pub fn record_rows(
        &self,
        t: crate::records::Table,
    ) -> Result<Vec<crate::records::Row>, StoreError> {
        self.record_rows_in(&self.manifest.records, t)
    }

    fn record_rows_in(
        &self,
        entries: &[FileEntry],
        t: crate::records::Table,
    ) -> Result<Vec<crate::records::Row>, StoreError> {
        // The store's own files are `records/<table>/...`; a close's copies end in
        // `-<table>.parquet`.
        let suffix = format!("-{}.parquet", t.name());
        let Some(f) = entries.iter().find(|f| {
            crate::records::Table::of_path(&f.path) == Some(t) || f.path.ends_with(&suffix)
        }) else {
            return Ok(Vec::new());
        };
        self.verify_file(f)?;
        let path = self.root.join(&f.path);
        let df = read_parquet(&path, None)?;
        crate::records::from_frame(t, &df).map_err(|reason| StoreError::Manifest {
            path: path.clone(),
            reason: format!("the {} table {reason}", t.name()),
        })
    }

    /// The tables `tables` of Halo's billing records the store holds (a table not asked
    /// for is not read, and reads as empty).
    pub fn records(
        &self,
        tables: &[crate::records::Table],
    ) -> Result<crate::records::Stored, StoreError> {
        let entries = &self.manifest.records;
        self.records_in(entries, self.manifest.committed_at.clone(), tables)
    }

    /// The tables `tables` of the records frozen with a close (as the store held them
    /// when it was made).
    pub fn records_of_close(
        &self,
        c: &ClosedPeriod,
        tables: &[crate::records::Table],
    ) -> Result<crate::records::Stored, StoreError> {
        self.records_in(&c.records, Some(c.closed_at.clone()), tables)
    }

    fn records_in(
        &self,
        entries: &[FileEntry],
        committed_at: Option<String>,
        tables: &[crate::records::Table],
    ) -> Result<crate::records::Stored, StoreError> {
        let mut out = crate::records::Stored {
            committed_at,
            ..Default::default()
        };
        for &t in tables {
            out.tables.insert(t, self.record_rows_in(entries, t)?);
        }
        Ok(out)
    }

    /// Where `sync` keeps windows it fetched but has not committed yet.
    pub fn sync_pending_dir(&self) -> PathBuf {
        self.root.join("sync").join("pending")
    }

    /// Writes the actions whose deletions a sync's guard held back to a new CSV file
    /// `STORE/sync/held-deletions-<time>.csv` (`ticket_id,id,window_from,window_to`, the
    /// window that no longer returned the action), and returns its path. Call only while
    /// holding the lock.
    pub fn write_held_deletions(&self, held: &[HeldAction]) -> Result<PathBuf, StoreError> {
        let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ").to_string();
        let dir = self.root.join("sync");
        let path = (1..)
            .map(|n| match n {
                1 => dir.join(format!("held-deletions-{stamp}.csv")),
                n => dir.join(format!("held-deletions-{stamp}-{n}.csv")),
            })
            .find(|p| !p.exists())
            .expect("an unused name");
        let io = |action, source| StoreError::Io {
            action,
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(&dir).map_err(|e| io("cannot create", e))?;
        let at = crate::ingest::halo::fetch::halo_time;
        crate::fsutil::write_atomic(&path, |w| {
            use std::io::Write;
            writeln!(w, "ticket_id,id,window_from,window_to")?;
            for ((t, i), (f, to)) in held {
                writeln!(w, "{t},{i},{}Z,{}Z", at(*f), at(*to))?;
            }
            Ok(())
        })
        .map_err(|e| io("cannot write", e))?;
        Ok(path)
    }

    /// Where `sync` records the windows it has committed.
    pub fn sync_state_path(&self) -> PathBuf {
        self.root.join("sync").join("windows.json")
    }

    /// Files whose month lies in the UTC range `[from_ns, to_ns)`; never the undated ones.
    pub fn files_overlapping(&self, from_ns: i64, to_ns: i64) -> Vec<&FileEntry> {
        let first = month_of(Some(from_ns));
        let last = month_of(Some(to_ns - 1));
        self.manifest
            .files
            .iter()
            .filter(|f| f.month() != (0, 0) && f.month() >= first && f.month() <= last)
            .collect()
    }

    /// Rows stored without a usable datetime.
    pub fn undated_rows(&self) -> u64 {
        self.manifest
            .files
            .iter()
            .filter(|f| f.month() == (0, 0))
            .map(|f| f.rows)
            .sum()
    }

    /// Reads `columns` of rows `[offset, offset + len)` of one file, checking each
    /// column's type against the schema. Reading a file in slices keeps memory to a
    /// slice's worth of the needed columns.
    pub fn read_slice(
        &self,
        file: &FileEntry,
        columns: &[&str],
        offset: usize,
        len: usize,
    ) -> Result<DataFrame, StoreError> {
        self.verify_read(file, Some((offset, len)))?;
        let path = self.root.join(&file.path);
        let reader = ParquetReader::new(open(&path)?);
        let df = self.finish_read(&path, reader, columns, (offset, len))?;
        // Rows the manifest does not promise are an error, never a report of them.
        let want = (file.rows as usize).saturating_sub(offset).min(len);
        if df.height() != want && file.rows > 0 {
            return Err(StoreError::Schema {
                path,
                reason: format!(
                    "{} row(s) decoded where the manifest records {want} from row {offset}",
                    df.height()
                ),
            });
        }
        Ok(df)
    }

    /// Reads `columns` of the rows `(offset, len)` through `reader` (of `path`), checked
    /// against the store's schema, in one chunk.
    fn finish_read(
        &self,
        path: &Path,
        mut reader: ParquetReader<File>,
        columns: &[&str],
        slice: (usize, usize),
    ) -> Result<DataFrame, StoreError> {
        let bad = |source| StoreError::Parquet {
            path: path.to_path_buf(),
            source,
        };
        let has = reader.schema().map_err(bad)?;
        let wanted = timeunit::stored_columns(columns, |c| has.contains(c));
        let df = reader
            .with_columns(Some(wanted))
            .with_slice(Some(slice))
            .finish()
            .map_err(bad)?;
        let mut df = timeunit::from_stored(df).map_err(bad)?;
        self.check_schema(path, &df, columns)?;
        df.rechunk_mut();
        Ok(df)
    }

    /// That `df` (read from `path`) has `columns` with the types of the store's schema.
    fn check_schema(
        &self,
        path: &Path,
        df: &DataFrame,
        columns: &[&str],
    ) -> Result<(), StoreError> {
        let schema = frame::schema();
        for c in columns {
            let want = schema.get(c).expect("column named from the schema");
            match df.schema().get(c) {
                Some(d) if d == want => {}
                other => {
                    return Err(StoreError::Schema {
                        path: path.to_path_buf(),
                        reason: format!("column `{c}` is {other:?}, expected {want}"),
                    });
                }
            }
        }
        Ok(())
    }

    /// A lazy scan of `file`'s rows whose `datetime` lies in `[from_ns, to_ns)` (for
    /// polars to push projections and predicates into), filtered on the stored columns
    /// so that row groups outside the range are skipped. The file is opened first, so
    /// that one gone is the same I/O error as for other reads.
    pub fn scan_range(
        &self,
        file: &FileEntry,
        from_ns: i64,
        to_ns: i64,
    ) -> Result<LazyFrame, StoreError> {
        let raw = self.scan_stored(std::slice::from_ref(file))?;
        let c = frame::col::DATETIME;
        if self.manifest.schema_version >= 3 {
            Ok(joined(
                raw.filter(timeunit::stored_range(c, from_ns, to_ns)),
            ))
        } else {
            let dtype = DataType::Datetime(TimeUnit::Nanoseconds, None);
            let at = |ns: i64| lit(ns).cast(dtype.clone());
            Ok(raw.filter(col(c).gt_eq(at(from_ns)).and(col(c).lt(at(to_ns)))))
        }
    }

    /// One lazy scan of `files` in turn (polars reads a few ahead, not all at once),
    /// date-times in nanoseconds.
    pub fn scan_files(&self, files: &[FileEntry]) -> Result<LazyFrame, StoreError> {
        let raw = self.scan_stored(files)?;
        Ok(if self.manifest.schema_version >= 3 {
            joined(raw)
        } else {
            raw
        })
    }

    /// The files' columns as stored.
    fn scan_stored(&self, files: &[FileEntry]) -> Result<LazyFrame, StoreError> {
        let mut paths = Vec::with_capacity(files.len());
        for f in files {
            self.verify_file(f)?;
            let path = self.root.join(&f.path);
            open(&path)?;
            paths.push(
                PlRefPath::try_from_path(&path).map_err(|source| StoreError::Parquet {
                    path: path.clone(),
                    source,
                })?,
            );
        }
        let args = ScanArgsParquet {
            hive_options: HiveOptions {
                enabled: Some(false),
                ..HiveOptions::default()
            },
            glob: false,
            rechunk: false,
            cache: false,
            ..ScanArgsParquet::default()
        };
        LazyFrame::scan_parquet_files(paths.into_iter().collect(), args).map_err(|source| {
            StoreError::Parquet {
                path: self.root.clone(),
                source,
            }
        })
    }

    /// The value stored under `key` in `file`'s Parquet footer (`None`: no such key).
    /// Only the footer is read.
    pub fn read_footer(&self, file: &FileEntry, key: &str) -> Result<Option<String>, StoreError> {
        self.open_with_footer(file, key).map(|(_, _, value)| value)
    }

    /// `file`'s path and reader with its footer parsed (the reader reads on from it),
    /// and the value under `key` in that footer.
    fn open_with_footer(
        &self,
        file: &FileEntry,
        key: &str,
    ) -> Result<(PathBuf, ParquetReader<File>, Option<String>), StoreError> {
        self.verify_read(file, None)?;
        let path = self.root.join(&file.path);
        let mut reader = ParquetReader::new(open(&path)?);
        let value = match reader.get_metadata() {
            Ok(meta) => meta
                .key_value_metadata()
                .as_ref()
                .and_then(|kv| kv.iter().find(|e| e.key == key))
                .and_then(|e| e.value.clone()),
            Err(source) => return Err(StoreError::Parquet { path, source }),
        };
        let value = match value.map(footer::unpack).transpose() {
            Ok(v) => v,
            Err(reason) => {
                return Err(StoreError::Footer {
                    path,
                    key: key.to_string(),
                    reason,
                });
            }
        };
        Ok((path, reader, value))
    }

    /// `columns` of `contract`'s rows of `file` (`None`: actions without a contract),
    /// read where the file's contract index ([`index`]) puts them: `None` when the file
    /// has no index (written before it), `Some(None)` when it holds no row of the
    /// contract (nothing past the footer is read). The footer is parsed once for both.
    pub fn read_contract_rows(
        &self,
        file: &FileEntry,
        columns: &[&str],
        contract: Option<i64>,
    ) -> Result<Option<Option<DataFrame>>, StoreError> {
        let (path, reader, text) = self.open_with_footer(file, index::KEY)?;
        let Some(text) = text else {
            return Ok(None);
        };
        let runs = index::parse(&text, file.rows).map_err(|reason| StoreError::Index {
            path: path.clone(),
            reason,
        })?;
        let Some(rows) = index::rows_of(&runs, contract) else {
            return Ok(Some(None));
        };
        self.verify_read(file, Some(rows))?;
        // A contract's rows are a few pages: decoded on this thread, not spread over
        // polars' pool.
        let reader = reader.read_parallel(ParallelStrategy::None);
        self.finish_read(&path, reader, columns, rows)
            .map(Some)
            .map(Some)
    }
}

/// The environment variable that sets how long files a commit replaced are kept.
pub const KEEP_REPLACED_VAR: &str = "HALO_BILLING_KEEP_REPLACED";

/// How long a file a commit replaced stays on disk (named in the manifest as retired) so
/// that an outside engine that listed the files before the commit can still read them:
/// `HALO_BILLING_KEEP_REPLACED` minutes, 60 when unset, 0 to remove them at once.
pub fn keep_replaced() -> Result<chrono::Duration, StoreError> {
    match std::env::var(KEEP_REPLACED_VAR) {
        Err(_) => Ok(chrono::Duration::minutes(60)),
        Ok(v) => v
            .trim()
            .parse::<u32>()
            .map(|m| chrono::Duration::minutes(m.into()))
            .map_err(|_| {
                StoreError::Setting(format!(
                    "{KEEP_REPLACED_VAR}=`{v}` is not a whole number of minutes (how long files a commit replaced are kept \
                     for outside readers; 0 removes them at once, unset keeps them 60 minutes)"
                ))
            }),
    }
}

/// A scan of files of schema version 3 with each date-time joined back into nanoseconds
/// (polars drops what a query does not select).
fn joined(raw: LazyFrame) -> LazyFrame {
    let (exprs, subs) = timeunit::joined_exprs(&frame::schema());
    raw.with_columns(exprs).drop(by_name(subs, true, false))
}

fn open(path: &Path) -> Result<File, StoreError> {
    File::open(path).map_err(|source| StoreError::Io {
        action: "cannot open",
        path: path.to_path_buf(),
        source,
    })
}

/// Reads a whole Parquet file (every column).
pub fn read_parquet_all(path: &Path) -> Result<DataFrame, StoreError> {
    read_parquet(path, None)
}

/// Reads a Parquet file, optionally only some columns.
/// Date-times read in nanoseconds whichever schema version wrote the file
/// ([`timeunit::from_stored`]).
pub(crate) fn read_parquet(path: &Path, columns: Option<&[&str]>) -> Result<DataFrame, StoreError> {
    let bad = |source| StoreError::Parquet {
        path: path.to_path_buf(),
        source,
    };
    let mut reader = ParquetReader::new(open(path)?);
    let wanted = match columns {
        None => None,
        Some(c) => {
            let has = reader.schema().map_err(bad)?;
            Some(timeunit::stored_columns(c, |n| has.contains(n)))
        }
    };
    let df = reader.with_columns(wanted).finish().map_err(bad)?;
    timeunit::from_stored(df).map_err(bad)
}
