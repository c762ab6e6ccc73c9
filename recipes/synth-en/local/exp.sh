# Sourced by run.sh: the experiment stages (5-9), which train and judge the
# models on the corpora of stages 1-4. Outputs go to exp/: tok/ (tokenizers and
# token archives), towers/, fused/ (one directory per model), eval/, and the
# report (RESULTS.md, results.json, plots).

EVAL_SPLITS="dev test-seen test-unseen"

exp_title() {
	case $1 in
	5) echo "tokenizers and token archives" ;;
	6) echo "pretrain the text and speech towers" ;;
	7) echo "Zipper (frozen, unfrozen) and single decoder at $subsets % aligned" ;;
	8) echo "ASR and TTS evaluation, text-tower retention" ;;
	9) echo "report: RESULTS.md, results.json, plots" ;;
	esac
}

# Training and evaluation run nj jobs of one thread each; a passive OpenMP
# wait keeps jobs that share cores from spinning against each other.
export OMP_WAIT_POLICY=passive

# filter_archive IDS IN OUT: the records of token archive IN whose id is listed
# in IDS (first field), header kept.
filter_archive() {
	awk 'NR == FNR { keep[$1] = 1; next } /^#!/ || ($1 in keep)' "$1" "$2" >"$3.tmp" &&
		mv "$3.tmp" "$3"
}

# Stage 5: a BPE tokenizer fitted on the text-only corpus, a k-means speech
# tokenizer fitted on a sample of the speech-only corpus (many voices: units
# follow the voice, see zip-tokenize(1)), then every split as token archives.
stage5() {
	local t=$dir/exp/tok s
	mkdir -p "$t"
	require_cmds zip-tokenize
	[ -s "$t/text.tok" ] ||
		zip-tokenize -q --fit text --vocab "$text_vocab" -o "$t/text.tok" "$dir/data/text-only/corpus.txt"
	if [ ! -s "$t/speech.tok" ]; then
		awk -v n="$fit_utts" 'NR % int((lines + n - 1) / n) == 0' \
			lines="$(wc -l <"$dir/data/speech-only/wav.scp")" \
			"$dir/data/speech-only/wav.scp" >"$t/fit.scp"
		zip-tokenize -q --fit speech -k "$speech_units" --iters "$kmeans_iters" --seed "$seed" \
			-j "$nj" -o "$t/speech.tok" "scp:$t/fit.scp"
	fi
	for s in train $EVAL_SPLITS speech-only; do
		[ -s "$t/$s.speech.tok" ] ||
			zip-tokenize -q -j "$nj" -m "$t/speech.tok" -o "$t/$s.speech.tok" "scp:$dir/data/$s/wav.scp"
		[ "$s" = speech-only ] || [ -s "$t/$s.text.tok" ] ||
			zip-tokenize -q -m "$t/text.tok" -o "$t/$s.text.tok" "$dir/data/$s/text"
	done
	[ -s "$t/text-only.text.tok" ] ||
		zip-tokenize -q -m "$t/text.tok" --raw -o "$t/text-only.text.tok" "$dir/data/text-only/corpus.txt"
	for s in $subsets; do
		filter_archive "$dir/data/train-${s}pct/text" "$t/train.speech.tok" "$t/train-${s}pct.speech.tok"
		filter_archive "$dir/data/train-${s}pct/text" "$t/train.text.tok" "$t/train-${s}pct.text.tok"
	done
}

# vocab_of ARCHIVE: the vocab= field of a token archive's header.
vocab_of() {
	sed -n '1s/.*vocab=\([0-9]*\).*/\1/p' "$1"
}

# resume_flag CKPT: --resume when an interrupted run left its checkpoint.
resume_flag() {
	[ -s "$1" ] && echo --resume || true
}

# train_tower NAME VOCAB CONFIG EOS SEQ BATCH TRAIN DEV: one tower, one core.
train_tower() {
	local o=$dir/exp/towers name=$1
	[ -s "$o/$name.zpm" ] && return
	echo "{\"vocab\": $2, ${3#\{}" >"$o/$name.json"
	zip-train -q -j "$threads_per_job" --config "$o/$name.json" --eos "$4" -T "$5" -b "$6" \
		--lr "$tower_lr" --steps "$tower_steps" --eval-every "$tower_eval_every" \
		--ckpt-every "$tower_eval_every" $(resume_flag "$o/$name.zpm.ckpt") \
		--log "$o/$name.log.jsonl" "$7" "$8" -o "$o/$name.zpm"
	rm -f "$o/$name.zpm.ckpt"
}

# Stage 6: the text tower learns the text-only corpus, the speech tower the
# speech-only corpus; the two train side by side. Dev perplexities: the logs'
# last dev_ppl, and zip-generate --score in stage 8.
stage6() {
	local t=$dir/exp/tok o=$dir/exp/towers speech_vocab
	mkdir -p "$o"
	require_cmds zip-train
	speech_vocab=$(vocab_of "$t/speech-only.speech.tok") # codebook + BOA, EOA
	train_tower text "$(vocab_of "$t/text-only.text.tok")" "$text_tower_config" 2 128 16 \
		"$t/text-only.text.tok" "$t/dev.text.tok" &
	train_tower speech "$speech_vocab" "$speech_tower_config" $((speech_vocab - 1)) 256 8 \
		"$t/speech-only.speech.tok" "$t/dev.speech.tok" &
	wait_all
}

# wait_all: wait for every background job; fail if any failed.
wait_all() {
	local p rc=0
	for p in $(jobs -p); do wait "$p" || rc=1; done
	[ "$rc" = 0 ] || die "a training job failed (see its log in $dir/exp)"
}

FUSED_VARIANTS="zipper-frozen zipper-unfrozen single"

# Stage 7: every variant at every aligned fraction, with the same number of
# steps and batch size (the same budget), nj models at a time.
stage7() {
	local t=$dir/exp/tok v p
	require_cmds zip-fuse
	sample_ids "$dir/data/dev/text" "$fused_dev_utts" fused-dev "$t/dev-small.ids"
	filter_archive "$t/dev-small.ids" "$t/dev.speech.tok" "$t/dev-small.speech.tok"
	filter_archive "$t/dev-small.ids" "$t/dev.text.tok" "$t/dev-small.text.tok"
	export EXP=$dir/exp THREADS=1 SEED=$seed FUSED_STEPS=$fused_steps FUSED_BATCH=$fused_batch \
		FUSED_LR=$fused_lr FUSED_EVAL_EVERY=$((fused_steps / 5)) FUSED_XATTN=$fused_xattn
	for p in $subsets; do
		for v in $FUSED_VARIANTS; do echo "$v $p"; done
	done | xargs -r -L 1 -P "$nj" "$local_dir/fuse_job.sh" ||
		die "a fused model failed to train (see exp/fused/*/stderr.txt)"
}

# sample_ids TEXT N SALT OUT: N utterance ids of Kaldi TEXT drawn at random
# (ids sort by voice, so the first N would be a few voices), in id order.
sample_ids() {
	# awk, not head: head would stop reading and pipefail would see SIGPIPE
	shuffle "$seed" "$3" <"$1" | awk -v n="$2" 'NR <= n' | sort >"$4"
}

# Stage 8: every model on a random sample of each evaluation split: ASR WER,
# then TTS WER judged by the best ASR model (lowest dev WER), then the text
# perplexity of each model's text side; the towers' own perplexities and the
# resynthesis ceiling (real speech tokens -> audio -> tokens -> best ASR).
stage8() {
	local e=$dir/exp/eval t=$dir/exp/tok s models
	require_cmds zip-generate zip-detokenize zip-tokenize zip-eval-wer
	mkdir -p "$e"
	for s in $EVAL_SPLITS; do
		sample_ids "$dir/data/$s/text" "$eval_utts_asr" "asr-$s" "$e/$s.asr.ref"
		filter_archive "$e/$s.asr.ref" "$t/$s.speech.tok" "$e/$s.asr.speech.tok"
		head -n "$eval_utts_tts" "$e/$s.asr.ref" >"$e/$s.tts.ref"
		filter_archive "$e/$s.tts.ref" "$t/$s.speech.tok" "$e/$s.tts.speech.tok"
	done
	export EXP=$dir/exp THREADS=1 EVAL_SPLITS
	models=$(for m in "$dir"/exp/fused/*/model.zpm; do dirname "$m"; done)
	[ -n "$models" ] || die "no models in $dir/exp/fused (stage 7)"
	echo "$models" | xargs -r -P "$nj" -n 1 "$local_dir/eval_job.sh" asr ||
		die "ASR evaluation failed"
	BEST_ASR=$(best_asr_model) || die "no ASR result to choose the best model by"
	echo "$BEST_ASR" >"$e/best-asr.txt"
	export BEST_ASR
	echo "$models" | xargs -r -P "$nj" -n 1 "$local_dir/eval_job.sh" tts ||
		die "TTS evaluation failed"
	echo "$models" | xargs -r -P "$nj" -n 1 "$local_dir/eval_job.sh" ppl ||
		die "scoring text perplexity failed"
	resynthesis_ceiling
	# one thread, as the models are scored: sums in the same order
	zip-generate -q -j 1 -m "$dir/exp/towers/text.zpm" --score -o "$e/text-tower.ppl.txt" "$t/dev.text.tok"
	zip-generate -q -j 1 -m "$dir/exp/towers/speech.zpm" --score -o "$e/speech-tower.ppl.txt" "$t/dev.speech.tok"
}

# best_asr_model [PATTERN]: the model file with the lowest dev ASR WER among
# exp/fused/PATTERN (default: all).
best_asr_model() {
	local f
	for f in "$dir"/exp/fused/${1:-*}/dev.asr.json; do
		printf '%s %s\n' "$(sed -n 's/.*"wer":[[:space:]]*\([0-9.eE+-]*\).*/\1/p' "$f")" "${f%/dev.asr.json}/model.zpm"
	done | sort -g | awk 'NR == 1 { print $2 }' | grep .
}

# resynthesis_ceiling: the TTS WER of perfect speech tokens, i.e. what the
# vocoder and re-tokenization alone cost.
resynthesis_ceiling() {
	local e=$dir/exp/eval r=$dir/exp/eval/resynth s
	mkdir -p "$r"
	for s in $EVAL_SPLITS; do
		[ -s "$r/$s.tts.json" ] && continue
		rm -rf "$r/$s.wav"
		zip-detokenize -q -j "$nj" -m "$dir/exp/tok/speech.tok" -d "$r/$s.wav" "$e/$s.tts.speech.tok"
		zip-tokenize -q -j "$nj" -m "$dir/exp/tok/speech.tok" -o "$r/$s.retok" "$r/$s.wav"/*.wav
		zip-generate -q -j "$nj" -m "$BEST_ASR" --task asr -o "$r/$s.hyp" "$r/$s.retok" || [ -f "$r/$s.hyp" ]
		zip-eval-wer -q --json --mode all "$e/$s.tts.ref" "$r/$s.hyp" >"$r/$s.tts.json.tmp"
		mv "$r/$s.tts.json.tmp" "$r/$s.tts.json"
		rm -rf "$r/$s.wav"
	done
}

# Stage 9: exp/RESULTS.md, exp/results.json and the PNG plots; the demo's
# samples; exp/models/: the Zipper model with the lowest dev ASR WER and its
# tokenizers (the repository's models/).
stage9() {
	local best
	require_cmds python3 gnuplot
	pick_samples
	best=$(best_asr_model "zipper-*") || die "no Zipper model has a dev ASR WER (stage 8)"
	mkdir -p "$dir/exp/models"
	cp "$best" "$dir/exp/models/default.zpm"
	cp "$dir/exp/tok/speech.tok" "$dir/exp/tok/text.tok" "$dir/exp/models/"
	echo "${best#"$dir"/exp/}" >"$dir/exp/models/made-from.txt"
	python3 "$local_dir/report.py" "$dir/exp" "recipes/synth-en/run.sh $recipe_args" ||
		die "the report failed"
	echo "run.sh: wrote $dir/exp/RESULTS.md"
}

# pick_samples: exp/samples/: a few test-unseen utterances of 2.5-5 s, each by
# another voice variant, as the repository's samples/ (FLAC + Kaldi text).
pick_samples() {
	local d=$dir/data/test-unseen o=$dir/exp/samples id
	rm -rf "$o" && mkdir -p "$o"
	awk '$2 >= 2.5 && $2 <= 5 { print $1 }' "$d/utt2dur" | shuffle "$seed" samples |
		awk 'NR == FNR { v = $2; sub(/.*_/, "", v); variant[$1] = v; next } !seen[variant[$1]]++' "$d/utt2spk" - |
		awk -v n="$n_samples" 'NR <= n' | sort >"$o/ids"
	while read -r id; do
		cp "$(awk -v id="$id" '$1 == id { print $2 }' "$d/wav.scp")" "$o/$id.flac"
	done <"$o/ids"
	awk 'NR == FNR { keep[$1] = 1; next } $1 in keep' "$o/ids" "$d/text" >"$o/text"
	rm "$o/ids"
}
