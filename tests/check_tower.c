/* Unit tests for the decoder engine: ops, tower, optim against the PyTorch
 * reference (tests/ref/tower.py), finite differences, the kv cache. */
#include "config.h"

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu.h"
#include "matvec.h"
#include "ops.h"
#include "optim.h"
#include "vecmath.h"
#include "rng.h"
#include "safetensors.h"
#include "tower.h"
#include "xalloc.h"
#include "zerr.h"

#ifndef SRCDIR
#define SRCDIR "."
#endif

static char *data_path(const char *name)
{
	const char *top = getenv("top_srcdir");
	return xasprintf("%s/tests/data/%s", top ? top : SRCDIR, name);
}

/* max |a-b| over the tensor, relative to the reference's largest magnitude:
 * per-element relative error means nothing for entries that are ~0. */
static double rel_err(const float *a, const float *b, size_t n)
{
	double diff = 0, mag = 1e-12;
	for (size_t i = 0; i < n; i++) {
		diff = fmax(diff, fabs((double)a[i] - b[i]));
		mag = fmax(mag, fabs((double)b[i]));
	}
	return diff / mag;
}

static const float *ref_f32(const struct st_file *f, const char *name, size_t count)
{
	const struct st_tensor *x = st_find(f, name);
	ck_assert_msg(x && x->dtype == ST_F32 && x->count == count, "fixture tensor %s", name);
	return x->data;
}

static const int32_t *ref_i32(const struct st_file *f, const char *name, size_t count)
{
	const struct st_tensor *x = st_find(f, name);
	ck_assert_msg(x && x->dtype == ST_I32 && x->count == count, "fixture tensor %s", name);
	return x->data;
}

struct fixture {
	struct st_file f;
	struct tower *t;
	int B, T;
	const int32_t *tokens, *targets;
};

static void open_fixture(struct fixture *fx)
{
	char *p = data_path("tower-ref.safetensors");
	ck_assert_msg(st_open(&fx->f, p) == 0, "%s", zerr_msg());
	free(p);
	fx->t = tower_load(&fx->f, "text.", NULL);
	ck_assert_msg(fx->t != NULL, "%s", zerr_msg());
	const struct st_tensor *tok = st_find(&fx->f, "ref.tokens");
	ck_assert_ptr_nonnull(tok);
	fx->B = (int)tok->shape[0];
	fx->T = (int)tok->shape[1];
	fx->tokens = ref_i32(&fx->f, "ref.tokens", (size_t)fx->B * fx->T);
	fx->targets = ref_i32(&fx->f, "ref.targets", (size_t)fx->B * fx->T);
}

static void close_fixture(struct fixture *fx)
{
	tower_free(fx->t);
	st_close(&fx->f);
}

/* "text.model.x" -> "grad.model.x" */
static char *renamed(const char *name, const char *prefix)
{
	return xasprintf("%s%s", prefix, strchr(name, '.') + 1);
}

START_TEST(test_ref_logits_loss_and_gradients)
{
	struct fixture fx;
	open_fixture(&fx);
	struct tower *t = fx.t;
	size_t N = (size_t)fx.B * fx.T, V = (size_t)t->cfg.vocab;
	double loss = tower_forward(t, fx.tokens, fx.targets, fx.B, fx.T);
	double want = ref_f32(&fx.f, "ref.loss", 1)[0];
	ck_assert_msg(fabs(loss - want) <= 1e-5 * fabs(want), "loss %.7f, reference %.7f", loss, want);
	double e = rel_err(tower_logits(t), ref_f32(&fx.f, "ref.logits", N * V), N * V);
	ck_assert_msg(e <= 1e-5, "logits: relative error %g", e);
	tower_zero_grad(t);
	tower_backward(t);
	for (size_t i = 0; i < t->n_tensors; i++) {
		const struct tower_tensor *x = &t->tensors[i];
		char *name = renamed(x->name, "grad.");
		e = rel_err(t->grads + x->offset, ref_f32(&fx.f, name, x->count), x->count);
		ck_assert_msg(e <= 1e-4, "gradient of %s: relative error %g", x->name, e);
		free(name);
	}
	close_fixture(&fx);
}
END_TEST

static struct optim_group *groups_of(const struct tower *t)
{
	struct optim_group *g = xcalloc(t->n_tensors, sizeof *g);
	for (size_t i = 0; i < t->n_tensors; i++)
		g[i] = (struct optim_group){t->tensors[i].offset, t->tensors[i].count, t->tensors[i].decay};
	return g;
}

static double cfg_num(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	ck_assert_msg(cJSON_IsNumber(v), "fixture opt.%s", key);
	return v->valuedouble;
}

START_TEST(test_ref_three_adamw_steps)
{
	struct fixture fx;
	open_fixture(&fx);
	struct tower *t = fx.t;
	const cJSON *o = cJSON_GetObjectItemCaseSensitive(fx.f.config, "opt");
	struct optim_config oc;
	optim_config_default(&oc);
	oc.lr = cfg_num(o, "lr");
	oc.warmup = (long)cfg_num(o, "warmup");
	oc.steps = (long)cfg_num(o, "steps");
	oc.min_lr_ratio = cfg_num(o, "min_lr_ratio");
	oc.weight_decay = cfg_num(o, "weight_decay");
	oc.beta1 = cfg_num(o, "beta1");
	oc.beta2 = cfg_num(o, "beta2");
	oc.eps = cfg_num(o, "eps");
	oc.clip = cfg_num(o, "clip");
	int run = (int)cfg_num(o, "run_steps");
	const float *lrs = ref_f32(&fx.f, "ref.lr", (size_t)run);
	struct optim_group *groups = groups_of(t);
	struct adamw opt;
	adamw_init(&opt, t->n_params);
	for (int s = 0; s < run; s++) {
		double lr = optim_lr(&oc, s);
		ck_assert_msg(fabs(lr - lrs[s]) <= 1e-7 * lrs[s], "lr of step %d: %g, reference %g", s, lr, lrs[s]);
		tower_forward(t, fx.tokens, fx.targets, fx.B, fx.T);
		tower_zero_grad(t);
		tower_backward(t);
		adamw_step(&opt, &oc, t->params, t->grads, groups, t->n_tensors, lr, NULL);
	}
	for (size_t i = 0; i < t->n_tensors; i++) {
		const struct tower_tensor *x = &t->tensors[i];
		char *name = renamed(x->name, "step3.");
		double e = rel_err(t->params + x->offset, ref_f32(&fx.f, name, x->count), x->count);
		ck_assert_msg(e <= 1e-4, "%s after %d steps: relative error %g", x->name, run, e);
		free(name);
	}
	adamw_free(&opt);
	free(groups);
	close_fixture(&fx);
}
END_TEST

static cJSON *read_json(const char *path)
{
	FILE *f = fopen(path, "rb");
	ck_assert_ptr_nonnull(f);
	char buf[4096];
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = 0;
	cJSON *j = cJSON_Parse(buf);
	ck_assert_ptr_nonnull(j);
	return j;
}

START_TEST(test_hugging_face_checkpoint_loads_as_a_tower)
{
	struct fixture fx;
	open_fixture(&fx);
	char *p = data_path("tower-hf.safetensors"), *pj = data_path("tower-hf.json");
	struct st_file hf;
	ck_assert_msg(st_open(&hf, p) == 0, "%s", zerr_msg());
	ck_assert_ptr_null(hf.kind);
	struct tower_config c;
	cJSON *j = read_json(pj);
	ck_assert_msg(tower_config_from_json(&c, j) == 0, "%s", zerr_msg());
	cJSON_Delete(j);
	struct tower *t = tower_load(&hf, NULL, &c);
	ck_assert_msg(t != NULL, "%s", zerr_msg());
	ck_assert_str_eq(t->prefix, "");
	ck_assert_int_eq(t->cfg.n_kv_heads, fx.t->cfg.n_kv_heads);
	size_t n = (size_t)fx.B * fx.T * c.vocab;
	tower_forward(t, fx.tokens, NULL, fx.B, fx.T);
	double e = rel_err(tower_logits(t), ref_f32(&fx.f, "ref.logits", n), n);
	ck_assert_msg(e <= 1e-5, "logits: relative error %g", e);
	/* Without a config there is nothing to build the tower from. */
	ck_assert_ptr_null(tower_load(&hf, NULL, NULL));
	ck_assert_ptr_nonnull(strstr(zerr_msg(), "config"));
	tower_free(t);
	st_close(&hf);
	free(p);
	free(pj);
	close_fixture(&fx);
}
END_TEST

/* tests/ref/tower_hf.py: the same checkpoint rounded to BF16 and to F16;
 * loaded (widened to fp32), each gives PyTorch's logits for the rounded
 * weights upcast to fp32. */
START_TEST(test_hugging_face_bf16_f16_checkpoints)
{
	char *pr = data_path("tower-hf-ref.safetensors"), *pj = data_path("tower-hf.json");
	struct st_file ref;
	ck_assert_msg(st_open(&ref, pr) == 0, "%s", zerr_msg());
	struct tower_config c;
	cJSON *j = read_json(pj);
	ck_assert_msg(tower_config_from_json(&c, j) == 0, "%s", zerr_msg());
	cJSON_Delete(j);
	const struct st_tensor *tok = st_find(&ref, "ref.tokens");
	ck_assert_ptr_nonnull(tok);
	int B = (int)tok->shape[0], T = (int)tok->shape[1];
	const int32_t *tokens = ref_i32(&ref, "ref.tokens", (size_t)B * T);
	size_t n = (size_t)B * T * c.vocab;
	const char *kinds[][3] = {{"tower-hf-bf16.safetensors", "ref.logits.bf16", "BF16"},
				  {"tower-hf-f16.safetensors", "ref.logits.f16", "F16"}};
	for (int k = 0; k < 2; k++) {
		char *p = data_path(kinds[k][0]);
		struct st_file hf;
		ck_assert_msg(st_open(&hf, p) == 0, "%s", zerr_msg());
		ck_assert_str_eq(st_dtype_name(st_find(&hf, "model.norm.weight")->dtype), kinds[k][2]);
		struct tower *t = tower_load(&hf, NULL, &c);
		ck_assert_msg(t != NULL, "%s", zerr_msg());
		tower_forward(t, tokens, NULL, B, T);
		double e = rel_err(tower_logits(t), ref_f32(&ref, kinds[k][1], n), n);
		ck_assert_msg(e <= 1e-5, "%s logits: relative error %g", kinds[k][2], e);
		tower_free(t);
		st_close(&hf);
		free(p);
	}
	st_close(&ref);
	free(pr);
	free(pj);
}
END_TEST

static struct tower *tiny_tower(bool tied, uint64_t seed)
{
	struct tower_config c;
	tower_config_default(&c);
	c.vocab = 11;
	c.d_model = 8;
	c.n_layers = 2;
	c.n_heads = 2;
	c.n_kv_heads = 1;
	c.d_ff = 12;
	c.max_seq = 32;
	c.tie_embeddings = tied;
	struct tower *t = tower_new(&c, "speech.");
	struct rng r;
	rng_seed(&r, seed);
	for (size_t i = 0; i < t->n_params; i++)
		t->params[i] = (float)(0.4 * rng_normal(&r));
	return t;
}

static double loss_at(struct tower *t, const int32_t *tok, const int32_t *tgt, int B, int T)
{
	return tower_forward(t, tok, tgt, B, T);
}

START_TEST(test_finite_differences_every_tensor)
{
	for (int tied = 0; tied < 2; tied++) {
		struct tower *t = tiny_tower(tied, 5 + tied);
		enum { B = 2, T = 6 };
		int32_t tok[B * T], tgt[B * T];
		struct rng r;
		rng_seed(&r, 99);
		for (int i = 0; i < B * T; i++) {
			tok[i] = (int32_t)rng_below(&r, 11);
			tgt[i] = (int32_t)rng_below(&r, 11);
		}
		tgt[4] = -1;
		loss_at(t, tok, tgt, B, T);
		tower_zero_grad(t);
		tower_backward(t);
		for (size_t i = 0; i < t->n_tensors; i++) {
			const struct tower_tensor *x = &t->tensors[i];
			size_t picks[3] = {0, (size_t)rng_below(&r, x->count), x->count - 1};
			for (int k = 0; k < 3; k++) {
				float *p = t->params + x->offset + picks[k], save = *p;
				double g = t->grads[x->offset + picks[k]], best = INFINITY;
				/* Two step sizes: truncation error shrinks with eps,
				 * float rounding grows; one of them must agree. */
				for (double eps = 1e-2; eps > 1e-3; eps /= 4) {
					*p = (float)(save + eps);
					double up = loss_at(t, tok, tgt, B, T);
					*p = (float)(save - eps);
					double down = loss_at(t, tok, tgt, B, T);
					*p = save;
					double fd = (up - down) / (2 * eps);
					best = fmin(best, fabs(fd - g) / (1e-3 + fabs(g)));
				}
				ck_assert_msg(best <= 2e-2, "%s[%zu] (tied %d): gradient %g, finite differences off by %g",
					      x->name, picks[k], tied, g, best);
			}
		}
		tower_free(t);
	}
}
END_TEST

/* The decoding products against a double-precision sum, on sizes that
 * leave partial vectors and partial 4-row blocks, through the AVX-512 and
 * AVX2 kernels (where the CPU has them) and the portable loops. */
START_TEST(test_matvec_matches_reference)
{
	static const int Cs[] = {1, 17, 64, 100}, OCs[] = {1, 5, 64, 67};
	struct rng r;
	rng_seed(&r, 5);
	for (int level = CPU_LEVEL_AVX512; level >= CPU_LEVEL_PORTABLE; level--) {
		cpu_cap((enum cpu_level)level);
		for (int N = 1; N <= 4; N++)
			for (size_t ci = 0; ci < 4; ci++)
				for (size_t oi = 0; oi < 4; oi++) {
					int C = Cs[ci], OC = OCs[oi];
					float *w = xmallocarray((size_t)OC * C, sizeof *w), *x = xmallocarray((size_t)N * C, sizeof *x);
					float *y = xmallocarray((size_t)N * OC, sizeof *y), *y16 = xmallocarray((size_t)N * OC, sizeof *y16);
					uint16_t *w16 = xmallocarray((size_t)OC * C, sizeof *w16);
					for (int i = 0; i < OC * C; i++) {
						w[i] = (float)rng_normal(&r);
						w16[i] = float_to_bf16(w[i]);
					}
					for (int i = 0; i < N * C; i++)
						x[i] = (float)rng_normal(&r);
					for (int i = 0; i < N * OC; i++)
						y[i] = y16[i] = 1.0f;
					int acc = (N + (int)oi) % 2;
					matvec_f32(y, x, w, N, C, OC, acc);
					matvec_bf16(y16, x, w16, N, C, OC, acc);
					for (int n = 0; n < N; n++)
						for (int o = 0; o < OC; o++) {
							double s = acc, s16 = acc, mag = 1;
							for (int i = 0; i < C; i++) {
								float wb = st_bf16_to_f32(w16[(size_t)o * C + i]);
								s += (double)w[(size_t)o * C + i] * x[n * C + i];
								s16 += (double)wb * x[n * C + i];
								mag += fabs((double)w[(size_t)o * C + i] * x[n * C + i]);
							}
							ck_assert_msg(fabs(y[n * OC + o] - s) <= 1e-6 * mag &&
									      fabs(y16[n * OC + o] - s16) <= 1e-6 * mag,
								      "N %d C %d OC %d level %d: row %d col %d", N, C, OC,
								      level, n, o);
						}
					free(w), free(x), free(y), free(y16), free(w16);
				}
	}
	cpu_cap(CPU_LEVEL_AVX512);
}
END_TEST

/* The exponential loops against double precision, vectorised and portable:
 * e^x over the whole float range softmax and SwiGLU use (with partial
 * vectors), and SiLU with its gradient. */
START_TEST(test_vecmath_matches_double)
{
	enum { N = 487 };
	float x[N], g[N], u[N], d[N], out[N], dg[N], du[N];
	struct rng r;
	rng_seed(&r, 8);
	for (int level = CPU_LEVEL_AVX512; level >= CPU_LEVEL_PORTABLE; level--) {
		cpu_cap((enum cpu_level)level);
		float arg[N]; /* what the loop exponentiates, rounded to float as it is there */
		for (int i = 0; i < N; i++) {
			x[i] = -100.0f + 0.37f * (float)i; /* to 80 */
			arg[i] = x[i] - 1.5f;
		}
		double sum = 0;
		float got = exp_shifted_sum(x, N, 1.5f);
		for (int i = 0; i < N; i++) {
			double e = exp((double)arg[i]);
			sum += e;
			ck_assert_msg(fabs(x[i] - e) <= 3e-7 * e + 1e-37, "e^%g: %g, not %g (level %d)", arg[i],
				      x[i], e, level);
		}
		ck_assert(fabs(got - sum) <= 1e-6 * sum);
		/* NaN stays NaN, overflow is inf, underflow 0, in and out of the vector share */
		static const float args[4] = {NAN, 100.0f, -200.0f, 0.0f}, want[4] = {NAN, INFINITY, 0.0f, 1.0f};
		float special[17];
		for (int i = 0; i < 17; i++)
			special[i] = args[i % 4];
		exp_shifted_sum(special, 17, 0.0f);
		for (int i = 0; i < 17; i++) {
			bool ok = isnan(want[i % 4]) ? isnan(special[i]) : special[i] == want[i % 4];
			ck_assert_msg(ok, "e^%g: %g (level %d)", args[i % 4], special[i], level);
		}
		for (int i = 0; i < N; i++) {
			g[i] = (float)(6 * rng_normal(&r)), u[i] = (float)rng_normal(&r), d[i] = (float)rng_normal(&r);
			dg[i] = du[i] = 0.5f;
		}
		silu_mul(out, g, u, N);
		silu_mul_backward(dg, du, d, g, u, N);
		for (int i = 0; i < N; i++) {
			double sg = 1 / (1 + exp(-(double)g[i])), silu = g[i] * sg;
			double want_dg = 0.5 + (double)d[i] * u[i] * sg * (1 + g[i] * (1 - sg));
			double want_du = 0.5 + (double)d[i] * silu;
			ck_assert(fabs(out[i] - silu * u[i]) <= 1e-6 * (fabs(silu * u[i]) + 1e-30));
			ck_assert(fabs(dg[i] - want_dg) <= 1e-6 * (fabs(want_dg) + 1));
			ck_assert(fabs(du[i] - want_du) <= 1e-6 * (fabs(want_du) + 1));
		}
	}
	cpu_cap(CPU_LEVEL_AVX512);
}
END_TEST

START_TEST(test_kv_cache_matches_full_forward)
{
	struct tower *t = tiny_tower(false, 11);
	enum { B = 2, T = 12, P = 5 };
	int32_t tok[B * T];
	struct rng r;
	rng_seed(&r, 3);
	for (int i = 0; i < B * T; i++)
		tok[i] = (int32_t)rng_below(&r, 11);
	tower_forward(t, tok, NULL, B, T);
	const float *full = tower_logits(t);
	int V = t->cfg.vocab;
	struct tower_cache *c = tower_cache_new(t, B, T, P);
	/* prefill P tokens with every logit, then one token at a time */
	int32_t chunk[B * P];
	for (int b = 0; b < B; b++)
		memcpy(chunk + b * P, tok + b * T, P * sizeof *chunk);
	const float *lg = tower_cache_forward(t, c, chunk, P, 0, true);
	for (int b = 0; b < B; b++) {
		double e = rel_err(lg + (size_t)b * P * V, full + (size_t)b * T * V, (size_t)P * V);
		ck_assert_msg(e <= 1e-5, "prefill logits: %g", e);
	}
	for (int pos = P; pos < T; pos++) {
		int32_t one[B];
		for (int b = 0; b < B; b++)
			one[b] = tok[b * T + pos];
		lg = tower_cache_forward(t, c, one, 1, pos, false);
		for (int b = 0; b < B; b++) {
			double e = rel_err(lg + (size_t)b * V, full + ((size_t)b * T + pos) * V, (size_t)V);
			ck_assert_msg(e <= 1e-5, "decode logits at %d: %g", pos, e);
		}
	}
	/* Swapping the two sequences' caches swaps what comes next. */
	int src[B] = {1, 0};
	tower_cache_reorder(c, src, T - 1);
	int32_t last[B] = {tok[1 * T + T - 1], tok[0 * T + T - 1]};
	lg = tower_cache_forward(t, c, last, 1, T - 1, false);
	ck_assert(rel_err(lg, full + ((size_t)1 * T + T - 1) * V, (size_t)V) <= 1e-5);
	/* The same step with bfloat16 weights: close to fp32, not equal. */
	tower_use_bf16(t);
	lg = tower_cache_forward(t, c, last, 1, T - 1, false);
	double e16 = rel_err(lg, full + ((size_t)1 * T + T - 1) * V, (size_t)V);
	ck_assert_msg(e16 <= 3e-2 && e16 > 0, "bf16 decode logits: relative error %g", e16);
	free(t->bf16);
	t->bf16 = NULL;
	tower_cache_free(c);
	tower_free(t);
}
END_TEST

/* A prompt longer than one block of the prompt attention (64 query rows),
 * then a second chunk at an offset, then single tokens: all as the full
 * forward, for two sequences at once. */
START_TEST(test_long_prompt_in_blocks_matches_full_forward)
{
	struct tower_config cfg;
	tower_config_default(&cfg);
	cfg.vocab = 11, cfg.d_model = 16, cfg.n_layers = 2, cfg.n_heads = 4, cfg.n_kv_heads = 2, cfg.d_ff = 24;
	cfg.max_seq = 160;
	struct tower *t = tower_new(&cfg, "text.");
	struct rng r;
	rng_seed(&r, 9);
	for (size_t i = 0; i < t->n_params; i++)
		t->params[i] = (float)(0.3 * rng_normal(&r));
	enum { B = 2, T = 150, P1 = 140, P2 = 6 };
	int32_t tok[B * T];
	for (int i = 0; i < B * T; i++)
		tok[i] = (int32_t)rng_below(&r, 11);
	tower_forward(t, tok, NULL, B, T);
	const float *full = tower_logits(t);
	int V = cfg.vocab;
	struct tower_cache *c = tower_cache_new(t, B, T, P1);
	int32_t chunk[B * P1];
	int spans[][2] = {{0, P1}, {P1, P2}};
	for (int s = 0; s < 2; s++) {
		int pos0 = spans[s][0], len = spans[s][1];
		for (int b = 0; b < B; b++)
			memcpy(chunk + b * len, tok + b * T + pos0, (size_t)len * sizeof *chunk);
		const float *lg = tower_cache_forward(t, c, chunk, len, pos0, true);
		for (int b = 0; b < B; b++) {
			double e = rel_err(lg + (size_t)b * len * V, full + ((size_t)b * T + pos0) * V, (size_t)len * V);
			ck_assert_msg(e <= 1e-5, "chunk at %d: %g", pos0, e);
		}
	}
	for (int pos = P1 + P2; pos < T; pos++) {
		int32_t one[B] = {tok[pos], tok[T + pos]};
		const float *lg = tower_cache_forward(t, c, one, 1, pos, false);
		for (int b = 0; b < B; b++)
			ck_assert(rel_err(lg + (size_t)b * V, full + ((size_t)b * T + pos) * V, (size_t)V) <= 1e-5);
	}
	tower_cache_free(c);
	tower_free(t);
}
END_TEST

START_TEST(test_config_json_roundtrip_and_errors)
{
	struct tower_config c, d;
	tower_config_default(&c);
	c.vocab = 100, c.d_model = 64, c.n_layers = 3, c.n_heads = 4, c.n_kv_heads = 2, c.d_ff = 96;
	c.tie_embeddings = true;
	cJSON *j = tower_config_to_json(&c);
	ck_assert_int_eq(tower_config_from_json(&d, j), 0);
	ck_assert(memcmp(&c, &d, sizeof c) == 0);
	cJSON_ReplaceItemInObject(j, "n_kv_heads", cJSON_CreateNumber(3));
	ck_assert_int_eq(tower_config_from_json(&d, j), -1);
	ck_assert_ptr_nonnull(strstr(zerr_msg(), "n_kv_heads"));
	cJSON_ReplaceItemInObject(j, "d_ff", cJSON_CreateNumber(5e9));
	ck_assert_int_eq(tower_config_from_json(&d, j), -1);
	ck_assert_str_eq(zerr_msg(), "config: \"d_ff\" 5000000000 is out of range (at most 1000000000)");
	cJSON_DeleteItemFromObject(j, "vocab");
	ck_assert_int_eq(tower_config_from_json(&d, j), -1);
	ck_assert_str_eq(zerr_msg(), "config: missing \"vocab\"");
	cJSON_Delete(j);
}
END_TEST

START_TEST(test_lr_schedule_shape)
{
	struct optim_config c;
	optim_config_default(&c);
	c.lr = 1.0, c.warmup = 10, c.steps = 110, c.min_lr_ratio = 0.1;
	ck_assert_double_eq_tol(optim_lr(&c, 0), 0.1, 1e-12);
	ck_assert_double_eq_tol(optim_lr(&c, 9), 1.0, 1e-12);
	ck_assert_double_eq_tol(optim_lr(&c, 59), 0.55, 1e-12);
	ck_assert_double_eq_tol(optim_lr(&c, 109), 0.1, 1e-12);
	ck_assert_double_eq_tol(optim_lr(&c, 500), 0.1, 1e-12);
}
END_TEST

static Suite *tower_suite(void)
{
	Suite *s = suite_create("tower");
	TCase *tc = tcase_create("tower");
	tcase_add_test(tc, test_ref_logits_loss_and_gradients);
	tcase_add_test(tc, test_ref_three_adamw_steps);
	tcase_add_test(tc, test_hugging_face_checkpoint_loads_as_a_tower);
	tcase_add_test(tc, test_hugging_face_bf16_f16_checkpoints);
	tcase_add_test(tc, test_finite_differences_every_tensor);
	tcase_add_test(tc, test_matvec_matches_reference);
	tcase_add_test(tc, test_vecmath_matches_double);
	tcase_add_test(tc, test_kv_cache_matches_full_forward);
	tcase_add_test(tc, test_long_prompt_in_blocks_matches_full_forward);
	tcase_add_test(tc, test_config_json_roundtrip_and_errors);
	tcase_add_test(tc, test_lr_schedule_shape);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(tower_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
