//! `leadsift import`: .eml files, mbox files and directories of them, stored as if they had arrived
//! by IMAP.

use std::path::PathBuf;

use anyhow::Context;
use chrono::{DateTime, FixedOffset, Utc};

use crate::config::Settings;
use crate::ingest::{self, Raw};
use crate::store::{BatchOutcome, Failure, Item, Store};

const BATCH: usize = 500;

#[derive(Debug, Default)]
pub struct ImportReport {
    pub outcome: BatchOutcome,
    /// (source, reason) for every message that failed.
    pub failures: Vec<(String, String)>,
}

/// Every regular file under `paths`, sorted so that imports are deterministic.
fn collect_files(paths: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack: Vec<PathBuf> = paths.to_vec();
    while let Some(p) = stack.pop() {
        let meta = std::fs::metadata(&p).with_context(|| format!("{}", p.display()))?;
        if meta.is_dir() {
            let mut entries: Vec<PathBuf> = std::fs::read_dir(&p)
                .with_context(|| format!("{}", p.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|e| {
                    !e.file_name()
                        .is_some_and(|n| n.to_string_lossy().starts_with('.'))
                })
                .collect();
            entries.sort();
            stack.extend(entries.into_iter().rev());
        } else if meta.is_file() {
            out.push(p);
        }
    }
    Ok(out)
}

fn is_mbox(bytes: &[u8]) -> bool {
    bytes.starts_with(b"From ")
}

/// Splits an mbox (mboxrd/mboxo) into messages, undoing `>From ` quoting.
fn split_mbox(bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = Vec::new();
    let mut cur: Option<Vec<u8>> = None;
    for line in bytes.split_inclusive(|&b| b == b'\n') {
        if line.starts_with(b"From ") {
            if let Some(m) = cur.take() {
                out.push(m);
            }
            cur = Some(Vec::new());
            continue;
        }
        let Some(m) = cur.as_mut() else { continue };
        let unquoted = line
            .iter()
            .position(|&b| b != b'>')
            .filter(|&n| n > 0 && line[n..].starts_with(b"From "));
        match unquoted {
            Some(_) => m.extend_from_slice(&line[1..]),
            None => m.extend_from_slice(line),
        }
    }
    if let Some(m) = cur {
        out.push(m);
    }
    out
}

pub fn import(
    paths: &[PathBuf],
    settings: &Settings,
    store: &mut Store,
    now: DateTime<Utc>,
) -> anyhow::Result<ImportReport> {
    let mut report = ImportReport::default();
    let mut batch: Vec<Item> = Vec::new();
    let max = settings.sync.max_message_bytes as usize;
    for file in collect_files(paths)? {
        let bytes = match std::fs::read(&file) {
            Ok(b) => b,
            Err(e) => {
                let source = file.display().to_string();
                batch.push(Item::Failure(Failure {
                    key: format!("file:{source}"),
                    location: None,
                    source: Some(source),
                    reason: format!("cannot read: {e}"),
                }));
                continue;
            }
        };
        let mtime: DateTime<FixedOffset> = std::fs::metadata(&file)
            .and_then(|m| m.modified())
            .map(|t| DateTime::<Utc>::from(t).fixed_offset())
            .unwrap_or_else(|_| now.fixed_offset());
        let messages = if is_mbox(&bytes) {
            split_mbox(&bytes)
        } else {
            vec![bytes]
        };
        let many = messages.len() > 1;
        for (i, m) in messages.iter().enumerate() {
            let source = if many {
                format!("{}#{}", file.display(), i + 1)
            } else {
                file.display().to_string()
            };
            let truncated = m.len() > max;
            let bytes = if truncated { &m[..max] } else { &m[..] };
            batch.push(ingest::prepare(
                Raw {
                    bytes,
                    fallback_date: mtime,
                    truncated,
                    size: m.len() as u64,
                    location: None,
                    source: Some(source),
                },
                settings,
            ));
            if batch.len() >= BATCH {
                flush(store, &mut batch, &mut report, now)?;
            }
        }
    }
    flush(store, &mut batch, &mut report, now)?;
    // Our own quotes among the imported mail teach the vocabulary; not fatal to the import.
    if let Err(e) = store.refresh_vocabulary(settings, now) {
        tracing::warn!("vocabulary refresh failed: {e:#}");
    }
    Ok(report)
}

fn flush(
    store: &mut Store,
    batch: &mut Vec<Item>,
    report: &mut ImportReport,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    if batch.is_empty() {
        return Ok(());
    }
    for item in batch.iter() {
        if let Item::Failure(f) = item {
            report.failures.push((
                f.source.clone().unwrap_or_else(|| f.key.clone()),
                f.reason.clone(),
            ));
        }
    }
    report.outcome += store.store_batch(None, batch, now)?;
    batch.clear();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mbox_split_and_unquote() {
        let mbox = b"From a@b Sat Jan  1 00:00:00 2026\nSubject: one\n\n>From here\nbody\nFrom c@d Sat Jan  1 00:00:00 2026\nSubject: two\n\nx\n";
        let parts = split_mbox(mbox);
        assert_eq!(parts.len(), 2);
        assert!(String::from_utf8_lossy(&parts[0]).contains("\nFrom here\n"));
        assert!(String::from_utf8_lossy(&parts[1]).starts_with("Subject: two"));
    }
}
