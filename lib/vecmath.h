/* vecmath: the exponential-based row loops of the decoder (softmax, SwiGLU).
 * libm's expf is one call per element and cannot be vectorised without
 * -ffast-math; on CPUs with AVX-512 (or AVX2 and FMA) these loops compute
 * e^x sixteen (eight) at a time instead (within 2 ulp of expf; sums are
 * taken in another order, so results agree with the portable loops to
 * rounding, not bit for bit). */
#ifndef ZIPPER_VECMATH_H
#define ZIPPER_VECMATH_H

/* x[i] = e^(x[i] - shift) for i < n; returns the sum of the new x. */
float exp_shifted_sum(float *x, int n, float shift);
/* out[i] = silu(g[i]) * u[i], silu(g) = g / (1 + e^-g). */
void silu_mul(float *out, const float *g, const float *u, int n);
/* The gradient of silu_mul, accumulated: dg += d * u * silu'(g), du += d * silu(g). */
void silu_mul_backward(float *dg, float *du, const float *d, const float *g, const float *u, int n);

#endif
