//! The shipped example configuration documents every section and loads as written (only the
//! secret files it points at are swapped for temporary ones).

#[test]
fn example_config_loads() {
    let dir = tempfile::tempdir().unwrap();
    let pw = dir.path().join("pw");
    std::fs::write(&pw, "secret\n").unwrap();
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/config/leadsift.example.toml"
    ))
    .unwrap()
    .replace("/etc/leadsift/imap-password", pw.to_str().unwrap())
    .replace("/etc/leadsift/smtp-password", pw.to_str().unwrap());
    let path = dir.path().join("leadsift.toml");
    std::fs::write(&path, &text).unwrap();
    let s = leadsift::config::Settings::load(&path).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.accounts.len(), 1);
    assert!(s.smtp.is_some() && s.digest.is_some());
    for section in [
        "[storage]",
        "[me]",
        "[business]",
        "[[account]]",
        "[sync]",
        "[scoring]",
        "[smtp]",
        "[digest]",
        "[daemon]",
    ] {
        assert!(
            text.contains(section),
            "the example does not document {section}"
        );
    }
}
