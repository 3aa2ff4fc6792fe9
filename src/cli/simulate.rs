//! `halo-billing simulate`: a Halo-compatible API on loopback, for demos and tests.

use crate::error::Error;
use crate::progress::Progress;
use crate::simulate::{Misbehaviour, Paging, Rows, Shape, SimOptions, Simulator};
use std::time::Duration;

/// Serve generated time entries through a Halo-compatible API on 127.0.0.1.
///
/// Serves POST /auth/token and GET /api/Actions (and /api/Actions/{id}) with Halo's
/// filters, the 100-row page cap, the record_count wrapper and the value quirks, over the
/// data `generate` would write with the same --actions/--seed/--from/--to. Faults can be
/// switched on to test clients. Prints `listening on http://127.0.0.1:PORT` and serves
/// until interrupted.
///
/// Example, with a sync against it:
///   halo-billing simulate --port 8900 --actions 10000 --rate-limit 300/300 &
///   HALO_URL=http://127.0.0.1:8900 HALO_CLIENT_ID=demo HALO_CLIENT_SECRET=demo-secret \
///     halo-billing sync --period 2026-10
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// Port on 127.0.0.1 (0: any free port).
    #[arg(long, default_value_t = 8900)]
    port: u16,
    #[command(flatten)]
    data: super::DataSetArgs,
    /// Accepted client id.
    #[arg(long, default_value = "demo")]
    client_id: String,
    /// Accepted client secret.
    #[arg(long, default_value = "demo-secret")]
    client_secret: String,
    /// Token lifetime: 3600s, 5s (short values expire tokens mid-run).
    #[arg(long, default_value = "3600s", value_parser = super::sync::parse_duration)]
    token_ttl: Duration,
    /// The expires_in announced with tokens, when it should differ from --token-ttl (a
    /// token that dies before its announced expiry: the client must renew it on a 401).
    #[arg(long, value_parser = super::sync::parse_duration)]
    announce_ttl: Option<Duration>,
    /// List rows: full records, summaries + actionsdetails, or summaries only.
    #[arg(long, value_enum, default_value_t = Rows::Full)]
    rows: Rows,
    /// Response shape.
    #[arg(long, value_enum, default_value_t = Shape::Wrapper)]
    shape: Shape,
    /// Paging: honoured, or ignored (every page is the first 100 rows).
    #[arg(long, value_enum, default_value_t = Paging::Honour)]
    paging: Paging,
    /// Answer 429 past N API requests per rolling SECONDS, as N/SECONDS (e.g. 300/300).
    #[arg(long, value_name = "N/SECONDS")]
    rate_limit: Option<String>,
    /// Send Retry-After: SECONDS with 429s (Halo itself sends none).
    #[arg(long, value_name = "SECONDS")]
    retry_after: Option<u64>,
    /// Fraction of API requests answered 500, e.g. 0.05.
    #[arg(long, default_value = "0")]
    fail_rate: String,
    /// Fraction of API responses cut off mid-body (connection dropped), e.g. 0.05.
    #[arg(long, default_value = "0")]
    drop_rate: String,
    /// Delay before every answer, in milliseconds.
    #[arg(long, default_value_t = 0)]
    delay_ms: u64,
    /// Leave out every N-th time entry, as if deleted in Halo since an earlier sync.
    #[arg(long, value_name = "N")]
    delete_every: Option<u64>,
    /// After N API requests, answer every further one 503 (an outage).
    #[arg(long, value_name = "N")]
    fail_after: Option<u64>,
    /// Answer list requests for the day --misbehave-on with status 200 and: an HTML
    /// sign-in page, an empty body, a JSON error object, a page whose first record has a
    /// bare NaN amount, or a well-formed page with no actions.
    /// With --misbehave-records, every answer of that record endpoint instead.
    #[arg(long, value_enum)]
    misbehave: Option<Misbehaviour>,
    /// The UTC day (YYYY-MM-DD) whose list requests misbehave.
    #[arg(long, value_name = "DATE", requires = "misbehave")]
    misbehave_on: Option<String>,
    /// The record endpoint whose every answer misbehaves as --misbehave says (a NaN
    /// lands in the first record's id; an empty page announces record_count 0).
    #[arg(long, value_name = "contracts|prepay|invoices", requires = "misbehave")]
    misbehave_records: Option<String>,
    /// Serve the last month's chargeable work that was not invoiced as invoiced since,
    /// on new invoices (numbers ending -L and the contract id): work an earlier export
    /// may have billed already.
    #[arg(long)]
    invoice_unbilled: bool,
    /// The token endpoint misbehaves: `echo` answers 401 quoting the request body (the
    /// secret in it); `redirect=URL` answers 307 to URL.
    #[arg(long, value_name = "echo|redirect=URL")]
    token_fault: Option<String>,
}

fn per_mille(flag: &str, s: &str) -> Result<u64, Error> {
    // A fraction with up to three decimals, read without floating point.
    let bad = || {
        Error::Usage(format!(
            "{flag} `{s}` is not a fraction between 0 and 1 (e.g. 0.05)"
        ))
    };
    let d: rust_decimal::Decimal = s.parse().map_err(|_| bad())?;
    if d < rust_decimal::Decimal::ZERO || d > rust_decimal::Decimal::ONE {
        return Err(bad());
    }
    let pm = (d * rust_decimal::Decimal::from(1000)).round();
    u64::try_from(pm).map_err(|_| bad())
}

/// The day after `YYYY-MM-DD`.
fn next_day(day: &str) -> Result<String, Error> {
    chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.succ_opt())
        .map(|d| d.format("%Y-%m-%d").to_string())
        .ok_or_else(|| {
            Error::Usage(format!(
                "--misbehave-on `{day}` is not a date like 2026-10-15"
            ))
        })
}

/// Runs `simulate` until interrupted.
pub fn run(args: Args, progress: &Progress) -> Result<(), Error> {
    let rate_limit = match &args.rate_limit {
        None => None,
        Some(s) => {
            let bad = || Error::Usage(format!("--rate-limit `{s}` is not N/SECONDS like 300/300"));
            let (n, secs) = s.split_once('/').ok_or_else(bad)?;
            Some((
                n.parse().map_err(|_| bad())?,
                Duration::from_secs(secs.parse().map_err(|_| bad())?),
            ))
        }
    };
    let mut opts = SimOptions::new(args.data.options(Default::default())?);
    opts.client_id = args.client_id;
    opts.client_secret = args.client_secret;
    opts.token_ttl = args.token_ttl;
    opts.announce_ttl = args.announce_ttl;
    opts.rows = args.rows;
    opts.shape = args.shape;
    opts.paging = args.paging;
    opts.rate_limit = rate_limit;
    opts.retry_after = args.retry_after;
    opts.fail_per_mille = per_mille("--fail-rate", &args.fail_rate)?;
    opts.drop_per_mille = per_mille("--drop-rate", &args.drop_rate)?;
    opts.delay = Duration::from_millis(args.delay_ms);
    opts.fail_after = args.fail_after;
    opts.delete_every = args.delete_every;
    if let (Some(how), Some(day)) = (args.misbehave, &args.misbehave_on) {
        let p = crate::period::Period::range(day, &next_day(day)?, chrono_tz::Tz::UTC)?;
        opts.misbehave = Some((how, p.from_ns, p.to_ns));
    }
    match (args.misbehave, &args.misbehave_records) {
        (Some(how), Some(e)) => {
            if !["contracts", "prepay", "invoices"].contains(&e.as_str()) {
                return Err(Error::Usage(format!(
                    "--misbehave-records `{e}` is not contracts, prepay or invoices"
                )));
            }
            opts.misbehave_records = Some((how, e.clone()));
        }
        (Some(_), None) if args.misbehave_on.is_none() => {
            return Err(Error::Usage(
                "--misbehave needs --misbehave-on DATE (list requests of that day) or --misbehave-records ENDPOINT".into(),
            ));
        }
        _ => {}
    }
    opts.invoice_unbilled = args.invoice_unbilled;
    opts.token_fault = match args.token_fault.as_deref() {
        None => None,
        Some("echo") => Some(crate::simulate::TokenFault::Echo),
        Some(r) => match r.strip_prefix("redirect=") {
            Some(url) if !url.is_empty() => Some(crate::simulate::TokenFault::Redirect(url.into())),
            _ => {
                return Err(Error::Usage(format!(
                    "--token-fault `{r}` is not `echo` or `redirect=URL`"
                )));
            }
        },
    };
    let sim = Simulator::start(opts, args.port)?;
    progress.note(&format!(
        "serving {} time entries (client id `{}`)",
        sim.time_entries(),
        sim.credentials().0
    ));
    // The one line a caller waits for; on stdout so that scripts and tests can read it.
    println!("listening on {}", sim.url());
    use std::io::Write;
    let _ = std::io::stdout().flush();
    loop {
        std::thread::park();
    }
}
