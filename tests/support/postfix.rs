//! A real Postfix in front of a test [`Dovecot`]: plain SMTP and a submission port (STARTTLS
//! required, AUTH via Dovecot's SASL socket) on free loopback ports; mail for `example.test` goes
//! to Dovecot over LMTP, anything else bounces (nothing leaves the machine). Started only by the
//! tests that need it (it costs ~0.3 s); stopped on drop.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::dovecot::{Dovecot, USER, free_port, group_alive, kill_group};

pub struct Postfix {
    _tmp: Option<tempfile::TempDir>,
    pub dir: PathBuf,
    pub conf_dir: PathBuf,
    pub smtp_port: u16,
    pub submission_port: u16,
}

fn postfix(conf: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new("postfix")
        .arg("-c")
        .arg(conf)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("running postfix")
}

impl Postfix {
    pub fn start(d: &Dovecot) -> Postfix {
        let tmp = tempfile::Builder::new()
            .prefix("leadsift-postfix-")
            .tempdir()
            .expect("tempdir");
        let dir = tmp.path().to_path_buf();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let conf_dir = dir.join("conf");
        let queue = dir.join("queue");
        let data = dir.join("data");
        for p in [&conf_dir, &queue, &data] {
            std::fs::create_dir_all(p).expect("mkdir");
        }
        std::os::unix::fs::chown(&data, Some(uid("postfix")), None).expect("chown data");
        let mut last = String::new();
        for _ in 0..5 {
            let mut pf = Postfix {
                smtp_port: free_port(),
                submission_port: free_port(),
                dir: dir.clone(),
                conf_dir: conf_dir.clone(),
                _tmp: None,
            };
            if pf.smtp_port == pf.submission_port {
                continue;
            }
            pf.write_config(d);
            match pf.launch() {
                Ok(()) => {
                    pf._tmp = Some(tmp);
                    return pf;
                }
                Err(e) => last = e,
            }
        }
        panic!("Postfix did not start: {last}");
    }

    fn write_config(&self, d: &Dovecot) {
        let dir = self.dir.display();
        let main = format!(
            r#"compatibility_level = 3.6
queue_directory = {dir}/queue
data_directory = {dir}/data
mail_owner = postfix
setgid_group = postdrop
myhostname = mail.example.test
mydomain = example.test
myorigin = example.test
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
maillog_file = {dir}/maillog
maillog_file_prefixes = {dir}
alias_maps =
alias_database =
biff = no
virtual_mailbox_domains = example.test
virtual_transport = lmtp:unix:{lmtp}
default_transport = error:mail leaves the test machine only in tests that say so
relay_transport = error:no relaying in tests
local_transport = error:no local delivery in tests
smtpd_tls_cert_file = {cert}
smtpd_tls_key_file = {key}
smtpd_tls_security_level = may
smtpd_sasl_type = dovecot
smtpd_sasl_path = {auth}
smtpd_relay_restrictions = permit_sasl_authenticated, permit_mynetworks, reject_unauth_destination
mynetworks = 127.0.0.0/8
"#,
            lmtp = d.lmtp_socket().display(),
            auth = d.auth_socket().display(),
            cert = d.certs.cert.display(),
            key = d.certs.key.display(),
        );
        let master = format!(
            "127.0.0.1:{smtp} inet n - n - - smtpd
127.0.0.1:{sub} inet n - n - - smtpd
  -o smtpd_tls_security_level=encrypt
  -o smtpd_sasl_auth_enable=yes
  -o smtpd_client_restrictions=permit_sasl_authenticated,reject
pickup unix n - n 60 1 pickup
cleanup unix n - n - 0 cleanup
qmgr unix n - n 300 1 qmgr
tlsmgr unix - - n 1000? 1 tlsmgr
rewrite unix - - n - - trivial-rewrite
bounce unix - - n - 0 bounce
defer unix - - n - 0 bounce
trace unix - - n - 0 bounce
verify unix - - n - 1 verify
flush unix n - n 1000? 0 flush
proxymap unix - - n - - proxymap
smtp unix - - n - - smtp
relay unix - - n - - smtp
showq unix n - n - - showq
error unix - - n - - error
retry unix - - n - - error
discard unix - - n - - discard
lmtp unix - - n - - lmtp
anvil unix - - n - 1 anvil
scache unix - - n - 1 scache
postlog unix-dgram n - n - 1 postlogd
",
            smtp = self.smtp_port,
            sub = self.submission_port,
        );
        let main_cf = self.conf_dir.join("main.cf");
        let master_cf = self.conf_dir.join("master.cf");
        std::fs::write(&main_cf, main).expect("main.cf");
        std::fs::write(&master_cf, master).expect("master.cf");
        // Postfix waits before using config files younger than a second or so: back-date them.
        let past = std::time::SystemTime::now() - Duration::from_secs(60);
        for p in [&main_cf, &master_cf] {
            let f = std::fs::File::options().write(true).open(p).expect("open");
            f.set_modified(past).expect("mtime");
        }
    }

    fn launch(&self) -> Result<(), String> {
        let out = postfix(&self.conf_dir, &["start"]);
        if !out.status.success() {
            return Err(format!(
                "postfix start: {}{}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr),
                self.log()
            ));
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        for port in [self.smtp_port, self.submission_port] {
            while TcpStream::connect(("127.0.0.1", port)).is_err() {
                if Instant::now() > deadline {
                    self.stop();
                    return Err(format!("port {port} never answered\n{}", self.log()));
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        Ok(())
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("maillog")).unwrap_or_default()
    }

    fn master_pid(&self) -> Option<i32> {
        std::fs::read_to_string(self.dir.join("queue/pid/master.pid"))
            .ok()
            .and_then(|s| s.trim().parse().ok())
    }

    pub fn stop(&self) {
        let pid = self.master_pid();
        let _ = postfix(&self.conf_dir, &["abort"]);
        if let Some(pid) = pid {
            // `abort` signals the master; make sure its children are gone too.
            kill_group(pid, "KILL");
            let deadline = Instant::now() + Duration::from_secs(5);
            while group_alive(pid) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }
}

impl Drop for Postfix {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Waits (up to 20 s) until Dovecot's INBOX holds `n` messages; panics with both logs.
pub fn wait_for_messages(d: &Dovecot, n: u64, pf: &Postfix) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while d.mailbox_status("INBOX").get("messages").copied() != Some(n) {
        assert!(
            Instant::now() < deadline,
            "INBOX never held {n} message(s): {:?}\n{}\n{}",
            d.mailbox_status("INBOX"),
            pf.log(),
            d.log()
        );
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// Reads one (possibly multi-line) SMTP reply and checks its code.
fn expect(code: &str, r: &mut BufReader<TcpStream>) {
    loop {
        let mut l = String::new();
        r.read_line(&mut l).expect("read SMTP reply");
        assert!(l.starts_with(code), "expected {code}, got {l:?}");
        if l.as_bytes().get(3) != Some(&b'-') {
            break;
        }
    }
}

/// Hands one message to Postfix's SMTP port (no AUTH: loopback is in mynetworks), envelope to
/// the synced mailbox ([`USER`]), as the receiving MX would.
pub fn smtp_deliver(port: u16, envelope_from: &str, raw: &[u8]) {
    let s = TcpStream::connect(("127.0.0.1", port)).expect("connect to Postfix");
    s.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let mut r = BufReader::new(s.try_clone().expect("clone"));
    let mut w = s;
    expect("220", &mut r);
    for (cmd, code) in [
        ("EHLO client.example.test".to_string(), "250"),
        (format!("MAIL FROM:<{envelope_from}>"), "250"),
        (format!("RCPT TO:<{USER}>"), "250"),
        ("DATA".to_string(), "354"),
    ] {
        write!(w, "{cmd}\r\n").expect("write");
        expect(code, &mut r);
    }
    for line in String::from_utf8_lossy(raw).split("\r\n") {
        let dotted = if line.starts_with('.') {
            format!(".{line}")
        } else {
            line.to_string()
        };
        write!(w, "{dotted}\r\n").expect("write");
    }
    write!(w, ".\r\n").expect("write");
    expect("250", &mut r);
    write!(w, "QUIT\r\n").expect("write");
}

fn uid(user: &str) -> u32 {
    let out = Command::new("id").args(["-u", user]).output().expect("id");
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("uid")
}
