#!/bin/sh
# zip-generate: a tiny tower overfits a tiny corpus, then greedy decoding
# and beam search reproduce it from 3-token prompts; sampling is seeded;
# --score; bad input.
. "$top_srcdir/tests/setup.sh"
. "$top_srcdir/tests/tower-corpus.sh"

# Utterances of 15 tokens, each after the end token: windows of 16 hold
# one utterance each, as generation will see it.
corpus 8 15 >train.tok
zip-train -q -j1 --config tower.json --eos 0 -T 16 -b 8 --steps 150 --lr 3e-3 --warmup 10 \
	--weight-decay 0 --log log.jsonl train.tok -o tiny.zpm
# Near-zero loss: all that is left is the first token of each utterance,
# which nothing predicts (log 8 / 16 = 0.13 nats a token).
tail -1 log.jsonl | awk -F'"loss":' '{ split($2, a, ","); exit !(a[1] < 0.25) }' ||
	fail "the tiny model did not overfit: $(tail -1 log.jsonl)"

prompts 3 train.tok >prompts.tok
zip-generate -q -m tiny.zpm --with-prompt prompts.tok >greedy.tok
assert_same greedy.tok train.tok
zip-generate -q -m tiny.zpm --with-prompt --beam 4 -o beam.tok prompts.tok
assert_same beam.tok train.tok
zip-generate -q -m tiny.zpm --with-prompt --bf16 prompts.tok >bf16.tok
assert_same bf16.tok train.tok
# Without --with-prompt: only the continuation, and --max-new bounds it.
zip-generate -q -m tiny.zpm --max-new 5 prompts.tok >five.tok
awk '!/^#/ && NF != 6 { exit 1 }' five.tok || fail "--max-new 5 gave other lengths"
grep -q '^#! zipper tokens modality=text vocab=30' five.tok || fail "output header: $(head -1 five.tok)"

# Sampling: the same seed gives the same tokens; another seed other tokens.
opts="-q -m tiny.zpm --temperature 3 --top-k 20 --top-p 0.95"
zip-generate $opts --seed 7 prompts.tok >s1.tok
zip-generate $opts --seed 7 prompts.tok >s2.tok
zip-generate $opts --seed 8 prompts.tok >s3.tok
assert_same s1.tok s2.tok
cmp -s s1.tok s3.tok && fail "--seed 7 and --seed 8 sampled the same tokens"
# top-k 1 is greedy whatever the temperature.
zip-generate -q -m tiny.zpm --with-prompt --temperature 5 --top-k 1 prompts.tok >k1.tok
assert_same k1.tok train.tok

# --score: the training utterances are likely, shuffled ones are not.
zip-generate -q -m tiny.zpm --score train.tok >score.txt
[ "$(wc -l <score.txt)" = 8 ] || fail "--score: expected 8 lines"
awk '$4 != 16 || $3 > 1.3 || $2 > 0 { exit 1 }' score.txt || fail "--score: $(cat score.txt)"
awk '/^#/ { print; next } { printf "%s", $1; for (i = NF; i > 1; i--) printf " %s", $i; print "" }' \
	train.tok >reversed.tok
zip-generate -q -m tiny.zpm --score reversed.tok >rscore.txt
awk '$3 < 5 { exit 1 }' rscore.txt || fail "--score: reversed utterances look likely: $(cat rscore.txt)"

# Bad input.
expect_exit 2 zip-generate prompts.tok
expect_stderr "no model"
expect_exit 2 zip-generate -m tiny.zpm --beam 2 --temperature 1 prompts.tok
expect_exit 2 zip-generate -m tiny.zpm --score --beam 2 prompts.tok
expect_stderr "^zip-generate: --score scores the tokens given: --beam and --temperature are for generating"
expect_exit 2 zip-generate -m tiny.zpm --temperature 1e999 prompts.tok
expect_stderr "^zip-generate: --temperature: 1e999 is outside 0\.\.1e\+06$"
expect_exit 1 zip-generate -m missing.zpm prompts.tok
expect_stderr "missing.zpm"
expect_one_line_stderr
printf '#! zipper tokens modality=speech vocab=30\nu1 1 2 3\n' >speech.tok
expect_exit 1 zip-generate -m tiny.zpm speech.tok
expect_stderr "modality speech"
printf 'u1 1 2 32\n' >oov.tok
expect_exit 1 zip-generate -m tiny.zpm oov.tok
expect_stderr "oov.tok:1: token 32 is outside"
# A NUL byte would cut a line short unseen: refused.
printf 'u1 1 2\0003\n' >nul.tok
expect_exit 1 zip-generate -m tiny.zpm nul.tok
expect_stderr "nul.tok:1: NUL byte in line"
expect_one_line_stderr
# An utterance without tokens continues the end token, cleanly (no UBSan report).
printf 'u1\nu2 1 2\n' >empty.tok
expect_exit 0 zip-generate -q -m tiny.zpm --with-prompt --max-new 2 empty.tok
[ ! -s err ] || fail "an empty utterance: $(cat err)"
corpus 1 70 >long.tok
echo kept >out.tok
expect_exit 1 zip-generate -m tiny.zpm -o out.tok long.tok
expect_stderr "max_seq"
# Every utterance skipped: nothing to write, and the output keeps what it had.
expect_stderr "long.tok: every utterance was skipped"
[ "$(cat out.tok)" = kept ] || fail "a run that wrote nothing replaced its output: $(cat out.tok)"
expect_exit 1 zip-generate -m tiny.zpm --score -o out.tok long.tok
[ "$(cat out.tok)" = kept ] || fail "--score: a run that wrote nothing replaced its output"

# A Hugging Face LLaMA checkpoint with its config.json works as a tower.
printf 'u1 1 2 3 4\n' >hf.tok
zip-generate -q -m "$data/tower-hf.safetensors" --config "$data/tower-hf.json" --max-new 3 hf.tok >hf.out
awk '!/^#/ && NF != 4 { exit 1 }' hf.out || fail "Hugging Face model: $(cat hf.out)"
