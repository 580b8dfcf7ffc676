//! A real Courier IMAP 5 (plaintext + STARTTLS and implicit TLS on 127.0.0.1, one user with the
//! same name and password as the Dovecot harness) in its own temp dir on free ports. Its Debian
//! packages conflict with dovecot-imapd, so tests/courier-setup.sh unpacks them into
//! target/courier/root; Courier's compiled-in paths (/etc/courier for authdaemonrc and the
//! userdb, /run/courier for the authdaemon socket, /usr/lib/courier-authlib for its modules) are
//! and gamin's /usr/libexec/gam_server) are
//! bound to this server's own directories in a private mount namespace (`unshare --mount`), so
//! servers of parallel tests never meet. Needs root, like the rest of the suite.
//!
//! Stock settings where they matter to leadsift: no CONDSTORE, keywords on (`IMAP_KEYWORDS=1`),
//! no FAM, so IDLE checks the mailbox every `IMAP_IDLE_TIMEOUT` (60 s) and when IDLE ends.
#![allow(dead_code)]

use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::certs::Certs;
use super::dovecot::{PASSWORD, RawImap, Server, USER, free_port, group_alive, kill_group};

/// Where tests/courier-setup.sh unpacks the packages.
fn root() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/courier");
    if !dir.join(".complete").exists() {
        let st = Command::new("bash")
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/courier-setup.sh"))
            .arg(&dir)
            .status()
            .expect("running tests/courier-setup.sh");
        assert!(st.success(), "tests/courier-setup.sh failed");
    }
    // /run may have been emptied since (tmpfs): the mount points must exist.
    for d in [
        "/etc/courier",
        "/run/courier",
        "/usr/lib/courier-authlib",
        "/usr/libexec",
    ] {
        std::fs::create_dir_all(d).expect("creating Courier's mount points (needs root)");
    }
    dir.join("root")
}

pub struct Courier {
    _tmp: tempfile::TempDir,
    pub dir: PathBuf,
    pub certs: Certs,
    pub imap_port: u16,
    pub imaps_port: u16,
    /// `IMAP_IDLE_TIMEOUT`: how often imapd looks for new mail during IDLE.
    pub idle_check_secs: u32,
    pgid: Option<i32>,
    /// The private mount namespace (`mnt:[…]`): every process in it is this server's, including
    /// those that left the process group (couriertcpd, gamin's gam_server).
    ns: Option<String>,
}

const START: &str = r#"#!/bin/sh
# Runs inside `unshare --mount --propagation private`: Courier's compiled-in paths become ours.
set -e
D=$1 R=$2
mount --bind "$D/etc" /etc/courier
mount --bind "$D/run" /run/courier
mount --bind "$D/authlib" /usr/lib/courier-authlib
mount --bind "$D/libexec" /usr/libexec
mkdir -p /run/courier/authdaemon
export LD_LIBRARY_PATH="$R/usr/lib:$R/usr/lib/x86_64-linux-gnu"
"$R/usr/lib/courier/courier-authlib/authdaemond" >>"$D/authdaemond.log" 2>&1 &
echo $! >>"$D/pids"
. "$D/imapd.env"
"$R/usr/sbin/couriertcpd" -address=127.0.0.1 -nodnslookup -noidentlookup -maxprocs=100 -maxperip=100 \
    -stderr="$D/imapd.log" "$3" "$R/usr/lib/courier/courier/imaplogin" "$R/usr/bin/imapd" Maildir &
# couriertcpd makes itself a process-group leader: each group is signalled on its own.
echo $! >>"$D/pids"
IMAP_TLS=1 "$R/usr/sbin/couriertcpd" -address=127.0.0.1 -nodnslookup -noidentlookup -maxprocs=100 -maxperip=100 \
    -stderr="$D/imapd.log" "$4" "$R/usr/bin/couriertls" -server -tcpd \
    "$R/usr/lib/courier/courier/imaplogin" "$R/usr/bin/imapd" Maildir &
echo $! >>"$D/pids"
wait
"#;

impl Courier {
    /// Starts a fresh server with INBOX and INBOX.Sent, stock IDLE behaviour.
    pub fn start() -> Courier {
        Self::start_with_idle_check(60)
    }

    pub fn start_with_idle_check(idle_check_secs: u32) -> Courier {
        let root = root();
        let tmp = tempfile::Builder::new()
            .prefix("leadsift-courier-")
            .tempdir()
            .expect("tempdir");
        let dir = tmp.path().to_path_buf();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        for d in ["etc", "run", "authlib", "libexec"] {
            std::fs::create_dir_all(dir.join(d)).expect("mkdir");
        }
        // gamin's file-alteration monitor, where libgamin looks for it (/usr/libexec).
        std::fs::copy(
            root.join("usr/libexec/gam_server"),
            dir.join("libexec/gam_server"),
        )
        .expect("copy gam_server");
        // authdaemond loads its modules from /usr/lib/courier-authlib: a copy of the unpacked ones.
        for e in std::fs::read_dir(root.join("usr/lib/courier-authlib")).expect("authlib modules") {
            let e = e.expect("entry");
            let to = dir.join("authlib").join(e.file_name());
            if e.file_type().expect("type").is_symlink() {
                let target = std::fs::read_link(e.path()).expect("readlink");
                std::os::unix::fs::symlink(target, to).expect("symlink");
            } else {
                std::fs::copy(e.path(), to).expect("copy module");
            }
        }
        std::fs::write(
            dir.join("etc/authdaemonrc"),
            "authmodulelist=\"authuserdb\"\ndaemons=2\nauthdaemonvar=/run/courier/authdaemon\nDEBUG_LOGIN=0\nDEFAULTOPTIONS=\"\"\nLOGGEROPTS=\"\"\n",
        )
        .expect("authdaemonrc");

        // The mail store: Maildir++ (`INBOX.Name` is `.Name`), owned by the mail user.
        let home = dir.join("mail/sales");
        let maildir = home.join("Maildir");
        for f in ["", ".Sent"] {
            for sub in ["cur", "new", "tmp"] {
                std::fs::create_dir_all(maildir.join(f).join(sub)).expect("maildir");
            }
        }
        chown_tree(&dir.join("mail"));

        // The userdb, built as makeuserdb does: `user<TAB>fields`, the password hash in the
        // shadow file, both through makedatprog into GDBM files.
        let hash = Command::new("openssl")
            .args(["passwd", "-6", PASSWORD])
            .output()
            .expect("openssl passwd");
        let hash = String::from_utf8_lossy(&hash.stdout).trim().to_string();
        let env = [(
            "LD_LIBRARY_PATH",
            format!(
                "{r}/usr/lib:{r}/usr/lib/x86_64-linux-gnu",
                r = root.display()
            ),
        )];
        let makedat = |input: String, name: &str| {
            let mut child = Command::new(root.join("usr/lib/courier/courier-authlib/makedatprog"))
                .arg("-")
                .arg(dir.join(format!("etc/{name}.tmp")))
                .arg(dir.join(format!("etc/{name}.dat")))
                .envs(env.iter().map(|(k, v)| (k, v)))
                .stdin(Stdio::piped())
                .spawn()
                .expect("makedatprog");
            use std::io::Write;
            child
                .stdin
                .take()
                .expect("stdin")
                .write_all(input.as_bytes())
                .expect("write");
            assert!(child.wait().expect("wait").success(), "makedatprog {name}");
        };
        makedat(
            format!(
                "{USER}\tuid=65534|gid=65534|home={}|mail={}|_=\n.\n",
                home.display(),
                maildir.display()
            ),
            "userdb",
        );
        makedat(format!("{USER}\tsystempw={hash}\n.\n"), "userdbshadow");

        // couriertls wants the key and the certificate in one file; it reads it as `courier`.
        let certs = Certs::generate(&dir, "server");
        let pem = format!(
            "{}{}",
            std::fs::read_to_string(&certs.key).expect("key"),
            std::fs::read_to_string(&certs.cert).expect("cert")
        );
        std::fs::write(dir.join("imapd.pem"), pem).expect("pem");
        std::fs::set_permissions(
            dir.join("imapd.pem"),
            std::fs::Permissions::from_mode(0o644),
        )
        .expect("chmod pem");
        // What /etc/courier/imapd and imapd-ssl would set, stock where it matters.
        let caps = "IMAP4rev1 UIDPLUS CHILDREN NAMESPACE THREAD=ORDEREDSUBJECT THREAD=REFERENCES SORT QUOTA IDLE";
        std::fs::write(
            dir.join("imapd.env"),
            format!(
                "export IMAP_CAPABILITY='{caps}'\nexport IMAP_CAPABILITY_TLS='{caps} AUTH=PLAIN'\n\
                 export IMAP_KEYWORDS=1 IMAP_ACL=1 IMAP_IDLE_TIMEOUT={idle_check_secs} IMAP_ENHANCEDIDLE=0\n\
                 export IMAP_UMASK=022 IMAP_ULIMITD=131072 IMAP_USELOCKS=1 IMAP_MAILBOX_SANITY_CHECK=0\n\
                 export IMAP_TRASHFOLDERNAME=Trash IMAP_EMPTYTRASH= IMAP_MOVE_EXPUNGE_TO_TRASH=0 MAILDIRPATH=Maildir\n\
                 export IMAP_STARTTLS=YES IMAP_TLS_REQUIRED=0 COURIERTLS='{}/usr/bin/couriertls'\n\
                 export TLS_CERTFILE='{}' TLS_VERIFYPEER=NONE\n",
                root.display(),
                dir.join("imapd.pem").display(),
            ),
        )
        .expect("imapd.env");
        std::fs::write(dir.join("start.sh"), START).expect("start.sh");

        let mut c = Courier {
            _tmp: tmp,
            dir,
            certs,
            imap_port: 0,
            imaps_port: 0,
            idle_check_secs,
            pgid: None,
            ns: None,
        };
        let mut last = String::new();
        for _ in 0..5 {
            c.imap_port = free_port();
            c.imaps_port = free_port();
            if c.imap_port == c.imaps_port {
                continue;
            }
            match c.launch(&root) {
                Ok(()) => return c,
                Err(e) => last = e,
            }
        }
        panic!("Courier did not start: {last}\n{}", c.log());
    }

    fn launch(&mut self, root: &Path) -> Result<(), String> {
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("courier.out"))
            .map_err(|e| e.to_string())?;
        let child = Command::new("unshare")
            .args(["--mount", "--propagation", "private", "sh"])
            .arg(self.dir.join("start.sh"))
            .arg(&self.dir)
            .arg(root)
            .arg(self.imap_port.to_string())
            .arg(self.imaps_port.to_string())
            .stdin(Stdio::null())
            .stdout(out.try_clone().map_err(|e| e.to_string())?)
            .stderr(out)
            // Its own process group, so one signal stops every Courier process.
            .process_group(0)
            .spawn()
            .map_err(|e| format!("running unshare: {e}"))?;
        let pgid = child.id() as i32;
        self.pgid = Some(pgid);
        // Reaped by whoever; we track the group.
        drop(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        let socket = self.dir.join("run/authdaemon/socket");
        loop {
            let up = socket.exists()
                && [self.imap_port, self.imaps_port]
                    .iter()
                    .all(|&p| TcpStream::connect(("127.0.0.1", p)).is_ok());
            if up {
                self.ns = std::fs::read_link(format!("/proc/{pgid}/ns/mnt"))
                    .ok()
                    .map(|p| p.display().to_string());
                return Ok(());
            }
            if Instant::now() > deadline || !group_alive(pgid) {
                self.kill();
                return Err(format!(
                    "not listening on {}/{}: {}",
                    self.imap_port,
                    self.imaps_port,
                    std::fs::read_to_string(self.dir.join("courier.out")).unwrap_or_default()
                ));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// SIGKILL to the launcher's group and to each group couriertcpd made for itself.
    pub fn kill(&mut self) {
        if let Some(pgid) = self.pgid.take() {
            let pids = std::fs::read_to_string(self.dir.join("pids")).unwrap_or_default();
            let mut groups: Vec<i32> = pids.lines().filter_map(|l| l.trim().parse().ok()).collect();
            groups.push(pgid);
            for &g in &groups {
                kill_group(g, "KILL");
                let _ = Command::new("kill")
                    .args(["-KILL", &g.to_string()])
                    .stderr(Stdio::null())
                    .status();
            }
            let deadline = Instant::now() + Duration::from_secs(10);
            while groups.iter().any(|&g| group_alive(g)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
            let _ = std::fs::remove_file(self.dir.join("pids"));
        }
        if let Some(ns) = self.ns.take() {
            let mine = std::fs::read_link("/proc/self/ns/mnt").map(|p| p.display().to_string());
            if mine.as_deref().is_ok_and(|m| *m == ns) {
                return;
            }
            for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
                let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else {
                    continue;
                };
                let in_ns = std::fs::read_link(e.path().join("ns/mnt"))
                    .is_ok_and(|p| p.display().to_string() == ns);
                if in_ns {
                    let _ = Command::new("kill")
                        .args(["-KILL", &pid.to_string()])
                        .stderr(Stdio::null())
                        .status();
                }
            }
        }
    }

    pub fn log(&self) -> String {
        let mut s = std::fs::read_to_string(self.dir.join("imapd.log")).unwrap_or_default();
        s.push_str(&std::fs::read_to_string(self.dir.join("authdaemond.log")).unwrap_or_default());
        s
    }

    /// The Maildir++ directory of `folder` (`INBOX` or `INBOX.Name`).
    pub fn maildir(&self, folder: &str) -> PathBuf {
        let root = self.dir.join("mail/sales/Maildir");
        match folder.strip_prefix("INBOX.") {
            Some(rest) => root.join(format!(".{rest}")),
            None => root,
        }
    }
}

impl Server for Courier {
    fn name(&self) -> &'static str {
        "Courier"
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
        "INBOX."
    }
    fn sent(&self) -> &'static str {
        "INBOX.Sent"
    }
    fn log(&self) -> String {
        Courier::log(self)
    }
}

impl Drop for Courier {
    fn drop(&mut self) {
        self.kill();
    }
}

fn chown_tree(p: &Path) {
    let _ = std::os::unix::fs::chown(p, Some(65534), Some(65534));
    if p.is_dir()
        && let Ok(rd) = std::fs::read_dir(p)
    {
        for e in rd.flatten() {
            chown_tree(&e.path());
        }
    }
}

/// A plain IMAP connection to a Courier, like [`super::dovecot::Dovecot::client`].
pub fn client(c: &Courier) -> RawImap {
    RawImap::connect(c.imap_port)
}
