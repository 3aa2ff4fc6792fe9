//! A Halo-compatible API server on loopback, for the demo and for tests: it serves a
//! generated data set (see [`crate::generate`]) with Halo's semantics and quirks, and
//! can inject faults, so that the sync client is exercised over real HTTP.
//!
//! Served:
//! - `POST /auth/token` (form: `grant_type=client_credentials`, `client_id`,
//!   `client_secret`, `scope`; `?tenant=` accepted): `{"token_type":"Bearer",
//!   "access_token":..., "expires_in":...}`, or OAuth errors.
//! - `GET /api/Actions`: filters `timeentriesonly`, `excludebilling`, `startdate`,
//!   `enddate` (UTC, `[start, end)`), `ticket_id`, `count`; paging with
//!   `pageinate=true&page_size&page_no`, silently capped at 100 rows a page; the
//!   `{"record_count", "page_no", "page_size", "actions"}` wrapper (or a bare array).
//! - `GET /api/Actions/{id}?ticket_id=..` (full record).
//! - `GET /api/ClientContract` (`includeinactive`), `GET /api/ClientPrepay`,
//!   `GET /api/Invoice` (`start_date`, `end_date`: invoice dates, both days included;
//!   `includelines`): the billing records ([`records`]: made from the actions served,
//!   with Halo's quirks and a documented set of seeded discrepancies), paged like
//!   actions, in the `contracts`, `prepay` and `invoices` envelopes.
//! - `GET /_sim/stats`: counters, for tests.
//!
//! The data set also holds actions a sync must not take: e-mail actions (not time
//! entries) and "Send Invoice by Email" billing actions, which only the `timeentriesonly`
//! and `excludebilling` filters keep out.

pub mod records;

use crate::generate::{Dataset, Options as GenOptions};
use std::collections::{HashMap, VecDeque};
use std::io::Write;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tiny_http::{Header, Method, Response, Server};

/// How list rows are shaped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Rows {
    /// Full records in `actions`.
    Full,
    /// Summaries in `actions`, full records in `actionsdetails`.
    Details,
    /// Summaries only: billing fields must be fetched one action at a time.
    Summaries,
}

/// How the list response is wrapped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Shape {
    /// `{"record_count": N, "actions": [...]}`.
    Wrapper,
    /// A bare JSON array.
    Bare,
}

/// How paging parameters are treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Paging {
    /// `pageinate`, `page_size` (capped at 100) and `page_no` are honoured.
    Honour,
    /// Paging is ignored: every request gets the first 100 matching rows.
    Ignore,
}

/// Answers a misbehaving tenant, proxy or expired session gives to list requests, all
/// with status 200.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Misbehaviour {
    /// An HTML sign-in page (a proxy or an expired session).
    Html,
    /// An empty body.
    Empty,
    /// A JSON error object (`{"error": ..., "ClassName": ...}`).
    ErrorJson,
    /// A normal page in which the first record carries a bare `NaN` amount.
    Nan,
    /// A well-formed page with no actions (an API application whose permissions were
    /// narrowed).
    EmptyPage,
}

/// What to serve and which faults to inject.
#[derive(Debug, Clone)]
pub struct SimOptions {
    /// The data set.
    pub data: GenOptions,
    /// Accepted client id.
    pub client_id: String,
    /// Accepted client secret.
    pub client_secret: String,
    /// Token lifetime.
    pub token_ttl: Duration,
    /// The `expires_in` announced, when it should differ from the real lifetime (a
    /// token revoked early).
    pub announce_ttl: Option<Duration>,
    /// Row shape.
    pub rows: Rows,
    /// Wrapper or bare array.
    pub shape: Shape,
    /// Paging behaviour.
    pub paging: Paging,
    /// `Some((n, window))`: answer 429 past n API requests per rolling window.
    pub rate_limit: Option<(usize, Duration)>,
    /// Send `Retry-After` (seconds) with 429s.
    pub retry_after: Option<u64>,
    /// Fraction (per mille) of API requests answered 500.
    pub fail_per_mille: u64,
    /// Fraction (per mille) of API requests whose connection is dropped mid-response.
    pub drop_per_mille: u64,
    /// Delay before every answer.
    pub delay: Duration,
    /// After this many API requests, answer every further one 503.
    pub fail_after: Option<u64>,
    /// Seed of the fault choices.
    pub fault_seed: u64,
    /// Leave out every n-th time entry (actions deleted in Halo since a previous sync).
    pub delete_every: Option<u64>,
    /// `Some((how, from, to))`: list requests whose range overlaps `[from, to)` (UTC
    /// nanoseconds) get this answer instead of their page.
    pub misbehave: Option<(Misbehaviour, i64, i64)>,
    /// How the token endpoint misbehaves, if it does.
    pub token_fault: Option<TokenFault>,
    /// `Some((how, endpoint))`: every request to this record endpoint (`contracts`,
    /// `prepay` or `invoices`) gets this answer instead of its page.
    pub misbehave_records: Option<(Misbehaviour, String)>,
    /// Serve the last month's chargeable actions that were not invoiced as invoiced
    /// since, on new invoices ([`records`]: `INV-YYYYMM-L` and the contract id).
    pub invoice_unbilled: bool,
}

/// A token endpoint that misbehaves (for the tests that keep the secret secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenFault {
    /// Answers 401 with the request body echoed in its answer (the secret with it).
    Echo,
    /// Answers 307 Temporary Redirect to this URL (which would get the secret again).
    Redirect(String),
}

impl SimOptions {
    /// A well-behaved server for `data`, with demo credentials.
    pub fn new(data: GenOptions) -> SimOptions {
        SimOptions {
            data,
            client_id: "demo".into(),
            client_secret: "demo-secret".into(),
            token_ttl: Duration::from_secs(3600),
            announce_ttl: None,
            rows: Rows::Full,
            shape: Shape::Wrapper,
            paging: Paging::Honour,
            rate_limit: None,
            retry_after: None,
            fail_per_mille: 0,
            drop_per_mille: 0,
            delay: Duration::ZERO,
            fail_after: None,
            fault_seed: 1,
            delete_every: None,
            misbehave: None,
            token_fault: None,
            misbehave_records: None,
            invoice_unbilled: false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    TimeEntry,
    Email,
    Billing,
}

struct SimAction {
    ticket_id: i64,
    id: i64,
    datetime_ns: i64,
    kind: Kind,
    full: String,
    summary: String,
}

/// Counters the server keeps.
#[derive(Debug, Default)]
pub struct SimStats {
    /// Token requests.
    pub token_requests: AtomicU64,
    /// `GET /api/Actions` list requests.
    pub list_requests: AtomicU64,
    /// `GET /api/Actions/{id}` requests.
    pub detail_requests: AtomicU64,
    /// Requests to the record endpoints (contracts, prepay, invoices).
    pub record_requests: AtomicU64,
    /// 401s sent.
    pub unauthorized: AtomicU64,
    /// 429s sent.
    pub rate_limited: AtomicU64,
    /// 500s and 503s sent.
    pub failed: AtomicU64,
    /// Connections dropped.
    pub dropped: AtomicU64,
}

struct State {
    opts: SimOptions,
    actions: Vec<SimAction>,
    by_key: HashMap<(i64, i64), usize>,
    tokens: Mutex<HashMap<String, Instant>>,
    sent: Mutex<VecDeque<Instant>>,
    api_requests: AtomicU64,
    stats: SimStats,
    /// The billing records, made from the actions on the first request for them.
    billing: std::sync::OnceLock<records::Billing>,
}

/// A running simulator.
pub struct Simulator {
    addr: SocketAddr,
    server: Arc<Server>,
    state: Arc<State>,
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

/// The simulator could not start.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The data set is invalid.
    #[error(transparent)]
    Data(#[from] crate::generate::GenerateError),
    /// The port could not be bound.
    #[error("cannot listen on 127.0.0.1:{port}: {reason}")]
    Bind {
        /// Requested port.
        port: u16,
        /// Why.
        reason: String,
    },
}

fn build_actions(
    data: &Dataset,
    delete_every: Option<u64>,
    invoice_unbilled: bool,
) -> Vec<SimAction> {
    let n = data.len();
    let last_month = data.months().last().map(|&(y, m)| {
        chrono::NaiveDate::from_ymd_opt(y, m, 1)
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .and_then(|d| d.and_utc().timestamp_nanos_opt())
            .map(|ns| (y, m, ns))
    });
    let mut out = Vec::with_capacity(n as usize + n as usize / 30);
    for g in 0..n {
        if delete_every.is_some_and(|k| k > 0 && g % k == k - 1) {
            continue;
        }
        let mut a = data.action(g);
        if invoice_unbilled
            && let Some(Some((y, m, start))) = last_month
            && a.datetime_ns >= start
        {
            a.full = records::invoiced_since(&a.full, y, m);
        }
        // Every 40th action has an e-mail beside it, every 97th a billing action: a sync
        // that forgot `timeentriesonly` or `excludebilling` would take them.
        let extra = |kind: Kind, id: i64, json: String| SimAction {
            ticket_id: a.ticket_id,
            id,
            datetime_ns: a.datetime_ns + 60_000_000_000,
            kind,
            summary: json.clone(),
            full: json,
        };
        let when = crate::model::datetime::format_datetime(a.datetime_ns + 60_000_000_000);
        let mut extras = Vec::new();
        if g % 40 == 7 {
            let id = 100 + a.id;
            extras.push(extra(
                Kind::Email,
                id,
                format!(
                    r#"{{"id":{id},"ticket_id":{},"datetime":"{when}","outcome":"Email Sent","emailsubject":"Re: your ticket","timetaken":0.0,"emailfrom":"servicedesk@example.com"}}"#,
                    a.ticket_id
                ),
            ));
        }
        if g % 97 == 11 {
            let id = 200 + a.id;
            extras.push(extra(
                Kind::Billing,
                id,
                format!(
                    r#"{{"id":{id},"ticket_id":{},"datetime":"{when}","outcome":"Send Invoice by Email","timetaken":0.25,"actionchargehours":0.25,"actionchargeamount":999.99,"action_contract_id":-1}}"#,
                    a.ticket_id
                ),
            ));
        }
        out.push(SimAction {
            ticket_id: a.ticket_id,
            id: a.id,
            datetime_ns: a.datetime_ns,
            kind: Kind::TimeEntry,
            full: a.full,
            summary: a.summary,
        });
        out.extend(extras);
    }
    out.sort_by_key(|a| (a.datetime_ns, a.ticket_id, a.id));
    out
}

fn parse_query(url: &str) -> (String, HashMap<String, String>) {
    let (path, q) = url.split_once('?').unwrap_or((url, ""));
    let params = q
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k).to_ascii_lowercase(), decode(v))
        })
        .collect();
    (path.to_string(), params)
}

fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                match u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("zz"), 16)
                {
                    Ok(v) => {
                        out.push(v);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn json_header() -> Header {
    Header::from_bytes(
        &b"Content-Type"[..],
        &b"application/json; charset=utf-8"[..],
    )
    .expect("valid header")
}

fn respond(req: tiny_http::Request, status: u16, body: String) {
    let _ = req.respond(
        Response::from_string(body)
            .with_status_code(status)
            .with_header(json_header()),
    );
}

/// Answers with status 200 and an HTML sign-in page (a proxy or an expired session).
fn sign_in_page(req: tiny_http::Request) {
    let html = "<!DOCTYPE html>\n<html><head><title>Sign in - HaloPSA</title></head>\
                <body><form method=\"post\" action=\"/auth/login\">\
                <input name=\"username\"><input name=\"password\" type=\"password\">\
                </form></body></html>\n";
    let _ = req.respond(
        Response::from_string(html)
            .with_status_code(200)
            .with_header(
                Header::from_bytes(&b"Content-Type"[..], &b"text/html"[..]).expect("valid header"),
            ),
    );
}

/// The `[startdate, enddate)` of a list request (open ends when absent).
fn param_range(p: &HashMap<String, String>) -> (i64, i64) {
    let at = |k: &str, none: i64| p.get(k).and_then(|s| parse_param_date(s)).unwrap_or(none);
    (at("startdate", i64::MIN), at("enddate", i64::MAX))
}

/// Halo's `startdate`/`enddate` form: `YYYY-MM-DDTHH:MM:SS`, UTC.
fn parse_param_date(s: &str) -> Option<i64> {
    crate::model::datetime::parse_datetime(s).ok().flatten()
}

impl State {
    fn chance(&self, n: u64, per_mille: u64, salt: u64) -> bool {
        if per_mille == 0 {
            return false;
        }
        let mut z = self.opts.fault_seed ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ salt;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (z ^ (z >> 31)) % 1000 < per_mille
    }

    fn authorized(&self, req: &tiny_http::Request) -> bool {
        let Some(h) = req
            .headers()
            .iter()
            .find(|h| h.field.equiv("Authorization"))
        else {
            return false;
        };
        let Some(token) = h.value.as_str().strip_prefix("Bearer ") else {
            return false;
        };
        let tokens = self.tokens.lock().expect("tokens");
        tokens
            .get(token)
            .is_some_and(|until| Instant::now() < *until)
    }

    fn handle(&self, mut req: tiny_http::Request) {
        if !self.opts.delay.is_zero() {
            std::thread::sleep(self.opts.delay);
        }
        let (path, params) = parse_query(req.url());
        let method = req.method().clone();
        if method == Method::Post && path.eq_ignore_ascii_case("/auth/token") {
            let mut body = String::new();
            let _ = req.as_reader().read_to_string(&mut body);
            return self.token(req, &body);
        }
        if path == "/_sim/stats" {
            let s = &self.stats;
            let l = |a: &AtomicU64| a.load(Ordering::Relaxed);
            let body = format!(
                r#"{{"token_requests":{},"list_requests":{},"detail_requests":{},"record_requests":{},"unauthorized":{},"rate_limited":{},"failed":{},"dropped":{}}}"#,
                l(&s.token_requests),
                l(&s.list_requests),
                l(&s.detail_requests),
                l(&s.record_requests),
                l(&s.unauthorized),
                l(&s.rate_limited),
                l(&s.failed),
                l(&s.dropped)
            );
            return respond(req, 200, body);
        }
        let lower = path.to_ascii_lowercase();
        let record_endpoint = match lower.as_str() {
            "/api/clientcontract" => Some("contracts"),
            "/api/clientprepay" => Some("prepay"),
            "/api/invoice" => Some("invoices"),
            _ => None,
        };
        if method != Method::Get
            || !(lower.starts_with("/api/actions") || record_endpoint.is_some())
        {
            return respond(
                req,
                404,
                format!(
                    r#"{{"error":"no route for {} {}"}}"#,
                    method,
                    path.replace('"', "")
                ),
            );
        }
        if !self.authorized(&req) {
            self.stats.unauthorized.fetch_add(1, Ordering::Relaxed);
            return respond(req, 401, r#"{"error":"invalid_token","error_description":"The access token is missing, invalid or expired"}"#.into());
        }
        let n = self.api_requests.fetch_add(1, Ordering::Relaxed) + 1;
        if let Some((limit, window)) = self.opts.rate_limit {
            let now = Instant::now();
            let mut sent = self.sent.lock().expect("rate log");
            while sent
                .front()
                .is_some_and(|t| now.duration_since(*t) >= window)
            {
                sent.pop_front();
            }
            if sent.len() >= limit {
                drop(sent);
                self.stats.rate_limited.fetch_add(1, Ordering::Relaxed);
                let mut r = Response::from_string(r#"{"error":"Too Many Requests"}"#)
                    .with_status_code(429)
                    .with_header(json_header());
                if let Some(s) = self.opts.retry_after {
                    r = r.with_header(
                        Header::from_bytes(&b"Retry-After"[..], s.to_string().as_bytes())
                            .expect("valid header"),
                    );
                }
                let _ = req.respond(r);
                return;
            }
            sent.push_back(now);
        }
        if self.opts.fail_after.is_some_and(|k| n > k)
            || self.chance(n, self.opts.fail_per_mille, 1)
        {
            self.stats.failed.fetch_add(1, Ordering::Relaxed);
            let status = if self.opts.fail_after.is_some_and(|k| n > k) {
                503
            } else {
                500
            };
            return respond(req, status, "Internal Server Error".into());
        }
        let body = if let Some(endpoint) = record_endpoint {
            self.stats.record_requests.fetch_add(1, Ordering::Relaxed);
            let page = self.records_page(endpoint, &params);
            let how = self
                .opts
                .misbehave_records
                .as_ref()
                .filter(|(_, e)| e == endpoint)
                .map(|(h, _)| *h);
            match how {
                None => page,
                Some(h) => match self.misbehaved(req, h, page, endpoint) {
                    Some((req2, body)) => {
                        req = req2;
                        body
                    }
                    None => return,
                },
            }
        } else if lower == "/api/actions" {
            self.stats.list_requests.fetch_add(1, Ordering::Relaxed);
            let page = self.list(&params);
            match self.misbehaviour(&params) {
                None => page,
                Some(Misbehaviour::Html) => return sign_in_page(req),
                Some(Misbehaviour::Empty) => String::new(),
                Some(Misbehaviour::ErrorJson) => r#"{"error":"An error has occurred.","ClassName":"System.UnauthorizedAccessException","message":"Attempted to perform an unauthorized operation."}"#.into(),
                Some(Misbehaviour::Nan) => {
                    let key = "\"actionchargeamount\":";
                    match page.find(key) {
                        Some(at) => {
                            let from = at + key.len();
                            let len = page[from..]
                                .find([',', '}'])
                                .unwrap_or(page.len() - from);
                            format!("{}NaN{}", &page[..from], &page[from + len..])
                        }
                        None => page,
                    }
                }
                Some(Misbehaviour::EmptyPage) => match self.opts.shape {
                    Shape::Bare => "[]".into(),
                    Shape::Wrapper => {
                        r#"{"page_no":1,"page_size":100,"record_count":0,"actions":[]}"#.into()
                    }
                },
            }
        } else {
            self.stats.detail_requests.fetch_add(1, Ordering::Relaxed);
            let id: Option<i64> = lower.trim_start_matches("/api/actions/").parse().ok();
            let ticket: Option<i64> = params.get("ticket_id").and_then(|t| t.parse().ok());
            match (id, ticket) {
                (Some(id), Some(t)) => match self.by_key.get(&(t, id)) {
                    Some(&i) => self.actions[i].full.clone(),
                    None => return respond(req, 404, r#"{"error":"Action not found"}"#.into()),
                },
                _ => return respond(req, 400, "ticket_id is required".into()),
            }
        };
        if self.chance(n, self.opts.drop_per_mille, 2) {
            // The connection breaks mid-body: the client gets the status, headers and a
            // third of the body, then a broken chunk stream, which it sees exactly as a
            // connection lost while reading. (tiny_http keeps sockets open, so cutting the
            // stream this way is what makes the client notice at once, not at its timeout.)
            self.stats.dropped.fetch_add(1, Ordering::Relaxed);
            let part = &body.as_bytes()[..body.len() / 3];
            let mut w = req.into_writer();
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json; charset=utf-8\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n{:x}\r\n",
                part.len()
            );
            let _ = w.write_all(head.as_bytes());
            let _ = w.write_all(part);
            let _ = w.write_all(b"\r\n--connection lost--\r\n");
            let _ = w.flush();
            return;
        }
        respond(req, 200, body)
    }

    /// A record endpoint's answer replaced by `how` (the HTML page is sent here, and
    /// `None` returned).
    fn misbehaved(
        &self,
        req: tiny_http::Request,
        how: Misbehaviour,
        page: String,
        envelope: &str,
    ) -> Option<(tiny_http::Request, String)> {
        let body = match how {
            Misbehaviour::Html => {
                sign_in_page(req);
                return None;
            }
            Misbehaviour::Empty => String::new(),
            Misbehaviour::ErrorJson => r#"{"error":"An error has occurred.","ClassName":"System.UnauthorizedAccessException"}"#.into(),
            Misbehaviour::Nan => page.replacen("\"id\":", "\"id\":NaN,\"was\":", 1),
            Misbehaviour::EmptyPage => {
                format!(r#"{{"page_no":1,"page_size":100,"record_count":0,"{envelope}":[]}}"#)
            }
        };
        Some((req, body))
    }

    /// A page of a record endpoint, paged as `/api/Actions` is (100 rows at most).
    fn records_page(&self, endpoint: &str, p: &HashMap<String, String>) -> String {
        let yes = |k: &str| p.get(k).is_some_and(|v| v.eq_ignore_ascii_case("true"));
        let billing = self.billing.get_or_init(|| {
            let data = Dataset::new(&self.opts.data).expect("checked at start");
            records::build(
                &data,
                self.actions
                    .iter()
                    .filter(|a| a.kind == Kind::TimeEntry)
                    .map(|a| a.full.as_str()),
            )
        });
        let rows: Vec<&str> = match endpoint {
            "contracts" => billing
                .contracts
                .iter()
                .filter(|(active, _)| *active || yes("includeinactive"))
                .map(|(_, r)| r.as_str())
                .collect(),
            "prepay" => billing.prepay.iter().map(String::as_str).collect(),
            _ => billing
                .invoices
                .iter()
                .filter(|(d, _, _)| {
                    records::day_in(
                        *d,
                        p.get("start_date").map(String::as_str),
                        p.get("end_date").map(String::as_str),
                    )
                })
                .map(|(_, bare, lines)| {
                    if yes("includelines") {
                        lines.as_str()
                    } else {
                        bare.as_str()
                    }
                })
                .collect(),
        };
        let total = rows.len();
        let (page_no, page_size, range) = self.page_of(p, total, total);
        let rows = &rows[range];
        format!(
            r#"{{"page_no":{page_no},"page_size":{page_size},"record_count":{total},"{endpoint}":[{}]}}"#,
            rows.join(",")
        )
    }

    /// The page a list request gets of `total` matching rows: `(page_no, page_size,
    /// rows)`. Halo's paging (`pageinate`, `page_size` capped at 100, `page_no`), or, when
    /// paging is ignored, the first 100; unpaged, the first `unpaged` rows.
    fn page_of(
        &self,
        p: &HashMap<String, String>,
        total: usize,
        unpaged: usize,
    ) -> (usize, usize, std::ops::Range<usize>) {
        let paged = p
            .get("pageinate")
            .is_some_and(|v| v.eq_ignore_ascii_case("true"));
        match self.opts.paging {
            Paging::Ignore => (1, 100, 0..total.min(100)),
            Paging::Honour if paged => {
                let size = p
                    .get("page_size")
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(50usize)
                    .clamp(1, 100);
                let page = p
                    .get("page_no")
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(1usize)
                    .max(1);
                let from = ((page - 1) * size).min(total);
                (page, size, from..(from + size).min(total))
            }
            Paging::Honour => (1, total, 0..unpaged),
        }
    }

    /// The misbehaviour for a list request, if its range overlaps the chosen one.
    fn misbehaviour(&self, p: &HashMap<String, String>) -> Option<Misbehaviour> {
        let (how, from, to) = self.opts.misbehave?;
        let (start, end) = param_range(p);
        (start < to && end > from).then_some(how)
    }

    fn token(&self, req: tiny_http::Request, body: &str) {
        self.stats.token_requests.fetch_add(1, Ordering::Relaxed);
        match &self.opts.token_fault {
            Some(TokenFault::Echo) => {
                return respond(
                    req,
                    401,
                    format!(
                        r#"{{"error":"invalid_request","error_description":"could not parse {body}"}}"#
                    ),
                );
            }
            Some(TokenFault::Redirect(to)) => {
                let location = tiny_http::Header::from_bytes(&b"Location"[..], to.as_bytes())
                    .expect("a valid header");
                let _ = req.respond(
                    Response::from_string("")
                        .with_status_code(307)
                        .with_header(location),
                );
                return;
            }
            None => {}
        }
        let (_, form) = parse_query(&format!("?{body}"));
        if form.get("grant_type").map(String::as_str) != Some("client_credentials") {
            return respond(req, 400, r#"{"error":"unsupported_grant_type"}"#.into());
        }
        if form.get("client_id") != Some(&self.opts.client_id)
            || form.get("client_secret") != Some(&self.opts.client_secret)
        {
            return respond(
                req,
                401,
                r#"{"error":"invalid_client","error_description":"Invalid client credentials"}"#
                    .into(),
            );
        }
        let n = self.stats.token_requests.load(Ordering::Relaxed);
        let token = format!(
            "sim-{n}-{:016x}",
            self.opts
                .fault_seed
                .wrapping_mul(n.wrapping_add(0x9E37_79B9))
        );
        self.tokens
            .lock()
            .expect("tokens")
            .insert(token.clone(), Instant::now() + self.opts.token_ttl);
        respond(
            req,
            200,
            format!(
                r#"{{"token_type":"Bearer","access_token":"{token}","expires_in":{}}}"#,
                self.opts
                    .announce_ttl
                    .unwrap_or(self.opts.token_ttl)
                    .as_secs()
            ),
        )
    }

    fn list(&self, p: &HashMap<String, String>) -> String {
        let yes = |k: &str| p.get(k).is_some_and(|v| v.eq_ignore_ascii_case("true"));
        let (start, end) = param_range(p);
        let ticket: Option<i64> = p.get("ticket_id").and_then(|t| t.parse().ok());
        let lo = self.actions.partition_point(|a| a.datetime_ns < start);
        let hi = self.actions.partition_point(|a| a.datetime_ns < end);
        let matching: Vec<&SimAction> = self.actions[lo..hi.max(lo)]
            .iter()
            .filter(|a| !yes("timeentriesonly") || a.kind != Kind::Email)
            .filter(|a| !yes("excludebilling") || a.kind != Kind::Billing)
            .filter(|a| ticket.is_none_or(|t| a.ticket_id == t))
            .collect();
        let total = matching.len();
        let count: Option<usize> = p.get("count").and_then(|c| c.parse().ok());
        let (page_no, page_size, range) = self.page_of(p, total, count.unwrap_or(total).min(total));
        let rows: &[&SimAction] = &matching[range];
        let list = |full: bool| {
            let parts: Vec<&str> = rows
                .iter()
                .map(|a| {
                    if full {
                        a.full.as_str()
                    } else {
                        a.summary.as_str()
                    }
                })
                .collect();
            format!("[{}]", parts.join(","))
        };
        let actions = list(self.opts.rows == Rows::Full);
        match self.opts.shape {
            Shape::Bare => actions,
            Shape::Wrapper => {
                let mut s = format!(
                    r#"{{"page_no":{page_no},"page_size":{page_size},"record_count":{total},"actions":{actions}"#
                );
                if self.opts.rows == Rows::Details {
                    s.push_str(&format!(r#","actionsdetails":{}"#, list(true)));
                }
                if let Some(t) = ticket {
                    s.push_str(&format!(r#","ticket_id":{t}"#));
                }
                s.push('}');
                s
            }
        }
    }
}

impl Simulator {
    /// Builds the data set and starts serving on `127.0.0.1:port` (0: any free port).
    pub fn start(opts: SimOptions, port: u16) -> Result<Simulator, SimError> {
        let data = Dataset::new(&opts.data)?;
        let actions = build_actions(&data, opts.delete_every, opts.invoice_unbilled);
        let by_key = actions
            .iter()
            .enumerate()
            .map(|(i, a)| ((a.ticket_id, a.id), i))
            .collect();
        let server = Server::http(("127.0.0.1", port)).map_err(|e| SimError::Bind {
            port,
            reason: e.to_string(),
        })?;
        let addr = server.server_addr().to_ip().ok_or_else(|| SimError::Bind {
            port,
            reason: "not an IP listener".into(),
        })?;
        let server = Arc::new(server);
        let state = Arc::new(State {
            opts,
            actions,
            by_key,
            tokens: Mutex::new(HashMap::new()),
            sent: Mutex::new(VecDeque::new()),
            api_requests: AtomicU64::new(0),
            stats: SimStats::default(),
            billing: std::sync::OnceLock::new(),
        });
        let stop = Arc::new(AtomicBool::new(false));
        let threads = (0..4)
            .map(|_| {
                let (server, state, stop) = (server.clone(), state.clone(), stop.clone());
                std::thread::spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        match server.recv_timeout(Duration::from_millis(100)) {
                            Ok(Some(req)) => state.handle(req),
                            Ok(None) => {}
                            Err(_) => break,
                        }
                    }
                })
            })
            .collect();
        Ok(Simulator {
            addr,
            server,
            state,
            stop,
            threads,
        })
    }

    /// The address served.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The accepted credentials `(client_id, client_secret)`.
    pub fn credentials(&self) -> (&str, &str) {
        (&self.state.opts.client_id, &self.state.opts.client_secret)
    }

    /// Time-entry actions served (what a correct sync must end up with).
    pub fn time_entries(&self) -> usize {
        self.state
            .actions
            .iter()
            .filter(|a| a.kind == Kind::TimeEntry)
            .count()
    }

    /// Counters so far.
    pub fn stats(&self) -> &SimStats {
        &self.state.stats
    }

    /// Stops serving and waits for the workers.
    pub fn stop(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        self.server.unblock();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}
