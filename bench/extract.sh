#!/usr/bin/env bash
# Throughput of parse + extract over the SpamAssassin corpus (6,046 messages), one core, release
# build; then SpamAssassin itself (`spamassassin -L -t`, local tests only) over a sample of the
# same messages; prints both and the ratio. Usage: bench/extract.sh [SAMPLE_SIZE]
set -euo pipefail
cd "$(dirname "$0")/.."
export LEADSIFT_CORPUS_DIR="${LEADSIFT_CORPUS_DIR:-$PWD/target/corpus/spamassassin}"
SAMPLE="${1:-100}"
if [ ! -d "$LEADSIFT_CORPUS_DIR" ]; then
    bash tests/fetch-corpus.sh "$LEADSIFT_CORPUS_DIR"
fi

# leadsift: best of three passes (the first warms the lazy DFAs), single thread.
line=$(taskset -c 0 cargo test --release -q --test extract_rules bench_corpus -- --ignored --nocapture --test-threads=1 2>/dev/null | grep '^BENCH')
echo "leadsift parse+extract: ${line#BENCH }"
ours=$(sed -E 's/.*msgs_per_s=([0-9.]+).*/\1/' <<<"$line")

if ! command -v spamassassin >/dev/null 2>&1; then
    if [ "$(id -u)" -eq 0 ]; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq spamassassin >/dev/null
    else
        echo "spamassassin not installed (apt-get install spamassassin); ratio not computed"; exit 0
    fi
fi
# The same sample every run: every Nth file of the sorted corpus.
mapfile -t all < <(find "$LEADSIFT_CORPUS_DIR" -type f ! -name '.*' | sort)
step=$(( ${#all[@]} / SAMPLE )); [ "$step" -lt 1 ] && step=1
sample=()
for ((i = 0; i < ${#all[@]} && ${#sample[@]} < SAMPLE; i += step)); do sample+=("${all[$i]}"); done
start=$(date +%s.%N)
for f in "${sample[@]}"; do
    taskset -c 0 spamassassin -L -t <"$f" >/dev/null 2>&1 || true
done
end=$(date +%s.%N)
sa=$(python3 -c "print(f'{${#sample[@]}/($end-$start):.2f}')")
echo "spamassassin -L -t: messages=${#sample[@]} msgs_per_s=$sa (one process per message, as its CLI works)"
python3 -c "print(f'ratio: leadsift is {float($ours)/float($sa):.0f}x SpamAssassin (goal >= 500x)')"
