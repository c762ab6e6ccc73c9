#!/bin/sh
# zip-eval-wer against NIST sclite on the same files in the same run:
# 100,000 utterance pairs of about 20 words (a 5,000-word vocabulary, about
# 15% of words changed). Prints seconds and utterances/s for each and the
# ratio. Usage: bench/wer-bench.sh [UTTERANCES]   (from a build tree)
set -eu
n=${1:-100000}
prog=${ZIP_EVAL_WER:-cmd/zip-eval-wer}
sclite=${SCLITE:-/usr/lib/sctk/bin/sclite}
dir=$(mktemp -d "${TMPDIR:-/tmp}/wer-bench.XXXXXX")
trap 'rm -rf "$dir"' EXIT

awk -v n="$n" -v dir="$dir" 'BEGIN {
	srand(1)
	for (u = 1; u <= n; u++) {
		len = 15 + int(rand() * 11)
		ref = hyp = ""
		for (k = 0; k < len; k++) {
			w = "w" int(rand() * 5000)
			ref = ref w " "
			r = rand()
			if (r < 0.05) continue                       # deletion
			if (r < 0.10) w = "w" int(rand() * 5000)     # substitution
			hyp = hyp w " "
			if (r > 0.95) hyp = hyp "w" int(rand() * 5000) " "  # insertion
		}
		id = sprintf("spk%d-%06d", u % 100, u)
		printf "%s(%s)\n", ref, id > (dir "/ref.trn")
		printf "%s(%s)\n", hyp, id > (dir "/hyp.trn")
	}
}'

# time_it RUNS OUTFILE command...: "wall cpu" seconds (cpu = user + system),
# of the run with the least wall time. The machines are shared, so the CPU
# time is the steadier figure.
time_it() {
	runs=$1 out=$2
	shift 2
	best=
	for _ in $(seq "$runs"); do
		/usr/bin/time -f '%e %U %S' -o "$dir/time" "$@" >"$out" 2>/dev/null
		t=$(awk '{ printf "%.3f %.3f", $1, $2 + $3 }' "$dir/time")
		if [ -z "$best" ] || [ "$(echo "${t%% *} < ${best%% *}" | bc)" = 1 ]; then best=$t; fi
	done
	echo "$best"
}

ours_unit=$(time_it 3 "$dir/unit.out" "$prog" "$dir/ref.trn" "$dir/hyp.trn")
ours=$(time_it 3 "$dir/ours.out" "$prog" --sclite "$dir/ref.trn" "$dir/hyp.trn")
theirs=$(time_it 1 "$dir/sclite.out" "$sclite" -r "$dir/ref.trn" trn -h "$dir/hyp.trn" trn -i spu_id -o rsum stdout)

line() { # line NAME "wall cpu"
	printf '%-24s %8.3f s wall %10d utt/s   %8.3f s cpu %10d utt/s\n' "$1" "${2%% *}" \
		"$(echo "$n / ${2%% *}" | bc)" "${2##* }" "$(echo "$n / ${2##* }" | bc)"
}
printf 'utterances: %d, reference words: %s\n' "$n" "$(awk '/^%WER/ { print $6 }' "$dir/ours.out" | tr -d ,)"
line "zip-eval-wer" "$ours_unit"
line "zip-eval-wer --sclite" "$ours"
line "sclite -o rsum" "$theirs"
printf 'zip-eval-wer --sclite is %.1fx (wall) and %.1fx (cpu) faster than sclite\n' \
	"$(echo "scale=3; ${theirs%% *} / ${ours%% *}" | bc)" "$(echo "scale=3; ${theirs##* } / ${ours##* }" | bc)"
# The totals must agree for the comparison to mean anything.
want=$(awk '$2 == "Sum" { gsub(/\|/, " "); print $3, $5, $6, $7 }' "$dir/sclite.out")
got=$(awk '/^%WER/ { gsub(/[\[\],\/]/, " "); print $4, $9, $7, $5 }' "$dir/ours.out")
[ "$want" = "$got" ] && echo "totals agree with sclite: words sub del ins = $got" ||
	{ echo "totals differ: sclite '$want', zip-eval-wer '$got'" >&2; exit 1; }
