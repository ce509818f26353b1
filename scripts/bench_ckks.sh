#!/usr/bin/env bash
# Regenerates the figures of docs/results/ckks-bench.md: for each preset and
# thread count, RUNS independent runs of `cipherl bench ckks --json` (each a
# median over REPS repetitions after a warm-up), then the median over runs and
# the spread (min..max of the runs' medians), beside the anchors' best.
# Usage: scripts/bench_ckks.sh [RUNS] [REPS]   (defaults 5 and 20)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
reps=${2:-20}
cli=${CIPHERL:-build/cipherl}
[ -x "$cli" ] || { echo "build cipherl first: cmake -S . -B build && cmake --build build" >&2; exit 1; }
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
for preset in n14 n15; do
  for threads in 1 2; do
    for ((r = 0; r < runs; r++)); do
      "$cli" bench ckks --preset "$preset" --threads "$threads" --reps "$reps" --json 2>/dev/null >>"$tmp"
    done
  done
done
python3 - "$tmp" "$runs" "$reps" <<'PY'
import json, sys, statistics
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
runs, reps = sys.argv[2], sys.argv[3]
best = {  # shared/anchors.md: best of SEAL 4.4.3 and OpenFHE 1.5.1, one thread
  "n14": dict(encode_ms=2.08, encrypt_pk_ms=11.8, decrypt_decode_ms=5.85, add_ms=0.23, mul_plain_ms=0.56,
              mul_relin_ms=15.9, rescale_ms=2.96, rotate_ms=14.6, mult_precision_bits=25.8),
  "n15": dict(encode_ms=10.5, encrypt_pk_ms=55.7, decrypt_decode_ms=49.7, add_ms=1.62, mul_plain_ms=3.92,
              mul_relin_ms=126, rescale_ms=16.9, rotate_ms=121, mult_precision_bits=24.6),
}
keys = ["encode_ms", "encrypt_pk_ms", "decrypt_decode_ms", "add_ms", "mul_plain_ms", "mul_relin_ms",
        "rescale_ms", "rotate_ms", "mult_precision_bits"]
for preset in ["n14", "n15"]:
    t1 = [r for r in rows if r["preset"] == preset and r["threads"] == 1]
    t2 = [r for r in rows if r["preset"] == preset and r["threads"] == 2]
    print(f"\n### {preset} ({len(t1)} runs x {reps} repetitions per thread count)\n")
    print("| op | cipherl 1 thread: median (min..max) | best of SEAL/OpenFHE | ratio | cipherl 2 threads: median (min..max) | speed-up |")
    print("|---|---:|---:|---:|---:|---:|")
    for k in keys:
        a = [r[k] for r in t1]; b = [r[k] for r in t2]
        ma, mb = statistics.median(a), statistics.median(b)
        if k == "mult_precision_bits":
            print(f"| {k} | {ma:.2f} ({min(a):.2f}..{max(a):.2f}) | {best[preset][k]} | {ma - best[preset][k]:+.2f} bits | {mb:.2f} ({min(b):.2f}..{max(b):.2f}) | — |")
        else:
            print(f"| {k} | {ma:.3f} ({min(a):.3f}..{max(a):.3f}) | {best[preset][k]} | {ma / best[preset][k]:.2f} | {mb:.3f} ({min(b):.3f}..{max(b):.3f}) | {ma / mb:.2f}x |")
PY
