//! The module layering, read from the sources: every `crate::<module>` a top-level module's files
//! name (its submodules included) is an edge; the graph must have no cycle, the vocabulary and
//! the parser import nothing of ours, and the pure judgement (extract, score, feedback) never
//! reads the whole configuration.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

type Graph = BTreeMap<String, BTreeSet<String>>;

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The source without comments, so a doc link to another module is not an import.
fn strip_comments(src: &str) -> String {
    let mut out = String::with_capacity(src.len());
    let mut chars = src.chars().peekable();
    let (mut in_str, mut block) = (false, 0usize);
    while let Some(c) = chars.next() {
        if block > 0 {
            if c == '*' && chars.peek() == Some(&'/') {
                chars.next();
                block -= 1;
            } else if c == '/' && chars.peek() == Some(&'*') {
                chars.next();
                block += 1;
            }
            continue;
        }
        if in_str {
            out.push(c);
            if c == '\\' {
                if let Some(n) = chars.next() {
                    out.push(n);
                }
            } else if c == '"' {
                in_str = false;
            }
            continue;
        }
        match c {
            '"' => {
                in_str = true;
                out.push(c);
            }
            // A char literal such as '"' must not open a string.
            '\'' => {
                out.push(c);
                let rest: String = chars.clone().take(3).collect();
                if rest.starts_with("\\") || rest.chars().nth(1) == Some('\'') {
                    for n in chars.by_ref() {
                        out.push(n);
                        if n == '\'' {
                            break;
                        }
                    }
                }
            }
            '/' if chars.peek() == Some(&'/') => {
                for n in chars.by_ref() {
                    if n == '\n' {
                        out.push('\n');
                        break;
                    }
                }
            }
            '/' if chars.peek() == Some(&'*') => {
                chars.next();
                block = 1;
            }
            _ => out.push(c),
        }
    }
    out
}

fn ident(s: &str) -> &str {
    let end = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    &s[..end]
}

/// The top-level modules named after `crate::` (`crate::a::b`, `crate::{a, b::c}`).
fn referenced(src: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let code = strip_comments(src);
    // A unit-test module (by convention the end of a file) may wire layers together to test one
    // for real (the store's vocabulary refresh over the real ingest); the layering is the
    // shipped code's.
    let code = code.split("#[cfg(test)]").next().unwrap_or("");
    let mut rest = code;
    while let Some(i) = rest.find("crate::") {
        let before = rest[..i].chars().next_back();
        rest = &rest[i + "crate::".len()..];
        // `$crate::` in a macro and `leadsift_crate::` are not ours.
        if before.is_some_and(|c| c == '$' || c.is_ascii_alphanumeric() || c == '_') {
            continue;
        }
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 1;
            let mut at_start = true;
            for (j, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    ',' if depth == 1 => at_start = true,
                    c if c.is_whitespace() => {}
                    _ if at_start && depth == 1 => {
                        out.insert(ident(&group[j..]).to_string());
                        at_start = false;
                    }
                    _ => {}
                }
            }
        } else {
            out.insert(ident(rest).to_string());
        }
    }
    out
}

fn graph() -> Graph {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let lib = std::fs::read_to_string(src.join("lib.rs")).expect("src/lib.rs");
    let modules: BTreeSet<String> = lib
        .lines()
        .filter_map(|l| l.trim().strip_prefix("pub mod "))
        .map(|m| m.trim_end_matches(';').trim().to_string())
        .collect();
    assert!(
        modules.len() > 5,
        "src/lib.rs lists the modules: {modules:?}"
    );
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut g: Graph = modules
        .iter()
        .map(|m| (m.clone(), BTreeSet::new()))
        .collect();
    for f in files {
        let rel = f.strip_prefix(&src).expect("under src");
        let top = rel
            .components()
            .next()
            .and_then(|c| c.as_os_str().to_str())
            .map(|s| s.trim_end_matches(".rs").to_string())
            .unwrap_or_default();
        if !modules.contains(&top) {
            continue; // lib.rs, main.rs
        }
        let text = std::fs::read_to_string(&f).expect("readable source");
        for m in referenced(&text) {
            if m != top && modules.contains(&m) {
                g.entry(top.clone()).or_default().insert(m);
            }
        }
    }
    g
}

fn show(g: &Graph) -> String {
    g.iter()
        .map(|(m, deps)| {
            format!(
                "  {m} -> {}",
                deps.iter().cloned().collect::<Vec<_>>().join(" ")
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// One cycle, as `a -> b -> … -> a`, if there is any.
fn find_cycle(g: &Graph) -> Option<Vec<String>> {
    fn visit(
        g: &Graph,
        m: &str,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = path.iter().position(|p| p == m) {
            let mut cycle = path[i..].to_vec();
            cycle.push(m.to_string());
            return Some(cycle);
        }
        if done.contains(m) {
            return None;
        }
        path.push(m.to_string());
        for d in g.get(m).into_iter().flatten() {
            if let Some(c) = visit(g, d, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(m.to_string());
        None
    }
    let mut done = BTreeSet::new();
    g.keys()
        .find_map(|m| visit(g, m, &mut Vec::new(), &mut done))
}

#[test]
fn the_modules_form_no_cycle() {
    let g = graph();
    if let Some(cycle) = find_cycle(&g) {
        panic!(
            "import cycle among src/ modules: {}\nthe graph:\n{}",
            cycle.join(" -> "),
            show(&g)
        );
    }
}

#[test]
fn vocabulary_and_parser_import_nothing_of_ours() {
    let g = graph();
    for leaf in ["vocab", "parse"] {
        let deps = g.get(leaf).unwrap_or_else(|| panic!("no module {leaf}"));
        assert!(deps.is_empty(), "{leaf} imports {deps:?}\n{}", show(&g));
    }
}

#[test]
fn the_judgement_takes_its_own_settings() {
    let g = graph();
    for (m, banned) in [
        (
            "extract",
            ["config", "score", "feedback", "store"].as_slice(),
        ),
        (
            "score",
            ["config", "feedback", "store", "digest"].as_slice(),
        ),
        ("feedback", ["config", "store", "digest"].as_slice()),
    ] {
        let deps = &g[m];
        for b in banned {
            assert!(!deps.contains(*b), "{m} imports {b}\n{}", show(&g));
        }
    }
}

#[test]
fn the_reader_sees_imports_not_comments() {
    let src = "use crate::a::X;\n// crate::b in a comment\n/* crate::c */ let s = \"//\"; use crate::{d::Y, e};\nlet q = '\"'; crate::f::g();";
    let got: Vec<String> = referenced(src).into_iter().collect();
    assert_eq!(got, ["a", "d", "e", "f"]);
    let mut g = Graph::new();
    g.entry("a".into()).or_default().insert("b".into());
    g.entry("b".into()).or_default().insert("c".into());
    g.entry("c".into()).or_default().insert("a".into());
    assert_eq!(
        find_cycle(&g).map(|c| c.join(" -> ")),
        Some("a -> b -> c -> a".to_string())
    );
    if let Some(d) = g.get_mut("c") {
        d.clear();
    }
    assert_eq!(find_cycle(&g), None);
}
