/* zio: reading and writing the toolkit's files.
 *
 * Inputs: a path, or "-" for stdin; gzip-compressed input is recognised by
 * its magic number and decompressed through zlib, whatever the name.
 * Lines are read whole however long they are (a 1-hour utterance is one line).
 *
 * Outputs: "-" is stdout. Anything else is written to a temporary file in
 * the same directory and renamed over the destination only by zout_commit(),
 * after an fsync, so a reader never sees a half-written file and a failed
 * run leaves what the user had untouched. A path ending in ".gz" is
 * compressed. Temporary files still open when the program exits (cli_die,
 * a signal handler calling exit) are removed. */
#ifndef ZIPPER_ZIO_H
#define ZIPPER_ZIO_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "zerr.h"

struct zin;

struct zin *zin_open(const char *path);
/* Next line without its "\n" (a "\r\n" ending loses the "\r" too). The
 * returned buffer is the reader's, valid until the next call; it is
 * NUL-terminated, and *len is set when len is not NULL. Returns the line,
 * or NULL at end of input (zerr_msg() empty) or on a read error (zin_failed). */
char *zin_getline(struct zin *in, size_t *len);
/* Up to n raw bytes (for binary records): returns the count read, which
 * is less than n only at end of input, or -1 on a read error. Mixes with
 * zin_getline on the same stream. */
ssize_t zin_read(struct zin *in, void *buf, size_t n);
bool zin_failed(const struct zin *in);
long zin_lineno(const struct zin *in); /* of the line last returned, from 1 */
const char *zin_name(const struct zin *in); /* "-" shows as "stdin" */
void zin_close(struct zin *in);

struct zout;

struct zout *zout_open(const char *path);
int zout_write(struct zout *out, const void *buf, size_t n);
int zout_puts(struct zout *out, const char *s);
int zout_printf(struct zout *out, const char *fmt, ...) ZIP_PRINTF(2, 3);
const char *zout_name(const struct zout *out);
/* Flush, fsync and rename into place. Frees out whatever happens. */
int zout_commit(struct zout *out);
/* Discard: remove the temporary file. Frees out. */
void zout_abort(struct zout *out);

/* 0 if path could be written (zout_open would succeed), -1 with zerr set
 * if not; nothing is left behind. For programs that write their output
 * only at the end of a long run. */
int zout_check(const char *path);

/* Write a whole file atomically in one call. */
int zio_write_file(const char *path, const void *buf, size_t n);

#endif
