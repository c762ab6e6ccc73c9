/* vocoder: mel pseudo-inverse and Griffin-Lim. See vocoder.h. */
#include "config.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mel.h"
#include "rng.h"
#include "vocoder.h"
#include "xalloc.h"

struct vocoder {
	float *pinv_t; /* (MEL_NMELS, MEL_NBINS): the pseudo-inverse, transposed */
	struct stft *stft;
};

/* In-place Cholesky factor (lower) of the SPD matrix a (n, n), double. */
static void cholesky(double *a, int n)
{
	for (int j = 0; j < n; j++) {
		double d = a[j * n + j];
		for (int k = 0; k < j; k++)
			d -= a[j * n + k] * a[j * n + k];
		a[j * n + j] = sqrt(d);
		for (int i = j + 1; i < n; i++) {
			double s = a[i * n + j];
			for (int k = 0; k < j; k++)
				s -= a[i * n + k] * a[j * n + k];
			a[i * n + j] = s / a[j * n + j];
		}
	}
}

/* Solves L L^T x = b in place (b (n)). */
static void cholesky_solve(const double *L, double *b, int n)
{
	for (int i = 0; i < n; i++) {
		for (int k = 0; k < i; k++)
			b[i] -= L[i * n + k] * b[k];
		b[i] /= L[i * n + i];
	}
	for (int i = n - 1; i >= 0; i--) {
		for (int k = i + 1; k < n; k++)
			b[i] -= L[k * n + i] * b[k];
		b[i] /= L[i * n + i];
	}
}

/* pinv_t (MEL_NMELS, MEL_NBINS) = ((M M^T + lambda I)^-1 M), i.e. pinv^T. */
static void make_pinv(float *pinv_t)
{
	enum { M = MEL_NMELS, K = MEL_NBINS };
	float *fb = xmallocarray((size_t)M * K, sizeof *fb);
	mel_filterbank(fb);
	double *A = xcalloc((size_t)M * M, sizeof *A), trace = 0;
	for (int i = 0; i < M; i++)
		for (int j = 0; j < M; j++) {
			double s = 0;
			for (int k = 0; k < K; k++)
				s += (double)fb[i * K + k] * fb[j * K + k];
			A[i * M + j] = s;
		}
	for (int i = 0; i < M; i++)
		trace += A[i * M + i];
	/* A small ridge: the narrow low filters make M M^T badly conditioned. */
	for (int i = 0; i < M; i++)
		A[i * M + i] += 1e-4 * trace / M;
	cholesky(A, M);
	double col[MEL_NMELS];
	for (int k = 0; k < K; k++) {
		for (int i = 0; i < M; i++)
			col[i] = fb[i * K + k];
		cholesky_solve(A, col, M);
		for (int i = 0; i < M; i++)
			pinv_t[i * K + k] = (float)col[i];
	}
	free(A);
	free(fb);
}

struct vocoder *vocoder_new(void)
{
	struct vocoder *v = xcalloc(1, sizeof *v);
	v->pinv_t = xmallocarray((size_t)MEL_NMELS * MEL_NBINS, sizeof(float));
	make_pinv(v->pinv_t);
	v->stft = stft_new();
	return v;
}

void vocoder_free(struct vocoder *v)
{
	if (!v)
		return;
	free(v->pinv_t);
	stft_free(v->stft);
	free(v);
}

void vocoder_mel_to_magnitude(struct vocoder *v, float *mag, const float *logmel, size_t T)
{
	float *power = xmallocarray(T * MEL_NMELS, sizeof *power);
	for (size_t i = 0; i < T * MEL_NMELS; i++)
		power[i] = expf(logmel[i]);
	/* (T, 257) = (T, 80) x (80, 257) */
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)T, MEL_NBINS, MEL_NMELS, 1.0f,
		    power, MEL_NMELS, v->pinv_t, MEL_NBINS, 0.0f, mag, MEL_NBINS);
	for (size_t i = 0; i < T * MEL_NBINS; i++)
		mag[i] = mag[i] > 0 ? sqrtf(mag[i]) : 0.0f;
	free(power);
}

/* spec (T, 257 complex) := mag * spec / |spec| (phase kept, magnitude imposed). */
static void impose_magnitude(float *spec, const float *mag, size_t T)
{
	for (size_t i = 0; i < T * MEL_NBINS; i++) {
		float re = spec[2 * i], im = spec[2 * i + 1];
		float r = sqrtf(re * re + im * im);
		if (r > 1e-12f) {
			spec[2 * i] = mag[i] * re / r;
			spec[2 * i + 1] = mag[i] * im / r;
		} else {
			spec[2 * i] = mag[i];
			spec[2 * i + 1] = 0;
		}
	}
}

void vocoder_synth(struct vocoder *v, float **pcm, size_t *n, const float *logmel, size_t T,
		   int iters, uint64_t seed)
{
	size_t len = (T - 1) * MEL_HOP, ns = T * 2 * MEL_NBINS;
	float *mag = xmallocarray(T * MEL_NBINS, sizeof *mag);
	float *spec = xmallocarray(ns, sizeof *spec);  /* the estimate c_n */
	float *proj = xmallocarray(ns, sizeof *proj);  /* t_n: STFT(ISTFT(c_n)) */
	float *prev = xcalloc(ns, sizeof *prev);       /* t_{n-1} */
	float *x = xmallocarray(len ? len : 1, sizeof *x);
	vocoder_mel_to_magnitude(v, mag, logmel, T);

	struct rng r;
	rng_seed(&r, seed);
	for (size_t i = 0; i < T * MEL_NBINS; i++) {
		double ph = 2 * M_PI * rng_double(&r);
		spec[2 * i] = mag[i] * (float)cos(ph);
		spec[2 * i + 1] = mag[i] * (float)sin(ph);
	}
	const float alpha = 0.99f;
	for (int it = 0; it < iters; it++) {
		stft_inverse(v->stft, x, spec, T);
		stft_forward(v->stft, proj, x, len);
		/* c_{n+1} = P(t_n + alpha (t_n - t_{n-1})), P = impose the magnitude */
		for (size_t i = 0; i < ns; i++) {
			float t = proj[i];
			spec[i] = t + alpha * (t - prev[i]);
			prev[i] = t;
		}
		impose_magnitude(spec, mag, T);
	}
	stft_inverse(v->stft, x, spec, T);
	free(prev);
	free(proj);
	free(spec);
	free(mag);
	*pcm = x;
	*n = len;
}
