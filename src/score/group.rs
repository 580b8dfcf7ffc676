//! Who is a lead, and which messages belong to it. A lead is a buyer organisation: the registrable
//! domain of the sender (public-suffix aware), or the whole address for free-mail senders.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::{Context, MessageView};
use crate::vocab::Direction;

/// The lead an address belongs to, or None for our own addresses and non-addresses.
pub fn lead_key<'a>(address: &str, settings: impl Into<Context<'a>>) -> Option<String> {
    let settings: Context<'_> = settings.into();
    let me = settings.me;
    let is_free_mail = |d: &str| settings.extractor.is_free_mail(d);
    let address = address.trim().to_lowercase();
    let (local, domain) = address.rsplit_once('@')?;
    if local.is_empty() || domain.is_empty() || me.is_ours(&address) {
        return None;
    }
    if is_free_mail(domain) {
        return Some(address);
    }
    let registrable = psl::domain_str(domain).unwrap_or(domain).to_string();
    let ours = me.domains.contains(&registrable)
        || me
            .addresses
            .iter()
            .filter_map(|a| a.rsplit_once('@').map(|(_, d)| d))
            .filter(|d| !is_free_mail(d))
            .any(|d| psl::domain_str(d).unwrap_or(d) == registrable);
    if ours {
        return None;
    }
    Some(registrable)
}

fn is_system_sender(address: &str) -> bool {
    let local = address.split('@').next().unwrap_or("").to_ascii_lowercase();
    matches!(
        local.as_str(),
        "mailer-daemon" | "postmaster" | "no-reply" | "noreply" | "do-not-reply" | "donotreply"
    )
}

/// Thread identity: the smallest message index reachable through Message-ID / In-Reply-To /
/// References (union-find), so replies, forwards and re-sends land in one thread.
pub fn threads(messages: &[MessageView]) -> Vec<usize> {
    let mut parent: Vec<usize> = (0..messages.len()).collect();
    fn find(p: &mut [usize], mut x: usize) -> usize {
        while p[x] != x {
            p[x] = p[p[x]];
            x = p[x];
        }
        x
    }
    let mut by_id: HashMap<&str, usize> = HashMap::new();
    for (i, m) in messages.iter().enumerate() {
        by_id.entry(m.message_id.as_str()).or_insert(i);
    }
    for (i, m) in messages.iter().enumerate() {
        for r in &m.refs {
            if let Some(&j) = by_id.get(r.as_str()) {
                let (a, b) = (find(&mut parent, i), find(&mut parent, j));
                if a != b {
                    parent[a.max(b)] = a.min(b);
                }
            }
        }
    }
    // Subject fallback for messages that carry no references at all: the same normalised subject
    // with the same correspondent (their From, or one of our recipients) is the same thread.
    let mut by_subject: HashMap<(String, String), usize> = HashMap::new();
    for (i, m) in messages.iter().enumerate() {
        let s = normalise_subject(&m.subject);
        if s.is_empty() {
            continue;
        }
        let correspondents: Vec<String> = match m.direction {
            Direction::In => m.from.iter().map(|f| f.to_lowercase()).collect(),
            Direction::Out => m.recipients.iter().map(|r| r.to_lowercase()).collect(),
        };
        for c in correspondents {
            match by_subject.get(&(s.clone(), c.clone())) {
                Some(&j) if m.refs.is_empty() => {
                    let (a, b) = (find(&mut parent, i), find(&mut parent, j));
                    if a != b {
                        parent[a.max(b)] = a.min(b);
                    }
                }
                Some(_) => {}
                None => {
                    by_subject.insert((s.clone(), c), i);
                }
            }
        }
    }
    (0..messages.len()).map(|i| find(&mut parent, i)).collect()
}

/// "Re: Fwd: AW: 回复: RFQ" → "rfq".
pub fn normalise_subject(s: &str) -> String {
    let mut s = s.trim();
    loop {
        let lower = s.to_lowercase();
        let prefix = [
            "re:",
            "fw:",
            "fwd:",
            "aw:",
            "wg:",
            "tr:",
            "rv:",
            "res:",
            "enc:",
            "ответ:",
            "回复:",
            "回复：",
            "答复:",
            "转发:",
            "رد:",
        ]
        .iter()
        .find(|p| lower.starts_with(*p));
        match prefix {
            Some(p) => s = s[p.len()..].trim_start(),
            None => break,
        }
    }
    s.to_lowercase()
}

/// Lead → indices of its messages (in input order). Flagged mail (auto-replies, bounces, bulk)
/// never creates a lead; it joins one only through a thread or the same sender.
pub fn group<'a>(
    messages: &[MessageView],
    settings: impl Into<Context<'a>>,
) -> BTreeMap<String, Vec<usize>> {
    let settings: Context<'_> = settings.into();
    let thread = threads(messages);
    let mut leads: BTreeMap<String, BTreeSet<usize>> = BTreeMap::new();
    let mut thread_leads: HashMap<usize, BTreeSet<String>> = HashMap::new();
    // 1. Human inbound mail creates leads.
    for (i, m) in messages.iter().enumerate() {
        if m.direction != Direction::In || m.is_flagged() {
            continue;
        }
        let Some(from) = &m.from else { continue };
        if is_system_sender(from) {
            continue;
        }
        if let Some(key) = lead_key(from, settings) {
            leads.entry(key.clone()).or_default().insert(i);
            thread_leads.entry(thread[i]).or_default().insert(key);
        }
    }
    // 2. Our mail and flagged mail join the leads of their thread or of their addresses.
    for (i, m) in messages.iter().enumerate() {
        let mut keys: BTreeSet<String> = thread_leads.get(&thread[i]).cloned().unwrap_or_default();
        match m.direction {
            Direction::Out => {
                keys.extend(m.recipients.iter().filter_map(|r| lead_key(r, settings)));
            }
            Direction::In if m.is_flagged() => {
                if let Some(k) = m.from.as_deref().and_then(|f| lead_key(f, settings)) {
                    keys.insert(k);
                }
            }
            Direction::In => continue,
        }
        for k in keys {
            if let Some(set) = leads.get_mut(&k) {
                set.insert(i);
            }
        }
    }
    leads
        .into_iter()
        .map(|(k, v)| (k, v.into_iter().collect()))
        .collect()
}

/// True when `address` belongs to `lead` (a registrable domain, or a whole free-mail address).
pub fn lead_key_matches(address: &str, lead: &str) -> bool {
    let a = address.to_lowercase();
    if lead.contains('@') {
        return a == lead;
    }
    let domain = a.rsplit_once('@').map(|(_, d)| d).unwrap_or("");
    domain == lead || domain.ends_with(&format!(".{lead}"))
}
