//! `leadsift demo`: a bundled sample mailbox (a pump exporter's, in several languages) imported
//! into a temporary database and shown as the leads table. No server, no config.

use std::io::Write;

use anyhow::Context;
use chrono::{DateTime, Utc};

use crate::config::Settings;
use crate::store::Store;

pub const MAILBOX: &str = include_str!("demo/mailbox.mbox");
pub const CONFIG: &str = include_str!("demo/leadsift.toml");
/// The instant the sample mailbox is judged at, unless `--now` says otherwise.
pub const NOW: &str = "2026-11-20T08:00:00+08:00";

/// Builds a temporary database from the sample mailbox. The caller keeps the directory alive.
pub fn build(now: DateTime<Utc>) -> anyhow::Result<(tempfile::TempDir, Settings, Store)> {
    let dir = tempfile::tempdir().context("creating a temporary directory")?;
    let db = dir.path().join("demo.db");
    let config_path = dir.path().join("leadsift.toml");
    let db_str = db.to_str().context("temporary path is not UTF-8")?;
    let text = CONFIG.replace("DB_PATH", &db_str.replace('\\', "\\\\"));
    std::fs::write(&config_path, &text)?;
    let settings = Settings::from_toml(&text, &config_path)?;
    let mbox = dir.path().join("sample.mbox");
    std::fs::write(&mbox, MAILBOX)?;
    let mut store = Store::open(&db)?;
    let report = crate::import::import(&[mbox], &settings, &mut store, now)?;
    if report.outcome.failed > 0 {
        anyhow::bail!(
            "the bundled sample mailbox has {} unreadable message(s): {:?}",
            report.outcome.failed,
            report.failures
        );
    }
    store.refresh_leads(&settings, now)?;
    Ok((dir, settings, store))
}

pub fn run(now: Option<DateTime<Utc>>, out: &mut dyn Write) -> anyhow::Result<()> {
    let now = match now {
        Some(n) => n,
        None => DateTime::parse_from_rfc3339(NOW)?.with_timezone(&Utc),
    };
    let (_dir, settings, store) = build(now)?;
    let reports = store.compute_reports(&settings, now)?;
    writeln!(
        out,
        "leadsift demo — the sales mailbox of a pump exporter, judged at {}\n",
        now.to_rfc3339()
    )?;
    write!(out, "{}", crate::score::render::leads_table(&reports))?;
    if let Some(hot) = reports.first() {
        writeln!(out, "\n--- leadsift explain {} ---", hot.lead)?;
        write!(out, "{}", crate::score::render::explain_text(hot))?;
    }
    // The morning digest the salespeople would get (the sample's zone: China, +08:00).
    let digest = crate::digest::fallback_settings(chrono_tz::Asia::Shanghai);
    let rendered = crate::digest::render_today(&store, &settings, &digest, now)?;
    writeln!(out, "\n--- leadsift digest --print ---")?;
    writeln!(out, "Subject: {}\n", rendered.subject)?;
    write!(out, "{}", rendered.text)?;
    Ok(())
}
