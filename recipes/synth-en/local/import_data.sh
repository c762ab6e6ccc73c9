#!/bin/bash
# import_data.sh [--bin DIR] WORK SPLIT WAV_SCP [TEXT [UTT2SPK]]: put a user's
# own recordings where the synthetic ones would be, so the later stages and
# every consumer of data/ work unchanged:
#   WORK/data/SPLIT/{wav.scp,text,utt2spk,spk2utt,utt2dur}
# TEXT is normalised with the scoring normaliser (zip-eval-wer --normalize
# english); without UTT2SPK each utterance is its own speaker. A SPLIT that
# is not train (dev, test-*) has its sentences removed from the text-only
# corpus, as stage 1 does for the synthetic ones.
# e.g. local/import_data.sh /data/synth-en train ~/corpus/wav.scp ~/corpus/text
set -euo pipefail
export LC_ALL=C
if [ "${1:-}" = --bin ]; then
	PATH=$(cd "$2" && pwd):$PATH
	shift 2
fi
[ $# -ge 3 ] && [ $# -le 5 ] || {
	echo "usage: import_data.sh [--bin DIR] WORK SPLIT WAV_SCP [TEXT [UTT2SPK]]" >&2
	exit 2
}
work=$1 split=$2 scp=$3 text=${4:-} u2s=${5:-}
d=$work/data/$split
die() { echo "import_data.sh: $*" >&2; exit 1; }

for f in "$scp" $text $u2s; do [ -r "$f" ] || die "$f: cannot read"; done
mkdir -p "$d"
sort -k1,1 "$scp" >"$d/wav.scp"
[ -s "$d/wav.scp" ] || die "$scp: no utterances"
awk 'NF != 2 { printf "import_data.sh: %s:%d: expected \"utt-id path\"\n", FILENAME, FNR > "/dev/stderr"; bad = 1 }
	END { exit bad }' "$d/wav.scp" || exit 1
while read -r utt path; do
	[ -s "$path" ] || die "$scp: $utt: $path is missing"
done <"$d/wav.scp"
cut -d' ' -f2 "$d/wav.scp" | xargs -r soxi -D | paste -d' ' <(cut -d' ' -f1 "$d/wav.scp") - >"$d/utt2dur"

if [ -n "$text" ]; then
	command -v zip-eval-wer >/dev/null || die "zip-eval-wer not found (use --bin DIR)"
	sort -k1,1 "$text" >"$d/text.raw"
	zip-eval-wer --normalize english --normalize-only "$d/text.raw" >"$d/text"
	rm -f "$d/text.raw"
	[ "$(cut -d' ' -f1 "$d/text")" = "$(cut -d' ' -f1 "$d/wav.scp")" ] ||
		die "$text and $scp do not list the same utterances"
fi
if [ -n "$u2s" ]; then
	sort -k1,1 "$u2s" >"$d/utt2spk"
else
	awk '{ print $1, $1 }' "$d/wav.scp" >"$d/utt2spk"
fi
sort -k2,2 -k1,1 "$d/utt2spk" | awk '
	$2 != spk { if (line != "") print line; spk = $2; line = spk }
	{ line = line " " $1 }
	END { if (line != "") print line }' >"$d/spk2utt"

corpus=$work/data/text-only/corpus.txt
if [ -n "$text" ] && [ "${split#train}" = "$split" ] && [ -f "$corpus" ]; then
	cut -d' ' -f2- "$d/text" | sort -u >"$d/held.tmp"
	awk 'FNR == NR { held[$0] = 1; next } !($0 in held)' "$d/held.tmp" "$corpus" >"$corpus.tmp"
	mv "$corpus.tmp" "$corpus"
	rm -f "$d/held.tmp"
fi
echo "import_data.sh: data/$split: $(wc -l <"$d/wav.scp") utterances, $(awk '{ s += $2 } END { printf "%.3f", s / 3600 }' "$d/utt2dur") h"
