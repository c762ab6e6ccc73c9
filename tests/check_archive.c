/* Unit tests for archive: ids, the key index, the keyed join, and the
 * readers and writers of every line and tensor format. */
#include "config.h"

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "archive.h"
#include "xalloc.h"
#include "zerr.h"
#include "zio.h"

#include "workdir.h"

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
	/* Counted rather than asserted one by one: every ck_assert costs a write. */
	size_t bad = 0;
	for (size_t i = 0; i < N; i++) {
		keys[i] = xasprintf("utt%zu", i);
		bad += keyindex_put(k, keys[i], i * 3, NULL) != 0;
	}
	ck_assert_uint_eq(keyindex_count(k), N);
	for (size_t i = 0; i < N; i++)
		bad += keyindex_get(k, keys[i]) != (ptrdiff_t)(i * 3);
	ck_assert_uint_eq(bad, 0);
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
 * returns the path (caller frees). Plain zlib and stdio rather than zio,
 * whose fsync makes hundreds of small files slow on a busy disk; and a new
 * file each time, since ext4 flushes a file truncated and rewritten in place. */
static char *put_file(const char *name, const char *content, size_t n)
{
	char *path = xasprintf("%s/%s", workdir, name);
	unlink(path);
	size_t len = strlen(path);
	if (len > 3 && strcmp(path + len - 3, ".gz") == 0) {
		gzFile gz = gzopen(path, "wb");
		ck_assert_ptr_nonnull(gz);
		ck_assert_int_eq(gzwrite(gz, content, (unsigned)n), (int)n);
		ck_assert_int_eq(gzclose(gz), Z_OK);
	} else {
		FILE *f = fopen(path, "wb");
		ck_assert_ptr_nonnull(f);
		ck_assert_uint_eq(fwrite(content, 1, n, f), n);
		ck_assert_int_eq(fclose(f), 0);
	}
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

/* ---- token archives ---- */

static char *read_back(const char *path, size_t *n)
{
	struct zin *in = zin_open(path);
	ck_assert_ptr_nonnull(in);
	size_t cap = 1 << 16;
	char *buf = xmalloc(cap);
	*n = 0;
	for (ssize_t got; (got = zin_read(in, buf + *n, cap - *n)) > 0;) {
		*n += (size_t)got;
		if (*n == cap)
			xgrow(&buf, &cap, cap + 1, 1);
	}
	buf[*n] = '\0';
	zin_close(in);
	return buf;
}

static const struct tok_header speech_header = { true, "speech", 1026, "0123abcd4567ef89" };

static void write_tokens(const char *path, const struct tok_header *h)
{
	static const int32_t a[] = { 0, 1025, 7, 7, 300 };
	struct tok_writer *w = tok_create(path, h);
	ck_assert_ptr_nonnull(w);
	ck_assert_int_eq(tok_write(w, "utt1", a, 5), 0);
	ck_assert_int_eq(tok_write(w, "empty", NULL, 0), 0);
	ck_assert_int_eq(tok_write(w, "caf\xc3\xa9", a + 2, 1), 0);
	ck_assert_int_eq(tok_commit(w), 0);
}

static const char tokens_text[] = "utt1 0 1025 7 7 300\n"
				  "empty\n"
				  "caf\xc3\xa9 7\n";

static void check_tokens(struct tok_reader *r)
{
	const char *id;
	const int32_t *ids;
	size_t n;
	ck_assert_int_eq(tok_next(r, &id, &ids, &n), 1);
	ck_assert_str_eq(id, "utt1");
	ck_assert_uint_eq(n, 5);
	ck_assert_int_eq(ids[0], 0);
	ck_assert_int_eq(ids[1], 1025);
	ck_assert_int_eq(ids[4], 300);
	ck_assert_int_eq(tok_next(r, &id, &ids, &n), 1);
	ck_assert_str_eq(id, "empty");
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(tok_next(r, &id, &ids, &n), 1);
	ck_assert_str_eq(id, "caf\xc3\xa9");
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(ids[0], 7);
	ck_assert_int_eq(tok_next(r, &id, &ids, &n), 0);
}

START_TEST(test_tok_roundtrip_with_header)
{
	const char *names[] = { "a.tok", "a.tok.gz" };
	for (int i = 0; i < 2; i++) {
		char *path = xasprintf("%s/%s", workdir, names[i]);
		write_tokens(path, &speech_header);
		size_t n;
		char *text = read_back(path, &n);
		char *want = xasprintf("#! zipper tokens modality=speech vocab=1026 tokenizer=0123abcd4567ef89\n%s",
				       tokens_text);
		ck_assert_str_eq(text, want);
		struct tok_reader *r = tok_open(path, 0);
		ck_assert_ptr_nonnull(r);
		const struct tok_header *h = tok_header(r);
		ck_assert(h->present);
		ck_assert_str_eq(h->modality, "speech");
		ck_assert_int_eq(h->vocab, 1026);
		ck_assert_str_eq(h->tokenizer, "0123abcd4567ef89");
		ck_assert_str_eq(tok_name(r), path);
		check_tokens(r);
		ck_assert_int_eq(tok_lineno(r), 4);
		tok_close(r);
		free(want);
		free(text);
		free(path);
	}
}
END_TEST

START_TEST(test_tok_roundtrip_without_header)
{
	char *path = xasprintf("%s/b.tok", workdir);
	write_tokens(path, NULL);
	size_t n;
	char *text = read_back(path, &n);
	ck_assert_str_eq(text, tokens_text);
	struct tok_reader *r = tok_open(path, 2000);
	ck_assert(!tok_header(r)->present);
	ck_assert_int_eq(tok_header(r)->vocab, 0);
	check_tokens(r);
	tok_close(r);
	free(text);
	free(path);
}
END_TEST

START_TEST(test_tok_header_variants)
{
	/* Keys in any order, unknown keys ignored, blanks anywhere, comments. */
	char *path = put_text("c.tok", "#! zipper tokens  tokenizer=ab\tfuture=1 vocab=5 x=\n"
				       "# a comment\n"
				       "u1 4 0\n"
				       "#! zipper tokens vocab=5 tokenizer=ab\n"
				       "# #! zipper tokens vocab=9\n"
				       "\tu2  1\t2 \n");
	struct tok_reader *r = tok_open(path, 0);
	ck_assert_ptr_nonnull(r);
	const struct tok_header *h = tok_header(r);
	ck_assert(h->present);
	ck_assert_str_eq(h->modality, "");
	ck_assert_int_eq(h->vocab, 5);
	ck_assert_str_eq(h->tokenizer, "ab");
	const char *id;
	const int32_t *ids;
	size_t n;
	ck_assert_int_eq(tok_next(r, &id, &ids, &n), 1);
	ck_assert_str_eq(id, "u1");
	ck_assert_int_eq(tok_lineno(r), 3);
	ck_assert_int_eq(tok_next(r, &id, &ids, &n), 1);
	ck_assert_str_eq(id, "u2");
	ck_assert_uint_eq(n, 2);
	ck_assert_int_eq(ids[1], 2);
	ck_assert_int_eq(tok_next(r, &id, &ids, &n), 0);
	tok_close(r);
	free(path);

	/* "#!" lines that are not ours are comments; so is a first "# " line. */
	path = put_text("d.tok", "#!/bin/sh\n# zipper tokens vocab=x\nu 1\n");
	r = tok_open(path, 0);
	ck_assert(!tok_header(r)->present);
	ck_assert_int_eq(tok_next(r, &id, &ids, &n), 1);
	ck_assert_int_eq(tok_next(r, &id, &ids, &n), 0);
	tok_close(r);
	free(path);

	/* The int32 edges. */
	path = put_text("big.tok", "#! zipper tokens vocab=2147483647\nu 2147483646 0\n");
	r = tok_open(path, 0);
	ck_assert_int_eq(tok_header(r)->vocab, 2147483647);
	ck_assert_int_eq(tok_next(r, &id, &ids, &n), 1);
	ck_assert_int_eq(ids[0], 2147483646);
	tok_close(r);
	free(path);
	path = put_text("big2.tok", "u 2147483647 007\n");
	r = tok_open(path, 0);
	ck_assert_int_eq(tok_next(r, &id, &ids, &n), 1);
	ck_assert_int_eq(ids[0], 2147483647);
	ck_assert_int_eq(ids[1], 7);
	tok_close(r);
	free(path);

	path = put_text("e.tok", "#! zipper tokens\n");
	r = tok_open(path, 0);
	ck_assert(tok_header(r)->present);
	ck_assert_int_eq(tok_header(r)->vocab, 0);
	ck_assert_int_eq(tok_next(r, &id, &ids, &n), 0);
	tok_close(r);
	free(path);
}
END_TEST

static const struct {
	const char *content;
	const char *error; /* after the path */
} bad_headers[] = {
	{ "#! zipper tokens vocab=x\n", ":1: bad vocab 'x' in token header (expected a positive integer)" },
	{ "#! zipper tokens vocab=0\n", ":1: bad vocab '0' in token header (expected a positive integer)" },
	{ "#! zipper tokens vocab=-4\n", ":1: bad vocab '-4' in token header (expected a positive integer)" },
	{ "#! zipper tokens vocab=2147483648\n",
	  ":1: bad vocab '2147483648' in token header (expected a positive integer)" },
	{ "#! zipper tokens vocab=99999999999999999999\n",
	  ":1: bad vocab '99999999999999999999' in token header (expected a positive integer)" },
	{ "#! zipper tokens vocab=\n", ":1: bad vocab '' in token header (expected a positive integer)" },
	{ "#! zipper tokens modality=Speech\n",
	  ":1: bad modality 'Speech' in token header (expected lowercase letters)" },
	{ "#! zipper tokens modality=abcdefghijklmnop\n",
	  ":1: bad modality 'abcdefghijklmnop' in token header (expected lowercase letters)" },
	{ "#! zipper tokens tokenizer=0123ABCD\n",
	  ":1: bad tokenizer '0123ABCD' in token header (expected 1 to 64 lowercase hex digits)" },
	{ "#! zipper tokens speech\n", ":1: malformed token header field 'speech' (expected key=value)" },
	{ "#! zipper tokens =3\n", ":1: malformed token header field '=3' (expected key=value)" },
	{ "#! zipper tokens vocab=3 vocab=3\n", ":1: token header repeats 'vocab'" },
};

START_TEST(test_tok_bad_headers)
{
	char *path = put_text("bad.tok", bad_headers[_i].content);
	ck_assert_ptr_null(tok_open(path, 0));
	assert_error_at(path, bad_headers[_i].error);
	free(path);
}
END_TEST

static const struct {
	const char *content;
	long vocab_limit;
	const char *error; /* after the path */
} bad_tokens[] = {
	{ "u1 1 2\nu2 3 x4\n", 0, ":2: token 'x4' is not an integer" },
	{ "u1 1 2x\n", 0, ":1: token '2x' is not an integer" },
	{ "u1 1.5\n", 0, ":1: token '1.5' is not an integer" },
	{ "u1 +1\n", 0, ":1: token '+1' is not an integer" },
	{ "u1 -\n", 0, ":1: token '-' is not an integer" },
	{ "u1 1 -3\n", 0, ":1: token -3 is negative" },
	{ "u1 1 -3\n", 10, ":1: token -3 is outside the vocabulary [0, 10)" },
	{ "u1 2147483648\n", 0, ":1: token 2147483648 is too large for an int32" },
	{ "u1 99999999999999999999999\n", 0, ":1: token 99999999999999999999999 is too large for an int32" },
	{ "#! zipper tokens vocab=1026\nu1 1025 1026\n", 0, ":2: token 1026 is outside the vocabulary [0, 1026)" },
	{ "#! zipper tokens vocab=1026\nu1 1030\n", 2000, ":2: token 1030 is outside the vocabulary [0, 1026)" },
	{ "#! zipper tokens vocab=1026\nu1 1024\n", 1024, ":2: token 1024 is outside the vocabulary [0, 1024)" },
	{ "u1 5\n", 5, ":1: token 5 is outside the vocabulary [0, 5)" },
	{ "u1 1\nu2 2\nu1 3\n", 0, ":3: duplicate utterance id 'u1' (first at line 1)" },
	{ "u1 1\n\xc3\xa9\xff 2\n", 0, ":2: utterance id is not valid UTF-8" },
	{ "u1 1\n\nu2 2\n", 0, ":2: empty line" },
	{ "#! zipper tokens vocab=5\nu1 1\n#! zipper tokens vocab=6\n", 0,
	  ":3: token header differs from the one on line 1" },
	{ "u1 1\n#! zipper tokens vocab=6\n", 0, ":2: token header after the first line" },
	{ "u1 1\n#! zipper tokens vocab=six\n", 0,
	  ":2: bad vocab 'six' in token header (expected a positive integer)" },
	{ "u1 12345678901234567890123456789012345678901234567890x\n", 0,
	  ":1: token '1234567890123456789012345678901234567890...' is not an integer" },
};

START_TEST(test_tok_bad_lines)
{
	char *path = put_text("bad.tok", bad_tokens[_i].content);
	struct tok_reader *r = tok_open(path, bad_tokens[_i].vocab_limit);
	ck_assert_ptr_nonnull(r);
	const char *id;
	const int32_t *ids;
	size_t n;
	int rc;
	while ((rc = tok_next(r, &id, &ids, &n)) == 1)
		;
	ck_assert_int_eq(rc, -1);
	assert_error_at(path, bad_tokens[_i].error);
	tok_close(r);
	free(path);
}
END_TEST

START_TEST(test_tok_expect)
{
	char *path = put_text("e.tok", "#! zipper tokens modality=speech vocab=1026 tokenizer=0123abcd\n");
	struct tok_reader *r = tok_open(path, 0);
	ck_assert_int_eq(tok_expect(r, NULL, 0, NULL), 0);
	ck_assert_int_eq(tok_expect(r, "speech", 1026, "0123abcd"), 0);
	ck_assert_int_eq(tok_expect(r, "speech", 1026, "0123abcd4567ef89"), 0);
	ck_assert_int_eq(tok_expect(r, "speech", 1026, "0123"), 0);
	ck_assert_int_eq(tok_expect(r, "text", 0, NULL), -1);
	assert_error_at(path, ": tokens are for modality speech, expected text");
	ck_assert_int_eq(tok_expect(r, "speech", 1024, NULL), -1);
	assert_error_at(path, ": tokens have a vocabulary of 1026, expected 1024");
	ck_assert_int_eq(tok_expect(r, NULL, 0, "0123abce"), -1);
	assert_error_at(path, ": tokens were made by tokenizer 0123abcd, expected 0123abce");
	tok_close(r);
	free(path);

	/* Fields the file does not carry cannot be checked. */
	path = put_text("f.tok", "#! zipper tokens vocab=10\nu 1\n");
	r = tok_open(path, 0);
	ck_assert_int_eq(tok_expect(r, "text", 10, "ffff"), 0);
	tok_close(r);
	free(path);
	path = put_text("g.tok", "u 1\n");
	r = tok_open(path, 0);
	ck_assert_int_eq(tok_expect(r, "text", 10, "ffff"), 0);
	tok_close(r);
	free(path);
}
END_TEST

START_TEST(test_tok_one_hour_line)
{
	/* One hour at 25 tokens/s: one 90,000-token line, read whole. */
	enum { N = 90000 };
	int32_t *ids = xmallocarray(N, sizeof *ids);
	for (int i = 0; i < N; i++)
		ids[i] = (i * 7919) % 1024;
	char *path = xasprintf("%s/long.tok.gz", workdir);
	struct tok_header h = { true, "speech", 1024, "" };
	struct tok_writer *w = tok_create(path, &h);
	ck_assert_int_eq(tok_write(w, "short", ids, 3), 0);
	ck_assert_int_eq(tok_write(w, "hour", ids, N), 0);
	ck_assert_int_eq(tok_write(w, "after", ids + 5, 1), 0);
	ck_assert_int_eq(tok_commit(w), 0);
	struct tok_reader *r = tok_open(path, 0);
	const char *id;
	const int32_t *got;
	size_t n;
	ck_assert_int_eq(tok_next(r, &id, &got, &n), 1);
	ck_assert_int_eq(tok_next(r, &id, &got, &n), 1);
	ck_assert_str_eq(id, "hour");
	ck_assert_uint_eq(n, N);
	ck_assert_int_eq(memcmp(got, ids, N * sizeof *ids), 0);
	ck_assert_int_eq(tok_next(r, &id, &got, &n), 1);
	ck_assert_str_eq(id, "after");
	ck_assert_int_eq(got[0], ids[5]);
	ck_assert_int_eq(tok_next(r, &id, &got, &n), 0);
	tok_close(r);
	free(path);
	free(ids);
}
END_TEST

START_TEST(test_tok_writer_rejects)
{
	char *path = xasprintf("%s/w.tok", workdir);
	struct tok_header h = { true, "text", 10, "" };
	struct tok_writer *w = tok_create(path, &h);
	const int32_t ok[] = { 1, 9 }, big[] = { 3, 10 }, neg[] = { -1 };
	ck_assert_int_eq(tok_write(w, "a", ok, 2), 0);
	ck_assert_int_eq(tok_write(w, "b", big, 2), -1);
	assert_error_at(path, ":3: token 10 is outside the vocabulary [0, 10)");
	ck_assert_int_eq(tok_write(w, "b", neg, 1), -1);
	assert_error_at(path, ":3: token -1 is outside the vocabulary [0, 10)");
	ck_assert_int_eq(tok_write(w, "a b", ok, 1), -1);
	assert_error_at(path, ":3: utterance id contains a blank");
	ck_assert_int_eq(tok_write(w, "", ok, 1), -1);
	assert_error_at(path, ":3: utterance id is empty");
	ck_assert_int_eq(tok_write(w, "#b", ok, 1), -1);
	assert_error_at(path, ":3: utterance id starts with '#' (a comment in token archives)");
	ck_assert_int_eq(tok_write(w, "a", ok, 1), -1);
	assert_error_at(path, ":3: duplicate utterance id 'a' (first at line 2)");
	/* Rejected records leave nothing behind: "b" is still free. */
	ck_assert_int_eq(tok_write(w, "b", ok, 1), 0);
	ck_assert_int_eq(tok_commit(w), 0);
	size_t n;
	char *text = read_back(path, &n);
	ck_assert_str_eq(text, "#! zipper tokens modality=text vocab=10\na 1 9\nb 1\n");
	free(text);

	w = tok_create(path, NULL);
	ck_assert_int_eq(tok_write(w, "x", neg, 1), -1);
	assert_error_at(path, ":1: token -1 is negative");
	tok_abort(w);
	text = read_back(path, &n); /* the old file is untouched */
	ck_assert_str_eq(text, "#! zipper tokens modality=text vocab=10\na 1 9\nb 1\n");
	free(text);

	struct tok_header bad = { true, "Text", 0, "" };
	ck_assert_ptr_null(tok_create(path, &bad));
	assert_error_at(path, ": bad modality 'Text' in token header (expected lowercase letters)");
	struct tok_header blank = { true, "x vocab=3", 0, "" };
	ck_assert_ptr_null(tok_create(path, &blank));
	assert_error_at(path, ": token header fields contain blanks");
	struct tok_header negv = { true, "", -3, "" };
	ck_assert_ptr_null(tok_create(path, &negv));
	assert_error_at(path, ": bad vocab '-3' in token header (expected a positive integer)");
	tok_abort(NULL);
	free(path);
}
END_TEST

/* ---- tensor archives ---- */

static char *data_path(const char *name)
{
	const char *top = getenv("top_srcdir");
	return xasprintf("%s/tests/data/%s", top ? top : ".", name);
}

static void assert_close(float got, double want)
{
	ck_assert_msg(fabs(got - want) <= 1e-6 * fabs(want), "%.9g, expected %.9g", got, want);
}

/* The records of tests/data/feats.ark (see tests/ref/npy_fixture.py). */
static void check_feats(struct tensor_reader *r, struct tensor_writer *copy)
{
	struct tensor_rec rec;
	ck_assert_int_eq(tensor_next(r, &rec), 1);
	ck_assert_str_eq(rec.id, "utt1");
	ck_assert_int_eq(rec.ndim, 2);
	ck_assert_int_eq(rec.shape[0], 3);
	ck_assert_int_eq(rec.shape[1], 4);
	ck_assert_uint_eq(rec.count, 12);
	for (int i = 0; i < 12; i++)
		ck_assert(rec.data[i] == (float)(i / 7.0));
	ck_assert_int_eq(tensor_write(copy, rec.id, rec.data, rec.ndim, rec.shape), 0);

	ck_assert_int_eq(tensor_next(r, &rec), 1);
	ck_assert_str_eq(rec.id, "utt2");
	ck_assert_int_eq(rec.ndim, 2);
	ck_assert_int_eq(rec.shape[0], 0);
	ck_assert_int_eq(rec.shape[1], 80);
	ck_assert_uint_eq(rec.count, 0);
	ck_assert_ptr_nonnull(rec.data);
	ck_assert_int_eq(tensor_write(copy, rec.id, rec.data, rec.ndim, rec.shape), 0);

	ck_assert_int_eq(tensor_next(r, &rec), 1);
	ck_assert_str_eq(rec.id, "utt3");
	ck_assert_int_eq(rec.ndim, 1);
	ck_assert_int_eq(rec.shape[0], 5);
	const float want3[] = { -1.5f, 0.0f, 1e-3f, 3.25e10f, 65504.0f };
	for (int i = 0; i < 5; i++)
		ck_assert(rec.data[i] == want3[i]);
	ck_assert_int_eq(tensor_write(copy, rec.id, rec.data, rec.ndim, rec.shape), 0);

	ck_assert_int_eq(tensor_next(r, &rec), 1);
	ck_assert_str_eq(rec.id, "utt4");
	ck_assert_int_eq(rec.ndim, 0);
	ck_assert_uint_eq(rec.count, 1);
	ck_assert(rec.data[0] == 2.5f);
	ck_assert_int_eq(tensor_write(copy, rec.id, rec.data, rec.ndim, rec.shape), 0);

	ck_assert_int_eq(tensor_next(r, &rec), 1);
	ck_assert_str_eq(rec.id, "sp\xc3\xa9" "aker-5");
	ck_assert_int_eq(rec.ndim, 3);
	ck_assert_uint_eq(rec.count, 12);
	for (int i = 0; i < 12; i++)
		assert_close(rec.data[i], sin(i));
	ck_assert_int_eq(tensor_write(copy, rec.id, rec.data, rec.ndim, rec.shape), 0);

	ck_assert_int_eq(tensor_next(r, &rec), 0);
	ck_assert_int_eq(tensor_next(r, &rec), 0);
}

START_TEST(test_tensor_numpy_fixture)
{
	/* Read what numpy wrote; writing the same records must give the same bytes. */
	char *path = data_path("feats.ark");
	char *copy = xasprintf("%s/copy.ark", workdir);
	struct tensor_reader *r = tensor_open(path);
	ck_assert_ptr_nonnull(r);
	ck_assert_str_eq(tensor_name(r), path);
	struct tensor_writer *w = tensor_create(copy);
	check_feats(r, w);
	ck_assert_int_eq(tensor_commit(w), 0);
	tensor_close(r);
	size_t n1, n2;
	char *a = read_back(path, &n1), *b = read_back(copy, &n2);
	ck_assert_uint_eq(n1, n2);
	ck_assert(memcmp(a, b, n1) == 0);
	free(a);
	free(b);
	free(copy);
	free(path);
}
END_TEST

START_TEST(test_tensor_numpy_float64)
{
	char *path = data_path("feats64.ark");
	struct tensor_reader *r = tensor_open(path);
	struct tensor_rec rec;
	ck_assert_int_eq(tensor_next(r, &rec), 1);
	ck_assert_str_eq(rec.id, "a");
	ck_assert_int_eq(rec.ndim, 2);
	ck_assert_uint_eq(rec.count, 6);
	ck_assert(rec.data[0] == 0.1f);
	ck_assert(rec.data[1] == (float)(1.0 / 3));
	ck_assert(rec.data[2] == -2.5f);
	ck_assert(isinf(rec.data[3]) && rec.data[3] > 0); /* 1e300 */
	ck_assert(rec.data[4] == 0.0f);                   /* 1e-50 */
	ck_assert(rec.data[5] == 7.0f);
	ck_assert_int_eq(tensor_next(r, &rec), 1);
	ck_assert_str_eq(rec.id, "b");
	ck_assert_int_eq(rec.ndim, 1);
	ck_assert_uint_eq(rec.count, 0);
	ck_assert_int_eq(tensor_next(r, &rec), 0);
	tensor_close(r);
	free(path);
}
END_TEST

START_TEST(test_tensor_roundtrip_gz)
{
	/* Big enough to cross the writer's block and the reader's first read. */
	enum { T = 5000, C = 80 };
	float *x = xmallocarray(T * C, sizeof *x);
	for (int i = 0; i < T * C; i++)
		x[i] = (float)i * 0.25f - 1000.0f;
	const char *names[] = { "f.ark", "f.ark.gz" };
	for (int k = 0; k < 2; k++) {
		char *path = xasprintf("%s/%s", workdir, names[k]);
		struct tensor_writer *w = tensor_create(path);
		int64_t big[] = { T, C }, none[] = { 0 }, cube[] = { 2, 2, 2 };
		ck_assert_int_eq(tensor_write(w, "big", x, 2, big), 0);
		ck_assert_int_eq(tensor_write(w, "none", x, 1, none), 0);
		ck_assert_int_eq(tensor_write(w, "cube", x + 3, 3, cube), 0);
		ck_assert_int_eq(tensor_write(w, "scalar", x + 9, 0, NULL), 0);
		ck_assert_int_eq(tensor_commit(w), 0);
		struct tensor_reader *r = tensor_open(path);
		struct tensor_rec rec;
		ck_assert_int_eq(tensor_next(r, &rec), 1);
		ck_assert_str_eq(rec.id, "big");
		ck_assert_uint_eq(rec.count, T * C);
		ck_assert(memcmp(rec.data, x, sizeof *x * T * C) == 0);
		ck_assert_int_eq(tensor_next(r, &rec), 1);
		ck_assert_uint_eq(rec.count, 0);
		ck_assert_int_eq(tensor_next(r, &rec), 1);
		ck_assert_int_eq(rec.ndim, 3);
		ck_assert(memcmp(rec.data, x + 3, sizeof *x * 8) == 0);
		ck_assert_int_eq(tensor_next(r, &rec), 1);
		ck_assert_int_eq(rec.ndim, 0);
		ck_assert(rec.data[0] == x[9]);
		ck_assert_int_eq(tensor_next(r, &rec), 0);
		tensor_close(r);
		free(path);
	}
	free(x);
}
END_TEST

/* One record: id, space, NPY preamble of the given version, header text
 * (as is: no padding), then data_bytes zero bytes. Appends to *buf. */
static void add_record(char **buf, size_t *n, const char *id, int major, const char *header,
		       size_t data_bytes)
{
	size_t hl = strlen(header), idl = strlen(id);
	*buf = realloc(*buf, *n + idl + 13 + hl + data_bytes);
	char *p = *buf + *n;
	memcpy(p, id, idl);
	p += idl;
	*p++ = ' ';
	memcpy(p, "\x93NUMPY", 6);
	p[6] = (char)major;
	p[7] = 0;
	p += 8;
	for (int i = 0; i < (major == 1 ? 2 : 4); i++)
		*p++ = (char)(hl >> 8 * i);
	memcpy(p, header, hl);
	memset(p + hl, 0, data_bytes);
	*n = (size_t)(p + hl + data_bytes - *buf);
}

#define H(descr, fortran, shape) "{'descr': " descr ", 'fortran_order': " fortran ", 'shape': " shape ", }\n"

static const struct {
	const char *header; /* NULL: raw below */
	size_t data_bytes;
	const char *error; /* after "PATH: record 2 (u2): " */
} bad_npy[] = {
	{ H("'<i4'", "False", "(3,)"), 12, "NPY header: descr '<i4' is not '<f4' or '<f8'" },
	{ H("'>f4'", "False", "(3,)"), 12, "NPY header: descr '>f4' is not '<f4' or '<f8'" },
	{ "{'descr': '<f4}", 12, "NPY header: expected a short quoted string" },
	{ "{'descr': '<f4\\'}", 12, "NPY header: expected a short quoted string" },
	{ H("'<f4'", "True", "(3,)"), 12, "NPY header: fortran_order True is not supported" },
	{ H("'<f4'", "0", "(3,)"), 12, "NPY header: fortran_order is not True or False" },
	{ H("'<f4'", "False", "(3)"), 12, "NPY header: shape is not a tuple of non-negative integers" },
	{ H("'<f4'", "False", "(-1, 3)"), 12, "NPY header: shape is not a tuple of non-negative integers" },
	{ H("'<f4'", "False", "(3.0,)"), 12, "NPY header: shape is not a tuple of non-negative integers" },
	{ H("'<f4'", "False", "(3,,)"), 12, "NPY header: shape is not a tuple of non-negative integers" },
	{ H("'<f4'", "False", "[3]"), 12, "NPY header: expected '(' for the shape" },
	{ H("'<f4'", "False", "(1, 1, 1, 1, 1, 1, 1, 1, 1)"), 4, "NPY header: shape has more than 8 dimensions" },
	{ H("'<f4'", "False", "(9999999999, 9999999999)"), 4, "NPY header: shape is too large" },
	{ H("'<f4'", "False", "(1000000000000000,)"), 4, "truncated data (4 of 4000000000000000 bytes)" },
	{ H("'<f4'", "False", "(3, 4)"), 20, "truncated data (20 of 48 bytes)" },
	{ H("'<f8'", "False", "(3,)"), 12, "truncated data (12 of 24 bytes)" },
	{ "{'descr': '<f4', 'fortran_order': False}", 0, "NPY header: missing 'shape'" },
	{ "{'descr': '<f4', 'shape': (), 'fortran_order': False, 'x': 1}", 4, "NPY header: unexpected key 'x'" },
	{ "{'descr': '<f4', 'descr': '<f4'}", 0, "NPY header: repeated key 'descr'" },
	{ "{'descr': '<f4' 'shape': ()}", 4, "NPY header: expected ',' or '}' after 'descr'" },
	{ "{'descr' '<f4'}", 4, "NPY header: expected ':' after a key" },
	{ "{'descr': '<f4', 'fortran_order': False, 'shape': ()} x", 4, "NPY header: text after the closing '}'" },
	{ "('descr', '<f4')", 4, "NPY header: expected '{' at the start" },
	{ "{'descr': '<f4', 'fortran_order': False, 'shape': ()}\0", 4, "NPY header: contains a NUL byte" },
};

static char *two_records(const char *second, size_t data_bytes, size_t *n)
{
	char *buf = NULL;
	*n = 0;
	add_record(&buf, n, "u1", 1, H("'<f4'", "False", "(2,)"), 8);
	add_record(&buf, n, "u2", 1, second, data_bytes);
	return buf;
}

START_TEST(test_tensor_bad_headers)
{
	size_t n;
	char *content = two_records(bad_npy[_i].header, bad_npy[_i].data_bytes, &n);
	if (strstr(bad_npy[_i].error, "NUL")) /* strlen stopped at the NUL: put it back */
		content[n - 5] = '\0', content[n - 6] = '}';
	char *path = put_file("bad.ark", content, n);
	struct tensor_reader *r = tensor_open(path);
	struct tensor_rec rec;
	ck_assert_int_eq(tensor_next(r, &rec), 1);
	ck_assert_int_eq(tensor_next(r, &rec), -1);
	char *want = xasprintf(": record 2 (u2): %s", bad_npy[_i].error);
	assert_error_at(path, want);
	free(want);
	tensor_close(r);
	free(path);
	free(content);
}
END_TEST

/* Reads path to the end; requires the error PATH + suffix. */
static void assert_tensor_error(const char *content, size_t n, const char *suffix)
{
	char *path = put_file("bad.ark", content, n);
	struct tensor_reader *r = tensor_open(path);
	struct tensor_rec rec;
	int rc;
	while ((rc = tensor_next(r, &rec)) == 1)
		;
	ck_assert_int_eq(rc, -1);
	assert_error_at(path, suffix);
	tensor_close(r);
	free(path);
}

START_TEST(test_tensor_bad_records)
{
	size_t n;
	char *c = two_records(H("'<f4'", "False", "(2,)"), 8, &n);
	memcpy(c + 3, "\x93NUMPZ", 6);
	assert_tensor_error(c, n, ": record 1 (u1): not an NPY record (bad magic)");
	memcpy(c + 3, "\x93NUMPY\x03", 7);
	assert_tensor_error(c, n, ": record 1 (u1): unsupported NPY version 3.0");
	c[9] = 1, c[10] = 1;
	assert_tensor_error(c, n, ": record 1 (u1): unsupported NPY version 1.1");
	c[10] = 0;
	size_t hl = strlen(H("'<f4'", "False", "(2,)")); /* 58 */
	assert_tensor_error(c, n - 3, ": record 2 (u2): truncated data (5 of 8 bytes)");
	assert_tensor_error(c, n - 8 - 20, ": record 2 (u2): truncated NPY header (38 of 58 bytes)");
	assert_tensor_error(c, n - 8 - hl - 1, ": record 2 (u2): truncated NPY preamble (1 of 2 bytes)");
	assert_tensor_error(c, n - 8 - hl - 2 - 5, ": record 2 (u2): truncated NPY preamble (3 of 8 bytes)");
	assert_tensor_error(c, n - 8 - hl - 2 - 8 - 1, ": record 2: truncated record (no NPY data after the id)");
	memcpy(c + n / 2, "u1", 2); /* the second record's id */
	assert_tensor_error(c, n, ": record 2: duplicate utterance id 'u1' (first at record 1)");
	c[n / 2] = '\xff';
	assert_tensor_error(c, n, ": record 2: utterance id is not valid UTF-8");
	c[n / 2] = '\n';
	assert_tensor_error(c, n, ": record 2: utterance id contains a control character");
	free(c);

	/* Not a tensor archive at all. */
	assert_tensor_error("u1 1 2 3\n", 9, ": record 1 (u1): truncated NPY preamble (6 of 8 bytes)");
	assert_tensor_error("utt1 1 2 3 4 5 6\n", 17, ": record 1 (utt1): not an NPY record (bad magic)");
	char *line = xmalloc(5000);
	memset(line, 'a', 5000);
	assert_tensor_error(line, 5000, ": record 1: no space after the utterance id in the first 4096 bytes");
	free(line);

	/* A version 2.0 header is read; a huge one is refused before it is read. */
	c = NULL;
	n = 0;
	add_record(&c, &n, "v2", 2, H("'<f4'", "False", "(1,)"), 4);
	char *path = put_file("v2.ark", c, n);
	struct tensor_reader *r = tensor_open(path);
	struct tensor_rec rec;
	ck_assert_int_eq(tensor_next(r, &rec), 1);
	ck_assert_int_eq(rec.shape[0], 1);
	ck_assert_int_eq(tensor_next(r, &rec), 0);
	tensor_close(r);
	free(path);
	c[13] = 0x10; /* header length 0x100000 + 58 */
	assert_tensor_error(c, n, ": record 1 (v2): NPY header: 1048634 bytes is too long");
	free(c);
}
END_TEST

/* Reads buf (under 64 KiB) as a tensor archive on stdin, through a pipe so
 * that hundreds of cases cost no disk I/O. 0 if it read cleanly, -1 on an
 * error naming stdin. */
static int read_tensors_from(const char *buf, size_t n)
{
	int fd[2];
	ck_assert_int_eq(pipe(fd), 0);
	ck_assert_int_eq(write(fd[1], buf, n), (ssize_t)n);
	close(fd[1]);
	ck_assert_int_eq(dup2(fd[0], STDIN_FILENO), STDIN_FILENO);
	close(fd[0]);
	struct tensor_reader *r = tensor_open("-");
	ck_assert_ptr_nonnull(r);
	struct tensor_rec rec;
	volatile float sum = 0;
	int rc;
	while ((rc = tensor_next(r, &rec)) == 1)
		for (size_t i = 0; i < rec.count; i++) /* for ASan: every value is there */
			sum += rec.data[i];
	(void)sum;
	tensor_close(r); /* stdin stays open: the next pipe must not land on fd 0 */
	if (rc < 0 && strncmp(zerr_msg(), "stdin: record ", 14) != 0)
		ck_abort_msg("unexpected message: %s", zerr_msg());
	return rc;
}

START_TEST(test_tensor_every_truncation_and_flip)
{
	/* Every prefix of the fixture, and every single-byte corruption, either
	 * reads or fails with a message; never a crash (run under ASan too). */
	char *fixture = data_path("feats.ark");
	size_t n;
	char *good = read_back(fixture, &n);
	int clean = 0;
	for (size_t len = 0; len <= n; len++) {
		if (read_tensors_from(good, len) == 0)
			clean++;
		else if (!strstr(zerr_msg(), "truncated"))
			ck_abort_msg("length %zu: %s", len, zerr_msg());
	}
	ck_assert_int_eq(clean, 6); /* empty, and after each of the 5 records */
	int failed = 0;
	for (size_t i = 0; i < n; i++) {
		good[i] ^= 0x5a;
		failed += read_tensors_from(good, n) < 0;
		good[i] ^= 0x5a;
	}
	ck_assert_int_gt(failed, 0);
	ck_assert_int_lt(failed, (int)n); /* flipped data bytes still read */
	free(good);
	free(fixture);
}
END_TEST

START_TEST(test_tensor_writer_rejects)
{
	char *path = xasprintf("%s/w.ark", workdir);
	struct tensor_writer *w = tensor_create(path);
	float x[4] = { 1, 2, 3, 4 };
	int64_t shape[TENSOR_MAX_DIMS + 1] = { 2, 2 }, neg[] = { 2, -2 }, zneg[] = { 0, -1 };
	ck_assert_int_eq(tensor_write(w, "a", x, 2, shape), 0);
	ck_assert_int_eq(tensor_write(w, "a", x, 2, shape), -1);
	assert_error_at(path, ": record 2: duplicate utterance id 'a' (first at record 1)");
	ck_assert_int_eq(tensor_write(w, "b c", x, 2, shape), -1);
	assert_error_at(path, ": record 2: utterance id contains a blank");
	ck_assert_int_eq(tensor_write(w, "b", x, 2, neg), -1);
	assert_error_at(path, ": record 2 (b): shape has a negative dimension or is too large");
	ck_assert_int_eq(tensor_write(w, "b", x, 2, zneg), -1);
	assert_error_at(path, ": record 2 (b): shape has a negative dimension or is too large");
	ck_assert_int_eq(tensor_write(w, "b", x, TENSOR_MAX_DIMS + 1, shape), -1);
	assert_error_at(path, ": record 2 (b): 9 dimensions (at most 8)");
	ck_assert_int_eq(tensor_write(w, "b", x, -1, shape), -1);
	assert_error_at(path, ": record 2 (b): -1 dimensions (at most 8)");
	ck_assert_int_eq(tensor_write(w, "b", x + 1, 1, shape), 0);
	ck_assert_int_eq(tensor_commit(w), 0);
	struct tensor_reader *r = tensor_open(path);
	struct tensor_rec rec;
	ck_assert_int_eq(tensor_next(r, &rec), 1);
	ck_assert_int_eq(tensor_next(r, &rec), 1);
	ck_assert_str_eq(rec.id, "b");
	ck_assert(rec.data[0] == 2 && rec.data[1] == 3);
	ck_assert_int_eq(tensor_next(r, &rec), 0);
	tensor_close(r);
	tensor_abort(NULL);
	tensor_close(NULL);
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
	tcase_add_test(tc, test_tok_roundtrip_with_header);
	tcase_add_test(tc, test_tok_roundtrip_without_header);
	tcase_add_test(tc, test_tok_header_variants);
	tcase_add_loop_test(tc, test_tok_bad_headers, 0, (int)(sizeof bad_headers / sizeof bad_headers[0]));
	tcase_add_loop_test(tc, test_tok_bad_lines, 0, (int)(sizeof bad_tokens / sizeof bad_tokens[0]));
	tcase_add_test(tc, test_tok_expect);
	tcase_add_test(tc, test_tok_one_hour_line);
	tcase_add_test(tc, test_tok_writer_rejects);
	tcase_add_test(tc, test_tensor_numpy_fixture);
	tcase_add_test(tc, test_tensor_numpy_float64);
	tcase_add_test(tc, test_tensor_roundtrip_gz);
	tcase_add_loop_test(tc, test_tensor_bad_headers, 0, (int)(sizeof bad_npy / sizeof bad_npy[0]));
	tcase_add_test(tc, test_tensor_bad_records);
	tcase_add_test(tc, test_tensor_every_truncation_and_flip);
	tcase_add_test(tc, test_tensor_writer_rejects);
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
