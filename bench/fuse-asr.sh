#!/bin/sh
# ASR speed of a fused model: UTTS ten-second utterances of speech tokens
# (250 at 25/s; the default 360 make one hour, 90,000 tokens) transcribed by zip-generate on THREADS
# threads, greedy and with beam 4, each utterance making NEW text tokens.
# The reference, measured in the same run: the text tower alone making the
# same tokens from a one-token prompt (so the ratio is what the speech
# tower's encoding and the cross-attention cost on top of plain decoding).
# The towers are the DESIGN §5 reference size (d_model 384, 6 layers,
# 6 heads, d_ff 1024), text vocabulary 2048, speech 1024 (codebook 1022),
# 3 cross-attention stages; the weights are untrained (speed only).
#
# usage: bench/fuse-asr.sh [UTTS [NEW [THREADS]]]   (default 360 utterances,
# 35 new tokens each, 2 threads); run from the build tree.
set -eu
utts=${1:-360}
new=${2:-35}
threads=${3:-2}
per=250
audio=$((utts * 10))
top=$(cd "$(dirname "$0")/.." && pwd)
PATH="$top/cmd:$PATH"
work=$(mktemp -d "${TMPDIR:-/tmp}/zipper-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"

tokens() { # N LEN VOCAB MODALITY
	awk -v n="$1" -v len="$2" -v v="$3" -v mod="$4" 'BEGIN {
		printf "#! zipper tokens modality=%s vocab=%d\n", mod, v
		x = 12345
		for (u = 0; u < n; u++) {
			line = sprintf("utt%04d", u)
			for (i = 0; i < len; i++) {
				x = (x * 1103515245 + 12345) % 2147483648
				line = line " " int(x / 65536) % v
			}
			print line
		}
	}'
}
cat >text.json <<'JSON'
{"vocab": 2048, "d_model": 384, "n_layers": 6, "n_heads": 6, "d_ff": 1024, "max_seq": 512, "tie_embeddings": true}
JSON
sed 's/"vocab": 2048/"vocab": 1024/' text.json >speech.json
tokens 8 40 2048 text >text.tok
tokens 8 80 1022 speech >speech.tok
tokens "$utts" "$per" 1022 speech >hour.tok
awk '/^#/ { print; next } { print $1, 2 }' text.tok >prompt1.tok
for u in $(seq 1 "$utts"); do printf 'p%04d 2\n' "$u"; done >>prompt1.tok
zip-train -q -j"$threads" --config text.json --eos 2 -T 32 --steps 1 text.tok -o text.zpm
zip-train -q -j"$threads" --config speech.json --eos 1023 -T 64 --steps 1 speech.tok -o speech.zpm
zip-fuse -q -j"$threads" --text-tower text.zpm --speech-tower speech.zpm --xattn-layers 3 -b 2 --steps 1 \
	speech.tok text.tok -o fused.zpm

seconds() { # command...: wall seconds
	t0=$(date +%s.%N)
	"$@" >/dev/null
	t1=$(date +%s.%N)
	echo "$t0 $t1" | awk '{ printf "%.2f", $2 - $1 }'
}
grep -v '^#' prompt1.tok | head -n "$utts" | sed '1i #! zipper tokens modality=text vocab=2048' >ref.tok
ref=$(seconds zip-generate -q -j"$threads" -m text.zpm --eos -1 --max-new "$new" ref.tok)
greedy=$(seconds zip-generate -q -j"$threads" -m fused.zpm --task asr --max-new "$new" --repeat-span 0 hour.tok)
beam=$(seconds zip-generate -q -j"$threads" -m fused.zpm --task asr --beam 4 --max-new "$new" --repeat-span 0 hour.tok)
echo "$utts utterances x $per speech tokens ($audio s at 25/s), $new text tokens each, $threads threads"
echo "$ref $greedy $beam $audio" | awk '{
	printf "text tower alone, same output tokens : %7.2f s\n", $1
	printf "fused ASR, greedy                     : %7.2f s  (RTF %.4f, %.2fx the tower alone; an hour: %.1f s)\n", $2, $2 / $4, $2 / $1, $2 / $4 * 3600
	printf "fused ASR, beam 4                     : %7.2f s  (RTF %.4f, %.2fx greedy; an hour: %.1f s)\n", $3, $3 / $4, $3 / $2, $3 / $4 * 3600
}'
