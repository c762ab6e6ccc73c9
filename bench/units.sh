#!/bin/sh
# Compares speech-unit variants on espeak-ng speech: 16 sentences x 5
# voices, fit and apply on the same set (a quick probe, not a held-out
# evaluation). For each variant: round-trip retention, unit perplexity, and
# how much the units follow the words rather than the voice (bench/units.py).
# usage: bench/units.sh [k]   (run from the build tree; default k 128)
# PCA=1 also compares PCA whitening and deltas (bench/units_pca.py, NumPy
# k-means, no round trip); PCA=only runs that part alone.
set -eu
k=${1:-128}
top=$(cd "$(dirname "$0")/.." && pwd)
PATH="$top/cmd:$PATH"
w=$(mktemp -d "${TMPDIR:-/tmp}/units.XXXXXX")
trap 'rm -rf "$w"' EXIT
cd "$w"
i=0
while read -r s; do
	i=$((i + 1))
	for v in en-us en-gb en-gb-scotland en-gb-x-rp en-us+f3; do
		espeak-ng -v "$v" -w "s$i-$(echo "$v" | tr -d +-).wav" "$s"
	done
done <<'TEXT'
The quick brown fox jumps over the lazy dog near the bank of the river.
She sells sea shells by the sea shore, and the shells she sells are surely seashells.
A journey of a thousand miles begins with a single step.
Please call Stella and ask her to bring these things with her from the store.
The rain in Spain stays mainly in the plain, or so the song would have us believe.
Six spoons of fresh snow peas, five thick slabs of blue cheese, and maybe a snack.
We also need a small plastic snake and a big toy frog for the kids.
Yesterday the committee voted to postpone the decision until next month.
Numbers like forty two and seventeen are easy to say but hard to remember.
The old lighthouse keeper watched the storm roll in across the grey water.
Bright sunlight poured through the tall windows of the empty library.
Every morning he walked his dog along the narrow path behind the school.
Mathematics is the language in which the laws of nature are written.
Turn left at the second traffic light and the station is on your right.
Careful planning prevents most of the problems that worry new travellers.
Zipper joins a text model and a speech model with gated cross attention.
TEXT
if [ "${PCA:-}" = only ]; then
	zip-tokenize -q --emit features -o feats.ark s*.wav
	/usr/bin/python3 "$top/bench/units_pca.py" feats.ark "$k"
	exit
fi
printf 'variant\tkept%%\tppl\txvoice\txtext\tratio\n'
run() {
	name=$1
	shift
	zip-tokenize -q --fit speech -k "$k" "$@" -o u.tok s*.wav
	zip-tokenize -q -m u.tok s*.wav >a.ids
	rm -rf wav
	zip-detokenize -q -m u.tok -d wav a.ids
	zip-tokenize -q -m u.tok wav/*.wav >b.ids
	printf '%s\t%s\n' "$name" "$(/usr/bin/python3 "$top/bench/units.py" a.ids b.ids "$k")"
}
run "25/s global" --rate 25
run "50/s global" --rate 50
run "25/s utterance" --rate 25 --norm utterance
run "50/s utterance" --rate 50 --norm utterance
if [ "${PCA:-}" ]; then
	zip-tokenize -q --emit features -o feats.ark s*.wav
	/usr/bin/python3 "$top/bench/units_pca.py" feats.ark "$k"
fi
