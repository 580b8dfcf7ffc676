//! Drives the real `leadsift` binary against test servers: writes a config, runs commands, reads
//! the resulting database.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use super::dovecot::{PASSWORD, Server, USER};

pub const ME: &str = "sales@ourco.example";

/// One `[[account]]` block.
#[derive(Debug, Clone)]
pub struct AccountConf {
    pub name: String,
    pub host: String,
    pub port: u16,
    pub tls: &'static str,
    pub ca_file: Option<PathBuf>,
    pub folders: Vec<String>,
    pub sent_folder: Option<String>,
    pub backfill_days: u32,
}

impl AccountConf {
    /// Implicit TLS to the server, trusting its CA.
    pub fn implicit(d: &impl Server) -> AccountConf {
        AccountConf {
            name: "sales".into(),
            host: "localhost".into(),
            port: d.imaps_port(),
            tls: "implicit",
            ca_file: Some(d.ca().to_path_buf()),
            folders: vec!["INBOX".into()],
            sent_folder: None,
            backfill_days: 365,
        }
    }

    pub fn starttls(d: &impl Server) -> AccountConf {
        AccountConf {
            port: d.imap_port(),
            tls: "starttls",
            ..Self::implicit(d)
        }
    }

    pub fn plaintext(d: &impl Server) -> AccountConf {
        AccountConf {
            host: "127.0.0.1".into(),
            port: d.imap_port(),
            tls: "plaintext",
            ca_file: None,
            ..Self::implicit(d)
        }
    }
}

pub struct Leadsift {
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
    pub db: PathBuf,
}

impl Leadsift {
    pub fn new(accounts: &[AccountConf], sync: &str) -> Leadsift {
        let dir = tempfile::Builder::new()
            .prefix("leadsift-run-")
            .tempdir()
            .expect("tempdir");
        let pw = dir.path().join("imap-password");
        std::fs::write(&pw, format!("{PASSWORD}\n")).expect("password file");
        let db = dir.path().join("leadsift.db");
        let mut text = format!(
            "[storage]\npath = \"{}\"\n\n[me]\naddresses = [\"{ME}\"]\n\n[sync]\n{sync}\n",
            db.display()
        );
        for a in accounts {
            text.push_str(&format!(
                "\n[[account]]\nname = \"{}\"\nhost = \"{}\"\nport = {}\ntls = \"{}\"\nusername = \"{USER}\"\npassword_file = \"{}\"\nfolders = [{}]\nbackfill_days = {}\n",
                a.name,
                a.host,
                a.port,
                a.tls,
                pw.display(),
                a.folders.iter().map(|f| format!("{f:?}")).collect::<Vec<_>>().join(", "),
                a.backfill_days,
            ));
            if let Some(ca) = &a.ca_file {
                text.push_str(&format!("ca_file = \"{}\"\n", ca.display()));
            }
            if let Some(s) = &a.sent_folder {
                text.push_str(&format!("sent_folder = {s:?}\n"));
            }
        }
        let config = dir.path().join("leadsift.toml");
        std::fs::write(&config, text).expect("config");
        Leadsift { dir, config, db }
    }

    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_leadsift"));
        c.arg("--config")
            .arg(&self.config)
            .args(args)
            .env("LEADSIFT_LOG", "leadsift=debug")
            .stdin(Stdio::null());
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().expect("running leadsift")
    }

    /// `sync --once`, asserting success; returns stdout.
    pub fn sync_ok(&self) -> String {
        let out = self.run(&["sync", "--once"]);
        assert!(
            out.status.success(),
            "sync failed ({}):\nstdout: {}\nstderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            tail(&String::from_utf8_lossy(&out.stderr), 40)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn status_json(&self) -> serde_json::Value {
        let out = self.run(&["status", "--json"]);
        assert!(
            out.status.success(),
            "status: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("status --json is JSON")
    }

    pub fn db(&self) -> rusqlite::Connection {
        rusqlite::Connection::open_with_flags(&self.db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .expect("open db")
    }

    pub fn count(&self, sql: &str) -> i64 {
        self.db().query_row(sql, [], |r| r.get(0)).expect(sql)
    }

    /// `leads --json` (with `--now` when given), asserting success.
    pub fn leads_json(&self, now: Option<&str>) -> Vec<serde_json::Value> {
        let mut args = Vec::new();
        if let Some(n) = now {
            args.extend(["--now", n]);
        }
        args.extend(["leads", "--json"]);
        let out = self.run(&args);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("leads --json is JSON")
    }

    /// Every row of `sql`, each made by `row`.
    pub fn rows<T>(
        &self,
        sql: &str,
        row: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> Vec<T> {
        let db = self.db();
        let mut st = db.prepare(sql).expect("prepare");
        st.query_map([], row)
            .expect("query")
            .map(|r| r.expect("row"))
            .collect()
    }

    /// Message-ID → direction of every stored message.
    pub fn directions(&self) -> std::collections::BTreeMap<String, String> {
        self.rows("SELECT message_id, direction FROM messages", |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .into_iter()
        .collect()
    }
}

pub fn tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A finished command for an assertion message: status, stdout, the end of stderr.
pub fn show(o: &Output) -> String {
    format!(
        "status {}\nstdout: {}\nstderr: {}",
        o.status,
        text(&o.stdout),
        tail(&text(&o.stderr), 60)
    )
}

/// The lead `name` in a `leads --json` document.
pub fn lead<'a>(leads: &'a [serde_json::Value], name: &str) -> &'a serde_json::Value {
    leads
        .iter()
        .find(|l| l["lead"] == name)
        .unwrap_or_else(|| panic!("no lead {name} in {leads:?}"))
}

/// The labels of a lead's corrections (in a `leads --json` document), oldest first.
pub fn correction_labels(lead: &serde_json::Value) -> Vec<&str> {
    lead["corrections"]
        .as_array()
        .expect("corrections")
        .iter()
        .filter_map(|c| c["label"].as_str())
        .collect()
}

/// The IMAP keyword leadsift writes for `class`.
pub fn class_keyword(class: &str) -> &'static str {
    match class {
        "hot" => "$LeadHot",
        "nurture" => "$LeadNurture",
        "drop" => "$LeadDrop",
        other => panic!("class {other}"),
    }
}

/// A set of IMAP flags, to compare with what the server has.
pub fn set(flags: &[&str]) -> BTreeSet<String> {
    flags.iter().map(|f| f.to_string()).collect()
}

/// A small, valid message.
pub fn message(id: &str, from: &str, to: &str, subject: &str, body: &str) -> Vec<u8> {
    format!(
        "Message-ID: <{id}>\r\nFrom: {from}\r\nTo: {to}\r\nSubject: {subject}\r\nDate: Mon, 2 Nov 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    )
    .into_bytes()
}

/// An inquiry from a buyer (inbound).
pub fn inquiry(n: usize) -> Vec<u8> {
    message(
        &format!("inq-{n}@buyer.example"),
        &format!("Buyer {n} <buyer{n}@buyer.example>"),
        ME,
        &format!("Inquiry {n}: 500 units of valves"),
        &format!(
            "Hello, we need a quote for 500 units, order #{n}. Delivery to Rotterdam.\r\nRegards"
        ),
    )
}

/// Our reply (outbound).
pub fn reply(n: usize) -> Vec<u8> {
    message(
        &format!("reply-{n}@ourco.example"),
        &format!("Sales <{ME}>"),
        &format!("buyer{n}@buyer.example"),
        &format!("Re: Inquiry {n}"),
        "Thank you, our quote is attached.",
    )
}

/// A reply to the digest whose Message-ID is `in_reply_to`; `extra_headers` are whole header
/// lines (each ending in CRLF) or empty.
pub fn digest_reply(
    id: &str,
    from: &str,
    in_reply_to: &str,
    extra_headers: &str,
    body: &str,
) -> Vec<u8> {
    format!(
        "Message-ID: <{id}>\r\nFrom: {from}\r\nTo: leadsift <leadsift@example.test>\r\nSubject: Re: leadsift digest\r\nDate: Fri, 20 Nov 2026 08:30:00 +0800\r\nIn-Reply-To: <{in_reply_to}>\r\nReferences: <{in_reply_to}>\r\n{extra_headers}MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{}\r\n",
        body.replace('\n', "\r\n")
    )
    .into_bytes()
}
