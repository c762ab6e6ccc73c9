/* fused-generate: zip-generate for fused and single-decoder models (see
 * fused-generate.h): speech -> text (asr) and text -> speech (tts). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archive.h"
#include "bpe.h"
#include "cli.h"
#include "decode.h"
#include "fused-generate.h"
#include "fusegen.h"
#include "safetensors.h"
#include "sha256.h"
#include "speechtext.h"
#include "xalloc.h"
#include "zio.h"

bool fused_model_file(const char *path)
{
	struct st_file f;
	if (st_open(&f, path) < 0)
		cli_die("%s", zerr_msg());
	bool fused = speechtext_model(&f);
	st_close(&f);
	return fused;
}

/* The model (lib/speechtext.h), with what zip-generate adds to it. */
struct gen {
	struct speechtext m;
	char fingerprint[2][17]; /* of each modality's tokenizer, when known */
	/* chains: the second segment, back in the input modality (fused only) */
	struct fusegen *g2;
	struct decode_model dm2;
	int32_t *seg, *prompt2; /* (output tower's max_seq) (input tower's max_seq + 1) */
};

/* The fingerprints recorded by zip-fuse --text-tokenizer/--speech-tokenizer. */
static void carried_fingerprints(struct gen *gn, const struct st_file *f)
{
	static const char *const keys[2] = {"zipper.tokenizer.text", "zipper.tokenizer.speech"};
	for (int k = 0; k < 2; k++) {
		const char *meta = st_meta(f, keys[k]);
		cJSON *j = meta ? cJSON_Parse(meta) : NULL;
		const cJSON *fp = cJSON_GetObjectItemCaseSensitive(j, "fingerprint");
		if (cJSON_IsString(fp) && strlen(fp->valuestring) < sizeof gn->fingerprint[k])
			snprintf(gn->fingerprint[k], sizeof gn->fingerprint[k], "%s", fp->valuestring);
		cJSON_Delete(j);
	}
}

/* The second segment's generator: output the input modality, reading
 * the first segment (fusegen_chain()). */
static void chain_open(struct gen *gn, const struct fused_opts *o)
{
	struct speechtext *m = &gn->m;
	int seg_max = m->z->cfg.tower[m->out].max_seq;
	gn->g2 = fusegen_new(m->z, m->in, o->dp.beam, seg_max - 2);
	fusegen_set_repeat_span(gn->g2, o->repeat_span >= 0 ? (int)o->repeat_span : m->in == ZM_TEXT ? 12 : 100);
	fusegen_model(gn->g2, &gn->dm2);
	if (o->bf16)
		tower_use_bf16(m->z->tower[m->in]);
	gn->seg = xmallocarray((size_t)seg_max, sizeof *gn->seg);
	gn->prompt2 = xmallocarray((size_t)gn->dm2.max_len + 1, sizeof *gn->prompt2);
}

static void gen_open(struct gen *gn, const struct fused_opts *o)
{
	memset(gn, 0, sizeof *gn);
	struct st_file f;
	if (st_open(&f, o->model) < 0)
		cli_die("%s", zerr_msg());
	bool batched = o->dp.beam == 1 && o->dp.temperature == 0 && !o->chain;
	struct speechtext_opts so = {.out = o->task, .beam = o->dp.beam, .batch = batched ? (int)o->batch : 0,
				     .repeat_span = (int)o->repeat_span, .max_ratio = o->max_ratio,
				     .max_new = o->max_new_given ? o->dp.max_new : 0, .reserve = o->chain,
				     .bf16 = o->bf16};
	if (speechtext_open(&gn->m, &f, &so) < 0)
		cli_die("%s", zerr_msg());
	if (o->chain && !gn->m.z)
		cli_usage_error("%s: chains of outputs need a fused model (zip-fuse)", o->model);
	if (o->chain)
		chain_open(gn, o);
	if (speechtext_text_tokenizer(&gn->m, &f, o->text_tokenizer, false) < 0)
		cli_die("%s", zerr_msg());
	carried_fingerprints(gn, &f);
	if (o->text_tokenizer && sha256_file_fingerprint(o->text_tokenizer, gn->fingerprint[ZM_TEXT]) < 0)
		cli_die("%s", zerr_msg());
	st_close(&f);
}

static void gen_close(struct gen *gn)
{
	fusegen_free(gn->g2);
	free(gn->seg);
	free(gn->prompt2);
	speechtext_close(&gn->m);
}

/* Inputs (token archive, or transcripts encoded with the tokenizer) and
 * outputs (token archive, or transcripts decoded with it). */
struct fused_io {
	struct speechtext *m;
	struct tok_reader *tr;
	struct kv_reader *kr;
	struct tok_writer *tw;
	struct zout *zo;
	int32_t *ids;
	size_t n_ids, cap;
};

/* Writes modality mod to path: transcripts when text has a tokenizer
 * (and no --tokens), else a token archive. */
static void io_output(struct fused_io *io, struct gen *gn, int mod, const char *path, const struct fused_opts *o)
{
	io->m = &gn->m;
	if (mod == ZM_TEXT && gn->m.bpe && !o->tokens) {
		if (!(io->zo = zout_open(path)))
			cli_die("%s", zerr_msg());
		return;
	}
	/* speech archives count the begin/end-of-audio ids too (zip-formats(5)) */
	struct tok_header oh = {.present = true, .vocab = gn->m.vocab[mod] + (mod == ZM_SPEECH ? 2 : 0)};
	snprintf(oh.modality, sizeof oh.modality, "%s", zm_names[mod]);
	snprintf(oh.tokenizer, sizeof oh.tokenizer, "%s", gn->fingerprint[mod]);
	if (!(io->tw = tok_create(path, &oh)))
		cli_die("%s", zerr_msg());
}

static void io_open(struct fused_io *io, struct gen *gn, const struct fused_opts *o)
{
	const struct speechtext *m = &gn->m;
	const char *fp = gn->fingerprint[m->in];
	memset(io, 0, sizeof *io);
	if (o->transcripts) {
		if (m->in != ZM_TEXT || !m->bpe)
			cli_usage_error("--transcripts: for tts, with a text tokenizer");
		if (!(io->kr = kv_open(o->prompts)))
			cli_die("%s", zerr_msg());
	} else if (!(io->tr = tok_open(o->prompts, m->vocab[m->in])) ||
		   tok_expect(io->tr, zm_names[m->in], 0, fp[0] ? fp : NULL) < 0) {
		cli_die("%s", zerr_msg());
	}
	io_output(io, gn, m->out, o->chain && m->out == ZM_SPEECH ? o->speech_out : o->output, o);
}

static int io_next(struct fused_io *io, const char **id, const int32_t **ids, size_t *n)
{
	if (io->tr)
		return tok_next(io->tr, id, ids, n);
	const char *text;
	int rc = kv_next(io->kr, id, &text);
	if (rc <= 0)
		return rc;
	io->n_ids = 0;
	bpe_encode(io->m->bpe, text, strlen(text), &io->ids, &io->n_ids, &io->cap);
	*ids = io->ids;
	*n = io->n_ids;
	return 1;
}

static const char *io_where(const struct fused_io *io, long *line)
{
	*line = io->tr ? tok_lineno(io->tr) : kv_lineno(io->kr);
	return io->tr ? tok_name(io->tr) : kv_name(io->kr);
}

static void io_write(struct fused_io *io, const char *id, const int32_t *ids, size_t n)
{
	if (io->tw) {
		if (tok_write(io->tw, id, ids, n) < 0)
			cli_die("%s", zerr_msg());
		return;
	}
	char *line = speechtext_line(io->m, ids, n);
	int rc = zout_printf(io->zo, "%s %s\n", id, line);
	free(line);
	if (rc < 0)
		cli_die("%s", zerr_msg());
}

static void io_close(struct fused_io *io)
{
	if (io->tr)
		tok_close(io->tr);
	else if (io->kr)
		kv_close(io->kr);
	if (io->tw ? tok_commit(io->tw) < 0 : zout_commit(io->zo) < 0)
		cli_die("%s", zerr_msg());
	free(io->ids);
}

/* Utterances waiting to be decoded together. */
struct group {
	int n, cap;
	char **id;
	int32_t **ids;
	size_t *len;
};

static void group_add(struct group *g, const char *id, const int32_t *ids, size_t n)
{
	if (g->n == g->cap) {
		g->cap = g->cap ? 2 * g->cap : 16;
		g->id = xreallocarray(g->id, (size_t)g->cap, sizeof *g->id);
		g->ids = xreallocarray(g->ids, (size_t)g->cap, sizeof *g->ids);
		g->len = xreallocarray(g->len, (size_t)g->cap, sizeof *g->len);
	}
	g->id[g->n] = xstrdup(id);
	g->ids[g->n] = xmallocarray(n + 1, sizeof *ids);
	memcpy(g->ids[g->n], ids, n * sizeof *ids);
	g->len[g->n++] = n;
}

static void group_run(struct group *g, struct speechtext *m, struct fused_io *io)
{
	speechtext_greedy(m, (const int32_t *const *)g->ids, g->len, g->n);
	for (int b = 0; b < g->n; b++) {
		io_write(io, g->id[b], m->rows + (size_t)b * m->stride, (size_t)m->len[b]);
		free(g->id[b]);
		free(g->ids[b]);
	}
	g->n = 0;
}

static void group_free(struct group *g)
{
	free(g->id), free(g->ids), free(g->len);
}

/* Chains: the first segment gen (made) is finished; generates the second,
 * back in the input modality, into gen2 (see fusegen_chain() for the
 * context each token sees). Returns its token count in the archive's ids,
 * or -1 (zerr) when it does not fit. */
static int chain_next(struct gen *gn, const int32_t *ids, size_t n, const int32_t *gen, int made,
		      const struct fused_opts *o, struct rng *rng, int32_t *gen2)
{
	const struct speechtext *m = &gn->m;
	const struct zipper_config *c = &m->z->cfg;
	int in = m->in, k = 0, j = 0;
	gn->seg[k++] = m->bos;
	for (int i = 0; i < made && gen[i] != m->eos; i++)
		gn->seg[k++] = gen[i];
	gn->seg[k++] = m->eos; /* the segment ends here, even where max_new cut it */
	if (fusegen_chain(gn->g2, m->g, gn->seg, k, (int)n + 2) < 0)
		return -1;
	gn->prompt2[j++] = c->bos[in]; /* [bos input eos] the tower's own history, then bos */
	memcpy(gn->prompt2 + j, ids, n * sizeof *ids);
	j += (int)n;
	gn->prompt2[j++] = c->eos[in];
	gn->prompt2[j++] = c->bos[in];
	struct decode_params dp = o->dp;
	double ratio = o->max_ratio >= 0 ? o->max_ratio : in == ZM_TEXT ? 1.0 : 20.0;
	dp.max_new = speechtext_budget(ratio, k - 2, gn->dm2.max_len - j, o->max_new_given ? o->dp.max_new : 0);
	if (dp.max_new < 1) {
		zerr_set("no room left to generate the second segment");
		return -1;
	}
	dp.eos = c->eos[in];
	int made2 = decode_generate(&gn->dm2, gn->prompt2, j, &dp, rng, gen2);
	return (int)speechtext_keep(gen2, made2, c->bos[in], c->eos[in], 0, m->vocab[in]);
}

int fused_generate(const struct fused_opts *o)
{
	struct gen gn;
	gen_open(&gn, o);
	struct speechtext *m = &gn.m;
	struct fused_io io, io2 = {0};
	io_open(&io, &gn, o);
	int32_t *gen2 = NULL;
	if (o->chain) {
		io_output(&io2, &gn, m->in, m->in == ZM_SPEECH ? o->speech_out : o->output, o);
		gen2 = xmallocarray((size_t)gn.dm2.max_len + 1, sizeof *gen2);
	}
	int32_t *gen = m->gen;
	struct rng rng;
	rng_seed(&rng, (uint64_t)o->seed);
	struct progress bar;
	progress_start(&bar, zm_names[m->out], 0, o->quiet);
	const char *id;
	const int32_t *ids;
	size_t n;
	int rc;
	long done = 0, bad = 0;
	struct group grp = {0};
	long line;
	while ((rc = io_next(&io, &id, &ids, &n)) > 0) {
		progress_update(&bar, (double)++done, NULL);
		if (n > (size_t)m->max_in) {
			const char *where = io_where(&io, &line);
			cli_warn("%s:%ld: utterance %s: %zu tokens: longer than the model allows; skipped", where, line,
				 id, n);
			bad++;
			continue;
		}
		if (speechtext_batched(m)) {
			group_add(&grp, id, ids, n);
			if (grp.n == (int)o->batch)
				group_run(&grp, m, &io);
			continue;
		}
		int made = speechtext_generate(m, ids, n, &o->dp, &rng);
		int made2 = made >= 0 && o->chain ? chain_next(&gn, ids, n, gen, made, o, &rng, gen2) : 0;
		if (made < 0 || made2 < 0) {
			const char *where = io_where(&io, &line);
			cli_warn("%s:%ld: utterance %s: %s; skipped", where, line, id, zerr_msg());
			bad++;
			continue;
		}
		io_write(&io, id, gen, speechtext_output(m, gen, made));
		if (o->chain)
			io_write(&io2, id, gen2, (size_t)made2);
	}
	if (grp.n)
		group_run(&grp, m, &io);
	group_free(&grp);
	progress_end(&bar);
	if (rc < 0)
		cli_die("%s", zerr_msg());
	if (done == 0)
		cli_die("%s: no utterances", io_where(&io, &line));
	if (bad == done) /* the outputs keep what they had (exit removes the temporary files) */
		cli_die("%s: every utterance was skipped", io_where(&io, &line));
	io_close(&io);
	if (o->chain)
		io_close(&io2);
	gen_close(&gn);
	free(gen2);
	if (bad)
		cli_die("%ld utterance(s) skipped", bad);
	return 0;
}
