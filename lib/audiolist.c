/* audiolist: audio inputs as (id, path) pairs (see audiolist.h). */
#include "config.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "archive.h"
#include "audio.h"
#include "audiolist.h"
#include "xalloc.h"
#include "zerr.h"

void audiolist_init(struct audiolist *l)
{
	memset(l, 0, sizeof *l);
	l->seen = keyindex_new();
}

int audiolist_add(struct audiolist *l, const char *id, const char *path, const char *where)
{
	size_t existing;
	char *key = xstrdup(id);
	if (keyindex_put(l->seen, key, l->n, &existing) < 0) {
		zerr_set("%s: utterance id '%s' appears twice", where, id);
		free(key);
		return -1;
	}
	if (l->n == l->cap)
		xgrow(&l->items, &l->cap, l->n + 1, sizeof *l->items);
	l->items[l->n].id = key;
	l->items[l->n].path = xstrdup(path);
	l->n++;
	return 0;
}

static bool is_list(const char *arg, const char **path)
{
	size_t len = strlen(arg);
	if (!strncmp(arg, "scp:", 4)) {
		*path = arg + 4;
		return true;
	}
	*path = arg;
	return len > 4 && !strcmp(arg + len - 4, ".scp");
}

static int add_list(struct audiolist *l, const char *path)
{
	struct kv_reader *r = kv_open(path);
	if (!r)
		return -1;
	const char *id, *value;
	size_t before = l->n;
	int rc;
	while ((rc = kv_next(r, &id, &value)) == 1) {
		char *where = xasprintf("%s:%ld", kv_name(r), kv_lineno(r));
		size_t len = strlen(value);
		if (len == 0 || value[len - 1] == '|') {
			zerr_set("%s: %s", where, len ? "commands ending in '|' are not supported; "
						       "give a path to an audio file"
						     : "no audio path after the id");
			rc = -1;
		} else {
			rc = audiolist_add(l, id, value, where);
		}
		free(where);
		if (rc < 0)
			break;
	}
	if (rc == 0 && l->n == before) { /* an upstream step that wrote nothing: said here, by name */
		zerr_set("%s: no utterances in the list", kv_name(r));
		rc = -1;
	}
	kv_close(r);
	return rc < 0 ? -1 : 0;
}

int audiolist_add_arg(struct audiolist *l, const char *arg)
{
	const char *path;
	if (is_list(arg, &path))
		return add_list(l, path);
	char *id = audio_id_from_path(arg);
	int rc = audiolist_add(l, id, arg, arg);
	free(id);
	return rc;
}

void audiolist_free(struct audiolist *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->items[i].id);
		free(l->items[i].path);
	}
	free(l->items);
	keyindex_free(l->seen);
	memset(l, 0, sizeof *l);
}
