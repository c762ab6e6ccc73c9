#!/bin/sh
# Fitting time of the text tokenizer on a large corpus, and a ratio against
# sentencepiece's BPE trainer (Debian package sentencepiece) on the same
# text, measured in the same run.
#
# usage: bench/bpe.sh [WORDS [VOCAB [THREADS]]]   (from the build tree)
# The corpus is whatever English-ish text Debian installs: package
# changelogs, then Vim's documentation, cut at WORDS words (default 10 M).
# Set CORPUS=file to use your own text instead. SPM_WORDS (default 1 M)
# bounds sentencepiece's share, which is much slower.
set -eu
words=${1:-10000000}
vocab=${2:-8000}
threads=${3:-2}
spm_words=${SPM_WORDS:-1000000}
bench=${BENCH_BPE:-bench/bench_bpe}
work=$(mktemp -d "${TMPDIR:-/tmp}/bench-bpe.XXXXXX")
trap 'rm -rf "$work"' EXIT

first_words() { awk -v max="$1" '{ n += NF; print; if (n >= max) exit }'; }

if [ -n "${CORPUS:-}" ]; then
	zcat -f "$CORPUS" | first_words "$words" >"$work/corpus.txt"
else
	{ zcat -f /usr/share/doc/*/changelog*.gz 2>/dev/null || true
	  cat /usr/share/vim/vim*/doc/*.txt 2>/dev/null || true; } |
		first_words "$words" >"$work/corpus.txt"
fi
first_words "$spm_words" <"$work/corpus.txt" >"$work/small.txt"

# measure command...: run it; print "WALL CPU" seconds (CPU = user + system,
# less disturbed than wall time when the machine is shared).
measure() {
	if [ -x /usr/bin/time ]; then
		/usr/bin/time -f "%e %U %S" -o "$work/time" "$@" >"$work/log" 2>&1 ||
			{ cat "$work/log" >&2; exit 1; }
		awk '{ printf "%.2f %.2f", $1, $2 + $3 }' "$work/time"
	else
		s=$(date +%s.%N)
		"$@" >"$work/log" 2>&1 || { cat "$work/log" >&2; exit 1; }
		e=$(date +%s.%N)
		echo "$s $e" | awk '{ printf "%.2f nan", $2 - $1 }'
	fi
}

echo "== zipper bpe, full corpus (vocab $vocab, $threads threads)"
"$bench" -q -j "$threads" -v "$vocab" -w "$words" "$work/corpus.txt"

echo "== both on the first $spm_words words, reading and writing included"
ours=$(measure "$bench" -q -j "$threads" -v "$vocab" -w "$spm_words" "$work/small.txt")
echo "zipper bpe:        wall, cpu seconds: $ours"
if command -v spm_train >/dev/null 2>&1; then
	theirs=$(measure spm_train --input="$work/small.txt" --model_prefix="$work/spm" \
		--vocab_size="$vocab" --model_type=bpe --num_threads="$threads" --minloglevel=2)
	echo "sentencepiece bpe: wall, cpu seconds: $theirs"
	echo "$theirs $ours" | awk '{ printf "ratio: zipper is %.1fx faster (wall), %.1fx (cpu)\n", $1 / $3, $2 / $4 }'
else
	echo "sentencepiece not installed (apt-get install sentencepiece): no ratio"
fi
