//! OAuth2 for the tests: turns a test [`Dovecot`] into an XOAUTH2/OAUTHBEARER server that
//! validates HS256 JWTs locally (recipe in ../shared/notes/mail-servers.md), and runs a small
//! token endpoint (Python's http.server, plain http on loopback) that mints such JWTs for the
//! refresh-token, device-code and authorization-code (PKCE) grants. The endpoint reads its
//! `state.json` on every request, so a test changes its behaviour by rewriting that file.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::dovecot::{Dovecot, USER, free_port};

/// The raw HS256 key every test uses (the server's copy is base64 of it).
pub const KEY: &[u8] = b"leadsift-test-hs256-key-0123456789abcdef";

/// Adds the oauth2 passdb to `d`'s config and restarts it.
pub fn enable(d: &mut Dovecot) {
    let keys = d.dir.join("oauth2-keys/default/HS256");
    std::fs::create_dir_all(&keys).expect("mkdir keys");
    let b64 = python(&["b64", &String::from_utf8_lossy(KEY)]);
    std::fs::write(keys.join("default"), b64.trim()).expect("key file");
    // Readable by the auth processes (they run as dovecot / $default_internal_user).
    let _ = Command::new("chmod")
        .args(["-R", "a+rX"])
        .arg(d.dir.join("oauth2-keys"))
        .status();
    let ext = d.dir.join("oauth2.conf.ext");
    std::fs::write(
        &ext,
        format!(
            "introspection_mode = local\nlocal_validation_key_dict = fs:posix:prefix={}/oauth2-keys/\nusername_attribute = email\n",
            d.dir.display()
        ),
    )
    .expect("oauth2.conf.ext");
    let conf = std::fs::read_to_string(&d.conf).expect("dovecot.conf");
    let conf = conf
        .replace(
            "auth_mechanisms = plain login\n",
            "auth_mechanisms = plain login xoauth2 oauthbearer\nauth_verbose = yes\n",
        )
        .replacen(
            "userdb {",
            &format!(
                "passdb {{\n  driver = oauth2\n  mechanisms = xoauth2 oauthbearer\n  args = {}\n}}\nuserdb {{",
                ext.display()
            ),
            1,
        );
    assert!(
        conf.contains("driver = oauth2"),
        "dovecot.conf changed shape"
    );
    std::fs::write(&d.conf, conf).expect("dovecot.conf");
    d.restart();
}

const SCRIPT: &str = r#"
import base64, hashlib, hmac, json, os, sys, time, urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()

def jwt(key, email, lifetime):
    now = int(time.time())
    header = b64u(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    claims = b64u(json.dumps({"sub": email, "email": email, "iat": now - 5, "exp": now + lifetime}).encode())
    sig = hmac.new(key, (header + "." + claims).encode(), hashlib.sha256).digest()
    return header + "." + claims + "." + b64u(sig)

if sys.argv[1] == "b64":
    print(base64.b64encode(sys.argv[2].encode()).decode()); sys.exit(0)
if sys.argv[1] == "mint":
    print(jwt(sys.argv[2].encode(), sys.argv[3], int(sys.argv[4]))); sys.exit(0)

DIR = sys.argv[2]
STATE = os.path.join(DIR, "state.json")

def load():
    with open(STATE) as f:
        return json.load(f)

def save(st):
    tmp = STATE + ".tmp"
    with open(tmp, "w") as f:
        json.dump(st, f)
    os.replace(tmp, STATE)

class H(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def reply(self, code, obj, headers=()):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def tokens(self, st):
        n = st.get("issued", 0) + 1
        st["issued"] = n
        lifetime = st.get("jwt_lifetime", 3600)
        out = {"access_token": jwt(st["key"].encode(), st["email"], lifetime),
               "token_type": "Bearer", "expires_in": st.get("expires_in", 3600)}
        if st.get("rotate", False) or st.pop("new_refresh", False):
            rt = "rt-%d" % (n + 1)
            st["valid"] = [rt]
            out["refresh_token"] = rt
        return out

    def do_GET(self):
        u = urllib.parse.urlparse(self.path)
        q = dict(urllib.parse.parse_qsl(u.query))
        st = load()
        if u.path == "/authorize":
            st["challenge"] = q.get("code_challenge")
            st["redirect_uri"] = q.get("redirect_uri")
            st["auth_scope"] = q.get("scope")
            save(st)
            loc = q["redirect_uri"] + "?" + urllib.parse.urlencode({"code": "code-1", "state": q["state"]})
            self.send_response(302)
            self.send_header("Location", loc)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.reply(404, {"error": "not_found"})

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        form = dict(urllib.parse.parse_qsl(self.rfile.read(n).decode()))
        st = load()
        grant = form.get("grant_type", "")
        with open(os.path.join(DIR, "requests.log"), "a") as f:
            f.write(json.dumps({"path": self.path, "grant_type": grant, "scope": form.get("scope"),
                                "client_id": form.get("client_id")}) + "\n")
        if form.get("client_id") != st["client_id"]:
            self.reply(401, {"error": "invalid_client"}); return
        if self.path == "/devicecode":
            save(st)
            self.reply(200, {"device_code": "dc-1", "user_code": "WDJB-MJHT",
                             "verification_uri": "http://127.0.0.1:%d/device" % self.server.server_port,
                             "expires_in": 600, "interval": 1})
            return
        if grant == "refresh_token":
            if form.get("refresh_token") not in st.get("valid", []):
                save(st)
                self.reply(400, {"error": "invalid_grant", "error_description": "AADSTS70008: the refresh token has been revoked"})
                return
            out = self.tokens(st); save(st); self.reply(200, out); return
        if grant == "urn:ietf:params:oauth:grant-type:device_code":
            polls = st.get("device_polls", 0) + 1
            st["device_polls"] = polls
            if polls < 2:
                save(st); self.reply(400, {"error": "authorization_pending"}); return
            st["new_refresh"] = True
            out = self.tokens(st); save(st); self.reply(200, out); return
        if grant == "authorization_code":
            want = st.get("challenge")
            got = b64u(hashlib.sha256(form.get("code_verifier", "").encode()).digest())
            if form.get("code") != "code-1" or got != want or form.get("redirect_uri") != st.get("redirect_uri"):
                save(st); self.reply(400, {"error": "invalid_grant", "error_description": "PKCE or redirect mismatch"}); return
            st["new_refresh"] = True
            out = self.tokens(st); save(st); self.reply(200, out); return
        self.reply(400, {"error": "unsupported_grant_type"})

srv = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[3])), H)
print("ready", flush=True)
srv.serve_forever()
"#;

fn python(args: &[&str]) -> String {
    let out = Command::new("python3")
        .arg("-c")
        .arg(SCRIPT)
        .args(args)
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "python: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// An HS256 JWT for `email` valid for `lifetime_secs` (negative: already expired).
pub fn mint(email: &str, lifetime_secs: i64) -> String {
    python(&[
        "mint",
        &String::from_utf8_lossy(KEY),
        email,
        &lifetime_secs.to_string(),
    ])
}

pub const CLIENT_ID: &str = "leadsift-test-client";

/// The token endpoint, on its own loopback port.
pub struct TokenServer {
    _tmp: tempfile::TempDir,
    pub dir: PathBuf,
    pub port: u16,
    child: Child,
}

impl TokenServer {
    /// Valid refresh tokens `valid`; `extra` merges into the state (rotate, expires_in, …).
    pub fn start(valid: &[&str], extra: serde_json::Value) -> TokenServer {
        let tmp = tempfile::Builder::new()
            .prefix("leadsift-oauth2-")
            .tempdir()
            .expect("tempdir");
        let dir = tmp.path().to_path_buf();
        let mut state = serde_json::json!({
            "key": String::from_utf8_lossy(KEY),
            "email": USER,
            "client_id": CLIENT_ID,
            "valid": valid,
        });
        if let (Some(s), Some(e)) = (state.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                s.insert(k.clone(), v.clone());
            }
        }
        std::fs::write(dir.join("state.json"), state.to_string()).expect("state");
        let mut last = String::new();
        for _ in 0..5 {
            let port = free_port();
            let mut child = Command::new("python3")
                .arg("-c")
                .arg(SCRIPT)
                .args(["serve", &dir.display().to_string(), &port.to_string()])
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .expect("python3");
            let mut line = String::new();
            let stdout = child.stdout.take().expect("stdout");
            let _ = BufReader::new(stdout).read_line(&mut line);
            if line.trim() == "ready" {
                return TokenServer {
                    _tmp: tmp,
                    dir,
                    port,
                    child,
                };
            }
            let _ = child.kill();
            let _ = child.wait();
            last = line;
        }
        panic!("the token endpoint did not start: {last}");
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn state(&self) -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(self.dir.join("state.json")).expect("state"))
            .expect("state json")
    }

    /// Changes one key of the state.
    pub fn set(&self, key: &str, value: serde_json::Value) {
        let mut st = self.state();
        st[key] = value;
        let tmp = self.dir.join("state.json.tmp");
        std::fs::write(&tmp, st.to_string()).expect("state");
        std::fs::rename(&tmp, self.dir.join("state.json")).expect("state");
    }

    /// The grant types asked for so far, in order.
    pub fn grants(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir.join("requests.log"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .map(|v| v["grant_type"].as_str().unwrap_or("").to_string())
            .collect()
    }
}

impl Drop for TokenServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The account's oauth2 lines for the refresh-token flow against `ts`.
pub fn refresh_flow_conf(ts: &TokenServer, refresh_file: Option<&Path>) -> String {
    let mut s = format!(
        "auth = \"oauth2\"\noauth2_token_url = \"{}\"\noauth2_client_id = \"{CLIENT_ID}\"\noauth2_device_url = \"{}\"\noauth2_auth_url = \"{}\"\noauth2_scopes = [\"https://outlook.office.com/IMAP.AccessAsUser.All\", \"offline_access\"]\n",
        ts.url("/token"),
        ts.url("/devicecode"),
        ts.url("/authorize"),
    );
    if let Some(f) = refresh_file {
        s.push_str(&format!(
            "oauth2_refresh_token_file = \"{}\"\n",
            f.display()
        ));
    }
    s
}

/// Replaces the account's `password_file` line in `config` with `lines`.
pub fn use_oauth2(config: &Path, lines: &str) {
    let text = std::fs::read_to_string(config).expect("config");
    let mut out = String::new();
    let mut done = false;
    for l in text.lines() {
        if !done && l.starts_with("password_file = ") {
            out.push_str(lines);
            done = true;
        } else {
            out.push_str(l);
            out.push('\n');
        }
    }
    assert!(done, "no password_file line in the config");
    std::fs::write(config, out).expect("config");
}

/// Waits (polling) until `f` holds, up to `limit`.
pub fn wait_for(what: &str, limit: Duration, mut f: impl FnMut() -> bool) {
    let t0 = Instant::now();
    while !f() {
        assert!(t0.elapsed() < limit, "{what}: not within {limit:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}
