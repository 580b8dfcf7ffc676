//! TLS for IMAP: rustls with the ring provider. Trust is the system's roots (webpki-roots when the
//! system has none) plus the account's own `ca_file`; certificate and host name are always checked.

use std::path::Path;
use std::sync::{Arc, OnceLock};

use anyhow::{Context, bail};
use rustls::ClientConfig;
use rustls::RootCertStore;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};

/// Loading the system store reads many files; do it once per process.
fn system_roots() -> &'static RootCertStore {
    static ROOTS: OnceLock<RootCertStore> = OnceLock::new();
    ROOTS.get_or_init(|| {
        let mut store = RootCertStore::empty();
        let native = rustls_native_certs::load_native_certs();
        for e in &native.errors {
            tracing::debug!("system trust store: {e}");
        }
        let (added, _ignored) = store.add_parsable_certificates(native.certs);
        if added == 0 {
            tracing::debug!("no usable system roots; using the bundled webpki roots");
            store.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        }
        store
    })
}

/// A client configuration trusting the system roots plus the certificates in `ca_file` (PEM).
pub fn client_config(ca_file: Option<&Path>) -> anyhow::Result<Arc<ClientConfig>> {
    let mut roots = system_roots().clone();
    if let Some(path) = ca_file {
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
            .with_context(|| format!("ca_file {}: cannot read", path.display()))?
            .collect::<Result<_, _>>()
            .with_context(|| format!("ca_file {}: not a PEM certificate file", path.display()))?;
        if certs.is_empty() {
            bail!("ca_file {}: contains no PEM certificate", path.display());
        }
        for cert in certs {
            roots
                .add(cert)
                .with_context(|| format!("ca_file {}: unusable certificate", path.display()))?;
        }
    }
    // An explicit provider: the library must not depend on a process-wide default being installed.
    let config =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .context("TLS setup")?
            .with_root_certificates(roots)
            .with_no_client_auth();
    Ok(Arc::new(config))
}

/// The name the server's certificate must carry: a DNS name or an IP address.
pub fn server_name(host: &str) -> anyhow::Result<ServerName<'static>> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    ServerName::try_from(bare.to_string())
        .with_context(|| format!("{host:?} is not a valid host name for TLS"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(matches!(
            server_name("localhost").unwrap(),
            ServerName::DnsName(_)
        ));
        assert!(matches!(
            server_name("127.0.0.1").unwrap(),
            ServerName::IpAddress(_)
        ));
        assert!(matches!(
            server_name("[::1]").unwrap(),
            ServerName::IpAddress(_)
        ));
        assert!(server_name("bad host").is_err());
    }

    #[test]
    fn missing_ca_file_is_named() {
        let err = client_config(Some(Path::new("/nonexistent/ca.pem"))).unwrap_err();
        assert!(format!("{err:#}").contains("/nonexistent/ca.pem"));
    }
}
