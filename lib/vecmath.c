/* vecmath: exponential-based row loops, with AVX-512 versions (see vecmath.h). */
#include "config.h"

#include <math.h>

#include "cpu.h"
#include "vecmath.h"

#ifdef CPU_X86
#include <immintrin.h>

/* e^x = 2^n e^r with n = round(x / ln 2) and |r| <= ln(2)/2; e^r by Cephes's
 * expf polynomial; scalef applies 2^n, so overflow gives inf and underflow
 * 0 (or a subnormal) with no clamping. ln 2 is split in two so r is exact. */
CPU_AVX512 static inline __m512 exp16(__m512 x)
{
	__m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
					_MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
	__m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
	r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
	__m512 p = _mm512_set1_ps(1.9875691500e-4f);
	p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
	p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
	p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
	p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
	p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
	p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
	return _mm512_scalef_ps(p, n);
}

static inline __mmask16 tail_mask(int left)
{
	return left >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << left) - 1);
}

CPU_AVX512 static float exp_shifted_sum_avx512(float *x, int n, float shift)
{
	__m512 sum = _mm512_setzero_ps(), s = _mm512_set1_ps(shift);
	for (int i = 0; i < n; i += 16) {
		__mmask16 m = tail_mask(n - i);
		__m512 e = exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + i), s));
		_mm512_mask_storeu_ps(x + i, m, e);
		sum = _mm512_mask_add_ps(sum, m, sum, e);
	}
	return _mm512_reduce_add_ps(sum);
}

/* sigmoid(g) = 1 / (1 + e^-g) */
CPU_AVX512 static inline __m512 sigmoid16(__m512 g)
{
	__m512 one = _mm512_set1_ps(1.0f);
	return _mm512_div_ps(one, _mm512_add_ps(one, exp16(_mm512_sub_ps(_mm512_setzero_ps(), g))));
}

CPU_AVX512 static void silu_mul_avx512(float *out, const float *g, const float *u, int n)
{
	for (int i = 0; i < n; i += 16) {
		__mmask16 m = tail_mask(n - i);
		__m512 gv = _mm512_maskz_loadu_ps(m, g + i), uv = _mm512_maskz_loadu_ps(m, u + i);
		_mm512_mask_storeu_ps(out + i, m, _mm512_mul_ps(_mm512_mul_ps(gv, sigmoid16(gv)), uv));
	}
}

CPU_AVX512 static void silu_mul_backward_avx512(float *dg, float *du, const float *d, const float *g,
						const float *u, int n)
{
	__m512 one = _mm512_set1_ps(1.0f);
	for (int i = 0; i < n; i += 16) {
		__mmask16 m = tail_mask(n - i);
		__m512 gv = _mm512_maskz_loadu_ps(m, g + i), uv = _mm512_maskz_loadu_ps(m, u + i);
		__m512 dv = _mm512_maskz_loadu_ps(m, d + i), s = sigmoid16(gv);
		/* silu'(g) = s (1 + g (1 - s)) */
		__m512 ds = _mm512_mul_ps(s, _mm512_fmadd_ps(gv, _mm512_sub_ps(one, s), one));
		__m512 dgv = _mm512_fmadd_ps(_mm512_mul_ps(dv, uv), ds, _mm512_maskz_loadu_ps(m, dg + i));
		__m512 duv = _mm512_fmadd_ps(dv, _mm512_mul_ps(gv, s), _mm512_maskz_loadu_ps(m, du + i));
		_mm512_mask_storeu_ps(dg + i, m, dgv);
		_mm512_mask_storeu_ps(du + i, m, duv);
	}
}
#endif

float exp_shifted_sum(float *x, int n, float shift)
{
#ifdef CPU_X86
	if (cpu_avx512())
		return exp_shifted_sum_avx512(x, n, shift);
#endif
	float sum = 0.0f;
	for (int i = 0; i < n; i++) {
		x[i] = expf(x[i] - shift);
		sum += x[i];
	}
	return sum;
}

void silu_mul(float *out, const float *g, const float *u, int n)
{
#ifdef CPU_X86
	if (cpu_avx512()) {
		silu_mul_avx512(out, g, u, n);
		return;
	}
#endif
	for (int i = 0; i < n; i++)
		out[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
}

void silu_mul_backward(float *dg, float *du, const float *d, const float *g, const float *u, int n)
{
#ifdef CPU_X86
	if (cpu_avx512()) {
		silu_mul_backward_avx512(dg, du, d, g, u, n);
		return;
	}
#endif
	for (int i = 0; i < n; i++) {
		float s = 1.0f / (1.0f + expf(-g[i])), silu = g[i] * s;
		dg[i] += d[i] * u[i] * s * (1.0f + g[i] * (1.0f - s));
		du[i] += d[i] * silu;
	}
}
