#!/bin/sh
# Checks that zip-eval-wer --numbers writes digits the way espeak-ng (voice
# en) speaks them, and writes the agreed readings to tests/data/wer/numbers.tsv
# (number TAB words) for tests/wer.sh. Run from the source tree after a
# build: tests/ref/espeak-numbers.sh. espeak-ng is needed here only, not in CI.
#
# Method: the phonemes espeak-ng gives the digits (espeak-ng -q -x 1999) must
# equal those it gives our words (espeak-ng -q -x "nineteen hundred and
# ninety nine"), ignoring stress marks, pauses and word boundaries, and the
# weak forms espeak-ng uses inside numbers ("and" as @n, forty as fo@).
set -eu
prog=${ZIP_EVAL_WER:-cmd/zip-eval-wer}
out=tests/data/wer/numbers.tsv
phon() {
	espeak-ng -q -v en -x "$1" | sed "s/_:_: and/ @n/g; s/[',%=_!; ]//g; s/fO@/fo@/g; s/I2l/Il/g; s/hVndr@dT/hVndrI2dT/g"
}
tmp=$(mktemp)
bad=0
for n in 0 7 13 19 20 21 45 99 100 101 110 115 199 200 999 1000 1001 1010 1099 \
	1100 1101 1234 1500 1899 1900 1901 1950 1999 2000 2001 2010 2019 2024 2100 \
	2999 3000 9999 10000 10001 10100 12345 19000 99999 100000 100001 100100 \
	123456 999999 1000000 1000001 1000100 1001000 1234567 2000000000 \
	1000000000000 1000000000000000 3.14 0.5 10.05 1st 2nd 3rd 4th 11th 12th \
	13th 20th 21st 22nd 23rd 99th 100th 101st 1000th 1999th 1,000 1,234,567 \
	007 05 0123 12,34; do
	words=$(printf 'u %s\n' "$n" | "$prog" --normalize english --normalize-only - | cut -d' ' -f2-)
	if [ "$(phon "$n")" = "$(phon "$words")" ]; then
		printf '%s\t%s\n' "$n" "$words" >>"$tmp"
	else
		echo "espeak-ng reads $n differently from '$words'" >&2
		bad=$((bad + 1))
	fi
done
mv "$tmp" "$out"
echo "$out: $(wc -l <"$out") readings agree, $bad differ"
[ "$bad" -eq 0 ]
