/* zip-detokenize: token archives back to transcripts (text) or 16 kHz WAV
 * audio (speech, through the codebook, log-mel and Griffin-Lim). */
#include "config.h"

#include <errno.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "archive.h"
#include "audio.h"
#include "bpe.h"
#include "cli.h"
#include "mel.h"
#include "sha256.h"
#include "speechtok.h"
#include "vocoder.h"
#include "xalloc.h"
#include "zio.h"

static const struct cli_doc doc = {
	.name = "zip-detokenize",
	.synopsis = "[-jq] -m speech.tok [--iters n] [--seed s] (-d dir | -o file) [tokens]\n"
		    "       zip-detokenize -m text.tok [--raw] [-o out] [tokens]",
	.summary = "Turn a token archive (default: stdin) back into what it stands for:\n"
		   "with a text tokenizer, transcripts \"utt-id text\" (the exact inverse of\n"
		   "zip-tokenize); with a speech tokenizer, 16 kHz 16-bit WAV audio, one\n"
		   "file DIR/utt-id.wav per utterance, or one utterance to -o FILE (- for\n"
		   "stdout). Begin/end-of-audio tokens are dropped; a text archive's\n"
		   "PAD/BOS/EOS carry no text.",
	.options = "  -m, --model FILE   the tokenizer the tokens were made with\n"
		   "  -d, --dir DIR      speech: write DIR/utt-id.wav for every utterance\n"
		   "  -o, --output FILE  text: transcripts (default: stdout); speech: the only utterance\n"
		   "      --iters N      speech: Griffin-Lim iterations (default 32)\n"
		   "      --seed S       speech: seed of the initial phase (default 1)\n"
		   "      --raw          text: write the text alone, without the utterance id\n",
	.example = "zip-detokenize -m speech.tok -d wav/ test.speech.tok",
	.see_also = "zip-tokenize(1), zip-formats(5), zipper(7)",
};

struct options {
	struct cli_common common;
	const char *model, *dir, *output, *tokens;
	int iters;
	unsigned long seed;
	bool raw;
};

enum { OPT_ITERS = CLI_OPT_FIRST_FREE, OPT_SEED, OPT_RAW };

static void parse_options(struct options *o, int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_COMMON_LONGOPTS,
		{"model", required_argument, NULL, 'm'},
		{"dir", required_argument, NULL, 'd'},
		{"output", required_argument, NULL, 'o'},
		{"iters", required_argument, NULL, OPT_ITERS},
		{"seed", required_argument, NULL, OPT_SEED},
		{"raw", no_argument, NULL, OPT_RAW},
		{NULL, 0, NULL, 0},
	};
	cli_common_init(&o->common);
	for (int c; (c = getopt_long(argc, argv, CLI_COMMON_SHORTOPTS "m:d:o:", longopts, NULL)) != -1;) {
		switch (c) {
		case 'm': o->model = optarg; break;
		case 'd': o->dir = optarg; break;
		case 'o': o->output = optarg; break;
		case OPT_ITERS: o->iters = (int)cli_parse_long(optarg, "--iters", 0, 100000); break;
		case OPT_SEED: o->seed = (unsigned long)cli_parse_long(optarg, "--seed", 0, 0x7fffffffL); break;
		case OPT_RAW: o->raw = true; break;
		default:
			if (!cli_common_option(&o->common, c, optarg))
				cli_usage_error("unexpected option");
		}
	}
	if (!o->model)
		cli_usage_error("no tokenizer given (-m FILE)");
	if (o->dir && o->output)
		cli_usage_error("-d and -o exclude each other");
	if (argc - optind > 1)
		cli_usage_error("one token archive at a time");
	o->tokens = optind < argc ? argv[optind] : "-";
}

/* ---- text ---- */

static int text_decode(const struct options *o)
{
	if (o->dir)
		cli_usage_error("-d is for speech tokenizers");
	struct bpe *b = bpe_load(o->model);
	char fp[17];
	if (!b || sha256_file_fingerprint(o->model, fp) < 0)
		cli_die("%s", zerr_msg());
	struct tok_reader *r = tok_open(o->tokens, bpe_vocab_size(b));
	if (!r || tok_expect(r, "text", bpe_vocab_size(b), fp) < 0)
		cli_die("%s", zerr_msg());
	struct zout *out = zout_open(o->output ? o->output : "-");
	if (!out)
		cli_die("%s", zerr_msg());
	const char *id;
	const int32_t *ids;
	size_t n, len, cap = 0;
	char *text = NULL;
	int rc;
	long count = 0;
	while ((rc = tok_next(r, &id, &ids, &n)) == 1) {
		count++;
		len = 0;
		if (bpe_decode(b, ids, n, &text, &len, &cap) < 0) {
			zerr_prefix("%s:%ld", tok_name(r), tok_lineno(r));
			rc = -1;
			break;
		}
		if ((!o->raw && (zout_puts(out, id) < 0 || zout_puts(out, " ") < 0)) ||
		    zout_write(out, text ? text : "", len) < 0 || zout_puts(out, "\n") < 0) {
			rc = -1;
			break;
		}
	}
	free(text);
	tok_close(r);
	bpe_free(b);
	if (rc < 0) {
		zout_abort(out);
		cli_die("%s", zerr_msg());
	}
	if (count == 0) { /* as for speech: nothing decoded is a failure */
		zout_abort(out);
		cli_die("%s: no utterances", o->tokens);
	}
	if (zout_commit(out) < 0)
		cli_die("%s", zerr_msg());
	return 0;
}

/* ---- speech ---- */

/* Drops begin/end-of-audio markers (k, k+1) a generator may have left in. */
static size_t strip_markers(int32_t *out, const int32_t *ids, size_t n, int k)
{
	size_t m = 0;
	for (size_t i = 0; i < n; i++)
		if (ids[i] < k)
			out[m++] = ids[i];
	return m;
}

/* One utterance to a WAV file; (T - 1) * 160 samples written to *seconds. */
static int synth_one(const struct options *o, const struct speechtok *t, struct vocoder *v,
		     const int32_t *ids, size_t n, const char *path, double *seconds)
{
	size_t T = n * (size_t)t->stack;
	if (T < 2) {
		zerr_set("%s to turn into audio", n ? "one frame is too little audio" : "no speech tokens");
		return -1;
	}
	float *mel = xmallocarray(T * MEL_NMELS, sizeof *mel);
	if (speechtok_decode(t, mel, ids, n) < 0) {
		free(mel);
		return -1;
	}
	float *pcm;
	size_t len;
	vocoder_synth(v, &pcm, &len, mel, T, o->iters, o->seed);
	int rc = audio_write_wav(path, pcm, len);
	*seconds = (double)len / AUDIO_RATE;
	free(pcm);
	free(mel);
	return rc;
}

/* An utterance read from the archive, synthesised in parallel with others. */
struct utt {
	char *where;     /* "file:line: id" for messages */
	char *path;      /* the WAV to write */
	int32_t *units;  /* (n) codebook ids, markers removed */
	size_t n;
	double seconds;
	char *err;
};

/* Reads the next utterance into u: 1, 0 at the end, -1 with zerr set. */
static int read_utt(const struct options *o, struct tok_reader *r, const struct speechtok *t,
		    size_t *count, struct utt *u)
{
	const char *id;
	const int32_t *ids;
	size_t n;
	int rc = tok_next(r, &id, &ids, &n);
	if (rc != 1)
		return rc;
	if (++*count > 1 && o->output) {
		zerr_set("%s: more than one utterance; use -d DIR", tok_name(r));
		return -1;
	}
	if (o->dir && (strchr(id, '/') || !strcmp(id, ".") || !strcmp(id, ".."))) {
		zerr_set("%s:%ld: utterance id '%s' cannot be a file name in %s", tok_name(r),
			 tok_lineno(r), id, o->dir);
		return -1;
	}
	memset(u, 0, sizeof *u);
	u->where = xasprintf("%s:%ld: %s", tok_name(r), tok_lineno(r), id);
	u->path = o->dir ? xasprintf("%s/%s.wav", o->dir, id) : xstrdup(o->output);
	u->units = xmallocarray(n + 1, sizeof *u->units);
	u->n = strip_markers(u->units, ids, n, t->k);
	return 1;
}

enum { BATCH = 16 };

static int speech_decode(const struct options *o)
{
	if (o->raw)
		cli_usage_error("--raw is for text tokenizers");
	if (!o->dir && !o->output)
		cli_usage_error("give -d DIR (a WAV per utterance) or -o FILE (a single utterance)");
	struct speechtok *t = speechtok_load(o->model);
	if (!t)
		cli_die("%s", zerr_msg());
	struct tok_reader *r = tok_open(o->tokens, t->k + 2);
	if (!r || tok_expect(r, "speech", t->k + 2, t->fingerprint) < 0)
		cli_die("%s", zerr_msg());
	if (o->dir && mkdir(o->dir, 0777) < 0 && errno != EEXIST)
		cli_die("%s: cannot create directory: %s", o->dir, strerror(errno));
	int nt = omp_get_max_threads();
	struct vocoder **voc = xcalloc((size_t)nt, sizeof *voc);
	for (int i = 0; i < nt; i++)
		voc[i] = vocoder_new();
	struct utt batch[BATCH];
	size_t count = 0;
	double seconds = 0, t0 = cli_now();
	char *err = NULL; /* the first failure, reported after the batch it stopped */
	for (int rc = 1; rc == 1 && !err;) {
		size_t nb = 0;
		while (nb < BATCH && (rc = read_utt(o, r, t, &count, &batch[nb])) == 1)
			nb++;
		if (rc < 0)
			err = xstrdup(zerr_msg());
#pragma omp parallel for schedule(dynamic, 1)
		for (size_t i = 0; i < nb; i++)
			if (synth_one(o, t, voc[omp_get_thread_num()], batch[i].units, batch[i].n,
				      batch[i].path, &batch[i].seconds) < 0)
				batch[i].err = xasprintf("%s: %s", batch[i].where, zerr_msg());
		char *first = NULL; /* its lines precede any read failure: it comes first */
		for (size_t i = 0; i < nb; i++) {
			struct utt *u = &batch[i];
			seconds += u->seconds;
			if (u->err && !first)
				first = u->err;
			else
				free(u->err);
			free(u->where);
			free(u->path);
			free(u->units);
		}
		if (first) {
			free(err);
			err = first;
		}
	}
	for (int i = 0; i < nt; i++)
		vocoder_free(voc[i]);
	free(voc);
	tok_close(r);
	speechtok_free(t);
	if (err)
		cli_die("%s", err);
	if (count == 0)
		cli_die("%s: no utterances", o->tokens);
	if (!o->common.quiet)
		fprintf(stderr, "%s: %zu utterances, %.1f s of audio in %.1f s\n", cli_progname(),
			count, seconds, cli_now() - t0);
	return 0;
}

int main(int argc, char **argv)
{
	struct options o = {.iters = 32, .seed = 1};
	cli_init(&doc);
	parse_options(&o, argc, argv);
	cli_apply_threads(&o.common);
	struct st_file f;
	if (st_open(&f, o.model) < 0)
		cli_die("%s", zerr_msg());
	char *kind = xstrdup(f.kind ? f.kind : "");
	st_close(&f);
	int rc;
	if (!strcmp(kind, "text-tokenizer"))
		rc = text_decode(&o);
	else if (!strcmp(kind, "speech-tokenizer"))
		rc = speech_decode(&o);
	else
		cli_die("%s: not a tokenizer (zipper.kind is %s)", o.model, *kind ? kind : "missing");
	free(kind);
	return rc;
}
