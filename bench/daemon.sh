#!/bin/sh
# leadsift run: APPEND → scored latency (p50/p99 over BENCH_MESSAGES, default 200) against a real
# Dovecot, and idle CPU / RSS with BENCH_DB_MESSAGES (default 100000) messages in the database.
# Needs dovecot-imapd (see tests/run.sh). Release build.
set -eu
cd "$(dirname "$0")/.."
cargo test --release --test daemon_bench -- --ignored --nocapture --test-threads=1 2>&1 | grep -oE 'BENCH.*|test result.*|panicked.*'
