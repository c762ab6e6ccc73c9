/* matvec: products of a few token rows with a weight matrix (see matvec.h).
 *
 * Decoding one token reads every weight once and does two flops per weight
 * read, so it is bound by how fast the weights stream in (from the L3 cache
 * at the reference size), not by arithmetic. OpenBLAS's sgemv / M=1 sgemm
 * measured 2-3x slower here. What makes a loop stream at full rate:
 * - independent accumulators, so the adds do not wait for each other: on
 *   AVX-512 one per row of a 4-row block (each x vector loaded once per
 *   block), on AVX2 two per row (what streamed fastest on a Zen machine);
 * - no widening of the whole weight matrix: bf16 weights become floats in
 *   registers (a shift of the bits), so they cost half the traffic.
 * The AVX-512 and AVX2 (with FMA) versions are chosen at run time; elsewhere
 * the portable loops run, compiled as AVX2 and plain clones. They sum each
 * dot product in a different order, so results agree to rounding, not bit
 * for bit. */
#include "config.h"

#include <string.h>

#include "matvec.h"

#include "cpu.h"
#ifdef CPU_X86
#include <immintrin.h>
#endif


static inline void store(float *y, float s, int accumulate)
{
	*y = accumulate ? *y + s : s;
}

/* st_bf16_to_f32 (lib/safetensors) in a form the compiler can inline and
 * vectorise inside the loop below; it is a call there. */
static inline float bf16_to_float(uint16_t h)
{
	uint32_t bits = (uint32_t)h << 16;
	float f;
	memcpy(&f, &bits, sizeof f);
	return f;
}

static inline float widen_f32(float f)
{
	return f;
}

/* Output columns [o0, OC) of out (N,OC); WIDEN turns a weight into a float. */
#define DEFINE_PORTABLE(name, wtype, WIDEN)                                                                 \
	CPU_CLONES static void name(float *out, const float *inp, const wtype *w, int N, int C, int OC, int o0,     \
				int accumulate)                                                                  \
	{                                                                                                    \
		_Pragma("omp parallel for schedule(static) if (OC - o0 >= 64)") for (int o = o0; o < OC; o++)     \
		{                                                                                                \
			const wtype *row = w + (size_t)o * C;                                                    \
			for (int n = 0; n < N; n++) {                                                            \
				const float *x = inp + (size_t)n * C;                                            \
				float s = 0.0f;                                                                  \
				_Pragma("omp simd reduction(+ : s)") for (int i = 0; i < C; i++) s +=            \
					WIDEN(row[i]) * x[i];                                                    \
				store(out + (size_t)n * OC + o, s, accumulate);                                  \
			}                                                                                        \
		}                                                                                                \
	}

DEFINE_PORTABLE(matvec_f32_portable, float, widen_f32)
DEFINE_PORTABLE(matvec_bf16_portable, uint16_t, bf16_to_float)

#ifdef CPU_X86
#define AVX512 CPU_AVX512

AVX512 static inline __m512 load_f32(const float *p, __mmask16 m)
{
	return _mm512_maskz_loadu_ps(m, p);
}

AVX512 static inline __m512 load_bf16(const uint16_t *p, __mmask16 m)
{
	__m256i h = _mm256_maskz_loadu_epi16(m, p);
	return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

/* Rows [o, o+4) of w against each of the N inputs: a 4-row block of the
 * reference size (4 x 384 floats) stays in L1 while the inputs go by. One
 * kernel per weight type; LOAD is load_f32 or load_bf16. */
#define DEFINE_BLOCK4(name, wtype, LOAD)                                                                     \
	AVX512 static void name(float *out, const float *inp, const wtype *w, int N, int C, int OC, int o,       \
				int accumulate)                                                                  \
	{                                                                                                    \
		const wtype *r0 = w + (size_t)o * C, *r1 = r0 + C, *r2 = r1 + C, *r3 = r2 + C;                   \
		for (int n = 0; n < N; n++) {                                                                    \
			const float *x = inp + (size_t)n * C;                                                    \
			__m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;                              \
			for (int i = 0; i < C; i += 16) {                                                        \
				__mmask16 m = C - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (C - i)) - 1); \
				__m512 xv = load_f32(x + i, m);                                                  \
				a0 = _mm512_fmadd_ps(LOAD(r0 + i, m), xv, a0);                                   \
				a1 = _mm512_fmadd_ps(LOAD(r1 + i, m), xv, a1);                                   \
				a2 = _mm512_fmadd_ps(LOAD(r2 + i, m), xv, a2);                                   \
				a3 = _mm512_fmadd_ps(LOAD(r3 + i, m), xv, a3);                                   \
			}                                                                                        \
			float *y = out + (size_t)n * OC + o;                                                     \
			store(y, _mm512_reduce_add_ps(a0), accumulate);                                          \
			store(y + 1, _mm512_reduce_add_ps(a1), accumulate);                                      \
			store(y + 2, _mm512_reduce_add_ps(a2), accumulate);                                      \
			store(y + 3, _mm512_reduce_add_ps(a3), accumulate);                                      \
		}                                                                                                \
	}

DEFINE_BLOCK4(block4_f32, float, load_f32)
DEFINE_BLOCK4(block4_bf16, uint16_t, load_bf16)

/* On AVX2 with FMA one row at a time, sixteen columns a step in two
 * accumulators: on a Zen machine 4-row blocks of eight columns streamed at
 * half this rate from L3. The last C % 16 columns by a plain loop (AVX2 has
 * no masked 16-bit loads). */
#define AVX2 CPU_AVX2

/* Sixteen bf16 weights widen in two in-lane unpacks (a bf16 is the top half
 * of a float), which take columns 0-3 and 8-11 (lo) and 4-7 and 12-15 (hi);
 * the inputs are permuted to match. A cross-lane widening (vpmovzxwd) per
 * eight columns is what the compiler makes of the plain loop. */
AVX2 static inline void load16_bf16(const uint16_t *p, __m256 *lo, __m256 *hi)
{
	__m256i h = _mm256_loadu_si256((const __m256i *)p);
	*lo = _mm256_castsi256_ps(_mm256_unpacklo_epi16(_mm256_setzero_si256(), h));
	*hi = _mm256_castsi256_ps(_mm256_unpackhi_epi16(_mm256_setzero_si256(), h));
}

AVX2 static inline void load16_x_for_bf16(const float *x, __m256 *lo, __m256 *hi)
{
	__m256 x0 = _mm256_loadu_ps(x), x1 = _mm256_loadu_ps(x + 8);
	*lo = _mm256_permute2f128_ps(x0, x1, 0x20);
	*hi = _mm256_permute2f128_ps(x0, x1, 0x31);
}

AVX2 static inline void load16_f32(const float *p, __m256 *lo, __m256 *hi)
{
	*lo = _mm256_loadu_ps(p);
	*hi = _mm256_loadu_ps(p + 8);
}

/* Row o of w against each of the N inputs. LOADW and LOADX fill two vectors
 * with sixteen columns in matching order. */
#define DEFINE_ROW_AVX2(name, wtype, LOADW, LOADX, WIDEN)                                                    \
	AVX2 static void name(float *out, const float *inp, const wtype *w, int N, int C, int OC, int o,         \
			      int accumulate)                                                                    \
	{                                                                                                    \
		const wtype *row = w + (size_t)o * C;                                                            \
		for (int n = 0; n < N; n++) {                                                                    \
			const float *x = inp + (size_t)n * C;                                                    \
			__m256 a0 = _mm256_setzero_ps(), a1 = a0, w0, w1, x0, x1;                                \
			int i = 0;                                                                               \
			for (; i + 16 <= C; i += 16) {                                                           \
				LOADW(row + i, &w0, &w1);                                                        \
				LOADX(x + i, &x0, &x1);                                                          \
				a0 = _mm256_fmadd_ps(w0, x0, a0);                                                \
				a1 = _mm256_fmadd_ps(w1, x1, a1);                                                \
			}                                                                                        \
			float s = cpu_sum8(_mm256_add_ps(a0, a1));                                               \
			for (; i < C; i++)                                                                       \
				s += WIDEN(row[i]) * x[i];                                                       \
			store(out + (size_t)n * OC + o, s, accumulate);                                          \
		}                                                                                                \
	}

DEFINE_ROW_AVX2(row_f32_avx2, float, load16_f32, load16_f32, widen_f32)
DEFINE_ROW_AVX2(row_bf16_avx2, uint16_t, load16_bf16, load16_x_for_bf16, bf16_to_float)

#define DEFINE_AVX2(name, wtype, row)                                                                        \
	AVX2 static void name(float *out, const float *inp, const wtype *w, int N, int C, int OC, int accumulate) \
	{                                                                                                    \
		_Pragma("omp parallel for schedule(static) if (OC >= 64)") for (int o = 0; o < OC; o++)           \
			row(out, inp, w, N, C, OC, o, accumulate);                                               \
	}

DEFINE_AVX2(matvec_f32_avx2, float, row_f32_avx2)
DEFINE_AVX2(matvec_bf16_avx2, uint16_t, row_bf16_avx2)

/* All 4-row blocks in parallel; the last OC % 4 rows by the portable loop. */
#define DEFINE_AVX512(name, wtype, block, portable)                                                          \
	AVX512 static void name(float *out, const float *inp, const wtype *w, int N, int C, int OC, int accumulate) \
	{                                                                                                    \
		int blocks = OC / 4;                                                                             \
		_Pragma("omp parallel for schedule(static) if (OC >= 64)") for (int b = 0; b < blocks; b++)       \
			block(out, inp, w, N, C, OC, 4 * b, accumulate);                                         \
		if (OC % 4)                                                                                      \
			portable(out, inp, w, N, C, OC, 4 * blocks, accumulate);                                 \
	}

DEFINE_AVX512(matvec_f32_avx512, float, block4_f32, matvec_f32_portable)
DEFINE_AVX512(matvec_bf16_avx512, uint16_t, block4_bf16, matvec_bf16_portable)

#endif

void matvec_f32(float *out, const float *inp, const float *w, int N, int C, int OC, int accumulate)
{
#ifdef CPU_X86
	switch (cpu_level()) {
	case CPU_LEVEL_AVX512:
		matvec_f32_avx512(out, inp, w, N, C, OC, accumulate);
		return;
	case CPU_LEVEL_AVX2:
		matvec_f32_avx2(out, inp, w, N, C, OC, accumulate);
		return;
	case CPU_LEVEL_PORTABLE:
		break;
	}
#endif
	matvec_f32_portable(out, inp, w, N, C, OC, 0, accumulate);
}

void matvec_bf16(float *out, const float *inp, const uint16_t *w, int N, int C, int OC, int accumulate)
{
#ifdef CPU_X86
	switch (cpu_level()) {
	case CPU_LEVEL_AVX512:
		matvec_bf16_avx512(out, inp, w, N, C, OC, accumulate);
		return;
	case CPU_LEVEL_AVX2:
		matvec_bf16_avx2(out, inp, w, N, C, OC, accumulate);
		return;
	case CPU_LEVEL_PORTABLE:
		break;
	}
#endif
	matvec_bf16_portable(out, inp, w, N, C, OC, 0, accumulate);
}
