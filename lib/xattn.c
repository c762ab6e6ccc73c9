/* xattn: gated cross-attention and input projections (see xattn.h). */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "ops.h"
#include "xalloc.h"
#include "xattn.h"

/* ---- carving named tensors ---- */

float *carve_take(struct carver *c, const char *name, int64_t rows, int64_t cols, bool decay)
{
	size_t count = (size_t)rows * (size_t)(cols ? cols : 1);
	float *at = c->base ? c->base + c->n : NULL;
	if (c->base && c->names) {
		xgrow(&c->tensors, &c->cap, c->n_tensors + 1, sizeof *c->tensors);
		struct tower_tensor *x = &c->tensors[c->n_tensors++];
		x->name = xasprintf("%s%s", c->prefix, name);
		x->offset = c->n;
		x->ndim = cols ? 2 : 1;
		x->shape[0] = rows;
		x->shape[1] = cols;
		x->count = count;
		x->decay = decay;
	}
	c->n += count; /* unpadded: k,v and gate,up must be adjacent */
	return at;
}

void carver_free(struct carver *c)
{
	for (size_t i = 0; i < c->n_tensors; i++)
		free(c->tensors[i].name);
	free(c->tensors);
	c->tensors = NULL;
	c->n_tensors = c->cap = 0;
}

static void init_normal(float *p, size_t n, double std, struct rng *r)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (float)(std * rng_normal(r));
}

static void fill(float *p, size_t n, float v)
{
	for (size_t i = 0; i < n; i++)
		p[i] = v;
}

static void zero(float *p, size_t n)
{
	memset(p, 0, n * sizeof *p);
}

/* Element-wise loops run in parallel only when long: a decode step's
 * rows are too short to pay for waking the threads. */
enum { PAR_MIN = 1 << 15 };

static void relu_forward(float *out, const float *inp, size_t n)
{
#pragma omp parallel for schedule(static) if (n >= PAR_MIN)
	for (size_t i = 0; i < n; i++)
		out[i] = inp[i] > 0.0f ? inp[i] : 0.0f;
}

/* dinp = dout where inp > 0 (overwrites). */
static void relu_backward(float *dinp, const float *dout, const float *inp, size_t n)
{
#pragma omp parallel for schedule(static) if (n >= PAR_MIN)
	for (size_t i = 0; i < n; i++)
		dinp[i] = inp[i] > 0.0f ? dout[i] : 0.0f;
}

/* sum(a*b) in double, for the gates' gradients. */
static double dot(const float *a, const float *b, size_t n)
{
	double s = 0.0;
	for (size_t i = 0; i < n; i++)
		s += (double)a[i] * b[i];
	return s;
}

static void axpy(float *y, float s, const float *x, size_t n)
{
#pragma omp parallel for schedule(static) if (n >= PAR_MIN)
	for (size_t i = 0; i < n; i++)
		y[i] += s * x[i];
}

/* ---- the masked attention ---- */

void xattn_visible(int32_t *nvis, const int32_t *qpos, const int32_t *kpos, int B, int Tq, int Tk)
{
	for (int b = 0; b < B; b++) {
		const int32_t *kp = kpos + (size_t)b * Tk;
		for (int i = 0; i < Tq; i++) { /* the first j with kp[j] >= p, by bisection */
			int32_t p = qpos[(size_t)b * Tq + i];
			int lo = 0, hi = Tk;
			while (lo < hi) {
				int mid = lo + (hi - lo) / 2;
				if (kp[mid] < p)
					lo = mid + 1;
				else
					hi = mid;
			}
			nvis[(size_t)b * Tq + i] = lo;
		}
	}
}

void xattn_attend_forward(float *out, float *att, const float *q, const float *kv, const int32_t *nvis, int B,
			  int Tq, int Tk, int C, int H)
{
	int D = C / H;
	float scale = 1.0f / sqrtf((float)D);
#pragma omp parallel for collapse(2) schedule(dynamic, 1) if ((long)B * Tq * Tk * C >= PAR_MIN * 16L)
	for (int b = 0; b < B; b++)
		for (int h = 0; h < H; h++) {
			const float *qb = q + (size_t)b * Tq * C + (size_t)h * D;
			const float *k = kv + (size_t)b * Tk * 2 * C + (size_t)h * D, *v = k + C;
			float *P = att + ((size_t)b * H + h) * Tq * Tk;
			float *o = out + (size_t)b * Tq * C + (size_t)h * D;
			const int32_t *nv = nvis + (size_t)b * Tq;
			if (Tk > 0)
				cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Tq, Tk, D, scale, qb, C, k,
					    2 * C, 0.0f, P, Tk);
			for (int i = 0; i < Tq; i++)
				softmax_prefix(P + (size_t)i * Tk, nv[i], Tk);
			if (Tk > 0)
				cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Tq, D, Tk, 1.0f, P, Tk, v,
					    2 * C, 0.0f, o, C);
			else
				for (int i = 0; i < Tq; i++)
					zero(o + (size_t)i * C, (size_t)D);
		}
}

void xattn_attend_backward(float *dq, float *dkv, float *datt, const float *dout, const float *q,
			   const float *kv, const float *att, const int32_t *nvis, int B, int Tq, int Tk, int C,
			   int H)
{
	int D = C / H;
	float scale = 1.0f / sqrtf((float)D);
	if (Tk == 0)
		return;
	/* (b,h) pairs write disjoint columns of dq and dkv. */
#pragma omp parallel for collapse(2) schedule(dynamic, 1)
	for (int b = 0; b < B; b++)
		for (int h = 0; h < H; h++) {
			const float *qb = q + (size_t)b * Tq * C + (size_t)h * D;
			const float *k = kv + (size_t)b * Tk * 2 * C + (size_t)h * D, *v = k + C;
			float *dqb = dq + (size_t)b * Tq * C + (size_t)h * D;
			float *dk = dkv + (size_t)b * Tk * 2 * C + (size_t)h * D, *dv = dk + C;
			const float *P = att + ((size_t)b * H + h) * Tq * Tk;
			float *dP = datt + ((size_t)b * H + h) * Tq * Tk;
			const float *go = dout + (size_t)b * Tq * C + (size_t)h * D;
			const int32_t *nv = nvis + (size_t)b * Tq;
			/* dP = dO V^T, then dS = P * (dP - sum_j P dP) on the visible keys */
			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Tq, Tk, D, 1.0f, go, C, v, 2 * C, 0.0f,
				    dP, Tk);
			for (int i = 0; i < Tq; i++) {
				const float *p = P + (size_t)i * Tk;
				float *d = dP + (size_t)i * Tk, s = 0.0f;
				int n = nv[i];
				for (int j = 0; j < n; j++)
					s += p[j] * d[j];
				for (int j = 0; j < n; j++)
					d[j] = p[j] * (d[j] - s);
				for (int j = n; j < Tk; j++)
					d[j] = 0.0f;
			}
			/* dq += scale dS K;  dk += scale dS^T Q;  dv += P^T dO */
			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Tq, D, Tk, scale, dP, Tk, k, 2 * C,
				    1.0f, dqb, C);
			cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Tk, D, Tq, scale, dP, Tk, qb, C, 1.0f,
				    dk, 2 * C);
			cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Tk, D, Tq, 1.0f, P, Tk, go, C, 1.0f, dv,
				    2 * C);
		}
}

/* ---- positions ---- */

/* Rotates the first C columns of rows (of width `stride`) that hold B
 * sequences of T rows, row i of a sequence at angle scale * (pos0 + i)
 * times each pair's frequency; sign -1 rotates back (the transpose, for
 * gradients). Pairs are (k, k + D/2) in each head, as in the towers, whose
 * rope_forward() (ops.h) reads tables made for integer positions; these
 * positions are scaled, so the angles are computed here, once for the B
 * rows that share a position. */
static void rope_rows(float *x, int B, int T, size_t stride, int C, int H, float scale, int pos0, int sign)
{
	int D = C / H, half = D / 2;
	double step = pow((double)XATTN_ROPE_THETA, -2.0 / D); /* frequency k is step^k */
#pragma omp parallel for schedule(static) if ((long)B * T * C >= PAR_MIN)
	for (int i = 0; i < T; i++) {
		double pos = (double)scale * (pos0 + i), freq = 1.0;
		for (int k = 0; k < half; k++, freq *= step) {
			float c = (float)cos(pos * freq), s = (float)(sign * sin(pos * freq));
			for (int b = 0; b < B; b++) {
				float *v = x + ((size_t)b * T + (size_t)i) * stride + k;
				for (int h = 0; h < H; h++) {
					float *a = v + (size_t)h * D, *bb = a + half;
					float a0 = *a, b0 = *bb;
					*a = a0 * c - b0 * s;
					*bb = b0 * c + a0 * s;
				}
			}
		}
	}
}

static bool has_positions(const struct xattn *x)
{
	return x->rope.qscale != 0.0f;
}

/* ---- the block ---- */

struct xattn_acts {
	int B, Tq, Tk; /* capacity */
	int b, tq, tk, q0; /* the last forward's */
	float *mem;
	int32_t *kpos, *nvis; /* (B,Tk) (B,Tq) */
	/* key side, Nk = B*Tk */
	float *ho, *kvn, *kvn_rstd; /* (Nk,Co) (Nk,Co) (Nk) */
	float *p1, *r1, *gout, *kv; /* (Nk,C) (Nk,C) (Nk,C) (Nk,2C) */
	/* query side, Nq = B*Tq */
	float *y0, *qn, *qn_rstd, *q; /* (Nq,C) (Nq,C) (Nq) (Nq,C) */
	float *att, *atty, *ao, *y1;  /* (B,H,Tq,Tk) (Nq,C) (Nq,C) (Nq,C) */
	float *fn, *fn_rstd, *gu, *hff, *fo; /* (Nq,C) (Nq) (Nq,2F) (Nq,F) (Nq,C) */
	/* backward */
	float *dtmp, *dao, *dq, *datt, *dgu, *dhff; /* (Nq,C) x3, (B,H,Tq,Tk), (Nq,2F), (Nq,F) */
	float *dkv, *dg, *dr, *dkvn, *dh;           /* (Nk,2C) (Nk,C) (Nk,C) (Nk,Co) (Nk,Co) */
};

void xattn_carve(struct xattn *x, struct carver *c, struct carver *gc, int C, int Co, int H, int F, float eps)
{
	x->C = C, x->Co = Co, x->H = H, x->F = F, x->eps = eps;
	struct carver *cs[2] = {c, gc};
	for (int k = 0; k < 2; k++) {
		struct carver *v = cs[k];
		struct xattn_weights *w = k ? &x->g : &x->w;
		if (!v) {
			memset(w, 0, sizeof *w);
			continue;
		}
		w->kv_norm = carve_take(v, "kv_norm.weight", Co, 0, false);
		w->w1 = carve_take(v, "proj.0.weight", C, Co, true);
		w->w2 = carve_take(v, "proj.1.weight", C, C, true);
		w->attn_norm = carve_take(v, "attn_norm.weight", C, 0, false);
		w->wq = carve_take(v, "q_proj.weight", C, C, true);
		w->wkv = carve_take(v, "k_proj.weight", C, C, true); /* k then v: one sgemm */
		carve_take(v, "v_proj.weight", C, C, true);
		w->wo = carve_take(v, "o_proj.weight", C, C, true);
		w->attn_gate = carve_take(v, "attn_gate", 1, 0, false);
		w->ff_norm = carve_take(v, "ff_norm.weight", C, 0, false);
		w->wgu = carve_take(v, "mlp.gate_proj.weight", F, C, true); /* gate then up */
		carve_take(v, "mlp.up_proj.weight", F, C, true);
		w->wdown = carve_take(v, "mlp.down_proj.weight", C, F, true);
		w->ff_gate = carve_take(v, "ff_gate", 1, 0, false);
	}
}

void xattn_init(struct xattn *x, struct rng *r, float gate_init)
{
	size_t C = (size_t)x->C, Co = (size_t)x->Co, F = (size_t)x->F;
	const struct xattn_weights *w = &x->w;
	fill(w->kv_norm, Co, 1.0f);
	init_normal(w->w1, C * Co, 1.0 / sqrt((double)Co), r);
	init_normal(w->w2, C * C, 1.0 / sqrt((double)C), r);
	fill(w->attn_norm, C, 1.0f);
	init_normal(w->wq, C * C, 0.02, r);
	init_normal(w->wkv, 2 * C * C, 0.02, r);
	init_normal(w->wo, C * C, 0.02, r);
	w->attn_gate[0] = gate_init;
	fill(w->ff_norm, C, 1.0f);
	init_normal(w->wgu, 2 * F * C, 0.02, r);
	init_normal(w->wdown, C * F, 0.02, r);
	w->ff_gate[0] = gate_init;
}

static size_t carve_xacts(struct xattn_acts *a, float *base, const struct xattn *x, int B, int Tq, int Tk)
{
	size_t C = (size_t)x->C, Co = (size_t)x->Co, F = (size_t)x->F;
	size_t Nq = (size_t)B * Tq, Nk = (size_t)B * Tk, TT = (size_t)B * x->H * Tq * Tk;
	size_t n = 0;
#define TAKE(field, count)                                  \
	do {                                                \
		a->field = base ? base + n : NULL;          \
		n += ((count) + 15) & ~(size_t)15;          \
	} while (0)
	TAKE(ho, Nk * Co);
	TAKE(kvn, Nk * Co);
	TAKE(kvn_rstd, Nk);
	TAKE(p1, Nk * C);
	TAKE(r1, Nk * C);
	TAKE(gout, Nk * C);
	TAKE(kv, Nk * 2 * C);
	TAKE(y0, Nq * C);
	TAKE(qn, Nq * C);
	TAKE(qn_rstd, Nq);
	TAKE(q, Nq * C);
	TAKE(att, TT);
	TAKE(atty, Nq * C);
	TAKE(ao, Nq * C);
	TAKE(y1, Nq * C);
	TAKE(fn, Nq * C);
	TAKE(fn_rstd, Nq);
	TAKE(gu, Nq * 2 * F);
	TAKE(hff, Nq * F);
	TAKE(fo, Nq * C);
	TAKE(dtmp, Nq * C);
	TAKE(dao, Nq * C);
	TAKE(dq, Nq * C);
	TAKE(datt, TT);
	TAKE(dgu, Nq * 2 * F);
	TAKE(dhff, Nq * F);
	TAKE(dkv, Nk * 2 * C);
	TAKE(dg, Nk * C);
	TAKE(dr, Nk * C);
	TAKE(dkvn, Nk * Co);
	TAKE(dh, Nk * Co);
#undef TAKE
	return n;
}

void xattn_alloc(struct xattn *x, int B, int Tq, int Tk)
{
	struct xattn_acts *a = x->a;
	if (a && a->B >= B && a->Tq >= Tq && a->Tk >= Tk)
		return;
	if (a) { /* grow to hold both: fused generation shares blocks between uses */
		B = a->B > B ? a->B : B;
		Tq = a->Tq > Tq ? a->Tq : Tq;
		Tk = a->Tk > Tk ? a->Tk : Tk;
	}
	xattn_free(x);
	a = xcalloc(1, sizeof *a);
	a->B = B, a->Tq = Tq, a->Tk = Tk;
	size_t n = carve_xacts(a, NULL, x, B, Tq, Tk);
	a->mem = xcalloc(n ? n : 1, sizeof(float));
	carve_xacts(a, a->mem, x, B, Tq, Tk);
	a->kpos = xcalloc((size_t)B * Tk + 1, sizeof *a->kpos);
	a->nvis = xcalloc((size_t)B * Tq + 1, sizeof *a->nvis);
	x->a = a;
}

void xattn_free(struct xattn *x)
{
	if (!x->a)
		return;
	free(x->a->mem);
	free(x->a->kpos);
	free(x->a->nvis);
	free(x->a);
	x->a = NULL;
}

void xattn_forward_kv(struct xattn *x, const float *h, const int32_t *kpos, int B, int Tk)
{
	struct xattn_acts *a = x->a;
	const struct xattn_weights *w = &x->w;
	int Nk = B * Tk, C = x->C, Co = x->Co;
	a->b = B;
	a->tk = Tk;
	if (Nk == 0)
		return; /* nothing to attend to: the block is its FFN alone */
	memcpy(a->kpos, kpos, (size_t)Nk * sizeof *kpos);
	memcpy(a->ho, h, (size_t)Nk * Co * sizeof *h);
	rmsnorm_forward(a->kvn, a->kvn_rstd, a->ho, w->kv_norm, Nk, Co, x->eps);
	matmul_forward(a->p1, a->kvn, w->w1, Nk, Co, C, 0);
	relu_forward(a->r1, a->p1, (size_t)Nk * C);
	matmul_forward(a->gout, a->r1, w->w2, Nk, C, C, 0);
	matmul_forward(a->kv, a->gout, w->wkv, Nk, C, 2 * C, 0);
	if (has_positions(x))
		rope_rows(a->kv, B, Tk, (size_t)2 * C, C, x->H, x->rope.kscale, 0, 1);
}

void xattn_forward(struct xattn *x, float *y, const int32_t *qpos, int Tq, int q0)
{
	struct xattn_acts *a = x->a;
	const struct xattn_weights *w = &x->w;
	int B = a->b, Nq = B * Tq, C = x->C, F = x->F;
	size_t NC = (size_t)Nq * C;
	a->tq = Tq;
	a->q0 = q0;
	xattn_visible(a->nvis, qpos, a->kpos, B, Tq, a->tk);
	memcpy(a->y0, y, NC * sizeof *y);
	rmsnorm_forward(a->qn, a->qn_rstd, a->y0, w->attn_norm, Nq, C, x->eps);
	if (a->tk > 0) { /* else nothing to attend to: ao = 0 (the input of a generation) */
		matmul_forward(a->q, a->qn, w->wq, Nq, C, C, 0);
		if (has_positions(x))
			rope_rows(a->q, B, Tq, (size_t)C, C, x->H, x->rope.qscale, q0, 1);
		xattn_attend_forward(a->atty, a->att, a->q, a->kv, a->nvis, B, Tq, a->tk, C, x->H);
		matmul_forward(a->ao, a->atty, w->wo, Nq, C, C, 0);
		axpy(y, tanhf(w->attn_gate[0]), a->ao, NC);
	} else {
		zero(a->ao, NC);
	}
	memcpy(a->y1, y, NC * sizeof *y);
	rmsnorm_forward(a->fn, a->fn_rstd, a->y1, w->ff_norm, Nq, C, x->eps);
	matmul_forward(a->gu, a->fn, w->wgu, Nq, C, 2 * F, 0);
	swiglu_forward(a->hff, a->gu, Nq, F);
	matmul_forward(a->fo, a->hff, w->wdown, Nq, F, C, 0);
	axpy(y, tanhf(w->ff_gate[0]), a->fo, NC);
}

/* y += tanh(gate) * out: d gate += sum(dy * out) (1 - tanh^2); dout = tanh(gate) dy. */
static void gate_backward(float *dout, float *dgate, const float *dy, const float *out, float gate, size_t n)
{
	float t = tanhf(gate);
	if (dgate)
		dgate[0] += (float)(dot(dy, out, n) * (1.0 - (double)t * t));
#pragma omp parallel for schedule(static) if (n >= PAR_MIN)
	for (size_t i = 0; i < n; i++)
		dout[i] = t * dy[i];
}

void xattn_place_kv(struct xattn *x, int row, int Tk)
{
	struct xattn_acts *a = x->a;
	size_t w = (size_t)2 * x->C, n = (size_t)a->tk;
	int32_t *kp = a->kpos + (size_t)row * Tk;
	memmove(a->kv + (size_t)row * Tk * w, a->kv, n * w * sizeof *a->kv);
	memmove(kp, a->kpos, n * sizeof *kp);
	for (size_t j = n; j < (size_t)Tk; j++)
		kp[j] = INT32_MAX; /* never seen */
}

void xattn_set_kv_batch(struct xattn *x, int B, int Tk)
{
	x->a->b = B;
	x->a->tk = Tk;
}

void xattn_repeat_kv(struct xattn *x, int B)
{
	struct xattn_acts *a = x->a;
	size_t rows = (size_t)a->tk * 2 * x->C;
	for (int b = 1; b < B; b++) {
		memcpy(a->kv + b * rows, a->kv, rows * sizeof *a->kv);
		memcpy(a->kpos + (size_t)b * a->tk, a->kpos, (size_t)a->tk * sizeof *a->kpos);
	}
	a->b = B;
}

void xattn_backward(struct xattn *x, float *dy)
{
	struct xattn_acts *a = x->a;
	const struct xattn_weights *w = &x->w, *g = &x->g;
	int B = a->b, Tq = a->tq, Tk = a->tk, Nq = B * Tq, Nk = B * Tk, C = x->C, Co = x->Co, F = x->F;
	size_t NC = (size_t)Nq * C;
	/* y2 = y1 + tanh(b) fo */
	gate_backward(a->dtmp, g->ff_gate, dy, a->fo, w->ff_gate[0], NC);
	zero(a->dhff, (size_t)Nq * F);
	matmul_backward(a->dhff, g->wdown, a->dtmp, a->hff, w->wdown, Nq, F, C);
	zero(a->dgu, (size_t)Nq * 2 * F);
	swiglu_backward(a->dgu, a->dhff, a->gu, Nq, F);
	zero(a->dtmp, NC);
	matmul_backward(a->dtmp, g->wgu, a->dgu, a->fn, w->wgu, Nq, C, 2 * F);
	rmsnorm_backward(dy, g->ff_norm, a->dtmp, a->y1, w->ff_norm, a->fn_rstd, Nq, C);
	if (Tk == 0)
		return; /* ao was 0: nothing flows through the attention */
	/* y1 = y0 + tanh(a) ao */
	gate_backward(a->dao, g->attn_gate, dy, a->ao, w->attn_gate[0], NC);
	zero(a->dtmp, NC);
	matmul_backward(a->dtmp, g->wo, a->dao, a->atty, w->wo, Nq, C, C);
	zero(a->dq, NC);
	zero(a->dkv, (size_t)Nk * 2 * C);
	xattn_attend_backward(a->dq, a->dkv, a->datt, a->dtmp, a->q, a->kv, a->att, a->nvis, B, Tq, Tk, C, x->H);
	if (has_positions(x)) { /* back to the unrotated q and k */
		rope_rows(a->dq, B, Tq, (size_t)C, C, x->H, x->rope.qscale, a->q0, -1);
		rope_rows(a->dkv, B, Tk, (size_t)2 * C, C, x->H, x->rope.kscale, 0, -1);
	}
	zero(a->dtmp, NC);
	matmul_backward(a->dtmp, g->wq, a->dq, a->qn, w->wq, Nq, C, C);
	rmsnorm_backward(dy, g->attn_norm, a->dtmp, a->y0, w->attn_norm, a->qn_rstd, Nq, C);
	/* the key side, down to the other tower's stream */
	zero(a->dg, (size_t)Nk * C);
	matmul_backward(a->dg, g->wkv, a->dkv, a->gout, w->wkv, Nk, C, 2 * C);
	zero(a->dr, (size_t)Nk * C);
	matmul_backward(a->dr, g->w2, a->dg, a->r1, w->w2, Nk, C, C);
	relu_backward(a->dg, a->dr, a->p1, (size_t)Nk * C);
	zero(a->dkvn, (size_t)Nk * Co);
	matmul_backward(a->dkvn, g->w1, a->dg, a->kvn, w->w1, Nk, Co, C);
	zero(a->dh, (size_t)Nk * Co);
	rmsnorm_backward(a->dh, g->kv_norm, a->dkvn, a->ho, w->kv_norm, a->kvn_rstd, Nk, Co);
}

const float *xattn_dh(const struct xattn *x)
{
	return x->a->dh;
}

/* ---- input projection ---- */

struct inproj_acts {
	int N;
	float *mem;
	float *e, *p[3], *r[2]; /* (N,C) each: input, pre-activations, ReLU outputs */
	float *d1, *d2;         /* (N,C) backward scratch */
};

static const char *const inproj_names[] = {"none", "paper", "residual"};

int inproj_mode(const char *name)
{
	for (int i = 0; i < 3; i++)
		if (!strcmp(name, inproj_names[i]))
			return i;
	return -1;
}

const char *inproj_name(int mode)
{
	return mode >= 0 && mode < 3 ? inproj_names[mode] : "?";
}

void inproj_carve(struct inproj *p, struct carver *c, struct carver *gc, int mode, int C)
{
	static const char *const names[3] = {"0.weight", "1.weight", "2.weight"};
	p->mode = mode;
	p->C = C;
	for (int i = 0; i < 3; i++) {
		p->w[i] = mode == INPROJ_NONE ? NULL : carve_take(c, names[i], C, C, true);
		p->g[i] = mode == INPROJ_NONE || !gc ? NULL : carve_take(gc, names[i], C, C, true);
	}
}

void inproj_init(struct inproj *p, struct rng *r)
{
	if (p->mode == INPROJ_NONE)
		return;
	size_t CC = (size_t)p->C * p->C;
	for (int i = 0; i < 3; i++)
		init_normal(p->w[i], CC, 1.0 / sqrt((double)p->C), r);
	if (p->mode == INPROJ_RESIDUAL)
		zero(p->w[2], CC);
}

void inproj_alloc(struct inproj *p, int N)
{
	if (p->mode == INPROJ_NONE || (p->a && p->a->N >= N))
		return;
	inproj_free(p);
	struct inproj_acts *a = xcalloc(1, sizeof *a);
	size_t NC = (size_t)N * p->C;
	a->N = N;
	a->mem = xcalloc(8 * NC + 1, sizeof(float));
	float *m = a->mem;
	a->e = m, m += NC;
	for (int i = 0; i < 3; i++)
		a->p[i] = m, m += NC;
	for (int i = 0; i < 2; i++)
		a->r[i] = m, m += NC;
	a->d1 = m, m += NC;
	a->d2 = m;
	p->a = a;
}

void inproj_free(struct inproj *p)
{
	if (!p->a)
		return;
	free(p->a->mem);
	free(p->a);
	p->a = NULL;
}

void inproj_forward(struct inproj *p, float *x, int N)
{
	if (p->mode == INPROJ_NONE)
		return;
	struct inproj_acts *a = p->a;
	int C = p->C;
	size_t NC = (size_t)N * C;
	memcpy(a->e, x, NC * sizeof *x);
	matmul_forward(a->p[0], a->e, p->w[0], N, C, C, 0);
	relu_forward(a->r[0], a->p[0], NC);
	matmul_forward(a->p[1], a->r[0], p->w[1], N, C, C, 0);
	relu_forward(a->r[1], a->p[1], NC);
	matmul_forward(a->p[2], a->r[1], p->w[2], N, C, C, 0);
	if (p->mode == INPROJ_PAPER)
		relu_forward(x, a->p[2], NC);
	else
		residual_add(x, a->p[2], NC); /* x still holds e */
}

void inproj_backward(struct inproj *p, float *dx, int N)
{
	if (p->mode == INPROJ_NONE)
		return;
	struct inproj_acts *a = p->a;
	int C = p->C;
	size_t NC = (size_t)N * C;
	/* d1 = d(p3); dx keeps d(e) through the residual, or restarts from 0 */
	if (p->mode == INPROJ_PAPER) {
		relu_backward(a->d1, dx, a->p[2], NC);
		zero(dx, NC);
	} else {
		memcpy(a->d1, dx, NC * sizeof *dx);
	}
	zero(a->d2, NC);
	matmul_backward(a->d2, p->g[2], a->d1, a->r[1], p->w[2], N, C, C);
	relu_backward(a->d1, a->d2, a->p[1], NC);
	zero(a->d2, NC);
	matmul_backward(a->d2, p->g[1], a->d1, a->r[0], p->w[1], N, C, C);
	relu_backward(a->d1, a->d2, a->p[0], NC);
	matmul_backward(dx, p->g[0], a->d1, a->e, p->w[0], N, C, C);
}
