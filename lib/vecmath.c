/* vecmath: exponential-based row loops, with AVX-512 and AVX2 versions (see vecmath.h). */
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

/* The same on AVX2 with FMA, eight at a time. Without scalef, 2^n is built
 * in the exponent field; it is applied as two factors 2^(n/2) 2^(n - n/2),
 * each a normal float, so overflow still gives inf and underflow 0 (or a
 * subnormal). x is clamped first (NaN passes through: max and min return
 * their second operand when one is NaN) so n fits in an int. */
CPU_AVX2 static inline __m256 exp8(__m256 x)
{
	x = _mm256_min_ps(_mm256_set1_ps(100.0f), _mm256_max_ps(_mm256_set1_ps(-110.0f), x));
	__m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
				   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
	__m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
	r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
	__m256 p = _mm256_set1_ps(1.9875691500e-4f);
	p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
	p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
	p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
	p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
	p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
	p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
	__m256i ni = _mm256_cvtps_epi32(n), half = _mm256_srai_epi32(ni, 1), bias = _mm256_set1_epi32(127);
	__m256 f1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(half, bias), 23));
	__m256 f2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(_mm256_sub_epi32(ni, half), bias), 23));
	return _mm256_mul_ps(_mm256_mul_ps(p, f1), f2);
}

/* The loops below leave the last n % 8 elements to the portable loops. */
CPU_AVX2 static float exp_shifted_sum_avx2(float *x, int n, float shift)
{
	__m256 sum = _mm256_setzero_ps(), s = _mm256_set1_ps(shift);
	for (int i = 0; i + 8 <= n; i += 8) {
		__m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(x + i), s));
		_mm256_storeu_ps(x + i, e);
		sum = _mm256_add_ps(sum, e);
	}
	return cpu_sum8(sum);
}

CPU_AVX2 static inline __m256 sigmoid8(__m256 g)
{
	__m256 one = _mm256_set1_ps(1.0f);
	return _mm256_div_ps(one, _mm256_add_ps(one, exp8(_mm256_sub_ps(_mm256_setzero_ps(), g))));
}

CPU_AVX2 static void silu_mul_avx2(float *out, const float *g, const float *u, int n)
{
	for (int i = 0; i + 8 <= n; i += 8) {
		__m256 gv = _mm256_loadu_ps(g + i);
		_mm256_storeu_ps(out + i, _mm256_mul_ps(_mm256_mul_ps(gv, sigmoid8(gv)), _mm256_loadu_ps(u + i)));
	}
}

CPU_AVX2 static void silu_mul_backward_avx2(float *dg, float *du, const float *d, const float *g,
					    const float *u, int n)
{
	__m256 one = _mm256_set1_ps(1.0f);
	for (int i = 0; i + 8 <= n; i += 8) {
		__m256 gv = _mm256_loadu_ps(g + i), uv = _mm256_loadu_ps(u + i);
		__m256 dv = _mm256_loadu_ps(d + i), s = sigmoid8(gv);
		__m256 ds = _mm256_mul_ps(s, _mm256_fmadd_ps(gv, _mm256_sub_ps(one, s), one));
		_mm256_storeu_ps(dg + i, _mm256_fmadd_ps(_mm256_mul_ps(dv, uv), ds, _mm256_loadu_ps(dg + i)));
		_mm256_storeu_ps(du + i, _mm256_fmadd_ps(dv, _mm256_mul_ps(gv, s), _mm256_loadu_ps(du + i)));
	}
}
#endif

/* The vector loops' share: all of it with AVX-512 (masked tails), all but
 * the last n % 8 with AVX2, none otherwise; the portable loops do the rest. */
static int vector_share(int n)
{
#ifdef CPU_X86
	switch (cpu_level()) {
	case CPU_LEVEL_AVX512:
		return n;
	case CPU_LEVEL_AVX2:
		return n - n % 8;
	case CPU_LEVEL_PORTABLE:
		break;
	}
#endif
	(void)n;
	return 0;
}

float exp_shifted_sum(float *x, int n, float shift)
{
	int v = vector_share(n);
	float sum = 0.0f;
#ifdef CPU_X86
	if (v)
		sum = (cpu_level() == CPU_LEVEL_AVX512 ? exp_shifted_sum_avx512 : exp_shifted_sum_avx2)(x, v, shift);
#endif
	for (int i = v; i < n; i++) {
		x[i] = expf(x[i] - shift);
		sum += x[i];
	}
	return sum;
}

void silu_mul(float *out, const float *g, const float *u, int n)
{
	int v = vector_share(n);
#ifdef CPU_X86
	if (v)
		(cpu_level() == CPU_LEVEL_AVX512 ? silu_mul_avx512 : silu_mul_avx2)(out, g, u, v);
#endif
	for (int i = v; i < n; i++)
		out[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
}

void silu_mul_backward(float *dg, float *du, const float *d, const float *g, const float *u, int n)
{
	int v = vector_share(n);
#ifdef CPU_X86
	if (v)
		(cpu_level() == CPU_LEVEL_AVX512 ? silu_mul_backward_avx512
						  : silu_mul_backward_avx2)(dg, du, d, g, u, v);
#endif
	for (int i = v; i < n; i++) {
		float s = 1.0f / (1.0f + expf(-g[i])), silu = g[i] * s;
		dg[i] += d[i] * u[i] * s * (1.0f + g[i] * (1.0f - s));
		du[i] += d[i] * silu;
	}
}
