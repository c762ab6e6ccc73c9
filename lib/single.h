/* single: the single-decoder baseline (AudioPaLM-like; DESIGN §1): the
 * text tower with its vocabulary extended by the speech vocabulary, fully
 * fine-tuned on the same ASR/TTS sequences as the fused model.
 *
 * Ids: text id t stays t; speech id s (codebook, then begin/end of audio)
 * becomes text_vocab + s. A sequence is the fused model's two segments
 * (lib/fusedata.h) one after the other in one stream: ASR
 * [BOA s.. EOA][bos w..] with targets w.. eos, TTS [bos w.. eos][BOA s..]
 * with targets s.. EOA.
 *
 * New rows (embeddings, and the head when untied) start at the mean of the
 * text tower's rows plus Normal(0, 0.02) noise, so the new tokens begin
 * close to an average token rather than at an arbitrary scale.
 *
 * Model file: zipper.kind "single-decoder", the tower's tensors under
 * "text.", zipper.config {"tower": {tower config, vocab extended},
 * "text_vocab": Vt, "speech_vocab": Vs, "text_bos", "text_eos",
 * "speech_bos", "speech_eos" (modality-local ids)}. */
#ifndef ZIPPER_SINGLE_H
#define ZIPPER_SINGLE_H

#include <stdint.h>

#include "rng.h"
#include "tower.h"
#include "zipper.h"

struct st_file;
struct st_writer;

struct single_map {
	int vocab[2]; /* text, speech (modality-local sizes) */
	int bos[2], eos[2];
};

/* Modality m's local id -> the single vocabulary's id. */
int32_t single_id(const struct single_map *s, int m, int32_t id);
/* A zipper_config holding only what fuse_batch_fill() reads (bos, eos). */
void single_fill_config(const struct single_map *s, struct zipper_config *c);
/* The text tower t extended by s->vocab[ZM_SPEECH] rows (see above). */
struct tower *single_extend(const struct tower *t, const struct single_map *s, struct rng *r);
/* tokens, targets (B,T): row b of the fused batch as one stream, padded
 * with token 0 and target -1. T >= b->T[0] + b->T[1]. */
void single_flatten(int32_t *tokens, int32_t *targets, int T, const struct zipper_batch *b,
		    const struct single_map *s);
/* A writer with the model (views), for the caller to add to and write. */
struct st_writer *single_writer(const struct tower *t, const struct single_map *s);
enum { SINGLE_FILE_VERSION = 1 }; /* zipper.version of kind "single-decoder" */
int single_save(const struct tower *t, const struct single_map *s, const char *path);
/* The kind, version and config of a single-decoder file: what
 * single_load() checks before the tensors. */
int single_file_config(const struct st_file *f, struct tower_config *c, struct single_map *s);
struct tower *single_load(const struct st_file *f, struct single_map *s);

#endif
