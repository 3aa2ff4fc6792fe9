//! Splits a JSON or NDJSON document into its action records without parsing them, so
//! that one bad record is refused alone while every other record is kept.
//!
//! Understands Halo's three shapes, in any mix, one after another (NDJSON):
//! the wrapper `{"record_count": N, "actions": [...], "actionsdetails": [...]}` (also
//! `ticket_id`, `page_no`, `page_size`), a bare array of records, and bare records.
//! The scan is lenient about what lies *inside* a record (an unquoted `NaN` does not stop
//! it); that is judged when the record itself is parsed.

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
}

/// One top-level value of the document and the records it holds.
#[derive(Debug, Default)]
pub struct Page {
    /// The wrapper's `ticket_id`, for records that leave theirs out.
    pub ticket_id: Option<i64>,
    /// The wrapper's `record_count`, when given.
    pub record_count: Option<i64>,
    /// The records, in document order (summaries first, then details).
    pub elements: Vec<Element>,
}

/// The document could not be scanned to its end.
#[derive(Debug, Clone)]
pub struct SplitError {
    /// Byte offset where scanning stopped.
    pub offset: usize,
    /// Offset of the first byte not covered by a returned record (what is lost unless
    /// reported).
    pub unread_from: usize,
    /// What was wrong.
    pub message: String,
}

struct Scanner<'a> {
    b: &'a [u8],
    pos: usize,
}

type Res<T> = Result<T, (usize, String)>;

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
        while self.pos < self.b.len() {
            match self.b[self.pos] {
                b'"' => {
                    self.pos += 1;
                    return Ok(inner..self.pos - 1);
                }
                b'\\' => self.pos += 2,
                _ => self.pos += 1,
            }
        }
        Err((
            start,
            "a string is not closed before the end of the file".into(),
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
                let mut depth = 0usize;
                while self.pos < self.b.len() {
                    match self.b[self.pos] {
                        b'"' => {
                            self.string()?;
                            continue;
                        }
                        b'{' | b'[' => depth += 1,
                        b'}' | b']' => {
                            depth -= 1;
                            if depth == 0 {
                                self.pos += 1;
                                return Ok(start..self.pos);
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
            let range = self.value()?;
            out.push(Element {
                range,
                section,
                index,
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
                    return Err((
                        self.pos,
                        format!("expected `,` or `]` in a list, found `{}`", c as char),
                    ));
                }
                None => {
                    return Err((
                        self.pos,
                        "a list is not closed before the end of the file".into(),
                    ));
                }
            }
        }
    }

    /// Scans a top-level object: a wrapper page, or a single record.
    fn object(&mut self, page: &mut Page) -> Res<()> {
        let start = self.pos;
        self.expect(b'{')?;
        let mut wrapper = false;
        let mut found = Vec::new();
        self.ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
        } else {
            loop {
                self.ws();
                if self.peek() != Some(b'"') {
                    return Err((self.pos, "expected a quoted key".into()));
                }
                let key = self.string()?;
                self.expect(b':')?;
                self.ws();
                let key = &self.b[key];
                let section = match key {
                    b"actions" => Some(Section::Actions),
                    b"actionsdetails" => Some(Section::Details),
                    _ => None,
                };
                match section {
                    Some(section) if self.peek() == Some(b'[') => {
                        wrapper = true;
                        let mut els = Vec::new();
                        let r = self.array(section, &mut els);
                        found.extend(els);
                        if let Err(e) = r {
                            found.sort_by_key(|e| (e.section == Section::Details, e.index));
                            page.elements = found;
                            return Err(e);
                        }
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
                        break;
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
        if wrapper {
            // Summaries first, then details, each in document order.
            found.sort_by_key(|e| (e.section == Section::Details, e.index));
            page.elements = found;
        } else {
            page.ticket_id = None;
            page.record_count = None;
            page.elements = vec![Element {
                range: start..self.pos,
                section: Section::Bare,
                index: 0,
            }];
        }
        Ok(())
    }
}

/// Splits a whole document. Pages found before an error are returned with it, so the
/// caller can keep their records and report the rest.
pub fn split(bytes: &[u8]) -> (Vec<Page>, Option<SplitError>) {
    let mut s = Scanner { b: bytes, pos: 0 };
    // A UTF-8 byte-order mark is common in files saved on Windows.
    if bytes.starts_with(&[0xEF, 0xBB, 0xBF]) {
        s.pos = 3;
    }
    let mut pages = Vec::new();
    let mut bare_lines = 0;
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
        if let Some(e) = page.elements.first_mut()
            && e.section == Section::Bare
        {
            e.index = bare_lines;
            bare_lines += 1;
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
        if !page.elements.is_empty() && (complete || page.elements[0].section != Section::Bare) {
            pages.push(page);
        }
        if let Err((offset, message)) = r {
            return (
                pages,
                Some(SplitError {
                    offset,
                    unread_from,
                    message,
                }),
            );
        }
    }
    (pages, None)
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
        assert!(err.is_none());
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
        assert!(err.is_none(), "{err:?}");
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
        let err = err.unwrap();
        assert_eq!(texts(doc, &pages), vec![r#"{"id":1}"#, r#"{"id":2}"#]);
        assert_eq!(&doc[err.unread_from..], r#",{"id":3,"note":"cut"#);
    }
}
