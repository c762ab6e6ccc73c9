/* ops: the kernels of a LLaMA-style decoder, forward and backward.
 *
 * llm.c's conventions: outputs first, then inputs, then sizes; every array
 * carries its shape as a comment, with N = B*T tokens; backward functions
 * ACCUMULATE into their gradient outputs (+=), so the caller zeroes them once.
 * Dense products are cblas_sgemm calls over whole (tokens x features)
 * blocks; the rest are OpenMP loops over tokens or (batch, head) pairs.
 * Linear weights are stored as Hugging Face does, (out, in). */
#ifndef ZIPPER_OPS_H
#define ZIPPER_OPS_H

#include <stddef.h>
#include <stdint.h>

/* out (N,OC) = inp (N,C) @ w^T (OC,C), or out += ... when accumulate; a few
 * rows (decoding) go to matvec_f32. */
void matmul_forward(float *out, const float *inp, const float *w, int N, int C, int OC, int accumulate);
/* Round to nearest even; NaN stays NaN. */
uint16_t float_to_bf16(float f);
/* dinp (N,C) += dout (N,OC) @ w (OC,C); dw (OC,C) += dout^T @ inp.
 * Either output may be NULL when not needed. */
void matmul_backward(float *dinp, float *dw, const float *dout, const float *inp, const float *w,
		     int N, int C, int OC);

/* out (N,C) = wte[tokens[n]] (V,C). */
void embedding_forward(float *out, const int32_t *tokens, const float *wte, int N, int C);
/* dwte (V,C) += dout (N,C) scattered by tokens. */
void embedding_backward(float *dwte, const float *dout, const int32_t *tokens, int N, int C);

/* out (N,C) = inp * rsqrt(mean(inp^2) + eps) * w (C); rstd (N) saved for backward. */
void rmsnorm_forward(float *out, float *rstd, const float *inp, const float *w, int N, int C, float eps);
/* dw may be NULL (a frozen weight). */
void rmsnorm_backward(float *dinp, float *dw, const float *dout, const float *inp, const float *w,
		      const float *rstd, int N, int C);

/* Rotary tables (max_seq, D/2): angle = pos * theta^(-2i/D), computed in double. */
void rope_tables(float *cos_t, float *sin_t, int max_seq, int D, double theta);
/* Rotates, in place, nh heads of D values at the start of each of N rows of
 * x (row stride `stride` floats), Hugging Face rotate-half convention: the
 * pair is (x[i], x[i+D/2]). Row n is at position pos0 + n % T. */
void rope_forward(float *x, int N, int stride, int nh, int D, int T, int pos0,
		  const float *cos_t, const float *sin_t);
/* The transpose rotation, applied in place to the gradient (RoPE is linear). */
void rope_backward(float *dx, int N, int stride, int nh, int D, int T, int pos0,
		   const float *cos_t, const float *sin_t);

/* Causal attention works on row blocks: block [r0,r1) of queries sees keys
 * [0,r1), so the sgemm calls skip most of the masked upper triangle. */
enum { ATT_BLOCK = 64 };

/* Causal attention with grouped queries: H query heads share K kv heads.
 * qkv (B,T,(H+2K)*D) holds q (H*D), k (K*D), v (K*D) per token, rotated.
 * out (B,T,H*D); att (B,H,T,T) gets the softmax probabilities. */
void attention_forward(float *out, float *att, const float *qkv, int B, int T, int H, int K, int D);
/* dqkv (B,T,(H+2K)*D) +=; datt (B,H,T,T) is scratch. */
void attention_backward(float *dqkv, float *datt, const float *dout, const float *qkv, const float *att,
			int B, int T, int H, int K, int D);

/* gu (N,2F): gate then up in each row. out (N,F) = silu(gate) * up. */
void swiglu_forward(float *out, const float *gu, int N, int F);
void swiglu_backward(float *dgu, const float *dout, const float *gu, int N, int F);

/* losses (N) = -log softmax(logits (N,V))[target]; targets < 0 are ignored
 * (loss 0). Returns the mean over the counted targets, and their count in *count. */
double crossentropy_forward(float *losses, const float *logits, const int32_t *targets, int N, int V,
			    int *count);
/* Overwrites logits (N,V) with d(mean loss)/d(logits), scaled by 1/count. */
void crossentropy_backward(float *logits, const int32_t *targets, int N, int V, int count);

/* row (len): softmax over its first n entries, the rest set to 0 (the
 * masked positions of a score row; n = 0 gives a row of zeros). */
void softmax_prefix(float *row, int n, int len);

/* out (N,C) += inp (N,C). */
void residual_add(float *out, const float *inp, size_t n);

#endif
