/* xalloc: allocation that never returns NULL, and an arena for per-run buffers.
 *
 * Running out of memory is not something a command-line tool can recover
 * from, so these print "prog: out of memory" and exit 1 instead of making
 * every caller check. Sizes are checked for multiplication overflow. */
#ifndef ZIPPER_XALLOC_H
#define ZIPPER_XALLOC_H

#include <stddef.h>

void *xmalloc(size_t size);
void *xcalloc(size_t count, size_t size);
void *xmallocarray(size_t count, size_t size);
void *xreallocarray(void *ptr, size_t count, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* malloc'd printf. */
char *xasprintf(const char *fmt, ...)
#if defined(__GNUC__)
	__attribute__((format(printf, 1, 2)))
#endif
	;

/* Grow *buf (holding *cap elements of elem bytes) to hold at least need. */
void xgrow(void *buf_ptr, size_t *cap, size_t need, size_t elem);

/* Arena: one block carved into aligned pieces, freed all at once. Models
 * and runs allocate their buffers here up front so hot loops never call
 * malloc. Running past capacity is a programming error and aborts. */
struct arena {
	unsigned char *base;
	size_t used, cap;
};

void arena_init(struct arena *a, size_t cap);
/* Zeroed, 64-byte aligned (a cache line, and enough for AVX-512 loads). */
void *arena_alloc(struct arena *a, size_t size);
float *arena_floats(struct arena *a, size_t count);
void arena_reset(struct arena *a);
void arena_free(struct arena *a);

#endif
