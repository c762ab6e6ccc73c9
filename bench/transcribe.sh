#!/bin/sh
# zip-transcribe against the pipe it replaces, on the same audio, in the
# same run: UTTS recordings of about ten seconds spoken by espeak-ng,
# transcribed by
#   zip-tokenize -m speech.tok wavs | zip-generate -m fused.zpm --task asr
# and by
#   zip-transcribe -m fused.zpm wavs
# on THREADS threads, with a fused model of the DESIGN §5 reference size
# (d_model 384, 6 layers, 6 heads, d_ff 1024 per tower; text vocabulary
# 2048, speech 258 = a 256-unit codebook fitted on the audio, carried in
# the model with the BPE), 3 cross-attention stages, untrained weights
# (speed only: both write the same words, which the script checks).
#
# usage: bench/transcribe.sh [UTTS [THREADS]]   (default 30 recordings,
# 2 threads); run from the build tree.
set -eu
utts=${1:-30}
threads=${2:-2}
top=$(cd "$(dirname "$0")/.." && pwd)
PATH="$top/cmd:$PATH"
work=$(mktemp -d "${TMPDIR:-/tmp}/zipper-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"

# Sentences of 20-30 words from a fixed word list (deterministic).
awk -v n="$utts" 'BEGIN {
	split("the a cat dog sat ran on in park mat sun is hot we like green tea birds sing at dawn " \
	      "river stone quiet morning window light paper garden table yellow house small bright", w, " ")
	x = 7
	for (u = 0; u < n; u++) {
		len = 20 + u % 11
		line = sprintf("utt%03d", u)
		for (i = 0; i < len; i++) {
			x = (x * 1103515245 + 12345) % 2147483648
			line = line " " w[1 + int(x / 65536) % 36]
		}
		print line
	}
}' >text
mkdir wav
while read -r id words; do espeak-ng -w "wav/$id.wav" "$words"; done <text
cut -d' ' -f2- text >corpus.txt
zip-tokenize -q -j"$threads" --fit speech -k 256 -o speech.tok wav/*.wav
zip-tokenize -q --fit text --vocab 2048 -o bpe.tok corpus.txt
zip-tokenize -q -j"$threads" -m speech.tok wav/*.wav >speech.ark
zip-tokenize -q -m bpe.tok text >text.ark
cat >text.json <<'JSON'
{"vocab": 2048, "d_model": 384, "n_layers": 6, "n_heads": 6, "d_ff": 1024, "max_seq": 512, "tie_embeddings": true}
JSON
sed 's/"vocab": 2048/"vocab": 258/' text.json >speech.json
zip-train -q -j"$threads" --config text.json --eos 2 -T 32 --steps 1 text.ark -o text.zpm
zip-train -q -j"$threads" --config speech.json --eos 257 -T 64 --steps 1 speech.ark -o speech.zpm
zip-fuse -q -j"$threads" --text-tower text.zpm --speech-tower speech.zpm --xattn-layers 3 -b 2 --steps 1 \
	--text-tokenizer bpe.tok --speech-tokenizer speech.tok speech.ark text.ark -o fused.zpm

seconds() { # output command...: wall seconds
	out=$1
	shift
	t0=$(date +%s.%N)
	"$@" >"$out"
	t1=$(date +%s.%N)
	echo "$t0 $t1" | awk '{ printf "%.2f", $2 - $1 }'
}
pipe() {
	zip-tokenize -q -j"$threads" -m speech.tok wav/*.wav |
		zip-generate -q -j"$threads" -m fused.zpm --task asr
}
audio=$(for f in wav/*.wav; do soxi -D "$f"; done | awk '{ s += $1 } END { printf "%.1f", s }')
tokens=$(awk '!/^#/ { n += NF - 1 } END { print n }' speech.ark)
p=$(seconds pipe.txt pipe)
t=$(seconds transcribe.txt zip-transcribe -q -j"$threads" -m fused.zpm -o kaldi wav/*.wav)
cmp -s pipe.txt transcribe.txt || { echo "zip-transcribe and the pipe wrote different words" >&2; exit 1; }
words=$(cut -d' ' -f2- transcribe.txt | wc -w)
echo "$utts recordings, $audio s of audio, $tokens speech tokens, $words words out, $threads threads"
echo "$p $t $audio" | awk '{
	printf "zip-tokenize | zip-generate --task asr : %7.2f s  (RTF %.4f)\n", $1, $1 / $3
	printf "zip-transcribe                         : %7.2f s  (RTF %.4f, %.2fx the pipe)\n", $2, $2 / $3, $2 / $1
}'
