//! OAuth2 sign-in against real servers: Dovecot validating HS256 JWTs locally (XOAUTH2 /
//! OAUTHBEARER), Postfix submission authenticating through the same Dovecot, and a token endpoint
//! on loopback (tests/support/oauth2.rs). The token command, leadsift's own refresh-token flow
//! with rotation, an access token that expires under a running daemon, a revoked refresh token,
//! both `oauth2 login` flows, and the digest over SMTP XOAUTH2.

#[path = "support/certs.rs"]
mod certs;
#[path = "support/daemon.rs"]
mod daemon;
#[path = "support/dovecot.rs"]
mod dovecot;
#[path = "support/oauth2.rs"]
mod oauth2;
#[path = "support/postfix.rs"]
mod postfix;
#[path = "support/leadsift.rs"]
mod run;
#[path = "digest_support/seed.rs"]
mod seed;

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::process::Stdio;
use std::time::Duration;

use dovecot::{Dovecot, USER};
use oauth2::TokenServer;
use run::{AccountConf, Leadsift, message, show, text};

fn oauth2_dovecot() -> Dovecot {
    let mut d = Dovecot::start();
    oauth2::enable(&mut d);
    d
}

fn append(d: &Dovecot, n: usize) {
    let mut c = d.client();
    c.append(
        "INBOX",
        "",
        &message(
            &format!("rfq-{n}@buyer.example"),
            "Li <li@buyer.example>",
            USER,
            "RFQ: 500 valves",
            "Please quote 500 pcs of DN50 ball valves, delivery in March.",
        ),
    );
    c.logout();
}

fn messages(ls: &Leadsift) -> i64 {
    ls.count("SELECT COUNT(*) FROM messages")
}

fn state_file(ls: &Leadsift) -> std::path::PathBuf {
    ls.dir.path().join("oauth2/sales.refresh")
}

fn mode(p: &std::path::Path) -> u32 {
    std::fs::metadata(p).expect("stat").permissions().mode() & 0o777
}

#[test]
fn token_command_signs_in_and_a_refused_token_names_the_account() {
    let d = oauth2_dovecot();
    append(&d, 1);
    let ls = Leadsift::new(&[AccountConf::implicit(&d)], "");
    let token = ls.dir.path().join("access-token");
    std::fs::write(&token, oauth2::mint(USER, 3600)).expect("token");
    oauth2::use_oauth2(
        &ls.config,
        &format!(
            "auth = \"oauth2\"\noauth2_token_command = \"cat {}\"\n",
            token.display()
        ),
    );
    ls.sync_ok();
    assert_eq!(messages(&ls), 1);

    // An expired token from the helper: a sentence naming the account, never the token.
    let expired = oauth2::mint(USER, -60);
    std::fs::write(&token, &expired).expect("token");
    let out = ls.run(&["sync", "--once"]);
    assert!(!out.status.success(), "{}", show(&out));
    let err = text(&out.stderr);
    assert!(
        err.contains("account \"sales\"")
            && err.contains("refused the OAuth2 access token")
            && err.contains(USER),
        "{err}"
    );
    assert!(!err.contains(&expired), "the token must not be logged");
    assert!(d.log().contains("expired"), "{}", d.log());

    // A helper that fails: its own words, and the account.
    let cfg = std::fs::read_to_string(&ls.config)
        .expect("config")
        .replace(
            &format!("oauth2_token_command = \"cat {}\"", token.display()),
            "oauth2_token_command = \"echo 'pizauth: account not authorised' >&2; exit 1\"",
        );
    std::fs::write(&ls.config, cfg).expect("config");
    let out = ls.run(&["sync", "--once"]);
    assert!(!out.status.success(), "{}", show(&out));
    let err = text(&out.stderr);
    assert!(
        err.contains("account \"sales\"")
            && err.contains("oauth2_token_command")
            && err.contains("pizauth: account not authorised"),
        "{err}"
    );
}

#[test]
fn refresh_flow_rotates_the_refresh_token_and_a_revoked_one_names_the_account() {
    let d = oauth2_dovecot();
    append(&d, 1);
    let ts = TokenServer::start(&["rt-1"], serde_json::json!({"rotate": true}));
    let ls = Leadsift::new(&[AccountConf::implicit(&d)], "");
    let seed_file = ls.dir.path().join("seed.refresh");
    std::fs::write(&seed_file, "rt-1\n").expect("seed");
    oauth2::use_oauth2(
        &ls.config,
        &oauth2::refresh_flow_conf(&ts, Some(&seed_file)),
    );
    ls.sync_ok();
    assert_eq!(messages(&ls), 1);
    assert_eq!(ts.grants(), ["refresh_token"]);
    // The provider rotated it: the new one is kept, 0600, in the state directory.
    let sf = state_file(&ls);
    assert_eq!(std::fs::read_to_string(&sf).expect("state file"), "rt-2\n");
    assert_eq!(mode(&sf), 0o600);
    assert_eq!(mode(sf.parent().expect("dir")), 0o700);

    // The next run spends the rotated one (the seed is no longer valid at the provider).
    append(&d, 2);
    ls.sync_ok();
    assert_eq!(messages(&ls), 2);
    assert_eq!(std::fs::read_to_string(&sf).expect("state file"), "rt-3\n");

    // Revoked at the provider: a clear error naming the account and the way out.
    ts.set("valid", serde_json::json!([]));
    let out = ls.run(&["sync", "--once"]);
    assert!(!out.status.success(), "{}", show(&out));
    let err = text(&out.stderr);
    assert!(
        err.contains("account \"sales\"")
            && err.contains("invalid_grant")
            && err.contains("leadsift oauth2 login sales"),
        "{err}"
    );
    assert!(
        !err.contains("rt-3"),
        "the refresh token must not be logged"
    );
}

#[test]
fn daemon_renews_an_expired_access_token_and_syncs_on() {
    let d = oauth2_dovecot();
    append(&d, 1);
    // Access tokens live 4 s, though the endpoint claims an hour: the server is the one that
    // notices, as when a provider revokes early or clocks differ.
    let ts = TokenServer::start(
        &["rt-1"],
        serde_json::json!({"rotate": true, "jwt_lifetime": 4, "expires_in": 3600}),
    );
    let ls = Leadsift::new(&[AccountConf::implicit(&d)], daemon::DAEMON_CONF);
    let seed_file = ls.dir.path().join("seed.refresh");
    std::fs::write(&seed_file, "rt-1\n").expect("seed");
    oauth2::use_oauth2(
        &ls.config,
        &oauth2::refresh_flow_conf(&ts, Some(&seed_file)),
    );
    let dm = daemon::Daemon::start(&ls, &[]);
    dm.wait_until(
        "first message synced",
        Duration::from_secs(30),
        Duration::from_millis(50),
        || daemon::count(&ls, "SELECT COUNT(*) FROM messages") == 1,
    );
    let refreshes = ts.grants().len();
    // Let the cached access token expire (the JWT's own exp), then new mail arrives.
    std::thread::sleep(Duration::from_secs(5));
    append(&d, 2);
    dm.wait_until(
        "second message synced after the token expired",
        Duration::from_secs(30),
        Duration::from_millis(50),
        || daemon::count(&ls, "SELECT COUNT(*) FROM messages") == 2,
    );
    let log = dm.log();
    assert!(
        log.contains("refused the cached OAuth2 access token"),
        "{}",
        run::tail(&log, 40)
    );
    assert!(ts.grants().len() > refreshes, "{:?}", ts.grants());
    assert!(d.log().contains("Token has expired"), "{}", d.log());
    // The latest rotated refresh token is the one on disk.
    let valid = ts.state()["valid"][0].as_str().unwrap_or("").to_string();
    assert_eq!(
        std::fs::read_to_string(state_file(&ls)).expect("state file"),
        format!("{valid}\n")
    );
    let (ok, _, log) = dm.stop(Duration::from_secs(20));
    assert!(ok, "{}", run::tail(&log, 40));
}

#[test]
fn device_code_login_stores_the_refresh_token_and_sync_uses_it() {
    let d = oauth2_dovecot();
    append(&d, 1);
    let ts = TokenServer::start(&[], serde_json::json!({}));
    let ls = Leadsift::new(&[AccountConf::implicit(&d)], "");
    oauth2::use_oauth2(&ls.config, &oauth2::refresh_flow_conf(&ts, None));

    // Before signing in: the error says how.
    let out = ls.run(&["sync", "--once"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("leadsift oauth2 login sales"),
        "{}",
        show(&out)
    );

    let out = ls.run(&["oauth2", "login", "sales"]);
    assert!(out.status.success(), "{}", show(&out));
    let said = text(&out.stdout);
    assert!(
        said.contains(&ts.url("/device")) && said.contains("WDJB-MJHT"),
        "{said}"
    );
    let sf = state_file(&ls);
    assert_eq!(std::fs::read_to_string(&sf).expect("state file"), "rt-2\n");
    assert_eq!(mode(&sf), 0o600);
    let grants = ts.grants();
    assert_eq!(
        grants,
        [
            "",
            "urn:ietf:params:oauth:grant-type:device_code",
            "urn:ietf:params:oauth:grant-type:device_code"
        ],
        "device authorization, one pending poll, then the tokens"
    );
    ls.sync_ok();
    assert_eq!(messages(&ls), 1);
}

#[test]
fn browser_login_with_pkce_and_a_loopback_redirect() {
    let d = oauth2_dovecot();
    append(&d, 1);
    let ts = TokenServer::start(&[], serde_json::json!({}));
    let ls = Leadsift::new(&[AccountConf::implicit(&d)], "");
    oauth2::use_oauth2(&ls.config, &oauth2::refresh_flow_conf(&ts, None));
    let mut child = ls
        .cmd(&["oauth2", "login", "sales", "--browser"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn login");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let url = loop {
        let l = lines.next().expect("login printed no URL").expect("stdout");
        if l.starts_with(&ts.url("/authorize")) {
            break l;
        }
    };
    assert!(
        url.contains("code_challenge_method=S256") && url.contains("redirect_uri=http"),
        "{url}"
    );
    // The "browser": follows the provider's redirect to leadsift's listener.
    let out = std::process::Command::new("python3")
        .args([
            "-c",
            "import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1]).read().decode())",
            &url,
        ])
        .output()
        .expect("python3");
    assert!(out.status.success(), "{}", show(&out));
    assert!(text(&out.stdout).contains("signed in"), "{}", show(&out));
    let status = child.wait().expect("wait");
    assert!(status.success());
    assert_eq!(
        std::fs::read_to_string(state_file(&ls)).expect("state file"),
        "rt-2\n"
    );
    assert!(ts.grants().contains(&"authorization_code".to_string()));
    ls.sync_ok();
    assert_eq!(messages(&ls), 1);
}

#[test]
fn digest_goes_out_over_smtp_xoauth2() {
    let d = oauth2_dovecot();
    let pf = postfix::Postfix::start(&d);
    let ls = Leadsift::new(&[], "");
    let token = ls.dir.path().join("smtp-token");
    std::fs::write(&token, oauth2::mint(USER, 3600)).expect("token");
    let mut config = std::fs::read_to_string(&ls.config).expect("config");
    config.push_str(&format!(
        "\n[smtp]\nhost = \"localhost\"\nport = {}\ntls = \"starttls\"\nca_file = \"{}\"\nusername = \"{USER}\"\nauth = \"oauth2\"\noauth2_token_command = \"cat {}\"\nfrom = \"leadsift <leadsift@example.test>\"\n\n[digest]\nto = [\"{USER}\"]\ntime = \"08:00\"\ntimezone = \"Asia/Shanghai\"\n",
        pf.submission_port,
        d.certs.ca.display(),
        token.display()
    ));
    std::fs::write(&ls.config, config).expect("config");
    let settings = leadsift::config::Settings::load(&ls.config).expect("config loads");
    seed::store(&settings, &seed::three_leads());
    let out = ls.run(&["--now", seed::NOW, "digest", "--send"]);
    assert!(out.status.success(), "{}\n{}", show(&out), pf.log());
    postfix::wait_for_messages(&d, 1, &pf);
    assert!(pf.log().contains("sasl_method=XOAUTH2"), "{}", pf.log());

    // A refused token: the digest is not marked sent, and the error names [smtp].
    std::fs::write(&token, oauth2::mint("someone.else@example.test", 3600)).expect("token");
    let out = ls.run(&["--now", "2026-11-21T08:00:00+08:00", "digest", "--send"]);
    assert!(!out.status.success(), "{}", show(&out));
    let err = text(&out.stderr);
    assert!(
        err.contains("[smtp]") && err.contains("refused the OAuth2 access token"),
        "{err}"
    );
}
