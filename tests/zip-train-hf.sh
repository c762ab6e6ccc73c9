#!/bin/sh
# Hugging Face LLaMA checkpoints in BF16 and F16 (tests/ref/tower_hf.py):
# zip-generate loads them with their config.json; zip-train --init starts
# from one and writes a tower file that starts from exactly its weights;
# files with other dtypes or cut short fail with one line.
. "$top_srcdir/tests/setup.sh"
. "$top_srcdir/tests/tower-corpus.sh"

hf="$data/tower-hf.json"
corpus 8 15 >train.tok

# zip-generate: each dtype loads and decodes; BF16 and F16 score the
# corpus nearly as the F32 original does (the logits themselves are
# checked against PyTorch in check_tower).
for dt in bf16 f16; do
	zip-generate -q -m "$data/tower-hf-$dt.safetensors" --config "$hf" --max-new 3 train.tok >$dt.out
	awk '!/^#/ && NF != 4 { exit 1 }' $dt.out || fail "$dt: $(cat $dt.out)"
	zip-generate -q -m "$data/tower-hf-$dt.safetensors" --config "$hf" --score train.tok >$dt.score
done
zip-generate -q -m "$data/tower-hf.safetensors" --config "$hf" --score train.tok >f32.score
paste f32.score bf16.score f16.score | awk '
	function d(a, b) { return a > b ? a - b : b - a }
	d($2, $6) > 0.01 * d($2, 0) || d($2, $10) > 0.001 * d($2, 0) { exit 1 }' ||
	fail "scores differ from F32: $(paste f32.score bf16.score f16.score)"

# zip-train --init: with --lr 0 the tower written is the checkpoint itself
# (same scores, to the last digit), now a "text." tower file of our own.
zip-train -q -j1 --init "$data/tower-hf-bf16.safetensors" --config "$hf" --eos 0 -T 16 -b 2 \
	--steps 2 --lr 0 train.tok -o same.zpm
zip-info --verify same.zpm >info.txt
grep -q 'text.model.embed_tokens.weight' info.txt || fail "no text. tower in: $(cat info.txt)"
zip-generate -q -m same.zpm --score train.tok >same.score
zip-generate -q -m "$data/tower-hf-bf16.safetensors" --config "$hf" --eos 0 --score train.tok >init.score
assert_same init.score same.score
# A few real steps from the BF16 file lower the loss; the result decodes.
zip-train -q -j1 --init "$data/tower-hf-bf16.safetensors" --config "$hf" --eos 0 -T 16 -b 4 \
	--steps 6 --lr 1e-2 --warmup 0 --log log.jsonl train.tok -o trained.zpm
awk -F'"loss":' '/"loss"/ { split($2, a, ","); if (NR == 1) first = a[1]; last = a[1] }
	END { exit !(last < first) }' log.jsonl || fail "loss did not fall: $(cat log.jsonl)"
zip-generate -q -m trained.zpm --max-new 3 train.tok >trained.out
[ "$(grep -vc '^#' trained.out)" = 8 ] || fail "trained model: $(cat trained.out)"
# And it continues like any tower file (--init without --config).
zip-train -q -j1 --init trained.zpm -T 16 -b 4 --steps 1 train.tok -o again.zpm

# Bad input: one line, exit 1, nothing written.
expect_exit 1 zip-train -q --init "$data/tower-hf-bf16.safetensors" train.tok -o x.zpm
expect_stderr "give its config.json"
expect_one_line_stderr
expect_exit 1 zip-train -q --init trained.zpm --config "$hf" train.tok -o x.zpm
expect_stderr "carries its configuration"
expect_one_line_stderr
# An I16 tensor (the header's first BF16, same byte size) is refused.
sed '1s/"BF16"/"I16" /' "$data/tower-hf-bf16.safetensors" >i16.safetensors
cmp -s i16.safetensors "$data/tower-hf-bf16.safetensors" && fail "sed changed nothing"
expect_exit 1 zip-train -q --init i16.safetensors --config "$hf" train.tok -o x.zpm
expect_stderr "i16.safetensors: tensor [a-z_.]+weight: expected F32, F16 or BF16 \[[0-9, ]+\], found I16"
expect_one_line_stderr
expect_exit 1 zip-generate -q -m i16.safetensors --config "$hf" train.tok
expect_stderr "found I16"
expect_one_line_stderr
# Cut short.
head -c 30000 "$data/tower-hf-f16.safetensors" >short.safetensors
expect_exit 1 zip-train -q --init short.safetensors --config "$hf" train.tok -o x.zpm
expect_stderr "short.safetensors: tensor .* run past the end of the file"
expect_one_line_stderr
[ ! -e x.zpm ] || fail "a failed run wrote x.zpm"
