#!/bin/sh
# Learning curves from training logs (CSV: step,episode,return,length), one
# log per seed: the episode return averaged over bins of environment steps,
# then mean and spread (mean ± std across seeds, and min–max) over the seeds.
#
# usage: scripts/plot_curves.sh [-t TITLE] [-b BINS] [-y YMIN:YMAX] OUT.(png|svg) LOG.csv...
#   e.g. scripts/plot_curves.sh -t "DQN CartPole-v1" cartpole.png runs/cartpole/seed*.csv
# Needs gnuplot and awk. A bin with no finished episode for a seed carries
# that seed's previous value forward (empty until its first episode).
set -eu

title="learning curve"
bins=50
yrange=""
while getopts "t:b:y:h" opt; do
    case $opt in
    t) title=$OPTARG ;;
    b) bins=$OPTARG ;;
    y) yrange=$OPTARG ;;
    h) sed -n '2,11p' "$0"; exit 0 ;;
    *) echo "usage: $0 [-t TITLE] [-b BINS] [-y YMIN:YMAX] OUT.(png|svg) LOG.csv..." >&2; exit 2 ;;
    esac
done
shift $((OPTIND - 1))
if [ $# -lt 2 ]; then
    echo "usage: $0 [-t TITLE] [-b BINS] [-y YMIN:YMAX] OUT.(png|svg) LOG.csv..." >&2
    exit 2
fi
out=$1
shift
case $out in
*.png) term="pngcairo size 800,500 font 'sans,10'" ;;
*.svg) term="svg size 800,500 font 'sans,10'" ;;
*) echo "plot_curves.sh: OUT must end in .png or .svg" >&2; exit 2 ;;
esac
command -v gnuplot >/dev/null || { echo "plot_curves.sh: gnuplot is not installed" >&2; exit 1; }
for f in "$@"; do
    [ -r "$f" ] || { echo "plot_curves.sh: cannot read $f" >&2; exit 1; }
done

data=$(mktemp)
trap 'rm -f "$data"' EXIT

awk -F, -v nb="$bins" '
FNR == 1 { nf++; next }                    # header
{ step[nf, ++n[nf]] = $1; ret[nf, n[nf]] = $3; if ($1 + 0 > maxs) maxs = $1 + 0 }
END {
    if (maxs <= 0 || nf == 0) exit 1
    w = maxs / nb
    for (f = 1; f <= nf; f++) {
        have = 0
        for (b = 0; b < nb; b++) { s[b] = 0; c[b] = 0 }
        for (i = 1; i <= n[f]; i++) {
            b = int((step[f, i] - 1) / w); if (b >= nb) b = nb - 1
            s[b] += ret[f, i]; c[b]++
        }
        for (b = 0; b < nb; b++) {
            if (c[b] > 0) { last = s[b] / c[b]; have = 1 }
            if (have) { v[f, b] = last; ok[f, b] = 1 }
        }
    }
    for (b = 0; b < nb; b++) {
        k = 0; sum = 0; sq = 0; lo = ""; hi = ""
        for (f = 1; f <= nf; f++) if (ok[f, b]) {
            x = v[f, b]; k++; sum += x; sq += x * x
            if (lo == "" || x < lo) lo = x
            if (hi == "" || x > hi) hi = x
        }
        if (k == 0) continue
        m = sum / k; var = sq / k - m * m; if (var < 0) var = 0
        printf "%.0f %.6g %.6g %.6g %.6g %.6g %d\n", (b + 1) * w, m, m - sqrt(var), m + sqrt(var), lo, hi, k
    }
}' "$@" > "$data"

nseeds=$#
gnuplot <<GP
set terminal $term
set output "$out"
set title "$title ($nseeds seeds)"
set xlabel "environment steps"
set ylabel "episode return"
set key bottom right
set grid
$( [ -n "$yrange" ] && echo "set yrange [$yrange]" )
set style fill transparent solid 0.15 noborder
plot "$data" using 1:5:6 with filledcurves lc rgb "#1f77b4" title "min–max", \
     "$data" using 1:3:4 with filledcurves lc rgb "#1f77b4" fs transparent solid 0.3 title "mean ± std", \
     "$data" using 1:2 with lines lw 2 lc rgb "#1f77b4" title "mean over seeds"
GP
echo "wrote $out"
