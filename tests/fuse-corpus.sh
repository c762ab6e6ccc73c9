# Sourced by the fusion's shell tests: tiny aligned archives and two towers.
# aligned N MOD: N utterances; text has 4-8 tokens in [3,32), speech two
# codes in [0,18) per text token (a learnable, deterministic alignment).
aligned() {
	awk -v n="$1" -v mod="$2" 'BEGIN {
		if (mod == "text") print "#! zipper tokens modality=text vocab=32"
		else print "#! zipper tokens modality=speech vocab=20"
		for (u = 0; u < n; u++) {
			len = 4 + u % 5
			line = sprintf("utt%02d", u)
			for (i = 0; i < len; i++) {
				w = 3 + (u * 7 + i * 13) % 29
				if (mod == "text") line = line " " w
				else line = line " " (w % 18) " " ((w * 5) % 18)
			}
			print line
		}
	}'
}

cat >text.json <<'JSON'
{"vocab": 32, "d_model": 32, "n_layers": 2, "n_heads": 4, "n_kv_heads": 2,
 "d_ff": 64, "max_seq": 64, "tie_embeddings": true}
JSON
cat >speech.json <<'JSON'
{"vocab": 20, "d_model": 24, "n_layers": 2, "n_heads": 3, "d_ff": 48,
 "max_seq": 64, "tie_embeddings": true}
JSON
aligned 12 text >text.tok
aligned 12 speech >speech.tok
# Towers: text ends utterances with 2, speech with end-of-audio 19.
zip-train -q -j1 --config text.json --eos 2 -T 16 --steps 5 text.tok -o text.zpm
zip-train -q -j1 --config speech.json --eos 19 -T 16 --steps 5 speech.tok -o speech.zpm
