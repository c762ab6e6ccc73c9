#!/bin/sh
# zip-transcribe end to end: six spoken sentences (espeak-ng), a speech
# tokenizer and a BPE fitted on them, towers and a fused model overfitted
# on them that carries both tokenizers; then audio in, the exact
# transcripts out, in every format, from files, wav.scp and stdin, with
# bad inputs, --strict, the model search, and the same words as the
# zip-tokenize | zip-generate --task asr pipe.
. "$top_srcdir/tests/setup.sh"
. "$top_srcdir/tests/man-examples.sh"
for c in espeak-ng soxi jq; do
	command -v "$c" >/dev/null || { echo "$c not installed: skipped"; exit 77; }
done
# One thread (the machines are shared); one run below checks -j 2.
ZIPPER_THREADS=1
export ZIPPER_THREADS

cat >trans.txt <<'EOF'
u1 the cat sat on the mat
u2 a dog ran in the park
u3 the sun is hot
u4 we like green tea
u5 birds sing at dawn
u6 the cat ran to the dog
EOF
mkdir audio
while read -r id words; do espeak-ng -w "audio/$id.wav" "$words"; done <trans.txt
wavs="audio/u1.wav audio/u2.wav audio/u3.wav audio/u4.wav audio/u5.wav audio/u6.wav"
cut -d' ' -f2- trans.txt >corpus.txt
zip-tokenize -q --fit speech -k 16 -o speech.tok $wavs
zip-tokenize -q -m speech.tok $wavs >speech.ark
zip-tokenize -q --fit text --vocab 280 -o bpe.tok corpus.txt
zip-tokenize -q -m bpe.tok trans.txt >text.ark
vocab=$(sed -n '1s/.*vocab=\([0-9]*\).*/\1/p' text.ark)
cat >t.json <<JSON
{"vocab": $vocab, "d_model": 32, "n_layers": 2, "n_heads": 4, "d_ff": 64, "max_seq": 64, "tie_embeddings": true}
JSON
cat >s.json <<'JSON'
{"vocab": 18, "d_model": 24, "n_layers": 2, "n_heads": 3, "d_ff": 48, "max_seq": 64, "tie_embeddings": true}
JSON
zip-train -q --config t.json --eos 2 -T 16 --lr 1e-2 --steps 100 text.ark -o t.zpm
zip-train -q --config s.json --eos 17 -T 16 --lr 1e-2 --steps 100 speech.ark -o s.zpm
zip-fuse -q --text-tower t.zpm --speech-tower s.zpm --freeze none -b 6 --lr 1e-2 --steps 300 \
	--text-tokenizer bpe.tok --speech-tokenizer speech.tok speech.ark text.ark -o f.zpm

# The three formats.
zip-transcribe -q -m f.zpm $wavs >hyp.txt
assert_same hyp.txt corpus.txt
zip-transcribe -q -m f.zpm -o kaldi $wavs >hyp.kaldi
assert_same hyp.kaldi trans.txt
zip-transcribe -q -m f.zpm -o json $wavs >hyp.json
jq -r '.id + " " + .text' hyp.json >json.kaldi
assert_same json.kaldi trans.txt
awk '{ print NF - 1 }' speech.ark | tail -n +2 >want.tokens
jq -r .tokens hyp.json >got.tokens
assert_same got.tokens want.tokens
# OMP_THREAD_LIMIT below -j must not hang OpenBLAS (it waited forever for
# threads the limit refused); the shipped model's k-means is big enough for
# OpenBLAS to thread its products.
OMP_THREAD_LIMIT=1 timeout 120 zip-transcribe -q -j 2 -m "$top_srcdir/models/default.zpm" \
	"$top_srcdir"/samples/*.flac >limited.txt || fail "OMP_THREAD_LIMIT=1 -j 2: exit $?"
[ "$(wc -l <limited.txt)" -eq "$(wc -l <"$top_srcdir/samples/text")" ] || fail "OMP_THREAD_LIMIT=1: lines missing"
# JSON is UTF-8 whatever the bytes: an id (a file name) that is not
# becomes U+FFFD where it is ill-formed.
cp audio/u4.wav "$(printf 'audio/caf\351.wav')"
zip-transcribe -q -m f.zpm -o json "$(printf 'audio/caf\351.wav')" >latin1.json
cut -d, -f1 latin1.json >got.id
printf '{"id":"caf\357\277\275"\n' >want.id
assert_same got.id want.id
for w in $wavs; do soxi -D "$w"; done | awk '{ printf "%.3f\n", $1 }' >want.seconds
jq -r '.seconds' hyp.json | awk '{ printf "%.3f\n", $1 }' >got.seconds
assert_same got.seconds want.seconds

# The same words as the pipe, greedy and with a beam; and in one batch or
# one at a time.
zip-tokenize -q -m speech.tok $wavs | zip-generate -q -m f.zpm --task asr >pipe.kaldi
assert_same hyp.kaldi pipe.kaldi
zip-tokenize -q -m speech.tok $wavs | zip-generate -q -m f.zpm --task asr --beam 3 >pipe3.kaldi
zip-transcribe -q -m f.zpm -o kaldi --beam 3 $wavs >beam3.kaldi
assert_same beam3.kaldi pipe3.kaldi
zip-transcribe -q -m f.zpm -o kaldi --batch 1 $wavs >batch1.kaldi
assert_same batch1.kaldi trans.txt
zip-transcribe -q -j2 -m f.zpm -o kaldi $wavs >j2.kaldi
assert_same j2.kaldi trans.txt

# wav.scp lists (their ids), stdin, --out.
awk -v d="$work/audio" '{ print "spk-" $1 " " d "/" $1 ".wav" }' trans.txt >wav.scp
awk '{ $1 = "spk-" $1; print }' trans.txt >scp.kaldi
zip-transcribe -q -m f.zpm -o kaldi scp:wav.scp >hyp.scp
assert_same hyp.scp scp.kaldi
cp wav.scp list.scp
zip-transcribe -q -m f.zpm -o kaldi list.scp >hyp.scp
assert_same hyp.scp scp.kaldi
zip-transcribe -q -m f.zpm -o kaldi - <audio/u3.wav >stdin.kaldi
echo "stdin the sun is hot" >want.stdin
assert_same stdin.kaldi want.stdin
expect_exit 0 zip-transcribe -q -m f.zpm --out out.txt $wavs
[ ! -s out ] || fail "--out also wrote to stdout"
assert_same out.txt corpus.txt

# A bad file in the middle is reported, skipped, and the run exits 1.
echo "not audio" >audio/bad.wav
: >audio/empty.wav
expect_exit 1 zip-transcribe -q -m f.zpm -o kaldi audio/u1.wav audio/bad.wav audio/u2.wav audio/empty.wav audio/u3.wav
expect_stderr "^zip-transcribe: audio/bad.wav: "
expect_stderr "^zip-transcribe: audio/empty.wav: "
head -3 trans.txt >want.partial
assert_same out want.partial
expect_exit 1 zip-transcribe -q -m f.zpm audio/u1.wav audio/missing.wav
expect_stderr "audio/missing.wav"
# Too long for --max-seconds (u1 is 1.5 s, u3 1.1 s) is a bad input too.
expect_exit 1 zip-transcribe -q -m f.zpm -o kaldi --max-seconds 1.2 audio/u1.wav audio/u3.wav
expect_stderr "^zip-transcribe: audio/u1.wav: .*1.2"
sed -n 3p trans.txt >want.short
assert_same out want.short
# --strict stops at the first and writes nothing.
expect_exit 1 zip-transcribe -q -m f.zpm --strict --out strict.txt audio/u1.wav audio/bad.wav audio/u2.wav
expect_stderr "audio/bad.wav"
expect_stderr "--strict"
[ ! -e strict.txt ] || fail "--strict wrote its output"
# Nothing transcribed is a failure too, and one bad file is one line.
expect_exit 1 zip-transcribe -m f.zpm audio/bad.wav
expect_stderr "^zip-transcribe: audio/bad.wav: "
expect_one_line_stderr

# The model: -m, else $ZIPPER_MODEL, else the installed default.
ZIPPER_MODEL="$work/f.zpm" zip-transcribe -q -o kaldi $wavs >env.kaldi
assert_same env.kaldi trans.txt
ZIPPER_MODEL="$work/none.zpm" expect_exit 2 zip-transcribe audio/u1.wav
expect_stderr "^zip-transcribe: no model: give -m or set ZIPPER_MODEL \(looked for $work/none.zpm\)$"
expect_one_line_stderr
default=$(zip-transcribe --help | awk '/default\.zpm\.$/ { sub(/\.$/, "", $NF); print $NF }')
[ -n "$default" ] || fail "--help does not name the default model"
if [ ! -e "$default" ]; then
	env -u ZIPPER_MODEL sh -c 'zip-transcribe audio/u1.wav' >out 2>err && fail "no model: exit 0"
	grep -q "looked for $default" err || fail "no model: $(cat err)"
fi

# Models that cannot transcribe alone say so in one line.
expect_exit 1 zip-transcribe -m t.zpm audio/u1.wav
expect_stderr "not a fused model"
expect_one_line_stderr
zip-fuse -q --text-tower t.zpm --speech-tower s.zpm --steps 1 --text-tokenizer bpe.tok \
	speech.ark text.ark -o nospeech.zpm
expect_exit 1 zip-transcribe -m nospeech.zpm audio/u1.wav
expect_stderr "carries no speech tokenizer.*--speech-tokenizer"
expect_one_line_stderr
expect_exit 0 zip-transcribe -q -m nospeech.zpm --speech-tokenizer speech.tok $wavs
[ "$(wc -l <out)" = 6 ] || fail "--speech-tokenizer: expected 6 transcripts"
zip-fuse -q --text-tower t.zpm --speech-tower s.zpm --steps 1 speech.ark text.ark -o bare.zpm
expect_exit 1 zip-transcribe -m bare.zpm --speech-tokenizer speech.tok audio/u1.wav
expect_stderr "carries no text tokenizer"
expect_one_line_stderr
# A single decoder transcribes too (as the pipe does), and skips what is
# longer than its max_seq allows (29 speech tokens here: u3 alone fits).
zip-fuse -q --single-decoder --text-tower t.zpm --steps 2 --text-tokenizer bpe.tok \
	--speech-tokenizer speech.tok speech.ark text.ark -o single.zpm
expect_exit 1 zip-transcribe -q -m single.zpm -o kaldi $wavs
[ "$(grep -c 'speech tokens: longer than the model allows (29)' err)" = 5 ] || fail "single: $(cat err)"
zip-tokenize -q -m speech.tok audio/u3.wav | zip-generate -q -m single.zpm --task asr >single.pipe
assert_same out single.pipe

# Usage errors.
expect_exit 2 zip-transcribe -m f.zpm -o hyp.txt audio/u1.wav
expect_stderr "-o takes txt, kaldi or json"
expect_exit 2 zip-transcribe -m f.zpm - - <audio/u1.wav
expect_stderr "^zip-transcribe: only one input may be -"
expect_exit 2 zip-transcribe -m f.zpm
expect_stderr "no input"
expect_exit 2 zip-transcribe -m f.zpm --beam 0 audio/u1.wav

# The EXAMPLES of zip-transcribe(1): every "$ " line in order, in a
# directory with what the page says is there; the lines printed under a
# command are what it must print.
mkdir man && cd man
cp ../f.zpm fused.zpm
cp ../audio/u?.wav .
cp ../trans.txt text
man_examples "$top_srcdir/man/zip-transcribe.1"
[ "$(grep -c zip-transcribe examples.sh)" -ge 3 ] || fail "zip-transcribe(1): examples not found"
