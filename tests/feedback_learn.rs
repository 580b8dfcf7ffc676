//! Corrections from the command line and learning from them, on a seeded history: `tag` records
//! who and when and holds the class; `learn --report` counts each rule's firings on hand-classed
//! leads; `learn --apply` refuses with too few corrections, then stores bounded weights that the
//! next scoring uses and `explain` shows.

// The harness module names Dovecot's test user; no server is started here.
#[path = "support/certs.rs"]
mod certs;
#[path = "support/dovecot.rs"]
mod dovecot;
#[path = "support/leadsift.rs"]
mod run;

use std::process::Output;

use serde_json::Value;

const NOW: &str = "--now=2026-11-20T08:00:00Z";

fn ok(o: Output) -> String {
    assert!(
        o.status.success(),
        "status {}\nstdout: {}\nstderr: {}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        run::tail(&String::from_utf8_lossy(&o.stderr), 30)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn json(ls: &run::Leadsift, args: &[&str]) -> Value {
    let mut a = vec![NOW];
    a.extend_from_slice(args);
    serde_json::from_str(&ok(ls.run(&a))).expect("JSON")
}

fn config(ls: &run::Leadsift, min: u32) {
    config_with(ls, min, "");
}

/// The harness config (storage, [me]) plus a catalogue and `[feedback]` bounds; `tail` goes
/// after them (more `[feedback]` keys, then other sections).
fn config_with(ls: &run::Leadsift, min: u32, tail: &str) {
    let base = std::fs::read_to_string(&ls.config).expect("config");
    let base = base
        .split("\n[business]")
        .next()
        .unwrap_or(&base)
        .to_string();
    std::fs::write(
        &ls.config,
        format!(
            "{base}\n[business]\nproducts = [\"ball valve\", \"ball valves\"]\n\n[feedback]\nmin_leads_per_class = {min}\nweight_floor = 0.5\nweight_cap = 1.5\n{tail}"
        ),
    )
    .expect("config");
}

/// Sixteen leads classed by hand: eight hot, seven dropped, one marked a scam (counts as dropped).
fn classify(ls: &run::Leadsift) {
    for i in 0..8 {
        ok(ls.run(&[NOW, "tag", &format!("hot{i}.example"), "hot", "--by", "ann"]));
    }
    for i in 0..7 {
        ok(ls.run(&[
            NOW,
            "tag",
            &format!("buyer@drop{i}.example"),
            "drop",
            "--by",
            "bob",
        ]));
    }
    ok(ls.run(&[NOW, "tag", "drop7.example", "scam", "--by", "bob"]));
}

/// Eight buyers who state a target price and their authority (to be classed hot), eight
/// "send your price list" mails (to be dropped; two of them also name a target price), and three
/// target-price inquiries nobody classes.
fn seed(ls: &run::Leadsift) {
    let dir = ls.dir.path().join("mail");
    std::fs::create_dir_all(&dir).expect("mail dir");
    let mut n = 0;
    let mut write = |domain: &str, body: &str| {
        n += 1;
        let raw = run::message(
            &format!("m{n}@{domain}"),
            &format!("Buyer <buyer@{domain}>"),
            "sales@ourco.example",
            "Inquiry: ball valves",
            body,
        );
        std::fs::write(dir.join(format!("{n}.eml")), raw).expect("eml");
    };
    for i in 0..8 {
        write(
            &format!("hot{i}.example"),
            "Dear team,\r\nWe need 400 pcs ball valves DN50 for a project. Our target price is USD 40 per piece.\r\nI am the purchasing manager.\r\nBest regards",
        );
    }
    for i in 0..8 {
        let extra = if i < 2 {
            " Our target price is USD 40."
        } else {
            ""
        };
        write(
            &format!("drop{i}.example"),
            &format!("Dear Sir/Madam, kindly send your price list and catalogue.{extra}"),
        );
    }
    for i in 0..3 {
        write(
            &format!("open{i}.example"),
            "Hello, we need 200 pcs ball valves. Our target price is USD 40 per piece.",
        );
    }
    ok(ls.run(&[NOW, "import", dir.to_str().expect("utf-8 path")]));
}

#[test]
fn tag_holds_and_learning_counts_and_applies_bounded_weights() {
    let ls = run::Leadsift::new(&[], "");
    config(&ls, 20);
    seed(&ls);

    // The rule behind "target price", as explain names it.
    let hot0 = json(&ls, &["explain", "--json", "hot0.example"]);
    let rule = hot0["contributions"]
        .as_array()
        .expect("contributions")
        .iter()
        .find(|c| c["evidence"].as_str() == Some("target price"))
        .and_then(|c| c["rule"].as_str())
        .expect("a target-price rule fired")
        .to_string();
    let raw_before = hot0["contributions"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["rule"].as_str() == Some(&rule)))
        .and_then(|c| c["raw"].as_f64())
        .expect("raw weight");

    // Class by hand: eight hot, seven dropped, one marked a scam (counts as dropped).
    classify(&ls);
    // Unknown leads and labels are refused with a clear message.
    let o = ls.run(&[NOW, "tag", "nobody.example", "hot"]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("no lead \"nobody.example\""));
    let o = ls.run(&[NOW, "tag", "hot0.example", "warm"]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("is not a label"));

    // The manual class holds, with who and when, and the automatic one beside it.
    let leads = json(&ls, &["leads", "--json"]);
    let lead = |name: &str| {
        leads
            .as_array()
            .and_then(|a| a.iter().find(|l| l["lead"] == name))
            .cloned()
            .expect(name)
    };
    let d0 = lead("drop0.example");
    assert_eq!(d0["class"], "drop");
    assert_eq!(d0["manual"], true);
    assert_eq!(d0["set_by"]["person"], "bob");
    assert_eq!(d0["set_by"]["source"], "cli");
    assert_eq!(lead("open0.example")["manual"], false);
    let text = ok(ls.run(&[NOW, "explain", "hot1.example"]));
    assert!(
        text.contains("hot by ann via command line on 2026-11-20 08:00 UTC"),
        "{text}"
    );

    let status = json(&ls, &["status", "--json"]);
    assert_eq!(status["feedback"]["corrections"]["cli"], 16);

    // The report: the target-price rule fired on all 8 hot leads and 2 dropped ones (the three
    // unclassed leads do not count).
    let report = json(&ls, &["learn", "--report", "--json"]);
    assert_eq!(report["hot"], 8);
    assert_eq!(report["dropped"], 8);
    assert_eq!(report["enough"], false);
    let stat = report["rules"]
        .as_array()
        .and_then(|rs| rs.iter().find(|r| r["rule"].as_str() == Some(&rule)))
        .cloned()
        .expect("the rule is in the report");
    assert_eq!(
        (
            stat["hot"].as_u64(),
            stat["dropped"].as_u64(),
            stat["nurture"].as_u64()
        ),
        (Some(8), Some(2), Some(0))
    );
    // (8+1)/(10+2) = 0.75 against a prior of 8/16: factor 1.25.
    assert_eq!(stat["precision"].as_f64(), Some(0.75));
    assert_eq!(stat["proposed"].as_f64(), Some(1.25));

    // Too few corrections for the configured minimum: refused, nothing stored.
    let o = ls.run(&[NOW, "learn", "--apply"]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("not enough corrections"));
    assert_eq!(ls.count("SELECT COUNT(*) FROM learned_weights"), 0);

    config(&ls, 8);
    let applied = ok(ls.run(&[NOW, "learn", "--apply"]));
    assert!(applied.contains(&format!("rule {rule} ×1.25")), "{applied}");
    let db = ls.db();
    let mut st = db
        .prepare("SELECT kind, name, factor FROM learned_weights WHERE set_id = 1")
        .expect("prepare");
    let rows: Vec<(String, String, f64)> = st
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .expect("query")
        .map(|r| r.expect("row"))
        .collect();
    assert!(!rows.is_empty());
    let configured = |d: &str| match d {
        "need" => 25.0,
        "risk" => 40.0,
        _ => 15.0,
    };
    for (kind, name, factor) in &rows {
        match kind.as_str() {
            "rule" => assert!((0.5..=1.5).contains(factor), "{name} ×{factor}"),
            _ => {
                let c = configured(name);
                assert!(*factor >= c * 0.5 && *factor <= c * 1.5, "{name} {factor}");
            }
        }
    }

    // Scoring uses the learned factor, and explain says the weight was learned.
    ok(ls.run(&[NOW, "rescore"]));
    let hot0 = json(&ls, &["explain", "--json", "hot0.example"]);
    let c = hot0["contributions"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["rule"].as_str() == Some(&rule)))
        .cloned()
        .expect("rule still fires");
    assert_eq!(c["learned_factor"].as_f64(), Some(1.25));
    assert!((c["raw"].as_f64().unwrap_or(0.0) - raw_before * 1.25).abs() < 1e-9);
    let text = ok(ls.run(&[NOW, "explain", "hot0.example"]));
    assert!(
        text.contains("learned weights (set 1, applied 2026-11-20)"),
        "{text}"
    );
    assert!(text.contains(&format!("rule {rule} ×1.25")), "{text}");

    // Applying again with the same corrections stores nothing new.
    let again = ok(ls.run(&[NOW, "learn", "--apply"]));
    assert!(again.contains("nothing stored"), "{again}");
    assert_eq!(
        ls.count("SELECT COUNT(DISTINCT set_id) FROM learned_weights"),
        1
    );

    // Back to automatic.
    ok(ls.run(&[NOW, "tag", "hot1.example", "auto", "--by", "ann"]));
    let leads = json(&ls, &["leads", "--json"]);
    let h1 = leads
        .as_array()
        .and_then(|a| a.iter().find(|l| l["lead"] == "hot1.example"))
        .cloned()
        .expect("hot1");
    assert_eq!(h1["manual"], false);
    assert_eq!(h1["corrections"].as_array().map(Vec::len), Some(2));
}

/// `learning = "auto"`: the daemon stores the learned weights before the morning digest (here the
/// SMTP server is down, so the digest itself fails and is retried; learning does not wait for it).
#[test]
fn the_daemon_learns_before_the_digest_when_learning_is_auto() {
    let ls = run::Leadsift::new(&[], "");
    config(&ls, 8);
    seed(&ls);
    classify(&ls);
    assert_eq!(ls.count("SELECT COUNT(*) FROM learned_weights"), 0);
    // A closed loopback port: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port");
    config_with(
        &ls,
        8,
        &format!(
            "learning = \"auto\"\n\n[smtp]\nhost = \"127.0.0.1\"\nport = {port}\ntls = \"plaintext\"\nfrom = \"leadsift <leadsift@ourco.example>\"\n\n[digest]\nto = [\"ann@ourco.example\"]\ntime = \"08:00\"\ntimezone = \"UTC\"\n"
        ),
    );
    // First start: learns, then tries the digest (nothing listens: it fails and will retry).
    let text = run_daemon_until_digest_tried(&ls, "first");
    assert!(
        text.contains("learning: new weights stored and applied"),
        "{}",
        run::tail(&text, 30)
    );
    assert_eq!(
        ls.count("SELECT COUNT(DISTINCT set_id) FROM learned_weights"),
        1
    );
    // A new correction would change the proposal, but a restart the same morning does not learn
    // again: at most once a day.
    ok(ls.run(&[NOW, "tag", "open0.example", "drop", "--by", "bob"]));
    let text = run_daemon_until_digest_tried(&ls, "second");
    assert!(
        !text.contains("learning: new weights"),
        "{}",
        run::tail(&text, 30)
    );
    assert_eq!(
        ls.count("SELECT COUNT(DISTINCT set_id) FROM learned_weights"),
        1
    );
    let report = json(&ls, &["learn", "--report", "--json"]);
    assert_eq!(
        report["dropped"], 9,
        "the new correction is there to learn from tomorrow"
    );
    let explained = ok(ls.run(&[NOW, "explain", "hot0.example"]));
    assert!(explained.contains("learned weights (set 1"), "{explained}");
}

/// Runs `leadsift run` at 08:00:01 UTC until its log says the digest was tried (and failed: the
/// SMTP port is closed), then SIGTERM; returns the log.
fn run_daemon_until_digest_tried(ls: &run::Leadsift, name: &str) -> String {
    let log = ls.dir.path().join(format!("daemon-{name}.log"));
    let mut child = ls
        .cmd(&["--now=2026-11-20T08:00:01Z", "run"])
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).expect("log"))
        .spawn()
        .expect("leadsift run");
    let t0 = std::time::Instant::now();
    while !std::fs::read_to_string(&log)
        .unwrap_or_default()
        .contains("digest not sent")
    {
        if t0.elapsed() > std::time::Duration::from_secs(60) {
            let _ = child.kill();
            panic!(
                "the digest was not tried within 60 s:\n{}",
                run::tail(&std::fs::read_to_string(&log).unwrap_or_default(), 30)
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let status = child.wait().expect("wait");
    assert!(status.success(), "SIGTERM exits 0");
    std::fs::read_to_string(&log).unwrap_or_default()
}
