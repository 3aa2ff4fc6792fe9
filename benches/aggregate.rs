//! Criterion benchmark of the exact rayon aggregation (no I/O): 1M rows of synthetic
//! columns, grouped by contract (about 400 keys) and by invoice (about 5,000 keys).

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use halo_billing::aggregate::{Input, MEASURES, aggregate};
use std::hint::black_box;

struct Data {
    datetime: Vec<i64>,
    ids: Vec<i64>,
    texts: Vec<String>,
    measures: Vec<Vec<i64>>,
}

fn data(rows: usize, keys: i64) -> Data {
    let mut s: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    };
    let ids: Vec<i64> = (0..rows).map(|_| (next() % keys as u64) as i64).collect();
    Data {
        datetime: (0..rows).map(|i| i as i64).collect(),
        texts: ids.iter().map(|id| format!("C-{id:05}")).collect(),
        ids,
        measures: (0..MEASURES)
            .map(|_| (0..rows).map(|_| (next() % 20_000_000) as i64).collect())
            .collect(),
    }
}

fn bench(c: &mut Criterion) {
    let rows = 1_000_000;
    let mut g = c.benchmark_group("aggregate");
    g.throughput(Throughput::Elements(rows as u64));
    for (name, keys) in [("contracts_400_keys", 400), ("invoices_5000_keys", 5_000)] {
        let d = data(rows, keys);
        let texts: Vec<Option<&str>> = d.texts.iter().map(|t| Some(t.as_str())).collect();
        let input = Input {
            datetime: Some(&d.datetime),
            key_id: &d.ids,
            key_text: &texts,
            measures: std::array::from_fn(|m| d.measures[m].as_slice()),
        };
        g.bench_function(name, |b| {
            b.iter(|| black_box(aggregate(&input, 0, i64::MAX).unwrap().groups.len()))
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
