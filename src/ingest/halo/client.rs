//! The HTTP client for Halo's API: OAuth2 client credentials, a client-side rate limiter,
//! and retries.
//!
//! Retry policy (every rule here, nowhere else):
//! - Retried: `429`, any `5xx`, timeouts, refused or dropped connections, a body cut
//!   short, and a `2xx` whose body the caller does not recognise (an empty body, an HTML
//!   sign-in page from a proxy, a JSON error object: see `get_checked`). At most `max_retries` retries per request; then the request fails with the
//!   last cause, and the caller names the window it was for.
//! - Waits: a `Retry-After` header (seconds) is obeyed as given. A `429` without one
//!   waits an eighth of the rate window, doubling each time, capped at the whole window
//!   (retrying every few seconds never clears a rolling window). Other failures wait
//!   250 ms doubling to at most 10 s. Every wait has full jitter (a random fraction
//!   of it, at least half) so that parallel workers do not retry in step.
//! - `401`: one fresh token and one more try; a second `401` is an authentication error.
//! - Other `4xx`: not retried; the error shows the status and the start of the body.
//! - Before every request the limiter waits until fewer than `budget` requests were
//!   sent in the last `rate_window` (a rolling window, shared by all workers).
//!
//! Tokens are cached until a minute before `expires_in` (half of it for short-lived
//! tokens). The client secret goes only into the token request body.

use super::config::{HaloConfig, redact_url};
use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Tunables of the client.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Requests allowed per `rate_window` (0: no client-side limit).
    pub budget: usize,
    /// The rolling window of the limiter.
    pub rate_window: Duration,
    /// Retries per request.
    pub max_retries: u32,
    /// Timeout of one request.
    pub timeout: Duration,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            budget: 300,
            rate_window: Duration::from_secs(300),
            max_retries: 8,
            timeout: Duration::from_secs(60),
        }
    }
}

/// Counters of what the client did.
#[derive(Debug, Default)]
pub struct ClientStats {
    /// HTTP requests sent (token requests included).
    pub requests: AtomicU64,
    /// Token requests.
    pub token_requests: AtomicU64,
    /// Retries after failures.
    pub retries: AtomicU64,
    /// 429 answers received.
    pub rate_limited: AtomicU64,
    /// Milliseconds spent waiting on the client-side limiter and on 429 back-offs.
    pub rate_wait_ms: AtomicU64,
}

/// A request that failed for good.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// The token endpoint refused the credentials.
    #[error("authentication failed at {url}: {message}")]
    Auth {
        /// The token URL.
        url: String,
        /// Halo's OAuth error, or the status.
        message: String,
    },
    /// A status that is not retried.
    #[error("{url} answered {status}: {body}")]
    Status {
        /// The URL (without secrets: ids and dates only).
        url: String,
        /// HTTP status.
        status: u16,
        /// Start of the body.
        body: String,
    },
    /// Retries exhausted.
    #[error("{url} still failing after {attempts} attempts; last: {last}")]
    GaveUp {
        /// The URL.
        url: String,
        /// Attempts made.
        attempts: u32,
        /// The last failure.
        last: String,
    },
    /// An answer this client will not take (too large, or asking for too long a wait).
    #[error("{url}: {reason}")]
    Refused {
        /// The URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// A stop was requested (Ctrl-C or SIGTERM) while waiting to retry.
    #[error("{url}: stopped while waiting to retry (last: {last})")]
    Interrupted {
        /// The URL.
        url: String,
        /// The last failure.
        last: String,
    },
    /// The HTTP client could not be built.
    #[error("cannot start the HTTP client: {0}")]
    Setup(String),
}

/// The largest response body read (a Halo page of 100 full records is well under 1 MiB).
pub const MAX_BODY: u64 = 64 << 20;
/// The longest `Retry-After` obeyed; a longer one fails the request instead of hanging a
/// scheduled job.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(900);
/// The longest token lifetime believed (a larger `expires_in` is read as this).
const MAX_TOKEN_LIFE: Duration = Duration::from_secs(86_400);

/// Reads a body of at most [`MAX_BODY`] bytes; `None` when it is larger.
fn read_limited(resp: reqwest::blocking::Response) -> std::io::Result<Option<Vec<u8>>> {
    use std::io::Read;
    if resp.content_length().is_some_and(|n| n > MAX_BODY) {
        return Ok(None);
    }
    let mut out = Vec::new();
    resp.take(MAX_BODY + 1).read_to_end(&mut out)?;
    Ok((out.len() as u64 <= MAX_BODY).then_some(out))
}

struct Limiter {
    budget: usize,
    window: Duration,
    sent: Mutex<VecDeque<Instant>>,
}

impl Limiter {
    /// Blocks until a request may be sent; returns how long it waited.
    fn acquire(&self, notify: &dyn Fn(&str)) -> Duration {
        if self.budget == 0 {
            return Duration::ZERO;
        }
        let start = Instant::now();
        let mut said = false;
        loop {
            let now = Instant::now();
            let wait = {
                let mut sent = self.sent.lock().expect("limiter lock");
                while sent
                    .front()
                    .is_some_and(|t| now.duration_since(*t) >= self.window)
                {
                    sent.pop_front();
                }
                if sent.len() < self.budget {
                    sent.push_back(now);
                    return start.elapsed();
                }
                self.window - now.duration_since(*sent.front().expect("non-empty"))
            };
            if !said && wait >= NOTIFY_AFTER {
                said = true;
                notify(&format!(
                    "waiting {} s for the client-side rate limit ({} requests per {} s; --rate-limit, --rate-window)",
                    wait.as_secs().max(1),
                    self.budget,
                    self.window.as_secs()
                ));
            }
            if !crate::interrupt::sleep(wait) {
                return start.elapsed();
            }
        }
    }
}

/// A fraction in [0.5, 1) of `d`, from a small per-process random stream.
fn jitter(d: Duration) -> Duration {
    static STATE: AtomicU64 = AtomicU64::new(0);
    let mut x = STATE.load(Ordering::Relaxed);
    if x == 0 {
        x = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1)
            | 1;
    }
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    STATE.store(x, Ordering::Relaxed);
    d.saturating_mul(500 + (x % 500) as u32) / 1000
}

/// Percent-encodes a form or query value.
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// A client for one tenant.
pub struct Client {
    http: reqwest::blocking::Client,
    /// For the token request: follows no redirect, so the secret goes to the token
    /// endpoint named and nowhere else.
    auth_http: reqwest::blocking::Client,
    cfg: HaloConfig,
    opts: ClientOptions,
    limiter: Limiter,
    token: Mutex<Option<(String, Instant)>>,
    /// What it did so far.
    pub stats: ClientStats,
    /// Told of every wait of [`NOTIFY_AFTER`] or more (retry back-offs, the rate limit).
    notify: Box<dyn Fn(&str) + Send + Sync>,
}

/// Waits at least this long are announced, so a run never sits silent for long.
pub const NOTIFY_AFTER: Duration = Duration::from_secs(2);

enum Attempt<T> {
    Done(Vec<u8>, T),
    Unauthorized(String),
    Retry {
        why: String,
        wait: Option<Duration>,
        rate_limited: bool,
    },
    Fail(HttpError),
}

impl Client {
    /// A client for `cfg`.
    pub fn new(cfg: HaloConfig, opts: ClientOptions) -> Result<Client, HttpError> {
        let builder = || {
            reqwest::blocking::Client::builder()
                .timeout(opts.timeout)
                .user_agent(concat!("halo-billing/", env!("CARGO_PKG_VERSION")))
        };
        let http = builder()
            .build()
            .map_err(|e| HttpError::Setup(e.to_string()))?;
        let auth_http = builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| HttpError::Setup(e.to_string()))?;
        Ok(Client {
            http,
            auth_http,
            limiter: Limiter {
                budget: opts.budget,
                window: opts.rate_window,
                sent: Mutex::new(VecDeque::new()),
            },
            cfg,
            opts,
            token: Mutex::new(None),
            stats: ClientStats::default(),
            notify: Box::new(|_| {}),
        })
    }

    /// Sets who is told of long waits (a progress line, a log).
    pub fn on_wait(mut self, notify: impl Fn(&str) + Send + Sync + 'static) -> Client {
        self.notify = Box::new(notify);
        self
    }

    /// What must never be shown: the client secret (as given and as sent, form-encoded).
    fn secrets(&self) -> Vec<String> {
        let s = self.cfg.client_secret.value.expose();
        let mut v = vec![s.to_string(), encode(s)];
        v.retain(|x| x.len() >= 3);
        v.sort_by_key(|x| std::cmp::Reverse(x.len()));
        v.dedup();
        v
    }

    /// `text` with every appearance of the secret replaced by `[secret]` (a server that
    /// echoes the token request quotes it).
    fn scrub(&self, text: &str) -> String {
        self.secrets()
            .iter()
            .fold(text.to_string(), |t, s| t.replace(s.as_str(), "[secret]"))
    }

    /// `e` with the secret scrubbed from everything it says.
    fn scrub_error(&self, e: HttpError) -> HttpError {
        let s = |t: String| self.scrub(&t);
        match e {
            HttpError::Auth { url, message } => HttpError::Auth {
                url: s(url),
                message: s(message),
            },
            HttpError::Status { url, status, body } => HttpError::Status {
                url: s(url),
                status,
                body: s(body),
            },
            HttpError::GaveUp {
                url,
                attempts,
                last,
            } => HttpError::GaveUp {
                url: s(url),
                attempts,
                last: s(last),
            },
            HttpError::Refused { url, reason } => HttpError::Refused {
                url: s(url),
                reason: s(reason),
            },
            HttpError::Interrupted { url, last } => HttpError::Interrupted {
                url: s(url),
                last: s(last),
            },
            HttpError::Setup(m) => HttpError::Setup(s(m)),
        }
    }

    fn token_url(&self) -> String {
        let mut u = format!("{}/token", self.cfg.auth_url.value);
        if let Some(t) = &self.cfg.tenant {
            u.push_str(&format!("?tenant={}", encode(&t.value)));
        }
        u
    }

    fn classify<T>(
        &self,
        url: &str,
        r: reqwest::Result<reqwest::blocking::Response>,
        check: &Check<'_, T>,
    ) -> Attempt<T> {
        let resp = match r {
            Ok(r) => r,
            Err(e) => {
                return Attempt::Retry {
                    why: describe(&e),
                    wait: None,
                    rate_limited: false,
                };
            }
        };
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        if let Some(w) = retry_after.filter(|w| *w > MAX_RETRY_AFTER) {
            return Attempt::Fail(HttpError::Refused {
                url: url.to_string(),
                reason: format!(
                    "HTTP {status} with Retry-After: {} s, more than the {} s this client waits; try again later",
                    w.as_secs(),
                    MAX_RETRY_AFTER.as_secs()
                ),
            });
        }
        match status {
            200..=299 => match read_limited(resp) {
                Ok(None) => Attempt::Fail(HttpError::Refused {
                    url: url.to_string(),
                    reason: format!(
                        "the answer is larger than {} MiB, the limit for one response",
                        MAX_BODY >> 20
                    ),
                }),
                Ok(Some(b)) => match check(&b) {
                    Ok(read) => Attempt::Done(b, read),
                    Err(reason) => Attempt::Retry {
                        why: format!(
                            "HTTP {status} but {reason}; the answer starts with `{}`",
                            first_bytes(&b)
                        ),
                        wait: None,
                        rate_limited: false,
                    },
                },
                Err(e) => Attempt::Retry {
                    why: format!("body cut short: {e}"),
                    wait: None,
                    rate_limited: false,
                },
            },
            401 => {
                Attempt::Unauthorized(resp.text().unwrap_or_default().chars().take(300).collect())
            }
            429 => Attempt::Retry {
                why: "429 Too Many Requests".into(),
                wait: retry_after,
                rate_limited: true,
            },
            500..=599 => Attempt::Retry {
                why: format!("HTTP {status}"),
                wait: retry_after,
                rate_limited: false,
            },
            // Only the token request gets here (the data client follows redirects):
            // the secret is not sent on to another address.
            300..=399 => Attempt::Fail(HttpError::Refused {
                url: url.to_string(),
                reason: format!(
                    "HTTP {status}, a redirect to `{}`: the client secret is not sent on to another address; \
                     set HALO_AUTH_URL to the address that answers the token request itself",
                    resp.headers()
                        .get("location")
                        .and_then(|v| v.to_str().ok())
                        .map(redact_url)
                        .unwrap_or_default()
                ),
            }),
            _ => {
                let body = resp.text().unwrap_or_default();
                Attempt::Fail(HttpError::Status {
                    url: url.to_string(),
                    status,
                    body: body.chars().take(300).collect(),
                })
            }
        }
    }

    /// Sends a request built by `build` with the retry policy ([`Client::send_raw`]);
    /// whatever it fails with is scrubbed of the secret first.
    fn send<T>(
        &self,
        url: &str,
        with_token: bool,
        build: &dyn Fn(Option<&str>) -> reqwest::blocking::RequestBuilder,
        check: &Check<'_, T>,
    ) -> Result<(Vec<u8>, T), HttpError> {
        self.send_raw(url, with_token, build, check)
            .map_err(|e| self.scrub_error(e))
    }

    /// Sends a request built by `build` with the retry policy. `token` is `None` for the
    /// token request itself.
    fn send_raw<T>(
        &self,
        url: &str,
        with_token: bool,
        build: &dyn Fn(Option<&str>) -> reqwest::blocking::RequestBuilder,
        check: &Check<'_, T>,
    ) -> Result<(Vec<u8>, T), HttpError> {
        let mut attempt = 0u32;
        let mut refreshed = false;
        loop {
            let token = if with_token {
                Some(self.bearer(false)?)
            } else {
                None
            };
            let waited = self.limiter.acquire(&*self.notify);
            self.stats
                .rate_wait_ms
                .fetch_add(waited.as_millis() as u64, Ordering::Relaxed);
            self.stats.requests.fetch_add(1, Ordering::Relaxed);
            let outcome = self.classify(url, build(token.as_deref()).send(), check);
            let (why, wait, rate_limited) = match outcome {
                Attempt::Done(b, read) => return Ok((b, read)),
                Attempt::Fail(e) => return Err(e),
                Attempt::Unauthorized(body) if !with_token => {
                    return Err(HttpError::Status {
                        url: url.to_string(),
                        status: 401,
                        body,
                    });
                }
                Attempt::Unauthorized(_) if !refreshed => {
                    refreshed = true;
                    self.bearer(true)?;
                    continue;
                }
                Attempt::Unauthorized(body) => {
                    return Err(HttpError::Auth {
                        url: url.to_string(),
                        message: format!("401 even with a fresh token: {body}"),
                    });
                }
                Attempt::Retry {
                    why,
                    wait,
                    rate_limited,
                } => (why, wait, rate_limited),
            };
            if attempt >= self.opts.max_retries {
                return Err(HttpError::GaveUp {
                    url: url.to_string(),
                    attempts: attempt + 1,
                    last: why,
                });
            }
            let backoff = match (wait, rate_limited) {
                (Some(w), _) => w,
                (None, true) => (self.opts.rate_window / 8)
                    .saturating_mul(1 << attempt.min(3))
                    .min(self.opts.rate_window),
                (None, false) => Duration::from_millis(250)
                    .saturating_mul(1 << attempt.min(6))
                    .min(Duration::from_secs(10)),
            };
            let backoff = if wait.is_some() {
                backoff
            } else {
                jitter(backoff)
            };
            if rate_limited {
                self.stats.rate_limited.fetch_add(1, Ordering::Relaxed);
                self.stats
                    .rate_wait_ms
                    .fetch_add(backoff.as_millis() as u64, Ordering::Relaxed);
            }
            self.stats.retries.fetch_add(1, Ordering::Relaxed);
            if backoff >= NOTIFY_AFTER {
                (self.notify)(&self.scrub(&format!(
                    "waiting {} s before retry {} of {} ({}): {why}",
                    backoff.as_secs(),
                    attempt + 1,
                    self.opts.max_retries,
                    url.split('?').next().unwrap_or(url)
                )));
            }
            if !crate::interrupt::sleep(backoff) {
                return Err(HttpError::Interrupted {
                    url: url.to_string(),
                    last: why,
                });
            }
            attempt += 1;
        }
    }

    /// A valid bearer token, fetching a new one when forced or near expiry.
    fn bearer(&self, force: bool) -> Result<String, HttpError> {
        let mut slot = self.token.lock().expect("token lock");
        if !force
            && let Some((t, until)) = slot.as_ref()
            && Instant::now() < *until
        {
            return Ok(t.clone());
        }
        let url = self.token_url();
        let body = format!(
            "grant_type=client_credentials&client_id={}&client_secret={}&scope={}",
            encode(&self.cfg.client_id.value),
            encode(self.cfg.client_secret.value.expose()),
            encode(&self.cfg.scope.value)
        );
        self.stats.token_requests.fetch_add(1, Ordering::Relaxed);
        let (bytes, ()) = self
            .send(
                &url,
                false,
                &|_| {
                    self.auth_http
                        .post(&url)
                        .header("content-type", "application/x-www-form-urlencoded")
                        .header("accept", "application/json")
                        .body(body.clone())
                },
                &|_| Ok(()),
            )
            .map_err(|e| match e {
                HttpError::Status { url, status, body } => {
                    let oauth: Option<serde_json::Value> = serde_json::from_str(&body).ok();
                    let message = match oauth {
                        Some(v) if v.get("error").is_some() => format!(
                            "{} {}{}",
                            status,
                            v["error"].as_str().unwrap_or(""),
                            v.get("error_description")
                                .and_then(|d| d.as_str())
                                .map(|d| format!(": {d}"))
                                .unwrap_or_default()
                        ),
                        _ => format!("{status} {body}"),
                    };
                    HttpError::Auth {
                        url,
                        message: format!(
                            "{message} (client id from {}, secret from {})",
                            self.cfg.client_id.source, self.cfg.client_secret.source
                        ),
                    }
                }
                other => other,
            })?;
        #[derive(serde::Deserialize)]
        struct TokenResponse {
            access_token: String,
            expires_in: Option<u64>,
        }
        let t: TokenResponse = serde_json::from_slice(&bytes).map_err(|e| HttpError::Auth {
            url: url.clone(),
            message: format!("the token response is not OAuth JSON: {e}"),
        })?;
        let life = Duration::from_secs(t.expires_in.unwrap_or(3600)).min(MAX_TOKEN_LIFE);
        let margin = if life > Duration::from_secs(120) {
            Duration::from_secs(60)
        } else {
            life / 2
        };
        *slot = Some((t.access_token.clone(), Instant::now() + life - margin));
        Ok(t.access_token)
    }

    /// `GET {url}/api{path}?query`, returning the body and what `check` read from it: a
    /// body it refuses (with the reason) counts as a failed request and is retried like a
    /// `5xx`, because a proxy's sign-in page or an empty answer is not "no data". Each
    /// body is read once, by `check`.
    pub fn get_checked<T>(
        &self,
        path: &str,
        query: &[(&str, String)],
        check: &Check<'_, T>,
    ) -> Result<(Vec<u8>, T), HttpError> {
        let q: Vec<String> = query
            .iter()
            .map(|(k, v)| format!("{k}={}", encode(v)))
            .collect();
        let url = format!("{}/api{path}?{}", self.cfg.url.value, q.join("&"));
        self.send(
            &url,
            true,
            &|token| {
                self.http
                    .get(&url)
                    .header("accept", "application/json")
                    .bearer_auth(token.unwrap_or_default())
            },
            check,
        )
    }
}

/// Reads a `2xx` body: what it holds, or `Err(reason)` when it is not the answer asked
/// for.
pub type Check<'a, T> = dyn Fn(&[u8]) -> Result<T, String> + Sync + 'a;

/// The start of a body for an error message: at most 120 characters, control
/// characters shown as spaces.
pub fn first_bytes(b: &[u8]) -> String {
    let text = String::from_utf8_lossy(&b[..b.len().min(480)]);
    let mut s: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(120)
        .collect();
    if text.chars().count() > 120 || b.len() > 480 {
        s.push('…');
    }
    s
}

fn describe(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else if e.is_body() || e.is_decode() {
        "connection dropped while reading the body"
    } else {
        "request failed"
    };
    let mut s = kind.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(x) = src {
        s = format!("{s}: {x}");
        src = x.source();
    }
    s
}
