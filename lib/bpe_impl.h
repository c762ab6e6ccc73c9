/* bpe_impl: what bpe.c, bpe_fit.c and bpe_io.c share; not for programs. */
#ifndef ZIPPER_BPE_IMPL_H
#define ZIPPER_BPE_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bpe.h"

/* A pair of token ids as one key; ordering keys orders pairs
 * lexicographically, which is the fitting's tie-break. */
static inline uint64_t bpe_pair_key(int32_t left, int32_t right)
{
	return (uint64_t)(uint32_t)left << 32 | (uint32_t)right;
}

/* Open-addressing map from pair keys to int32 values. */
#define PAIRMAP_EMPTY UINT64_MAX
struct pairmap {
	uint64_t *keys;
	int32_t *vals;
	size_t n, cap;
};

void pairmap_init(struct pairmap *m, size_t expect);
void pairmap_free(struct pairmap *m);
int32_t pairmap_get(const struct pairmap *m, uint64_t key); /* -1 when absent */
/* false (and nothing changed) when key is already there. */
bool pairmap_put(struct pairmap *m, uint64_t key, int32_t val);

/* 64-bit hash of a byte string (FNV-1a with a final mix). */
uint64_t bpe_hash_bytes(const char *s, size_t n);

/* The (n_merges, 2) table, b's own. */
const int32_t *bpe_merge_table(const struct bpe *b);

#endif
