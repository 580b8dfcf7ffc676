//! leadsift: watches a B2B export sales mailbox and tells the salespeople which inquiries to chase.
//!
//! The pipeline, one module per stage: [`sync`] (IMAP → store) → [`parse`] (MIME → text and
//! headers) → [`extract`] (signals from the buyer's own words) → score → digest. Pure logic sits
//! in `parse` and `extract`; IMAP, SMTP, SQLite and the clock live at the edges.
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
