/* archive_impl: what the archive modules share and programs need not see. */
#ifndef ZIPPER_ARCHIVE_IMPL_H
#define ZIPPER_ARCHIVE_IMPL_H

#include <stddef.h>

#include "archive.h"

/* Ids are copied into blocks that never move, so the index can point at them. */
struct idset {
	struct keyindex *index; /* id -> where it was first seen (line or record) */
	char **block;
	size_t nblock, used, cap; /* used/cap: of the last block */
};

void idset_init(struct idset *s);
void idset_free(struct idset *s);
/* 0 if new, -1 if seen before (*first: where it was first seen). */
int idset_add(struct idset *s, const char *id, size_t len, long where, long *first);

#endif
