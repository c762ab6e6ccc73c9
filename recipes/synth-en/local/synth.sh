#!/bin/bash
# synth.sh SHARD: speak every line of a plan shard (see plan.awk) whose FLAC
# file is missing: synthesise, resample to 16 kHz mono, apply the effect, and
# rename into place, so an interrupted run leaves no half-written audio.
# festival lines are spoken by one festival process per shard (its start-up
# costs more than a sentence).
set -euo pipefail
export LC_ALL=C
shard=$1
tmp=$(mktemp -d "${TMPDIR:-/tmp}/synth-en.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
# -R: repeatable (seeded dither); -V1: only errors.
SOX="sox -R -V1"

# finish IN.wav OUT.flac EFFECT: 16 kHz mono 16-bit FLAC with the effect.
finish() {
	local in=$1 out=$2 effect=$3 fx=() snr rms gain
	case $effect in
	none) ;;
	noise*)
		# Pink noise SNR dB below the speech RMS level; the sum peak-normalised.
		snr=${effect#noise }
		$SOX "$in" -r 16000 -c 1 -b 16 "$tmp/clean.wav" rate
		rms=$($SOX "$tmp/clean.wav" -n stats 2>&1 | awk '/^RMS lev dB/ { print $4 }')
		case $rms in '' | *inf*) rms=-30 ;; esac
		gain=$(awk -v s="$rms" -v n="$noise_rms" -v snr="$snr" 'BEGIN { printf "%.2f", s - snr - n }')
		$SOX -m -v 0.5 "$tmp/clean.wav" -v 0.5 \
			"|$SOX -n -r 16000 -c 1 -b 16 -p synth $(soxi -D "$tmp/clean.wav") pinknoise gain $gain" \
			-t flac "$out.tmp" gain -n -1
		mv "$out.tmp" "$out"
		return
		;;
	*) read -r -a fx <<<"$effect" ;;
	esac
	$SOX "$in" -r 16000 -c 1 -b 16 -t flac "$out.tmp" "${fx[@]}" rate
	mv "$out.tmp" "$out"
}

# The RMS level of the pink noise sox makes, to set SNRs from (measured once).
noise_rms=$($SOX -n -r 16000 -c 1 -b 16 -n synth 20 pinknoise stats 2>&1 |
	awk '/^RMS lev dB/ { print $4 }')

fest_lines=()
while IFS=$'\t' read -r utt out engine setting speed pitch effect words; do
	[ -s "$out" ] && continue
	mkdir -p "$(dirname "$out")"
	case $engine in
	espeak)
		espeak-ng -v "$setting" -s "$speed" -p "$pitch" -w "$tmp/e.wav" "$words"
		finish "$tmp/e.wav" "$out" "$effect"
		;;
	flite)
		flite -voice "$setting" --setf duration_stretch="$speed" -t "$words" -o "$tmp/f.wav"
		finish "$tmp/f.wav" "$out" "$effect"
		;;
	festival)
		fest_lines+=("$utt"$'\t'"$out"$'\t'"$setting"$'\t'"$speed"$'\t'"$effect"$'\t'"$words")
		;;
	*)
		echo "synth.sh: $shard: $utt: unknown engine '$engine'" >&2
		exit 1
		;;
	esac
done <"$shard"

[ ${#fest_lines[@]} -gt 0 ] || exit 0
# One festival run for the shard: a Scheme script saving one file per line.
n=0
for line in "${fest_lines[@]}"; do
	IFS=$'\t' read -r utt out setting speed effect words <<<"$line"
	n=$((n + 1))
	printf '(voice_%s)\n(Parameter.set (quote Duration_Stretch) %s)\n' "$setting" "$speed"
	printf '(utt.save.wave (utt.synth (Utterance Text "%s")) "%s/%d.wav" (quote riff))\n' "$words" "$tmp" "$n"
done >"$tmp/say.scm"
festival -b "$tmp/say.scm" >/dev/null 2>&1 || {
	echo "synth.sh: $shard: festival failed on $tmp/say.scm" >&2
	exit 1
}
n=0
for line in "${fest_lines[@]}"; do
	IFS=$'\t' read -r utt out setting speed effect words <<<"$line"
	n=$((n + 1))
	finish "$tmp/$n.wav" "$out" "$effect"
done
