//! Parquet encoding of the store's files with every core at work.
//!
//! polars' writer encodes the columns of a row group side by side but compresses their
//! pages one after another on the calling thread (zstd, with a fresh compression
//! context per page): writing a partition kept one core busy and the other mostly idle.
//! Here every (row group, column) pair is encoded *and* compressed as one piece of work,
//! on [`crate::threads::count`] threads, and the finished pages are written in order.
//! A store file ([`Layout::Store`]) is laid out as polars' own writer lays it out with
//! the same options (the same row groups, cut as polars cuts them, pages, compression,
//! statistics and footer; byte for byte the same when no column is delta-encoded),
//! except that the date-time columns and `ticket_id` are delta-encoded
//! (DELTA_BINARY_PACKED, see [`delta_encoded`]) where polars would try a dictionary and
//! fall back to plain values.
//!
//! Each thread compresses its pages with one zstd context of its own, made once per
//! file: polars makes a new one per page, and making one asks the CPU for its features
//! (`cpuid`, which traps to the hypervisor on a virtual machine; 5% of the time spent
//! writing a store's files). A reused context gives the same bytes (zstd's one-shot
//! compression resets the session every call).
//!
//! A part staged for this run's commit ([`Layout::Spill`]) is read back once, whole, by
//! the same run: its pages are plain (no dictionary tried, no cardinality estimated) and
//! carry no statistics, which cost more to make than the spill is worth.

use polars::io::parquet::write::{KeyValueMetadata, ParquetCompression, ParquetWriter};
use polars::prelude::*;
use polars_parquet::parquet::CowBuffer;
use polars_parquet::parquet::compression::Compression;
use polars_parquet::parquet::page::{CompressedDataPage, CompressedDictPage, Page};
use polars_parquet::write::{
    CompressedPage, CompressionOptions, Encoding, ParquetType, StatisticsOptions, Version,
    WriteOptions, array_to_columns, compress,
};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// How a file's pages are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Layout {
    /// As polars' writer lays them out: dictionary pages where polars finds them worth
    /// it, min/max/null-count statistics (for readers that skip row groups), zstd.
    Store,
    /// Plain pages, no statistics, no compression: a spill read back whole, once.
    Spill,
}

impl Layout {
    fn compression(self) -> ParquetCompression {
        match self {
            Layout::Store => ParquetCompression::Zstd(None),
            Layout::Spill => ParquetCompression::Uncompressed,
        }
    }
}

/// Whether a store file holds column `field` delta-encoded: the six date-times
/// (nanoseconds, near one another within a contract's run of rows) and `ticket_id`
/// (tickets numbered in time). Plain, they are the largest columns of a file and
/// barely compress (a month's `datetime` 55 KB per row group of 8,192 rows with zstd,
/// `ticket_id` 17 KB); delta-encoded 45 and 11 KB, which is less for a reader of a few
/// rows to decompress (`report actions --contract`).
fn delta_encoded(field: &polars::prelude::ArrowField) -> bool {
    matches!(field.dtype, ArrowDataType::Timestamp(..))
        || field.name == crate::frame::col::TICKET_ID
}

/// The encoded and compressed pages of one column of one row group, by leaf.
type Pages = PolarsResult<Vec<Vec<CompressedPage>>>;

/// The row groups polars' writer cuts a one-piece frame of `height` rows into for
/// `group_rows` rows per group: `height / group_rows` groups (at least one) of equal
/// length, the last taking the rest. As `(offset, length)`.
fn row_groups(height: usize, group_rows: usize) -> Vec<(usize, usize)> {
    let n = (height / group_rows.max(1)).max(1);
    let each = height / n;
    (0..n)
        .map(|i| {
            let start = i * each;
            let len = if i + 1 == n { height - start } else { each };
            (start, len)
        })
        .collect()
}

/// Encodes `df` as Parquet into `out`, in row groups of about
/// `group_rows` rows (see [`row_groups`]), with `footer`'s key-value pairs in the
/// file's footer, laid out as `layout` says, on up to `threads` threads.
pub(super) fn encode<W: std::io::Write>(
    out: W,
    df: &mut DataFrame,
    group_rows: usize,
    footer: Vec<(String, String)>,
    layout: Layout,
    threads: usize,
) -> PolarsResult<()> {
    df.rechunk_mut_par();
    let groups: Vec<DataFrame> = row_groups(df.height(), group_rows)
        .into_iter()
        .map(|(start, len)| df.slice(start as i64, len))
        .collect();
    // What polars' writer uses for the same settings (`ParquetWriter::new`'s defaults).
    let compression = layout.compression();
    let options = WriteOptions {
        statistics: match layout {
            Layout::Store => StatisticsOptions::default(),
            Layout::Spill => StatisticsOptions::empty(),
        },
        compression: CompressionOptions::from(compression),
        version: Version::V1,
        data_page_size: None,
    };
    let mut writer = ParquetWriter::new(out)
        .with_compression(compression)
        .with_statistics(options.statistics)
        .with_key_value_metadata(
            (!footer.is_empty()).then(|| KeyValueMetadata::from_static(footer)),
        )
        .batched(df.schema())?;
    let fields: Vec<ParquetType> = writer.parquet_schema().fields().to_vec();
    let encodings: Vec<Vec<Encoding>> = df
        .schema()
        .to_arrow(CompatLevel::newest())
        .iter_values()
        .map(|f| match layout {
            Layout::Store if delta_encoded(f) => vec![Encoding::DeltaBinaryPacked],
            Layout::Store => polars_parquet::write::get_dtype_encoding(&f.dtype),
            Layout::Spill => vec![Encoding::Plain],
        })
        .collect();
    let batches: Vec<_> = groups
        .iter()
        .filter(|g| g.height() > 0)
        .flat_map(|g| g.iter_chunks(CompatLevel::newest(), false))
        .collect();
    let columns = fields.len();
    let pieces = batches.len() * columns;
    let done: Vec<Mutex<Option<Pages>>> = (0..pieces).map(|_| Mutex::new(None)).collect();
    let next = AtomicUsize::new(0);
    let work = || {
        let mut zstd = None;
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            if i >= pieces {
                break;
            }
            let (b, c) = (i / columns, i % columns);
            let pages = encode_column(
                &batches[b].columns()[c],
                &fields[c],
                &encodings[c],
                options,
                &mut zstd,
            );
            *done[i].lock().expect("no encoder panics") = Some(pages);
        }
    };
    let threads = threads.clamp(1, pieces.max(1));
    std::thread::scope(|scope| {
        for _ in 1..threads {
            scope.spawn(work);
        }
        work();
    });
    let mut done = done.into_iter();
    for batch in &batches {
        let mut group: Vec<Vec<CompressedPage>> = Vec::with_capacity(columns);
        for slot in done.by_ref().take(columns) {
            let pages = slot
                .into_inner()
                .expect("no encoder panics")
                .expect("every piece is encoded")?;
            group.extend(pages);
        }
        writer.write_row_group(batch.len() as u64, &group)?;
    }
    writer.finish()?;
    Ok(())
}

/// One column of one row group: its leaves' pages, encoded and compressed; zstd with
/// `zstd`, the thread's context (made on first use).
fn encode_column(
    array: &ArrayRef,
    field: &ParquetType,
    encoding: &[Encoding],
    options: WriteOptions,
    zstd: &mut Option<zstd::bulk::Compressor<'static>>,
) -> Pages {
    array_to_columns(array, field.clone(), options, encoding)?
        .into_iter()
        .map(|leaf| {
            leaf.map(|page| match options.compression {
                CompressionOptions::Zstd(level) => {
                    let level = level.map(|l| l.compression_level()).unwrap_or_default();
                    let zstd = match zstd {
                        Some(z) => z,
                        None => zstd.insert(zstd::bulk::Compressor::new(level)?),
                    };
                    compress_zstd(page?, zstd)
                }
                other => compress(page?, Vec::new(), other).map_err(PolarsError::from),
            })
            .collect()
        })
        .collect()
}

/// `page` compressed with `zstd`, as polars-parquet's `compress` makes it (version 1
/// data pages: the whole buffer compressed).
fn compress_zstd(
    page: Page,
    zstd: &mut zstd::bulk::Compressor<'static>,
) -> PolarsResult<CompressedPage> {
    let squeeze = |buffer: &[u8], zstd: &mut zstd::bulk::Compressor<'static>| {
        let mut out = Vec::with_capacity(zstd::zstd_safe::compress_bound(buffer.len()));
        zstd.compress_to_buffer(buffer, &mut out)?;
        PolarsResult::Ok(out)
    };
    Ok(match page {
        Page::Data(page) => {
            let out = squeeze(page.buffer(), zstd)?;
            CompressedPage::Data(CompressedDataPage::new(
                page.header().clone(),
                CowBuffer::Owned(out),
                Compression::Zstd,
                page.buffer().len(),
                page.descriptor.clone(),
                page.num_rows.expect("pages being written know their rows"),
            ))
        }
        Page::Dict(page) => {
            let out = squeeze(&page.buffer, zstd)?;
            CompressedPage::Dict(CompressedDictPage::new(
                CowBuffer::Owned(out),
                Compression::Zstd,
                page.buffer.len(),
                page.num_values,
                page.is_sorted,
            ))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::ActionColumns;

    /// `n` generated actions as a frame, every field filled as the generator fills it.
    fn generated(n: u64) -> DataFrame {
        let mut c = ActionColumns::default();
        let mut scratch = Vec::new();
        for a in crate::generate::sample_actions(n, 11) {
            c.push_ref(&a.as_ref(), &mut scratch);
        }
        c.into_frame().unwrap()
    }

    /// `df` as this encoder writes it: row groups of 1,000 rows, `footer`, `layout`,
    /// `threads`.
    fn encoded(
        df: &DataFrame,
        footer: &[(String, String)],
        layout: Layout,
        threads: usize,
    ) -> Vec<u8> {
        let mut out = Vec::new();
        encode(
            &mut out,
            &mut df.clone(),
            1_000,
            footer.to_vec(),
            layout,
            threads,
        )
        .unwrap();
        out
    }

    /// `df` as polars' own writer writes it with the store's options: zstd, row groups
    /// of 1,000 rows, `footer`.
    fn by_polars(df: &DataFrame, footer: &[(String, String)]) -> Vec<u8> {
        let mut out = Vec::new();
        ParquetWriter::new(&mut out)
            .with_compression(ParquetCompression::Zstd(None))
            .with_row_group_size(Some(1_000))
            .with_key_value_metadata(
                (!footer.is_empty()).then(|| KeyValueMetadata::from_static(footer.to_vec())),
            )
            .finish(&mut df.clone())
            .unwrap();
        out
    }

    /// The names of `df`'s columns that store files hold delta-encoded.
    fn delta_columns(df: &DataFrame) -> Vec<String> {
        df.schema()
            .to_arrow(CompatLevel::newest())
            .iter_values()
            .filter(|f| delta_encoded(f))
            .map(|f| f.name.to_string())
            .collect()
    }

    #[test]
    fn row_groups_are_cut_as_polars_cuts_them() {
        assert_eq!(row_groups(65_536, 8_192).len(), 8);
        assert!(row_groups(65_536, 8_192).iter().all(|g| g.1 == 8_192));
        assert_eq!(
            row_groups(30_000, 8_192),
            vec![(0, 10_000), (10_000, 10_000), (20_000, 10_000)]
        );
        assert_eq!(row_groups(17_000, 8_192), vec![(0, 8_500), (8_500, 8_500)]);
        assert_eq!(row_groups(8_193, 8_192), vec![(0, 8_193)]);
        assert_eq!(row_groups(100, 8_192), vec![(0, 100)]);
        assert_eq!(row_groups(0, 8_192), vec![(0, 0)]);
    }

    /// A store file from this encoder, on one thread or several, is the file polars'
    /// own writer makes of the same frame with the same options (several row groups,
    /// a footer, dictionary and plain columns, nulls) when no column is delta-encoded.
    #[test]
    fn store_files_without_delta_columns_equal_polars_own_writer_byte_for_byte() {
        let mut df = generated(2_500);
        let delta = delta_columns(&df);
        assert_eq!(delta.len(), 7, "{delta:?}: six date-times and ticket_id");
        df = df.drop_many(delta);
        let footer = vec![("k".to_string(), "[1,2,3]".to_string())];
        let want = by_polars(&df, &footer);
        for threads in [1, 2, 3] {
            let got = encoded(&df, &footer, Layout::Store, threads);
            assert!(got == want, "{threads} thread(s): the files differ");
        }
    }

    /// The date-times and `ticket_id` are stored otherwise than polars' writer stores
    /// them (delta-encoded, in fewer bytes), every other column chunk takes the same
    /// bytes as polars', and the file reads back as its frame.
    #[test]
    fn store_files_hold_date_times_and_tickets_smaller_and_read_back_whole() {
        let df = generated(2_500);
        let delta_columns = delta_columns(&df);
        let sizes = |file: &[u8]| -> Vec<(String, u64)> {
            let mut reader = ParquetReader::new(std::io::Cursor::new(file));
            let meta = reader.get_metadata().unwrap().clone();
            meta.row_groups
                .iter()
                .flat_map(|rg| rg.parquet_columns().iter())
                .map(|c| {
                    let r = c.byte_range();
                    (c.descriptor().path_in_schema.join("."), r.end - r.start)
                })
                .collect()
        };
        let polars = by_polars(&df, &[]);
        let ours = encoded(&df, &[], Layout::Store, 2);
        let (theirs, mine) = (sizes(&polars), sizes(&ours));
        assert_eq!(mine.len(), theirs.len());
        let mut delta = Vec::new();
        for ((name, a), (_, b)) in mine.iter().zip(&theirs) {
            if delta_columns.contains(name) {
                assert!(a < b, "{name}: {a} bytes, polars {b}");
                delta.push(name);
            } else {
                assert_eq!(a, b, "{name}");
            }
        }
        assert_eq!(
            delta.len(),
            7 * 2,
            "seven columns in each of two row groups"
        );
        let back = ParquetReader::new(std::io::Cursor::new(&ours))
            .finish()
            .unwrap();
        assert!(back.equals_missing(&df), "the file reads back otherwise");
    }

    /// A spill reads back as the frame it was made of, and is not the store's layout.
    #[test]
    fn spills_read_back_as_their_frame() {
        let df = generated(2_500);
        let spill = encoded(&df, &[], Layout::Spill, 2);
        let back = ParquetReader::new(std::io::Cursor::new(&spill))
            .finish()
            .unwrap();
        assert!(back.equals_missing(&df), "the spill reads back otherwise");
        assert_ne!(spill, encoded(&df, &[], Layout::Store, 2));
    }
}
