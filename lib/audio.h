/* audio: reading any audio libsndfile understands as 16 kHz mono float,
 * and writing 16 kHz 16-bit PCM WAV.
 *
 * Input may be a file or "-" (stdin, read whole into memory first, so pipes
 * work for formats whose reader must seek). Channels are averaged to mono;
 * other sample rates are converted with libsamplerate's SRC_SINC_MEDIUM_QUALITY
 * converter: its pass band reaches 90% of the output Nyquist frequency
 * (7.2 kHz at 16 kHz), which keeps the top mel bins intact where
 * SRC_SINC_FASTEST (80%) would dim them, at a cost that only matters for
 * non-16 kHz input.
 *
 * Failures are one zerr line naming the input: cannot open (system error),
 * unsupported or unrecognised format, malformed file, no samples, longer
 * than the limit, a read error part-way, a truncated WAV or FLAC file (the
 * data chunk or STREAMINFO declaring more than is there; streamed WAVs'
 * placeholder sizes 0x7fff0000 and up are not judged). */
#ifndef ZIPPER_AUDIO_H
#define ZIPPER_AUDIO_H

#include <stddef.h>

enum { AUDIO_RATE = 16000 };

struct audio {
	float *pcm; /* (n) mono samples at AUDIO_RATE, nominally in [-1, 1] */
	size_t n;
};

/* Reads path ("-": stdin). max_seconds > 0 rejects longer audio before
 * decoding it. Returns 0, or -1 with zerr set and a->pcm NULL. */
int audio_read(struct audio *a, const char *path, double max_seconds);
/* The same from a memory image of an audio file; name is for messages. */
int audio_read_mem(struct audio *a, const void *buf, size_t len, const char *name,
		   double max_seconds);
void audio_free(struct audio *a);

/* Sample-rate conversion of mono float audio (libsamplerate, as above).
 * *out is malloc'd. Returns 0 or -1 with zerr set. */
int audio_resample(float **out, size_t *n_out, const float *in, size_t n, double rate_in,
		   double rate_out);

/* Writes n samples at AUDIO_RATE as 16-bit PCM WAV to path ("-": stdout),
 * atomically (zio). Samples outside [-1, 1] are clipped. */
int audio_write_wav(const char *path, const float *pcm, size_t n);

/* A file's id as the archives use it: base name without its extension
 * ("/a/b/utt1.flac" -> "utt1"; "-" -> "stdin"). Malloc'd. */
char *audio_id_from_path(const char *path);

#endif
