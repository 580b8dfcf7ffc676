//! A throwaway CA and a leaf certificate for `localhost`/127.0.0.1, made with the openssl CLI.
//! rustls refuses a self-signed leaf (`CaUsedAsEndEntity`), hence the two levels.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

#[derive(Debug, Clone)]
pub struct Certs {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("running openssl");
    assert!(
        out.status.success(),
        "openssl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Certs {
    /// Writes `{prefix}-ca.pem`, `{prefix}-cert.pem` and `{prefix}-key.pem` into `dir`, for
    /// localhost and 127.0.0.1.
    pub fn generate(dir: &Path, prefix: &str) -> Certs {
        Self::generate_for(dir, prefix, "DNS:localhost,IP:127.0.0.1")
    }

    /// The same with the leaf's subjectAltName given (`DNS:…,IP:…`).
    pub fn generate_for(dir: &Path, prefix: &str, san: &str) -> Certs {
        let ca_key = format!("{prefix}-ca-key.pem");
        let ca = format!("{prefix}-ca.pem");
        let key = format!("{prefix}-key.pem");
        let csr = format!("{prefix}.csr");
        let cert = format!("{prefix}-cert.pem");
        let ext = format!("{prefix}-ext.cnf");
        let ec = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
        ];
        // A distinct name per CA, so a foreign CA is an unknown issuer, not a look-alike.
        let subject = format!(
            "/CN=leadsift test CA {prefix} {}",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos())
        );
        let mut args = vec!["req", "-x509"];
        args.extend(ec);
        args.extend([
            "-keyout",
            &ca_key,
            "-out",
            &ca,
            "-days",
            "3",
            "-subj",
            &subject,
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ]);
        openssl(dir, &args);
        let mut args = vec!["req"];
        args.extend(ec);
        args.extend(["-keyout", &key, "-out", &csr, "-subj", "/CN=localhost"]);
        openssl(dir, &args);
        std::fs::write(
            dir.join(&ext),
            format!(
                "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName={san}\n"
            ),
        )
        .expect("writing the extension file");
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                &ca,
                "-CAkey",
                &ca_key,
                "-CAcreateserial",
                "-out",
                &cert,
                "-days",
                "3",
                "-extfile",
                &ext,
            ],
        );
        Certs {
            ca: dir.join(ca),
            cert: dir.join(cert),
            key: dir.join(key),
        }
    }
}
