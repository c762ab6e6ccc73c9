#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "wer.h"
#include "xalloc.h"

/* ---- interned words: open addressing over a string pool ---- */

struct wer_vocab {
	char *pool; /* words, NUL-terminated */
	size_t pool_len, pool_cap;
	size_t *off;     /* (count) word offsets in pool */
	uint32_t *len;   /* (count) word lengths */
	uint32_t *hash;  /* (count) */
	size_t count, off_cap;
	int32_t *slot;   /* (nslots) word id + 1, 0 = empty */
	size_t nslots;
};

static uint32_t hash_bytes(const char *s, size_t len)
{
	uint32_t h = 2166136261u; /* FNV-1a */
	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)s[i]) * 16777619u;
	return h;
}

struct wer_vocab *wer_vocab_new(void)
{
	struct wer_vocab *v = xcalloc(1, sizeof *v);
	v->nslots = 1024;
	v->slot = xcalloc(v->nslots, sizeof *v->slot);
	return v;
}

static void vocab_rehash(struct wer_vocab *v)
{
	free(v->slot);
	v->nslots *= 2;
	v->slot = xcalloc(v->nslots, sizeof *v->slot);
	for (size_t id = 0; id < v->count; id++) {
		size_t i = v->hash[id] & (v->nslots - 1);
		while (v->slot[i])
			i = (i + 1) & (v->nslots - 1);
		v->slot[i] = (int32_t)id + 1;
	}
}

int32_t wer_vocab_intern(struct wer_vocab *v, const char *s, size_t len)
{
	uint32_t h = hash_bytes(s, len);
	size_t i = h & (v->nslots - 1);
	for (; v->slot[i]; i = (i + 1) & (v->nslots - 1)) {
		int32_t id = v->slot[i] - 1;
		const char *w = v->pool + v->off[id];
		if (v->hash[id] == h && v->len[id] == len && memcmp(w, s, len) == 0)
			return id;
	}
	if (v->count == v->off_cap) { /* off, hash and len share one capacity */
		v->off_cap = v->off_cap ? 2 * v->off_cap : 1024;
		v->off = xreallocarray(v->off, v->off_cap, sizeof *v->off);
		v->hash = xreallocarray(v->hash, v->off_cap, sizeof *v->hash);
		v->len = xreallocarray(v->len, v->off_cap, sizeof *v->len);
	}
	xgrow(&v->pool, &v->pool_cap, v->pool_len + len + 1, 1);
	memcpy(v->pool + v->pool_len, s, len);
	v->pool[v->pool_len + len] = 0;
	int32_t id = (int32_t)v->count++;
	v->off[id] = v->pool_len;
	v->hash[id] = h;
	v->len[id] = (uint32_t)len;
	v->pool_len += len + 1;
	v->slot[i] = id + 1;
	if (2 * v->count > v->nslots)
		vocab_rehash(v);
	return id;
}

const char *wer_vocab_word(const struct wer_vocab *v, int32_t id)
{
	return v->pool + v->off[id];
}

size_t wer_vocab_count(const struct wer_vocab *v)
{
	return v->count;
}

void wer_vocab_free(struct wer_vocab *v)
{
	if (!v)
		return;
	free(v->pool);
	free(v->off);
	free(v->hash);
	free(v->len);
	free(v->slot);
	free(v);
}

/* ---- alignment ---- */

/* One DP cell: the cost of the chosen path to it and that path's counts. */
struct cell {
	int32_t cost, sub, del, ins;
};

struct wer_aligner {
	int32_t w_sub, w_del, w_ins;
	struct cell *row; /* (m+1) */
	size_t row_cap;
	int32_t *cost;  /* (m+1) for dp_packed */
	uint64_t *pack; /* (m+1) */
	size_t cost_cap, pack_cap;
	unsigned char *back; /* 2-bit moves, (n+1)*(m+1) */
	size_t back_cap;
};

enum { MOVE_DIAG, MOVE_INS, MOVE_DEL };

struct wer_aligner *wer_aligner_new(enum wer_costs costs)
{
	struct wer_aligner *a = xcalloc(1, sizeof *a);
	bool sclite = costs == WER_SCLITE;
	a->w_sub = sclite ? 4 : 1;
	a->w_del = a->w_ins = sclite ? 3 : 1;
	return a;
}

void wer_aligner_free(struct wer_aligner *a)
{
	if (!a)
		return;
	free(a->row);
	free(a->cost);
	free(a->pack);
	free(a->back);
	free(a);
}

static void set_move(unsigned char *back, size_t k, int move)
{
	back[k >> 2] = (unsigned char)((back[k >> 2] & ~(3u << (2 * (k & 3)))) |
				       (unsigned)move << (2 * (k & 3)));
}

static int get_move(const unsigned char *back, size_t k)
{
	return back[k >> 2] >> (2 * (k & 3)) & 3;
}

/* The forward pass over rows of the (n+1)x(m+1) table. Each cell takes the
 * cheapest of its three predecessors, preferring diagonal, then insertion
 * (from the left), then deletion (from above); the counts ride along, so
 * the last cell holds the counts of the path a trace-back with the same
 * preference would find. back (NULL: not kept) records the moves. */
static struct cell dp(struct wer_aligner *a, unsigned char *back, const int32_t *ref, size_t n,
		      const int32_t *hyp, size_t m)
{
	xgrow(&a->row, &a->row_cap, m + 1, sizeof *a->row);
	struct cell *row = a->row;
	const int32_t ws = a->w_sub, wd = a->w_del, wi = a->w_ins;
	for (size_t j = 0; j <= m; j++) {
		row[j] = (struct cell){(int32_t)j * wi, 0, 0, (int32_t)j};
		if (back)
			set_move(back, j, MOVE_INS);
	}
	for (size_t i = 1; i <= n; i++) {
		struct cell diag = row[0];
		row[0].cost += wd;
		row[0].del++;
		if (back)
			set_move(back, i * (m + 1), MOVE_DEL);
		const int32_t r = ref[i - 1];
		for (size_t j = 1; j <= m; j++) {
			struct cell up = row[j], c = diag;
			bool same = hyp[j - 1] == r;
			c.cost += same ? 0 : ws;
			int move = MOVE_DIAG;
			int32_t ci = row[j - 1].cost + wi, cd = up.cost + wd;
			if (ci < c.cost && ci <= cd) {
				c = row[j - 1];
				c.cost = ci;
				c.ins++;
				move = MOVE_INS;
			} else if (cd < c.cost && cd < ci) {
				c = up;
				c.cost = cd;
				c.del++;
				move = MOVE_DEL;
			} else if (!same) {
				c.sub++;
			}
			diag = up;
			row[j] = c;
			if (back)
				set_move(back, i * (m + 1) + j, move);
		}
	}
	return row[m];
}

/* The same pass for counting only, branch-free: the three counts are
 * packed 21 bits each into one word so the choice between predecessors is
 * two conditional moves rather than unpredictable branches (3x faster).
 * Exact while n + m < 2^21, which bounds every count. */
enum { PACK_BITS = 21 };
#define PACK_INS ((uint64_t)1)
#define PACK_DEL ((uint64_t)1 << PACK_BITS)
#define PACK_SUB ((uint64_t)1 << (2 * PACK_BITS))

static struct cell dp_packed(struct wer_aligner *a, const int32_t *ref, size_t n,
			     const int32_t *hyp, size_t m)
{
	xgrow(&a->cost, &a->cost_cap, m + 1, sizeof *a->cost);
	xgrow(&a->pack, &a->pack_cap, m + 1, sizeof *a->pack);
	int32_t *cost = a->cost;
	uint64_t *pack = a->pack;
	const int32_t ws = a->w_sub, wd = a->w_del, wi = a->w_ins;
	for (size_t j = 0; j <= m; j++) {
		cost[j] = (int32_t)j * wi;
		pack[j] = (uint64_t)j * PACK_INS;
	}
	for (size_t i = 1; i <= n; i++) {
		int32_t cdiag0 = cost[0];
		uint64_t pdiag0 = pack[0];
		cost[0] += wd;
		pack[0] += PACK_DEL;
		const int32_t r = ref[i - 1];
		int32_t cleft = cost[0];
		uint64_t pleft = pack[0];
		for (size_t j = 1; j <= m; j++) {
			bool same = hyp[j - 1] == r;
			int32_t cd = cdiag0 + (same ? 0 : ws);
			uint64_t pd = pdiag0 + (same ? 0 : PACK_SUB);
			int32_t ci = cleft + wi, cu = cost[j] + wd;
			uint64_t pi = pleft + PACK_INS, pu = pack[j] + PACK_DEL;
			bool ins = ci < cd && ci <= cu, del = cu < cd && cu < ci;
			cdiag0 = cost[j], pdiag0 = pack[j];
			cleft = ins ? ci : del ? cu : cd;
			pleft = ins ? pi : del ? pu : pd;
			cost[j] = cleft, pack[j] = pleft;
		}
	}
	const uint64_t mask = ((uint64_t)1 << PACK_BITS) - 1;
	uint64_t p = pack[m];
	return (struct cell){cost[m], (int32_t)(p >> 2 * PACK_BITS & mask),
			     (int32_t)(p >> PACK_BITS & mask), (int32_t)(p & mask)};
}

static void add_counts(struct wer_counts *acc, const struct cell *c, size_t n)
{
	acc->ref += (long long)n;
	acc->sub += c->sub;
	acc->del += c->del;
	acc->ins += c->ins;
	acc->cor += (long long)n - c->sub - c->del;
}

void wer_count(struct wer_aligner *a, struct wer_counts *acc, const int32_t *ref, size_t n,
	       const int32_t *hyp, size_t m)
{
	bool small = n + m < ((size_t)1 << PACK_BITS);
	struct cell c = small ? dp_packed(a, ref, n, hyp, m) : dp(a, NULL, ref, n, hyp, m);
	add_counts(acc, &c, n);
}

size_t wer_align(struct wer_aligner *a, struct wer_counts *acc, char *ops, const int32_t *ref,
		 size_t n, const int32_t *hyp, size_t m)
{
	size_t cells = (n + 1) * (m + 1);
	xgrow(&a->back, &a->back_cap, cells / 4 + 1, 1);
	struct cell c = dp(a, a->back, ref, n, hyp, m);
	add_counts(acc, &c, n);
	/* Trace back from the end, then reverse. */
	size_t k = 0, i = n, j = m;
	while (i > 0 || j > 0) {
		int move = get_move(a->back, i * (m + 1) + j);
		if (move == MOVE_DIAG) {
			ops[k++] = ref[i - 1] == hyp[j - 1] ? WER_COR : WER_SUB;
			i--, j--;
		} else if (move == MOVE_INS) {
			ops[k++] = WER_INS;
			j--;
		} else {
			ops[k++] = WER_DEL;
			i--;
		}
	}
	for (size_t x = 0, y = k; x + 1 < y; x++, y--) {
		char t = ops[x];
		ops[x] = ops[y - 1];
		ops[y - 1] = t;
	}
	return k;
}

long long wer_errors(const struct wer_counts *c)
{
	return c->sub + c->del + c->ins;
}

double wer_rate(long long errors, long long ref)
{
	if (ref == 0)
		return errors ? 100.0 : 0.0;
	return 100.0 * (double)errors / (double)ref;
}
