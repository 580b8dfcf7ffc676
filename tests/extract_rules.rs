//! The rule files themselves: `patterns check`, user overrides and broken files, the real-mail
//! corpus without panics, a mutation fuzz loop (#[ignore]) and the throughput benchmark
//! (#[ignore], run by bench/extract.sh).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use chrono::{DateTime, FixedOffset};
use leadsift::config::Business;
use leadsift::extract::Extractor;

fn business() -> Business {
    Business {
        products: [
            "LED",
            "high bay",
            "floodlight",
            "street light",
            "路灯",
            "светильник",
        ]
        .map(String::from)
        .to_vec(),
        min_order_value_usd: 5000.0,
        ..Business::default()
    }
}

fn fallback() -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339("2026-11-20T08:00:00+08:00").expect("date")
}

#[test]
fn builtin_patterns_check_passes() {
    let mut out = Vec::new();
    let code = leadsift::extract::cli::patterns_check(None, &mut out).expect("runs");
    let text = String::from_utf8_lossy(&out);
    assert_eq!(code, ExitCode::SUCCESS, "{text}");
    assert!(text.contains(" 0 failed"), "{text}");
}

#[test]
fn binary_patterns_check_passes() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_leadsift"))
        .args([
            "--config",
            "/nonexistent/leadsift.toml",
            "patterns",
            "check",
        ])
        .output()
        .expect("binary runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn user_rules_override_by_id_and_add() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("mine.toml"),
        r#"
[[rule]]
id = "en.timeline.urgent"
dimension = "timeline"
kind = "urgency"
weight = 3.0
regex = '(?i)\bpronto\b'
match = ["pronto please"]

[[rule]]
id = "mine.risk.crypto"
dimension = "risk"
kind = "crypto_payment"
weight = 3.0
regex = '(?i)\b(?:bitcoin|USDT)\b'
match = ["pay in USDT"]
no_match = ["USD"]
"#,
    )
    .expect("write");
    let ex = Extractor::new(&business(), Some(dir.path())).expect("user rules compile");
    let raw = b"From: a@b-co.example\r\nDate: Mon, 16 Nov 2026 10:00:00 +0000\r\nSubject: x\r\n\r\nWe pay in USDT, pronto. ASAP.\r\n";
    let m = leadsift::parse::parse(raw, fallback(), false).expect("parses");
    let sigs = ex.extract(&m).signals;
    assert!(sigs.iter().any(|s| s.kind == "crypto_payment"));
    let urgent: Vec<_> = sigs.iter().filter(|s| s.kind == "urgency").collect();
    // The override replaced the built-in rule: "pronto" matches, "ASAP" no longer does.
    assert_eq!(urgent.len(), 1, "{urgent:?}");
    assert_eq!(urgent[0].weight, 3.0);
    let mut out = Vec::new();
    assert_eq!(
        leadsift::extract::cli::patterns_check(Some(dir.path()), &mut out).expect("runs"),
        ExitCode::SUCCESS
    );
}

fn broken(file_text: &str) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("broken.toml"), file_text).expect("write");
    match Extractor::new(&business(), Some(dir.path())) {
        Ok(_) => panic!("broken file accepted"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn broken_user_file_names_file_rule_and_error() {
    let e = broken(
        "[[rule]]\nid = \"mine.bad\"\ndimension = \"need\"\nregex = '(unclosed'\nmatch = [\"x\"]\n",
    );
    assert!(
        e.contains("broken.toml") && e.contains("mine.bad") && e.contains("regex"),
        "{e}"
    );
    let e = broken(
        "[[rule]]\nid = \"mine.dim\"\ndimension = \"needs\"\nregex = 'x'\nmatch = [\"x\"]\n",
    );
    assert!(
        e.contains("broken.toml") && e.contains("mine.dim") && e.contains("needs"),
        "{e}"
    );
    let e = broken(
        "[[rule]]\nid = \"mine.val\"\ndimension = \"need\"\nvalue = \"quantity\"\nregex = '\\d+'\nmatch = [\"5\"]\n",
    );
    assert!(e.contains("mine.val") && e.contains("(?P<n>"), "{e}");
    let e = broken("[[rule]\nid = 1\n");
    assert!(e.contains("broken.toml"), "{e}");
    let e = broken(
        "[[rule]]\nid = \"mine.size\"\ndimension = \"need\"\nregex = '\\w{1000}\\w{1000}\\w{1000}'\nmatch = [\"x\"]\n",
    );
    assert!(e.contains("mine.size"), "{e}");
}

#[test]
fn failing_user_example_is_reported() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("ex.toml"),
        "[[rule]]\nid = \"mine.ex\"\ndimension = \"need\"\nregex = 'foo'\nmatch = [\"bar\"]\nno_match = [\"foo\"]\n",
    )
    .expect("write");
    let mut out = Vec::new();
    let code = leadsift::extract::cli::patterns_check(Some(dir.path()), &mut out).expect("runs");
    let text = String::from_utf8_lossy(&out);
    assert_eq!(code, ExitCode::FAILURE);
    assert!(
        text.contains("ex.toml")
            && text.contains("mine.ex")
            && text.contains("\"bar\"")
            && text.contains("\"foo\""),
        "{text}"
    );
}

fn corpus_dir() -> Option<PathBuf> {
    match std::env::var_os("LEADSIFT_CORPUS_DIR") {
        None => {
            eprintln!(
                "note: LEADSIFT_CORPUS_DIR is not set; skipping the SpamAssassin corpus (tests/run.sh sets it)"
            );
            None
        }
        Some(d) => {
            let d = PathBuf::from(d);
            assert!(
                d.is_dir(),
                "LEADSIFT_CORPUS_DIR={} is not a directory",
                d.display()
            );
            Some(d)
        }
    }
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("readable dir").flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if !p
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'))
            {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

#[test]
fn spamassassin_corpus_never_panics() {
    let Some(dir) = corpus_dir() else { return };
    let files = files_under(&dir);
    assert!(
        files.len() > 1000,
        "corpus at {} looks incomplete ({} files)",
        dir.display(),
        files.len()
    );
    let ex = Extractor::new(&business(), None).expect("rules");
    let (mut parsed, mut flagged, mut with_signals) = (0, 0, 0);
    for f in &files {
        let raw = std::fs::read(f).expect("readable");
        let Ok(m) = leadsift::parse::parse(&raw, fallback(), false) else {
            continue;
        };
        parsed += 1;
        let e = ex.extract(&m);
        flagged += usize::from(!e.flags.is_empty());
        with_signals += usize::from(!e.signals.is_empty());
        for s in &e.signals {
            assert!(!s.evidence.is_empty(), "{}: {s:?}", f.display());
            assert!(s.weight.is_finite());
        }
    }
    eprintln!(
        "corpus: {} files, {parsed} parsed, {flagged} flagged, {with_signals} with signals",
        files.len()
    );
    assert!(parsed > files.len() * 9 / 10);
}

/// Mutation fuzzing of parse + extract (cargo-fuzz needs nightly; this runs on stable).
/// `LEADSIFT_FUZZ_SECS` (default 60) bounds the run; seeds come from the MIME corpus and the
/// dev set when present, else from built-in messages.
#[test]
#[ignore]
fn fuzz_parse_extract() {
    let secs: u64 = std::env::var("LEADSIFT_FUZZ_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    let mut seeds: Vec<Vec<u8>> = Vec::new();
    for dir in [
        "/work/shared/corpora/mime",
        "/work/shared/eval/dev/cases",
        "tests/fixtures/extract",
    ] {
        let p = Path::new(dir);
        if p.is_dir() {
            seeds.extend(
                files_under(p)
                    .into_iter()
                    .filter_map(|f| std::fs::read(f).ok())
                    .filter(|b| b.len() < 200_000),
            );
        }
    }
    seeds.push(
        b"From: a@b.example\r\nSubject: x\r\n\r\nNeed 500 pcs by 20 December, USD 5,000.\r\n"
            .to_vec(),
    );
    let ex = Extractor::new(&business(), None).expect("rules");
    // xorshift: deterministic per run, no extra crates.
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut rnd = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let interesting: &[&[u8]] = &[
        b"\r\n",
        b"\r\n\r\n",
        b"--",
        b"=?utf-8?b?",
        b"?=",
        b">",
        b":",
        b"\xff\xfe",
        b"\xe4\xb8",
        b"Content-Type: multipart/mixed; boundary=\"b\"\r\n",
        b"charset=gbk",
        b"=\r\n",
        b"<html>",
        b"1,2.3",
        b"\xd0",
        b"USD ",
        b"pcs",
        b"Q9 2027",
        b"31.02.2027",
        b"99999999999999999999",
    ];
    let started = std::time::Instant::now();
    let mut runs = 0u64;
    while started.elapsed().as_secs() < secs {
        let mut data = seeds[(rnd() as usize) % seeds.len()].clone();
        for _ in 0..=(rnd() % 8) {
            let len = data.len().max(1);
            let at = (rnd() as usize) % len;
            match rnd() % 5 {
                0 => {
                    let n = data.len();
                    if n > 0 {
                        data[at.min(n - 1)] = rnd() as u8;
                    }
                }
                1 => {
                    let end = (at + (rnd() as usize % 64)).min(data.len());
                    data.drain(at.min(end)..end);
                }
                2 => {
                    let piece = interesting[(rnd() as usize) % interesting.len()];
                    let at = at.min(data.len());
                    data.splice(at..at, piece.iter().copied());
                }
                3 => {
                    let end = (at + (rnd() as usize % 256)).min(data.len());
                    let chunk = data[at.min(end)..end].to_vec();
                    let to = (rnd() as usize) % (data.len() + 1);
                    data.splice(to..to, chunk);
                }
                _ => data.truncate(at),
            }
        }
        if let Ok(m) = leadsift::parse::parse(&data, fallback(), false) {
            let _ = ex.extract(&m);
        }
        runs += 1;
    }
    eprintln!("fuzz: {runs} inputs in {secs} s without a panic");
}

/// Throughput of parse + extract on one core over the corpus (bench/extract.sh runs this with
/// --release and prints the line).
#[test]
#[ignore]
fn bench_corpus() {
    let Some(dir) = corpus_dir() else { return };
    let files: Vec<Vec<u8>> = files_under(&dir)
        .into_iter()
        .filter_map(|f| std::fs::read(f).ok())
        .collect();
    let bytes: usize = files.iter().map(Vec::len).sum();
    let ex = Extractor::new(&business(), None).expect("rules");
    let mut best = f64::MAX;
    let mut signals = 0usize;
    for _ in 0..3 {
        let t = std::time::Instant::now();
        signals = 0;
        for raw in &files {
            if let Ok(m) = leadsift::parse::parse(raw, fallback(), false) {
                signals += ex.extract(&m).signals.len();
            }
        }
        best = best.min(t.elapsed().as_secs_f64());
    }
    let mut parse_only = f64::MAX;
    for _ in 0..2 {
        let t = std::time::Instant::now();
        for raw in &files {
            let _ = leadsift::parse::parse(raw, fallback(), false);
        }
        parse_only = parse_only.min(t.elapsed().as_secs_f64());
    }
    println!(
        "PARSE seconds={parse_only:.3} msgs_per_s={:.0}",
        files.len() as f64 / parse_only
    );
    println!(
        "BENCH messages={} bytes={} seconds={:.3} msgs_per_s={:.0} mb_per_s={:.1} signals={}",
        files.len(),
        bytes,
        best,
        files.len() as f64 / best,
        bytes as f64 / 1e6 / best,
        signals
    );
}

#[test]
fn free_mail_domains_and_their_subdomains_only() {
    let ex = Extractor::new(&business(), None).expect("built-in rules");
    for d in ["gmail.com", "GMail.COM", "mail.yahoo.co.uk", "yahoo.co.uk"] {
        assert!(ex.is_free_mail(d), "{d}");
    }
    for d in [
        "notgmail.com",
        "gmail.com.evil.example",
        "co.uk",
        "acme.example",
        "",
        ".",
    ] {
        assert!(!ex.is_free_mail(d), "{d}");
    }
}
