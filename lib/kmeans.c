/* kmeans: k-means++ and Lloyd with BLAS distances. See kmeans.h. */
#include "config.h"

#include <cblas.h>
#include <float.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "kmeans.h"
#include "rng.h"
#include "xalloc.h"
#include "zerr.h"

void kmeans_opts_default(struct kmeans_opts *o, int k)
{
	o->k = k;
	o->max_iters = 20;
	o->tol = 1e-4;
	o->init_sample = 0;
	o->seed = 1;
	o->quiet = false;
}

/* out (n) squared norms of the rows of X (n, d). */
static void row_norms(float *out, const float *X, size_t n, int d)
{
#pragma omp parallel for schedule(static)
	for (size_t i = 0; i < n; i++) {
		const float *x = X + i * (size_t)d;
		float s = 0;
		for (int j = 0; j < d; j++)
			s += x[j] * x[j];
		out[i] = s;
	}
}

/* One block: labels/dist (B) for X (B, d), with G (B, k) as scratch. */
static double assign_block(int32_t *labels, float *dist, float *G, const float *X, size_t B,
			   const float *C, const float *cnorm, int k, int d)
{
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)B, k, d, -2.0f, X, d, C, d, 0.0f,
		    G, k);
	double inertia = 0;
	for (size_t i = 0; i < B; i++) {
		const float *g = G + i * (size_t)k;
		const float *x = X + i * (size_t)d;
		float best = FLT_MAX;
		int32_t arg = 0;
		for (int j = 0; j < k; j++) {
			float v = g[j] + cnorm[j];
			if (v < best) {
				best = v;
				arg = j;
			}
		}
		float xn = 0;
		for (int j = 0; j < d; j++)
			xn += x[j] * x[j];
		float dd = best + xn;
		dd = dd > 0 ? dd : 0; /* rounding can push an exact match below zero */
		labels[i] = arg;
		if (dist)
			dist[i] = dd;
		inertia += dd;
	}
	return inertia;
}

double kmeans_assign(int32_t *labels, float *dist, const float *X, size_t n, const float *C,
		     int k, int d)
{
	float *cnorm = xmallocarray((size_t)k, sizeof *cnorm);
	row_norms(cnorm, C, (size_t)k, d);
	size_t nb = (n + KMEANS_BLOCK - 1) / KMEANS_BLOCK;
	double *part = xcalloc(nb ? nb : 1, sizeof *part);
#pragma omp parallel
	{
		float *G = xmallocarray((size_t)KMEANS_BLOCK * (size_t)k, sizeof *G);
#pragma omp for schedule(dynamic, 1)
		for (size_t b = 0; b < nb; b++) {
			size_t lo = b * KMEANS_BLOCK;
			size_t B = n - lo < KMEANS_BLOCK ? n - lo : KMEANS_BLOCK;
			part[b] = assign_block(labels + lo, dist ? dist + lo : NULL, G,
					       X + lo * (size_t)d, B, C, cnorm, k, d);
		}
		free(G);
	}
	double inertia = 0;
	for (size_t b = 0; b < nb; b++) /* in block order: the same sum for any thread count */
		inertia += part[b];
	free(part);
	free(cnorm);
	return inertia;
}

/* k-means++ (Arthur & Vassilvitskii, 2007) on m points of X picked at random. */
static void init_plusplus(float *C, const float *X, size_t n, int d, int k, size_t m,
			  struct rng *r)
{
	/* A partial Fisher-Yates shuffle picks the sample. */
	size_t *idx = xmallocarray(n, sizeof *idx);
	for (size_t i = 0; i < n; i++)
		idx[i] = i;
	for (size_t i = 0; i < m; i++) {
		size_t j = i + (size_t)rng_below(r, n - i);
		size_t t = idx[i];
		idx[i] = idx[j];
		idx[j] = t;
	}
	float *S = xmallocarray(m * (size_t)d, sizeof *S);
	for (size_t i = 0; i < m; i++)
		memcpy(S + i * (size_t)d, X + idx[i] * (size_t)d, (size_t)d * sizeof *S);
	free(idx);

	/* Distances to each new centre as ||s||^2 - 2 s.c + ||c||^2: one pass
	 * over the (cache-sized) sample per centre, on one thread, since a
	 * threaded matrix-vector product pays a barrier per centre, which costs
	 * more than it saves when the cores are shared. */
	float *D = xmallocarray(m, sizeof *D), *snorm = xmallocarray(m, sizeof *snorm);
	float *dot = xmallocarray(m, sizeof *dot);
	row_norms(snorm, S, m, d);
	for (size_t i = 0; i < m; i++)
		D[i] = FLT_MAX;
	size_t pick = (size_t)rng_below(r, m);
	for (int c = 0; c < k; c++) {
		float *cen = C + (size_t)c * d;
		memcpy(cen, S + pick * (size_t)d, (size_t)d * sizeof *cen);
		for (size_t i = 0; i < m; i++) {
			const float *x = S + i * (size_t)d;
			float acc = 0;
#pragma omp simd reduction(+ : acc)
			for (int j = 0; j < d; j++)
				acc += x[j] * cen[j];
			dot[i] = -2.0f * acc;
		}
		float cn = snorm[pick];
		for (size_t i = 0; i < m; i++) {
			float v = snorm[i] + dot[i] + cn;
			v = v > 0 ? v : 0;
			if (v < D[i])
				D[i] = v;
		}
		D[pick] = 0; /* exactly, whatever the rounding */
		double total = 0;
		for (size_t i = 0; i < m; i++)
			total += D[i];
		if (total <= 0) { /* every point already is a centre: any will do */
			pick = (size_t)rng_below(r, m);
			continue;
		}
		double target = rng_double(r) * total, acc = 0;
		pick = m - 1;
		for (size_t i = 0; i < m; i++) {
			acc += D[i];
			if (acc > target && D[i] > 0) {
				pick = i;
				break;
			}
		}
	}
	free(dot);
	free(snorm);
	free(D);
	free(S);
}

/* Centroids as the means of their points; empty clusters take the farthest
 * points. Returns the number of clusters refilled. */
static int update_centroids(float *C, const float *X, size_t n, int d, int k,
			    const int32_t *labels, float *dist)
{
	size_t *start = xcalloc((size_t)k + 1, sizeof *start);
	for (size_t i = 0; i < n; i++)
		start[labels[i] + 1]++;
	for (int j = 0; j < k; j++)
		start[j + 1] += start[j];
	size_t *order = xmallocarray(n ? n : 1, sizeof *order);
	size_t *fill = xmallocarray((size_t)k, sizeof *fill);
	memcpy(fill, start, (size_t)k * sizeof *fill);
	for (size_t i = 0; i < n; i++)
		order[fill[labels[i]]++] = i;
	free(fill);

#pragma omp parallel
	{
		double *acc = xmallocarray((size_t)d, sizeof *acc);
#pragma omp for schedule(dynamic, 8)
		for (int j = 0; j < k; j++) {
			size_t a = start[j], b = start[j + 1];
			if (a == b)
				continue;
			memset(acc, 0, (size_t)d * sizeof *acc);
			for (size_t p = a; p < b; p++) {
				const float *x = X + order[p] * (size_t)d;
				for (int q = 0; q < d; q++)
					acc[q] += x[q];
			}
			float *c = C + (size_t)j * d;
			for (int q = 0; q < d; q++)
				c[q] = (float)(acc[q] / (double)(b - a));
		}
		free(acc);
	}

	int refilled = 0;
	for (int j = 0; j < k; j++) {
		if (start[j] != start[j + 1])
			continue;
		size_t far = 0;
		for (size_t i = 1; i < n; i++)
			if (dist[i] > dist[far])
				far = i;
		memcpy(C + (size_t)j * d, X + far * (size_t)d, (size_t)d * sizeof *C);
		dist[far] = 0; /* not chosen twice */
		refilled++;
	}
	free(order);
	free(start);
	return refilled;
}

int kmeans_fit(float *C, const float *X, size_t n, int d, const struct kmeans_opts *o,
	       struct kmeans_stats *st)
{
	int k = o->k;
	if (k < 1 || d < 1) {
		zerr_set("k-means: k = %d and dimension %d must be positive", k, d);
		return -1;
	}
	if (n < (size_t)k) {
		zerr_set("k-means: %zu frames are fewer than the %d clusters asked for", n, k);
		return -1;
	}
	double t0 = cli_now();
	struct rng r;
	rng_seed(&r, o->seed);
	/* 8 points per centre are plenty to seed from, and keep the sample in
	 * cache: k-means++ makes one pass over it per centre. */
	size_t m = o->init_sample ? o->init_sample : 8 * (size_t)k;
	if (m < 4096)
		m = 4096;
	if (m < (size_t)k)
		m = (size_t)k;
	if (m > n)
		m = n;
	init_plusplus(C, X, n, d, k, m, &r);
	double t_init = cli_now() - t0;

	int32_t *labels = xmallocarray(n, sizeof *labels);
	float *dist = xmallocarray(n, sizeof *dist);
	double prev = INFINITY, inertia = 0;
	int it;
	for (it = 1; it <= o->max_iters; it++) {
		inertia = kmeans_assign(labels, dist, X, n, C, k, d);
		int refilled = update_centroids(C, X, n, d, k, labels, dist);
		if (!o->quiet)
			fprintf(stderr, "kmeans: iteration %d inertia %.6g (%.6g per vector)%s\n", it,
				inertia, inertia / (double)n,
				refilled ? " (empty clusters refilled)" : "");
		if (prev - inertia < o->tol * inertia && !refilled)
			break;
		prev = inertia;
	}
	free(labels);
	free(dist);
	if (st) {
		st->iters = it > o->max_iters ? o->max_iters : it;
		st->inertia = inertia;
		st->seconds = cli_now() - t0;
		st->init_seconds = t_init;
		st->flops = 2.0 * (double)n * k * d * st->iters;
	}
	return 0;
}
