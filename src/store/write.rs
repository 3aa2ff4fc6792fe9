//! Committing new actions into the store: stage, merge on `(ticket_id, id)`, rewrite the
//! touched partitions, switch the manifest.

use super::encode::Layout;
use super::manifest::{FILE_NAME, Manifest};
use super::{FileEntry, Month, Store, StoreError, month_of, read_parquet};
use crate::frame::{self, col};
use crate::fsutil;
use crate::progress::Progress;
use polars::prelude::*;
use rustc_hash::{FxHashMap, FxHashSet};
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
    /// Deletions the guard held back (the actions stay in the store and the reports).
    pub deletions_held: u64,
    /// Why the guard held them back.
    pub held_reason: String,
    /// The windows whose deletions were held back.
    pub held_windows: Vec<HeldWindow>,
    /// The actions whose deletions were held back: `(ticket_id, id)` and the window
    /// (`[from, to)`, UTC nanoseconds) that no longer returned them, sorted.
    pub held_actions: Vec<HeldAction>,
    /// Stored actions this run refused a new copy of: the stored copy stays.
    pub kept_despite_refusal: Vec<(i64, i64)>,
    /// Partition files written.
    pub files_written: usize,
    /// Partition files kept unchanged.
    pub files_kept: usize,
    /// Bytes of Parquet written.
    pub bytes_written: u64,
    /// Halo's billing records, per table this run offered rows of.
    pub records: Vec<RecordStats>,
}

/// What a commit did to one table of Halo's billing records.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RecordStats {
    /// The table.
    pub table: &'static str,
    /// Rows this run offered.
    pub offered: usize,
    /// Rows the store did not have.
    pub new: usize,
    /// Stored rows replaced by a different copy.
    pub changed: usize,
    /// Rows stored after.
    pub stored_after: usize,
}

impl CommitStats {
    /// Adds the counts the merge rule makes ([`Writer::consider`]) in `other`, a part
    /// of the merge weighed on its own.
    fn absorb_merge_counts(&mut self, other: CommitStats) {
        self.new += other.new;
        self.replaced += other.replaced;
        self.unchanged += other.unchanged;
        self.duplicates_merged += other.duplicates_merged;
        self.stale_ignored += other.stale_ignored;
        self.kept_despite_refusal.extend(other.kept_despite_refusal);
    }
}

/// An action whose deletion the guard held back: `(ticket_id, id)` and the window
/// (`[from, to)`, UTC nanoseconds) that no longer returned it.
pub type HeldAction = ((i64, i64), (i64, i64));

/// A completed window whose deletions the guard held back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldWindow {
    /// Start (UTC nanoseconds).
    pub from_ns: i64,
    /// End (excluded).
    pub to_ns: i64,
    /// Actions the store held in it.
    pub stored: u64,
    /// Of those, how many Halo no longer returned.
    pub missing: u64,
}

/// The guard against mass deletion: when a sync would tombstone more than `max_count`
/// actions, more than `max_per_mille` of what its completed windows held, or every
/// action of a window that held some, nothing is tombstoned (everything else commits)
/// and the sync says so with its own exit code. Time entries are rarely deleted in Halo;
/// an API application whose permissions were narrowed answers with empty pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeletionGuard {
    /// Most tombstones accepted without asking.
    pub max_count: u64,
    /// Largest share (per mille of the stored actions in the completed windows).
    pub max_per_mille: u64,
    /// Accept whatever the sync finds deleted.
    pub accept: bool,
}

impl Default for DeletionGuard {
    fn default() -> Self {
        DeletionGuard {
            max_count: 25,
            max_per_mille: 50,
            accept: false,
        }
    }
}

impl DeletionGuard {
    /// Why the deletions found (`(stored, missing)` per window) are held back, if they
    /// are: every limit they pass, joined.
    pub fn holds(&self, per_window: &[(u64, u64)]) -> Option<String> {
        let stored: u64 = per_window.iter().map(|w| w.0).sum();
        let missing: u64 = per_window.iter().map(|w| w.1).sum();
        if self.accept || missing == 0 {
            return None;
        }
        let mut why = Vec::new();
        if missing > self.max_count {
            why.push(format!(
                "{missing} actions would be deleted, more than the limit of {} (--max-deletions)",
                self.max_count
            ));
        }
        if u128::from(missing) * 1000 > u128::from(self.max_per_mille) * u128::from(stored) {
            why.push(format!(
                "{missing} of the {stored} stored actions of the synced windows would be deleted, more than {}.{}% (--max-deletion-share)",
                self.max_per_mille / 10,
                self.max_per_mille % 10
            ));
        }
        let emptied = per_window.iter().filter(|w| w.0 > 0 && w.1 == w.0).count();
        if emptied > 0 {
            why.push(format!(
                "{emptied} window(s) would lose every action they held (an API application whose permissions were narrowed answers with empty pages)"
            ));
        }
        (!why.is_empty()).then(|| why.join("; "))
    }
}

/// Where the current winning copy of a key is: source, row, `last_updated`, content hash,
/// place in the input.
type CopyAt = (u32, u32, Option<i64>, i64, u64);

struct Source {
    path: PathBuf,
    month: Month,
    rows: usize,
    /// An existing store file (as opposed to a part staged by this run).
    entry: Option<FileEntry>,
    /// For a staged part: a file beside it holding each row's place in this run's input
    /// (rows are cut by month, and a finished file's rows sorted by contract, so a row's
    /// place in its part is not its place in the input). Read only by the merge.
    positions: Option<PathBuf>,
    /// A staged part written as a store file already (full, clustered by contract, with
    /// its footer summaries): moved into the store as it is when none of its rows lose.
    finished: Option<Finished>,
}

/// What the manifest records of a finished staged file, known when it was written.
struct Finished {
    written: Written,
    tickets: Option<(i64, i64)>,
}

/// What the manifest records of a file's bytes, known when they were written.
#[derive(Debug, Clone)]
pub(super) struct Written {
    /// Size.
    pub bytes: u64,
    /// SHA-256, hex.
    pub sha256: String,
    /// XXH3-128, hex.
    pub xxh3: String,
    /// Each row group's and the footer's checksum (checked as they are read).
    pub ranges: Vec<super::manifest::Range>,
}

impl Written {
    /// The sums of `buf`, a Parquet file (`path` names it in errors).
    pub fn of(buf: &[u8], path: &Path) -> Result<Written, StoreError> {
        Ok(Written {
            bytes: buf.len() as u64,
            sha256: super::sha256_hex(buf),
            xxh3: super::xxh3_hex(buf),
            ranges: super::verify::ranges_of(buf, path)?,
        })
    }
}

/// Rows of one month staged but not yet written: the rows in input order, and each
/// row's place in the input.
#[derive(Default)]
struct Open {
    parts: Vec<DataFrame>,
    /// One per open row.
    positions: Vec<u64>,
    /// When rows last arrived (frames staged so far), to spill the month that waits longest.
    touched: u64,
}

/// Rows held open (all months together) before the month that waited longest is
/// spilled as a plain part: about one file's worth, besides the file being finished.
const OPEN_ROWS: usize = super::FILE_ROWS;

/// Writes `positions` beside a staged part (little-endian u64s), unflushed like the part.
fn write_positions(path: &Path, positions: &[u64]) -> Result<(), StoreError> {
    let mut bytes = Vec::with_capacity(positions.len() * 8);
    for p in positions {
        bytes.extend_from_slice(&p.to_le_bytes());
    }
    fs::write(path, bytes).map_err(io("cannot write", path))
}

/// A file that does not hold what was recorded of it (`why`).
fn unlike_recorded(path: &Path, why: String) -> StoreError {
    StoreError::Io {
        action: "cannot read",
        path: path.to_path_buf(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, why),
    }
}

/// The input places of a staged source's rows (`None` for a stored file).
fn positions_of(src: &Source) -> Result<Option<Vec<u64>>, StoreError> {
    let Some(path) = &src.positions else {
        return Ok(None);
    };
    let bytes = fs::read(path).map_err(io("cannot read", path))?;
    if bytes.len() != src.rows * 8 {
        return Err(unlike_recorded(
            path,
            format!("{} bytes for {} rows", bytes.len(), src.rows),
        ));
    }
    Ok(Some(
        bytes
            .chunks_exact(8)
            .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")))
            .collect(),
    ))
}

/// Stages frames of new actions and commits them into a store.
///
/// Dropping a writer without committing removes what it staged; the store is untouched.
pub struct Writer {
    store: Store,
    /// The hash migration this writer did first, if the store needed one.
    pub migrated: Option<super::Migration>,
    _lock: super::StoreLock,
    staging: PathBuf,
    staged: Vec<Source>,
    generation: u64,
    complete_windows: Vec<(i64, i64)>,
    guard: DeletionGuard,
    refused: FxHashSet<(i64, i64)>,
    /// Rows staged so far (the next row's place in the input).
    input_rows: u64,
    /// Rows of each month not yet written (fewer than a file's worth).
    open: std::collections::BTreeMap<Month, Open>,
    /// Frames staged so far.
    frames: u64,
    /// The month whose open rows hold a part cut from a frame of several months.
    mixed: Option<Month>,
    /// Months the store holds files of when this run began: their rows are only ever
    /// spilled plain (see [`Writer::stage`]).
    held: FxHashSet<Month>,
    /// Halo's billing records this run read, committed with the actions.
    records: crate::records::Batch,
}

fn io<'p>(action: &'static str, path: &'p Path) -> impl FnOnce(std::io::Error) -> StoreError + 'p {
    move |source| StoreError::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

/// Encodes `df` as Parquet into `out` laid out as `layout`, in row groups of `group_rows`,
/// with `footer`'s key-value pairs in the file's footer, on `threads` threads.
fn encode(
    out: impl std::io::Write,
    df: &mut DataFrame,
    group_rows: usize,
    footer: Vec<(String, String)>,
    layout: Layout,
    threads: usize,
    path: &Path,
) -> Result<(), StoreError> {
    super::encode::encode(out, df, group_rows, footer, layout, threads).map_err(|source| {
        StoreError::Parquet {
            path: path.to_path_buf(),
            source,
        }
    })
}

/// Writes `df` to `path` (zstd) and flushes it; returns its size and sums.
pub(super) fn write_parquet(path: &Path, df: &mut DataFrame) -> Result<Written, StoreError> {
    write_parquet_with(path, df, Vec::new())
}

/// Writes a partition file: [`write_parquet`] with the frame's group totals in the footer
/// (see [`crate::fold`]), so that reports of whole months need not decode it.
pub(super) fn write_partition(path: &Path, df: &mut DataFrame) -> Result<Written, StoreError> {
    // The totals read each column as one contiguous piece; a frame read from a file of
    // several row groups (a migration's) comes in one piece per group.
    df.rechunk_mut_par();
    let mut footer = crate::fold::footer::entries(df).map_err(|e| StoreError::Totals {
        path: path.to_path_buf(),
        reason: format!("cannot be computed: {e}"),
    })?;
    let runs = super::index::runs(df, col::CONTRACT_ID).map_err(|source| StoreError::Parquet {
        path: path.to_path_buf(),
        source,
    })?;
    footer.extend(runs.map(|r| super::index::entry(&r)));
    let footer = footer
        .into_iter()
        .map(|(k, v)| (k, super::footer::pack(&v)))
        .collect();
    write_parquet_with(path, df, footer)
}

fn write_parquet_with(
    path: &Path,
    df: &mut DataFrame,
    footer: Vec<(String, String)>,
) -> Result<Written, StoreError> {
    let mut buf: Vec<u8> = Vec::new();
    // Date-times as schema version 3 stores them (UTC microseconds and the nanoseconds
    // past them).
    let mut stored = super::timeunit::to_stored(df).map_err(|source| StoreError::Parquet {
        path: path.to_path_buf(),
        source,
    })?;
    encode(
        &mut buf,
        &mut stored,
        super::ROW_GROUP_ROWS,
        footer,
        Layout::Store,
        crate::threads::count(),
        path,
    )?;
    let mut file = File::create(path).map_err(io("cannot create", path))?;
    std::io::Write::write_all(&mut file, &buf).map_err(io("cannot write", path))?;
    file.sync_all().map_err(io("cannot flush", path))?;
    Written::of(&buf, path)
}

/// Writes a staged part: uncompressed, plain and not flushed, since it lives only until
/// this run's commit reads it back (a crash leaves it to the next writer's cleanup).
fn write_staged(path: &Path, df: &mut DataFrame) -> Result<(), StoreError> {
    let file = File::create(path).map_err(io("cannot create", path))?;
    let mut out = std::io::BufWriter::new(file);
    encode(
        &mut out,
        df,
        super::FILE_ROWS,
        Vec::new(),
        Layout::Spill,
        // The staging thread runs beside the parsing workers: no more threads here.
        1,
        path,
    )?;
    std::io::Write::flush(&mut out).map_err(io("cannot write", path))
}

fn take_rows(df: &DataFrame, rows: Vec<IdxSize>, path: &Path) -> Result<DataFrame, StoreError> {
    let idx = IdxCa::from_vec("".into(), rows);
    df.take(&idx).map_err(|source| StoreError::Parquet {
        path: path.to_path_buf(),
        source,
    })
}

impl Writer {
    /// Starts a commit on `store` (creating its folder if needed). A store whose content
    /// hashes are of another scheme, or whose files lack footer summaries, is migrated
    /// first ([`Store::migrate`]).
    pub fn begin(store: &Store, progress: &Progress) -> Result<Writer, StoreError> {
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
        // A new store gets its (empty) manifest before any data file: a data file without
        // a manifest is then always a lost manifest, never a first commit cut short.
        if !store.root.join(FILE_NAME).exists() {
            store.manifest.write(&store.root)?;
        }
        store.clean_leftovers()?;
        let migrated = store.migrate(progress)?;
        let store = match migrated {
            Some(_) => Store::open(&store.root)?,
            None => store.clone(),
        };
        let staging = store.root.join(format!(".staging-{}", std::process::id()));
        if staging.exists() {
            fs::remove_dir_all(&staging).map_err(io("cannot clear", &staging))?;
        }
        fs::create_dir_all(&staging).map_err(io("cannot create", &staging))?;
        let held = store.manifest.files.iter().map(|f| f.month()).collect();
        Ok(Writer {
            held,
            generation: store.manifest.generation + 1,
            store,
            migrated,
            _lock: lock,
            staging,
            staged: Vec::new(),
            complete_windows: Vec::new(),
            guard: DeletionGuard::default(),
            refused: FxHashSet::default(),
            input_rows: 0,
            open: Default::default(),
            frames: 0,
            mixed: None,
            records: crate::records::Batch::default(),
        })
    }

    /// Adds Halo's billing records to this commit (upserted by key, see
    /// [`crate::records::upsert`]).
    pub fn add_records(&mut self, batch: crate::records::Batch) {
        self.records.extend(batch);
    }

    /// Declares UTC windows whose every action is in this run's input (a completed sync
    /// window): stored actions in them that the input lacks are tombstoned.
    pub fn windows_complete(&mut self, windows: &[(i64, i64)], guard: DeletionGuard) {
        let mut w = windows.to_vec();
        w.sort_unstable();
        self.complete_windows = w;
        self.guard = guard;
    }

    /// Declares keys of records this run refused: their stored copies stay, and the
    /// commit lists those it found.
    pub fn refused_keys(&mut self, keys: impl IntoIterator<Item = (i64, i64)>) {
        self.refused.extend(keys);
    }

    /// Stages a frame of actions (in input order; later frames are later input).
    ///
    /// Rows are gathered by month; each time a month holds a file's worth
    /// ([`super::FILE_ROWS`]) they are written as a finished store file (clustered by
    /// contract, with its footer summaries, compressed and flushed), which the commit
    /// moves into the store as it is unless some of its rows lose the merge. A month's
    /// rest waits, up to [`OPEN_ROWS`] rows for all months together; beyond that, and
    /// at the commit, it is spilled as a plain part for the commit to read back. Of a
    /// frame of several months only the last month's rows may wait (input in date order
    /// makes such a frame at each month's end; mixed input makes every frame one).
    ///
    /// Rows of a month the store already held when this run began are spilled plain as
    /// they come, never held open nor finished: they are likely copies of stored actions
    /// (a re-import, a sync's overlap), which lose or tie the merge, and a finished file
    /// with one loser is written again by the commit. Such a month's new rows are
    /// written by the commit.
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
        self.frames += 1;
        let start = self.input_rows;
        self.input_rows += df.height() as u64;
        let last = months.last().map(|(m, _)| *m);
        for (month, rows) in months {
            let whole = rows.len() == df.height();
            let part = if whole {
                df.clone()
            } else {
                take_rows(&df, rows.clone(), &self.staging)?
            };
            let open = self.open.entry(month).or_default();
            open.parts.push(part);
            open.positions
                .extend(rows.iter().map(|&r| start + u64::from(r)));
            open.touched = self.frames;
            if self.held.contains(&month) {
                self.spill(month)?;
                continue;
            }
            if !whole {
                // A part of a frame of several months: its text shares the frame's
                // buffers, which open parts of many frames would all hold. One such part
                // may wait, the frame's last month's (in date order, the next month's
                // first rows); any other is spilled at once, with what its month held
                // before it, so that the month's rows stay in input order.
                if Some(month) == last && self.mixed.is_none() {
                    self.mixed = Some(month);
                } else {
                    self.spill(month)?;
                    continue;
                }
            }
            while self.open[&month].positions.len() >= super::FILE_ROWS {
                self.finish_file(month)?;
            }
        }
        while self.open.values().map(|o| o.positions.len()).sum::<usize>() > OPEN_ROWS {
            let waited = self
                .open
                .iter()
                .min_by_key(|(m, o)| (o.touched, **m))
                .map(|(m, _)| *m)
                .expect("rows are open");
            self.spill(waited)?;
        }
        Ok(())
    }

    /// The open rows of `month` as one frame (pieces appended, not copied) with their
    /// input places; the month is no longer open.
    fn take_open(&mut self, month: Month) -> Result<(DataFrame, Vec<u64>), StoreError> {
        if self.mixed == Some(month) {
            self.mixed = None;
        }
        let open = self.open.remove(&month).unwrap_or_default();
        let mut parts = open.parts.into_iter();
        let mut all = parts.next().unwrap_or_default();
        for p in parts {
            all.vstack_mut_owned(p)
                .map_err(|source| StoreError::Parquet {
                    path: self.staging.clone(),
                    source,
                })?;
        }
        Ok((all, open.positions))
    }

    /// Writes the first file's worth of `month`'s open rows as a finished store file;
    /// the rest stays open.
    fn finish_file(&mut self, month: Month) -> Result<(), StoreError> {
        let (all, positions) = self.take_open(month)?;
        let n = super::FILE_ROWS;
        if all.height() > n {
            let rest = all.slice(n as i64, all.height() - n);
            self.open.insert(
                month,
                Open {
                    parts: vec![rest],
                    positions: positions[n..].to_vec(),
                    touched: self.frames,
                },
            );
        }
        let chunk = all.slice(0, n);
        // The rest holds its own pieces: let the file's go once they are gathered.
        drop(all);
        let (path, pos_path) = self.next_part();
        let (mut sorted, order) = cluster_by_contract(&chunk, &path)?;
        drop(chunk);
        let tickets = ticket_range(&sorted, &path)?;
        let written = write_partition(&path, &mut sorted)?;
        let sorted_positions: Vec<u64> = order
            .into_no_null_iter()
            .map(|i| positions[i as usize])
            .collect();
        write_positions(&pos_path, &sorted_positions)?;
        // The freed memory stays with the allocator for the next file: handing it back
        // here (`malloc_trim`) made every file's buffers fault in afresh (190,000 more
        // page faults in a 1M import, 0.5 s of system time) to save 6 MB of peak.
        drop(sorted);
        self.staged.push(Source {
            path,
            month,
            rows: n,
            entry: None,
            positions: Some(pos_path),
            finished: Some(Finished { written, tickets }),
        });
        Ok(())
    }

    /// The paths of the next staged part and of its places file.
    fn next_part(&self) -> (PathBuf, PathBuf) {
        let path = self
            .staging
            .join(format!("part-{:06}.parquet", self.staged.len()));
        let places = path.with_extension("pos");
        (path, places)
    }

    /// Writes `month`'s open rows as a plain part for the commit to read back.
    fn spill(&mut self, month: Month) -> Result<(), StoreError> {
        let (mut all, positions) = self.take_open(month)?;
        if all.height() == 0 {
            return Ok(());
        }
        let (path, pos_path) = self.next_part();
        write_staged(&path, &mut all)?;
        write_positions(&pos_path, &positions)?;
        self.staged.push(Source {
            path,
            month,
            rows: all.height(),
            entry: None,
            positions: Some(pos_path),
            finished: None,
        });
        Ok(())
    }

    /// Merges the staged actions into the store and switches to the new state, in four
    /// steps: decide the winning copy of every key, decide the tombstones (subject to the
    /// deletion guard), rewrite the months that changed, switch the manifest.
    ///
    /// Upsert rule on `(ticket_id, id)`: a later copy replaces an earlier one (store
    /// before this run's input, input in file and record order) unless both carry
    /// `last_updated` and the later copy's is older.
    pub fn commit(mut self, progress: &Progress) -> Result<CommitStats, StoreError> {
        let mut stats = CommitStats {
            stored_before: self.store.manifest.rows(),
            input_rows: self.input_rows,
            ..Default::default()
        };
        let sources = self.sources()?;
        crate::threads::release_free_memory();
        let mut merge = self.decide_winners(&sources, &mut stats, progress)?;
        let tombs = self.decide_tombstones(&sources, &mut merge, &mut stats);
        let (files, tomb_frames) =
            self.rewrite_changed_months(&sources, &merge.losers, &tombs, &mut stats, progress)?;
        let records = self.write_records(&mut stats)?;
        self.switch_manifest(files, tomb_frames, records, &mut stats)?;
        Ok(stats)
    }

    /// The stored files, then the staged parts (taken from the writer, the months still
    /// open spilled first) in the order they were staged: each month's in input order.
    fn sources(&mut self) -> Result<Vec<Source>, StoreError> {
        let open: Vec<Month> = self.open.keys().copied().collect();
        for month in open {
            self.spill(month)?;
        }
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
                positions: None,
                finished: None,
            })
            .collect();
        sources.append(&mut self.staged);
        Ok(sources)
    }

    /// Step 1: the winner of every key, reading only the key columns. Marks the losing
    /// copies, and weighs the stored rows that lie in completed windows against the keys
    /// this run offered (tombstone candidates).
    ///
    /// Month by month, so that memory follows the largest month, not the store: a key
    /// whose copies all lie in one month is settled in that month's round; the few keys
    /// with copies in several months (an action whose date moved; found by sorting a
    /// 64-bit tag of key hash and month per row) are set aside and settled last, in
    /// input order (the store first), by the same rule.
    fn decide_winners(
        &self,
        sources: &[Source],
        stats: &mut CommitStats,
        progress: &Progress,
    ) -> Result<Merge, StoreError> {
        let bar = progress.bar(
            sources.iter().map(|s| s.rows as u64).sum(),
            "merging on (ticket_id, id)",
        );
        // A stored file of a month that this run's input does not touch and that no
        // completed window reaches can only matter through a key this run offers or
        // refuses; its key columns are probed for those, and it is merged only on a hit.
        // So the cost of a small import grows with the months it touches, not the store.
        let input_months: FxHashSet<Month> = sources
            .iter()
            .filter(|s| s.entry.is_none())
            .map(|s| s.month)
            .collect();
        let probed = |s: &Source| {
            s.entry.is_some() && !input_months.contains(&s.month) && !self.window_reaches(s.month)
        };
        let mut probe: FxHashSet<(i64, i64)> = FxHashSet::default();
        if sources.iter().any(probed) {
            probe.extend(self.refused.iter().copied());
            for src in sources.iter().filter(|s| s.entry.is_none()) {
                probe.extend(read_ids(&src.path)?);
            }
        }
        // A file whose recorded ticket range holds none of the offered tickets is not
        // even opened (tickets are numbered as they are opened, so a file's range is
        // narrow and a day's sync rarely reaches into older files).
        let mut tickets: Vec<i64> = probe.iter().map(|k| k.0).collect();
        tickets.sort_unstable();
        tickets.dedup();
        let in_range = |range: Option<(i64, i64)>| match range {
            None => true,
            Some((lo, hi)) => tickets
                .get(tickets.partition_point(|&t| t < lo))
                .is_some_and(|&t| t <= hi),
        };
        // A stored file is checked against the manifest before the commit reads it: a
        // damaged file is never merged into the next state.
        let checked = |src: &Source| match &src.entry {
            Some(e) => self.store.verify_file(e),
            None => Ok(()),
        };
        let mut todo: Vec<usize> = Vec::new();
        for (si, src) in sources.iter().enumerate() {
            let skip = probed(src)
                && (!in_range(src.entry.as_ref().and_then(|e| e.tickets)) || {
                    checked(src)?;
                    !read_ids(&src.path)?.iter().any(|k| probe.contains(k))
                });
            if skip {
                bar.inc(src.rows as u64);
            } else {
                checked(src)?;
                todo.push(si);
            }
        }
        drop(probe);
        let mut months: Vec<Month> = todo.iter().map(|&i| sources[i].month).collect();
        months.sort_unstable();
        months.dedup();
        let cross = cross_month_keys(sources, &todo, &months)?;
        crate::threads::release_free_memory();
        let mut merge = Merge {
            losers: sources.iter().map(|_| Vec::new()).collect(),
            per_window: vec![(0, 0); self.complete_windows.len()],
            missing: Vec::new(),
        };
        let mut deferred: Vec<CopyOf> = Vec::new();
        // Months are weighed side by side, two at a time: the copies of a key all lie
        // in one month (the keys found in several were set aside above), so each
        // month's round decides alone, on losers of its own sources. Not more than
        // two, since each holds a map of its month's keys (at 10M, 833,000 of them).
        let weigh = |month: &Month| -> Result<Weighed, StoreError> {
            let members: Vec<usize> = todo
                .iter()
                .copied()
                .filter(|&i| sources[i].month == *month)
                .collect();
            let mut w = Weighed {
                losers: sources.iter().map(|_| Vec::new()).collect(),
                ..Weighed::default()
            };
            w.round
                .winner
                .reserve(members.iter().map(|&i| sources[i].rows).sum());
            for si in members {
                let src = &sources[si];
                let mut copies = copies_of(si, src)?;
                if src.finished.is_some() {
                    // Its rows are clustered by contract: taken in input order, as the
                    // rule's order requires.
                    copies.sort_unstable_by_key(|c| c.pos);
                }
                for copy in copies {
                    if !cross.is_empty() && cross.contains(&(key_tag(copy.key) >> MONTH_BITS)) {
                        w.deferred.push(copy);
                    } else {
                        self.consider(sources, &mut w.round, &copy, &mut w.losers, &mut w.stats);
                    }
                }
                bar.inc(src.rows as u64);
            }
            Ok(w)
        };
        let side_by_side = crate::threads::count().min(2);
        let mut weighed = Vec::new();
        for group in months.chunks(side_by_side) {
            use rayon::prelude::*;
            group.par_iter().map(weigh).collect_into_vec(&mut weighed);
            // Taken in month order, as when weighed one after the other.
            for w in weighed.drain(..) {
                let w = w?;
                for (si, l) in w.losers.into_iter().enumerate() {
                    if !l.is_empty() {
                        merge.losers[si] = l;
                    }
                }
                stats.absorb_merge_counts(w.stats);
                deferred.extend(w.deferred);
                w.round.close(&mut merge);
            }
        }
        // The order of the rule: the store before the input (file by file), the input
        // in file and record order, which its rows' places give across months.
        deferred.sort_unstable_by_key(|c| match sources[c.si as usize].entry {
            Some(_) => (false, c.si, c.pos),
            None => (true, 0, c.pos),
        });
        let mut round = Round::default();
        for copy in &deferred {
            self.consider(sources, &mut round, copy, &mut merge.losers, stats);
        }
        round.close(&mut merge);
        bar.finish();
        stats.kept_despite_refusal.sort_unstable();
        stats.kept_despite_refusal.dedup();
        Ok(merge)
    }

    /// Takes one copy into a round: the upsert rule on `(ticket_id, id)`. A later copy
    /// replaces an earlier one (store before this run's input, input in file and record
    /// order) unless both carry `last_updated` and the later copy's is older; an identical
    /// copy changes nothing. Marks the loser and counts what happened.
    fn consider(
        &self,
        sources: &[Source],
        round: &mut Round,
        copy: &CopyOf,
        losers: &mut [Vec<bool>],
        stats: &mut CommitStats,
    ) {
        let (si, key) = (copy.si as usize, copy.key);
        let src = &sources[si];
        let me = (copy.si, copy.row, copy.last_updated, copy.hash, copy.pos);
        if src.entry.is_some() && self.refused.contains(&key) {
            stats.kept_despite_refusal.push(key);
        }
        if !self.complete_windows.is_empty() {
            if src.entry.is_none() {
                round.input_keys.insert(key);
            } else if let Some(w) = copy.datetime.and_then(|t| self.window_of(t)) {
                round.candidates.push((copy.si, copy.row, key, w));
            }
        }
        match round.winner.entry(key) {
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(me);
                if src.entry.is_none() {
                    stats.new += 1;
                }
            }
            std::collections::hash_map::Entry::Occupied(mut o) => {
                let (osi, orow, olu, oh, opos) = *o.get();
                let from_store = sources[osi as usize].entry.is_some();
                // An identical copy changes nothing: keep the one we have, so that
                // its file need not be rewritten.
                let same = oh == copy.hash;
                let later_wins = !same
                    && match (copy.last_updated, olu) {
                        (Some(a), Some(b)) if a != b => a > b,
                        // Equal or absent: the later in the input (the store
                        // counts as before all input).
                        _ => match (from_store, src.entry.is_some()) {
                            (true, _) => true,
                            (false, true) => false,
                            (false, false) => copy.pos > opos,
                        },
                    };
                let (lsi, lrow) = if later_wins {
                    o.insert(me);
                    (osi, orow)
                } else {
                    (copy.si, copy.row)
                };
                mark(losers, sources, lsi as usize, lrow as usize);
                match (from_store, same, later_wins) {
                    (true, true, _) => stats.unchanged += 1,
                    (true, false, true) => stats.replaced += 1,
                    (true, false, false) => stats.stale_ignored += 1,
                    (false, _, _) => stats.duplicates_merged += 1,
                }
            }
        }
    }

    /// Whether a completed window reaches into month partition `m`.
    fn window_reaches(&self, m: Month) -> bool {
        let (lo, hi) = super::month_bounds(m);
        self.complete_windows.iter().any(|&(a, b)| a < hi && lo < b)
    }

    /// The index of the completed window holding `t`, if any.
    fn window_of(&self, t: i64) -> Option<usize> {
        let i = self.complete_windows.partition_point(|w| w.1 <= t);
        self.complete_windows
            .get(i)
            .filter(|w| w.0 <= t && t < w.1)
            .map(|_| i)
    }

    /// Step 2: stored actions of completed windows that the input no longer has. They
    /// become tombstones unless the deletion guard holds them back (then they stay).
    fn decide_tombstones(
        &self,
        sources: &[Source],
        merge: &mut Merge,
        stats: &mut CommitStats,
    ) -> Vec<Vec<IdxSize>> {
        let mut tombs: Vec<Vec<IdxSize>> = sources.iter().map(|_| Vec::new()).collect();
        let per_window = &merge.per_window;
        let missing = std::mem::take(&mut merge.missing);
        let held = self.guard.holds(per_window);
        if let Some(reason) = held {
            stats.deletions_held = missing.len() as u64;
            stats.held_reason = reason;
            stats.held_windows = per_window
                .iter()
                .zip(&self.complete_windows)
                .filter(|(c, _)| c.1 > 0)
                .map(|(c, w)| HeldWindow {
                    from_ns: w.0,
                    to_ns: w.1,
                    stored: c.0,
                    missing: c.1,
                })
                .collect();
            stats.held_actions = missing
                .iter()
                .map(|&(_, _, key, w)| (key, self.complete_windows[w]))
                .collect();
            stats.held_actions.sort_unstable();
            return tombs;
        }
        for (si, row, _, _) in missing {
            if !merge.losers[si].get(row).copied().unwrap_or(false) {
                mark(&mut merge.losers, sources, si, row);
                tombs[si].push(row as IdxSize);
                stats.tombstoned += 1;
            }
        }
        tombs
    }

    /// Step 3: rewrite each month that changed, streaming: a full stored file (FILE_ROWS
    /// rows) none of whose rows lost stays as it is; the surviving rows of every other
    /// source of the month (changed or partial stored files, staged parts) are cut into
    /// new files of FILE_ROWS rows, at most one shorter. So a month holds at most one
    /// partial file, an edit rewrites the files it touches, and memory stays within about
    /// two files whatever the month's size. Months that did not change keep their files.
    /// A finished staged file none of whose rows lost is moved into its month as it is.
    /// Returns the new file list and the frames of tombstoned rows.
    fn rewrite_changed_months(
        &self,
        sources: &[Source],
        losers: &[Vec<bool>],
        tombs: &[Vec<IdxSize>],
        stats: &mut CommitStats,
        progress: &Progress,
    ) -> Result<(Vec<FileEntry>, Vec<DataFrame>), StoreError> {
        let mut months: Vec<Month> = sources.iter().map(|s| s.month).collect();
        months.sort();
        months.dedup();
        let bar = progress.bar(months.len() as u64, "writing partitions");
        let mut files = Vec::new();
        let mut tomb_frames = Vec::new();
        for month in months {
            let members: Vec<usize> = (0..sources.len())
                .filter(|&i| sources[i].month == month)
                .collect();
            let all_lost =
                |i: usize| losers[i].len() == sources[i].rows && losers[i].iter().all(|l| *l);
            // A month stays as it is when its stored rows all survive and every row this run
            // offered for it lost (unchanged or older copies).
            let untouched = members.iter().all(|&i| match sources[i].entry {
                Some(_) => losers[i].is_empty(),
                None => all_lost(i),
            });
            let mut out = MonthFiles::new(self, month);
            for &i in &members {
                let src = &sources[i];
                if let Some(e) = &src.entry
                    && losers[i].is_empty()
                    && (untouched || src.rows >= super::FILE_ROWS)
                {
                    files.push(e.clone());
                    stats.files_kept += 1;
                    continue;
                }
                if src.entry.is_none() && all_lost(i) {
                    continue;
                }
                if let Some(done) = &src.finished
                    && losers[i].is_empty()
                {
                    out.adopt(src, done, &mut files, stats)?;
                    continue;
                }
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
                out.push(df, &src.path, &mut files, stats)?;
            }
            out.finish(&mut files, stats)?;
            bar.inc(1);
        }
        bar.finish();
        Ok((files, tomb_frames))
    }

    /// Step 4: write the tombstones file, switch the manifest atomically, then remove the
    /// files it no longer names. When nothing changed, the committed state stays exactly
    /// as it was (same generation, no write).
    fn switch_manifest(
        &self,
        files: Vec<FileEntry>,
        tomb_frames: Vec<DataFrame>,
        records: Vec<FileEntry>,
        stats: &mut CommitStats,
    ) -> Result<(), StoreError> {
        let root = &self.store.root;
        stats.stored_after = files.iter().map(|f| f.rows).sum();
        if stats.files_written == 0
            && files == self.store.manifest.files
            && records == self.store.manifest.records
        {
            return Ok(());
        }
        let mut tombstones = self.store.manifest.tombstones.clone();
        if let Some(mut t) = tomb_frames.into_iter().reduce(|mut a, b| {
            a.vstack_mut_owned(b).expect("same schema");
            a
        }) {
            let rel = format!("tombstones/part-g{:06}.parquet", self.generation);
            tombstones.push(self.write_unpartitioned(rel, &mut t, stats)?);
        }
        // The files this commit replaces: named in the new manifest as retired, kept for
        // outside readers until their grace period ends (a crash before they are removed
        // leaves the next writer to remove them), beside those earlier commits retired
        // that are still there.
        let retired = self.store.retiring(
            self.store
                .manifest
                .files
                .iter()
                .filter(|old| !files.iter().any(|f| f.path == old.path))
                .chain(
                    self.store
                        .manifest
                        .records
                        .iter()
                        .filter(|old| !records.iter().any(|f| f.path == old.path)),
                ),
        );
        let manifest = Manifest {
            tombstones,
            records,
            generation: self.generation,
            committed_at: Some(
                chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            ),
            files,
            retired,
            ..Manifest::default()
        };
        stats.stored_after = manifest.rows();
        manifest.write(root)?;
        self.store.remove_expired(&manifest.retired)?;
        Ok(())
    }
}

impl Writer {
    /// Writes `df` as the store file `rel` (outside the month partitions: tombstones,
    /// Halo's records), its folder created and flushed; returns its manifest entry.
    fn write_unpartitioned(
        &self,
        rel: String,
        df: &mut DataFrame,
        stats: &mut CommitStats,
    ) -> Result<FileEntry, StoreError> {
        let path = self.store.root.join(&rel);
        let dir = path.parent().expect("a store folder").to_path_buf();
        fs::create_dir_all(&dir).map_err(io("cannot create", &dir))?;
        let w = write_parquet(&path, df)?;
        fsutil::sync_dir(&dir).map_err(io("cannot flush", &dir))?;
        stats.bytes_written += w.bytes;
        Ok(FileEntry {
            path: rel,
            year: 0,
            month: 0,
            rows: df.height() as u64,
            bytes: w.bytes,
            sha256: w.sha256,
            tickets: None,
            xxh3: Some(w.xxh3),
            ranges: w.ranges,
        })
    }

    /// Step 3b: each table of Halo's billing records this run offered rows of, upserted
    /// into the stored table and written as a new file when anything changed; the other
    /// tables' files are kept. Returns the records' entries for the new manifest.
    fn write_records(&self, stats: &mut CommitStats) -> Result<Vec<FileEntry>, StoreError> {
        use crate::records::{self, Table};
        let root = &self.store.root;
        let mut out = Vec::new();
        for t in Table::ALL {
            let kept = self
                .store
                .manifest
                .records
                .iter()
                .find(|f| Table::of_path(&f.path) == Some(t))
                .cloned();
            let offered = self.records.count(t);
            let touches = offered > 0
                || (t == Table::InvoiceLines && !self.records.invoices_with_lines.is_empty());
            if !touches {
                out.extend(kept);
                continue;
            }
            let stored = self.store.record_rows(t)?;
            let (rows, new, changed) = records::upsert(t, &stored, &self.records);
            stats.records.push(RecordStats {
                table: t.name(),
                offered,
                new,
                changed,
                stored_after: rows.len(),
            });
            if rows == stored {
                out.extend(kept);
                continue;
            }
            let rel = format!("records/{}/part-g{:06}.parquet", t.name(), self.generation);
            let mut df = records::to_frame(t, &rows).map_err(|source| StoreError::Parquet {
                path: root.join(&rel),
                source,
            })?;
            out.push(self.write_unpartitioned(rel, &mut df, stats)?);
        }
        Ok(out)
    }
}

/// The new files of one month being rewritten: rows are pushed in source order and cut
/// into files of FILE_ROWS rows (readers take one whole small file at a time, which
/// bounds their memory); the rest waits for more rows or [`MonthFiles::finish`].
struct MonthFiles<'w> {
    writer: &'w Writer,
    month: Month,
    pending: Option<DataFrame>,
    part: usize,
    dir: PathBuf,
}

impl<'w> MonthFiles<'w> {
    fn new(writer: &'w Writer, month: Month) -> Self {
        let dir = writer
            .store
            .root
            .join(format!("actions/year={}/month={}", month.0, month.1));
        MonthFiles {
            writer,
            month,
            pending: None,
            part: 0,
            dir,
        }
    }

    fn push(
        &mut self,
        df: DataFrame,
        path: &Path,
        files: &mut Vec<FileEntry>,
        stats: &mut CommitStats,
    ) -> Result<(), StoreError> {
        let mut all = match self.pending.take() {
            None => df,
            Some(mut p) => {
                p.vstack_mut_owned(df)
                    .map_err(|source| StoreError::Parquet {
                        path: path.to_path_buf(),
                        source,
                    })?;
                p
            }
        };
        let mut offset = 0;
        while all.height() - offset >= super::FILE_ROWS {
            let mut chunk = all.slice(offset as i64, super::FILE_ROWS);
            self.write(&mut chunk, files, stats)?;
            offset += super::FILE_ROWS;
        }
        if offset > 0 {
            all = all.slice(offset as i64, all.height() - offset);
        }
        self.pending = (all.height() > 0).then_some(all);
        Ok(())
    }

    fn write(
        &mut self,
        chunk: &mut DataFrame,
        files: &mut Vec<FileEntry>,
        stats: &mut CommitStats,
    ) -> Result<(), StoreError> {
        let (rel, path) = self.next_file()?;
        let chunk = &mut cluster_by_contract(chunk, &path)?.0;
        let tickets = ticket_range(chunk, &path)?;
        let written = write_partition(&path, chunk)?;
        self.add(rel, chunk.height(), written, tickets, files, stats);
        Ok(())
    }

    /// Moves a finished staged file (see [`Writer::stage`]) into the month as it is.
    fn adopt(
        &mut self,
        src: &Source,
        done: &Finished,
        files: &mut Vec<FileEntry>,
        stats: &mut CommitStats,
    ) -> Result<(), StoreError> {
        let (rel, path) = self.next_file()?;
        fs::rename(&src.path, &path).map_err(io("cannot move into the store", &src.path))?;
        self.add(
            rel,
            src.rows,
            done.written.clone(),
            done.tickets,
            files,
            stats,
        );
        Ok(())
    }

    /// The store-relative name and the path of the month's next new file (its folder
    /// made first).
    fn next_file(&self) -> Result<(String, PathBuf), StoreError> {
        if self.part == 0 {
            fs::create_dir_all(&self.dir).map_err(io("cannot create", &self.dir))?;
        }
        let (y, m) = self.month;
        let rel = format!(
            "actions/year={y}/month={m}/part-g{:06}-{:04}.parquet",
            self.writer.generation, self.part
        );
        let path = self.writer.store.root.join(&rel);
        Ok((rel, path))
    }

    /// Records a new file of the month, written at `rel` (its size and sums).
    fn add(
        &mut self,
        rel: String,
        rows: usize,
        w: Written,
        tickets: Option<(i64, i64)>,
        files: &mut Vec<FileEntry>,
        stats: &mut CommitStats,
    ) {
        let (year, month) = self.month;
        stats.files_written += 1;
        stats.bytes_written += w.bytes;
        files.push(FileEntry {
            path: rel,
            year,
            month,
            rows: rows as u64,
            bytes: w.bytes,
            sha256: w.sha256,
            tickets,
            xxh3: Some(w.xxh3),
            ranges: w.ranges,
        });
        self.part += 1;
    }

    fn finish(
        mut self,
        files: &mut Vec<FileEntry>,
        stats: &mut CommitStats,
    ) -> Result<(), StoreError> {
        if let Some(mut rest) = self.pending.take() {
            self.write(&mut rest, files, stats)?;
        }
        if self.part > 0 {
            fsutil::sync_dir(&self.dir).map_err(io("cannot flush", &self.dir))?;
        }
        Ok(())
    }
}

/// `chunk`'s rows clustered by contract (input order kept within one), so that a reader
/// of one contract reads one run of rows (the footer's index says where) and skips the
/// row groups whose statistics exclude it; with the order taken (sorted row -> row).
/// The rows are gathered straight from the chunk's pieces (`DataFrame::sort` would first
/// copy them into one piece), into one piece, as `write_partition` wants them.
fn cluster_by_contract(chunk: &DataFrame, path: &Path) -> Result<(DataFrame, IdxCa), StoreError> {
    chunk
        .column(col::CONTRACT_ID)
        .map(|c| {
            c.as_materialized_series()
                .arg_sort(SortOptions::default().with_maintain_order(true))
        })
        .and_then(|order| Ok((gather_columns(chunk, &order)?, order)))
        .map_err(|source| StoreError::Parquet {
            path: path.to_path_buf(),
            source,
        })
}

/// The lowest and highest `ticket_id` of a file's rows, for the manifest.
fn ticket_range(df: &DataFrame, path: &Path) -> Result<Option<(i64, i64)>, StoreError> {
    let ids = int_column(df, col::TICKET_ID, path)?;
    Ok(ids.min().zip(ids.max()))
}

/// The rows `order` of `df`, column by column on the rayon pool: each column is first
/// made one piece (a month's rows come in one piece per staged part, and gathering
/// from many pieces looks up each row's piece), one column at a time per thread, so
/// the copy held beside the result is one column's.
fn gather_columns(df: &DataFrame, order: &IdxCa) -> PolarsResult<DataFrame> {
    use rayon::prelude::*;
    let columns = df
        .columns()
        .par_iter()
        .map(|c| c.rechunk().take(order))
        .collect::<PolarsResult<Vec<Column>>>()?;
    DataFrame::new(order.len(), columns)
}

/// Marks row `row` of source `si` as a losing copy.
fn mark(losers: &mut [Vec<bool>], sources: &[Source], si: usize, row: usize) {
    let l = &mut losers[si];
    if l.is_empty() {
        l.resize(sources[si].rows, false);
    }
    l[row] = true;
}

/// What step 1 decided.
struct Merge {
    /// Per source, which rows lost (empty: none did).
    losers: Vec<Vec<bool>>,
    /// Per completed window: stored actions in it, and how many of them the input lacks.
    per_window: Vec<(u64, u64)>,
    /// The stored rows of completed windows that the input lacks: source, row, key and
    /// the window's index.
    missing: Vec<(usize, usize, (i64, i64), usize)>,
}

/// One copy of a key as the merge sees it: where it is and what decides between copies.
struct CopyOf {
    si: u32,
    row: u32,
    /// The row's place in this run's input (staged rows), or its row (stored ones).
    pos: u64,
    key: (i64, i64),
    last_updated: Option<i64>,
    hash: i64,
    datetime: Option<i64>,
}

/// The copies of one month (or of the keys found in several months), settled together.
#[derive(Default)]
struct Round {
    winner: FxHashMap<(i64, i64), CopyAt>,
    /// Keys this run offered (collected only when windows were declared complete).
    input_keys: FxHashSet<(i64, i64)>,
    /// Stored rows in completed windows: source, row, key, window index.
    candidates: Vec<(u32, u32, (i64, i64), usize)>,
}

/// What weighing one month's copies decided: its losers (by source, empty for the
/// sources of other months), counts, round (closed by the caller in month order) and
/// the copies of keys found in several months, set aside.
#[derive(Default)]
struct Weighed {
    losers: Vec<Vec<bool>>,
    stats: CommitStats,
    round: Round,
    deferred: Vec<CopyOf>,
}

impl Round {
    /// Weighs the round's window candidates against the keys it offered: every copy of
    /// a key lies in one round, so the round's own keys are all there is to ask.
    fn close(self, merge: &mut Merge) {
        for (si, row, key, w) in self.candidates {
            merge.per_window[w].0 += 1;
            if !self.input_keys.contains(&key) {
                merge.per_window[w].1 += 1;
                merge.missing.push((si as usize, row as usize, key, w));
            }
        }
    }
}

/// Bits of a key tag that hold the month's index (the rest hold the key's hash).
const MONTH_BITS: u32 = 16;

/// A key's hash with the low MONTH_BITS bits clear, for the month's index.
fn key_tag(key: (i64, i64)) -> u64 {
    use std::hash::BuildHasher;
    rustc_hash::FxBuildHasher.hash_one(key) << MONTH_BITS
}

/// The hashes (tag >> MONTH_BITS) of keys with rows in more than one of `months`, from
/// the key columns of the sources `todo`. Two keys whose hashes collide only make the
/// merge settle both among the set-aside keys, which follows the same rule.
fn cross_month_keys(
    sources: &[Source],
    todo: &[usize],
    months: &[Month],
) -> Result<FxHashSet<u64>, StoreError> {
    let mut cross = FxHashSet::default();
    if months.len() < 2 {
        return Ok(cross);
    }
    if months.len() >= 1 << MONTH_BITS {
        // More than 5,000 years of months: settle every key together.
        for &si in todo {
            cross.extend(
                read_ids(&sources[si].path)?
                    .into_iter()
                    .map(|k| key_tag(k) >> MONTH_BITS),
            );
        }
        return Ok(cross);
    }
    // As many sources read side by side as there are threads (so the ids held besides
    // the tags stay a few files' worth), their tags appended in turn.
    use rayon::prelude::*;
    let mut tags: Vec<u64> = Vec::with_capacity(todo.iter().map(|&i| sources[i].rows).sum());
    let mut read = Vec::new();
    for group in todo.chunks(crate::threads::count()) {
        group
            .par_iter()
            .map(|&si| read_ids(&sources[si].path))
            .collect_into_vec(&mut read);
        for (&si, ids) in group.iter().zip(read.drain(..)) {
            let m = months
                .binary_search(&sources[si].month)
                .expect("a month of todo") as u64;
            tags.extend(ids?.into_iter().map(|k| key_tag(k) | m));
        }
    }
    tags.par_sort_unstable();
    for run in tags.chunk_by(|a, b| a >> MONTH_BITS == b >> MONTH_BITS) {
        if run[0] != run[run.len() - 1] {
            cross.insert(run[0] >> MONTH_BITS);
        }
    }
    Ok(cross)
}

/// The merge columns of one row.
struct KeyRow {
    ticket_id: i64,
    id: i64,
    last_updated: Option<i64>,
    hash: i64,
    datetime: Option<i64>,
}

/// The `(ticket_id, id)` of every row of a file (reading only those columns).
fn read_ids(path: &Path) -> Result<Vec<(i64, i64)>, StoreError> {
    let df = read_parquet(path, Some(&[col::TICKET_ID, col::ID]))?;
    let (t, id) = (
        int_column(&df, col::TICKET_ID, path)?,
        int_column(&df, col::ID, path)?,
    );
    Ok(t.iter()
        .zip(id.iter())
        .map(|(t, id)| (t.unwrap_or_default(), id.unwrap_or_default()))
        .collect())
}

/// An integer column (a date-time column as its integers) of a frame read from `path`.
fn int_column(df: &DataFrame, name: &str, path: &Path) -> Result<Int64Chunked, StoreError> {
    df.column(name)
        .and_then(|c| match c.datetime() {
            Ok(d) => Ok(d.physical().clone()),
            Err(_) => c.i64().cloned(),
        })
        .map_err(|source| StoreError::Parquet {
            path: path.to_path_buf(),
            source,
        })
}

/// Every row of source `si` as the merge sees it.
fn copies_of(si: usize, src: &Source) -> Result<Vec<CopyOf>, StoreError> {
    let keys = read_keys(&src.path)?;
    // A places file was checked to hold `src.rows` places.
    let positions = positions_of(src)?;
    if keys.len() != src.rows {
        return Err(unlike_recorded(
            &src.path,
            format!(
                "it holds {} rows where {} were recorded",
                keys.len(),
                src.rows
            ),
        ));
    }
    Ok(keys
        .into_iter()
        .enumerate()
        .map(|(row, k)| CopyOf {
            si: si as u32,
            row: row as u32,
            // A stored copy's row number: the rule puts every stored copy before all
            // input, so it only orders its file.
            pos: positions.as_ref().map_or(row as u64, |p| p[row]),
            key: (k.ticket_id, k.id),
            last_updated: k.last_updated,
            hash: k.hash,
            datetime: k.datetime,
        })
        .collect())
}

/// Reads the key, `last_updated`, content hash and datetime of every row of a file.
fn read_keys(path: &Path) -> Result<Vec<KeyRow>, StoreError> {
    let df = read_parquet(
        path,
        Some(&[
            col::TICKET_ID,
            col::ID,
            col::LAST_UPDATED,
            col::CONTENT_HASH,
            col::DATETIME,
        ]),
    )?;
    let int = |name: &str| int_column(&df, name, path);
    let (t, id, hash) = (int(col::TICKET_ID)?, int(col::ID)?, int(col::CONTENT_HASH)?);
    let (lu, dt) = (int(col::LAST_UPDATED)?, int(col::DATETIME)?);
    Ok(t.iter()
        .zip(id.iter())
        .zip(hash.iter())
        .zip(lu.iter().zip(dt.iter()))
        .map(|(((t, id), h), (lu, dt))| KeyRow {
            ticket_id: t.unwrap_or_default(),
            id: id.unwrap_or_default(),
            last_updated: lu,
            hash: h.unwrap_or_default(),
            datetime: dt,
        })
        .collect())
}

impl Drop for Writer {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.staging);
    }
}
