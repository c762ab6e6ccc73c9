/* tower: a LLaMA-style decoder-only language model, trained and run in fp32.
 *
 * Pre-norm blocks: RMSNorm -> causal multi-head attention with RoPE
 * (Hugging Face rotate-half) and grouped kv heads -> residual; RMSNorm ->
 * SwiGLU -> residual; a final RMSNorm and an LM head, tied to the embeddings
 * or not.
 *
 * All parameters live in one allocation (so do the gradients, and the
 * activations of a training batch); each named tensor is a view into it.
 * Names are Hugging Face LLaMA's under a prefix ("text." for a text tower):
 *   PREFIXmodel.embed_tokens.weight                         (V,C)
 *   PREFIXmodel.layers.L.input_layernorm.weight              (C)
 *   PREFIXmodel.layers.L.self_attn.{q,k,v,o}_proj.weight     (H*D,C) (K*D,C) (K*D,C) (C,H*D)
 *   PREFIXmodel.layers.L.post_attention_layernorm.weight     (C)
 *   PREFIXmodel.layers.L.mlp.{gate,up,down}_proj.weight      (F,C) (F,C) (C,F)
 *   PREFIXmodel.norm.weight                                  (C)
 *   PREFIXlm_head.weight                                     (V,C), absent when tied
 * so a Hugging Face LLaMA checkpoint (prefix "") loads as a tower.
 * In memory q,k,v of a layer are adjacent rows of one (H+2K)*D x C matrix
 * and gate,up of one 2F x C matrix, so each is a single sgemm. */
#ifndef ZIPPER_TOWER_H
#define ZIPPER_TOWER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "rng.h"

struct st_file;
struct st_writer;

struct tower_config {
	int vocab, d_model, n_layers, n_heads, n_kv_heads, d_ff, max_seq;
	double rope_theta;
	double norm_eps;
	bool tie_embeddings;
};

/* Defaults for the fields a JSON object may leave out: n_kv_heads =
 * n_heads, max_seq 1024, rope_theta 10000, norm_eps 1e-5, untied. */
void tower_config_default(struct tower_config *c);
/* Accepts zipper's keys (vocab, d_model, ...) or Hugging Face config.json
 * keys (vocab_size, hidden_size, num_hidden_layers, num_attention_heads,
 * num_key_value_heads, intermediate_size, max_position_embeddings,
 * rope_theta, rms_norm_eps, tie_word_embeddings). Checks the values. */
int tower_config_from_json(struct tower_config *c, const cJSON *j);
int tower_config_check(const struct tower_config *c);
/* Every key of the config object j appears once: cJSON keeps a duplicate
 * as another child, and lookups would take the first silently. 0, or -1
 * with zerr ("config: duplicate key \"vocab\""); for every config read. */
int tower_config_unique_keys(const cJSON *j);
/* The same, from a JSON file; errors name the file. */
int tower_config_read(struct tower_config *c, const char *path);
cJSON *tower_config_to_json(const struct tower_config *c);
size_t tower_config_params(const struct tower_config *c);

struct tower_tensor {
	char *name;
	size_t offset; /* in floats, into params (and grads) */
	int ndim;
	int64_t shape[2];
	size_t count;
	bool decay; /* weight decay applies (not norms, not embeddings) */
};

struct tower_weights {
	float *embed;  /* (V,C) */
	float *ln1;    /* (L,C) */
	float *wqkv;   /* (L,(H+2K)*D,C) */
	float *wo;     /* (L,C,H*D) */
	float *ln2;    /* (L,C) */
	float *wgu;    /* (L,2F,C) */
	float *wdown;  /* (L,C,F) */
	float *norm;   /* (C) */
	float *lm_head; /* (V,C): embed when tied */
};

struct tower_acts;

struct tower {
	struct tower_config cfg;
	char *prefix;
	int head_dim;
	size_t n_params;
	float *params;
	struct tower_weights w;
	float *grads; /* NULL until tower_alloc_train() */
	struct tower_weights g;
	size_t n_tensors;
	struct tower_tensor *tensors;
	uint16_t *bf16; /* NULL, or params rounded to bfloat16 for decoding */
	float *rope_cos, *rope_sin; /* (max_seq, D/2) */
	struct tower_acts *acts;
};

/* Parameters uninitialised: call tower_init_random() or load them. */
struct tower *tower_new(const struct tower_config *c, const char *prefix);
void tower_free(struct tower *t);
/* Normal(0, 0.02) weights, ones in the norms. */
void tower_init_random(struct tower *t, struct rng *r);
const struct tower_tensor *tower_find(const struct tower *t, const char *name);
/* Renames the tensors (e.g. a bare Hugging Face checkpoint's "" to "text."). */
void tower_set_prefix(struct tower *t, const char *prefix);

/* Loads a tower from an open model file. prefix NULL: found from the name
 * of the embedding tensor. cfg NULL: the file's zipper.config. Every
 * tensor must be there with the right shape, and no unknown one with the
 * prefix. Tensors may be F32, F16 or BF16 (widened to fp32). */
struct tower *tower_load(const struct st_file *f, const char *prefix, const struct tower_config *cfg);
/* What a tower file says besides the architecture: the modality it models
 * (its tensor prefix without the dot) and the end token it was trained
 * with, which also starts every sequence (packing puts it between
 * utterances), or -1. Both live in zipper.config next to the architecture. */
struct tower_meta {
	char modality[16];
	int eos;
};

/* Adds the parameters as views (valid until the writer is written). */
void tower_add_tensors(const struct tower *t, struct st_writer *w);
/* zipper.config of a tower file: the architecture and the meta. */
cJSON *tower_file_json(const struct tower *t, const struct tower_meta *m);
/* A "tower" model file (kind "tower", zipper.version TOWER_FILE_VERSION). */
enum { TOWER_FILE_VERSION = 1 };
int tower_save(const struct tower *t, const char *path, const struct tower_meta *m);
/* The config and meta of a tower file, as written by tower_save(); checks
 * its version. */
int tower_file_config(const struct st_file *f, struct tower_config *c, struct tower_meta *m);

/* ---- training ---- */

/* Gradients and activations for batches of up to B x T tokens. */
void tower_alloc_train(struct tower *t, int B, int T);
/* tokens, targets (B,T); targets < 0 are not counted. Returns the mean
 * loss (targets NULL: 0, only logits). Logits (B,T,V) in tower_logits(). */
double tower_forward(struct tower *t, const int32_t *tokens, const int32_t *targets, int B, int T);
const float *tower_logits(const struct tower *t);
void tower_zero_grad(struct tower *t);
/* Accumulates into the gradients for the last tower_forward() with targets. */
void tower_backward(struct tower *t);
size_t tower_act_floats(int B, int T, const struct tower_config *c);

/* The same, step by step, for a model that runs towers side by side and adds
 * into their residual streams between layers (lib/zipper.c):
 *   tower_forward()  = tower_forward_embed(); tower_forward_layers(0, L); tower_forward_head()
 *   tower_backward() = tower_backward_head(0); tower_backward_layers(L, 0); tower_backward_embed()
 * tower_stream(t, l) (B*T,C) is the input of layer l (l = L: the last
 * layer's output); a caller may change it in place between
 * tower_forward_layers() calls (layer l keeps its own copy of what it needs).
 * tower_dstream() (B*T,C) is d loss / d stream at the layer the backward
 * has reached; a caller may add into it likewise. A tower given only
 * activations (tower_alloc_acts(), grads NULL: frozen) passes gradients
 * through to its stream but computes none for its weights. */
void tower_alloc_acts(struct tower *t, int B, int T);
void tower_forward_embed(struct tower *t, const int32_t *tokens, int B, int T);
void tower_forward_layers(struct tower *t, int l0, int l1);
/* Returns the mean loss over the targets >= 0 and their count. */
double tower_forward_head(struct tower *t, const int32_t *targets, int *count);
float *tower_stream(const struct tower *t, int l);
/* The loss is divided by count (> 0; 0: the tower's own count), so that
 * two towers' losses can share one mean. No targets: dstream = 0. */
void tower_backward_head(struct tower *t, int count);
void tower_backward_layers(struct tower *t, int l1, int l0);
void tower_backward_embed(struct tower *t);
float *tower_dstream(const struct tower *t);

/* ---- inference with a kv cache ---- */

struct tower_cache;

/* B sequences of up to cap positions, fed at most chunk tokens per call. */
struct tower_cache *tower_cache_new(const struct tower *t, int B, int cap, int chunk);
void tower_cache_free(struct tower_cache *c);
/* Feeds tokens (B,T) at positions pos0..pos0+T-1 of every sequence (the
 * cache holds the earlier ones). Returns logits: (B,T,V) when all_logits,
 * else (B,V) of each sequence's last token. Valid until the next call. */
const float *tower_cache_forward(const struct tower *t, struct tower_cache *c, const int32_t *tokens,
				 int T, int pos0, bool all_logits);
/* The same, step by step (as tower_forward_layers() for training):
 * tower_cache_forward() = tower_cache_embed(); tower_cache_layers(0, L);
 * tower_cache_head(). tower_cache_stream() (B*T,C) is the residual stream
 * of the tokens being fed, which a caller may change between layers. */
void tower_cache_embed(const struct tower *t, struct tower_cache *c, const int32_t *tokens, int T, int pos0);
void tower_cache_layers(const struct tower *t, struct tower_cache *c, int l0, int l1, int T, int pos0);
float *tower_cache_stream(const struct tower_cache *c);
const float *tower_cache_head(const struct tower *t, struct tower_cache *c, int T, bool all_logits);
/* Sequence b takes the cached positions [0,len) of old sequence src[b] (beams). */
void tower_cache_reorder(struct tower_cache *c, const int *src, int len);
int tower_cache_batch(const struct tower_cache *c);
/* Decode steps of up to 4 tokens per call then read bfloat16 copies of the
 * weights (half the memory traffic; logits change by ~1e-2 relative);
 * longer chunks (prefill) still use the fp32 weights. */
void tower_use_bf16(struct tower *t);

#endif
