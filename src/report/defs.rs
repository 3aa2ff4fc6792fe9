//! Reports as files: a query in `queries/NAME.sql` and its definition in
//! `reports/NAME.toml` (title, description, parameters, column types, sort). The
//! project's own are compiled into the binary; users add theirs in a folder
//! (`--reports-dir`, default `$XDG_CONFIG_HOME/halo-billing/reports`), each `NAME.toml`
//! beside its `NAME.sql` (or naming it with `query = "FILE"`).
//!
//! The SQL sees two tables: `actions` (the period's stored columns, see `query`) and
//! `params` (one row, a column per declared parameter, null when not given). Figures stay
//! integers in their units through the SQL; a column's type says how it is shown
//! (`money`: cents with 2 decimals, `hours`: milliseconds with 4, `mileage`: 1/10,000
//! with 4), so the same file runs unchanged on another engine over the store's Parquet
//! (`benches/engines.sh` runs every built-in one on DuckDB).

use serde::Deserialize;
use std::path::{Path, PathBuf};

/// How a result column is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ColumnType {
    /// A whole number, shown as is.
    Integer,
    /// Text (made safe for spreadsheets in CSV).
    Text,
    /// Integer cents, shown with 2 decimals.
    Money,
    /// Integer milliseconds, shown as hours with 4 decimals.
    Hours,
    /// Integer 1/10,000 units, shown with 4 decimals.
    Mileage,
    /// A timestamp, shown as `YYYY-MM-DD HH:MM:SS.mmm` (UTC).
    Datetime,
    /// true / false.
    Boolean,
}

impl ColumnType {
    /// Whether the column has a total unless its definition says otherwise.
    fn totalled(self) -> bool {
        matches!(self, Self::Money | Self::Hours | Self::Mileage)
    }
}

/// A result column.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnDef {
    /// Its name: the CSV header cell, a contract.
    pub name: String,
    /// How it is shown.
    #[serde(rename = "type")]
    pub kind: ColumnType,
    /// Whether the totals row sums it (default: money, hours and mileage columns).
    #[serde(default)]
    pub total: Option<bool>,
}

impl ColumnDef {
    /// Whether the totals row sums this column.
    pub fn totalled(&self) -> bool {
        self.total.unwrap_or_else(|| self.kind.totalled())
    }
}

/// A parameter's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ParamType {
    /// A whole number.
    Integer,
    /// Text.
    Text,
}

/// A parameter, given as `--param NAME=VALUE`: a column of the one-row `params` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParamDef {
    /// Its name (the column of `params`).
    pub name: String,
    /// Its type.
    #[serde(rename = "type")]
    pub kind: ParamType,
    /// The value when not given (absent: null).
    #[serde(default)]
    pub default: Option<toml::Value>,
    /// What it does, for `report --list`.
    #[serde(default)]
    pub help: Option<String>,
}

/// A parameter's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParamValue {
    /// Not given and no default.
    Null,
    /// A whole number.
    Integer(i64),
    /// Text.
    Text(String),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DefFile {
    title: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    query: Option<String>,
    #[serde(default)]
    twin_of: Option<String>,
    #[serde(default)]
    sort: Vec<String>,
    #[serde(default)]
    parameters: Vec<ParamDef>,
    columns: Vec<ColumnDef>,
}

/// Where a report comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// Compiled into the binary (`queries/` and `reports/` of the project).
    BuiltIn,
    /// A user's folder: the definition file.
    File(PathBuf),
}

/// A report defined by files.
#[derive(Debug, Clone)]
pub struct ReportDef {
    /// Its name (the file stem), as given to `report`.
    pub name: String,
    /// Title (first line of the table, JSON `title`).
    pub title: String,
    /// What it shows.
    pub description: String,
    /// The built-in rayon report this is the SQL twin of.
    pub twin_of: Option<String>,
    /// Columns to sort the result by (nulls first), in order.
    pub sort: Vec<String>,
    /// Declared parameters.
    pub parameters: Vec<ParamDef>,
    /// The result's columns, in order.
    pub columns: Vec<ColumnDef>,
    /// The SQL.
    pub sql: String,
    /// Where the SQL lives (for messages).
    pub sql_path: String,
    /// Built in, or a user's file.
    pub origin: Origin,
}

/// A definition that cannot be used, with the file at fault.
#[derive(Debug, thiserror::Error)]
#[error("report definition `{}`: {message}", path.display())]
pub struct DefError {
    /// The definition (or its folder).
    pub path: PathBuf,
    /// What is wrong.
    pub message: String,
}

/// The reports that run on the rayon path (not files): a user report may not take their
/// names.
pub const RAYON_REPORTS: [&str; 8] = [
    "contracts",
    "invoices",
    "adjustments",
    "unbilled",
    "agents",
    "actions",
    "leakage",
    "prepay",
];

const BUILT_IN: [(&str, &str, &str); 3] = [
    (
        "contracts",
        include_str!("../../reports/contracts.toml"),
        include_str!("../../queries/contracts.sql"),
    ),
    (
        "invoices",
        include_str!("../../reports/invoices.toml"),
        include_str!("../../queries/invoices.sql"),
    ),
    (
        "charge-rates",
        include_str!("../../reports/charge-rates.toml"),
        include_str!("../../queries/charge-rates.sql"),
    ),
];

fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

fn valid_ident(s: &str) -> bool {
    s.chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Parses and checks one definition.
fn parse(
    name: &str,
    toml_text: &str,
    sql: String,
    sql_path: String,
    origin: Origin,
) -> Result<ReportDef, String> {
    let f: DefFile = toml::from_str(toml_text).map_err(|e| e.to_string())?;
    check(name, f, sql, sql_path, origin)
}

/// Checks a parsed definition and its SQL.
fn check(
    name: &str,
    f: DefFile,
    sql: String,
    sql_path: String,
    origin: Origin,
) -> Result<ReportDef, String> {
    if !valid_name(name) {
        return Err(format!(
            "the name `{name}` (the file name) may hold only a-z, 0-9, - and _"
        ));
    }
    if f.columns.is_empty() {
        return Err("`columns` is empty: declare the result's columns in order".into());
    }
    let mut seen = std::collections::HashSet::new();
    for c in &f.columns {
        if !seen.insert(c.name.as_str()) {
            return Err(format!("column `{}` is declared twice", c.name));
        }
    }
    for s in &f.sort {
        if !seen.contains(s.as_str()) {
            return Err(format!(
                "sort column `{s}` is not one of the declared columns"
            ));
        }
    }
    let mut params = std::collections::HashSet::new();
    for p in &f.parameters {
        if !valid_ident(&p.name) {
            return Err(format!(
                "parameter `{}` is not a plain SQL name (letters, digits, _)",
                p.name
            ));
        }
        if !params.insert(p.name.as_str()) {
            return Err(format!("parameter `{}` is declared twice", p.name));
        }
        if let Some(d) = &p.default {
            param_value(p, &toml_value_text(d))?;
        }
    }
    if sql.trim().is_empty() {
        return Err(format!("its query `{sql_path}` is empty"));
    }
    Ok(ReportDef {
        name: name.to_string(),
        title: f.title,
        description: f.description.unwrap_or_default(),
        twin_of: f.twin_of,
        sort: f.sort,
        parameters: f.parameters,
        columns: f.columns,
        sql,
        sql_path,
        origin,
    })
}

fn toml_value_text(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A parameter's value from its text.
fn param_value(p: &ParamDef, text: &str) -> Result<ParamValue, String> {
    match p.kind {
        ParamType::Text => Ok(ParamValue::Text(text.to_string())),
        ParamType::Integer => text.trim().parse().map(ParamValue::Integer).map_err(|_| {
            format!(
                "parameter `{}` takes a whole number; `{text}` is not one",
                p.name
            )
        }),
    }
}

/// The reports compiled into the binary.
pub fn built_in() -> Vec<ReportDef> {
    BUILT_IN
        .iter()
        .map(|(name, def, sql)| {
            parse(
                name,
                def,
                sql.to_string(),
                format!("queries/{name}.sql"),
                Origin::BuiltIn,
            )
            .unwrap_or_else(|e| panic!("built-in report `{name}`: {e}"))
        })
        .collect()
}

/// The folder user reports are read from when none is named:
/// `$XDG_CONFIG_HOME/halo-billing/reports` (or `~/.config/...`).
pub fn default_folder() -> Option<PathBuf> {
    crate::fsutil::xdg_dir("XDG_CONFIG_HOME", ".config")
        .map(|b| b.join("halo-billing").join("reports"))
}

/// The reports defined in `dir` (every `*.toml`), checked; a name taken by a built-in
/// report is refused. A missing folder holds none.
pub fn load_folder(dir: &Path) -> Result<Vec<ReportDef>, DefError> {
    let err = |path: &Path, message: String| DefError {
        path: path.to_path_buf(),
        message,
    };
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(err(dir, format!("cannot read the folder: {e}"))),
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    let taken: Vec<String> = built_in().into_iter().map(|d| d.name).collect();
    let mut out = Vec::new();
    for path in files {
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        if RAYON_REPORTS.contains(&name.as_str()) || taken.contains(&name) {
            return Err(err(
                &path,
                format!("`{name}` is the name of a built-in report: rename the file"),
            ));
        }
        let text = std::fs::read_to_string(&path)
            .map_err(|e| err(&path, format!("cannot read it: {e}")))?;
        let f: DefFile = toml::from_str(&text).map_err(|e| err(&path, e.to_string()))?;
        let sql_file = match &f.query {
            Some(q) => path.parent().unwrap_or(dir).join(q),
            None => path.with_extension("sql"),
        };
        let sql = std::fs::read_to_string(&sql_file).map_err(|e| {
            err(
                &path,
                format!("cannot read its query `{}`: {e}", sql_file.display()),
            )
        })?;
        let def = check(
            &name,
            f,
            sql,
            sql_file.display().to_string(),
            Origin::File(path.clone()),
        )
        .map_err(|m| err(&path, m))?;
        out.push(def);
    }
    Ok(out)
}

impl ReportDef {
    /// The values of the declared parameters from `given` (`NAME=VALUE`), defaults for
    /// the rest; an unknown name or a bad value is refused.
    pub fn param_values(&self, given: &[String]) -> Result<Vec<ParamValue>, String> {
        let mut values: Vec<Option<ParamValue>> = vec![None; self.parameters.len()];
        for g in given {
            let Some((k, v)) = g.split_once('=') else {
                return Err(format!("--param `{g}` is not NAME=VALUE"));
            };
            let Some(i) = self.parameters.iter().position(|p| p.name == k.trim()) else {
                let known: Vec<&str> = self.parameters.iter().map(|p| p.name.as_str()).collect();
                return Err(format!(
                    "report `{}` has no parameter `{}` (it has: {})",
                    self.name,
                    k.trim(),
                    if known.is_empty() {
                        "none".to_string()
                    } else {
                        known.join(", ")
                    }
                ));
            };
            values[i] = Some(param_value(&self.parameters[i], v)?);
        }
        self.parameters
            .iter()
            .zip(values)
            .map(|(p, v)| match v {
                Some(v) => Ok(v),
                None => match &p.default {
                    Some(d) => param_value(p, &toml_value_text(d)),
                    None => Ok(ParamValue::Null),
                },
            })
            .collect()
    }

    /// One line for `report --list`.
    pub fn list_line(&self) -> String {
        let from = match &self.origin {
            Origin::BuiltIn => format!("built in, {}", self.sql_path),
            Origin::File(p) => format!("{}, {}", p.display(), self.sql_path),
        };
        let params: Vec<String> = self
            .parameters
            .iter()
            .map(|p| {
                format!(
                    "--param {}=… ({})",
                    p.name,
                    p.help.as_deref().unwrap_or("no help")
                )
            })
            .collect();
        let mut line = format!("{:<22} {} [SQL: {from}]", self.name, self.title);
        if !params.is_empty() {
            line.push_str(&format!("; {}", params.join("; ")));
        }
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_definitions_parse_and_declare_their_sort_columns() {
        let defs = built_in();
        assert_eq!(defs.len(), BUILT_IN.len());
        for d in &defs {
            assert!(!d.columns.is_empty(), "{}", d.name);
        }
    }

    #[test]
    fn a_sort_column_that_is_not_declared_is_refused() {
        let e = parse(
            "x",
            "title = \"t\"\nsort = [\"b\"]\ncolumns = [{ name = \"a\", type = \"integer\" }]",
            "SELECT 1 AS a".into(),
            "x.sql".into(),
            Origin::BuiltIn,
        )
        .unwrap_err();
        assert!(e.contains("sort column `b`"), "{e}");
    }

    #[test]
    fn parameters_take_defaults_and_refuse_unknown_names_and_bad_numbers() {
        let d = parse(
            "x",
            "title = \"t\"\nparameters = [{ name = \"n\", type = \"integer\", default = 3 }, { name = \"s\", type = \"text\" }]\ncolumns = [{ name = \"a\", type = \"integer\" }]",
            "SELECT 1 AS a".into(),
            "x.sql".into(),
            Origin::BuiltIn,
        )
        .unwrap();
        assert_eq!(
            d.param_values(&[]).unwrap(),
            vec![ParamValue::Integer(3), ParamValue::Null]
        );
        assert_eq!(
            d.param_values(&["s=abc".into(), "n=7".into()]).unwrap(),
            vec![ParamValue::Integer(7), ParamValue::Text("abc".into())]
        );
        assert!(
            d.param_values(&["m=1".into()])
                .unwrap_err()
                .contains("no parameter `m`")
        );
        assert!(
            d.param_values(&["n=x".into()])
                .unwrap_err()
                .contains("whole number")
        );
    }
}
