#!/bin/bash
# fuse_job.sh VARIANT PERCENT: train one model of stage 7 (run.sh exports the
# settings). VARIANT: zipper-frozen (both towers frozen: only the cross-
# attention learns), zipper-unfrozen (the speech tower learns too; the text
# tower stays frozen, which keeps its text skills) or single (the single-
# decoder baseline: the text tower with the speech vocabulary, all trained).
set -euo pipefail
variant=$1 pct=$2
t=$EXP/tok o=$EXP/fused/$variant-${pct}pct
mkdir -p "$o"
case $variant in
zipper-frozen) flags="--freeze text,speech $FUSED_XATTN" ;;
zipper-unfrozen) flags="--freeze text $FUSED_XATTN" ;;
single) flags="--single-decoder" ;;
*) echo "fuse_job.sh: unknown variant $variant" >&2; exit 2 ;;
esac
# A model (or checkpoint) made with other options is made again.
options="$flags --steps $FUSED_STEPS -b $FUSED_BATCH --lr $FUSED_LR --seed $SEED"
if [ "$(cat "$o/options.txt" 2>/dev/null)" != "$options" ]; then
	rm -f "$o/model.zpm" "$o/model.zpm.ckpt"
	echo "$options" >"$o/options.txt"
fi
[ -s "$o/model.zpm" ] && exit 0
resume=
[ -s "$o/model.zpm.ckpt" ] && resume=--resume
# A new model makes the scores of an old one stale.
rm -f "$o"/*.json "$o"/*.hyp "$o"/ppl*.txt
# shellcheck disable=SC2086 # flag lists
zip-fuse -q -j "$THREADS" --text-tower "$EXP/towers/text.zpm" --speech-tower "$EXP/towers/speech.zpm" \
	$flags --steps "$FUSED_STEPS" -b "$FUSED_BATCH" --lr "$FUSED_LR" --seed "$SEED" \
	--dev-speech "$t/dev-small.speech.tok" --dev-text "$t/dev-small.text.tok" \
	--eval-every "$FUSED_EVAL_EVERY" --ckpt-every "$FUSED_EVAL_EVERY" $resume \
	--log "$o/log.jsonl" --text-tokenizer "$t/text.tok" --speech-tokenizer "$t/speech.tok" \
	"$t/train-${pct}pct.speech.tok" "$t/train-${pct}pct.text.tok" -o "$o/model.zpm" \
	2>"$o/stderr.txt" || { cat "$o/stderr.txt" >&2; exit 1; }
rm -f "$o/model.zpm.ckpt"
