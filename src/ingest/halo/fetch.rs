//! One window of time entries: `GET /api/Actions` page by page, split when the server
//! will not page, completed with one-by-one detail calls where billing fields are missing.

use super::client::{Client, HttpError};
use crate::ingest::split::{self, PageKind};
use crate::ingest::{FileResult, parse_pages};
use crate::model::datetime::format_datetime;
use std::collections::HashSet;

/// Rows per page we ask for; Halo silently caps pages at this many anyway.
pub const PAGE_SIZE: usize = 100;
/// Pages one window may take before it is split instead.
const MAX_PAGES: usize = 500;
/// The smallest window the fetch will split down to.
const MIN_WINDOW_NS: i64 = 1_000_000_000;

/// What a window's fetch brought back.
#[derive(Debug, Default)]
pub struct WindowData {
    /// The response bodies, one after another (list pages, then detail records), each
    /// followed by a newline: exactly what `import` reads.
    pub bytes: Vec<u8>,
    /// List pages fetched.
    pub pages: u64,
    /// Distinct actions received.
    pub actions: u64,
    /// `GET /Actions/{id}` calls made for rows without billing fields.
    pub detail_calls: u64,
    /// Times the window was split because the server would not page.
    pub splits: u64,
}

/// A window could not be fetched.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// A request failed for good.
    #[error("window {window}: {source}")]
    Http {
        /// The window, as `from..to` (UTC).
        window: String,
        /// The failure.
        source: HttpError,
    },
    /// A record endpoint's pages do not make a whole list.
    #[error("{what}: {reason}")]
    Records {
        /// The endpoint.
        what: String,
        /// Why.
        reason: String,
    },
    /// More rows in one second than one page holds, on a server that will not page.
    #[error(
        "window {window}: more than {PAGE_SIZE} actions within one second and the server does not page"
    )]
    TooDense {
        /// The window.
        window: String,
    },
}

/// `YYYY-MM-DDTHH:MM:SS`, as Halo's `startdate`/`enddate` take it (UTC).
pub fn halo_time(ns: i64) -> String {
    format_datetime(ns).chars().take(19).collect()
}

fn window_label(from: i64, to: i64) -> String {
    format!("{}Z..{}Z", halo_time(from), halo_time(to))
}

/// One list answer, read once: its list rows (summaries or full rows, not
/// `actionsdetails`), the `record_count` it announced, and its parsed records.
pub struct ListPage {
    /// Rows in its `actions` list (or bare array).
    pub rows: usize,
    /// The wrapper's `record_count`, when given.
    pub record_count: Option<i64>,
    /// The records, parsed.
    pub parsed: FileResult,
}

/// Reads a list answer. Only JSON of Halo's shape counts (the wrapper with an `actions`
/// list, or a bare array): an empty body, an HTML page, an object without `actions`
/// (Halo's error objects) or a cut-off document is a failed request, never "no actions".
pub fn read_list_answer(label: &str, body: &[u8]) -> Result<ListPage, String> {
    let (pages, errs) = check_shape(
        body,
        &[PageKind::Wrapper, PageKind::Array],
        "an `actions` list",
    )?;
    let rows = pages
        .iter()
        .flat_map(|p| &p.elements)
        .filter(|e| e.section != split::Section::Details)
        .count();
    let record_count = pages.first().and_then(|p| p.record_count);
    Ok(ListPage {
        rows,
        record_count,
        parsed: parse_pages(label, body, &pages, errs),
    })
}

/// Why a body is not an answer to `GET /Actions/{id}` (one action record), if it is not.
pub fn check_record_answer(body: &[u8]) -> Result<(), String> {
    check_shape(
        body,
        &[PageKind::Record, PageKind::Wrapper],
        "an action record",
    )
    .map(|_| ())
}

/// Splits `body` and checks it is one JSON value of one of `kinds`, whole.
fn check_shape(
    body: &[u8],
    kinds: &[PageKind],
    what: &str,
) -> Result<(Vec<split::Page>, Vec<split::SplitError>), String> {
    let start = body.iter().position(|c| !c.is_ascii_whitespace());
    let Some(start) = start else {
        return Err("the body is empty".into());
    };
    if !matches!(body[start], b'{' | b'[') && !body[start..].starts_with(&[0xEF, 0xBB, 0xBF]) {
        return Err("the body is not JSON".into());
    }
    let (pages, errs) = split::split(body);
    if let Some(e) = errs.first() {
        return Err(format!(
            "the body is not complete JSON ({} at byte {})",
            e.message, e.offset
        ));
    }
    match pages.as_slice() {
        [p] if kinds.contains(&p.kind) => Ok((pages, errs)),
        [_] => Err(format!("the JSON is not {what} (an error object?)")),
        more => Err(format!(
            "the body holds {} JSON values, not one",
            more.len()
        )),
    }
}

/// Fetches the time entries of `[from_ns, to_ns)`.
pub fn fetch_window(client: &Client, from_ns: i64, to_ns: i64) -> Result<WindowData, FetchError> {
    let mut data = WindowData::default();
    let mut seen = HashSet::new();
    let mut incomplete = Vec::new();
    fetch_range(
        client,
        from_ns,
        to_ns,
        &mut data,
        &mut seen,
        &mut incomplete,
    )?;
    data.actions = seen.len() as u64;
    // Rows that came without billing fields: fetch the full record of each.
    let mut fetched = HashSet::new();
    for (ticket, id) in incomplete {
        if !fetched.insert((ticket, id)) {
            continue;
        }
        let (body, ()) = client
            .get_checked(
                &format!("/Actions/{id}"),
                &[
                    ("ticket_id", ticket.to_string()),
                    ("includedetails", "true".into()),
                ],
                &check_record_answer,
            )
            .map_err(|source| FetchError::Http {
                window: window_label(from_ns, to_ns),
                source,
            })?;
        data.bytes.extend_from_slice(&body);
        data.bytes.push(b'\n');
        data.detail_calls += 1;
    }
    Ok(data)
}

enum Outcome {
    Done,
    Split,
}

fn fetch_range(
    client: &Client,
    from: i64,
    to: i64,
    data: &mut WindowData,
    seen: &mut HashSet<(i64, i64)>,
    incomplete: &mut Vec<(i64, i64)>,
) -> Result<(), FetchError> {
    let label = window_label(from, to);
    let mut missing_billing: Vec<(i64, i64)> = Vec::new();
    let mut bodies: Vec<Vec<u8>> = Vec::new();
    let mut keys: HashSet<(i64, i64)> = HashSet::new();
    let mut unkeyed = 0u64;
    let mut record_count: Option<i64> = None;
    let mut outcome = Outcome::Done;
    for page_no in 1..=MAX_PAGES + 1 {
        if page_no > MAX_PAGES {
            outcome = Outcome::Split;
            break;
        }
        let (body, page) = client
            .get_checked(
                "/Actions",
                &[
                    ("timeentriesonly", "true".into()),
                    ("excludebilling", "true".into()),
                    ("startdate", halo_time(from)),
                    ("enddate", halo_time(to)),
                    ("pageinate", "true".into()),
                    ("page_size", PAGE_SIZE.to_string()),
                    ("page_no", page_no.to_string()),
                ],
                &|b: &[u8]| read_list_answer(&label, b),
            )
            .map_err(|source| FetchError::Http {
                window: label.clone(),
                source,
            })?;
        let ListPage {
            rows,
            record_count: announced,
            parsed,
        } = page;
        record_count = record_count.or(announced);
        missing_billing.extend(parsed.incomplete.iter().copied());
        let before = keys.len();
        keys.extend(parsed.actions.iter().map(|a| a.key()));
        unkeyed += parsed.rejects.len() as u64;
        data.pages += 1;
        if page_no > 1 && rows > 0 && keys.len() == before && parsed.rejects.is_empty() {
            // The same rows again: the server ignores paging.
            outcome = Outcome::Split;
            break;
        }
        bodies.push(body);
        if rows < PAGE_SIZE {
            break;
        }
    }
    if let Some(rc) = record_count
        && (keys.len() as u64 + unkeyed) < rc.max(0) as u64
    {
        // Fewer rows than the server says match: something was capped.
        outcome = Outcome::Split;
    }
    match outcome {
        Outcome::Done => {
            for b in bodies {
                data.bytes.extend_from_slice(&b);
                data.bytes.push(b'\n');
            }
            seen.extend(keys);
            incomplete.extend(missing_billing);
            Ok(())
        }
        Outcome::Split => {
            if to - from <= MIN_WINDOW_NS {
                return Err(FetchError::TooDense { window: label });
            }
            let half = ((to - from) / 2 / MIN_WINDOW_NS).max(1) * MIN_WINDOW_NS;
            data.splits += 1;
            fetch_range(client, from, from + half, data, seen, incomplete)?;
            fetch_range(client, from + half, to, data, seen, incomplete)
        }
    }
}

/// One record endpoint's answers, page by page (`contracts`, `prepay`, `invoices`).
#[derive(Debug, Default)]
pub struct RecordsData {
    /// The answers, one after another, each followed by a newline: what `import` reads.
    pub bytes: Vec<u8>,
    /// Pages fetched.
    pub pages: u64,
    /// Records received.
    pub records: u64,
}

/// Fetches every page of a record endpoint (`path`, e.g. `/ClientContract`) whose
/// answers come in `table`'s envelope, with `query` besides the paging. An answer counts
/// only when it is JSON with that envelope's list; the pages must add up to the
/// `record_count` announced (a server that ignores paging, or a short page before the
/// end, fails the fetch rather than storing part of a list as the whole).
pub fn fetch_records(
    client: &Client,
    path: &str,
    table: crate::records::Table,
    query: &[(&str, String)],
) -> Result<RecordsData, FetchError> {
    use crate::ingest::records;
    let name = records::envelope_name(table);
    let label = format!("{path} ({name})");
    let mut data = RecordsData::default();
    let mut announced: Option<u64> = None;
    let mut first_ids: Option<String> = None;
    for page_no in 1..=MAX_PAGES {
        let mut q: Vec<(&str, String)> = query.to_vec();
        q.extend([
            ("pageinate", "true".to_string()),
            ("page_size", PAGE_SIZE.to_string()),
            ("page_no", page_no.to_string()),
        ]);
        let (body, (rows, count, head)) = client
            .get_checked(path, &q, &|b: &[u8]| {
                if records::envelope_of(b) != Some(table) {
                    return Err(format!("the answer is not JSON with a `{name}` list"));
                }
                let r = records::parse(&label, b, table);
                if let Some(w) = r
                    .rejects
                    .iter()
                    .find(|r| r.location == crate::ingest::reject::WHOLE_FILE)
                {
                    return Err(w.reason.clone());
                }
                let head: String = b.iter().take(400).map(|&c| c as char).collect();
                Ok((r.listed, r.record_count, head))
            })
            .map_err(|source| FetchError::Http {
                window: label.clone(),
                source,
            })?;
        if page_no == 1 {
            first_ids = Some(head);
        } else if rows > 0 && first_ids.as_deref() == Some(head.as_str()) {
            return Err(FetchError::Records {
                what: label,
                reason: format!("page {page_no} is page 1 again: the server ignores paging"),
            });
        }
        announced = announced.or(count);
        data.pages += 1;
        data.records += rows as u64;
        data.bytes.extend_from_slice(&body);
        data.bytes.push(b'\n');
        if rows < PAGE_SIZE {
            break;
        }
    }
    if let Some(n) = announced
        && data.records != n
    {
        return Err(FetchError::Records {
            what: label,
            reason: format!(
                "the answers held {} record(s) where record_count announced {n}: the list is not stored as if it were whole",
                data.records
            ),
        });
    }
    Ok(data)
}
