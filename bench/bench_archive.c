/* bench_archive: token and tensor archive throughput, each against a simple
 * reference measured in the same run on the same file.
 *
 *   tokens: tok_next vs a plain fgets + strtol loop (what a quick reader does)
 *   tensors: tensor_next vs reading the same bytes with zin_read alone
 *
 * usage: bench_archive [UTTERANCES [TOKENS_PER_UTTERANCE]] (default 100000 250) */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "archive.h"
#include "rng.h"
#include "xalloc.h"
#include "zio.h"

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void die(void)
{
	fprintf(stderr, "bench_archive: %s\n", zerr_msg());
	exit(1);
}

/* The reference: fgets into a big buffer, then strtol over the line. */
static long naive_read(const char *path, size_t line_max)
{
	FILE *f = fopen(path, "r");
	char *line = xmalloc(line_max);
	long total = 0;
	while (fgets(line, (int)line_max, f)) {
		if (line[0] == '#')
			continue;
		char *p = strchr(line, ' '), *end;
		while (p) {
			long v = strtol(p, &end, 10);
			if (end == p)
				break;
			total += v >= 0;
			p = end;
		}
	}
	fclose(f);
	free(line);
	return total;
}

static void bench_tokens(const char *dir, long utts, int per)
{
	char *path = xasprintf("%s/bench.tok", dir);
	struct tok_header h = { true, "speech", 1026, "0123abcd4567ef89" };
	int32_t *ids = xmallocarray((size_t)per, sizeof *ids);
	struct rng g;
	rng_seed(&g, 1);
	double t0 = now();
	struct tok_writer *w = tok_create(path, &h);
	if (!w)
		die();
	for (long u = 0; u < utts; u++) {
		char id[32];
		snprintf(id, sizeof id, "spk%03ld-utt%06ld", u % 1000, u);
		for (int i = 0; i < per; i++)
			ids[i] = (int32_t)rng_below(&g, 1026);
		if (tok_write(w, id, ids, (size_t)per) < 0)
			die();
	}
	if (tok_commit(w) < 0)
		die();
	double t_write = now() - t0;

	t0 = now();
	struct tok_reader *r = tok_open(path, 0);
	const char *id;
	const int32_t *got;
	size_t n;
	long total = 0;
	int rc;
	while ((rc = tok_next(r, &id, &got, &n)) == 1)
		total += (long)n;
	if (rc < 0)
		die();
	tok_close(r);
	double t_read = now() - t0;

	t0 = now();
	long naive = naive_read(path, (size_t)per * 8 + 64);
	double t_naive = now() - t0;
	if (naive != total) {
		fprintf(stderr, "bench_archive: token counts differ: %ld vs %ld\n", total, naive);
		exit(1);
	}
	printf("tokens: %ld utterances x %d: write %.3f s, read %.3f s (%.1f M tokens/s); "
	       "fgets+strtol %.3f s; ratio %.2fx\n",
	       utts, per, t_write, t_read, (double)total / t_read / 1e6, t_naive, t_naive / t_read);
	unlink(path);
	free(path);
	free(ids);
}

static void bench_tensors(const char *dir, long utts)
{
	enum { T = 250, C = 80 };
	char *path = xasprintf("%s/bench.ark", dir);
	float *x = xmallocarray(T * C, sizeof *x);
	for (int i = 0; i < T * C; i++)
		x[i] = (float)i;
	int64_t shape[] = { T, C };
	double t0 = now();
	struct tensor_writer *w = tensor_create(path);
	for (long u = 0; u < utts; u++) {
		char id[32];
		snprintf(id, sizeof id, "utt%06ld", u);
		if (tensor_write(w, id, x, 2, shape) < 0)
			die();
	}
	if (tensor_commit(w) < 0)
		die();
	double t_write = now() - t0;

	t0 = now();
	struct tensor_reader *r = tensor_open(path);
	struct tensor_rec rec;
	size_t floats = 0;
	int rc;
	while ((rc = tensor_next(r, &rec)) == 1)
		floats += rec.count;
	if (rc < 0)
		die();
	tensor_close(r);
	double t_read = now() - t0;

	t0 = now();
	struct zin *in = zin_open(path);
	char *buf = xmalloc(1 << 20);
	size_t bytes = 0;
	for (ssize_t got; (got = zin_read(in, buf, 1 << 20)) > 0;)
		bytes += (size_t)got;
	zin_close(in);
	double t_raw = now() - t0;
	printf("tensors: %ld records of (%d, %d), %.0f MB: write %.3f s, read %.3f s (%.0f MB/s); "
	       "raw zin_read %.3f s; ratio %.2fx\n",
	       utts, T, C, (double)bytes / 1e6, t_write, t_read, (double)floats * 4 / t_read / 1e6,
	       t_raw, t_raw / t_read);
	unlink(path);
	free(path);
	free(buf);
	free(x);
}

int main(int argc, char **argv)
{
	long utts = argc > 1 ? atol(argv[1]) : 100000;
	int per = argc > 2 ? atoi(argv[2]) : 250;
	char dir[] = "/tmp/bench_archive.XXXXXX";
	if (!mkdtemp(dir)) {
		perror("bench_archive: mkdtemp");
		return 1;
	}
	bench_tokens(dir, utts, per);
	bench_tensors(dir, utts / 50);
	rmdir(dir);
	return 0;
}
