#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "wer.h"
#include "xalloc.h"

/* ---- interned words: open addressing over a string pool ---- */

struct vocab_word {
	size_t off;   /* in pool */
	uint32_t len;
	uint32_t hash;
};

/* A slot holds the hash next to the id, so a probe usually settles on one
 * cache line without looking at the word. */
struct vocab_slot {
	uint32_t hash;
	int32_t id; /* -1: empty */
};

struct wer_vocab {
	char *pool; /* words, NUL-terminated */
	size_t pool_len, pool_cap;
	struct vocab_word *word; /* (count) */
	size_t count, word_cap;
	struct vocab_slot *slot; /* (nslots), a power of two, at most half full */
	size_t nslots;
};

static uint32_t hash_bytes(const char *s, size_t len)
{
	uint32_t h = 2166136261u; /* FNV-1a */
	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)s[i]) * 16777619u;
	return h;
}

/* Words are short: an inline loop beats a call to memcmp. */
static bool same_bytes(const char *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (a[i] != b[i])
			return false;
	return true;
}

static void vocab_slots(struct wer_vocab *v, size_t nslots)
{
	free(v->slot);
	v->nslots = nslots;
	v->slot = xmallocarray(nslots, sizeof *v->slot);
	for (size_t i = 0; i < nslots; i++)
		v->slot[i].id = -1;
	for (size_t id = 0; id < v->count; id++) {
		size_t i = v->word[id].hash & (nslots - 1);
		while (v->slot[i].id >= 0)
			i = (i + 1) & (nslots - 1);
		v->slot[i] = (struct vocab_slot){v->word[id].hash, (int32_t)id};
	}
}

struct wer_vocab *wer_vocab_new(void)
{
	struct wer_vocab *v = xcalloc(1, sizeof *v);
	vocab_slots(v, 1024);
	return v;
}

int32_t wer_vocab_intern(struct wer_vocab *v, const char *s, size_t len)
{
	uint32_t h = hash_bytes(s, len);
	size_t i = h & (v->nslots - 1);
	for (; v->slot[i].id >= 0; i = (i + 1) & (v->nslots - 1)) {
		if (v->slot[i].hash != h)
			continue;
		const struct vocab_word *w = &v->word[v->slot[i].id];
		if (w->len == len && same_bytes(v->pool + w->off, s, len))
			return v->slot[i].id;
	}
	if (v->count == v->word_cap)
		xgrow(&v->word, &v->word_cap, v->count + 1, sizeof *v->word);
	xgrow(&v->pool, &v->pool_cap, v->pool_len + len + 1, 1);
	memcpy(v->pool + v->pool_len, s, len);
	v->pool[v->pool_len + len] = 0;
	int32_t id = (int32_t)v->count++;
	v->word[id] = (struct vocab_word){v->pool_len, (uint32_t)len, h};
	v->pool_len += len + 1;
	v->slot[i] = (struct vocab_slot){h, id};
	if (2 * v->count > v->nslots)
		vocab_slots(v, 2 * v->nslots);
	return id;
}

const char *wer_vocab_word(const struct wer_vocab *v, int32_t id)
{
	return v->pool + v->word[id].off;
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
	free(v->word);
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
	size_t matrix_limit; /* larger alignments use align_rect() */
};

enum { MOVE_DIAG, MOVE_INS, MOVE_DEL };

struct wer_aligner *wer_aligner_new(enum wer_costs costs)
{
	struct wer_aligner *a = xcalloc(1, sizeof *a);
	bool sclite = costs == WER_SCLITE;
	a->w_sub = sclite ? 4 : 1;
	a->w_del = a->w_ins = sclite ? 3 : 1;
	a->matrix_limit = (size_t)1 << 26; /* 16 MB of moves */
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
			int32_t differ = hyp[j - 1] != r;
			int32_t cd = cdiag0 + differ * ws;
			uint64_t pd = pdiag0 + (uint64_t)differ * PACK_SUB;
			int32_t ci = cleft + wi, cu = cost[j] + wd;
			uint64_t pi = pleft + PACK_INS, pu = pack[j] + PACK_DEL;
			cdiag0 = cost[j], pdiag0 = pack[j];
			/* The cheaper of insertion and deletion (insertion on a
			 * tie), taken only when strictly cheaper than the diagonal. */
			bool del = cu < ci;
			int32_t cc = del ? cu : ci;
			uint64_t pc = del ? pu : pi;
			bool off = cc < cd;
			cleft = off ? cc : cd;
			pleft = off ? pc : pd;
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

void wer_aligner_matrix_limit(struct wer_aligner *a, size_t cells)
{
	a->matrix_limit = cells;
}

/* ---- alignment in linear memory ----
 *
 * The alignment wanted is the chain of moves (each cell's preferred
 * cheapest predecessor) from (n,m) back to (0,0). A rectangle of the table
 * is solved given the values on its top row and left column, which fix
 * every value and move inside it exactly as in the whole table. One
 * forward pass over the rectangle also carries, for each cell below the
 * middle row, where its chain first reaches the middle row (or the left
 * column), so the chain from the corner splits into a part below the
 * middle row and a part above it, each a smaller rectangle whose
 * boundary values one more partial pass recovers. Small rectangles keep
 * their moves in a matrix. Memory: O((n + m) log n); time: a few times
 * the plain pass. */

struct lin {
	const int32_t *ref, *hyp;
	int32_t ws, wd, wi;
	size_t base;           /* rectangles of at most this many cells: matrix */
	char *ops;             /* the chain, from its end */
	size_t nops;
	unsigned char *back;
	size_t back_cap;
};

struct pos {
	size_t i, j;
};

static int32_t step(const struct lin *L, size_t i, size_t j, int32_t diag, int32_t up,
		    int32_t left, int *move)
{
	int32_t cd = diag + (L->ref[i - 1] == L->hyp[j - 1] ? 0 : L->ws);
	int32_t ci = left + L->wi, cu = up + L->wd;
	if (ci < cd && ci <= cu) {
		*move = MOVE_INS;
		return ci;
	}
	if (cu < cd && cu < ci) {
		*move = MOVE_DEL;
		return cu;
	}
	*move = MOVE_DIAG;
	return cd;
}

static void emit(struct lin *L, size_t i, size_t j, int move)
{
	L->ops[L->nops++] = move == MOVE_INS   ? WER_INS
			    : move == MOVE_DEL ? WER_DEL
			    : L->ref[i - 1] == L->hyp[j - 1] ? WER_COR : WER_SUB;
}

/* row (w = j1-j0+1) holds D(i0, j0..j1); advances it to D(i1, ...). */
static void advance_rows(const struct lin *L, int32_t *row, size_t i0, size_t i1, size_t j0,
			 size_t j1, const int32_t *left /* D(i0.., j0) */)
{
	for (size_t i = i0 + 1; i <= i1; i++) {
		int32_t diag = row[0];
		row[0] = left[i - i0];
		for (size_t j = j0 + 1, k = 1; j <= j1; j++, k++) {
			int move;
			int32_t up = row[k];
			row[k] = step(L, i, j, diag, up, row[k - 1], &move);
			diag = up;
		}
	}
}

static struct pos align_rect(struct lin *L, size_t i0, size_t i1, size_t j0, size_t j1,
			     const int32_t *top, const int32_t *left);

/* A rectangle small enough for a matrix of moves. */
static struct pos rect_matrix(struct lin *L, size_t i0, size_t i1, size_t j0, size_t j1,
			      const int32_t *top, const int32_t *left)
{
	size_t w = j1 - j0 + 1;
	xgrow(&L->back, &L->back_cap, (i1 - i0 + 1) * w / 4 + 1, 1);
	int32_t *row = xmallocarray(w, sizeof *row);
	memcpy(row, top, w * sizeof *row);
	for (size_t i = i0 + 1; i <= i1; i++) {
		int32_t diag = row[0];
		row[0] = left[i - i0];
		for (size_t k = 1; k < w; k++) {
			int move;
			int32_t up = row[k];
			row[k] = step(L, i, j0 + k, diag, up, row[k - 1], &move);
			set_move(L->back, (i - i0) * w + k, move);
			diag = up;
		}
	}
	free(row);
	size_t i = i1, j = j1;
	while (i > i0 && j > j0) {
		int move = get_move(L->back, (i - i0) * w + (j - j0));
		emit(L, i, j, move);
		i -= move != MOVE_INS;
		j -= move != MOVE_DEL;
	}
	return (struct pos){i, j};
}

/* Where the chain from (i1,j1) first reaches row mid or column j0, as
 * the column on row mid (>= 0) or -(row + 1) on column j0; the values of
 * row mid are left in midrow. */
static ptrdiff_t landing(const struct lin *L, size_t i0, size_t i1, size_t j0, size_t j1,
			 size_t mid, const int32_t *top, const int32_t *left, int32_t *midrow)
{
	size_t w = j1 - j0 + 1;
	int32_t *row = xmallocarray(w, sizeof *row);
	ptrdiff_t *land = xcalloc(w, sizeof *land);
	memcpy(row, top, w * sizeof *row);
	advance_rows(L, row, i0, mid, j0, j1, left);
	memcpy(midrow, row, w * sizeof *row);
	for (size_t i = mid + 1; i <= i1; i++) {
		int32_t diag = row[0];
		ptrdiff_t ldiag = land[0];
		row[0] = left[i - i0];
		for (size_t k = 1; k < w; k++) {
			int move;
			int32_t up = row[k];
			ptrdiff_t lup = land[k];
			row[k] = step(L, i, j0 + k, diag, up, row[k - 1], &move);
			size_t pi = move == MOVE_INS ? i : i - 1, pk = move == MOVE_DEL ? k : k - 1;
			if (pi == mid)
				land[k] = (ptrdiff_t)(j0 + pk);
			else if (pk == 0)
				land[k] = -(ptrdiff_t)pi - 1;
			else
				land[k] = move == MOVE_DIAG ? ldiag : move == MOVE_DEL ? lup : land[k - 1];
			diag = up;
			ldiag = lup;
		}
	}
	ptrdiff_t result = land[w - 1];
	free(row);
	free(land);
	return result;
}

static struct pos rect_split(struct lin *L, size_t i0, size_t i1, size_t j0, size_t j1,
			     const int32_t *top, const int32_t *left)
{
	size_t mid = (i0 + i1) / 2, w = j1 - j0 + 1;
	int32_t *midrow = xmallocarray(w, sizeof *midrow);
	ptrdiff_t land = landing(L, i0, i1, j0, j1, mid, top, left, midrow);
	if (land < 0) {
		/* The chain meets column j0 at row r below mid: solve rows r..i1,
		 * then walk left along row r. */
		size_t r = (size_t)(-land - 1);
		memcpy(midrow, top, w * sizeof *midrow);
		advance_rows(L, midrow, i0, r, j0, j1, left);
		struct pos p = align_rect(L, r, i1, j0, j1, midrow, left + (r - i0));
		free(midrow);
		for (; p.j > j0; p.j--)
			emit(L, p.i, p.j, MOVE_INS);
		return (struct pos){r, j0};
	}
	/* The chain meets row mid at column c: below it, rows mid..i1 and
	 * columns c..j1 (their left column recomputed), then straight up
	 * column c if it arrived there early; above it, rows i0..mid and
	 * columns j0..c. */
	size_t c = (size_t)land;
	int32_t *colc = xmallocarray(i1 - mid + 1, sizeof *colc);
	int32_t *row = xmallocarray(c - j0 + 1, sizeof *row);
	memcpy(row, midrow, (c - j0 + 1) * sizeof *row);
	colc[0] = row[c - j0];
	for (size_t i = mid + 1; i <= i1; i++) {
		advance_rows(L, row, i - 1, i, j0, c, left + (i - 1 - i0));
		colc[i - mid] = row[c - j0];
	}
	free(row);
	struct pos p = align_rect(L, mid, i1, c, j1, midrow + (c - j0), colc);
	free(midrow);
	free(colc);
	for (; p.i > mid; p.i--)
		emit(L, p.i, p.j, MOVE_DEL);
	if (c == j0)
		return (struct pos){mid, j0};
	return align_rect(L, i0, mid, j0, c, top, left);
}

/* The chain from (i1,j1) until it reaches row i0 or column j0, given the
 * values on those; returns where it got to. */
static struct pos align_rect(struct lin *L, size_t i0, size_t i1, size_t j0, size_t j1,
			     const int32_t *top, const int32_t *left)
{
	if (i1 == i0 || j1 == j0)
		return (struct pos){i1, j1};
	if (i1 - i0 < 2 || (i1 - i0 + 1) * (j1 - j0 + 1) <= L->base)
		return rect_matrix(L, i0, i1, j0, j1, top, left);
	return rect_split(L, i0, i1, j0, j1, top, left);
}

static size_t align_linear(struct wer_aligner *a, char *ops, const int32_t *ref, size_t n,
			   const int32_t *hyp, size_t m)
{
	struct lin L = {ref, hyp, a->w_sub, a->w_del, a->w_ins, a->matrix_limit / 4, ops, 0, NULL, 0};
	int32_t *top = xmallocarray(m + 1, sizeof *top), *left = xmallocarray(n + 1, sizeof *left);
	for (size_t j = 0; j <= m; j++)
		top[j] = (int32_t)j * a->w_ins;
	for (size_t i = 0; i <= n; i++)
		left[i] = (int32_t)i * a->w_del;
	struct pos p = align_rect(&L, 0, n, 0, m, top, left);
	for (; p.j > 0; p.j--)
		emit(&L, p.i, p.j, MOVE_INS);
	for (; p.i > 0; p.i--)
		emit(&L, p.i, p.j, MOVE_DEL);
	free(top);
	free(left);
	free(L.back);
	return L.nops;
}

static void reverse(char *ops, size_t k)
{
	for (size_t x = 0, y = k; x + 1 < y; x++, y--) {
		char t = ops[x];
		ops[x] = ops[y - 1];
		ops[y - 1] = t;
	}
}

size_t wer_align(struct wer_aligner *a, struct wer_counts *acc, char *ops, const int32_t *ref,
		 size_t n, const int32_t *hyp, size_t m)
{
	size_t k;
	if ((n + 1) * (m + 1) > a->matrix_limit) {
		k = align_linear(a, ops, ref, n, hyp, m);
	} else {
		xgrow(&a->back, &a->back_cap, (n + 1) * (m + 1) / 4 + 1, 1);
		dp(a, a->back, ref, n, hyp, m);
		/* Trace back from the end. */
		k = 0;
		for (size_t i = n, j = m; i > 0 || j > 0;) {
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
	}
	reverse(ops, k);
	acc->ref += (long long)n;
	for (size_t x = 0; x < k; x++) {
		acc->cor += ops[x] == WER_COR;
		acc->sub += ops[x] == WER_SUB;
		acc->del += ops[x] == WER_DEL;
		acc->ins += ops[x] == WER_INS;
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
