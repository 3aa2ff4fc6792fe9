//! Refused records: where they were, why, and their full text, so that nothing is lost.
//!
//! Rejects are written as NDJSON, one object per refused record, each carrying the
//! record's original text: fix it and import that file again.

use std::io::Write;
use std::path::Path;

/// One refused record (or an unreadable stretch of a file).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Reject {
    /// The input file.
    pub file: String,
    /// 1-based line where the record starts.
    pub line: usize,
    /// Byte offset where the record starts (in the decompressed text).
    pub byte: usize,
    /// Where in the page: `actions[3]`, `actionsdetails[0]`, `[12]`, `record 4`.
    pub location: String,
    /// The record's ticket, where it could be read.
    pub ticket_id: Option<i64>,
    /// The record's action id, where it could be read.
    pub id: Option<i64>,
    /// Why it was refused.
    pub reason: String,
    /// The record exactly as it stood in the input.
    pub text: String,
}

/// The location of a reject that refuses a whole file.
pub const WHOLE_FILE: &str = "whole file";

impl Reject {
    /// The whole of `file` refused, for `reason` (unreadable, empty, not UTF-8...).
    pub fn whole_file(file: impl Into<String>, reason: impl Into<String>) -> Reject {
        Reject {
            file: file.into(),
            line: 0,
            byte: 0,
            location: WHOLE_FILE.into(),
            ticket_id: None,
            id: None,
            reason: reason.into(),
            text: String::new(),
        }
    }
}

impl std::fmt::Display for Reject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.location)?;
        match (self.ticket_id, self.id) {
            (Some(t), Some(i)) => write!(f, " (ticket_id {t}, id {i})")?,
            (Some(t), None) => write!(f, " (ticket_id {t})")?,
            (None, Some(i)) => write!(f, " (id {i})")?,
            (None, None) => {}
        }
        write!(f, ": {}", crate::report::safe::shown(&self.reason))
    }
}

/// Maps byte offsets to line numbers; the line breaks are indexed on first use, so a
/// file without rejects costs nothing.
pub struct LineIndex<'a> {
    text: &'a [u8],
    newlines: std::cell::OnceCell<Vec<usize>>,
}

impl<'a> LineIndex<'a> {
    /// An index over `text`.
    pub fn new(text: &'a [u8]) -> Self {
        LineIndex {
            text,
            newlines: std::cell::OnceCell::new(),
        }
    }

    /// The 1-based line of byte `offset`.
    pub fn line_of(&self, offset: usize) -> usize {
        let nl = self.newlines.get_or_init(|| {
            self.text
                .iter()
                .enumerate()
                .filter(|(_, b)| **b == b'\n')
                .map(|(i, _)| i)
                .collect()
        });
        nl.partition_point(|&n| n < offset) + 1
    }
}

/// Writes rejects as NDJSON to `path` atomically (temporary file, then rename).
pub fn write_rejects(path: &Path, rejects: &[Reject]) -> std::io::Result<()> {
    crate::fsutil::write_atomic(path, |w| {
        for r in rejects {
            serde_json::to_writer(&mut *w, r)?;
            w.write_all(b"\n")?;
        }
        Ok(())
    })
}
