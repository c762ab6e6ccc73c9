/* bpe_io: text.tok files (safetensors; the layout is in bpe.h). */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "bpe.h"
#include "bpe_impl.h"
#include "safetensors.h"
#include "xalloc.h"
#include "zerr.h"

#define BPE_KIND "text-tokenizer"
#define BPE_PRETOKENIZER "zipper-1"
enum { BPE_FILE_VERSION = 1 };

static cJSON *bpe_config(const struct bpe *b)
{
	cJSON *c = cJSON_CreateObject();
	cJSON_AddStringToObject(c, "type", "byte-bpe");
	cJSON_AddNumberToObject(c, "vocab_size", bpe_vocab_size(b));
	cJSON_AddNumberToObject(c, "n_merges", bpe_n_merges(b));
	cJSON_AddNumberToObject(c, "pad_id", BPE_PAD);
	cJSON_AddNumberToObject(c, "bos_id", BPE_BOS);
	cJSON_AddNumberToObject(c, "eos_id", BPE_EOS);
	cJSON_AddNumberToObject(c, "byte_offset", BPE_BYTE0);
	cJSON_AddStringToObject(c, "pretokenizer", BPE_PRETOKENIZER);
	return c;
}

int bpe_save(const struct bpe *b, const char *path)
{
	cJSON *config = bpe_config(b);
	struct st_writer *w = st_writer_new(BPE_KIND, BPE_FILE_VERSION, config);
	int64_t shape[2] = {bpe_n_merges(b), 2};
	st_writer_add(w, "merges", ST_I32, 2, shape, bpe_merge_table(b));
	int rc = st_writer_write(w, path);
	st_writer_free(w);
	cJSON_Delete(config);
	return rc;
}

/* config[name] must be the integer want. */
static bool config_int_is(const cJSON *config, const char *name, long want)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(config, name);
	if (!cJSON_IsNumber(v)) {
		zerr_set("config: \"%s\" is missing or not a number (expected %ld)", name, want);
		return false;
	}
	if (v->valuedouble != (double)want) {
		zerr_set("config: \"%s\" is %g, expected %ld", name, v->valuedouble, want);
		return false;
	}
	return true;
}

static bool config_str_is(const cJSON *config, const char *name, const char *want)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(config, name);
	if (!cJSON_IsString(v) || strcmp(v->valuestring, want)) {
		zerr_set("config: \"%s\" is not \"%s\"", name, want);
		return false;
	}
	return true;
}

/* The kind, version, config and the merges tensor's shape; the merges'
 * values are checked by bpe_from_merges. */
static const struct st_tensor *check_file(const struct st_file *f)
{
	if (!f->kind || strcmp(f->kind, BPE_KIND)) {
		zerr_set("not a text tokenizer (zipper.kind is %s%s%s, expected \"%s\")",
			 f->kind ? "\"" : "", f->kind ? f->kind : "absent", f->kind ? "\"" : "",
			 BPE_KIND);
		return NULL;
	}
	if (f->version != BPE_FILE_VERSION) {
		zerr_set("text tokenizer version %d: this program reads version %d", f->version,
			 BPE_FILE_VERSION);
		return NULL;
	}
	if (!f->config) {
		zerr_set("no zipper.config");
		return NULL;
	}
	static const char *const names[] = {"merges"};
	if (st_check_names(f, NULL, names, 1) < 0)
		return NULL;
	const struct st_tensor *t = st_find(f, "merges");
	if (t->dtype != ST_I32 || t->ndim != 2 || t->shape[1] != 2 ||
	    t->shape[0] > BPE_MAX_VOCAB - BPE_BASE_VOCAB) {
		char dims[ST_MAX_DIMS * 24 + 4] = "";
		for (int i = 0; i < t->ndim; i++)
			snprintf(dims + strlen(dims), sizeof dims - strlen(dims), "%s%lld",
				 i ? ", " : "", (long long)t->shape[i]);
		zerr_set("tensor merges: expected I32 [n_merges, 2] with n_merges <= %d, found %s [%s]",
			 BPE_MAX_VOCAB - BPE_BASE_VOCAB, st_dtype_name(t->dtype), dims);
		return NULL;
	}
	long n = (long)t->shape[0];
	if (!config_str_is(f->config, "type", "byte-bpe") ||
	    !config_str_is(f->config, "pretokenizer", BPE_PRETOKENIZER) ||
	    !config_int_is(f->config, "n_merges", n) ||
	    !config_int_is(f->config, "vocab_size", BPE_BASE_VOCAB + n) ||
	    !config_int_is(f->config, "pad_id", BPE_PAD) ||
	    !config_int_is(f->config, "bos_id", BPE_BOS) ||
	    !config_int_is(f->config, "eos_id", BPE_EOS) ||
	    !config_int_is(f->config, "byte_offset", BPE_BYTE0))
		return NULL;
	if (st_verify(f) < 0)
		return NULL;
	return t;
}

struct bpe *bpe_load(const char *path)
{
	struct st_file f;
	if (st_open(&f, path) < 0)
		return NULL;
	struct bpe *b = NULL;
	const struct st_tensor *t = check_file(&f);
	if (t) {
		/* The map holds little-endian int32 (we build only on little-endian
		 * hosts, as the safetensors reader does); copy out of it. */
		int n = (int)t->shape[0];
		int32_t *m = xmallocarray((size_t)n * 2 + 1, sizeof *m);
		if (n)
			memcpy(m, t->data, (size_t)n * 2 * sizeof *m);
		b = bpe_from_merges(m, n);
		free(m);
	}
	if (!b && !strstr(zerr_msg(), path))
		zerr_prefix("%s", path);
	st_close(&f);
	return b;
}

/* tokenizer.text.merges, as zip-fuse --text-tokenizer stores it. */
struct bpe *bpe_from_model(const struct st_file *f)
{
	const struct st_tensor *t = st_find(f, "tokenizer.text.merges");
	if (!t) {
		zerr_set("%s: the model carries no text tokenizer (zip-fuse --text-tokenizer)", f->path);
		return NULL;
	}
	if (t->dtype != ST_I32 || t->ndim != 2 || t->shape[1] != 2 ||
	    t->shape[0] > BPE_MAX_VOCAB - BPE_BASE_VOCAB) {
		zerr_set("%s: tokenizer.text.merges is not an (n, 2) I32 table", f->path);
		return NULL;
	}
	struct bpe *b = bpe_from_merges(t->data, (int)t->shape[0]);
	if (!b)
		zerr_prefix("%s: carried text tokenizer", f->path);
	return b;
}
