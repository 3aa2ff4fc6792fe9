//! Criterion benchmark of the import's stages on one thread, over pages written by
//! `generate` (20,000 actions, about 15 MB): splitting and parsing the records, then
//! also laying them out as columns with their content hashes, then also building the
//! polars frame. The differences between the three are what each stage costs.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use halo_billing::frame::ActionColumns;
use halo_billing::generate::{Options, generate};
use halo_billing::ingest::{Sink, parse_document, parse_document_into};
use halo_billing::model::ActionRef;
use halo_billing::progress::Progress;
use std::hint::black_box;

fn pages() -> Vec<Vec<u8>> {
    let dir = tempfile::tempdir().expect("temp dir");
    let opts = Options {
        actions: 20_000,
        seed: 7,
        from: (2026, 1),
        to: (2026, 2),
        out: dir.path().to_path_buf(),
    };
    generate(&opts, &Progress::silent()).expect("generate");
    let found = halo_billing::ingest::discover(&[dir.path().to_path_buf()]).expect("pages");
    found
        .files
        .iter()
        .map(|p| std::fs::read(p).expect("read"))
        .collect()
}

/// Columns as the import lays them out: straight from the document's text.
struct Columns(ActionColumns, Vec<u8>);

impl Sink for Columns {
    fn take(&mut self, a: &ActionRef<'_>) {
        self.0.push_ref(a, &mut self.1);
    }
}

fn columns_of(pages: &[Vec<u8>]) -> ActionColumns {
    let mut c = Columns(ActionColumns::default(), Vec::new());
    for p in pages {
        parse_document_into("bench", p, &mut c);
    }
    c.0
}

fn bench(c: &mut Criterion) {
    let pages = pages();
    let bytes: usize = pages.iter().map(Vec::len).sum();
    let mut g = c.benchmark_group("ingest");
    g.throughput(Throughput::Bytes(bytes as u64));
    g.sample_size(20);
    g.bench_function("parse", |b| {
        b.iter(|| {
            let n: usize = pages
                .iter()
                .map(|p| parse_document("bench", p).actions.len())
                .sum();
            black_box(n)
        })
    });
    g.bench_function("parse_and_columns", |b| {
        b.iter(|| black_box(columns_of(&pages).len()))
    });
    g.bench_function("parse_columns_and_frame", |b| {
        b.iter(|| black_box(columns_of(&pages).into_frame().unwrap().height()))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
