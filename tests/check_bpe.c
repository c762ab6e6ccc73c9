/* Unit tests for lib/bpe: pre-tokenisation, hand-worked merges, the
 * reference fixture from tests/ref/bpe.py, round trips on any bytes,
 * determinism, and .tok files good and bad. */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bpe.h"
#include "rng.h"
#include "safetensors.h"
#include "xalloc.h"
#include "zerr.h"
#include "zio.h"

#include "workdir.h"

/* A corpus as the arrays bpe_fit takes; strings may hold NULs via lens. */
struct corpus {
	char **lines;
	size_t *lens;
	size_t n, cap_lines, cap_lens;
};

static void corpus_add(struct corpus *c, const char *s, size_t len)
{
	xgrow(&c->lines, &c->cap_lines, c->n + 1, sizeof *c->lines);
	xgrow(&c->lens, &c->cap_lens, c->n + 1, sizeof *c->lens);
	c->lines[c->n] = xmalloc(len + 1);
	memcpy(c->lines[c->n], s, len);
	c->lens[c->n++] = len;
}

static void corpus_free(struct corpus *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->lines[i]);
	free(c->lines);
	free(c->lens);
	memset(c, 0, sizeof *c);
}

static struct bpe *fit_strings(const char *const *s, size_t n, int vocab, long min_count)
{
	size_t *lens = xmallocarray(n, sizeof *lens);
	for (size_t i = 0; i < n; i++)
		lens[i] = strlen(s[i]);
	struct bpe_fit_opts o = {.min_count = min_count};
	struct bpe *b = bpe_fit(s, lens, n, vocab, &o);
	free(lens);
	ck_assert_msg(b != NULL, "%s", zerr_msg());
	return b;
}

static void assert_merges(const struct bpe *b, const int32_t (*want)[2], int n)
{
	ck_assert_int_eq(bpe_n_merges(b), n);
	ck_assert_int_eq(bpe_vocab_size(b), BPE_BASE_VOCAB + n);
	for (int i = 0; i < n; i++) {
		int32_t l, r;
		bpe_merge(b, i, &l, &r);
		ck_assert_msg(l == want[i][0] && r == want[i][1],
			      "merge %d: (%d, %d), expected (%d, %d)", i, l, r, want[i][0],
			      want[i][1]);
	}
}

static void assert_same_merges(const struct bpe *x, const struct bpe *y)
{
	ck_assert_int_eq(bpe_n_merges(x), bpe_n_merges(y));
	for (int i = 0; i < bpe_n_merges(x); i++) {
		int32_t a, b, c, d;
		bpe_merge(x, i, &a, &b);
		bpe_merge(y, i, &c, &d);
		ck_assert_msg(a == c && b == d, "merge %d differs: (%d,%d) vs (%d,%d)", i, a, b,
			      c, d);
	}
}

/* Encode, compare with want (when not NULL), decode, compare with s. */
static void assert_round_trip(const struct bpe *b, const char *s, size_t n, const int32_t *want,
			      size_t n_want)
{
	int32_t *ids = NULL;
	size_t n_ids = 0, cap = 0;
	ck_assert_int_eq(bpe_encode(b, s, n, &ids, &n_ids, &cap), 0);
	if (want) {
		ck_assert_uint_eq(n_ids, n_want);
		for (size_t i = 0; i < n_ids; i++)
			ck_assert_msg(ids[i] == want[i], "id %zu: %d, expected %d", i, ids[i],
				      want[i]);
	}
	for (size_t i = 0; i < n_ids; i++)
		ck_assert(ids[i] >= BPE_BYTE0 && ids[i] < bpe_vocab_size(b));
	char *back = NULL;
	size_t len = 0, bcap = 0;
	ck_assert_int_eq(bpe_decode(b, ids, n_ids, &back, &len, &bcap), 0);
	ck_assert_uint_eq(len, n);
	ck_assert(n == 0 || !memcmp(back, s, n));
	free(ids);
	free(back);
}

#define B(c) (BPE_BYTE0 + (c)) /* the id of a byte */

START_TEST(test_pieces)
{
	static const struct {
		const char *in;
		const char *want; /* pieces separated by '|' */
	} cases[] = {
		{"Hi,  you 42", "Hi|,| | you| 42"},
		{"hello world", "hello| world"},
		{" lead", " lead"},
		{"trail ", "trail| "},
		{"a\tb", "a|\t|b"},
		{"x1y", "x|1|y"},
		{"caf\xc3\xa9 ok", "caf\xc3\xa9| ok"},
		{"end...\"", "end|...\""},
		{" ,", " ,"},
		{"", ""},
	};
	for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
		const char *s = cases[k].in;
		size_t n = strlen(s);
		char got[64] = "";
		for (size_t i = 0; i < n;) {
			size_t e = bpe_piece_end(s, n, i);
			ck_assert(e > i && e <= n);
			if (i)
				strcat(got, "|");
			strncat(got, s + i, e - i);
			i = e;
		}
		ck_assert_msg(!strcmp(got, cases[k].want), "'%s' -> '%s', expected '%s'", s, got,
			      cases[k].want);
	}
}
END_TEST

START_TEST(test_piece_length_is_capped)
{
	char s[600];
	memset(s, 'a', sizeof s);
	ck_assert_uint_eq(bpe_piece_end(s, sizeof s, 0), BPE_MAX_PIECE);
	ck_assert_uint_eq(bpe_piece_end(s, sizeof s, 512), 600);
	s[0] = ' ';
	ck_assert_uint_eq(bpe_piece_end(s, sizeof s, 0), BPE_MAX_PIECE);
}
END_TEST

/* Pieces "ab" " ab" " abc" "cd". Counts: (a,b) 3, (' ',a) 2, (b,c) 1,
 * (c,d) 1. Merge 0 = (a,b) -> 259; then (' ',259) 2 -> 260; then
 * (260,c) and (c,d) tie at 1, and (c,d) = (102,103) is the smaller pair. */
START_TEST(test_hand_worked_merges)
{
	const char *lines[] = {"ab ab abc", "cd"};
	static const int32_t want[][2] = {
		{B('a'), B('b')}, {B(' '), 259}, {B('c'), B('d')}, {260, B('c')}};
	struct bpe *b = fit_strings(lines, 2, 1000, 1);
	assert_merges(b, want, 4);
	/* "abc" -> (a,b) -> [259, c]; " ab" -> [' ', 259] -> [260]. */
	const int32_t ids[] = {259, B('c'), 260};
	assert_round_trip(b, "abc ab", 6, ids, 3);
	/* " abcd": (a,b) rank 0, (' ',259) rank 1, then (260,c) rank 3 never
	 * sees c, which (c,d) rank 2 took first. */
	const int32_t ids2[] = {260, 261};
	assert_round_trip(b, " abcd", 5, ids2, 2);
	bpe_free(b);

	/* The default min_count 2 stops after the first two. */
	struct bpe_fit_opts o = {0};
	size_t lens[] = {9, 2};
	b = bpe_fit(lines, lens, 2, 1000, &o);
	assert_merges(b, want, 2);
	bpe_free(b);

	/* The vocabulary size bounds the merges. */
	b = fit_strings(lines, 2, BPE_BASE_VOCAB + 1, 1);
	assert_merges(b, want, 1);
	bpe_free(b);
}
END_TEST

/* "aaaaa": (a,a) counts 4 (overlaps count); merging left to right gives
 * [A A a]; (A,a) and (A,A) tie at 1 and (259, 100) < (259, 259). */
START_TEST(test_hand_worked_overlaps)
{
	const char *lines[] = {"aaaaa"};
	static const int32_t want[][2] = {{B('a'), B('a')}, {259, B('a')}, {259, 260}};
	struct bpe *b = fit_strings(lines, 1, 1000, 1);
	assert_merges(b, want, 3);
	const int32_t ids[] = {261};
	assert_round_trip(b, "aaaaa", 5, ids, 1);
	const int32_t ids3[] = {260};
	assert_round_trip(b, "aaa", 3, ids3, 1);
	bpe_free(b);

	/* Overlapping occurrences outnumber a pair seen in two pieces:
	 * (a,a) 4 beats (x,y) 2 ... */
	const char *lines2[] = {"aaaaa", "xy", "xy"};
	b = fit_strings(lines2, 3, BPE_BASE_VOCAB + 1, 1);
	static const int32_t want2[][2] = {{B('a'), B('a')}};
	assert_merges(b, want2, 1);
	bpe_free(b);
	/* ... and lose to one seen in five. */
	const char *lines3[] = {"aaaaa", "xy", "xy", "xy", "xy", "xy"};
	b = fit_strings(lines3, 6, BPE_BASE_VOCAB + 1, 1);
	static const int32_t want3[][2] = {{B('x'), B('y')}};
	assert_merges(b, want3, 1);
	bpe_free(b);
}
END_TEST

static int hexval(int c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Hex (or "-" for empty) to bytes; returns the length. */
static size_t unhex(const char *h, size_t n, char *out)
{
	if (n == 1 && h[0] == '-')
		return 0;
	ck_assert(n % 2 == 0);
	for (size_t i = 0; i < n; i += 2) {
		int hi = hexval(h[i]), lo = hexval(h[i + 1]);
		ck_assert(hi >= 0 && lo >= 0);
		out[i / 2] = (char)(hi * 16 + lo);
	}
	return n / 2;
}

static char *fixture_path(const char *name)
{
	const char *top = getenv("top_srcdir");
	return xasprintf("%s/tests/data/%s", top ? top : ".", name);
}

/* The fixtures tests/ref/bpe.py writes: the format is in its docstring. */
static const char *const ref_fixtures[] = {"bpe_ref.txt", "bpe_ref_ties.txt"};

START_TEST(test_matches_reference)
{
	char *path = fixture_path(ref_fixtures[_i]);
	struct zin *in = zin_open(path);
	ck_assert_msg(in != NULL, "%s", zerr_msg());
	size_t n = 0, len;
	char *line = zin_getline(in, &len);
	ck_assert(line && sscanf(line, "corpus %zu", &n) == 1);
	struct corpus c = {0};
	char *buf = xmalloc(1 << 16);
	for (size_t i = 0; i < n; i++) {
		ck_assert_ptr_nonnull(line = zin_getline(in, &len));
		corpus_add(&c, buf, unhex(line, len, buf));
	}
	int vocab, min_count, n_merges, n_enc;
	ck_assert(sscanf(zin_getline(in, NULL), "fit %d %d", &vocab, &min_count) == 2);
	ck_assert(sscanf(zin_getline(in, NULL), "merges %d", &n_merges) == 1);
	int32_t(*want)[2] = xmallocarray((size_t)n_merges, sizeof *want);
	for (int i = 0; i < n_merges; i++)
		ck_assert(sscanf(zin_getline(in, NULL), "%d %d", &want[i][0], &want[i][1]) == 2);
	for (int threads = 1; threads <= 3; threads++) {
		struct bpe_fit_opts o = {.threads = threads, .min_count = min_count};
		struct bpe *b = bpe_fit((const char *const *)c.lines, c.lens, c.n, vocab, &o);
		ck_assert_msg(b != NULL, "%s", zerr_msg());
		assert_merges(b, (const int32_t(*)[2])want, n_merges);
		bpe_free(b);
	}
	struct bpe *b = bpe_from_merges(&want[0][0], n_merges);
	ck_assert(sscanf(zin_getline(in, NULL), "encode %d", &n_enc) == 1);
	int32_t *ids = xmallocarray(1 << 16, sizeof *ids);
	for (int k = 0; k < n_enc; k++) {
		ck_assert_ptr_nonnull(line = zin_getline(in, &len));
		char *sp = strchr(line, ' ');
		size_t hex_len = sp ? (size_t)(sp - line) : len, n_ids = 0;
		size_t blen = unhex(line, hex_len, buf);
		for (char *p = sp, *end; p && *p; p = end) {
			long id = strtol(p, &end, 10);
			if (end == p)
				break;
			ids[n_ids++] = (int32_t)id;
		}
		assert_round_trip(b, buf, blen, ids, n_ids);
	}
	ck_assert_ptr_null(zin_getline(in, NULL));
	/* Encoding the training corpus gives its training segmentation, so
	 * every line round-trips too. */
	for (size_t i = 0; i < c.n; i++)
		assert_round_trip(b, c.lines[i], c.lens[i], NULL, 0);
	bpe_free(b);
	free(ids);
	free(want);
	free(buf);
	corpus_free(&c);
	zin_close(in);
	free(path);
}
END_TEST

/* Lines of random bytes with many repeats, so there is something to merge. */
static void random_corpus(struct corpus *c, struct rng *r, size_t n, bool utf8)
{
	static const char *const words[] = {"zip", "per", " the", " t\xc3\xb6wer", " \xe6\x9d\xb1",
					    "\xff\xfe", "\x00\x01", " \n", "42", "..."};
	char buf[512];
	for (size_t i = 0; i < n; i++) {
		size_t len = 0, want = rng_below(r, 200);
		while (len < want) {
			if (utf8 || rng_below(r, 3)) {
				const char *w = words[rng_below(r, 10)];
				size_t wl = w[0] ? strlen(w) : 2; /* "\x00\x01" */
				memcpy(buf + len, w, wl);
				len += wl;
			} else {
				buf[len++] = (char)rng_below(r, 256);
			}
		}
		corpus_add(c, buf, len);
	}
}

START_TEST(test_round_trip_any_bytes)
{
	struct rng r;
	rng_seed(&r, 7);
	struct corpus c = {0};
	random_corpus(&c, &r, 300, false);
	struct bpe *b = bpe_fit((const char *const *)c.lines, c.lens, c.n, 700, NULL);
	ck_assert_msg(b != NULL, "%s", zerr_msg());
	ck_assert_int_gt(bpe_n_merges(b), 50);
	for (size_t i = 0; i < c.n; i++)
		assert_round_trip(b, c.lines[i], c.lens[i], NULL, 0);
	/* Unseen bytes, every length up to past two pieces. */
	char buf[600];
	for (size_t n = 0; n < sizeof buf; n += 1 + n / 8) {
		for (size_t i = 0; i < n; i++)
			buf[i] = (char)rng_below(&r, 256);
		assert_round_trip(b, buf, n, NULL, 0);
		memset(buf, rng_below(&r, 2) ? ' ' : 'z', n);
		assert_round_trip(b, buf, n, NULL, 0);
	}
	bpe_free(b);
	corpus_free(&c);
}
END_TEST

START_TEST(test_round_trip_utf8_text)
{
	struct rng r;
	rng_seed(&r, 8);
	struct corpus c = {0};
	random_corpus(&c, &r, 200, true);
	struct bpe *b = bpe_fit((const char *const *)c.lines, c.lens, c.n, 400, NULL);
	ck_assert_msg(b != NULL, "%s", zerr_msg());
	const char *text[] = {"zipper the t\xc3\xb6wer \xe6\x9d\xb1\xe4\xba\xac", "per...42 zip",
			      "\xf0\x9f\x98\x80 emoji", "  double  spaces  "};
	for (size_t i = 0; i < 4; i++)
		assert_round_trip(b, text[i], strlen(text[i]), NULL, 0);
	/* A frequent word becomes one token. */
	int32_t *ids = NULL;
	size_t n_ids = 0, cap = 0;
	bpe_encode(b, " t\xc3\xb6wer", 7, &ids, &n_ids, &cap);
	ck_assert_uint_eq(n_ids, 1);
	size_t len;
	const char *tb = bpe_token_bytes(b, ids[0], &len);
	ck_assert(len == 7 && !memcmp(tb, " t\xc3\xb6wer", 7));
	free(ids);
	bpe_free(b);
	corpus_free(&c);
}
END_TEST

START_TEST(test_deterministic)
{
	struct rng r;
	rng_seed(&r, 9);
	struct corpus c = {0};
	random_corpus(&c, &r, 6000, false); /* enough lines to count in parallel */
	struct bpe_fit_opts o1 = {.threads = 1}, o2 = {.threads = 2};
	struct bpe *a = bpe_fit((const char *const *)c.lines, c.lens, c.n, 800, &o1);
	struct bpe *b = bpe_fit((const char *const *)c.lines, c.lens, c.n, 800, &o2);
	assert_same_merges(a, b);
	/* The order of lines does not matter either. */
	for (size_t i = 0; i < c.n / 2; i++) {
		size_t j = c.n - 1 - i;
		char *l = c.lines[i];
		size_t n = c.lens[i];
		c.lines[i] = c.lines[j], c.lens[i] = c.lens[j];
		c.lines[j] = l, c.lens[j] = n;
	}
	struct bpe *d = bpe_fit((const char *const *)c.lines, c.lens, c.n, 800, &o2);
	assert_same_merges(a, d);
	/* The streaming counter gives the same too. */
	struct bpe_counts *counts = bpe_counts_new();
	for (size_t i = 0; i < c.n; i++)
		bpe_counts_add(counts, c.lines[i], c.lens[i]);
	ck_assert_uint_gt(bpe_counts_unique(counts), 10);
	struct bpe *e = bpe_fit_counts(counts, 800, NULL);
	assert_same_merges(a, e);
	bpe_counts_free(counts);
	bpe_free(a);
	bpe_free(b);
	bpe_free(d);
	bpe_free(e);
	corpus_free(&c);
}
END_TEST

/* bpe_encode only reads the tokenizer, so threads may share one. */
START_TEST(test_encode_in_parallel)
{
	struct rng r;
	rng_seed(&r, 11);
	struct corpus c = {0};
	random_corpus(&c, &r, 400, true);
	struct bpe *b = bpe_fit((const char *const *)c.lines, c.lens, c.n, 600, NULL);
	size_t *serial = xcalloc(c.n, sizeof *serial), *parallel = xcalloc(c.n, sizeof *parallel);
	for (size_t i = 0; i < c.n; i++) {
		int32_t *ids = NULL;
		size_t n = 0, cap = 0;
		bpe_encode(b, c.lines[i], c.lens[i], &ids, &n, &cap);
		for (size_t k = 0; k < n; k++)
			serial[i] = serial[i] * 31 + (size_t)ids[k];
		free(ids);
	}
#pragma omp parallel for num_threads(4) schedule(dynamic, 7)
	for (size_t i = 0; i < c.n; i++) {
		int32_t *ids = NULL;
		size_t n = 0, cap = 0;
		bpe_encode(b, c.lines[i], c.lens[i], &ids, &n, &cap);
		for (size_t k = 0; k < n; k++)
			parallel[i] = parallel[i] * 31 + (size_t)ids[k];
		free(ids);
	}
	for (size_t i = 0; i < c.n; i++)
		ck_assert_uint_eq(serial[i], parallel[i]);
	free(serial);
	free(parallel);
	bpe_free(b);
	corpus_free(&c);
}
END_TEST

/* Two tokens with the same bytes: encoding follows the ranks, whatever id
 * comes first. "abc" here is 261 = (260, c) and 262 = (a, 259), and the
 * lowest-ranked pair in "abc" is (b, c) = 259, so it encodes to 262. */
START_TEST(test_same_bytes_two_tokens)
{
	const int32_t m[4][2] = {{B('b'), B('c')}, {B('a'), B('b')}, {260, B('c')}, {B('a'), 259}};
	struct bpe *b = bpe_from_merges(&m[0][0], 4);
	ck_assert_msg(b != NULL, "%s", zerr_msg());
	assert_round_trip(b, "abc", 3, (const int32_t[]){262}, 1);
	assert_round_trip(b, "ab", 2, (const int32_t[]){260}, 1);
	assert_round_trip(b, " abc abcab", 10,
			  (const int32_t[]){B(' '), 262, B(' '), 262, 260}, 5);
	bpe_free(b);
	/* The other order of the first two merges: now (a, b) is first. */
	const int32_t m2[4][2] = {{B('a'), B('b')}, {B('b'), B('c')}, {259, B('c')}, {B('a'), 260}};
	b = bpe_from_merges(&m2[0][0], 4);
	assert_round_trip(b, "abc", 3, (const int32_t[]){261}, 1);
	bpe_free(b);
}
END_TEST

static long progress_calls, progress_last;

static void count_progress(void *ctx, long done, long total)
{
	(void)ctx;
	ck_assert(done > progress_last && done <= total);
	progress_calls++;
	progress_last = done;
}

START_TEST(test_fit_options_and_errors)
{
	const char *lines[] = {"aaaa bbbb aaaa"};
	size_t lens[] = {14};
	ck_assert_ptr_null(bpe_fit(lines, lens, 1, BPE_BASE_VOCAB - 1, NULL));
	ck_assert_ptr_nonnull(strstr(zerr_msg(), "vocabulary size 258"));
	ck_assert_ptr_null(bpe_fit(lines, lens, 1, BPE_MAX_VOCAB + 1, NULL));
	/* An empty corpus or no merges wanted: just the bytes. */
	struct bpe *b = bpe_fit(lines, lens, 0, 1000, NULL);
	ck_assert_int_eq(bpe_vocab_size(b), BPE_BASE_VOCAB);
	assert_round_trip(b, "xyz", 3, (const int32_t[]){B('x'), B('y'), B('z')}, 3);
	bpe_free(b);
	b = bpe_fit(lines, lens, 1, BPE_BASE_VOCAB, NULL);
	ck_assert_int_eq(bpe_n_merges(b), 0);
	bpe_free(b);
	struct bpe_fit_opts o = {.min_count = 1, .progress = count_progress};
	progress_calls = progress_last = 0;
	b = bpe_fit(lines, lens, 1, 1000, &o);
	ck_assert_int_gt(progress_calls, 0);
	ck_assert_int_eq(progress_last, bpe_n_merges(b));
	bpe_free(b);
}
END_TEST

START_TEST(test_decode_specials_and_bad_ids)
{
	const char *lines[] = {"ab ab"};
	struct bpe *b = fit_strings(lines, 1, 1000, 1);
	int32_t ids[] = {BPE_BOS, B('x'), BPE_PAD, bpe_vocab_size(b) - 1, BPE_EOS};
	char *s = NULL;
	size_t len = 0, cap = 0;
	ck_assert_int_eq(bpe_decode(b, ids, 5, &s, &len, &cap), 0);
	ck_assert_str_eq(s, "x ab");
	/* Appends, and leaves the output alone on error. */
	int32_t bad[] = {B('y'), bpe_vocab_size(b)};
	ck_assert_int_eq(bpe_decode(b, bad, 2, &s, &len, &cap), -1);
	ck_assert_uint_eq(len, 4);
	ck_assert_str_eq(zerr_msg(), "token 2: id 261 outside the vocabulary (0..260)");
	int32_t neg[] = {-5};
	ck_assert_int_eq(bpe_decode(b, neg, 1, &s, &len, &cap), -1);
	ck_assert_ptr_nonnull(strstr(zerr_msg(), "id -5"));
	ck_assert_int_eq(bpe_decode(b, bad, 1, &s, &len, &cap), 0);
	ck_assert_str_eq(s, "x aby");
	size_t tl = 9;
	ck_assert_ptr_null(bpe_token_bytes(b, BPE_EOS, &tl));
	ck_assert_uint_eq(tl, 0);
	ck_assert_ptr_null(bpe_token_bytes(b, 5000, &tl));
	free(s);
	bpe_free(b);
}
END_TEST

START_TEST(test_from_merges_rejects_bad_tables)
{
	static const struct {
		int32_t m[3][2];
		int n;
		const char *err;
	} cases[] = {
		{{{B('a'), 259}}, 1, "merge 0: (100, 259): parts must be token ids in 3..258"},
		{{{BPE_EOS, B('a')}}, 1, "merge 0: (2, 100): parts must be"},
		{{{B('a'), B('b')}, {B('a'), B('b')}}, 2, "merge 1: (100, 101) repeats merge 0"},
		{{{B('a'), B('b')}, {259, 261}}, 2, "merge 1: (259, 261): parts must be"},
	};
	for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
		ck_assert_ptr_null(bpe_from_merges(&cases[k].m[0][0], cases[k].n));
		ck_assert_msg(strstr(zerr_msg(), cases[k].err), "'%s' lacks '%s'", zerr_msg(),
			      cases[k].err);
	}
	ck_assert_ptr_null(bpe_from_merges(NULL, -1));
	/* Doubling a token 9 times makes 512 bytes: no piece is that long. */
	int32_t dbl[9][2];
	for (int i = 0; i < 9; i++)
		dbl[i][0] = dbl[i][1] = i ? 258 + i : B('a');
	ck_assert_ptr_null(bpe_from_merges(&dbl[0][0], 9));
	ck_assert_ptr_nonnull(strstr(zerr_msg(), "merge 8: makes a token of 512 bytes"));
	struct bpe *b = bpe_from_merges(&dbl[0][0], 8);
	ck_assert_ptr_nonnull(b);
	bpe_free(b);
}
END_TEST

START_TEST(test_save_load)
{
	struct rng r;
	rng_seed(&r, 10);
	struct corpus c = {0};
	random_corpus(&c, &r, 200, false);
	struct bpe *b = bpe_fit((const char *const *)c.lines, c.lens, c.n, 500, NULL);
	char *path = path_in_work("text.tok");
	ck_assert_msg(bpe_save(b, path) == 0, "%s", zerr_msg());
	struct bpe *l = bpe_load(path);
	ck_assert_msg(l != NULL, "%s", zerr_msg());
	assert_same_merges(b, l);
	for (size_t i = 0; i < c.n; i++)
		assert_round_trip(l, c.lines[i], c.lens[i], NULL, 0);
	bpe_free(l);
	/* What other tools see. */
	struct st_file f;
	ck_assert_int_eq(st_open(&f, path), 0);
	ck_assert_str_eq(f.kind, "text-tokenizer");
	ck_assert_int_eq(f.version, 1);
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(f.config, "vocab_size");
	ck_assert_int_eq((int)v->valuedouble, bpe_vocab_size(b));
	const struct st_tensor *t = st_find(&f, "merges");
	ck_assert(t && t->dtype == ST_I32 && t->shape[0] == bpe_n_merges(b) && t->shape[1] == 2);
	st_close(&f);
	bpe_free(b);
	/* No merges at all is a valid tokenizer too. */
	b = bpe_from_merges(NULL, 0);
	ck_assert_int_eq(bpe_save(b, path), 0);
	bpe_free(b);
	ck_assert_msg((l = bpe_load(path)) != NULL, "%s", zerr_msg());
	ck_assert_int_eq(bpe_vocab_size(l), BPE_BASE_VOCAB);
	bpe_free(l);
	free(path);
	corpus_free(&c);
}
END_TEST

/* Write a .tok by hand: kind, version, config text (NULL: none) and merges. */
static char *write_tok(const char *kind, int version, const char *config, enum st_dtype dtype,
		       int ndim, const int64_t *shape, const void *data)
{
	char *path = path_in_work("bad.tok");
	cJSON *cfg = config ? cJSON_Parse(config) : NULL;
	struct st_writer *w = st_writer_new(kind, version, cfg);
	st_writer_add(w, "merges", dtype, ndim, shape, data);
	ck_assert_int_eq(st_writer_write(w, path), 0);
	st_writer_free(w);
	cJSON_Delete(cfg);
	return path;
}

static void expect_load_error(char *path, const char *err)
{
	ck_assert_ptr_null(bpe_load(path));
	if (getenv("BPE_SHOW_ERRORS"))
		fprintf(stderr, "%s\n", zerr_msg());
	ck_assert_msg(strstr(zerr_msg(), err), "'%s' lacks '%s'", zerr_msg(), err);
	ck_assert_msg(strstr(zerr_msg(), path), "'%s' does not name the file", zerr_msg());
	free(path);
}

#define CFG(n, v)                                                                           \
	"{\"type\":\"byte-bpe\",\"vocab_size\":" #v ",\"n_merges\":" #n ",\"pad_id\":0,"    \
	"\"bos_id\":1,\"eos_id\":2,\"byte_offset\":3,\"pretokenizer\":\"zipper-1\"}"

START_TEST(test_load_rejects_malformed)
{
	const int32_t good[2][2] = {{B('a'), B('b')}, {259, B('c')}};
	const int32_t bad[2][2] = {{B('a'), B('b')}, {260, B('c')}};
	const int32_t dup[2][2] = {{B('a'), B('b')}, {B('a'), B('b')}};
	const int64_t shape[2] = {2, 2}, flat[1] = {4}, wide[2] = {1, 4};
	char *ok = write_tok("text-tokenizer", 1, CFG(2, 261), ST_I32, 2, shape, good);
	struct bpe *b = bpe_load(ok);
	ck_assert_msg(b != NULL, "%s", zerr_msg());
	bpe_free(b);
	free(ok);

	expect_load_error(path_in_work("missing.tok"), "missing.tok");
	expect_load_error(write_tok("speech-tokenizer", 1, CFG(2, 261), ST_I32, 2, shape, good),
			  "not a text tokenizer (zipper.kind is \"speech-tokenizer\"");
	expect_load_error(write_tok("text-tokenizer", 2, CFG(2, 261), ST_I32, 2, shape, good),
			  "text tokenizer version 2");
	expect_load_error(write_tok("text-tokenizer", 1, NULL, ST_I32, 2, shape, good),
			  "no zipper.config");
	expect_load_error(write_tok("text-tokenizer", 1, CFG(2, 261), ST_F32, 2, shape, good),
			  "tensor merges: expected I32 [n_merges, 2]");
	expect_load_error(write_tok("text-tokenizer", 1, CFG(2, 261), ST_I32, 1, flat, good),
			  "found I32 [4]");
	expect_load_error(write_tok("text-tokenizer", 1, CFG(1, 260), ST_I32, 2, wide, good),
			  "found I32 [1, 4]");
	expect_load_error(write_tok("text-tokenizer", 1, CFG(3, 262), ST_I32, 2, shape, good),
			  "config: \"n_merges\" is 3, expected 2");
	expect_load_error(write_tok("text-tokenizer", 1, CFG(2, 300), ST_I32, 2, shape, good),
			  "config: \"vocab_size\" is 300, expected 261");
	expect_load_error(write_tok("text-tokenizer", 1, "{\"type\":\"unigram\"}", ST_I32, 2,
				    shape, good),
			  "config: \"type\" is not \"byte-bpe\"");
	expect_load_error(write_tok("text-tokenizer", 1, CFG(2, 261), ST_I32, 2, shape, bad),
			  "merge 1: (260, 102): parts must be token ids in 3..259");
	expect_load_error(write_tok("text-tokenizer", 1, CFG(2, 261), ST_I32, 2, shape, dup),
			  "merge 1: (100, 101) repeats merge 0");

	/* A file cut short, and one whose tensor bytes were changed. */
	char *path = write_tok("text-tokenizer", 1, CFG(2, 261), ST_I32, 2, shape, good);
	FILE *fp = fopen(path, "r+b");
	ck_assert_int_eq(fseek(fp, -1, SEEK_END), 0);
	ck_assert_int_eq(fputc(0x7f, fp), 0x7f);
	fclose(fp);
	expect_load_error(path, "merges");
	path = write_tok("text-tokenizer", 1, CFG(2, 261), ST_I32, 2, shape, good);
	ck_assert_int_eq(truncate(path, 20), 0);
	expect_load_error(path, "bad.tok");
}
END_TEST

static Suite *bpe_suite(void)
{
	Suite *s = suite_create("bpe");
	TCase *tc = tcase_create("bpe");
	tcase_add_checked_fixture(tc, make_workdir, remove_workdir);
	tcase_add_test(tc, test_pieces);
	tcase_add_test(tc, test_piece_length_is_capped);
	tcase_add_test(tc, test_hand_worked_merges);
	tcase_add_test(tc, test_hand_worked_overlaps);
	tcase_add_loop_test(tc, test_matches_reference, 0, 2);
	tcase_add_test(tc, test_round_trip_any_bytes);
	tcase_add_test(tc, test_round_trip_utf8_text);
	tcase_add_test(tc, test_deterministic);
	tcase_add_test(tc, test_encode_in_parallel);
	tcase_add_test(tc, test_same_bytes_two_tokens);
	tcase_add_test(tc, test_fit_options_and_errors);
	tcase_add_test(tc, test_decode_specials_and_bad_ids);
	tcase_add_test(tc, test_from_merges_rejects_bad_tables);
	tcase_add_test(tc, test_save_load);
	tcase_add_test(tc, test_load_rejects_malformed);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(bpe_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
