/* decode: continuing and scoring token sequences with a cached model.
 *
 * The strategies (greedy, temperature with top-k and top-p, beam search)
 * see the model only through struct decode_model: feed tokens at a
 * position, get logits, reorder the cached sequences. A tower with its kv
 * cache is one such model; a fused model can be another. */
#ifndef ZIPPER_DECODE_H
#define ZIPPER_DECODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rng.h"
#include "tower.h"

struct decode_model {
	void *ctx;
	int vocab;
	int batch;   /* sequences in the cache */
	int max_len; /* positions the cache holds */
	int chunk;   /* most tokens per forward call */
	/* tokens (batch,T) at positions pos0.. of every sequence; logits
	 * (batch,T,vocab) when all, else (batch,vocab) of the last. */
	const float *(*forward)(void *ctx, const int32_t *tokens, int T, int pos0, bool all);
	/* Sequence b takes old sequence src[b]'s first len positions. */
	void (*reorder)(void *ctx, const int *src, int len);
};

/* A tower with a cache of `batch` sequences of up to max_len positions. */
void decode_model_tower(struct decode_model *m, const struct tower *t, int batch, int max_len, int chunk);
void decode_model_tower_free(struct decode_model *m);

struct decode_params {
	int max_new;        /* most tokens to generate */
	int eos;            /* stop after generating this; -1: none */
	double temperature; /* 0: greedy */
	int top_k;          /* 0: all */
	double top_p;       /* 1: all */
	int beam;           /* 1: no beam search; needs a model with batch >= beam */
	double length_penalty; /* beam scores are logp / len^this */
	int vocab_limit;    /* > 0: only ids below it (and eos) are generated */
};

void decode_params_default(struct decode_params *p);

/* Continues prompt (n tokens, n >= 1) into out (room for p->max_new);
 * returns the count generated, including the end token when reached.
 * Sampling draws from r (ignored when greedy). */
int decode_generate(const struct decode_model *m, const int32_t *prompt, int n, const struct decode_params *p,
		    struct rng *r, int32_t *out);

/* Sum of log p(tokens[i] | tokens[<i]) for i >= 1 (n >= 2); a model of batch 1. */
double decode_score(const struct decode_model *m, const int32_t *tokens, int n);

#endif
