/* zip-transcribe: audio in, transcripts out, with one fused model that
 * carries its tokenizers: zip-tokenize | zip-generate --task asr in one
 * program, streaming a batch of files at a time. */
#include "config.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "asr.h"
#include "audio.h"
#include "audiolist.h"
#include "cli.h"
#include "mel.h"
#include "speechtok.h"
#include "textnorm.h"
#include "xalloc.h"
#include "zio.h"

#ifndef ZIPPER_PKGDATADIR
#define ZIPPER_PKGDATADIR "/usr/local/share/zipper"
#endif
#define DEFAULT_MODEL ZIPPER_PKGDATADIR "/default.zpm"

static const struct cli_doc doc = {
	.name = "zip-transcribe",
	.synopsis = "[-jq] [-m fused.zpm] [-o txt|kaldi|json] [--beam n] [--batch n] [--out file]\n"
		    "       [--strict] [--max-seconds s] [--speech-tokenizer speech.tok]\n"
		    "       [--text-tokenizer text.tok] [--bf16] input ...",
	.summary = "Transcribe audio with a fused model (zip-fuse) that carries its tokenizers:\n"
		   "what zip-tokenize -m speech.tok | zip-generate --task asr does, in one\n"
		   "program. Inputs are audio files of any format libsndfile reads (id: the\n"
		   "file name without extension), Kaldi wav.scp lists (scp:FILE or a name\n"
		   "ending in .scp), or - (stdin, id \"stdin\"). A bad input is reported and\n"
		   "skipped (exit 1 at the end). The model: -m, else $ZIPPER_MODEL, else\n"
		   DEFAULT_MODEL ".",
	.options = "  -m, --model FILE     the fused or single-decoder model\n"
		   "  -o, --format F       txt (one transcript a line, default), kaldi\n"
		   "                       (\"utt-id words\") or json (one object a line)\n"
		   "      --out FILE       write here (default: stdout), atomically\n"
		   "      --beam N         beam search with N beams (default 1: greedy)\n"
		   "      --batch N        utterances read and decoded together (default 16)\n"
		   "      --strict         stop at the first bad input\n"
		   "      --max-seconds S  reject longer audio (default 1800; 0: no limit)\n"
		   "      --speech-tokenizer FILE  speech.tok, for a model that carries none\n"
		   "      --text-tokenizer FILE    text.tok, for a model that carries none\n"
		   "      --bf16           decode with bfloat16 copies of the weights (faster)\n",
	.example = "zip-transcribe -m fused.zpm -o kaldi scp:test/wav.scp > hyp.txt",
	.see_also = "zip-tokenize(1), zip-generate(1), zip-fuse(1), zip-eval-wer(1), zipper(7)",
};

enum format { FMT_TXT, FMT_KALDI, FMT_JSON };

struct options {
	struct cli_common common;
	const char *model, *out, *speech_tokenizer, *text_tokenizer;
	enum format format;
	int beam, batch;
	double max_seconds;
	bool strict, bf16;
};

enum { OPT_OUT = CLI_OPT_FIRST_FREE, OPT_BEAM, OPT_BATCH, OPT_STRICT, OPT_MAX_SECONDS, OPT_SPEECH_TOK,
       OPT_TEXT_TOK, OPT_BF16 };

static enum format parse_format(const char *arg)
{
	static const char *const names[] = {"txt", "kaldi", "json"};
	for (int f = 0; f < 3; f++)
		if (!strcmp(arg, names[f]))
			return (enum format)f;
	cli_usage_error("-o takes txt, kaldi or json, not '%s' (the output file is --out)", arg);
}

static void parse_options(struct options *o, int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_COMMON_LONGOPTS,
		{"model", required_argument, NULL, 'm'},
		{"format", required_argument, NULL, 'o'},
		{"out", required_argument, NULL, OPT_OUT},
		{"beam", required_argument, NULL, OPT_BEAM},
		{"batch", required_argument, NULL, OPT_BATCH},
		{"strict", no_argument, NULL, OPT_STRICT},
		{"max-seconds", required_argument, NULL, OPT_MAX_SECONDS},
		{"speech-tokenizer", required_argument, NULL, OPT_SPEECH_TOK},
		{"text-tokenizer", required_argument, NULL, OPT_TEXT_TOK},
		{"bf16", no_argument, NULL, OPT_BF16},
		{NULL, 0, NULL, 0},
	};
	cli_common_init(&o->common);
	for (int c; (c = getopt_long(argc, argv, CLI_COMMON_SHORTOPTS "m:o:", longopts, NULL)) != -1;) {
		switch (c) {
		case 'm': o->model = optarg; break;
		case 'o': o->format = parse_format(optarg); break;
		case OPT_OUT: o->out = optarg; break;
		case OPT_BEAM: o->beam = (int)cli_parse_long(optarg, "--beam", 1, 1024); break;
		case OPT_BATCH: o->batch = (int)cli_parse_long(optarg, "--batch", 1, 4096); break;
		case OPT_STRICT: o->strict = true; break;
		case OPT_MAX_SECONDS: o->max_seconds = cli_parse_double(optarg, "--max-seconds", 0, 1e9); break;
		case OPT_SPEECH_TOK: o->speech_tokenizer = optarg; break;
		case OPT_TEXT_TOK: o->text_tokenizer = optarg; break;
		case OPT_BF16: o->bf16 = true; break;
		default:
			if (!cli_common_option(&o->common, c, optarg))
				cli_usage_error("unexpected option");
		}
	}
	if (optind == argc)
		cli_usage_error("no input given");
	cli_one_stdin((const char *const *)argv + optind, argc - optind);
}

/* -m, else $ZIPPER_MODEL, else the installed default; without -m, a model
 * that is not there is a usage error (exit 2) saying where it looked. */
static const char *find_model(const struct options *o)
{
	if (o->model)
		return o->model;
	const char *env = getenv("ZIPPER_MODEL");
	const char *path = env && *env ? env : DEFAULT_MODEL;
	if (access(path, R_OK) == 0)
		return path;
	cli_warn("no model: give -m or set ZIPPER_MODEL (looked for %s)", path);
	exit(EXIT_USAGE);
}

static struct asr *open_model(const struct options *o)
{
	struct asr_opts ao;
	asr_opts_default(&ao);
	ao.model = find_model(o);
	ao.speech_tokenizer = o->speech_tokenizer;
	ao.text_tokenizer = o->text_tokenizer;
	ao.need_speech = true;
	ao.beam = o->beam;
	ao.batch = o->batch;
	ao.bf16 = o->bf16;
	struct asr *a = asr_open(&ao);
	if (!a)
		cli_die("%s", zerr_msg());
	return a;
}

/* ---- one batch of utterances ---- */

struct utt {
	const struct audio_item *item;
	int32_t *ids; /* (n) speech tokens */
	size_t n;
	double seconds;
	char *text, *err; /* the transcript, or why there is none */
};

/* Audio -> log-mel -> speech tokens; run in parallel. */
static void tokenize(struct utt *u, struct mel *m, const struct speechtok *tok, double max_seconds)
{
	struct audio a;
	if (audio_read(&a, u->item->path, max_seconds) < 0) {
		u->err = xstrdup(zerr_msg());
		return;
	}
	size_t T = mel_frames(a.n);
	float *mel = xmallocarray(T * MEL_NMELS, sizeof *mel);
	mel_compute(m, mel, a.pcm, a.n);
	u->seconds = (double)a.n / AUDIO_RATE;
	audio_free(&a);
	u->n = speechtok_n_tokens(tok, T);
	u->ids = xmallocarray(u->n, sizeof *u->ids);
	speechtok_encode(tok, u->ids, mel, T);
	free(mel);
}

/* The utterances that tokenized and fit the model, decoded together. */
static void transcribe(struct asr *a, struct utt *b, int nb)
{
	const int32_t **ids = xmallocarray((size_t)nb, sizeof *ids);
	size_t *n = xmallocarray((size_t)nb, sizeof *n);
	char **text = xmallocarray((size_t)nb, sizeof *text);
	int *at = xmallocarray((size_t)nb, sizeof *at), k = 0, max_in = asr_max_in(a);
	for (int i = 0; i < nb; i++) {
		if (!b[i].err && b[i].n > (size_t)max_in)
			b[i].err = xasprintf("%s: %zu speech tokens: longer than the model allows (%d)",
					     b[i].item->path, b[i].n, max_in);
		else if (!b[i].err)
			ids[k] = b[i].ids, n[k] = b[i].n, at[k++] = i;
	}
	asr_transcribe(a, ids, n, k, text);
	for (int j = 0; j < k; j++)
		b[at[j]].text = text[j];
	free(ids), free(n), free(text), free(at);
}

/* JSON wants UTF-8 and ids come from file names, which may hold any
 * bytes: the ill-formed ones become U+FFFD. Malloc'd. */
static char *utf8_clean(const char *text)
{
	char *out = NULL;
	size_t cap = 0;
	utf8_repair(&out, &cap, text, strlen(text));
	return out;
}

static void write_utt(struct zout *out, enum format f, const struct utt *u)
{
	int rc;
	if (f == FMT_TXT) {
		rc = zout_printf(out, "%s\n", u->text);
	} else if (f == FMT_KALDI) {
		rc = zout_printf(out, "%s %s\n", u->item->id, u->text);
	} else {
		cJSON *j = cJSON_CreateObject();
		char *id = utf8_clean(u->item->id), *text = utf8_clean(u->text);
		cJSON_AddStringToObject(j, "id", id);
		cJSON_AddStringToObject(j, "text", text);
		free(id), free(text);
		cJSON_AddNumberToObject(j, "seconds", round(u->seconds * 1000) / 1000);
		cJSON_AddNumberToObject(j, "tokens", (double)u->n);
		char *s = cJSON_PrintUnformatted(j);
		cJSON_Delete(j);
		rc = zout_printf(out, "%s\n", s);
		free(s);
	}
	if (rc < 0)
		cli_die("%s", zerr_msg());
}

/* ---- the run ---- */

struct run {
	const struct options *o;
	struct asr *asr;
	struct zout *out;
	struct mel **mels; /* one per thread */
	size_t done, failed;
	double seconds;
};

/* Writes a transcribed batch in input order, reporting the failures;
 * -1 when --strict stops the run. */
static int consume(struct run *r, struct utt *b, int nb)
{
	for (int i = 0; i < nb; i++) {
		if (b[i].err) {
			cli_warn("%s", b[i].err);
			r->failed++;
			if (r->o->strict)
				return -1;
			continue;
		}
		write_utt(r->out, r->o->format, &b[i]);
		r->done++;
		r->seconds += b[i].seconds;
	}
	return 0;
}

/* The first utterance of b that failed, or nb. */
static int first_failed(const struct utt *b, int nb)
{
	int i = 0;
	while (i < nb && !b[i].err)
		i++;
	return i;
}

/* Batch by batch: read and tokenize in parallel, decode, write. Only one
 * batch of audio is in memory at a time. -1: stopped by --strict. */
static int run(struct run *r, const struct audiolist *list)
{
	const struct speechtok *tok = asr_speechtok(r->asr);
	int B = r->o->batch;
	struct utt *b = xcalloc((size_t)B, sizeof *b);
	struct progress bar;
	progress_start(&bar, "transcribe", (double)list->n, r->o->common.quiet);
	int stop = 0;
	for (size_t i0 = 0; i0 < list->n && !stop; i0 += (size_t)B) {
		int nb = list->n - i0 < (size_t)B ? (int)(list->n - i0) : B;
		for (int i = 0; i < nb; i++)
			b[i] = (struct utt){.item = &list->items[i0 + (size_t)i]};
#pragma omp parallel for schedule(dynamic, 1)
		for (int i = 0; i < nb; i++)
			tokenize(&b[i], r->mels[omp_get_thread_num()], tok, r->o->max_seconds);
		int bad = r->o->strict ? first_failed(b, nb) : nb;
		if (bad < nb) { /* decode nothing: the run stops there */
			stop = consume(r, b + bad, 1);
		} else {
			transcribe(r->asr, b, nb);
			stop = consume(r, b, nb);
		}
		for (int i = 0; i < nb; i++)
			free(b[i].ids), free(b[i].text), free(b[i].err);
		progress_update(&bar, (double)(r->done + r->failed), NULL);
	}
	progress_end(&bar);
	free(b);
	return stop;
}

/* Nothing is summarised when every input failed: their own lines said why. */
static void report(const struct run *r, double wall)
{
	if (r->done == 0)
		return;
	if (!r->o->common.quiet)
		fprintf(stderr, "%s: transcribed %zu utterances (%.1f s of audio) in %.1f s (%.3f x real time)\n",
			cli_progname(), r->done, r->seconds, wall, r->seconds > 0 ? wall / r->seconds : 0.0);
	if (r->failed)
		fprintf(stderr, "%s: %zu input%s failed\n", cli_progname(), r->failed, r->failed == 1 ? "" : "s");
}

int main(int argc, char **argv)
{
	struct options o = {.out = "-", .format = FMT_TXT, .beam = 1, .batch = 16, .max_seconds = 1800};
	cli_init(&doc);
	parse_options(&o, argc, argv);
	cli_apply_threads(&o.common);
	double t0 = cli_now();

	struct audiolist list;
	audiolist_init(&list);
	for (int i = optind; i < argc; i++)
		if (audiolist_add_arg(&list, argv[i]) < 0)
			cli_die("%s", zerr_msg());
	struct run r = {.o = &o, .asr = open_model(&o)};
	if (!(r.out = zout_open(o.out)))
		cli_die("%s", zerr_msg());
	int nt = omp_get_max_threads();
	r.mels = xcalloc((size_t)nt, sizeof *r.mels);
	for (int t = 0; t < nt; t++)
		r.mels[t] = mel_new();

	int stopped = run(&r, &list);
	report(&r, cli_now() - t0);
	if (stopped < 0 || r.done == 0) {
		zout_abort(r.out);
		if (stopped < 0)
			cli_die("stopped at the first bad input (--strict)%s",
				strcmp(o.out, "-") ? "; nothing written" : "");
		if (!r.failed) /* else every input has said why */
			cli_die("no utterance was transcribed");
	} else if (zout_commit(r.out) < 0) {
		cli_die("%s", zerr_msg());
	}
	for (int t = 0; t < nt; t++)
		mel_free(r.mels[t]);
	free(r.mels);
	asr_close(r.asr);
	audiolist_free(&list);
	return r.failed ? EXIT_RUNTIME : 0;
}
