/* tower: the LLaMA-style decoder (see tower.h). */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>
#include <omp.h>

#include "matvec.h"
#include "ops.h"
#include "vecmath.h"
#include "safetensors.h"
#include "tower.h"
#include "xalloc.h"
#include "zerr.h"
#include "zio.h"

/* ---- configuration ---- */

void tower_config_default(struct tower_config *c)
{
	memset(c, 0, sizeof *c);
	c->max_seq = 1024;
	c->rope_theta = 10000.0;
	c->norm_eps = 1e-5;
}

static const cJSON *json_either(const cJSON *j, const char *a, const char *b)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, a);
	return v ? v : cJSON_GetObjectItemCaseSensitive(j, b);
}

static int json_int(const cJSON *j, const char *a, const char *b, int *out, bool required)
{
	const cJSON *v = json_either(j, a, b);
	if (!v) {
		if (required) {
			zerr_set("config: missing \"%s\"", a);
			return -1;
		}
		return 0;
	}
	if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || v->valuedouble < 0) {
		zerr_set("config: \"%s\" must be a non-negative integer", a);
		return -1;
	}
	if (v->valuedouble > 1e9) {
		zerr_set("config: \"%s\" %.15g is out of range (at most 1000000000)", a, v->valuedouble);
		return -1;
	}
	*out = (int)v->valuedouble;
	return 0;
}

static int json_num(const cJSON *j, const char *a, const char *b, double *out)
{
	const cJSON *v = json_either(j, a, b);
	if (!v)
		return 0;
	if (!cJSON_IsNumber(v) || !(v->valuedouble > 0)) {
		zerr_set("config: \"%s\" must be a positive number", a);
		return -1;
	}
	*out = v->valuedouble;
	return 0;
}

int tower_config_check(const struct tower_config *c)
{
	if (c->vocab < 1 || c->d_model < 1 || c->n_layers < 1 || c->n_heads < 1 || c->d_ff < 1 ||
	    c->max_seq < 1) {
		zerr_set("config: vocab, d_model, n_layers, n_heads, d_ff and max_seq must be positive");
		return -1;
	}
	if (c->d_model % c->n_heads || (c->d_model / c->n_heads) % 2) {
		zerr_set("config: d_model %d is not n_heads %d times an even head size", c->d_model,
			 c->n_heads);
		return -1;
	}
	if (c->n_kv_heads < 1 || c->n_heads % c->n_kv_heads) {
		zerr_set("config: n_heads %d is not a multiple of n_kv_heads %d", c->n_heads, c->n_kv_heads);
		return -1;
	}
	/* The rotary tables hold max_seq x head size floats, filled at load. */
	if ((size_t)c->max_seq * (size_t)(c->d_model / c->n_heads) > ((size_t)1 << 28)) {
		zerr_set("config: max_seq %d is too long for a head size of %d", c->max_seq,
			 c->d_model / c->n_heads);
		return -1;
	}
	if (tower_config_params(c) > ((size_t)1 << 34)) {
		zerr_set("config: model too large");
		return -1;
	}
	return 0;
}

int tower_config_unique_keys(const cJSON *j)
{
	if (!cJSON_IsObject(j)) /* what it is not is said by its reader */
		return 0;
	for (const cJSON *a = j->child; a; a = a->next)
		for (const cJSON *b = j->child; b != a; b = b->next)
			if (!strcmp(a->string, b->string)) {
				zerr_set("config: duplicate key \"%s\"", a->string);
				return -1;
			}
	return 0;
}

int tower_config_from_json(struct tower_config *c, const cJSON *j)
{
	tower_config_default(c);
	if (!cJSON_IsObject(j)) {
		zerr_set("config: not a JSON object");
		return -1;
	}
	if (tower_config_unique_keys(j) < 0)
		return -1;
	c->n_kv_heads = -1;
	if (json_int(j, "vocab", "vocab_size", &c->vocab, true) ||
	    json_int(j, "d_model", "hidden_size", &c->d_model, true) ||
	    json_int(j, "n_layers", "num_hidden_layers", &c->n_layers, true) ||
	    json_int(j, "n_heads", "num_attention_heads", &c->n_heads, true) ||
	    json_int(j, "n_kv_heads", "num_key_value_heads", &c->n_kv_heads, false) ||
	    json_int(j, "d_ff", "intermediate_size", &c->d_ff, true) ||
	    json_int(j, "max_seq", "max_position_embeddings", &c->max_seq, false) ||
	    json_num(j, "rope_theta", "rope_theta", &c->rope_theta) ||
	    json_num(j, "norm_eps", "rms_norm_eps", &c->norm_eps))
		return -1;
	if (c->n_kv_heads < 0)
		c->n_kv_heads = c->n_heads;
	const cJSON *tie = json_either(j, "tie_embeddings", "tie_word_embeddings");
	if (tie && !cJSON_IsBool(tie)) {
		zerr_set("config: \"tie_embeddings\" must be true or false");
		return -1;
	}
	c->tie_embeddings = tie && cJSON_IsTrue(tie);
	return tower_config_check(c);
}

int tower_config_read(struct tower_config *c, const char *path)
{
	struct zin *in = zin_open(path);
	if (!in)
		return -1;
	char *text = NULL;
	size_t cap = 0, n = 0, len;
	for (char *line; (line = zin_getline(in, &len));) {
		xgrow(&text, &cap, n + len + 2, 1);
		memcpy(text + n, line, len);
		n += len;
		text[n++] = '\n';
	}
	bool failed = zin_failed(in);
	zin_close(in);
	if (failed) {
		free(text);
		return -1;
	}
	xgrow(&text, &cap, n + 1, 1);
	text[n] = 0;
	/* All of the text: a second object or a NUL after the first is not ignored. */
	const char *end = NULL;
	cJSON *j = cJSON_ParseWithLengthOpts(text, n, &end, 0);
	if (j && end + strspn(end, " \t\r\n") != text + n) {
		cJSON_Delete(j);
		free(text);
		zerr_set("%s: data after the JSON object", path);
		return -1;
	}
	free(text);
	if (!j) {
		zerr_set("%s: not valid JSON", path);
		return -1;
	}
	int rc = tower_config_from_json(c, j);
	cJSON_Delete(j);
	if (rc < 0)
		zerr_prefix("%s", path);
	return rc;
}

cJSON *tower_config_to_json(const struct tower_config *c)
{
	cJSON *j = cJSON_CreateObject();
	cJSON_AddNumberToObject(j, "vocab", c->vocab);
	cJSON_AddNumberToObject(j, "d_model", c->d_model);
	cJSON_AddNumberToObject(j, "n_layers", c->n_layers);
	cJSON_AddNumberToObject(j, "n_heads", c->n_heads);
	cJSON_AddNumberToObject(j, "n_kv_heads", c->n_kv_heads);
	cJSON_AddNumberToObject(j, "d_ff", c->d_ff);
	cJSON_AddNumberToObject(j, "max_seq", c->max_seq);
	cJSON_AddNumberToObject(j, "rope_theta", c->rope_theta);
	cJSON_AddNumberToObject(j, "norm_eps", c->norm_eps);
	cJSON_AddBoolToObject(j, "tie_embeddings", c->tie_embeddings);
	return j;
}

/* Sizes every function below shares. */
struct dims {
	size_t V, C, L, H, K, D, F, QKV, HD;
};

static struct dims dims_of(const struct tower_config *c)
{
	struct dims d = {(size_t)c->vocab, (size_t)c->d_model, (size_t)c->n_layers, (size_t)c->n_heads,
			 (size_t)c->n_kv_heads, 0, (size_t)c->d_ff, 0, 0};
	d.D = d.C / d.H;
	d.QKV = (d.H + 2 * d.K) * d.D;
	d.HD = d.H * d.D;
	return d;
}

size_t tower_config_params(const struct tower_config *c)
{
	struct dims d = dims_of(c);
	size_t per_layer = 2 * d.C + d.QKV * d.C + d.C * d.HD + 3 * d.F * d.C;
	return d.V * d.C * (c->tie_embeddings ? 1 : 2) + d.L * per_layer + d.C;
}

/* ---- parameters ---- */

static void carve(struct tower_weights *w, float *base, const struct tower_config *c)
{
	struct dims d = dims_of(c);
	float *p = base;
	w->embed = p, p += d.V * d.C;
	w->ln1 = p, p += d.L * d.C;
	w->wqkv = p, p += d.L * d.QKV * d.C;
	w->wo = p, p += d.L * d.C * d.HD;
	w->ln2 = p, p += d.L * d.C;
	w->wgu = p, p += d.L * 2 * d.F * d.C;
	w->wdown = p, p += d.L * d.C * d.F;
	w->norm = p, p += d.C;
	w->lm_head = c->tie_embeddings ? w->embed : p;
}

static void add_tensor(struct tower *t, size_t *cap, const float *at, bool decay, int64_t rows, int64_t cols,
		       const char *fmt, int layer)
{
	char name[256];
	snprintf(name, sizeof name, fmt, layer);
	xgrow(&t->tensors, cap, t->n_tensors + 1, sizeof *t->tensors);
	struct tower_tensor *x = &t->tensors[t->n_tensors++];
	x->name = xasprintf("%s%s", t->prefix, name);
	x->offset = (size_t)(at - t->params);
	x->ndim = cols ? 2 : 1;
	x->shape[0] = rows;
	x->shape[1] = cols;
	x->count = (size_t)rows * (size_t)(cols ? cols : 1);
	x->decay = decay;
}

/* The table of named views, in Hugging Face's usual order. */
static void build_tensors(struct tower *t)
{
	struct dims d = dims_of(&t->cfg);
	const struct tower_weights *w = &t->w;
	size_t cap = 0;
	int64_t C = (int64_t)d.C, F = (int64_t)d.F, HD = (int64_t)d.HD, KD = (int64_t)(d.K * d.D);
	add_tensor(t, &cap, w->embed, false, (int64_t)d.V, C, "model.embed_tokens.weight", 0);
	for (int l = 0; l < (int)d.L; l++) {
		const float *qkv = w->wqkv + l * d.QKV * d.C, *gu = w->wgu + l * 2 * d.F * d.C;
		add_tensor(t, &cap, w->ln1 + l * d.C, false, C, 0, "model.layers.%d.input_layernorm.weight", l);
		add_tensor(t, &cap, qkv, true, HD, C, "model.layers.%d.self_attn.q_proj.weight", l);
		add_tensor(t, &cap, qkv + d.HD * d.C, true, KD, C, "model.layers.%d.self_attn.k_proj.weight", l);
		add_tensor(t, &cap, qkv + (d.HD + d.K * d.D) * d.C, true, KD, C,
			   "model.layers.%d.self_attn.v_proj.weight", l);
		add_tensor(t, &cap, w->wo + l * d.C * d.HD, true, C, HD, "model.layers.%d.self_attn.o_proj.weight", l);
		add_tensor(t, &cap, w->ln2 + l * d.C, false, C, 0,
			   "model.layers.%d.post_attention_layernorm.weight", l);
		add_tensor(t, &cap, gu, true, F, C, "model.layers.%d.mlp.gate_proj.weight", l);
		add_tensor(t, &cap, gu + d.F * d.C, true, F, C, "model.layers.%d.mlp.up_proj.weight", l);
		add_tensor(t, &cap, w->wdown + l * d.C * d.F, true, C, F, "model.layers.%d.mlp.down_proj.weight", l);
	}
	add_tensor(t, &cap, w->norm, false, C, 0, "model.norm.weight", 0);
	if (!t->cfg.tie_embeddings)
		add_tensor(t, &cap, w->lm_head, true, (int64_t)d.V, C, "lm_head.weight", 0);
}

struct tower *tower_new(const struct tower_config *c, const char *prefix)
{
	struct tower *t = xcalloc(1, sizeof *t);
	t->cfg = *c;
	t->prefix = xstrdup(prefix ? prefix : "");
	t->head_dim = c->d_model / c->n_heads;
	t->n_params = tower_config_params(c);
	t->params = xmallocarray(t->n_params, sizeof(float));
	carve(&t->w, t->params, c);
	build_tensors(t);
	size_t half = (size_t)t->head_dim / 2;
	t->rope_cos = xmallocarray((size_t)c->max_seq * half, sizeof(float));
	t->rope_sin = xmallocarray((size_t)c->max_seq * half, sizeof(float));
	rope_tables(t->rope_cos, t->rope_sin, c->max_seq, t->head_dim, c->rope_theta);
	return t;
}

void tower_init_random(struct tower *t, struct rng *r)
{
	for (size_t i = 0; i < t->n_tensors; i++) {
		const struct tower_tensor *x = &t->tensors[i];
		float *p = t->params + x->offset;
		for (size_t k = 0; k < x->count; k++)
			p[k] = x->ndim == 1 ? 1.0f : (float)(0.02 * rng_normal(r));
	}
}

const struct tower_tensor *tower_find(const struct tower *t, const char *name)
{
	for (size_t i = 0; i < t->n_tensors; i++)
		if (!strcmp(t->tensors[i].name, name))
			return &t->tensors[i];
	return NULL;
}

/* ---- training activations ---- */

struct tower_acts {
	int B, T; /* capacity */
	int b, tt; /* the last forward's batch */
	float *mem;
	int32_t *tokens, *targets; /* (B,T) */
	float *x;                  /* (L+1,N,C) residual stream: input of each layer, then the output */
	float *ln1, *ln1_rstd;     /* (L,N,C) (L,N) */
	float *qkv;                /* (L,N,QKV) rotated */
	float *att;                /* (L,B,H,T,T) softmax */
	float *atty;               /* (L,N,HD) */
	float *xmid;               /* (L,N,C) after attention's residual */
	float *ln2, *ln2_rstd;     /* (L,N,C) (L,N) */
	float *gu;                 /* (L,N,2F) */
	float *hff;                /* (L,N,F) */
	float *lnf, *lnf_rstd;     /* (N,C) (N) */
	float *logits;             /* (N,V), dlogits after backward */
	float *losses;             /* (N) */
	int count;                 /* targets counted */
	/* backward scratch, reused by every layer */
	float *dx, *dtmp;          /* (N,C) */
	float *dqkv;               /* (N,QKV) */
	float *datty;              /* (N,HD) */
	float *datt;               /* (B,H,T,T) */
	float *dgu;                /* (N,2F) */
	float *dhff;               /* (N,F) */
};

/* Lays the activations out from base (or only counts them when base is NULL). */
static size_t carve_acts(struct tower_acts *a, float *base, int B, int T, const struct tower_config *c)
{
	struct dims d = dims_of(c);
	size_t N = (size_t)B * T, TT = (size_t)B * d.H * T * T;
	float *p = base;
	size_t n = 0;
#define TAKE(field, count)                                                                         \
	do {                                                                                       \
		size_t k_ = (count);                                                               \
		k_ = (k_ + 15) & ~(size_t)15; /* 64-byte aligned pieces */                         \
		if (a)                                                                             \
			a->field = p ? p + n : NULL;                                               \
		n += k_;                                                                           \
	} while (0)
	TAKE(x, (d.L + 1) * N * d.C);
	TAKE(ln1, d.L * N * d.C);
	TAKE(ln1_rstd, d.L * N);
	TAKE(qkv, d.L * N * d.QKV);
	TAKE(att, d.L * TT);
	TAKE(atty, d.L * N * d.HD);
	TAKE(xmid, d.L * N * d.C);
	TAKE(ln2, d.L * N * d.C);
	TAKE(ln2_rstd, d.L * N);
	TAKE(gu, d.L * N * 2 * d.F);
	TAKE(hff, d.L * N * d.F);
	TAKE(lnf, N * d.C);
	TAKE(lnf_rstd, N);
	TAKE(logits, N * d.V);
	TAKE(losses, N);
	TAKE(dx, N * d.C);
	TAKE(dtmp, N * d.C);
	TAKE(dqkv, N * d.QKV);
	TAKE(datty, N * d.HD);
	TAKE(datt, TT);
	TAKE(dgu, N * 2 * d.F);
	TAKE(dhff, N * d.F);
#undef TAKE
	return n;
}

size_t tower_act_floats(int B, int T, const struct tower_config *c)
{
	return carve_acts(NULL, NULL, B, T, c);
}

static void free_acts(struct tower_acts *a)
{
	if (!a)
		return;
	free(a->mem);
	free(a->tokens);
	free(a->targets);
	free(a);
}

void tower_alloc_train(struct tower *t, int B, int T)
{
	if (!t->grads) {
		t->grads = xcalloc(t->n_params, sizeof(float));
		carve(&t->g, t->grads, &t->cfg);
	}
	tower_alloc_acts(t, B, T);
}

void tower_alloc_acts(struct tower *t, int B, int T)
{
	/* A smaller batch fits in the same layout: every piece is sized for B x T. */
	if (t->acts && t->acts->B >= B && t->acts->T >= T)
		return;
	free_acts(t->acts);
	struct tower_acts *a = xcalloc(1, sizeof *a);
	a->B = B;
	a->T = T;
	size_t n = carve_acts(a, NULL, B, T, &t->cfg);
	a->mem = xcalloc(n, sizeof(float));
	carve_acts(a, a->mem, B, T, &t->cfg);
	a->tokens = xcalloc((size_t)B * T, sizeof(int32_t));
	a->targets = xcalloc((size_t)B * T, sizeof(int32_t));
	t->acts = a;
}

static void free_tensors(struct tower *t)
{
	for (size_t i = 0; i < t->n_tensors; i++)
		free(t->tensors[i].name);
	free(t->tensors);
	t->tensors = NULL;
	t->n_tensors = 0;
}

void tower_set_prefix(struct tower *t, const char *prefix)
{
	free_tensors(t);
	free(t->prefix);
	t->prefix = xstrdup(prefix);
	build_tensors(t);
}

void tower_free(struct tower *t)
{
	if (!t)
		return;
	free_tensors(t);
	free(t->prefix);
	free(t->params);
	free(t->grads);
	free(t->rope_cos);
	free(t->rope_sin);
	free(t->bf16);
	free_acts(t->acts);
	free(t);
}

/* ---- training forward and backward ---- */

/* One decoder layer of the last batch: x[l] -> x[l+1]. */
static void layer_forward(struct tower *t, size_t l)
{
	struct tower_acts *a = t->acts;
	struct dims d = dims_of(&t->cfg);
	const struct tower_weights *w = &t->w;
	int B = a->b, T = a->tt, N = B * T, C = (int)d.C, F = (int)d.F, QKV = (int)d.QKV, HD = (int)d.HD;
	size_t NC = (size_t)N * C;
	float eps = (float)t->cfg.norm_eps;
	float *x = a->x + l * NC, *xmid = a->xmid + l * NC, *xout = a->x + (l + 1) * NC;
	float *ln1 = a->ln1 + l * NC, *qkv = a->qkv + l * N * d.QKV, *atty = a->atty + l * N * d.HD;
	float *ln2 = a->ln2 + l * NC, *gu = a->gu + l * N * 2 * d.F, *hff = a->hff + l * N * d.F;
	rmsnorm_forward(ln1, a->ln1_rstd + l * N, x, w->ln1 + l * d.C, N, C, eps);
	matmul_forward(qkv, ln1, w->wqkv + l * d.QKV * d.C, N, C, QKV, 0);
	rope_forward(qkv, N, QKV, (int)(d.H + d.K), (int)d.D, T, 0, t->rope_cos, t->rope_sin);
	attention_forward(atty, a->att + l * B * d.H * T * T, qkv, B, T, (int)d.H, (int)d.K, (int)d.D);
	memcpy(xmid, x, NC * sizeof *x);
	matmul_forward(xmid, atty, w->wo + l * d.C * d.HD, N, HD, C, 1);
	rmsnorm_forward(ln2, a->ln2_rstd + l * N, xmid, w->ln2 + l * d.C, N, C, eps);
	matmul_forward(gu, ln2, w->wgu + l * 2 * d.F * d.C, N, C, 2 * F, 0);
	swiglu_forward(hff, gu, N, F);
	memcpy(xout, xmid, NC * sizeof *x);
	matmul_forward(xout, hff, w->wdown + l * d.C * d.F, N, F, C, 1);
}

void tower_forward_embed(struct tower *t, const int32_t *tokens, int B, int T)
{
	if (!t->acts || t->acts->B < B || t->acts->T < T)
		tower_alloc_train(t, B, T); /* allocates only the first time */
	struct tower_acts *a = t->acts;
	a->b = B;
	a->tt = T;
	memcpy(a->tokens, tokens, (size_t)B * T * sizeof *tokens);
	embedding_forward(a->x, tokens, t->w.embed, B * T, t->cfg.d_model);
}

void tower_forward_layers(struct tower *t, int l0, int l1)
{
	for (int l = l0; l < l1; l++)
		layer_forward(t, (size_t)l);
}

double tower_forward_head(struct tower *t, const int32_t *targets, int *count)
{
	struct tower_acts *a = t->acts;
	int N = a->b * a->tt, C = t->cfg.d_model, L = t->cfg.n_layers;
	rmsnorm_forward(a->lnf, a->lnf_rstd, a->x + (size_t)L * N * C, t->w.norm, N, C, (float)t->cfg.norm_eps);
	matmul_forward(a->logits, a->lnf, t->w.lm_head, N, C, t->cfg.vocab, 0);
	a->count = 0;
	double loss = 0.0;
	if (targets) {
		memcpy(a->targets, targets, (size_t)N * sizeof *targets);
		loss = crossentropy_forward(a->losses, a->logits, targets, N, t->cfg.vocab, &a->count);
	}
	if (count)
		*count = a->count;
	return loss;
}

double tower_forward(struct tower *t, const int32_t *tokens, const int32_t *targets, int B, int T)
{
	tower_forward_embed(t, tokens, B, T);
	tower_forward_layers(t, 0, t->cfg.n_layers);
	return tower_forward_head(t, targets, NULL);
}

float *tower_stream(const struct tower *t, int l)
{
	const struct tower_acts *a = t->acts;
	return a->x + (size_t)l * a->b * a->tt * t->cfg.d_model;
}

float *tower_dstream(const struct tower *t)
{
	return t->acts->dx;
}

const float *tower_logits(const struct tower *t)
{
	return t->acts ? t->acts->logits : NULL;
}

void tower_zero_grad(struct tower *t)
{
	if (t->grads)
		memset(t->grads, 0, t->n_params * sizeof *t->grads);
}

static void zero(float *p, size_t n)
{
	memset(p, 0, n * sizeof *p);
}

/* A weight's gradient, or NULL in a frozen tower (no gradients). */
static float *grad_of(const struct tower *t, float *g)
{
	return t->grads ? g : NULL;
}

/* a->dx = d(x[l+1]) -> d(x[l]), accumulating the layer's weight gradients. */
static void layer_backward(struct tower *t, size_t l)
{
	struct tower_acts *a = t->acts;
	struct dims d = dims_of(&t->cfg);
	const struct tower_weights *w = &t->w;
	const struct tower_weights *g = &t->g;
	int B = a->b, T = a->tt, N = B * T, C = (int)d.C, F = (int)d.F, QKV = (int)d.QKV, HD = (int)d.HD;
	size_t NC = (size_t)N * C;
	float *x = a->x + l * NC, *xmid = a->xmid + l * NC;
	float *ln1 = a->ln1 + l * NC, *qkv = a->qkv + l * N * d.QKV, *atty = a->atty + l * N * d.HD;
	float *ln2 = a->ln2 + l * NC, *gu = a->gu + l * N * 2 * d.F, *hff = a->hff + l * N * d.F;
	/* xout = xmid + hff wdown^T; dx is d(xout) and, through the residual, d(xmid) */
	zero(a->dhff, (size_t)N * F);
	matmul_backward(a->dhff, grad_of(t, g->wdown + l * d.C * d.F), a->dx, hff, w->wdown + l * d.C * d.F, N,
			F, C);
	zero(a->dgu, (size_t)N * 2 * F);
	swiglu_backward(a->dgu, a->dhff, gu, N, F);
	zero(a->dtmp, NC);
	matmul_backward(a->dtmp, grad_of(t, g->wgu + l * 2 * d.F * d.C), a->dgu, ln2, w->wgu + l * 2 * d.F * d.C,
			N, C, 2 * F);
	rmsnorm_backward(a->dx, grad_of(t, g->ln2 + l * d.C), a->dtmp, xmid, w->ln2 + l * d.C,
			 a->ln2_rstd + l * N, N, C);
	/* xmid = x + atty wo^T */
	zero(a->datty, (size_t)N * HD);
	matmul_backward(a->datty, grad_of(t, g->wo + l * d.C * d.HD), a->dx, atty, w->wo + l * d.C * d.HD, N, HD,
			C);
	zero(a->dqkv, (size_t)N * QKV);
	attention_backward(a->dqkv, a->datt, a->datty, qkv, a->att + l * B * d.H * T * T, B, T, (int)d.H,
			   (int)d.K, (int)d.D);
	rope_backward(a->dqkv, N, QKV, (int)(d.H + d.K), (int)d.D, T, 0, t->rope_cos, t->rope_sin);
	zero(a->dtmp, NC);
	matmul_backward(a->dtmp, grad_of(t, g->wqkv + l * d.QKV * d.C), a->dqkv, ln1, w->wqkv + l * d.QKV * d.C,
			N, C, QKV);
	rmsnorm_backward(a->dx, grad_of(t, g->ln1 + l * d.C), a->dtmp, x, w->ln1 + l * d.C, a->ln1_rstd + l * N,
			 N, C);
}

void tower_backward_head(struct tower *t, int count)
{
	struct tower_acts *a = t->acts;
	const struct tower_weights *g = &t->g;
	int N = a->b * a->tt, C = t->cfg.d_model, L = t->cfg.n_layers;
	size_t NC = (size_t)N * C;
	zero(a->dx, NC);
	if (!a->count)
		return; /* no targets: the head does not touch the loss */
	crossentropy_backward(a->logits, a->targets, N, t->cfg.vocab, count > 0 ? count : a->count);
	zero(a->dtmp, NC);
	matmul_backward(a->dtmp, grad_of(t, g->lm_head), a->logits, a->lnf, t->w.lm_head, N, C, t->cfg.vocab);
	rmsnorm_backward(a->dx, grad_of(t, g->norm), a->dtmp, a->x + (size_t)L * NC, t->w.norm, a->lnf_rstd, N,
			 C);
}

void tower_backward_layers(struct tower *t, int l1, int l0)
{
	for (int l = l1; l-- > l0;)
		layer_backward(t, (size_t)l);
}

void tower_backward_embed(struct tower *t)
{
	struct tower_acts *a = t->acts;
	if (t->grads)
		embedding_backward(t->g.embed, a->dx, a->tokens, a->b * a->tt, t->cfg.d_model);
}

void tower_backward(struct tower *t)
{
	tower_backward_head(t, 0);
	tower_backward_layers(t, t->cfg.n_layers, 0);
	tower_backward_embed(t);
}

/* ---- inference with a kv cache ---- */

struct tower_cache {
	int B, cap, chunk, nthreads;
	size_t kd, kv_floats; /* K*D; L*B*cap*K*D */
	float *k, *v;         /* (L,B,K*D,cap): keys transposed; (L,B,cap,K*D) */
	float *k2, *v2;       /* the same, for reordering */
	float *x, *ln, *atty; /* (B*chunk,C) (B*chunk,C) (B*chunk,HD) */
	float *qkv;           /* (B*chunk,QKV) */
	float *gu, *hff;      /* (B*chunk,2F) (B*chunk,F) */
	float *scores;        /* (nthreads, chunk, cap) */
	float *last;          /* (B,C) final-norm rows of the last tokens */
	float *rstd;          /* (B*chunk) */
	float *logits;        /* (B*chunk,V) */
};

struct tower_cache *tower_cache_new(const struct tower *t, int B, int cap, int chunk)
{
	struct dims d = dims_of(&t->cfg);
	struct tower_cache *c = xcalloc(1, sizeof *c);
	size_t N = (size_t)B * chunk, kv = d.L * (size_t)B * cap * d.K * d.D;
	c->B = B;
	c->cap = cap;
	c->chunk = chunk;
	c->nthreads = omp_get_max_threads();
	c->kd = d.K * d.D;
	c->kv_floats = kv;
	c->k = xcalloc(kv, sizeof(float));
	c->v = xcalloc(kv, sizeof(float));
	c->x = xmallocarray(N * d.C, sizeof(float));
	c->ln = xmallocarray(N * d.C, sizeof(float));
	c->atty = xmallocarray(N * d.HD, sizeof(float));
	c->qkv = xmallocarray(N * d.QKV, sizeof(float));
	c->gu = xmallocarray(N * 2 * d.F, sizeof(float));
	c->hff = xmallocarray(N * d.F, sizeof(float));
	c->scores = xmallocarray((size_t)c->nthreads * chunk * cap, sizeof(float));
	c->last = xmallocarray((size_t)B * d.C, sizeof(float));
	c->rstd = xmallocarray(N, sizeof(float));
	c->logits = xmallocarray(N * d.V, sizeof(float));
	return c;
}

void tower_cache_free(struct tower_cache *c)
{
	if (!c)
		return;
	free(c->k), free(c->v), free(c->k2), free(c->v2);
	free(c->x), free(c->ln), free(c->atty), free(c->qkv), free(c->gu), free(c->hff);
	free(c->scores), free(c->last), free(c->rstd), free(c->logits);
	free(c);
}

int tower_cache_batch(const struct tower_cache *c)
{
	return c->B;
}

/* One new query against S cached positions (decoding): scores (S), softmax,
 * weighted sum of the values. The keys are stored transposed (kt: D rows of
 * `cap` positions), so both products are row-major transposed matrix-vector
 * products, which OpenBLAS streams without a horizontal sum per key. */
static void attend_one(float *o, float *sc, const float *q, const float *kt, const float *v, int S, int cap,
		       int KD, int D, float scale)
{
	cblas_sgemv(CblasRowMajor, CblasTrans, D, S, scale, kt, cap, q, 1, 0.0f, sc, 1);
	float mx = -INFINITY;
	for (int j = 0; j < S; j++)
		mx = sc[j] > mx ? sc[j] : mx;
	float sum = exp_shifted_sum(sc, S, mx);
	cblas_sgemv(CblasRowMajor, CblasTrans, S, D, 1.0f / sum, v, KD, sc, 1, 0.0f, o, 1);
}

/* Attention of T new queries per sequence against the cached keys
 * [0, pos0+T): query t sees positions up to pos0+t. */
static void cached_attention(float *out, float *scores_all, const float *qkv, const float *kc,
			     const float *vc, int B, int T, int pos0, int cap, const struct dims *d, int nthreads)
{
	int H = (int)d->H, K = (int)d->K, D = (int)d->D, QKV = (int)d->QKV, HD = (int)d->HD, G = H / K;
	int KD = K * D, S = pos0 + T;
	float scale = 1.0f / sqrtf((float)D);
#pragma omp parallel for collapse(2) schedule(dynamic, 1) num_threads(nthreads)
	for (int b = 0; b < B; b++)
		for (int h = 0; h < H; h++) {
			float *sc = scores_all + (size_t)omp_get_thread_num() * T * cap;
			int kv = h / G;
			const float *q = qkv + (size_t)b * T * QKV + (size_t)h * D;
			const float *kt = kc + ((size_t)b * KD + (size_t)kv * D) * cap;
			const float *v = vc + (size_t)b * cap * KD + (size_t)kv * D;
			float *o = out + (size_t)b * T * HD + (size_t)h * D;
			if (T == 1) {
				attend_one(o, sc, q, kt, v, S, cap, KD, D, scale);
				continue;
			}
			/* blocks of queries [r0,r1) see keys [0,pos0+r1): the products skip
			 * most of the masked triangle of a long prompt */
			for (int r0 = 0; r0 < T; r0 += ATT_BLOCK) {
				int r1 = r0 + ATT_BLOCK < T ? r0 + ATT_BLOCK : T, M = r1 - r0, SB = pos0 + r1;
				cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, SB, D, scale,
					    q + (size_t)r0 * QKV, QKV, kt, cap, 0.0f, sc, cap);
				for (int t = 0; t < M; t++)
					softmax_prefix(sc + (size_t)t * cap, pos0 + r0 + t + 1, SB);
				cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, D, SB, 1.0f, sc, cap, v, KD,
					    0.0f, o + (size_t)r0 * HD, HD);
			}
		}
}

void tower_use_bf16(struct tower *t)
{
	if (!t->bf16)
		t->bf16 = xmallocarray(t->n_params, sizeof *t->bf16);
	for (size_t i = 0; i < t->n_params; i++)
		t->bf16[i] = float_to_bf16(t->params[i]);
}

/* A linear layer of the cached forward: bf16 weights for a few tokens when asked. */
static void cached_linear(const struct tower *t, float *out, const float *inp, const float *w, int N, int C,
			  int OC, int accumulate)
{
	if (t->bf16 && N <= 4)
		matvec_bf16(out, inp, t->bf16 + (w - t->params), N, C, OC, accumulate);
	else
		matmul_forward(out, inp, w, N, C, OC, accumulate);
}

void tower_cache_embed(const struct tower *t, struct tower_cache *c, const int32_t *tokens, int T, int pos0)
{
	if (T > c->chunk || pos0 + T > c->cap || pos0 + T > t->cfg.max_seq)
		abort(); /* the caller sized the cache */
	embedding_forward(c->x, tokens, t->w.embed, c->B * T, t->cfg.d_model);
}

void tower_cache_layers(const struct tower *t, struct tower_cache *c, int l0, int l1, int T, int pos0)
{
	struct dims d = dims_of(&t->cfg);
	const struct tower_weights *w = &t->w;
	int B = c->B, N = B * T, C = (int)d.C, F = (int)d.F, QKV = (int)d.QKV, HD = (int)d.HD;
	int KD = (int)(d.K * d.D);
	float eps = (float)t->cfg.norm_eps;
	for (size_t l = (size_t)l0; l < (size_t)l1; l++) {
		float *kc = c->k + l * B * (size_t)c->cap * KD, *vc = c->v + l * B * (size_t)c->cap * KD;
		rmsnorm_forward(c->ln, c->rstd, c->x, w->ln1 + l * d.C, N, C, eps);
		cached_linear(t, c->qkv, c->ln, w->wqkv + l * d.QKV * d.C, N, C, QKV, 0);
		rope_forward(c->qkv, N, QKV, (int)(d.H + d.K), (int)d.D, T, pos0, t->rope_cos, t->rope_sin);
		for (int b = 0; b < B; b++) { /* append this chunk's keys (transposed) and values */
			const float *kb = c->qkv + (size_t)b * T * QKV + d.HD;
			cblas_somatcopy(CblasRowMajor, CblasTrans, T, KD, 1.0f, kb, QKV, kc + (size_t)b * KD * c->cap + pos0,
					c->cap);
			for (int n = 0; n < T; n++)
				memcpy(vc + ((size_t)b * c->cap + pos0 + n) * KD, kb + (size_t)n * QKV + KD,
				       (size_t)KD * sizeof(float));
		}
		cached_attention(c->atty, c->scores, c->qkv, kc, vc, B, T, pos0, c->cap, &d, c->nthreads);
		cached_linear(t, c->x, c->atty, w->wo + l * d.C * d.HD, N, HD, C, 1);
		rmsnorm_forward(c->ln, c->rstd, c->x, w->ln2 + l * d.C, N, C, eps);
		cached_linear(t, c->gu, c->ln, w->wgu + l * 2 * d.F * d.C, N, C, 2 * F, 0);
		swiglu_forward(c->hff, c->gu, N, F);
		cached_linear(t, c->x, c->hff, w->wdown + l * d.C * d.F, N, F, C, 1);
	}
}

float *tower_cache_stream(const struct tower_cache *c)
{
	return c->x;
}

const float *tower_cache_head(const struct tower *t, struct tower_cache *c, int T, bool all_logits)
{
	int B = c->B, N = B * T, C = t->cfg.d_model, V = t->cfg.vocab;
	float eps = (float)t->cfg.norm_eps;
	if (all_logits) {
		rmsnorm_forward(c->ln, c->rstd, c->x, t->w.norm, N, C, eps);
		cached_linear(t, c->logits, c->ln, t->w.lm_head, N, C, V, 0);
		return c->logits;
	}
	for (int b = 0; b < B; b++)
		memcpy(c->last + (size_t)b * C, c->x + ((size_t)b * T + T - 1) * C, (size_t)C * sizeof(float));
	rmsnorm_forward(c->ln, c->rstd, c->last, t->w.norm, B, C, eps);
	cached_linear(t, c->logits, c->ln, t->w.lm_head, B, C, V, 0);
	return c->logits;
}

const float *tower_cache_forward(const struct tower *t, struct tower_cache *c, const int32_t *tokens,
				 int T, int pos0, bool all_logits)
{
	tower_cache_embed(t, c, tokens, T, pos0);
	tower_cache_layers(t, c, 0, t->cfg.n_layers, T, pos0);
	return tower_cache_head(t, c, T, all_logits);
}

void tower_cache_reorder(struct tower_cache *c, const int *src, int len)
{
	if (!c->k2) {
		c->k2 = xmallocarray(c->kv_floats, sizeof(float));
		c->v2 = xmallocarray(c->kv_floats, sizeof(float));
	}
	size_t seq = (size_t)c->cap * c->kd, n_layers = c->kv_floats / (seq * c->B);
	for (size_t l = 0; l < n_layers; l++)
		for (int b = 0; b < c->B; b++) {
			size_t to = (l * c->B + b) * seq, from = (l * c->B + src[b]) * seq;
			/* the keys are transposed: the first len of every row, i.e. the whole block */
			memcpy(c->k2 + to, c->k + from, seq * sizeof(float));
			memcpy(c->v2 + to, c->v + from, (size_t)len * c->kd * sizeof(float));
		}
	float *k = c->k, *v = c->v;
	c->k = c->k2, c->v = c->v2;
	c->k2 = k, c->v2 = v;
}

/* ---- model files ---- */

static char *find_prefix(const struct st_file *f)
{
	static const char suffix[] = "model.embed_tokens.weight";
	size_t ns = sizeof suffix - 1;
	char *found = NULL;
	for (size_t i = 0; i < f->n_tensors; i++) {
		const char *name = f->tensors[i].name;
		size_t n = strlen(name);
		if (n < ns || strcmp(name + n - ns, suffix))
			continue;
		if (found) {
			zerr_set("%s: holds more than one tower; name the one to use", f->path);
			free(found);
			return NULL;
		}
		found = xstrndup(name, n - ns);
	}
	if (!found)
		zerr_set("%s: no tensor named ...model.embed_tokens.weight: not a tower", f->path);
	return found;
}

int tower_file_config(const struct st_file *f, struct tower_config *c, struct tower_meta *m)
{
	if (!f->config) {
		zerr_set("%s: no zipper.config in the file (for a Hugging Face checkpoint, give its config.json)",
			 f->path);
		return -1;
	}
	if (st_check_version(f, TOWER_FILE_VERSION) < 0)
		return -1;
	if (tower_config_from_json(c, f->config) < 0) {
		zerr_prefix("%s", f->path);
		return -1;
	}
	if (m) {
		const cJSON *mod = cJSON_GetObjectItemCaseSensitive(f->config, "modality");
		const cJSON *eos = cJSON_GetObjectItemCaseSensitive(f->config, "eos");
		snprintf(m->modality, sizeof m->modality, "%s", cJSON_IsString(mod) ? mod->valuestring : "");
		m->eos = cJSON_IsNumber(eos) && eos->valuedouble >= 0 && eos->valuedouble < c->vocab
				 ? (int)eos->valuedouble
				 : -1;
	}
	return 0;
}

struct tower *tower_load(const struct st_file *f, const char *prefix, const struct tower_config *cfg)
{
	struct tower_config fc;
	if (!cfg) {
		if (tower_file_config(f, &fc, NULL) < 0)
			return NULL;
		cfg = &fc;
	}
	char *pre = prefix ? xstrdup(prefix) : find_prefix(f);
	if (!pre)
		return NULL;
	struct tower *t = tower_new(cfg, pre);
	const char **names = xmallocarray(t->n_tensors, sizeof *names);
	int rc = 0;
	for (size_t i = 0; i < t->n_tensors && !rc; i++) {
		const struct tower_tensor *x = &t->tensors[i];
		names[i] = x->name;
		/* F16 and BF16 (Hugging Face checkpoints) widen straight into
		 * the fp32 parameters: no copy besides them. */
		rc = st_read_f32(f, x->name, x->ndim, x->shape, t->params + x->offset);
	}
	/* Unknown names under a real prefix are a mistake; a bare Hugging Face
	 * file may carry extras (rotary buffers, a tied head) we do not need. */
	if (!rc && *pre)
		rc = st_check_names(f, pre, names, t->n_tensors);
	free(names);
	free(pre);
	if (rc) {
		tower_free(t);
		return NULL;
	}
	return t;
}

void tower_add_tensors(const struct tower *t, struct st_writer *w)
{
	for (size_t i = 0; i < t->n_tensors; i++) {
		const struct tower_tensor *x = &t->tensors[i];
		st_writer_add(w, x->name, ST_F32, x->ndim, x->shape, t->params + x->offset);
	}
}

cJSON *tower_file_json(const struct tower *t, const struct tower_meta *m)
{
	cJSON *cfg = tower_config_to_json(&t->cfg);
	if (m && m->modality[0])
		cJSON_AddStringToObject(cfg, "modality", m->modality);
	if (m && m->eos >= 0)
		cJSON_AddNumberToObject(cfg, "eos", m->eos);
	return cfg;
}

int tower_save(const struct tower *t, const char *path, const struct tower_meta *m)
{
	cJSON *cfg = tower_file_json(t, m);
	struct st_writer *w = st_writer_new("tower", TOWER_FILE_VERSION, cfg);
	cJSON_Delete(cfg);
	tower_add_tensors(t, w);
	int rc = st_writer_write(w, path);
	st_writer_free(w);
	return rc;
}
