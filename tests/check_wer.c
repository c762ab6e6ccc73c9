/* Unit tests for wer (interning, alignment, counts) and textnorm.
 *
 * The property tests compare wer_count()/wer_align() with two independent
 * references on thousands of random small cases: an enumeration of every
 * possible alignment (the true minimum cost and every count triple that
 * reaches it) and a full-matrix dynamic programme traced back from the end
 * with the documented preference (diagonal, insertion, deletion). */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"
#include "textnorm.h"
#include "wer.h"
#include "xalloc.h"
#include "zerr.h"

/* ---- helpers ---- */

/* Words of s (blank-separated) interned into v; returns the count. */
static size_t words(struct wer_vocab *v, const char *s, int32_t *out)
{
	size_t n = 0;
	while (*s) {
		while (*s == ' ')
			s++;
		size_t k = strcspn(s, " ");
		if (k)
			out[n++] = wer_vocab_intern(v, s, k);
		s += k;
	}
	return n;
}

START_TEST(test_vocab_intern)
{
	struct wer_vocab *v = wer_vocab_new();
	int32_t a = wer_vocab_intern(v, "cat", 3), b = wer_vocab_intern(v, "cats", 3);
	ck_assert_int_eq(a, b); /* only the first 3 bytes */
	ck_assert_int_ne(wer_vocab_intern(v, "cats", 4), a);
	ck_assert_int_ne(wer_vocab_intern(v, "", 0), a);
	char w[32];
	for (int i = 0; i < 5000; i++) { /* forces rehashing */
		snprintf(w, sizeof w, "w%d", i);
		ck_assert_int_eq(wer_vocab_intern(v, w, strlen(w)), i + 3);
	}
	for (int i = 0; i < 5000; i += 97) {
		snprintf(w, sizeof w, "w%d", i);
		ck_assert_int_eq(wer_vocab_intern(v, w, strlen(w)), i + 3);
		ck_assert_str_eq(wer_vocab_word(v, i + 3), w);
	}
	ck_assert_uint_eq(wer_vocab_count(v), 5003);
	ck_assert_str_eq(wer_vocab_word(v, a), "cat");
	wer_vocab_free(v);
}
END_TEST

/* Hand-worked alignments: counts and the exact operations. */
static const struct {
	const char *ref, *hyp;
	enum wer_costs costs;
	long long c, s, d, i;
	const char *ops;
} golden[] = {
	{"", "", WER_UNIT, 0, 0, 0, 0, ""},
	{"a b c", "", WER_UNIT, 0, 0, 3, 0, "DDD"},
	{"", "a b", WER_UNIT, 0, 0, 0, 2, "II"},
	{"a b c", "a b c", WER_UNIT, 3, 0, 0, 0, "CCC"},
	{"a b c", "x y z", WER_UNIT, 0, 3, 0, 0, "SSS"},
	{"a b c", "a c", WER_UNIT, 2, 0, 1, 0, "CDC"},
	{"a c", "a b c", WER_UNIT, 2, 0, 0, 1, "CIC"},
	{"a", "b", WER_UNIT, 0, 1, 0, 0, "S"},
	/* b a vs a b: sub+sub or del+ins (cost 2 each); tracing back from
	 * the end prefers the diagonal. */
	{"a b", "b a", WER_UNIT, 0, 2, 0, 0, "SS"},
	{"a b", "b a", WER_SCLITE, 1, 0, 1, 1, "DCI"},
	/* sclite: 3 subs (12) tie with 2 del + 2 ins (12)? no: shift wins. */
	{"x a b c", "a b c y", WER_SCLITE, 3, 0, 1, 1, "DCCCI"},
	{"x a b c", "a b c y", WER_UNIT, 3, 0, 1, 1, "DCCCI"},
	{"a b c d", "b c d a", WER_UNIT, 3, 0, 1, 1, "DCCCI"},
	{"a a", "a", WER_UNIT, 1, 0, 1, 0, "DC"}, /* the last a matches */
	{"a", "a a", WER_UNIT, 1, 0, 0, 1, "IC"},
	{"a b", "c", WER_UNIT, 0, 1, 1, 0, "DS"},
	{"c", "a b", WER_UNIT, 0, 1, 0, 1, "IS"},
	{"a b", "c", WER_SCLITE, 0, 1, 1, 0, "DS"},
};

START_TEST(test_align_golden)
{
	struct wer_vocab *v = wer_vocab_new();
	int32_t ref[16], hyp[16];
	char ops[40];
	for (size_t t = 0; t < sizeof golden / sizeof golden[0]; t++) {
		size_t n = words(v, golden[t].ref, ref), m = words(v, golden[t].hyp, hyp);
		struct wer_aligner *a = wer_aligner_new(golden[t].costs);
		struct wer_counts c = {0}, c2 = {0};
		wer_count(a, &c, ref, n, hyp, m);
		size_t k = wer_align(a, &c2, ops, ref, n, hyp, m);
		ops[k] = 0;
		ck_assert_msg(c.cor == golden[t].c && c.sub == golden[t].s && c.del == golden[t].d &&
				      c.ins == golden[t].i && (size_t)c.ref == n,
			      "case %zu '%s' vs '%s': C%lld S%lld D%lld I%lld", t, golden[t].ref,
			      golden[t].hyp, c.cor, c.sub, c.del, c.ins);
		ck_assert_msg(memcmp(&c, &c2, sizeof c) == 0, "case %zu: align and count differ", t);
		ck_assert_msg(strcmp(ops, golden[t].ops) == 0, "case %zu: ops %s, expected %s", t, ops,
			      golden[t].ops);
		wer_aligner_free(a);
	}
	wer_vocab_free(v);
}
END_TEST

START_TEST(test_rates)
{
	ck_assert(wer_rate(0, 0) == 0.0);
	ck_assert(wer_rate(3, 0) == 100.0);
	ck_assert(wer_rate(1, 4) == 25.0);
	ck_assert(wer_rate(6, 4) == 150.0);
}
END_TEST

/* ---- brute force ---- */

struct brute {
	int ws, wd, wi;
	int best;
	/* reachable[s][d][i] at the best cost */
	bool reach[8][8][8];
};

static void enumerate(struct brute *b, const int32_t *r, int n, const int32_t *h, int m, int i,
		      int j, int s, int d, int ins, int cost, bool record)
{
	if (cost > b->best && !record)
		return;
	if (i == n && j == m) {
		if (!record) {
			if (cost < b->best)
				b->best = cost;
		} else if (cost == b->best) {
			b->reach[s][d][ins] = true;
		}
		return;
	}
	if (i < n && j < m) {
		bool same = r[i] == h[j];
		enumerate(b, r, n, h, m, i + 1, j + 1, s + !same, d, ins, cost + (same ? 0 : b->ws),
			  record);
	}
	if (i < n)
		enumerate(b, r, n, h, m, i + 1, j, s, d + 1, ins, cost + b->wd, record);
	if (j < m)
		enumerate(b, r, n, h, m, i, j + 1, s, d, ins + 1, cost + b->wi, record);
}

/* Full (n+1)x(m+1) table, traced back from the end preferring diagonal,
 * insertion, deletion. */
static void full_matrix(const struct brute *b, const int32_t *r, int n, const int32_t *h, int m,
			int out[3])
{
	int D[8][8];
	for (int i = 0; i <= n; i++)
		for (int j = 0; j <= m; j++) {
			if (i == 0 || j == 0) {
				D[i][j] = i * b->wd + j * b->wi;
				continue;
			}
			int x = D[i - 1][j - 1] + (r[i - 1] == h[j - 1] ? 0 : b->ws);
			int y = D[i - 1][j] + b->wd, z = D[i][j - 1] + b->wi;
			D[i][j] = x < y ? (x < z ? x : z) : (y < z ? y : z);
		}
	out[0] = out[1] = out[2] = 0;
	for (int i = n, j = m; i > 0 || j > 0;) {
		if (i > 0 && j > 0 &&
		    D[i][j] == D[i - 1][j - 1] + (r[i - 1] == h[j - 1] ? 0 : b->ws)) {
			out[0] += r[i - 1] != h[j - 1];
			i--, j--;
		} else if (j > 0 && D[i][j] == D[i][j - 1] + b->wi) {
			out[2]++;
			j--;
		} else {
			out[1]++;
			i--;
		}
	}
}

/* Replays ops: C and S consume one of each (C equal, S different), D one
 * reference token, I one hypothesis token; all must be used up. */
static bool ops_valid(const char *ops, size_t k, const int32_t *r, size_t n, const int32_t *h,
		      size_t m, const struct wer_counts *c)
{
	size_t i = 0, j = 0;
	long long cnt[4] = {0};
	for (size_t x = 0; x < k; x++) {
		switch (ops[x]) {
		case WER_COR:
		case WER_SUB:
			if (i >= n || j >= m || (r[i] == h[j]) != (ops[x] == WER_COR))
				return false;
			cnt[ops[x] == WER_SUB]++;
			i++, j++;
			break;
		case WER_DEL:
			if (i++ >= n)
				return false;
			cnt[2]++;
			break;
		case WER_INS:
			if (j++ >= m)
				return false;
			cnt[3]++;
			break;
		default:
			return false;
		}
	}
	return i == n && j == m && cnt[0] == c->cor && cnt[1] == c->sub && cnt[2] == c->del &&
	       cnt[3] == c->ins;
}

static void property(enum wer_costs costs, uint64_t seed, int cases)
{
	struct rng g;
	rng_seed(&g, seed);
	struct wer_aligner *a = wer_aligner_new(costs);
	struct brute b = {.ws = costs == WER_SCLITE ? 4 : 1,
			  .wd = costs == WER_SCLITE ? 3 : 1,
			  .wi = costs == WER_SCLITE ? 3 : 1};
	int32_t r[7], h[7];
	char ops[16];
	for (int t = 0; t < cases; t++) {
		int n = (int)rng_below(&g, 7), m = (int)rng_below(&g, 7);
		int32_t vocab = 1 + (int32_t)rng_below(&g, 4);
		for (int i = 0; i < n; i++)
			r[i] = (int32_t)rng_below(&g, (uint64_t)vocab);
		for (int j = 0; j < m; j++)
			h[j] = (int32_t)rng_below(&g, (uint64_t)vocab);
		b.best = 1 << 30;
		memset(b.reach, 0, sizeof b.reach);
		enumerate(&b, r, n, h, m, 0, 0, 0, 0, 0, 0, false);
		enumerate(&b, r, n, h, m, 0, 0, 0, 0, 0, 0, true);
		int fm[3];
		full_matrix(&b, r, n, h, m, fm);
		struct wer_counts c = {0}, c2 = {0};
		wer_count(a, &c, r, (size_t)n, h, (size_t)m);
		size_t k = wer_align(a, &c2, ops, r, (size_t)n, h, (size_t)m);
		long long cost = b.ws * c.sub + b.wd * c.del + b.wi * c.ins;
		ck_assert_msg(cost == b.best, "case %d: cost %lld, brute force %d", t, cost, b.best);
		ck_assert_msg(b.reach[c.sub][c.del][c.ins], "case %d: counts not optimal", t);
		ck_assert_msg(c.sub == fm[0] && c.del == fm[1] && c.ins == fm[2],
			      "case %d: S%lld D%lld I%lld, full matrix S%d D%d I%d", t, c.sub, c.del,
			      c.ins, fm[0], fm[1], fm[2]);
		ck_assert_msg(memcmp(&c, &c2, sizeof c) == 0, "case %d: align and count differ", t);
		ck_assert_msg(ops_valid(ops, k, r, (size_t)n, h, (size_t)m, &c),
			      "case %d: bad operations", t);
		ck_assert_int_eq(c.ref, n);
	}
	wer_aligner_free(a);
}

START_TEST(test_property_unit)
{
	property(WER_UNIT, 1, 4000);
}
END_TEST

START_TEST(test_property_sclite)
{
	property(WER_SCLITE, 2, 4000);
}
END_TEST

/* The low-memory alignment (forced for every size) gives exactly the
 * matrix method's operations. */
static void same_as_matrix(enum wer_costs costs, uint64_t seed, int cases, int maxlen, int vocab)
{
	struct rng g;
	rng_seed(&g, seed);
	struct wer_aligner *full = wer_aligner_new(costs), *low = wer_aligner_new(costs);
	wer_aligner_matrix_limit(low, 0);
	int32_t *r = xmallocarray((size_t)maxlen, sizeof *r), *h = xmallocarray((size_t)maxlen, sizeof *h);
	char *o1 = xmalloc(2 * (size_t)maxlen + 1), *o2 = xmalloc(2 * (size_t)maxlen + 1);
	for (int t = 0; t < cases; t++) {
		size_t n = rng_below(&g, (uint64_t)maxlen + 1), m = rng_below(&g, (uint64_t)maxlen + 1);
		int32_t v = 1 + (int32_t)rng_below(&g, (uint64_t)vocab);
		for (size_t i = 0; i < n; i++)
			r[i] = (int32_t)rng_below(&g, (uint64_t)v);
		for (size_t j = 0; j < m; j++)
			h[j] = rng_below(&g, 4) ? r[rng_below(&g, n ? n : 1)] : (int32_t)rng_below(&g, (uint64_t)v);
		struct wer_counts c1 = {0}, c2 = {0};
		size_t k1 = wer_align(full, &c1, o1, r, n, h, m);
		size_t k2 = wer_align(low, &c2, o2, r, n, h, m);
		ck_assert_msg(k1 == k2 && memcmp(o1, o2, k1) == 0, "case %d (%zu x %zu): %.*s vs %.*s",
			      t, n, m, (int)k1, o1, (int)k2, o2);
		ck_assert(memcmp(&c1, &c2, sizeof c1) == 0);
	}
	wer_aligner_free(full);
	wer_aligner_free(low);
	free(r);
	free(h);
	free(o1);
	free(o2);
}

START_TEST(test_low_memory_alignment)
{
	same_as_matrix(WER_UNIT, 3, 3000, 30, 4);
	same_as_matrix(WER_SCLITE, 4, 3000, 30, 4);
	same_as_matrix(WER_UNIT, 5, 20, 400, 50);
	same_as_matrix(WER_SCLITE, 6, 20, 400, 50);
}
END_TEST

/* A 20,000-word utterance: counting needs one row, not a matrix. */
START_TEST(test_long_utterance)
{
	enum { N = 20000 };
	int32_t *r = xmallocarray(N, sizeof *r), *h = xmallocarray(N + 5, sizeof *h);
	for (int i = 0; i < N; i++)
		r[i] = h[i] = i % 1000;
	for (int i = 0; i < N; i += 100)
		h[i] = -1; /* 200 substitutions */
	for (int i = 0; i < 5; i++)
		h[N + i] = 7; /* 5 insertions */
	struct wer_aligner *a = wer_aligner_new(WER_UNIT);
	struct wer_counts c = {0};
	wer_count(a, &c, r, N, h, N + 5);
	ck_assert_int_eq(c.sub, 200);
	ck_assert_int_eq(c.ins, 5);
	ck_assert_int_eq(c.del, 0);
	ck_assert_int_eq(c.cor, N - 200);
	wer_aligner_free(a);
	free(r);
	free(h);
}
END_TEST

/* ---- textnorm ---- */

static const struct {
	unsigned flags;
	const char *in, *out;
} norm_cases[] = {
	{0, "  Hello,   World!  ", "Hello,   World!"},
	{TN_SPACE, "a \t b\u00a0\u00a0c", "a b c"},
	{TN_LOWER, "ÉCOLE Ğüş ΑΒΓ ΆΈ ДОМ Ёж İ", "école ğüş αβγ άέ дом ёж i"},
	{TN_LOWER, "ǅ ẞ", "ǅ ẞ"}, /* outside the folded blocks: unchanged */
	{TN_PUNCT, "Hello, world! «Oui» — don't.", "Hello world Oui  dont"},
	{TN_PUNCT | TN_APOS, "don't 'quoted' students' rock'n'roll it’s", "don't quoted students rock'n'roll it's"},
	{TN_PUNCT, "$5 + 3 = 8 ~", "$5 + 3 = 8 ~"},
	{TN_HYPHEN, "well-known pre–war co‐op", "well known pre war co op"},
	{TN_HYPHEN | TN_SPACE, "a - b", "a b"},
	{TN_NUMBERS, "42", "forty two"},
	{TN_NUMBERS, "route66", "route sixty six"},
	{TN_NUMBERS | TN_SPACE, "10:30", "ten : thirty"},
	{TN_NUMBERS | TN_SPACE, "1,234,567 12,34", "one million two hundred and thirty four thousand "
						 "five hundred and sixty seven twelve , thirty four"},
	{TN_NUMBERS | TN_SPACE, "3.14 0.5 2.", "three point one four zero point five two ."},
	{TN_NUMBERS | TN_SPACE, "1st 2nd 3rd 4th 21st 100th 1999th", "first second third fourth "
		"twenty first one hundredth nineteen hundred and ninety ninth"},
	{TN_NUMBERS | TN_SPACE, "3rds 007", "three rds zero zero seven"},
	{TN_ENGLISH, "Hello, World! It's 42 -- and 1999's “best” 3rd-rate UK.",
	 "hello world it's forty two and nineteen hundred and ninety nine's best third rate uk"},
	{TN_ENGLISH, "", ""},
	{TN_ENGLISH, " ... ", ""},
};

START_TEST(test_textnorm_cases)
{
	char *out = NULL;
	size_t cap = 0;
	for (size_t t = 0; t < sizeof norm_cases / sizeof norm_cases[0]; t++) {
		const char *in = norm_cases[t].in;
		ptrdiff_t n = textnorm_apply(&out, &cap, in, strlen(in), norm_cases[t].flags);
		ck_assert_msg(n >= 0 && strcmp(out, norm_cases[t].out) == 0,
			      "case %zu: '%s' -> '%s', expected '%s'", t, in, n >= 0 ? out : "(error)",
			      norm_cases[t].out);
		ck_assert_uint_eq((size_t)n, strlen(out));
	}
	free(out);
}
END_TEST

START_TEST(test_textnorm_invalid_utf8)
{
	char *out = NULL;
	size_t cap = 0;
	static const char *bad[] = {"ab\xff", "\xc3", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80"};
	for (size_t t = 0; t < sizeof bad / sizeof bad[0]; t++)
		ck_assert_int_eq(textnorm_apply(&out, &cap, bad[t], strlen(bad[t]), 0), -1);
	ck_assert_int_eq(textnorm_apply(&out, &cap, "ab\xff", 3, TN_ENGLISH), -1);
	ck_assert_str_eq(zerr_msg(), "invalid UTF-8 at byte 3");
	free(out);
}
END_TEST

/* The espeak-ng (voice en) readings these reproduce were checked with
 * `espeak-ng -q -x NUMBER` against `espeak-ng -q -x WORDS`. */
static const struct {
	const char *digits;
	bool ordinal;
	const char *words;
} number_cases[] = {
	{"0", false, "zero"},
	{"13", false, "thirteen"},
	{"20", true, "twentieth"},
	{"99", false, "ninety nine"},
	{"100", false, "one hundred"},
	{"101", false, "one hundred and one"},
	{"999", false, "nine hundred and ninety nine"},
	{"1000", false, "one thousand"},
	{"1001", false, "one thousand and one"},
	{"1099", false, "one thousand and ninety nine"},
	{"1100", false, "one thousand one hundred"},
	{"1850", false, "one thousand eight hundred and fifty"},
	{"1900", false, "nineteen hundred"},
	{"1999", false, "nineteen hundred and ninety nine"},
	{"2000", false, "two thousand"},
	{"2024", false, "two thousand and twenty four"},
	{"12345", false, "twelve thousand three hundred and forty five"},
	{"100001", false, "one hundred thousand and one"},
	{"1000100", false, "one million one hundred"},
	{"1234567", false, "one million two hundred and thirty four thousand five hundred and sixty seven"},
	{"2000000000", false, "two billion"},
	{"1000000000000000", false, "one quadrillion"},
	{"0123", false, "zero one two three"},
	{"12", true, "twelfth"},
	{"1000", true, "one thousandth"},
	{"0", true, "zeroth"},
	{"1234567890123456789", false, "one two three four five six seven eight nine zero one two "
				       "three four five six seven eight nine"},
};

START_TEST(test_number_words)
{
	char buf[512];
	for (size_t t = 0; t < sizeof number_cases / sizeof number_cases[0]; t++) {
		const char *d = number_cases[t].digits;
		int n = textnorm_number_words(buf, sizeof buf, d, strlen(d), number_cases[t].ordinal);
		ck_assert_msg(n >= 0 && strcmp(buf, number_cases[t].words) == 0, "%s -> '%s'", d, buf);
	}
	ck_assert_int_eq(textnorm_number_words(buf, 8, "1234", 4, false), -1);
}
END_TEST

START_TEST(test_case_roundtrip)
{
	/* Every letter the folding knows maps back with textnorm_upper. */
	for (uint32_t c = 0; c < 0x500; c++) {
		uint32_t l = textnorm_lower(c);
		if (l != c && c != 0x130)
			ck_assert_msg(textnorm_upper(l) == c, "U+%04X", (unsigned)c);
	}
}
END_TEST

static Suite *wer_suite(void)
{
	Suite *s = suite_create("wer");
	TCase *tc = tcase_create("wer");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_vocab_intern);
	tcase_add_test(tc, test_align_golden);
	tcase_add_test(tc, test_rates);
	tcase_add_test(tc, test_property_unit);
	tcase_add_test(tc, test_property_sclite);
	tcase_add_test(tc, test_long_utterance);
	tcase_add_test(tc, test_low_memory_alignment);
	tcase_add_test(tc, test_textnorm_cases);
	tcase_add_test(tc, test_textnorm_invalid_utf8);
	tcase_add_test(tc, test_number_words);
	tcase_add_test(tc, test_case_roundtrip);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(wer_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
