#!/bin/sh
# zip-generate with a fused model: a tiny model trained on both tasks
# transcribes (ASR) and speaks (TTS) its training utterances back exactly.
. "$top_srcdir/tests/setup.sh"
. "$top_srcdir/tests/fuse-corpus.sh"

zip-fuse -q -j1 --text-tower text.zpm --speech-tower speech.zpm --freeze none -b 8 --lr 1e-2 \
	--steps 300 speech.tok text.tok -o f.zpm

zip-generate -q -j1 -m f.zpm --task asr speech.tok >asr.tok
assert_same asr.tok text.tok
zip-generate -q -j1 -m f.zpm --task asr --beam 4 <speech.tok >beam.tok
assert_same beam.tok text.tok
zip-generate -q -j1 -m f.zpm --output-modalities speech -o tts.tok text.tok
assert_same tts.tok speech.tok

# Greedy decoding of utterances batched together (of different lengths)
# equals decoding them one at a time, on a half-trained model.
zip-fuse -q -j1 --text-tower text.zpm --speech-tower speech.zpm --freeze none -b 8 --lr 1e-2 \
	--steps 60 speech.tok text.tok -o p.zpm
zip-generate -q -j1 -m p.zpm --task tts --batch 5 text.tok >b5.tok
zip-generate -q -j1 -m p.zpm --task tts --top-k 1 --temperature 1e-6 text.tok >one.tok
assert_same b5.tok one.tok

# Sampling is reproducible with a seed, and the length limit holds.
zip-generate -q -m f.zpm --task tts --temperature 1.5 --seed 3 text.tok >s1.tok
zip-generate -q -m f.zpm --task tts --temperature 1.5 --seed 3 text.tok >s2.tok
assert_same s1.tok s2.tok
zip-generate -q -m f.zpm --task tts --max-new 3 text.tok >short.tok
awk '!/^#/ && NF > 4 { bad = 1 } END { exit bad }' short.tok || fail "--max-new 3 exceeded"

# Bad use: one clear line, exit 2 for usage, 1 for bad input.
expect_exit 2 zip-generate -m f.zpm speech.tok
expect_stderr "needs --task"
expect_exit 2 zip-generate -m text.zpm --task asr speech.tok
expect_stderr "need a fused model"
expect_exit 2 zip-generate -m f.zpm --output-modalities text,speech speech.tok
expect_exit 1 zip-generate -m f.zpm --task asr text.tok
expect_stderr "modality text, expected speech"
expect_one_line_stderr
# Every utterance too long: nothing written, and the output keeps what it had.
awk 'NR == 1 { print; printf "long"; for (i = 0; i < 70; i++) printf " 1"; print "" }' speech.tok >long.tok
echo kept >kept.tok
expect_exit 1 zip-generate -q -j1 -m f.zpm --task asr -o kept.tok long.tok
expect_stderr "long.tok: every utterance was skipped"
[ "$(cat kept.tok)" = kept ] || fail "a run that wrote nothing replaced its output"

# The single-decoder baseline: same data, same interface.
zip-fuse -q -j1 --single-decoder --text-tower text.zpm -b 8 --lr 1e-2 --steps 300 speech.tok text.tok -o s.zpm
zip-info s.zpm | grep -q '^kind: single-decoder' || fail "s.zpm is not a single decoder"
sed 's/text_vocab\\":32/text_vocab\\":31/' s.zpm >sv.zpm
expect_exit 1 zip-info sv.zpm
expect_stderr "^zip-info: sv\.zpm: vocabularies 31 \+ [0-9]+ do not make the tower's [0-9]+$"
sed 's/text_eos/text_bos/' s.zpm >sd.zpm
expect_exit 1 zip-generate -m sd.zpm --task asr speech.tok
expect_stderr '^zip-generate: sd\.zpm: not a valid single-decoder model: config: duplicate key "text_bos"$'
expect_one_line_stderr
zip-generate -q -j1 -m s.zpm --task asr speech.tok >s-asr.tok
assert_same s-asr.tok text.tok
zip-generate -q -j1 -m s.zpm --task tts --beam 3 text.tok >s-tts.tok
assert_same s-tts.tok speech.tok
