/* cpu: run-time CPU features (see cpu.h). */
#include "config.h"

#include "cpu.h"

static enum cpu_level cap = CPU_LEVEL_AVX512;
static enum cpu_level detected = CPU_LEVEL_PORTABLE;

void cpu_cap(enum cpu_level max)
{
	cap = max;
}

#ifdef CPU_X86
/* Once, before main: the kernels ask for every row they process. */
__attribute__((constructor)) static void detect(void)
{
	__builtin_cpu_init();
	if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
	    __builtin_cpu_supports("avx512vl"))
		detected = CPU_LEVEL_AVX512;
	else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
		detected = CPU_LEVEL_AVX2;
}
#endif

enum cpu_level cpu_level(void)
{
	return detected < cap ? detected : cap;
}
