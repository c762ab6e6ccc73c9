#!/bin/sh
# Compares speech-unit variants on the recipe's corpus (recipes/synth-en),
# held out: each codebook is fitted on NFIT train utterances and measured on
# NTEST utterances of each of dev, test-seen and test-unseen (round-trip
# retention through zip-detokenize, unit perplexity), and on NSENT dev
# sentences that espeak-ng speaks in four voices of the recipe, two of train
# and two of test-unseen (how much the units follow the words rather than
# the voice: bench/units_corpus.py).
# usage: bench/units-corpus.sh DATA [k ...]   (from the build tree; DATA is
# the recipe's data/ folder; default k 256 512 1024). VARIANTS='25 global'
# and so on picks the rate/normalisation pairs (default all four). PCA=1
# also compares PCA whitening and deltas (bench/units_pca.py, NumPy k-means
# fitted on the same train utterances, measured on the voice set, no round
# trip); PCA=only runs that part alone.
# NFIT (400), NTEST (40), NSENT (10) size the run; -j2 throughout (JOBS).
set -eu
data=$(cd "$1" && pwd)
shift
ks=${*:-256 512 1024}
nfit=${NFIT:-400} ntest=${NTEST:-40} nsent=${NSENT:-10} j=${JOBS:-2}
variants=${VARIANTS:-25 global,50 global,25 utterance,50 utterance}
top=$(cd "$(dirname "$0")/.." && pwd)
PATH="$top/cmd:$PATH"
w=$(mktemp -d "${TMPDIR:-/tmp}/units.XXXXXX")
trap 'rm -rf "$w"' EXIT
# every n-th line, so that the subset spans the speakers
spread() {
	awk -v want="$2" 'NR == FNR { n++; next }
		FNR % int(n / want > 1 ? n / want : 1) == 0 && m < want { print; m++ }' "$1" "$1"
}
spread "$data/train/wav.scp" "$nfit" >"$w/fit.scp"
for s in dev test-seen test-unseen; do
	spread "$data/$s/wav.scp" "$ntest" >"$w/$s.scp"
done
# voices: esp_LANG_VARIANT speakers, espeak-ng -v LANG+VARIANT
pick() { cut -d' ' -f2 "$data/$1/utt2spk" | grep '^esp_' | sort -u | sed -n "1p;\$p"; }
spk=$( (pick train; pick test-unseen) | sed 's/^esp_//')
spread "$data/dev/text" "$nsent" | cut -d' ' -f2- >"$w/sents"
mkdir "$w/v"
i=0
while read -r s; do
	i=$((i + 1))
	for v in $spk; do
		espeak-ng -v "$(echo "$v" | sed 's/_/+/')" -w "$w/v/s$i-$(echo "$v" | tr -d _+-).wav" "$s"
	done
done <"$w/sents"
echo "# fit: $nfit train utterances; held out: $ntest each; voices: $(echo "$spk" | tr "\n" " ")"
cd "$w"
[ "${PCA:-}" = only ] || {
printf 'rate\tnorm\tk\tdev%%\tseen%%\tunseen%%\tppl\txvoice\txtext\tratio\n'
echo "$variants" | tr ',' '\n' | while read -r rate norm; do
	for k in $ks; do
		zip-tokenize -q -j "$j" --fit speech -k "$k" --rate "$rate" --norm "$norm" \
			-o u.tok scp:fit.scp
		args=
		for s in dev test-seen test-unseen; do
			zip-tokenize -q -j "$j" -m u.tok -o "$s.a" "scp:$s.scp"
			rm -rf wav
			zip-detokenize -q -j "$j" -m u.tok -d wav "$s.a"
			zip-tokenize -q -j "$j" -m u.tok -o "$s.b" wav/*.wav
			args="$args $s:$s.a:$s.b"
		done
		zip-tokenize -q -j "$j" -m u.tok -o voices.a v/*.wav
		# shellcheck disable=SC2086
		printf '%s\t%s\t%s\t%s\n' "$rate" "$norm" "$k" \
			"$(/usr/bin/python3 "$top/bench/units_corpus.py" "$k" voices.a $args)"
	done
done
}
if [ "${PCA:-}" ]; then
	zip-tokenize -q -j "$j" --emit features -o fit.ark scp:fit.scp
	zip-tokenize -q -j "$j" --emit features -o voices.ark v/*.wav
	for k in $ks; do
		echo "# NumPy k-means at 25/s, k $k, fitted on the train utterances"
		/usr/bin/python3 "$top/bench/units_pca.py" fit.ark "$k" voices.ark
	done
fi
