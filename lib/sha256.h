/* sha256: SHA-256 (FIPS 180-4), for file fingerprints.
 *
 * A tokenizer's fingerprint is the first 16 hex digits of the SHA-256 of
 * its .tok file; token archives carry it so consumers can reject tokens
 * made by another tokenizer. Not used for anything security-sensitive. */
#ifndef ZIPPER_SHA256_H
#define ZIPPER_SHA256_H

#include <stddef.h>
#include <stdint.h>

struct sha256_ctx {
	uint32_t h[8];
	uint64_t bytes;        /* message length so far */
	unsigned char buf[64]; /* partial block */
	size_t fill;           /* bytes in buf */
};

void sha256_init(struct sha256_ctx *c);
void sha256_update(struct sha256_ctx *c, const void *data, size_t n);
void sha256_final(struct sha256_ctx *c, uint8_t out[32]);

/* One call: out = SHA-256(data[0..n)). */
void sha256(const void *data, size_t n, uint8_t out[32]);
/* 64 lowercase hex digits and a NUL into hex[65]. */
void sha256_hex(const uint8_t d[32], char *hex);

/* A tokenizer's fingerprint, as token archives carry it: the first 16 hex
 * digits of the SHA-256 of its file, into fp[17]. */
enum { SHA256_FINGERPRINT_LEN = 16 };
void sha256_fingerprint(const void *data, size_t n, char *fp);
/* The same, reading the file at path; -1 with zerr when it cannot be read. */
int sha256_file_fingerprint(const char *path, char *fp);

#endif
