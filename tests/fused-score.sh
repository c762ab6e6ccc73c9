#!/bin/sh
# zip-generate --score with a fused model or a single decoder: each modality
# scored by its side of the model alone, framed as the tower's own --score.
. "$top_srcdir/tests/setup.sh"
. "$top_srcdir/tests/fuse-corpus.sh"

zip-generate -q -m text.zpm --score text.tok >text.score
zip-generate -q -m speech.zpm --score speech.tok >speech.score

# Before any training step (gates 0, residual projections the identity) the
# fused model's sides are exactly the towers, blocks and all.
zip-fuse -q -j1 --text-tower text.zpm --speech-tower speech.zpm --lr 0 --steps 1 speech.tok text.tok -o f0.zpm
zip-generate -q -j1 -m f0.zpm --score text.tok >f0-text.score
assert_same f0-text.score text.score
zip-generate -q -j1 -m f0.zpm --score -o f0-speech.score speech.tok
assert_same f0-speech.score speech.score

# Trained with the text tower frozen: the tower alone still gives its
# figures bit for bit; with its blocks (trained) they move.
zip-fuse -q -j1 --text-tower text.zpm --speech-tower speech.zpm --freeze text -b 8 --lr 1e-2 --steps 40 \
	speech.tok text.tok -o ft.zpm
zip-generate -q -j1 -m ft.zpm --score --tower-only text.tok >ft-tower.score
assert_same ft-tower.score text.score
zip-generate -q -j1 -m ft.zpm --score text.tok >ft-text.score
cmp -s ft-text.score text.score && fail "the trained blocks changed nothing"
zip-generate -q -j1 -m ft.zpm --score --tower-only speech.tok >ft-speech.score
cmp -s ft-speech.score speech.score && fail "the trained speech tower scores as before"
# The format is the tower's: ppl = exp(-loglik / tokens), tokens = ids + end.
grep -v '^#' text.tok | paste ft-text.score - | awk '$1 != $5 || $4 != NF - 4 || \
	(exp(-$2 / $4) - $3) ^ 2 > 1e-8 * $3 ^ 2 { bad = 1 } END { exit bad }' ||
	fail "not 'utt-id loglik perplexity tokens': $(head -2 ft-text.score)"

# A single decoder scores in its extended vocabulary, from the trained
# weights, not a copy of the tower's.
zip-fuse -q -j1 --single-decoder --text-tower text.zpm --lr 0 --steps 1 speech.tok text.tok -o s0.zpm
zip-fuse -q -j1 --single-decoder --text-tower text.zpm --freeze none -b 8 --lr 1e-2 --steps 40 \
	speech.tok text.tok -o s.zpm
for mod in text speech; do
	zip-generate -q -j1 -m s0.zpm --score $mod.tok >s0-$mod.score
	zip-generate -q -j1 -m s.zpm --score $mod.tok >s-$mod.score
	[ "$(wc -l <s-$mod.score)" -eq 12 ] || fail "single decoder: $(cat s-$mod.score)"
	cmp -s s0-$mod.score s-$mod.score && fail "single decoder: $mod scores did not change with training"
done
# Trained on these utterances, it finds them likelier.
[ "$(awk '{ s += $2 } END { printf "%d", s }' s-speech.score)" -gt \
	"$(awk '{ s += $2 } END { printf "%d", s }' s0-speech.score)" ] || fail "training did not help speech"

# Too long for the model: reported and skipped, the rest still scored.
{ cat speech.tok; printf 'long'; i=0; while [ $i -lt 63 ]; do printf ' 1'; i=$((i + 1)); done; echo; } >long.tok
expect_exit 1 zip-generate -q -m f0.zpm --score long.tok
expect_stderr "long.tok:14: utterance long: 65 tokens do not fit"
[ "$(wc -l <out)" -eq 12 ] || fail "the others were not scored"
# All too long: nothing scored, and the output keeps what it had.
{ head -1 speech.tok; tail -1 long.tok; } >alllong.tok
echo kept >kept.score
expect_exit 1 zip-generate -q -m f0.zpm --score -o kept.score alllong.tok
expect_stderr "alllong.tok: every utterance was skipped"
[ "$(cat kept.score)" = kept ] || fail "a run that scored nothing replaced its output"

# Bad input: one line, exit 1 (2 for usage).
sed 's/vocab=32/vocab=33/' text.tok >big.tok
expect_exit 1 zip-generate -m ft.zpm --score big.tok
expect_stderr "big.tok: tokens have a vocabulary of 33, the model's text side has 32"
expect_one_line_stderr
expect_exit 1 zip-generate -m s.zpm --score -o never.score big.tok
expect_one_line_stderr
[ ! -e never.score ] || fail "half-written output"
grep -v '^#!' speech.tok | sed '1s/$/ 18/' >bare.tok
expect_exit 1 zip-generate -m ft.zpm --score bare.tok
expect_stderr "no modality"
expect_one_line_stderr
{ echo '#! zipper tokens modality=speech'; grep -v '^#!' speech.tok | sed '2s/$/ 18/'; } >oov.tok
expect_exit 1 zip-generate -m ft.zpm --score oov.tok
expect_stderr "oov.tok:3: token 18 is outside the model's speech vocabulary \[0, 18\)"
expect_one_line_stderr
expect_exit 2 zip-generate -m ft.zpm --score --task asr speech.tok
expect_exit 2 zip-generate -m ft.zpm --tower-only --task asr speech.tok
expect_exit 2 zip-generate -m text.zpm --score --tower-only text.tok
