//! Robustness: the SpamAssassin public corpus (6,046 real messages: many charsets, HTML-only,
//! broken MIME) imports without a panic, and every message is either stored or listed as a failure
//! with a reason. tests/run.sh fetches the corpus and sets LEADSIFT_CORPUS_DIR.

use std::process::Command;

#[test]
fn spamassassin_corpus_imports_completely() {
    let Some(dir) = std::env::var_os("LEADSIFT_CORPUS_DIR") else {
        eprintln!("LEADSIFT_CORPUS_DIR is not set: skipping (tests/run.sh sets it)");
        return;
    };
    let dir = std::path::PathBuf::from(dir);
    assert!(
        dir.is_dir(),
        "LEADSIFT_CORPUS_DIR={} is not a directory: run tests/fetch-corpus.sh",
        dir.display()
    );
    let files = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .count();
    assert!(files >= 6_000, "only {files} messages in {}", dir.display());

    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("leadsift.toml");
    std::fs::write(
        &config,
        format!(
            "[storage]\npath = \"{}\"\n[me]\naddresses = [\"sales@ourco.example\"]\n",
            tmp.path().join("db").display()
        ),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_leadsift"))
        .arg("--config")
        .arg(&config)
        .arg("import")
        .arg(&dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "import failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let last = stdout.lines().last().unwrap_or("");
    let nums: Vec<usize> = last
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|s| s.parse().ok())
        .collect();
    assert_eq!(nums.len(), 3, "unexpected summary line {last:?}");
    let (stored, duplicates, failed) = (nums[0], nums[1], nums[2]);
    assert_eq!(stored + duplicates + failed, files, "{last}");
    assert!(stored > files * 9 / 10, "{last}");
    // Every failure is listed with a reason.
    let listed = stdout.lines().filter(|l| l.starts_with("failed: ")).count();
    assert_eq!(listed, failed, "{stdout}");
    assert!(
        stdout
            .lines()
            .filter(|l| l.starts_with("failed: "))
            .all(|l| l.splitn(3, ": ").count() == 3)
    );

    // And the leads of such a mailbox can be listed (no panic on odd senders and dates).
    let out = Command::new(env!("CARGO_BIN_EXE_leadsift"))
        .arg("--config")
        .arg(&config)
        .args(["--now", "2026-11-20T08:00:00Z", "leads", "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(doc.as_array().is_some_and(|a| !a.is_empty()));
}
