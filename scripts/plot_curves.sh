#!/bin/sh
# Learning curves from training logs (CSV: step,episode,return,length), one
# log per seed: the episode return averaged over bins of environment steps,
# then mean and spread (mean ± std across seeds, and min–max) over the seeds.
#
# usage: scripts/plot_curves.sh [-t TITLE] [-b BINS] [-y YMIN:YMAX] OUT.(png|svg) [LABEL:] LOG.csv...
#   e.g. scripts/plot_curves.sh -t "DQN CartPole-v1" cartpole.png runs/cartpole/seed*.csv
# Several groups on one plot (mean and mean ± std of each): put "LABEL:" before
# each group's logs, e.g.  ... gap.png plain: plain_seed*.csv clear: clear_seed*.csv
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
    h) sed -n '2,13p' "$0"; exit 0 ;;
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
*.png) term="pngcairo noenhanced size 800,500 font 'sans,10'" ;;
*.svg) term="svg noenhanced size 800,500 font 'sans,10'" ;;
*) echo "plot_curves.sh: OUT must end in .png or .svg" >&2; exit 2 ;;
esac
command -v gnuplot >/dev/null || { echo "plot_curves.sh: gnuplot is not installed" >&2; exit 1; }
tmpd=$(mktemp -d)
trap 'rm -rf "$tmpd"' EXIT

# Split the arguments into groups: "LABEL:" starts one (default: no label).
ngroups=0
label=""
: > "$tmpd/labels"
for a in "$@"; do
    case $a in
    *:) if [ ! -r "$a" ]; then label=${a%:}; ngroups=$((ngroups + 1)); echo "$label" >> "$tmpd/labels"; continue; fi ;;
    esac
    [ -r "$a" ] || { echo "plot_curves.sh: cannot read $a" >&2; exit 1; }
    if [ "$ngroups" -eq 0 ]; then ngroups=1; echo "" >> "$tmpd/labels"; fi
    printf '%s\n' "$a" >> "$tmpd/files$ngroups"
done
[ "$ngroups" -ge 1 ] || { echo "plot_curves.sh: no logs given" >&2; exit 2; }

bin_group() {
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
}' "$@"

}

g=1
while [ "$g" -le "$ngroups" ]; do
    [ -s "$tmpd/files$g" ] || { echo "plot_curves.sh: group $g has no logs" >&2; exit 2; }
    # shellcheck disable=SC2046
    bin_group $(cat "$tmpd/files$g") > "$tmpd/data$g"
    g=$((g + 1))
done

if [ "$ngroups" -eq 1 ] && [ -z "$(head -n 1 "$tmpd/labels")" ]; then
data="$tmpd/data1"
nseeds=$(wc -l < "$tmpd/files1" | tr -d ' ')
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
else
colors="#1f77b4 #d62728 #2ca02c #ff7f0e #9467bd"
plots=""
g=1
while [ "$g" -le "$ngroups" ]; do
    c=$(echo $colors | cut -d' ' -f$(( (g - 1) % 5 + 1 )))
    lab=$(sed -n "${g}p" "$tmpd/labels")
    n=$(wc -l < "$tmpd/files$g" | tr -d ' ')
    [ -n "$plots" ] && plots="$plots, "
    plots="$plots\"$tmpd/data$g\" using 1:3:4 with filledcurves lc rgb \"$c\" fs transparent solid 0.2 notitle, \"$tmpd/data$g\" using 1:2 with lines lw 2 lc rgb \"$c\" title \"$lab (mean ± std, $n seeds)\""
    g=$((g + 1))
done
gnuplot <<GP
set terminal $term
set output "$out"
set title "$title"
set xlabel "environment steps"
set ylabel "episode return"
set key bottom right
set grid
$( [ -n "$yrange" ] && echo "set yrange [$yrange]" )
plot $plots
GP
fi
echo "wrote $out"
