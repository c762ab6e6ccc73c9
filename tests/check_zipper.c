/* Unit tests for the fused model: logits, loss and every gradient against
 * the PyTorch reference (tests/ref/zipper.py), frozen towers, the masking,
 * and the invariants of DESIGN §1: a freshly zipped model with residual
 * projections is each tower exactly; training with the text tower frozen
 * leaves it bit-identical. */
#include "config.h"

#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fusedata.h"
#include "fusegen.h"
#include "optim.h"
#include "rng.h"
#include "safetensors.h"
#include "xalloc.h"
#include "xattn.h"
#include "zerr.h"
#include "zipper.h"

#ifndef SRCDIR
#define SRCDIR "."
#endif

static const char *const mods[2] = {"text", "speech"};

static char *data_path(const char *name)
{
	const char *top = getenv("top_srcdir");
	return xasprintf("%s/tests/data/%s", top ? top : SRCDIR, name);
}

/* max |a-b| relative to the reference's largest magnitude. */
static double rel_err(const float *a, const float *b, size_t n)
{
	double diff = 0, mag = 1e-12;
	for (size_t i = 0; i < n; i++) {
		diff = fmax(diff, fabs((double)a[i] - b[i]));
		mag = fmax(mag, fabs((double)b[i]));
	}
	return diff / mag;
}

static const struct st_tensor *ref_tensor(const struct st_file *f, const char *name, enum st_dtype t)
{
	const struct st_tensor *x = st_find(f, name);
	ck_assert_msg(x && x->dtype == t, "fixture tensor %s", name);
	return x;
}

struct fixture {
	struct st_file f;
	struct zipper *z;
	struct zipper_batch b;
};

/* The paper's blocks, and ours with rotary positions (tests/ref/zipper.py). */
static const char *const fixtures[] = {"zipper-ref.safetensors", "zipper-rope-ref.safetensors"};

static void open_fixture(struct fixture *fx, const char *fixture)
{
	char *p = data_path(fixture);
	ck_assert_msg(st_open(&fx->f, p) == 0, "%s", zerr_msg());
	free(p);
	fx->z = zipper_load(&fx->f);
	ck_assert_msg(fx->z != NULL, "%s", zerr_msg());
	char name[64];
	for (int m = 0; m < 2; m++) {
		snprintf(name, sizeof name, "ref.%s.tokens", mods[m]);
		const struct st_tensor *x = ref_tensor(&fx->f, name, ST_I32);
		fx->b.B = (int)x->shape[0];
		fx->b.T[m] = (int)x->shape[1];
		fx->b.tokens[m] = (int32_t *)x->data;
		snprintf(name, sizeof name, "ref.%s.targets", mods[m]);
		fx->b.targets[m] = (int32_t *)ref_tensor(&fx->f, name, ST_I32)->data;
		snprintf(name, sizeof name, "ref.%s.pos", mods[m]);
		fx->b.pos[m] = (int32_t *)ref_tensor(&fx->f, name, ST_I32)->data;
	}
}

static void close_fixture(struct fixture *fx)
{
	zipper_free(fx->z);
	st_close(&fx->f);
}

static void check_grad(const struct st_file *f, const char *name, const float *g, size_t count)
{
	char *gname = xasprintf("grad.%s", name);
	const struct st_tensor *x = ref_tensor(f, gname, ST_F32);
	ck_assert_uint_eq(x->count, count);
	double e = rel_err(g, x->data, count);
	ck_assert_msg(e <= 1e-4, "gradient of %s: relative error %g", name, e);
	free(gname);
}

/* Forward and backward of a fixture's batch, with towers frozen as asked;
 * compares logits, loss and the gradients that exist. */
static void run_reference(const char *fixture, bool freeze_text)
{
	struct fixture fx;
	open_fixture(&fx, fixture);
	struct zipper *z = fx.z;
	bool frozen[2] = {freeze_text, false};
	zipper_alloc_train(z, frozen, fx.b.B, fx.b.T);
	double loss = zipper_forward(z, &fx.b);
	double want = ((const float *)ref_tensor(&fx.f, "ref.loss", ST_F32)->data)[0];
	ck_assert_msg(fabs(loss - want) <= 1e-5 * fabs(want), "loss %.7f, reference %.7f", loss, want);
	for (int m = 0; m < 2; m++) {
		char name[64];
		snprintf(name, sizeof name, "ref.%s.logits", mods[m]);
		const struct st_tensor *x = ref_tensor(&fx.f, name, ST_F32);
		ck_assert_uint_eq(x->count, (size_t)fx.b.B * fx.b.T[m] * z->cfg.tower[m].vocab);
		double e = rel_err(zipper_logits(z, m), x->data, x->count);
		ck_assert_msg(e <= 1e-5, "%s logits: relative error %g", mods[m], e);
	}
	zipper_zero_grad(z);
	zipper_backward(z);
	for (int m = 0; m < 2; m++) {
		const struct tower *t = z->tower[m];
		ck_assert(m == 0 && freeze_text ? t->grads == NULL : t->grads != NULL);
		for (size_t i = 0; t->grads && i < t->n_tensors; i++)
			check_grad(&fx.f, t->tensors[i].name, t->grads + t->tensors[i].offset, t->tensors[i].count);
	}
	for (size_t i = 0; i < z->table.n_tensors; i++) {
		const struct tower_tensor *x = &z->table.tensors[i];
		check_grad(&fx.f, x->name, z->grads + x->offset, x->count);
	}
	close_fixture(&fx);
}

START_TEST(test_ref_logits_loss_and_gradients)
{
	run_reference(fixtures[_i], false);
}
END_TEST

START_TEST(test_frozen_text_tower_has_no_gradients)
{
	run_reference(fixtures[_i], true);
}
END_TEST

START_TEST(test_rope_rate_is_in_the_config)
{
	struct fixture fx;
	open_fixture(&fx, fixtures[1]);
	ck_assert(fx.z->cfg.rope_rate == 2.5);
	ck_assert(fx.z->xa[ZM_TEXT][0].rope.qscale == 2.5f && fx.z->xa[ZM_TEXT][0].rope.kscale == 1.0f);
	ck_assert(fx.z->xa[ZM_SPEECH][1].rope.qscale == 1.0f && fx.z->xa[ZM_SPEECH][1].rope.kscale == 2.5f);
	cJSON *j = zipper_config_to_json(&fx.z->cfg);
	struct zipper_config back;
	ck_assert_msg(zipper_config_from_json(&back, j) == 0, "%s", zerr_msg());
	ck_assert(back.rope_rate == 2.5);
	cJSON_ReplaceItemInObject(j, "xattn_stages", cJSON_CreateNumber(-5e9));
	ck_assert_int_eq(zipper_config_from_json(&back, j), -1);
	ck_assert_str_eq(zerr_msg(), "config: \"xattn_stages\" -5000000000 is out of range (-1000000000..1000000000)");
	cJSON_AddItemToObject(j, "gate_init", cJSON_CreateNumber(1)); /* a second gate_init */
	ck_assert_int_eq(zipper_config_from_json(&back, j), -1);
	ck_assert_str_eq(zerr_msg(), "config: duplicate key \"gate_init\"");
	cJSON_AddItemToObject(cJSON_GetObjectItemCaseSensitive(j, "speech"), "d_ff", cJSON_CreateNumber(8));
	cJSON_DeleteItemFromObject(j, "gate_init"); /* the first */
	ck_assert_int_eq(zipper_config_from_json(&back, j), -1);
	ck_assert_str_eq(zerr_msg(), "speech tower: config: duplicate key \"d_ff\"");
	cJSON_Delete(j);
	close_fixture(&fx);
	open_fixture(&fx, fixtures[0]); /* absent: the paper's, none */
	ck_assert(fx.z->cfg.rope_rate == 0.0 && fx.z->xa[ZM_TEXT][0].rope.qscale == 0.0f);
	close_fixture(&fx);
}
END_TEST

START_TEST(test_visible_prefix)
{
	int32_t kpos[2 * 4] = {0, 1, 2, 9, 5, 6, 7, INT32_MAX};
	int32_t qpos[2 * 3] = {3, 4, 10, 0, 8, INT32_MAX};
	int32_t nvis[6], want[6] = {3, 3, 4, 0, 3, 3};
	xattn_visible(nvis, qpos, kpos, 2, 3, 4);
	ck_assert(memcmp(nvis, want, sizeof want) == 0);
}
END_TEST

/* A fused config of two random towers, residual projections, gates 0,
 * rotary positions in the blocks at rope_rate (0: none). */
static struct zipper *fresh(struct rng *r, double rope_rate)
{
	struct zipper_config c = {0};
	for (int m = 0; m < 2; m++) {
		tower_config_default(&c.tower[m]);
		c.tower[m].vocab = m ? 21 : 33;
		c.tower[m].d_model = m ? 16 : 24;
		c.tower[m].n_layers = m ? 2 : 4;
		c.tower[m].n_heads = m ? 2 : 3;
		c.tower[m].n_kv_heads = c.tower[m].n_heads;
		c.tower[m].d_ff = m ? 24 : 40;
		c.tower[m].max_seq = 32;
		c.tower[m].tie_embeddings = true;
		c.every[m] = m ? 1 : 2;
		c.proj[m] = INPROJ_RESIDUAL;
		c.bos[m] = c.tower[m].vocab - 2;
		c.eos[m] = c.tower[m].vocab - 1;
	}
	c.stages = 2;
	c.rope_rate = rope_rate;
	ck_assert_msg(zipper_config_check(&c) == 0, "%s", zerr_msg());
	struct zipper *z = zipper_new(&c, r);
	for (int m = 0; m < 2; m++)
		tower_init_random(z->tower[m], r);
	return z;
}

/* An ASR-like batch: row b is [speech Ts][text Tt]; targets on text. */
static void asr_batch(struct zipper_batch *b, const struct zipper *z, int B, const int T[2], struct rng *r)
{
	fuse_batch_alloc(b, B, T);
	for (int m = 0; m < 2; m++) {
		size_t n = (size_t)B * T[m];
		for (size_t i = 0; i < n; i++) {
			b->tokens[m][i] = (int32_t)rng_below(r, (uint64_t)z->cfg.tower[m].vocab);
			b->pos[m][i] = (int32_t)(i % (size_t)T[m]) + (m == ZM_TEXT ? T[ZM_SPEECH] : 0);
		}
		for (size_t i = 0; i < n; i++)
			b->targets[m][i] = m == ZM_TEXT && (i + 1) % (size_t)T[m] ? b->tokens[m][i + 1] : -1;
	}
}


START_TEST(test_fresh_zip_is_each_tower_exactly)
{
	struct rng r;
	rng_seed(&r, 5);
	struct zipper *z = fresh(&r, 0.0);
	struct zipper_batch b;
	int T[2] = {7, 11};
	asr_batch(&b, z, 3, T, &r);
	zipper_forward(z, &b);
	for (int m = 0; m < 2; m++) {
		size_t n = (size_t)b.B * T[m] * z->cfg.tower[m].vocab;
		float *fused = xmallocarray(n, sizeof(float));
		memcpy(fused, zipper_logits(z, m), n * sizeof(float));
		struct tower *alone = tower_new(&z->cfg.tower[m], "x.");
		memcpy(alone->params, z->tower[m]->params, alone->n_params * sizeof(float));
		tower_forward(alone, b.tokens[m], NULL, b.B, T[m]);
		ck_assert_msg(memcmp(fused, tower_logits(alone), n * sizeof(float)) == 0,
			      "%s logits differ from the tower's own", mods[m]);
		tower_free(alone);
		free(fused);
	}
	fuse_batch_free(&b);
	zipper_free(z);
}
END_TEST

static double text_loss(struct tower *t, const struct zipper_batch *b)
{
	struct tower *alone = tower_new(&t->cfg, "x.");
	memcpy(alone->params, t->params, alone->n_params * sizeof(float));
	double loss = tower_forward(alone, b->tokens[ZM_TEXT], b->targets[ZM_TEXT], b->B, b->T[ZM_TEXT]);
	tower_free(alone);
	return loss;
}

START_TEST(test_frozen_text_tower_stays_bit_identical)
{
	struct rng r;
	rng_seed(&r, 9);
	struct zipper *z = fresh(&r, 0.0);
	struct zipper_batch b;
	int T[2] = {6, 9};
	asr_batch(&b, z, 2, T, &r);
	size_t n = z->tower[ZM_TEXT]->n_params;
	float *before = xmallocarray(n, sizeof(float));
	memcpy(before, z->tower[ZM_TEXT]->params, n * sizeof(float));
	double ppl0 = text_loss(z->tower[ZM_TEXT], &b);
	bool frozen[2] = {true, false};
	zipper_alloc_train(z, frozen, b.B, T);
	struct zipper_part parts[3];
	int np = zipper_parts(z, parts);
	ck_assert_int_eq(np, 2); /* speech tower and the fused extras */
	struct adamw opt[3];
	for (int i = 0; i < np; i++)
		adamw_init(&opt[i], parts[i].n);
	struct optim_config oc;
	optim_config_default(&oc);
	oc.lr = 1e-2, oc.clip = 1.0;
	double first = 0, last = 0;
	for (int step = 0; step < 20; step++) {
		last = zipper_forward(z, &b);
		if (!step)
			first = last;
		zipper_zero_grad(z);
		zipper_backward(z);
		zipper_adamw_step(parts, np, opt, &oc, oc.lr);
	}
	ck_assert_msg(last < first, "loss did not fall: %g -> %g", first, last);
	ck_assert_msg(z->xa[ZM_TEXT][0].w.attn_gate[0] != 0.0f, "the gates did not move");
	ck_assert(memcmp(before, z->tower[ZM_TEXT]->params, n * sizeof(float)) == 0);
	ck_assert(text_loss(z->tower[ZM_TEXT], &b) == ppl0);
	for (int i = 0; i < np; i++)
		adamw_free(&opt[i]);
	zipper_parts_free(parts, np);
	free(before);
	fuse_batch_free(&b);
	zipper_free(z);
}
END_TEST

START_TEST(test_save_and_load_roundtrip)
{
	struct rng r;
	rng_seed(&r, 3);
	struct zipper *z = fresh(&r, 0.0);
	char path[] = "/tmp/zipper-check-XXXXXX";
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	ck_assert_msg(zipper_save(z, path) == 0, "%s", zerr_msg());
	struct st_file f;
	ck_assert_msg(st_open(&f, path) == 0, "%s", zerr_msg());
	struct zipper *y = zipper_load(&f);
	ck_assert_msg(y != NULL, "%s", zerr_msg());
	ck_assert(memcmp(y->params, z->params, z->n_params * sizeof(float)) == 0);
	for (int m = 0; m < 2; m++)
		ck_assert(memcmp(y->tower[m]->params, z->tower[m]->params, z->tower[m]->n_params * sizeof(float)) == 0);
	ck_assert(memcmp(&y->cfg, &z->cfg, sizeof y->cfg) == 0);
	zipper_free(y);
	st_close(&f);
	remove(path);
	zipper_free(z);
}
END_TEST

/* The generation tests run without and with positions in the blocks. */
static const double rope_rates[] = {0.0, 1.7};

/* Gates open, so cross-attention matters. */
static void open_gates(struct zipper *z, struct rng *r)
{
	for (int m = 0; m < 2; m++)
		for (int n = 0; n < z->cfg.stages; n++) {
			z->xa[m][n].w.attn_gate[0] = (float)(0.5 + 0.3 * rng_normal(r));
			z->xa[m][n].w.ff_gate[0] = (float)(0.5 + 0.3 * rng_normal(r));
		}
}

/* Generation's cached path (input encoded once, output decoded with kv
 * cache and cross-attention) gives the training forward's logits, for ASR
 * and TTS, fed all at once and token by token. */
START_TEST(test_generation_matches_training_forward)
{
	struct rng r;
	rng_seed(&r, 11);
	struct zipper *z = fresh(&r, rope_rates[_i]);
	open_gates(z, &r);
	for (int out = 0; out < 2; out++) {
		int in = 1 - out, n_in = 6, n_out = 5, V = z->cfg.tower[out].vocab;
		int32_t ids[2][8];
		for (int i = 0; i < 8; i++)
			for (int m = 0; m < 2; m++)
				ids[m][i] = (int32_t)rng_below(&r, (uint64_t)z->cfg.tower[m].vocab - 2);
		struct fuse_data d = {.n = 1};
		int32_t *tok[2] = {ids[0], ids[1]};
		size_t len[2];
		len[in] = (size_t)n_in;
		len[out] = (size_t)n_out;
		d.tok[0] = &tok[0], d.tok[1] = &tok[1], d.len[0] = &len[0], d.len[1] = &len[1];
		struct zipper_batch b;
		int T[2] = {10, 10}, task = out == ZM_TEXT ? TASK_ASR : TASK_TTS;
		size_t idx = 0;
		fuse_batch_alloc(&b, 1, T);
		fuse_batch_fill(&b, &d, &idx, &task, 1, &z->cfg);
		zipper_forward(z, &b);
		const float *want = zipper_logits(z, out);
		float *ref = xmallocarray((size_t)b.T[out] * V, sizeof(float));
		memcpy(ref, want, (size_t)b.T[out] * V * sizeof(float));

		struct fusegen *g = fusegen_new(z, out, 1, 8);
		struct decode_model dm;
		fusegen_model(g, &dm);
		ck_assert_int_eq(fusegen_encode(g, ids[in], (size_t)n_in), 0);
		const float *all = dm.forward(dm.ctx, b.tokens[out], b.T[out], 0, true);
		double e = rel_err(all, ref, (size_t)b.T[out] * V);
		ck_assert_msg(e <= 1e-5, "out %d: cached logits, relative error %g", out, e);
		ck_assert_int_eq(fusegen_encode(g, ids[in], (size_t)n_in), 0);
		for (int i = 0; i < b.T[out]; i++) {
			const float *one = dm.forward(dm.ctx, b.tokens[out] + i, 1, i, false);
			e = rel_err(one, ref + (size_t)i * V, (size_t)V);
			ck_assert_msg(e <= 1e-5, "out %d: token %d, relative error %g", out, i, e);
		}
		fusegen_free(g);
		free(ref);
		fuse_batch_free(&b);
	}
	zipper_free(z);
}
END_TEST

/* A chain (zip-generate --output-modalities): input a in modality A, a
 * first output segment b in B, then a second segment c back in A. Seeded
 * with fusegen_chain(), the second generator's logits over [bos a eos][bos
 * c] are the training forward's over the linear sequence [a][b][c]. */
START_TEST(test_chain_matches_training_forward)
{
	struct rng r;
	rng_seed(&r, 12);
	struct zipper *z = fresh(&r, rope_rates[_i]);
	open_gates(z, &r);
	for (int first = 0; first < 2; first++) {
		int A = 1 - first, n_a = 5, n_b = 4, n_c = 4;
		int Ta = n_a + 3 + n_c, Tb = n_b + 2, V = z->cfg.tower[A].vocab;
		struct zipper_batch b;
		int T[2];
		T[A] = Ta, T[first] = Tb;
		fuse_batch_alloc(&b, 1, T);
		b.T[A] = Ta, b.T[first] = Tb;
		for (int m = 0; m < 2; m++)
			for (int i = 0; i < T[m]; i++) {
				b.tokens[m][i] = (int32_t)rng_below(&r, (uint64_t)z->cfg.tower[m].vocab - 2);
				b.targets[m][i] = -1;
			}
		int32_t *ta = b.tokens[A], *tb = b.tokens[first];
		ta[0] = z->cfg.bos[A], ta[n_a + 1] = z->cfg.eos[A], ta[n_a + 2] = z->cfg.bos[A];
		tb[0] = z->cfg.bos[first], tb[Tb - 1] = z->cfg.eos[first];
		for (int i = 0; i < Ta; i++) /* [a] at 0.., [b] after it, then [c] */
			b.pos[A][i] = i < n_a + 2 ? i : i + Tb;
		for (int j = 0; j < Tb; j++)
			b.pos[first][j] = n_a + 2 + j;
		zipper_forward(z, &b);
		float *ref = xmallocarray((size_t)Ta * V, sizeof(float));
		memcpy(ref, zipper_logits(z, A), (size_t)Ta * V * sizeof(float));

		struct fusegen *g1 = fusegen_new(z, first, 2, 8), *g2 = fusegen_new(z, A, 2, 30);
		struct decode_model dm;
		fusegen_model(g2, &dm);
		ck_assert_int_eq(fusegen_encode(g1, ta + 1, (size_t)n_a), 0);
		ck_assert_int_eq(fusegen_chain(g2, g1, tb, Tb, n_a + 2), 0);
		int32_t feed[2 * 12];
		memcpy(feed, ta, sizeof(int32_t) * Ta);
		memcpy(feed + Ta, ta, sizeof(int32_t) * Ta);
		const float *all = dm.forward(dm.ctx, feed, Ta, 0, true);
		for (int row = 0; row < 2; row++) {
			double e = rel_err(all + (size_t)row * Ta * V, ref, (size_t)Ta * V);
			ck_assert_msg(e <= 1e-5, "first %d, row %d: chained logits, relative error %g", first, row, e);
		}
		ck_assert_int_eq(fusegen_chain(g2, g1, tb, 40, n_a + 2), -1);
		fusegen_free(g1);
		fusegen_free(g2);
		free(ref);
		fuse_batch_free(&b);
	}
	zipper_free(z);
}
END_TEST

static Suite *zipper_suite(void)
{
	Suite *s = suite_create("zipper");
	TCase *tc = tcase_create("zipper");
	tcase_add_loop_test(tc, test_ref_logits_loss_and_gradients, 0, 2);
	tcase_add_loop_test(tc, test_frozen_text_tower_has_no_gradients, 0, 2);
	tcase_add_test(tc, test_rope_rate_is_in_the_config);
	tcase_add_test(tc, test_visible_prefix);
	tcase_add_test(tc, test_fresh_zip_is_each_tower_exactly);
	tcase_add_test(tc, test_frozen_text_tower_stays_bit_identical);
	tcase_add_test(tc, test_save_and_load_roundtrip);
	tcase_add_loop_test(tc, test_generation_matches_training_forward, 0, 2);
	tcase_add_loop_test(tc, test_chain_matches_training_forward, 0, 2);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(zipper_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
