/* fused-generate: zip-generate for fused and single-decoder models (see
 * fused-generate.h): speech -> text (asr) and text -> speech (tts). */
#include "config.h"

#include <math.h>
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
#include "single.h"
#include "textnorm.h"
#include "speechtok.h"
#include "xalloc.h"
#include "zio.h"

bool fused_model_file(const char *path)
{
	struct st_file f;
	if (st_open(&f, path) < 0)
		cli_die("%s", zerr_msg());
	bool fused = f.kind && (!strcmp(f.kind, "fused") || !strcmp(f.kind, "single-decoder"));
	st_close(&f);
	return fused;
}

/* A fused model or a single decoder behind one interface: the input is
 * given with prepare(), generation starts from prompt[0..n_prompt). */
struct speechtext {
	struct zipper *z;
	struct fusegen *g;
	struct tower *st;
	struct single_map map;
	struct decode_model dm;
	int in, out, vocab[2]; /* archive vocabularies: speech without begin/end of audio */
	int32_t bos, eos;      /* of the output, in the model's ids */
	int32_t *prompt;
	int n_prompt, max_in;
	bool batched; /* greedy over several utterances at once (fused) */
	struct bpe *bpe; /* the text tokenizer, or NULL */
	char fingerprint[2][17]; /* of each modality's tokenizer, when known */
	/* chains: the second segment, back in the input modality (fused only) */
	struct fusegen *g2;
	struct decode_model dm2;
	int32_t *seg, *prompt2; /* (output tower's max_seq) (input tower's max_seq + 1) */
};

/* The fingerprints recorded by zip-fuse --text-tokenizer/--speech-tokenizer. */
static void carried_fingerprints(struct speechtext *m, const struct st_file *f)
{
	static const char *const keys[2] = {"zipper.tokenizer.text", "zipper.tokenizer.speech"};
	for (int k = 0; k < 2; k++) {
		const char *meta = st_meta(f, keys[k]);
		cJSON *j = meta ? cJSON_Parse(meta) : NULL;
		const cJSON *fp = cJSON_GetObjectItemCaseSensitive(j, "fingerprint");
		if (cJSON_IsString(fp) && strlen(fp->valuestring) < sizeof m->fingerprint[k])
			snprintf(m->fingerprint[k], sizeof m->fingerprint[k], "%s", fp->valuestring);
		cJSON_Delete(j);
	}
}

/* --text-tokenizer, else the tokenizer.text.merges the model carries. */
static struct bpe *text_tokenizer(const struct fused_opts *o, const struct st_file *f)
{
	struct bpe *b = NULL;
	if (o->text_tokenizer)
		b = bpe_load(o->text_tokenizer);
	else if (!st_find(f, "tokenizer.text.merges"))
		return NULL;
	else
		b = bpe_from_model(f);
	if (!b)
		cli_die("%s", zerr_msg());
	return b;
}

/* The second segment's generator: output the input modality, reading
 * the first segment (fusegen_chain()). */
static void chain_open(struct speechtext *m, const struct fused_opts *o)
{
	int seg_max = m->z->cfg.tower[m->out].max_seq;
	m->g2 = fusegen_new(m->z, m->in, o->dp.beam, seg_max - 2);
	fusegen_set_repeat_span(m->g2, o->repeat_span >= 0 ? (int)o->repeat_span : m->in == ZM_TEXT ? 12 : 100);
	fusegen_model(m->g2, &m->dm2);
	if (o->bf16)
		tower_use_bf16(m->z->tower[m->in]);
	m->seg = xmallocarray((size_t)seg_max, sizeof *m->seg);
	m->prompt2 = xmallocarray((size_t)m->dm2.max_len + 1, sizeof *m->prompt2);
}

static void speechtext_open(struct speechtext *m, const struct fused_opts *o)
{
	memset(m, 0, sizeof *m);
	struct st_file f;
	if (st_open(&f, o->model) < 0)
		cli_die("%s", zerr_msg());
	m->out = o->task;
	m->in = 1 - m->out;
	if (!strcmp(f.kind, "fused")) {
		if (!(m->z = zipper_load(&f)))
			cli_die("%s", zerr_msg());
		for (int k = 0; k < 2; k++)
			m->vocab[k] = m->z->cfg.tower[k].vocab - (k == ZM_SPEECH ? 2 : 0);
		m->max_in = m->z->cfg.tower[m->in].max_seq - 2;
		m->batched = o->dp.beam == 1 && o->dp.temperature == 0 && !o->chain;
		m->g = fusegen_new(m->z, m->out, m->batched ? (int)o->batch : o->dp.beam, m->max_in);
		fusegen_set_repeat_span(m->g, o->repeat_span >= 0 ? (int)o->repeat_span : m->out == ZM_TEXT ? 12 : 100);
		fusegen_model(m->g, &m->dm);
		if (o->bf16)
			tower_use_bf16(m->z->tower[m->out]);
		m->bos = fusegen_bos(m->g);
		m->eos = fusegen_eos(m->g);
		if (o->chain)
			chain_open(m, o);
	} else {
		if (o->chain)
			cli_usage_error("%s: chains of outputs need a fused model (zip-fuse)", o->model);
		if (!(m->st = single_load(&f, &m->map)))
			cli_die("%s", zerr_msg());
		m->vocab[ZM_TEXT] = m->map.vocab[ZM_TEXT];
		m->vocab[ZM_SPEECH] = m->map.vocab[ZM_SPEECH] - 2;
		int max_seq = m->st->cfg.max_seq;
		m->max_in = max_seq / 2 - 3;
		if (o->bf16)
			tower_use_bf16(m->st);
		decode_model_tower(&m->dm, m->st, o->dp.beam, max_seq, max_seq < 256 ? max_seq : 256);
		m->bos = single_id(&m->map, m->out, m->map.bos[m->out]);
		m->eos = single_id(&m->map, m->out, m->map.eos[m->out]);
	}
	m->bpe = text_tokenizer(o, &f);
	carried_fingerprints(m, &f);
	if (o->text_tokenizer && sha256_file_fingerprint(o->text_tokenizer, m->fingerprint[ZM_TEXT]) < 0)
		cli_die("%s", zerr_msg());
	st_close(&f);
	if (m->bpe && bpe_vocab_size(m->bpe) > m->vocab[ZM_TEXT])
		cli_die("%s: the text tokenizer's %d ids do not fit the model's text vocabulary of %d",
			o->text_tokenizer ? o->text_tokenizer : o->model, bpe_vocab_size(m->bpe), m->vocab[ZM_TEXT]);
	m->prompt = xmallocarray((size_t)m->max_in + 4, sizeof *m->prompt);
}

static void speechtext_close(struct speechtext *m)
{
	if (m->z) {
		fusegen_free(m->g);
		fusegen_free(m->g2);
		free(m->seg);
		free(m->prompt2);
		zipper_free(m->z);
	} else {
		decode_model_tower_free(&m->dm);
		tower_free(m->st);
	}
	free(m->prompt);
	bpe_free(m->bpe);
}

/* Takes one input utterance; -1 (zerr) when it does not fit. */
static int speechtext_prepare(struct speechtext *m, const int32_t *ids, size_t n)
{
	if (m->z) {
		m->prompt[0] = m->bos;
		m->n_prompt = 1;
		return fusegen_encode(m->g, ids, n);
	}
	if (n > (size_t)m->max_in) {
		zerr_set("%zu tokens: longer than the model allows (%d)", n, m->max_in);
		return -1;
	}
	int k = 0; /* [bos input eos][bos of the output], as in training */
	m->prompt[k++] = single_id(&m->map, m->in, m->map.bos[m->in]);
	for (size_t i = 0; i < n; i++)
		m->prompt[k++] = single_id(&m->map, m->in, ids[i]);
	m->prompt[k++] = single_id(&m->map, m->in, m->map.eos[m->in]);
	m->prompt[k++] = m->bos;
	m->n_prompt = k;
	return 0;
}

/* The generated ids of modality mod that are its tokens (not bos, eos,
 * nor beyond its archive vocabulary), in the archive's ids. */
static size_t keep_tokens(int32_t *gen, int made, int32_t bos, int32_t eos, int32_t off, int vocab)
{
	size_t k = 0;
	for (int i = 0; i < made; i++) {
		int32_t id = gen[i] - off;
		if (gen[i] != eos && gen[i] != bos && id >= 0 && id < vocab)
			gen[k++] = id;
	}
	return k;
}

static size_t speechtext_output(const struct speechtext *m, int32_t *gen, int made)
{
	return keep_tokens(gen, made, m->bos, m->eos, m->st ? single_id(&m->map, m->out, 0) : 0, m->vocab[m->out]);
}

/* Inputs (token archive, or transcripts encoded with the tokenizer) and
 * outputs (token archive, or transcripts decoded with it). */
struct fused_io {
	const struct speechtext *m;
	struct tok_reader *tr;
	struct kv_reader *kr;
	struct tok_writer *tw;
	struct zout *zo;
	int32_t *ids;
	size_t n_ids, cap;
	char *bytes, *text; /* decoded bytes; the same as valid UTF-8 */
	size_t len, bcap, tcap;
};

/* Writes modality mod to path: transcripts when text has a tokenizer
 * (and no --tokens), else a token archive. */
static void io_output(struct fused_io *io, const struct speechtext *m, int mod, const char *path,
		      const struct fused_opts *o)
{
	static const char *const mods[2] = {"text", "speech"};
	io->m = m;
	if (mod == ZM_TEXT && m->bpe && !o->tokens) {
		if (!(io->zo = zout_open(path)))
			cli_die("%s", zerr_msg());
		return;
	}
	/* speech archives count the begin/end-of-audio ids too (zip-formats(5)) */
	struct tok_header oh = {.present = true, .vocab = m->vocab[mod] + (mod == ZM_SPEECH ? 2 : 0)};
	snprintf(oh.modality, sizeof oh.modality, "%s", mods[mod]);
	snprintf(oh.tokenizer, sizeof oh.tokenizer, "%s", m->fingerprint[mod]);
	if (!(io->tw = tok_create(path, &oh)))
		cli_die("%s", zerr_msg());
}

static void io_open(struct fused_io *io, const struct speechtext *m, const struct fused_opts *o)
{
	static const char *const mods[2] = {"text", "speech"};
	memset(io, 0, sizeof *io);
	io->m = m;
	if (o->transcripts) {
		if (m->in != ZM_TEXT || !m->bpe)
			cli_usage_error("--transcripts: for tts, with a text tokenizer");
		if (!(io->kr = kv_open(o->prompts)))
			cli_die("%s", zerr_msg());
	} else if (!(io->tr = tok_open(o->prompts, m->vocab[m->in])) ||
		   tok_expect(io->tr, mods[m->in], 0, m->fingerprint[m->in][0] ? m->fingerprint[m->in] : NULL) < 0) {
		cli_die("%s", zerr_msg());
	}
	io_output(io, m, m->out, o->chain && m->out == ZM_SPEECH ? o->speech_out : o->output, o);
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
	io->len = 0;
	bpe_decode(io->m->bpe, ids, n, &io->bytes, &io->len, &io->bcap);
	/* a model can end on half a character: transcripts stay UTF-8 */
	size_t len = utf8_repair(&io->text, &io->tcap, io->bytes ? io->bytes : "", io->len);
	for (size_t i = 0; i < len; i++) /* one line per utterance */
		if (io->text[i] == '\n' || io->text[i] == '\r')
			io->text[i] = ' ';
	if (zout_printf(io->zo, "%s %.*s\n", id, (int)len, io->text) < 0)
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
	free(io->bytes);
	free(io->text);
}

/* Utterances waiting to be decoded together. */
struct group {
	int n, cap;
	char **id;
	int32_t **ids;
	size_t *len;
	int *max_new, *out_len;
	int32_t *out;
	int stride;
};

static void group_add(struct group *g, const char *id, const int32_t *ids, size_t n, int max_new)
{
	if (g->n == g->cap) {
		g->cap = g->cap ? 2 * g->cap : 16;
		g->id = xreallocarray(g->id, (size_t)g->cap, sizeof *g->id);
		g->ids = xreallocarray(g->ids, (size_t)g->cap, sizeof *g->ids);
		g->len = xreallocarray(g->len, (size_t)g->cap, sizeof *g->len);
		g->max_new = xreallocarray(g->max_new, (size_t)g->cap, sizeof *g->max_new);
		g->out_len = xreallocarray(g->out_len, (size_t)g->cap, sizeof *g->out_len);
	}
	g->id[g->n] = xstrdup(id);
	g->ids[g->n] = xmallocarray(n + 1, sizeof *ids);
	memcpy(g->ids[g->n], ids, n * sizeof *ids);
	g->len[g->n] = n;
	g->max_new[g->n++] = max_new;
}

static void group_run(struct group *g, struct speechtext *m, struct fused_io *io)
{
	int stride = 1;
	for (int b = 0; b < g->n; b++)
		stride = g->max_new[b] > stride ? g->max_new[b] : stride;
	if (stride > g->stride) {
		g->stride = stride;
		g->out = xreallocarray(g->out, (size_t)g->cap * stride, sizeof *g->out);
	}
	if (fusegen_encode_batch(m->g, (const int32_t *const *)g->ids, g->len, g->n) < 0)
		cli_die("%s", zerr_msg()); /* lengths were checked when added */
	fusegen_greedy(m->g, g->max_new, g->n, g->out, g->stride, g->out_len);
	for (int b = 0; b < g->n; b++) {
		int32_t *row = g->out + (size_t)b * g->stride;
		io_write(io, g->id[b], row, speechtext_output(m, row, g->out_len[b]));
		free(g->id[b]);
		free(g->ids[b]);
	}
	g->n = 0;
}

static void group_free(struct group *g)
{
	free(g->id), free(g->ids), free(g->len), free(g->max_new), free(g->out_len), free(g->out);
}

/* Chains: the first segment gen (made) is finished; generates the second,
 * back in the input modality, into gen2 (see fusegen_chain() for the
 * context each token sees). Returns its token count in the archive's ids,
 * or -1 (zerr) when it does not fit. */
static int chain_next(struct speechtext *m, const int32_t *ids, size_t n, const int32_t *gen, int made,
		      const struct fused_opts *o, struct decode_params dp, struct rng *rng, int32_t *gen2)
{
	const struct zipper_config *c = &m->z->cfg;
	int in = m->in, k = 0, j = 0;
	m->seg[k++] = m->bos;
	for (int i = 0; i < made && gen[i] != m->eos; i++)
		m->seg[k++] = gen[i];
	m->seg[k++] = m->eos; /* the segment ends here, even where max_new cut it */
	if (fusegen_chain(m->g2, m->g, m->seg, k, (int)n + 2) < 0)
		return -1;
	m->prompt2[j++] = c->bos[in]; /* [bos input eos] the tower's own history, then bos */
	memcpy(m->prompt2 + j, ids, n * sizeof *ids);
	j += (int)n;
	m->prompt2[j++] = c->eos[in];
	m->prompt2[j++] = c->bos[in];
	int room = m->dm2.max_len - j;
	double ratio = o->max_ratio >= 0 ? o->max_ratio : in == ZM_TEXT ? 1.0 : 20.0;
	double want = ratio * (k - 2) + 10;
	dp.max_new = want < room ? (int)want : room;
	if (o->max_new_given && dp.max_new > o->dp.max_new)
		dp.max_new = o->dp.max_new;
	if (dp.max_new < 1) {
		zerr_set("no room left to generate the second segment");
		return -1;
	}
	dp.eos = c->eos[in];
	int made2 = decode_generate(&m->dm2, m->prompt2, j, &dp, rng, gen2);
	return (int)keep_tokens(gen2, made2, c->bos[in], c->eos[in], 0, m->vocab[in]);
}

int fused_generate(const struct fused_opts *o)
{
	static const char *const mods[2] = {"text", "speech"};
	struct speechtext m;
	speechtext_open(&m, o);
	int out = o->task;
	struct fused_io io, io2 = {0};
	io_open(&io, &m, o);
	int32_t *gen2 = NULL;
	if (o->chain) {
		io_output(&io2, &m, m.in, m.in == ZM_SPEECH ? o->speech_out : o->output, o);
		gen2 = xmallocarray((size_t)m.dm2.max_len + 1, sizeof *gen2);
	}
	struct decode_params dp = o->dp;
	dp.eos = m.eos;
	double ratio = o->max_ratio >= 0 ? o->max_ratio : out == ZM_TEXT ? 1.0 : 20.0;
	int32_t *gen = xmallocarray((size_t)m.dm.max_len + 1, sizeof *gen);
	struct rng rng;
	rng_seed(&rng, (uint64_t)o->seed);
	struct progress bar;
	progress_start(&bar, mods[out], 0, o->quiet);
	const char *id;
	const int32_t *ids;
	size_t n;
	int rc;
	long done = 0, bad = 0;
	struct group grp = {0};
	long line;
	while ((rc = io_next(&io, &id, &ids, &n)) > 0) {
		progress_update(&bar, (double)++done, NULL);
		if (n > (size_t)m.max_in) {
			const char *where = io_where(&io, &line);
			cli_warn("%s:%ld: utterance %s: %zu tokens: longer than the model allows; skipped", where, line,
				 id, n);
			bad++;
			continue;
		}
		int room = m.dm.max_len - (m.z ? 1 : (int)n + 3) - (o->chain ? 1 : 0); /* chains: room for eos */
		double want = ratio * (double)n + 10;
		int max_new = want < room ? (int)want : room;
		if (o->max_new_given && max_new > o->dp.max_new)
			max_new = o->dp.max_new;
		if (m.batched) {
			group_add(&grp, id, ids, n, max_new);
			if (grp.n == (int)o->batch)
				group_run(&grp, &m, &io);
			continue;
		}
		if (speechtext_prepare(&m, ids, n) < 0 || max_new < 1) {
			const char *where = io_where(&io, &line);
			cli_warn("%s:%ld: utterance %s: %s; skipped", where, line, id,
				 max_new < 1 ? "no room left to generate" : zerr_msg());
			bad++;
			continue;
		}
		dp.max_new = max_new;
		int made = decode_generate(&m.dm, m.prompt, m.n_prompt, &dp, &rng, gen);
		int made2 = o->chain ? chain_next(&m, ids, n, gen, made, o, dp, &rng, gen2) : 0;
		if (made2 < 0) {
			const char *where = io_where(&io, &line);
			cli_warn("%s:%ld: utterance %s: %s; skipped", where, line, id, zerr_msg());
			bad++;
			continue;
		}
		io_write(&io, id, gen, speechtext_output(&m, gen, made));
		if (o->chain)
			io_write(&io2, id, gen2, (size_t)made2);
	}
	if (grp.n)
		group_run(&grp, &m, &io);
	group_free(&grp);
	progress_end(&bar);
	if (rc < 0)
		cli_die("%s", zerr_msg());
	if (done == 0)
		cli_die("%s: no utterances", io_where(&io, &line));
	io_close(&io);
	if (o->chain)
		io_close(&io2);
	speechtext_close(&m);
	free(gen);
	free(gen2);
	if (bad)
		cli_die("%ld utterance(s) skipped", bad);
	return 0;
}
