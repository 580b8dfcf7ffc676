//! Schema migrations on `PRAGMA user_version`: migration N brings a database at version N-1 to N.
//! Append only; never edit a migration that has shipped.

use rusqlite::Connection;

pub const MIGRATIONS: &[&str] = &[
    // 1: the foundation — sync state, messages, where they are on the server, failures.
    r#"
CREATE TABLE folders (
    account     TEXT NOT NULL,
    folder      TEXT NOT NULL,
    uidvalidity INTEGER,
    last_uid    INTEGER NOT NULL DEFAULT 0,
    last_sync   TEXT,
    last_error  TEXT,
    PRIMARY KEY (account, folder)
) STRICT;

CREATE TABLE messages (
    id          INTEGER PRIMARY KEY,
    message_id  TEXT NOT NULL UNIQUE,
    direction   TEXT NOT NULL CHECK (direction IN ('in', 'out')),
    date        TEXT NOT NULL,
    date_unix   INTEGER NOT NULL,
    from_addr   TEXT,
    reply_to    TEXT,
    recipients  TEXT NOT NULL,
    refs        TEXT NOT NULL,
    subject     TEXT NOT NULL,
    size        INTEGER NOT NULL,
    truncated   INTEGER NOT NULL,
    stored_at   TEXT NOT NULL,
    extraction  TEXT NOT NULL,
    -- Last: the large column. Scoring reads everything before it without touching its overflow pages.
    parsed      TEXT NOT NULL
) STRICT;
CREATE INDEX messages_from ON messages (from_addr);
CREATE INDEX messages_date ON messages (date_unix);

CREATE TABLE locations (
    account     TEXT NOT NULL,
    folder      TEXT NOT NULL,
    uidvalidity INTEGER NOT NULL,
    uid         INTEGER NOT NULL,
    message     INTEGER NOT NULL REFERENCES messages (id),
    PRIMARY KEY (account, folder, uidvalidity, uid)
) STRICT;
CREATE INDEX locations_message ON locations (message);

CREATE TABLE failures (
    id      INTEGER PRIMARY KEY,
    key     TEXT NOT NULL UNIQUE,
    account TEXT,
    folder  TEXT,
    uid     INTEGER,
    source  TEXT,
    reason  TEXT NOT NULL,
    at      TEXT NOT NULL
) STRICT;
"#,
    // 2: scores. Which messages belong to which lead (a message of ours can serve several), the
    // current report per lead, and a meta table for the scoring watermark.
    r#"
CREATE TABLE message_leads (
    lead    TEXT NOT NULL,
    message INTEGER NOT NULL REFERENCES messages (id),
    PRIMARY KEY (lead, message)
) STRICT;
CREATE INDEX message_leads_message ON message_leads (message);

CREATE TABLE leads (
    lead       TEXT PRIMARY KEY,
    class      TEXT NOT NULL CHECK (class IN ('hot', 'nurture', 'drop')),
    score      INTEGER NOT NULL,
    report     TEXT NOT NULL,
    updated_at TEXT NOT NULL
) STRICT;

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;
"#,
    // 3: the daily digest. One regular row per local day (the partial unique index), recorded with
    // its exact bytes before it is submitted, so a retry after a crash resends the same message
    // (same Message-ID) and a sent one is never sent again that day. `--force` rows sit beside it.
    // `token` is the unguessable part of the Message-ID: replies to the digest must quote it.
    r#"
CREATE TABLE digests (
    id              INTEGER PRIMARY KEY,
    day             TEXT NOT NULL,
    forced          INTEGER NOT NULL DEFAULT 0 CHECK (forced IN (0, 1)),
    status          TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'skipped', 'expired')),
    message_id      TEXT UNIQUE,
    token           TEXT UNIQUE,
    content_hash    TEXT NOT NULL,
    subject         TEXT NOT NULL,
    envelope_from   TEXT,
    envelope_to     TEXT,
    message         BLOB,
    snapshot        TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    claimed_until   INTEGER,
    last_attempt_at TEXT,
    last_error      TEXT,
    sent_at         TEXT
) STRICT;
CREATE UNIQUE INDEX digests_one_per_day ON digests (day) WHERE forced = 0;
CREATE INDEX digests_status_day ON digests (status, day);
"#,
    // 4: the daemon's view of each account, for `leadsift status`: connected, or backing off until
    // a time with the last error; when the last full pass over its folders finished.
    r#"
CREATE TABLE account_state (
    account       TEXT PRIMARY KEY,
    state         TEXT NOT NULL CHECK (state IN ('connecting', 'connected', 'backing_off', 'stopped')),
    since         TEXT NOT NULL,
    retry_at      TEXT,
    last_error    TEXT,
    login_failures INTEGER NOT NULL DEFAULT 0,
    last_sync     TEXT
) STRICT;
"#,
    // 5: feedback. Corrections people make (keywords, digest replies, the CLI), in order; the
    // keywords seen on each message and the class keyword leadsift wrote there; replies to the
    // digest (kept out of scoring, verified, answered once); and learned weights, one set per
    // `learn --apply`, the newest in force.
    r#"
CREATE TABLE corrections (
    id         INTEGER PRIMARY KEY,
    lead       TEXT NOT NULL,
    label      TEXT NOT NULL,
    source     TEXT NOT NULL CHECK (source IN ('keyword', 'digest_reply', 'cli')),
    message_id TEXT,
    person     TEXT NOT NULL,
    at         TEXT NOT NULL,
    note       TEXT
) STRICT;
CREATE INDEX corrections_lead ON corrections (lead, id);

ALTER TABLE locations ADD COLUMN keywords TEXT;
ALTER TABLE locations ADD COLUMN keywords_applied TEXT;
ALTER TABLE locations ADD COLUMN lead_keyword TEXT;
ALTER TABLE folders ADD COLUMN highestmodseq INTEGER;

CREATE TABLE commands (
    message          INTEGER PRIMARY KEY REFERENCES messages (id),
    digest           INTEGER REFERENCES digests (id),
    status           TEXT NOT NULL CHECK (status IN ('pending', 'applied', 'ignored')),
    sender           TEXT,
    reason           TEXT,
    result           TEXT,
    reply_status     TEXT CHECK (reply_status IN ('pending', 'sent', 'failed')),
    reply_message_id TEXT,
    reply            BLOB,
    attempts         INTEGER NOT NULL DEFAULT 0,
    last_error       TEXT,
    detected_at      TEXT NOT NULL,
    processed_at     TEXT
) STRICT;

CREATE TABLE learned_weights (
    id         INTEGER PRIMARY KEY,
    set_id     INTEGER NOT NULL,
    applied_at TEXT NOT NULL,
    kind       TEXT NOT NULL CHECK (kind IN ('rule', 'dimension')),
    name       TEXT NOT NULL,
    factor     REAL NOT NULL,
    previous   REAL NOT NULL,
    reason     TEXT NOT NULL,
    UNIQUE (set_id, kind, name)
) STRICT;
"#,
    // Training folders ([feedback.folders]): which Message-IDs each one holds now (`present`)
    // and what has been turned into corrections (`applied`).
    r#"
CREATE TABLE folder_tags (
    account    TEXT NOT NULL,
    folder     TEXT NOT NULL,
    message_id TEXT NOT NULL,
    present    INTEGER NOT NULL CHECK (present IN (0, 1)),
    applied    INTEGER NOT NULL DEFAULT 0 CHECK (applied IN (0, 1)),
    PRIMARY KEY (account, folder, message_id)
) STRICT;
"#,
    // 7: a sales team. Each recipient gets a digest of their own, so the ledger is one regular row
    // per (day, recipient); rows from before keep their single addressee where they had one.
    // Lead owners set by hand (`tag LEAD owner:ADDR`, the digest reply `owner LEAD WHO`), in order.
    r#"
ALTER TABLE digests ADD COLUMN recipient TEXT NOT NULL DEFAULT '';
UPDATE digests SET recipient = lower(json_extract(envelope_to, '$[0]'))
    WHERE envelope_to IS NOT NULL AND json_valid(envelope_to) AND json_array_length(envelope_to) = 1;
DROP INDEX digests_one_per_day;
CREATE UNIQUE INDEX digests_one_per_day_per_recipient ON digests (day, recipient) WHERE forced = 0;

CREATE TABLE owner_assignments (
    id         INTEGER PRIMARY KEY,
    lead       TEXT NOT NULL,
    owner      TEXT NOT NULL,
    source     TEXT NOT NULL CHECK (source IN ('digest_reply', 'cli')),
    message_id TEXT,
    person     TEXT NOT NULL,
    at         TEXT NOT NULL
) STRICT;
CREATE INDEX owner_assignments_lead ON owner_assignments (lead, id);
"#,
    // 8: the business vocabulary learned from our own outbound mail. `vocabulary_sources`: which
    // of our messages taught which term (one row per term and message, with the line it came
    // from); `vocabulary`: the terms in force, recomputed from the sources after each batch.
    r#"
CREATE TABLE vocabulary_sources (
    key     TEXT NOT NULL,
    message INTEGER NOT NULL REFERENCES messages (id),
    term    TEXT NOT NULL,
    kind    TEXT NOT NULL CHECK (kind IN ('model', 'product')),
    example TEXT NOT NULL,
    PRIMARY KEY (key, message)
) STRICT;

CREATE TABLE vocabulary (
    key        TEXT PRIMARY KEY,
    term       TEXT NOT NULL,
    kind       TEXT NOT NULL CHECK (kind IN ('model', 'product')),
    messages   INTEGER NOT NULL,
    inbound    INTEGER NOT NULL,
    example    TEXT NOT NULL,
    learned_at TEXT NOT NULL
) STRICT;
"#,
];

/// Runs every migration the database has not seen, each in its own transaction.
pub fn migrate(conn: &mut Connection) -> rusqlite::Result<u32> {
    let current: u32 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        let version = i as u32 + 1;
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", version)?;
        tx.commit()?;
    }
    conn.pragma_query_value(None, "user_version", |r| r.get(0))
}
