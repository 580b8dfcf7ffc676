//! A real Dovecot (IMAP on 127.0.0.1 with plaintext, STARTTLS and implicit TLS; LMTP and SASL auth
//! sockets for Postfix) in its own temp dir on free loopback ports. Killed (process group) on drop.
//! Facts behind the settings: ../shared/notes/mail-servers.md.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use super::certs::Certs;

pub const USER: &str = "sales@example.test";
pub const PASSWORD: &str = "secret";

/// A free TCP port on 127.0.0.1 (the kernel's choice; tiny race until Dovecot binds it, retried).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("binding port 0")
}

/// Sends `sig` to a whole process group.
pub fn kill_group(pgid: i32, sig: &str) {
    let _ = Command::new("kill")
        .args([&format!("-{sig}"), "--", &format!("-{pgid}")])
        .stderr(Stdio::null())
        .status();
}

/// True when some process (not a zombie) is in process group `pgid`.
pub fn group_alive(pgid: i32) -> bool {
    let Ok(out) = Command::new("ps").args(["-eo", "pgid=,stat="]).output() else {
        return false;
    };
    String::from_utf8_lossy(&out.stdout).lines().any(|l| {
        let mut it = l.split_whitespace();
        it.next().and_then(|p| p.parse::<i32>().ok()) == Some(pgid)
            && !it.next().unwrap_or("Z").starts_with('Z')
    })
}

/// What a test needs to know of an IMAP server to run the same scenario on Dovecot and Courier.
/// Folder names here are as on the wire (modified UTF-7 is the caller's job).
pub trait Server {
    fn name(&self) -> &'static str;
    /// Plaintext + STARTTLS.
    fn imap_port(&self) -> u16;
    /// Implicit TLS.
    fn imaps_port(&self) -> u16;
    /// The throwaway CA that signed the server's certificate.
    fn ca(&self) -> &Path;
    /// What goes before a folder name below INBOX's level (`INBOX.` on Courier).
    fn prefix(&self) -> &'static str;
    /// The Sent folder's full name.
    fn sent(&self) -> &'static str;
    /// The hierarchy separator.
    fn separator(&self) -> char {
        if self.prefix().is_empty() { '/' } else { '.' }
    }
    fn log(&self) -> String;
    /// A plain IMAP connection as [`USER`], independent of leadsift's own client.
    fn client(&self) -> RawImap {
        RawImap::connect(self.imap_port())
    }
}

impl Server for Dovecot {
    fn name(&self) -> &'static str {
        "Dovecot"
    }
    fn imap_port(&self) -> u16 {
        self.imap_port
    }
    fn imaps_port(&self) -> u16 {
        self.imaps_port
    }
    fn ca(&self) -> &Path {
        &self.certs.ca
    }
    fn prefix(&self) -> &'static str {
        ""
    }
    fn sent(&self) -> &'static str {
        "Sent"
    }
    fn log(&self) -> String {
        Dovecot::log(self)
    }
}

pub struct Dovecot {
    /// Kept alive for the server's lifetime; removed on drop.
    _tmp: Option<tempfile::TempDir>,
    pub dir: PathBuf,
    pub conf: PathBuf,
    pub certs: Certs,
    pub imap_port: u16,
    pub imaps_port: u16,
    pgid: Option<i32>,
}

impl Dovecot {
    /// Starts a fresh server with one user ([`USER`]/[`PASSWORD`]), INBOX and a `\Sent` folder.
    pub fn start() -> Dovecot {
        Self::start_with_names("DNS:localhost,IP:127.0.0.1")
    }

    /// The same, with a server certificate for other names (`DNS:…,IP:…`).
    pub fn start_with_names(san: &str) -> Dovecot {
        let tmp = tempfile::Builder::new()
            .prefix("leadsift-dovecot-")
            .tempdir()
            .expect("tempdir");
        let dir = tmp.path().to_path_buf();
        // Dovecot's unprivileged processes must reach the sockets and the mail store.
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        for d in ["run", "state"] {
            std::fs::create_dir_all(dir.join(d)).expect("mkdir");
        }
        let mail = dir.join("mail");
        std::fs::create_dir_all(&mail).expect("mkdir mail");
        std::os::unix::fs::chown(&mail, Some(65534), Some(65534)).expect("chown mail");
        std::fs::write(
            dir.join("users"),
            format!("{USER}:{{PLAIN}}{PASSWORD}::::::\n"),
        )
        .expect("users");
        let certs = Certs::generate_for(&dir, "server", san);
        let mut d = Dovecot {
            _tmp: Some(tmp),
            conf: dir.join("dovecot.conf"),
            dir,
            certs,
            imap_port: 0,
            imaps_port: 0,
            pgid: None,
        };
        let mut last = String::new();
        for _ in 0..5 {
            d.imap_port = free_port();
            d.imaps_port = free_port();
            if d.imap_port == d.imaps_port {
                continue;
            }
            d.write_config();
            match d.launch() {
                Ok(()) => return d,
                Err(e) => last = e,
            }
        }
        panic!("Dovecot did not start: {last}\n{}", d.log());
    }

    fn write_config(&self) {
        let d = self.dir.display();
        let conf = format!(
            r#"base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
info_log_path = {d}/dovecot.log
protocols = imap lmtp
listen = 127.0.0.1
ssl = yes
ssl_cert = <{cert}
ssl_key = <{key}
ssl_dh = </usr/share/dovecot/dh.pem
auth_mechanisms = plain login
auth_failure_delay = 0
mail_location = maildir:~/Maildir
mail_max_userip_connections = 200
mailbox_idle_check_interval = 1 secs
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {d}/users
}}
userdb {{
  driver = static
  args = uid=65534 gid=65534 home={d}/mail/%d/%n
}}
namespace inbox {{
  inbox = yes
  separator = /
  mailbox Sent {{
    special_use = \Sent
    auto = create
  }}
}}
service imap-login {{
  inet_listener imap {{
    port = {imap}
  }}
  inet_listener imaps {{
    port = {imaps}
    ssl = yes
  }}
}}
service lmtp {{
  unix_listener lmtp {{
    mode = 0666
  }}
}}
service auth {{
  unix_listener auth-client {{
    mode = 0666
  }}
}}
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
"#,
            cert = self.certs.cert.display(),
            key = self.certs.key.display(),
            imap = self.imap_port,
            imaps = self.imaps_port,
        );
        std::fs::write(&self.conf, conf).expect("writing dovecot.conf");
    }

    /// Starts the master and waits until both ports answer.
    fn launch(&mut self) -> Result<(), String> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("dovecot.out"))
            .map_err(|e| e.to_string())?;
        // stdin/stdout/stderr away from the caller: Dovecot keeps them open after daemonizing.
        let status = Command::new("dovecot")
            .arg("-c")
            .arg(&self.conf)
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log)
            .status()
            .map_err(|e| format!("running dovecot: {e}"))?;
        if !status.success() {
            return Err(format!(
                "dovecot exited with {status}: {}",
                std::fs::read_to_string(self.dir.join("dovecot.out")).unwrap_or_default()
            ));
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        let pidfile = self.dir.join("run/master.pid");
        let pid = loop {
            if let Some(pid) = std::fs::read_to_string(&pidfile)
                .ok()
                .and_then(|s| s.trim().parse::<i32>().ok())
            {
                break pid;
            }
            if Instant::now() > deadline {
                return Err("no master.pid".into());
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        self.pgid = Some(pid);
        for port in [self.imap_port, self.imaps_port] {
            loop {
                if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    break;
                }
                if Instant::now() > deadline || !group_alive(pid) {
                    self.kill();
                    return Err(format!("port {port} never answered"));
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        Ok(())
    }

    /// SIGKILL to the whole process group: a crash, as clients see it.
    pub fn kill(&mut self) {
        if let Some(pgid) = self.pgid.take() {
            kill_group(pgid, "KILL");
            let deadline = Instant::now() + Duration::from_secs(10);
            while group_alive(pgid) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
            let _ = std::fs::remove_file(self.dir.join("run/master.pid"));
        }
    }

    /// Starts again on the same ports with the same mail store.
    pub fn restart(&mut self) {
        self.kill();
        let mut last = String::new();
        for _ in 0..50 {
            match self.launch() {
                Ok(()) => return,
                // The ports may take a moment to be free after a kill.
                Err(e) => last = e,
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("Dovecot did not restart: {last}\n{}", self.log());
    }

    pub fn is_running(&self) -> bool {
        self.pgid.is_some_and(group_alive)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("dovecot.log")).unwrap_or_default()
    }

    pub fn lmtp_socket(&self) -> PathBuf {
        self.dir.join("run/lmtp")
    }

    pub fn auth_socket(&self) -> PathBuf {
        self.dir.join("run/auth-client")
    }

    pub fn doveadm(&self, args: &[&str]) -> String {
        let out = Command::new("doveadm")
            .arg("-c")
            .arg(&self.conf)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("running doveadm");
        assert!(
            out.status.success(),
            "doveadm {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `messages`, `uidnext`, `uidvalidity`… of one folder, via doveadm.
    pub fn mailbox_status(&self, folder: &str) -> BTreeMap<String, u64> {
        let out = self.doveadm(&[
            "mailbox",
            "status",
            "-u",
            USER,
            "messages uidnext uidvalidity",
            folder,
        ]);
        out.split_whitespace()
            .filter_map(|kv| kv.split_once('='))
            .filter_map(|(k, v)| Some((k.to_string(), v.parse().ok()?)))
            .collect()
    }

    /// Adds a user `name@example.test` (same password) who can receive mail over LMTP.
    pub fn add_user(&self, address: &str) {
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(self.dir.join("users"))
            .expect("users file");
        writeln!(f, "{address}:{{PLAIN}}{PASSWORD}::::::").expect("add user");
    }

    /// Every message delivered to `address`'s INBOX, raw, read from its Maildir (oldest first).
    pub fn inbox_of(&self, address: &str) -> Vec<Vec<u8>> {
        let (local, domain) = address.split_once('@').expect("an address");
        let root = self.dir.join(format!("mail/{domain}/{local}/Maildir"));
        let mut files: Vec<PathBuf> = ["new", "cur"]
            .iter()
            .filter_map(|d| std::fs::read_dir(root.join(d)).ok())
            .flat_map(|rd| rd.flatten().map(|e| e.path()))
            .collect();
        files.sort();
        files
            .iter()
            .map(|p| std::fs::read(p).expect("a delivered message"))
            .collect()
    }

    /// The user's Maildir for `folder` (Maildir++: `.Name` below the root, INBOX at the root).
    pub fn maildir(&self, folder: &str) -> PathBuf {
        let root = self.dir.join("mail/example.test/sales/Maildir");
        if folder.eq_ignore_ascii_case("INBOX") {
            root
        } else {
            root.join(format!(".{}", folder.replace('/', ".")))
        }
    }

    /// Drops a message straight into the Maildir (much faster than APPEND for thousands).
    /// `flags` are Maildir letters (`S` seen, `F` flagged, `R` answered); the file's mtime
    /// becomes the INTERNALDATE.
    pub fn put(&self, folder: &str, raw: &[u8], flags: &str, internal_date: SystemTime) {
        static SEQ: AtomicU64 = AtomicU64::new(0);
        let md = self.maildir(folder);
        let root = self.dir.join("mail/example.test/sales/Maildir");
        for d in [&root, &md] {
            for sub in ["cur", "new", "tmp"] {
                let p = d.join(sub);
                if !p.exists() {
                    std::fs::create_dir_all(&p).expect("mkdir maildir");
                    self.chown_mail();
                }
            }
        }
        let n = SEQ.fetch_add(1, Ordering::Relaxed);
        let name = format!(
            "{}.M{n}P{}.leadsift-test,S={}:2,{flags}",
            1_700_000_000 + n,
            std::process::id(),
            raw.len()
        );
        let tmp = md.join("tmp").join(&name);
        std::fs::write(&tmp, raw).expect("writing a message");
        let f = std::fs::File::options()
            .write(true)
            .open(&tmp)
            .expect("open");
        f.set_modified(internal_date).expect("set mtime");
        drop(f);
        std::os::unix::fs::chown(&tmp, Some(65534), Some(65534)).expect("chown");
        std::fs::rename(&tmp, md.join("cur").join(&name)).expect("rename into cur");
    }

    /// Everything under the mail dir belongs to the mail user (uid 65534).
    pub fn chown_mail(&self) {
        fn walk(p: &Path) {
            let _ = std::os::unix::fs::chown(p, Some(65534), Some(65534));
            if p.is_dir()
                && let Ok(rd) = std::fs::read_dir(p)
            {
                for e in rd.flatten() {
                    walk(&e.path());
                }
            }
        }
        walk(&self.dir.join("mail"));
    }

    /// A plain IMAP connection to 127.0.0.1 (loopback counts as secure for LOGIN), independent
    /// of leadsift's own client.
    pub fn client(&self) -> RawImap {
        RawImap::connect(self.imap_port)
    }

    /// Every message in `folder`, raw, read over IMAP with [`Dovecot::client`].
    pub fn messages(&self, folder: &str) -> Vec<Vec<u8>> {
        let mut c = self.client();
        let out = c.messages(folder);
        c.logout();
        out
    }

    /// UID → flags of every message in `folder`, read with [`Dovecot::client`].
    pub fn flags(&self, folder: &str) -> BTreeMap<u32, BTreeSet<String>> {
        let mut c = self.client();
        let f = c.flags(folder);
        c.logout();
        f
    }

    /// Adds (`+FLAGS`) or removes (`-FLAGS`) `keyword` on the message with `message_id` in INBOX
    /// the way a mail client does it: Python's imaplib, SELECT (read-write), UID SEARCH, UID STORE.
    pub fn imaplib_store(&self, message_id: &str, op: &str, keyword: &str) {
        const SCRIPT: &str = r#"
import imaplib, sys
port, user, password, mid, op, kw = sys.argv[1:]
m = imaplib.IMAP4("127.0.0.1", int(port))
m.login(user, password)
typ, _ = m.select("INBOX")
assert typ == "OK", typ
typ, data = m.uid("SEARCH", None, "HEADER", "Message-ID", mid)
uids = data[0].split()
assert typ == "OK" and len(uids) == 1, (typ, data)
typ, data = m.uid("STORE", uids[0], op, "(" + kw + ")")
assert typ == "OK", (typ, data)
m.logout()
"#;
        let out = Command::new("python3")
            .args(["-c", SCRIPT])
            .args([
                &self.imap_port.to_string(),
                USER,
                PASSWORD,
                message_id,
                op,
                keyword,
            ])
            .output()
            .expect("running python3 (tests/run.sh installs it)");
        assert!(
            out.status.success(),
            "imaplib {op} {keyword}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A minimal synchronous IMAP client for the tests' own checks and changes.
pub struct RawImap {
    r: BufReader<TcpStream>,
    w: TcpStream,
    tag: u32,
}

impl RawImap {
    pub fn connect(port: u16) -> RawImap {
        let s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(30)))
            .expect("timeout");
        let mut c = RawImap {
            r: BufReader::new(s.try_clone().expect("clone")),
            w: s,
            tag: 0,
        };
        let greeting = c.line();
        assert!(greeting.starts_with("* OK"), "{greeting}");
        c.ok(&format!("LOGIN \"{USER}\" \"{PASSWORD}\""));
        c
    }

    fn line(&mut self) -> String {
        let mut l = String::new();
        self.r.read_line(&mut l).expect("reading from Dovecot");
        l
    }

    /// Sends a command and returns the untagged lines; panics unless it ends OK.
    pub fn ok(&mut self, cmd: &str) -> Vec<String> {
        let (status, lines) = self.run(cmd);
        assert!(status.contains(" OK"), "{cmd}: {status}");
        lines
    }

    /// Sends a command; returns the tagged status line and the untagged lines (literals inlined).
    pub fn run(&mut self, cmd: &str) -> (String, Vec<String>) {
        self.tag += 1;
        let tag = format!("t{}", self.tag);
        write!(self.w, "{tag} {cmd}\r\n").expect("write");
        self.collect(&tag)
    }

    fn collect(&mut self, tag: &str) -> (String, Vec<String>) {
        let mut lines = Vec::new();
        loop {
            let mut l = self.line();
            assert!(!l.is_empty(), "Dovecot closed the connection");
            // Inline any literal `{n}` so each response stays one string.
            while let Some(n) = l
                .trim_end()
                .strip_suffix('}')
                .and_then(|s| s.rsplit_once('{'))
                .and_then(|(_, n)| n.parse::<usize>().ok())
            {
                let mut buf = vec![0u8; n];
                self.r.read_exact(&mut buf).expect("literal");
                l.push_str(&String::from_utf8_lossy(&buf));
                l.push_str(&self.line());
            }
            if l.starts_with(&format!("{tag} ")) {
                return (l, lines);
            }
            lines.push(l);
        }
    }

    pub fn append(&mut self, folder: &str, flags: &str, raw: &[u8]) {
        self.tag += 1;
        let tag = format!("t{}", self.tag);
        // A synchronizing literal: not every server has LITERAL+ (Courier does not).
        write!(
            self.w,
            "{tag} APPEND \"{folder}\" ({flags}) {{{}}}\r\n",
            raw.len()
        )
        .expect("write");
        let go = self.line();
        assert!(go.starts_with('+'), "APPEND {folder}: {go}");
        self.w.write_all(raw).expect("write");
        self.w.write_all(b"\r\n").expect("write");
        let (status, _) = self.collect(&tag);
        assert!(status.contains(" OK"), "APPEND: {status}");
    }

    /// Every message in `folder` (opened read-only), raw, in UID order.
    pub fn messages(&mut self, folder: &str) -> Vec<Vec<u8>> {
        self.ok(&format!("EXAMINE \"{folder}\""));
        let mut out = Vec::new();
        for l in self.ok("UID FETCH 1:* (BODY.PEEK[])") {
            let Some(pos) = l.find("BODY[] {") else {
                continue;
            };
            let rest = &l[pos + "BODY[] {".len()..];
            let (n, rest) = rest.split_once("}\r\n").expect("literal");
            let n: usize = n.parse().expect("literal size");
            out.push(rest.as_bytes()[..n.min(rest.len())].to_vec());
        }
        out
    }

    /// UID → flags of every message in `folder` (opened read-only).
    pub fn flags(&mut self, folder: &str) -> BTreeMap<u32, BTreeSet<String>> {
        self.ok(&format!("EXAMINE \"{folder}\""));
        let mut out = BTreeMap::new();
        for l in self.ok("UID FETCH 1:* (UID FLAGS)") {
            let Some(uid) = l
                .split("UID ")
                .nth(1)
                .and_then(|s| s.split([' ', ')']).next())
                .and_then(|s| s.parse().ok())
            else {
                continue;
            };
            let flags = l
                .split("FLAGS (")
                .nth(1)
                .and_then(|s| s.split(')').next())
                .unwrap_or("")
                .split_whitespace()
                .filter(|f| *f != "\\Recent")
                .map(str::to_string)
                .collect();
            out.insert(uid, flags);
        }
        out
    }

    pub fn logout(mut self) {
        let _ = self.run("LOGOUT");
    }
}
