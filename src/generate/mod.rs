//! Realistic, deterministic time entries in the shape Halo's API returns them: pages of
//! at most 100 actions in the `{"record_count", "page_no", "page_size", "actions"}`
//! wrapper, one folder per month, with the value quirks of the live API (see
//! `shared/halo-api/FACTS.md`): .NET double noise, `-0.0`, missing keys, `-1`/`0`
//! contract ids, three date forms, `1900-01-01` for no date, unknown keys, summary rows
//! with full records in `actionsdetails`, and stale copies of edited actions.
//!
//! The same seed and options always give the same bytes; pages are generated in
//! parallel, each from its own seeded stream. Floating point appears here, and only
//! here, on purpose: to write numbers the way .NET writes doubles, which is the input
//! the exact parser must cope with. Nothing generated is summed as a float.

use crate::fsutil;
use crate::progress::Progress;
use chrono::{Datelike, NaiveDate};
use rayon::prelude::*;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// What to generate.
#[derive(Debug, Clone)]
pub struct Options {
    /// Distinct actions.
    pub actions: u64,
    /// Seed for every random choice.
    pub seed: u64,
    /// First month, inclusive.
    pub from: (i32, u32),
    /// Last month, inclusive.
    pub to: (i32, u32),
    /// Output folder.
    pub out: PathBuf,
}

/// What was written.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    /// Page files.
    pub files: u64,
    /// Distinct actions.
    pub actions: u64,
    /// Extra stale copies (older `last_updated`) that an import must not take.
    pub stale_copies: u64,
    /// Bytes written.
    pub bytes: u64,
}

/// Generation failed.
#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    /// Months out of order or invalid.
    #[error("--from {from} is after --to {to}")]
    Range {
        /// First month.
        from: String,
        /// Last month.
        to: String,
    },
    /// Writing failed.
    #[error("cannot write `{path}`: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// OS error.
        source: std::io::Error,
    },
}

/// SplitMix64: tiny, fast, and fixed forever (a library generator could change its
/// stream between versions and silently change every fixture).
struct Rng(u64);
impl Rng {
    fn new(seed: u64, stream: u64) -> Rng {
        let mut r = Rng(seed ^ stream.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        r.next();
        r
    }
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, per_thousand: u64) -> bool {
        self.below(1000) < per_thousand
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

const AGENTS: [(&str, &str); 8] = [
    ("Alice Moreau", "AM"),
    ("Bilal Khan", "BK"),
    ("Chloé Dubois", "CD"),
    ("Dmitri Volkov", "DV"),
    ("Eve O'Neill", "EO"),
    ("Farah Haddad", "FH"),
    ("Gus Lindqvist", "GL"),
    ("Hana Sato", "HS"),
];
const OUTCOMES: [(&str, i64); 5] = [
    ("Remote Support", 2),
    ("On-site Visit", 5),
    ("Phone Call", 3),
    ("Project Work", 8),
    ("Maintenance", 9),
];
const MINUTES: [i64; 14] = [5, 10, 15, 15, 20, 20, 30, 30, 40, 45, 60, 90, 120, 180];
const RATES_CENTS: [i64; 5] = [8500, 9550, 12500, 15000, 17999];
const NOTES: [&str; 6] = [
    "Reset password and checked MFA enrolment",
    "Replaced failing \"Backup\" drive; verified restore",
    "Patched servers, rebooted out of hours",
    "Called user back — printer queue cleared",
    "Investigated slow VPN; résumé of findings sent",
    "Migrated mailbox\nand updated DNS records",
];

/// A contract as the generator sees it.
struct Contract {
    id: i64,
    reference: String,
    rate_cents: i64,
}

fn contracts(n_actions: u64, seed: u64) -> Vec<Contract> {
    let n = (n_actions / 2_000).clamp(6, 400);
    let mut rng = Rng::new(seed, u64::MAX);
    (0..n)
        .map(|i| {
            // A few references typed by people, as spreadsheets will meet them.
            let reference = match i {
                3 => "=HYPERLINK(\"http://x\")".to_string(),
                4 => "-Legacy block".to_string(),
                _ => format!(
                    "C-{:03}-{}",
                    100 + i,
                    ["MSP", "BLK", "PRJ", "SLA"][(i % 4) as usize]
                ),
            };
            Contract {
                id: 100 + i as i64,
                reference,
                rate_cents: *rng.pick(&RATES_CENTS),
            }
        })
        .collect()
}

/// A double as .NET's JSON writer prints it (shortest round-trip, always a point).
fn dotnet(v: f64) -> String {
    format!("{v:?}")
}

/// `cents` as an exact decimal with 2 places (how most amounts arrive).
fn cents_text(cents: i64) -> String {
    format!("{}.{:02}", cents / 100, cents % 100)
}

fn date_text(rng: &mut Rng, nanos: i64) -> String {
    let dt = chrono::DateTime::from_timestamp_nanos(nanos);
    match rng.below(3) {
        0 => format!(
            "{}.{:07}Z",
            dt.format("%Y-%m-%dT%H:%M:%S"),
            dt.timestamp_subsec_nanos() / 100
        ),
        1 => dt.format("%Y-%m-%dT%H:%M:%S%.3f").to_string(),
        _ => dt.format("%Y-%m-%dT%H:%M:%S").to_string(),
    }
}

struct Month {
    year: i32,
    month: u32,
    start_ns: i64,
    len_ns: i64,
    first: u64,
    count: u64,
}

fn months(opts: &Options) -> Vec<Month> {
    let mut list = Vec::new();
    let (mut y, mut m) = opts.from;
    while (y, m) <= opts.to {
        list.push((y, m));
        (y, m) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    }
    let n = list.len() as u64;
    let mut first = 0;
    list.iter()
        .enumerate()
        .map(|(i, &(y, m))| {
            let start = NaiveDate::from_ymd_opt(y, m, 1).expect("valid month");
            let end = if m == 12 {
                NaiveDate::from_ymd_opt(y + 1, 1, 1)
            } else {
                NaiveDate::from_ymd_opt(y, m + 1, 1)
            }
            .expect("valid month");
            let ns = |d: NaiveDate| {
                d.and_hms_opt(0, 0, 0)
                    .expect("midnight")
                    .and_utc()
                    .timestamp_nanos_opt()
                    .expect("in range")
            };
            let count = opts.actions / n + u64::from((i as u64) < opts.actions % n);
            let mo = Month {
                year: y,
                month: m,
                start_ns: ns(start),
                len_ns: ns(end) - ns(start),
                first,
                count,
            };
            first += count;
            mo
        })
        .collect()
}

/// Writes one action's JSON. `stale` writes an older, different version of it.
/// What every action of one page shares.
struct PageCtx<'a> {
    mo: &'a Month,
    seed: u64,
    cs: &'a [Contract],
    last_month: bool,
}

/// Writes one action's JSON and returns its `datetime` (UTC nanoseconds). `stale`
/// writes an older, different version of it; `summary` only the fields of a list row.
fn action_json(out: &mut String, g: u64, ctx: &PageCtx, stale: bool, summary: bool) -> i64 {
    let PageCtx {
        mo,
        seed,
        cs,
        last_month,
    } = *ctx;
    let mut rng = Rng::new(seed, g);
    let ticket_id = 10_000 + (g / 5) as i64;
    let id = (g % 5) as i64 + 1;
    let slot = mo.len_ns / mo.count.max(1) as i64;
    let dt = mo.start_ns + (g - mo.first) as i64 * slot + rng.below(slot.max(1) as u64) as i64;
    let (agent, initials) = *rng.pick(&AGENTS);
    let agent_id = 1 + AGENTS.iter().position(|a| a.0 == agent).unwrap_or(0) as i64;
    let (outcome, outcome_id) = *rng.pick(&OUTCOMES);
    let mut minutes = *rng.pick(&MINUTES);
    if stale {
        minutes += 15;
    }
    let contract = if rng.chance(780) {
        Some(rng.pick(cs))
    } else {
        None
    };
    let rate = contract.map(|c| c.rate_cents).unwrap_or(11000);
    // Amount as Halo computes it: hours x rate; most arrive rounded to cents, some raw.
    let amount = |rng: &mut Rng, mins: i64| -> String {
        let exact_num = mins * rate; // cents x 60
        if rng.chance(250) {
            dotnet((mins as f64 / 60.0) * (rate as f64 / 100.0))
        } else {
            cents_text((2 * exact_num + 60) / 120)
        }
    };
    let hours = dotnet(minutes as f64 / 60.0);
    let zero = |rng: &mut Rng| if rng.chance(50) { "-0.0" } else { "0.0" };
    let route = rng.below(100);
    let (mut ch, mut ca, mut nh, mut na, mut ph, mut pa) = (
        zero(&mut rng).to_string(),
        "0.0".to_string(),
        "0.0".to_string(),
        "0.0".to_string(),
        "0.0".to_string(),
        "0.0".to_string(),
    );
    let mut nonbill = zero(&mut rng).to_string();
    match route {
        0..55 => {
            ch = hours.clone();
            ca = amount(&mut rng, minutes);
        }
        55..75 => {
            ph = hours.clone();
            pa = amount(&mut rng, minutes);
        }
        75..95 => {
            nh = hours.clone();
            na = if rng.chance(500) {
                amount(&mut rng, minutes)
            } else {
                "0.0".into()
            };
            nonbill = hours.clone();
        }
        _ => {
            let part = minutes / 3;
            ch = dotnet((minutes - part) as f64 / 60.0);
            ca = amount(&mut rng, minutes - part);
            nh = dotnet(part as f64 / 60.0);
            na = amount(&mut rng, part);
        }
    }
    let updated = dt + 3_600_000_000_000 * (1 + rng.below(48) as i64)
        - if stale { 1_800_000_000_000 } else { 0 };
    let invoiced = !last_month && rng.chance(700) || last_month && rng.chance(150);

    out.push('{');
    let _ = write!(
        out,
        "\"id\":{id},\"ticket_id\":{ticket_id},\"datetime\":\"{}\"",
        date_text(&mut rng, dt)
    );
    let _ = write!(
        out,
        ",\"who\":\"{agent}\",\"who_agentid\":{agent_id},\"timetaken\":{hours}"
    );
    let note = *rng.pick(&NOTES);
    let _ = write!(
        out,
        ",\"note\":{}",
        serde_json::to_string(note).expect("string")
    );
    if summary {
        out.push('}');
        return dt;
    }
    // Actions that get a stale copy always carry `last_updated`, which is what lets the
    // newer version win although the stale copy comes later in the input.
    let has_stale_copy = Rng::new(seed, g ^ 0x5eed).chance(3);
    if !rng.chance(30) || has_stale_copy {
        let _ = write!(
            out,
            ",\"last_updated\":\"{}\"",
            date_text(&mut rng, updated)
        );
    }
    let created = if rng.chance(20) {
        "1900-01-01T00:00:00".to_string()
    } else {
        date_text(&mut rng, dt)
    };
    let _ = write!(
        out,
        ",\"actiondatecreated\":\"{created}\",\"outcome\":\"{outcome}\",\"outcome_id\":{outcome_id}"
    );
    let _ = write!(
        out,
        ",\"who_type\":0,\"who_initials\":\"{initials}\",\"actionby_agent_id\":{agent_id}"
    );
    let _ = write!(
        out,
        ",\"actisbillable\":{},\"chargerate\":{}",
        route < 75,
        1 + rng.below(4)
    );
    let _ = write!(out, ",\"nonbilltime\":{nonbill}");
    if rng.chance(100) {
        let _ = write!(
            out,
            ",\"traveltime\":{},\"mileage\":{}",
            dotnet(0.25 * (1 + rng.below(4)) as f64),
            dotnet((rng.below(4000) as f64) / 100.0 + 0.1)
        );
    }
    if !rng.chance(40) {
        let _ = write!(
            out,
            ",\"timetakendays\":{}",
            dotnet(minutes as f64 / 1440.0)
        );
    }
    match contract {
        Some(c) => {
            let _ = write!(
                out,
                ",\"action_contract_id\":{},\"action_contract_ref\":{}",
                c.id,
                serde_json::to_string(&c.reference).expect("string")
            );
        }
        None => match rng.below(3) {
            0 => out.push_str(",\"action_contract_id\":-1,\"action_contract_ref\":\"\""),
            1 => out.push_str(",\"action_contract_id\":0"),
            _ => {}
        },
    }
    let _ = write!(out, ",\"actioncontractid\":{}", rng.below(50));
    let _ = write!(
        out,
        ",\"actionchargehours\":{ch},\"actionchargeamount\":{ca},\"actionnonchargehours\":{nh},\"actionnonchargeamount\":{na}"
    );
    let _ = write!(
        out,
        ",\"actionprepayhours\":{ph},\"actionprepayamount\":{pa}"
    );
    if invoiced {
        let cid = contract.map(|c| c.id).unwrap_or(0);
        let inv_id = (mo.year as i64 % 100) * 100_000 + mo.month as i64 * 1_000 + cid;
        let _ = write!(
            out,
            ",\"actioninvoicenumber\":\"INV-{}{:02}-{cid:04}\",\"invoice_id\":{inv_id},\"action_invoice_line_id\":{}",
            mo.year,
            mo.month,
            1 + rng.below(9)
        );
    } else if rng.chance(500) {
        out.push_str(",\"actioninvoicenumber\":\"\",\"invoice_id\":0");
    }
    if rng.chance(200) {
        out.push_str(",\"customfields\":[{\"id\":12,\"name\":\"CFSite\",\"value\":\"HQ\"}],\"facebook_id\":null");
    }
    out.push('}');
    dt
}

/// One generated action, as the simulator serves it.
#[derive(Debug, Clone)]
pub struct GenAction {
    /// Ticket.
    pub ticket_id: i64,
    /// Action number within the ticket.
    pub id: i64,
    /// When it happened (UTC nanoseconds).
    pub datetime_ns: i64,
    /// The full record (`GET /Actions/{id}`, `actionsdetails`).
    pub full: String,
    /// The list-row summary, without billing fields.
    pub summary: String,
}

/// The actions of a generated data set, one at a time and in any order (the simulator
/// serves them; `generate` writes them to pages). Stale copies are not part of it.
pub struct Dataset {
    months: Vec<Month>,
    contracts: Vec<Contract>,
    seed: u64,
    actions: u64,
}

impl Dataset {
    /// The data set `opts` describes (`opts.out` is not used).
    pub fn new(opts: &Options) -> Result<Dataset, GenerateError> {
        if opts.from > opts.to {
            return Err(GenerateError::Range {
                from: format!("{}-{:02}", opts.from.0, opts.from.1),
                to: format!("{}-{:02}", opts.to.0, opts.to.1),
            });
        }
        Ok(Dataset {
            months: months(opts),
            contracts: contracts(opts.actions, opts.seed),
            seed: opts.seed,
            actions: opts.actions,
        })
    }

    /// The contracts the actions name: `(id, reference, rate in cents)`.
    pub fn contracts(&self) -> Vec<(i64, String, i64)> {
        self.contracts
            .iter()
            .map(|c| (c.id, c.reference.clone(), c.rate_cents))
            .collect()
    }

    /// The months covered, `(year, month)`, in order.
    pub fn months(&self) -> Vec<(i32, u32)> {
        self.months.iter().map(|m| (m.year, m.month)).collect()
    }

    /// Number of actions.
    pub fn len(&self) -> u64 {
        self.actions
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.actions == 0
    }

    /// Action number `g` (0-based, in datetime order).
    pub fn action(&self, g: u64) -> GenAction {
        let mi = self
            .months
            .partition_point(|m| m.first + m.count <= g)
            .min(self.months.len() - 1);
        let ctx = PageCtx {
            mo: &self.months[mi],
            seed: self.seed,
            cs: &self.contracts,
            last_month: mi + 1 == self.months.len(),
        };
        let mut full = String::with_capacity(900);
        let datetime_ns = action_json(&mut full, g, &ctx, false, false);
        let mut summary = String::with_capacity(300);
        action_json(&mut summary, g, &ctx, false, true);
        GenAction {
            ticket_id: 10_000 + (g / 5) as i64,
            id: (g % 5) as i64 + 1,
            datetime_ns,
            full,
            summary,
        }
    }
}

/// Writes the pages. Returns what was written.
pub fn generate(opts: &Options, progress: &Progress) -> Result<Summary, GenerateError> {
    let Dataset {
        months: ms,
        contracts: cs,
        ..
    } = Dataset::new(opts)?;
    // Every page: (month index, page number within month, kind).
    enum Kind {
        Normal(u64),
        Stale,
    }
    let mut pages: Vec<(usize, u64, Kind)> = Vec::new();
    for (mi, mo) in ms.iter().enumerate() {
        let n = mo.count.div_ceil(100);
        for p in 0..n {
            pages.push((mi, p + 1, Kind::Normal(p)));
        }
        if mo.count > 0 {
            pages.push((mi, n + 1, Kind::Stale));
        }
    }
    let bar = progress.bar(pages.len() as u64, "writing pages");
    let last = ms.len() - 1;
    let results: Vec<Result<(u64, u64), GenerateError>> = pages
        .par_iter()
        .map(|(mi, page_no, kind)| {
            let mo = &ms[*mi];
            let dir = opts.out.join(format!("{}-{:02}", mo.year, mo.month));
            let path = dir.join(format!("page-{page_no:06}.json"));
            let mut rng = Rng::new(opts.seed ^ 0xA5A5, (mo.first << 8) ^ page_no);
            let members: Vec<u64> = match kind {
                Kind::Normal(p) => (mo.first + p * 100
                    ..(mo.first + (p + 1) * 100).min(mo.first + mo.count))
                    .collect(),
                // About 0.3% of a month's actions reappear in an older version.
                Kind::Stale => (mo.first..mo.first + mo.count)
                    .filter(|g| Rng::new(opts.seed, *g ^ 0x5eed).chance(3))
                    .take(100)
                    .collect(),
            };
            let stale = matches!(kind, Kind::Stale);
            let ctx = PageCtx {
                mo,
                seed: opts.seed,
                cs: &cs,
                last_month: *mi == last,
            };
            let with_details = !stale && rng.chance(60);
            let mut out = String::with_capacity(members.len() * 900 + 200);
            let _ = write!(
                out,
                "{{\"record_count\":{},\"page_no\":{page_no},\"page_size\":100,\"actions\":[",
                mo.count
            );
            for (i, g) in members.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                action_json(&mut out, *g, &ctx, stale, with_details);
            }
            out.push(']');
            if with_details {
                out.push_str(",\"actionsdetails\":[");
                for (i, g) in members.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    action_json(&mut out, *g, &ctx, false, false);
                }
                out.push(']');
            }
            out.push_str("}\n");
            std::fs::create_dir_all(&dir).map_err(|source| GenerateError::Io {
                path: dir.clone(),
                source,
            })?;
            write_file(&path, out.as_bytes())?;
            bar.inc(1);
            Ok((
                out.len() as u64,
                if stale { members.len() as u64 } else { 0 },
            ))
        })
        .collect();
    bar.finish();
    let mut s = Summary {
        actions: opts.actions,
        ..Default::default()
    };
    for r in results {
        let (bytes, stale) = r?;
        s.files += 1;
        s.bytes += bytes;
        s.stale_copies += stale;
    }
    Ok(s)
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), GenerateError> {
    fsutil::write_atomic(path, |w| std::io::Write::write_all(w, bytes)).map_err(|source| {
        GenerateError::Io {
            path: path.to_path_buf(),
            source,
        }
    })
}

/// Parses `YYYY-MM`.
pub fn parse_month(s: &str) -> Option<(i32, u32)> {
    let (y, m) = s.split_once('-')?;
    let (y, m) = (y.parse().ok()?, m.parse().ok()?);
    NaiveDate::from_ymd_opt(y, m, 1).map(|d| (d.year(), d.month()))
}

/// `n` generated actions of September and October 2026 (`seed`), full records read as an
/// import reads them: every field filled as the generator fills it.
#[cfg(test)]
pub(crate) fn sample_actions(n: u64, seed: u64) -> Vec<crate::model::Action> {
    let ds = Dataset::new(&Options {
        actions: n,
        seed,
        from: (2026, 9),
        to: (2026, 10),
        out: std::path::PathBuf::new(),
    })
    .expect("a valid range");
    (0..ds.len())
        .flat_map(|g| crate::ingest::parse_document("gen", ds.action(g).full.as_bytes()).actions)
        .collect()
}
