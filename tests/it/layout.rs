//! The code's layers, read from its imports: no two files under `src/report/` import
//! each other in a loop, and nothing below the reports (the store, the folds, the
//! frames, the aggregation) imports them. `cargo test --test layout -- --nocapture
//! imports_picture` prints the picture of `src/report/`'s imports.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Every `.rs` file under `dir`.
fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// A file's module path: `src/report/render/csv.rs` -> ["report", "render", "csv"].
fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts
        .last()
        .is_some_and(|p| p == "mod" || p == "lib" || p == "main")
    {
        parts.pop();
    }
    parts
}

/// The source without comments (line comments, doc comments), string literals and its
/// tests (the `#[cfg(test)]` module at the end of a file), so that only the shipped code
/// is read.
fn code(text: &str) -> String {
    let text = text.split("#[cfg(test)]\nmod ").next().unwrap_or("");
    let mut out = String::with_capacity(text.len());
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'/' && b.get(i + 1) == Some(&b'/') {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if b[i] == b'"' {
            i += 1;
            while i < b.len() && b[i] != b'"' {
                if b[i] == b'\\' {
                    i += 1;
                }
                i += 1;
            }
            i += 1;
            out.push_str("\"\"");
        } else {
            out.push(b[i] as char);
            i += 1;
        }
    }
    out
}

/// Expands a `use` tree (`a::{b, c::{d, self}}`) into paths.
fn expand(tree: &str) -> Vec<String> {
    let tree = tree.trim();
    let Some(open) = tree.find('{') else {
        return vec![tree.split(" as ").next().unwrap().trim().to_string()];
    };
    let prefix = tree[..open].trim_end_matches("::").trim();
    let inner = &tree[open + 1..tree.rfind('}').unwrap()];
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (k, ch) in inner.char_indices() {
        match ch {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&inner[start..k]);
                start = k + 1;
            }
            _ => {}
        }
    }
    parts.push(&inner[start..]);
    parts
        .into_iter()
        .filter(|p| !p.trim().is_empty())
        .flat_map(expand)
        .map(|p| {
            if p == "self" {
                prefix.to_string()
            } else {
                format!("{prefix}::{p}")
            }
        })
        .collect()
}

/// The module paths a file's code names: its `use` trees and every `crate::`, `super::`
/// and `self::` path in its code, made absolute.
fn references(module: &[String], is_mod_file: bool, text: &str) -> Vec<Vec<String>> {
    let code = code(text);
    let mut paths: Vec<String> = Vec::new();
    // `use` statements, braces and all.
    let mut rest = code.as_str();
    while let Some(at) = rest.find("use ") {
        let before = rest[..at].chars().last();
        let after = &rest[at + 4..];
        if before.is_none_or(|c| !(c.is_alphanumeric() || c == '_'))
            && let Some(end) = after.find(';')
        {
            paths.extend(expand(&after[..end]));
        }
        rest = after;
    }
    // Paths in code.
    let bytes = code.as_bytes();
    for root in ["crate::", "super::", "self::"] {
        let mut from = 0;
        while let Some(k) = code[from..].find(root) {
            let start = from + k;
            let ok_before = start == 0 || {
                let c = bytes[start - 1] as char;
                !(c.is_alphanumeric() || c == '_' || c == ':')
            };
            let mut end = start;
            while end < bytes.len()
                && ((bytes[end] as char).is_alphanumeric()
                    || bytes[end] == b'_'
                    || bytes[end] == b':')
            {
                end += 1;
            }
            if ok_before {
                paths.push(code[start..end].trim_end_matches(':').to_string());
            }
            from = end.max(start + root.len());
        }
    }
    // The module `self` and `super` stand for, for a file: a `mod.rs` is its folder's
    // module; another file is its own.
    // (`module_of` already names a `mod.rs` by its folder, so both have the same parent.)
    let _ = is_mod_file;
    let here: Vec<String> = module.to_vec();
    let parent: Vec<String> = module[..module.len().saturating_sub(1)].to_vec();
    paths
        .into_iter()
        .filter_map(|p| {
            let segs: Vec<&str> = p.split("::").filter(|s| !s.is_empty()).collect();
            let (base, tail) = match *segs.first()? {
                "crate" => (Vec::new(), &segs[1..]),
                "super" => {
                    let mut b = parent.clone();
                    let mut t = &segs[1..];
                    while t.first() == Some(&"super") {
                        b.pop();
                        t = &t[1..];
                    }
                    (b, t)
                }
                "self" => (here.clone(), &segs[1..]),
                _ => return None,
            };
            let mut full = base;
            full.extend(tail.iter().map(|s| s.to_string()));
            Some(full)
        })
        .collect()
}

/// The file a module path lands in: the deepest of its prefixes that is a module.
fn resolve<'a>(
    modules: &'a BTreeMap<Vec<String>, PathBuf>,
    path: &[String],
) -> Option<&'a PathBuf> {
    (1..=path.len()).rev().find_map(|n| modules.get(&path[..n]))
}

/// Every file's imports: file -> files it names.
fn imports() -> BTreeMap<PathBuf, BTreeSet<PathBuf>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut all = Vec::new();
    files(&src, &mut all);
    let modules: BTreeMap<Vec<String>, PathBuf> = all
        .iter()
        .map(|f| {
            (
                module_of(&src, f),
                f.strip_prefix(&src).unwrap().to_path_buf(),
            )
        })
        .collect();
    let mut graph = BTreeMap::new();
    for f in &all {
        let module = module_of(&src, f);
        let is_mod = f.file_name().is_some_and(|n| n == "mod.rs");
        let text = std::fs::read_to_string(f).unwrap();
        let me = f.strip_prefix(&src).unwrap().to_path_buf();
        let targets: BTreeSet<PathBuf> = references(&module, is_mod, &text)
            .iter()
            .filter_map(|p| resolve(&modules, p))
            .filter(|t| **t != me)
            .cloned()
            .collect();
        graph.insert(me, targets);
    }
    graph
}

/// The strongly connected groups of more than one file among `nodes` (Tarjan).
fn loops(
    graph: &BTreeMap<PathBuf, BTreeSet<PathBuf>>,
    nodes: &BTreeSet<PathBuf>,
) -> Vec<Vec<PathBuf>> {
    struct T<'a> {
        g: &'a BTreeMap<PathBuf, BTreeSet<PathBuf>>,
        nodes: &'a BTreeSet<PathBuf>,
        index: BTreeMap<PathBuf, usize>,
        low: BTreeMap<PathBuf, usize>,
        stack: Vec<PathBuf>,
        on: BTreeSet<PathBuf>,
        next: usize,
        out: Vec<Vec<PathBuf>>,
    }
    fn visit(t: &mut T, v: &PathBuf) {
        t.index.insert(v.clone(), t.next);
        t.low.insert(v.clone(), t.next);
        t.next += 1;
        t.stack.push(v.clone());
        t.on.insert(v.clone());
        let succ: Vec<PathBuf> = t.g[v]
            .iter()
            .filter(|w| t.nodes.contains(*w))
            .cloned()
            .collect();
        for w in succ {
            if !t.index.contains_key(&w) {
                visit(t, &w);
                let l = t.low[&w].min(t.low[v]);
                t.low.insert(v.clone(), l);
            } else if t.on.contains(&w) {
                let l = t.index[&w].min(t.low[v]);
                t.low.insert(v.clone(), l);
            }
        }
        if t.low[v] == t.index[v] {
            let mut group = Vec::new();
            loop {
                let w = t.stack.pop().unwrap();
                t.on.remove(&w);
                let done = &w == v;
                group.push(w);
                if done {
                    break;
                }
            }
            if group.len() > 1 {
                t.out.push(group);
            }
        }
    }
    let mut t = T {
        g: graph,
        nodes,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on: BTreeSet::new(),
        next: 0,
        out: Vec::new(),
    };
    for v in nodes {
        if !t.index.contains_key(v) {
            visit(&mut t, v);
        }
    }
    t.out
}

fn under(graph: &BTreeMap<PathBuf, BTreeSet<PathBuf>>, dir: &str) -> BTreeSet<PathBuf> {
    graph
        .keys()
        .filter(|f| f.starts_with(dir))
        .cloned()
        .collect()
}

#[test]
fn no_two_files_under_src_report_import_each_other_in_a_loop() {
    let graph = imports();
    let report = under(&graph, "report");
    assert!(
        report.len() > 10,
        "the reports' files were found: {report:?}"
    );
    let found = loops(&graph, &report);
    assert!(
        found.is_empty(),
        "files importing each other in a loop: {found:?}"
    );
}

#[test]
fn nothing_below_the_reports_imports_them() {
    let graph = imports();
    let mut wrong = Vec::new();
    for below in ["store", "fold", "aggregate", "frame", "records"] {
        for f in under(&graph, below) {
            for t in &graph[&f] {
                if t.starts_with("report") || t.starts_with("cli") || t.starts_with("export") {
                    wrong.push(format!("{} -> {}", f.display(), t.display()));
                }
            }
        }
    }
    assert!(wrong.is_empty(), "imports upward: {wrong:#?}");
}

#[test]
fn the_import_reader_sees_a_loop_when_there_is_one() {
    // The reader itself, on a made-up pair of files that name each other.
    let a = references(
        &["report".into(), "a".into()],
        false,
        "use super::b::X;\nfn f() { crate::report::b::g(); }",
    );
    let b = references(
        &["report".into(), "b".into()],
        false,
        "use super::{a, c::{self, D}};",
    );
    let mut modules = BTreeMap::new();
    for m in ["a", "b", "c"] {
        modules.insert(
            vec!["report".to_string(), m.to_string()],
            PathBuf::from(format!("report/{m}.rs")),
        );
    }
    let mut graph = BTreeMap::new();
    for (name, refs) in [("a", a), ("b", b)] {
        let me = PathBuf::from(format!("report/{name}.rs"));
        let t: BTreeSet<PathBuf> = refs
            .iter()
            .filter_map(|p| resolve(&modules, p))
            .filter(|t| **t != me)
            .cloned()
            .collect();
        graph.insert(me, t);
    }
    graph.insert(PathBuf::from("report/c.rs"), BTreeSet::new());
    let nodes: BTreeSet<PathBuf> = graph.keys().cloned().collect();
    let found = loops(&graph, &nodes);
    assert_eq!(found.len(), 1, "{graph:?}");
    assert_eq!(found[0].len(), 2);
}

#[test]
fn imports_picture() {
    // Printed with --nocapture: each file of src/report/ and what of src/report/ it imports.
    let graph = imports();
    for f in under(&graph, "report") {
        let t: Vec<String> = graph[&f]
            .iter()
            .filter(|t| t.starts_with("report"))
            .map(|t| t.strip_prefix("report").unwrap().display().to_string())
            .collect();
        println!(
            "{:<24} -> {}",
            f.strip_prefix("report").unwrap().display(),
            t.join(", ")
        );
    }
}
