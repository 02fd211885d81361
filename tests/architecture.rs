//! The module tree keeps its layers: data flow one way, from time and sky through the instrument
//! and the archive to the analysis, the fits, the products and the services above them.
//!
//! The check reads the sources (every `crate::name` path outside comments, including inside
//! `use crate::{a, b::c}` groups) and builds the graph of which top-level module refers to which.
//! It proves two things the science depends on:
//! - the analysis never sees the simulator's truth: `analysis`, `fit`, `products` (and every
//!   layer below the simulation) never name `simulate`;
//! - the graph has no cycle, and every reference goes down the declared layering.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The top-level modules from the bottom up. A module may refer only to modules listed before it
/// (or to itself). `lib` is the crate root and `main` the command line: they may use everything.
const LAYERS: &[&str] = &[
    "error",
    "fits",
    "time",
    "osa",
    "config",
    "spectrum",
    "sky",
    "instrument",
    "archive",
    "simulate",
    "datasets",
    "analysis",
    "fit",
    "products",
    "workflow",
    "query",
    "display",
    "publish",
    "server",
];

/// Modules that must never refer to the simulation (everything the analysis stands on).
const NEVER_SIMULATE: &[&str] = &[
    "error",
    "fits",
    "time",
    "osa",
    "config",
    "spectrum",
    "sky",
    "instrument",
    "archive",
    "datasets",
    "analysis",
    "fit",
    "products",
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a source file belongs to.
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap();
    let first = rel
        .components()
        .next()
        .unwrap()
        .as_os_str()
        .to_string_lossy();
    first.trim_end_matches(".rs").to_string()
}

/// The source without comments (line comments, doc comments and block comments) and without
/// the contents of string literals, so that prose and messages mentioning a module don't count.
fn code_only(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let b = text.as_bytes();
    let mut i = 0;
    let mut in_str = false;
    while i < b.len() {
        let c = b[i];
        if in_str {
            if c == b'\\' {
                i += 2;
                continue;
            }
            if c == b'"' {
                in_str = false;
                out.push('"');
            }
            i += 1;
            continue;
        }
        if c == b'/' && b.get(i + 1) == Some(&b'/') {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
            continue;
        }
        if c == b'/' && b.get(i + 1) == Some(&b'*') {
            let mut depth = 0;
            while i < b.len() {
                if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
                    depth += 1;
                    i += 2;
                } else if b[i] == b'*' && b.get(i + 1) == Some(&b'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
            continue;
        }
        if c == b'"' && !(i > 0 && b[i - 1] == b'\'' && b.get(i + 1) == Some(&b'\'')) {
            // Raw strings (r"..", r#".."#) are rare here and hold no `crate::` text.
            in_str = true;
            out.push('"');
            i += 1;
            continue;
        }
        out.push(c as char);
        i += 1;
    }
    out
}

fn ident_at(s: &str) -> String {
    s.chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect()
}

/// The top-level modules a piece of code names through `crate::`.
fn references(code: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = code;
    while let Some(k) = rest.find("crate::") {
        let after = &rest[k + "crate::".len()..];
        if let Some(group) = after.strip_prefix('{') {
            // `crate::{a, b::c, d::{e, f}}`: the first segment of each top-level item.
            let mut depth = 0;
            let mut item_start = true;
            for (j, ch) in group.char_indices() {
                match ch {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => item_start = true,
                    c if item_start && (c.is_ascii_alphabetic() || c == '_') => {
                        out.insert(ident_at(&group[j..]));
                        item_start = false;
                    }
                    _ => {}
                }
            }
        } else {
            let name = ident_at(after);
            if !name.is_empty() {
                out.insert(name);
            }
        }
        rest = after;
    }
    out
}

fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for f in files {
        let m = module_of(&src, &f);
        let code = code_only(&std::fs::read_to_string(&f).unwrap());
        let refs = g.entry(m.clone()).or_default();
        for r in references(&code) {
            // The crate root re-exports the error type: `crate::Error` is the error module.
            let r = match r.as_str() {
                "Error" | "Result" | "PublishErrorKind" => "error".to_string(),
                _ => r,
            };
            if r != m && r != "self" && r != "super" {
                refs.insert(r);
            }
        }
    }
    g
}

#[test]
fn the_parser_finds_grouped_and_plain_references() {
    let code = code_only(
        "use crate::{analysis::x, fit, sky::{a, b}};\n// crate::simulate in a comment\n\
         let s = \"crate::server in a string\"; crate::time::now(); /* crate::query */",
    );
    let found: Vec<String> = references(&code).into_iter().collect();
    assert_eq!(found, ["analysis", "fit", "sky", "time"]);
}

#[test]
fn the_analysis_never_sees_the_simulation() {
    let g = graph();
    for m in NEVER_SIMULATE {
        let refs = g.get(*m).unwrap_or_else(|| panic!("no module {m} in src/"));
        assert!(
            !refs.contains("simulate"),
            "{m} refers to crate::simulate: the analysis must reach simulated data only through \
             the archive's interface (archive::EventSource) and its calibration files"
        );
    }
}

#[test]
fn every_module_refers_only_to_the_layers_below_it() {
    let g = graph();
    let rank = |m: &str| LAYERS.iter().position(|l| *l == m);
    let mut wrong = Vec::new();
    for (m, refs) in &g {
        if m == "lib" || m == "main" {
            continue;
        }
        let Some(rm) = rank(m) else {
            panic!("module {m} is not in the declared LAYERS of tests/architecture.rs: place it");
        };
        for r in refs {
            match rank(r) {
                Some(rr) if rr < rm => {}
                _ => wrong.push(format!("{m} → {r}")),
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "references that go up (or sideways) the layers:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn the_module_graph_has_no_cycle() {
    let g = graph();
    // Kahn's algorithm: repeatedly remove modules all of whose references are removed.
    let mut left: BTreeMap<&str, BTreeSet<&str>> = g
        .iter()
        .map(|(m, r)| {
            (
                m.as_str(),
                r.iter()
                    .map(String::as_str)
                    .filter(|x| g.contains_key(*x))
                    .collect(),
            )
        })
        .collect();
    loop {
        let free: Vec<&str> = left
            .iter()
            .filter(|(_, r)| r.is_empty())
            .map(|(m, _)| *m)
            .collect();
        if free.is_empty() {
            break;
        }
        for m in &free {
            left.remove(m);
        }
        for r in left.values_mut() {
            for m in &free {
                r.remove(m);
            }
        }
    }
    assert!(left.is_empty(), "modules in a cycle: {left:?}");
}
