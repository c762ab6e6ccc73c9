# shuffle.awk: prefix each line with a seeded random key (then sort on it).
#   awk -v seed=S -v salt=N -f rng.awk -f shuffle.awk
BEGIN { rng_init(seed, salt) }
{ printf "%010d\t%s\n", int(rng() * 2147483647), $0 }
