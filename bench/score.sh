#!/usr/bin/env bash
# Scoring benchmark: 100,000 stored messages across 10,000 leads (generated); prints the full
# `rescore` time and the incremental cost per new message. Release build.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --release --quiet --test bench_score -- --ignored --nocapture 2>&1 | grep -E "generated|breakdown|rescore|incremental"
