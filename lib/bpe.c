/* bpe: the tokenizer itself (pre-tokeniser, merge table, encode, decode).
 * Fitting lives in bpe_fit.c, the file format in bpe_io.c. */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bpe.h"
#include "bpe_impl.h"
#include "xalloc.h"
#include "zerr.h"

enum cls { CLS_SPACE, CLS_LETTER, CLS_DIGIT, CLS_OTHER };

static enum cls byte_class(unsigned char c)
{
	if (c == ' ')
		return CLS_SPACE;
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80)
		return CLS_LETTER;
	if (c >= '0' && c <= '9')
		return CLS_DIGIT;
	return CLS_OTHER;
}

size_t bpe_piece_end(const char *s, size_t n, size_t i)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t limit = n - i > BPE_MAX_PIECE ? i + BPE_MAX_PIECE : n;
	size_t j = i;
	if (u[j] == ' ') {
		j++;
		if (j == limit || u[j] == ' ')
			return j;
	}
	enum cls c = byte_class(u[j]);
	while (j < limit && byte_class(u[j]) == c)
		j++;
	return j;
}

uint64_t bpe_hash_bytes(const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	uint64_t h = UINT64_C(0xcbf29ce484222325);
	for (size_t i = 0; i < n; i++)
		h = (h ^ u[i]) * UINT64_C(0x100000001b3);
	h ^= h >> 29;
	h *= UINT64_C(0xbf58476d1ce4e5b9);
	return h ^ (h >> 32);
}

/* ---- pair -> rank map (open addressing; keys are (left << 32 | right)) ---- */

static uint64_t mix64(uint64_t k)
{
	k ^= k >> 33;
	k *= UINT64_C(0xff51afd7ed558ccd);
	k ^= k >> 33;
	return k;
}

void pairmap_init(struct pairmap *m, size_t expect)
{
	size_t cap = 16;
	while (cap < 2 * expect + 2)
		cap *= 2;
	m->cap = cap;
	m->n = 0;
	m->keys = xmallocarray(cap, sizeof *m->keys);
	m->vals = xmallocarray(cap, sizeof *m->vals);
	for (size_t i = 0; i < cap; i++)
		m->keys[i] = PAIRMAP_EMPTY;
}

void pairmap_free(struct pairmap *m)
{
	free(m->keys);
	free(m->vals);
	m->keys = NULL;
	m->vals = NULL;
}

static size_t pairmap_slot(const struct pairmap *m, uint64_t key)
{
	size_t mask = m->cap - 1;
	size_t i = (size_t)mix64(key) & mask;
	while (m->keys[i] != key && m->keys[i] != PAIRMAP_EMPTY)
		i = (i + 1) & mask;
	return i;
}

int32_t pairmap_get(const struct pairmap *m, uint64_t key)
{
	size_t i = pairmap_slot(m, key);
	return m->keys[i] == key ? m->vals[i] : -1;
}

static void pairmap_grow(struct pairmap *m)
{
	struct pairmap big;
	pairmap_init(&big, m->cap);
	for (size_t i = 0; i < m->cap; i++)
		if (m->keys[i] != PAIRMAP_EMPTY) {
			size_t j = pairmap_slot(&big, m->keys[i]);
			big.keys[j] = m->keys[i];
			big.vals[j] = m->vals[i];
		}
	big.n = m->n;
	pairmap_free(m);
	*m = big;
}

bool pairmap_put(struct pairmap *m, uint64_t key, int32_t val)
{
	if (2 * (m->n + 1) > m->cap)
		pairmap_grow(m);
	size_t i = pairmap_slot(m, key);
	if (m->keys[i] == key)
		return false;
	m->keys[i] = key;
	m->vals[i] = val;
	m->n++;
	return true;
}

/* ---- the tokenizer ---- */

struct bpe {
	int n_merges;
	int32_t *merges;   /* (n_merges, 2) */
	struct pairmap rank; /* (left, right) -> merge index */
	char *bytes;       /* every token's bytes, concatenated */
	size_t *tok_off;   /* (vocab) offset in bytes; specials 0 */
	uint32_t *tok_len; /* (vocab) */
	/* Pieces that encode to a single token, found by their bytes: most
	 * pieces of real text are whole words in the vocabulary, so encoding
	 * them costs one probe here instead of the merge loop. Read-only after
	 * construction, so bpe_encode stays thread-safe. */
	struct whole {
		uint32_t check; /* high half of the bytes' hash: most misses end here */
		int32_t id;     /* -1 for a free slot */
	} *whole;
	size_t whole_cap; /* a power of two */
};

static int encode_piece(const struct bpe *b, const unsigned char *s, int n, int32_t *sym);
static void whole_build(struct bpe *b);

struct bpe *bpe_from_merges(const int32_t *merges, int n_merges)
{
	if (n_merges < 0 || n_merges > BPE_MAX_VOCAB - BPE_BASE_VOCAB) {
		zerr_set("%d merges: expected 0..%d", n_merges, BPE_MAX_VOCAB - BPE_BASE_VOCAB);
		return NULL;
	}
	struct bpe *b = xcalloc(1, sizeof *b);
	b->n_merges = n_merges;
	b->merges = xmallocarray((size_t)n_merges * 2 + 1, sizeof *b->merges);
	if (n_merges)
		memcpy(b->merges, merges, (size_t)n_merges * 2 * sizeof *merges);
	pairmap_init(&b->rank, (size_t)n_merges);
	size_t vocab = (size_t)BPE_BASE_VOCAB + (size_t)n_merges;
	b->tok_off = xcalloc(vocab, sizeof *b->tok_off);
	b->tok_len = xcalloc(vocab, sizeof *b->tok_len);
	for (int i = 0; i < n_merges; i++) {
		int32_t l = merges[2 * i], r = merges[2 * i + 1], id = BPE_BASE_VOCAB + i;
		if (l < BPE_BYTE0 || l >= id || r < BPE_BYTE0 || r >= id) {
			zerr_set("merge %d: (%d, %d): parts must be token ids in %d..%d", i, (int)l,
				 (int)r, BPE_BYTE0, (int)id - 1);
			goto fail;
		}
		if (!pairmap_put(&b->rank, bpe_pair_key(l, r), i)) {
			zerr_set("merge %d: (%d, %d) repeats merge %d", i, (int)l, (int)r,
				 (int)pairmap_get(&b->rank, bpe_pair_key(l, r)));
			goto fail;
		}
	}
	/* Token lengths and offsets in id order: a merge's parts come before it. */
	for (int c = 0; c < 256; c++)
		b->tok_len[BPE_BYTE0 + c] = 1;
	size_t total = 0;
	for (size_t id = BPE_BYTE0; id < vocab; id++) {
		if (id >= BPE_BASE_VOCAB) {
			const int32_t *m = b->merges + 2 * (id - BPE_BASE_VOCAB);
			uint32_t len = b->tok_len[m[0]] + b->tok_len[m[1]];
			/* Merges never cross pieces, so no real token is longer. */
			if (len > BPE_MAX_PIECE) {
				zerr_set("merge %zu: makes a token of %u bytes, longer than a piece (%d)",
					 id - BPE_BASE_VOCAB, (unsigned)len, BPE_MAX_PIECE);
				goto fail;
			}
			b->tok_len[id] = len;
		}
		b->tok_off[id] = total;
		total += b->tok_len[id];
	}
	b->bytes = xmalloc(total + 1);
	for (size_t id = BPE_BYTE0; id < vocab; id++) {
		char *dst = b->bytes + b->tok_off[id];
		if (id < BPE_BASE_VOCAB) {
			*dst = (char)(unsigned char)(id - BPE_BYTE0);
			continue;
		}
		const int32_t *m = b->merges + 2 * (id - BPE_BASE_VOCAB);
		memcpy(dst, b->bytes + b->tok_off[m[0]], b->tok_len[m[0]]);
		memcpy(dst + b->tok_len[m[0]], b->bytes + b->tok_off[m[1]], b->tok_len[m[1]]);
	}
	whole_build(b);
	return b;
fail:
	bpe_free(b);
	return NULL;
}

void bpe_free(struct bpe *b)
{
	if (!b)
		return;
	free(b->merges);
	pairmap_free(&b->rank);
	free(b->bytes);
	free(b->tok_off);
	free(b->tok_len);
	free(b->whole);
	free(b);
}

int bpe_vocab_size(const struct bpe *b)
{
	return BPE_BASE_VOCAB + b->n_merges;
}

int bpe_n_merges(const struct bpe *b)
{
	return b->n_merges;
}

void bpe_merge(const struct bpe *b, int i, int32_t *left, int32_t *right)
{
	*left = b->merges[2 * i];
	*right = b->merges[2 * i + 1];
}

const int32_t *bpe_merge_table(const struct bpe *b)
{
	return b->merges;
}

const char *bpe_token_bytes(const struct bpe *b, int32_t id, size_t *len)
{
	if (id < BPE_BYTE0 || id >= bpe_vocab_size(b)) {
		*len = 0;
		return NULL;
	}
	*len = b->tok_len[id];
	return b->bytes + b->tok_off[id];
}

/* ---- encoding ---- */

enum { NO_RANK = INT32_MAX };

static int32_t pair_rank(const struct bpe *b, int32_t l, int32_t r)
{
	int32_t k = pairmap_get(&b->rank, bpe_pair_key(l, r));
	return k < 0 ? NO_RANK : k;
}

/* One piece (n <= BPE_MAX_PIECE bytes) into sym[], returning the count.
 * rank[i] is the rank of (sym[i], sym[i+1]); each round merges every
 * left-to-right occurrence of the lowest-ranked pair and looks up only the
 * pairs that now touch a new symbol. */
static int encode_piece(const struct bpe *b, const unsigned char *s, int n, int32_t *sym)
{
	int32_t rank[BPE_MAX_PIECE];
	for (int i = 0; i < n; i++)
		sym[i] = BPE_BYTE0 + s[i];
	for (int i = 0; i + 1 < n; i++)
		rank[i] = pair_rank(b, sym[i], sym[i + 1]);
	for (;;) {
		int32_t best = NO_RANK;
		for (int i = 0; i + 1 < n; i++)
			if (rank[i] < best)
				best = rank[i];
		if (best == NO_RANK)
			return n;
		int32_t id = BPE_BASE_VOCAB + best;
		bool fresh[BPE_MAX_PIECE];
		int k = 0;
		for (int i = 0; i < n; k++) {
			if (i + 1 < n && rank[i] == best) {
				sym[k] = id;
				fresh[k] = true;
				i += 2;
			} else {
				/* The pair starting here keeps its rank unless its right
				 * neighbour changes, which is checked below. */
				sym[k] = sym[i];
				rank[k] = i + 1 < n ? rank[i] : NO_RANK;
				fresh[k] = false;
				i++;
			}
		}
		n = k;
		for (int i = 0; i + 1 < n; i++)
			if (fresh[i] || fresh[i + 1])
				rank[i] = pair_rank(b, sym[i], sym[i + 1]);
	}
}

/* The id a whole piece encodes to when that is a single token, else -1. */
static int32_t whole_find(const struct bpe *b, const char *s, size_t n, uint64_t h)
{
	size_t mask = b->whole_cap - 1;
	uint32_t check = (uint32_t)(h >> 32);
	for (size_t i = (size_t)h & mask; b->whole[i].id >= 0; i = (i + 1) & mask) {
		int32_t id = b->whole[i].id;
		if (b->whole[i].check == check && b->tok_len[id] == n &&
		    !memcmp(b->bytes + b->tok_off[id], s, n))
			return id;
	}
	return -1;
}

/* Every merged token whose bytes are one piece and encode back to one
 * token goes in (bytes are never looked up: they encode to themselves). */
static void whole_build(struct bpe *b)
{
	size_t cap = 16;
	while (cap < 2 * (size_t)b->n_merges + 2)
		cap *= 2;
	b->whole_cap = cap;
	b->whole = xmallocarray(cap, sizeof *b->whole);
	for (size_t i = 0; i < cap; i++)
		b->whole[i].id = -1;
	int32_t sym[BPE_MAX_PIECE];
	for (int32_t id = BPE_BASE_VOCAB; id < bpe_vocab_size(b); id++) {
		const char *s = b->bytes + b->tok_off[id];
		size_t n = b->tok_len[id];
		uint64_t h = bpe_hash_bytes(s, n);
		if (bpe_piece_end(s, n, 0) != n || whole_find(b, s, n, h) >= 0 ||
		    encode_piece(b, (const unsigned char *)s, (int)n, sym) != 1)
			continue;
		size_t i = (size_t)h & (cap - 1);
		while (b->whole[i].id >= 0)
			i = (i + 1) & (cap - 1);
		b->whole[i] = (struct whole){(uint32_t)(h >> 32), sym[0]};
	}
}

int bpe_encode(const struct bpe *b, const char *bytes, size_t n, int32_t **ids, size_t *n_ids,
	       size_t *cap)
{
	int32_t sym[BPE_MAX_PIECE];
	for (size_t i = 0; i < n;) {
		size_t end = bpe_piece_end(bytes, n, i);
		size_t len = end - i;
		int32_t id = len > 1 ? whole_find(b, bytes + i, len, bpe_hash_bytes(bytes + i, len)) : -1;
		int m = 1;
		if (id >= 0)
			sym[0] = id;
		else
			m = encode_piece(b, (const unsigned char *)bytes + i, (int)len, sym);
		xgrow(ids, cap, *n_ids + (size_t)m, sizeof **ids);
		memcpy(*ids + *n_ids, sym, (size_t)m * sizeof *sym);
		*n_ids += (size_t)m;
		i = end;
	}
	return 0;
}

int bpe_decode(const struct bpe *b, const int32_t *ids, size_t n, char **bytes, size_t *len,
	       size_t *cap)
{
	size_t need = *len;
	int vocab = bpe_vocab_size(b);
	for (size_t i = 0; i < n; i++) {
		if (ids[i] < 0 || ids[i] >= vocab) {
			zerr_set("token %zu: id %ld outside the vocabulary (0..%d)", i + 1,
				 (long)ids[i], vocab - 1);
			return -1;
		}
		need += b->tok_len[ids[i]];
	}
	xgrow(bytes, cap, need + 1, 1);
	char *dst = *bytes + *len;
	for (size_t i = 0; i < n; i++) {
		memcpy(dst, b->bytes + b->tok_off[ids[i]], b->tok_len[ids[i]]);
		dst += b->tok_len[ids[i]];
	}
	*dst = '\0';
	*len = need;
	return 0;
}
