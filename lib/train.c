/* train: packing, batches, evaluation, checkpoints (see train.h). */
#include "config.h"

#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "archive.h"
#include "safetensors.h"
#include "train.h"
#include "xalloc.h"
#include "zerr.h"

int train_data_load(struct train_data *d, const char *path, long vocab, int eos, int T)
{
	memset(d, 0, sizeof *d);
	d->T = T;
	struct tok_reader *r = tok_open(path, vocab);
	if (!r)
		return -1;
	const struct tok_header *h = tok_header(r);
	if (h->present && h->vocab > vocab) {
		zerr_set("%s: tokens have a vocabulary of %ld, the model only %ld", tok_name(r), h->vocab, vocab);
		tok_close(r);
		return -1;
	}
	snprintf(d->modality, sizeof d->modality, "%s", h->present ? h->modality : "");
	d->vocab = h->present ? h->vocab : 0;
	size_t cap = 0;
	const char *id;
	const int32_t *ids;
	size_t n;
	int rc;
	while ((rc = tok_next(r, &id, &ids, &n)) > 0) {
		xgrow(&d->stream, &cap, d->n + n + 2, sizeof *d->stream);
		if (eos >= 0)
			d->stream[d->n++] = eos;
		memcpy(d->stream + d->n, ids, n * sizeof *ids);
		d->n += n;
		d->n_utts++;
	}
	if (eos >= 0 && d->n) /* the last utterance ends too */
		d->stream[d->n++] = eos;
	if (rc < 0) {
		tok_close(r);
		train_data_free(d);
		return -1;
	}
	d->n_windows = d->n > (size_t)T ? (d->n - 1) / (size_t)T : 0;
	if (d->n_windows == 0) {
		zerr_set("%s: %zu tokens, fewer than one sequence of %d + 1 (lower --seq-len)", tok_name(r), d->n,
			 T);
		tok_close(r);
		train_data_free(d);
		return -1;
	}
	tok_close(r);
	return 0;
}

void train_data_free(struct train_data *d)
{
	free(d->stream);
	d->stream = NULL;
}

void train_data_window(const struct train_data *d, size_t w, int32_t *inputs, int32_t *targets)
{
	const int32_t *s = d->stream + w * (size_t)d->T;
	memcpy(inputs, s, (size_t)d->T * sizeof *s);
	memcpy(targets, s + 1, (size_t)d->T * sizeof *s);
}

/* Draws this epoch's order from s->rng without disturbing it. */
static void draw_perm(struct train_state *s)
{
	for (size_t i = 0; i < s->n_perm; i++)
		s->perm[i] = (int)i;
	s->after = s->rng;
	rng_shuffle_int(&s->after, s->perm, s->n_perm);
	s->pos = 0;
}

void train_state_init(struct train_state *s, const struct train_data *d, uint64_t seed)
{
	memset(s, 0, sizeof *s);
	s->n_perm = d->n_windows;
	s->perm = xmallocarray(s->n_perm, sizeof *s->perm);
	rng_seed(&s->rng, seed);
	draw_perm(s);
	s->epoch = 1;
}

void train_state_free(struct train_state *s)
{
	free(s->perm);
	s->perm = NULL;
}

void train_next_batch(struct train_state *s, const struct train_data *d, int B, int32_t *inputs,
		      int32_t *targets)
{
	for (int b = 0; b < B; b++)
		train_data_window(d, train_next_index(s), inputs + (size_t)b * d->T, targets + (size_t)b * d->T);
}

size_t train_next_index(struct train_state *s)
{
	if (s->pos == s->n_perm) {
		s->rng = s->after;
		draw_perm(s);
		s->epoch++;
	}
	return (size_t)s->perm[s->pos++];
}

double train_evaluate(struct tower *t, const struct train_data *d, int B, int32_t *inputs, int32_t *targets)
{
	double total = 0.0;
	size_t tokens = 0;
	for (size_t w0 = 0; w0 < d->n_windows; w0 += (size_t)B) {
		int nb = (int)(d->n_windows - w0 < (size_t)B ? d->n_windows - w0 : (size_t)B);
		for (int b = 0; b < nb; b++)
			train_data_window(d, w0 + (size_t)b, inputs + (size_t)b * d->T, targets + (size_t)b * d->T);
		double loss = tower_forward(t, inputs, targets, nb, d->T);
		total += loss * nb * d->T;
		tokens += (size_t)nb * d->T;
	}
	return total / (double)tokens;
}

struct optim_group *train_groups(const struct tower *t)
{
	struct optim_group *g = xcalloc(t->n_tensors, sizeof *g);
	for (size_t i = 0; i < t->n_tensors; i++)
		g[i] = (struct optim_group){t->tensors[i].offset, t->tensors[i].count, t->tensors[i].decay};
	return g;
}

/* ---- checkpoints ---- */

static char *moment_name(const char *which, const char *name)
{
	return xasprintf("optim.%s.%s", which, name);
}

int train_checkpoint_save(const char *path, const struct tower *t, const struct adamw *opt,
			  const struct train_state *s, const struct tower_meta *m, const char *options_json)
{
	cJSON *cfg = tower_file_json(t, m);
	struct st_writer *w = st_writer_new("tower", TOWER_FILE_VERSION, cfg);
	cJSON_Delete(cfg);
	tower_add_tensors(t, w);
	char **names = xcalloc(2 * t->n_tensors, sizeof *names);
	for (size_t i = 0; i < t->n_tensors; i++) {
		const struct tower_tensor *x = &t->tensors[i];
		names[2 * i] = moment_name("m", x->name);
		names[2 * i + 1] = moment_name("v", x->name);
		st_writer_add(w, names[2 * i], ST_F32, x->ndim, x->shape, opt->m + x->offset);
		st_writer_add(w, names[2 * i + 1], ST_F32, x->ndim, x->shape, opt->v + x->offset);
	}
	train_state_save_meta(w, s, opt, options_json);
	int rc = st_writer_write(w, path);
	st_writer_free(w);
	for (size_t i = 0; i < 2 * t->n_tensors; i++)
		free(names[i]);
	free(names);
	return rc;
}

void train_state_save_meta(struct st_writer *w, const struct train_state *s, const struct adamw *opt,
			   const char *options_json)
{
	cJSON *j = cJSON_CreateObject();
	cJSON_AddNumberToObject(j, "step", (double)s->step);
	cJSON_AddNumberToObject(j, "epoch", (double)s->epoch);
	cJSON_AddNumberToObject(j, "pos", (double)s->pos);
	cJSON_AddNumberToObject(j, "adam_t", (double)opt->t);
	cJSON *rs = cJSON_AddArrayToObject(j, "rng");
	for (int i = 0; i < 4; i++) {
		char hex[17];
		snprintf(hex, sizeof hex, "%016" PRIx64, s->rng.s[i]);
		cJSON_AddItemToArray(rs, cJSON_CreateString(hex));
	}
	cJSON *o = cJSON_Parse(options_json);
	cJSON_AddItemToObject(j, "options", o ? o : cJSON_CreateObject());
	char *text = cJSON_PrintUnformatted(j);
	cJSON_Delete(j);
	st_writer_meta(w, "zipper.train", text);
	free(text);
}

static int load_moments(const struct st_file *f, const struct tower *t, struct adamw *opt)
{
	for (size_t i = 0; i < t->n_tensors; i++) {
		const struct tower_tensor *x = &t->tensors[i];
		for (int k = 0; k < 2; k++) {
			char *name = moment_name(k ? "v" : "m", x->name);
			const float *src = st_get_f32(f, name, x->ndim, x->shape);
			free(name);
			if (!src)
				return -1;
			memcpy((k ? opt->v : opt->m) + x->offset, src, x->count * sizeof(float));
		}
	}
	return 0;
}

static int load_state(const struct st_file *f, cJSON *j, struct adamw *opt, struct train_state *s,
		      const char *options_json)
{
	const cJSON *step = cJSON_GetObjectItemCaseSensitive(j, "step");
	const cJSON *epoch = cJSON_GetObjectItemCaseSensitive(j, "epoch");
	const cJSON *pos = cJSON_GetObjectItemCaseSensitive(j, "pos");
	const cJSON *at = cJSON_GetObjectItemCaseSensitive(j, "adam_t");
	const cJSON *rs = cJSON_GetObjectItemCaseSensitive(j, "rng");
	const cJSON *o = cJSON_GetObjectItemCaseSensitive(j, "options");
	if (!cJSON_IsNumber(step) || !cJSON_IsNumber(epoch) || !cJSON_IsNumber(pos) || !cJSON_IsNumber(at) ||
	    !cJSON_IsArray(rs) || cJSON_GetArraySize(rs) != 4) {
		zerr_set("%s: zipper.train metadata is incomplete", f->path);
		return -1;
	}
	cJSON *want = cJSON_Parse(options_json);
	bool same = want && o && cJSON_Compare(want, o, true);
	cJSON_Delete(want);
	if (!same) {
		char *was = o ? cJSON_PrintUnformatted(o) : xstrdup("{}");
		zerr_set("%s: the checkpoint was made with different options (%s)", f->path, was);
		free(was);
		return -1;
	}
	for (int i = 0; i < 4; i++) {
		const cJSON *h = cJSON_GetArrayItem(rs, i);
		char *end;
		if (!cJSON_IsString(h) || !*h->valuestring)
			goto bad;
		s->rng.s[i] = strtoull(h->valuestring, &end, 16);
		if (*end)
			goto bad;
	}
	if (pos->valuedouble < 0 || pos->valuedouble > (double)s->n_perm)
		goto bad;
	draw_perm(s);
	s->pos = (size_t)pos->valuedouble;
	s->step = (long)step->valuedouble;
	s->epoch = (long)epoch->valuedouble;
	opt->t = (long)at->valuedouble;
	return 0;
bad:
	zerr_set("%s: zipper.train metadata has a bad rng state or data position", f->path);
	return -1;
}

int train_state_load_meta(const struct st_file *f, struct adamw *opt, struct train_state *s,
			  const char *options_json)
{
	const char *meta = st_meta(f, "zipper.train");
	cJSON *j = meta ? cJSON_Parse(meta) : NULL;
	if (!j) {
		zerr_set("%s: not a checkpoint (no zipper.train metadata)", f->path);
		return -1;
	}
	int rc = load_state(f, j, opt, s, options_json);
	cJSON_Delete(j);
	return rc;
}

int train_checkpoint_load(const char *path, struct tower *t, struct adamw *opt, struct train_state *s,
			  const char *options_json)
{
	struct st_file f;
	if (st_open(&f, path) < 0)
		return -1;
	int rc = -1;
	struct tower *saved = tower_load(&f, t->prefix, &t->cfg);
	const char *meta = st_meta(&f, "zipper.train");
	cJSON *j = meta ? cJSON_Parse(meta) : NULL;
	if (!saved)
		goto out;
	if (!j) {
		zerr_set("%s: not a checkpoint (no zipper.train metadata)", path);
		goto out;
	}
	memcpy(t->params, saved->params, t->n_params * sizeof(float));
	if (load_moments(&f, t, opt) < 0 || load_state(&f, j, opt, s, options_json) < 0)
		goto out;
	rc = 0;
out:
	cJSON_Delete(j);
	tower_free(saved);
	st_close(&f);
	return rc;
}

static volatile sig_atomic_t caught_signal;

static void on_signal(int sig)
{
	caught_signal = sig;
}

void train_catch_signals(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

int train_caught_signal(void)
{
	return caught_signal;
}

int train_log_vprintf(FILE *log, const char *name, const char *fmt, va_list ap)
{
	if (!log)
		return 0;
	vfprintf(log, fmt, ap);
	if (fflush(log) != 0 || ferror(log)) {
		zerr_set("%s: write error", name);
		return -1;
	}
	return 0;
}
