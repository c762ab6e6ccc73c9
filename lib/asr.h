/* asr: speech tokens -> words with a model made by zip-fuse (kind "fused"
 * or "single-decoder") and the tokenizers it carries (or others given):
 * what zip-transcribe runs. The decoding, its guards and the transcript
 * lines are zip-generate --task asr's (lib/speechtext.h), so both write
 * the same words: greedy (beam 1) decodes `batch` utterances at once with
 * a fused model, else one utterance at a time (decode_generate). */
#ifndef ZIPPER_ASR_H
#define ZIPPER_ASR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct asr_opts {
	const char *model;
	const char *speech_tokenizer; /* NULL: the one the model carries */
	const char *text_tokenizer;   /* NULL: the one the model carries */
	bool need_speech;             /* fail unless a speech tokenizer is found */
	int beam;                     /* 1: greedy (1) */
	int batch;                    /* greedy utterances decoded together (16) */
	int repeat_span;              /* loop guard (12; 0: off) */
	double max_ratio;             /* text tokens per speech token (1) */
	int max_new;                  /* most text tokens, 0: no cap (0) */
	bool bf16;                    /* bfloat16 weights for the text tower */
};

void asr_opts_default(struct asr_opts *o);

struct asr;
struct speechtok;

/* NULL with zerr ("model: what is wrong") when the model cannot transcribe:
 * not a fused model, no text tokenizer, no speech tokenizer (need_speech)
 * or tokenizers that do not fit its vocabularies. */
struct asr *asr_open(const struct asr_opts *o);
void asr_close(struct asr *a);
/* The speech tokenizer (the model's or the one given), or NULL. */
const struct speechtok *asr_speechtok(const struct asr *a);
/* Most speech tokens an utterance may have. */
int asr_max_in(const struct asr *a);

/* Transcribes nb utterances ids[b] of n[b] <= asr_max_in() speech tokens
 * each: text[b] is a malloc'd line. Any nb: greedy runs `batch` at a time. */
void asr_transcribe(struct asr *a, const int32_t *const *ids, const size_t *n, int nb, char **text);

#endif
