#!/bin/sh
# Transcripts in, transcripts out: a fused model that carries its text
# tokenizer transcribes speech tokens into words (ASR) and speaks
# transcripts (TTS) without any other file.
. "$top_srcdir/tests/setup.sh"

cat >trans.txt <<'EOF2'
u1 the cat sat on the mat
u2 a dog ran in the park
u3 the sun is hot
u4 we like green tea
u5 birds sing at dawn
u6 the cat ran to the dog
EOF2
cut -d' ' -f2- trans.txt >corpus.txt
zip-tokenize -q --fit text --vocab 280 -o bpe.tok corpus.txt
zip-tokenize -q -m bpe.tok trans.txt >text.tok
# speech: two codes per text token, a deterministic stand-in for audio
awk 'NR == 1 { print "#! zipper tokens modality=speech vocab=20"; next }
	{ l = $1; for (i = 2; i <= NF; i++) l = l " " ($i % 18) " " (($i * 7) % 18); print l }' text.tok >speech.tok
vocab=$(sed -n '1s/.*vocab=\([0-9]*\).*/\1/p' text.tok)
cat >t.json <<JSON
{"vocab": $vocab, "d_model": 32, "n_layers": 2, "n_heads": 4, "d_ff": 64, "max_seq": 64, "tie_embeddings": true}
JSON
cat >s.json <<'JSON'
{"vocab": 20, "d_model": 24, "n_layers": 2, "n_heads": 3, "d_ff": 48, "max_seq": 64, "tie_embeddings": true}
JSON
zip-train -q -j1 --config t.json --eos 2 -T 16 --lr 1e-2 --steps 100 text.tok -o t.zpm
zip-train -q -j1 --config s.json --eos 19 -T 16 --lr 1e-2 --steps 100 speech.tok -o s.zpm
zip-fuse -q -j1 --text-tower t.zpm --speech-tower s.zpm --freeze none -b 6 --lr 1e-2 --steps 300 \
	--text-tokenizer bpe.tok speech.tok text.tok -o f.zpm

zip-generate -q -j1 -m f.zpm --task asr speech.tok >hyp.txt
assert_same hyp.txt trans.txt
# the pipe of DESIGN §2: tokens in, scored words out
zip-generate -q -j1 -m f.zpm --task asr <speech.tok | zip-eval-wer trans.txt - >wer.txt
grep -q '^%WER 0.00 ' wer.txt || fail "expected 0% WER: $(cat wer.txt)"
zip-generate -q -j1 -m f.zpm --task asr --tokens speech.tok >hyp.tok
assert_same hyp.tok text.tok
zip-generate -q -j1 -m f.zpm --task tts --transcripts trans.txt >tts.tok
assert_same tts.tok speech.tok
# A model without a carried tokenizer takes --text-tokenizer.
zip-fuse -q -j1 --text-tower t.zpm --speech-tower s.zpm --steps 1 speech.tok text.tok -o bare.zpm
zip-generate -q -j1 -m bare.zpm --task asr --text-tokenizer bpe.tok --max-new 3 speech.tok >bare.txt
[ "$(wc -l <bare.txt)" = 6 ] || fail "expected 6 transcripts"
expect_exit 2 zip-generate -m bare.zpm --task tts --transcripts trans.txt
expect_stderr "with a text tokenizer"
# Tokens made by another tokenizer are refused.
sed '1s/tokenizer=[0-9a-f]*/tokenizer=0123456789abcdef/' text.tok >other.tok
expect_exit 1 zip-generate -m f.zpm --task tts other.tok
expect_stderr "tokenizer"
expect_one_line_stderr
