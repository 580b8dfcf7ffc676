//! The digest as a MIME message, and its submission over SMTP with lettre (tokio + rustls).
//! Building and submitting are separate so the exact bytes can be recorded in between.

use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Utc};
use lettre::address::Envelope;
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{Certificate, CertificateStore, Tls, TlsParameters};
use lettre::{Address, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::render::Rendered;
use crate::config::{Auth, Smtp, TlsMode};

/// A message ready to submit, and what must be recorded about it first.
#[derive(Debug, Clone)]
pub struct Built {
    pub message_id: String,
    pub token: String,
    pub envelope_from: String,
    pub envelope_to: Vec<String>,
    pub bytes: Vec<u8>,
}

/// 128 random bits, hex: the unguessable part of the digest's Message-ID.
pub fn new_token() -> String {
    format!("{:032x}", rand::random::<u128>())
}

fn raw_header(name: &'static str, value: &str) -> HeaderValue {
    HeaderValue::new(HeaderName::new_from_ascii_str(name), value.to_string())
}

/// The multipart/alternative message (plain text first, HTML preferred).
pub fn build(
    from: &str,
    to: &[String],
    rendered: &Rendered,
    date: DateTime<Utc>,
) -> anyhow::Result<Built> {
    let from: Mailbox = from
        .parse()
        .with_context(|| format!("[smtp] from = {from:?} is not a mailbox"))?;
    let token = new_token();
    let message_id = format!("<digest.{token}@{}>", from.email.domain());
    let mut builder = Message::builder()
        .from(from.clone())
        .subject(rendered.subject.clone())
        .date(date.into())
        .message_id(Some(message_id.clone()))
        // RFC 3834: machine-made, so vacation responders and auto-forwarders leave it alone.
        .raw_header(raw_header("Auto-Submitted", "auto-generated"))
        // Exchange's equivalent: no out-of-office or read receipts back to the robot.
        .raw_header(raw_header("X-Auto-Response-Suppress", "All"));
    let mut envelope_to = Vec::new();
    for t in to {
        let mb: Mailbox = t
            .parse()
            .with_context(|| format!("[digest] to: {t:?} is not an email address"))?;
        envelope_to.push(mb.email.to_string());
        builder = builder.to(mb);
    }
    let message = builder
        .multipart(
            MultiPart::alternative()
                .singlepart(SinglePart::plain(rendered.text.clone()))
                .singlepart(SinglePart::html(rendered.html.clone())),
        )
        .context("building the digest message")?;
    Ok(Built {
        message_id,
        token,
        envelope_from: from.email.to_string(),
        envelope_to,
        bytes: message.formatted(),
    })
}

/// Why a submission failed, in words for a log line and an exit message.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{reason}")]
pub struct SubmitError {
    pub reason: String,
    /// The server said no for good (5xx): retrying the same message will not help by itself.
    pub permanent: bool,
}

fn tls_parameters(smtp: &Smtp) -> anyhow::Result<TlsParameters> {
    // Trust: the bundled web roots, the system's roots and the configured `ca_file`.
    let mut b =
        TlsParameters::builder(smtp.host.clone()).certificate_store(CertificateStore::Default);
    let native = rustls_native_certs::load_native_certs();
    for cert in native.certs {
        if let Ok(c) = Certificate::from_der(cert.to_vec()) {
            b = b.add_root_certificate(c);
        }
    }
    if let Some(ca) = &smtp.ca_file {
        let pem = std::fs::read(ca).with_context(|| format!("[smtp] ca_file {}", ca.display()))?;
        let cert = Certificate::from_pem(&pem)
            .with_context(|| format!("[smtp] ca_file {}: not a PEM certificate", ca.display()))?;
        b = b.add_root_certificate(cert);
    }
    b.build_rustls().context("[smtp] TLS setup")
}

/// Submits `bytes` to the configured server: Ok only when the server accepted the message.
pub async fn submit(
    smtp: &Smtp,
    timeout: Duration,
    envelope_from: &str,
    envelope_to: &[String],
    bytes: &[u8],
) -> Result<(), SubmitError> {
    let setup = |e: anyhow::Error| SubmitError {
        reason: format!("{e:#}"),
        permanent: true,
    };
    let from: Address = envelope_from
        .parse()
        .map_err(|e| setup(anyhow::anyhow!("envelope sender {envelope_from:?}: {e}")))?;
    let to = envelope_to
        .iter()
        .map(|t| {
            t.parse::<Address>()
                .map_err(|e| setup(anyhow::anyhow!("envelope recipient {t:?}: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let envelope = Envelope::new(Some(from), to).map_err(|e| setup(e.into()))?;
    let tls = match smtp.tls {
        TlsMode::Plaintext => Tls::None,
        TlsMode::StartTls => Tls::Required(tls_parameters(smtp).map_err(setup)?),
        TlsMode::Implicit => Tls::Wrapper(tls_parameters(smtp).map_err(setup)?),
    };
    let send = |auth: Option<(Credentials, bool)>| {
        let mut builder =
            AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(smtp.host.clone())
                .port(smtp.port)
                .tls(tls.clone())
                .timeout(Some(timeout));
        if let Some((credentials, xoauth2)) = auth {
            builder = builder.credentials(credentials);
            if xoauth2 {
                builder = builder.authentication(vec![Mechanism::Xoauth2]);
            }
        }
        let mailer = builder.build();
        let envelope = envelope.clone();
        async move {
            let result = mailer.send_raw(&envelope, bytes).await;
            // The pool keeps a connection open; close it so the server sees a clean QUIT.
            mailer.shutdown().await;
            result.map(|_| ())
        }
    };
    let plain = |r: Result<(), lettre::transport::smtp::Error>| {
        r.map_err(|e| SubmitError {
            reason: describe(&e),
            permanent: e.is_permanent(),
        })
    };
    match &smtp.credentials {
        None => plain(send(None).await),
        Some((user, Auth::Password(secret))) => plain(
            send(Some((
                Credentials::new(user.clone(), secret.expose().to_string()),
                false,
            )))
            .await,
        ),
        Some((user, Auth::OAuth2(provider))) => {
            let token = provider.access_token().await.map_err(|e| SubmitError {
                reason: e.message.clone(),
                permanent: e.refused,
            })?;
            let r = send(Some((
                Credentials::new(user.clone(), token.token.expose().to_string()),
                true,
            )))
            .await;
            match r {
                // A cached token refused at AUTH (535, or the XOAUTH2 error challenge that
                // lettre reports as a client error): nothing was sent; once more, fresh.
                Err(e) if token.cached && (is_auth_refusal(&e) || e.is_client()) => {
                    provider.invalidate(&token.token).await;
                    let fresh = provider.access_token().await.map_err(|e| SubmitError {
                        reason: e.message.clone(),
                        permanent: e.refused,
                    })?;
                    send(Some((
                        Credentials::new(user.clone(), fresh.token.expose().to_string()),
                        true,
                    )))
                    .await
                }
                other => other,
            }
            .map_err(|e| {
                let auth = is_auth_refusal(&e) || e.is_client();
                SubmitError {
                    reason: if auth {
                        format!(
                            "{}: the SMTP server refused the OAuth2 access token (XOAUTH2) for {}; check the token has the SMTP scope, or sign in again with `{}` ({})",
                            provider.settings.owner,
                            provider.settings.username,
                            provider.settings.login_command,
                            describe(&e)
                        )
                    } else {
                        describe(&e)
                    },
                    permanent: auth || e.is_permanent(),
                }
            })
        }
    }
}

/// 535: authentication credentials invalid.
fn is_auth_refusal(e: &lettre::transport::smtp::Error) -> bool {
    e.status().is_some_and(|c| u16::from(c) == 535)
}

/// lettre's errors name the kind but not always the cause: walk the chain.
fn describe(e: &lettre::transport::smtp::Error) -> String {
    let mut s = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(c) = src {
        let c_s = c.to_string();
        if !s.contains(&c_s) {
            s.push_str(": ");
            s.push_str(&c_s);
        }
        src = c.source();
    }
    s
}
