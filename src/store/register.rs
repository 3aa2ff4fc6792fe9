//! The export register: every accounting export that wrote files, what it issued and
//! the work on it, so that no work is billed (or booked) twice.
//!
//! ```text
//! STORE/exports.json                      the register: one record per export (the commit point)
//! STORE/exports/0003/lines.csv            export 3's work, one line per action and document
//! STORE/exports/0003/files/xero.csv       a copy of each file it wrote
//! ```
//!
//! An export is recorded before its files are renamed into place: its folder is written
//! under a temporary name, flushed and renamed, then `exports.json` is replaced
//! atomically. A crash before that switch leaves a folder the register does not name
//! (removed by the next recording); a crash after it leaves an export whose files the
//! same command writes again, byte for byte, from the copies. A record is never removed:
//! withdrawing an export marks it withdrawn, with when and why.

use super::{Store, StoreError};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The register file in the store folder.
pub const REGISTER_FILE: &str = "exports.json";
/// The folder of the exports' lines and file copies.
pub const REGISTER_DIR: &str = "exports";

/// The register.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Register {
    /// Its layout version.
    pub version: u32,
    /// Every export recorded, in order.
    pub exports: Vec<ExportRecord>,
}

/// One export.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExportRecord {
    /// Its number in the register (1, 2, ...).
    pub seq: u32,
    /// `xero`, `quickbooks`, `csv` (sales invoices) or `datev` (bookings).
    pub kind: String,
    /// The period as asked (`2026-11`, `2026-11-01..2026-12-02`).
    pub period: String,
    /// The zone it was read in.
    pub timezone: String,
    /// Its UTC range, nanoseconds (`[from_ns, to_ns)`).
    pub from_ns: i64,
    /// End (excluded).
    pub to_ns: i64,
    /// When it was written (UTC).
    pub at: String,
    /// The store generation it was made from.
    pub store_generation: u64,
    /// `--out` as given: the file (sales) or folder (DATEV) the files were written to.
    pub out: String,
    /// The mapping file.
    pub mapping: String,
    /// SHA-256 of the mapping, hex.
    pub mapping_sha256: String,
    /// The files written.
    pub files: Vec<FileRecord>,
    /// The documents issued (invoices, credit notes, bookings).
    pub documents: Vec<DocumentRecord>,
    /// Actions on it.
    pub actions: u64,
    /// The signed total of its documents, cents.
    pub total_cents: i64,
    /// Set when it was withdrawn (its work counts as not exported again).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub withdrawn: Option<Withdrawal>,
}

impl ExportRecord {
    /// Whether its work counts as exported.
    pub fn active(&self) -> bool {
        self.withdrawn.is_none()
    }

    /// Which register of work it belongs to: `bookings` (DATEV) or `sales`.
    pub fn ledger(&self) -> &'static str {
        ledger_of(&self.kind)
    }
}

/// The register of work an export kind belongs to: DATEV books invoices Halo issued;
/// Xero, QuickBooks and the ledger CSV bill work not yet invoiced (one register: work
/// billed in one of them is billed).
pub fn ledger_of(kind: &str) -> &'static str {
    if kind == "datev" { "bookings" } else { "sales" }
}

/// A file an export wrote.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FileRecord {
    /// Its name (as written beside the others).
    pub name: String,
    /// Where it was written (absolute when it could be resolved).
    pub path: String,
    /// Size.
    pub bytes: u64,
    /// SHA-256, hex.
    pub sha256: String,
}

/// A document an export issued.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DocumentRecord {
    /// Its number (DATEV: Halo's invoice number).
    pub number: String,
    /// `invoice`, `credit_note` or `booking`.
    pub document: String,
    /// The customer (empty for bookings).
    pub customer: String,
    /// The contracts on it (`none`: work without a contract).
    pub contracts: Vec<String>,
    /// Its date.
    pub date: String,
    /// Its total, cents (a credit note's as written on it: positive).
    pub total_cents: i64,
    /// For a correction: the document it corrects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub corrects: Option<String>,
}

/// A withdrawal.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Withdrawal {
    /// When (UTC).
    pub at: String,
    /// Why, as given.
    pub reason: String,
}

/// One action's work on one document: what it added to the billed (or booked) amount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// `(ticket_id, id)`.
    pub key: (i64, i64),
    /// Its content hash when exported.
    pub content_hash: i64,
    /// Its datetime (UTC nanoseconds), if any.
    pub datetime: Option<i64>,
    /// The contract it was billed on.
    pub contract: Option<i64>,
    /// The charge rate (sales).
    pub charge_rate: Option<i64>,
    /// Hours, ms (signed: a credit is negative).
    pub hours_ms: i64,
    /// Amount, cents (signed).
    pub amount_cents: i64,
    /// The document number (DATEV: Halo's invoice number).
    pub document: String,
}

const LINES_HEADER: &str =
    "ticket_id,id,content_hash,datetime_ns,contract_id,charge_rate,hours_ms,amount_cents,document";

fn io_err<'a>(
    action: &'static str,
    path: &'a Path,
) -> impl FnOnce(std::io::Error) -> StoreError + 'a {
    move |source| StoreError::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

fn damaged(path: &Path, reason: String) -> StoreError {
    StoreError::Manifest {
        path: path.to_path_buf(),
        reason: format!("the export register is damaged: {reason}"),
    }
}

impl Store {
    /// The register (empty when nothing was exported yet).
    pub fn register(&self) -> Result<Register, StoreError> {
        let path = self.root.join(REGISTER_FILE);
        match std::fs::read(&path) {
            Ok(b) => serde_json::from_slice(&b).map_err(|e| damaged(&path, e.to_string())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Register {
                version: 1,
                exports: Vec::new(),
            }),
            Err(e) => Err(io_err("cannot read", &path)(e)),
        }
    }

    fn export_dir(&self, seq: u32) -> PathBuf {
        self.root.join(REGISTER_DIR).join(format!("{seq:04}"))
    }

    /// The lines of export `seq`.
    pub fn export_lines(&self, seq: u32) -> Result<Vec<Line>, StoreError> {
        let path = self.export_dir(seq).join("lines.csv");
        let text = std::fs::read_to_string(&path).map_err(io_err("cannot read", &path))?;
        let mut out = Vec::new();
        for (i, l) in text.lines().enumerate().skip(1) {
            let bad = |what: &str| damaged(&path, format!("line {}: {what}", i + 1));
            let f: Vec<&str> = l.splitn(9, ',').collect();
            if f.len() != 9 {
                return Err(bad("not 9 fields"));
            }
            let int = |k: usize| -> Result<i64, StoreError> {
                f[k].parse()
                    .map_err(|_| bad(&format!("field {} `{}`", k + 1, f[k])))
            };
            let opt = |k: usize| -> Result<Option<i64>, StoreError> {
                if f[k].is_empty() {
                    Ok(None)
                } else {
                    int(k).map(Some)
                }
            };
            out.push(Line {
                key: (int(0)?, int(1)?),
                content_hash: int(2)?,
                datetime: opt(3)?,
                contract: opt(4)?,
                charge_rate: opt(5)?,
                hours_ms: int(6)?,
                amount_cents: int(7)?,
                document: unquote(f[8]),
            });
        }
        Ok(out)
    }

    /// The copy of file `name` of export `seq`, checked against its recorded SHA-256.
    pub fn export_file(&self, rec: &ExportRecord, name: &str) -> Result<Vec<u8>, StoreError> {
        let path = self.export_dir(rec.seq).join("files").join(name);
        let bytes = std::fs::read(&path).map_err(io_err("cannot read", &path))?;
        let want = rec.files.iter().find(|f| f.name == name).map(|f| &f.sha256);
        if want != Some(&super::sha256_hex(&bytes)) {
            return Err(damaged(
                &path,
                format!(
                    "the copy of `{name}` of export {} differs from its recorded SHA-256",
                    rec.seq
                ),
            ));
        }
        Ok(bytes)
    }

    /// Records an export: its lines and file copies, then the register naming it (the
    /// commit point). Returns its number. The caller holds the lock; `rec.seq` is set here.
    pub fn record_export(
        &self,
        mut rec: ExportRecord,
        lines: &[Line],
        files: &[(String, Vec<u8>)],
    ) -> Result<u32, StoreError> {
        let mut reg = self.register()?;
        let seq = reg.exports.iter().map(|e| e.seq).max().unwrap_or(0) + 1;
        rec.seq = seq;
        let dir = self.export_dir(seq);
        let tmp = self.root.join(REGISTER_DIR).join(format!(".tmp-{seq:04}"));
        for d in [&dir, &tmp] {
            if d.exists() {
                // Left by a crash before the register named it.
                std::fs::remove_dir_all(d).map_err(io_err("cannot clear", d))?;
            }
        }
        let files_dir = tmp.join("files");
        std::fs::create_dir_all(&files_dir).map_err(io_err("cannot create", &files_dir))?;
        let lines_path = tmp.join("lines.csv");
        crate::fsutil::write_atomic(&lines_path, |w| {
            use std::io::Write;
            writeln!(w, "{LINES_HEADER}")?;
            let o = |v: Option<i64>| v.map(|x| x.to_string()).unwrap_or_default();
            for l in lines {
                writeln!(
                    w,
                    "{},{},{},{},{},{},{},{},{}",
                    l.key.0,
                    l.key.1,
                    l.content_hash,
                    o(l.datetime),
                    o(l.contract),
                    o(l.charge_rate),
                    l.hours_ms,
                    l.amount_cents,
                    quote(&l.document)
                )?;
            }
            Ok(())
        })
        .map_err(io_err("cannot write", &lines_path))?;
        for (name, bytes) in files {
            let p = files_dir.join(name);
            crate::fsutil::write_atomic(&p, |w| std::io::Write::write_all(w, bytes))
                .map_err(io_err("cannot write", &p))?;
        }
        std::fs::rename(&tmp, &dir).map_err(io_err("cannot rename into", &dir))?;
        crate::fsutil::sync_dir(&self.root.join(REGISTER_DIR))
            .map_err(io_err("cannot flush", &dir))?;
        reg.version = 1;
        reg.exports.push(rec);
        self.save_register(&reg)?;
        Ok(seq)
    }

    /// Marks export `seq` withdrawn, with `reason`. The caller holds the lock.
    pub fn withdraw_export(&self, seq: u32, reason: &str) -> Result<ExportRecord, StoreError> {
        let mut reg = self.register()?;
        let path = self.root.join(REGISTER_FILE);
        let Some(rec) = reg.exports.iter_mut().find(|e| e.seq == seq) else {
            return Err(StoreError::Manifest {
                path,
                reason: format!(
                    "the register has no export {seq} (`halo-billing exports` lists them)"
                ),
            });
        };
        if let Some(w) = &rec.withdrawn {
            return Err(StoreError::Manifest {
                path,
                reason: format!(
                    "export {seq} was withdrawn already, at {}: {}",
                    w.at, w.reason
                ),
            });
        }
        rec.withdrawn = Some(Withdrawal {
            at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            reason: reason.to_string(),
        });
        let done = rec.clone();
        self.save_register(&reg)?;
        Ok(done)
    }

    fn save_register(&self, reg: &Register) -> Result<(), StoreError> {
        let path = self.root.join(REGISTER_FILE);
        crate::fsutil::write_atomic(&path, |w| {
            serde_json::to_writer_pretty(&mut *w, reg)?;
            std::io::Write::write_all(w, b"\n")
        })
        .map_err(io_err("cannot write", &path))
    }
}

/// A document number in a lines file: quoted when it holds a comma or a quote.
fn quote(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\"").replace(['\n', '\r'], " "))
    } else {
        s.to_string()
    }
}

fn unquote(s: &str) -> String {
    match s.strip_prefix('"').and_then(|r| r.strip_suffix('"')) {
        Some(inner) => inner.replace("\"\"", "\""),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recorded_export_reads_back_with_its_lines_and_files() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let rec = ExportRecord {
            seq: 0,
            kind: "xero".into(),
            period: "2026-11".into(),
            timezone: "UTC".into(),
            from_ns: 1,
            to_ns: 2,
            at: "2026-12-06T00:00:00Z".into(),
            store_generation: 3,
            out: "/tmp/x.csv".into(),
            mapping: "m.toml".into(),
            mapping_sha256: "ab".into(),
            files: vec![FileRecord {
                name: "x.csv".into(),
                path: "/tmp/x.csv".into(),
                bytes: 3,
                sha256: crate::store::sha256_hex(b"abc"),
            }],
            documents: Vec::new(),
            actions: 1,
            total_cents: 5,
            withdrawn: None,
        };
        let line = Line {
            key: (7, 8),
            content_hash: -5,
            datetime: None,
            contract: Some(101),
            charge_rate: None,
            hours_ms: -1,
            amount_cents: 5,
            document: "HB,\"1\"".into(),
        };
        let seq = store
            .record_export(
                rec,
                std::slice::from_ref(&line),
                &[("x.csv".into(), b"abc".to_vec())],
            )
            .unwrap();
        assert_eq!(seq, 1);
        let reg = store.register().unwrap();
        assert_eq!(reg.exports.len(), 1);
        assert_eq!(store.export_lines(1).unwrap(), vec![line]);
        assert_eq!(store.export_file(&reg.exports[0], "x.csv").unwrap(), b"abc");
        store.withdraw_export(1, "never imported").unwrap();
        assert!(!store.register().unwrap().exports[0].active());
        assert!(
            store.withdraw_export(1, "again").is_err(),
            "withdrawn once only"
        );
    }
}
