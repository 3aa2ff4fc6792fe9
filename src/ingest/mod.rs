//! Ingest: turns saved Halo API responses (files and folders, plain or gzip) into typed
//! actions, refusing bad records one by one with their location and reason.
//!
//! It keeps every valid record, reports every refused one, and merges duplicates of one
//! `(ticket_id, id)` within a page (summary + details). It does not decide which of two
//! copies of an action in different pages wins: that is the store's upsert rule, applied
//! across the whole input. It never talks to the store. [`halo`] is the only code that
//! talks HTTP: it fetches the same responses from a live tenant.

pub mod halo;
pub mod records;
pub mod reject;
pub mod split;

use crate::model::{Action, ActionRef, RawAction, RecordError};
use flate2::read::MultiGzDecoder;
use reject::Reject;
use split::{Element, Section};
use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};

/// An input could not be read at all (as opposed to a record in it being refused).
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// A path given on the command line does not exist or cannot be listed.
    #[error("cannot read `{path}`: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A path named no input files.
    #[error("`{0}` holds no .json, .ndjson or .jsonl files (optionally .gz)")]
    NoFiles(PathBuf),
}

/// Whether a file in a folder is read: `.json`, `.ndjson` or `.jsonl`, optionally `.gz`,
/// in any letter case; hidden files (a leading dot) are not.
fn is_input_name(p: &Path) -> bool {
    let name = p
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    if name.starts_with('.') {
        return false;
    }
    let name = name.strip_suffix(".gz").unwrap_or(&name);
    [".json", ".ndjson", ".jsonl"]
        .iter()
        .any(|ext| name.ends_with(ext))
}

fn walk(dir: &Path, out: &mut Discovered) -> Result<(), IngestError> {
    let io = |source| IngestError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(io)?
        .collect::<Result<_, _>>()
        .map_err(io)?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let p = e.path();
        let ft = e.file_type().map_err(|source| IngestError::Io {
            path: p.clone(),
            source,
        })?;
        if ft.is_dir() {
            walk(&p, out)?;
        } else if is_input_name(&p) {
            out.files.push(p);
        } else {
            out.skipped.push(p);
        }
    }
    Ok(())
}

/// The input files of an import, and the files in its folders that were not read.
#[derive(Debug, Default)]
pub struct Discovered {
    /// Files to read, in input order.
    pub files: Vec<PathBuf>,
    /// Files found in folders whose names are not input names (listed, never silent).
    pub skipped: Vec<PathBuf>,
}

/// Lists the input files: each file as given (whatever its name), each folder's input
/// files recursively, in name order (the input order that breaks ties between duplicate
/// copies); other files in folders are listed as skipped.
pub fn discover(paths: &[PathBuf]) -> Result<Discovered, IngestError> {
    let mut found = Discovered::default();
    for p in paths {
        let meta = std::fs::metadata(p).map_err(|source| IngestError::Io {
            path: p.clone(),
            source,
        })?;
        if meta.is_dir() {
            let before = found.files.len();
            walk(p, &mut found)?;
            if found.files.len() == before {
                return Err(IngestError::NoFiles(p.clone()));
            }
        } else {
            found.files.push(p.clone());
        }
    }
    Ok(found)
}

/// The most bytes one input file may hold, and the most its gzip may unpack to, unless
/// `HALO_BILLING_MAX_INPUT_BYTES` says otherwise: a file is read whole, so a larger one
/// (or a gzip bomb) is refused with a message rather than exhausting memory. Split
/// larger exports into several files (folders are read whole). Never more than
/// [`machine_cap`].
pub const MAX_INPUT_BYTES: u64 = 4 << 30;

/// A gzip file may unpack to at most this many times its own size (JSON compresses
/// 5 to 30 times; a gzip bomb thousands of times), and always to 64 MiB.
pub const MAX_GZIP_RATIO: u64 = 200;

/// The most one input file may take in memory on this machine: its memory shared by
/// the parsing workers, each of which holds one file at a time (and the rest of the
/// import beside them).
pub fn machine_cap() -> u64 {
    let total = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map(|kb| kb * 1024)
        .unwrap_or(16 << 30);
    total / (crate::threads::count() as u64 + 2)
}

/// A size like `100000000`, `100MB`, `64 MiB`, `2g` (decimal units k, m, g, t, and
/// binary ki, mi, gi, ti; a trailing `b` optional, any case).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let bad =
        || format!("`{s}` is not a size: give bytes, or a number with a unit like 500MB, 2GiB");
    let n: u64 = num.parse().map_err(|_| bad())?;
    let per: u64 = match unit.trim().to_ascii_lowercase().trim_end_matches('b') {
        "" => 1,
        "k" => 1_000,
        "m" => 1_000_000,
        "g" => 1_000_000_000,
        "t" => 1_000_000_000_000,
        "ki" => 1 << 10,
        "mi" => 1 << 20,
        "gi" => 1 << 30,
        "ti" => 1 << 40,
        _ => return Err(bad()),
    };
    n.checked_mul(per).ok_or_else(bad)
}

/// The limit in force: `HALO_BILLING_MAX_INPUT_BYTES` when set (with its unit; refused
/// when it does not parse or asks for more than [`machine_cap`]), else
/// [`MAX_INPUT_BYTES`] or the machine's cap, whichever is smaller.
pub fn max_input_bytes() -> Result<u64, String> {
    let cap = machine_cap();
    match std::env::var("HALO_BILLING_MAX_INPUT_BYTES") {
        Ok(v) if !v.trim().is_empty() => {
            let n = parse_size(&v).map_err(|e| format!("HALO_BILLING_MAX_INPUT_BYTES: {e}"))?;
            if n == 0 {
                return Err("HALO_BILLING_MAX_INPUT_BYTES: 0 would refuse every file".into());
            }
            if n > cap {
                return Err(format!(
                    "HALO_BILLING_MAX_INPUT_BYTES: {v} is more than this machine can hold for each of its parsing workers \
                     ({cap} bytes: its memory over the worker count and two); split the input into smaller files"
                ));
            }
            Ok(n)
        }
        _ => Ok(MAX_INPUT_BYTES.min(cap)),
    }
}

/// Reads a file whole into `out` (cleared first), decompressing gzip (recognised by its
/// magic bytes, whatever the name); files and unpacked data over [`MAX_INPUT_BYTES`] are
/// errors. One buffer serves file after file on a worker: a fresh buffer per file costs
/// page faults on every one of its pages.
pub fn read_input_into(path: &Path, out: &mut Vec<u8>) -> std::io::Result<()> {
    out.clear();
    // Checked at the command's start (`import`, `sync`); the default if it is not valid.
    let limit = max_input_bytes().unwrap_or(MAX_INPUT_BYTES.min(machine_cap()));
    let too_big = |what: &str| {
        std::io::Error::other(format!(
            "{what} more than {limit} bytes, the most one input file may hold \
             (HALO_BILLING_MAX_INPUT_BYTES); split it into several files"
        ))
    };
    let mut file = std::fs::File::open(path)?;
    let len = file.metadata()?.len();
    if len > limit {
        return Err(too_big("the file holds"));
    }
    out.reserve(len as usize);
    // What the file's size said is not trusted (a device or a FIFO says 0).
    (&mut file).take(limit.saturating_add(1)).read_to_end(out)?;
    if out.len() as u64 > limit {
        return Err(too_big("the file holds"));
    }
    if out.starts_with(&[0x1f, 0x8b]) {
        let packed = std::mem::take(out);
        let unpacked_limit = limit.min(
            (packed.len() as u64)
                .saturating_mul(MAX_GZIP_RATIO)
                .max(64 << 20),
        );
        out.reserve(packed.len().saturating_mul(6).min(1 << 30));
        MultiGzDecoder::new(&packed[..])
            .take(unpacked_limit.saturating_add(1))
            .read_to_end(out)?;
        if out.len() as u64 > unpacked_limit {
            out.clear();
            out.shrink_to(0);
            return Err(std::io::Error::other(format!(
                "its gzip unpacks to more than {unpacked_limit} bytes ({MAX_GZIP_RATIO} times its own {} bytes, or \
                 HALO_BILLING_MAX_INPUT_BYTES): a gzip bomb is not unpacked further",
                packed.len()
            )));
        }
    }
    Ok(())
}

/// Where the valid actions of a document go, in document order.
pub trait Sink {
    /// Takes one validated action.
    fn take(&mut self, action: &ActionRef<'_>);
}

impl Sink for Vec<Action> {
    fn take(&mut self, action: &ActionRef<'_>) {
        self.push(action.clone().into_owned());
    }
}

/// What one file yielded.
#[derive(Debug, Default)]
pub struct FileResult {
    /// Valid actions in document order (empty when they went to a [`Sink`]).
    pub actions: Vec<Action>,
    /// Refused records and unreadable stretches, in document order.
    pub rejects: Vec<Reject>,
    /// Summary/detail pairs of one action merged within a page.
    pub details_merged: usize,
    /// Keys of actions that arrived with none of the six billing fields (summary rows):
    /// their billing figures read as zero unless the full record is fetched.
    pub incomplete: Vec<(i64, i64)>,
}

/// Replaces unquoted `NaN`, `Infinity` and `-Infinity` with quoted strings, so that
/// the record parses and the field is refused by name instead of the whole record
/// failing with a syntax error.
pub(crate) fn quote_non_finite(text: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() + 8);
    let mut i = 0;
    let mut in_str = false;
    let mut changed = false;
    while i < text.len() {
        let c = text[i];
        if in_str {
            out.push(c);
            if c == b'\\' && i + 1 < text.len() {
                out.push(text[i + 1]);
                i += 1;
            } else if c == b'"' {
                in_str = false;
            }
            i += 1;
            continue;
        }
        if c == b'"' {
            in_str = true;
        }
        let rest = &text[i..];
        let word = [&b"-Infinity"[..], b"Infinity", b"NaN"]
            .into_iter()
            .find(|w| rest.starts_with(w));
        if let Some(w) = word {
            out.push(b'"');
            out.extend_from_slice(w);
            out.push(b'"');
            i += w.len();
            changed = true;
            continue;
        }
        out.push(c);
        i += 1;
    }
    changed.then_some(out)
}

/// Reads one record's text (`text` is the same bytes when the document is valid UTF-8);
/// a record with an unquoted NaN or Infinity is read from a copy in `fixed` with the
/// word quoted, so that its field is refused by name rather than the whole record.
fn read_record<'b>(
    bytes: &'b [u8],
    text: Option<&'b str>,
    fixed: &'b mut Vec<u8>,
) -> Result<RawAction<'b>, String> {
    if bytes.first() != Some(&b'{') {
        return Err("expected a JSON object for an action".to_string());
    }
    let first_try = match text {
        Some(t) => RawAction::read(t),
        None => serde_json::from_slice::<RawAction>(bytes),
    };
    match first_try {
        Ok(raw) => Ok(raw),
        Err(e) => match quote_non_finite(bytes) {
            Some(buf) => {
                *fixed = buf;
                let fixed: &'b Vec<u8> = fixed;
                serde_json::from_slice::<RawAction>(fixed)
                    .map_err(|e| format!("not valid JSON: {e}"))
            }
            None => Err(format!("not valid JSON: {e}")),
        },
    }
}

fn location(section: Section, index: usize) -> String {
    match section {
        Section::Actions => format!("actions[{index}]"),
        Section::Details => format!("actionsdetails[{index}]"),
        Section::Array => format!("[{index}]"),
        Section::Bare => format!("record {}", index + 1),
    }
}

/// Parses one document. `file` names it in reports of refused records.
pub fn parse_document(file: &str, bytes: &[u8]) -> FileResult {
    let mut actions = Vec::new();
    let mut out = parse_document_into(file, bytes, &mut actions);
    out.actions = actions;
    out
}

/// Parses one document, giving its valid actions to `sink` (see [`parse_document`]).
pub fn parse_document_into(file: &str, bytes: &[u8], sink: &mut impl Sink) -> FileResult {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        // An empty file is not "no actions": a saved answer that lost its content.
        return FileResult {
            rejects: vec![Reject::whole_file(
                file,
                "the file is empty (no JSON at all)",
            )],
            ..Default::default()
        };
    }
    // A document that is valid UTF-8 throughout (nearly all) is checked once here, so
    // that its plain records are read as its lists are scanned, in one pass.
    let text = std::str::from_utf8(bytes).ok();
    let s = split::split_reading(bytes, text);
    read_pages_into(file, bytes, text, &s.pages, &s.records, s.errors, sink)
}

/// Parses the records of a document already split into `pages` (with the split's error,
/// if it stopped early).
pub fn parse_pages(
    file: &str,
    bytes: &[u8],
    pages: &[split::Page],
    split_errs: Vec<split::SplitError>,
) -> FileResult {
    let mut actions = Vec::with_capacity(pages.iter().map(|p| p.elements.len()).sum());
    let mut out = parse_pages_into(file, bytes, pages, split_errs, &mut actions);
    out.actions = actions;
    out
}

/// [`parse_pages`], giving the valid actions to `sink`.
pub fn parse_pages_into(
    file: &str,
    bytes: &[u8],
    pages: &[split::Page],
    split_errs: Vec<split::SplitError>,
    sink: &mut impl Sink,
) -> FileResult {
    let text = std::str::from_utf8(bytes).ok();
    read_pages_into(file, bytes, text, pages, &[], split_errs, sink)
}

/// [`parse_pages_into`] with the records the split read already (`records`, which
/// elements point into) and the document as text when it is valid UTF-8.
fn read_pages_into<'b>(
    file: &str,
    bytes: &'b [u8],
    text: Option<&'b str>,
    pages: &[split::Page],
    records: &[RawAction<'b>],
    split_errs: Vec<split::SplitError>,
    sink: &mut impl Sink,
) -> FileResult {
    let mut out = FileResult::default();
    let lines = reject::LineIndex::new(bytes);
    let reject_at = |el: &Element, key: (Option<i64>, Option<i64>), reason: String| Reject {
        file: file.to_string(),
        line: lines.line_of(el.range.start),
        byte: el.range.start,
        location: location(el.section, el.index),
        ticket_id: key.0,
        id: key.1,
        reason,
        text: String::from_utf8_lossy(&bytes[el.range.clone()]).into_owned(),
    };
    // With the document as text, serde_json need not check each raw field value again;
    // otherwise each record is read from its bytes and a bad one is refused alone.
    // Takes one record read whole: into the sink, or refused with its field's reason.
    let mut take = |out: &mut FileResult, el: &Element, record: &RawAction, key, page_ticket| {
        let no_billing = record.actionchargehours.is_none()
            && record.actionchargeamount.is_none()
            && record.actionnonchargehours.is_none()
            && record.actionnonchargeamount.is_none()
            && record.actionprepayhours.is_none()
            && record.actionprepayamount.is_none();
        match ActionRef::from_raw(record, page_ticket) {
            Ok(a) => {
                if no_billing {
                    out.incomplete.push(a.key());
                }
                sink.take(&a)
            }
            Err(e) => {
                let reason = match e {
                    RecordError::Field(f) => f.to_string(),
                    other => other.to_string(),
                };
                out.rejects.push(reject_at(el, key, reason));
            }
        }
    };
    let text_of = |r: std::ops::Range<usize>| text.and_then(|t| t.get(r));
    for page in pages {
        let key_of = |raw: &RawAction| {
            let (t, id) = raw.key_hint();
            (t.or(page.ticket_id), id)
        };
        // A page without full records (`actionsdetails`) has nothing to pair: each
        // record is read and taken in turn, no raw record kept.
        if !page.elements.iter().any(|e| e.section == Section::Details) {
            let mut fixed = Vec::new();
            for el in &page.elements {
                if let Some(raw) = el.read.map(|i| &records[i]) {
                    take(&mut out, el, raw, key_of(raw), page.ticket_id);
                    continue;
                }
                match read_record(
                    &bytes[el.range.clone()],
                    text_of(el.range.clone()),
                    &mut fixed,
                ) {
                    Ok(raw) => take(&mut out, el, &raw, key_of(&raw), page.ticket_id),
                    Err(reason) => out.rejects.push(reject_at(el, (None, None), reason)),
                }
            }
            continue;
        }
        // Read every element of the page (each with its own buffer for a NaN-quoted
        // copy, since the records are kept until they are paired).
        let mut fixed: Vec<Vec<u8>> = vec![Vec::new(); page.elements.len()];
        let parsed: Vec<Result<RawAction, String>> = page
            .elements
            .iter()
            .zip(fixed.iter_mut())
            .map(|(el, buf)| match el.read {
                Some(i) => Ok(records[i].clone()),
                None => read_record(&bytes[el.range.clone()], text_of(el.range.clone()), buf),
            })
            .collect();

        // Pair summaries with their full records (same page, same key).
        let mut details: HashMap<(Option<i64>, Option<i64>), usize> = HashMap::new();
        for (i, r) in parsed.iter().enumerate() {
            if page.elements[i].section == Section::Details
                && let Ok(raw) = r
            {
                details.insert(key_of(raw), i);
            }
        }
        let mut used = vec![false; page.elements.len()];
        let has_summaries = page.elements.iter().any(|e| e.section == Section::Actions);
        for (i, r) in parsed.iter().enumerate() {
            let el = &page.elements[i];
            let raw = match r {
                Ok(raw) => raw,
                Err(reason) => {
                    out.rejects
                        .push(reject_at(el, (None, None), reason.clone()));
                    continue;
                }
            };
            let key = key_of(raw);
            let mut merged;
            let record = if el.section == Section::Actions
                && has_summaries
                && let Some(&d) = details.get(&key).filter(|_| key.1.is_some())
            {
                used[d] = true;
                merged = RawAction {
                    ..Default::default()
                };
                merged.overlay(raw);
                if let Ok(full) = &parsed[d] {
                    merged.overlay(full);
                }
                out.details_merged += 1;
                &merged
            } else if el.section == Section::Details && used[i] {
                continue;
            } else {
                raw
            };
            take(&mut out, el, record, key, page.ticket_id);
        }
    }
    for e in split_errs {
        let range = e.unread.start.min(bytes.len())..e.unread.end.min(bytes.len());
        let what = if e.resumed {
            "unreadable stretch"
        } else {
            "rest of file"
        };
        out.rejects.push(Reject {
            file: file.to_string(),
            line: lines.line_of(range.start),
            byte: range.start,
            location: format!("{what}, bytes {}..{}", range.start, range.end),
            ticket_id: None,
            id: None,
            reason: format!("unreadable from byte {}: {}", e.offset, e.message),
            text: String::from_utf8_lossy(&bytes[range]).into_owned(),
        });
    }
    out
}

#[cfg(test)]
mod fuzz_tests;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_records_are_refused_alone() {
        let doc = br#"{"record_count":4,"actions":[
            {"id":1,"ticket_id":5,"timetaken":0.5},
            {"id":2,"ticket_id":5,"timetaken":"abc"},
            {"id":3,"ticket_id":5,"timetaken":NaN},
            {"ticket_id":5},
            7
        ]}"#;
        let r = parse_document("f.json", doc);
        assert_eq!(r.actions.len(), 1);
        assert_eq!(r.rejects.len(), 4);
        assert_eq!(r.rejects[0].location, "actions[1]");
        assert_eq!(r.rejects[0].line, 3);
        assert_eq!(
            (r.rejects[0].ticket_id, r.rejects[0].id),
            (Some(5), Some(2))
        );
        assert!(
            r.rejects[1].reason.contains("`NaN` is not a finite number"),
            "{}",
            r.rejects[1].reason
        );
        assert_eq!(r.rejects[2].reason, "record has no `id`");
        assert_eq!(r.rejects[3].reason, "expected a JSON object for an action");
    }

    #[test]
    fn details_fill_summaries_and_page_ticket_id_applies() {
        let doc = br#"{"ticket_id":9,"actions":[{"id":1,"note":"s"},{"id":2}],
            "actionsdetails":[{"id":1,"ticket_id":9,"actionchargeamount":12.5},{"id":3,"ticket_id":9}]}"#;
        let r = parse_document("f.json", doc);
        assert!(r.rejects.is_empty(), "{:?}", r.rejects);
        let keys: Vec<_> = r.actions.iter().map(|a| a.key()).collect();
        assert_eq!(keys, vec![(9, 1), (9, 2), (9, 3)]);
        assert_eq!(r.actions[0].actionchargeamount, 1250);
        assert_eq!(r.actions[0].note.as_deref(), Some("s"));
        assert_eq!(r.details_merged, 1);
    }

    #[test]
    fn truncated_file_reports_the_rest() {
        let r = parse_document("t.json", br#"[{"id":1,"ticket_id":1},{"id":2,"tick"#);
        assert_eq!(r.actions.len(), 1);
        assert_eq!(r.rejects.len(), 1);
        assert_eq!(r.rejects[0].location, "rest of file, bytes 23..37");
        assert_eq!(r.rejects[0].text, r#",{"id":2,"tick"#);
    }
}
