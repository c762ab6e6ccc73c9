/* matvec: out (N,OC) = inp (N,C) @ w^T, or out += ... when accumulate, for
 * the few rows N of a decoding step, with w (OC,C) as Hugging Face stores
 * linear weights. Bound by reading w, so each weight is read once for all N
 * rows; an AVX-512 version is chosen at run time where the CPU has it. */
#ifndef ZIPPER_MATVEC_H
#define ZIPPER_MATVEC_H

#include <stdint.h>

void matvec_f32(float *out, const float *inp, const float *w, int N, int C, int OC, int accumulate);
/* w in bfloat16 (the top half of a float's bits): half the traffic. */
void matvec_bf16(float *out, const float *inp, const uint16_t *w, int N, int C, int OC, int accumulate);

#endif
