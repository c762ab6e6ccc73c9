#!/bin/sh
# zip-tokenize / zip-detokenize on speech synthesised by espeak-ng: fit,
# apply, features, wav.scp lists, bad inputs, determinism, and the round trip
# audio -> tokens -> audio -> tokens (at least 80% of the tokens kept).
. "$top_srcdir/tests/setup.sh"
command -v espeak-ng >/dev/null 2>&1 || { echo "espeak-ng not installed: skipped"; exit 77; }

# Six utterances, three voices, at espeak-ng's 22050 Hz (so resampling runs too).
i=0
for v in en-us en-gb en-gb-scotland; do
	for s in "The quick brown fox jumps over the lazy dog near the bank of the river." \
		"She sells sea shells by the sea shore, and the shells she sells are surely seashells."; do
		i=$((i + 1))
		espeak-ng -v "$v" -w "u$i.wav" "$s"
	done
done
: >wav.scp
for f in u*.wav; do echo "${f%.wav} $work/$f" >>wav.scp; done

# ---- fitting: deterministic given the seed ----
zip-tokenize -q --fit speech -k 32 --iters 15 --seed 3 -o speech.tok scp:wav.scp
zip-tokenize -q -j 1 --fit speech -k 32 --iters 15 --seed 3 -o again.tok u*.wav
assert_same speech.tok again.tok
zip-tokenize -q -j 2 --fit speech -k 32 --iters 15 --seed 3 -o again2.tok u*.wav
assert_same speech.tok again2.tok
zip-tokenize -q --fit speech -k 32 --iters 15 --seed 4 -o other.tok wav.scp
cmp -s speech.tok other.tok && fail "a different seed gave the same tokenizer"
expect_exit 0 zip-tokenize --fit speech -k 32 --iters 2 -o x.tok u1.wav u2.wav u3.wav u4.wav u5.wav u6.wav
expect_stderr "kmeans: iteration 1 inertia"

# ---- applying: header, fingerprint, one line per utterance ----
zip-tokenize -q -m speech.tok scp:wav.scp >tokens
fp=$(sha256sum speech.tok | cut -c1-16)
head -n 1 tokens | grep -Eq "^#! zipper tokens .*modality=speech" || fail "no speech header: $(head -n 1 tokens)"
head -n 1 tokens | grep -q "vocab=34" || fail "vocab is not k + 2: $(head -n 1 tokens)"
head -n 1 tokens | grep -q "tokenizer=$fp" || fail "fingerprint is not sha256 of speech.tok ($fp)"
[ "$(grep -vc '^#' tokens)" = 6 ] || fail "expected 6 utterances"
awk '!/^#/ { for (i = 2; i <= NF; i++) if ($i < 0 || $i >= 32) exit 1 }' tokens || fail "a token outside 0..31"
# 25 tokens/s: an utterance of d seconds has about 25 d tokens
n1=$(awk '$1 == "u1" { print NF - 1 }' tokens)
d1=$(wc -c <u1.wav | awk '{ print ($1 - 44) / 44100 }')
awk -v n="$n1" -v d="$d1" 'BEGIN { exit !(n >= 25 * d - 2 && n <= 25 * d + 2) }' ||
	fail "u1: $n1 tokens for $d1 s"

# files, lists and stdin give the same tokens
zip-tokenize -q -m speech.tok u*.wav >tokens2
assert_same tokens tokens2
zip-tokenize -q -m speech.tok - <u3.wav | grep -v '^#' | cut -d' ' -f2- >stdin.ids
grep '^u3 ' tokens | cut -d' ' -f2- >u3.ids
assert_same stdin.ids u3.ids

# ---- features out and back in ----
zip-tokenize -q --emit features -o feats.ark scp:wav.scp
zip-tokenize -q -m speech.tok -F feats.ark >tokens3
assert_same tokens tokens3
# A NaN in the features is refused, as in audio, not given a token.
cp feats.ark nan.ark
hl=$(od -An -tu2 -j 11 -N 2 nan.ark | tr -d ' ')
printf '\000\000\300\177' | dd of=nan.ark bs=1 seek=$((13 + hl)) conv=notrunc 2>/dev/null
expect_exit 1 zip-tokenize -q -m speech.tok -F nan.ark
expect_stderr "nan.ark: record 'u1': value 0 is not a finite number"

# ---- the round trip ----
zip-detokenize -q -m speech.tok -d rebuilt tokens
[ "$(ls rebuilt | wc -l)" = 6 ] || fail "expected 6 WAV files, got $(ls rebuilt)"
zip-tokenize -q -m speech.tok rebuilt/*.wav >tokens4
kept=$(awk 'FNR == 1 && /^#/ { next }
	NR == FNR { a[$1] = $0; next }
	{ split(a[$1], x, " "); for (i = 2; i <= NF; i++) { total++; if (x[i] == $i) same++ } }
	END { printf "%.1f", 100 * same / total }' tokens tokens4)
echo "round trip audio -> tokens -> audio -> tokens: $kept% of tokens kept (k=32)"
awk -v k="$kept" 'BEGIN { exit !(k >= 80) }' || fail "only $kept% of tokens survive the round trip"

# one utterance to stdout is a WAV
grep '^u1 ' tokens | zip-detokenize -q -m speech.tok -o - >one.wav
[ "$(head -c 4 one.wav)" = RIFF ] || fail "-o - did not write a WAV"
expect_exit 1 zip-detokenize -m speech.tok -o two.wav tokens
expect_stderr "more than one utterance"
expect_exit 1 zip-detokenize -m other.tok -d x tokens
expect_stderr "tokenizer"
printf 'u1 1 2 99\n' >bad.tok
expect_exit 1 zip-detokenize -m speech.tok -d x bad.tok
expect_stderr "bad.tok:1"

printf 'u1\n' >empty.ids
expect_exit 1 zip-detokenize -m speech.tok -d x empty.ids
expect_stderr "empty.ids:1: u1: no speech tokens"
printf '../escape 1 2 3\n' >escape.ids
expect_exit 1 zip-detokenize -m speech.tok -d x escape.ids
expect_stderr "cannot be a file name"
[ ! -e escape.wav ] || fail "wrote outside the directory"

# ---- bad inputs: reported and skipped, exit 1; --strict stops ----
printf 'not audio at all\n' >garbage.wav
: >empty.wav
{ cat wav.scp; echo "gone $work/missing.wav"; echo "junk $work/garbage.wav"; echo "zero $work/empty.wav"; } >mixed.scp
expect_exit 1 zip-tokenize -q -m speech.tok -o mixed.tok scp:mixed.scp
expect_stderr "missing.wav: cannot open: No such file"
expect_stderr "garbage.wav: unsupported or unrecognised audio format"
expect_stderr "empty.wav: empty file \\(zero-length audio\\)"
expect_stderr "3 inputs failed"
[ "$(grep -vc '^#' mixed.tok)" = 6 ] || fail "the good utterances were not all written"
expect_exit 1 zip-tokenize -q --strict -m speech.tok -o strict.tok scp:mixed.scp
[ ! -e strict.tok ] || fail "--strict left an output behind"
expect_exit 1 zip-tokenize -q -m speech.tok --max-seconds 1 u1.wav
expect_stderr "longer than the limit of 1 s"
expect_exit 1 zip-tokenize -m speech.tok garbage.wav
expect_stderr "^zip-tokenize: .*garbage.wav: unsupported"
expect_one_line_stderr
expect_exit 1 zip-tokenize --fit speech -k 4 -o never.tok garbage.wav
expect_one_line_stderr
[ ! -e never.tok ] || fail "a fit on no audio wrote a tokenizer"
[ ! -s "$work/out" ] || fail "a run that tokenized nothing wrote: $(cat "$work/out")"
mkdir adir
expect_exit 1 zip-tokenize -q -m speech.tok adir
expect_stderr "adir: is a directory"
# A WAV cut short is refused; a WAV streamed to a pipe (placeholder data
# size 0x7ffff000) is read to its end, from a file and from stdin.
head -c "$(($(wc -c <u1.wav) / 2))" u1.wav >cut.wav
expect_exit 1 zip-tokenize -q -m speech.tok cut.wav
expect_stderr "^zip-tokenize: cut.wav: truncated WAV: the data chunk declares [0-9]+ bytes, [0-9]+ are present$"
[ "$(grep -c truncated "$work/err")" = 1 ] || fail "truncation is not one line: $(cat "$work/err")"
espeak-ng --stdout "a streamed utterance" >streamed.wav
expect_exit 0 zip-tokenize -q -m speech.tok streamed.wav
expect_exit 0 zip-tokenize -q -m speech.tok - <streamed.wav
printf 'u1 %s/u1.wav\nu1 %s/u2.wav\n' "$work" "$work" >dup.scp
expect_exit 1 zip-tokenize -q -m speech.tok dup.scp
expect_stderr "duplicate utterance id|appears twice"
: >none.scp
expect_exit 1 zip-tokenize -m speech.tok -o none.tok none.scp
expect_stderr "^zip-tokenize: none\.scp: no utterances in the list$"
expect_one_line_stderr
printf 'u1 sox a.wav -t wav - |\n' >pipe.scp
expect_exit 1 zip-tokenize -q -m speech.tok pipe.scp
expect_stderr "pipe.scp:1: commands ending in '\|' are not supported"
expect_exit 1 zip-tokenize -q -m garbage.wav u1.wav
expect_exit 1 zip-tokenize -q --fit speech -k 4096 -o big.tok u1.wav
expect_stderr "too few"

# ---- usage errors ----
expect_exit 2 zip-tokenize --fit speech --rate 30 -o x.tok u1.wav
expect_exit 2 zip-tokenize --fit sound -o x.tok u1.wav
expect_exit 2 zip-tokenize -m speech.tok
expect_exit 2 zip-tokenize --fit speech u1.wav
expect_exit 2 zip-detokenize tokens
expect_exit 2 zip-tokenize --emit features -m speech.tok u1.wav
expect_exit 2 zip-tokenize --emit sounds u1.wav
expect_exit 0 zip-tokenize --help
expect_exit 0 zip-detokenize --help
