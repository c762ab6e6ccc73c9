/* zerr: how library functions report failure.
 *
 * A library function that fails records one human-readable line with
 * zerr_set() and returns -1 (or NULL). The program decides what to do with
 * it, usually cli_die("%s", zerr_msg()). The message names the place when
 * there is one: "file:line: what is wrong". The buffer is per thread. */
#ifndef ZIPPER_ZERR_H
#define ZIPPER_ZERR_H

#if defined(__GNUC__)
#define ZIP_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define ZIP_PRINTF(f, a)
#endif

void zerr_set(const char *fmt, ...) ZIP_PRINTF(1, 2);
/* Prefix the current message with "prefix: " (e.g. a file name). */
void zerr_prefix(const char *fmt, ...) ZIP_PRINTF(1, 2);
const char *zerr_msg(void);
void zerr_clear(void);

#endif
