/* bpe_fit: learning the merges.
 *
 * The standard fast algorithm: the corpus is reduced to its unique pieces
 * with frequencies; every adjacent pair keeps a count (summed over pieces,
 * weighted by frequency) and a list of the pieces it occurs in; a max-heap
 * holds (count, pair) entries. A merge rewrites only the pieces on its
 * pair's list and applies the net change of each pair count, so the work
 * per merge is proportional to where the pair occurs, not to the corpus.
 *
 * The heap is lazy: an entry is pushed whenever a pair's count grows, and
 * a popped entry whose count is out of date is pushed back with the
 * current count. Every live pair therefore has an entry at least as large
 * as its count, so the first up-to-date entry popped is the true maximum,
 * and the heap order (count descending, then pair key ascending) makes the
 * tie-break exact. */
#include "config.h"

#include <omp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bpe.h"
#include "bpe_impl.h"
#include "xalloc.h"
#include "zerr.h"

/* ---- counting unique pieces ---- */

struct centry {
	uint64_t hash;
	size_t off; /* in buf */
	uint32_t len;
	int64_t freq;
};

struct bpe_counts {
	char *buf; /* every distinct piece's bytes, concatenated */
	size_t len, cap;
	struct centry *e;
	size_t n, ecap;
	uint32_t *table; /* entry index + 1, 0 = empty; tcap a power of two */
	size_t tcap;
};

struct bpe_counts *bpe_counts_new(void)
{
	struct bpe_counts *c = xcalloc(1, sizeof *c);
	c->tcap = 1024;
	c->table = xcalloc(c->tcap, sizeof *c->table);
	return c;
}

void bpe_counts_free(struct bpe_counts *c)
{
	if (!c)
		return;
	free(c->buf);
	free(c->e);
	free(c->table);
	free(c);
}

size_t bpe_counts_unique(const struct bpe_counts *c)
{
	return c->n;
}

static void counts_rehash(struct bpe_counts *c)
{
	size_t cap = c->tcap * 2, mask = cap - 1;
	uint32_t *t = xcalloc(cap, sizeof *t);
	for (size_t k = 0; k < c->n; k++) {
		size_t i = (size_t)c->e[k].hash & mask;
		while (t[i])
			i = (i + 1) & mask;
		t[i] = (uint32_t)(k + 1);
	}
	free(c->table);
	c->table = t;
	c->tcap = cap;
}

static void counts_add_piece(struct bpe_counts *c, const char *s, size_t n, uint64_t h,
			     int64_t freq)
{
	size_t mask = c->tcap - 1;
	size_t i = (size_t)h & mask;
	for (; c->table[i]; i = (i + 1) & mask) {
		struct centry *e = &c->e[c->table[i] - 1];
		if (e->hash == h && e->len == n && !memcmp(c->buf + e->off, s, n)) {
			e->freq += freq;
			return;
		}
	}
	if (c->n + 1 >= UINT32_MAX)
		abort(); /* 4 G distinct pieces: far beyond any corpus we can fit */
	xgrow(&c->e, &c->ecap, c->n + 1, sizeof *c->e);
	xgrow(&c->buf, &c->cap, c->len + n, 1);
	memcpy(c->buf + c->len, s, n);
	c->e[c->n] = (struct centry){.hash = h, .off = c->len, .len = (uint32_t)n, .freq = freq};
	c->len += n;
	c->table[i] = (uint32_t)++c->n;
	if (2 * c->n > c->tcap)
		counts_rehash(c);
}

void bpe_counts_add(struct bpe_counts *c, const char *bytes, size_t n)
{
	for (size_t i = 0; i < n;) {
		size_t end = bpe_piece_end(bytes, n, i);
		counts_add_piece(c, bytes + i, end - i,
				 bpe_hash_bytes(bytes + i, end - i), 1);
		i = end;
	}
}

static void counts_merge(struct bpe_counts *dst, const struct bpe_counts *src)
{
	for (size_t k = 0; k < src->n; k++) {
		const struct centry *e = &src->e[k];
		counts_add_piece(dst, src->buf + e->off, e->len, e->hash, e->freq);
	}
}

/* ---- the merge loop ---- */

struct pair {
	int64_t count;
	int32_t *occ; /* pieces it occurs in (may hold stale ones) */
	size_t n_occ, cap_occ;
};

struct hent {
	int64_t count;
	uint64_t key;
};

struct fit {
	/* pieces: symbols of piece w are sym[start[w] .. start[w] + len[w]) */
	size_t n_words;
	int32_t *sym;
	size_t *start;
	int *len;
	int64_t *freq;
	int *stamp; /* last merge that visited the piece, against duplicate visits */
	struct pair *pairs;
	size_t n_pairs, cap_pairs;
	struct pairmap index; /* pair key -> index in pairs */
	struct hent *heap;
	size_t n_heap, cap_heap;
};

static bool hent_before(struct hent x, struct hent y)
{
	return x.count > y.count || (x.count == y.count && x.key < y.key);
}

static void heap_push(struct fit *f, struct hent e)
{
	xgrow(&f->heap, &f->cap_heap, f->n_heap + 1, sizeof *f->heap);
	size_t i = f->n_heap++;
	while (i > 0 && hent_before(e, f->heap[(i - 1) / 2])) {
		f->heap[i] = f->heap[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	f->heap[i] = e;
}

static struct hent heap_pop(struct fit *f)
{
	struct hent top = f->heap[0], last = f->heap[--f->n_heap];
	size_t i = 0, n = f->n_heap;
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= n)
			break;
		if (c + 1 < n && hent_before(f->heap[c + 1], f->heap[c]))
			c++;
		if (!hent_before(f->heap[c], last))
			break;
		f->heap[i] = f->heap[c];
		i = c;
	}
	if (n)
		f->heap[i] = last;
	return top;
}

static struct pair *pair_get(struct fit *f, uint64_t key)
{
	int32_t k = pairmap_get(&f->index, key);
	if (k >= 0)
		return &f->pairs[k];
	xgrow(&f->pairs, &f->cap_pairs, f->n_pairs + 1, sizeof *f->pairs);
	pairmap_put(&f->index, key, (int32_t)f->n_pairs);
	struct pair *p = &f->pairs[f->n_pairs++];
	memset(p, 0, sizeof *p);
	return p;
}

static void pair_note_word(struct pair *p, int32_t w)
{
	if (p->n_occ && p->occ[p->n_occ - 1] == w)
		return;
	xgrow(&p->occ, &p->cap_occ, p->n_occ + 1, sizeof *p->occ);
	p->occ[p->n_occ++] = w;
}

static void fit_init(struct fit *f, const struct bpe_counts *c)
{
	memset(f, 0, sizeof *f);
	f->n_words = c->n;
	f->sym = xmallocarray(c->len + 1, sizeof *f->sym);
	f->start = xmallocarray(c->n + 1, sizeof *f->start);
	f->len = xmallocarray(c->n + 1, sizeof *f->len);
	f->freq = xmallocarray(c->n + 1, sizeof *f->freq);
	f->stamp = xmallocarray(c->n + 1, sizeof *f->stamp);
	pairmap_init(&f->index, 1 << 16);
	for (size_t w = 0; w < c->n; w++) {
		const struct centry *e = &c->e[w];
		const unsigned char *s = (const unsigned char *)c->buf + e->off;
		f->start[w] = e->off;
		f->len[w] = (int)e->len;
		f->freq[w] = e->freq;
		f->stamp[w] = -1;
		int32_t *sym = f->sym + e->off;
		for (uint32_t i = 0; i < e->len; i++)
			sym[i] = BPE_BYTE0 + s[i];
		for (uint32_t i = 0; i + 1 < e->len; i++) {
			struct pair *p = pair_get(f, bpe_pair_key(sym[i], sym[i + 1]));
			p->count += e->freq;
			pair_note_word(p, (int32_t)w);
		}
	}
	for (size_t k = 0; k < f->index.cap; k++)
		if (f->index.keys[k] != PAIRMAP_EMPTY)
			heap_push(f, (struct hent){f->pairs[f->index.vals[k]].count, f->index.keys[k]});
}

static void fit_free(struct fit *f)
{
	for (size_t k = 0; k < f->n_pairs; k++)
		free(f->pairs[k].occ);
	free(f->pairs);
	pairmap_free(&f->index);
	free(f->heap);
	free(f->sym);
	free(f->start);
	free(f->len);
	free(f->freq);
	free(f->stamp);
}

struct delta {
	uint64_t key;
	int d;
};

static int delta_cmp(const void *x, const void *y)
{
	uint64_t a = ((const struct delta *)x)->key, b = ((const struct delta *)y)->key;
	return (a > b) - (a < b);
}

static void delta_sort(struct delta *d, size_t n)
{
	if (n > 48) {
		qsort(d, n, sizeof *d, delta_cmp);
		return;
	}
	for (size_t i = 1; i < n; i++) {
		struct delta x = d[i];
		size_t j = i;
		for (; j > 0 && d[j - 1].key > x.key; j--)
			d[j] = d[j - 1];
		d[j] = x;
	}
}

/* Replace every left-to-right occurrence of (a, b) in piece w by id, and
 * apply the net change of the piece's pair counts. Only pairs touching a
 * merge site change: old pairs j-1, j, j+1 around a site at j, new pairs
 * k-1, k around the new symbol at k (pairs named by their left index);
 * every other pair of the new piece was a pair of the old one. Pairs
 * shared by neighbouring sites are taken once, and the rest cancels in the
 * sum below (e.g. (b, a) in "abab" goes, (X, X) comes). */
static void merge_word(struct fit *f, int32_t w, int32_t a, int32_t b, int32_t id)
{
	int32_t *s = f->sym + f->start[w];
	int n = f->len[w];
	int i = 0;
	while (i + 1 < n && !(s[i] == a && s[i + 1] == b))
		i++;
	if (i + 1 >= n)
		return; /* a stale list entry: merged away earlier */
	int32_t old[BPE_MAX_PIECE];
	memcpy(old, s, (size_t)n * sizeof *s);
	struct delta d[2 * BPE_MAX_PIECE];
	size_t nd = 0;
	int k = i, last = -1;
	for (int j = i; j < n;) {
		if (j + 1 < n && old[j] == a && old[j + 1] == b) {
			for (int p = j > last + 1 ? j - 1 : last + 1; p <= j + 1 && p + 1 < n; p++)
				if (p >= 0)
					d[nd++] = (struct delta){bpe_pair_key(old[p], old[p + 1]), -1};
			last = j + 1;
			s[k++] = id;
			j += 2;
		} else {
			s[k++] = old[j++];
		}
	}
	f->len[w] = n = k;
	last = -1;
	for (k = i; k < n; k++) {
		if (s[k] != id)
			continue;
		for (int p = k - 1 > last ? k - 1 : last + 1; p <= k && p + 1 < n; p++)
			if (p >= 0)
				d[nd++] = (struct delta){bpe_pair_key(s[p], s[p + 1]), +1};
		last = k;
	}
	delta_sort(d, nd);
	for (size_t j = 0; j < nd;) {
		uint64_t key = d[j].key;
		int net = 0;
		for (; j < nd && d[j].key == key; j++)
			net += d[j].d;
		if (!net)
			continue;
		struct pair *p = pair_get(f, key);
		p->count += net * f->freq[w];
		if (net > 0) {
			pair_note_word(p, w);
			heap_push(f, (struct hent){p->count, key});
		}
	}
}

/* The next pair to merge, or false when none occurs min_count times. */
static bool next_pair(struct fit *f, int64_t min_count, uint64_t *key)
{
	while (f->n_heap) {
		struct hent e = heap_pop(f);
		int64_t now = f->pairs[pairmap_get(&f->index, e.key)].count;
		if (now == e.count) {
			*key = e.key;
			return e.count >= min_count;
		}
		if (now < e.count && now > 0)
			heap_push(f, (struct hent){now, e.key});
	}
	return false;
}

static void merge_pair(struct fit *f, uint64_t key, int m)
{
	int32_t a = (int32_t)(key >> 32), b = (int32_t)(key & 0xffffffffu);
	int32_t k = pairmap_get(&f->index, key);
	/* Detach the list: merging adds pairs, which may move f->pairs. */
	int32_t *occ = f->pairs[k].occ;
	size_t n_occ = f->pairs[k].n_occ;
	f->pairs[k].occ = NULL;
	f->pairs[k].n_occ = f->pairs[k].cap_occ = 0;
	for (size_t i = 0; i < n_occ; i++) {
		int32_t w = occ[i];
		if (f->stamp[w] == m)
			continue;
		f->stamp[w] = m;
		merge_word(f, w, a, b, BPE_BASE_VOCAB + m);
	}
	free(occ);
}

struct bpe *bpe_fit_counts(struct bpe_counts *c, int vocab_size, const struct bpe_fit_opts *opts)
{
	if (vocab_size < BPE_BASE_VOCAB || vocab_size > BPE_MAX_VOCAB) {
		zerr_set("vocabulary size %d: expected %d..%d (3 specials, 256 bytes, merges)",
			 vocab_size, BPE_BASE_VOCAB, BPE_MAX_VOCAB);
		return NULL;
	}
	if (c->n > INT32_MAX) {
		zerr_set("%zu distinct pieces: at most %d can be fitted", c->n, INT32_MAX);
		return NULL;
	}
	struct bpe_fit_opts o = opts ? *opts : (struct bpe_fit_opts){0};
	if (o.min_count <= 0)
		o.min_count = 2;
	int want = vocab_size - BPE_BASE_VOCAB, m = 0;
	int32_t *merges = NULL; /* grown as merges are found: want may be far too many */
	size_t cap = 0;
	struct fit f;
	fit_init(&f, c);
	for (uint64_t key; m < want && next_pair(&f, o.min_count, &key); m++) {
		xgrow(&merges, &cap, 2 * (size_t)m + 2, sizeof *merges);
		merges[2 * m] = (int32_t)(key >> 32);
		merges[2 * m + 1] = (int32_t)(key & 0xffffffffu);
		merge_pair(&f, key, m);
		if (o.progress && m % 64 == 0)
			o.progress(o.ctx, m + 1, want);
	}
	if (o.progress && m > 0 && (m - 1) % 64)
		o.progress(o.ctx, m, want); /* the last word: where it stopped */
	fit_free(&f);
	struct bpe *b = bpe_from_merges(merges, m);
	free(merges);
	return b;
}

struct bpe *bpe_fit(const char *const *lines, const size_t *lens, size_t n, int vocab_size,
		    const struct bpe_fit_opts *opts)
{
	int t = opts && opts->threads > 0 ? opts->threads : omp_get_max_threads();
	if (n < 4096 || t < 1)
		t = 1;
	struct bpe_counts **part = xcalloc((size_t)t, sizeof *part);
	/* Each thread counts a contiguous share; merging the counts gives the
	 * same multiset whatever t is, and the fit depends on nothing else. */
#pragma omp parallel for num_threads(t) schedule(static, 1)
	for (int p = 0; p < t; p++) {
		size_t lo = n * (size_t)p / (size_t)t, hi = n * (size_t)(p + 1) / (size_t)t;
		part[p] = bpe_counts_new();
		for (size_t i = lo; i < hi; i++)
			bpe_counts_add(part[p], lines[i], lens[i]);
	}
	for (int p = 1; p < t; p++) {
		counts_merge(part[0], part[p]);
		bpe_counts_free(part[p]);
	}
	struct bpe *b = bpe_fit_counts(part[0], vocab_size, opts);
	bpe_counts_free(part[0]);
	free(part);
	return b;
}
