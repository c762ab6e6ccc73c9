/* fusegen: generation with a fused model, as a struct decode_model
 * (lib/decode.h), so greedy, sampling and beam search work unchanged.
 *
 * One utterance at a time: fusegen_encode() runs the input tower once over
 * [bos ids eos] of the input modality (its cross-attention blocks see
 * nothing: no output token precedes the input) and computes, at every
 * stage, the output tower's cross-attention keys and values from the input
 * tower's states, once. The output tower then decodes with its kv cache
 * from its bos; every fed token attends to all the input.
 *
 * Decoding guards (DESIGN §7), besides the end token and the caller's
 * max_new (zip-generate ties it to the input length): when the last
 * `repeat_span` tokens of a sequence repeat with a period of at most 8
 * tokens, the model is made to emit its end token next. */
#ifndef ZIPPER_FUSEGEN_H
#define ZIPPER_FUSEGEN_H

#include <stddef.h>
#include <stdint.h>

#include "decode.h"
#include "zipper.h"

struct fusegen;

/* Output modality out (ZM_TEXT: ASR, ZM_SPEECH: TTS); batch = beams;
 * inputs of up to max_in ids (without bos/eos). */
struct fusegen *fusegen_new(struct zipper *z, int out, int batch, int max_in);
void fusegen_free(struct fusegen *g);
/* A loop this long ends the sequence (0: no check). */
void fusegen_set_repeat_span(struct fusegen *g, int span);
/* Encodes one input utterance; -1 (zerr) when it is too long. */
int fusegen_encode(struct fusegen *g, const int32_t *ids, size_t n);
/* No input at all: the output tower runs on its own modality alone, as
 * the input side of a training row does (its blocks see no key, so each
 * adds only its gated FFN), e.g. to score unimodal utterances. */
void fusegen_no_input(struct fusegen *g);
/* Up to `batch` utterances at once, one per row, for fusegen_greedy(). */
int fusegen_encode_batch(struct fusegen *g, const int32_t *const *ids, const size_t *n, int nb);
/* Greedy decoding of the nb rows encoded together, each up to max_new[b]
 * tokens (ending with the end token when it came): out (nb,stride), len (nb). */
int fusegen_greedy(struct fusegen *g, const int *max_new, int nb, int32_t *out, int stride, int *len);
/* Chains (zip-generate --output-modalities text,speech): after prev has
 * generated a segment in its output modality, next (whose output is prev's
 * input modality, on the same zipper) continues the linear sequence
 * [input][seg][next's output]. seg (n) is the finished segment with its
 * bos and eos; it is fed through prev's output tower (which cross-attends
 * to the input, as while generating it), and its streams at every stage
 * become next's cross-attention keys. next's own tower holds the input as
 * its history: the caller's prompt starts with those `pre` tokens ([bos
 * input eos], which see no key, as in the input tower) and then next's
 * bos; every token after them sees all of seg. -1 (zerr) when it does not
 * fit. */
int fusegen_chain(struct fusegen *next, struct fusegen *prev, const int32_t *seg, int n, int pre);
/* The decode model: vocab, batch, max_len and chunk of the output tower. */
void fusegen_model(struct fusegen *g, struct decode_model *m);
/* The output start token (the prompt), and end token. */
int32_t fusegen_bos(const struct fusegen *g);
int32_t fusegen_eos(const struct fusegen *g);

#endif
