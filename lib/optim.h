/* optim: AdamW with decoupled weight decay, a warmup + cosine learning-rate
 * schedule, and global-norm gradient clipping, over one flat parameter array.
 *
 * The update is PyTorch's torch.optim.AdamW (p *= 1 - lr*wd, then the
 * bias-corrected Adam step) and clipping is clip_grad_norm_'s (scale by
 * clip / (norm + 1e-6) when that is below 1), so runs can be compared with a
 * PyTorch reference step for step. */
#ifndef ZIPPER_OPTIM_H
#define ZIPPER_OPTIM_H

#include <stdbool.h>
#include <stddef.h>

struct optim_config {
	double lr;           /* peak learning rate */
	double min_lr_ratio; /* the cosine ends at lr * this */
	long warmup;         /* steps of linear warmup */
	long steps;          /* schedule length */
	double beta1, beta2, eps;
	double weight_decay;
	double clip; /* max global gradient norm; <= 0: no clipping */
};

void optim_config_default(struct optim_config *c);

/* The rate of 0-based step s: lr*(s+1)/warmup during warmup, then a cosine
 * from lr down to lr*min_lr_ratio, reached at the last step (steps-1). */
double optim_lr(const struct optim_config *c, long step);

/* A contiguous range of parameters and whether weight decay applies to it. */
struct optim_group {
	size_t offset, count;
	bool decay;
};

struct adamw {
	size_t n;
	float *m, *v; /* (n) first and second moments, one allocation */
	long t;       /* steps taken */
};

void adamw_init(struct adamw *a, size_t n);
void adamw_free(struct adamw *a);

/* sqrt(sum g^2), accumulated in double. */
double grad_norm(const float *g, size_t n);

/* One step on params (n) with grads (n): clips by the global norm (returned
 * in *norm_out when not NULL), then updates every group at rate lr. */
void adamw_step(struct adamw *a, const struct optim_config *c, float *params, const float *grads,
		const struct optim_group *groups, size_t n_groups, double lr, double *norm_out);

#endif
