/* asr: speech tokens -> words with a fused model or a single decoder (see asr.h). */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "asr.h"
#include "safetensors.h"
#include "speechtext.h"
#include "speechtok.h"
#include "xalloc.h"
#include "zerr.h"

struct asr {
	struct asr_opts o;
	struct speechtext m;   /* text from speech */
	struct decode_params dp;
	struct speechtok *tok;
};

void asr_opts_default(struct asr_opts *o)
{
	*o = (struct asr_opts){.beam = 1, .batch = 16, .repeat_span = 12, .max_ratio = 1.0};
}

/* The tokenizers given, else the ones f carries; checked against the model. */
static int open_tokenizers(struct asr *a, const struct st_file *f)
{
	const struct asr_opts *o = &a->o;
	if (speechtext_text_tokenizer(&a->m, f, o->text_tokenizer, true) < 0)
		return -1;
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
	if (a->tok->k > a->m.vocab[ZM_SPEECH]) {
		zerr_set("%s: the speech tokenizer's %d units do not fit the model's speech vocabulary of %d",
			 o->speech_tokenizer ? o->speech_tokenizer : f->path, a->tok->k, a->m.vocab[ZM_SPEECH]);
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
	struct speechtext_opts so = {.out = ZM_TEXT, .beam = o->beam, .batch = o->beam == 1 ? o->batch : 0,
				     .repeat_span = o->repeat_span, .max_ratio = o->max_ratio,
				     .max_new = o->max_new, .bf16 = o->bf16};
	int rc = speechtext_open(&a->m, &f, &so) < 0 ? -1 : open_tokenizers(a, &f);
	st_close(&f);
	if (rc < 0) {
		asr_close(a);
		return NULL;
	}
	decode_params_default(&a->dp);
	a->dp.beam = o->beam;
	return a;
}

void asr_close(struct asr *a)
{
	if (!a)
		return;
	speechtext_close(&a->m);
	speechtok_free(a->tok);
	free(a);
}

const struct speechtok *asr_speechtok(const struct asr *a)
{
	return a->tok;
}

int asr_max_in(const struct asr *a)
{
	return a->m.max_in;
}

void asr_transcribe(struct asr *a, const int32_t *const *ids, const size_t *n, int nb, char **text)
{
	if (!speechtext_batched(&a->m)) { /* one at a time: beam search, or a single decoder */
		for (int b = 0; b < nb; b++) {
			int made = speechtext_generate(&a->m, ids[b], n[b], &a->dp, NULL);
			if (made < 0)
				abort(); /* the lengths fit */
			text[b] = speechtext_line(&a->m, a->m.gen, speechtext_output(&a->m, a->m.gen, made));
		}
		return;
	}
	for (int i = 0; i < nb; i += a->o.batch) {
		int m = nb - i < a->o.batch ? nb - i : a->o.batch;
		speechtext_greedy(&a->m, ids + i, n + i, m);
		for (int b = 0; b < m; b++)
			text[i + b] = speechtext_line(&a->m, a->m.rows + (size_t)b * a->m.stride, (size_t)a->m.len[b]);
	}
}
