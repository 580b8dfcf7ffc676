//! The shared front of the pipeline for IMAP sync and file import: raw bytes → parsed → extracted →
//! a storable [`Item`]. Pure: the caller does the I/O.

use chrono::{DateTime, FixedOffset};

use crate::config::Settings;
use crate::parse::{self, raw_hash};
use crate::store::{Direction, Failure, Item, Location, NewMessage};

pub struct Raw<'a> {
    pub bytes: &'a [u8],
    /// INTERNALDATE, or the file's modification time.
    pub fallback_date: DateTime<FixedOffset>,
    pub truncated: bool,
    /// The size on the server (may exceed `bytes.len()` when truncated).
    pub size: u64,
    pub location: Option<Location>,
    pub source: Option<String>,
}

pub fn prepare(raw: Raw<'_>, settings: &Settings) -> Item {
    match parse::parse(raw.bytes, raw.fallback_date, raw.truncated) {
        Ok(parsed) => {
            let direction = match &parsed.from {
                Some(f) if settings.me.is_ours(&f.address) => Direction::Out,
                _ => Direction::In,
            };
            let extraction = match direction {
                Direction::In => settings.extractor.extract(&parsed),
                // Our own words never score for a buyer.
                Direction::Out => crate::extract::Extraction {
                    flags: Vec::new(),
                    signals: Vec::new(),
                    deal_value_usd: None,
                    items: Vec::new(),
                },
            };
            Item::Message(Box::new(NewMessage {
                parsed,
                extraction,
                direction,
                size: raw.size,
                location: raw.location,
            }))
        }
        Err(e) => {
            let key = match &raw.location {
                Some(l) => format!(
                    "imap:{}/{}/{}/{}",
                    l.account, l.folder, l.uidvalidity, l.uid
                ),
                None => format!("sha256:{}", raw_hash(raw.bytes)),
            };
            Item::Failure(Failure {
                key,
                location: raw.location,
                source: raw.source,
                reason: e.to_string(),
            })
        }
    }
}
