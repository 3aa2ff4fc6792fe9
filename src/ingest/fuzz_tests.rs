//! Mutated pages fed to the parser: no panic, no valid record lost, every damaged one
//! refused (a property test over truncations, flipped bytes, deep nesting, huge numbers
//! and invalid UTF-8).

use super::parse_document;
use proptest::prelude::*;
use std::ops::Range;

/// A page of `n` records (one per line or all on one line) and each record's range.
fn page(n: usize, one_line: bool, ndjson: bool) -> (Vec<u8>, Vec<Range<usize>>) {
    let mut doc = Vec::new();
    let mut ranges = Vec::new();
    if !ndjson {
        doc.extend_from_slice(br#"{"record_count":"#);
        doc.extend_from_slice(n.to_string().as_bytes());
        doc.extend_from_slice(br#","actions":["#);
    }
    for i in 0..n {
        if i > 0 && !ndjson {
            doc.push(b',');
        }
        if !one_line || ndjson {
            doc.push(b'\n');
        }
        let rec = format!(
            r#"{{"id":{},"ticket_id":77,"datetime":"2026-10-0{}T10:00:00Z","timetaken":0.{},"note":"n{i} \"q\" [x]","actionchargeamount":{}.25}}"#,
            i + 1,
            1 + i % 9,
            i % 10,
            i * 3
        );
        ranges.push(doc.len()..doc.len() + rec.len());
        doc.extend_from_slice(rec.as_bytes());
    }
    if !ndjson {
        doc.extend_from_slice(b"]}");
    }
    doc.push(b'\n');
    (doc, ranges)
}

#[derive(Debug, Clone)]
enum Mutation {
    Truncate(usize),
    Flip(usize, u8),
    Insert(usize, Vec<u8>),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), any::<u8>()).prop_map(|(p, b)| Mutation::Flip(p, b)),
        (
            any::<usize>(),
            prop_oneof![
                Just(vec![b'['; 5000]),
                Just(b"1e999999".to_vec()),
                Just(b"99999999999999999999999999999999".to_vec()),
                Just(vec![0xff, 0xfe, 0xc0]),
                Just(b"\"".to_vec()),
                Just(b"}".to_vec()),
                Just(b"NaN".to_vec()),
            ]
        )
            .prop_map(|(p, b)| Mutation::Insert(p, b)),
    ]
}

/// Applies `m` to `doc`: the mutated stretch, in the mutated document's offsets, and how
/// far offsets after it move.
fn mutate(doc: &mut Vec<u8>, m: &Mutation) -> (Range<usize>, isize) {
    match m {
        Mutation::Truncate(p) => {
            let p = p % doc.len();
            doc.truncate(p);
            (p..usize::MAX, 0)
        }
        Mutation::Flip(p, b) => {
            let p = p % doc.len();
            doc[p] = *b;
            (p..p + 1, 0)
        }
        Mutation::Insert(p, bytes) => {
            let p = p % doc.len();
            doc.splice(p..p, bytes.iter().copied());
            (p..p + bytes.len(), bytes.len() as isize)
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn mutated_pages_never_panic_lose_nothing_valid_and_refuse_the_damage(
        n in 1usize..25,
        one_line in any::<bool>(),
        ndjson in any::<bool>(),
        m in mutation(),
    ) {
        let (clean, ranges) = page(n, one_line, ndjson);
        let want: Vec<_> = parse_document("clean", &clean).actions;
        prop_assert_eq!(want.len(), n);
        let mut doc = clean.clone();
        let (hit, shift) = mutate(&mut doc, &m);
        let got = parse_document("mutated", &doc);
        // Actions that are not one of the page's records as it was: a damaged record
        // that still reads as a valid one (a digit of its id flipped).
        let variants = got
            .actions
            .iter()
            .filter(|a| !want.contains(a))
            .count();
        let moved = |r: &Range<usize>| -> Range<usize> {
            if r.start >= hit.start && shift > 0 {
                (r.start as isize + shift) as usize..(r.end as isize + shift) as usize
            } else {
                r.clone()
            }
        };
        for (i, r) in ranges.iter().enumerate() {
            let r = moved(r);
            if matches!(m, Mutation::Truncate(_)) && r.start >= hit.start {
                // Cut off whole: no longer in the file (a cut at a line end of NDJSON
                // is a shorter file, which nothing can tell apart).
                continue;
            }
            let touched = r.start < hit.end && hit.start < r.end;
            let key = want[i].key();
            let imported = got.actions.iter().find(|a| a.key() == key);
            let exact = got.actions.contains(&want[i]);
            let refused = got.rejects.iter().any(|x| {
                let xr = x.byte..x.byte + x.text.len().max(1);
                x.location == crate::ingest::reject::WHOLE_FILE || (xr.start < r.end && r.start < xr.end)
            });
            // The records next to the damage (within about one record's length of it); and
            // all of them when the damage is in the page's own head (`{"record_count":..,
            // "actions":[`), where a wrapper that no longer reads as one is refused whole
            // (with its text), since guessing at its records could invent actions.
            let near = r.end + 200 >= hit.start && r.start <= hit.end.saturating_add(200)
                || hit.start < ranges[0].start;
            if touched {
                // Damaged: refused, or still read (as what it was or as a valid variant).
                prop_assert!(
                    imported.is_some() || refused || variants > 0,
                    "record {} lost: {:?}",
                    i,
                    m
                );
            } else if near {
                // Beside the damage: imported exactly, or refused inside the damaged
                // stretch (its text is in the rejects file), never dropped.
                prop_assert!(exact || refused, "record {} silently dropped: {:?}", i, m);
            } else {
                // Away from the damage: imported exactly.
                prop_assert!(exact, "record {} not imported: {:?}", i, m);
            }
        }
        // Nothing is invented: at most the one damaged record reads as a variant.
        prop_assert!(variants <= 1, "{} actions are not the page's records: {:?}", variants, m);
    }
}

/// A document read in one pass (plain records read as their list is scanned) and the
/// same document split first and then read record by record give the same actions,
/// refusals and counts.
fn one_pass_equals_two(doc: &[u8]) -> Result<(), TestCaseError> {
    if doc.iter().all(u8::is_ascii_whitespace) {
        // Refused as an empty file before it is split either way.
        return Ok(());
    }
    let one = parse_document("doc", doc);
    let (pages, errs) = super::split::split(doc);
    let two = super::parse_pages("doc", doc, &pages, errs);
    prop_assert_eq!(format!("{:?}", one), format!("{:?}", two));
    Ok(())
}

#[test]
fn a_document_of_more_records_than_read_ahead_is_read_whole_and_holds_at_most_read_ahead() {
    let n = super::split::READ_AHEAD + 3;
    let (doc, _) = page(n, false, false);
    let text = std::str::from_utf8(&doc).unwrap();
    let s = super::split::split_reading(&doc, Some(text));
    assert_eq!(s.records.len(), super::split::READ_AHEAD);
    let els = &s.pages[0].elements;
    assert_eq!(els.len(), n);
    assert!(
        els[super::split::READ_AHEAD..]
            .iter()
            .all(|e| e.read.is_none())
    );
    let r = parse_document("big", &doc);
    assert_eq!(r.actions.len(), n);
    assert!(r.rejects.is_empty());
    one_pass_equals_two(&doc).unwrap();
}

#[test]
fn plain_records_of_a_list_are_read_while_it_is_scanned() {
    let (doc, _) = page(7, false, false);
    let text = std::str::from_utf8(&doc).unwrap();
    let s = super::split::split_reading(&doc, Some(text));
    assert_eq!(s.records.len(), 7);
    assert!(s.pages[0].elements.iter().all(|e| e.read.is_some()));
    // Without the text, nothing is read on the way.
    assert!(super::split::split_reading(&doc, None).records.is_empty());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn one_pass_reading_equals_split_then_read_on_mutated_pages(
        n in 1usize..12,
        one_line in any::<bool>(),
        ndjson in any::<bool>(),
        m in mutation(),
        details in any::<bool>(),
    ) {
        let (mut doc, _) = page(n, one_line, ndjson);
        if details && !ndjson {
            // Full records after the summaries: the pairing path.
            let at = doc.len() - 2;
            doc.splice(at..at, br#"],"actionsdetails":[{"id":1,"ticket_id":77,"actionchargeamount":3.5},{"id":99,"ticket_id":77,"note":"a\u0041"}"#.iter().copied());
        }
        mutate(&mut doc, &m);
        one_pass_equals_two(&doc)?;
    }
}
