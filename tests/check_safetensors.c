/* Unit tests for lib/safetensors: write/read round trips, the independent
 * Python-written fixture, and every malformed-file case st_open rejects. */
#include "config.h"

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "safetensors.h"
#include "sha256.h"
#include "xalloc.h"
#include "zerr.h"

static char workdir[64];
static char *path;

static void setup(void)
{
	strcpy(workdir, "/tmp/check_st.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(workdir));
	path = xasprintf("%s/m.zpm", workdir);
}

static void teardown(void)
{
	unlink(path);
	free(path);
	rmdir(workdir);
}

/* Writes a file by hand: 8-byte length, header text, then data bytes. */
static void write_raw(const char *header, const void *data, size_t n)
{
	FILE *f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	uint64_t len = strlen(header);
	unsigned char le[8];
	for (int i = 0; i < 8; i++)
		le[i] = (unsigned char)(len >> (8 * i));
	fwrite(le, 1, 8, f);
	fwrite(header, 1, len, f);
	if (n)
		fwrite(data, 1, n, f);
	fclose(f);
}

/* st_open must fail with exactly "path: want". */
static void expect_open_error(const char *want)
{
	struct st_file f;
	ck_assert_int_eq(st_open(&f, path), -1);
	char *full = xasprintf("%s: %s", path, want);
	ck_assert_str_eq(zerr_msg(), full);
	free(full);
}

static const float data16[4] = {1, 2, 3, 4};

START_TEST(test_roundtrip)
{
	float a[6] = {1, -2, 3.5f, 0, 1e-8f, -7};
	int32_t b[3] = {7, -1, 1 << 30};
	cJSON *config = cJSON_Parse("{\"vocab\": 32, \"name\": \"x\"}");
	struct st_writer *w = st_writer_new("tower", 2, config);
	st_writer_meta(w, "note", "hello");
	st_writer_add(w, "a", ST_F32, 2, (int64_t[]){2, 3}, a);
	st_writer_add(w, "b", ST_I32, 1, (int64_t[]){3}, b);
	st_writer_add(w, "scalar", ST_F32, 0, NULL, data16);
	ck_assert_int_eq(st_writer_write(w, path), 0);
	st_writer_free(w);
	cJSON_Delete(config);

	struct st_file f;
	ck_assert_int_eq(st_open(&f, path), 0);
	ck_assert_str_eq(f.kind, "tower");
	ck_assert_int_eq(f.version, 2);
	ck_assert_int_eq(cJSON_GetObjectItem(f.config, "vocab")->valueint, 32);
	ck_assert_str_eq(st_meta(&f, "note"), "hello");
	ck_assert_uint_eq(f.n_tensors, 3);
	ck_assert_uint_eq(st_param_count(&f), 10);
	const float *ra = st_get_f32(&f, "a", 2, (int64_t[]){2, 3});
	ck_assert_ptr_nonnull(ra);
	ck_assert_uint_eq((uintptr_t)ra % 64, 0);
	ck_assert(memcmp(ra, a, sizeof a) == 0);
	const struct st_tensor *tb = st_find(&f, "b");
	ck_assert(tb->dtype == ST_I32 && tb->ndim == 1 && tb->shape[0] == 3);
	ck_assert(memcmp(tb->data, b, sizeof b) == 0);
	ck_assert(*(const float *)st_find(&f, "scalar")->data == 1.0f);
	ck_assert_int_eq(st_verify(&f), 0);
	const char *names[] = {"a", "b", "scalar"};
	ck_assert_int_eq(st_check_names(&f, NULL, names, 3), 0);
	st_close(&f);
}
END_TEST

START_TEST(test_python_fixture)
{
	/* tests/ref/make_tiny.py: an independent writer. */
	char *fixture = xasprintf("%s/tests/data/tiny.zpm", getenv("top_srcdir") ? getenv("top_srcdir") : ".");
	struct st_file f;
	ck_assert_msg(st_open(&f, fixture) == 0, "%s", zerr_msg());
	ck_assert_str_eq(f.kind, "tower");
	ck_assert_uint_eq(f.n_tensors, 11);
	ck_assert_int_eq(st_verify(&f), 0);
	const float *norm = st_get_f32(&f, "text.model.norm.weight", 1, (int64_t[]){16});
	ck_assert_ptr_nonnull(norm);
	ck_assert(norm[0] == 1.0f && norm[15] == 1.0f);
	ck_assert_ptr_null(st_get_f32(&f, "text.model.norm.weight", 1, (int64_t[]){8}));
	ck_assert_ptr_nonnull(strstr(zerr_msg(), "tensor text.model.norm.weight: expected F32 [8], found F32 [16]"));
	ck_assert_ptr_null(st_get_f32(&f, "nope", 1, (int64_t[]){8}));
	ck_assert_ptr_nonnull(strstr(zerr_msg(), "tensor nope is missing"));
	st_close(&f);
	free(fixture);
}
END_TEST

START_TEST(test_unaligned_data_is_realigned)
{
	/* Header of odd length: data starts unaligned in the file. */
	write_raw("{\"x\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", data16, 16);
	struct st_file f;
	ck_assert_int_eq(st_open(&f, path), 0);
	const float *x = st_get_f32(&f, "x", 1, (int64_t[]){4});
	ck_assert_uint_eq((uintptr_t)x % 4, 0);
	ck_assert(x[3] == 4.0f);
	ck_assert_ptr_null(f.kind);
	st_close(&f);
}
END_TEST

START_TEST(test_too_short)
{
	FILE *fp = fopen(path, "wb");
	fwrite("abc", 1, 3, fp);
	fclose(fp);
	expect_open_error("too short to be a safetensors file (3 bytes)");
}
END_TEST

START_TEST(test_header_beyond_file)
{
	unsigned char bytes[12] = {0xff, 0xff, 0, 0, 0, 0, 0, 0, '{', '}', ' ', ' '};
	FILE *fp = fopen(path, "wb");
	fwrite(bytes, 1, sizeof bytes, fp);
	fclose(fp);
	expect_open_error("header length 65535 runs past the end of the file");
}
END_TEST

START_TEST(test_not_json)
{
	write_raw("{\"x\": [1, 2", NULL, 0);
	expect_open_error("header is not valid JSON");
}
END_TEST

START_TEST(test_trailing_garbage)
{
	write_raw("{}  x", NULL, 0);
	expect_open_error("header has data after its JSON");
}
END_TEST

START_TEST(test_not_object)
{
	write_raw("[1]", NULL, 0);
	expect_open_error("header is not a JSON object");
}
END_TEST

START_TEST(test_unknown_dtype)
{
	write_raw("{\"x\":{\"dtype\":\"F128\",\"shape\":[1],\"data_offsets\":[0,16]}}", data16, 16);
	expect_open_error("tensor x: missing or unknown dtype");
}
END_TEST

START_TEST(test_bad_shape)
{
	write_raw("{\"x\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", data16, 16);
	expect_open_error("tensor x: shape entries must be non-negative integers");
	write_raw("{\"x\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", data16, 16);
	expect_open_error("tensor x: shape entries must be non-negative integers");
	write_raw("{\"x\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}", data16, 16);
	expect_open_error("tensor x: more than 8 dimensions");
}
END_TEST

START_TEST(test_shape_overflow)
{
	write_raw("{\"x\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,16]}}",
		  data16, 16);
	expect_open_error("tensor x: shape product overflows");
	write_raw("{\"x\":{\"dtype\":\"F64\",\"shape\":[4611686018427387904],\"data_offsets\":[0,16]}}",
		  data16, 16);
	expect_open_error("tensor x: shape entries must be non-negative integers");
	write_raw("{\"x\":{\"dtype\":\"F64\",\"shape\":[4503599627370496,1024],\"data_offsets\":[0,16]}}",
		  data16, 16);
	expect_open_error("tensor x: byte size overflows");
}
END_TEST

START_TEST(test_size_disagrees)
{
	write_raw("{\"x\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,16]}}", data16, 16);
	expect_open_error("tensor x: dtype and shape disagree with data_offsets");
}
END_TEST

START_TEST(test_offsets_outside)
{
	write_raw("{\"x\":{\"dtype\":\"F32\",\"shape\":[8],\"data_offsets\":[0,32]}}", data16, 16);
	expect_open_error("tensor x: data_offsets run past the end of the file");
	write_raw("{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,4]}}", data16, 16);
	expect_open_error("tensor x: data_offsets must be [begin, end] with begin <= end");
}
END_TEST

START_TEST(test_overlap)
{
	write_raw("{\"x\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,12]},"
		  "\"y\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}", data16, 16);
	expect_open_error("tensor y overlaps another tensor's data");
}
END_TEST

START_TEST(test_duplicate_name)
{
	write_raw("{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
		  "\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}", data16, 16);
	expect_open_error("tensor x appears twice");
}
END_TEST

START_TEST(test_bad_metadata)
{
	write_raw("{\"__metadata__\":{\"zipper.kind\":3}}", NULL, 0);
	expect_open_error("metadata zipper.kind is not a string");
	write_raw("{\"__metadata__\":{\"zipper.config\":\"{oops\"}}", NULL, 0);
	expect_open_error("metadata zipper.config is not a JSON object");
	write_raw("{\"__metadata__\":{\"zipper.version\":\"one\"}}", NULL, 0);
	expect_open_error("metadata zipper.version 'one' is not a version number");
	write_raw("{\"__metadata__\":{\"zipper.crc32\":\"{\\\"y\\\":\\\"00000000\\\"}\"}}", NULL, 0);
	expect_open_error("metadata zipper.crc32 names unknown tensor y");
}
END_TEST

START_TEST(test_corrupt_tensor_named)
{
	float a[4] = {1, 2, 3, 4}, b[4] = {5, 6, 7, 8};
	struct st_writer *w = st_writer_new("test", 1, NULL);
	st_writer_add(w, "a", ST_F32, 1, (int64_t[]){4}, a);
	st_writer_add(w, "b", ST_F32, 1, (int64_t[]){4}, b);
	ck_assert_int_eq(st_writer_write(w, path), 0);
	st_writer_free(w);
	FILE *fp = fopen(path, "r+b");
	fseek(fp, -1, SEEK_END); /* last byte of b */
	fputc(0x55, fp);
	fclose(fp);
	struct st_file f;
	ck_assert_int_eq(st_open(&f, path), 0);
	ck_assert_int_eq(st_verify(&f), -1);
	char *want = xasprintf("%s: tensor b is corrupt (crc32 mismatch)", path);
	ck_assert_str_eq(zerr_msg(), want);
	free(want);
	st_close(&f);
}
END_TEST

START_TEST(test_check_names)
{
	float a[4] = {0};
	struct st_writer *w = st_writer_new("tower", 1, NULL);
	st_writer_add(w, "t.a", ST_F32, 1, (int64_t[]){4}, a);
	st_writer_add(w, "t.extra", ST_F32, 1, (int64_t[]){4}, a);
	st_writer_add(w, "s.b", ST_F32, 1, (int64_t[]){4}, a);
	ck_assert_int_eq(st_writer_write(w, path), 0);
	st_writer_free(w);
	struct st_file f;
	ck_assert_int_eq(st_open(&f, path), 0);
	const char *want_missing[] = {"t.a", "t.b"};
	ck_assert_int_eq(st_check_names(&f, "t.", want_missing, 2), -1);
	ck_assert_ptr_nonnull(strstr(zerr_msg(), ": tensor t.b is missing"));
	const char *want_a[] = {"t.a"};
	ck_assert_int_eq(st_check_names(&f, "t.", want_a, 1), -1);
	ck_assert_ptr_nonnull(strstr(zerr_msg(), ": unknown tensor t.extra for a tower file"));
	const char *want_all[] = {"t.a", "t.extra"};
	ck_assert_int_eq(st_check_names(&f, "t.", want_all, 2), 0);
	st_close(&f);
}
END_TEST

static uint32_t bits_of(float x)
{
	uint32_t u;
	memcpy(&u, &x, sizeof u);
	return u;
}

START_TEST(test_f16_every_pattern)
{
	/* Cases by hand first, so a failure says which. */
	ck_assert_uint_eq(bits_of(st_f16_to_f32(0x3c00)), bits_of(1.0f));
	ck_assert_uint_eq(bits_of(st_f16_to_f32(0xc000)), bits_of(-2.0f));
	ck_assert_uint_eq(bits_of(st_f16_to_f32(0x7bff)), bits_of(65504.0f));
	ck_assert_uint_eq(bits_of(st_f16_to_f32(0x0400)), bits_of(0x1p-14f)); /* smallest normal */
	ck_assert_uint_eq(bits_of(st_f16_to_f32(0x0001)), bits_of(0x1p-24f)); /* smallest subnormal */
	ck_assert_uint_eq(bits_of(st_f16_to_f32(0x83ff)), bits_of(-0x3ffp-24f)); /* largest subnormal */
	ck_assert_uint_eq(bits_of(st_f16_to_f32(0x8000)), 0x80000000u); /* -0 */
	ck_assert_uint_eq(bits_of(st_f16_to_f32(0x7c00)), 0x7f800000u); /* +inf */
	ck_assert_uint_eq(bits_of(st_f16_to_f32(0xfc00)), 0xff800000u); /* -inf */
	ck_assert_uint_eq(bits_of(st_f16_to_f32(0x7e00)), 0x7fc00000u); /* quiet NaN */
	ck_assert_uint_eq(bits_of(st_f16_to_f32(0xfc01)), 0xff802000u); /* signalling, payload kept */
#ifdef __FLT16_MAX__
	/* And the compiler's own _Float16 (GCC and Clang on x86-64, AArch64):
	 * bit-exact except that it may quiet a signalling NaN's payload. */
	for (uint32_t h = 0; h < 65536; h++) {
		uint16_t h16 = (uint16_t)h;
		_Float16 x;
		memcpy(&x, &h16, sizeof x);
		float want_f = (float)x, have = st_f16_to_f32(h16);
		if (isnan(want_f))
			ck_assert_msg(isnan(have) && signbit(have) == signbit(want_f), "half %04x", h);
		else
			ck_assert_msg(bits_of(have) == bits_of(want_f), "half %04x: %08x, _Float16 says %08x", h,
				      bits_of(have), bits_of(want_f));
	}
#endif
	/* Then all 65,536 halves, as little-endian float32 bits, hashed and compared
	 * with NumPy's conversion of the same (tests/ref/tower_hf.py). */
	unsigned char *table = xmalloc(65536 * 4);
	for (uint32_t h = 0; h < 65536; h++) {
		uint32_t u = bits_of(st_f16_to_f32((uint16_t)h));
		for (int k = 0; k < 4; k++)
			table[4 * h + (uint32_t)k] = (unsigned char)(u >> (8 * k));
	}
	uint8_t d[32];
	char hex[65], want[80] = "";
	sha256(table, 65536 * 4, d);
	sha256_hex(d, hex);
	free(table);
	char *p = xasprintf("%s/tests/data/f16-f32.sha256", getenv("top_srcdir") ? getenv("top_srcdir") : ".");
	FILE *f = fopen(p, "r");
	ck_assert_msg(f && fgets(want, sizeof want, f), "cannot read %s", p);
	fclose(f);
	free(p);
	want[strcspn(want, "\n")] = 0;
	ck_assert_str_eq(hex, want);
}
END_TEST

START_TEST(test_bf16_every_pattern)
{
	/* bfloat16 is the top half of a float32, NaNs and subnormals included. */
	for (uint32_t h = 0; h < 65536; h++)
		ck_assert_uint_eq(bits_of(st_bf16_to_f32((uint16_t)h)), h << 16);
	ck_assert(st_bf16_to_f32(0x3f80) == 1.0f && st_bf16_to_f32(0xc040) == -3.0f);
}
END_TEST

START_TEST(test_read_f32_widens_f16_and_bf16)
{
	float a[3] = {1, -2, 0.5f};
	uint16_t bf[3] = {0x3f80, 0xc040, 0x0000}; /* 1, -3, 0 */
	unsigned char h[8] = {0x00, 0x3c, 0x00, 0xc0, 0x01, 0x00, 0x00, 0x7c}; /* 1, -2, 2^-24, inf (LE) */
	int32_t i[3] = {1, 2, 3};
	struct st_writer *w = st_writer_new(NULL, 0, NULL);
	st_writer_add(w, "b", ST_BF16, 1, (int64_t[]){3}, bf); /* 6 bytes: h lands 2-byte aligned */
	st_writer_add(w, "h", ST_F16, 2, (int64_t[]){2, 2}, h);
	st_writer_add(w, "a", ST_F32, 1, (int64_t[]){3}, a);
	st_writer_add(w, "i", ST_I32, 1, (int64_t[]){3}, i);
	ck_assert_int_eq(st_writer_write(w, path), 0);
	st_writer_free(w);
	struct st_file f;
	ck_assert_int_eq(st_open(&f, path), 0);
	float out[4];
	ck_assert_int_eq(st_read_f32(&f, "b", 1, (int64_t[]){3}, out), 0);
	ck_assert(out[0] == 1.0f && out[1] == -3.0f && out[2] == 0.0f);
	ck_assert_int_eq(st_read_f32(&f, "h", 2, (int64_t[]){2, 2}, out), 0);
	ck_assert(out[0] == 1.0f && out[1] == -2.0f && out[2] == 0x1p-24f && isinf(out[3]) && out[3] > 0);
	ck_assert_int_eq(st_read_f32(&f, "a", 1, (int64_t[]){3}, out), 0);
	ck_assert(memcmp(out, a, sizeof a) == 0);
	char *want = xasprintf("%s: tensor i: expected F32, F16 or BF16 [3], found I32 [3]", path);
	ck_assert_int_eq(st_read_f32(&f, "i", 1, (int64_t[]){3}, out), -1);
	ck_assert_str_eq(zerr_msg(), want);
	free(want);
	want = xasprintf("%s: tensor h: expected F32, F16 or BF16 [4], found F16 [2, 2]", path);
	ck_assert_int_eq(st_read_f32(&f, "h", 1, (int64_t[]){4}, out), -1);
	ck_assert_str_eq(zerr_msg(), want);
	free(want);
	/* st_get_f32 uses data in place: F32 only. */
	ck_assert_ptr_null(st_get_f32(&f, "b", 1, (int64_t[]){3}));
	ck_assert_ptr_nonnull(strstr(zerr_msg(), "tensor b: expected F32 [3], found BF16 [3]"));
	st_close(&f);
}
END_TEST

START_TEST(test_missing_file)
{
	struct st_file f;
	ck_assert_int_eq(st_open(&f, "/nonexistent.zpm"), -1);
	ck_assert_str_eq(zerr_msg(), "/nonexistent.zpm: No such file or directory");
}
END_TEST

static Suite *st_suite(void)
{
	Suite *s = suite_create("safetensors");
	TCase *tc = tcase_create("safetensors");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_roundtrip);
	tcase_add_test(tc, test_python_fixture);
	tcase_add_test(tc, test_unaligned_data_is_realigned);
	tcase_add_test(tc, test_too_short);
	tcase_add_test(tc, test_header_beyond_file);
	tcase_add_test(tc, test_not_json);
	tcase_add_test(tc, test_trailing_garbage);
	tcase_add_test(tc, test_not_object);
	tcase_add_test(tc, test_unknown_dtype);
	tcase_add_test(tc, test_bad_shape);
	tcase_add_test(tc, test_shape_overflow);
	tcase_add_test(tc, test_size_disagrees);
	tcase_add_test(tc, test_offsets_outside);
	tcase_add_test(tc, test_overlap);
	tcase_add_test(tc, test_duplicate_name);
	tcase_add_test(tc, test_bad_metadata);
	tcase_add_test(tc, test_corrupt_tensor_named);
	tcase_add_test(tc, test_check_names);
	tcase_add_test(tc, test_missing_file);
	tcase_add_test(tc, test_f16_every_pattern);
	tcase_add_test(tc, test_bf16_every_pattern);
	tcase_add_test(tc, test_read_f32_widens_f16_and_bf16);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(st_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
