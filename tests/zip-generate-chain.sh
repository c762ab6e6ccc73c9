#!/bin/sh
# zip-generate --output-modalities text,speech / speech,text: chained
# outputs of a tiny fused model. zip-fuse trains only [speech][text] and
# [text][speech], so the second segment is not checked for content here
# (check_zipper checks its logits against the training forward over the
# whole linear sequence); the first must be what --task gives, and the
# second a well-formed archive of the right modality for every utterance.
. "$top_srcdir/tests/setup.sh"
. "$top_srcdir/tests/fuse-corpus.sh"

zip-fuse -q -j1 --text-tower text.zpm --speech-tower speech.zpm --freeze none -b 8 --lr 1e-2 \
	--steps 100 speech.tok text.tok -o f.zpm

# well_formed FILE MODALITY VOCAB: the header, then the 12 utterances in
# order, every id in [0, VOCAB).
well_formed() {
	head -n 1 "$1" | grep -q "^#! zipper tokens modality=$2 vocab=$3" || fail "$1: header"
	awk -v V="$3" '!/^#/ { if ($1 != sprintf("utt%02d", n++)) bad = 1
		for (i = 2; i <= NF; i++) if ($i !~ /^[0-9]+$/ || $i + 0 >= V) bad = 1 }
		END { exit bad || n != 12 }' "$1" || fail "$1: not 12 utterances of ids below $3"
}

# speech in: text, then speech.
zip-generate -q -j1 -m f.zpm --task asr speech.tok >asr.tok
zip-generate -q -j1 -m f.zpm --output-modalities text,speech --speech-out c-sp.tok speech.tok >c-tx.tok
assert_same c-tx.tok asr.tok
well_formed c-sp.tok speech 20
awk '!/^#/ && NF > 1 { n++ } END { exit n == 0 }' c-sp.tok || fail "no speech was chained"

# text in: speech, then text (-o names the text, --speech-out the speech).
zip-generate -q -j1 -m f.zpm --task tts text.tok >tts.tok
zip-generate -q -j1 -m f.zpm --output-modalities speech,text --speech-out d-sp.tok -o d-tx.tok text.tok
assert_same d-sp.tok tts.tok
well_formed d-tx.tok text 32

# Beam search and sampling chain too; sampling is reproducible; --max-new
# caps both segments.
zip-generate -q -j1 -m f.zpm --task asr --beam 3 speech.tok >asr3.tok
zip-generate -q -j1 -m f.zpm --output-modalities text,speech --beam 3 --speech-out b-sp.tok speech.tok >b-tx.tok
assert_same b-tx.tok asr3.tok
well_formed b-sp.tok speech 20
zip-generate -q -m f.zpm --output-modalities text,speech --temperature 1.5 --seed 3 --speech-out s1.sp speech.tok >s1.tx
zip-generate -q -m f.zpm --output-modalities text,speech --temperature 1.5 --seed 3 --speech-out s2.sp speech.tok >s2.tx
assert_same s1.tx s2.tx
assert_same s1.sp s2.sp
zip-generate -q -m f.zpm --output-modalities text,speech --max-new 3 --speech-out m.sp speech.tok >m.tx
awk '!/^#/ && NF > 4 { bad = 1 } END { exit bad }' m.tx m.sp || fail "--max-new 3 exceeded"

# Bad use: exit 2 with one clear line.
expect_exit 2 zip-generate -m f.zpm --output-modalities text,speech speech.tok
expect_stderr "needs --speech-out"
expect_exit 2 zip-generate -m f.zpm --task asr --speech-out x.tok speech.tok
expect_stderr "is for chains"
expect_exit 2 zip-generate -m f.zpm --output-modalities text,text --speech-out x.tok speech.tok
expect_stderr "give text, speech, text,speech or speech,text"
expect_exit 2 zip-generate -m f.zpm --output-modalities text,speech --speech-out - speech.tok
expect_stderr "must differ"
zip-fuse -q -j1 --single-decoder --text-tower text.zpm -b 8 --steps 2 speech.tok text.tok -o s.zpm
expect_exit 2 zip-generate -m s.zpm --output-modalities text,speech --speech-out x.tok speech.tok
expect_stderr "need a fused model"
test ! -e x.tok || fail "x.tok written by a refused run"
