#!/usr/bin/env bash
# The one test command (README). On a fresh Debian machine as root it installs what the tests need,
# then runs the whole suite. Safe to run again: installed pieces are skipped.
set -euo pipefail
cd "$(dirname "$0")/.."

need_pkgs=()
command -v dovecot >/dev/null 2>&1 || need_pkgs+=(dovecot-imapd dovecot-lmtpd)
[ -x /usr/lib/dovecot/lmtp ] || need_pkgs+=(dovecot-lmtpd)
command -v postfix >/dev/null 2>&1 || [ -x /usr/sbin/postfix ] || need_pkgs+=(postfix)
command -v openssl >/dev/null 2>&1 || need_pkgs+=(openssl)
# Python's imaplib plays the mail client in tests/feedback_keywords.rs.
command -v python3 >/dev/null 2>&1 || need_pkgs+=(python3)
# Headless Chromium renders the digest's HTML in tests/digest_render.rs.
[ -x /usr/bin/chromium ] || need_pkgs+=(chromium)
# Fonts for the rendering test's Chinese, Arabic and Cyrillic subjects: without them the screenshot
# shows empty boxes where a user sees text.
dpkg -s fonts-noto-cjk >/dev/null 2>&1 || need_pkgs+=(fonts-noto-cjk)
dpkg -s fonts-dejavu-core >/dev/null 2>&1 || need_pkgs+=(fonts-dejavu-core)
if [ ${#need_pkgs[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "tests/run.sh: missing packages ${need_pkgs[*]} and not root to install them" >&2
        exit 1
    fi
    echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends --no-upgrade "${need_pkgs[@]}" >/dev/null
fi

# Courier IMAP, the suite's second real server (tests/servers.rs): unpacked, not installed, since
# its packages conflict with dovecot-imapd.
bash tests/courier-setup.sh

# Real-mail robustness corpus (SpamAssassin public corpus, 6,046 messages), fetched once.
export LEADSIFT_CORPUS_DIR="${LEADSIFT_CORPUS_DIR:-$PWD/target/corpus/spamassassin}"
if [ ! -f "$LEADSIFT_CORPUS_DIR/.complete" ]; then
    bash tests/fetch-corpus.sh "$LEADSIFT_CORPUS_DIR" || echo "tests/run.sh: could not fetch the SpamAssassin corpus; its tests will fail" >&2
fi

if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --all-targets --no-fail-fast
else
    cargo test --all-targets --no-fail-fast
fi
# The rules' own examples, through the real binary as a user would run it.
cargo run --quiet -- patterns check
