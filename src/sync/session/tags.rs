//! The Message-IDs in a training folder: one `UID FETCH 1:* (UID ENVELOPE)` on the folder opened
//! read-only. ENVELOPE never sets `\Seen` (no body section is fetched).

use std::collections::BTreeMap;

use super::ImapSession;

impl ImapSession {
    /// UID → Message-ID (without `<>`) of every message in the folder opened last; messages
    /// without one are left out.
    pub async fn message_ids(&mut self) -> anyhow::Result<BTreeMap<u32, String>> {
        let r = self.message_ids_inner().await;
        self.classify(r)
    }

    async fn message_ids_inner(&mut self) -> anyhow::Result<BTreeMap<u32, String>> {
        self.ensure_usable("UID FETCH")?;
        let mut out = BTreeMap::new();
        let what = "UID FETCH 1:* (UID ENVELOPE)".to_string();
        self.fetch_each("1:*", "(UID ENVELOPE)", &what, |f| {
            let (Some(uid), Some(env)) = (f.uid, f.envelope()) else {
                return;
            };
            if let Some(id) = env.message_id.as_deref() {
                let id = String::from_utf8_lossy(id);
                let id = id
                    .trim()
                    .trim_start_matches('<')
                    .trim_end_matches('>')
                    .trim();
                if !id.is_empty() {
                    out.insert(uid, id.to_string());
                }
            }
        })
        .await?;
        Ok(out)
    }
}
