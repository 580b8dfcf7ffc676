//! Command-line front end: parses arguments, loads settings, runs one command.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use clap::{Parser, Subcommand};

use crate::config::Settings;
use crate::store::Store;

const DEFAULT_CONFIG: &str = "/etc/leadsift/leadsift.toml";

#[derive(Debug, Parser)]
#[command(
    name = "leadsift",
    version,
    about = "Sorts a sales mailbox's inquiries into hot, nurture and drop leads"
)]
pub struct Cli {
    /// Configuration file [default: $LEADSIFT_CONFIG, then /etc/leadsift/leadsift.toml]
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Use this instant instead of the clock (RFC 3339), for reproducible output
    #[arg(long, global = true, value_name = "RFC3339", value_parser = parse_now)]
    pub now: Option<DateTime<Utc>>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Fetch new mail from every account into the local store
    Sync {
        /// One pass over every account and folder, then exit
        #[arg(long)]
        once: bool,
    },
    /// The daemon: watch every account (IMAP IDLE), score new mail, send the digest when due
    Run,
    /// Import .eml files, mbox files and directories of them
    Import {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Per account and folder: UIDVALIDITY, highest UID, messages, last sync and error
    Status {
        #[arg(long)]
        json: bool,
    },
    /// Validate the configuration, secrets and patterns; exit non-zero on any problem
    CheckConfig,
    /// Print the signals found in one raw message (FILE or stdin)
    Extract {
        file: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// The leads, sorted by class then score
    Leads {
        #[arg(long, value_parser = ["hot", "nurture", "drop"])]
        class: Option<String>,
        /// Only the leads this colleague owns (`none`: the leads nobody owns yet)
        #[arg(long, value_name = "ADDRESS")]
        owner: Option<String>,
        #[arg(long, conflicts_with = "csv")]
        json: bool,
        #[arg(long)]
        csv: bool,
    },
    /// Every point of one lead's scorecard with its evidence
    Explain {
        /// The lead (a company domain or a free-mail address) or any contact's address
        lead: String,
        #[arg(long)]
        json: bool,
    },
    /// The business vocabulary learned from our own outbound mail (model codes and product
    /// names on the price lines of our quotes), with where each term was learned
    Vocabulary {
        #[arg(long)]
        json: bool,
    },
    /// Recompute every lead's scores (e.g. after the patterns changed)
    Rescore {
        /// Also re-run extraction on every stored message with the current patterns
        #[arg(long)]
        extract: bool,
    },
    /// Show leadsift on a bundled sample mailbox: no server, no config needed
    Demo,
    /// The morning digest: print it, or send today's (once a day)
    #[command(group(clap::ArgGroup::new("mode").required(true).args(["print", "send"])))]
    Digest {
        /// Render today's digest to stdout (plain text); nothing is sent or recorded
        #[arg(long)]
        print: bool,
        /// With --print: the HTML part instead of the text
        #[arg(long, requires = "print")]
        html: bool,
        /// With --print: the digest of this recipient (their own leads, or everyone's for a
        /// recipient with scope "all") [default: everyone's leads, owners shown]
        #[arg(long = "for", value_name = "ADDRESS", requires = "print")]
        for_address: Option<String>,
        /// Send today's digest now, unless it was already sent today
        #[arg(long)]
        send: bool,
        /// With --send: send again even if today's digest already went out
        #[arg(long, requires = "send")]
        force: bool,
    },
    /// Correct a lead by hand: set its class, confirm a dimension, mark it a scam (kept with who and when)
    Tag {
        /// The lead (as `leads` lists it) or any contact's address
        lead: String,
        /// hot, nurture, drop, auto (back to automatic), +need/+budget/+authority/+timeline
        /// (confirm; -budget withdraws), scam, not-scam, clear-risk, owner:ADDRESS (give the
        /// lead to a colleague)
        #[arg(allow_hyphen_values = true)]
        label: String,
        /// Who is correcting [default: $SUDO_USER, then $USER]
        #[arg(long, value_name = "NAME")]
        by: Option<String>,
        /// Why, kept with the correction
        #[arg(long)]
        note: Option<String>,
    },
    /// Learn from corrections: per-rule precision on hand-classed leads, and better weights
    #[command(group(clap::ArgGroup::new("learn_mode").required(true).args(["report", "apply"])))]
    Learn {
        /// How often each rule fired on leads classed hot and dropped by hand; proposed weights
        #[arg(long)]
        report: bool,
        /// With --report: JSON
        #[arg(long, requires = "report")]
        json: bool,
        /// Store the proposed weights (within [feedback] weight_floor / weight_cap) and rescore
        #[arg(long)]
        apply: bool,
    },
    /// Work with the signal rules in patterns/
    Patterns {
        #[command(subcommand)]
        action: PatternsAction,
    },
    /// OAuth2 sign-in for accounts and [smtp] with auth = "oauth2"
    Oauth2 {
        #[command(subcommand)]
        action: OAuth2Action,
    },
}

#[derive(Debug, Subcommand)]
pub enum OAuth2Action {
    /// Sign in once (device code, or a browser on this machine) and store the refresh token
    Login {
        /// The [[account]] name; leave out with --smtp
        #[arg(required_unless_present = "smtp")]
        account: Option<String>,
        /// Sign in the [smtp] section instead of an account
        #[arg(long, conflicts_with = "account")]
        smtp: bool,
        /// Use the device-code flow (open a URL on any device, enter a code)
        #[arg(long, conflicts_with = "browser")]
        device: bool,
        /// Use the browser flow with a redirect to 127.0.0.1 (Gmail)
        #[arg(long)]
        browser: bool,
        /// Loopback port for the browser flow [default: any free port]
        #[arg(long, default_value_t = 0)]
        port: u16,
    },
}

#[derive(Debug, Subcommand)]
pub enum PatternsAction {
    /// Compile every rule and run every example; exit non-zero on a failure
    Check,
}

fn parse_now(s: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(s)
        .map(|d| d.with_timezone(&Utc))
        .map_err(|e| format!("not an RFC 3339 time ({e}), e.g. 2026-11-20T08:00:00+08:00"))
}

pub fn config_path(cli: &Cli) -> PathBuf {
    cli.config
        .clone()
        .or_else(|| std::env::var_os("LEADSIFT_CONFIG").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from(DEFAULT_CONFIG))
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("LEADSIFT_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("leadsift=info,warn"));
    let _ = tracing_subscriber::fmt()
        // Colour only on a terminal: journald and log files get plain `key=value` text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}

pub fn main() -> ExitCode {
    // One crypto provider in the graph (ring); installing it explicitly keeps rustls from guessing.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cli = Cli::parse();
    init_logging();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("leadsift: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn load(cli: &Cli) -> anyhow::Result<Settings> {
    let path = config_path(cli);
    Ok(Settings::load(&path)?)
}

fn open_store(settings: &Settings) -> anyhow::Result<Store> {
    Store::open(&settings.storage_path)
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")
}

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let now = cli.now.unwrap_or_else(Utc::now);
    let mut out = std::io::stdout().lock();
    match &cli.command {
        Command::CheckConfig => {
            let s = load(&cli)?;
            s.extractor
                .compile_all()
                .map_err(|e| anyhow::anyhow!("{}: {e}", s.source.display()))?;
            for n in s.notes() {
                writeln!(out, "note: {n}")?;
            }
            writeln!(
                out,
                "{}: OK ({} account(s), database {})",
                s.source.display(),
                s.accounts.len(),
                s.storage_path.display()
            )?;
        }
        Command::Sync { once } => {
            if !once {
                bail!("`sync` without --once is the daemon's job; use `leadsift sync --once`");
            }
            let s = load(&cli)?;
            let mut store = open_store(&s)?;
            // Each account's pass scores what it committed, even when a folder failed.
            let reports = runtime()?.block_on(crate::sync::sync_once(&s, &mut store, now));
            // Replies to the digest that scoring found: verified, applied, confirmed by mail.
            let replies = crate::confirm::process_digest_replies(&s, &mut store, now);
            let mut failed = runtime()?.block_on(replies).is_err_and(|e| {
                eprintln!("replies to the digest: {e:#}");
                true
            });
            for r in &reports {
                match &r.error {
                    None => writeln!(
                        out,
                        "{}: {} new, {} duplicate(s), {} failed",
                        r.account, r.outcome.stored, r.outcome.duplicates, r.outcome.failed
                    )?,
                    Some(e) => {
                        failed = true;
                        eprintln!("{}: sync failed: {e}", r.account);
                    }
                }
            }
            if failed {
                return Ok(ExitCode::FAILURE);
            }
        }
        Command::Oauth2 {
            action:
                OAuth2Action::Login {
                    account,
                    smtp,
                    device,
                    browser,
                    port,
                },
        } => {
            let s = load(&cli)?;
            let auth = if *smtp {
                let smtp = s
                    .smtp
                    .as_ref()
                    .ok_or_else(|| anyhow::anyhow!("there is no [smtp] section"))?;
                smtp.credentials.as_ref().map(|(_, a)| a.clone())
            } else {
                let name = account.as_deref().unwrap_or("");
                let a = s.accounts.iter().find(|a| a.name == name).ok_or_else(|| {
                    anyhow::anyhow!(
                        "no [[account]] named {name:?} (configured: {})",
                        s.accounts
                            .iter()
                            .map(|a| a.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                })?;
                Some(a.auth.clone())
            };
            let Some(crate::config::Auth::OAuth2(provider)) = auth else {
                bail!("that section does not have auth = \"oauth2\"");
            };
            let flow = match (device, browser) {
                (true, _) => crate::oauth2::login::Flow::Device,
                (_, true) => crate::oauth2::login::Flow::Browser,
                _ => crate::oauth2::login::Flow::Auto,
            };
            drop(out);
            let mut stdout = std::io::stdout();
            runtime()?.block_on(crate::oauth2::login::login(
                &provider,
                flow,
                *port,
                &mut stdout,
            ))?;
        }
        Command::Run => {
            drop(out);
            return crate::daemon::run(&config_path(&cli), cli.now);
        }
        Command::Import { paths } => {
            let s = load(&cli)?;
            let mut store = open_store(&s)?;
            let r = crate::import::import(paths, &s, &mut store, now)?;
            store.refresh_leads(&s, now)?;
            for (source, reason) in &r.failures {
                writeln!(out, "failed: {source}: {reason}")?;
            }
            writeln!(
                out,
                "imported {}, skipped {} duplicate(s), failed {}",
                r.outcome.stored, r.outcome.duplicates, r.outcome.failed
            )?;
        }
        Command::Status { json } => {
            let s = load(&cli)?;
            let store = open_store(&s)?;
            let st = store.status()?;
            let daemon_accounts = crate::daemon::state::account_states(&store)?;
            let last_digest = crate::daemon::state::last_digest(&store)?;
            let feedback = store.feedback_summary()?;
            if *json {
                let mut doc = serde_json::to_value(&st)?;
                if let Some(o) = doc.as_object_mut() {
                    o.insert(
                        "daemon".into(),
                        serde_json::json!({ "accounts": daemon_accounts }),
                    );
                    o.insert("last_digest".into(), serde_json::to_value(&last_digest)?);
                    o.insert("feedback".into(), serde_json::to_value(&feedback)?);
                }
                serde_json::to_writer_pretty(&mut out, &doc)?;
                writeln!(out)?;
            } else {
                for a in &st.accounts {
                    writeln!(out, "{}", a.name)?;
                    for f in &a.folders {
                        writeln!(
                            out,
                            "  {:<20} uidvalidity {:<12} last uid {:<8} {:>7} messages  last sync {}{}",
                            f.name,
                            f.uidvalidity
                                .map(|v| v.to_string())
                                .unwrap_or_else(|| "-".into()),
                            f.last_uid,
                            f.messages,
                            f.last_sync.as_deref().unwrap_or("never"),
                            f.last_error
                                .as_deref()
                                .map(|e| format!("  last error: {e}"))
                                .unwrap_or_default()
                        )?;
                    }
                }
                writeln!(
                    out,
                    "total: {} messages stored, {} failed",
                    st.messages, st.failed
                )?;
                for a in &daemon_accounts {
                    let detail = match a.state.as_str() {
                        "backing_off" => format!(
                            "backing off until {}{}",
                            a.retry_at.as_deref().unwrap_or("?"),
                            a.last_error
                                .as_deref()
                                .map(|e| format!(", last error: {e}"))
                                .unwrap_or_default()
                        ),
                        other => format!("{other} since {}", a.since),
                    };
                    writeln!(
                        out,
                        "daemon: {}: {detail}; last sync {}",
                        a.account,
                        a.last_sync.as_deref().unwrap_or("never")
                    )?;
                }
                match &last_digest {
                    Some(d) => writeln!(
                        out,
                        "last digest: {} {}{}",
                        d.day,
                        d.status,
                        d.sent_at
                            .as_deref()
                            .map(|t| format!(" at {t}"))
                            .unwrap_or_default()
                    )?,
                    None => writeln!(out, "last digest: none")?,
                }
                writeln!(out, "{}", feedback.line())?;
            }
        }
        Command::Extract { file, json } => {
            let mut s = load(&cli)?;
            // With the vocabulary learned from our own mail, when there is a store.
            if s.storage_path.exists() {
                let store = open_store(&s)?;
                s.extractor = std::sync::Arc::new(store.vocabulary_extractor(&s)?);
            }
            let raw = match file {
                Some(f) => {
                    std::fs::read(f).with_context(|| format!("cannot read {}", f.display()))?
                }
                None => {
                    let mut b = Vec::new();
                    std::io::Read::read_to_end(&mut std::io::stdin(), &mut b)?;
                    b
                }
            };
            crate::extract::cli::print(&s.extractor, &s.me, &raw, now, *json, &mut out)?;
        }
        Command::Leads {
            class,
            owner,
            json,
            csv,
        } => {
            let s = load(&cli)?;
            let store = open_store(&s)?;
            let mut reports = store.compute_reports(&s, now)?;
            let team = store.team_view(&s)?;
            let owner_of = |lead: &str| {
                team.get(lead)
                    .and_then(|t| t.owner.as_ref())
                    .map(|o| o.address.clone())
            };
            if let Some(c) = class.as_deref().and_then(crate::score::Class::parse) {
                reports.retain(|r| r.class == c);
            }
            if let Some(o) = owner.as_deref() {
                let want = crate::feedback::reply::recipient_address(o);
                if want == "none" {
                    reports.retain(|r| owner_of(&r.lead).is_none());
                } else {
                    reports.retain(|r| owner_of(&r.lead).as_deref() == Some(want.as_str()));
                }
            }
            print_leads(&reports, &owner_of, *json, *csv, &mut out)?;
        }
        Command::Explain { lead, json } => {
            let s = load(&cli)?;
            let store = open_store(&s)?;
            let reports = store.compute_reports(&s, now)?;
            let want = lead.to_lowercase();
            let Some(r) = reports
                .iter()
                .find(|r| r.lead == want || r.contacts.contains(&want))
            else {
                bail!("no lead {lead:?} (try `leadsift leads` for the names)");
            };
            let team = store.team_view(&s)?;
            let owner = team.get(&r.lead).and_then(|t| t.owner.clone());
            let questions = crate::digest::questions::Questions::load(s.patterns_dir.as_deref())
                .map_err(anyhow::Error::msg)?;
            let question = questions.next_question(r);
            if *json {
                let mut doc = serde_json::to_value(r)?;
                if let Some(o) = doc.as_object_mut() {
                    o.insert("owner".into(), serde_json::to_value(&owner)?);
                    o.insert("next_question".into(), serde_json::to_value(&question)?);
                }
                serde_json::to_writer_pretty(&mut out, &doc)?;
                writeln!(out)?;
            } else {
                write!(out, "{}", crate::score::render::explain_text(r))?;
                match &owner {
                    Some(o) => writeln!(out, "owner: {} ({})", o.address, o.how)?,
                    None => writeln!(
                        out,
                        "owner: nobody yet (`leadsift tag {} owner:ADDRESS` gives it to a colleague)",
                        r.lead
                    )?,
                }
                match &question {
                    Some(q) => writeln!(
                        out,
                        "next question ({}, in {}): {}",
                        q.dimension, q.lang, q.text
                    )?,
                    None => writeln!(
                        out,
                        "next question: none (need, budget, authority and timeline are answered)"
                    )?,
                }
            }
        }
        Command::Vocabulary { json } => {
            let s = load(&cli)?;
            let store = open_store(&s)?;
            print_vocabulary(&store.vocabulary(&s)?, *json, &mut out)?;
        }
        Command::Rescore { extract } => {
            let s = load(&cli)?;
            let mut store = open_store(&s)?;
            if *extract {
                let n = store.reextract_all(&s)?;
                writeln!(out, "re-extracted {n} message(s)")?;
            }
            let n = store.rescore_all(&s, now)?;
            writeln!(out, "rescored {n} lead(s)")?;
        }
        Command::Digest {
            print,
            html,
            for_address,
            force,
            ..
        } => {
            let s = load(&cli)?;
            let mut store = open_store(&s)?;
            if *print {
                crate::digest::print(&store, &s, now, *html, for_address.as_deref(), &mut out)?;
            } else {
                let results =
                    runtime()?.block_on(crate::digest::send_today(&s, &mut store, now, *force))?;
                let mut failed = false;
                for r in results {
                    match r {
                        Ok(outcome) => writeln!(out, "{}", crate::digest::describe(&outcome))?,
                        Err(e) => {
                            failed = true;
                            eprintln!("leadsift: error: {e}");
                        }
                    }
                }
                if failed {
                    return Ok(ExitCode::FAILURE);
                }
            }
        }
        Command::Tag {
            lead,
            label,
            by,
            note,
        } => {
            let s = load(&cli)?;
            let mut store = open_store(&s)?;
            let person = by
                .clone()
                .or_else(|| std::env::var("SUDO_USER").ok())
                .or_else(|| std::env::var("USER").ok())
                .filter(|p| !p.trim().is_empty())
                .unwrap_or_else(|| "command line".into());
            if let Some(who) = label
                .strip_prefix("owner:")
                .or_else(|| label.strip_prefix("OWNER:"))
            {
                let Some(key) = store.resolve_lead(lead, &s)? else {
                    bail!("no lead {lead:?} (try `leadsift leads` for the names)");
                };
                let known: Vec<&str> =
                    s.me.addresses
                        .iter()
                        .map(String::as_str)
                        .chain(
                            s.digest
                                .iter()
                                .flat_map(|d| d.recipients.iter().map(|r| r.address.as_str())),
                        )
                        .collect();
                let Some(owner) = crate::team::resolve_person(who, known) else {
                    bail!(
                        "owner:{who}: not an email address, nor the name of exactly one colleague in [me] addresses or the digest's recipients"
                    );
                };
                store.assign_owners(&[crate::team::NewAssignment {
                    lead: key.clone(),
                    owner: owner.clone(),
                    source: crate::team::AssignmentSource::Cli,
                    message_id: None,
                    person,
                    at: now,
                }])?;
                writeln!(out, "{key}: owner set to {owner}")?;
                return Ok(ExitCode::SUCCESS);
            }
            let Some(parsed) = crate::feedback::Label::parse(label) else {
                bail!(
                    "{label:?} is not a label: use hot, nurture, drop, auto, +need, +budget, +authority, +timeline (-… withdraws), scam, not-scam, clear-risk or owner:ADDRESS"
                );
            };
            let Some(key) = store.resolve_lead(lead, &s)? else {
                bail!("no lead {lead:?} (try `leadsift leads` for the names)");
            };
            store.add_corrections(&[crate::feedback::NewCorrection {
                lead: key.clone(),
                label: parsed,
                source: crate::feedback::Source::Cli,
                message_id: None,
                person,
                at: now,
                note: note.clone(),
            }])?;
            store.rescore_leads(&std::iter::once(key.clone()).collect(), &s, now)?;
            let reports = store.compute_reports(&s, now)?;
            match reports.iter().find(|r| r.lead == key) {
                Some(r) => writeln!(
                    out,
                    "{key}: {} ({}); now {} with score {}",
                    parsed.as_str(),
                    parsed.describe(),
                    r.class_label(),
                    r.score
                )?,
                None => writeln!(out, "{key}: {} ({})", parsed.as_str(), parsed.describe())?,
            }
        }
        Command::Learn { report, json, .. } => {
            let s = load(&cli)?;
            let mut store = open_store(&s)?;
            if *report {
                let r = store.learn_report(&s, now)?;
                if *json {
                    serde_json::to_writer_pretty(&mut out, &r)?;
                    writeln!(out)?;
                } else {
                    write!(out, "{}", crate::feedback::learn::report_text(&r))?;
                }
            } else {
                use crate::store::feedback::LearnOutcome;
                match store.learn_apply(&s, now)? {
                    LearnOutcome::NotEnough { hot, dropped, min } => bail!(
                        "not enough corrections to learn from: {hot} hot and {dropped} dropped lead(s) classed by hand, {min} of each needed ([feedback] min_leads_per_class)"
                    ),
                    LearnOutcome::NothingToChange => writeln!(
                        out,
                        "the weights in force already fit the corrections: nothing stored"
                    )?,
                    LearnOutcome::Applied {
                        set_id,
                        rules,
                        dimensions,
                        rescored,
                    } => {
                        writeln!(out, "learned weight set {set_id} stored:")?;
                        for w in &rules {
                            writeln!(
                                out,
                                "  rule {} ×{:.2} (was ×{:.2}): {}",
                                w.name, w.factor, w.previous, w.reason
                            )?;
                        }
                        for w in &dimensions {
                            writeln!(
                                out,
                                "  weight {} {:.2} (was {:.2}): {}",
                                w.name, w.factor, w.previous, w.reason
                            )?;
                        }
                        writeln!(out, "rescored {rescored} lead(s)")?;
                    }
                }
            }
        }
        Command::Demo => {
            crate::demo::run(cli.now, &mut out)?;
        }
        Command::Patterns {
            action: PatternsAction::Check,
        } => {
            let s = load(&cli).ok();
            let dir = s.as_ref().and_then(|s| s.patterns_dir.clone());
            return crate::extract::cli::patterns_check(dir.as_deref(), &mut out);
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_vocabulary(
    v: &crate::store::vocabulary::Summary,
    json: bool,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    if json {
        writeln!(out, "{}", serde_json::to_string_pretty(v)?)?;
        return Ok(());
    }
    writeln!(
        out,
        "learned from {} message(s) of ours that name a product of the catalogue; {} term(s)",
        v.quoting_messages,
        v.terms.len()
    )?;
    if v.stale {
        writeln!(
            out,
            "note: learned with another [business] block; the next sync or import learns again"
        )?;
    }
    for t in &v.terms {
        writeln!(
            out,
            "{}  ({}; quoted to {} buyer(s), in {} inbound message(s))\n    e.g. \"{}\"",
            t.term, t.kind, t.messages, t.inbound, t.example
        )?;
    }
    Ok(())
}

fn print_leads(
    reports: &[crate::score::LeadReport],
    owner_of: &dyn Fn(&str) -> Option<String>,
    json: bool,
    csv: bool,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    use crate::score::render;
    if json {
        let doc: Vec<serde_json::Value> = reports
            .iter()
            .map(|r| {
                let mut v = render::lead_json(r);
                if let Some(o) = v.as_object_mut() {
                    o.insert("owner".into(), owner_of(&r.lead).into());
                }
                v
            })
            .collect();
        serde_json::to_writer_pretty(&mut *out, &doc)?;
        writeln!(out)?;
    } else if csv {
        write!(out, "{}", render::leads_csv_with_owner(reports, owner_of)?)?;
    } else {
        write!(out, "{}", render::leads_table(reports))?;
    }
    Ok(())
}
