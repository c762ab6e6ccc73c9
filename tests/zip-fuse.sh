#!/bin/sh
# zip-fuse: training runs, exact resumption, bad input.
. "$top_srcdir/tests/setup.sh"
. "$top_srcdir/tests/fuse-corpus.sh"

common="-q -j1 --text-tower text.zpm --speech-tower speech.zpm -b 4 --lr 3e-3 --steps 20"

# An uninterrupted run, and one stopped after step 7 then resumed, write
# the same loss curve (to the last bit) and the same model.
zip-fuse $common --log a.jsonl speech.tok text.tok -o a.zpm
[ "$(grep -c '"asr_loss"' a.jsonl)" = 20 ] || fail "expected 20 step lines in the log"
zip-fuse $common --log b.jsonl --stop-after 7 speech.tok text.tok -o b.zpm
[ -f b.zpm.ckpt ] && [ ! -f b.zpm ] || fail "--stop-after: expected a checkpoint and no model"
zip-fuse $common --log b.jsonl --resume speech.tok text.tok -o b.zpm
sed 's/,"tokens_per_s".*/}/' a.jsonl >a.curve
sed 's/,"tokens_per_s".*/}/' b.jsonl >b.curve
assert_same a.curve b.curve
assert_same a.zpm b.zpm
zip-info --verify b.zpm.ckpt >/dev/null
zip-info a.zpm | grep -q '^kind: fused' || fail "a.zpm is not a fused model"
zip-info a.zpm | grep -q 'xattn.speech.1.attn_gate' || fail "no cross-attention tensors"
# A fused model whose config the loader refuses: zip-info says so, exit 1.
sed 's/xattn_stages\\":2/xattn_stages\\":9/' a.zpm >stages.zpm
expect_exit 1 zip-info stages.zpm
expect_stderr "^zip-info: stages\.zpm: config: 9 cross-attention stages .* do not fit"
expect_one_line_stderr

# Resuming with other options is refused.
expect_exit 1 zip-fuse $common --tts-ratio 0.9 --resume speech.tok text.tok -o b.zpm
expect_stderr "different options"
expect_one_line_stderr

# The other tasks, freezing and projections, and a paper-style model.
zip-fuse $common --task asr --freeze speech --input-proj paper speech.tok text.tok -o c.zpm
zip-fuse $common --task tts --freeze none --xattn-every-text 1 --xattn-every-speech 2 \
	speech.tok text.tok -o d.zpm
zip-info d.zpm | grep -q '"xattn_stages":1' || fail "every 1 / every 2 of 2 layers: one stage"

# Rotary positions in the blocks: auto takes the pairs' speech tokens per text
# token (exactly 2 here); none is the default, the paper's; the rate is an
# option a resumed run must share.
zip-fuse $common --xattn-rope auto speech.tok text.tok -o rope.zpm
zip-info rope.zpm | grep -q '"xattn_rope_rate":2[,}]' || fail "--xattn-rope auto: the rate is not 2"
zip-fuse $common --steps 2 --xattn-rope 3.5 speech.tok text.tok -o rope35.zpm
zip-info rope35.zpm | grep -q '"xattn_rope_rate":3.5[,}]' || fail "--xattn-rope 3.5 not kept"
zip-fuse $common --xattn-rope none speech.tok text.tok -o none.zpm
assert_same a.zpm none.zpm
expect_exit 1 zip-fuse $common --xattn-rope 3 --resume speech.tok text.tok -o b.zpm
expect_stderr "configured differently"
expect_exit 2 zip-fuse $common --xattn-rope fast speech.tok text.tok -o x.zpm
expect_stderr "--xattn-rope"
expect_exit 2 zip-fuse -q -j1 --single-decoder --text-tower text.zpm --xattn-rope 2 speech.tok text.tok -o x.zpm
expect_stderr "no cross-attention"

# Dev loss per task, every 10 steps, for the fused model and the single decoder.
zip-fuse $common --dev-speech speech.tok --dev-text text.tok --eval-every 10 --log dev.jsonl \
	speech.tok text.tok -o dev.zpm
[ "$(grep -c '"dev_asr_loss"' dev.jsonl)" = 2 ] || fail "expected 2 evaluations in the log"
zip-fuse -q -j1 --single-decoder --text-tower text.zpm -b 4 --steps 4 --dev-speech speech.tok \
	--dev-text text.tok --log sdev.jsonl speech.tok text.tok -o sdev.zpm
grep -q '"dev_tts_loss"' sdev.jsonl || fail "no evaluation at the end"

# A Hugging Face LLaMA checkpoint serves as a tower (with its config.json).
zip-fuse -q -j1 --text-tower "$data/tower-hf.safetensors" --text-config "$data/tower-hf.json" \
	--speech-tower speech.zpm -b 4 --steps 3 speech.tok text.tok -o hf.zpm
zip-info hf.zpm | grep -q '"text":{"vocab":61' || fail "the Hugging Face tower is not the text tower"

# Tokenizers travel in the model file.
zip-fuse $common --steps 2 --text-tokenizer "$data/tower-hf.safetensors" speech.tok text.tok -o tok.zpm
zip-info tok.zpm | grep -q 'tokenizer.text.model.embed_tokens.weight' || fail "no tokenizer tensors"

# Bad input: one clear line, the right exit status, nothing written.
expect_exit 2 zip-fuse --text-tower text.zpm speech.tok text.tok -o x.zpm
expect_stderr "speech-tower"
expect_exit 2 zip-fuse $common --freeze words speech.tok text.tok -o x.zpm
expect_stderr "--freeze: 'words'"
expect_exit 2 zip-fuse $common --dev-speech - --dev-text text.tok - text.tok -o x.zpm <speech.tok
expect_stderr "^zip-fuse: only one input may be -"
expect_exit 2 zip-fuse $common --xattn-layers 2 --xattn-every-text 1 speech.tok text.tok -o x.zpm
expect_exit 1 zip-fuse $common text.tok speech.tok -o x.zpm
expect_stderr "modality text, expected speech"
expect_one_line_stderr
grep -v utt03 text.tok >short.tok
expect_exit 1 zip-fuse $common speech.tok short.tok -o x.zpm
expect_stderr "utt03"
expect_one_line_stderr
expect_exit 1 zip-fuse $common --xattn-layers 3 speech.tok text.tok -o x.zpm
expect_stderr "^zip-fuse: --xattn-layers 3: more stages than the text tower's 2 layers$"
expect_exit 1 zip-fuse $common --xattn-every-text 1 --xattn-every-speech 3 speech.tok text.tok -o x.zpm
expect_stderr "^zip-fuse: --xattn-every-speech 3: the speech tower has only 2 layers$"
expect_exit 1 zip-fuse $common --text-tower speech.zpm speech.tok text.tok -o x.zpm
expect_stderr "speech tower, given as the text tower"
[ ! -e x.zpm ] || fail "a failed run left x.zpm"

# The single decoder resumes exactly too.
single="-q -j1 --single-decoder --text-tower text.zpm -b 4 --lr 3e-3 --steps 12"
zip-fuse $single --log s1.jsonl speech.tok text.tok -o s1.zpm
zip-fuse $single --log s2.jsonl --stop-after 5 speech.tok text.tok -o s2.zpm
zip-fuse $single --log s2.jsonl --resume speech.tok text.tok -o s2.zpm
sed 's/,"tokens_per_s".*/}/' s1.jsonl >s1.curve
sed 's/,"tokens_per_s".*/}/' s2.jsonl >s2.curve
assert_same s1.curve s2.curve
assert_same s1.zpm s2.zpm

# SIGTERM: a checkpoint and exit 143; the resumed run continues at the next step.
endless="-q -j1 --text-tower text.zpm --speech-tower speech.zpm -b 4 --steps 1000000 --log e.jsonl"
zip-fuse $endless speech.tok text.tok -o e.zpm &
pid=$!
i=0
while [ "$(cat e.jsonl 2>/dev/null | wc -l)" -le 2 ] && [ $i -lt 300 ]; do
	sleep 0.1
	i=$((i + 1))
done
kill -TERM $pid
set +e
wait $pid
rc=$?
set -e
[ $rc = 143 ] || fail "SIGTERM: exit $rc, expected 143"
[ -f e.zpm.ckpt ] || fail "SIGTERM: no checkpoint"
last=$(wc -l <e.jsonl)
zip-fuse $endless --resume --stop-after $((last + 2)) speech.tok text.tok -o e.zpm
line=$(sed -n "$((last + 1))p" e.jsonl)
case $line in
"{\"step\":$((last + 1)),"*) ;;
*) fail "the resumed run did not continue at step $((last + 1)): $line" ;;
esac
