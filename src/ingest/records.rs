//! Saved answers of Halo's record endpoints (`{"contracts": [...]}`, `{"prepay": [...]}`,
//! `{"invoices": [...]}`, each with `record_count`): told apart from pages of actions by
//! their envelope's key, read record by record into [`crate::records`] rows. A record
//! that cannot be read is refused alone with its place and reason (an invoice with a
//! line that cannot be read is refused whole: its lines are what an audit adds up); a
//! document that is not JSON is refused whole, and nothing it held is taken.

use super::reject::{LineIndex, Reject};
use crate::exact;
use crate::model::datetime::parse_datetime;
use crate::records::{Batch, Cell, Field, Kind, Row, Table};
use serde_json::value::RawValue;
use std::collections::BTreeMap;

/// The record envelopes, with the table their records go to.
const ENVELOPES: [(&str, Table); 3] = [
    ("contracts", Table::Contracts),
    ("prepay", Table::Prepay),
    ("invoices", Table::Invoices),
];

/// The record table a document's envelope names, found by reading its top-level keys up
/// to the first list (a page of actions says `actions` there, and is not one).
pub fn envelope_of(bytes: &[u8]) -> Option<Table> {
    let mut i = 0;
    let ws = |i: &mut usize| {
        while *i < bytes.len() && bytes[*i].is_ascii_whitespace() {
            *i += 1;
        }
    };
    if bytes.starts_with(b"\xEF\xBB\xBF") {
        i = 3;
    }
    ws(&mut i);
    if bytes.get(i) != Some(&b'{') {
        return None;
    }
    i += 1;
    loop {
        ws(&mut i);
        if bytes.get(i) != Some(&b'"') {
            return None;
        }
        let start = i + 1;
        i = string_end(bytes, i)?;
        let key = &bytes[start..i - 1];
        ws(&mut i);
        if bytes.get(i) != Some(&b':') {
            return None;
        }
        i += 1;
        ws(&mut i);
        if let Some((_, t)) = ENVELOPES.iter().find(|(k, _)| k.as_bytes() == key) {
            return Some(*t);
        }
        if bytes.get(i) == Some(&b'[') {
            // Another list (`actions`): not a record envelope.
            return None;
        }
        i = value_end(bytes, i)?;
        ws(&mut i);
        match bytes.get(i) {
            Some(b',') => i += 1,
            _ => return None,
        }
    }
}

/// The index after the string starting at `i` (a `"`).
fn string_end(b: &[u8], mut i: usize) -> Option<usize> {
    i += 1;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'"' => return Some(i + 1),
            _ => i += 1,
        }
    }
    None
}

/// The index after the scalar or small structure starting at `i`.
fn value_end(b: &[u8], mut i: usize) -> Option<usize> {
    let mut depth = 0usize;
    while i < b.len() {
        match b[i] {
            b'"' => {
                i = string_end(b, i)?;
                if depth == 0 {
                    return Some(i);
                }
                continue;
            }
            b'{' | b'[' => depth += 1,
            b'}' | b']' if depth > 0 => {
                depth -= 1;
                if depth == 0 {
                    return Some(i + 1);
                }
            }
            b',' | b'}' | b']' if depth == 0 => return Some(i),
            _ => {}
        }
        i += 1;
    }
    None
}

/// What one record document yielded.
#[derive(Debug, Default)]
pub struct RecordsResult {
    /// The records read.
    pub batch: Batch,
    /// Refused records (or the whole file).
    pub rejects: Vec<Reject>,
    /// `record_count` as the answer gave it.
    pub record_count: Option<u64>,
    /// Records in its list, read or refused.
    pub listed: usize,
}

/// Reads a document whose envelope is `table`'s (see [`envelope_of`]).
pub fn parse(file: &str, bytes: &[u8], table: Table) -> RecordsResult {
    let mut out = RecordsResult::default();
    let whole = |reason: String| Reject::whole_file(file, reason);
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t.strip_prefix('\u{feff}').unwrap_or(t),
        Err(e) => {
            out.rejects.push(whole(format!(
                "not UTF-8 text (byte {}); nothing in it is taken",
                e.valid_up_to()
            )));
            return out;
        }
    };
    // A bare NaN or Infinity (which .NET writes) is quoted, so that the field is refused
    // by name with its record instead of the whole document failing to parse.
    let fixed;
    let (text, bytes): (&str, &[u8]) = match super::quote_non_finite(text.as_bytes()) {
        Some(f) => {
            fixed = String::from_utf8(f).expect("quoting keeps UTF-8");
            (fixed.as_str(), fixed.as_bytes())
        }
        None => (text, bytes),
    };
    // One answer, or several one after another (a sync's pages of one endpoint).
    let documents: Vec<Result<BTreeMap<String, &RawValue>, serde_json::Error>> =
        serde_json::Deserializer::from_str(text)
            .into_iter::<BTreeMap<String, &RawValue>>()
            .collect();
    let name = envelope_name(table);
    let several = documents.len() > 1;
    let lines = LineIndex::new(bytes);
    let base = text.as_ptr() as usize - bytes.as_ptr() as usize;
    let mut counted = false;
    for (page, doc) in documents.into_iter().enumerate() {
        let envelope = match doc {
            Ok(m) => m,
            Err(e) => {
                out.rejects.push(whole(format!(
                    "a `{name}` answer that is not valid JSON ({e}); nothing {} is taken",
                    if several { "from there on" } else { "in it" }
                )));
                // The stream cannot be read past a syntax error.
                break;
            }
        };
        let place = |s: String| {
            if several {
                format!("answer {}: {s}", page + 1)
            } else {
                s
            }
        };
        if let Some(n) = envelope
            .get("record_count")
            .and_then(|r| r.get().trim().parse::<u64>().ok())
            && !counted
        {
            out.record_count = Some(n);
            counted = true;
        }
        let list: Vec<&RawValue> = match envelope.get(name).map(|r| serde_json::from_str(r.get())) {
            Some(Ok(l)) => l,
            Some(Err(e)) => {
                out.rejects.push(whole(place(format!(
                    "`{name}` is not a list of records ({e}); nothing in it is taken"
                ))));
                continue;
            }
            None => {
                out.rejects.push(whole(place(format!(
                    "the answer has no `{name}` list (an error object?); nothing in it is taken"
                ))));
                continue;
            }
        };
        out.listed += list.len();
        for (index, raw) in list.iter().enumerate() {
            let byte = base + (raw.get().as_ptr() as usize - text.as_ptr() as usize);
            match read_record(raw, table) {
                Ok((row, lines_read)) => {
                    if let Some(lines_read) = lines_read {
                        let id = row[table.at("id")].int().expect("an id is required");
                        out.batch.invoices_with_lines.insert(id);
                        out.batch
                            .tables
                            .entry(Table::InvoiceLines)
                            .or_default()
                            .extend(lines_read);
                    }
                    out.batch.tables.entry(table).or_default().push(row);
                }
                Err((id, reason)) => out.rejects.push(Reject {
                    file: file.to_string(),
                    line: lines.line_of(byte),
                    byte,
                    location: place(format!("{name}[{index}]")),
                    ticket_id: None,
                    id,
                    reason,
                    text: raw.get().to_string(),
                }),
            }
        }
    }
    out
}

/// The envelope key of a table's answers.
pub fn envelope_name(t: Table) -> &'static str {
    ENVELOPES
        .iter()
        .find(|(_, x)| *x == t)
        .map_or(t.name(), |(k, _)| k)
}

type Refusal = (Option<i64>, String);

/// One record (and, for an invoice, its lines if it has a `lines` list).
fn read_record(raw: &RawValue, t: Table) -> Result<(Row, Option<Vec<Row>>), Refusal> {
    let obj: BTreeMap<String, &RawValue> = serde_json::from_str(raw.get())
        .map_err(|e| (None, format!("not a JSON object of fields ({e})")))?;
    let id = obj
        .get("id")
        .and_then(|r| exact::parse_whole(r.get()).ok().flatten());
    let row = read_fields(&obj, t.fields(), &[]).map_err(|e| (id, e))?;
    let Some(id) = row[t.at("id")].int() else {
        return Err((None, "it has no `id`: a record is stored by its id".into()));
    };
    if t != Table::Invoices {
        return Ok((row, None));
    }
    let Some(lines) = obj.get("lines") else {
        return Ok((row, None));
    };
    if lines.get().trim() == "null" {
        return Ok((row, None));
    }
    let list: Vec<&RawValue> = serde_json::from_str(lines.get())
        .map_err(|e| (Some(id), format!("`lines` is not a list ({e})")))?;
    let mut out = Vec::with_capacity(list.len());
    for (i, l) in list.iter().enumerate() {
        let at = |e: String| (Some(id), format!("lines[{i}]: {e}"));
        let lobj: BTreeMap<String, &RawValue> = serde_json::from_str(l.get())
            .map_err(|e| at(format!("not a JSON object of fields ({e})")))?;
        let lt = Table::InvoiceLines;
        let row = read_fields(&lobj, lt.fields(), &[("ihid", id)]).map_err(at)?;
        if row[lt.at("id")].int().is_none() {
            return Err(at("it has no `id`".into()));
        }
        match row[lt.at("ihid")].int() {
            Some(h) if h != id => {
                return Err(at(format!(
                    "its `ihid` is {h}, not the invoice's id {id}: the line belongs to another invoice"
                )));
            }
            _ => {}
        }
        out.push(row);
    }
    Ok((row, Some(out)))
}

/// Reads `fields` from `obj`; `defaults` fill fields that are absent or null.
fn read_fields(
    obj: &BTreeMap<String, &RawValue>,
    fields: &[Field],
    defaults: &[(&str, i64)],
) -> Result<Row, String> {
    let mut row = Vec::with_capacity(fields.len());
    for fd in fields {
        let cell = match obj.get(fd.json) {
            None => empty(fd.kind),
            Some(raw) => {
                read_field(raw.get(), fd).map_err(|e| format!("field `{}`: {e}", fd.json))?
            }
        };
        let cell = match (&cell, defaults.iter().find(|(k, _)| *k == fd.json)) {
            (Cell::Int(None), Some((_, v))) => Cell::Int(Some(*v)),
            _ => cell,
        };
        row.push(cell);
    }
    Ok(row)
}

fn empty(k: Kind) -> Cell {
    match k {
        Kind::Text => Cell::Text(None),
        Kind::Flag => Cell::Flag(None),
        _ => Cell::Int(None),
    }
}

/// One field's JSON text read as its kind.
pub fn read_field(text: &str, fd: &Field) -> Result<Cell, String> {
    let t = exact::trimmed(text);
    if t == "null" {
        return Ok(empty(fd.kind));
    }
    let string = || -> Result<String, String> {
        serde_json::from_str::<String>(t).map_err(|e| format!("`{}` is not text ({e})", short(t)))
    };
    let units = |per: i64| -> Result<Cell, String> {
        exact::parse_units(t, per)
            .map(Cell::Int)
            .map_err(|e| e.to_string())
    };
    match fd.kind {
        Kind::Id => {
            let v = if t.starts_with('"') {
                let s = string()?;
                let s = s.trim();
                if s.is_empty() {
                    None
                } else {
                    Some(
                        s.parse::<i64>()
                            .map_err(|_| format!("`{}` is not a whole number", short(s)))?,
                    )
                }
            } else {
                exact::parse_whole(t).map_err(|e| e.to_string())?
            };
            Ok(Cell::Int(v.filter(|v| !(fd.link && (*v == -1 || *v == 0)))))
        }
        Kind::Text => match t.as_bytes().first() {
            Some(b'"') => Ok(Cell::Text(Some(string()?))),
            Some(b'{' | b'[') => Err(format!("`{}` is not text", short(t))),
            _ => Ok(Cell::Text(Some(t.to_string()))),
        },
        Kind::Flag => match t {
            "true" | "1" => Ok(Cell::Flag(Some(true))),
            "false" | "0" => Ok(Cell::Flag(Some(false))),
            _ => Err(format!("`{}` is not true or false", short(t))),
        },
        Kind::Date => {
            if !t.starts_with('"') {
                return Err(format!("`{}` is not a date-time", short(t)));
            }
            parse_datetime(&string()?)
                .map(Cell::Int)
                .map_err(|e| e.to_string())
        }
        Kind::Money => units(exact::CENTS_PER_UNIT),
        Kind::Hours => units(exact::MS_PER_HOUR),
        Kind::Fine => units(10_000),
    }
}

fn short(s: &str) -> String {
    let mut out: String = s.chars().take(40).collect();
    if out.len() < s.len() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_envelope_is_found_by_its_key_and_a_page_of_actions_is_not_one() {
        assert_eq!(
            envelope_of(br#"{"record_count": 2, "invoices": []}"#),
            Some(Table::Invoices)
        );
        assert_eq!(
            envelope_of(br#" {"page_no":1,"x":{"a":[1,"]"]},"contracts":[{}]}"#),
            Some(Table::Contracts)
        );
        assert_eq!(
            envelope_of(br#"{"record_count":1,"actions":[{"id":1}]}"#),
            None
        );
        assert_eq!(envelope_of(br#"[{"prepay":[]}]"#), None);
    }

    #[test]
    fn a_bad_record_is_refused_alone_with_its_place_and_the_field_at_fault() {
        let doc = br#"{"record_count":3,"invoices":[
 {"id":11,"invoicenumber":"INV-1","total":"12.00","lines":[]},
 {"id":12,"invoicenumber":"INV-2","invoice_date":"1899-12-30T00:00:00","client_id":-1,
  "tax_total":387.796,"lines":[{"id":1,"ticket_id":5,"net_amount":825.0,"net_total":990}]},
 {"id":13,"lines":[{"id":1,"ihid":99}]}
]}"#;
        let r = parse("inv.json", doc, Table::Invoices);
        assert_eq!(r.listed, 3);
        assert_eq!(r.rejects.len(), 2, "{:?}", r.rejects);
        assert_eq!(r.rejects[0].location, "invoices[0]");
        assert_eq!(r.rejects[0].line, 2);
        assert!(
            r.rejects[0].reason.starts_with("field `total`:"),
            "{}",
            r.rejects[0].reason
        );
        assert!(r.rejects[1].reason.contains("lines[0]: its `ihid` is 99"));
        let t = Table::Invoices;
        let inv = &r.batch.tables[&t];
        assert_eq!(inv.len(), 1);
        assert_eq!(
            inv[0][t.at("invoice_date")],
            Cell::Int(None),
            "1899-12-30 is no date"
        );
        assert_eq!(inv[0][t.at("client_id")], Cell::Int(None), "-1 is no link");
        assert_eq!(inv[0][t.at("tax_total_e4")], Cell::Int(Some(3_877_960)));
        let l = Table::InvoiceLines;
        let lines = &r.batch.tables[&l];
        assert_eq!(
            lines[0][l.at("ihid")],
            Cell::Int(Some(12)),
            "ihid from the header"
        );
        assert_eq!(lines[0][l.at("net_amount_cents")], Cell::Int(Some(82_500)));
        assert!(r.batch.invoices_with_lines.contains(&12));
    }
}
