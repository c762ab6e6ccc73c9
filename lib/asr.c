/* asr: speech tokens -> words with a fused model or a single decoder (see asr.h). */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "asr.h"
#include "bpe.h"
#include "decode.h"
#include "fusegen.h"
#include "safetensors.h"
#include "single.h"
#include "speechtok.h"
#include "textnorm.h"
#include "xalloc.h"
#include "zerr.h"
#include "zipper.h"

struct asr {
	struct asr_opts o;
	/* a fused model ... */
	struct zipper *z;
	struct fusegen *g;
	/* ... or a single decoder */
	struct tower *st;
	struct single_map map;
	struct decode_model dm;        /* the text side as a decode model */
	struct decode_params dp;
	int max_in;                    /* speech tokens */
	int text_vocab, speech_vocab;  /* archive vocabularies (speech: the codebook) */
	int32_t bos, eos, text0;       /* the text output's, in the model's ids */
	struct bpe *bpe;
	struct speechtok *tok;
	/* work buffers */
	int32_t *prompt;               /* (max_in + 4) */
	int32_t *out;                  /* (batch or 1, stride) */
	int *max_new, *len;            /* (batch) */
	int stride;
	char *bytes;
	size_t bcap;
};

void asr_opts_default(struct asr_opts *o)
{
	*o = (struct asr_opts){.beam = 1, .batch = 16, .repeat_span = 12, .max_ratio = 1.0};
}

static int open_fused(struct asr *a, const struct st_file *f)
{
	if (!(a->z = zipper_load(f)))
		return -1;
	const struct zipper_config *c = &a->z->cfg;
	a->text_vocab = c->tower[ZM_TEXT].vocab;
	a->speech_vocab = c->tower[ZM_SPEECH].vocab - 2;
	a->max_in = c->tower[ZM_SPEECH].max_seq - 2;
	int rows = a->o.beam > 1 ? a->o.beam : a->o.batch;
	a->g = fusegen_new(a->z, ZM_TEXT, rows, a->max_in);
	fusegen_set_repeat_span(a->g, a->o.repeat_span);
	fusegen_model(a->g, &a->dm);
	if (a->o.bf16)
		tower_use_bf16(a->z->tower[ZM_TEXT]);
	a->bos = fusegen_bos(a->g);
	a->eos = fusegen_eos(a->g);
	return 0;
}

static int open_single(struct asr *a, const struct st_file *f)
{
	if (!(a->st = single_load(f, &a->map)))
		return -1;
	a->text_vocab = a->map.vocab[ZM_TEXT];
	a->speech_vocab = a->map.vocab[ZM_SPEECH] - 2;
	int max_seq = a->st->cfg.max_seq;
	a->max_in = max_seq / 2 - 3;
	if (a->o.bf16)
		tower_use_bf16(a->st);
	decode_model_tower(&a->dm, a->st, a->o.beam, max_seq, max_seq < 256 ? max_seq : 256);
	a->bos = single_id(&a->map, ZM_TEXT, a->map.bos[ZM_TEXT]);
	a->eos = single_id(&a->map, ZM_TEXT, a->map.eos[ZM_TEXT]);
	a->text0 = single_id(&a->map, ZM_TEXT, 0);
	return 0;
}

/* The tokenizers given, else the ones f carries; checked against the model. */
static int open_tokenizers(struct asr *a, const struct st_file *f)
{
	const struct asr_opts *o = &a->o;
	a->bpe = o->text_tokenizer ? bpe_load(o->text_tokenizer) : bpe_from_model(f);
	if (!a->bpe) {
		if (!o->text_tokenizer && !st_find(f, "tokenizer.text.merges"))
			zerr_set("%s: the model carries no text tokenizer (zip-fuse --text-tokenizer); "
				 "give one with --text-tokenizer", f->path);
		return -1;
	}
	if (bpe_vocab_size(a->bpe) > a->text_vocab) {
		zerr_set("%s: the text tokenizer's %d ids do not fit the model's text vocabulary of %d",
			 o->text_tokenizer ? o->text_tokenizer : f->path, bpe_vocab_size(a->bpe), a->text_vocab);
		return -1;
	}
	bool carried = st_find(f, "tokenizer.speech.codebook") || st_meta(f, "zipper.tokenizer.speech");
	if (!o->speech_tokenizer && !carried) {
		if (!o->need_speech)
			return 0;
		zerr_set("%s: the model carries no speech tokenizer (zip-fuse --speech-tokenizer); "
			 "give one with --speech-tokenizer", f->path);
		return -1;
	}
	a->tok = o->speech_tokenizer ? speechtok_load(o->speech_tokenizer) : speechtok_from_model(f);
	if (!a->tok)
		return -1;
	if (a->tok->k > a->speech_vocab) {
		zerr_set("%s: the speech tokenizer's %d units do not fit the model's speech vocabulary of %d",
			 o->speech_tokenizer ? o->speech_tokenizer : f->path, a->tok->k, a->speech_vocab);
		return -1;
	}
	return 0;
}

struct asr *asr_open(const struct asr_opts *o)
{
	struct asr *a = xcalloc(1, sizeof *a);
	a->o = *o;
	struct st_file f;
	if (st_open(&f, o->model) < 0) {
		free(a);
		return NULL;
	}
	int rc = -1;
	if (!f.kind || (strcmp(f.kind, "fused") && strcmp(f.kind, "single-decoder")))
		zerr_set("%s: not a fused model (zipper.kind is %s; make one with zip-fuse)", o->model,
			 f.kind ? f.kind : "missing");
	else if ((!strcmp(f.kind, "fused") ? open_fused(a, &f) : open_single(a, &f)) == 0)
		rc = open_tokenizers(a, &f);
	st_close(&f);
	if (rc < 0) {
		asr_close(a);
		return NULL;
	}
	decode_params_default(&a->dp);
	a->dp.beam = o->beam;
	a->dp.eos = a->eos;
	int rows = a->z && o->beam == 1 ? o->batch : 1;
	a->stride = a->dm.max_len + 1;
	a->prompt = xmallocarray((size_t)a->max_in + 4, sizeof *a->prompt);
	a->out = xmallocarray((size_t)rows * (size_t)a->stride, sizeof *a->out);
	a->max_new = xmallocarray((size_t)rows, sizeof *a->max_new);
	a->len = xmallocarray((size_t)rows, sizeof *a->len);
	return a;
}

void asr_close(struct asr *a)
{
	if (!a)
		return;
	if (a->z) {
		fusegen_free(a->g);
		zipper_free(a->z);
	} else if (a->st) {
		decode_model_tower_free(&a->dm);
		tower_free(a->st);
	}
	bpe_free(a->bpe);
	speechtok_free(a->tok);
	free(a->prompt);
	free(a->out);
	free(a->max_new);
	free(a->len);
	free(a->bytes);
	free(a);
}

const struct speechtok *asr_speechtok(const struct asr *a)
{
	return a->tok;
}

int asr_max_in(const struct asr *a)
{
	return a->max_in;
}

/* Text tokens for n speech tokens: ratio * n + 10, within the room left. */
static int max_new(const struct asr *a, size_t n)
{
	int room = a->dm.max_len - (a->z ? 1 : (int)n + 3);
	double want = a->o.max_ratio * (double)n + 10;
	int m = want < room ? (int)want : room;
	return a->o.max_new > 0 && m > a->o.max_new ? a->o.max_new : m;
}

/* The words of row (made ids): only text tokens (not bos, eos, nor
 * beyond the text vocabulary), decoded, one line. */
static char *words(struct asr *a, int32_t *row, int made)
{
	size_t k = 0, len = 0;
	for (int i = 0; i < made; i++) {
		int32_t id = row[i] - a->text0;
		if (row[i] != a->eos && row[i] != a->bos && id >= 0 && id < a->text_vocab)
			row[k++] = id;
	}
	bpe_decode(a->bpe, row, k, &a->bytes, &len, &a->bcap);
	/* a model can end on half a character: transcripts stay UTF-8 */
	char *s = NULL;
	size_t cap = 0;
	len = utf8_repair(&s, &cap, a->bytes ? a->bytes : "", len);
	for (size_t i = 0; i < len; i++)
		if (s[i] == '\n' || s[i] == '\r' || s[i] == '\0')
			s[i] = ' ';
	return s;
}

/* Greedy, a fused model, nb <= batch utterances that fit. */
static void greedy_batch(struct asr *a, const int32_t *const *ids, const size_t *n, int nb, char **text)
{
	for (int b = 0; b < nb; b++)
		a->max_new[b] = max_new(a, n[b]);
	if (fusegen_encode_batch(a->g, ids, n, nb) < 0)
		abort(); /* lengths were checked */
	fusegen_greedy(a->g, a->max_new, nb, a->out, a->stride, a->len);
	for (int b = 0; b < nb; b++)
		text[b] = words(a, a->out + (size_t)b * a->stride, a->len[b]);
}

/* One utterance: the prompt for the text side, then decode_generate. */
static char *one(struct asr *a, const int32_t *ids, size_t n)
{
	int k = 0;
	if (a->z) {
		if (fusegen_encode(a->g, ids, n) < 0)
			abort(); /* the length was checked */
	} else { /* [bos speech eos][bos of the text], as in training */
		a->prompt[k++] = single_id(&a->map, ZM_SPEECH, a->map.bos[ZM_SPEECH]);
		for (size_t i = 0; i < n; i++)
			a->prompt[k++] = single_id(&a->map, ZM_SPEECH, ids[i]);
		a->prompt[k++] = single_id(&a->map, ZM_SPEECH, a->map.eos[ZM_SPEECH]);
	}
	a->prompt[k++] = a->bos;
	struct decode_params dp = a->dp;
	dp.max_new = max_new(a, n);
	int made = decode_generate(&a->dm, a->prompt, k, &dp, NULL, a->out);
	return words(a, a->out, made);
}

void asr_transcribe(struct asr *a, const int32_t *const *ids, const size_t *n, int nb, char **text, char **err)
{
	const int32_t **fit_ids = xmallocarray((size_t)nb + 1, sizeof *fit_ids);
	size_t *fit_n = xmallocarray((size_t)nb + 1, sizeof *fit_n);
	int *where = xmallocarray((size_t)nb + 1, sizeof *where);
	char **fit_text = xcalloc((size_t)nb + 1, sizeof *fit_text);
	int nf = 0;
	for (int b = 0; b < nb; b++) {
		text[b] = err[b] = NULL;
		if (n[b] > (size_t)a->max_in) {
			err[b] = xasprintf("%zu speech tokens: longer than the model allows (%d)", n[b], a->max_in);
			continue;
		}
		fit_ids[nf] = ids[b], fit_n[nf] = n[b], where[nf++] = b;
	}
	bool batched = a->z && a->o.beam == 1;
	for (int i = 0; i < nf;) {
		int m = batched ? (nf - i < a->o.batch ? nf - i : a->o.batch) : 1;
		if (batched)
			greedy_batch(a, fit_ids + i, fit_n + i, m, fit_text + i);
		else
			fit_text[i] = one(a, fit_ids[i], fit_n[i]);
		i += m;
	}
	for (int i = 0; i < nf; i++)
		text[where[i]] = fit_text[i];
	free(fit_ids), free(fit_n), free(where), free(fit_text);
}
