/* optim: AdamW, schedule, clipping (see optim.h). */
#include "config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cpu.h"
#include "optim.h"
#include "xalloc.h"

void optim_config_default(struct optim_config *c)
{
	c->lr = 3e-4;
	c->min_lr_ratio = 0.1;
	c->warmup = 100;
	c->steps = 1000;
	c->beta1 = 0.9;
	c->beta2 = 0.95;
	c->eps = 1e-8;
	c->weight_decay = 0.1;
	c->clip = 1.0;
}

double optim_lr(const struct optim_config *c, long step)
{
	if (step < c->warmup)
		return c->lr * (double)(step + 1) / (double)c->warmup;
	long span = c->steps - c->warmup;
	double prog = span > 0 ? (double)(step + 1 - c->warmup) / (double)span : 1.0;
	if (prog > 1.0)
		prog = 1.0;
	double lo = c->lr * c->min_lr_ratio;
	return lo + 0.5 * (c->lr - lo) * (1.0 + cos(3.14159265358979323846 * prog));
}

void adamw_init(struct adamw *a, size_t n)
{
	a->n = n;
	a->m = xcalloc(2 * n, sizeof(float));
	a->v = a->m + n;
	a->t = 0;
}

void adamw_free(struct adamw *a)
{
	free(a->m);
	a->m = a->v = NULL;
}

CPU_CLONES double grad_norm(const float *g, size_t n)
{
	/* Fixed chunks summed in order: the same bits at any thread count (on
	 * one machine: the vector width sets the order within a chunk). */
	enum { CHUNKS = 64 };
	double part[CHUNKS];
#pragma omp parallel for schedule(static)
	for (int k = 0; k < CHUNKS; k++) {
		size_t i0 = n * (size_t)k / CHUNKS, i1 = n * (size_t)(k + 1) / CHUNKS;
		double s = 0.0;
#pragma omp simd reduction(+ : s)
		for (size_t i = i0; i < i1; i++)
			s += (double)g[i] * g[i];
		part[k] = s;
	}
	double s = 0.0;
	for (int k = 0; k < CHUNKS; k++)
		s += part[k];
	return sqrt(s);
}

CPU_CLONES void adamw_step(struct adamw *a, const struct optim_config *c, float *params, const float *grads,
		const struct optim_group *groups, size_t n_groups, double lr, double *norm_out)
{
	double norm = grad_norm(grads, a->n);
	if (norm_out)
		*norm_out = norm;
	float gs = 1.0f;
	if (c->clip > 0 && c->clip / (norm + 1e-6) < 1.0)
		gs = (float)(c->clip / (norm + 1e-6));
	a->t++;
	float b1 = (float)c->beta1, b2 = (float)c->beta2, eps = (float)c->eps;
	float step = (float)(lr / (1.0 - pow(c->beta1, (double)a->t)));
	float bc2 = (float)sqrt(1.0 - pow(c->beta2, (double)a->t));
	for (size_t k = 0; k < n_groups; k++) {
		const struct optim_group *gr = &groups[k];
		float keep = gr->decay ? (float)(1.0 - lr * c->weight_decay) : 1.0f;
		float *p = params + gr->offset, *m = a->m + gr->offset, *v = a->v + gr->offset;
		const float *g = grads + gr->offset;
#pragma omp parallel for schedule(static)
		for (size_t i = 0; i < gr->count; i++) {
			float gi = g[i] * gs;
			m[i] = b1 * m[i] + (1.0f - b1) * gi;
			v[i] = b2 * v[i] + (1.0f - b2) * gi * gi;
			p[i] = p[i] * keep - step * m[i] / (sqrtf(v[i]) / bc2 + eps);
		}
	}
}
