/* zipper: the fused model (see zipper.h). */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops.h"
#include "safetensors.h"
#include "train.h"
#include "xalloc.h"
#include "zerr.h"
#include "zipper.h"

const char *const zm_names[2] = {"text", "speech"};

/* ---- configuration ---- */

int zipper_config_check(const struct zipper_config *c)
{
	if (!(c->rope_rate >= 0.0 && c->rope_rate <= 1e3)) {
		zerr_set("config: \"xattn_rope_rate\" must be between 0 and 1000");
		return -1;
	}
	for (int m = 0; m < 2; m++) {
		if (tower_config_check(&c->tower[m]) < 0) {
			zerr_prefix("%s tower", zm_names[m]);
			return -1;
		}
		if (c->every[m] < 1 || c->stages < 1 || (long)c->every[m] * c->stages > c->tower[m].n_layers) {
			zerr_set("config: %d cross-attention stages every %d layers do not fit the %s tower's %d layers",
				 c->stages, c->every[m], zm_names[m], c->tower[m].n_layers);
			return -1;
		}
		if (c->proj[m] < INPROJ_NONE || c->proj[m] > INPROJ_RESIDUAL) {
			zerr_set("config: bad input projection for the %s tower", zm_names[m]);
			return -1;
		}
		int V = c->tower[m].vocab;
		if (c->bos[m] < 0 || c->bos[m] >= V || c->eos[m] < 0 || c->eos[m] >= V) {
			zerr_set("config: %s start/end tokens %d/%d outside the vocabulary of %d", zm_names[m],
				 c->bos[m], c->eos[m], V);
			return -1;
		}
	}
	return 0;
}

cJSON *zipper_config_to_json(const struct zipper_config *c)
{
	cJSON *j = cJSON_CreateObject();
	char key[64];
	for (int m = 0; m < 2; m++) {
		cJSON *t = tower_config_to_json(&c->tower[m]);
		cJSON_AddStringToObject(t, "modality", zm_names[m]);
		cJSON_AddItemToObject(j, zm_names[m], t);
	}
	for (int m = 0; m < 2; m++) {
		snprintf(key, sizeof key, "xattn_every_%s", zm_names[m]);
		cJSON_AddNumberToObject(j, key, c->every[m]);
	}
	cJSON_AddNumberToObject(j, "xattn_stages", c->stages);
	for (int m = 0; m < 2; m++) {
		snprintf(key, sizeof key, "input_proj_%s", zm_names[m]);
		cJSON_AddStringToObject(j, key, inproj_name(c->proj[m]));
		snprintf(key, sizeof key, "%s_bos", zm_names[m]);
		cJSON_AddNumberToObject(j, key, c->bos[m]);
		snprintf(key, sizeof key, "%s_eos", zm_names[m]);
		cJSON_AddNumberToObject(j, key, c->eos[m]);
	}
	cJSON_AddNumberToObject(j, "gate_init", c->gate_init);
	if (c->rope_rate > 0.0)
		cJSON_AddNumberToObject(j, "xattn_rope_rate", c->rope_rate);
	return j;
}

static int get_int(const cJSON *j, const char *key, int *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
	if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble)) {
		zerr_set("config: \"%s\" must be an integer", key);
		return -1;
	}
	if (fabs(v->valuedouble) > 1e9) {
		zerr_set("config: \"%s\" %.15g is out of range (-1000000000..1000000000)", key, v->valuedouble);
		return -1;
	}
	*out = (int)v->valuedouble;
	return 0;
}

int zipper_config_from_json(struct zipper_config *c, const cJSON *j)
{
	memset(c, 0, sizeof *c);
	if (tower_config_unique_keys(j) < 0)
		return -1;
	char key[64];
	for (int m = 0; m < 2; m++) {
		if (tower_config_from_json(&c->tower[m], cJSON_GetObjectItemCaseSensitive(j, zm_names[m])) < 0) {
			zerr_prefix("%s tower", zm_names[m]);
			return -1;
		}
		snprintf(key, sizeof key, "xattn_every_%s", zm_names[m]);
		if (get_int(j, key, &c->every[m]) < 0)
			return -1;
		snprintf(key, sizeof key, "input_proj_%s", zm_names[m]);
		const cJSON *p = cJSON_GetObjectItemCaseSensitive(j, key);
		if (!cJSON_IsString(p) || (c->proj[m] = inproj_mode(p->valuestring)) < 0) {
			zerr_set("config: \"%s\" must be none, paper or residual", key);
			return -1;
		}
		snprintf(key, sizeof key, "%s_bos", zm_names[m]);
		if (get_int(j, key, &c->bos[m]) < 0)
			return -1;
		snprintf(key, sizeof key, "%s_eos", zm_names[m]);
		if (get_int(j, key, &c->eos[m]) < 0)
			return -1;
	}
	if (get_int(j, "xattn_stages", &c->stages) < 0)
		return -1;
	const cJSON *g = cJSON_GetObjectItemCaseSensitive(j, "gate_init");
	c->gate_init = cJSON_IsNumber(g) ? g->valuedouble : 0.0;
	const cJSON *rate = cJSON_GetObjectItemCaseSensitive(j, "xattn_rope_rate");
	c->rope_rate = cJSON_IsNumber(rate) ? rate->valuedouble : 0.0; /* absent: the paper's, no positions */
	return zipper_config_check(c);
}

/* ---- the model ---- */

/* Lays out (or counts, base NULL) the blocks and projections. */
static size_t carve_extras(struct zipper *z, float *base, float *gbase)
{
	const struct zipper_config *c = &z->cfg;
	struct carver pc = {.base = base, .names = base != NULL}, gc = {.base = gbase};
	for (int m = 0; m < 2; m++) {
		snprintf(pc.prefix, sizeof pc.prefix, "proj.%s.", zm_names[m]);
		inproj_carve(&z->proj[m], &pc, gbase ? &gc : NULL, c->proj[m], c->tower[m].d_model);
	}
	for (int m = 0; m < 2; m++)
		for (int n = 0; n < c->stages; n++) {
			const struct tower_config *t = &c->tower[m], *o = &c->tower[1 - m];
			snprintf(pc.prefix, sizeof pc.prefix, "xattn.%s.%d.", zm_names[m], n);
			xattn_carve(&z->xa[m][n], &pc, gbase ? &gc : NULL, t->d_model, o->d_model, t->n_heads, t->d_ff,
				    (float)t->norm_eps);
		}
	if (base)
		z->table = pc;
	return pc.n;
}

struct zipper *zipper_new(const struct zipper_config *c, struct rng *r)
{
	struct zipper *z = xcalloc(1, sizeof *z);
	z->cfg = *c;
	char prefix[16];
	for (int m = 0; m < 2; m++) {
		snprintf(prefix, sizeof prefix, "%s.", zm_names[m]);
		z->tower[m] = tower_new(&c->tower[m], prefix);
		z->xa[m] = xcalloc((size_t)c->stages, sizeof *z->xa[m]);
	}
	z->n_params = carve_extras(z, NULL, NULL);
	z->params = xcalloc(z->n_params + 1, sizeof(float));
	carve_extras(z, z->params, NULL);
	zipper_set_rope_rate(z, c->rope_rate);
	if (!r)
		return z; /* to be loaded */
	for (int m = 0; m < 2; m++)
		inproj_init(&z->proj[m], r);
	for (int m = 0; m < 2; m++)
		for (int n = 0; n < c->stages; n++)
			xattn_init(&z->xa[m][n], r, (float)c->gate_init);
	return z;
}

void zipper_set_rope_rate(struct zipper *z, double rate)
{
	z->cfg.rope_rate = rate;
	/* positions in speech tokens: a text position counts `rate` of them */
	struct xattn_rope none = {0.0f, 0.0f}, in_text = {(float)rate, 1.0f}, in_speech = {1.0f, (float)rate};
	for (int m = 0; m < 2; m++)
		for (int n = 0; n < z->cfg.stages; n++)
			z->xa[m][n].rope = rate <= 0.0 ? none : m == ZM_TEXT ? in_text : in_speech;
}

void zipper_free(struct zipper *z)
{
	if (!z)
		return;
	for (int m = 0; m < 2; m++) {
		tower_free(z->tower[m]);
		inproj_free(&z->proj[m]);
		for (int n = 0; n < z->cfg.stages; n++)
			xattn_free(&z->xa[m][n]);
		free(z->xa[m]);
	}
	carver_free(&z->table);
	free(z->params);
	free(z->grads);
	free(z);
}

/* Activations for B x T[m] (reused when they fit). */
static void alloc_acts(struct zipper *z, int B, const int T[2])
{
	for (int m = 0; m < 2; m++) {
		if (z->tower[m]->grads)
			tower_alloc_train(z->tower[m], B, T[m]);
		else
			tower_alloc_acts(z->tower[m], B, T[m]);
		inproj_alloc(&z->proj[m], B * T[m]);
		for (int n = 0; n < z->cfg.stages; n++)
			xattn_alloc(&z->xa[m][n], B, T[m], T[1 - m]);
	}
}

void zipper_alloc_train(struct zipper *z, const bool frozen[2], int B, const int T[2])
{
	if (!z->grads) {
		z->grads = xcalloc(z->n_params + 1, sizeof(float));
		carver_free(&z->table);
		carve_extras(z, z->params, z->grads); /* the same views, now with gradients */
	}
	for (int m = 0; m < 2; m++) {
		z->frozen[m] = frozen[m];
		if (!frozen[m])
			tower_alloc_train(z->tower[m], B, T[m]);
	}
	alloc_acts(z, B, T);
}

/* The stream index of stage n (0-based) in tower m. */
static int stage_layer(const struct zipper *z, int m, int n)
{
	return (n + 1) * z->cfg.every[m];
}

double zipper_forward(struct zipper *z, const struct zipper_batch *b)
{
	int B = b->B, prev[2] = {0, 0};
	alloc_acts(z, B, b->T);
	z->B = B;
	for (int m = 0; m < 2; m++) {
		z->T[m] = b->T[m];
		tower_forward_embed(z->tower[m], b->tokens[m], B, b->T[m]);
		inproj_forward(&z->proj[m], tower_stream(z->tower[m], 0), B * b->T[m]);
	}
	for (int n = 0; n < z->cfg.stages; n++) {
		for (int m = 0; m < 2; m++) {
			tower_forward_layers(z->tower[m], prev[m], stage_layer(z, m, n));
			prev[m] = stage_layer(z, m, n);
		}
		/* both blocks read the other stream before either adds into its own */
		for (int m = 0; m < 2; m++)
			xattn_forward_kv(&z->xa[m][n], tower_stream(z->tower[1 - m], prev[1 - m]), b->pos[1 - m], B,
					 b->T[1 - m]);
		for (int m = 0; m < 2; m++)
			xattn_forward(&z->xa[m][n], tower_stream(z->tower[m], prev[m]), b->pos[m], b->T[m], 0);
	}
	double sum = 0.0;
	int count = 0;
	for (int m = 0; m < 2; m++) {
		tower_forward_layers(z->tower[m], prev[m], z->cfg.tower[m].n_layers);
		z->loss[m] = tower_forward_head(z->tower[m], b->targets[m], &z->count[m]);
		sum += z->loss[m] * z->count[m];
		count += z->count[m];
	}
	return count ? sum / count : 0.0;
}

const float *zipper_logits(const struct zipper *z, int m)
{
	return tower_logits(z->tower[m]);
}

void zipper_zero_grad(struct zipper *z)
{
	for (int m = 0; m < 2; m++)
		tower_zero_grad(z->tower[m]);
	if (z->grads)
		memset(z->grads, 0, z->n_params * sizeof *z->grads);
}

void zipper_backward(struct zipper *z)
{
	int count = z->count[0] + z->count[1], prev[2];
	for (int m = 0; m < 2; m++) {
		tower_backward_head(z->tower[m], count);
		prev[m] = z->cfg.tower[m].n_layers;
	}
	for (int n = z->cfg.stages; n-- > 0;) {
		for (int m = 0; m < 2; m++) {
			tower_backward_layers(z->tower[m], prev[m], stage_layer(z, m, n));
			prev[m] = stage_layer(z, m, n);
		}
		for (int m = 0; m < 2; m++)
			xattn_backward(&z->xa[m][n], tower_dstream(z->tower[m]));
		for (int m = 0; m < 2; m++)
			residual_add(tower_dstream(z->tower[m]), xattn_dh(&z->xa[1 - m][n]),
				     (size_t)z->B * z->T[m] * z->cfg.tower[m].d_model);
	}
	for (int m = 0; m < 2; m++) {
		struct tower *t = z->tower[m];
		tower_backward_layers(t, prev[m], 0);
		inproj_backward(&z->proj[m], tower_dstream(t), z->B * z->T[m]);
		tower_backward_embed(t);
	}
}

/* ---- optimizer parts ---- */

static struct optim_group *groups_of(const struct tower_tensor *t, size_t n)
{
	struct optim_group *g = xcalloc(n + 1, sizeof *g);
	for (size_t i = 0; i < n; i++)
		g[i] = (struct optim_group){t[i].offset, t[i].count, t[i].decay};
	return g;
}

int zipper_parts(const struct zipper *z, struct zipper_part parts[3])
{
	int n = 0;
	for (int m = 0; m < 2; m++) {
		const struct tower *t = z->tower[m];
		if (z->frozen[m] || !t->grads)
			continue;
		parts[n++] = (struct zipper_part){zm_names[m], t->params, t->grads, t->n_params, t->n_tensors,
						  groups_of(t->tensors, t->n_tensors), t->tensors};
	}
	parts[n++] = (struct zipper_part){"fused", z->params, z->grads, z->n_params, z->table.n_tensors,
					  groups_of(z->table.tensors, z->table.n_tensors), z->table.tensors};
	return n;
}

void zipper_parts_free(struct zipper_part parts[3], int n)
{
	for (int i = 0; i < n; i++)
		free(parts[i].groups);
}

double zipper_adamw_step(const struct zipper_part *parts, int n, struct adamw *opt, const struct optim_config *c,
			 double lr)
{
	double ss = 0.0;
	for (int i = 0; i < n; i++) {
		double g = grad_norm(parts[i].grads, parts[i].n);
		ss += g * g;
	}
	double norm = sqrt(ss);
	/* clip_grad_norm_ over all the parts, then plain AdamW on each */
	if (c->clip > 0 && c->clip / (norm + 1e-6) < 1.0) {
		float gs = (float)(c->clip / (norm + 1e-6));
		for (int i = 0; i < n; i++)
			for (size_t k = 0; k < parts[i].n; k++)
				parts[i].grads[k] *= gs;
	}
	struct optim_config nc = *c;
	nc.clip = 0.0;
	for (int i = 0; i < n; i++)
		adamw_step(&opt[i], &nc, parts[i].params, parts[i].grads, parts[i].groups, parts[i].n_groups, lr,
			   NULL);
	return norm;
}

/* ---- files ---- */

struct st_writer *zipper_writer(const struct zipper *z)
{
	cJSON *cfg = zipper_config_to_json(&z->cfg);
	struct st_writer *w = st_writer_new("fused", ZIPPER_FILE_VERSION, cfg);
	cJSON_Delete(cfg);
	for (int m = 0; m < 2; m++)
		tower_add_tensors(z->tower[m], w);
	for (size_t i = 0; i < z->table.n_tensors; i++) {
		const struct tower_tensor *x = &z->table.tensors[i];
		st_writer_add(w, x->name, ST_F32, x->ndim, x->shape, z->params + x->offset);
	}
	return w;
}

int zipper_save(const struct zipper *z, const char *path)
{
	struct st_writer *w = zipper_writer(z);
	int rc = st_writer_write(w, path);
	st_writer_free(w);
	return rc;
}

/* The blocks' and projections' tensors, and no unknown one under xattn. or proj. */
static int load_extras(struct zipper *z, const struct st_file *f)
{
	const struct carver *c = &z->table;
	const char **names = xcalloc(c->n_tensors + 1, sizeof *names);
	int rc = 0;
	for (size_t i = 0; i < c->n_tensors && !rc; i++) {
		const struct tower_tensor *x = &c->tensors[i];
		names[i] = x->name;
		const float *src = st_get_f32(f, x->name, x->ndim, x->shape);
		if (!src)
			rc = -1;
		else
			memcpy(z->params + x->offset, src, x->count * sizeof(float));
	}
	if (!rc)
		rc = st_check_names(f, "xattn.", names, c->n_tensors);
	if (!rc)
		rc = st_check_names(f, "proj.", names, c->n_tensors);
	free(names);
	return rc;
}

int zipper_file_config(const struct st_file *f, struct zipper_config *c)
{
	if (!f->kind || strcmp(f->kind, "fused")) {
		zerr_set("%s: not a fused model (zipper.kind \"%s\")", f->path, f->kind ? f->kind : "");
		return -1;
	}
	if (st_check_version(f, ZIPPER_FILE_VERSION) < 0)
		return -1;
	if (!f->config || zipper_config_from_json(c, f->config) < 0) {
		if (!f->config)
			zerr_set("no zipper.config");
		zerr_prefix("%s", f->path);
		return -1;
	}
	return 0;
}

struct zipper *zipper_load(const struct st_file *f)
{
	struct zipper_config c;
	if (zipper_file_config(f, &c) < 0)
		return NULL;
	struct zipper *z = zipper_new(&c, NULL);
	for (int m = 0; m < 2; m++) {
		struct tower *t = tower_load(f, z->tower[m]->prefix, &c.tower[m]);
		if (!t) {
			zipper_free(z);
			return NULL;
		}
		memcpy(z->tower[m]->params, t->params, t->n_params * sizeof(float));
		tower_free(t);
	}
	if (load_extras(z, f) < 0) {
		zipper_free(z);
		return NULL;
	}
	return z;
}

/* ---- checkpoints ---- */

int zipper_checkpoint_save(const char *path, const struct zipper *z, const struct zipper_part *parts, int np,
			   const struct adamw *opt, const struct train_state *s, const char *options_json)
{
	struct st_writer *w = zipper_writer(z);
	size_t total = 0;
	for (int i = 0; i < np; i++)
		total += parts[i].n_groups;
	char **names = xcalloc(2 * total + 1, sizeof *names);
	size_t k = 0;
	for (int i = 0; i < np; i++)
		for (size_t g = 0; g < parts[i].n_groups; g++) {
			const struct tower_tensor *x = &parts[i].tensors[g];
			names[k] = xasprintf("optim.m.%s", x->name);
			st_writer_add(w, names[k++], ST_F32, x->ndim, x->shape, opt[i].m + x->offset);
			names[k] = xasprintf("optim.v.%s", x->name);
			st_writer_add(w, names[k++], ST_F32, x->ndim, x->shape, opt[i].v + x->offset);
		}
	train_state_save_meta(w, s, &opt[0], options_json);
	int rc = st_writer_write(w, path);
	st_writer_free(w);
	for (size_t i = 0; i < k; i++)
		free(names[i]);
	free(names);
	return rc;
}

static int load_moments(const struct st_file *f, const struct zipper_part *p, struct adamw *opt)
{
	char name[512];
	for (size_t g = 0; g < p->n_groups; g++) {
		const struct tower_tensor *x = &p->tensors[g];
		for (int k = 0; k < 2; k++) {
			snprintf(name, sizeof name, "optim.%s.%s", k ? "v" : "m", x->name);
			const float *src = st_get_f32(f, name, x->ndim, x->shape);
			if (!src)
				return -1;
			memcpy((k ? opt->v : opt->m) + x->offset, src, x->count * sizeof(float));
		}
	}
	return 0;
}

int zipper_checkpoint_load(const char *path, struct zipper *z, const struct zipper_part *parts, int np,
			   struct adamw *opt, struct train_state *s, const char *options_json)
{
	struct st_file f;
	if (st_open(&f, path) < 0)
		return -1;
	int rc = -1;
	struct zipper *saved = zipper_load(&f);
	if (!saved)
		goto out;
	if (memcmp(&saved->cfg, &z->cfg, sizeof z->cfg)) {
		zerr_set("%s: the checkpoint's model is configured differently", path);
		goto out;
	}
	for (int m = 0; m < 2; m++)
		memcpy(z->tower[m]->params, saved->tower[m]->params, z->tower[m]->n_params * sizeof(float));
	memcpy(z->params, saved->params, z->n_params * sizeof(float));
	for (int i = 0; i < np; i++)
		if (load_moments(&f, &parts[i], &opt[i]) < 0)
			goto out;
	if (train_state_load_meta(&f, &opt[0], s, options_json) < 0)
		goto out;
	for (int i = 1; i < np; i++)
		opt[i].t = opt[0].t;
	rc = 0;
out:
	zipper_free(saved);
	st_close(&f);
	return rc;
}
