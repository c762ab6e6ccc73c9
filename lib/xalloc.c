#include "config.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "xalloc.h"

static void out_of_memory(size_t size)
{
	fprintf(stderr, "%s: out of memory (asked for %zu bytes)\n", cli_progname(), size);
	exit(1);
}

void *xmalloc(size_t size)
{
	void *p = malloc(size ? size : 1);
	if (!p)
		out_of_memory(size);
	return p;
}

void *xcalloc(size_t count, size_t size)
{
	void *p = calloc(count ? count : 1, size ? size : 1);
	if (!p)
		out_of_memory(count * size);
	return p;
}

void *xmallocarray(size_t count, size_t size)
{
	return xreallocarray(NULL, count, size);
}

void *xreallocarray(void *ptr, size_t count, size_t size)
{
	if (size && count > SIZE_MAX / size)
		out_of_memory(SIZE_MAX);
	size_t n = count * size;
	void *p = realloc(ptr, n ? n : 1);
	if (!p)
		out_of_memory(n);
	return p;
}

char *xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

char *xstrndup(const char *s, size_t n)
{
	char *p = xmalloc(n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		out_of_memory(0);
	char *p = xmalloc((size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return p;
}

void xgrow(void *buf_ptr, size_t *cap, size_t need, size_t elem)
{
	void **buf = buf_ptr;
	if (need <= *cap)
		return;
	size_t n = *cap ? *cap : 16;
	while (n < need) {
		if (n > SIZE_MAX / 2)
			out_of_memory(SIZE_MAX);
		n *= 2;
	}
	*buf = xreallocarray(*buf, n, elem);
	*cap = n;
}

enum { ARENA_ALIGN = 64 };

void arena_init(struct arena *a, size_t cap)
{
	cap = (cap + ARENA_ALIGN - 1) / ARENA_ALIGN * ARENA_ALIGN;
	a->base = aligned_alloc(ARENA_ALIGN, cap ? cap : ARENA_ALIGN);
	if (!a->base)
		out_of_memory(cap);
	memset(a->base, 0, cap);
	a->used = 0;
	a->cap = cap;
}

void *arena_alloc(struct arena *a, size_t size)
{
	size_t start = (a->used + ARENA_ALIGN - 1) / ARENA_ALIGN * ARENA_ALIGN;
	if (start > a->cap || size > a->cap - start) {
		fprintf(stderr, "%s: internal error: arena of %zu bytes overflowed\n",
			cli_progname(), a->cap);
		abort();
	}
	a->used = start + size;
	return a->base + start;
}

float *arena_floats(struct arena *a, size_t count)
{
	if (count > SIZE_MAX / sizeof(float))
		out_of_memory(SIZE_MAX);
	return arena_alloc(a, count * sizeof(float));
}

void arena_reset(struct arena *a)
{
	memset(a->base, 0, a->used);
	a->used = 0;
}

void arena_free(struct arena *a)
{
	free(a->base);
	a->base = NULL;
	a->used = a->cap = 0;
}
