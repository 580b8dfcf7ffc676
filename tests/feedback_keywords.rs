//! Feedback through IMAP keywords against a real Dovecot (which has CONDSTORE): a salesperson's
//! `lead-*` keywords become corrections, and leadsift's own `$Lead*` class keyword follows the
//! lead's class without touching any other flag.

#[path = "support/certs.rs"]
mod certs;
#[path = "support/dovecot.rs"]
mod dovecot;
#[path = "support/leadsift.rs"]
mod leadsift;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use ::leadsift::sync::session::ImapSession;
use dovecot::Dovecot;
use leadsift::{AccountConf, Leadsift, inquiry};

fn set(flags: &[&str]) -> BTreeSet<String> {
    flags.iter().map(|f| f.to_string()).collect()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// The session layer on its own: CONDSTORE, CHANGEDSINCE, PERMANENTFLAGS and a STORE that names
/// only the keywords it is given.
#[test]
fn session_reads_flags_since_a_modseq_and_stores_only_the_given_keywords() {
    let d = Dovecot::start();
    let mut c = d.client();
    c.append("INBOX", "\\Seen $label1", &inquiry(1));
    c.append("INBOX", "", &inquiry(2));
    c.append("INBOX", "$LeadDrop", &inquiry(3));
    c.logout();
    let ls = Leadsift::new(&[AccountConf::implicit(&d)], "");
    let settings = ::leadsift::config::Settings::load(&ls.config).expect("config");
    let account = settings.accounts[0].clone();

    runtime().block_on(async {
        let mut s = ImapSession::connect(&account, Duration::from_secs(20))
            .await
            .expect("login");
        assert!(s.condstore(), "Dovecot offers CONDSTORE and ENABLE");
        let sel = s.examine("INBOX").await.expect("EXAMINE");
        assert!(sel.read_only);
        let modseq = sel
            .highest_modseq
            .expect("HIGHESTMODSEQ after ENABLE CONDSTORE");
        let all = s.uid_fetch_flags("1:*", None).await.expect("FETCH FLAGS");
        assert_eq!(all.len(), 3);
        assert_eq!(
            set(&all[&1].iter().map(String::as_str).collect::<Vec<_>>()),
            set(&["\\Seen", "$label1"])
        );
        assert!(all[&2].is_empty(), "{all:?}");
        // Nothing changed since the EXAMINE.
        let since = s
            .uid_fetch_flags("1:*", Some(modseq))
            .await
            .expect("CHANGEDSINCE");
        assert!(since.is_empty(), "{since:?}");
        // EXAMINE is read-only: no STORE.
        assert!(
            s.uid_store_keywords(&[1], &["$LeadHot"], &[])
                .await
                .is_err()
        );
        assert!(
            !s.is_broken(),
            "a refused STORE leaves the connection usable"
        );

        let sel = s.select("INBOX").await.expect("SELECT");
        assert!(!sel.read_only);
        assert!(
            sel.permanent_flags.iter().any(|f| f == "\\*"),
            "{:?}",
            sel.permanent_flags
        );
        assert!(sel.can_create_keywords("$LeadHot"));
        s.uid_store_keywords(&[1, 2, 3], &["$LeadHot"], &["$LeadDrop", "$LeadNurture"])
            .await
            .expect("STORE");
        // A keyword that is not an atom is refused before anything is sent.
        assert!(
            s.uid_store_keywords(&[1], &["bad keyword"], &[])
                .await
                .is_err()
        );
        assert!(!s.is_broken());

        let sel = s.examine("INBOX").await.expect("EXAMINE again");
        let changed = s
            .uid_fetch_flags("1:*", Some(modseq))
            .await
            .expect("CHANGEDSINCE");
        assert_eq!(changed.keys().copied().collect::<Vec<_>>(), vec![1, 2, 3]);
        let later = sel.highest_modseq.expect("HIGHESTMODSEQ");
        assert!(later > modseq);
        assert!(
            s.uid_fetch_flags("1:*", Some(later))
                .await
                .expect("FETCH")
                .is_empty()
        );
        s.logout().await;
    });

    let mut c = d.client();
    let flags = c.flags("INBOX");
    c.logout();
    assert_eq!(
        flags,
        BTreeMap::from([
            (1, set(&["\\Seen", "$label1", "$LeadHot"])),
            (2, set(&["$LeadHot"])),
            (3, set(&["$LeadHot"])),
        ])
    );
}
