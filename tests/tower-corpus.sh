# Sourced by the tower's shell tests: a tiny corpus and configuration.
# corpus N LEN: N utterances of LEN tokens in [1,30), from a fixed LCG.
corpus() {
	awk -v n="$1" -v len="$2" 'BEGIN {
		print "#! zipper tokens modality=text vocab=30"
		x = 7
		for (u = 0; u < n; u++) {
			line = sprintf("utt%02d", u)
			for (i = 0; i < len; i++) {
				x = (x * 75 + 74) % 65537
				line = line " " (1 + x % 29)
			}
			print line
		}
	}'
}

# The first K tokens of each utterance of an archive, header kept.
prompts() {
	awk -v k="$1" '/^#/ { print; next } { line = $1; for (i = 2; i <= k + 1; i++) line = line " " $i; print line }' "$2"
}

cat >tower.json <<'JSON'
{"vocab": 32, "d_model": 32, "n_layers": 2, "n_heads": 4, "n_kv_heads": 2,
 "d_ff": 64, "max_seq": 64}
JSON
