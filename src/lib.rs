//! leadsift: watches a B2B export sales mailbox and tells the salespeople which inquiries to chase.
//!
//! The pipeline, one module per stage: [`sync`] (IMAP → store) → [`parse`] (MIME → text and
//! headers) → [`extract`] (signals from the buyer's own words) → score → digest. Pure logic sits
//! in `parse`, `extract`, `score` and `feedback`; IMAP, SMTP, SQLite and the clock live at the edges.
//!
//! Layers, each importing only those before it (`tests/layering.rs` checks there is no cycle):
//! [`vocab`], [`parse`], [`mutf7`], [`secret`] (import nothing of ours) → [`extract`] → [`score`]
//! → [`feedback`] → [`oauth2`] → [`config`] (builds each stage's own settings from the TOML) →
//! [`team`] → [`store`] → [`digest`], [`ingest`], [`confirm`] → [`sync`], [`import`], [`daemon`],
//! [`demo`], [`cli`].
#![forbid(unsafe_code)]

pub mod cli;
pub mod config;
pub mod confirm;
pub mod daemon;
pub mod demo;
pub mod digest;
pub mod extract;
pub mod feedback;
pub mod import;
pub mod ingest;
pub mod mutf7;
pub mod oauth2;
pub mod parse;
pub mod score;
pub mod secret;
pub mod store;
pub mod sync;
pub mod team;
pub mod vocab;
