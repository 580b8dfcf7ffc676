//! The shared mail-server harness itself: Postfix submission (STARTTLS + AUTH through Dovecot's
//! SASL) delivers over LMTP into the mailbox that leadsift then syncs. Later issues (the digest
//! over SMTP, the daemon) build on this.

#[path = "support/certs.rs"]
mod certs;
#[path = "support/dovecot.rs"]
mod dovecot;
#[path = "support/leadsift.rs"]
mod leadsift;
#[path = "support/postfix.rs"]
mod postfix;

use std::time::{Duration, Instant};

use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, CertificateStore, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

#[tokio::test]
async fn submission_with_starttls_and_auth_reaches_the_mailbox_and_leadsift_syncs_it() {
    let d = dovecot::Dovecot::start();
    let pf = postfix::Postfix::start(&d);

    let ca = std::fs::read(&d.certs.ca).unwrap();
    let tls = TlsParameters::builder("localhost".into())
        .certificate_store(CertificateStore::None)
        .add_root_certificate(Certificate::from_pem(&ca).unwrap())
        .build_rustls()
        .unwrap();
    let mailer = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("localhost")
        .port(pf.submission_port)
        .tls(Tls::Required(tls))
        .credentials(Credentials::new(
            dovecot::USER.into(),
            dovecot::PASSWORD.into(),
        ))
        .timeout(Some(Duration::from_secs(20)))
        .build();
    let msg = Message::builder()
        .message_id(Some("<via-postfix@buyer.example>".into()))
        .from("Buyer <buyer@buyer.example>".parse().unwrap())
        .to(dovecot::USER.parse().unwrap())
        .subject("RFQ through Postfix")
        .body("We need 200 valves.".to_string())
        .unwrap();
    mailer
        .send(msg)
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", pf.log()));

    let deadline = Instant::now() + Duration::from_secs(20);
    while d.mailbox_status("INBOX").get("messages") != Some(&1) {
        assert!(
            Instant::now() < deadline,
            "not delivered:\n{}\n{}",
            pf.log(),
            d.log()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // Without AUTH the submission port refuses to relay.
    let anon = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("localhost")
        .port(pf.submission_port)
        .tls(Tls::Required(
            TlsParameters::builder("localhost".into())
                .certificate_store(CertificateStore::None)
                .add_root_certificate(Certificate::from_pem(&ca).unwrap())
                .build_rustls()
                .unwrap(),
        ))
        .build();
    let msg = Message::builder()
        .from("x@buyer.example".parse().unwrap())
        .to(dovecot::USER.parse().unwrap())
        .subject("anon")
        .body("x".to_string())
        .unwrap();
    assert!(anon.send(msg).await.is_err());

    let ls = leadsift::Leadsift::new(&[leadsift::AccountConf::implicit(&d)], "");
    let out = tokio::task::spawn_blocking(move || (ls.sync_ok(), ls))
        .await
        .unwrap();
    assert!(out.0.contains("sales: 1 new"), "{}", out.0);
    assert_eq!(out.1.directions()["via-postfix@buyer.example"], "in");
}
