//! The contract index of a partition file: where each contract's rows lie.
//!
//! A partition file's rows are clustered by contract ([`super::write`] sorts them before
//! writing), so each contract's rows are one run. The file's footer lists the runs under
//! [`KEY`] as JSON `[[contract_id or null, first_row, rows], ...]` in row order, and a
//! reader wanting one contract's rows reads that slice only: a report of one contract
//! decodes the Parquet pages holding its rows and skips the rest of the file (and every
//! file without such rows).
//!
//! The index is written only for a file whose rows are clustered (each contract in one
//! run); a reader checks that the runs it reads cover the file's rows exactly, once each,
//! and treats a file without the key as unindexed (files written before the index).

use polars::prelude::*;

/// The footer key of the contract index.
pub const KEY: &str = "halo-billing.index.contract-rows.v1";

/// One run: the contract (`None`: no contract), its first row, its row count.
pub type Run = (Option<i64>, u64, u64);

/// The contract runs of a frame about to be written, when each contract's rows are one
/// run (`None` otherwise: such a file gets no index).
pub fn runs(df: &DataFrame, column: &str) -> PolarsResult<Option<Vec<Run>>> {
    let ids = df.column(column)?.i64()?;
    let mut runs: Vec<Run> = Vec::new();
    for (row, id) in ids.iter().enumerate() {
        match runs.last_mut() {
            Some(last) if last.0 == id => last.2 += 1,
            _ => runs.push((id, row as u64, 1)),
        }
    }
    let mut seen: Vec<Option<i64>> = runs.iter().map(|r| r.0).collect();
    seen.sort_unstable();
    let clustered = seen.windows(2).all(|w| w[0] != w[1]);
    Ok(clustered.then_some(runs))
}

/// The footer entry for `runs`.
pub fn entry(runs: &[Run]) -> (String, String) {
    let json = serde_json::to_string(runs).expect("integers");
    (KEY.to_string(), json)
}

/// Reads an index from its footer text, checking that its runs cover the file's `rows`
/// in order, each row once, each contract once. The error says what does not fit.
pub fn parse(text: &str, rows: u64) -> Result<Vec<Run>, String> {
    let runs: Vec<Run> = serde_json::from_str(text).map_err(|e| format!("cannot be read: {e}"))?;
    let mut next = 0u64;
    for (i, r) in runs.iter().enumerate() {
        if r.1 != next || r.2 == 0 {
            return Err(format!(
                "has run {i} (contract {:?}) at row {} with {} rows where row {next} was due",
                r.0, r.1, r.2
            ));
        }
        next = r.1.checked_add(r.2).ok_or("overflows")?;
    }
    if next != rows {
        return Err(format!("covers {next} rows of the file's {rows}"));
    }
    let mut seen: Vec<Option<i64>> = runs.iter().map(|r| r.0).collect();
    seen.sort_unstable();
    if let Some(w) = seen.windows(2).find(|w| w[0] == w[1]) {
        return Err(format!("lists contract {:?} twice", w[0]));
    }
    Ok(runs)
}

/// The rows of `contract` in an indexed file: `(first_row, rows)`, `None` when it has none.
pub fn rows_of(runs: &[Run], contract: Option<i64>) -> Option<(usize, usize)> {
    runs.iter()
        .find(|r| r.0 == contract)
        .map(|r| (r.1 as usize, r.2 as usize))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(ids: &[Option<i64>]) -> DataFrame {
        let c = Int64Chunked::from_iter_options("c".into(), ids.iter().copied());
        DataFrame::new(ids.len(), vec![c.into_column()]).unwrap()
    }

    #[test]
    fn runs_of_a_clustered_frame_list_each_contract_once_in_row_order() {
        let df = frame(&[None, None, Some(3), Some(7), Some(7), Some(7)]);
        assert_eq!(
            runs(&df, "c").unwrap(),
            Some(vec![(None, 0, 2), (Some(3), 2, 1), (Some(7), 3, 3)])
        );
    }

    #[test]
    fn a_frame_with_a_contract_in_two_runs_gets_no_index() {
        let df = frame(&[Some(3), Some(7), Some(3)]);
        assert_eq!(runs(&df, "c").unwrap(), None);
    }

    #[test]
    fn parse_takes_back_what_entry_wrote_and_finds_a_contracts_rows() {
        let runs = vec![(None, 0, 2), (Some(3), 2, 1), (Some(7), 3, 3)];
        let (key, text) = entry(&runs);
        assert_eq!(key, KEY);
        let back = parse(&text, 6).unwrap();
        assert_eq!(back, runs);
        assert_eq!(rows_of(&back, Some(7)), Some((3, 3)));
        assert_eq!(rows_of(&back, None), Some((0, 2)));
        assert_eq!(rows_of(&back, Some(4)), None);
    }

    #[test]
    fn parse_refuses_runs_that_do_not_cover_the_file_once_each() {
        let bad = [
            ("[[1,0,2],[2,3,1]]", 4, "row 2 was due"),
            ("[[1,0,2],[2,1,3]]", 4, "row 2 was due"),
            ("[[1,0,2],[2,2,1]]", 4, "covers 3 rows of the file's 4"),
            ("[[1,0,2],[1,2,2]]", 4, "lists contract Some(1) twice"),
            ("[[1,0,0],[2,0,4]]", 4, "with 0 rows"),
            ("{\"a\":1}", 4, "cannot be read"),
        ];
        for (text, rows, why) in bad {
            let e = parse(text, rows).unwrap_err();
            assert!(e.contains(why), "{text}: {e}");
        }
    }
}
