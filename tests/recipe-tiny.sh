#!/bin/sh
# recipes/synth-en --tiny: run the corpus stages (0-4) into a scratch directory
# and check what they promise: audio for every manifest line (16 kHz mono FLAC),
# a transcript for every aligned utterance, splits disjoint by sentence,
# unseen voices and variants absent from every training set, nested train
# subsets, a summary that parses and agrees with the manifests, and a resumed
# stage that remakes a lost file byte for byte. tests/recipe-exp-tiny.sh runs
# the experiment stages (5-9).
. "$top_srcdir/tests/setup.sh"

for c in espeak-ng sox soxi bash; do
	command -v "$c" >/dev/null || { echo "SKIP: $c not installed"; exit 77; }
done
command -v zip-eval-wer >/dev/null || { echo "SKIP: zip-eval-wer not built"; exit 77; }

recipe="$top_srcdir/recipes/synth-en/run.sh"
out="$work/synth"
bash "$recipe" --tiny --dir "$out" -j 2 --seed 3 --bin "$top_builddir/cmd" --stop-stage 4 >"$work/log" 2>&1 ||
	fail "run.sh --tiny failed: $(tail -5 "$work/log")"
d="$out/data"

aligned="train dev test-seen test-unseen"
subsets="train-1pct train-3pct train-10pct train-30pct train-100pct"
for s in $aligned speech-only $subsets; do
	for f in wav.scp utt2spk spk2utt utt2dur; do
		[ -s "$d/$s/$f" ] || fail "$s/$f missing or empty"
	done
	while read -r utt path; do
		[ -s "$path" ] || fail "$s: $utt: $path missing"
	done <"$d/$s/wav.scp"
	[ "$(cut -d' ' -f2 "$d/$s/wav.scp" | xargs soxi -r | sort -u)" = 16000 ] || fail "$s: not all 16 kHz"
	[ "$(cut -d' ' -f2 "$d/$s/wav.scp" | xargs soxi -c | sort -u)" = 1 ] || fail "$s: not all mono"
	[ "$(cut -d' ' -f2 "$d/$s/wav.scp" | xargs soxi -t | sort -u)" = flac ] || fail "$s: not all FLAC"
	cut -d' ' -f1 "$d/$s/wav.scp" >"$work/ids"
	cut -d' ' -f1 "$d/$s/utt2spk" | cmp -s - "$work/ids" || fail "$s: utt2spk and wav.scp disagree"
	cut -d' ' -f1 "$d/$s/utt2dur" | cmp -s - "$work/ids" || fail "$s: utt2dur and wav.scp disagree"
	[ "$(cut -d' ' -f2- "$d/$s/spk2utt" | wc -w)" -eq "$(wc -l <"$work/ids")" ] || fail "$s: spk2utt incomplete"
	sort -c "$work/ids" || fail "$s: wav.scp not sorted"
done

# Transcripts: one per aligned utterance, normalised (lower case, no
# punctuation but apostrophes), none for the speech-only corpus.
for s in $aligned $subsets; do
	[ "$(cut -d' ' -f1 "$d/$s/text")" = "$(cut -d' ' -f1 "$d/$s/wav.scp")" ] ||
		fail "$s: text and wav.scp disagree"
	! cut -d' ' -f2- "$d/$s/text" | grep -q "[^a-z' ]" || fail "$s: text not normalised"
done
[ ! -e "$d/speech-only/text" ] || fail "speech-only has transcripts in data/"

# Disjoint by sentence: no word sequence in two of the five sets.
for s in $aligned; do cut -d' ' -f2- "$d/$s/text" | sort -u; done >"$work/sents"
cut -f8 "$out/exp/plan/speech-only.plan" | sort -u >>"$work/sents"
[ -z "$(sort "$work/sents" | uniq -d)" ] || fail "a sentence is in two sets: $(sort "$work/sents" | uniq -d | head -1)"
# ... and none of dev/test in the text-only corpus.
for s in dev test-seen test-unseen; do cut -d' ' -f2- "$d/$s/text"; done | sort -u >"$work/held"
[ -z "$(sort -u "$d/text-only/corpus.txt" | comm -12 - "$work/held")" ] || fail "a dev/test sentence is in the text corpus"

# Unseen voices and their variants: never in train, dev, test-seen or speech-only.
for s in train dev test-seen speech-only; do cut -d' ' -f1 "$d/$s/spk2utt"; done | sort -u >"$work/seen"
cut -d' ' -f1 "$d/test-unseen/spk2utt" | sort -u >"$work/unseen"
[ -z "$(comm -12 "$work/seen" "$work/unseen")" ] || fail "a test-unseen voice is also seen"
sed 's/.*_//' "$work/seen" | sort -u >"$work/seen.var"
sed 's/.*_//' "$work/unseen" | sort -u >"$work/unseen.var"
[ -z "$(comm -12 "$work/seen.var" "$work/unseen.var")" ] || fail "a test-unseen variant is also seen"

# Nested subsets, ending with the whole train split.
prev=
for s in $subsets; do
	if [ -n "$prev" ]; then
		cut -d' ' -f1 "$d/$s/wav.scp" >"$work/outer"
		[ -z "$(cut -d' ' -f1 "$d/$prev/wav.scp" | comm -23 - "$work/outer")" ] || fail "$prev is not inside $s"
		[ "$(wc -l <"$d/$prev/wav.scp")" -le "$(wc -l <"$d/$s/wav.scp")" ] || fail "$prev larger than $s"
	fi
	prev=$s
done
assert_same "$d/train/wav.scp" "$d/train-100pct/wav.scp"

# summary.json parses and agrees with the manifests.
if [ -x /usr/bin/python3 ]; then
	/usr/bin/python3 -c '
import json, sys
s = json.load(open(sys.argv[1]))
n = s["splits"]["train"]["utterances"]
assert n == int(sys.argv[2]), (n, sys.argv[2])
assert s["splits"]["test-unseen"]["voices"] > 0 and s["text-only"]["words"] > 0
' "$d/summary.json" "$(wc -l <"$d/train/wav.scp")" || fail "summary.json wrong"
else
	grep -q "\"train\": {\"hours\": [0-9.]*, \"utterances\": $(wc -l <"$d/train/wav.scp")," "$d/summary.json" ||
		fail "summary.json wrong"
fi

# Resume: a lost file is made again, identical; done stages are skipped.
victim=$(sed -n 3p "$d/train/wav.scp" | cut -d' ' -f2)
cp "$victim" "$work/victim.flac"
rm "$victim"
bash "$recipe" --tiny --dir "$out" -j 2 --seed 3 --bin "$top_builddir/cmd" --stage 2 --stop-stage 2 --force \
	>"$work/log2" 2>&1 || fail "resumed stage 2 failed: $(tail -3 "$work/log2")"
grep -q "speaking 58 utterances" "$work/log2" || fail "stage 2 did not plan the same utterances"
assert_same "$work/victim.flac" "$victim"
# Rerunning stage 2 made stages 3 and 4 out of date; stages 0-2 are done.
bash "$recipe" --tiny --dir "$out" -j 1 --seed 3 --bin "$top_builddir/cmd" --stop-stage 4 >"$work/log3" 2>&1 ||
	fail "rerun failed"
[ "$(grep -c 'already done' "$work/log3")" -eq 3 ] || fail "done stages were not skipped: $(cat "$work/log3")"
grep -q "stage 4 done" "$work/log3" || fail "stage 4 was not redone"
assert_same "$d/train/wav.scp" "$d/train-100pct/wav.scp"

# Own recordings: imported transcripts are normalised, manifests complete,
# and a test split's sentences leave the text corpus.
head -n 2 "$d/dev/wav.scp" >"$work/my.scp"
awk '{ print $1, "Hello, World! It is 42." }' "$work/my.scp" >"$work/my.txt"
echo "hello world it is forty two" >>"$d/text-only/corpus.txt"
bash "$top_srcdir/recipes/synth-en/local/import_data.sh" --bin "$top_builddir/cmd" "$out" test-mine \
	"$work/my.scp" "$work/my.txt" >"$work/log4" 2>&1 || fail "import_data.sh failed: $(cat "$work/log4")"
[ "$(cut -d' ' -f2- "$d/test-mine/text" | sort -u)" = "hello world it is forty two" ] || fail "imported text not normalised"
[ "$(wc -l <"$d/test-mine/utt2dur")" -eq 2 ] && [ "$(wc -l <"$d/test-mine/spk2utt")" -eq 2 ] || fail "imported manifests incomplete"
! grep -qx "hello world it is forty two" "$d/text-only/corpus.txt" || fail "imported test sentence still in the text corpus"
expect_exit 1 bash "$top_srcdir/recipes/synth-en/local/import_data.sh" "$out" x "$work/none.scp"
expect_one_line_stderr

# A bad option is a usage error.
expect_exit 2 bash "$recipe" --no-such-option
expect_exit 2 bash "$recipe" -j x
