/* rng: xoshiro256** (Blackman & Vigna, 2018), seeded through splitmix64.
 *
 * Small, fast, and with a state we can save in checkpoints, so that a
 * resumed run draws exactly the numbers an uninterrupted one would. Every
 * use is seeded explicitly; nothing reads the clock. */
#ifndef ZIPPER_RNG_H
#define ZIPPER_RNG_H

#include <stdint.h>

struct rng {
	uint64_t s[4];
};

void rng_seed(struct rng *r, uint64_t seed);
uint64_t rng_u64(struct rng *r);
/* Uniform in [0, 1) with 24 (float) or 53 (double) random bits. */
float rng_float(struct rng *r);
double rng_double(struct rng *r);
/* Uniform in [0, n), without modulo bias; n > 0. */
uint64_t rng_below(struct rng *r, uint64_t n);
/* Standard normal (Box-Muller; one draw per call, for simplicity of state). */
double rng_normal(struct rng *r);
/* Fisher-Yates shuffle of n ints. */
void rng_shuffle_int(struct rng *r, int *a, size_t n);

#endif
