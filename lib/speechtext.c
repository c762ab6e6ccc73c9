/* speechtext: one modality from the other with a fused model or a single
 * decoder (see speechtext.h). */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "bpe.h"
#include "fusegen.h"
#include "safetensors.h"
#include "speechtext.h"
#include "textnorm.h"
#include "xalloc.h"
#include "zerr.h"

static int open_fused(struct speechtext *m, const struct st_file *f)
{
	if (!(m->z = zipper_load(f)))
		return -1;
	const struct zipper_config *c = &m->z->cfg;
	for (int k = 0; k < 2; k++)
		m->vocab[k] = c->tower[k].vocab - (k == ZM_SPEECH ? 2 : 0);
	m->max_in = c->tower[m->in].max_seq - 2;
	m->g = fusegen_new(m->z, m->out, m->o.batch > 0 ? m->o.batch : m->o.beam, m->max_in);
	fusegen_set_repeat_span(m->g, m->o.repeat_span);
	fusegen_model(m->g, &m->dm);
	if (m->o.bf16)
		tower_use_bf16(m->z->tower[m->out]);
	m->bos = fusegen_bos(m->g);
	m->eos = fusegen_eos(m->g);
	return 0;
}

static int open_single(struct speechtext *m, const struct st_file *f)
{
	if (!(m->st = single_load(f, &m->map)))
		return -1;
	m->vocab[ZM_TEXT] = m->map.vocab[ZM_TEXT];
	m->vocab[ZM_SPEECH] = m->map.vocab[ZM_SPEECH] - 2;
	int max_seq = m->st->cfg.max_seq;
	m->max_in = max_seq / 2 - 3;
	if (m->o.bf16)
		tower_use_bf16(m->st);
	decode_model_tower(&m->dm, m->st, m->o.beam, max_seq, max_seq < 256 ? max_seq : 256);
	m->bos = single_id(&m->map, m->out, m->map.bos[m->out]);
	m->eos = single_id(&m->map, m->out, m->map.eos[m->out]);
	return 0;
}

bool speechtext_model(const struct st_file *f)
{
	return f->kind && (!strcmp(f->kind, "fused") || !strcmp(f->kind, "single-decoder"));
}

int speechtext_open(struct speechtext *m, const struct st_file *f, const struct speechtext_opts *o)
{
	memset(m, 0, sizeof *m);
	m->o = *o;
	m->out = o->out;
	m->in = 1 - o->out;
	if (m->o.repeat_span < 0)
		m->o.repeat_span = m->out == ZM_TEXT ? 12 : 100;
	if (m->o.max_ratio < 0)
		m->o.max_ratio = m->out == ZM_TEXT ? 1.0 : 20.0;
	if (!speechtext_model(f)) {
		zerr_set("%s: not a fused model (zipper.kind is %s; make one with zip-fuse)", f->path,
			 f->kind ? f->kind : "missing");
		return -1;
	}
	if ((!strcmp(f->kind, "fused") ? open_fused(m, f) : open_single(m, f)) < 0)
		return -1;
	m->prompt = xmallocarray((size_t)m->max_in + 4, sizeof *m->prompt);
	m->gen = xmallocarray((size_t)m->dm.max_len + 1, sizeof *m->gen);
	if (speechtext_batched(m)) {
		m->stride = m->dm.max_len + 1;
		m->rows = xmallocarray((size_t)o->batch * (size_t)m->stride, sizeof *m->rows);
		m->len = xmallocarray((size_t)o->batch, sizeof *m->len);
		m->max_new = xmallocarray((size_t)o->batch, sizeof *m->max_new);
	}
	return 0;
}

void speechtext_close(struct speechtext *m)
{
	if (m->z) {
		fusegen_free(m->g);
		zipper_free(m->z);
	} else if (m->st) {
		decode_model_tower_free(&m->dm);
		tower_free(m->st);
	}
	bpe_free(m->bpe);
	free(m->prompt);
	free(m->gen);
	free(m->rows);
	free(m->len);
	free(m->max_new);
	free(m->bytes);
}

int speechtext_text_tokenizer(struct speechtext *m, const struct st_file *f, const char *path, bool need)
{
	if (!path && !st_find(f, "tokenizer.text.merges")) {
		if (need)
			zerr_set("%s: the model carries no text tokenizer (zip-fuse --text-tokenizer); "
				 "give one with --text-tokenizer", f->path);
		return need ? -1 : 0;
	}
	if (!(m->bpe = path ? bpe_load(path) : bpe_from_model(f)))
		return -1;
	if (bpe_vocab_size(m->bpe) > m->vocab[ZM_TEXT]) {
		zerr_set("%s: the text tokenizer's %d ids do not fit the model's text vocabulary of %d",
			 path ? path : f->path, bpe_vocab_size(m->bpe), m->vocab[ZM_TEXT]);
		return -1;
	}
	return 0;
}

bool speechtext_batched(const struct speechtext *m)
{
	return m->z && m->o.batch > 0;
}

int speechtext_budget(double ratio, double n, int room, int cap)
{
	double want = ratio * n + 10;
	int m = want < room ? (int)want : room;
	return cap > 0 && m > cap ? cap : m;
}

/* For n input tokens (< 1: no room left). */
static int budget(const struct speechtext *m, size_t n)
{
	int room = m->dm.max_len - (m->z ? 1 : (int)n + 3) - m->o.reserve;
	return speechtext_budget(m->o.max_ratio, (double)n, room, m->o.max_new);
}

/* The prompt for one utterance: a fused model encodes it. */
static int prepare(struct speechtext *m, const int32_t *ids, size_t n)
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

int speechtext_generate(struct speechtext *m, const int32_t *ids, size_t n, const struct decode_params *dp,
			struct rng *rng)
{
	struct decode_params p = *dp;
	p.eos = m->eos;
	p.max_new = budget(m, n);
	if (prepare(m, ids, n) < 0)
		return -1;
	if (p.max_new < 1) {
		zerr_set("no room left to generate");
		return -1;
	}
	return decode_generate(&m->dm, m->prompt, m->n_prompt, &p, rng, m->gen);
}

void speechtext_greedy(struct speechtext *m, const int32_t *const *ids, const size_t *n, int nb)
{
	for (int b = 0; b < nb; b++)
		m->max_new[b] = budget(m, n[b]);
	if (fusegen_encode_batch(m->g, ids, n, nb) < 0)
		abort(); /* the caller checked the lengths */
	fusegen_greedy(m->g, m->max_new, nb, m->rows, m->stride, m->len);
	for (int b = 0; b < nb; b++)
		m->len[b] = (int)speechtext_output(m, m->rows + (size_t)b * m->stride, m->len[b]);
}

size_t speechtext_keep(int32_t *gen, int made, int32_t bos, int32_t eos, int32_t off, int vocab)
{
	size_t k = 0;
	for (int i = 0; i < made; i++) {
		int32_t id = gen[i] - off;
		if (gen[i] != eos && gen[i] != bos && id >= 0 && id < vocab)
			gen[k++] = id;
	}
	return k;
}

size_t speechtext_output(const struct speechtext *m, int32_t *gen, int made)
{
	int32_t off = m->st ? single_id(&m->map, m->out, 0) : 0;
	return speechtext_keep(gen, made, m->bos, m->eos, off, m->vocab[m->out]);
}

char *speechtext_line(struct speechtext *m, const int32_t *ids, size_t n)
{
	size_t len = 0, cap = 0;
	char *s = NULL;
	bpe_decode(m->bpe, ids, n, &m->bytes, &len, &m->bcap);
	/* a model can end on half a character: transcripts stay UTF-8 */
	len = utf8_repair(&s, &cap, m->bytes ? m->bytes : "", len);
	for (size_t i = 0; i < len; i++)
		if (s[i] == '\n' || s[i] == '\r' || s[i] == '\0')
			s[i] = ' ';
	return s;
}
