# rng.awk: a seeded Park-Miller generator, loaded with -f before the awk
# program that uses it. Exact in awk's doubles, so mawk and gawk draw the same
# numbers on every machine. rng_init(SEED, SALT) once, then rng() is uniform
# in (0, 1).

function rng_init(seed, salt,  i) {
	rng_state = (seed * 7919 + salt * 104729 + 12345) % 2147483646 + 1
	for (i = 0; i < 8; i++) rng()
}

function rng() {
	rng_state = (rng_state * 16807) % 2147483647
	return rng_state / 2147483647
}
