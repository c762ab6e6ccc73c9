# Sourced by run.sh: corpus sizes and the voice mixture of the two sizes.
#
# Utterance counts of train and speech-only follow from the planned hours and
# the measured speaking rate (see README): seconds per utterance is about
# words / WORDS_PER_SECOND + LEAD_SECONDS, averaged over the chosen sentences.

WORDS_PER_SECOND=3.2  # espeak-ng/flite/festival at the speeds drawn below
LEAD_SECONDS=0.45     # leading and trailing silence of a synthesised file
MIN_WORDS=4           # sentence length of the speech corpora, in words
MAX_WORDS=30
SPEECH_MIN_WORDS=14   # speech-only: longer sentences, fewer files to make
SHARD_LINES=100       # utterances per synthesis job

if [ "$tiny" = true ]; then
	n_dev=6 n_test_seen=6 n_test_unseen=6
	n_train=40 n_speech=12
	aligned_hours= speech_hours=
	# Engine shares of the voices, in percent (espeak flite festival).
	engine_mix="100 0 0"
	aug_percent=25
	subsets="1 3 10 30 100"
else
	n_dev=$eval_utts n_test_seen=$eval_utts n_test_unseen=$eval_utts
	n_train= n_speech= # from the hours, in stage 1
	engine_mix="94 4 2"
	aug_percent=25
	subsets="1 3 10 30 100"
fi

describe_sizes() {
	if [ "$tiny" = true ]; then
		echo "tiny: train $n_train, dev $n_dev, test-seen $n_test_seen, test-unseen $n_test_unseen, speech-only $n_speech utterances; seed $seed; $nj jobs"
	else
		echo "full: aligned ${aligned_hours} h (dev/test-seen/test-unseen $n_dev utterances each), speech-only ${speech_hours} h; seed $seed; $nj jobs"
	fi
}

# Experiment sizes (stages 5-9), chosen so that stages 5-9 fit in about two
# hours on two cores (README: measured wall times). The towers train in
# parallel, one core each, as do the fused models. The text tower's max_seq
# leaves room for the single decoder, which reads the speech tokens (up to
# 20 s = 500) itself.
if [ "$tiny" = true ]; then
	text_vocab=300 speech_units=32 kmeans_iters=5 fit_utts=20
	tower_steps=30 fused_steps=20 eval_utts_asr=6 eval_utts_tts=3
	text_tower_config='{"d_model": 32, "n_layers": 2, "n_heads": 2, "n_kv_heads": 2, "d_ff": 64, "max_seq": 640}'
	speech_tower_config='{"d_model": 32, "n_layers": 2, "n_heads": 2, "n_kv_heads": 2, "d_ff": 64, "max_seq": 512}'
else
	text_vocab=2048 speech_units=512 kmeans_iters=15 fit_utts=1500
	tower_steps=1500 fused_steps=400 eval_utts_asr=200 eval_utts_tts=60
	text_tower_config='{"d_model": 256, "n_layers": 4, "n_heads": 4, "n_kv_heads": 4, "d_ff": 688, "max_seq": 640}'
	speech_tower_config='{"d_model": 256, "n_layers": 4, "n_heads": 4, "n_kv_heads": 4, "d_ff": 688, "max_seq": 512}'
fi
threads_per_job=$(( nj >= 2 ? nj / 2 : 1 ))
tower_lr=1e-3
tower_eval_every=$(( tower_steps / 6 ))
fused_batch=8 fused_lr=2e-3 fused_dev_utts=100 n_samples=5
fused_xattn="--xattn-layers 2"
