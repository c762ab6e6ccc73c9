/* xattn: the pieces Zipper adds between two towers (DESIGN §1).
 *
 * Gated cross-attention block (Flamingo's gated xattn-dense), in the tower
 * of width C, reading the other tower's residual stream h (width Co):
 *   g   = W2 ReLU(W1 RMSNorm(h))                the projection MLP, Co -> C
 *   y  += tanh(a) * Wo XAttn(Wq RMSNorm(y), Wk g, Wv g)
 *   y  += tanh(b) * Wdown SwiGLU(Wgate n, Wup n),  n = RMSNorm(y)
 * with gates a = b = 0 at init, so a fresh block passes y through exactly.
 * The RMSNorm inside g is ours (the other tower's stream is unnormalised).
 * XAttn has H heads of C/H and masks by linear order across the
 * modalities: query i (linear position qpos[i]) sees key j only when
 * kpos[j] < qpos[i]. Each tower's positions increase along its sequence,
 * so the keys a query sees are a prefix of the other sequence (nvis keys);
 * a query that sees none gets a zero attention output.
 *
 * Positions (optional, ours; the paper's blocks have none): the queries
 * and keys are rotated (RoPE, rotate-half, theta XATTN_ROPE_THETA) at
 * their own tower's position times a scale, so that both sides count in
 * one unit. Zipper uses speech frames: text positions are scaled by the
 * mean number of speech tokens per text token, so a text token's query
 * and the audio it was spoken in sit near the same rotation, and the
 * block can find its audio by position as well as by content.
 *
 * Tensors of a block, under a prefix such as "xattn.text.0.":
 *   kv_norm.weight (Co)  proj.0.weight (C,Co)  proj.1.weight (C,C)
 *   attn_norm.weight (C)  q_proj.weight (C,C)  k_proj.weight (C,C)
 *   v_proj.weight (C,C)  o_proj.weight (C,C)  attn_gate (1)
 *   ff_norm.weight (C)  mlp.gate_proj.weight (F,C)  mlp.up_proj.weight (F,C)
 *   mlp.down_proj.weight (C,F)  ff_gate (1)
 *
 * Input projection of a tower (after its embeddings), under "proj.text." ...:
 *   none:      h0 = e
 *   paper:     h0 = ReLU(MLP(e)),  MLP(e) = W3 ReLU(W2 ReLU(W1 e))
 *   residual:  h0 = e + MLP(e), W3 = 0 at init, so h0 = e exactly
 * tensors 0.weight, 1.weight, 2.weight (C,C).
 *
 * Init: q,k,v,o and the FFN Normal(0, 0.02) like the towers; the MLPs
 * Normal(0, 1/sqrt(fan_in)) (so ReLU stacks keep their scale); norms 1;
 * gates gate_init (0: the paper's). */
#ifndef ZIPPER_XATTN_H
#define ZIPPER_XATTN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rng.h"
#include "tower.h"

/* Lays named tensors out one after another in one allocation (or only
 * counts them when base is NULL); names get the prefix. */
struct carver {
	float *base;   /* NULL: only count */
	bool names;    /* record the named tensors (not for a gradient carver) */
	size_t n;      /* floats taken */
	struct tower_tensor *tensors;
	size_t n_tensors, cap;
	char prefix[64];
};

float *carve_take(struct carver *c, const char *name, int64_t rows, int64_t cols, bool decay);
void carver_free(struct carver *c);

/* ---- cross-attention ---- */

struct xattn_weights {
	float *kv_norm, *w1, *w2;   /* (Co) (C,Co) (C,C) */
	float *attn_norm, *wq, *wkv; /* (C) (C,C) (2C,C): k rows then v rows */
	float *wo, *attn_gate;       /* (C,C) (1) */
	float *ff_norm, *wgu, *wdown, *ff_gate; /* (C) (2F,C) (C,F) (1) */
};

struct xattn_acts;

/* The rotation of the queries and keys at position scale * (own position). */
struct xattn_rope {
	float qscale, kscale; /* qscale 0: no rotation */
};

enum { XATTN_ROPE_THETA = 10000 };

struct xattn {
	int C, Co, H, F;
	float eps;
	struct xattn_rope rope;
	struct xattn_weights w, g; /* g: gradients, or all NULL */
	struct xattn_acts *a;
};

/* Carves a block's weights (and, when gc is not NULL, its gradients at the
 * same offsets) and names them under the carver's prefix. */
void xattn_carve(struct xattn *x, struct carver *c, struct carver *gc, int C, int Co, int H, int F, float eps);
void xattn_init(struct xattn *x, struct rng *r, float gate_init);
/* Activations for B sequences of up to Tq queries and Tk keys (a block
 * already allocated grows to hold both its old and the new sizes). */
void xattn_alloc(struct xattn *x, int B, int Tq, int Tk);
void xattn_free(struct xattn *x);

/* The key side: keys and values from h (B*Tk,Co) (copied: the caller may
 * change h afterwards), with kpos (B,Tk) their linear positions; key j of
 * a sequence is at its tower's position j. */
void xattn_forward_kv(struct xattn *x, const float *h, const int32_t *kpos, int B, int Tk);
/* After xattn_forward_kv() of one sequence: the same keys and values for
 * B sequences (beams of one utterance); capacity for B needed. */
void xattn_repeat_kv(struct xattn *x, int B);
/* Batches of sequences with different key counts, one at a time: after
 * xattn_forward_kv() of one sequence (B = 1, at most Tk keys), moves its
 * keys and values to row `row` of a batch of Tk keys per row, the rest
 * padding never seen. Place rows last to first (row 0 is the scratch),
 * then xattn_set_kv_batch(). */
void xattn_place_kv(struct xattn *x, int row, int Tk);
void xattn_set_kv_batch(struct xattn *x, int B, int Tk);
/* The query side: y (B*Tq,C) in place; qpos (B,Tq); query i of a sequence
 * is at its tower's position q0 + i. */
void xattn_forward(struct xattn *x, float *y, const int32_t *qpos, int Tq, int q0);
/* dy (B*Tq,C) in place: d(output) -> d(input); accumulates the weight
 * gradients; the gradient for h is then in xattn_dh() (B*Tk,Co), for the
 * caller to add to the other tower's stream gradient. */
void xattn_backward(struct xattn *x, float *dy);
const float *xattn_dh(const struct xattn *x);

/* The masked attention itself, llm.c style. q (B,Tq,C), kv (B,Tk,2C) (k
 * then v in each row), nvis (B,Tq) keys each query sees; out (B,Tq,C); att
 * (B,H,Tq,Tk) the probabilities (zero past nvis). */
void xattn_attend_forward(float *out, float *att, const float *q, const float *kv, const int32_t *nvis, int B,
			  int Tq, int Tk, int C, int H);
/* dq (B,Tq,C) +=, dkv (B,Tk,2C) +=; datt (B,H,Tq,Tk) scratch. */
void xattn_attend_backward(float *dq, float *dkv, float *datt, const float *dout, const float *q,
			   const float *kv, const float *att, const int32_t *nvis, int B, int Tq, int Tk, int C,
			   int H);
/* nvis (B,Tq) = #{j : kpos[b,j] < qpos[b,i]}, kpos increasing in j. */
void xattn_visible(int32_t *nvis, const int32_t *qpos, const int32_t *kpos, int B, int Tq, int Tk);

/* ---- input projection ---- */

enum inproj_mode { INPROJ_NONE, INPROJ_PAPER, INPROJ_RESIDUAL };

struct inproj_acts;

struct inproj {
	int mode, C;
	float *w[3], *g[3]; /* (C,C) each; g NULL without gradients */
	struct inproj_acts *a;
};

/* "none", "paper", "residual" -> mode, or -1. */
int inproj_mode(const char *name);
const char *inproj_name(int mode);
void inproj_carve(struct inproj *p, struct carver *c, struct carver *gc, int mode, int C);
void inproj_init(struct inproj *p, struct rng *r);
void inproj_alloc(struct inproj *p, int N);
void inproj_free(struct inproj *p);
/* x (N,C) in place: embeddings -> h0. */
void inproj_forward(struct inproj *p, float *x, int N);
/* dx (N,C) in place: d(h0) -> d(embeddings). */
void inproj_backward(struct inproj *p, float *dx, int N);

#endif
