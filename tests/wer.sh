#!/bin/sh
# zip-eval-wer: hand-worked golden cases, each input format, mode and
# normalisation, errors and exit codes, and golden report files diffed
# exactly.
. "$top_srcdir/tests/setup.sh"
gold="$data/wer"
cases=0

# t NAME "OPTIONS" REF HYP EXPECTED [LINE]: REF and HYP are printf formats
# written to ref.txt and hyp.txt; line LINE (default 1) of the output must
# be EXPECTED.
t() {
	printf "$3" >ref.txt
	printf "$4" >hyp.txt
	# shellcheck disable=SC2086
	zip-eval-wer $2 ref.txt hyp.txt >out.txt 2>err.txt || fail "$1: exit $?: $(cat err.txt)"
	got=$(sed -n "${6:-1}p" out.txt)
	[ "$got" = "$5" ] || fail "$1: got '$got', expected '$5'"
	cases=$((cases + 1))
}

t "all correct" "" 'u1 a b c\n' 'u1 a b c\n' '%WER 0.00 [ 0 / 3, 0 ins, 0 del, 0 sub ]'
t "all wrong" "" 'u1 a b c\n' 'u1 x y z\n' '%WER 100.00 [ 3 / 3, 0 ins, 0 del, 3 sub ]'
t "empty hyp" "" 'u1 a b c\n' 'u1\n' '%WER 100.00 [ 3 / 3, 0 ins, 3 del, 0 sub ]'
t "empty ref: 100 when anything is inserted" "" 'u1\n' 'u1 a b\n' '%WER 100.00 [ 2 / 0, 2 ins, 0 del, 0 sub ]'
t "empty ref and hyp: 0" "" 'u1\n' 'u1\n' '%WER 0.00 [ 0 / 0, 0 ins, 0 del, 0 sub ]'
t "empty ref among others" "" 'u1 a b\nu2\n' 'u1 a b\nu2 x\n' '%WER 50.00 [ 1 / 2, 1 ins, 0 del, 0 sub ]'
t "insertion" "" 'u1 a c\n' 'u1 a b c\n' '%WER 50.00 [ 1 / 2, 1 ins, 0 del, 0 sub ]'
t "deletion" "" 'u1 a b c d\n' 'u1 a c d\n' '%WER 25.00 [ 1 / 4, 0 ins, 1 del, 0 sub ]'
t "tie: unit costs take two substitutions" "" 'u1 a b\n' 'u1 b a\n' '%WER 100.00 [ 2 / 2, 0 ins, 0 del, 2 sub ]'
t "tie: sclite costs take a deletion and an insertion" "--sclite" 'u1 a b\n' 'u1 b a\n' '%WER 100.00 [ 2 / 2, 1 ins, 1 del, 0 sub ]'
t "tie: the last of two equal words matches" "--pra -" 'u1 a a\n' 'u1 a\n' 'REF:  A a ' 3
t "above 100%" "" 'u1 a\n' 'u1 x y z\n' '%WER 300.00 [ 3 / 1, 2 ins, 0 del, 1 sub ]'
t "hyp order does not matter" "" 'u1 a b c d\nu2 e f\n' 'u2 e g\nu1 a b c d\n' '%WER 16.67 [ 1 / 6, 0 ins, 0 del, 1 sub ]'
t "sentence error rate" "" 'u1 a b c d\nu2 e f\n' 'u2 e g\nu1 a b c d\n' '%SER 50.00 [ 1 / 2 ]' 2
t "Unicode words" "" 'u1 café naïve 東京\n' 'u1 cafe naïve 東京\n' '%WER 33.33 [ 1 / 3, 0 ins, 0 del, 1 sub ]'
t "CER" "--cer" 'u1 abc\n' 'u1 abd\n' '%CER 33.33 [ 1 / 3, 0 ins, 0 del, 1 sub ]'
t "CER counts the space between words" "--cer" 'u1 ab  cd\n' 'u1 abcd\n' '%CER 20.00 [ 1 / 5, 0 ins, 1 del, 0 sub ]'
t "CER without spaces" "--cer --cer-no-space" 'u1 ab cd\n' 'u1 abcd\n' '%CER 0.00 [ 0 / 4, 0 ins, 0 del, 0 sub ]'
t "CER over code points" "--cer" 'u1 日本語\n' 'u1 日本\n' '%CER 33.33 [ 1 / 3, 0 ins, 1 del, 0 sub ]'
t "trn input" "" 'a b c (s-1)\n (s-2)\n' 'a x c (s-1)\ny (s-2)\n' '%WER 66.67 [ 2 / 3, 1 ins, 0 del, 1 sub ]'
t "trn ref, Kaldi hyp" "" 'a b c (s-1)\n' 's-1 a b\n' '%WER 33.33 [ 1 / 3, 0 ins, 1 del, 0 sub ]'
t "--format kaldi keeps a final (word)" "--format kaldi" 'u1 hello (laughs)\n' 'u1 hello\n' '%WER 50.00 [ 1 / 2, 0 ins, 1 del, 0 sub ]'
t "--mode present" "--mode present" 'u1 a\nu2 b\n' 'u1 a\n' '%WER 0.00 [ 0 / 1, 0 ins, 0 del, 0 sub ]'
t "--mode present counts" "--mode present" 'u1 a\nu2 b\n' 'u1 a\n' 'Scored 1 sentences, 1 not present in hyp.' 3
t "--mode all" "--mode all" 'u1 a\nu2 b\n' 'u1 a\n' '%WER 50.00 [ 1 / 2, 0 ins, 1 del, 0 sub ]'
t "--mode all counts" "--mode all" 'u1 a\nu2 b\n' 'u1 a\n' 'Scored 2 sentences, 1 not present in hyp.' 3
t "--mode strict, all present" "--mode strict" 'u1 a\n' 'u1 a\n' 'Scored 1 sentences, 0 not present in hyp.' 3
t "case matters by default" "" 'u1 Hello WORLD\n' 'u1 hello world\n' '%WER 100.00 [ 2 / 2, 0 ins, 0 del, 2 sub ]'
t "--lower" "--lower" 'u1 Hello WORLD Ñandú\n' 'u1 hello world ñandú\n' '%WER 0.00 [ 0 / 3, 0 ins, 0 del, 0 sub ]'
t "--sclite ignores case" "--sclite" 'u1 Hello\n' 'u1 hello\n' '%WER 0.00 [ 0 / 1, 0 ins, 0 del, 0 sub ]'
t "--sclite folds A-Z only, as sclite" "--sclite" 'u1 École\n' 'u1 école\n' '%WER 100.00 [ 1 / 1, 0 ins, 0 del, 1 sub ]'
t "--strip-punct" "--strip-punct" 'u1 hello, world.\n' 'u1 «hello» world\n' '%WER 0.00 [ 0 / 2, 0 ins, 0 del, 0 sub ]'
t "--strip-punct removes apostrophes" "--strip-punct" "u1 dont\n" "u1 don't\n" '%WER 0.00 [ 0 / 1, 0 ins, 0 del, 0 sub ]'
t "--keep-apostrophes" "--strip-punct --keep-apostrophes" "u1 dont\n" "u1 don't\n" '%WER 100.00 [ 1 / 1, 0 ins, 0 del, 1 sub ]'
t "hyphens join words" "" 'u1 well known\n' 'u1 well-known\n' '%WER 100.00 [ 2 / 2, 0 ins, 1 del, 1 sub ]'
t "--split-hyphens" "--split-hyphens" 'u1 well known\n' 'u1 well-known\n' '%WER 0.00 [ 0 / 2, 0 ins, 0 del, 0 sub ]'
t "--numbers" "--numbers" 'u1 forty two\n' 'u1 42\n' '%WER 0.00 [ 0 / 2, 0 ins, 0 del, 0 sub ]'
t "--normalize english" "--normalize english" "u1 hello world it's the third one\n" "u1 Hello, World! It's the 3rd-one.\n" '%WER 0.00 [ 0 / 6, 0 ins, 0 del, 0 sub ]'
t "--per-utt" "--per-utt" 'u1 a b\nu2 c\n' 'u1 a\nu2 c\n' 'u1 %WER 50.00 [ 1 / 2, 0 ins, 1 del, 0 sub ]'
t "blank lines are skipped" "" '\nu1 a\n\n' 'u1 a\n   \n' '%WER 0.00 [ 0 / 1, 0 ins, 0 del, 0 sub ]'
t "tabs separate words" "" 'u1\ta\tb\n' 'u1 a b\n' '%WER 0.00 [ 0 / 2, 0 ins, 0 del, 0 sub ]'
[ "$cases" -ge 30 ] || fail "only $cases golden cases"

# --collapse-space (and the others) through --normalize-only, which the
# data recipes use; '-' is stdin.
printf 'u1  a \t b\n' | zip-eval-wer --collapse-space --normalize-only - >out.txt
printf 'u1 a b\n' >want.txt
assert_same out.txt want.txt
printf 'a  b (s-1)\n' | zip-eval-wer --normalize english --normalize-only - >out.txt
printf 'a b (s-1)\n' >want.txt
assert_same out.txt want.txt

# Every reading in the espeak-ng-checked table (tests/ref/espeak-numbers.sh).
awk -F '\t' '{ printf "n%d %s\n", NR, $1 }' "$gold/numbers.tsv" >nums.txt
awk -F '\t' '{ printf "n%d %s\n", NR, $2 }' "$gold/numbers.tsv" >want.txt
zip-eval-wer --normalize english --normalize-only nums.txt >out.txt
assert_same out.txt want.txt

# gzip and stdin.
printf 'u1 a b c\n' >ref.txt
gzip -c ref.txt >ref.txt.gz
printf 'u1 a b\n' | zip-eval-wer ref.txt.gz - >out.txt
grep -qx '%WER 33.33 \[ 1 / 3, 0 ins, 1 del, 0 sub \]' out.txt || fail "gz/stdin: $(cat out.txt)"

# Errors: one line naming the place, exit 1.
printf 'u1 a\nu2 b\nu1 c\n' >dup.txt
expect_exit 1 zip-eval-wer dup.txt ref.txt
expect_stderr "^zip-eval-wer: dup.txt:3: duplicate utterance id 'u1' \(first on line 1\)$"
expect_one_line_stderr
printf 'u1 a\nu2 b\377\n' >bad.txt
expect_exit 1 zip-eval-wer ref.txt bad.txt
expect_stderr '^zip-eval-wer: bad.txt:2: invalid UTF-8'
expect_exit 1 zip-eval-wer --cer ref.txt bad.txt
expect_stderr '^zip-eval-wer: bad.txt:2: invalid UTF-8'
printf 'a b (s-1)\nc d\n' >bad.trn
expect_exit 1 zip-eval-wer bad.trn bad.trn
expect_stderr '^zip-eval-wer: bad.trn:2: expected a trn line'
printf 'u1 a\nu2 b\n' >two.txt
expect_exit 1 zip-eval-wer two.txt ref.txt
expect_stderr "u2"
expect_one_line_stderr
expect_exit 1 zip-eval-wer ref.txt two.txt
expect_stderr "u2"
expect_exit 0 zip-eval-wer --mode present ref.txt two.txt
expect_stderr 'warning: 1 hypothesis utterance is not in the reference'
expect_exit 1 zip-eval-wer ref.txt missing.txt
expect_stderr 'missing.txt'
expect_exit 1 zip-eval-wer --pra /nonexistent/dir/x.pra ref.txt ref.txt
: >empty.txt
expect_exit 1 zip-eval-wer empty.txt empty.txt
expect_stderr 'nothing to score'
printf 'u9 a\n' >other.txt
expect_exit 1 zip-eval-wer --mode present ref.txt other.txt
expect_stderr 'nothing to score'
printf 'a b (s-1)\nc d (s-2) e\n' >bad.trn
expect_exit 1 zip-eval-wer --normalize english --normalize-only bad.trn
expect_stderr '^zip-eval-wer: bad.trn:2: expected a trn line'
expect_one_line_stderr
printf 'u1 ok\nu2 caf\351\n' >bad.txt
expect_exit 1 zip-eval-wer --normalize english --normalize-only bad.txt
expect_stderr '^zip-eval-wer: bad.txt:2: invalid UTF-8'
expect_one_line_stderr
printf 'u1 ok\nu2 a\000b\n' >nul.txt
expect_exit 1 zip-eval-wer ref.txt nul.txt
expect_stderr '^zip-eval-wer: nul.txt:2: NUL byte in line'
expect_exit 1 zip-eval-wer --normalize english --normalize-only nul.txt
expect_stderr '^zip-eval-wer: nul.txt:2: NUL byte in line'

# Usage: exit 2.
expect_exit 2 zip-eval-wer ref.txt
expect_exit 2 zip-eval-wer --mode sometimes ref.txt ref.txt
expect_exit 2 zip-eval-wer --format csv ref.txt ref.txt
expect_exit 2 zip-eval-wer --normalize french ref.txt ref.txt
expect_exit 2 zip-eval-wer --cer-no-space ref.txt ref.txt
# Standard input is read once: not both files.
expect_exit 2 zip-eval-wer - - <ref.txt
expect_stderr "^zip-eval-wer: only one input may be -"
expect_exit 2 zip-eval-wer --bogus ref.txt ref.txt
expect_exit 2 zip-eval-wer --normalize-only ref.txt ref.txt
expect_exit 0 zip-eval-wer --help
grep -q '^usage: zip-eval-wer' "$work/out" || fail "--help"

# Golden reports, diffed exactly.
for opts in "plain:--mode present" "per-utt:--mode all --per-utt" \
	"json:--mode all --json --per-utt" "sclite:--mode present --sclite" \
	"cer:--mode present --cer --json" "english:--mode all --normalize english"; do
	name=${opts%%:*}
	# shellcheck disable=SC2086
	zip-eval-wer ${opts#*:} "$gold/ref.txt" "$gold/hyp.trn" >"$name.out" 2>/dev/null
	assert_same "$gold/report-$name.txt" "$name.out"
done
zip-eval-wer --mode all --pra out.pra --dtl out.dtl "$gold/ref.txt" "$gold/hyp.trn" 2>/dev/null >/dev/null
assert_same "$gold/report.pra" out.pra
assert_same "$gold/report.dtl" out.dtl
# No errors at all: empty confusion tables, written cleanly (no UBSan report).
expect_exit 0 zip-eval-wer --dtl same.dtl "$gold/ref.txt" "$gold/ref.txt"
[ ! -s err ] || fail "--dtl with no errors: $(cat err)"
grep -q 'CONFUSION PAIRS' same.dtl || fail "--dtl with no errors: no confusion table"
