/* kmeans: k-means++ seeding on a sample, then Lloyd iterations.
 *
 * Squared distances come from ||x||^2 - 2 x.c + ||c||^2 with the x.c term a
 * cblas_sgemm over blocks of KMEANS_BLOCK rows; blocks run in parallel under
 * OpenMP (OpenBLAS's OpenMP build runs single-threaded inside them). Centroid
 * updates visit points grouped by cluster in input order, one cluster per
 * task, so results depend on the seed only, not on the thread count. An
 * empty cluster takes over the point currently farthest from its centroid. */
#ifndef ZIPPER_KMEANS_H
#define ZIPPER_KMEANS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { KMEANS_BLOCK = 512 };

struct kmeans_opts {
	int k;
	int max_iters;       /* Lloyd iterations at most (default 20) */
	double tol;          /* stop when inertia improves by less than tol relative (1e-4) */
	size_t init_sample;  /* k-means++ runs on this many points at most (0: max(8 k, 4096)) */
	uint64_t seed;
	bool quiet;          /* else "kmeans: iteration i inertia x" lines on stderr */
};

void kmeans_opts_default(struct kmeans_opts *o, int k);

struct kmeans_stats {
	int iters;
	double inertia;      /* sum of squared distances at the end */
	double seconds;       /* all of it, k-means++ included */
	double init_seconds;  /* k-means++ alone */
	double flops;        /* in the sgemm distance products */
};

/* C (k, d) from X (n, d). Needs n >= k. Returns 0, or -1 with zerr set. */
int kmeans_fit(float *C, const float *X, size_t n, int d, const struct kmeans_opts *o,
	       struct kmeans_stats *st);

/* labels (n) nearest centroid, dist (n) squared distance to it (may be NULL)
 * of X (n, d) against C (k, d). Returns the inertia (sum of dist). */
double kmeans_assign(int32_t *labels, float *dist, const float *X, size_t n, const float *C,
		     int k, int d);

#endif
