# bench/gnuplot/growth.gp — the plot of bench/growth.sh: offered rate (x, log scale) against achieved
# throughput (left axis) and p99 latency (right axis, log scale), from the data file the script writes.
# Run by bench/growth.sh as:
#   gnuplot -e "data='growth.tsv'; out='growth.svg'; subtitle='...'; rates='100 200 400'" growth.gp
# (out ending in .png: PNG through cairo; anything else: SVG; rates: the x tics, default powers of 2)
# Columns of the data file (tab-separated, "-" = no value; header line starts with #):
#   1 offered ops/s  2 achieved ops/s  3 errors  4 unsent  5 p50 ms  6 p99 ms
#   7 placed->confirmed p50 ms  8 placed->confirmed p99 ms  9 confirmed orders/s  10 placed  11 pending
if (!exists("data")) data = 'growth.tsv'
if (!exists("out")) out = 'growth.svg'
if (!exists("subtitle")) subtitle = ''

if (out[strlen(out)-3:] eq ".png") {
  set terminal pngcairo size 1000,600 enhanced font "sans,11" background rgb "white"
} else {
  set terminal svg size 1000,600 dynamic enhanced font "sans,11" background rgb "white"
}
set output out

set datafile separator "\t"
set datafile missing "-"
set title "Mercato: throughput and p99 latency as the offered rate rises" . (subtitle ne '' ? "\n{/*0.8 " . subtitle . "}" : '')
set key below box
set bmargin 8
set grid xtics ytics
set logscale x 2
if (exists("rates")) {
  set xtics ()
  do for [r in rates] { set xtics add (r r + 0) }
}
set xlabel "offered rate (operations/s, open loop)"
set ylabel "achieved throughput (operations/s)"
set yrange [0:*]
set ytics nomirror
set y2label "p99 latency (ms, log scale)"
set logscale y2 10
set y2tics
set format y2 "%g"
set style line 1 lc rgb "#1f77b4" lw 2 pt 7 ps 0.8
set style line 2 lc rgb "#999999" lw 1 dt 2
set style line 3 lc rgb "#d62728" lw 2 pt 5 ps 0.8
set style line 4 lc rgb "#ff7f0e" lw 2 pt 9 ps 0.8

plot data using 1:1 with lines ls 2 title "offered = achieved", \
     data using 1:2 with linespoints ls 1 title "achieved throughput (ok operations/s)", \
     data using 1:6 axes x1y2 with linespoints ls 3 title "p99, all operations (ms, right)", \
     data using 1:8 axes x1y2 with linespoints ls 4 title "p99, order placed → confirmed (ms, right)"
