/* speechtok: normalise, stack, k-means. See speechtok.h. */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kmeans.h"
#include "sha256.h"
#include "speechtok.h"
#include "xalloc.h"
#include "zerr.h"

enum { SPEECHTOK_VERSION = 1, FRAMES_PER_SECOND = MEL_RATE / MEL_HOP };

void speechtok_fit_opts_default(struct speechtok_fit_opts *o)
{
	o->k = 1024;
	o->rate = 25;
	o->max_iters = 20;
	o->seed = 1;
	o->quiet = false;
}

int speechtok_check_rate(int rate)
{
	if (rate < 1 || rate > FRAMES_PER_SECOND || FRAMES_PER_SECOND % rate) {
		zerr_set("token rate %d per second does not divide the %d frames per second "
			 "(try 25, 50, 20 or 10)",
			 rate, FRAMES_PER_SECOND);
		return -1;
	}
	return 0;
}

size_t speechtok_n_tokens(const struct speechtok *t, size_t T)
{
	return (T + (size_t)t->stack - 1) / (size_t)t->stack;
}

/* out (ceil(T/stack), stack*80): frames of mel (T, 80) grouped by stack, the
 * last group padded with the final frame. */
static void stack_frames(float *out, const float *mel, size_t T, int stack)
{
	size_t n = (T + (size_t)stack - 1) / (size_t)stack;
	for (size_t i = 0; i < n; i++)
		for (int s = 0; s < stack; s++) {
			size_t t = i * (size_t)stack + (size_t)s;
			if (t >= T)
				t = T - 1;
			memcpy(out + (i * (size_t)stack + (size_t)s) * MEL_NMELS,
			       mel + t * MEL_NMELS, MEL_NMELS * sizeof *out);
		}
}

/* x (n, stack*80) -> (x - mean) / std, bin by bin. */
static void normalise(float *x, size_t rows, const float *mean, const float *std)
{
	float inv[MEL_NMELS];
	for (int b = 0; b < MEL_NMELS; b++)
		inv[b] = 1.0f / std[b];
#pragma omp parallel for schedule(static) if (rows > 4096)
	for (size_t r = 0; r < rows; r++) {
		float *v = x + r * MEL_NMELS;
		for (int b = 0; b < MEL_NMELS; b++)
			v[b] = (v[b] - mean[b]) * inv[b];
	}
}

/* Per-bin mean and standard deviation (floored) of mel (T, 80). */
static void frame_stats(float *mean, float *std, const float *mel, size_t T)
{
	for (int b = 0; b < MEL_NMELS; b++) {
		double sum = 0, sq = 0;
		for (size_t t = 0; t < T; t++) {
			double v = mel[t * MEL_NMELS + b];
			sum += v;
			sq += v * v;
		}
		double m = sum / (double)T, var = sq / (double)T - m * m;
		mean[b] = (float)m;
		/* A floor keeps a silent bin (constant log floor) from dividing by 0. */
		std[b] = (float)sqrt(var > 1e-6 ? var : 1e-6);
	}
}

/* ---- fitting ---- */

struct speechtok_fitter {
	int stack;
	bool utt_norm;
	float *x;                 /* (n, stack*80) raw stacked frames */
	size_t n, cap;            /* in vectors */
	double sum[MEL_NMELS], sumsq[MEL_NMELS];
	size_t frames;
};

struct speechtok_fitter *speechtok_fitter_new(int rate, bool utt_norm)
{
	struct speechtok_fitter *f = xcalloc(1, sizeof *f);
	f->stack = FRAMES_PER_SECOND / rate;
	f->utt_norm = utt_norm;
	return f;
}

void speechtok_fitter_add(struct speechtok_fitter *f, const float *mel, size_t T)
{
	if (T == 0)
		return;
	size_t dim = (size_t)f->stack * MEL_NMELS, n = (T + (size_t)f->stack - 1) / (size_t)f->stack;
	if (f->n + n > f->cap)
		xgrow(&f->x, &f->cap, f->n + n, dim * sizeof(float));
	stack_frames(f->x + f->n * dim, mel, T, f->stack);
	if (f->utt_norm) {
		float mean[MEL_NMELS], std[MEL_NMELS];
		frame_stats(mean, std, mel, T);
		normalise(f->x + f->n * dim, n * (size_t)f->stack, mean, std);
	}
	f->n += n;
	for (size_t t = 0; t < T; t++)
		for (int b = 0; b < MEL_NMELS; b++) {
			double v = mel[t * MEL_NMELS + b];
			f->sum[b] += v;
			f->sumsq[b] += v * v;
		}
	f->frames += T;
}

size_t speechtok_fitter_vectors(const struct speechtok_fitter *f)
{
	return f->n;
}

void speechtok_fitter_free(struct speechtok_fitter *f)
{
	if (!f)
		return;
	free(f->x);
	free(f);
}

static struct speechtok *speechtok_alloc(int k, int rate)
{
	struct speechtok *t = xcalloc(1, sizeof *t);
	t->k = k;
	t->rate = rate;
	t->stack = FRAMES_PER_SECOND / rate;
	t->dim = t->stack * MEL_NMELS;
	return t;
}

struct speechtok *speechtok_fit(struct speechtok_fitter *f, const struct speechtok_fit_opts *o)
{
	if (speechtok_check_rate(o->rate) < 0)
		return NULL;
	if (f->n < (size_t)o->k) {
		zerr_set("%zu token vectors (%.1f s of audio) are too few to learn %d units; "
			 "give more audio or a smaller -k",
			 f->n, (double)f->frames / FRAMES_PER_SECOND, o->k);
		return NULL;
	}
	struct speechtok *t = speechtok_alloc(o->k, o->rate);
	t->utt_norm = f->utt_norm;
	for (int b = 0; b < MEL_NMELS; b++) {
		double m = f->sum[b] / (double)f->frames;
		double var = f->sumsq[b] / (double)f->frames - m * m;
		t->mean[b] = (float)m;
		t->std[b] = (float)sqrt(var > 1e-6 ? var : 1e-6);
	}
	if (!f->utt_norm) /* else each utterance was normalised by its own statistics */
		normalise(f->x, f->n * (size_t)t->stack, t->mean, t->std);
	struct kmeans_opts ko;
	kmeans_opts_default(&ko, o->k);
	ko.max_iters = o->max_iters;
	ko.seed = o->seed;
	ko.quiet = o->quiet;
	t->codebook = xmallocarray((size_t)o->k * (size_t)t->dim, sizeof(float));
	if (kmeans_fit(t->codebook, f->x, f->n, t->dim, &ko, NULL) < 0) {
		speechtok_free(t);
		return NULL;
	}
	return t;
}

/* ---- files ---- */

static cJSON *config_json(const struct speechtok *t)
{
	cJSON *c = cJSON_CreateObject();
	cJSON_AddStringToObject(c, "type", "logmel-kmeans");
	cJSON_AddNumberToObject(c, "sample_rate", MEL_RATE);
	cJSON_AddNumberToObject(c, "n_fft", MEL_NFFT);
	cJSON_AddNumberToObject(c, "win_length", MEL_WIN);
	cJSON_AddNumberToObject(c, "hop_length", MEL_HOP);
	cJSON_AddNumberToObject(c, "n_mels", MEL_NMELS);
	cJSON_AddStringToObject(c, "mel_scale", "slaney");
	cJSON_AddStringToObject(c, "mel_norm", "slaney");
	cJSON_AddStringToObject(c, "log", "ln");
	cJSON_AddNumberToObject(c, "log_floor", 1e-10); /* MEL_FLOOR, without float rounding */
	cJSON_AddStringToObject(c, "norm", t->utt_norm ? "utterance" : "global");
	cJSON_AddNumberToObject(c, "rate", t->rate);
	cJSON_AddNumberToObject(c, "stack", t->stack);
	cJSON_AddNumberToObject(c, "k", t->k);
	cJSON_AddNumberToObject(c, "vocab", t->k + 2);
	cJSON_AddNumberToObject(c, "begin_of_audio", t->k);
	cJSON_AddNumberToObject(c, "end_of_audio", t->k + 1);
	return c;
}

int speechtok_save(struct speechtok *t, const char *path)
{
	cJSON *cfg = config_json(t);
	struct st_writer *w = st_writer_new("speech-tokenizer", SPEECHTOK_VERSION, cfg);
	int64_t shape_bins[1] = {MEL_NMELS}, shape_cb[2] = {t->k, t->dim};
	st_writer_add(w, "mean", ST_F32, 1, shape_bins, t->mean);
	st_writer_add(w, "std", ST_F32, 1, shape_bins, t->std);
	st_writer_add(w, "codebook", ST_F32, 2, shape_cb, t->codebook);
	int rc = st_writer_write(w, path);
	st_writer_free(w);
	cJSON_Delete(cfg);
	if (rc == 0 && strcmp(path, "-") != 0)
		rc = sha256_file_fingerprint(path, t->fingerprint);
	return rc;
}


static int config_int(const cJSON *config, const char *where, const char *key, int lo, int hi, int *out)
{
	const cJSON *v = config ? cJSON_GetObjectItemCaseSensitive(config, key) : NULL;
	if (!cJSON_IsNumber(v) || v->valuedouble != (double)(int)v->valuedouble ||
	    v->valuedouble < lo || v->valuedouble > hi) {
		zerr_set("%s: zipper.config \"%s\" is missing or not an integer in [%d, %d]", where,
			 key, lo, hi);
		return -1;
	}
	*out = v->valueint;
	return 0;
}

/* A tokenizer from config and the tensors prefix{mean,std,codebook} of f
 * (prefix "" in a .tok file; "tokenizer.speech." in a model carrying it).
 * where names it in messages. t->codebook points into f's map. */
static struct speechtok *from_tensors(const struct st_file *f, const char *prefix, const cJSON *config,
				      const char *where)
{
	int k, rate, n_mels, hop;
	if (config_int(config, where, "k", 1, 1 << 24, &k) < 0 || config_int(config, where, "rate", 1, 100, &rate) < 0 ||
	    config_int(config, where, "n_mels", 1, 4096, &n_mels) < 0 ||
	    config_int(config, where, "hop_length", 1, 1 << 20, &hop) < 0)
		return NULL;
	if (n_mels != MEL_NMELS || hop != MEL_HOP) {
		zerr_set("%s: made for %d mel bins with a hop of %d; this program computes %d and %d",
			 where, n_mels, hop, MEL_NMELS, MEL_HOP);
		return NULL;
	}
	if (speechtok_check_rate(rate) < 0) {
		zerr_prefix("%s", where);
		return NULL;
	}
	const cJSON *norm = cJSON_GetObjectItemCaseSensitive(config, "norm");
	if (norm && (!cJSON_IsString(norm) || (strcmp(norm->valuestring, "global") &&
					       strcmp(norm->valuestring, "utterance")))) {
		zerr_set("%s: zipper.config \"norm\" must be \"global\" or \"utterance\"", where);
		return NULL;
	}
	struct speechtok *t = speechtok_alloc(k, rate);
	t->utt_norm = norm && !strcmp(norm->valuestring, "utterance");
	int64_t bins[1] = {MEL_NMELS}, cb[2] = {k, t->dim};
	char *names[3] = {xasprintf("%smean", prefix), xasprintf("%sstd", prefix), xasprintf("%scodebook", prefix)};
	const float *mean = st_get_f32(f, names[0], 1, bins), *std = st_get_f32(f, names[1], 1, bins);
	const float *codebook = mean && std ? st_get_f32(f, names[2], 2, cb) : NULL;
	for (int i = 0; i < 3; i++)
		free(names[i]);
	if (!mean || !std || !codebook)
		goto fail;
	for (int b = 0; b < MEL_NMELS; b++)
		if (!isfinite(mean[b]) || !(std[b] > 0) || !isfinite(std[b])) {
			zerr_set("%s: bin %d has mean %g and std %g; std must be positive", where,
				 b, mean[b], std[b]);
			goto fail;
		}
	memcpy(t->mean, mean, sizeof t->mean);
	memcpy(t->std, std, sizeof t->std);
	t->codebook = (float *)codebook; /* read-only map: never written through */
	return t;
fail:
	free(t);
	return NULL;
}

struct speechtok *speechtok_from_file(struct st_file *f)
{
	struct speechtok *t = NULL;
	static const char *const names[] = {"codebook", "mean", "std"};
	if (f->version != SPEECHTOK_VERSION)
		zerr_set("%s: speech tokenizer version %d, this program reads version %d", f->path,
			 f->version, SPEECHTOK_VERSION);
	else if (st_verify(f) == 0 && st_check_names(f, NULL, names, 3) == 0)
		t = from_tensors(f, "", f->config, f->path);
	if (!t) {
		st_close(f);
		return NULL;
	}
	sha256_fingerprint(f->map, f->map_size, t->fingerprint);
	t->file = *f;
	t->loaded = true;
	return t;
}

struct speechtok *speechtok_from_model(const struct st_file *f)
{
	const char *meta = st_meta(f, "zipper.tokenizer.speech");
	if (!meta && !st_find(f, "tokenizer.speech.codebook")) {
		zerr_set("%s: the model carries no speech tokenizer (zip-fuse --speech-tokenizer)", f->path);
		return NULL;
	}
	char *where = xasprintf("%s: carried speech tokenizer", f->path);
	struct speechtok *t = NULL;
	cJSON *j = meta ? cJSON_Parse(meta) : NULL;
	const cJSON *kind = cJSON_GetObjectItemCaseSensitive(j, "kind");
	const cJSON *fp = cJSON_GetObjectItemCaseSensitive(j, "fingerprint");
	if (!cJSON_IsString(kind) || strcmp(kind->valuestring, "speech-tokenizer")) {
		zerr_set("%s: zipper.tokenizer.speech does not describe a speech tokenizer", where);
	} else if ((t = from_tensors(f, "tokenizer.speech.", cJSON_GetObjectItemCaseSensitive(j, "config"), where))) {
		/* a copy, so the model file may be closed */
		float *cb = xmallocarray((size_t)t->k * (size_t)t->dim, sizeof *cb);
		memcpy(cb, t->codebook, (size_t)t->k * (size_t)t->dim * sizeof *cb);
		t->codebook = cb;
		if (cJSON_IsString(fp) && strlen(fp->valuestring) < sizeof t->fingerprint)
			snprintf(t->fingerprint, sizeof t->fingerprint, "%s", fp->valuestring);
	}
	cJSON_Delete(j);
	free(where);
	return t;
}

struct speechtok *speechtok_load(const char *path)
{
	struct st_file f;
	if (st_open(&f, path) < 0)
		return NULL;
	if (!f.kind || strcmp(f.kind, "speech-tokenizer") != 0) {
		zerr_set("%s: not a speech tokenizer (zipper.kind is %s)", path,
			 f.kind ? f.kind : "missing");
		st_close(&f);
		return NULL;
	}
	return speechtok_from_file(&f);
}

void speechtok_free(struct speechtok *t)
{
	if (!t)
		return;
	if (t->loaded)
		st_close(&t->file);
	else
		free(t->codebook);
	free(t);
}

/* ---- applying ---- */

void speechtok_encode(const struct speechtok *t, int32_t *ids, const float *mel, size_t T)
{
	size_t n = speechtok_n_tokens(t, T);
	float *x = xmallocarray(n * (size_t)t->dim, sizeof *x);
	stack_frames(x, mel, T, t->stack);
	if (t->utt_norm) {
		float mean[MEL_NMELS], std[MEL_NMELS];
		frame_stats(mean, std, mel, T);
		normalise(x, n * (size_t)t->stack, mean, std);
	} else {
		normalise(x, n * (size_t)t->stack, t->mean, t->std);
	}
	kmeans_assign(ids, NULL, x, n, t->codebook, t->k, t->dim);
	free(x);
}

int speechtok_decode(const struct speechtok *t, float *mel, const int32_t *ids, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (ids[i] < 0 || ids[i] >= t->k) {
			zerr_set("token %zu: id %d is not a unit of this tokenizer (0..%d)", i + 1,
				 (int)ids[i], t->k - 1);
			return -1;
		}
		const float *c = t->codebook + (size_t)ids[i] * (size_t)t->dim;
		float *out = mel + i * (size_t)t->dim;
		for (int s = 0; s < t->stack; s++)
			for (int b = 0; b < MEL_NMELS; b++)
				out[s * MEL_NMELS + b] = c[s * MEL_NMELS + b] * t->std[b] + t->mean[b];
	}
	return 0;
}
