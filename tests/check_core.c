/* Unit tests for the foundation modules: zerr, xalloc, cli numbers, zio, rng. */
#include "config.h"

#include <check.h>
#include <dirent.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <omp.h>
#include <zlib.h>

#include "cli.h"
#include "rng.h"
#include "xalloc.h"
#include "zerr.h"
#include "zio.h"

#include "workdir.h"

/* Plain C (no ck_assert): also used by main() outside any test. */
static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return -1;
	int n = 0;
	for (struct dirent *e; (e = readdir(d));)
		if (e->d_name[0] != '.' || (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")))
			n++;
	closedir(d);
	return n;
}

START_TEST(test_zerr_prefix)
{
	zerr_set("line %d: bad", 3);
	zerr_prefix("%s", "a.txt");
	ck_assert_str_eq(zerr_msg(), "a.txt: line 3: bad");
}
END_TEST

START_TEST(test_arena_alignment_and_zeroing)
{
	struct arena a;
	arena_init(&a, 1000);
	char *p = arena_alloc(&a, 3);
	float *q = arena_floats(&a, 10);
	ck_assert_uint_eq((uintptr_t)p % 64, 0);
	ck_assert_uint_eq((uintptr_t)q % 64, 0);
	for (int i = 0; i < 10; i++)
		ck_assert(q[i] == 0.0f);
	q[0] = 1;
	arena_reset(&a);
	float *r = arena_floats(&a, 10);
	ck_assert(r == (float *)p && r[0] == 0.0f);
	arena_free(&a);
}
END_TEST

START_TEST(test_arena_overflow_aborts)
{
	struct arena a;
	arena_init(&a, 128);
	arena_alloc(&a, 100);
	arena_alloc(&a, 100); /* aborts: SIGABRT expected */
}
END_TEST

START_TEST(test_xgrow)
{
	int *v = NULL;
	size_t cap = 0;
	for (int i = 0; i < 1000; i++) {
		xgrow(&v, &cap, (size_t)i + 1, sizeof *v);
		v[i] = i;
	}
	ck_assert_uint_ge(cap, 1000);
	ck_assert_int_eq(v[999], 999);
	free(v);
}
END_TEST

static void write_raw(const char *path, const char *text, size_t n)
{
	FILE *f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(text, 1, n, f), n);
	fclose(f);
}

START_TEST(test_zin_lines_crlf_and_no_final_newline)
{
	char *p = path_in_work("a.txt");
	write_raw(p, "one\r\ntwo\n\nthree", 15);
	struct zin *in = zin_open(p);
	ck_assert_ptr_nonnull(in);
	size_t n;
	ck_assert_str_eq(zin_getline(in, &n), "one");
	ck_assert_uint_eq(n, 3);
	ck_assert_str_eq(zin_getline(in, NULL), "two");
	ck_assert_str_eq(zin_getline(in, NULL), "");
	ck_assert_str_eq(zin_getline(in, NULL), "three");
	ck_assert_int_eq(zin_lineno(in), 4);
	ck_assert_ptr_null(zin_getline(in, NULL));
	ck_assert(!zin_failed(in));
	zin_close(in);
	free(p);
}
END_TEST

START_TEST(test_zin_very_long_line_is_whole)
{
	/* 1 hour at 25 tokens/s, ~5 bytes a token: 450 kB; use 3 MB to be sure. */
	size_t n = 3u << 20;
	char *text = xmalloc(n + 8);
	for (size_t i = 0; i < n; i++)
		text[i] = (char)('a' + i % 26);
	memcpy(text + n, "\nend\n", 5);
	char *p = path_in_work("long.txt.gz");
	gzFile gz = gzopen(p, "wb");
	ck_assert_int_eq(gzwrite(gz, text, (unsigned)(n + 5)), (int)(n + 5));
	gzclose(gz);
	struct zin *in = zin_open(p);
	size_t len;
	char *line = zin_getline(in, &len);
	ck_assert_uint_eq(len, n);
	ck_assert(memcmp(line, text, n) == 0);
	ck_assert_str_eq(zin_getline(in, NULL), "end");
	zin_close(in);
	free(text);
	free(p);
}
END_TEST

START_TEST(test_zin_missing_file)
{
	ck_assert_ptr_null(zin_open("/nonexistent/file.txt"));
	ck_assert_str_eq(zerr_msg(), "/nonexistent/file.txt: No such file or directory");
	ck_assert_ptr_null(zin_open("/"));
	ck_assert_str_eq(zerr_msg(), "/: is a directory");
}
END_TEST

START_TEST(test_zin_corrupt_gzip_is_an_error)
{
	char *p = path_in_work("bad.gz");
	/* gzip magic, then garbage */
	write_raw(p, "\x1f\x8b\x08\x00garbagegarbagegarbage", 25);
	struct zin *in = zin_open(p);
	ck_assert_ptr_nonnull(in);
	while (zin_getline(in, NULL))
		;
	ck_assert(zin_failed(in));
	ck_assert_ptr_nonnull(strstr(zerr_msg(), "read error"));
	zin_close(in);
	free(p);
}
END_TEST

START_TEST(test_zout_roundtrip_plain_and_gz)
{
	const char *names[] = {"out.txt", "out.txt.gz"};
	for (int k = 0; k < 2; k++) {
		char *p = path_in_work(names[k]);
		struct zout *out = zout_open(p);
		ck_assert_ptr_nonnull(out);
		for (int i = 0; i < 10000; i++)
			ck_assert_int_eq(zout_printf(out, "utt%05d %d\n", i, i * 7), 0);
		ck_assert_int_eq(zout_commit(out), 0);
		struct zin *in = zin_open(p);
		for (int i = 0; i < 10000; i++) {
			char want[64];
			snprintf(want, sizeof want, "utt%05d %d", i, i * 7);
			ck_assert_str_eq(zin_getline(in, NULL), want);
		}
		ck_assert_ptr_null(zin_getline(in, NULL));
		zin_close(in);
		/* the .gz one really is compressed */
		FILE *f = fopen(p, "rb");
		int c0 = fgetc(f), c1 = fgetc(f);
		fclose(f);
		ck_assert_int_eq(c0 == 0x1f && c1 == 0x8b, k == 1);
		free(p);
	}
	ck_assert_int_eq(count_entries(workdir), 2); /* no temporary files left */
}
END_TEST

START_TEST(test_zout_abort_keeps_old_file)
{
	char *p = path_in_work("keep.txt");
	write_raw(p, "precious\n", 9);
	struct zout *out = zout_open(p);
	zout_puts(out, "half-written");
	zout_abort(out);
	struct zin *in = zin_open(p);
	ck_assert_str_eq(zin_getline(in, NULL), "precious");
	zin_close(in);
	ck_assert_int_eq(count_entries(workdir), 1);
	free(p);
}
END_TEST

static char exit_dir[64];

START_TEST(test_zout_exit_removes_temp)
{
	/* Runs in a forked child (CK_FORK): exit(1) must leave no temp file. */
	char *p = xasprintf("%s/x.txt", exit_dir);
	struct zout *out = zout_open(p);
	zout_puts(out, "partial");
	exit(1);
}
END_TEST

START_TEST(test_zout_unwritable_directory)
{
	ck_assert_ptr_null(zout_open("/nonexistent/dir/out.txt"));
	ck_assert_ptr_nonnull(strstr(zerr_msg(), "/nonexistent/dir/out.txt: cannot create"));
}
END_TEST

/* OMP_DYNAMIC=true (here: its setter) must not reach OpenBLAS, which hangs
 * when a team has fewer threads than it asked for. */
START_TEST(test_threads_are_not_dynamic)
{
	omp_set_dynamic(1);
	struct cli_common c;
	cli_common_init(&c);
	c.threads = 2;
	cli_apply_threads(&c);
	ck_assert_int_eq(omp_get_dynamic(), 0);
	ck_assert_int_eq(omp_get_max_threads(), 2);
}
END_TEST

START_TEST(test_rng_matches_reference)
{
	/* From tests/ref/rng.py, an independent implementation. */
	static const struct {
		uint64_t seed, want[4];
	} cases[] = {
		{0ULL, {0x99ec5f36cb75f2b4ULL, 0xbf6e1f784956452aULL, 0x1a5f849d4933e6e0ULL, 0x6aa594f1262d2d2cULL}},
		{1ULL, {0xb3f2af6d0fc710c5ULL, 0x853b559647364ceaULL, 0x92f89756082a4514ULL, 0x642e1c7bc266a3a7ULL}},
		{20241204ULL, {0x7a8a8e66eb79cc68ULL, 0xb44fa54f7a168162ULL, 0xd075199fd425d5d9ULL, 0x7e690da1cbbb2b47ULL}},
	};
	for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
		struct rng r;
		rng_seed(&r, cases[c].seed);
		for (int i = 0; i < 4; i++)
			ck_assert_uint_eq(rng_u64(&r), cases[c].want[i]);
	}
}
END_TEST

START_TEST(test_rng_ranges_and_moments)
{
	struct rng r;
	rng_seed(&r, 42);
	double sum = 0, sum2 = 0;
	int counts[7] = {0};
	enum { N = 200000 };
	for (int i = 0; i < N; i++) {
		float u = rng_float(&r);
		ck_assert(u >= 0.0f && u < 1.0f);
		counts[rng_below(&r, 7)]++;
		double z = rng_normal(&r);
		sum += z;
		sum2 += z * z;
	}
	ck_assert_double_lt(fabs(sum / N), 0.01);
	ck_assert_double_lt(fabs(sum2 / N - 1), 0.02);
	for (int k = 0; k < 7; k++)
		ck_assert_int_lt(abs(counts[k] - N / 7), N / 7 / 20);
}
END_TEST

START_TEST(test_rng_shuffle_is_a_permutation)
{
	struct rng r;
	rng_seed(&r, 7);
	int a[100], seen[100] = {0};
	for (int i = 0; i < 100; i++)
		a[i] = i;
	rng_shuffle_int(&r, a, 100);
	int moved = 0;
	for (int i = 0; i < 100; i++) {
		seen[a[i]]++;
		moved += a[i] != i;
	}
	for (int i = 0; i < 100; i++)
		ck_assert_int_eq(seen[i], 1);
	ck_assert_int_gt(moved, 90);
}
END_TEST

static Suite *core_suite(void)
{
	Suite *s = suite_create("core");
	TCase *tc = tcase_create("core");
	tcase_add_checked_fixture(tc, make_workdir, remove_workdir);
	tcase_add_test(tc, test_zerr_prefix);
	tcase_add_test(tc, test_arena_alignment_and_zeroing);
	tcase_add_test_raise_signal(tc, test_arena_overflow_aborts, SIGABRT);
	tcase_add_test(tc, test_xgrow);
	tcase_add_test(tc, test_zin_lines_crlf_and_no_final_newline);
	tcase_add_test(tc, test_zin_very_long_line_is_whole);
	tcase_add_test(tc, test_zin_missing_file);
	tcase_add_test(tc, test_zin_corrupt_gzip_is_an_error);
	tcase_add_test(tc, test_zout_roundtrip_plain_and_gz);
	tcase_add_test(tc, test_zout_abort_keeps_old_file);
	tcase_add_exit_test(tc, test_zout_exit_removes_temp, 1);
	tcase_add_test(tc, test_zout_unwritable_directory);
	tcase_add_test(tc, test_threads_are_not_dynamic);
	tcase_add_test(tc, test_rng_matches_reference);
	tcase_add_test(tc, test_rng_ranges_and_moments);
	tcase_add_test(tc, test_rng_shuffle_is_a_permutation);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	/* The exit test's directory outlives the forked child, so it is made here. */
	strcpy(exit_dir, "/tmp/check_core_exit.XXXXXX");
	if (!mkdtemp(exit_dir))
		return 1;
	SRunner *sr = srunner_create(core_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	int left = count_entries(exit_dir);
	rmdir(exit_dir);
	if (left != 0) {
		fprintf(stderr, "test_zout_exit_removes_temp: %d file(s) left behind\n", left);
		failed++;
	}
	return failed ? 1 : 0;
}
