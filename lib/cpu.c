/* cpu: run-time CPU features (see cpu.h). */
#include "config.h"

#include "cpu.h"

static bool force_portable;

void cpu_force_portable(bool on)
{
	force_portable = on;
}

bool cpu_avx512(void)
{
#ifdef CPU_X86
	return !force_portable && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
	       __builtin_cpu_supports("avx512vl");
#else
	return false;
#endif
}
