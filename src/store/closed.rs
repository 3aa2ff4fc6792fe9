//! Closed periods: a frozen copy of the exact actions of a period, its content hash,
//! and the history of closes and reopens.
//!
//! ```text
//! STORE/closed.json                                  every close and reopen, in order
//! STORE/closed/2026-10@UTC-g000007.parquet            the period's actions at the close
//! ```
//!
//! Reports of a closed period are computed from its frozen file, so they are reproduced
//! byte for byte whatever is synced later; `report adjustments` compares the live store
//! with it.

use super::{FileEntry, Store, StoreError, read_parquet};
use crate::frame::col;
use crate::fsutil;
use polars::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The registry's file name in the store folder.
pub const CLOSED_FILE: &str = "closed.json";

/// One close of a period (and its reopening, if it was reopened).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ClosedPeriod {
    /// As named: `2026-10`, or `2026-10-01..2026-10-16`.
    pub period: String,
    /// IANA zone the period was read in.
    pub timezone: String,
    /// UTC range, nanoseconds.
    pub from_ns: i64,
    /// UTC range end (excluded).
    pub to_ns: i64,
    /// When it was closed (UTC).
    pub closed_at: String,
    /// Actions frozen.
    pub actions: u64,
    /// SHA-256 over the frozen actions' `(ticket_id, id, content_hash)`, sorted by key.
    pub sha256: String,
    /// The frozen file, relative to the store.
    pub file: String,
    /// Undated actions in the store at the close (shown by reports, frozen with them).
    pub undated_at_close: u64,
    /// SHA-256 of the frozen file's bytes, checked whenever it is read (closes made
    /// before it was recorded get it at the store's hash migration, after a check
    /// against `sha256`).
    #[serde(default)]
    pub file_sha256: Option<String>,
    /// Halo's billing records (contracts, prepay, invoices and their lines) as the store
    /// held them at the close: a copy of each table's file, checked against its sums
    /// whenever it is read. Empty for closes made before records were stored.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub records: Vec<FileEntry>,
    /// When it was reopened, if it was.
    pub reopened_at: Option<String>,
    /// Why it was reopened.
    pub reopen_reason: Option<String>,
}

impl ClosedPeriod {
    /// Still closed (not reopened).
    pub fn is_closed(&self) -> bool {
        self.reopened_at.is_none()
    }

    /// The frozen file as a store file entry, for the report reader (month `(0, 0)`: its
    /// rows are always checked against the period).
    pub fn entry(&self, rows: u64) -> FileEntry {
        FileEntry {
            path: self.file.clone(),
            year: 0,
            month: 0,
            rows,
            bytes: 0,
            sha256: String::new(),
            tickets: None,
            xxh3: None,
            ranges: Vec::new(),
        }
    }
}

impl Store {
    /// Every close and reopen so far.
    pub fn closed_periods(&self) -> Result<Vec<ClosedPeriod>, StoreError> {
        let path = self.root.join(CLOSED_FILE);
        match std::fs::read(&path) {
            Ok(b) => serde_json::from_slice(&b).map_err(|e| StoreError::Manifest {
                path,
                reason: format!("closed periods damaged: {e}"),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(source) => Err(StoreError::Io {
                action: "cannot read",
                path,
                source,
            }),
        }
    }

    /// The close in force for `(period, timezone)`, if any.
    pub fn closed(&self, period: &str, timezone: &str) -> Result<Option<ClosedPeriod>, StoreError> {
        Ok(self
            .closed_periods()?
            .into_iter()
            .rev()
            .find(|c| c.period == period && c.timezone == timezone && c.is_closed()))
    }

    /// The closes in force whose range overlaps `[from_ns, to_ns)`, by start.
    pub fn closes_overlapping(
        &self,
        from_ns: i64,
        to_ns: i64,
    ) -> Result<Vec<ClosedPeriod>, StoreError> {
        let mut v: Vec<ClosedPeriod> = self
            .closed_periods()?
            .into_iter()
            .filter(|c| c.is_closed() && c.from_ns < to_ns && from_ns < c.to_ns)
            .collect();
        v.sort_by_key(|c| c.from_ns);
        Ok(v)
    }

    /// Checks a close's frozen copy against the SHA-256 of its file recorded at the close
    /// (or, for a close made before that was recorded, against its content digest).
    pub fn verify_close(&self, c: &ClosedPeriod) -> Result<(), StoreError> {
        let path = self.root.join(&c.file);
        let damaged = |found: String| StoreError::Closed {
            path: path.clone(),
            reason: format!(
                "the frozen copy of {} ({}) does not match the hash recorded at its close \
                 (expected {found}): it was damaged or changed after the close. Restore it from a backup; \
                 its figures are not used",
                c.period, c.timezone
            ),
        };
        match &c.file_sha256 {
            Some(want) => {
                let bytes = std::fs::read(&path).map_err(|source| StoreError::Io {
                    action: "cannot read",
                    path: path.clone(),
                    source,
                })?;
                let got = super::sha256_hex(&bytes);
                if &got != want {
                    return Err(damaged(format!("{want}, found {got}")));
                }
            }
            None => {
                let df = read_parquet(&path, None)?;
                let keys = key_hashes(&df).map_err(|source| StoreError::Parquet {
                    path: path.clone(),
                    source,
                })?;
                let got = digest(&keys);
                if got != c.sha256 {
                    return Err(damaged(format!("content digest {}, found {got}", c.sha256)));
                }
            }
        }
        Ok(())
    }

    pub(super) fn save_closed(&self, list: &[ClosedPeriod]) -> Result<(), StoreError> {
        let path = self.root.join(CLOSED_FILE);
        fsutil::write_atomic(&path, |w| {
            serde_json::to_writer_pretty(&mut *w, list)?;
            std::io::Write::write_all(w, b"\n")
        })
        .map_err(|source| StoreError::Io {
            action: "cannot write",
            path,
            source,
        })
    }

    /// The live actions of `[from_ns, to_ns)`: every column, from the partitions.
    pub fn period_actions(&self, from_ns: i64, to_ns: i64) -> Result<DataFrame, StoreError> {
        let mut out: Option<DataFrame> = None;
        for f in self.files_overlapping(from_ns, to_ns) {
            // A close freezes only what the manifest recorded: every file checked first.
            self.verify_file(f)?;
            let path = self.root.join(&f.path);
            let df = read_parquet(&path, None)?;
            let bad = |source| StoreError::Parquet {
                path: path.clone(),
                source,
            };
            let dt = df
                .column(col::DATETIME)
                .and_then(|c| c.datetime().map(|d| d.physical().clone()))
                .map_err(bad)?;
            let keep: Vec<IdxSize> = dt
                .iter()
                .enumerate()
                .filter(|(_, v)| v.is_some_and(|t| t >= from_ns && t < to_ns))
                .map(|(i, _)| i as IdxSize)
                .collect();
            let part = df.take(&IdxCa::from_vec("".into(), keep)).map_err(bad)?;
            match &mut out {
                None => out = Some(part),
                Some(o) => {
                    o.vstack_mut_owned(part).map_err(bad)?;
                }
            }
        }
        let mut df = match out {
            Some(d) => d,
            None => DataFrame::empty_with_schema(&crate::frame::schema()),
        };
        df.rechunk_mut();
        Ok(df)
    }

    /// Freezes the period. The caller holds the store lock.
    pub fn close_period(
        &self,
        period: &str,
        timezone: &str,
        from_ns: i64,
        to_ns: i64,
    ) -> Result<ClosedPeriod, StoreError> {
        if let Some(c) = self.closes_overlapping(from_ns, to_ns)?.first() {
            let same = c.period == period && c.timezone == timezone;
            return Err(StoreError::Closed {
                path: self.root.join(CLOSED_FILE),
                reason: if same {
                    format!(
                        "period {period} ({timezone}) is already closed since {} (sha256 {}); reopen it first",
                        c.closed_at, c.sha256
                    )
                } else {
                    format!(
                        "period {period} ({timezone}) overlaps closed period {} ({}), closed since {}; \
                         two closes may not freeze the same actions: reopen that one first, or close a period that does not overlap it",
                        c.period, c.timezone, c.closed_at
                    )
                },
            });
        }
        let mut df = self.period_actions(from_ns, to_ns)?;
        let keys = key_hashes(&df).map_err(|source| StoreError::Parquet {
            path: self.root.clone(),
            source,
        })?;
        let sha256 = digest(&keys);
        // Every close has its own frozen file (the n-th close of the store), so closing
        // again after a reopen keeps the earlier copies.
        let mut list = self.closed_periods()?;
        let rel = format!(
            "closed/{period}@{}-c{:04}.parquet",
            timezone.replace('/', "_"),
            list.len() + 1
        );
        let path = self.root.join(&rel);
        std::fs::create_dir_all(path.parent().expect("closed folder")).map_err(|source| {
            StoreError::Io {
                action: "cannot create",
                path: path.clone(),
                source,
            }
        })?;
        if path.exists() {
            return Err(StoreError::Closed {
                path,
                reason: "a frozen copy of that name exists already; closed.json and the closed/ folder disagree".into(),
            });
        }
        let file_sha256 = super::write::write_parquet(&path, &mut df)?.sha256;
        // The records as they are now, copied beside the frozen actions.
        let mut records = Vec::new();
        for f in &self.manifest.records {
            self.verify_file(f)?;
            let table = crate::records::Table::of_path(&f.path).map_or("records", |t| t.name());
            let rel_copy = format!("{}-{table}.parquet", rel.trim_end_matches(".parquet"));
            let to = self.root.join(&rel_copy);
            let bytes =
                std::fs::read(self.root.join(&f.path)).map_err(|source| StoreError::Io {
                    action: "cannot read",
                    path: self.root.join(&f.path),
                    source,
                })?;
            fsutil::write_atomic(&to, |w| std::io::Write::write_all(w, &bytes)).map_err(
                |source| StoreError::Io {
                    action: "cannot write",
                    path: to.clone(),
                    source,
                },
            )?;
            records.push(FileEntry {
                path: rel_copy,
                ..f.clone()
            });
        }
        let entry = ClosedPeriod {
            period: period.into(),
            timezone: timezone.into(),
            from_ns,
            to_ns,
            closed_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            actions: df.height() as u64,
            sha256,
            file: rel,
            file_sha256: Some(file_sha256),
            undated_at_close: self.undated_rows(),
            records,
            reopened_at: None,
            reopen_reason: None,
        };
        list.push(entry.clone());
        self.save_closed(&list)?;
        Ok(entry)
    }

    /// Reopens the period, recording why. The caller holds the store lock.
    pub fn reopen_period(
        &self,
        period: &str,
        timezone: &str,
        reason: &str,
    ) -> Result<ClosedPeriod, StoreError> {
        let mut list = self.closed_periods()?;
        let Some(c) = list
            .iter_mut()
            .rev()
            .find(|c| c.period == period && c.timezone == timezone && c.is_closed())
        else {
            return Err(StoreError::Manifest {
                path: self.root.join(CLOSED_FILE),
                reason: format!("period {period} ({timezone}) is not closed"),
            });
        };
        c.reopened_at = Some(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
        c.reopen_reason = Some(reason.to_string());
        let done = c.clone();
        self.save_closed(&list)?;
        Ok(done)
    }
}

/// `(ticket_id, id, content_hash)` of every row, sorted by key.
pub fn key_hashes(df: &DataFrame) -> PolarsResult<Vec<(i64, i64, i64)>> {
    let t = df.column(col::TICKET_ID)?.i64()?;
    let id = df.column(col::ID)?.i64()?;
    let h = df.column(col::CONTENT_HASH)?.i64()?;
    let mut v: Vec<(i64, i64, i64)> = t
        .iter()
        .zip(id.iter())
        .zip(h.iter())
        .map(|((t, i), h)| {
            (
                t.unwrap_or_default(),
                i.unwrap_or_default(),
                h.unwrap_or_default(),
            )
        })
        .collect();
    v.sort_unstable();
    Ok(v)
}

/// SHA-256 of sorted `(ticket_id, id, content_hash)` triples, as hex.
pub fn digest(keys: &[(i64, i64, i64)]) -> String {
    let mut h = Sha256::new();
    for (t, i, c) in keys {
        h.update(t.to_le_bytes());
        h.update(i.to_le_bytes());
        h.update(c.to_le_bytes());
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}
