#!/bin/bash
# bench/synth-bench.sh [N]: CPU cost of speaking N sentences (default 200) of
# recipes/synth-en/local/tiny-sentences.txt with espeak-ng, the two ways
# recipes/synth-en/local/synth.sh can: one espeak-ng program per sentence (the
# reference) and one library process for all (espeak_batch.py); then the
# same with resampling to 16 kHz FLAC by sox added. Prints CPU seconds, real
# time factors per core and the ratio, all measured in this run.
set -euo pipefail
export LC_ALL=C
n=${1:-200}
top=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/synth-bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
grep -v '^#' "$top/recipes/synth-en/local/tiny-sentences.txt" | tr -d '",;:.!?' | tr 'A-Z' 'a-z' |
	head -n "$n" | awk '{ printf "%d\ten-us+m3\t170\t50\t1\t%s\n", NR, $0 }' >"$tmp/list"
mkdir -p "$tmp/cli" "$tmp/lib"

cpu() { # cpu CMD...: user+sys CPU seconds of CMD and its children
	local TIMEFORMAT='%3U %3S'
	{ time "$@" >/dev/null 2>&1; } 2>&1 | awk '{ printf "%.2f", $1 + $2 }'
}
speak_cli() {
	while IFS=$'\t' read -r i v s p _ words; do
		espeak-ng -v "$v" -s "$s" -p "$p" -w "$tmp/cli/$i.wav" "$words"
	done <"$tmp/list"
}
speak_lib() { python3 "$top/recipes/synth-en/local/espeak_batch.py" "$tmp/list" "$tmp/lib"; }
to_flac() { for f in "$tmp/$1"/*.wav; do sox -R -V1 "$f" -r 16000 -c 1 -b 16 -t flac "${f%.wav}.flac" rate; done; }

c_cli=$(cpu speak_cli) c_lib=$(cpu speak_lib)
c_sox=$(cpu to_flac lib)
secs=$(soxi -D "$tmp"/lib/*.wav | awk '{ s += $1 } END { printf "%.1f", s }')
cmp -s "$tmp/cli/1.wav" "$tmp/lib/1.wav" || echo "warning: first sentence differs between the two ways" >&2
awk -v n="$n" -v secs="$secs" -v cli="$c_cli" -v lib="$c_lib" -v sox="$c_sox" 'BEGIN {
	printf "%d sentences, %.1f s of speech\n", n, secs
	printf "espeak-ng program per sentence   %6.2f CPU s  %5.0fx real time\n", cli, secs / cli
	printf "espeak_batch.py, one process     %6.2f CPU s  %5.0fx real time\n", lib, secs / lib
	printf "sox to 16 kHz FLAC               %6.2f CPU s  %5.0fx real time\n", sox, secs / sox
	printf "ratio, speaking alone:           %.2fx\n", cli / lib
	printf "ratio, speaking + sox:           %.2fx\n", (cli + sox) / (lib + sox)
}'
