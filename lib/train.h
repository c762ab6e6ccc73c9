/* train: what zip-train does between reading token archives and writing a
 * model: packing, shuffling, batching, evaluation, checkpoints.
 *
 * Packing: the utterances of an archive are concatenated into one stream,
 * each preceded by the end token when there is one (and one more ends the
 * stream), so that an utterance always starts after an end token, as it
 * does when zip-generate continues a prompt. The stream is cut into
 * windows of T+1 tokens every T tokens (window w covers stream[w*T ..
 * w*T+T]): inputs are its first T tokens, targets its last T. Each epoch
 * visits the windows in an order shuffled by the run's RNG.
 *
 * Checkpoints are tower model files (kind "tower", usable wherever a model
 * is) that also hold optim.m.<name> and optim.v.<name>, the AdamW moments
 * of every parameter, and a "zipper.train" metadata JSON with the step,
 * the data position, the RNG state at the start of the epoch and the
 * options that must not change on --resume. */
#ifndef ZIPPER_TRAIN_H
#define ZIPPER_TRAIN_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "optim.h"
#include "rng.h"
#include "tower.h"

struct train_data {
	int32_t *stream;
	size_t n;         /* tokens in the stream */
	size_t n_windows; /* full windows of T+1 */
	int T;
	size_t n_utts;
	char modality[16]; /* from the archive header, or "" */
	long vocab;        /* from the archive header, or 0 */
};

/* Reads a token archive; ids must be below vocab. eos < 0: no end token. */
int train_data_load(struct train_data *d, const char *path, long vocab, int eos, int T);
void train_data_free(struct train_data *d);
/* inputs, targets (B,T) of window w. */
void train_data_window(const struct train_data *d, size_t w, int32_t *inputs, int32_t *targets);

/* Where a run is: everything --resume needs besides the weights and moments. */
struct train_state {
	long step;         /* steps done */
	long epoch;        /* epochs started */
	size_t pos;        /* next index into perm */
	struct rng rng;    /* the run's generator, as it was before perm was drawn */
	struct rng after;  /* ... and after: where the next epoch starts */
	size_t n_perm;
	int *perm;         /* (n_perm) window order of this epoch */
};

void train_state_init(struct train_state *s, const struct train_data *d, uint64_t seed);
void train_state_free(struct train_state *s);
/* The next B windows, starting a new (reshuffled) epoch when one runs out. */
void train_next_batch(struct train_state *s, const struct train_data *d, int B, int32_t *inputs,
		      int32_t *targets);

/* The next index of the shuffled order (a window, or any item counted by
 * n_windows), starting a new epoch when one runs out. */
size_t train_next_index(struct train_state *s);

/* Mean loss per target token over every window of d, B windows a batch. */
double train_evaluate(struct tower *t, const struct train_data *d, int B, int32_t *inputs, int32_t *targets);

/* The optimizer groups of a tower: one per tensor, decay as the tensor says. */
struct optim_group *train_groups(const struct tower *t);

/* options_json: the options a resumed run must share (checked on load). */
int train_checkpoint_save(const char *path, const struct tower *t, const struct adamw *opt,
			  const struct train_state *s, const struct tower_meta *m, const char *options_json);
/* Loads weights, moments and state into an already built tower of the same
 * config, opt (initialised for t->n_params) and s (initialised for the data). */
int train_checkpoint_load(const char *path, struct tower *t, struct adamw *opt, struct train_state *s,
			  const char *options_json);

/* The zipper.train metadata of a checkpoint (step, data position, rng,
 * adam step count, options), for other models' checkpoints (lib/zipper.h). */
struct st_writer;
struct st_file;
void train_state_save_meta(struct st_writer *w, const struct train_state *s, const struct adamw *opt,
			   const char *options_json);
/* Reads it back into s and opt->t; the options must equal options_json. */
int train_state_load_meta(const struct st_file *f, struct adamw *opt, struct train_state *s,
			  const char *options_json);

/* ---- what every training program does around its step loop ---- */

/* SIGINT and SIGTERM only set a flag, which the step loop polls so that it
 * can write a checkpoint and exit 128 + the signal (130, 143). */
void train_catch_signals(void);
/* 0, or the signal caught. */
int train_caught_signal(void);

/* Appends one line to a JSON-lines log and flushes it, so a crash loses no
 * logged step. log NULL: nothing. -1 with zerr naming the file on a write error. */
int train_log_vprintf(FILE *log, const char *name, const char *fmt, va_list ap);

#endif
