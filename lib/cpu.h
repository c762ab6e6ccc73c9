/* cpu: which vector kernels this CPU can run, decided at run time so that
 * one build serves every x86-64 machine (no -march=native needed). */
#ifndef ZIPPER_CPU_H
#define ZIPPER_CPU_H

/* The hand-written kernels a CPU can run, best last: AVX2 means AVX2 with
 * FMA (Haswell, Zen and later); AVX-512 means F, BW and VL (every AVX-512
 * CPU since Skylake-SP has all three). */
enum cpu_level { CPU_LEVEL_PORTABLE, CPU_LEVEL_AVX2, CPU_LEVEL_AVX512 };

/* The best level this CPU runs, or the cap set below if that is lower. */
enum cpu_level cpu_level(void);
/* Tests: run no kernel above MAX, so the lower levels are checked here too. */
void cpu_cap(enum cpu_level max);

/* CPU_CLONES before a function compiles it three times (AVX-512, AVX2 and
 * the baseline) and picks one when the program starts: for loops the
 * compiler vectorises by itself. */
#if defined(__GNUC__) && defined(__x86_64__) && !defined(__clang__)
#define CPU_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define CPU_CLONES
#endif

#if defined(__GNUC__) && defined(__x86_64__)
#define CPU_X86 1
/* The attributes of functions written with AVX-512 or AVX2 intrinsics. */
#define CPU_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl")))
#define CPU_AVX2 __attribute__((target("avx2,fma")))

#include <immintrin.h>

/* The sum of a vector's eight floats. */
CPU_AVX2 static inline float cpu_sum8(__m256 v)
{
	__m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
	s = _mm_add_ps(s, _mm_movehl_ps(s, s));
	return _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)));
}
#endif

#endif
