/* Unit tests for archive: ids, the key index, the keyed join, and the
 * readers and writers of every line and tensor format. */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "archive.h"
#include "xalloc.h"
#include "zerr.h"
#include "zio.h"

static char workdir[] = "/tmp/check_archive.XXXXXX";

static void make_workdir(void)
{
	strcpy(workdir, "/tmp/check_archive.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(workdir));
}

static void remove_workdir(void)
{
	char *cmd = xasprintf("rm -rf '%s'", workdir);
	ck_assert_int_eq(system(cmd), 0);
	free(cmd);
}

/* ---- ids ---- */

static bool valid(const char *s)
{
	return archive_valid_id(s, strlen(s));
}

START_TEST(test_valid_ids)
{
	ck_assert(valid("utt1"));
	ck_assert(valid("spk-01_utt.002"));
	ck_assert(valid("caf\xc3\xa9"));             /* é */
	ck_assert(valid("\xe2\x82\xac"));            /* € */
	ck_assert(valid("\xf0\x9f\x98\x80"));        /* U+1F600 */
	ck_assert(valid("\xf4\x8f\xbf\xbf"));        /* U+10FFFF */
	ck_assert(valid("\xed\x9f\xbf"));            /* U+D7FF, just below surrogates */
	ck_assert(valid("\xc2\xa0"));                /* no-break space is not ASCII blank */
	ck_assert(valid("#"));
}
END_TEST

static const struct {
	const char *id;
	const char *why;
} bad_ids[] = {
	{ "", "utterance id is empty" },
	{ "a b", "utterance id contains a blank" },
	{ "a\tb", "utterance id contains a blank" },
	{ "a\rb", "utterance id contains a control character" },
	{ "\x01", "utterance id contains a control character" },
	{ "a\x7f", "utterance id contains a control character" },
	{ "\xc2\x85", "utterance id contains a control character" }, /* U+0085 (C1) */
	{ "\x80", "utterance id is not valid UTF-8" },             /* lone continuation */
	{ "\xc3", "utterance id is not valid UTF-8" },             /* truncated */
	{ "\xe2\x82", "utterance id is not valid UTF-8" },         /* truncated */
	{ "\xc3(", "utterance id is not valid UTF-8" },            /* bad continuation */
	{ "\xc0\xaf", "utterance id is not valid UTF-8" },         /* overlong '/' */
	{ "\xc1\xbf", "utterance id is not valid UTF-8" },         /* overlong */
	{ "\xe0\x80\xaf", "utterance id is not valid UTF-8" },     /* overlong 3-byte */
	{ "\xf0\x80\x80\xaf", "utterance id is not valid UTF-8" }, /* overlong 4-byte */
	{ "\xed\xa0\x80", "utterance id is not valid UTF-8" },     /* U+D800 surrogate */
	{ "\xed\xbf\xbf", "utterance id is not valid UTF-8" },     /* U+DFFF surrogate */
	{ "\xf4\x90\x80\x80", "utterance id is not valid UTF-8" }, /* U+110000 */
	{ "\xf5\x80\x80\x80", "utterance id is not valid UTF-8" },
	{ "\xff", "utterance id is not valid UTF-8" },
};

START_TEST(test_invalid_ids)
{
	const char *id = bad_ids[_i].id;
	ck_assert_msg(!valid(id), "case %d accepted", _i);
	ck_assert_str_eq(archive_id_problem(id, strlen(id)), bad_ids[_i].why);
}
END_TEST

START_TEST(test_id_with_nul_is_invalid)
{
	ck_assert(!archive_valid_id("a\0b", 3));
	ck_assert(archive_valid_id("a\0b", 1));
}
END_TEST

/* ---- key index ---- */

START_TEST(test_keyindex_many_keys)
{
	enum { N = 20000 };
	char **keys = xmallocarray(N, sizeof *keys);
	struct keyindex *k = keyindex_new();
	for (size_t i = 0; i < N; i++) {
		keys[i] = xasprintf("utt%zu", i);
		ck_assert_int_eq(keyindex_put(k, keys[i], i * 3, NULL), 0);
	}
	ck_assert_uint_eq(keyindex_count(k), N);
	for (size_t i = 0; i < N; i++)
		ck_assert_int_eq(keyindex_get(k, keys[i]), (ptrdiff_t)(i * 3));
	ck_assert_int_eq(keyindex_get(k, "utt"), -1);
	ck_assert_int_eq(keyindex_get(k, "utt20000"), -1);
	ck_assert_int_eq(keyindex_get(k, ""), -1);
	size_t existing = 0;
	char dup[] = "utt77"; /* a different pointer, same text */
	ck_assert_int_eq(keyindex_put(k, dup, 5, &existing), -1);
	ck_assert_uint_eq(existing, 77 * 3);
	ck_assert_int_eq(keyindex_put(k, dup, 5, NULL), -1);
	ck_assert_uint_eq(keyindex_count(k), N);
	keyindex_free(k);
	for (size_t i = 0; i < N; i++)
		free(keys[i]);
	free(keys);
}
END_TEST

START_TEST(test_keyindex_empty)
{
	struct keyindex *k = keyindex_new();
	ck_assert_uint_eq(keyindex_count(k), 0);
	ck_assert_int_eq(keyindex_get(k, "x"), -1);
	ck_assert_int_eq(keyindex_put(k, "", 1, NULL), 0);
	ck_assert_int_eq(keyindex_get(k, ""), 1);
	keyindex_free(k);
	keyindex_free(NULL);
}
END_TEST

/* ---- join ---- */

START_TEST(test_join_mode_parse)
{
	enum join_mode m = JOIN_ALL;
	ck_assert_int_eq(join_mode_parse("strict", &m), 0);
	ck_assert_int_eq(m, JOIN_STRICT);
	ck_assert_int_eq(join_mode_parse("present", &m), 0);
	ck_assert_int_eq(m, JOIN_PRESENT);
	ck_assert_int_eq(join_mode_parse("all", &m), 0);
	ck_assert_int_eq(m, JOIN_ALL);
	ck_assert_int_eq(join_mode_parse("Strict", &m), -1);
	ck_assert_str_eq(zerr_msg(), "unknown mode 'Strict' (expected strict, present or all)");
	ck_assert_int_eq(join_mode_parse("", &m), -1);
	ck_assert_int_eq(m, JOIN_ALL);
}
END_TEST

static const char *const ref_keys[] = { "a", "b", "c", "d" };
static const char *const hyp_keys[] = { "d", "x", "b", "y", "z" };

START_TEST(test_join_all)
{
	struct join_result r;
	ck_assert_int_eq(join_keys(ref_keys, 4, "ref", hyp_keys, 5, "hyp", JOIN_ALL, &r), 0);
	ck_assert_uint_eq(r.n, 4);
	const ptrdiff_t want_right[] = { -1, 2, -1, 0 };
	for (size_t i = 0; i < 4; i++) {
		ck_assert_uint_eq(r.left[i], i);
		ck_assert_int_eq(r.right[i], want_right[i]);
	}
	ck_assert_uint_eq(r.missing_right, 2);
	ck_assert_uint_eq(r.missing_left, 3);
	join_result_free(&r);
}
END_TEST

START_TEST(test_join_present)
{
	struct join_result r;
	ck_assert_int_eq(join_keys(ref_keys, 4, "ref", hyp_keys, 5, "hyp", JOIN_PRESENT, &r), 0);
	ck_assert_uint_eq(r.n, 2);
	ck_assert_uint_eq(r.left[0], 1);
	ck_assert_int_eq(r.right[0], 2);
	ck_assert_uint_eq(r.left[1], 3);
	ck_assert_int_eq(r.right[1], 0);
	ck_assert_uint_eq(r.missing_right, 2);
	ck_assert_uint_eq(r.missing_left, 3);
	join_result_free(&r);
}
END_TEST

START_TEST(test_join_strict)
{
	struct join_result r;
	const char *const same[] = { "c", "a", "d", "b" };
	ck_assert_int_eq(join_keys(ref_keys, 4, "ref", same, 4, "hyp", JOIN_STRICT, &r), 0);
	ck_assert_uint_eq(r.n, 4);
	const ptrdiff_t want_right[] = { 1, 3, 0, 2 };
	for (size_t i = 0; i < 4; i++) {
		ck_assert_uint_eq(r.left[i], i);
		ck_assert_int_eq(r.right[i], want_right[i]);
	}
	ck_assert_uint_eq(r.missing_right + r.missing_left, 0);
	join_result_free(&r);

	/* Left keys missing on the right are reported first, in left order. */
	ck_assert_int_eq(join_keys(ref_keys, 4, "ref", hyp_keys, 5, "hyp", JOIN_STRICT, &r), -1);
	ck_assert_str_eq(zerr_msg(), "hyp: utterance 'a' of ref is missing (and 1 more)");
	ck_assert_ptr_null(r.left);
	ck_assert_ptr_null(r.right);

	/* Then right keys missing on the left. */
	const char *const more[] = { "b", "a", "e", "c", "d" };
	ck_assert_int_eq(join_keys(ref_keys, 4, "ref", more, 5, "hyp", JOIN_STRICT, &r), -1);
	ck_assert_str_eq(zerr_msg(), "ref: utterance 'e' of hyp is missing");
	const char *const fewer[] = { "a", "b", "d" };
	ck_assert_int_eq(join_keys(ref_keys, 4, "ref", fewer, 3, "hyp", JOIN_STRICT, &r), -1);
	ck_assert_str_eq(zerr_msg(), "hyp: utterance 'c' of ref is missing");
}
END_TEST

START_TEST(test_join_duplicates_and_empty)
{
	struct join_result r;
	const char *const dup[] = { "a", "b", "a" };
	ck_assert_int_eq(join_keys(dup, 3, "ref", hyp_keys, 5, "hyp", JOIN_ALL, &r), -1);
	ck_assert_str_eq(zerr_msg(), "ref: duplicate utterance id 'a'");
	ck_assert_int_eq(join_keys(ref_keys, 4, "ref", dup, 3, "hyp", JOIN_ALL, &r), -1);
	ck_assert_str_eq(zerr_msg(), "hyp: duplicate utterance id 'a'");
	ck_assert_int_eq(join_keys(NULL, 0, "ref", NULL, 0, "hyp", JOIN_STRICT, &r), 0);
	ck_assert_uint_eq(r.n, 0);
	join_result_free(&r);
	ck_assert_int_eq(join_keys(NULL, 0, "ref", hyp_keys, 5, "hyp", JOIN_PRESENT, &r), 0);
	ck_assert_uint_eq(r.n, 0);
	ck_assert_uint_eq(r.missing_left, 5);
	join_result_free(&r);
}
END_TEST

/* ---- files ---- */

/* Writes content to name in the work directory (gzip when it ends in .gz);
 * returns the path (caller frees). */
static char *put_file(const char *name, const char *content, size_t n)
{
	char *path = xasprintf("%s/%s", workdir, name);
	ck_assert_int_eq(zio_write_file(path, content, n), 0);
	return path;
}

static char *put_text(const char *name, const char *content)
{
	return put_file(name, content, strlen(content));
}

/* The message is "PATH" followed by suffix. */
static void assert_error_at(const char *path, const char *suffix)
{
	char *want = xasprintf("%s%s", path, suffix);
	ck_assert_str_eq(zerr_msg(), want);
	free(want);
}

/* ---- keyed lines ---- */

START_TEST(test_kv_read)
{
	char *path = put_text("wav.scp", "utt1 /data/a.wav\n"
					 "  utt2\t\t sox b.flac -t wav - |  \n"
					 "utt3\n"
					 "utt4 \r\n"
					 "caf\xc3\xa9 x y");
	struct kv_reader *r = kv_open(path);
	ck_assert_ptr_nonnull(r);
	ck_assert_str_eq(kv_name(r), path);
	const char *id, *value;
	const char *want[][2] = { { "utt1", "/data/a.wav" },
				  { "utt2", "sox b.flac -t wav - |" },
				  { "utt3", "" },
				  { "utt4", "" },
				  { "caf\xc3\xa9", "x y" } };
	for (int i = 0; i < 5; i++) {
		ck_assert_int_eq(kv_next(r, &id, &value), 1);
		ck_assert_str_eq(id, want[i][0]);
		ck_assert_str_eq(value, want[i][1]);
		ck_assert_int_eq(kv_lineno(r), i + 1);
	}
	ck_assert_int_eq(kv_next(r, &id, &value), 0);
	ck_assert_int_eq(kv_next(r, &id, &value), 0);
	kv_close(r);
	free(path);
}
END_TEST

START_TEST(test_kv_gz_and_empty_file)
{
	char *path = put_text("text.gz", "u1 hello world\nu2 bye\n");
	struct kv_reader *r = kv_open(path);
	const char *id, *value;
	ck_assert_int_eq(kv_next(r, &id, &value), 1);
	ck_assert_str_eq(value, "hello world");
	ck_assert_int_eq(kv_next(r, &id, &value), 1);
	ck_assert_str_eq(id, "u2");
	ck_assert_int_eq(kv_next(r, &id, &value), 0);
	kv_close(r);
	free(path);

	path = put_text("empty", "");
	r = kv_open(path);
	ck_assert_int_eq(kv_next(r, &id, &value), 0);
	kv_close(r);
	free(path);

	kv_close(NULL);
	path = xasprintf("%s/absent", workdir);
	ck_assert_ptr_null(kv_open(path));
	assert_error_at(path, ": No such file or directory");
	free(path);
}
END_TEST

static const struct {
	const char *content;
	const char *error; /* after the path */
} bad_kv[] = {
	{ "a x\n\nb y\n", ":2: empty line" },
	{ "a x\n \t \n", ":2: empty line" },
	{ "a x\nb y\na z\n", ":3: duplicate utterance id 'a' (first at line 1)" },
	{ "a x\n\xff y\n", ":2: utterance id is not valid UTF-8" },
	{ "a\xc0\xaf x\n", ":1: utterance id is not valid UTF-8" },
	{ "a\x01 x\n", ":1: utterance id contains a control character" },
	{ "a\rb x\n", ":1: utterance id contains a control character" },
};

START_TEST(test_kv_errors)
{
	char *path = put_text("bad.scp", bad_kv[_i].content);
	struct kv_reader *r = kv_open(path);
	const char *id, *value;
	int rc;
	while ((rc = kv_next(r, &id, &value)) == 1)
		;
	ck_assert_int_eq(rc, -1);
	assert_error_at(path, bad_kv[_i].error);
	kv_close(r);
	free(path);
}
END_TEST

static Suite *archive_suite(void)
{
	Suite *s = suite_create("archive");
	TCase *tc = tcase_create("archive");
	tcase_add_checked_fixture(tc, make_workdir, remove_workdir);
	tcase_add_test(tc, test_valid_ids);
	tcase_add_loop_test(tc, test_invalid_ids, 0, (int)(sizeof bad_ids / sizeof bad_ids[0]));
	tcase_add_test(tc, test_id_with_nul_is_invalid);
	tcase_add_test(tc, test_keyindex_many_keys);
	tcase_add_test(tc, test_keyindex_empty);
	tcase_add_test(tc, test_join_mode_parse);
	tcase_add_test(tc, test_join_all);
	tcase_add_test(tc, test_join_present);
	tcase_add_test(tc, test_join_strict);
	tcase_add_test(tc, test_join_duplicates_and_empty);
	tcase_add_test(tc, test_kv_read);
	tcase_add_test(tc, test_kv_gz_and_empty_file);
	tcase_add_loop_test(tc, test_kv_errors, 0, (int)(sizeof bad_kv / sizeof bad_kv[0]));
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(archive_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
