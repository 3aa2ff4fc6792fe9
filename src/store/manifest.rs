//! The manifest: the list of files that make up the store's committed state.

use super::{Month, StoreError};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The manifest's file name inside the store folder.
pub const FILE_NAME: &str = "manifest.json";
/// Identifies our manifests (another tool's JSON is refused, not misread).
pub const FORMAT: &str = "halo-billing-store";
/// The schema version this build reads and writes. A store of another version is refused
/// with a message saying so; it is never read with the wrong column meanings.
/// Version 2 added the `content_hash` column. Version 3 stores date-times as UTC
/// microseconds with the nanoseconds past them beside (see `store/timeunit.rs`); a store
/// of version 2 is read as it is and migrated by its next writer.
pub const SCHEMA_VERSION: u32 = 3;
/// The oldest schema version this build reads (and migrates when it writes).
pub const OLDEST_SCHEMA_VERSION: u32 = 2;

/// One Parquet file of the store.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct FileEntry {
    /// Path relative to the store folder.
    pub path: String,
    /// Partition year (0 for undated actions).
    pub year: i32,
    /// Partition month (0 for undated actions).
    pub month: u32,
    /// Rows in the file.
    pub rows: u64,
    /// Size in bytes.
    pub bytes: u64,
    /// SHA-256 of the file (hex), checked by `status --verify`.
    #[serde(default)]
    pub sha256: String,
    /// The smallest and largest `ticket_id` in the file, when known (partition files
    /// written since 2026-11-29): a commit skips a file whose range holds no ticket it
    /// is offered. Absent: the file is read to find out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tickets: Option<(i64, i64)>,
    /// The file's XXH3-128 (hex), checked whenever a report, export, close or commit
    /// reads the file (files written since 2026-12-06; older ones get it from the next
    /// writer, after a check against their SHA-256).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub xxh3: Option<String>,
    /// The XXH3-64 of each row group's bytes and of the footer's, so that a reader of a
    /// few row groups (or only the footer's summaries) checks just what it reads: each
    /// `[first row, byte from, byte to, checksum]`, the footer's first row being the
    /// file's row count. Absent (files written before 2026-12-06): the whole file is
    /// checked against `xxh3`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ranges: Vec<Range>,
}

/// One checked stretch of a store file: `(first row, byte from, byte to, XXH3-64 hex)`.
pub type Range = (u64, u64, u64, String);

impl FileEntry {
    /// The partition key.
    pub fn month(&self) -> Month {
        (self.year, self.month)
    }
}

/// A file a commit replaced, kept until its grace period ends.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(from = "RetiredText")]
pub struct Retired {
    /// Path relative to the store folder.
    pub path: String,
    /// When it was replaced (UTC, RFC 3339); none in manifests written before grace
    /// periods, whose files are removed at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
}

/// A retired file as manifests have written it: a bare path before grace periods.
#[derive(Deserialize)]
#[serde(untagged)]
enum RetiredText {
    Path(String),
    Entry {
        path: String,
        #[serde(default)]
        since: Option<String>,
    },
}

impl From<RetiredText> for Retired {
    fn from(t: RetiredText) -> Retired {
        match t {
            RetiredText::Path(path) => Retired { path, since: None },
            RetiredText::Entry { path, since } => Retired { path, since },
        }
    }
}

impl Retired {
    /// `path`, replaced now.
    pub fn now(path: String, now: chrono::DateTime<chrono::Utc>) -> Retired {
        Retired {
            path,
            since: Some(now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
        }
    }

    /// Whether its grace period of `keep` has ended at `now` (a time that does not
    /// read counts as ended).
    pub fn expired(&self, now: chrono::DateTime<chrono::Utc>, keep: chrono::Duration) -> bool {
        match self
            .since
            .as_deref()
            .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
        {
            Some(t) => t.with_timezone(&chrono::Utc) + keep <= now,
            None => true,
        }
    }
}

/// The committed state of a store.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Manifest {
    /// Always [`FORMAT`].
    pub format: String,
    /// The column schema version; see [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// Increases with every commit; new files carry it in their names.
    pub generation: u64,
    /// When the last commit happened (UTC, RFC 3339).
    pub committed_at: Option<String>,
    /// The data files, sorted by partition.
    pub files: Vec<FileEntry>,
    /// Files of actions Halo stopped returning (excluded from reports, kept for audit).
    #[serde(default)]
    pub tombstones: Vec<FileEntry>,
    /// What the `content_hash` column holds ([`crate::model::canon::HASH_SCHEME`]);
    /// empty in stores written before it was named (a hash of no fixed specification),
    /// which the next writer recomputes ([`super::migrate`]).
    #[serde(default)]
    pub hash_scheme: String,
    /// Which footer summaries the partition files carry ([`SUMMARIES`]); 0 (absent) in
    /// stores written before files carried them, which the next writer rewrites once
    /// ([`super::migrate`]).
    #[serde(default)]
    pub summaries: u32,
    /// Files commits replaced, kept for a grace period ([`super::keep_replaced`]) so
    /// that an outside engine that listed the files before a commit still reads them;
    /// every writer removes those whose grace period has ended (and files of a later
    /// generation, never committed), and nothing else.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub retired: Vec<Retired>,
    /// Halo's billing records beside the actions: one file per table
    /// (`records/<table>/part-gNNNNNN.parquet`, see [`crate::records::Table`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub records: Vec<FileEntry>,
}

/// The generation in a data file's name (`part-g000012-0003.parquet` -> 12), if it has
/// one.
pub fn generation_of(name: &str) -> Option<u64> {
    let rest = name.strip_prefix("part-g")?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// Whether `rel` is a store file path the manifest may name: relative, inside `folder`
/// (`actions` or `tombstones`), without `..`, ending in `.parquet`.
fn inside(rel: &str, folder: &str) -> bool {
    let p = Path::new(rel);
    rel.ends_with(".parquet")
        && p.components()
            .next()
            .is_some_and(|c| c.as_os_str() == folder)
        && p.components()
            .all(|c| matches!(c, std::path::Component::Normal(_)))
}

/// The footer summaries every partition file of a store at this value carries (see
/// `fold/footer.rs`): 1 = contracts, invoices, agents, unbilled, leakage, prepay;
/// 2 = those and charge-rates.
pub const SUMMARIES: u32 = 2;

impl Default for Manifest {
    fn default() -> Self {
        Manifest {
            format: FORMAT.into(),
            schema_version: SCHEMA_VERSION,
            generation: 0,
            committed_at: None,
            files: Vec::new(),
            tombstones: Vec::new(),
            hash_scheme: crate::model::canon::HASH_SCHEME.into(),
            summaries: SUMMARIES,
            retired: Vec::new(),
            records: Vec::new(),
        }
    }
}

impl Manifest {
    /// Loads the manifest at `path`; none there means an empty store.
    pub fn load(path: &Path) -> Result<Manifest, StoreError> {
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Manifest::default()),
            Err(source) => {
                return Err(StoreError::Io {
                    action: "cannot read",
                    path: path.to_path_buf(),
                    source,
                });
            }
        };
        let bad = |reason: String| StoreError::Manifest {
            path: path.to_path_buf(),
            reason,
        };
        let m: Manifest = serde_json::from_slice(&bytes).map_err(|e| {
            bad(format!(
                "not a halo-billing manifest ({e}); nothing is read or written through it. Restore it from a backup, \
                 or rebuild it from the store's files: `halo-billing status --rebuild-manifest`"
            ))
        })?;
        if m.format != FORMAT {
            return Err(bad(format!(
                "format is `{}`, expected `{FORMAT}`",
                m.format
            )));
        }
        let outside = m
            .files
            .iter()
            .filter(|f| !inside(&f.path, "actions"))
            .chain(
                m.tombstones
                    .iter()
                    .filter(|f| !inside(&f.path, "tombstones")),
            )
            .map(|f| f.path.as_str())
            .chain(
                m.records
                    .iter()
                    .filter(|f| {
                        !inside(&f.path, "records")
                            || crate::records::Table::of_path(&f.path).is_none()
                    })
                    .map(|f| f.path.as_str()),
            )
            .chain(m.retired.iter().map(|r| r.path.as_str()).filter(|r| {
                !inside(r, "actions") && !inside(r, "tombstones") && !inside(r, "records")
            }))
            .next();
        if let Some(p) = outside {
            return Err(bad(format!(
                "it names `{p}`, which is not a data file inside the store's `actions`, `tombstones` or `records` folder: \
                 the manifest was edited or damaged, and nothing is read or removed through it. Restore it from a \
                 backup, or rebuild it from the store's files: `halo-billing status --rebuild-manifest`"
            )));
        }
        if !(OLDEST_SCHEMA_VERSION..=SCHEMA_VERSION).contains(&m.schema_version) {
            return Err(bad(format!(
                "store schema version {} is not a version ({OLDEST_SCHEMA_VERSION} to {SCHEMA_VERSION}) this halo-billing reads; \
                 use the halo-billing release that wrote it, or import the source data into a new store",
                m.schema_version
            )));
        }
        Ok(m)
    }

    /// Writes the manifest into the store folder `root` atomically (the commit point).
    pub fn write(&self, root: &Path) -> Result<(), StoreError> {
        let path = root.join(FILE_NAME);
        crate::fsutil::write_atomic(&path, |w| {
            serde_json::to_writer_pretty(&mut *w, self)?;
            std::io::Write::write_all(w, b"\n")
        })
        .map_err(|source| StoreError::Io {
            action: "cannot write",
            path: path.clone(),
            source,
        })
    }

    /// Total rows.
    pub fn rows(&self) -> u64 {
        self.files.iter().map(|f| f.rows).sum()
    }
}
