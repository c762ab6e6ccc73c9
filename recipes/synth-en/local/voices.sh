# Sourced by run.sh: the voice inventory (speaker = voice).
#
# A voice is an engine with a setting: an espeak-ng accent with a variant, a
# flite voice, or a festival voice. "seen" voices may be used by every split;
# "unseen" voices only by test-unseen. The unseen espeak-ng voices use variants
# never used elsewhere (any accent) and the accent en-gb-x-gbcwmd only appears
# with them; flite rms and festival ked never speak a training sentence.

# The 8 English accents of espeak-ng 1.51 (the mbrola ones need extra data).
# British English is "en": with "en-gb" (a language, not a voice) espeak-ng
# silently ignores the +variant. Variants are file names: case matters.
ESPEAK_ACCENTS_SEEN="en en-us en-gb-scotland en-gb-x-gbclan en-gb-x-rp en-029 en-us-nyc"
ESPEAK_ACCENTS_UNSEEN="en-gb-x-gbcwmd"
# Variants (file names under espeak-ng-data/voices/!v). Left out: Demonic,
# UniRobot, anikaRobot, "Mr serious" (a space in its name), fast, whisper and
# whisperf (hard to understand at all).
ESPEAK_VARIANTS_SEEN="Alex Alicia Andrea AnxiousAndy Denis Diogo Gene Henrique
Hugo Jacky Lee Marco Mario Michael Nguyen RicishayMax RicishayMax2 RicishayMax3
Storm Tweaky adam announcer antonio belinda benjamin boris croak david ed
edward edward2 f1 f2 f3 f5 grandma gustave iven iven2 iven3 iven4 john
kaukovalta klatt klatt2 klatt3 klatt4 klatt5 klatt6 linda m1 m2 m3 m4 m6 m7 m8
marcelo max michel miguel pablo paul pedro quincy rob robert robosoft
robosoft2 robosoft3 robosoft4 robosoft5 robosoft6 robosoft7 robosoft8 sandro
shelby steph steph3 travis victor zac"
ESPEAK_VARIANTS_UNSEEN="Andy Annie Gene2 Mike anika aunty caleb f4 grandpa m5
norbert steph2"
FLITE_SEEN="slt awb kal16 kal"
FLITE_UNSEEN="rms"
FESTIVAL_SEEN="kal_diphone cmu_us_slt_arctic_hts"
FESTIVAL_UNSEEN="ked_diphone"

# write_voices OUT: one line per voice, "voice-id engine setting class",
# espeak-ng always, flite and festival when the mixture gives them a share.
write_voices() {
	local a v mix_flite mix_fest
	read -r _ mix_flite mix_fest <<<"$engine_mix"
	{
		for a in $ESPEAK_ACCENTS_SEEN; do
			for v in $ESPEAK_VARIANTS_SEEN; do
				echo "esp_${a}_$(tolower "$v") espeak $a+$v seen"
			done
		done
		for a in $ESPEAK_ACCENTS_SEEN $ESPEAK_ACCENTS_UNSEEN; do
			for v in $ESPEAK_VARIANTS_UNSEEN; do
				echo "esp_${a}_$(tolower "$v") espeak $a+$v unseen"
			done
		done
		if [ "$mix_flite" -gt 0 ]; then
			for v in $FLITE_SEEN; do echo "flite_$v flite $v seen"; done
			for v in $FLITE_UNSEEN; do echo "flite_$v flite $v unseen"; done
		fi
		if [ "$mix_fest" -gt 0 ]; then
			for v in $FESTIVAL_SEEN; do echo "fest_$(fest_name "$v") festival $v seen"; done
			for v in $FESTIVAL_UNSEEN; do echo "fest_$(fest_name "$v") festival $v unseen"; done
		fi
	} >"$1.tmp"
	mv "$1.tmp" "$1"
}

tolower() {
	printf '%s' "${1,,}"
}

# fest_name VOICE: kal_diphone -> kal, cmu_us_slt_arctic_hts -> slt.
fest_name() {
	printf '%s' "$1" | sed 's/^cmu_us_//; s/_.*//'
}
