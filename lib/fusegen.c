/* fusegen: generation with a fused model (see fusegen.h). */
#include "config.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fusegen.h"
#include "xalloc.h"
#include "zerr.h"

struct fusegen {
	struct zipper *z;
	int in, out, B, max_in, max_len, chunk, span;
	int Tin;             /* keys: the other modality's tokens before the output */
	int pre;             /* the output tower's own history before them (chains) */
	float *keep;         /* (stages,max_len,C) streams fed at each stage (chains) */
	bool capture;        /* gen_forward() fills keep */
	struct tower_cache *cache;
	int32_t *seq;        /* (max_in + 2) the input with bos and eos */
	int32_t *pos;        /* (max(max_in + 2, B*chunk)) linear positions */
	int32_t *hist, *tmp; /* (B,max_len) tokens fed so far */
	float *logits;       /* (B*chunk,V) */
};

static int stage_layer(const struct zipper *z, int m, int n)
{
	return (n + 1) * z->cfg.every[m];
}

struct fusegen *fusegen_new(struct zipper *z, int out, int batch, int max_in)
{
	struct fusegen *g = xcalloc(1, sizeof *g);
	const struct tower_config *oc = &z->cfg.tower[out];
	g->z = z;
	g->out = out;
	g->in = 1 - out;
	g->B = batch;
	g->max_in = max_in;
	g->max_len = oc->max_seq;
	g->chunk = oc->max_seq < 64 ? oc->max_seq : 64;
	g->span = 0;
	int Tin = max_in + 2;
	g->cache = tower_cache_new(z->tower[out], batch, g->max_len, g->chunk);
	g->seq = xcalloc((size_t)Tin, sizeof *g->seq);
	size_t np = (size_t)batch * g->chunk > (size_t)Tin ? (size_t)batch * g->chunk : (size_t)Tin;
	g->pos = xcalloc(np, sizeof *g->pos);
	g->hist = xcalloc((size_t)batch * g->max_len, sizeof *g->hist);
	g->tmp = xcalloc((size_t)batch * g->max_len, sizeof *g->tmp);
	g->logits = xcalloc((size_t)batch * g->chunk * oc->vocab, sizeof *g->logits);
	/* the input tower runs as in training, one sequence; the output's
	 * blocks hold the keys and values for `batch` sequences */
	tower_alloc_acts(z->tower[g->in], 1, Tin);
	inproj_alloc(&z->proj[g->in], Tin);
	inproj_alloc(&z->proj[out], batch * g->chunk);
	for (int n = 0; n < z->cfg.stages; n++) {
		xattn_alloc(&z->xa[g->in][n], 1, Tin, 0);
		xattn_alloc(&z->xa[out][n], batch, g->chunk, Tin);
	}
	return g;
}

void fusegen_free(struct fusegen *g)
{
	if (!g)
		return;
	tower_cache_free(g->cache);
	free(g->seq), free(g->pos), free(g->hist), free(g->tmp), free(g->logits), free(g->keep);
	free(g);
}

void fusegen_set_repeat_span(struct fusegen *g, int span)
{
	g->span = span;
}

int32_t fusegen_bos(const struct fusegen *g)
{
	return g->z->cfg.bos[g->out];
}

int32_t fusegen_eos(const struct fusegen *g)
{
	return g->z->cfg.eos[g->out];
}

/* Runs the input tower on one utterance; leaves the output blocks' keys
 * and values of this utterance in their row 0. */
static int encode_one(struct fusegen *g, const int32_t *ids, size_t n)
{
	struct zipper *z = g->z;
	struct tower *t = z->tower[g->in];
	if (n > (size_t)g->max_in || n + 2 > (size_t)t->cfg.max_seq) {
		zerr_set("%zu tokens: longer than the %s tower allows", n, g->in == ZM_TEXT ? "text" : "speech");
		return -1;
	}
	int T = (int)n + 2, prev = 0;
	g->seq[0] = z->cfg.bos[g->in];
	memcpy(g->seq + 1, ids, n * sizeof *ids);
	g->seq[n + 1] = z->cfg.eos[g->in];
	for (int i = 0; i < T; i++)
		g->pos[i] = i;
	tower_forward_embed(t, g->seq, 1, T);
	inproj_forward(&z->proj[g->in], tower_stream(t, 0), T);
	for (int s = 0; s < z->cfg.stages; s++) {
		int l = stage_layer(z, g->in, s);
		tower_forward_layers(t, prev, l);
		prev = l;
		xattn_forward_kv(&z->xa[g->out][s], tower_stream(t, l), g->pos, 1, T);
		if (s + 1 == z->cfg.stages)
			break; /* the input tower's last block, later layers and head do not reach the output */
		xattn_forward_kv(&z->xa[g->in][s], NULL, NULL, 1, 0); /* no output token precedes */
		xattn_forward(&z->xa[g->in][s], tower_stream(t, l), g->pos, T, 0);
	}
	return 0;
}

int fusegen_encode(struct fusegen *g, const int32_t *ids, size_t n)
{
	if (encode_one(g, ids, n) < 0)
		return -1;
	for (int s = 0; s < g->z->cfg.stages; s++)
		xattn_repeat_kv(&g->z->xa[g->out][s], g->B);
	g->Tin = (int)n + 2;
	g->pre = 0;
	return 0;
}

void fusegen_no_input(struct fusegen *g)
{
	for (int s = 0; s < g->z->cfg.stages; s++)
		xattn_forward_kv(&g->z->xa[g->out][s], NULL, NULL, g->B, 0);
	g->Tin = 0;
	g->pre = 0;
}

int fusegen_encode_batch(struct fusegen *g, const int32_t *const *ids, const size_t *n, int nb)
{
	size_t longest = 0;
	for (int b = 0; b < nb; b++)
		longest = n[b] > longest ? n[b] : longest;
	int Tk = (int)longest + 2;
	for (int b = nb; b-- > 0;) {
		if (encode_one(g, ids[b], n[b]) < 0)
			return -1;
		for (int s = 0; s < g->z->cfg.stages; s++)
			xattn_place_kv(&g->z->xa[g->out][s], b, Tk);
	}
	/* rows past nb keep what they held: finite values, outputs ignored */
	for (int s = 0; s < g->z->cfg.stages; s++)
		xattn_set_kv_batch(&g->z->xa[g->out][s], g->B, Tk);
	g->Tin = Tk; /* every output position comes after every input */
	g->pre = 0;
	return 0;
}

int fusegen_greedy(struct fusegen *g, const int *max_new, int nb, int32_t *out, int stride, int *len)
{
	struct decode_model m;
	fusegen_model(g, &m);
	int32_t *feed = xcalloc((size_t)g->B, sizeof *feed);
	bool *done = xcalloc((size_t)nb + 1, sizeof *done);
	int live = 0, most = 0;
	for (int b = 0; b < g->B; b++) {
		feed[b] = fusegen_bos(g);
		if (b < nb) {
			len[b] = 0;
			done[b] = max_new[b] <= 0;
			live += !done[b];
			most = max_new[b] > most ? max_new[b] : most;
		}
	}
	const float *logits = m.forward(m.ctx, feed, 1, 0, false);
	int32_t eos = fusegen_eos(g);
	for (int step = 0; live > 0 && step < most && step + 1 < g->max_len; step++) {
		for (int b = 0; b < nb; b++) {
			if (done[b])
				continue;
			const float *row = logits + (size_t)b * m.vocab;
			int best = 0;
			for (int v = 1; v < m.vocab; v++)
				best = row[v] > row[best] ? v : best;
			out[(size_t)b * stride + len[b]++] = best;
			feed[b] = best;
			if (best == eos || len[b] == max_new[b]) {
				done[b] = true;
				live--;
			}
		}
		if (live > 0)
			logits = m.forward(m.ctx, feed, 1, step + 1, false);
	}
	free(feed);
	free(done);
	return 0;
}

/* The last span tokens of h (len) repeat with a period of at most 8. */
static bool looping(const int32_t *h, int len, int span)
{
	if (span <= 0 || len < span)
		return false;
	for (int p = 1; p <= 8 && 3 * p <= span; p++) {
		int i = len - span + p;
		while (i < len && h[i] == h[i - p])
			i++;
		if (i == len)
			return true;
	}
	return false;
}

static const float *gen_forward(void *ctx, const int32_t *tokens, int T, int pos0, bool all)
{
	struct fusegen *g = ctx;
	struct zipper *z = g->z;
	const struct tower *t = z->tower[g->out];
	struct tower_cache *c = g->cache;
	int B = g->B, V = t->cfg.vocab, prev = 0;
	tower_cache_embed(t, c, tokens, T, pos0);
	inproj_forward(&z->proj[g->out], tower_cache_stream(c), B * T);
	for (int i = 0; i < B * T; i++) { /* the own history first, then after the whole input */
		int p = pos0 + i % T;
		g->pos[i] = p < g->pre ? p : g->Tin + p;
	}
	for (int s = 0; s < z->cfg.stages; s++) {
		int l = stage_layer(z, g->out, s);
		tower_cache_layers(t, c, prev, l, T, pos0);
		prev = l;
		if (g->capture) /* row 0, before the block: the keys a chain's next segment reads */
			memcpy(g->keep + ((size_t)s * g->max_len + pos0) * t->cfg.d_model, tower_cache_stream(c),
			       (size_t)T * t->cfg.d_model * sizeof *g->keep);
		xattn_forward(&z->xa[g->out][s], tower_cache_stream(c), g->pos, T, pos0);
	}
	tower_cache_layers(t, c, prev, t->cfg.n_layers, T, pos0);
	const float *logits = tower_cache_head(t, c, T, all);
	for (int b = 0; b < B; b++)
		memcpy(g->hist + (size_t)b * g->max_len + pos0, tokens + (size_t)b * T, (size_t)T * sizeof *tokens);
	if (all)
		return logits;
	memcpy(g->logits, logits, (size_t)B * V * sizeof *logits);
	for (int b = 0; b < B; b++) {
		if (!looping(g->hist + (size_t)b * g->max_len, pos0 + T, g->span))
			continue;
		float *row = g->logits + (size_t)b * V;
		for (int v = 0; v < V; v++)
			row[v] = -INFINITY;
		row[z->cfg.eos[g->out]] = 0.0f;
	}
	return g->logits;
}

static void gen_reorder(void *ctx, const int *src, int len)
{
	struct fusegen *g = ctx;
	tower_cache_reorder(g->cache, src, len);
	size_t L = (size_t)g->max_len;
	for (int b = 0; b < g->B; b++)
		memcpy(g->tmp + b * L, g->hist + (size_t)src[b] * L, (size_t)len * sizeof *g->tmp);
	int32_t *h = g->hist;
	g->hist = g->tmp;
	g->tmp = h;
}

void fusegen_model(struct fusegen *g, struct decode_model *m)
{
	*m = (struct decode_model){.ctx = g,
				   .vocab = g->z->cfg.tower[g->out].vocab,
				   .batch = g->B,
				   .max_len = g->max_len,
				   .chunk = g->chunk,
				   .forward = gen_forward,
				   .reorder = gen_reorder};
}

int fusegen_chain(struct fusegen *next, struct fusegen *prev, const int32_t *seg, int n, int pre)
{
	struct zipper *z = prev->z;
	int C = prev->z->cfg.tower[prev->out].d_model, B = prev->B;
	if (next->z != z || next->out != prev->in || n < 1 || n > prev->max_len || n > next->max_in + 2 ||
	    pre < 0 || pre >= next->max_len) {
		zerr_set("a chain segment of %d tokens after %d does not fit the towers", n, pre);
		return -1;
	}
	if (!prev->keep)
		prev->keep = xmallocarray((size_t)z->cfg.stages * prev->max_len * C, sizeof *prev->keep);
	int32_t *feed = prev->tmp; /* (B,chunk) of its (B,max_len) */
	prev->capture = true;
	for (int pos0 = 0; pos0 < n; pos0 += prev->chunk) { /* the same segment in every row */
		int T = n - pos0 < prev->chunk ? n - pos0 : prev->chunk;
		for (int b = 0; b < B; b++)
			memcpy(feed + (size_t)b * T, seg + pos0, (size_t)T * sizeof *seg);
		gen_forward(prev, feed, T, pos0, false);
	}
	prev->capture = false;
	for (int j = 0; j < n; j++)
		next->pos[j] = pre + j; /* after next's own history of pre tokens */
	for (int s = 0; s < z->cfg.stages; s++) {
		xattn_forward_kv(&z->xa[next->out][s], prev->keep + (size_t)s * prev->max_len * C, next->pos, 1, n);
		xattn_repeat_kv(&z->xa[next->out][s], next->B);
	}
	next->Tin = n;
	next->pre = pre;
	return 0;
}
