//! Stage 3: signals from one parsed message. Pure code: rules come in as data (`patterns/`), the
//! message as a [`ParsedMessage`]; nothing here touches the network, the disk after loading, or
//! the clock.

pub mod signal;

use std::path::Path;

use crate::config::Business;
use crate::parse::ParsedMessage;
pub use signal::{Dimension, Extraction, Flag, Signal, Value};

#[derive(Debug, thiserror::Error)]
pub enum PatternError {
    #[error("{0}")]
    Invalid(String),
}

/// Compiled rules plus the catalogue matcher, built once at start.
#[derive(Debug)]
pub struct Extractor {}

impl Extractor {
    pub fn new(_business: &Business, _user_dir: Option<&Path>) -> Result<Extractor, PatternError> {
        Ok(Extractor {})
    }

    pub fn extract(&self, _msg: &ParsedMessage) -> Extraction {
        Extraction {
            flags: Vec::new(),
            signals: Vec::new(),
            deal_value_usd: None,
        }
    }
}

pub mod cli {
    //! The `extract` and `patterns check` commands.
    use std::io::Write;
    use std::path::Path;
    use std::process::ExitCode;

    use chrono::{DateTime, Utc};

    use crate::config::Settings;

    pub fn print(settings: &Settings, raw: &[u8], now: DateTime<Utc>, json: bool, out: &mut dyn Write) -> anyhow::Result<()> {
        let parsed = crate::parse::parse(raw, now.fixed_offset(), false)?;
        let ex = settings.extractor.extract(&parsed);
        let doc = serde_json::json!({
            "message_id": parsed.message_id,
            "date": parsed.date.to_rfc3339(),
            "flags": ex.flags,
            "signals": ex.signals,
        });
        if json {
            serde_json::to_writer_pretty(&mut *out, &doc)?;
        } else {
            for s in &ex.signals {
                writeln!(out, "{:<10} {:<14} {:+.1}  {:?}", s.dimension.as_str(), s.kind, s.weight, s.evidence)?;
            }
        }
        writeln!(out)?;
        Ok(())
    }

    pub fn patterns_check(_user_dir: Option<&Path>, out: &mut dyn Write) -> anyhow::Result<ExitCode> {
        writeln!(out, "no patterns yet")?;
        Ok(ExitCode::SUCCESS)
    }
}
