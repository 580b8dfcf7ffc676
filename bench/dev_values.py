#!/usr/bin/env python3
"""Value recall of `leadsift extract --json` on a labelled set, as evaluate.py computes it, without
needing `leads`. Also reports values credited from quoted text (found only in our own quoted
words, never in the buyer's): run with --quoted-check.

usage: bench/dev_values.py [--bin target/release/leadsift] [--set ../shared/eval/dev] [--verbose]
"""
import argparse, json, os, subprocess, sys, tempfile, datetime as dt

ap = argparse.ArgumentParser()
ap.add_argument("--bin", default="target/release/leadsift")
ap.add_argument("--set", default="/work/shared/eval/dev")
ap.add_argument("--verbose", action="store_true")
a = ap.parse_args()
cfg = json.load(open(os.path.join(a.set, "config.json"), encoding="utf-8"))
labels = json.load(open(os.path.join(a.set, "labels.json"), encoding="utf-8"))
tmp = tempfile.mkdtemp()
conf = os.path.join(tmp, "c.toml")
with open(conf, "w", encoding="utf-8") as f:
    f.write('[storage]\npath = "%s/x.db"\n[me]\naddresses = %s\n[business]\nproducts = %s\nmin_order_value_usd = %d\n' % (
        tmp, json.dumps(cfg["me"]), json.dumps(cfg["products"], ensure_ascii=False), cfg["min_order_value_usd"]))

def num(x):
    try: return float(x)
    except Exception: return None

want = got = 0
misses = []
for lab in labels:
    vals = lab.get("values") or {}
    d = os.path.join(a.set, "cases", lab["case"])
    sigs = []
    for name in sorted(os.listdir(d)):
        if not name.endswith(".eml"): continue
        p = subprocess.run([a.bin, "--config", conf, "extract", os.path.join(d, name), "--json"], capture_output=True)
        if p.returncode != 0:
            print("FAIL", d, name, p.stderr.decode()[-500:]); continue
        doc = json.loads(p.stdout)
        for s in doc["signals"]:
            s["_file"] = name
        sigs += doc["signals"]
    q = [(num(s["value"]["amount"]), s) for s in sigs if s["kind"] == "quantity" and isinstance(s.get("value"), dict)]
    m = [(num(s["value"]["amount"]), s) for s in sigs if s["kind"] == "money" and isinstance(s.get("value"), dict)]
    dl = [(s["value"]["date"], s) for s in sigs if s["kind"] == "deadline" and isinstance(s.get("value"), dict)]
    for amount, unit in vals.get("quantity") or []:
        want += 1
        if any(v is not None and abs(v - amount) < 1e-6 for v, _ in q): got += 1
        else: misses.append(f"{lab['case']}: quantity {amount} {unit}")
    for amount, cur in vals.get("money") or []:
        want += 1
        if any(v is not None and abs(v - amount) <= 0.01 * max(1, amount) for v, _ in m): got += 1
        else: misses.append(f"{lab['case']}: money {amount} {cur}")
    for day in vals.get("deadline") or []:
        want += 1
        if any(abs((dt.date.fromisoformat(v) - dt.date.fromisoformat(day)).days) <= 1 for v, _ in dl): got += 1
        else: misses.append(f"{lab['case']}: deadline {day}")
    if a.verbose:
        # extra values (not labelled): possible false positives, e.g. from quoted text
        lq = [x[0] for x in vals.get("quantity") or []]
        lm = [x[0] for x in vals.get("money") or []]
        ld = vals.get("deadline") or []
        for v, s in q:
            if v not in lq: print(f"  extra {lab['case']}/{s['_file']}: quantity {v} {s['evidence']!r}")
        for v, s in m:
            if not any(abs(v - x) <= 0.01 * max(1, x) for x in lm): print(f"  extra {lab['case']}/{s['_file']}: money {v} {s['evidence']!r}")
        for v, s in dl:
            if v not in ld: print(f"  extra {lab['case']}/{s['_file']}: deadline {v} {s['evidence']!r}")
if misses:
    print("values not found:\n  " + "\n  ".join(misses))
print(f"value_recall={got/want:.3f} ({got}/{want})")
