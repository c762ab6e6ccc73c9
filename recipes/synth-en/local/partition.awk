# partition.awk: share the unique normalised sentences (Kaldi text, already in
# a seeded random order) among the corpora. Reads the file twice:
#   awk -v out=DIR -v min=4 -v max=30 -v so_min=8 -v wps=3.3 -v lead=0.45 \
#       -v n_dev=N -v n_test_seen=N -v n_test_unseen=N \
#       -v n_train=N|"" -v n_speech=N|"" -v aligned_hours=H -v speech_hours=H \
#       -f partition.awk shuffled.txt shuffled.txt
# Sentences of min..max words go, in order, to dev, test-seen, test-unseen,
# train and speech-only (speech-only takes only those of so_min words or more:
# fewer, longer files are cheaper to make); an empty n_train / n_speech is
# worked out from the planned hours and the mean estimated length of such
# sentences. Writes
# OUT/{dev,test-seen,test-unseen,train,speech-only}.txt (Kaldi text) and
# OUT/text-only.ids (ids of every sentence the text corpus may keep: all but
# the held-out dev/test and the speech-only ones); prints the plan.

function eligible() { return NF - 1 >= min && NF - 1 <= max }
function seconds(nwords) { return nwords / wps + lead }

FNR == NR {
	if (eligible()) { n_elig++; sum_sec += seconds(NF - 1) }
	if (eligible() && NF - 1 >= so_min) { n_long++; sum_long += seconds(NF - 1) }
	next
}

FNR == 1 {
	if (n_elig == 0) { print "partition.awk: no sentence of " min ".." max " words" > "/dev/stderr"; exit 1 }
	spu = sum_sec / n_elig
	n_eval = n_dev + n_test_seen + n_test_unseen
	if (n_train == "") n_train = int((aligned_hours * 3600 - n_eval * spu) / spu + 0.5)
	if (n_speech == "" && n_long > 0) n_speech = int(speech_hours * 3600 / (sum_long / n_long) + 0.5)
	if (n_train < 1) { print "partition.awk: --aligned-hours leaves no training sentence" > "/dev/stderr"; exit 1 }
	need = n_eval + n_train + n_speech
	if (need > n_elig) {
		printf "partition.awk: %d sentences of %d..%d words needed, only %d found\n", need, min, max, n_elig > "/dev/stderr"
		exit 1
	}
	split("dev test-seen test-unseen train speech-only", name, " ")
	limit[1] = n_dev; limit[2] = limit[1] + n_test_seen; limit[3] = limit[2] + n_test_unseen
	limit[4] = limit[3] + n_train; limit[5] = limit[4] + n_speech
	k = 1; taken = 0
}

{
	if (k <= 5 && eligible()) {
		while (k <= 5 && taken >= limit[k]) k++
		if (k <= 5 && !(k == 5 && NF - 1 < so_min)) { # speech-only: long ones
			print > (out "/" name[k] ".txt")
			count[k]++; words[k] += NF - 1; taken++
			if (k == 4) print $1 > (out "/text-only.ids")
			next
		}
	}
	print $1 > (out "/text-only.ids")
}

END {
	if (n_elig == 0 || need > n_elig) exit 1
	if (count[5] < n_speech) {
		printf "partition.awk: %d speech-only sentences of %d..%d words needed, only %d left\n", n_speech, so_min, max, count[5] > "/dev/stderr"
		exit 1
	}
	printf "sentences: %d unique, %d of %d..%d words; about %.2f s of speech each\n", FNR, n_elig, min, max, spu
	for (k = 1; k <= 5; k++)
		printf "  %-12s %7d sentences %9d words  planned %7.2f h\n", name[k], count[k], words[k], (words[k] / wps + count[k] * lead) / 3600
}
