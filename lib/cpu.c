/* cpu: run-time CPU features (see cpu.h). */
#include "config.h"

#include "cpu.h"

static enum cpu_level cap = CPU_LEVEL_AVX512;

void cpu_cap(enum cpu_level max)
{
	cap = max;
}

static enum cpu_level detect(void)
{
#ifdef CPU_X86
	if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
	    __builtin_cpu_supports("avx512vl"))
		return CPU_LEVEL_AVX512;
	if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
		return CPU_LEVEL_AVX2;
#endif
	return CPU_LEVEL_PORTABLE;
}

enum cpu_level cpu_level(void)
{
	enum cpu_level best = detect();
	return best < cap ? best : cap;
}
