/* mel: log-mel spectrogram of 16 kHz audio, and the STFT pieces the vocoder
 * shares with it.
 *
 * Fixed analysis (what the speech tokenizer was designed around):
 *   frames   25 ms periodic Hann window (400 samples), 10 ms hop (160),
 *            centred: frame t covers samples [160 t - 200, 160 t + 200),
 *            zero outside the signal, so n samples give 1 + n / 160 frames;
 *   spectrum 512-point real FFT (FFTW3f, the window zero-padded after its
 *            400 samples), power |X|^2 of the 257 bins;
 *   mel      80 triangular filters from 0 to 8000 Hz on the Slaney mel scale
 *            (linear below 1 kHz, logarithmic above; librosa's default,
 *            htk=False) with Slaney area normalisation (each triangle scaled
 *            by 2 / its width in Hz, so filters have equal area);
 *   log      natural log of max(mel power, 1e-10).
 * tests/ref/mel.py is an independent NumPy version of exactly this.
 *
 * FFTW plan creation is not thread-safe: mel_new() (and stft_new()) take a
 * process-wide lock around it. A struct mel is used by one thread at a time;
 * make one per thread. */
#ifndef ZIPPER_MEL_H
#define ZIPPER_MEL_H

#include <stddef.h>

enum {
	MEL_RATE = 16000,
	MEL_WIN = 400,
	MEL_HOP = 160,
	MEL_NFFT = 512,
	MEL_NBINS = MEL_NFFT / 2 + 1, /* 257 */
	MEL_NMELS = 80,
};
#define MEL_FLOOR 1e-10f

/* Number of frames for n samples. */
size_t mel_frames(size_t n);

/* The filterbank as a dense (MEL_NMELS, MEL_NBINS) matrix, written to fb. */
void mel_filterbank(float *fb);

struct mel;

struct mel *mel_new(void);
/* out (mel_frames(n), MEL_NMELS) log-mel of pcm (n). */
void mel_compute(struct mel *m, float *out, const float *pcm, size_t n);
void mel_free(struct mel *m);

/* ---- STFT with the same framing, for Griffin-Lim ---- */

struct stft;

struct stft *stft_new(void);
/* spec (T, MEL_NBINS) complex as interleaved re, im; pcm (n); T = mel_frames(n). */
void stft_forward(struct stft *s, float *spec, const float *pcm, size_t n);
/* pcm (n) from spec (T, MEL_NBINS) by windowed overlap-add (least-squares
 * inverse of stft_forward); n = (T - 1) * MEL_HOP. */
void stft_inverse(struct stft *s, float *pcm, const float *spec, size_t T);
void stft_free(struct stft *s);

/* The periodic Hann window, MEL_WIN samples. */
void mel_window(float *w);

#endif
