#!/usr/bin/env bash
# Real junk against the demo business: the SpamAssassin public corpus (spam and ham), every
# message's Date moved into the last week, imported with the demo pump maker's catalogue
# (src/demo/leadsift.toml). Prints the spam senders by class and the ham senders classed hot.
# Goal (issue 11): >= 95% of spam senders drop, none hot, no ham sender hot.
#
# A sender is a From address. A sender whose mail made no lead at all (bulk, auto-reply and bounce
# mail never creates one) counts as drop: nobody sees it in the digest.
#
# Usage: bench/junk.sh [--list N] [--keep]
#   --list N: also print up to N non-drop spam senders (hot first) with the reason
#   --keep:   keep the work dir (mail, config, database, leads.json) and print its path
# Env: LEADSIFT_BIN (default target/release/leadsift, built if missing), LEADSIFT_CORPUS_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
LIST=0
KEEP=0
while [ $# -gt 0 ]; do
    case "$1" in
        --list) LIST="${2:?--list N}"; shift 2 ;;
        --keep) KEEP=1; shift ;;
        *) echo "usage: bench/junk.sh [--list N] [--keep]" >&2; exit 2 ;;
    esac
done
export LEADSIFT_CORPUS_DIR="${LEADSIFT_CORPUS_DIR:-$PWD/target/corpus/spamassassin}"
[ -f "$LEADSIFT_CORPUS_DIR/.complete" ] || bash tests/fetch-corpus.sh "$LEADSIFT_CORPUS_DIR"
BIN="${LEADSIFT_BIN:-$PWD/target/release/leadsift}"
[ -x "$BIN" ] || cargo build --release --quiet
work="$(mktemp -d)"
if [ "$KEEP" = 1 ]; then echo "work dir: $work"; else trap 'rm -rf "$work"' EXIT; fi
now="$(date -u +%Y-%m-%dT%H:%M:%SZ)"

python3 - "$LEADSIFT_CORPUS_DIR" "$work" "$now" <<'PY'
import datetime as dt, email.utils, hashlib, os, re, sys
src, work, now = sys.argv[1], sys.argv[2], sys.argv[3]
now = dt.datetime.strptime(now, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc)
week_ago = now - dt.timedelta(days=7)
for sub in ("spam", "ham"):
    os.makedirs(os.path.join(work, "mail", sub), exist_ok=True)
date_re = re.compile(rb"^date:", re.I)
for name in sorted(os.listdir(src)):
    if name.startswith("."):
        continue
    raw = open(os.path.join(src, name), "rb").read()
    kind = "spam" if name.startswith("spam") else "ham"
    # A stable spot in last week per message, so runs compare.
    h = int.from_bytes(hashlib.sha1(name.encode()).digest()[:4], "big")
    when = week_ago + dt.timedelta(seconds=h % (6 * 86400))
    new_date = b"Date: " + email.utils.format_datetime(when).encode()
    nl = b"\r\n" if b"\r\n" in raw[:2000] else b"\n"
    end = raw.find(nl + nl)
    head, body = (raw, b"") if end < 0 else (raw[:end], raw[end:])
    out, skip, seen = [], False, False
    for line in head.split(nl):
        if skip and line[:1] in (b" ", b"\t"):
            continue  # a folded Date line
        skip = False
        if date_re.match(line):
            skip, seen = True, True
            if out and out[-1] == new_date:
                continue
            out.append(new_date)
            continue
        out.append(line)
    if not seen:
        # After a leading mbox "From " line, if any.
        at = 1 if out and out[0].startswith(b"From ") else 0
        out.insert(at, new_date)
    open(os.path.join(work, "mail", kind, name), "wb").write(nl.join(out) + body)
PY

sed "s|DB_PATH|$work/leadsift.db|" src/demo/leadsift.toml >"$work/leadsift.toml"
export LEADSIFT_CONFIG="$work/leadsift.toml"
"$BIN" --now "$now" import "$work/mail" | tail -1
"$BIN" --now "$now" leads --json >"$work/leads.json"

python3 - "$work" "$LIST" <<'PY'
import email, email.policy, email.utils, json, os, sys
work, listn = sys.argv[1], int(sys.argv[2])
leads = json.load(open(os.path.join(work, "leads.json"), encoding="utf-8"))
if isinstance(leads, dict):
    leads = leads.get("leads", [])
by_contact = {}
for l in leads:
    for c in l.get("contacts") or []:
        c = c.get("address", "") if isinstance(c, dict) else c
        by_contact[c.lower()] = l

def sender(path):
    with open(path, "rb") as f:
        head = f.read(64 * 1024).split(b"\n\n", 1)[0].split(b"\r\n\r\n", 1)[0]
    msg = email.message_from_bytes(head + b"\n\n", policy=email.policy.compat32)
    addr = email.utils.parseaddr(str(msg.get("From", "")))[1].strip().lower()
    return addr or None

def senders(kind):
    d = os.path.join(work, "mail", kind)
    return {s for s in (sender(os.path.join(d, n)) for n in os.listdir(d)) if s}

def class_of(s):
    l = by_contact.get(s)
    return (l["class"], l) if l else ("drop", None)

spam = sorted(senders("spam"))
counts = {"hot": 0, "nurture": 0, "drop": 0}
no_lead = 0
for s in spam:
    c, l = class_of(s)
    counts[c] += 1
    no_lead += l is None
n = max(len(spam), 1)
print(f"spam senders: {len(spam)}  " + "  ".join(
    f"{c}={counts[c]} ({100 * counts[c] / n:.1f}%)" for c in ("hot", "nurture", "drop")
) + f"  (of the drops, {no_lead} made no lead: bulk/auto-reply/bounce)")
ham_hot = sorted(s for s in senders("ham") if class_of(s)[0] == "hot")
print(f"ham senders hot: {len(ham_hot)}" + (": " + ", ".join(ham_hot) if ham_hot else ""))
ok = counts["drop"] / n >= 0.95 and counts["hot"] == 0 and not ham_hot
print(f"goal (>= 95% of spam senders drop, none hot, no ham sender hot): {'met' if ok else 'not met'}")
if listn:
    shown = 0
    for s in sorted(spam, key=lambda s: class_of(s)[0]):
        c, l = class_of(s)
        if c == "drop" or shown >= listn:
            continue
        shown += 1
        why = "; ".join((l.get("reasons") or [])[:2])
        print(f"  {c:8} {s:40} {l.get('subject') or ''!r:.60}  {why}")
PY
