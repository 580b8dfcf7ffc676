//! Secrets come from a file, a command or a systemd credential, never from the config text, and
//! never reach a log: [`Secret`]'s Debug and Display print a placeholder.

use std::path::PathBuf;
use std::process::Command;

#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: String) -> Secret {
        Secret(s)
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    File(PathBuf),
    Command(String),
    /// A file in `$CREDENTIALS_DIRECTORY` (systemd `LoadCredential=`).
    Credential(String),
}

impl SecretSource {
    /// Exactly one of the three keys must be set.
    pub fn from_keys(
        file: Option<PathBuf>,
        command: Option<String>,
        credential: Option<String>,
    ) -> Result<SecretSource, String> {
        match (file, command, credential) {
            (Some(f), None, None) => Ok(SecretSource::File(f)),
            (None, Some(c), None) => Ok(SecretSource::Command(c)),
            (None, None, Some(c)) => {
                if c.is_empty() || c.contains('/') {
                    return Err(format!("password_credential = {c:?} must be a plain credential name"));
                }
                Ok(SecretSource::Credential(c))
            }
            (None, None, None) => Err(
                "no password: set one of `password_file`, `password_command` or `password_credential`".into(),
            ),
            _ => Err("set only one of `password_file`, `password_command` and `password_credential`".into()),
        }
    }

    pub fn resolve(&self) -> Result<Secret, String> {
        let value = match self {
            SecretSource::File(path) => std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read password_file {}: {e}", path.display()))?,
            SecretSource::Credential(name) => {
                let dir = std::env::var_os("CREDENTIALS_DIRECTORY").ok_or_else(|| {
                    format!("password_credential = {name:?} but $CREDENTIALS_DIRECTORY is not set (use LoadCredential= in the unit)")
                })?;
                let path = PathBuf::from(dir).join(name);
                std::fs::read_to_string(&path)
                    .map_err(|e| format!("cannot read credential {}: {e}", path.display()))?
            }
            SecretSource::Command(cmd) => {
                let out = Command::new("/bin/sh")
                    .arg("-c")
                    .arg(cmd)
                    .stdin(std::process::Stdio::null())
                    .output()
                    .map_err(|e| format!("cannot run password_command: {e}"))?;
                if !out.status.success() {
                    // The command's stderr may help; its stdout might be the secret, so never show it.
                    let err = String::from_utf8_lossy(&out.stderr);
                    return Err(format!(
                        "password_command failed ({}): {}",
                        out.status,
                        err.trim().chars().take(200).collect::<String>()
                    ));
                }
                String::from_utf8(out.stdout)
                    .map_err(|_| "password_command printed non-UTF-8".to_string())?
            }
        };
        let value = value.trim_end_matches(['\r', '\n']).to_string();
        if value.is_empty() {
            return Err("the password is empty".into());
        }
        Ok(Secret(value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_secret() {
        let s = Secret::new("hunter2".into());
        assert!(!format!("{s:?}").contains("hunter2"));
    }

    #[test]
    fn command_and_file_sources() {
        let s = SecretSource::Command("printf 'pw\\n'".into())
            .resolve()
            .unwrap();
        assert_eq!(s.expose(), "pw");
        let err = SecretSource::Command("exit 3".into())
            .resolve()
            .unwrap_err();
        assert!(err.contains("failed"), "{err}");
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("pw");
        std::fs::write(&p, "secret\n").unwrap();
        assert_eq!(SecretSource::File(p).resolve().unwrap().expose(), "secret");
    }

    #[test]
    fn exactly_one_source() {
        assert!(SecretSource::from_keys(None, None, None).is_err());
        assert!(SecretSource::from_keys(Some("/a".into()), Some("b".into()), None).is_err());
        assert!(SecretSource::from_keys(None, None, Some("../x".into())).is_err());
    }
}
