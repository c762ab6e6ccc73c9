/* zip-tokenize: fit a speech or text tokenizer, or turn audio and text into
 * token archives (and audio into log-mel feature archives). */
#include "config.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archive.h"
#include "audio.h"
#include "audiolist.h"
#include "bpe.h"
#include "cli.h"
#include "mel.h"
#include "sha256.h"
#include "speechtok.h"
#include "xalloc.h"
#include "zio.h"

static const struct cli_doc doc = {
	.name = "zip-tokenize",
	.synopsis = "[-jq] [--strict] [--max-seconds s] [-F] -m model [-o out] input ...\n"
		    "       zip-tokenize --fit speech [-k k] [--rate r] [--iters n] [--seed s] [--norm how] -o model input ...\n"
		    "       zip-tokenize --emit features [-o out] input ...\n"
		    "       zip-tokenize --fit text [--vocab n] -o model corpus ...\n"
		    "       zip-tokenize -m text.tok [--raw] [-o out] transcripts ...",
	.summary = "Learn a tokenizer, or write the token archive of audio (speech.tok) or of\n"
		   "transcripts (text.tok). Audio inputs are files of any format libsndfile\n"
		   "reads (id: the file name without extension), Kaldi wav.scp lists\n"
		   "(scp:FILE or a name ending in .scp), or - (stdin, id \"stdin\"); with -F,\n"
		   "tensor archives of log-mel features made by --emit features.",
	.options = "  -m, --model FILE     apply this tokenizer (speech or text)\n"
		   "  -o, --output FILE    token archive, features or model (default: stdout)\n"
		   "      --fit KIND       learn a tokenizer: speech or text\n"
		   "  -k, --units K        speech: codebook size (default 1024)\n"
		   "      --rate R         speech: tokens per second, dividing 100 (default 25)\n"
		   "      --iters N        speech: k-means iterations at most (default 20)\n"
		   "      --seed S         speech: k-means seed (default 1)\n"
		   "      --norm HOW       speech: normalise by global (default) or per-utterance statistics\n"
		   "      --vocab N        text: vocabulary size (default 8192)\n"
		   "      --raw            text: inputs are plain lines, ids are line numbers\n"
		   "      --emit WHAT      tokens (default) or features (log-mel tensor archive)\n"
		   "  -F, --features       inputs are log-mel tensor archives, not audio\n"
		   "      --max-seconds S  reject longer audio (default 1800; 0: no limit)\n"
		   "      --strict         stop at the first bad input (default: skip it, exit 1 at the end)\n",
	.example = "zip-tokenize --fit speech -k 512 -o speech.tok scp:train/wav.scp\n"
		   "      zip-tokenize -m speech.tok scp:test/wav.scp > test.speech.tok",
	.see_also = "zip-detokenize(1), zip-formats(5), zipper(7)",
};

struct options {
	struct cli_common common;
	const char *model, *output, *fit, *emit;
	int k, rate, iters, vocab;
	unsigned long seed;
	double max_seconds;
	bool strict, features_in, raw, utt_norm;
};

enum {
	OPT_FIT = CLI_OPT_FIRST_FREE, OPT_RATE, OPT_ITERS, OPT_SEED, OPT_VOCAB, OPT_RAW,
	OPT_EMIT, OPT_MAX_SECONDS, OPT_STRICT, OPT_NORM,
};

static void parse_options(struct options *o, int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_COMMON_LONGOPTS,
		{"model", required_argument, NULL, 'm'},
		{"output", required_argument, NULL, 'o'},
		{"fit", required_argument, NULL, OPT_FIT},
		{"units", required_argument, NULL, 'k'},
		{"rate", required_argument, NULL, OPT_RATE},
		{"iters", required_argument, NULL, OPT_ITERS},
		{"seed", required_argument, NULL, OPT_SEED},
		{"vocab", required_argument, NULL, OPT_VOCAB},
		{"raw", no_argument, NULL, OPT_RAW},
		{"emit", required_argument, NULL, OPT_EMIT},
		{"features", no_argument, NULL, 'F'},
		{"max-seconds", required_argument, NULL, OPT_MAX_SECONDS},
		{"strict", no_argument, NULL, OPT_STRICT},
		{"norm", required_argument, NULL, OPT_NORM},
		{NULL, 0, NULL, 0},
	};
	cli_common_init(&o->common);
	for (int c; (c = getopt_long(argc, argv, CLI_COMMON_SHORTOPTS "m:o:k:F", longopts, NULL)) != -1;) {
		switch (c) {
		case 'm': o->model = optarg; break;
		case 'o': o->output = optarg; break;
		case OPT_FIT: o->fit = optarg; break;
		case 'k': o->k = (int)cli_parse_long(optarg, "-k", 2, 1 << 20); break;
		case OPT_RATE: o->rate = (int)cli_parse_long(optarg, "--rate", 1, 100); break;
		case OPT_ITERS: o->iters = (int)cli_parse_long(optarg, "--iters", 1, 100000); break;
		case OPT_SEED: o->seed = (unsigned long)cli_parse_long(optarg, "--seed", 0, 0x7fffffffL); break;
		case OPT_VOCAB: o->vocab = (int)cli_parse_long(optarg, "--vocab", 259, 1 << 24); break;
		case OPT_RAW: o->raw = true; break;
		case OPT_EMIT: o->emit = optarg; break;
		case 'F': o->features_in = true; break;
		case OPT_MAX_SECONDS: o->max_seconds = cli_parse_double(optarg, "--max-seconds", 0, 1e9); break;
		case OPT_STRICT: o->strict = true; break;
		case OPT_NORM:
			if (strcmp(optarg, "global") && strcmp(optarg, "utterance"))
				cli_usage_error("--norm takes global or utterance, not '%s'", optarg);
			o->utt_norm = !strcmp(optarg, "utterance");
			break;
		default:
			if (!cli_common_option(&o->common, c, optarg))
				cli_usage_error("unexpected option");
		}
	}
	bool features = !strcmp(o->emit, "features");
	if (!features && strcmp(o->emit, "tokens"))
		cli_usage_error("--emit takes tokens or features, not '%s'", o->emit);
	if (o->fit && strcmp(o->fit, "speech") && strcmp(o->fit, "text"))
		cli_usage_error("--fit takes speech or text, not '%s'", o->fit);
	if (o->fit && o->model)
		cli_usage_error("--fit learns a tokenizer; -m applies one: give one of them");
	if (o->fit && (!o->output || !strcmp(o->output, "-")))
		cli_usage_error("--fit needs -o FILE for the tokenizer");
	if (!o->fit && !o->model && !features)
		cli_usage_error("give -m MODEL to tokenize, --fit KIND to learn a tokenizer, or --emit features");
	if (features && (o->fit || o->features_in || o->model))
		cli_usage_error("--emit features computes features from audio: not with --fit, -F or -m");
	if (o->rate && speechtok_check_rate(o->rate) < 0)
		cli_usage_error("--rate: %s", zerr_msg());
	if (optind == argc)
		cli_usage_error("no input given");
	cli_one_stdin((const char *const *)argv + optind, argc - optind);
}

/* ---- where utterances come from ---- */

/* Audio: (id, path) pairs from arguments and lists, gathered up front;
 * with -F, the tensor archives, read one after another (their ids join
 * the list, so an id seen twice is caught). */
struct source {
	struct audiolist list;
	size_t next;
	char **archives;
	size_t n_archives, archive;
	struct tensor_reader *tr;
};

static void source_open(struct source *s, const struct options *o, int argc, char **argv)
{
	memset(s, 0, sizeof *s);
	audiolist_init(&s->list);
	if (o->features_in) {
		s->archives = argv;
		s->n_archives = (size_t)argc;
		return;
	}
	for (int i = 0; i < argc; i++)
		if (audiolist_add_arg(&s->list, argv[i]) < 0)
			cli_die("%s", zerr_msg());
}

static void source_close(struct source *s)
{
	audiolist_free(&s->list);
	if (s->tr)
		tensor_close(s->tr);
}

/* One utterance on its way through. */
struct utt {
	char *id;
	const char *path;     /* audio to read, or NULL when mel came from an archive */
	float *mel;           /* (T, MEL_NMELS) */
	size_t T;
	int32_t *ids;         /* (n_ids) */
	size_t n_ids;
	char *err;            /* why it failed, or NULL */
};

static void utt_clear(struct utt *u)
{
	free(u->id);
	free(u->mel);
	free(u->ids);
	free(u->err);
	memset(u, 0, sizeof *u);
}

/* A tensor record as an utterance's log-mel, checked. */
static int record_to_utt(struct utt *u, const struct tensor_rec *rec, const char *name)
{
	u->id = xstrdup(rec->id);
	if (rec->ndim != 2 || rec->shape[1] != MEL_NMELS || rec->shape[0] < 1) {
		u->err = xasprintf("%s: record '%s' is not log-mel frames (expected shape [T, %d])",
				   name, rec->id, MEL_NMELS);
		return 0;
	}
	for (size_t i = 0; i < rec->count; i++)
		if (!isfinite(rec->data[i])) { /* as for audio samples: no token means anything */
			u->err = xasprintf("%s: record '%s': value %zu is not a finite number", name,
					   rec->id, i);
			return 0;
		}
	u->T = (size_t)rec->shape[0];
	u->mel = xmallocarray(rec->count, sizeof *u->mel);
	memcpy(u->mel, rec->data, rec->count * sizeof *u->mel);
	return 0;
}

/* Fills u with the next utterance: 1, 0 at the end, -1 on a read error. */
static int source_next(struct source *s, struct utt *u)
{
	memset(u, 0, sizeof *u);
	if (!s->archives) {
		if (s->next == s->list.n)
			return 0;
		u->id = xstrdup(s->list.items[s->next].id);
		u->path = s->list.items[s->next].path;
		s->next++;
		return 1;
	}
	for (;;) {
		if (!s->tr) {
			if (s->archive == s->n_archives)
				return 0;
			if (!(s->tr = tensor_open(s->archives[s->archive++])))
				return -1;
		}
		struct tensor_rec rec;
		int rc = tensor_next(s->tr, &rec);
		if (rc < 0)
			return -1;
		if (rc == 1) {
			if (audiolist_add(&s->list, rec.id, "", tensor_name(s->tr)) < 0)
				return -1;
			return record_to_utt(u, &rec, tensor_name(s->tr)) == 0 ? 1 : -1;
		}
		tensor_close(s->tr);
		s->tr = NULL;
	}
}

/* ---- the work ---- */

struct job {
	const struct options *o;
	struct speechtok *tok;           /* applying */
	struct speechtok_fitter *fitter; /* fitting */
	struct tok_header header;        /* of the token output */
	/* Opened at the first good utterance, so a run that produces nothing
	 * writes nothing, not even a header on stdout. */
	struct tok_writer *tw;           /* token output */
	struct tensor_writer *fw;        /* feature output */
	size_t done, failed;
	double seconds;                  /* of audio */
};

/* The expensive part of one utterance, run in parallel: decode, log-mel, tokens. */
static void process(struct utt *u, struct mel *m, const struct job *j)
{
	if (u->err)
		return;
	if (u->path) {
		struct audio a;
		if (audio_read(&a, u->path, j->o->max_seconds) < 0) {
			u->err = xstrdup(zerr_msg());
			return;
		}
		u->T = mel_frames(a.n);
		u->mel = xmallocarray(u->T * MEL_NMELS, sizeof *u->mel);
		mel_compute(m, u->mel, a.pcm, a.n);
		audio_free(&a);
	}
	if (j->tok) {
		u->n_ids = speechtok_n_tokens(j->tok, u->T);
		u->ids = xmallocarray(u->n_ids, sizeof *u->ids);
		speechtok_encode(j->tok, u->ids, u->mel, u->T);
	}
}

/* In input order: report a failure, or write/gather the result. -1: stop. */
static int consume(struct job *j, struct utt *u)
{
	if (u->err) {
		cli_warn("%s", u->err);
		j->failed++;
		return j->o->strict ? -1 : 0;
	}
	int rc = 0;
	if (j->fitter) {
		speechtok_fitter_add(j->fitter, u->mel, u->T);
	} else if (!j->tok) {
		int64_t shape[2] = {(int64_t)u->T, MEL_NMELS};
		if (!j->fw && !(j->fw = tensor_create(j->o->output)))
			rc = -1;
		else
			rc = tensor_write(j->fw, u->id, u->mel, 2, shape);
	} else {
		if (!j->tw && !(j->tw = tok_create(j->o->output, &j->header)))
			rc = -1;
		else
			rc = tok_write(j->tw, u->id, u->ids, u->n_ids);
	}
	if (rc < 0)
		cli_die("%s", zerr_msg());
	j->done++;
	j->seconds += (double)u->T * MEL_HOP / MEL_RATE;
	return 0;
}

enum { BATCH = 64 };

/* Reads a batch, processes it in parallel, consumes it in order. Returns -1
 * when a --strict failure or an unreadable archive stopped the run. */
static int run(struct job *j, struct source *s)
{
	int nt = omp_get_max_threads();
	struct mel **mels = xcalloc((size_t)nt, sizeof *mels);
	for (int t = 0; t < nt; t++)
		mels[t] = mel_new();
	struct utt batch[BATCH];
	struct progress p;
	progress_start(&p, j->fitter ? "features" : "tokenize", s->archives ? 0 : (double)s->list.n,
		       j->o->common.quiet);
	int stop = 0;
	for (bool more = true; more && !stop;) {
		size_t nb = 0;
		int rc = 0;
		while (nb < BATCH && (rc = source_next(s, &batch[nb])) == 1)
			nb++;
		more = rc == 1;
#pragma omp parallel for schedule(dynamic, 1)
		for (size_t i = 0; i < nb; i++)
			process(&batch[i], mels[omp_get_thread_num()], j);
		for (size_t i = 0; i < nb; i++) {
			if (!stop && consume(j, &batch[i]) < 0)
				stop = -1;
			utt_clear(&batch[i]);
		}
		if (rc < 0) { /* an archive that cannot be read further */
			cli_warn("%s", zerr_msg());
			j->failed++;
			stop = -1;
		}
		progress_update(&p, (double)(j->done + j->failed), NULL);
	}
	progress_end(&p);
	for (int t = 0; t < nt; t++)
		mel_free(mels[t]);
	free(mels);
	return stop;
}

/* The tail every mode shares: nothing done or something failed is exit 1.
 * When every input failed, their own lines have said why: no summary. */
static int verdict(const struct job *j, const char *what)
{
	if (j->done == 0 && j->failed)
		return EXIT_RUNTIME;
	if (j->done == 0)
		cli_die("no utterance was processed");
	if (!j->o->common.quiet)
		fprintf(stderr, "%s: %s %zu utterances (%.1f s of audio)\n", cli_progname(), what,
			j->done, j->seconds);
	if (j->failed)
		fprintf(stderr, "%s: %zu input%s failed\n", cli_progname(), j->failed,
			j->failed == 1 ? "" : "s");
	return j->failed ? EXIT_RUNTIME : 0;
}

static int fit_speech(const struct options *o, struct source *s)
{
	struct job j = {.o = o, .fitter = speechtok_fitter_new(o->rate, o->utt_norm)};
	if (run(&j, s) < 0)
		cli_die("stopped at the first bad input (--strict)");
	if (j.done == 0) { /* nothing to fit on: say so (or not, if the inputs have) */
		speechtok_fitter_free(j.fitter);
		return verdict(&j, "learned from");
	}
	struct speechtok_fit_opts fo;
	speechtok_fit_opts_default(&fo);
	fo.k = o->k;
	fo.rate = o->rate;
	fo.max_iters = o->iters;
	fo.seed = o->seed;
	fo.quiet = o->common.quiet;
	struct speechtok *t = speechtok_fit(j.fitter, &fo);
	speechtok_fitter_free(j.fitter);
	if (!t || speechtok_save(t, o->output) < 0)
		cli_die("%s", zerr_msg());
	speechtok_free(t);
	return verdict(&j, "learned from");
}

static int apply_speech(const struct options *o, struct source *s, struct speechtok *tok)
{
	struct job j = {.o = o, .tok = tok};
	if (tok) {
		j.header.present = true;
		j.header.vocab = tok->k + 2;
		strcpy(j.header.modality, "speech");
		strcpy(j.header.tokenizer, tok->fingerprint);
	}
	int stopped = run(&j, s);
	if (stopped < 0 || j.done == 0) {
		if (j.tw)
			tok_abort(j.tw);
		if (j.fw)
			tensor_abort(j.fw);
		if (stopped < 0)
			cli_die("stopped at the first bad input (--strict)%s",
				strcmp(o->output, "-") ? "; nothing written" : "");
	} else if ((j.tw ? tok_commit(j.tw) : tensor_commit(j.fw)) < 0) {
		cli_die("%s", zerr_msg());
	}
	return verdict(&j, tok ? "tokenized" : "computed features of");
}

/* ---- text ---- */

static void fit_progress(void *ctx, long done, long total)
{
	progress_update(ctx, (double)done, NULL);
}

static int text_fit(const struct options *o, int n, char **in)
{
	double t0 = cli_now();
	struct bpe_counts *c = bpe_counts_new();
	size_t lines = 0;
	for (int i = 0; i < n; i++) {
		struct zin *z = zin_open(in[i]);
		if (!z)
			cli_die("%s", zerr_msg());
		size_t len;
		for (char *line; (line = zin_getline(z, &len));) {
			bpe_counts_add(c, line, len);
			lines++;
		}
		if (zin_failed(z))
			cli_die("%s", zerr_msg());
		zin_close(z);
	}
	if (lines == 0) /* a tokenizer of bytes alone: an empty corpus is a mistake */
		cli_die("%s: no text to fit a tokenizer on", n > 1 ? "the inputs"
						 : strcmp(in[0], "-") ? in[0] : "stdin");
	struct progress p;
	progress_start(&p, "merges", o->vocab - BPE_BASE_VOCAB, o->common.quiet);
	struct bpe_fit_opts fo = {.progress = fit_progress, .ctx = &p};
	struct bpe *b = bpe_fit_counts(c, o->vocab, &fo);
	progress_end(&p);
	bpe_counts_free(c);
	if (!b || bpe_save(b, o->output) < 0)
		cli_die("%s", zerr_msg());
	if (!o->common.quiet)
		fprintf(stderr, "%s: learned %d merges (vocabulary %d) from %zu lines in %.1f s\n",
			cli_progname(), bpe_n_merges(b), bpe_vocab_size(b), lines, cli_now() - t0);
	bpe_free(b);
	return 0;
}

/* Encodes one transcript and writes it. */
static void text_write(struct tok_writer *w, const struct bpe *b, const char *id,
		       const char *text, size_t len, int32_t **ids, size_t *cap)
{
	size_t n = 0;
	bpe_encode(b, text, len, ids, &n, cap);
	if (tok_write(w, id, *ids, n) < 0)
		cli_die("%s", zerr_msg());
}

static int text_apply(const struct options *o, int n, char **in)
{
	if (o->features_in || strcmp(o->emit, "tokens"))
		cli_usage_error("-F and --emit features are for speech tokenizers");
	struct bpe *b = bpe_load(o->model);
	struct tok_header h = {.present = true};
	if (!b || sha256_file_fingerprint(o->model, h.tokenizer) < 0)
		cli_die("%s", zerr_msg());
	strcpy(h.modality, "text");
	h.vocab = bpe_vocab_size(b);
	struct tok_writer *w = tok_create(o->output, &h);
	if (!w)
		cli_die("%s", zerr_msg());
	int32_t *ids = NULL;
	size_t cap = 0, count = 0;
	for (int i = 0; i < n; i++) {
		if (o->raw) {
			struct zin *z = zin_open(in[i]);
			if (!z)
				cli_die("%s", zerr_msg());
			size_t len; /* a plain line may hold NUL bytes, like any other */
			for (char *line; (line = zin_getline(z, &len));) {
				char id[32];
				snprintf(id, sizeof id, "%zu", ++count);
				text_write(w, b, id, line, len, &ids, &cap);
			}
			if (zin_failed(z))
				cli_die("%s", zerr_msg());
			zin_close(z);
			continue;
		}
		struct kv_reader *r = kv_open(in[i]);
		if (!r)
			cli_die("%s", zerr_msg());
		const char *id, *value;
		int rc;
		while ((rc = kv_next(r, &id, &value)) == 1) {
			text_write(w, b, id, value, strlen(value), &ids, &cap);
			count++;
		}
		if (rc < 0)
			cli_die("%s", zerr_msg());
		kv_close(r);
	}
	free(ids);
	bpe_free(b);
	if (count == 0) {
		tok_abort(w);
		cli_die("no transcript was read");
	}
	if (tok_commit(w) < 0)
		cli_die("%s", zerr_msg());
	return 0;
}

/* "speech-tokenizer", "text-tokenizer", or dies naming what the file is. */
static char *model_kind(const char *path)
{
	struct st_file f;
	if (st_open(&f, path) < 0)
		cli_die("%s", zerr_msg());
	char *kind = xstrdup(f.kind ? f.kind : "");
	st_close(&f);
	if (strcmp(kind, "speech-tokenizer") && strcmp(kind, "text-tokenizer"))
		cli_die("%s: not a tokenizer (zipper.kind is %s)", path, *kind ? kind : "missing");
	return kind;
}

int main(int argc, char **argv)
{
	struct options o = {
		.output = "-", .emit = "tokens", .k = 1024, .rate = 0, .iters = 20, .seed = 1,
		.vocab = 8192, .max_seconds = 1800,
	};
	cli_init(&doc);
	parse_options(&o, argc, argv);
	cli_apply_threads(&o.common);
	if (!o.rate)
		o.rate = 25;
	int n_in = argc - optind;
	char **in = argv + optind;
	if (o.fit && zout_check(o.output) < 0) /* before the fitting, not after */
		cli_die("%s", zerr_msg());

	if (o.fit && !strcmp(o.fit, "text"))
		return text_fit(&o, n_in, in);
	struct speechtok *tok = NULL;
	if (o.model) {
		char *kind = model_kind(o.model);
		bool text = !strcmp(kind, "text-tokenizer");
		free(kind);
		if (text)
			return text_apply(&o, n_in, in);
		if (!(tok = speechtok_load(o.model)))
			cli_die("%s", zerr_msg());
	}
	struct source s;
	source_open(&s, &o, n_in, in);
	int rc = o.fit ? fit_speech(&o, &s) : apply_speech(&o, &s, tok);
	source_close(&s);
	speechtok_free(tok);
	return rc;
}
