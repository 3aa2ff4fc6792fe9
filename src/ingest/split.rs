//! Splits a JSON or NDJSON document into its action records without parsing them, so
//! that one bad record is refused alone while every other record is kept.
//!
//! Understands Halo's three shapes, in any mix, one after another (NDJSON):
//! the wrapper `{"record_count": N, "actions": [...], "actionsdetails": [...]}` (also
//! `ticket_id`, `page_no`, `page_size`), a bare array of records, and bare records.
//! The scan is lenient about what lies *inside* a record (an unquoted `NaN` does not stop
//! it); that is judged when the record itself is parsed.
//!
//! Damage stays local:
//! - A damaged document whose lines may be NDJSON (two or more lines, at least two of
//!   the first five opening an object) is also scanned line by line, and the reading that leaves fewer bytes
//!   unread is kept: in NDJSON a damaged line is refused alone and every other line is
//!   read.
//! - In a list (a wrapper's `actions`, a bare array), a record the scan cannot get
//!   through is refused with its byte range and the scan resumes at the next place where
//!   a record can be recognised (`{` after a `,`, scanning whole and followed by `,` or
//!   `]`), so the records after a damaged one are kept.

use crate::model::RawAction;
use std::ops::Range;

/// Where a record sits in its page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    /// An element of a wrapper's `actions` (summaries, or full rows).
    Actions,
    /// An element of a wrapper's `actionsdetails` (full records).
    Details,
    /// An element of a bare top-level array.
    Array,
    /// A bare top-level object (an NDJSON line).
    Bare,
}

/// One record: its byte range and where it sat.
#[derive(Debug, Clone)]
pub struct Element {
    /// Bytes of the record's JSON value.
    pub range: Range<usize>,
    /// Which list it was in.
    pub section: Section,
    /// Index within that list.
    pub index: usize,
    /// Where the record, already read while the list was scanned, is in the split's
    /// [`Split::records`] (see [`split_reading`]); `None`: read it from `range`.
    pub read: Option<usize>,
}

/// A document split into pages, with the records read on the way.
#[derive(Debug, Default)]
pub struct Split<'a> {
    /// The top-level values, each with its records.
    pub pages: Vec<Page>,
    /// Stretches that could not be scanned.
    pub errors: Vec<SplitError>,
    /// Records read whole while their list was scanned ([`Element::read`]).
    pub records: Vec<RawAction<'a>>,
}

/// What a top-level value of the document was.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub enum PageKind {
    /// An object with an `actions` (or `actionsdetails`) array: Halo's list wrapper.
    Wrapper,
    /// A bare array of records.
    #[default]
    Array,
    /// A single object that is not a wrapper (a record, or an error object).
    Record,
}

/// One top-level value of the document and the records it holds.
#[derive(Debug, Default)]
pub struct Page {
    /// Wrapper, bare array or a single object.
    pub kind: PageKind,
    /// Byte range of the whole value.
    pub range: Range<usize>,
    /// The wrapper's `ticket_id`, for records that leave theirs out.
    pub ticket_id: Option<i64>,
    /// The wrapper's `record_count`, when given.
    pub record_count: Option<i64>,
    /// The records, in document order (summaries first, then details).
    pub elements: Vec<Element>,
}

/// A stretch of the document that could not be scanned into records.
#[derive(Debug, Clone)]
pub struct SplitError {
    /// Byte offset where scanning failed.
    pub offset: usize,
    /// The bytes not covered by any returned record (what is lost unless reported).
    pub unread: Range<usize>,
    /// What was wrong.
    pub message: String,
    /// Whether the scan went on after this stretch (`false`: it is the rest of the file).
    pub resumed: bool,
}

struct Scanner<'a> {
    b: &'a [u8],
    /// The document as text (valid UTF-8, `b`'s bytes) when list elements are to be
    /// read as they are scanned (see [`split_reading`]).
    text: Option<&'a str>,
    /// The records read so far.
    records: Vec<RawAction<'a>>,
    pos: usize,
    /// Damaged stretches inside lists that the scan resumed after.
    damage: Vec<SplitError>,
    /// The closers of what is open inside the value being skipped (kept across values
    /// so that skipping a record allocates nothing).
    open: Vec<u8>,
}

type Res<T> = Result<T, (usize, String)>;

/// The most records of one document read while its lists are scanned (about 1 KB each
/// as [`RawAction`]s): Halo's pages hold at most 100 records per page and saved answers
/// a few thousand per file; a larger export is read beyond this in two passes, with
/// memory that does not grow by a kilobyte per record.
pub const READ_AHEAD: usize = 16_384;

impl<'a> Scanner<'a> {
    fn ws(&mut self) {
        while self.pos < self.b.len() && matches!(self.b[self.pos], b' ' | b'\t' | b'\n' | b'\r') {
            self.pos += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.pos).copied()
    }

    fn expect(&mut self, c: u8) -> Res<()> {
        self.ws();
        match self.peek() {
            Some(x) if x == c => {
                self.pos += 1;
                Ok(())
            }
            Some(x) => Err((
                self.pos,
                format!("expected `{}`, found `{}`", c as char, x as char),
            )),
            None => Err((
                self.pos,
                format!("expected `{}`, found the end of the file", c as char),
            )),
        }
    }

    /// Skips a string starting at `pos` (on the opening quote); returns its inner range.
    fn string(&mut self) -> Res<Range<usize>> {
        let start = self.pos;
        self.pos += 1;
        let inner = self.pos;
        // Jump to the next quote or backslash (most strings hold neither escape nor
        // anything else of interest to the scanner).
        while let Some(at) = memchr::memchr2(b'"', b'\\', self.b.get(self.pos..).unwrap_or(&[])) {
            self.pos += at;
            if self.b[self.pos] == b'"' {
                self.pos += 1;
                return Ok(inner..self.pos - 1);
            }
            self.pos += 2;
        }
        self.pos = self.b.len();
        Err((
            start,
            "a string is not closed before the end of the file".into(),
        ))
    }

    /// Skips the object or array at `pos`, whose every `{` must close with `}` and
    /// every `[` with `]`: a record that lost a brace fails here instead of swallowing
    /// the records after it. `self.open` holds the closers awaited.
    fn skip_nested(&mut self) -> Res<()> {
        let start = self.pos;
        self.open.clear();
        while self.pos < self.b.len() {
            match self.b[self.pos] {
                b'"' => {
                    self.string()?;
                    continue;
                }
                c @ (b'{' | b'[') => self.open.push(if c == b'{' { b'}' } else { b']' }),
                c @ (b'}' | b']') => {
                    if self.open.pop() != Some(c) {
                        return Err((
                            self.pos,
                            format!("`{}` does not close what is open here", c as char),
                        ));
                    }
                    if self.open.is_empty() {
                        self.pos += 1;
                        return Ok(());
                    }
                }
                _ => {}
            }
            self.pos += 1;
        }
        Err((
            start,
            "an object or array is not closed before the end of the file".into(),
        ))
    }

    /// Skips any value; returns its range.
    fn value(&mut self) -> Res<Range<usize>> {
        self.ws();
        let start = self.pos;
        match self.peek() {
            None => Err((
                self.pos,
                "expected a value, found the end of the file".into(),
            )),
            Some(b'"') => {
                self.string()?;
                Ok(start..self.pos)
            }
            Some(b'{') | Some(b'[') => {
                // Each `{` must close with `}` and each `[` with `]`: a record that lost a
                // brace fails here instead of swallowing the records after it.
                self.skip_nested().map(|()| start..self.pos)
            }
            Some(b'}') | Some(b']') | Some(b',') | Some(b':') => Err((
                self.pos,
                format!("expected a value, found `{}`", self.b[self.pos] as char),
            )),
            Some(_) => {
                // A scalar (number, literal, or an invalid bare word such as NaN).
                while self.pos < self.b.len()
                    && !matches!(
                        self.b[self.pos],
                        b',' | b']' | b'}' | b' ' | b'\t' | b'\n' | b'\r' | b'{' | b'['
                    )
                {
                    self.pos += 1;
                }
                Ok(start..self.pos)
            }
        }
    }

    /// Splits an array starting at `pos` into element ranges.
    fn array(&mut self, section: Section, out: &mut Vec<Element>) -> Res<()> {
        self.expect(b'[')?;
        self.ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(());
        }
        let mut index = 0;
        loop {
            let at = {
                self.ws();
                self.pos
            };
            // A plain record is read as it is scanned, in one pass; anything else is
            // scanned here and read (or refused) by the caller. Past READ_AHEAD records
            // (a single large export) the rest are only scanned, so that the records
            // held never outgrow a page file's worth.
            let plain = self
                .text
                .filter(|_| self.records.len() < READ_AHEAD)
                .and_then(|t| RawAction::read_plain_at(t, at));
            let (range, read) = match plain {
                Some((record, end)) => {
                    self.records.push(record);
                    self.pos = end;
                    (at..end, Some(self.records.len() - 1))
                }
                None => match self.value() {
                    Ok(r) => (r, None),
                    Err(e) => {
                        self.resync(at, e)?;
                        index += 1;
                        continue;
                    }
                },
            };
            out.push(Element {
                range,
                section,
                index,
                read,
            });
            index += 1;
            self.ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(());
                }
                Some(c) => {
                    let e = (
                        self.pos,
                        format!("expected `,` or `]` in a list, found `{}`", c as char),
                    );
                    // The element just read is suspect too: refuse it with the damage
                    // (or keep it, as before, when the scan cannot resume).
                    let el = out.pop().expect("just pushed");
                    if let Err(e) = self.resync(el.range.start, e) {
                        out.push(el);
                        return Err(e);
                    }
                }
                None => {
                    // An element that ran to the end of the file may have swallowed the
                    // records after it (a lost quote): try to resume inside it.
                    let e = (
                        self.pos,
                        "a list is not closed before the end of the file".into(),
                    );
                    let el = out.pop().expect("just pushed");
                    if let Err(e) = self.resync(el.range.start, e) {
                        out.push(el);
                        return Err(e);
                    }
                }
            }
        }
    }

    /// After a list element starting at `from` failed with `err`: finds the next record
    /// start after it (`{` following a `,`, scanning whole and followed by `,` or `]`),
    /// records `from..` that start as damage and continues there. Without one, the error
    /// stands (the rest of the file is unread).
    fn resync(&mut self, from: usize, err: (usize, String)) -> Res<()> {
        let mut p = from + 1;
        while let Some(rel) = self.b[p.min(self.b.len())..]
            .iter()
            .position(|&c| c == b'{')
        {
            let cand = p + rel;
            p = cand + 1;
            let before = self.b[from..cand]
                .iter()
                .rposition(|c| !matches!(c, b' ' | b'\t' | b'\n' | b'\r'))
                .map(|i| from + i);
            let Some(comma) = before.filter(|&i| self.b[i] == b',') else {
                continue;
            };
            // A record is a few KB: a trial that runs on for a megabyte is not one (and
            // bounding it keeps a long damaged stretch from costing quadratic time).
            let mut trial = Scanner {
                b: &self.b[..self.b.len().min(cand + (1 << 20))],
                text: None,
                records: Vec::new(),
                pos: cand,
                damage: Vec::new(),
                open: Vec::new(),
            };
            if trial.value().is_err() {
                continue;
            }
            trial.ws();
            if matches!(trial.peek(), Some(b',') | Some(b']')) {
                self.damage.push(SplitError {
                    offset: err.0,
                    unread: from..comma,
                    message: err.1,
                    resumed: true,
                });
                self.pos = cand;
                return Ok(());
            }
        }
        Err(err)
    }

    /// After the document's structure is lost: every record still recognisable after
    /// `from` (`{` after a `,`, scanning whole and followed by `,` or `]`), in order.
    fn salvage(&mut self, from: usize) -> Vec<Element> {
        let mut out = Vec::new();
        let mut p = from;
        while p < self.b.len() {
            let Some(rel) = self.b[p..].iter().position(|&c| c == b'{') else {
                break;
            };
            let cand = p + rel;
            p = cand + 1;
            let before = self.b[..cand]
                .iter()
                .rposition(|c| !matches!(c, b' ' | b'\t' | b'\n' | b'\r'));
            if before.is_none_or(|i| self.b[i] != b',') {
                continue;
            }
            let mut trial = Scanner {
                b: &self.b[..self.b.len().min(cand + (1 << 20))],
                text: None,
                records: Vec::new(),
                pos: cand,
                damage: Vec::new(),
                open: Vec::new(),
            };
            let Ok(range) = trial.value() else { continue };
            trial.ws();
            if matches!(trial.peek(), Some(b',') | Some(b']')) {
                p = range.end;
                out.push(Element {
                    range,
                    section: Section::Array,
                    index: out.len(),
                    read: None,
                });
            }
        }
        out
    }

    /// Scans a top-level object: a wrapper page, or a single record.
    fn object(&mut self, page: &mut Page) -> Res<()> {
        let start = self.pos;
        let mut found = Vec::new();
        let mut wrapper = false;
        let r = self.object_members(page, &mut found, &mut wrapper);
        if wrapper {
            // Summaries first, then details, each in document order. Kept on an error
            // too: the records read before the damage are good.
            page.kind = PageKind::Wrapper;
            found.sort_by_key(|e| (e.section == Section::Details, e.index));
            page.elements = found;
        } else if r.is_ok() {
            page.kind = PageKind::Record;
            page.ticket_id = None;
            page.record_count = None;
            page.elements = vec![Element {
                range: start..self.pos,
                section: Section::Bare,
                index: 0,
                read: None,
            }];
        }
        r
    }

    /// The members of an object: wrapper lists into `found` (setting `wrapper`), the
    /// wrapper's `ticket_id` and `record_count` into `page`.
    fn object_members(
        &mut self,
        page: &mut Page,
        found: &mut Vec<Element>,
        wrapper: &mut bool,
    ) -> Res<()> {
        self.expect(b'{')?;
        self.ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(());
        }
        loop {
            self.ws();
            if self.peek() != Some(b'"') {
                return Err((self.pos, "expected a quoted key".into()));
            }
            let key = self.string()?;
            self.expect(b':')?;
            self.ws();
            let key = &self.b[key];
            // A wrapper key with one damaged byte is still recognised (only lists of
            // records go there, and records never carry a key that close to it).
            let near = |name: &[u8]| {
                key.len() == name.len() && key.iter().zip(name).filter(|(a, b)| a != b).count() <= 1
            };
            let section = if near(b"actions") {
                Some(Section::Actions)
            } else if near(b"actionsdetails") {
                Some(Section::Details)
            } else {
                None
            };
            match section {
                Some(section) if self.peek() == Some(b'[') => {
                    *wrapper = true;
                    self.array(section, found)?;
                }
                _ => {
                    let v = self.value()?;
                    let text = std::str::from_utf8(&self.b[v]).unwrap_or("");
                    let as_int = || crate::exact::parse_whole(text).ok().flatten();
                    match key {
                        b"ticket_id" => page.ticket_id = as_int(),
                        b"record_count" => page.record_count = as_int(),
                        _ => {}
                    }
                }
            }
            self.ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(());
                }
                Some(c) => {
                    return Err((
                        self.pos,
                        format!("expected `,` or `}}` after a value, found `{}`", c as char),
                    ));
                }
                None => {
                    return Err((
                        self.pos,
                        "an object is not closed before the end of the file".into(),
                    ));
                }
            }
        }
    }
}

/// Splits a whole document. Records found around damaged stretches are returned with
/// those stretches, so the caller can keep the records and report the damage.
pub fn split(bytes: &[u8]) -> (Vec<Page>, Vec<SplitError>) {
    let s = split_reading(bytes, None);
    (s.pages, s.errors)
}

/// [`split`], reading the plain records of lists as they are scanned when `text` (the
/// document's bytes as text, when they are valid UTF-8) is given: one pass over them
/// instead of a scan and then a read. The pages and errors are [`split`]'s.
pub fn split_reading<'a>(bytes: &'a [u8], text: Option<&'a str>) -> Split<'a> {
    // A UTF-8 byte-order mark is common in files saved on Windows.
    let start = if bytes.starts_with(&[0xEF, 0xBB, 0xBF]) {
        3
    } else {
        0
    };
    let mut bare = 0;
    let mut whole = Split::default();
    scan_values(bytes, text, start, &mut bare, &mut whole);
    if whole.errors.is_empty() || !line_based(bytes, start) {
        return whole;
    }
    // Damaged, and it may be NDJSON: read it line by line too, and keep whichever
    // reading leaves fewer bytes unread.
    let (pages, errors) = split_lines(bytes, start);
    let unread = |e: &[SplitError]| e.iter().map(|x| x.unread.len()).sum::<usize>();
    if unread(&errors) <= unread(&whole.errors) {
        Split {
            pages,
            errors,
            records: Vec::new(),
        }
    } else {
        whole
    }
}

/// Whether the document may be NDJSON: two or more non-empty lines, of which at least
/// two of the first five open an object.
fn line_based(bytes: &[u8], start: usize) -> bool {
    let lines: Vec<&[u8]> = bytes[start..]
        .split(|&c| c == b'\n')
        .filter(|l| l.iter().any(|c| !c.is_ascii_whitespace()))
        .take(5)
        .collect();
    let opening = lines
        .iter()
        .filter(|l| l.trim_ascii_start().first() == Some(&b'{'))
        .count();
    lines.len() >= 2 && opening >= 2
}

/// Each line scanned on its own: damage ends with its line.
fn split_lines(bytes: &[u8], start: usize) -> (Vec<Page>, Vec<SplitError>) {
    let mut out = Split::default();
    let mut bare = 0;
    let mut line_start = start;
    while line_start < bytes.len() {
        let line_end = bytes[line_start..]
            .iter()
            .position(|&c| c == b'\n')
            .map_or(bytes.len(), |i| line_start + i);
        // No records read on the way: a line's scan stops at its end, a read would not.
        scan_values(&bytes[..line_end], None, line_start, &mut bare, &mut out);
        if let Some(last) = out.errors.last_mut()
            && !last.resumed
            && last.unread.end == line_end
        {
            // The next line is read on its own.
            last.resumed = line_end < bytes.len();
        }
        line_start = line_end + 1;
    }
    (out.pages, out.errors)
}

/// Scans the top-level values of `b[start..]` into `out`'s pages, damage into its
/// errors, and (given `text`, `b` as text) the plain records of lists into its records.
fn scan_values<'a>(
    b: &'a [u8],
    text: Option<&'a str>,
    start: usize,
    bare: &mut usize,
    out: &mut Split<'a>,
) {
    let Split {
        pages,
        errors,
        records,
    } = out;
    let mut s = Scanner {
        b,
        text,
        records: std::mem::take(records),
        pos: start,
        damage: Vec::new(),
        open: Vec::new(),
    };
    loop {
        s.ws();
        let Some(c) = s.peek() else { break };
        let top_start = s.pos;
        let mut page = Page::default();
        let r = match c {
            b'[' => s.array(Section::Array, &mut page.elements),
            b'{' => s.object(&mut page),
            other => Err((
                s.pos,
                format!(
                    "expected `{{` or `[` to start a record or page, found `{}`",
                    other as char
                ),
            )),
        };
        errors.append(&mut s.damage);
        if let Some(e) = page.elements.first_mut()
            && e.section == Section::Bare
        {
            e.index = *bare;
            *bare += 1;
        }
        let complete = r.is_ok();
        let unread_from = match (complete, page.elements.last()) {
            (true, _) => s.pos,
            (false, Some(_)) if page.elements.iter().all(|e| e.section != Section::Bare) => page
                .elements
                .iter()
                .map(|e| e.range.end)
                .max()
                .unwrap_or(top_start),
            _ => top_start,
        };
        page.range = top_start..s.pos;
        // Empty wrappers and arrays are pages too (a window with no actions).
        let empty_list = complete && page.kind != PageKind::Record;
        if empty_list
            || (!page.elements.is_empty()
                && (complete || page.elements[0].section != Section::Bare))
        {
            pages.push(page);
        }
        if let Err((offset, message)) = r {
            // The structure is lost: keep every record still recognisable after it.
            let salvaged = s.salvage(unread_from.max(top_start + 1));
            let mut rest = unread_from;
            for (i, el) in salvaged.iter().enumerate() {
                let gap = rest..el.range.start;
                if !filler(&b[gap.clone()]) || i == 0 {
                    errors.push(SplitError {
                        offset,
                        unread: gap,
                        message: message.clone(),
                        resumed: true,
                    });
                }
                rest = el.range.end;
            }
            if !salvaged.is_empty() {
                pages.push(Page {
                    kind: PageKind::Array,
                    range: top_start..b.len(),
                    elements: salvaged,
                    ..Default::default()
                });
            }
            if !filler(&b[rest..]) || rest == unread_from {
                errors.push(SplitError {
                    offset,
                    unread: rest..b.len(),
                    message,
                    resumed: false,
                });
            }
            break;
        }
    }
    *records = s.records;
}

/// Whether a stretch between records holds only separators and closing brackets.
fn filler(b: &[u8]) -> bool {
    b.iter()
        .all(|c| matches!(c, b' ' | b'\t' | b'\n' | b'\r' | b',' | b']' | b'}'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts<'a>(b: &'a str, pages: &[Page]) -> Vec<&'a str> {
        pages
            .iter()
            .flat_map(|p| p.elements.iter().map(|e| &b[e.range.clone()]))
            .collect()
    }

    #[test]
    fn wrapper_with_details_and_page_fields() {
        let doc = r#"{"ticket_id": 7, "page_no":1, "record_count": 2,
            "actions": [{"id":1}, {"id":2,"x":"a]}\"b"}], "actionsdetails": [{"id":1,"note":"n"}]}"#;
        let (pages, err) = split(doc.as_bytes());
        assert!(err.is_empty());
        assert_eq!(pages.len(), 1);
        assert_eq!(pages[0].ticket_id, Some(7));
        assert_eq!(pages[0].record_count, Some(2));
        assert_eq!(
            texts(doc, &pages),
            vec![
                r#"{"id":1}"#,
                r#"{"id":2,"x":"a]}\"b"}"#,
                r#"{"id":1,"note":"n"}"#
            ]
        );
        assert_eq!(pages[0].elements[2].section, Section::Details);
    }

    #[test]
    fn ndjson_and_arrays_and_bad_tokens() {
        let doc = "{\"id\":1}\n{\"id\":2,\"timetaken\":NaN}\n[{\"id\":3},{\"id\":4}]\n";
        let (pages, err) = split(doc.as_bytes());
        assert!(err.is_empty(), "{err:?}");
        assert_eq!(
            texts(doc, &pages),
            vec![
                "{\"id\":1}",
                "{\"id\":2,\"timetaken\":NaN}",
                "{\"id\":3}",
                "{\"id\":4}"
            ]
        );
        assert_eq!(pages[1].elements[0].index, 1);
    }

    #[test]
    fn truncated_file_keeps_whole_records_and_says_where() {
        let doc = r#"{"actions":[{"id":1},{"id":2},{"id":3,"note":"cut"#;
        let (pages, err) = split(doc.as_bytes());
        assert_eq!(err.len(), 1);
        assert_eq!(texts(doc, &pages), vec![r#"{"id":1}"#, r#"{"id":2}"#]);
        assert_eq!(&doc[err[0].unread.clone()], r#",{"id":3,"note":"cut"#);
        assert!(!err[0].resumed);
    }

    #[test]
    fn ndjson_damaged_lines_are_refused_alone() {
        let doc = "{\"id\":1}\n{\"id\":2,\"note\":\"x\"\n{\"id\":3,\"note\":\"y}\n{\"id\":4}\n";
        let (pages, err) = split(doc.as_bytes());
        assert_eq!(texts(doc, &pages), vec!["{\"id\":1}", "{\"id\":4}"]);
        assert_eq!(err.len(), 2, "{err:?}");
        assert_eq!(&doc[err[0].unread.clone()], "{\"id\":2,\"note\":\"x\"");
        assert_eq!(&doc[err[1].unread.clone()], "{\"id\":3,\"note\":\"y}");
        assert!(err.iter().all(|e| e.resumed));
    }

    #[test]
    fn a_damaged_record_in_a_list_does_not_take_the_next_ones() {
        // Record 2 lost its closing brace, record 4 a closing quote.
        let doc = r#"{"record_count":6,"actions":[{"id":1},{"id":2,"a":[1,2],{"id":3},{"id":4,"note":"abc},{"id":5,"x":"y"},{"id":6}]}"#;
        let (pages, err) = split(doc.as_bytes());
        assert_eq!(
            texts(doc, &pages),
            vec![
                r#"{"id":1}"#,
                r#"{"id":3}"#,
                r#"{"id":5,"x":"y"}"#,
                r#"{"id":6}"#
            ]
        );
        assert_eq!(err.len(), 2, "{err:?}");
        assert_eq!(&doc[err[0].unread.clone()], r#"{"id":2,"a":[1,2]"#);
        assert_eq!(&doc[err[1].unread.clone()], r#"{"id":4,"note":"abc}"#);
    }
}
