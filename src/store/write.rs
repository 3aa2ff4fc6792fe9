//! Committing new actions into the store: stage, merge on `(ticket_id, id)`, rewrite the
//! touched partitions, switch the manifest.

use super::manifest::{FILE_NAME, Manifest};
use super::{FileEntry, Month, Store, StoreError, month_of, read_parquet};
use crate::frame::{self, col};
use crate::fsutil;
use crate::progress::Progress;
use polars::prelude::*;
use rustc_hash::FxHashMap;
use std::fs::{self, File};
use std::path::{Path, PathBuf};

/// What a commit did, for the run's summary.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct CommitStats {
    /// Actions in the store before.
    pub stored_before: u64,
    /// Actions offered by this run.
    pub input_rows: u64,
    /// Actions whose `(ticket_id, id)` the store did not have.
    pub new: u64,
    /// Stored actions replaced by a changed copy from this run.
    pub replaced: u64,
    /// Actions this run offered again exactly as stored (nothing rewritten for them).
    pub unchanged: u64,
    /// Copies of one action within this run's input, merged into one.
    pub duplicates_merged: u64,
    /// Copies from this run older (by `last_updated`) than the stored one, not taken.
    pub stale_ignored: u64,
    /// Actions in the store after.
    pub stored_after: u64,
    /// Stored actions of completely synced windows that Halo no longer returned: moved
    /// out of the partitions into the tombstones file (kept for the audit trail).
    pub tombstoned: u64,
    /// Partition files written.
    pub files_written: usize,
    /// Partition files kept unchanged.
    pub files_kept: usize,
    /// Bytes of Parquet written.
    pub bytes_written: u64,
}

/// Where the current winning copy of a key is: source, row, `last_updated`, content hash.
type CopyAt = (u32, u32, Option<i64>, i64);

struct Source {
    path: PathBuf,
    month: Month,
    rows: usize,
    /// An existing store file (as opposed to a part staged by this run).
    entry: Option<FileEntry>,
}

/// Stages frames of new actions and commits them into a store.
///
/// Dropping a writer without committing removes what it staged; the store is untouched.
pub struct Writer<'s> {
    store: &'s Store,
    _lock: super::StoreLock,
    staging: PathBuf,
    staged: Vec<Source>,
    generation: u64,
    complete_windows: Vec<(i64, i64)>,
}

fn io<'p>(action: &'static str, path: &'p Path) -> impl FnOnce(std::io::Error) -> StoreError + 'p {
    move |source| StoreError::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

/// Writes `df` to `path` and flushes it; returns its size and SHA-256 (hex).
pub(super) fn write_parquet(path: &Path, df: &mut DataFrame) -> Result<(u64, String), StoreError> {
    let mut buf: Vec<u8> = Vec::new();
    ParquetWriter::new(&mut buf)
        .with_compression(ParquetCompression::Zstd(None))
        .with_row_group_size(Some(super::ROW_GROUP_ROWS))
        .finish(df)
        .map_err(|source| StoreError::Parquet {
            path: path.to_path_buf(),
            source,
        })?;
    let mut file = File::create(path).map_err(io("cannot create", path))?;
    std::io::Write::write_all(&mut file, &buf).map_err(io("cannot write", path))?;
    file.sync_all().map_err(io("cannot flush", path))?;
    Ok((buf.len() as u64, super::sha256_hex(&buf)))
}

fn take_rows(df: &DataFrame, rows: Vec<IdxSize>, path: &Path) -> Result<DataFrame, StoreError> {
    let idx = IdxCa::from_vec("".into(), rows);
    df.take(&idx).map_err(|source| StoreError::Parquet {
        path: path.to_path_buf(),
        source,
    })
}

impl<'s> Writer<'s> {
    /// Starts a commit on `store` (creating its folder if needed).
    pub fn begin(store: &'s Store) -> Result<Writer<'s>, StoreError> {
        let lock = super::StoreLock::acquire(&store.root)?;
        // The manifest may have changed while we waited for nobody: re-read it under the
        // lock, and clear what a killed writer left.
        let current = Store::open(&store.root)?;
        if current.manifest != store.manifest {
            return Err(StoreError::Manifest {
                path: store.root.join(FILE_NAME),
                reason: "changed by another writer since this run started; run it again".into(),
            });
        }
        store.clean_leftovers()?;
        let staging = store.root.join(format!(".staging-{}", std::process::id()));
        if staging.exists() {
            fs::remove_dir_all(&staging).map_err(io("cannot clear", &staging))?;
        }
        fs::create_dir_all(&staging).map_err(io("cannot create", &staging))?;
        Ok(Writer {
            store,
            _lock: lock,
            staging,
            staged: Vec::new(),
            generation: store.manifest.generation + 1,
            complete_windows: Vec::new(),
        })
    }

    /// Declares UTC windows whose every action is in this run's input (a completed sync
    /// window): stored actions in them that the input lacks are tombstoned.
    pub fn windows_complete(&mut self, windows: &[(i64, i64)]) {
        self.complete_windows = windows.to_vec();
    }

    /// Stages a frame of actions (in input order; later frames are later input).
    pub fn stage(&mut self, df: DataFrame) -> Result<(), StoreError> {
        let dt = df
            .column(col::DATETIME)
            .and_then(|c| c.datetime().map(|d| d.physical().clone()))
            .map_err(|source| StoreError::Parquet {
                path: self.staging.clone(),
                source,
            })?;
        let mut by_month: FxHashMap<Month, Vec<IdxSize>> = FxHashMap::default();
        for (i, v) in dt.iter().enumerate() {
            by_month.entry(month_of(v)).or_default().push(i as IdxSize);
        }
        let mut months: Vec<_> = by_month.into_iter().collect();
        months.sort_by_key(|(m, _)| *m);
        for (month, rows) in months {
            let path = self
                .staging
                .join(format!("part-{:06}.parquet", self.staged.len()));
            let n = rows.len();
            let mut part = if n == df.height() {
                df.clone()
            } else {
                take_rows(&df, rows, &path)?
            };
            write_parquet(&path, &mut part)?;
            self.staged.push(Source {
                path,
                month,
                rows: n,
                entry: None,
            });
        }
        Ok(())
    }

    /// Merges the staged actions into the store and switches to the new state.
    ///
    /// Upsert rule on `(ticket_id, id)`: a later copy replaces an earlier one (store
    /// before this run's input, input in file and record order) unless both carry
    /// `last_updated` and the later copy's is older.
    pub fn commit(self, progress: &Progress) -> Result<CommitStats, StoreError> {
        let mut stats = CommitStats {
            stored_before: self.store.manifest.rows(),
            ..Default::default()
        };
        let root = &self.store.root;
        let mut sources: Vec<Source> = self
            .store
            .manifest
            .files
            .iter()
            .map(|f| Source {
                path: root.join(&f.path),
                month: f.month(),
                rows: f.rows as usize,
                entry: Some(f.clone()),
            })
            .collect();
        stats.input_rows = self.staged.iter().map(|s| s.rows as u64).sum();
        sources.extend(self.staged.iter().map(|s| Source {
            path: s.path.clone(),
            month: s.month,
            rows: s.rows,
            entry: None,
        }));

        // 1. Decide the winner of every key, reading only the key columns.
        let bar = progress.bar(
            sources.iter().map(|s| s.rows as u64).sum(),
            "merging on (ticket_id, id)",
        );
        let mut winner: FxHashMap<(i64, i64), CopyAt> = FxHashMap::default();
        winner.reserve(sources.iter().map(|s| s.rows).sum());
        let mut losers: Vec<Vec<bool>> = sources.iter().map(|_| Vec::new()).collect();
        let mut input_keys: rustc_hash::FxHashSet<(i64, i64)> = Default::default();
        let mut candidates: Vec<(usize, usize, (i64, i64))> = Vec::new();
        for (si, src) in sources.iter().enumerate() {
            let df = read_parquet(
                &src.path,
                Some(&[
                    col::TICKET_ID,
                    col::ID,
                    col::LAST_UPDATED,
                    col::CONTENT_HASH,
                    col::DATETIME,
                ]),
            )?;
            let dts: Vec<Option<i64>> = df
                .column(col::DATETIME)
                .and_then(|c| c.datetime().map(|d| d.physical().iter().collect()))
                .map_err(|source| StoreError::Parquet {
                    path: src.path.clone(),
                    source,
                })?;
            let bad = |source| StoreError::Parquet {
                path: src.path.clone(),
                source,
            };
            let t = df
                .column(col::TICKET_ID)
                .and_then(|c| c.i64().cloned())
                .map_err(bad)?;
            let id = df
                .column(col::ID)
                .and_then(|c| c.i64().cloned())
                .map_err(bad)?;
            let lu = df
                .column(col::LAST_UPDATED)
                .and_then(|c| c.datetime().map(|d| d.physical().clone()))
                .map_err(bad)?;
            let hash = df
                .column(col::CONTENT_HASH)
                .and_then(|c| c.i64().cloned())
                .map_err(bad)?;
            for (row, (((t, id), lu), h)) in t
                .iter()
                .zip(id.iter())
                .zip(lu.iter())
                .zip(hash.iter())
                .enumerate()
            {
                let key = (t.unwrap_or_default(), id.unwrap_or_default());
                let h = h.unwrap_or_default();
                let me = (si as u32, row as u32, lu, h);
                if !self.complete_windows.is_empty() {
                    if src.entry.is_none() {
                        input_keys.insert(key);
                    } else if dts[row].is_some_and(|t| {
                        self.complete_windows.iter().any(|(f, e)| t >= *f && t < *e)
                    }) {
                        candidates.push((si, row, key));
                    }
                }
                match winner.entry(key) {
                    std::collections::hash_map::Entry::Vacant(v) => {
                        v.insert(me);
                        if src.entry.is_none() {
                            stats.new += 1;
                        }
                    }
                    std::collections::hash_map::Entry::Occupied(mut o) => {
                        let (osi, orow, olu, oh) = *o.get();
                        let from_store = sources[osi as usize].entry.is_some();
                        // An identical copy changes nothing: keep the one we have, so that
                        // its file need not be rewritten.
                        let same = oh == h;
                        let later_wins = !same && !matches!((lu, olu), (Some(a), Some(b)) if a < b);
                        let (lsi, lrow) = if later_wins {
                            o.insert(me);
                            (osi, orow)
                        } else {
                            (si as u32, row as u32)
                        };
                        let l = &mut losers[lsi as usize];
                        if l.is_empty() {
                            l.resize(sources[lsi as usize].rows, false);
                        }
                        l[lrow as usize] = true;
                        match (from_store, same, later_wins) {
                            (true, true, _) => stats.unchanged += 1,
                            (true, false, true) => stats.replaced += 1,
                            (true, false, false) => stats.stale_ignored += 1,
                            (false, _, _) => stats.duplicates_merged += 1,
                        }
                    }
                }
            }
            bar.inc(src.rows as u64);
        }
        drop(winner);
        bar.finish();
        // Stored actions of completed windows that the input no longer has: tombstones.
        let mut tombs: Vec<Vec<IdxSize>> = sources.iter().map(|_| Vec::new()).collect();
        for (si, row, key) in candidates {
            if input_keys.contains(&key) {
                continue;
            }
            let l = &mut losers[si];
            if l.is_empty() {
                l.resize(sources[si].rows, false);
            }
            if !l[row] {
                l[row] = true;
                tombs[si].push(row as IdxSize);
                stats.tombstoned += 1;
            }
        }
        let mut tomb_frames: Vec<DataFrame> = Vec::new();

        // 2. Rewrite each month that changed; keep the files of months that did not.
        let mut months: Vec<Month> = sources.iter().map(|s| s.month).collect();
        months.sort();
        months.dedup();
        let bar = progress.bar(months.len() as u64, "writing partitions");
        let mut files = Vec::new();
        for month in months {
            let members: Vec<usize> = (0..sources.len())
                .filter(|&i| sources[i].month == month)
                .collect();
            // A month stays as it is when its stored rows all survive and every row this run
            // offered for it lost (unchanged or older copies).
            let untouched = members.iter().all(|&i| match sources[i].entry {
                Some(_) => losers[i].is_empty(),
                None => losers[i].len() == sources[i].rows && losers[i].iter().all(|l| *l),
            });
            if untouched {
                for &i in &members {
                    if let Some(e) = &sources[i].entry {
                        files.push(e.clone());
                        stats.files_kept += 1;
                    }
                }
                bar.inc(1);
                continue;
            }
            let mut merged: Option<DataFrame> = None;
            for &i in &members {
                let src = &sources[i];
                let mut df = read_parquet(&src.path, None)?;
                frame::check_schema(&df).map_err(|reason| StoreError::Schema {
                    path: src.path.clone(),
                    reason,
                })?;
                if !tombs[i].is_empty() {
                    tomb_frames.push(take_rows(&df, tombs[i].clone(), &src.path)?);
                }
                if !losers[i].is_empty() {
                    let keep: Vec<IdxSize> = losers[i]
                        .iter()
                        .enumerate()
                        .filter(|(_, l)| !**l)
                        .map(|(r, _)| r as IdxSize)
                        .collect();
                    df = take_rows(&df, keep, &src.path)?;
                }
                match &mut merged {
                    None => merged = Some(df),
                    Some(m) => {
                        m.vstack_mut_owned(df)
                            .map_err(|source| StoreError::Parquet {
                                path: src.path.clone(),
                                source,
                            })?;
                    }
                }
            }
            let mut df = merged.expect("a month has at least one source");
            if df.height() == 0 {
                bar.inc(1);
                continue;
            }
            df.rechunk_mut_par();
            // A month is written as files of at most ROW_GROUP_ROWS rows: readers then
            // take one whole small file at a time, which bounds their memory without
            // slicing inside files.
            let dir = root.join(format!("actions/year={}/month={}", month.0, month.1));
            fs::create_dir_all(&dir).map_err(io("cannot create", &dir))?;
            let mut offset = 0;
            let mut part = 0;
            while offset < df.height() {
                let len = super::ROW_GROUP_ROWS.min(df.height() - offset);
                let mut chunk = df.slice(offset as i64, len);
                let rel = format!(
                    "actions/year={}/month={}/part-g{:06}-{part:04}.parquet",
                    month.0, month.1, self.generation
                );
                let (bytes, sha256) = write_parquet(&root.join(&rel), &mut chunk)?;
                stats.files_written += 1;
                stats.bytes_written += bytes;
                files.push(FileEntry {
                    path: rel,
                    year: month.0,
                    month: month.1,
                    rows: len as u64,
                    bytes,
                    sha256,
                });
                offset += len;
                part += 1;
            }
            fsutil::sync_dir(&dir).map_err(io("cannot flush", &dir))?;
            bar.inc(1);
        }
        bar.finish();

        // 3. Switch the manifest, then remove what it no longer names. When nothing
        // changed, the committed state stays exactly as it was (same generation, no write).
        stats.stored_after = files.iter().map(|f| f.rows).sum();
        if stats.files_written == 0 && files == self.store.manifest.files {
            return Ok(stats);
        }
        let mut tombstones = self.store.manifest.tombstones.clone();
        if let Some(mut t) = tomb_frames.into_iter().reduce(|mut a, b| {
            a.vstack_mut_owned(b).expect("same schema");
            a
        }) {
            let rel = format!("tombstones/part-g{:06}.parquet", self.generation);
            let dir = root.join("tombstones");
            fs::create_dir_all(&dir).map_err(io("cannot create", &dir))?;
            t.rechunk_mut();
            let (bytes, sha256) = write_parquet(&root.join(&rel), &mut t)?;
            fsutil::sync_dir(&dir).map_err(io("cannot flush", &dir))?;
            stats.bytes_written += bytes;
            tombstones.push(FileEntry {
                path: rel,
                year: 0,
                month: 0,
                rows: t.height() as u64,
                bytes,
                sha256,
            });
        }
        let manifest = Manifest {
            tombstones,
            generation: self.generation,
            committed_at: Some(
                chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            ),
            files,
            ..Manifest::default()
        };
        stats.stored_after = manifest.rows();
        let mpath = root.join(FILE_NAME);
        fsutil::write_atomic(&mpath, |w| {
            serde_json::to_writer_pretty(&mut *w, &manifest)?;
            std::io::Write::write_all(w, b"\n")
        })
        .map_err(io("cannot write", &mpath))?;
        for old in &self.store.manifest.files {
            if !manifest.files.iter().any(|f| f.path == old.path) {
                let _ = fs::remove_file(root.join(&old.path));
            }
        }
        Ok(stats)
    }
}

impl Drop for Writer<'_> {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.staging);
    }
}
