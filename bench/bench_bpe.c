/* bench_bpe: how long fitting and applying the text tokenizer take.
 *
 * Reads lines from the files (or "-"; .gz is fine) up to a word budget,
 * fits a byte-level BPE of the given vocabulary, encodes every line,
 * decodes it back and checks the round trip. bench/bpe.sh runs it next to
 * sentencepiece's BPE trainer on the same corpus for a ratio. */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bpe.h"
#include "cli.h"
#include "xalloc.h"
#include "zio.h"

struct corpus {
	char *buf; /* lines back to back, each with its NUL */
	size_t len, cap;
	size_t *off, n, cap_off;
	size_t words;
};

static size_t count_words(const char *s, size_t n)
{
	size_t w = 0;
	for (size_t i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t' && (i == 0 || s[i - 1] == ' ' || s[i - 1] == '\t'))
			w++;
	return w;
}

static void read_corpus(struct corpus *c, char **files, int n_files, size_t max_words)
{
	for (int k = 0; k < n_files && c->words < max_words; k++) {
		struct zin *in = zin_open(files[k]);
		if (!in)
			cli_die("%s", zerr_msg());
		size_t len;
		for (char *line; c->words < max_words && (line = zin_getline(in, &len));) {
			xgrow(&c->buf, &c->cap, c->len + len + 1, 1);
			memcpy(c->buf + c->len, line, len + 1);
			xgrow(&c->off, &c->cap_off, c->n + 2, sizeof *c->off);
			c->off[c->n++] = c->len;
			c->len += len + 1;
			c->words += count_words(line, len);
		}
		if (zin_failed(in))
			cli_die("%s", zerr_msg());
		zin_close(in);
	}
	c->off[c->n] = c->len;
}

static void show_progress(void *ctx, long done, long total)
{
	progress_update(ctx, (double)done, NULL);
	(void)total;
}

int main(int argc, char **argv)
{
	static const struct cli_doc doc = {
		.name = "bench_bpe",
		.synopsis = "[-q] [-j n] [-v vocab] [-w words] file ...",
		.summary = "Time byte-level BPE fitting, encoding and decoding on a corpus.",
		.options = "  -v, --vocab N     vocabulary size (default 8000)\n"
			   "  -w, --words N     read at most N words (default 10000000)\n"
			   "  -o, --output F    save the tokenizer to F\n" CLI_COMMON_HELP,
		.example = "bench_bpe -v 8000 -w 10000000 corpus.txt",
		.see_also = "bench/bpe.sh, bench/README.md",
	};
	cli_init(&doc);
	struct cli_common common;
	cli_common_init(&common);
	long vocab = 8000, max_words = 10000000;
	const char *output = NULL;
	static const struct option longopts[] = {
		{"vocab", required_argument, NULL, 'v'},
		{"words", required_argument, NULL, 'w'},
		{"output", required_argument, NULL, 'o'},
		CLI_COMMON_LONGOPTS,
		{NULL, 0, NULL, 0},
	};
	for (int opt; (opt = getopt_long(argc, argv, "v:w:o:" CLI_COMMON_SHORTOPTS, longopts,
					 NULL)) != -1;) {
		if (opt == 'v')
			vocab = cli_parse_long(optarg, "--vocab", BPE_BASE_VOCAB, BPE_MAX_VOCAB);
		else if (opt == 'w')
			max_words = cli_parse_long(optarg, "--words", 1, 1L << 40);
		else if (opt == 'o')
			output = optarg;
		else if (!cli_common_option(&common, opt, optarg))
			cli_usage_error("unknown option");
	}
	if (optind == argc)
		cli_usage_error("no corpus files");
	cli_apply_threads(&common);

	struct corpus c = {0};
	double t0 = cli_now();
	read_corpus(&c, argv + optind, argc - optind, (size_t)max_words);
	const char **lines = xmallocarray(c.n + 1, sizeof *lines);
	size_t *lens = xmallocarray(c.n + 1, sizeof *lens);
	for (size_t i = 0; i < c.n; i++) {
		lines[i] = c.buf + c.off[i];
		lens[i] = c.off[i + 1] - c.off[i] - 1;
	}
	printf("corpus: %zu lines, %zu words, %.1f MB (read in %.2f s)\n", c.n, c.words,
	       (double)c.len / 1e6, cli_now() - t0);

	struct progress prog;
	progress_start(&prog, "merges", (double)(vocab - BPE_BASE_VOCAB), common.quiet);
	struct bpe_fit_opts o = {.threads = common.threads, .progress = show_progress, .ctx = &prog};
	t0 = cli_now();
	struct bpe *b = bpe_fit(lines, lens, c.n, (int)vocab, &o);
	double t_fit = cli_now() - t0;
	progress_end(&prog);
	if (!b)
		cli_die("%s", zerr_msg());
	printf("fit: vocab %d (%d merges) in %.2f s with %d threads: %.2f M words/s\n",
	       bpe_vocab_size(b), bpe_n_merges(b), t_fit, common.threads,
	       (double)c.words / t_fit / 1e6);

	int32_t *ids = NULL;
	size_t n_ids = 0, cap = 0;
	size_t *ends = xmallocarray(c.n + 1, sizeof *ends);
	t0 = cli_now();
	for (size_t i = 0; i < c.n; i++) {
		bpe_encode(b, lines[i], lens[i], &ids, &n_ids, &cap);
		ends[i] = n_ids;
	}
	double t_enc = cli_now() - t0;
	printf("encode: %zu tokens (%.2f bytes/token) in %.2f s: %.2f M words/s, %.1f MB/s\n",
	       n_ids, (double)(c.len - c.n) / (double)n_ids, t_enc, (double)c.words / t_enc / 1e6,
	       (double)c.len / t_enc / 1e6);

	char *text = NULL;
	size_t len = 0, tcap = 0, bad = 0;
	t0 = cli_now();
	for (size_t i = 0, from = 0; i < c.n; from = ends[i++]) {
		len = 0;
		if (bpe_decode(b, ids + from, ends[i] - from, &text, &len, &tcap) < 0)
			cli_die("%s", zerr_msg());
		bad += len != lens[i] || memcmp(text, lines[i], len);
	}
	double t_dec = cli_now() - t0;
	printf("decode: %.2f s: %.1f MB/s; round trip %s (%zu lines differ)\n", t_dec,
	       (double)c.len / t_dec / 1e6, bad ? "FAILED" : "exact", bad);
	if (output && bpe_save(b, output) < 0)
		cli_die("%s", zerr_msg());

	free(text);
	free(ends);
	free(ids);
	bpe_free(b);
	free(lines);
	free(lens);
	free(c.buf);
	free(c.off);
	return bad ? 1 : 0;
}
