//! Exact, parallel group totals over columnar slices.
//!
//! Input is plain slices (no I/O, no polars, no floating point): integer units as fixed
//! at ingest by [`crate::exact`]. Rows are split into chunks summed on the rayon pool; each
//! chunk keeps a hash map from group key to totals, and chunk maps are merged pairwise.
//! Every addition is checked: an overflow is an error naming the measure, never a wrap.
//! Because the sums are integers, the result does not depend on how rows were split.

// Measures are parallel arrays indexed by measure number; indexing reads clearer here
// than zipping three iterators.
#![allow(clippy::needless_range_loop)]

use rayon::prelude::*;
use rustc_hash::FxHashMap;

/// Number of summed measures per group.
pub const MEASURES: usize = 10;

/// Names of the measures, in report order.
pub const MEASURE_NAMES: [&str; MEASURES] = [
    "time_taken_hours",
    "non_bill_hours",
    "travel_hours",
    "mileage",
    "chargeable_hours",
    "chargeable_amount",
    "non_chargeable_hours",
    "non_chargeable_amount",
    "prepay_hours",
    "prepay_amount",
];

/// A group's totals: the action count and the exact sum of each measure.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    /// Actions in the group.
    pub actions: i64,
    /// Sums in the measures' integer units, indexed like [`MEASURE_NAMES`].
    pub sums: [i64; MEASURES],
}

/// A total left the 64-bit range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the total of `{measure}` overflows 64 bits; no report is produced rather than a wrong one"
)]
pub struct Overflow {
    /// Which measure.
    pub measure: &'static str,
}

impl Totals {
    /// Adds another group's totals (checked).
    pub fn merge(&mut self, other: &Totals) -> Result<(), Overflow> {
        self.actions = self
            .actions
            .checked_add(other.actions)
            .ok_or(Overflow { measure: "actions" })?;
        for m in 0..MEASURES {
            self.sums[m] = self.sums[m].checked_add(other.sums[m]).ok_or(Overflow {
                measure: MEASURE_NAMES[m],
            })?;
        }
        Ok(())
    }
}

/// The columns to aggregate; all slices have one entry per row.
pub struct Input<'a> {
    /// When each action happened, UTC nanoseconds; `None` when every row is known to lie
    /// in the period (a whole month partition inside it), so no row needs checking.
    pub datetime: Option<&'a [i64]>,
    /// First part of the group key (0 = none).
    pub key_id: &'a [i64],
    /// Second part of the group key.
    pub key_text: &'a [Option<&'a str>],
    /// The measures, in [`MEASURE_NAMES`] order.
    pub measures: [&'a [i64]; MEASURES],
}

/// A group key: `(id, text)`.
pub type Key<'a> = (i64, Option<&'a str>);

/// The result: one entry per group, and the grand total.
#[derive(Debug, Clone, Default)]
pub struct Grouped<'a> {
    /// Totals by key (unordered).
    pub groups: FxHashMap<Key<'a>, Totals>,
    /// Sum over all groups.
    pub total: Totals,
}

const CHUNK: usize = 1 << 15;
/// Texts kept in a key id's list before further ones go to a hash map.
const SLOT_TEXTS: usize = 16;

/// One chunk's groups: hashed on the id only, with the (usually one) texts of an id in a
/// short list compared directly; hashing every row's text would cost more than the sums.
#[derive(Default)]
struct ChunkGroups<'a> {
    by_id: FxHashMap<i64, Vec<(Option<&'a str>, Totals)>>,
    /// Ids with more than [`SLOT_TEXTS`] texts (e.g. invoice numbers without invoice ids).
    overflow: FxHashMap<Key<'a>, Totals>,
}

impl<'a> ChunkGroups<'a> {
    #[inline]
    fn slot(&mut self, id: i64, text: Option<&'a str>) -> &mut Totals {
        let list = self.by_id.entry(id).or_default();
        if let Some(p) = list.iter().position(|(t, _)| *t == text) {
            return &mut list[p].1;
        }
        if list.len() < SLOT_TEXTS {
            list.push((text, Totals::default()));
            return &mut list.last_mut().expect("just pushed").1;
        }
        self.overflow.entry((id, text)).or_default()
    }

    fn into_map(self) -> FxHashMap<Key<'a>, Totals> {
        let mut map = self.overflow;
        for (id, list) in self.by_id {
            for (text, t) in list {
                map.insert((id, text), t);
            }
        }
        map
    }
}

fn sum_chunk<'a>(
    input: &Input<'a>,
    rows: std::ops::Range<usize>,
    from_ns: i64,
    to_ns: i64,
) -> Result<FxHashMap<Key<'a>, Totals>, Overflow> {
    let mut groups = ChunkGroups::default();
    for r in rows {
        if let Some(dt) = input.datetime
            && (dt[r] < from_ns || dt[r] >= to_ns)
        {
            continue;
        }
        let g = groups.slot(input.key_id[r], input.key_text[r]);
        g.actions += 1; // cannot overflow: at most the row count
        for m in 0..MEASURES {
            g.sums[m] = g.sums[m]
                .checked_add(input.measures[m][r])
                .ok_or(Overflow {
                    measure: MEASURE_NAMES[m],
                })?;
        }
    }
    Ok(groups.into_map())
}

fn merge_maps<'a>(
    mut a: FxHashMap<Key<'a>, Totals>,
    mut b: FxHashMap<Key<'a>, Totals>,
) -> Result<FxHashMap<Key<'a>, Totals>, Overflow> {
    if a.len() < b.len() {
        std::mem::swap(&mut a, &mut b);
    }
    for (k, v) in b {
        a.entry(k).or_default().merge(&v)?;
    }
    Ok(a)
}

/// Sums the rows whose datetime lies in `[from_ns, to_ns)`, grouped by key.
///
/// # Panics
/// If the slices differ in length (a caller bug, not a data problem).
pub fn aggregate<'a>(input: &Input<'a>, from_ns: i64, to_ns: i64) -> Result<Grouped<'a>, Overflow> {
    let n = input.key_id.len();
    assert!(
        input.datetime.is_none_or(|d| d.len() == n)
            && input.key_text.len() == n
            && input.measures.iter().all(|m| m.len() == n)
    );
    let chunks = n.div_ceil(CHUNK);
    let groups = (0..chunks)
        .into_par_iter()
        .map(|c| sum_chunk(input, c * CHUNK..((c + 1) * CHUNK).min(n), from_ns, to_ns))
        .try_reduce(FxHashMap::default, merge_maps)?;
    let mut total = Totals::default();
    for t in groups.values() {
        total.merge(t)?;
    }
    Ok(Grouped { groups, total })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    /// The oracle: one thread, a BTreeMap, i128 sums, no chunks.
    fn plain(
        input: &Input,
        from: i64,
        to: i64,
    ) -> BTreeMap<(i64, Option<String>), (i64, [i128; MEASURES])> {
        let mut out: BTreeMap<(i64, Option<String>), (i64, [i128; MEASURES])> = BTreeMap::new();
        for r in 0..input.key_id.len() {
            if input.datetime.is_some_and(|d| !(from..to).contains(&d[r])) {
                continue;
            }
            let e = out
                .entry((input.key_id[r], input.key_text[r].map(str::to_string)))
                .or_default();
            e.0 += 1;
            for m in 0..MEASURES {
                e.1[m] += input.measures[m][r] as i128;
            }
        }
        out
    }

    fn check(n: usize, keys: i64, seed: u64, spread: i64) {
        // A small deterministic generator: the point is many rows and many chunks.
        let mut s = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let mut next = || {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (s >> 33) as i64
        };
        let texts = ["A", "B", "=X"];
        let datetime: Vec<i64> = (0..n).map(|_| next() % 100).collect();
        let key_id: Vec<i64> = (0..n).map(|_| next() % keys).collect();
        let key_text: Vec<Option<&str>> = (0..n)
            .map(|_| {
                let v = next() % 4;
                if v == 3 {
                    None
                } else {
                    Some(texts[v as usize])
                }
            })
            .collect();
        let cols: Vec<Vec<i64>> = (0..MEASURES)
            .map(|_| (0..n).map(|_| next() % spread).collect())
            .collect();
        let input = Input {
            datetime: if seed.is_multiple_of(2) {
                Some(&datetime)
            } else {
                None
            },
            key_id: &key_id,
            key_text: &key_text,
            measures: std::array::from_fn(|m| cols[m].as_slice()),
        };
        let got = aggregate(&input, 10, 90).unwrap();
        let want = plain(&input, 10, 90);
        assert_eq!(got.groups.len(), want.len());
        let mut total = [0i128; MEASURES];
        for ((id, text), (count, sums)) in &want {
            let g = got.groups[&(*id, text.as_deref())];
            assert_eq!(g.actions, *count);
            for m in 0..MEASURES {
                assert_eq!(g.sums[m] as i128, sums[m]);
                total[m] += sums[m];
            }
        }
        for m in 0..MEASURES {
            assert_eq!(got.total.sums[m] as i128, total[m]);
        }
    }

    #[test]
    fn matches_plain_loop_across_many_chunks() {
        check(5 * CHUNK + 17, 50, 1, 1_000_000);
        check(CHUNK, 1, 2, 10);
        check(0, 3, 3, 10);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        #[test]
        fn matches_plain_loop(n in 0usize..(3 * CHUNK), keys in 1i64..200, seed: u64, spread in 1i64..i64::MAX / (4 * CHUNK as i64)) {
            check(n, keys, seed, spread);
        }
    }

    #[test]
    fn many_texts_under_one_id_spill_into_the_overflow_map() {
        let n = 5000;
        let texts: Vec<String> = (0..n).map(|i| format!("INV-{}", i % 300)).collect();
        let key_text: Vec<Option<&str>> = texts.iter().map(|t| Some(t.as_str())).collect();
        let key_id = vec![0i64; n];
        let ones = vec![1i64; n];
        let input = Input {
            datetime: None,
            key_id: &key_id,
            key_text: &key_text,
            measures: [&ones[..]; MEASURES],
        };
        let got = aggregate(&input, 0, 1).unwrap();
        assert_eq!(got.groups.len(), 300);
        assert!(
            got.groups
                .values()
                .all(|t| t.actions == t.sums[0] && (16..=17).contains(&t.actions))
        );
        assert_eq!(got.total.actions, n as i64);
    }

    #[test]
    fn overflow_is_an_error() {
        let dt = [0i64, 0];
        let ids = [1i64, 1];
        let txt = [None, None];
        let big = [i64::MAX, 1];
        let zero = [0i64, 0];
        let mut measures = [&zero[..]; MEASURES];
        measures[5] = &big;
        let input = Input {
            datetime: Some(&dt),
            key_id: &ids,
            key_text: &txt,
            measures,
        };
        assert_eq!(
            aggregate(&input, 0, 1).unwrap_err(),
            Overflow {
                measure: "chargeable_amount"
            }
        );
    }
}
