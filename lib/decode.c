/* decode: greedy, sampling, beam search and scoring (see decode.h). */
#include "config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"
#include "xalloc.h"

/* ---- a tower as a decode model ---- */

struct tower_ctx {
	const struct tower *t;
	struct tower_cache *c;
};

static const float *tower_fwd(void *ctx, const int32_t *tokens, int T, int pos0, bool all)
{
	struct tower_ctx *x = ctx;
	return tower_cache_forward(x->t, x->c, tokens, T, pos0, all);
}

static void tower_reorder(void *ctx, const int *src, int len)
{
	struct tower_ctx *x = ctx;
	tower_cache_reorder(x->c, src, len);
}

void decode_model_tower(struct decode_model *m, const struct tower *t, int batch, int max_len, int chunk)
{
	struct tower_ctx *x = xmalloc(sizeof *x);
	if (max_len > t->cfg.max_seq)
		max_len = t->cfg.max_seq;
	x->t = t;
	x->c = tower_cache_new(t, batch, max_len, chunk);
	*m = (struct decode_model){x, t->cfg.vocab, batch, max_len, chunk, tower_fwd, tower_reorder};
}

void decode_model_tower_free(struct decode_model *m)
{
	struct tower_ctx *x = m->ctx;
	tower_cache_free(x->c);
	free(x);
	m->ctx = NULL;
}

void decode_params_default(struct decode_params *p)
{
	*p = (struct decode_params){.max_new = 100, .eos = -1, .temperature = 0.0, .top_k = 0, .top_p = 1.0,
				    .beam = 1, .length_penalty = 1.0, .vocab_limit = 0};
}

/* ---- choosing a token ---- */

struct cand {
	float logit;
	int id;
};

static int by_logit_desc(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;
	if (x->logit != y->logit)
		return x->logit > y->logit ? -1 : 1;
	return x->id - y->id;
}

/* Ids that may be generated: below the limit, or the end token. */
static bool allowed(const struct decode_params *p, int id)
{
	return p->vocab_limit <= 0 || id < p->vocab_limit || id == p->eos;
}

static int argmax(const float *l, int V, const struct decode_params *p)
{
	int best = -1;
	for (int i = 0; i < V; i++)
		if (allowed(p, i) && (best < 0 || l[i] > l[best]))
			best = i;
	return best;
}

/* Temperature, then top-k, then top-p (the smallest prefix of the sorted
 * distribution whose mass reaches p), then one draw. c: (V) scratch. */
static int sample(const float *logits, int V, const struct decode_params *p, struct rng *r, struct cand *c)
{
	if (p->temperature <= 0)
		return argmax(logits, V, p);
	int n = 0;
	for (int i = 0; i < V; i++)
		if (allowed(p, i))
			c[n++] = (struct cand){logits[i] / (float)p->temperature, i};
	if ((p->top_k > 0 && p->top_k < n) || p->top_p < 1.0) {
		qsort(c, (size_t)n, sizeof *c, by_logit_desc);
		if (p->top_k > 0 && p->top_k < n)
			n = p->top_k;
	}
	float mx = c[0].logit;
	for (int i = 1; i < n; i++)
		mx = c[i].logit > mx ? c[i].logit : mx;
	double total = 0.0;
	for (int i = 0; i < n; i++)
		total += exp((double)c[i].logit - mx);
	if (p->top_p < 1.0) { /* sorted: cut where the mass reaches top_p */
		double mass = 0.0;
		int keep = 0;
		while (keep < n && (keep == 0 || mass < p->top_p * total))
			mass += exp((double)c[keep++].logit - mx);
		n = keep;
		total = mass;
	}
	double u = rng_double(r) * total, acc = 0.0;
	for (int i = 0; i < n; i++) {
		acc += exp((double)c[i].logit - mx);
		if (u < acc)
			return c[i].id;
	}
	return c[n - 1].id;
}

/* Feeds a prompt of n tokens to every sequence (rows of `rows`, each the
 * prompt) in chunks; returns the last logits. */
static const float *prefill(const struct decode_model *m, const int32_t *prompt, int n, int32_t *rows)
{
	const float *logits = NULL;
	for (int pos0 = 0; pos0 < n; pos0 += m->chunk) {
		int T = n - pos0 < m->chunk ? n - pos0 : m->chunk;
		for (int b = 0; b < m->batch; b++)
			memcpy(rows + (size_t)b * T, prompt + pos0, (size_t)T * sizeof *rows);
		logits = m->forward(m->ctx, rows, T, pos0, false);
	}
	return logits;
}

static int generate_one(const struct decode_model *m, const int32_t *prompt, int n,
			const struct decode_params *p, struct rng *r, int32_t *out)
{
	struct cand *c = xmallocarray((size_t)m->vocab, sizeof *c);
	int32_t *rows = xmallocarray((size_t)m->batch * m->chunk, sizeof *rows);
	const float *logits = prefill(m, prompt, n, rows);
	int made = 0, pos = n;
	while (made < p->max_new) {
		int32_t tok = (int32_t)sample(logits, m->vocab, p, r, c);
		out[made++] = tok;
		if (tok == p->eos || pos >= m->max_len)
			break;
		for (int b = 0; b < m->batch; b++)
			rows[b] = tok;
		logits = m->forward(m->ctx, rows, 1, pos++, false);
	}
	free(rows);
	free(c);
	return made;
}

/* ---- beam search ---- */

struct hyp {
	double score; /* sum of log probabilities */
	int beam, id;
};

static int by_score_desc(const void *a, const void *b)
{
	const struct hyp *x = a, *y = b;
	if (x->score != y->score)
		return x->score > y->score ? -1 : 1;
	return x->beam != y->beam ? x->beam - y->beam : x->id - y->id;
}

static void log_softmax(double *out, const float *l, int V)
{
	float mx = l[0];
	for (int i = 1; i < V; i++)
		mx = l[i] > mx ? l[i] : mx;
	double s = 0.0;
	for (int i = 0; i < V; i++)
		s += exp((double)l[i] - mx);
	double lse = mx + log(s);
	for (int i = 0; i < V; i++)
		out[i] = l[i] - lse;
}

struct beams {
	int W, V, max_new;
	double *score;       /* (W) running log probability, -inf when empty */
	int32_t *hist, *tmp; /* (W,max_new) tokens so far */
	double *lp;          /* (V) */
	struct hyp *cands;   /* (W*2W) */
	int *src;            /* (W) */
	int32_t *feed;       /* (W) */
	double best;         /* normalised score of the best finished hypothesis */
	int32_t *best_toks;  /* (max_new) */
	int best_len, finished;
};

static double normalised(double score, int len, double alpha)
{
	return score / pow((double)len, alpha);
}

static void finish_hyp(struct beams *s, const int32_t *toks, int len, double score, double alpha)
{
	double ns = normalised(score, len, alpha);
	s->finished++;
	if (s->best_len && ns <= s->best)
		return;
	s->best = ns;
	s->best_len = len;
	memcpy(s->best_toks, toks, (size_t)len * sizeof *toks);
}

/* One step: every live beam's 2W best continuations compete; end tokens
 * finish hypotheses, the best W others become the new beams. Returns the
 * number of live beams. */
static int beam_step(struct beams *s, const float *logits, int step, const struct decode_params *p)
{
	int W = s->W, V = s->V, nc = 0, per = 2 * W < V ? 2 * W : V;
	for (int b = 0; b < W; b++) {
		if (s->score[b] == -INFINITY)
			continue;
		log_softmax(s->lp, logits + (size_t)b * V, V);
		for (int v = 0; v < V; v++)
			if (!allowed(p, v))
				s->lp[v] = -INFINITY;
		int first = nc, cnt = 0;
		for (int v = 0; v < V; v++) { /* insertion into a short sorted list */
			struct hyp h = {s->score[b] + s->lp[v], b, v};
			if (h.score == -INFINITY)
				continue;
			if (cnt == per && by_score_desc(&h, &s->cands[first + cnt - 1]) > 0)
				continue;
			int k = cnt < per ? first + cnt++ : first + per - 1;
			while (k > first && by_score_desc(&h, &s->cands[k - 1]) < 0) {
				s->cands[k] = s->cands[k - 1];
				k--;
			}
			s->cands[k] = h;
		}
		nc = first + cnt;
	}
	qsort(s->cands, (size_t)nc, sizeof *s->cands, by_score_desc);
	int live = 0;
	for (int i = 0; i < nc && live < W; i++) {
		const struct hyp *h = &s->cands[i];
		int32_t *row = s->tmp + (size_t)live * s->max_new;
		memcpy(row, s->hist + (size_t)h->beam * s->max_new, (size_t)step * sizeof *row);
		row[step] = h->id;
		if (h->id == p->eos) {
			finish_hyp(s, row, step + 1, h->score, p->length_penalty);
			continue;
		}
		s->src[live] = h->beam;
		s->feed[live] = h->id;
		s->score[live++] = h->score;
	}
	for (int b = live; b < W; b++) { /* empty beams ride along */
		s->src[b] = 0;
		s->feed[b] = 0;
		s->score[b] = -INFINITY;
	}
	int32_t *t = s->hist;
	s->hist = s->tmp;
	s->tmp = t;
	return live;
}

static int generate_beam(const struct decode_model *m, const int32_t *prompt, int n,
			 const struct decode_params *p, int32_t *out)
{
	int W = m->batch, V = m->vocab, M = p->max_new;
	struct beams s = {W, V, M, NULL, NULL, NULL, NULL, NULL, NULL, NULL, -INFINITY, NULL, 0, 0};
	s.score = xmallocarray((size_t)W, sizeof *s.score);
	s.hist = xcalloc((size_t)W * M, sizeof *s.hist);
	s.tmp = xcalloc((size_t)W * M, sizeof *s.tmp);
	s.lp = xmallocarray((size_t)V, sizeof *s.lp);
	s.cands = xmallocarray((size_t)W * 2 * W, sizeof *s.cands);
	s.src = xmallocarray((size_t)W, sizeof *s.src);
	s.feed = xmallocarray((size_t)W, sizeof *s.feed);
	s.best_toks = xmallocarray((size_t)M, sizeof *s.best_toks);
	int32_t *rows = xmallocarray((size_t)W * m->chunk, sizeof *rows);
	for (int b = 0; b < W; b++)
		s.score[b] = b ? -INFINITY : 0.0; /* the beams start identical: keep one */
	const float *logits = prefill(m, prompt, n, rows);
	int step = 0, pos = n;
	while (step < M) {
		int live = beam_step(&s, logits, step, p);
		step++;
		if (!live || step == M || pos >= m->max_len)
			break;
		/* Done when W hypotheses have ended and none of the live ones
		 * scores better yet (Hugging Face's early_stopping=False rule). */
		double top = -INFINITY;
		for (int b = 0; b < W; b++)
			top = s.score[b] > top ? s.score[b] : top;
		if (s.finished >= W && s.best >= normalised(top, step, p->length_penalty))
			break;
		m->reorder(m->ctx, s.src, pos);
		logits = m->forward(m->ctx, s.feed, 1, pos++, false);
	}
	for (int b = 0; b < W; b++) /* unfinished beams compete too */
		if (s.score[b] != -INFINITY)
			finish_hyp(&s, s.hist + (size_t)b * M, step, s.score[b], p->length_penalty);
	memcpy(out, s.best_toks, (size_t)s.best_len * sizeof *out);
	int len = s.best_len;
	free(s.score), free(s.hist), free(s.tmp), free(s.lp), free(s.cands), free(s.src), free(s.feed);
	free(s.best_toks), free(rows);
	return len;
}

int decode_generate(const struct decode_model *m, const int32_t *prompt, int n, const struct decode_params *p,
		    struct rng *r, int32_t *out)
{
	if (p->max_new <= 0 || n >= m->max_len)
		return 0;
	if (p->beam > 1)
		return generate_beam(m, prompt, n, p, out);
	return generate_one(m, prompt, n, p, r, out);
}

double decode_score(const struct decode_model *m, const int32_t *tokens, int n)
{
	double total = 0.0;
	double *lp = xmallocarray((size_t)m->vocab, sizeof *lp);
	for (int pos0 = 0; pos0 < n - 1; pos0 += m->chunk) {
		int T = n - 1 - pos0 < m->chunk ? n - 1 - pos0 : m->chunk;
		const float *logits = m->forward(m->ctx, tokens + pos0, T, pos0, true);
		for (int t = 0; t < T; t++) {
			log_softmax(lp, logits + (size_t)t * m->vocab, m->vocab);
			total += lp[tokens[pos0 + t + 1]];
		}
	}
	free(lp);
	return total;
}
