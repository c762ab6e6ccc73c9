#!/bin/bash
# synth.sh SHARD: speak every line of a plan shard (see plan.awk) whose FLAC
# file is missing: synthesise, resample to 16 kHz mono and apply the effect.
# Files are made in a scratch folder beside their destination and renamed into
# place at the end, so an interrupted run leaves no half-written audio (and
# loses at most a shard). festival lines are spoken by one festival process
# per shard (its start-up costs more than a sentence). Processes per file are
# few on purpose: their start-up is most of the cost.
set -euo pipefail
export LC_ALL=C
shard=$1
tmp=$(mktemp -d "${TMPDIR:-/tmp}/synth-en.XXXXXX")
scratch_dirs=()
trap 'rm -rf "$tmp" "${scratch_dirs[@]}"' EXIT
# -R: repeatable (seeded dither); -V1: only errors.
SOX="sox -R -V1"

# finish IN.wav OUT.flac EFFECT: 16 kHz mono 16-bit FLAC with the effect.
finish() {
	local in=$1 out=$2 effect=$3 fx=() snr len gain
	case $effect in
	none) ;;
	noise*)
		# Pink noise SNR dB below the speech RMS level; the sum peak-normalised.
		snr=${effect#noise }
		$SOX "$in" -r 16000 -c 1 -b 16 "$tmp/clean.wav" rate
		read -r len gain < <($SOX "$tmp/clean.wav" -n stats 2>&1 | awk -v n="$noise_rms" -v snr="$snr" '
			/^RMS lev dB/ { rms = $4 } /^Length s/ { len = $3 }
			END { if (rms == "" || rms ~ /inf/) rms = -30; printf "%s %.2f\n", len, rms - snr - n }')
		$SOX -m -v 0.5 "$tmp/clean.wav" -v 0.5 \
			"|$SOX -n -r 16000 -c 1 -b 16 -p synth $len pinknoise gain $gain" \
			-t flac "$out" gain -n -1
		return
		;;
	*)
		# Headroom for the effect (reverb adds energy), then peak-normalised.
		read -r -a fx <<<"$effect"
		$SOX "$in" -r 16000 -c 1 -b 16 -t flac "$out" gain -6 "${fx[@]}" rate gain -n -1
		return
		;;
	esac
	$SOX "$in" -r 16000 -c 1 -b 16 -t flac "$out" rate
}

# staged OUT: where OUT is made, in a scratch folder in OUT's folder (same
# file system, so the final rename is atomic). Sets $staged.
declare -A stage_of
staged() {
	local d=${1%/*}
	if [ -z "${stage_of[$d]:-}" ]; then
		mkdir -p "$d"
		stage_of[$d]=$(mktemp -d "$d/.synth.XXXXXX")
		scratch_dirs+=("${stage_of[$d]}")
	fi
	staged=${stage_of[$d]}/${1##*/}
}

# publish: rename every finished file into place.
publish() {
	local d
	for d in "${!stage_of[@]}"; do
		find "${stage_of[$d]}" -name '*.flac' -exec mv -t "$d" {} +
	done
}

# The RMS level of the pink noise sox makes, to set SNRs from (measured once).
noise_rms=$($SOX -n -r 16000 -c 1 -b 16 -n synth 20 pinknoise stats 2>&1 |
	awk '/^RMS lev dB/ { print $4 }')

# Python 3 lets espeak-ng start once per shard (espeak_batch.py); without it
# (or with SYNTH_EN_NO_PYTHON=1) the espeak-ng program runs per utterance.
# One espeak-ng or festival process carries a little state from sentence to
# sentence (a few samples), so a batch always speaks every line of its shard
# in order and keeps the missing ones: a resumed shard makes the same bytes.
py=$(command -v python3 || true)
[ -z "${SYNTH_EN_NO_PYTHON:-}" ] || py=

lines=() need=() missing=0
while IFS= read -r line; do
	IFS=$'\t' read -r utt out rest <<<"$line"
	lines+=("$line")
	if [ -s "$out" ]; then need+=(0); else need+=(1); missing=$((missing + 1)); fi
done <"$shard"
[ "$missing" -gt 0 ] || exit 0

# Each engine speaks into $tmp/N.wav (N = line number in the shard).
: >"$tmp/espeak.list"
: >"$tmp/say.scm"
for i in "${!lines[@]}"; do
	IFS=$'\t' read -r utt out engine setting speed pitch effect words <<<"${lines[$i]}"
	case $engine in
	espeak)
		if [ -n "$py" ]; then
			printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$i" "$setting" "$speed" "$pitch" "${need[$i]}" "$words" >>"$tmp/espeak.list"
		elif [ "${need[$i]}" = 1 ]; then
			espeak-ng -v "$setting" -s "$speed" -p "$pitch" -w "$tmp/$i.wav" "$words"
		fi
		;;
	flite)
		[ "${need[$i]}" = 0 ] ||
			flite -voice "$setting" --setf duration_stretch="$speed" -t "$words" -o "$tmp/$i.wav"
		;;
	festival)
		{
			printf '(voice_%s)\n(Parameter.set (quote Duration_Stretch) %s)\n' "$setting" "$speed"
			printf '(utt.save.wave (utt.synth (Utterance Text "%s")) "%s/%d.wav" (quote riff))\n' "$words" "$tmp" "$i"
		} >>"$tmp/say.scm"
		;;
	*)
		echo "synth.sh: $shard: $utt: unknown engine '$engine'" >&2
		exit 1
		;;
	esac
done
if [ -s "$tmp/espeak.list" ] && grep -q "$(printf '\t')1$(printf '\t')" "$tmp/espeak.list"; then
	"$py" "${BASH_SOURCE[0]%/*}/espeak_batch.py" "$tmp/espeak.list" "$tmp" || {
		echo "synth.sh: $shard: espeak_batch.py failed" >&2
		exit 1
	}
fi
if [ -s "$tmp/say.scm" ]; then
	festival -b "$tmp/say.scm" >/dev/null 2>&1 || {
		echo "synth.sh: $shard: festival failed on $tmp/say.scm" >&2
		exit 1
	}
fi

# Resample, apply the effects, and move the finished files into place.
for i in "${!lines[@]}"; do
	[ "${need[$i]}" = 1 ] || continue
	IFS=$'\t' read -r utt out engine setting speed pitch effect words <<<"${lines[$i]}"
	[ -s "$tmp/$i.wav" ] || { echo "synth.sh: $shard: $utt: no audio from $engine" >&2; exit 1; }
	staged "$out"
	finish "$tmp/$i.wav" "$staged" "$effect"
	rm -f "$tmp/$i.wav"
done
publish
