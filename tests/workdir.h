/* tests/workdir.h: a scratch directory per test for the Check programs,
 * made and removed by a checked fixture:
 *   tcase_add_checked_fixture(tc, make_workdir, remove_workdir);
 * Include after <check.h> and "xalloc.h". */
#ifndef ZIPPER_TESTS_WORKDIR_H
#define ZIPPER_TESTS_WORKDIR_H

#include <stdlib.h>
#include <string.h>

static char workdir[] = "/tmp/zipper-check.XXXXXX";

static void make_workdir(void)
{
	strcpy(workdir, "/tmp/zipper-check.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(workdir));
}

static void remove_workdir(void)
{
	char *cmd = xasprintf("rm -rf '%s'", workdir);
	ck_assert_int_eq(system(cmd), 0);
	free(cmd);
}

/* WORKDIR/name, malloc'd. */
static inline char *path_in_work(const char *name)
{
	return xasprintf("%s/%s", workdir, name);
}

#endif
