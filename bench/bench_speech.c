/* bench_speech: speed of the speech tokenizer's three heavy paths, each
 * against a reference measured in the same run.
 *
 *   tokenize     WAV image in memory -> decode -> log-mel -> tokens (k 1024,
 *                25/s), one thread: real-time factor per core (target 500x);
 *   k-means fit  N frames x 320 dims, k 1024, a few Lloyd iterations:
 *                seconds and GFLOP/s, against cblas_sgemm's rate on the
 *                block shape k-means uses, measured just before;
 *   detokenize   tokens -> log-mel -> 32 Griffin-Lim iterations -> PCM, one
 *                thread: real-time factor (target 20x).
 * The audio is a synthetic voiced signal (harmonics with a wandering pitch
 * and loudness, plus noise), which costs what speech costs. */
#include "config.h"

#include <cblas.h>
#include <getopt.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audio.h"
#include "cli.h"
#include "kmeans.h"
#include "mel.h"
#include "rng.h"
#include "speechtok.h"
#include "vocoder.h"
#include "xalloc.h"

static float *voiced(size_t n, struct rng *r)
{
	float *x = xmallocarray(n, sizeof *x);
	double ph = 0, f0 = 110;
	for (size_t i = 0; i < n; i++) {
		if (i % 4000 == 0)
			f0 = 90 + 120 * rng_double(r);
		ph += 2 * M_PI * f0 * (1 + 0.2 * sin(i * 2e-4)) / AUDIO_RATE;
		double s = 0;
		for (int h = 1; h <= 20; h++)
			s += sin(h * ph) / h;
		x[i] = (float)(0.15 * s * (0.55 + 0.45 * sin(i * 7e-4)) + 0.01 * rng_normal(r));
	}
	return x;
}

/* A tokenizer with a random codebook: encoding costs what a trained one does. */
static struct speechtok *random_tokenizer(int k, struct rng *r)
{
	struct speechtok *t = xcalloc(1, sizeof *t);
	t->k = k;
	t->rate = 25;
	t->stack = 4;
	t->dim = 4 * MEL_NMELS;
	for (int b = 0; b < MEL_NMELS; b++) {
		t->mean[b] = -8;
		t->std[b] = 3;
	}
	t->codebook = xmallocarray((size_t)k * (size_t)t->dim, sizeof(float));
	for (size_t i = 0; i < (size_t)k * (size_t)t->dim; i++)
		t->codebook[i] = (float)rng_normal(r);
	return t;
}

static double bench_tokenize(double seconds, int k, struct rng *r)
{
	size_t n = (size_t)(seconds * AUDIO_RATE);
	float *x = voiced(n, r);
	/* The WAV image, so reading and decoding are timed too. */
	char path[] = "/tmp/bench_speech.XXXXXX";
	int fd = mkstemp(path);
	if (fd < 0)
		cli_die("cannot make a temporary file");
	close(fd);
	if (audio_write_wav(path, x, n) < 0)
		cli_die("%s", zerr_msg());
	free(x);
	FILE *f = fopen(path, "rb");
	fseek(f, 0, SEEK_END);
	size_t len = (size_t)ftell(f);
	fseek(f, 0, SEEK_SET);
	unsigned char *img = xmalloc(len);
	if (fread(img, 1, len, f) != len)
		cli_die("short read");
	fclose(f);
	remove(path);

	struct speechtok *t = random_tokenizer(k, r);
	struct mel *m = mel_new();
	double t0 = cli_now();
	struct audio a;
	if (audio_read_mem(&a, img, len, "bench", 0) < 0)
		cli_die("%s", zerr_msg());
	size_t T = mel_frames(a.n);
	float *mel = xmallocarray(T * MEL_NMELS, sizeof *mel);
	mel_compute(m, mel, a.pcm, a.n);
	double t_mel = cli_now();
	int32_t *ids = xmallocarray(speechtok_n_tokens(t, T), sizeof *ids);
	speechtok_encode(t, ids, mel, T);
	double t1 = cli_now();
	printf("tokenize: %.0f s of 16 kHz audio in %.3f s (read+mel %.3f s, codebook %.3f s), "
	       "one thread: %.0fx real time per core (target 500x)\n",
	       seconds, t1 - t0, t_mel - t0, t1 - t_mel, seconds / (t1 - t0));
	free(ids);
	free(mel);
	audio_free(&a);
	mel_free(m);
	free(t->codebook);
	free(t);
	free(img);
	return seconds / (t1 - t0);
}

/* GFLOP/s of cblas_sgemm on the (512 x d) x (d x k) block k-means uses. */
static double sgemm_rate(int k, int d, struct rng *r)
{
	int B = KMEANS_BLOCK;
	size_t blocks = 64;
	float *X = xmallocarray((size_t)B * d * blocks, sizeof *X);
	float *C = xmallocarray((size_t)k * d, sizeof *C);
	for (size_t i = 0; i < (size_t)B * d * blocks; i++)
		X[i] = (float)rng_normal(r);
	for (size_t i = 0; i < (size_t)k * d; i++)
		C[i] = (float)rng_normal(r);
	double best = 0;
	for (int rep = 0; rep < 3; rep++) {
		double t0 = cli_now();
#pragma omp parallel
		{
			float *G = xmallocarray((size_t)B * k, sizeof *G);
#pragma omp for schedule(dynamic, 1)
			for (size_t b = 0; b < blocks; b++)
				cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, k, d, -2.0f,
					    X + b * (size_t)B * d, d, C, d, 0.0f, G, k);
			free(G);
		}
		double s = cli_now() - t0, rate = 2.0 * B * k * d * blocks / s / 1e9;
		best = rate > best ? rate : best;
	}
	free(X);
	free(C);
	return best;
}

static void bench_kmeans(size_t n, int k, int iters, struct rng *r)
{
	enum { D = 4 * MEL_NMELS };
	double peak = sgemm_rate(k, D, r);
	/* Frames drawn around 4 k centres, so the clusters are not trivial. */
	float *X = xmallocarray(n * D, sizeof *X);
	float *centres = xmallocarray((size_t)4 * k * D, sizeof *centres);
	for (size_t i = 0; i < (size_t)4 * k * D; i++)
		centres[i] = (float)rng_normal(r);
	for (size_t i = 0; i < n; i++) {
		const float *c = centres + rng_below(r, (uint64_t)4 * k) * D;
		for (int j = 0; j < D; j++)
			X[i * D + j] = c[j] + 0.5f * (float)rng_normal(r);
	}
	free(centres);
	struct kmeans_opts o;
	kmeans_opts_default(&o, k);
	o.max_iters = iters;
	o.tol = 0;
	o.quiet = true;
	float *C = xmallocarray((size_t)k * D, sizeof *C);
	struct kmeans_stats st;
	if (kmeans_fit(C, X, n, D, &o, &st) < 0)
		cli_die("%s", zerr_msg());
	double lloyd = st.seconds - st.init_seconds, rate = st.flops / lloyd / 1e9;
	printf("k-means: %zu frames x %d dims, k %d, %d Lloyd iterations in %.1f s "
	       "(+ %.1f s k-means++ on %d frames), %.1f s per iteration, %.0f GFLOP/s in the "
	       "distance products; cblas_sgemm on the same blocks: %.0f GFLOP/s (%.0f%%); %d threads\n",
	       n, D, k, st.iters, lloyd, st.init_seconds, n < 8 * (size_t)k ? (int)n : 8 * k,
	       lloyd / st.iters, rate, peak, 100 * rate / peak, omp_get_max_threads());
	printf("k-means: 1M-frame estimate: %.0f s per iteration\n", lloyd / st.iters * 1e6 / n);
	free(C);
	free(X);
}

static double bench_detokenize(double seconds, int k, int gl_iters, struct rng *r)
{
	struct speechtok *t = random_tokenizer(k, r);
	size_t n = (size_t)(seconds * AUDIO_RATE);
	float *x = voiced(n, r);
	size_t T = mel_frames(n);
	float *mel = xmallocarray(T * MEL_NMELS, sizeof *mel);
	struct mel *m = mel_new();
	mel_compute(m, mel, x, n);
	size_t nt = speechtok_n_tokens(t, T);
	int32_t *ids = xmallocarray(nt, sizeof *ids);
	speechtok_encode(t, ids, mel, T);
	float *back = xmallocarray(nt * 4 * MEL_NMELS, sizeof *back);
	struct vocoder *v = vocoder_new();
	double t0 = cli_now();
	speechtok_decode(t, back, ids, nt);
	float *pcm;
	size_t len;
	vocoder_synth(v, &pcm, &len, back, nt * 4, gl_iters, 1);
	double s = cli_now() - t0;
	printf("detokenize: %.0f s of audio with %d Griffin-Lim iterations in %.2f s, one thread: "
	       "%.0fx real time (target 20x)\n",
	       (double)len / AUDIO_RATE, gl_iters, s, (double)len / AUDIO_RATE / s);
	free(pcm);
	vocoder_free(v);
	free(back);
	free(ids);
	mel_free(m);
	free(mel);
	free(x);
	free(t->codebook);
	free(t);
	return (double)len / AUDIO_RATE / s;
}

int main(int argc, char **argv)
{
	static const struct cli_doc doc = {
		.name = "bench_speech",
		.synopsis = "[-j n] [--seconds s] [--frames n] [-k k] [--iters n] [--gl-iters n] [--skip-kmeans]",
		.summary = "Time tokenizing, k-means fitting and detokenizing.",
		.options = "",
		.example = "bench_speech --frames 1000000",
		.see_also = "bench/README.md",
	};
	static const struct option longopts[] = {
		CLI_COMMON_LONGOPTS,
		{"seconds", required_argument, NULL, 's'},
		{"frames", required_argument, NULL, 'n'},
		{"iters", required_argument, NULL, 'i'},
		{"gl-iters", required_argument, NULL, 'g'},
		{"skip-kmeans", no_argument, NULL, 'K'},
		{NULL, 0, NULL, 0},
	};
	struct cli_common common;
	double seconds = 120;
	long frames = 200000, k = 1024, iters = 5, gl = 32;
	bool skip_kmeans = false;
	cli_init(&doc);
	cli_common_init(&common);
	for (int c; (c = getopt_long(argc, argv, CLI_COMMON_SHORTOPTS "k:", longopts, NULL)) != -1;) {
		switch (c) {
		case 's': seconds = cli_parse_double(optarg, "--seconds", 1, 1e6); break;
		case 'n': frames = cli_parse_long(optarg, "--frames", 1024, 100000000); break;
		case 'k': k = cli_parse_long(optarg, "-k", 2, 65536); break;
		case 'i': iters = cli_parse_long(optarg, "--iters", 1, 1000); break;
		case 'g': gl = cli_parse_long(optarg, "--gl-iters", 0, 1000); break;
		case 'K': skip_kmeans = true; break;
		default:
			if (!cli_common_option(&common, c, optarg))
				cli_usage_error("unexpected option");
		}
	}
	struct rng r;
	rng_seed(&r, 1);
	struct cli_common one = common;
	one.threads = 1;
	cli_apply_threads(&one);
	bench_tokenize(seconds, (int)k, &r);
	bench_detokenize(seconds / 4, (int)k, (int)gl, &r);
	if (!skip_kmeans) {
		cli_apply_threads(&common);
		bench_kmeans((size_t)frames, (int)k, (int)iters, &r);
	}
	return 0;
}
