/* zipper: the fused model, a text tower and a speech tower joined by gated
 * cross-attention (Zayats et al., 2024; DESIGN §1).
 *
 * A training sequence is a linear order of modality segments, e.g.
 * [speech][text] (ASR), [text][speech] (TTS) or [text][speech][text]. Each
 * tower runs on its own modality's tokens only, in their linear order and
 * with its own positions 0, 1, ... (so on unimodal input it is exactly the
 * pretrained tower); pos[m] (B,T[m]) gives every token's position in the
 * linear sequence, and cross-attention lets a token see the other
 * modality's tokens with a smaller linear position (lib/xattn.h).
 * Padding: tokens 0, targets -1 and pos INT32_MAX (never seen).
 *
 * Stages: with xattn every i layers in the text tower and every j in the
 * speech tower, stage n = 1..N sits on the residual streams after the text
 * tower's layer n*i and the speech tower's layer n*j (1-based), so layer
 * n*i pairs with layer n*j. At a stage, the text block reads the speech
 * stream and the speech block reads the text stream as they were BEFORE
 * either block of that stage ran (both blocks see the other tower's states
 * from before the stage), then both add into their own streams.
 *
 * Each tower keeps its embeddings, head and vocabulary; the loss is the
 * mean cross-entropy over the targets >= 0 of both towers together (so
 * only the output modality is scored, by giving targets only there).
 *
 * Tensors: the towers' under "text." and "speech." (Hugging Face LLaMA
 * names, lib/tower.h), the blocks under "xattn.text.N." (in the text
 * tower, reading speech) and "xattn.speech.N." (N = 0 .. stages-1), the
 * input projections under "proj.text." and "proj.speech." (lib/xattn.h).
 * Model file: zipper.kind "fused", zipper.config {"text": {tower config},
 * "speech": {tower config}, "xattn_every_text": i, "xattn_every_speech":
 * j, "xattn_stages": N, "input_proj_text": "residual", "input_proj_speech":
 * ..., "text_bos", "text_eos", "speech_bos", "speech_eos": token ids,
 * "xattn_rope_rate": r (optional; the blocks' queries and keys rotated at
 * their positions in speech frames, text positions times r: lib/xattn.h)}.
 *
 * A tower frozen with zipper_alloc_train() gets no gradients (and so no
 * optimizer state); the gradient still flows through it to what it reads. */
#ifndef ZIPPER_ZIPPER_H
#define ZIPPER_ZIPPER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "optim.h"
#include "rng.h"
#include "tower.h"
#include "xattn.h"

struct st_file;
struct st_writer;

enum { ZM_TEXT = 0, ZM_SPEECH = 1 }; /* modality indices */
/* "text" and "speech": the modalities by index, in files and messages. */
extern const char *const zm_names[2];

struct zipper_config {
	struct tower_config tower[2];
	int every[2];  /* xattn every i layers */
	int stages;    /* N */
	int proj[2];   /* enum inproj_mode */
	int bos[2], eos[2]; /* each tower's start and end tokens */
	double gate_init;
	double rope_rate; /* speech tokens per text token; 0: no positions in the blocks */
};

/* every[] from xattn_layers spread evenly: every[m] = L_m / n. */
int zipper_config_check(const struct zipper_config *c);
cJSON *zipper_config_to_json(const struct zipper_config *c);
int zipper_config_from_json(struct zipper_config *c, const cJSON *j);

struct zipper_batch {
	int B, T[2];
	int32_t *tokens[2], *targets[2], *pos[2]; /* (B,T[m]) */
};

struct zipper {
	struct zipper_config cfg;
	struct tower *tower[2];        /* prefixes "text.", "speech." */
	size_t n_params;               /* the blocks and projections */
	float *params, *grads;         /* grads NULL until zipper_alloc_train() */
	struct carver table;           /* their named tensors */
	struct inproj proj[2];
	struct xattn *xa[2];           /* (stages) blocks in tower m, reading the other */
	bool frozen[2];
	int B, T[2];                   /* the last forward's batch */
	int count[2];                  /* targets counted in the last forward */
	double loss[2];                /* their mean losses */
};

/* Towers uninitialised (load or copy them), blocks and projections
 * initialised from r (r NULL: uninitialised too). */
struct zipper *zipper_new(const struct zipper_config *c, struct rng *r);
void zipper_free(struct zipper *z);
/* Positions in the blocks (cfg.rope_rate, lib/xattn.h): rate 0 for none. */
void zipper_set_rope_rate(struct zipper *z, double rate);
/* Gradients (not for frozen towers) and activations for B x T[m]. */
void zipper_alloc_train(struct zipper *z, const bool frozen[2], int B, const int T[2]);
/* Mean loss over the targets of both towers (0 when none). */
double zipper_forward(struct zipper *z, const struct zipper_batch *b);
/* Logits (B,T[m],V_m) of the last forward. */
const float *zipper_logits(const struct zipper *z, int m);
void zipper_zero_grad(struct zipper *z);
void zipper_backward(struct zipper *z);

/* A trainable parameter array, for the optimizer: params/grads (n), groups. */
struct zipper_part {
	const char *what;
	float *params, *grads;
	size_t n, n_groups;
	struct optim_group *groups;
	const struct tower_tensor *tensors; /* n_groups of them */
};
/* The trainable arrays (at most 3: text tower, speech tower, fused extras);
 * groups allocated (free with zipper_parts_free). */
int zipper_parts(const struct zipper *z, struct zipper_part parts[3]);
void zipper_parts_free(struct zipper_part parts[3], int n);
/* One AdamW step on every part (opt[i] initialised for parts[i].n), the
 * gradients clipped by their global norm over all parts (returned). */
double zipper_adamw_step(const struct zipper_part *parts, int n, struct adamw *opt, const struct optim_config *c,
			 double lr);

/* A writer holding kind "fused", the config and every tensor (views), for
 * the caller to add to and write. */
struct st_writer *zipper_writer(const struct zipper *z);
enum { ZIPPER_FILE_VERSION = 1 }; /* zipper.version of kind "fused" */
int zipper_save(const struct zipper *z, const char *path);
/* The kind, version and config of a fused model file: what zipper_load()
 * checks before the tensors. */
int zipper_file_config(const struct st_file *f, struct zipper_config *c);
struct zipper *zipper_load(const struct st_file *f);

/* Checkpoints: a fused model file that also holds optim.m.<name> and
 * optim.v.<name> for every trainable tensor and zipper.train (lib/train.h). */
struct train_state;
int zipper_checkpoint_save(const char *path, const struct zipper *z, const struct zipper_part *parts, int np,
			   const struct adamw *opt, const struct train_state *s, const char *options_json);
/* Into a zipper of the same config, its parts, opt (initialised) and s. */
int zipper_checkpoint_load(const char *path, struct zipper *z, const struct zipper_part *parts, int np,
			   struct adamw *opt, struct train_state *s, const char *options_json);

#endif
