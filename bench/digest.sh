#!/usr/bin/env bash
# Digest rendering benchmark (issues 4, 15): renders the morning digest (text + HTML, with the "moved"
# comparison and the weekly review) for 10,000 generated leads, release build, and prints the
# best of five runs (goal: <= 1 s); then the same end to end from a store of 10,000 leads
# (scoring from the database included), as `digest --print` does it; and per recipient for a team
# of 10 (nine salespeople and a manager), goal <= 1 s each.
#
#   bench/digest.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --release --quiet --test digest_render -- --ignored --nocapture --test-threads=1 bench_ 2>&1 |
    grep -oE "digest (render|from).*|panicked.*|goal.*" || { echo "bench/digest.sh: the benchmark did not run" >&2; exit 1; }
