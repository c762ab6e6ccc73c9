/* fusedata: aligned speech/text utterances and the ASR and TTS training
 * sequences zip-fuse builds from them (see zipper.h for the batch layout).
 *
 * With the fused model's start/end tokens (bos, eos per modality):
 *   ASR  [speech][text]:  speech  bos s1 .. sn eos      (no targets)
 *                         text    bos w1 .. wm          targets w1 .. wm eos
 *   TTS  [text][speech]:  text    bos w1 .. wm eos      (no targets)
 *                         speech  bos s1 .. sn          targets s1 .. sn eos
 * so the loss is only on the output modality, and generation starts the
 * output from its bos once the input segment (ending in its eos) is in. */
#ifndef ZIPPER_FUSEDATA_H
#define ZIPPER_FUSEDATA_H

#include <stddef.h>
#include <stdint.h>

#include "zipper.h"

enum fuse_task { TASK_ASR = 0, TASK_TTS = 1 };

struct fuse_data {
	size_t n;                /* utterances with both modalities */
	char **ids;              /* (n) */
	int32_t **tok[2];        /* (n) token ids of each modality, no bos/eos */
	size_t *len[2];          /* (n) */
	size_t skipped;          /* utterances dropped: too long for the towers */
};

/* Joins a speech and a text token archive by utt-id (strictly: an id in
 * one and not the other is an error). Speech ids must be below
 * vocab[ZM_SPEECH] - 2 (the codebook; bos/eos are the model's), text ids
 * below vocab[ZM_TEXT]. Utterances longer than max_len[m] - 2 tokens are
 * skipped (counted). */
int fuse_data_load(struct fuse_data *d, const char *speech_path, const char *text_path, const int vocab[2],
		   const int max_len[2]);
void fuse_data_free(struct fuse_data *d);

/* Room for B rows of up to T[m] tokens. */
void fuse_batch_alloc(struct zipper_batch *b, int B, const int T[2]);
void fuse_batch_free(struct zipper_batch *b);
/* Fills the batch with utterances idx[0..B) for tasks task[0..B), padded to
 * the longest row of each modality. */
void fuse_batch_fill(struct zipper_batch *b, const struct fuse_data *d, const size_t *idx, const int *task, int B,
		     const struct zipper_config *c);
/* The longest sequence of modality m any task makes from d. */
int fuse_data_max_len(const struct fuse_data *d, int m);

/* The task of row `row` of step `step`: TTS with probability tts_ratio,
 * from a hash of (seed, step, row), so a resumed run draws the same. */
int fuse_task_of(uint64_t seed, long step, int row, double tts_ratio);

#endif
