/* zip-info: print and verify zipper model and tokenizer files. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bpe.h"
#include "cli.h"
#include "safetensors.h"
#include "single.h"
#include "speechtok.h"
#include "tower.h"
#include "zipper.h"

static const struct cli_doc doc = {
	.name = "zip-info",
	.synopsis = "[-q] [--json] [--verify] file ...",
	.summary = "Print the kind, format version, configuration, parameter count and\n"
		   "tensors (name, dtype, shape) of zipper model and tokenizer files\n"
		   "(safetensors; Hugging Face checkpoints too); a file the programs would\n"
		   "refuse (its version or configuration) is reported and exits 1.",
	.options = "      --json        one JSON object per file, one per line\n"
		   "      --verify      check every tensor's crc32; exit 1 naming the first corrupt one\n",
	.example = "zip-info --verify models/fused.zpm",
	.see_also = "zip-formats(5), zipper(7)",
};

struct options {
	struct cli_common common;
	bool json, verify;
};

enum { OPT_JSON = CLI_OPT_FIRST_FREE, OPT_VERIFY };

static void parse_options(struct options *o, int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_COMMON_LONGOPTS,
		{"json", no_argument, NULL, OPT_JSON},
		{"verify", no_argument, NULL, OPT_VERIFY},
		{NULL, 0, NULL, 0},
	};
	cli_common_init(&o->common);
	for (int c; (c = getopt_long(argc, argv, CLI_COMMON_SHORTOPTS, longopts, NULL)) != -1;) {
		if (c == OPT_JSON)
			o->json = true;
		else if (c == OPT_VERIFY)
			o->verify = true;
		else if (!cli_common_option(&o->common, c, optarg))
			cli_usage_error("unexpected option");
	}
	if (optind == argc)
		cli_usage_error("no file given");
}

static cJSON *shape_json(const struct st_tensor *t)
{
	cJSON *shape = cJSON_CreateArray();
	for (int d = 0; d < t->ndim; d++)
		cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)t->shape[d]));
	return shape;
}

static void print_json(const struct st_file *f, const char *verified)
{
	cJSON *j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "file", f->path);
	if (f->kind)
		cJSON_AddStringToObject(j, "kind", f->kind);
	else
		cJSON_AddNullToObject(j, "kind");
	cJSON_AddNumberToObject(j, "version", f->version);
	cJSON_AddItemToObject(j, "config", f->config ? cJSON_Duplicate(f->config, 1) : cJSON_CreateNull());
	cJSON_AddNumberToObject(j, "tensor_count", (double)f->n_tensors);
	cJSON_AddNumberToObject(j, "parameters", (double)st_param_count(f));
	if (verified)
		cJSON_AddStringToObject(j, "verify", verified);
	cJSON *tensors = cJSON_AddArrayToObject(j, "tensors");
	for (size_t i = 0; i < f->n_tensors; i++) {
		const struct st_tensor *t = &f->tensors[i];
		cJSON *e = cJSON_CreateObject();
		cJSON_AddStringToObject(e, "name", t->name);
		cJSON_AddStringToObject(e, "dtype", st_dtype_name(t->dtype));
		cJSON_AddItemToObject(e, "shape", shape_json(t));
		cJSON_AddItemToArray(tensors, e);
	}
	char *text = cJSON_PrintUnformatted(j);
	puts(text);
	cJSON_free(text);
	cJSON_Delete(j);
}

static void print_text(const struct st_file *f, const char *verified)
{
	printf("file: %s\n", f->path);
	printf("kind: %s\n", f->kind ? f->kind : "(none)");
	printf("version: %d\n", f->version);
	if (f->config) {
		char *text = cJSON_PrintUnformatted(f->config);
		printf("config: %s\n", text);
		cJSON_free(text);
	} else {
		printf("config: (none)\n");
	}
	printf("tensors: %zu\n", f->n_tensors);
	printf("parameters: %zu\n", st_param_count(f));
	if (verified)
		printf("verify: %s\n", verified);
	for (size_t i = 0; i < f->n_tensors; i++) {
		const struct st_tensor *t = &f->tensors[i];
		printf("  %-48s %-4s [", t->name, st_dtype_name(t->dtype));
		for (int d = 0; d < t->ndim; d++)
			printf("%s%lld", d ? ", " : "", (long long)t->shape[d]);
		printf("]\n");
	}
}

/* The checks the programs that read the file's kind make before its
 * tensors (tokenizers, being small, are loaded whole): 0, or -1 with zerr.
 * A file without a kind (a Hugging Face checkpoint) takes its config from
 * elsewhere. */
static int check_loadable(const struct st_file *f)
{
	struct tower_config tc;
	struct zipper_config zc;
	struct single_map s;
	int rc = -1;
	if (!f->kind) {
		rc = 0;
	} else if (!strcmp(f->kind, "tower")) {
		rc = tower_file_config(f, &tc, NULL);
	} else if (!strcmp(f->kind, "fused")) {
		rc = zipper_file_config(f, &zc);
	} else if (!strcmp(f->kind, "single-decoder")) {
		rc = single_file_config(f, &tc, &s);
	} else if (!strcmp(f->kind, "speech-tokenizer")) {
		struct speechtok *t = speechtok_load(f->path);
		rc = t ? 0 : -1;
		speechtok_free(t);
	} else if (!strcmp(f->kind, "text-tokenizer")) {
		struct bpe *b = bpe_load(f->path);
		rc = b ? 0 : -1;
		bpe_free(b);
	} else {
		zerr_set("%s: unknown kind \"%s\"", f->path, f->kind);
	}
	return rc;
}

/* 0 when the file opened, would load (and verified, if asked), else 1
 * after saying why. */
static int show(const struct options *o, const char *path)
{
	struct st_file f;
	if (st_open(&f, path) < 0) {
		cli_warn("%s", zerr_msg());
		return 1;
	}
	int rc = 0;
	if (check_loadable(&f) < 0) {
		cli_warn("%s", zerr_msg());
		rc = 1;
	}
	const char *verified = NULL;
	if (o->verify) {
		bool corrupt = st_verify(&f) < 0;
		if (corrupt)
			cli_warn("%s", zerr_msg());
		verified = corrupt ? "corrupt" : "ok";
		rc |= corrupt;
	}
	if (o->json)
		print_json(&f, verified);
	else
		print_text(&f, verified);
	st_close(&f);
	return rc;
}

int main(int argc, char **argv)
{
	struct options o = {0};
	cli_init(&doc);
	parse_options(&o, argc, argv);
	int status = 0;
	for (int i = optind; i < argc; i++) {
		if (!o.json && i > optind)
			putchar('\n');
		status |= show(&o, argv[i]);
	}
	if (fflush(stdout) != 0)
		cli_die("stdout: write error");
	return status;
}
