/* vocoder: log-mel frames back to 16 kHz audio, for listening to speech
 * tokens (zip-detokenize) and for the tokens' round-trip test.
 *
 *   log-mel (T, 80) -> exp -> mel power
 *   -> linear power (T, 257) through the regularised pseudo-inverse of the
 *      filterbank, pinv = M^T (M M^T + lambda I)^-1, clamped at 0; its square
 *      root is the target magnitude;
 *   -> Griffin-Lim: from a seeded random phase, alternate ISTFT and STFT
 *      (lib/mel.h framing), keeping the phase and imposing the magnitude,
 *      with the "fast" momentum of Perraudin et al. (2013), alpha = 0.99;
 *   -> (T - 1) * 160 samples.
 * One struct vocoder per thread. */
#ifndef ZIPPER_VOCODER_H
#define ZIPPER_VOCODER_H

#include <stddef.h>
#include <stdint.h>

struct vocoder;

struct vocoder *vocoder_new(void);
void vocoder_free(struct vocoder *v);

/* mag (T, MEL_NBINS) linear magnitudes from logmel (T, MEL_NMELS). */
void vocoder_mel_to_magnitude(struct vocoder *v, float *mag, const float *logmel, size_t T);

/* pcm ((T - 1) * MEL_HOP) from logmel (T, MEL_NMELS), T >= 2, with iters
 * Griffin-Lim iterations; seed fixes the initial phase. *pcm is malloc'd. */
void vocoder_synth(struct vocoder *v, float **pcm, size_t *n, const float *logmel, size_t T,
		   int iters, uint64_t seed);

#endif
