/* fused-score: zip-generate --score for fused models and single decoders
 * (see fused-generate.h): the log-likelihood of unimodal utterances, the
 * modality taken from the archive's header. */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archive.h"
#include "cli.h"
#include "decode.h"
#include "fused-generate.h"
#include "fusegen.h"
#include "safetensors.h"
#include "single.h"
#include "xalloc.h"
#include "zio.h"

/* One modality's side of a fused model or of a single decoder. */
struct scorer {
	struct zipper *z; /* fused: its tower of modality m, seeing no input */
	struct fusegen *g; /* NULL: the tower runs without the blocks (--tower-only) */
	struct tower *st; /* single decoder */
	struct single_map map;
	struct decode_model dm;
	int m, vocab;     /* the archive's modality; its ids are below vocab */
	int32_t *seq;     /* (max_len) [bos ids eos] in the model's ids */
};

static int modality_of(const struct tok_reader *in)
{
	const char *mod = tok_header(in)->modality;
	for (int m = 0; m < 2; m++)
		if (!strcmp(mod, zm_names[m]))
			return m;
	cli_die("%s: %s: give the tokens' modality (text or speech) in a \"#! zipper tokens modality=...\" header",
		tok_name(in), mod[0] ? "modality is neither text nor speech" : "no modality");
	return -1;
}

static void scorer_open(struct scorer *s, const struct fused_opts *o, int m)
{
	memset(s, 0, sizeof *s);
	s->m = m;
	struct st_file f;
	if (st_open(&f, o->model) < 0)
		cli_die("%s", zerr_msg());
	struct tower *t;
	if (!strcmp(f.kind, "fused")) {
		if (!(s->z = zipper_load(&f)))
			cli_die("%s", zerr_msg());
		t = s->z->tower[m];
		s->vocab = s->z->cfg.tower[m].vocab - (m == ZM_SPEECH ? 2 : 0);
		if (!o->tower_only) {
			s->g = fusegen_new(s->z, m, 1, 0);
			fusegen_no_input(s->g);
			fusegen_model(s->g, &s->dm);
		}
	} else {
		if (!(s->st = single_load(&f, &s->map)))
			cli_die("%s", zerr_msg());
		t = s->st;
		s->vocab = s->map.vocab[m] - (m == ZM_SPEECH ? 2 : 0);
	}
	st_close(&f);
	int max_seq = t->cfg.max_seq; /* as zip-generate --score runs a tower */
	if (!s->g)
		decode_model_tower(&s->dm, t, 1, max_seq, max_seq < 256 ? max_seq : 256);
	if (o->bf16)
		tower_use_bf16(t);
	s->seq = xmallocarray((size_t)s->dm.max_len + 1, sizeof *s->seq);
}

static void scorer_close(struct scorer *s)
{
	if (s->g)
		fusegen_free(s->g);
	else
		decode_model_tower_free(&s->dm);
	if (s->z)
		zipper_free(s->z);
	else
		tower_free(s->st);
	free(s->seq);
}

/* Modality m's id (or bos/eos) in the model's ids. */
static int32_t model_id(const struct scorer *s, int32_t id)
{
	return s->st ? single_id(&s->map, s->m, id) : id;
}

/* [bos ids eos]: the input segment of a training row (lib/fusedata.h,
 * lib/single.h); its length, or -1 (zerr) when it does not fit. */
static int frame(struct scorer *s, const int32_t *ids, size_t n)
{
	if (n + 2 > (size_t)s->dm.max_len) {
		zerr_set("%zu tokens do not fit the model's max_seq %d", n + 2, s->dm.max_len);
		return -1;
	}
	int len = 0;
	s->seq[len++] = model_id(s, s->st ? s->map.bos[s->m] : s->z->cfg.bos[s->m]);
	for (size_t i = 0; i < n; i++)
		s->seq[len++] = model_id(s, ids[i]);
	s->seq[len++] = model_id(s, s->st ? s->map.eos[s->m] : s->z->cfg.eos[s->m]);
	return len;
}

int fused_score(const struct fused_opts *o)
{
	struct tok_reader *in = tok_open(o->prompts, 0);
	if (!in)
		cli_die("%s", zerr_msg());
	struct scorer s;
	scorer_open(&s, o, modality_of(in));
	const struct tok_header *h = tok_header(in);
	/* speech archives count the begin/end-of-audio ids too (zip-formats(5)) */
	int header_vocab = s.vocab + (s.m == ZM_SPEECH ? 2 : 0);
	if (h->vocab > header_vocab)
		cli_die("%s: tokens have a vocabulary of %ld, the model's %s side has %d", tok_name(in), h->vocab,
			zm_names[s.m], header_vocab);
	struct zout *zo = zout_open(o->output);
	if (!zo)
		cli_die("%s", zerr_msg());
	struct progress bar;
	progress_start(&bar, "score", 0, o->quiet);
	const char *id;
	const int32_t *ids;
	size_t n;
	int rc;
	long done = 0, bad = 0;
	while ((rc = tok_next(in, &id, &ids, &n)) > 0) {
		progress_update(&bar, (double)++done, NULL);
		for (size_t i = 0; i < n; i++) /* a headerless archive's ids are not bounded yet */
			if (ids[i] >= s.vocab)
				cli_die("%s:%ld: token %d is outside the model's %s vocabulary [0, %d)", tok_name(in),
					tok_lineno(in), (int)ids[i], zm_names[s.m], s.vocab);
		int len = frame(&s, ids, n);
		if (len < 0) {
			cli_warn("%s:%ld: utterance %s: %s; skipped", tok_name(in), tok_lineno(in), id, zerr_msg());
			bad++;
			continue;
		}
		if (score_write(zo, id, decode_score(&s.dm, s.seq, len), len - 1) < 0)
			cli_die("%s", zerr_msg());
	}
	progress_end(&bar);
	if (rc < 0)
		cli_die("%s", zerr_msg());
	if (done == 0)
		cli_die("%s: no utterances", tok_name(in));
	if (bad == done) /* the output keeps what it had (exit removes the temporary file) */
		cli_die("%s: every utterance was skipped", tok_name(in));
	tok_close(in);
	if (zout_commit(zo) < 0)
		cli_die("%s", zerr_msg());
	scorer_close(&s);
	if (bad)
		cli_die("%ld utterance(s) skipped", bad);
	return 0;
}

int score_write(struct zout *zo, const char *id, double ll, int n)
{
	return zout_printf(zo, "%s %.6f %.6f %d\n", id, ll, exp(-ll / n), n);
}
