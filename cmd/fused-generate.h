/* fused-generate: the fused-model half of zip-generate (cmd/fused-generate.c),
 * for models made by zip-fuse (kind "fused" or "single-decoder"): what it
 * needs from zip-generate's options, and one call. */
#ifndef ZIPPER_FUSED_GENERATE_H
#define ZIPPER_FUSED_GENERATE_H

#include <stdbool.h>

#include "decode.h"
#include "zipper.h"

struct fused_opts {
	const char *model, *prompts, *output;
	const char *text_tokenizer; /* NULL: the one the model carries, if any */
	struct decode_params dp;
	long seed, repeat_span, batch; /* repeat_span < 0: the default */
	double max_ratio;              /* < 0: the default */
	int task;                      /* the output modality: ZM_TEXT (asr) or ZM_SPEECH (tts) */
	bool chain;                    /* then back to the input modality (text,speech or speech,text) */
	const char *speech_out;        /* chains: where the speech segment goes (the text one: output) */
	bool max_new_given, tokens, transcripts, bf16, quiet;
	bool tower_only;               /* --score: a fused model's tower without its blocks */
};

/* The file at path is a fused or single-decoder model (dies if it cannot be opened). */
bool fused_model_file(const char *path);
/* Reads prompts, writes output; returns the exit status (dies on errors). */
int fused_generate(const struct fused_opts *o);

/* zip-generate --score (cmd/fused-score.c): each utterance of the token
 * archive o->prompts, of the modality its header names, scored by that
 * modality's side of the model alone; returns the exit status. */
int fused_score(const struct fused_opts *o);
/* A --score line "utt-id loglik perplexity tokens" for n scored tokens. */
struct zout;
int score_write(struct zout *zo, const char *id, double ll, int n);

#endif
