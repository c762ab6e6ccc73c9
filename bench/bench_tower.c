/* bench_tower: speed of the decoder engine on DESIGN §5's reference config.
 *
 * Prints one JSON line: training tokens/s (forward + backward + AdamW on a
 * batch of B x T), achieved GFLOP/s against a measured sgemm peak
 * (512x768x768), prefill tokens/s (a T-token prompt; and its flops against
 * that peak), decode tokens/s (batch 1, greedy, kv cache; fp32 and bf16
 * weights; and the bytes of weights read against the read bandwidth of a
 * buffer of the same size, measured in the same run),
 * and peak RSS against the sum of parameters,
 * gradients, AdamW moments and activations. bench/tower.sh runs it next to
 * the PyTorch reference (bench/ref/train_torch.py) in the same run. */
#include "config.h"

#include <cblas.h>
#include <math.h>
#include <stdbool.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "cli.h"
#include "cpu.h"
#include "decode.h"
#include "optim.h"
#include "rng.h"
#include "tower.h"
#include "train.h"
#include "xalloc.h"

static double sgemm_peak(void)
{
	enum { M = 512, K = 768, N = 768 };
	float *a = xcalloc((size_t)M * K, sizeof *a), *b = xcalloc((size_t)K * N, sizeof *b);
	float *c = xcalloc((size_t)M * N, sizeof *c);
	double best = 0;
	for (int rep = 0; rep < 30; rep++) {
		double t0 = cli_now();
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.0f, a, K, b, N, 0.0f, c, N);
		double dt = cli_now() - t0;
		best = fmax(best, 2.0 * M * N * K / dt / 1e9);
	}
	free(a), free(b), free(c);
	return best;
}

/* Read bandwidth (GB/s) of a buffer of `bytes`: the best of 9 passes that
 * sum it with 64 independent partial sums (a single running sum is bound by
 * the add latency, not by memory). Measured at the size of the weights a
 * decode step streams, which sets where they live (L3 or DRAM), so decode
 * tokens/s can be judged against the machine it ran on. */
CPU_CLONES static double read_bandwidth(size_t bytes)
{
	enum { LANES = 64 };
	size_t n = bytes / sizeof(float) / LANES * LANES;
	float *a = xmallocarray(n, sizeof *a);
#pragma omp parallel for schedule(static)
	for (size_t i = 0; i < n; i++)
		a[i] = 1.0f;
	double best = 0;
	volatile float sink = 0;
	for (int rep = 0; rep < 9; rep++) {
		double t0 = cli_now();
		float total = 0;
#pragma omp parallel reduction(+ : total)
		{
			float part[LANES] = {0};
#pragma omp for schedule(static)
			for (size_t i = 0; i < n; i += LANES)
				for (int k = 0; k < LANES; k++)
					part[k] += a[i + k];
			for (int k = 0; k < LANES; k++)
				total += part[k];
		}
		best = fmax(best, (double)n * sizeof *a / (cli_now() - t0) / 1e9);
		sink += total;
	}
	(void)sink;
	free(a);
	return best;
}

static long peak_rss_kb(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	int steps = argc > 1 ? atoi(argv[1]) : 10, B = 8, T = 256, gen = 128;
	/* a second argument "train" or "infer" runs that part alone, for profiling */
	bool train_only = argc > 2 && strcmp(argv[2], "train") == 0;
	if (argc > 2 && strcmp(argv[2], "infer") == 0)
		steps = 0;
	struct tower_config c;
	tower_config_default(&c);
	c.vocab = 1024, c.d_model = 384, c.n_layers = 6, c.n_heads = 6, c.n_kv_heads = 6, c.d_ff = 1024;
	c.max_seq = 512;
	struct tower *t = tower_new(&c, "text.");
	struct rng r;
	rng_seed(&r, 1);
	tower_init_random(t, &r);
	int32_t *tok = xmallocarray((size_t)B * (T + 1), sizeof *tok);
	for (int i = 0; i < B * (T + 1); i++)
		tok[i] = (int32_t)rng_below(&r, (uint64_t)c.vocab);
	int32_t *in = xmallocarray((size_t)B * T, sizeof *in), *tg = xmallocarray((size_t)B * T, sizeof *tg);
	for (int b = 0; b < B; b++)
		for (int i = 0; i < T; i++) {
			in[b * T + i] = tok[b * (T + 1) + i];
			tg[b * T + i] = tok[b * (T + 1) + i + 1];
		}
	struct optim_config oc;
	optim_config_default(&oc);
	struct adamw opt;
	adamw_init(&opt, t->n_params);
	struct optim_group *groups = train_groups(t);
	double *times = xmallocarray((size_t)steps + 1, sizeof *times), loss = 0;
	for (int s = steps ? -2 : 0; s < steps; s++) { /* two warm-up steps */
		double t0 = cli_now();
		loss = tower_forward(t, in, tg, B, T);
		tower_zero_grad(t);
		tower_backward(t);
		adamw_step(&opt, &oc, t->params, t->grads, groups, t->n_tensors, optim_lr(&oc, s + 2), NULL);
		if (s >= 0)
			times[s] = cli_now() - t0;
	}
	qsort(times, (size_t)steps, sizeof *times, cmp_double);
	double step_s = steps ? times[steps / 2] : NAN;
	long rss_train = peak_rss_kb();
	/* PaLM's model FLOPs: 6 per parameter (embeddings excluded) and 12*L*C*T for attention, per token. */
	double n_mat = (double)t->n_params - (double)c.vocab * c.d_model;
	double flops_tok = 6.0 * n_mat + 12.0 * c.n_layers * c.d_model * T;
	double train_tps = B * T / step_s;
	double bytes = (double)t->n_params * 4 * 4 + (double)tower_act_floats(B, T, &c) * 4;

	if (train_only) {
		printf("{\"threads\":%d,\"train_tokens_per_s\":%.0f,\"train_gflops\":%.1f}\n", omp_get_max_threads(),
		       train_tps, train_tps * flops_tok / 1e9);
		goto done;
	}
	/* prefill and decode, batch 1 */
	struct decode_model dm;
	decode_model_tower(&dm, t, 1, T + gen, T);
	double pre[5], dec[5], dec16[5];
	for (int bf = 0; bf < 2; bf++) {
		if (bf)
			tower_use_bf16(t);
		for (int rep = 0; rep < 5; rep++) {
			double t0 = cli_now();
			dm.forward(dm.ctx, in, T, 0, false);
			pre[rep] = T / (cli_now() - t0);
			t0 = cli_now();
			int32_t cur = in[T - 1];
			for (int i = 0; i < gen; i++) {
				const float *lg = dm.forward(dm.ctx, &cur, 1, T + i, false);
				int best = 0;
				for (int v = 1; v < c.vocab; v++)
					best = lg[v] > lg[best] ? v : best;
				cur = best;
			}
			(bf ? dec16 : dec)[rep] = gen / (cli_now() - t0);
		}
	}
	qsort(pre, 5, sizeof *pre, cmp_double);
	qsort(dec, 5, sizeof *dec, cmp_double);
	qsort(dec16, 5, sizeof *dec16, cmp_double);
	/* what a token costs: prefill 2 flops per matrix weight; decode reads
	 * every matrix weight once (4 bytes, or 2 as bf16) */
	double peak = sgemm_peak(), bw = read_bandwidth((size_t)(4 * n_mat)), bw16 = read_bandwidth((size_t)(2 * n_mat));
	double prefill_frac = pre[2] * 2.0 * n_mat / 1e9 / peak;
	double decode_frac = dec[2] * 4.0 * n_mat / 1e9 / bw, decode16_frac = dec16[2] * 2.0 * n_mat / 1e9 / bw16;
	printf("{\"threads\":%d,\"params\":%zu,\"loss\":%.4f,\"train_tokens_per_s\":%.0f,\"train_gflops\":%.1f,"
	       "\"sgemm_peak_gflops\":%.1f,\"fraction_of_peak\":%.3f,\"prefill_tokens_per_s\":%.0f,"
	       "\"prefill_fraction_of_peak\":%.3f,\"read_bandwidth_gbs\":%.1f,\"read_bandwidth_bf16_gbs\":%.1f,"
	       "\"decode_tokens_per_s\":%.0f,\"decode_fraction_of_bandwidth\":%.3f,"
	       "\"decode_bf16_tokens_per_s\":%.0f,\"decode_bf16_fraction_of_bandwidth\":%.3f,"
	       "\"peak_rss_mb\":%.1f,\"state_mb\":%.1f,\"rss_ratio\":%.3f}\n",
	       omp_get_max_threads(), t->n_params, loss, train_tps, train_tps * flops_tok / 1e9, peak,
	       train_tps * flops_tok / 1e9 / peak, pre[2], prefill_frac, bw, bw16, dec[2], decode_frac, dec16[2],
	       decode16_frac, rss_train / 1024.0, bytes / 1048576.0, rss_train * 1024.0 / bytes);
	decode_model_tower_free(&dm);
done:
	free(times), free(groups), free(tok), free(in), free(tg);
	adamw_free(&opt);
	tower_free(t);
	return 0;
}
