/* single: the single-decoder baseline (see single.h). */
#include "config.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "safetensors.h"
#include "single.h"
#include "xalloc.h"
#include "zerr.h"

int32_t single_id(const struct single_map *s, int m, int32_t id)
{
	return m == ZM_SPEECH ? s->vocab[ZM_TEXT] + id : id;
}

void single_fill_config(const struct single_map *s, struct zipper_config *c)
{
	memset(c, 0, sizeof *c);
	for (int m = 0; m < 2; m++) {
		c->bos[m] = s->bos[m];
		c->eos[m] = s->eos[m];
	}
}

/* Rows [from,to) of w (rows of C) = mean of rows [0,from) + noise. */
static void mean_rows(float *w, int from, int to, int C, struct rng *r)
{
	for (int c = 0; c < C; c++) {
		double mean = 0.0;
		for (int i = 0; i < from; i++)
			mean += w[(size_t)i * C + c];
		mean /= from;
		for (int i = from; i < to; i++)
			w[(size_t)i * C + c] = (float)(mean + 0.02 * rng_normal(r));
	}
}

struct tower *single_extend(const struct tower *t, const struct single_map *s, struct rng *r)
{
	struct tower_config c = t->cfg;
	int Vt = t->cfg.vocab, C = t->cfg.d_model;
	c.vocab = Vt + s->vocab[ZM_SPEECH];
	struct tower *x = tower_new(&c, "text.");
	/* every tensor but the (V,C) ones is the same; those grow at the end */
	for (size_t i = 0; i < t->n_tensors; i++) {
		const struct tower_tensor *a = &t->tensors[i];
		const struct tower_tensor *b = tower_find(x, x->tensors[i].name);
		memcpy(x->params + b->offset, t->params + a->offset, a->count * sizeof(float));
		if (b->count != a->count)
			mean_rows(x->params + b->offset, Vt, c.vocab, C, r);
	}
	return x;
}

void single_flatten(int32_t *tokens, int32_t *targets, int T, const struct zipper_batch *b,
		    const struct single_map *s)
{
	for (int r = 0; r < b->B; r++) {
		int32_t *x = tokens + (size_t)r * T, *y = targets + (size_t)r * T;
		for (int i = 0; i < T; i++)
			x[i] = 0, y[i] = -1;
		for (int m = 0; m < 2; m++) /* each token at its linear position */
			for (int i = 0; i < b->T[m]; i++) {
				size_t at = (size_t)r * b->T[m] + i;
				int32_t p = b->pos[m][at];
				if (p == INT32_MAX || p >= T)
					continue;
				x[p] = single_id(s, m, b->tokens[m][at]);
				y[p] = b->targets[m][at] < 0 ? -1 : single_id(s, m, b->targets[m][at]);
			}
	}
}

static cJSON *map_json(const struct tower *t, const struct single_map *s)
{
	cJSON *j = cJSON_CreateObject();
	cJSON_AddItemToObject(j, "tower", tower_config_to_json(&t->cfg));
	char key[32];
	for (int m = 0; m < 2; m++) {
		snprintf(key, sizeof key, "%s_vocab", zm_names[m]);
		cJSON_AddNumberToObject(j, key, s->vocab[m]);
		snprintf(key, sizeof key, "%s_bos", zm_names[m]);
		cJSON_AddNumberToObject(j, key, s->bos[m]);
		snprintf(key, sizeof key, "%s_eos", zm_names[m]);
		cJSON_AddNumberToObject(j, key, s->eos[m]);
	}
	return j;
}

struct st_writer *single_writer(const struct tower *t, const struct single_map *s)
{
	cJSON *j = map_json(t, s);
	struct st_writer *w = st_writer_new("single-decoder", SINGLE_FILE_VERSION, j);
	cJSON_Delete(j);
	tower_add_tensors(t, w);
	return w;
}

int single_save(const struct tower *t, const struct single_map *s, const char *path)
{
	struct st_writer *w = single_writer(t, s);
	int rc = st_writer_write(w, path);
	st_writer_free(w);
	return rc;
}

static int get(const cJSON *j, const char *key, int lo, int hi, int *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
	if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || v->valuedouble < lo ||
	    v->valuedouble >= hi) {
		zerr_set("config: \"%s\" missing or out of range", key);
		return -1;
	}
	*out = (int)v->valuedouble;
	return 0;
}

int single_file_config(const struct st_file *f, struct tower_config *c, struct single_map *s)
{
	const cJSON *j = f->config;
	if (!f->kind || strcmp(f->kind, "single-decoder") || !j) {
		zerr_set("%s: not a single-decoder model", f->path);
		return -1;
	}
	if (st_check_version(f, SINGLE_FILE_VERSION) < 0)
		return -1;
	if (tower_config_unique_keys(j) < 0 ||
	    tower_config_from_json(c, cJSON_GetObjectItemCaseSensitive(j, "tower")) < 0 ||
	    get(j, "text_vocab", 1, c->vocab, &s->vocab[ZM_TEXT]) < 0 ||
	    get(j, "speech_vocab", 1, c->vocab - s->vocab[ZM_TEXT] + 1, &s->vocab[ZM_SPEECH]) < 0 ||
	    get(j, "text_bos", 0, s->vocab[ZM_TEXT], &s->bos[ZM_TEXT]) < 0 ||
	    get(j, "text_eos", 0, s->vocab[ZM_TEXT], &s->eos[ZM_TEXT]) < 0 ||
	    get(j, "speech_bos", 0, s->vocab[ZM_SPEECH], &s->bos[ZM_SPEECH]) < 0 ||
	    get(j, "speech_eos", 0, s->vocab[ZM_SPEECH], &s->eos[ZM_SPEECH]) < 0) {
		zerr_prefix("%s: not a valid single-decoder model", f->path);
		return -1;
	}
	if (s->vocab[0] + s->vocab[1] != c->vocab) {
		zerr_set("%s: vocabularies %d + %d do not make the tower's %d", f->path, s->vocab[0], s->vocab[1],
			 c->vocab);
		return -1;
	}
	return 0;
}

struct tower *single_load(const struct st_file *f, struct single_map *s)
{
	struct tower_config c;
	if (single_file_config(f, &c, s) < 0)
		return NULL;
	return tower_load(f, "text.", &c);
}
