//! The node crate's import rules, checked over its own source: every `use crate::`,
//! `super::`, `self::` and child-module import (and inline `crate::` path) of every
//! file under `src/` is resolved to the file it names, then
//! - no file imports from a higher layer (the order below), and
//! - the files' import graph has no circle.
//!
//! Test modules (everything after a file's first `#[cfg(test)]`) are not checked.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Top-level modules, lowest layer first. A module may import from its own layer
/// or a lower one.
const LAYERS: &[&[&str]] = &[
    &[
        "ids",
        "clock",
        "error",
        "records",
        "versioning",
        "lifecycle",
        "access",
    ],
    &["cluster"],
    &["tls"],
    &["storage"],
    &["raft"],
    &["rpc"],
    &["node"],
    &["client"],
];

fn layer_of(module: &[String]) -> Option<usize> {
    let top = module.first()?;
    LAYERS.iter().position(|l| l.contains(&top.as_str()))
}

/// Every `.rs` file under `dir`, with its module path (`storage/catalog/mod.rs` →
/// `["storage", "catalog"]`; `lib.rs` → `[]`).
fn modules(root: &Path, dir: &Path, out: &mut BTreeMap<Vec<String>, PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("read src dir")
        .map(|e| e.expect("dir entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            modules(root, &path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let rel = path.strip_prefix(root).expect("under src");
            let mut parts: Vec<String> = rel
                .iter()
                .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_string())
                .collect();
            if matches!(parts.last().map(String::as_str), Some("mod" | "lib")) {
                parts.pop();
            }
            out.insert(parts, path);
        }
    }
}

/// The code of a file without comments and without its test module.
fn code_of(text: &str) -> String {
    let text = match text.find("#[cfg(test)]") {
        Some(i) => &text[..i],
        None => text,
    };
    text.lines()
        .map(|l| match l.find("//") {
            Some(i) => &l[..i],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Expands `a::{b, c::{d, e}}` into `a::b`, `a::c::d`, `a::c::e`.
fn expand(tree: &str) -> Vec<String> {
    let tree: String = tree.chars().filter(|c| !c.is_whitespace()).collect();
    let Some(open) = tree.find('{') else {
        return vec![tree];
    };
    let prefix = &tree[..open];
    let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (i, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&inner[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&inner[start..]);
    parts
        .into_iter()
        .filter(|p| !p.is_empty())
        .flat_map(|p| expand(p).into_iter().map(move |s| format!("{prefix}{s}")))
        .collect()
}

/// The module paths a file's code names, absolute (from the crate root).
fn imported_paths(module: &[String], code: &str, children: &BTreeSet<String>) -> Vec<Vec<String>> {
    let mut paths = Vec::new();
    let mut rest = code;
    while let Some(i) = rest.find("use ") {
        let before_ok = i == 0 || !rest.as_bytes()[i - 1].is_ascii_alphanumeric();
        let after = &rest[i + 4..];
        let end = after.find(';').unwrap_or(after.len());
        if before_ok {
            paths.extend(expand(&after[..end]));
        }
        rest = &after[end.min(after.len())..];
    }
    // Inline paths such as `crate::storage::gc::run(..)`.
    let mut rest = code;
    while let Some(i) = rest.find("crate::") {
        let tail = &rest[i..];
        let len = tail
            .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
            .unwrap_or(tail.len());
        paths.push(tail[..len].to_string());
        rest = &tail[len..];
    }
    paths
        .into_iter()
        .filter_map(|p| {
            let segs: Vec<String> = p
                .trim_start_matches("pub(crate)")
                .split("::")
                .map(str::to_string)
                .filter(|s| !s.is_empty())
                .collect();
            let first = segs.first()?.clone();
            let mut base: Vec<String> = match first.as_str() {
                "crate" => Vec::new(),
                "self" => module.to_vec(),
                "super" => module[..module.len().saturating_sub(1)].to_vec(),
                c if children.contains(c) => {
                    let mut m = module.to_vec();
                    m.push(c.to_string());
                    return Some(m.into_iter().chain(segs[1..].iter().cloned()).collect());
                }
                _ => return None,
            };
            let mut segs = segs[1..].to_vec();
            while segs.first().map(String::as_str) == Some("super") {
                base.pop();
                segs.remove(0);
            }
            base.extend(segs);
            Some(base)
        })
        .collect()
}

/// The deepest module among `known` that `path` starts with.
fn resolve(path: &[String], known: &BTreeMap<Vec<String>, PathBuf>) -> Option<Vec<String>> {
    (1..=path.len())
        .rev()
        .map(|n| path[..n].to_vec())
        .find(|p| known.contains_key(p))
}

fn edges() -> BTreeMap<Vec<String>, BTreeSet<Vec<String>>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut known = BTreeMap::new();
    modules(&root, &root, &mut known);
    let mut graph = BTreeMap::new();
    for (module, path) in &known {
        if module.is_empty() {
            continue; // lib.rs declares and re-exports everything
        }
        let children: BTreeSet<String> = known
            .keys()
            .filter(|k| k.len() == module.len() + 1 && k.starts_with(module))
            .map(|k| k[module.len()].clone())
            .collect();
        let text = std::fs::read_to_string(path).expect("read source");
        let targets: BTreeSet<Vec<String>> = imported_paths(module, &code_of(&text), &children)
            .iter()
            .filter_map(|p| resolve(p, &known))
            .filter(|t| t != module && !t.is_empty())
            .collect();
        graph.insert(module.clone(), targets);
    }
    graph
}

fn name(m: &[String]) -> String {
    m.join("::")
}

#[test]
fn no_module_imports_from_a_higher_layer() {
    let mut upward = Vec::new();
    for (from, targets) in edges() {
        let Some(lf) = layer_of(&from) else {
            upward.push(format!("{} is in no layer (add it to LAYERS)", name(&from)));
            continue;
        };
        for to in targets {
            if layer_of(&to).is_some_and(|lt| lt > lf) {
                upward.push(format!("{} → {}", name(&from), name(&to)));
            }
        }
    }
    assert!(
        upward.is_empty(),
        "imports against the layer order:\n{}",
        upward.join("\n")
    );
}

#[test]
fn no_import_circles_between_files() {
    let graph = edges();
    // Depth-first search; a back edge closes a circle.
    fn visit(
        m: &Vec<String>,
        graph: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
        state: &mut BTreeMap<Vec<String>, u8>,
        stack: &mut Vec<Vec<String>>,
        circles: &mut Vec<String>,
    ) {
        state.insert(m.clone(), 1);
        stack.push(m.clone());
        for t in graph.get(m).into_iter().flatten() {
            match state.get(t).copied().unwrap_or(0) {
                0 => visit(t, graph, state, stack, circles),
                1 => {
                    let at = stack.iter().position(|s| s == t).unwrap_or(0);
                    let mut c: Vec<String> = stack[at..].iter().map(|s| name(s)).collect();
                    c.push(name(t));
                    circles.push(c.join(" → "));
                }
                _ => {}
            }
        }
        stack.pop();
        state.insert(m.clone(), 2);
    }
    let mut state = BTreeMap::new();
    let mut circles = Vec::new();
    for m in graph.keys() {
        if state.get(m).copied().unwrap_or(0) == 0 {
            visit(m, &graph, &mut state, &mut Vec::new(), &mut circles);
        }
    }
    assert!(
        circles.is_empty(),
        "import circles:\n{}",
        circles.join("\n")
    );
}

#[test]
fn the_checker_sees_imports() {
    // Guards the checker itself: the node layer does import lower layers.
    let graph = edges();
    let node_core = graph.get(&vec!["node".to_string()]).expect("node/mod.rs");
    assert!(node_core.iter().any(|t| t[0] == "raft"), "{node_core:?}");
    assert_eq!(
        expand("crate::{a::b, c::{d, e}}"),
        ["crate::a::b", "crate::c::d", "crate::c::e"]
    );
}

#[test]
fn source_files_stay_small() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut known = BTreeMap::new();
    modules(&root, &root, &mut known);
    let mut big = Vec::new();
    for path in known.values() {
        let text = std::fs::read_to_string(path).expect("read source");
        let lines = text.lines().count();
        if lines > 600 {
            big.push(format!("{} ({lines} lines)", path.display()));
        }
        assert!(
            text.starts_with("//!"),
            "{} has no //! doc comment at the top",
            path.display()
        );
    }
    assert!(big.is_empty(), "files over 600 lines:\n{}", big.join("\n"));
}
