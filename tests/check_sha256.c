/* Unit tests for sha256: the FIPS 180-2 examples, hashlib digests of many
 * lengths (tests/ref/sha256.py), and incremental updates of every split. */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sha256.h"
#include "xalloc.h"

static void hex_of(const void *data, size_t n, char hex[65])
{
	uint8_t d[32];
	sha256(data, n, d);
	sha256_hex(d, hex);
}

START_TEST(test_fips_examples)
{
	char hex[65];
	hex_of("abc", 3, hex);
	ck_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	const char *m448 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	hex_of(m448, strlen(m448), hex);
	ck_assert_str_eq(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
	hex_of("", 0, hex);
	ck_assert_str_eq(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}
END_TEST

START_TEST(test_million_a)
{
	/* Fed in uneven pieces so the partial-block path runs too. */
	char chunk[997];
	memset(chunk, 'a', sizeof chunk);
	struct sha256_ctx c;
	sha256_init(&c);
	size_t left = 1000000;
	while (left > 0) {
		size_t n = left < sizeof chunk ? left : sizeof chunk;
		sha256_update(&c, chunk, n);
		left -= n;
	}
	uint8_t d[32];
	char hex[65];
	sha256_final(&c, d);
	sha256_hex(d, hex);
	ck_assert_str_eq(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}
END_TEST

static unsigned char *pattern(size_t n)
{
	unsigned char *p = xmalloc(n ? n : 1);
	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char)(((uint32_t)(i * 2654435761u)) >> 13);
	return p;
}

START_TEST(test_matches_hashlib)
{
	const char *top = getenv("top_srcdir");
	char *path = xasprintf("%s/tests/data/sha256.txt", top ? top : ".");
	FILE *f = fopen(path, "r");
	ck_assert_msg(f != NULL, "cannot open %s", path);
	size_t n;
	char want[65], got[65];
	int lines = 0;
	while (fscanf(f, "%zu %64s", &n, want) == 2) {
		unsigned char *p = pattern(n);
		hex_of(p, n, got);
		ck_assert_msg(strcmp(got, want) == 0, "length %zu: %s, hashlib %s", n, got, want);
		free(p);
		lines++;
	}
	ck_assert_int_eq(lines, 134);
	fclose(f);
	free(path);
}
END_TEST

START_TEST(test_incremental_every_split)
{
	enum { N = 300 };
	unsigned char *p = pattern(N);
	uint8_t one[32], two[32];
	sha256(p, N, one);
	for (size_t a = 0; a <= N; a += 7)
		for (size_t b = a; b <= N; b += 13) {
			struct sha256_ctx c;
			sha256_init(&c);
			sha256_update(&c, p, a);
			sha256_update(&c, p + a, b - a);
			sha256_update(&c, p + b, N - b);
			sha256_final(&c, two);
			ck_assert_msg(memcmp(one, two, 32) == 0, "split %zu %zu", a, b);
		}
	free(p);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("sha256");
	TCase *tc = tcase_create("sha256");
	tcase_add_test(tc, test_fips_examples);
	tcase_add_test(tc, test_million_a);
	tcase_add_test(tc, test_matches_hashlib);
	tcase_add_test(tc, test_incremental_every_split);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
