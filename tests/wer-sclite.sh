#!/bin/sh
# zip-eval-wer --sclite against NIST sclite itself on random cases: the
# totals (sclite -o rsum) and every utterance's Scores line (sclite -o pra)
# must be equal. Skipped when configure found no sclite (Debian: sctk).
. "$top_srcdir/tests/setup.sh"
[ -n "${SCLITE:-}" ] || { echo "SKIP: no sclite (install sctk)"; exit 77; }

# random_trn SEED: a reference and a hypothesis trn file of 300 utterances
# with few distinct words (so ties are common), mixed case (ASCII and not)
# and empty lines.
random_trn() {
	awk -v seed="$1" 'BEGIN {
		srand(seed)
		split("a A b É é c B d e f", w, " ")
		for (u = 1; u <= 300; u++) {
			nv = 1 + int(rand() * 10)
			for (f = 1; f <= 2; f++) {
				line = ""
				n = int(rand() * 12)
				for (k = 0; k < n; k++)
					line = line w[1 + int(rand() * nv)] " "
				file = f == 1 ? "ref.trn" : "hyp.trn"
				printf "%s(spk%d-%04d)\n", line, u % 7, u > file
			}
		}
	}'
}

for seed in 1 2 3 4 5 6; do
	rm -f ref.trn hyp.trn
	random_trn "$seed"
	"$SCLITE" -r ref.trn trn -h hyp.trn trn -i spu_id -o rsum pra stdout >sclite.out 2>&1 ||
		fail "sclite failed: $(tail -3 sclite.out)"
	# | Sum | Snt Wrd | Corr Sub Del Ins Err S.Err |
	want=$(awk '$2 == "Sum" { gsub(/\|/, " "); print $2, $3, $4, $5, $6, $7, $8, $9 }' sclite.out)
	[ -n "$want" ] || fail "no Sum line in sclite output"
	zip-eval-wer --sclite --mode strict --pra ours.pra ref.trn hyp.trn >ours.out
	got=$(awk '
		/^%WER/ { gsub(/[\[\],\/]/, " "); e = $3; n = $4; i = $5; d = $7; s = $9 }
		/^%SER/ { gsub(/[\[\]\/]/, " "); se = $3; snt = $4 }
		END { print snt, n, n - s - d, s, d, i, e, se }' ours.out)
	[ "$got" = "$want" ] || fail "seed $seed: totals '$got', sclite '$want'"
	grep -E '^(id|Scores):' sclite.out | paste - - | sort >want.scores
	grep -E '^(id|Scores):' ours.pra | paste - - | sort >got.scores
	assert_same want.scores got.scores
done
