/* speechtext: one modality from the other with a model made by zip-fuse
 * (kind "fused" or "single-decoder"): text from speech (asr), speech from
 * text (tts). zip-generate (cmd/fused-generate.c) and zip-transcribe
 * (lib/asr.h) both decode through it, so they cannot drift:
 *
 *   the prompt: a fused model encodes the input with its input tower; a
 *     single decoder reads [bos input eos][bos of the output], as trained;
 *   an utterance of n input tokens gets at most max_ratio * n + 10 output
 *     tokens, capped by max_new when > 0 and by the model's room;
 *   outputs keep only the output modality's tokens (not bos, eos, nor
 *     beyond its archive vocabulary), in the archive's ids;
 *   fused models can decode `batch` utterances greedily at once. */
#ifndef ZIPPER_SPEECHTEXT_H
#define ZIPPER_SPEECHTEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "decode.h"
#include "single.h"
#include "zipper.h"

struct speechtext_opts {
	int out;          /* the output modality: ZM_TEXT (asr) or ZM_SPEECH (tts) */
	int beam;         /* rows of decode_generate (1: greedy or sampling) */
	int batch;        /* > 0: a fused model decodes this many greedily at once */
	int repeat_span;  /* loop guard (lib/fusegen.h); < 0: 12 for text, 100 for speech */
	double max_ratio; /* output tokens per input token; < 0: 1 for text, 20 for speech */
	int max_new;      /* most output tokens; 0: no cap */
	int reserve;      /* positions kept free after the output (chains: 1, for its eos) */
	bool bf16;        /* bfloat16 weights for the output tower */
};

struct speechtext {
	struct speechtext_opts o;
	struct zipper *z; /* a fused model ... */
	struct fusegen *g;
	struct tower *st; /* ... or a single decoder */
	struct single_map map;
	struct decode_model dm; /* the output side */
	int in, out, vocab[2];  /* archive vocabularies: speech without begin/end of audio */
	int max_in;             /* input tokens */
	int32_t bos, eos;       /* of the output, in the model's ids */
	int32_t *prompt;        /* (max_in + 4) */
	int n_prompt;
	int32_t *gen;           /* (dm.max_len + 1) speechtext_generate's output */
	struct bpe *bpe;        /* the text tokenizer, or NULL */
	int32_t *rows;          /* speechtext_greedy's outputs (batch, stride) */
	int *len, *max_new;     /* (batch) */
	int stride;
	char *bytes;            /* speechtext_line's work buffer */
	size_t bcap;
};

struct st_file;
struct rng;

/* f is a model made by zip-fuse: kind "fused" or "single-decoder". */
bool speechtext_model(const struct st_file *f);
/* Opens the model f (the caller closes f); -1 (zerr) when it is neither kind or does not load. */
int speechtext_open(struct speechtext *m, const struct st_file *f, const struct speechtext_opts *o);
void speechtext_close(struct speechtext *m);
/* m->bpe: the text tokenizer at path, else the one f carries, else NULL
 * (-1 when need); -1 (zerr) when it cannot be read or does not fit. */
int speechtext_text_tokenizer(struct speechtext *m, const struct st_file *f, const char *path, bool need);
/* Fused models decode greedily `batch` utterances at a time. */
bool speechtext_batched(const struct speechtext *m);

/* Most output tokens: ratio * n + 10, within room, then within cap when cap > 0. */
int speechtext_budget(double ratio, double n, int room, int cap);

/* One utterance (n <= max_in): decode_generate with dp (its eos and
 * max_new set here) into m->gen; returns the ids made, or -1 (zerr) when
 * the input does not fit or leaves no room. */
int speechtext_generate(struct speechtext *m, const int32_t *ids, size_t n, const struct decode_params *dp,
			struct rng *rng);
/* Up to `batch` utterances (each n <= max_in), greedily: row b of m->rows
 * holds m->len[b] output tokens, already kept (speechtext_output). */
void speechtext_greedy(struct speechtext *m, const int32_t *const *ids, const size_t *n, int nb);

/* Keeps the made ids of gen that are tokens of an archive of `vocab` ids
 * (not bos, eos, nor id - off outside [0, vocab)), less off; their count.
 * speechtext_output: those of the output modality. */
size_t speechtext_keep(int32_t *gen, int made, int32_t bos, int32_t eos, int32_t off, int vocab);
size_t speechtext_output(const struct speechtext *m, int32_t *gen, int made);
/* Text tokens -> one line of valid UTF-8 (line breaks and NULs become
 * spaces), malloc'd. */
char *speechtext_line(struct speechtext *m, const int32_t *ids, size_t n);

#endif
