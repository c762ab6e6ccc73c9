/* cpu: which vector kernels this CPU can run, decided at run time so that
 * one build serves every x86-64 machine (no -march=native needed). */
#ifndef ZIPPER_CPU_H
#define ZIPPER_CPU_H

#include <stdbool.h>

/* AVX-512 F, BW and VL (every AVX-512 CPU since Skylake-SP has all three). */
bool cpu_avx512(void);
/* Tests: answer false above, so the portable loops run even here. */
void cpu_force_portable(bool on);

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
/* The attribute of functions written with AVX-512 intrinsics. */
#define CPU_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl")))
#endif

#endif
