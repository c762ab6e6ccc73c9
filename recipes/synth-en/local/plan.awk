# plan.awk: decide how each sentence of one set is spoken.
#
#   awk -v seed=S -v salt=N -v class=seen|unseen -v mix="90 6 4" -v aug=30 \
#       -v audio=DIR -f rng.awk -f plan.awk voices.txt sentences.txt
#
# voices.txt: "voice-id engine setting class"; sentences.txt: Kaldi text
# (sentence-id words...). Prints one tab-separated plan line per sentence:
#   utt-id  flac-path  engine  setting  speed  pitch  effect  words
# The utterance id starts with the voice (speaker) id, Kaldi style. Every line
# draws the same number of random numbers, so the plan of a sentence depends
# only on the seed, the set and its place in the set.

FNR == NR {
	if ($4 == class) {
		nv[$2]++
		vid[$2, nv[$2]] = $1
		vset[$1] = $3
	}
	next
}

FNR == 1 {
	rng_init(seed, salt)
	split(mix, share, " ")
	engines[1] = "espeak"; engines[2] = "flite"; engines[3] = "festival"
	split("tempo pitch reverb band noise", kinds, " ")
	split("20 10 5", snrs, " ")
}

{
	r_engine = rng() * 100; r_voice = rng(); r_speed = rng(); r_pitch = rng()
	r_aug = rng() * 100; r_kind = rng(); r_param = rng()

	engine = "espeak"
	if (r_engine >= share[1]) engine = (r_engine < share[1] + share[2]) ? "flite" : "festival"
	if (!(engine in nv)) engine = "espeak"
	if (!("espeak" in nv)) { print "plan.awk: no " class " espeak-ng voice" > "/dev/stderr"; exit 1 }
	voice = vid[engine, 1 + int(r_voice * nv[engine]) % nv[engine]]

	if (engine == "espeak") {
		speed = 125 + int(r_speed * 75)     # words per minute (175 normal)
		pitch = 30 + int(r_pitch * 41)      # espeak-ng 0..99, 50 normal
	} else {
		speed = sprintf("%.2f", 0.9 + 0.35 * r_speed) # duration stretch
		pitch = 0
	}

	effect = "none"
	if (r_aug < aug) {
		kind = kinds[1 + int(r_kind * 5) % 5]
		if (kind == "tempo") effect = sprintf("tempo -s %.2f", 0.88 + 0.24 * r_param)
		else if (kind == "pitch") effect = sprintf("pitch %d", -250 + int(500 * r_param))
		else if (kind == "reverb") effect = sprintf("reverb %d", 20 + int(40 * r_param))
		else if (kind == "band") effect = (r_param < 0.5) ? "sinc 300-3400" : "sinc 100-5000"
		else effect = sprintf("noise %d", snrs[1 + int(r_param * 3) % 3])
	}

	utt = voice "-" $1
	words = $2
	for (i = 3; i <= NF; i++) words = words " " $i
	printf "%s\t%s/%s.flac\t%s\t%s\t%s\t%s\t%s\t%s\n", utt, audio, utt, engine, vset[voice], speed, pitch, effect, words
}
