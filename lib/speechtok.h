/* speechtok: the speech tokenizer (speech.tok): log-mel frames -> units.
 *
 *   1. each 80-bin log-mel frame (lib/mel.h, 100 frames/s) is normalised
 *      per bin with the mean and standard deviation measured over the
 *      fitting audio ("norm": "global", the default), or over the
 *      utterance itself ("norm": "utterance", cepstral-mean-and-variance
 *      style, which removes some of the voice and channel);
 *   2. `stack` consecutive normalised frames are concatenated into one
 *      vector of stack * 80 dims (stack = 100 / rate: 4 for the default 25
 *      tokens/s); the last group of an utterance is completed by repeating
 *      its final frame, so T frames give ceil(T / stack) tokens;
 *   3. each vector's token is its nearest codebook entry (k-means, lib/kmeans.h).
 * Token ids are 0 .. k-1. The speech vocabulary also has begin-of-audio = k
 * and end-of-audio = k + 1 (vocab = k + 2); they are never written into
 * token archives: consumers (the towers) add them around each utterance.
 *
 * File: safetensors, zipper.kind "speech-tokenizer", zipper.version 1,
 * tensors "mean" F32 [80], "std" F32 [80], "codebook" F32 [k, stack*80]
 * (in normalised units; mean and std are the fitting audio's, also used
 * to de-normalise when decoding), zipper.config {"type": "logmel-kmeans",
 * "sample_rate": 16000, "n_fft": 512, "win_length": 400, "hop_length": 160,
 * "n_mels": 80, "mel_scale": "slaney", "mel_norm": "slaney", "log": "ln",
 * "log_floor": 1e-10, "norm": "global" or "utterance", "rate": R, "stack": S, "k": K, "vocab": K+2,
 * "begin_of_audio": K, "end_of_audio": K+1}. The fingerprint is the first
 * 16 hex digits of the SHA-256 of the whole file. */
#ifndef ZIPPER_SPEECHTOK_H
#define ZIPPER_SPEECHTOK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mel.h"
#include "safetensors.h"

struct speechtok {
	int k, rate, stack, dim;    /* dim = stack * MEL_NMELS */
	bool utt_norm;              /* normalise by each utterance's statistics */
	float mean[MEL_NMELS], std[MEL_NMELS];
	float *codebook;            /* (k, dim) */
	char fingerprint[17];       /* "" until saved or loaded */
	struct st_file file;        /* when loaded: codebook points into its map */
	bool loaded;
};

/* ---- fitting ---- */

struct speechtok_fit_opts {
	int k;             /* codebook size (1024) */
	int rate;          /* tokens per second; must divide 100 (25) */
	int max_iters;     /* Lloyd iterations (20) */
	uint64_t seed;     /* (1) */
	bool quiet;
};

void speechtok_fit_opts_default(struct speechtok_fit_opts *o);
/* 0 when rate divides the 100 frames/s, else -1 with zerr. */
int speechtok_check_rate(int rate);

/* Gathers frames utterance by utterance, then fits. */
struct speechtok_fitter;

struct speechtok_fitter *speechtok_fitter_new(int rate, bool utt_norm);
/* mel (T, MEL_NMELS) log-mel frames of one utterance. */
void speechtok_fitter_add(struct speechtok_fitter *f, const float *mel, size_t T);
size_t speechtok_fitter_vectors(const struct speechtok_fitter *f);
/* Frees f's frames as it goes. NULL with zerr (too few vectors for k, ...). */
struct speechtok *speechtok_fit(struct speechtok_fitter *f, const struct speechtok_fit_opts *o);
void speechtok_fitter_free(struct speechtok_fitter *f);

/* ---- files ---- */

int speechtok_save(struct speechtok *t, const char *path); /* also sets t->fingerprint */
/* NULL with zerr "path: ..." unless it is a valid speech tokenizer. */
struct speechtok *speechtok_load(const char *path);
/* An open safetensors file already known to be kind "speech-tokenizer"; takes f over. */
struct speechtok *speechtok_from_file(struct st_file *f);
/* The speech tokenizer a model carries (zip-fuse --speech-tokenizer):
 * tensors tokenizer.speech.{mean,std,codebook} and the metadata
 * zipper.tokenizer.speech {"kind", "fingerprint", "config"}. What it needs
 * is copied, so f may be closed after. NULL with zerr when f carries none
 * or what it carries is not usable. */
struct speechtok *speechtok_from_model(const struct st_file *f);
void speechtok_free(struct speechtok *t);


/* ---- applying ---- */

size_t speechtok_n_tokens(const struct speechtok *t, size_t T);
/* ids (speechtok_n_tokens(T)) from mel (T, MEL_NMELS); T >= 1. */
void speechtok_encode(const struct speechtok *t, int32_t *ids, const float *mel, size_t T);
/* mel (n * stack, MEL_NMELS): the log-mel frames the codebook entries of ids
 * stand for. -1 with zerr when an id is not in [0, k). */
int speechtok_decode(const struct speechtok *t, float *mel, const int32_t *ids, size_t n);

#endif
