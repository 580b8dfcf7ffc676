#!/usr/bin/env bash
# Digest rendering benchmark (issue 4): renders the morning digest (text + HTML, with the "moved"
# comparison and the weekly review) for 10,000 generated leads, release build, and prints the
# best of five runs. Goal: <= 1 s.
#
#   bench/digest.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --release --quiet --test digest_render -- --ignored --nocapture --exact bench_render_10000_leads 2>&1 |
    grep -E "^digest render|panicked|goal" || { echo "bench/digest.sh: the benchmark did not run" >&2; exit 1; }
