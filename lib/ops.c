/* ops: forward and backward kernels of the decoder (see ops.h).
 *
 * Loops over rows skip the parallel region for a single row (decoding one
 * token), where forking and joining the team costs more than the row. */
#include "config.h"

#include <math.h>
#include <string.h>

#include <cblas.h>
#include <omp.h>

#include "cpu.h"
#include "matvec.h"
#include "ops.h"
#include "vecmath.h"

uint16_t float_to_bf16(float f)
{
	uint32_t u;
	memcpy(&u, &f, sizeof u);
	if ((u & 0x7fffffffu) > 0x7f800000u)
		return (uint16_t)((u >> 16) | 0x40); /* quiet NaN */
	u += 0x7fffu + ((u >> 16) & 1);
	return (uint16_t)(u >> 16);
}

void matmul_forward(float *out, const float *inp, const float *w, int N, int C, int OC, int accumulate)
{
	if (N <= 4) {
		matvec_f32(out, inp, w, N, C, OC, accumulate);
		return;
	}
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, OC, C, 1.0f, inp, C, w, C,
		    accumulate ? 1.0f : 0.0f, out, OC);
}

void matmul_backward(float *dinp, float *dw, const float *dout, const float *inp, const float *w,
		     int N, int C, int OC)
{
	if (dinp) /* (N,OC) @ (OC,C) */
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, C, OC, 1.0f, dout, OC, w, C,
			    1.0f, dinp, C);
	if (dw) /* (OC,N) @ (N,C) */
		cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, OC, C, N, 1.0f, dout, OC, inp, C,
			    1.0f, dw, C);
}

void embedding_forward(float *out, const int32_t *tokens, const float *wte, int N, int C)
{
#pragma omp parallel for schedule(static) if (N > 1)
	for (int n = 0; n < N; n++)
		memcpy(out + (size_t)n * C, wte + (size_t)tokens[n] * C, (size_t)C * sizeof *out);
}

CPU_CLONES void embedding_backward(float *dwte, const float *dout, const int32_t *tokens, int N, int C)
{
	/* Rows may repeat a token, so threads split the channels, not the rows. */
#pragma omp parallel
	{
		int nt = omp_get_num_threads(), id = omp_get_thread_num();
		int c0 = (int)((long)C * id / nt), c1 = (int)((long)C * (id + 1) / nt);
		for (int n = 0; n < N; n++) {
			float *d = dwte + (size_t)tokens[n] * C;
			const float *g = dout + (size_t)n * C;
			for (int c = c0; c < c1; c++)
				d[c] += g[c];
		}
	}
}

CPU_CLONES void rmsnorm_forward(float *out, float *rstd, const float *inp, const float *w, int N, int C, float eps)
{
#pragma omp parallel for schedule(static) if (N > 1)
	for (int n = 0; n < N; n++) {
		const float *x = inp + (size_t)n * C;
		float *o = out + (size_t)n * C;
		float ss = 0.0f;
#pragma omp simd reduction(+ : ss)
		for (int c = 0; c < C; c++)
			ss += x[c] * x[c];
		float r = 1.0f / sqrtf(ss / (float)C + eps);
		rstd[n] = r;
		for (int c = 0; c < C; c++)
			o[c] = x[c] * r * w[c];
	}
}

CPU_CLONES void rmsnorm_backward(float *dinp, float *dw, const float *dout, const float *inp, const float *w,
		      const float *rstd, int N, int C)
{
#pragma omp parallel
	{
#pragma omp for schedule(static)
		for (int n = 0; n < N; n++) {
			const float *x = inp + (size_t)n * C, *g = dout + (size_t)n * C;
			float *dx = dinp + (size_t)n * C;
			float r = rstd[n], dot = 0.0f;
#pragma omp simd reduction(+ : dot)
			for (int c = 0; c < C; c++)
				dot += g[c] * w[c] * x[c];
			dot *= r / (float)C; /* mean of dnorm * xhat */
			for (int c = 0; c < C; c++)
				dx[c] += r * (g[c] * w[c] - x[c] * r * dot);
		}
		/* dw sums over rows: each thread owns a range of channels. */
		int nt = omp_get_num_threads(), id = omp_get_thread_num();
		int c0 = (int)((long)C * id / nt), c1 = (int)((long)C * (id + 1) / nt);
		for (int n = 0; dw && n < N; n++) {
			const float *x = inp + (size_t)n * C, *g = dout + (size_t)n * C;
			float r = rstd[n];
			for (int c = c0; c < c1; c++)
				dw[c] += g[c] * x[c] * r;
		}
	}
}

void rope_tables(float *cos_t, float *sin_t, int max_seq, int D, double theta)
{
	int half = D / 2;
	for (int p = 0; p < max_seq; p++)
		for (int i = 0; i < half; i++) {
			double a = p * pow(theta, -2.0 * i / D);
			cos_t[(size_t)p * half + i] = (float)cos(a);
			sin_t[(size_t)p * half + i] = (float)sin(a);
		}
}

/* sign +1 rotates by +angle (forward), -1 by -angle (backward). */
CPU_CLONES static void rope_apply(float *x, int N, int stride, int nh, int D, int T, int pos0,
		       const float *cos_t, const float *sin_t, float sign)
{
	int half = D / 2;
#pragma omp parallel for schedule(static) if (N > 1)
	for (int n = 0; n < N; n++) {
		int p = pos0 + n % T;
		const float *cs = cos_t + (size_t)p * half, *sn = sin_t + (size_t)p * half;
		for (int h = 0; h < nh; h++) {
			float *a = x + (size_t)n * stride + (size_t)h * D, *b = a + half;
			for (int i = 0; i < half; i++) {
				float c = cs[i], s = sign * sn[i];
				float x1 = a[i], x2 = b[i];
				a[i] = x1 * c - x2 * s;
				b[i] = x2 * c + x1 * s;
			}
		}
	}
}

void rope_forward(float *x, int N, int stride, int nh, int D, int T, int pos0,
		  const float *cos_t, const float *sin_t)
{
	rope_apply(x, N, stride, nh, D, T, pos0, cos_t, sin_t, 1.0f);
}

void rope_backward(float *dx, int N, int stride, int nh, int D, int T, int pos0,
		   const float *cos_t, const float *sin_t)
{
	rope_apply(dx, N, stride, nh, D, T, pos0, cos_t, sin_t, -1.0f);
}


void softmax_prefix(float *row, int n, int len)
{
	float mx = -INFINITY;
	for (int j = 0; j < n; j++)
		mx = row[j] > mx ? row[j] : mx;
	float sum = exp_shifted_sum(row, n, mx);
	float inv = n > 0 ? 1.0f / sum : 0.0f;
	for (int j = 0; j < n; j++)
		row[j] *= inv;
	for (int j = n; j < len; j++)
		row[j] = 0.0f;
}

void attention_forward(float *out, float *att, const float *qkv, int B, int T, int H, int K, int D)
{
	int S = (H + 2 * K) * D, G = H / K;
	float scale = 1.0f / sqrtf((float)D);
#pragma omp parallel for collapse(2) schedule(dynamic, 1)
	for (int b = 0; b < B; b++)
		for (int kv = 0; kv < K; kv++) {
			const float *base = qkv + (size_t)b * T * S;
			const float *k = base + (size_t)H * D + (size_t)kv * D;
			const float *v = base + (size_t)(H + K) * D + (size_t)kv * D;
			for (int h = kv * G; h < (kv + 1) * G; h++) {
				const float *q = base + (size_t)h * D;
				float *P = att + ((size_t)b * H + h) * T * T;
				float *o = out + (size_t)b * T * H * D + (size_t)h * D;
				for (int r0 = 0; r0 < T; r0 += ATT_BLOCK) {
					int r1 = r0 + ATT_BLOCK < T ? r0 + ATT_BLOCK : T, M = r1 - r0;
					float *Pr = P + (size_t)r0 * T;
					cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, r1, D, scale,
						    q + (size_t)r0 * S, S, k, S, 0.0f, Pr, T);
					for (int t = r0; t < r1; t++)
						softmax_prefix(P + (size_t)t * T, t + 1, T);
					cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, D, r1, 1.0f,
						    Pr, T, v, S, 0.0f, o + (size_t)r0 * H * D, H * D);
				}
			}
		}
}

CPU_CLONES void attention_backward(float *dqkv, float *datt, const float *dout, const float *qkv, const float *att,
			int B, int T, int H, int K, int D)
{
	int S = (H + 2 * K) * D, G = H / K;
	float scale = 1.0f / sqrtf((float)D);
	/* One task per (batch, kv head): the G query heads sharing a kv head all
	 * accumulate into its dk and dv, so they run in the same task. */
#pragma omp parallel for collapse(2) schedule(dynamic, 1)
	for (int b = 0; b < B; b++)
		for (int kv = 0; kv < K; kv++) {
			const float *base = qkv + (size_t)b * T * S;
			float *dbase = dqkv + (size_t)b * T * S;
			size_t koff = (size_t)H * D + (size_t)kv * D, voff = (size_t)(H + K) * D + (size_t)kv * D;
			for (int h = kv * G; h < (kv + 1) * G; h++) {
				const float *P = att + ((size_t)b * H + h) * T * T;
				float *dP = datt + ((size_t)b * H + h) * T * T;
				const float *go = dout + (size_t)b * T * H * D + (size_t)h * D;
				for (int r0 = 0; r0 < T; r0 += ATT_BLOCK) {
					int r1 = r0 + ATT_BLOCK < T ? r0 + ATT_BLOCK : T, M = r1 - r0;
					const float *Pr = P + (size_t)r0 * T;
					float *dPr = dP + (size_t)r0 * T;
					/* dP = dO V^T */
					cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, r1, D, 1.0f,
						    go + (size_t)r0 * H * D, H * D, base + voff, S, 0.0f, dPr, T);
					/* softmax backward: dS = P * (dP - sum_j P dP) */
					for (int t = r0; t < r1; t++) {
						const float *p = P + (size_t)t * T;
						float *d = dP + (size_t)t * T, dot = 0.0f;
#pragma omp simd reduction(+ : dot)
						for (int j = 0; j <= t; j++)
							dot += p[j] * d[j];
						for (int j = 0; j <= t; j++)
							d[j] = p[j] * (d[j] - dot);
						for (int j = t + 1; j < r1; j++)
							d[j] = 0.0f;
					}
					/* dq += scale dS K;  dk += scale dS^T Q;  dv += P^T dO */
					cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, D, r1, scale,
						    dPr, T, base + koff, S, 1.0f, dbase + (size_t)r0 * S + (size_t)h * D, S);
					cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, r1, D, M, scale,
						    dPr, T, base + (size_t)r0 * S + (size_t)h * D, S, 1.0f, dbase + koff, S);
					cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, r1, D, M, 1.0f,
						    Pr, T, go + (size_t)r0 * H * D, H * D, 1.0f, dbase + voff, S);
				}
			}
		}
}

void swiglu_forward(float *out, const float *gu, int N, int F)
{
#pragma omp parallel for schedule(static) if (N > 1)
	for (int n = 0; n < N; n++) {
		const float *g = gu + (size_t)n * 2 * F, *u = g + F;
		silu_mul(out + (size_t)n * F, g, u, F);
	}
}

void swiglu_backward(float *dgu, const float *dout, const float *gu, int N, int F)
{
#pragma omp parallel for schedule(static)
	for (int n = 0; n < N; n++) {
		const float *g = gu + (size_t)n * 2 * F, *u = g + F, *d = dout + (size_t)n * F;
		float *dg = dgu + (size_t)n * 2 * F;
		silu_mul_backward(dg, dg + F, d, g, u, F);
	}
}

double crossentropy_forward(float *losses, const float *logits, const int32_t *targets, int N, int V,
			    int *count)
{
#pragma omp parallel for schedule(static)
	for (int n = 0; n < N; n++) {
		if (targets[n] < 0) {
			losses[n] = 0.0f;
			continue;
		}
		const float *l = logits + (size_t)n * V;
		float mx = -INFINITY;
		for (int i = 0; i < V; i++)
			mx = l[i] > mx ? l[i] : mx;
		double sum = 0.0;
		for (int i = 0; i < V; i++)
			sum += expf(l[i] - mx);
		losses[n] = (float)(log(sum) + mx - l[targets[n]]);
	}
	/* Summed in order, not by an OpenMP reduction, so that a run's losses
	 * are the same bits every time (resumed runs are compared exactly). */
	double total = 0.0;
	int cnt = 0;
	for (int n = 0; n < N; n++)
		if (targets[n] >= 0) {
			total += losses[n];
			cnt++;
		}
	*count = cnt;
	return cnt ? total / cnt : 0.0;
}

void crossentropy_backward(float *logits, const int32_t *targets, int N, int V, int count)
{
	float w = count ? 1.0f / (float)count : 0.0f;
#pragma omp parallel for schedule(static)
	for (int n = 0; n < N; n++) {
		float *l = logits + (size_t)n * V;
		if (targets[n] < 0) {
			memset(l, 0, (size_t)V * sizeof *l);
			continue;
		}
		float mx = -INFINITY;
		for (int i = 0; i < V; i++)
			mx = l[i] > mx ? l[i] : mx;
		float k = w / exp_shifted_sum(l, V, mx);
		for (int i = 0; i < V; i++)
			l[i] *= k;
		l[targets[n]] -= w;
	}
}

void residual_add(float *out, const float *inp, size_t n)
{
#pragma omp parallel for schedule(static)
	for (size_t i = 0; i < n; i++)
		out[i] += inp[i];
}
