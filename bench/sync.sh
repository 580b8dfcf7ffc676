#!/usr/bin/env bash
# Sync benchmark (issue 2): loads the SpamAssassin corpus (6,046 messages) into a throwaway local
# Dovecot, then times `leadsift sync --once` (release build, empty database) against a bare
# `UID FETCH 1:* (BODY.PEEK[])` of the same folder with Python's imaplib, both over implicit TLS.
# Prints both times, the ratio (goal <= 1.25) and leadsift's peak RSS (goal <= 100 MB).
#
#   bench/sync.sh [CORPUS_DIR]      (default: target/corpus/spamassassin, fetched if missing)
# Needs root (Dovecot), dovecot-imapd, openssl, python3, /usr/bin/time.
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$PWD"
corpus="${1:-${LEADSIFT_CORPUS_DIR:-$repo/target/corpus/spamassassin}}"
[ -f "$corpus/.complete" ] || bash tests/fetch-corpus.sh "$corpus"

cargo build --release --quiet
bin="${CARGO_TARGET_DIR:-$repo/target}/release/leadsift"

work="$(mktemp -d /tmp/leadsift-bench.XXXXXX)"
chmod 755 "$work"
pgid=""
cleanup() {
    [ -n "$pgid" ] && kill -KILL -- "-$pgid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

# Certificates: a throwaway CA and a leaf for localhost (rustls rejects a self-signed leaf).
(
    cd "$work"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca-key.pem -out ca.pem \
        -days 2 -subj "/CN=leadsift bench CA" -addext basicConstraints=critical,CA:TRUE \
        -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout key.pem -out leaf.csr \
        -subj /CN=localhost 2>/dev/null
    printf 'basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n' >ext.cnf
    openssl x509 -req -in leaf.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -out cert.pem -days 2 \
        -extfile ext.cnf 2>/dev/null
)

port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
mkdir -p "$work/run" "$work/state" "$work/mail"
echo 'bench@example.test:{PLAIN}bench::::::' >"$work/users"
cat >"$work/dovecot.conf" <<EOF
base_dir = $work/run
state_dir = $work/state
log_path = $work/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = yes
ssl_cert = <$work/cert.pem
ssl_key = <$work/key.pem
ssl_dh = </usr/share/dovecot/dh.pem
auth_failure_delay = 0
mail_location = maildir:~/Maildir
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $work/users
}
userdb {
  driver = static
  args = uid=65534 gid=65534 home=$work/mail/%d/%n
}
namespace inbox {
  inbox = yes
  separator = /
}
service imap-login {
  inet_listener imap {
    port = 0
  }
  inet_listener imaps {
    port = $port
    ssl = yes
  }
}
EOF

# The corpus straight into the Maildir (INTERNALDATE = now, so backfill takes everything).
python3 - "$corpus" "$work/mail/example.test/bench/Maildir" <<'PY'
import os, sys
src, md = sys.argv[1], sys.argv[2]
for d in ("cur", "new", "tmp"):
    os.makedirs(os.path.join(md, d), exist_ok=True)
n = 0
for name in sorted(os.listdir(src)):
    if name.startswith("."):
        continue
    data = open(os.path.join(src, name), "rb").read()
    n += 1
    with open(os.path.join(md, "cur", f"{1700000000 + n}.M{n}P1.bench,S={len(data)}:2,"), "wb") as f:
        f.write(data)
print(f"loaded {n} messages", file=sys.stderr)
PY
chown -R 65534:65534 "$work/mail"

dovecot -c "$work/dovecot.conf" </dev/null >>"$work/dovecot.out" 2>&1
for _ in $(seq 100); do [ -s "$work/run/master.pid" ] && break; sleep 0.05; done
pgid="$(cat "$work/run/master.pid")"
for _ in $(seq 100); do python3 -c "import socket; socket.create_connection(('127.0.0.1', $port))" 2>/dev/null && break; sleep 0.05; done

cat >"$work/fetch.py" <<'PY'
import imaplib, ssl, sys, time
port, ca, warm = int(sys.argv[1]), sys.argv[2], sys.argv[3] == "warm"
t0 = time.monotonic()
m = imaplib.IMAP4_SSL("localhost", port, ssl_context=ssl.create_default_context(cafile=ca))
m.login("bench@example.test", "bench")
m.select("INBOX", readonly=True)
typ, data = m.uid("FETCH", "1:*", "(RFC822.SIZE)" if warm else "(BODY.PEEK[])")
n = sum(1 for d in data if isinstance(d, tuple)) if not warm else len(data)
m.logout()
print(f"{n} {time.monotonic() - t0:.3f}")
PY

# Warm-up: Dovecot indexes the folder and the files land in the page cache, so neither timed run
# pays for that.
python3 "$work/fetch.py" "$port" "$work/ca.pem" warm >/dev/null
python3 "$work/fetch.py" "$port" "$work/ca.pem" body >/dev/null

echo bench >"$work/password"
cat >"$work/leadsift.toml" <<EOF
[storage]
path = "$work/leadsift.db"

[me]
addresses = ["bench@example.test"]

[[account]]
name = "bench"
host = "localhost"
port = $port
tls = "implicit"
ca_file = "$work/ca.pem"
username = "bench@example.test"
password_file = "$work/password"
folders = ["INBOX"]
backfill_days = 36500
EOF

runs="${BENCH_RUNS:-3}"
best_bare=""
best_ls=""
peak_rss=0
for i in $(seq "$runs"); do
    read -r n_bare t_bare < <(python3 "$work/fetch.py" "$port" "$work/ca.pem" body)
    rm -f "$work/leadsift.db" "$work/leadsift.db-wal" "$work/leadsift.db-shm"
    LEADSIFT_LOG="${BENCH_LOG:-warn}" /usr/bin/time -v -o "$work/time.txt" "$bin" --config "$work/leadsift.toml" sync --once \
        >"$work/sync.out" 2>"$work/sync.err" || { cat "$work/sync.err" >&2; exit 1; }
    [ -n "${BENCH_ERR:-}" ] && cp "$work/sync.err" "$BENCH_ERR"
    wall="$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$work/time.txt")"
    t_ls="$(python3 -c "p='$wall'.split(':'); print(f'{sum(float(x) * 60 ** i for i, x in enumerate(reversed(p))):.3f}')")"
    rss="$(awk -F': ' '/Maximum resident set size/ {print $2}' "$work/time.txt")"
    cpu="$(awk -F': ' '/User time/ {u=$2} /System time/ {s=$2} END {printf "%.2f", u + s}' "$work/time.txt")"
    echo "run $i: bare fetch ${t_bare} s ($n_bare messages), leadsift ${t_ls} s (CPU ${cpu} s), peak RSS $((rss / 1024)) MB — $(cat "$work/sync.out")"
    best_bare="$(python3 -c "print(min(x for x in [$t_bare, ${best_bare:-1e9}]))")"
    best_ls="$(python3 -c "print(min(x for x in [$t_ls, ${best_ls:-1e9}]))")"
    [ "$rss" -gt "$peak_rss" ] && peak_rss="$rss"
done
# Feedback (issue 6): the next pass with nothing new but one keyword a salesperson set. With
# CONDSTORE only the flags changed since the last pass are read; the peer is a bare FETCH of every
# message's FLAGS (what a client without CONDSTORE would need).
cat >"$work/flags.py" <<'PY'
import imaplib, ssl, sys, time
port, ca, mode = int(sys.argv[1]), sys.argv[2], sys.argv[3]
t0 = time.monotonic()
m = imaplib.IMAP4_SSL("localhost", port, ssl_context=ssl.create_default_context(cafile=ca))
m.login("bench@example.test", "bench")
if mode == "tag":
    m.select("INBOX")
    m.uid("STORE", "1", "+FLAGS", "(lead-hot)")
    n = 1
else:
    m.select("INBOX", readonly=True)
    typ, data = m.uid("FETCH", "1:*", "(FLAGS)")
    n = sum(1 for d in data if b"$Lead" in d)
m.logout()
print(f"{n} {time.monotonic() - t0:.3f}")
PY
read -r n_class _ < <(python3 "$work/flags.py" "$port" "$work/ca.pem" flags)
python3 "$work/flags.py" "$port" "$work/ca.pem" tag >/dev/null
t0="$(date +%s.%N)"
LEADSIFT_LOG=warn "$bin" --config "$work/leadsift.toml" sync --once >/dev/null
t_pass="$(python3 -c "import time; print(f'{$(date +%s.%N) - $t0:.3f}')")"
read -r _ t_flags < <(python3 "$work/flags.py" "$port" "$work/ca.pem" flags)
by_keyword="$(sqlite3_count() { python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute(sys.argv[2]).fetchone()[0])" "$work/leadsift.db" "$1"; }; sqlite3_count "SELECT COUNT(*) FROM corrections WHERE source = 'keyword'")"

stored="$("$bin" --config "$work/leadsift.toml" status --json | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["messages"], "stored,", d["failed"], "failed")')"

echo
echo "corpus:          $(find "$corpus" -maxdepth 1 -type f ! -name '.*' | wc -l) messages, $(du -sh "$corpus" | cut -f1)"
echo "bare UID FETCH:  ${best_bare} s (python imaplib, best of $runs)"
echo "leadsift sync:   ${best_ls} s (release, empty database, best of $runs) — $stored"
echo "ratio:           $(python3 -c "print(f'{$best_ls / $best_bare:.2f}')")x (goal <= 1.25x)"
echo "peak RSS:        $((peak_rss / 1024)) MB (goal <= 100 MB)"
echo "machine:         $(nproc) CPU(s), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "class keywords:  $n_class messages carry \$LeadHot/\$LeadNurture/\$LeadDrop after the first sync"
echo "next pass:       ${t_pass} s with one keyword set by a client ($by_keyword correction(s) from keywords); a bare FETCH of every message's FLAGS: ${t_flags} s"
