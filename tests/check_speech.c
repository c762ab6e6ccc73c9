/* Unit tests for the speech modules: audio, mel (against tests/ref/mel.py),
 * STFT inversion, k-means. */
#include "config.h"

#include <check.h>
#include <math.h>
#include <omp.h>
#include <sndfile.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audio.h"
#include "kmeans.h"
#include "mel.h"
#include "rng.h"
#include "safetensors.h"
#include "sha256.h"
#include "speechtok.h"
#include "vocoder.h"
#include "xalloc.h"
#include "zerr.h"

#include "workdir.h"

/* Reads a committed fixture of float32 into a malloc'd array. */
static float *read_f32(const char *name, size_t *n)
{
	const char *top = getenv("top_srcdir");
	char *path = xasprintf("%s/tests/data/%s", top ? top : ".", name);
	FILE *f = fopen(path, "rb");
	ck_assert_msg(f != NULL, "cannot open %s", path);
	fseek(f, 0, SEEK_END);
	long bytes = ftell(f);
	fseek(f, 0, SEEK_SET);
	float *x = xmalloc((size_t)bytes);
	ck_assert_uint_eq(fread(x, 1, (size_t)bytes, f), (size_t)bytes);
	fclose(f);
	free(path);
	*n = (size_t)bytes / sizeof(float);
	return x;
}

/* Writes frames (n, channels) of a tone with libsndfile in the given format. */
static void write_tone(const char *path, int format, int rate, int channels, size_t n, double hz)
{
	SF_INFO info = {0};
	info.samplerate = rate;
	info.channels = channels;
	info.format = format;
	SNDFILE *sf = sf_open(path, SFM_WRITE, &info);
	ck_assert_msg(sf != NULL, "%s", sf_strerror(NULL));
	float *x = xcalloc(n * (size_t)channels + 1, sizeof *x);
	for (size_t i = 0; i < n; i++)
		for (int c = 0; c < channels; c++)
			x[i * channels + c] = (float)(0.5 * sin(2 * M_PI * hz * i / rate)) * (c == 0 ? 1.0f : 0.5f);
	ck_assert_int_eq(sf_writef_float(sf, x, (sf_count_t)n), (sf_count_t)n);
	sf_close(sf);
	free(x);
}

static void write_bytes(const char *path, const void *buf, size_t n)
{
	FILE *f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(buf, 1, n, f), n);
	fclose(f);
}

START_TEST(test_mel_matches_numpy)
{
	size_t n, nref;
	float *x = read_f32("mel_input.f32", &n);
	float *ref = read_f32("mel_ref.f32", &nref);
	size_t T = mel_frames(n);
	ck_assert_uint_eq(T * MEL_NMELS, nref);
	float *out = xmallocarray(nref, sizeof *out);
	struct mel *m = mel_new();
	mel_compute(m, out, x, n);
	double worst = 0;
	for (size_t i = 0; i < nref; i++) {
		double err = fabs(out[i] - ref[i]) / fmax(1.0, fabs(ref[i]));
		worst = fmax(worst, err);
	}
	ck_assert_msg(worst <= 1e-4, "log-mel differs from NumPy by %g relative", worst);
	mel_free(m);
	free(out);
	free(ref);
	free(x);
}
END_TEST

START_TEST(test_stft_inverse_reconstructs)
{
	size_t n = 4000;
	float *x = xmallocarray(n, sizeof *x);
	struct rng r;
	rng_seed(&r, 3);
	for (size_t i = 0; i < n; i++)
		x[i] = (float)(0.3 * rng_normal(&r));
	size_t T = mel_frames(n);
	float *spec = xmallocarray(T * 2 * MEL_NBINS, sizeof *spec);
	struct stft *s = stft_new();
	stft_forward(s, spec, x, n);
	size_t m = (T - 1) * MEL_HOP;
	float *y = xmallocarray(m, sizeof *y);
	stft_inverse(s, y, spec, T);
	double worst = 0;
	for (size_t i = 0; i < m; i++)
		worst = fmax(worst, fabs(y[i] - x[i]));
	ck_assert_msg(worst < 1e-4, "ISTFT(STFT(x)) differs by %g", worst);
	stft_free(s);
	free(y);
	free(spec);
	free(x);
}
END_TEST

START_TEST(test_audio_resample_and_mixdown)
{
	char *path = path_in_work("a.flac");
	write_tone(path, SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 44100, 2, 44100, 440);
	struct audio a;
	ck_assert_int_eq(audio_read(&a, path, 0), 0);
	ck_assert(a.n >= 15990 && a.n <= 16010);
	/* mono = mean of 1.0 and 0.5 times the tone = 0.375 sin */
	double worst = 0;
	for (size_t i = 1000; i < a.n - 1000; i++)
		worst = fmax(worst, fabs(a.pcm[i] - 0.375 * sin(2 * M_PI * 440 * i / 16000.0)));
	ck_assert_msg(worst < 2e-3, "resampled tone off by %g", worst);
	audio_free(&a);
	free(path);
}
END_TEST

START_TEST(test_audio_wav_roundtrip_and_memory)
{
	size_t n = 8000;
	float *x = xmallocarray(n, sizeof *x);
	for (size_t i = 0; i < n; i++)
		x[i] = (float)(0.9 * sin(i * 0.05));
	x[10] = 3.0f; /* clipped, not wrapped */
	char *path = path_in_work("w.wav");
	ck_assert_int_eq(audio_write_wav(path, x, n), 0);
	struct audio a;
	ck_assert_int_eq(audio_read(&a, path, 1.0), 0);
	ck_assert_uint_eq(a.n, n);
	ck_assert(a.pcm[10] > 0.99f);
	for (size_t i = 0; i < n; i++)
		if (i != 10)
			ck_assert(fabsf(a.pcm[i] - x[i]) < 1.0f / 16384);
	audio_free(&a);

	FILE *f = fopen(path, "rb");
	unsigned char buf[1 << 15];
	size_t len = fread(buf, 1, sizeof buf, f);
	fclose(f);
	ck_assert_int_eq(audio_read_mem(&a, buf, len, "mem", 0), 0);
	ck_assert_uint_eq(a.n, n);
	audio_free(&a);
	free(path);
	free(x);
}
END_TEST

START_TEST(test_audio_errors)
{
	struct audio a;
	char *p = path_in_work("missing.wav");
	ck_assert_int_eq(audio_read(&a, p, 0), -1);
	ck_assert_ptr_nonnull(strstr(zerr_msg(), "cannot open"));
	ck_assert_ptr_null(a.pcm);
	free(p);

	p = path_in_work("garbage.wav");
	write_bytes(p, "this is not audio at all, just some text\n", 41);
	ck_assert_int_eq(audio_read(&a, p, 0), -1);
	ck_assert_ptr_nonnull(strstr(zerr_msg(), "unsupported or unrecognised"));
	ck_assert_ptr_nonnull(strstr(zerr_msg(), "garbage.wav"));
	free(p);

	p = path_in_work("empty.wav");
	write_tone(p, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 16000, 1, 0, 440);
	ck_assert_int_eq(audio_read(&a, p, 0), -1);
	ck_assert_ptr_nonnull(strstr(zerr_msg(), "zero-length"));
	free(p);

	p = path_in_work("zero-bytes.wav");
	write_bytes(p, "", 0);
	ck_assert_int_eq(audio_read(&a, p, 0), -1);
	ck_assert_ptr_nonnull(strstr(zerr_msg(), "zero-length"));
	free(p);

	p = path_in_work("long.wav");
	write_tone(p, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 8000, 1, 8000 * 3, 440);
	ck_assert_int_eq(audio_read(&a, p, 2.5), -1);
	ck_assert_ptr_nonnull(strstr(zerr_msg(), "longer than"));
	ck_assert_int_eq(audio_read(&a, p, 3.5), 0);
	ck_assert_uint_eq(a.n, 48000);
	audio_free(&a);

	/* A RIFF/WAVE header whose fmt chunk is cut short. */
	FILE *f = fopen(p, "rb");
	unsigned char buf[64];
	ck_assert_uint_eq(fread(buf, 1, sizeof buf, f), sizeof buf);
	fclose(f);
	free(p);
	p = path_in_work("malformed.wav");
	write_bytes(p, buf, 24);
	ck_assert_int_eq(audio_read(&a, p, 0), -1);
	ck_assert_ptr_nonnull(strstr(zerr_msg(), "malformed.wav: "));
	free(p);

	ck_assert_int_eq(audio_read_mem(&a, "", 0, "stdin", 0), -1);
	ck_assert_ptr_nonnull(strstr(zerr_msg(), "stdin: empty"));
}
END_TEST

/* Reads a whole small file into buf; returns its length. */
static size_t slurp(const char *path, unsigned char *buf, size_t cap)
{
	FILE *f = fopen(path, "rb");
	ck_assert_ptr_nonnull(f);
	size_t len = fread(buf, 1, cap, f);
	fclose(f);
	ck_assert_uint_lt(len, cap);
	return len;
}

/* Offset of a WAV's data chunk size field. */
static size_t wav_data_size_at(const unsigned char *buf, size_t len)
{
	for (size_t i = 12; i + 8 <= len; i++)
		if (!memcmp(buf + i, "data", 4))
			return i + 4;
	ck_abort_msg("no data chunk");
	return 0;
}

START_TEST(test_audio_truncated)
{
	static unsigned char buf[1 << 16];
	struct audio a;
	const char *kinds[] = {"t.wav", "t.flac"};
	int formats[] = {SF_FORMAT_WAV | SF_FORMAT_PCM_16, SF_FORMAT_FLAC | SF_FORMAT_PCM_16};
	for (int i = 0; i < 2; i++) {
		char *p = path_in_work(kinds[i]);
		write_tone(p, formats[i], 16000, 1, 16000, 440);
		size_t len = slurp(p, buf, sizeof buf);
		write_bytes(p, buf, len / 2);
		ck_assert_int_eq(audio_read(&a, p, 0), -1);
		ck_assert_ptr_nonnull(strstr(zerr_msg(), kinds[i]));
		ck_assert_ptr_nonnull(strstr(zerr_msg(), ": truncated "));
		ck_assert_ptr_null(strchr(zerr_msg(), '\n'));
		ck_assert_int_eq(audio_read_mem(&a, buf, len / 2, "mem", 0), -1);
		ck_assert_ptr_nonnull(strstr(zerr_msg(), "mem: truncated "));
		free(p);
	}

	/* Streamed WAVs (sox, espeak-ng, ffmpeg to a pipe) keep placeholder
	 * sizes: read to the end of the data, not refused. A data size of 0
	 * libsndfile takes literally (no samples): not truncation either. */
	char *p = path_in_work("s.wav");
	write_tone(p, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 16000, 1, 16000, 440);
	size_t len = slurp(p, buf, sizeof buf), at = wav_data_size_at(buf, len);
	static const unsigned char placeholders[][4] = {
		{0x00, 0xf0, 0xff, 0x7f}, {0xff, 0xff, 0xff, 0xff}, {0, 0, 0, 0}};
	for (int i = 0; i < 3; i++) {
		memcpy(buf + at, placeholders[i], 4);
		write_bytes(p, buf, len);
		if (i == 2) {
			ck_assert_int_eq(audio_read(&a, p, 0), -1);
			ck_assert_ptr_nonnull(strstr(zerr_msg(), "zero-length"));
			break;
		}
		ck_assert_msg(audio_read(&a, p, 0) == 0, "placeholder %d: %s", i, zerr_msg());
		ck_assert_uint_eq(a.n, 16000);
		audio_free(&a);
		ck_assert_int_eq(audio_read_mem(&a, buf, len, "mem", 0), 0);
		ck_assert_uint_eq(a.n, 16000);
		audio_free(&a);
	}
	free(p);
}
END_TEST

START_TEST(test_audio_ids)
{
	char *id = audio_id_from_path("/a/b.c/utt1.flac");
	ck_assert_str_eq(id, "utt1");
	free(id);
	id = audio_id_from_path("-");
	ck_assert_str_eq(id, "stdin");
	free(id);
	id = audio_id_from_path(".hidden");
	ck_assert_str_eq(id, ".hidden");
	free(id);
}
END_TEST

/* n points around 4 well-separated centres in d dimensions. */
static float *blobs(size_t n, int d, struct rng *r, const float *centres)
{
	float *X = xmallocarray(n * (size_t)d, sizeof *X);
	for (size_t i = 0; i < n; i++)
		for (int j = 0; j < d; j++)
			X[i * d + j] = centres[(i % 4) * d + j] + (float)(0.1 * rng_normal(r));
	return X;
}

START_TEST(test_kmeans_finds_blobs)
{
	enum { D = 8, N = 4000 };
	float centres[4 * D];
	struct rng r;
	rng_seed(&r, 11);
	for (int i = 0; i < 4 * D; i++)
		centres[i] = (float)(5 * rng_normal(&r));
	float *X = blobs(N, D, &r, centres);
	float C[4 * D];
	struct kmeans_opts o;
	kmeans_opts_default(&o, 4);
	o.quiet = true;
	struct kmeans_stats st;
	ck_assert_int_eq(kmeans_fit(C, X, N, D, &o, &st), 0);
	for (int c = 0; c < 4; c++) {
		double best = INFINITY;
		for (int j = 0; j < 4; j++) {
			double s = 0;
			for (int q = 0; q < D; q++)
				s += pow(C[j * D + q] - centres[c * D + q], 2);
			best = fmin(best, s);
		}
		ck_assert_msg(best < 0.01, "centre %d missed by %g", c, best);
	}
	ck_assert(st.inertia / N < 0.1 * D * 1.2);
	free(X);
}
END_TEST

START_TEST(test_kmeans_assign_matches_brute_force)
{
	enum { D = 5, N = 1300, K = 37 };
	struct rng r;
	rng_seed(&r, 2);
	float *X = xmallocarray(N * D, sizeof *X), C[K * D];
	for (int i = 0; i < N * D; i++)
		X[i] = (float)rng_normal(&r);
	for (int i = 0; i < K * D; i++)
		C[i] = (float)rng_normal(&r);
	int32_t labels[N];
	float dist[N];
	double inertia = kmeans_assign(labels, dist, X, N, C, K, D), sum = 0;
	for (int i = 0; i < N; i++) {
		double best = INFINITY;
		int arg = -1;
		for (int j = 0; j < K; j++) {
			double s = 0;
			for (int q = 0; q < D; q++)
				s += pow(X[i * D + q] - C[j * D + q], 2);
			if (s < best) {
				best = s;
				arg = j;
			}
		}
		ck_assert_msg(labels[i] == arg || fabs(dist[i] - best) < 1e-4, "point %d", i);
		ck_assert(fabs(dist[i] - best) < 1e-4 * fmax(1, best));
		sum += best;
	}
	ck_assert(fabs(inertia - sum) < 1e-4 * sum);
	free(X);
}
END_TEST

START_TEST(test_kmeans_deterministic_across_threads)
{
	enum { D = 6, N = 3000, K = 20 };
	struct rng r;
	rng_seed(&r, 9);
	float *X = xmallocarray(N * D, sizeof *X);
	for (int i = 0; i < N * D; i++)
		X[i] = (float)rng_normal(&r);
	float C1[K * D], C2[K * D], C3[K * D];
	struct kmeans_opts o;
	kmeans_opts_default(&o, K);
	o.quiet = true;
	o.seed = 42;
	int saved = omp_get_max_threads();
	omp_set_num_threads(1);
	ck_assert_int_eq(kmeans_fit(C1, X, N, D, &o, NULL), 0);
	omp_set_num_threads(2);
	ck_assert_int_eq(kmeans_fit(C2, X, N, D, &o, NULL), 0);
	ck_assert_mem_eq(C1, C2, sizeof C1);
	o.seed = 43;
	ck_assert_int_eq(kmeans_fit(C3, X, N, D, &o, NULL), 0);
	ck_assert(memcmp(C1, C3, sizeof C1) != 0);
	omp_set_num_threads(saved);

	ck_assert_int_eq(kmeans_fit(C1, X, 10, D, &o, NULL), -1);
	ck_assert_ptr_nonnull(strstr(zerr_msg(), "fewer than"));
	free(X);
}
END_TEST


/* Log-mel frames of a harmonic signal whose pitch and loudness wander. */
static float *voiced(size_t n, uint64_t seed)
{
	struct rng r;
	rng_seed(&r, seed);
	float *x = xmallocarray(n, sizeof *x);
	double ph = 0, f0 = 120 + 60 * rng_double(&r);
	for (size_t i = 0; i < n; i++) {
		double f = f0 * (1 + 0.3 * sin(2 * M_PI * i / 8000.0));
		ph += 2 * M_PI * f / 16000;
		double s = 0;
		for (int h = 1; h <= 12; h++)
			s += sin(h * ph) / h;
		x[i] = (float)(0.2 * s * (0.6 + 0.4 * sin(2 * M_PI * i / 5000.0)) + 0.01 * rng_normal(&r));
	}
	return x;
}

static float *logmel_of(const float *x, size_t n, size_t *T)
{
	*T = mel_frames(n);
	float *m = xmallocarray(*T * MEL_NMELS, sizeof *m);
	struct mel *mm = mel_new();
	mel_compute(mm, m, x, n);
	mel_free(mm);
	return m;
}

static struct speechtok *fit_small_norm(uint64_t seed, int k, bool utt_norm)
{
	struct speechtok_fitter *f = speechtok_fitter_new(25, utt_norm);
	for (int u = 0; u < 3; u++) {
		size_t T, n = 16000;
		float *x = voiced(n, 100 + u);
		float *m = logmel_of(x, n, &T);
		speechtok_fitter_add(f, m, T);
		free(m);
		free(x);
	}
	ck_assert_uint_eq(speechtok_fitter_vectors(f), 3 * 26);
	struct speechtok_fit_opts o;
	speechtok_fit_opts_default(&o);
	o.k = k;
	o.seed = seed;
	o.quiet = true;
	struct speechtok *t = speechtok_fit(f, &o);
	speechtok_fitter_free(f);
	return t;
}

static struct speechtok *fit_small(uint64_t seed, int k)
{
	return fit_small_norm(seed, k, false);
}

static void file_bytes(const char *path, unsigned char **buf, size_t *n)
{
	FILE *f = fopen(path, "rb");
	ck_assert_ptr_nonnull(f);
	fseek(f, 0, SEEK_END);
	*n = (size_t)ftell(f);
	fseek(f, 0, SEEK_SET);
	*buf = xmalloc(*n + 1);
	ck_assert_uint_eq(fread(*buf, 1, *n, f), *n);
	fclose(f);
}

START_TEST(test_speechtok_fit_save_load_encode)
{
	struct speechtok *t = fit_small(7, 16);
	ck_assert_ptr_nonnull(t);
	ck_assert_int_eq(t->stack, 4);
	ck_assert_int_eq(t->dim, 320);
	ck_assert_uint_eq(speechtok_n_tokens(t, 1), 1);
	ck_assert_uint_eq(speechtok_n_tokens(t, 4), 1);
	ck_assert_uint_eq(speechtok_n_tokens(t, 5), 2);
	char *p1 = path_in_work("a.tok"), *p2 = path_in_work("b.tok"), *p3 = path_in_work("c.tok");
	ck_assert_int_eq(speechtok_save(t, p1), 0);

	unsigned char *buf;
	size_t len;
	file_bytes(p1, &buf, &len);
	uint8_t d[32];
	char hex[65];
	sha256(buf, len, d);
	sha256_hex(d, hex);
	ck_assert_int_eq(strncmp(hex, t->fingerprint, 16), 0);
	ck_assert_uint_eq(strlen(t->fingerprint), 16);

	struct speechtok *l = speechtok_load(p1);
	ck_assert_msg(l != NULL, "%s", zerr_msg());
	ck_assert_str_eq(l->fingerprint, t->fingerprint);
	size_t n = 12000, T;
	float *x = voiced(n, 555);
	float *m = logmel_of(x, n, &T);
	size_t nt = speechtok_n_tokens(t, T);
	int32_t *a = xmallocarray(nt, sizeof *a), *b = xmallocarray(nt, sizeof *b);
	speechtok_encode(t, a, m, T);
	speechtok_encode(l, b, m, T);
	ck_assert_mem_eq(a, b, nt * sizeof *a);
	for (size_t i = 0; i < nt; i++)
		ck_assert(a[i] >= 0 && a[i] < 16);

	/* decode gives the centroid frames, de-normalised */
	float *back = xmallocarray(nt * 4 * MEL_NMELS, sizeof *back);
	ck_assert_int_eq(speechtok_decode(l, back, a, nt), 0);
	ck_assert(fabsf(back[5] - (l->codebook[a[0] * 320 + 5] * l->std[5] + l->mean[5])) < 1e-5f);
	int32_t bad = 16;
	ck_assert_int_eq(speechtok_decode(l, back, &bad, 1), -1);
	ck_assert_ptr_nonnull(strstr(zerr_msg(), "not a unit"));

	/* Deterministic given the seed: the same seed writes the same bytes. */
	struct speechtok *t2 = fit_small(7, 16), *t3 = fit_small(8, 16);
	ck_assert_int_eq(speechtok_save(t2, p2), 0);
	ck_assert_int_eq(speechtok_save(t3, p3), 0);
	ck_assert_str_eq(t2->fingerprint, t->fingerprint);
	ck_assert_str_ne(t3->fingerprint, t->fingerprint);

	speechtok_free(t3);
	speechtok_free(t2);
	free(back);
	free(a);
	free(b);
	free(m);
	free(x);
	free(buf);
	speechtok_free(l);
	speechtok_free(t);
	free(p1);
	free(p2);
	free(p3);
}
END_TEST

START_TEST(test_speechtok_rejects_bad_files)
{
	struct speechtok_fitter *f = speechtok_fitter_new(25, false);
	float frames[10 * MEL_NMELS] = {0};
	speechtok_fitter_add(f, frames, 10);
	struct speechtok_fit_opts o;
	speechtok_fit_opts_default(&o);
	o.k = 8;
	o.quiet = true;
	ck_assert_ptr_null(speechtok_fit(f, &o));
	ck_assert_ptr_nonnull(strstr(zerr_msg(), "too few"));
	speechtok_fitter_free(f);
	ck_assert_int_eq(speechtok_check_rate(30), -1);
	ck_assert_int_eq(speechtok_check_rate(50), 0);

	char *p = path_in_work("x.tok");
	float mean[MEL_NMELS] = {0}, std[MEL_NMELS], cb[2 * 320] = {0};
	for (int i = 0; i < MEL_NMELS; i++)
		std[i] = 1;
	int64_t sb[1] = {MEL_NMELS}, sc[2] = {2, 320};
	/* a file of another kind */
	struct st_writer *w = st_writer_new("tower", 1, NULL);
	st_writer_add(w, "mean", ST_F32, 1, sb, mean);
	ck_assert_int_eq(st_writer_write(w, p), 0);
	st_writer_free(w);
	ck_assert_ptr_null(speechtok_load(p));
	ck_assert_ptr_nonnull(strstr(zerr_msg(), "not a speech tokenizer"));

	/* a codebook missing, then a zero std, then a rate that does not divide 100 */
	cJSON *cfg = cJSON_Parse("{\"k\": 2, \"rate\": 25, \"n_mels\": 80, \"hop_length\": 160}");
	w = st_writer_new("speech-tokenizer", 1, cfg);
	st_writer_add(w, "mean", ST_F32, 1, sb, mean);
	st_writer_add(w, "std", ST_F32, 1, sb, std);
	ck_assert_int_eq(st_writer_write(w, p), 0);
	st_writer_free(w);
	ck_assert_ptr_null(speechtok_load(p));
	ck_assert_ptr_nonnull(strstr(zerr_msg(), "codebook"));

	std[3] = 0;
	w = st_writer_new("speech-tokenizer", 1, cfg);
	st_writer_add(w, "mean", ST_F32, 1, sb, mean);
	st_writer_add(w, "std", ST_F32, 1, sb, std);
	st_writer_add(w, "codebook", ST_F32, 2, sc, cb);
	ck_assert_int_eq(st_writer_write(w, p), 0);
	st_writer_free(w);
	ck_assert_ptr_null(speechtok_load(p));
	ck_assert_ptr_nonnull(strstr(zerr_msg(), "std must be positive"));
	std[3] = 1;

	cJSON_ReplaceItemInObject(cfg, "rate", cJSON_CreateNumber(30));
	w = st_writer_new("speech-tokenizer", 1, cfg);
	st_writer_add(w, "mean", ST_F32, 1, sb, mean);
	st_writer_add(w, "std", ST_F32, 1, sb, std);
	st_writer_add(w, "codebook", ST_F32, 2, sc, cb);
	ck_assert_int_eq(st_writer_write(w, p), 0);
	st_writer_free(w);
	ck_assert_ptr_null(speechtok_load(p));
	ck_assert_ptr_nonnull(strstr(zerr_msg(), "does not divide"));

	cJSON_ReplaceItemInObject(cfg, "rate", cJSON_CreateNumber(25));
	w = st_writer_new("speech-tokenizer", 1, cfg);
	st_writer_add(w, "mean", ST_F32, 1, sb, mean);
	st_writer_add(w, "std", ST_F32, 1, sb, std);
	st_writer_add(w, "codebook", ST_F32, 2, sc, cb);
	ck_assert_int_eq(st_writer_write(w, p), 0);
	st_writer_free(w);
	struct speechtok *t = speechtok_load(p);
	ck_assert_msg(t != NULL, "%s", zerr_msg());
	speechtok_free(t);
	cJSON_Delete(cfg);
	free(p);
}
END_TEST

START_TEST(test_speechtok_utterance_norm_ignores_volume)
{
	struct speechtok *t = fit_small_norm(7, 16, true);
	ck_assert_ptr_nonnull(t);
	char *p = path_in_work("u.tok");
	ck_assert_int_eq(speechtok_save(t, p), 0);
	struct speechtok *l = speechtok_load(p);
	ck_assert_msg(l != NULL && l->utt_norm, "%s", zerr_msg());
	size_t n = 12000, T;
	float *x = voiced(n, 77);
	float *m = logmel_of(x, n, &T);
	for (size_t i = 0; i < n; i++)
		x[i] *= 0.25f;
	size_t T2;
	float *quiet = logmel_of(x, n, &T2);
	size_t nt = speechtok_n_tokens(l, T);
	int32_t *a = xmallocarray(nt, sizeof *a), *b = xmallocarray(nt, sizeof *b);
	speechtok_encode(l, a, m, T);
	speechtok_encode(l, b, quiet, T2);
	ck_assert_mem_eq(a, b, nt * sizeof *a);
	/* with global statistics a 12 dB drop does move the units */
	struct speechtok *g = fit_small(7, 16);
	speechtok_encode(g, a, m, T);
	speechtok_encode(g, b, quiet, T2);
	ck_assert(memcmp(a, b, nt * sizeof *a) != 0);
	speechtok_free(g);
	free(a);
	free(b);
	free(quiet);
	free(m);
	free(x);
	speechtok_free(l);
	speechtok_free(t);
	free(p);
}
END_TEST

/* Mean absolute log-mel difference between two signals' spectrograms. */
static double logmel_distance(const float *a, size_t na, const float *b, size_t nb)
{
	size_t Ta, Tb;
	float *ma = logmel_of(a, na, &Ta), *mb = logmel_of(b, nb, &Tb);
	size_t T = Ta < Tb ? Ta : Tb;
	double s = 0;
	for (size_t t = 1; t + 1 < T; t++)
		for (int i = 0; i < MEL_NMELS; i++)
			s += fabs(ma[t * MEL_NMELS + i] - mb[t * MEL_NMELS + i]);
	free(ma);
	free(mb);
	return s / ((double)(T - 2) * MEL_NMELS);
}

START_TEST(test_vocoder_griffin_lim_converges)
{
	size_t n = 16000, T;
	float *x = voiced(n, 9);
	float *m = logmel_of(x, n, &T);
	struct vocoder *v = vocoder_new();
	float *y0, *y32;
	size_t n0, n32;
	vocoder_synth(v, &y0, &n0, m, T, 0, 1);
	vocoder_synth(v, &y32, &n32, m, T, 32, 1);
	ck_assert_uint_eq(n32, (T - 1) * MEL_HOP);
	double d0 = logmel_distance(x, n, y0, n0), d32 = logmel_distance(x, n, y32, n32);
	fprintf(stderr, "vocoder: log-mel distance %.3f with random phase, %.3f after 32 Griffin-Lim iterations\n", d0, d32);
	ck_assert_msg(d32 < 0.6 * d0 && d32 < 0.5, "Griffin-Lim did not converge: %g -> %g", d0, d32);
	/* same seed, same audio */
	float *again;
	size_t na;
	vocoder_synth(v, &again, &na, m, T, 32, 1);
	ck_assert_mem_eq(again, y32, na * sizeof *again);
	free(again);
	free(y0);
	free(y32);
	vocoder_free(v);
	free(m);
	free(x);
}
END_TEST

static Suite *speech_suite(void)
{
	Suite *s = suite_create("speech");
	TCase *tc = tcase_create("speech");
	tcase_add_checked_fixture(tc, make_workdir, remove_workdir);
	tcase_add_test(tc, test_mel_matches_numpy);
	tcase_add_test(tc, test_stft_inverse_reconstructs);
	tcase_add_test(tc, test_audio_resample_and_mixdown);
	tcase_add_test(tc, test_audio_wav_roundtrip_and_memory);
	tcase_add_test(tc, test_audio_errors);
	tcase_add_test(tc, test_audio_truncated);
	tcase_add_test(tc, test_audio_ids);
	tcase_add_test(tc, test_kmeans_finds_blobs);
	tcase_add_test(tc, test_kmeans_assign_matches_brute_force);
	tcase_add_test(tc, test_kmeans_deterministic_across_threads);
	tcase_add_test(tc, test_speechtok_fit_save_load_encode);
	tcase_add_test(tc, test_speechtok_rejects_bad_files);
	tcase_add_test(tc, test_speechtok_utterance_norm_ignores_volume);
	tcase_add_test(tc, test_vocoder_griffin_lim_converges);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(speech_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
