#!/bin/bash
# eval_job.sh PHASE MODEL-DIR: judge one model of stage 7 (run.sh exports the
# settings). Each result is one JSON file written last, so a rerun skips it.
#   asr   transcribe each split's sample; WER against the references
#   tts   speak each split's sample (text in, speech tokens out), turn the
#         tokens into audio, tokenize that audio again and transcribe it with
#         the best ASR model ($BEST_ASR); WER against the input text
#   ppl   text perplexity of the model on dev transcripts (unimodal retention)
set -euo pipefail
phase=$1 m=$2
e=$EXP/eval
cd "$m"
for s in $EVAL_SPLITS; do
	case $phase in
	asr)
		[ -s "$s.asr.json" ] && continue
		# An utterance the model cannot take is skipped (exit 1) and
		# scored as all deletions.
		zip-generate -q -j "$THREADS" -m model.zpm --task asr -o "$s.asr.hyp" "$e/$s.asr.speech.tok" ||
			[ -f "$s.asr.hyp" ]
		zip-eval-wer -q --json --mode all "$e/$s.asr.ref" "$s.asr.hyp" >"$s.asr.json.tmp"
		mv "$s.asr.json.tmp" "$s.asr.json"
		;;
	tts)
		[ -s "$s.tts.json" ] && continue
		zip-generate -q -j "$THREADS" -m model.zpm --task tts --transcripts -o "$s.tts.speech.tok" "$e/$s.tts.ref"
		rm -rf "$s.tts.wav"
		# An utterance spoken as nothing has no audio: its hypothesis is
		# missing, which --mode all scores as all deletions.
		awk '/^#!/ || NF > 1' "$s.tts.speech.tok" >"$s.tts.nonempty.tok"
		if grep -q -v '^#!' "$s.tts.nonempty.tok"; then
			zip-detokenize -q -j "$THREADS" -m "$EXP/tok/speech.tok" -d "$s.tts.wav" "$s.tts.nonempty.tok"
			zip-tokenize -q -j "$THREADS" -m "$EXP/tok/speech.tok" -o "$s.tts.retok" "$s.tts.wav"/*.wav
			# speech longer than the ASR model takes is skipped (exit 1): a
			# runaway output, scored as all deletions
			zip-generate -q -j "$THREADS" -m "$BEST_ASR" --task asr -o "$s.tts.hyp" "$s.tts.retok" ||
				[ -f "$s.tts.hyp" ]
		else
			: >"$s.tts.hyp"
		fi
		zip-eval-wer -q --json --mode all "$e/$s.tts.ref" "$s.tts.hyp" >"$s.tts.json.tmp"
		mv "$s.tts.json.tmp" "$s.tts.json"
		rm -rf "$s.tts.wav"
		;;
	ppl)
		[ "$s" = dev ] || continue
		# The whole model on text alone (its cross-attention blocks see
		# nothing but still add their gated FFN), and the text tower alone.
		[ -s ppl.txt ] ||
			zip-generate -q -j "$THREADS" -m model.zpm --score -o ppl.txt "$EXP/tok/dev.text.tok"
		case $m in
		*/single-*) ;;
		*) [ -s ppl-tower.txt ] ||
			zip-generate -q -j "$THREADS" -m model.zpm --score --tower-only -o ppl-tower.txt "$EXP/tok/dev.text.tok" ;;
		esac
		;;
	esac
done
