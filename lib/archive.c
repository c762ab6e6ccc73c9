/* archive: utterance ids, the key index, the keyed join, and the id sets the
 * readers use to reject duplicates. The formats themselves are in
 * archive_lines.c (audio lists, transcripts, token archives) and
 * archive_tensor.c (tensor archives). */
#include "config.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archive.h"
#include "archive_impl.h"
#include "xalloc.h"
#include "zerr.h"
#include "zio.h"

/* ---- utterance ids ---- */

/* Length of the UTF-8 sequence at s (at most n bytes), 0 if it is not a
 * valid, shortest-form encoding of a scalar value. */
static size_t utf8_seq(const unsigned char *s, size_t n, uint32_t *cp)
{
	unsigned char c = s[0];
	size_t len;
	uint32_t v, min;
	if (c < 0x80) {
		*cp = c;
		return 1;
	} else if (c >= 0xc2 && c <= 0xdf) {
		len = 2, v = c & 0x1f, min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3, v = c & 0x0f, min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4, v = c & 0x07, min = 0x10000;
	} else {
		return 0; /* continuation byte, overlong lead (c0, c1) or beyond f4 */
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		v = v << 6 | (s[i] & 0x3f);
	}
	if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
		return 0;
	*cp = v;
	return len;
}

const char *archive_id_problem(const char *id, size_t len)
{
	if (len == 0)
		return "utterance id is empty";
	const unsigned char *s = (const unsigned char *)id;
	for (size_t i = 0; i < len;) {
		uint32_t cp;
		size_t k = utf8_seq(s + i, len - i, &cp);
		if (k == 0)
			return "utterance id is not valid UTF-8";
		if (cp == ' ' || cp == '\t')
			return "utterance id contains a blank";
		if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0))
			return "utterance id contains a control character";
		i += k;
	}
	return NULL;
}

bool archive_valid_id(const char *id, size_t len)
{
	return archive_id_problem(id, len) == NULL;
}

/* ---- key index: open addressing, linear probing, FNV-1a ---- */

struct keyslot {
	const char *key; /* NULL: empty */
	uint64_t hash;
	size_t value;
};

struct keyindex {
	struct keyslot *slot;
	size_t cap; /* a power of two, kept at least twice count */
	size_t count;
};

static uint64_t fnv1a(const char *s)
{
	uint64_t h = 0xcbf29ce484222325u;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		h = (h ^ *p) * 0x100000001b3u;
	return h;
}

struct keyindex *keyindex_new(void)
{
	struct keyindex *k = xmalloc(sizeof *k);
	k->cap = 64;
	k->count = 0;
	k->slot = xcalloc(k->cap, sizeof *k->slot);
	return k;
}

/* The slot holding key, or the empty slot where it would go. */
static struct keyslot *find_slot(const struct keyindex *k, const char *key, uint64_t hash)
{
	size_t mask = k->cap - 1;
	for (size_t i = (size_t)hash & mask;; i = (i + 1) & mask) {
		struct keyslot *s = &k->slot[i];
		if (!s->key || (s->hash == hash && strcmp(s->key, key) == 0))
			return s;
	}
}

static void grow(struct keyindex *k)
{
	struct keyslot *old = k->slot;
	size_t old_cap = k->cap;
	k->cap *= 2;
	k->slot = xcalloc(k->cap, sizeof *k->slot);
	for (size_t i = 0; i < old_cap; i++)
		if (old[i].key)
			*find_slot(k, old[i].key, old[i].hash) = old[i];
	free(old);
}

int keyindex_put(struct keyindex *k, const char *key, size_t value, size_t *existing)
{
	uint64_t hash = fnv1a(key);
	struct keyslot *s = find_slot(k, key, hash);
	if (s->key) {
		if (existing)
			*existing = s->value;
		return -1;
	}
	*s = (struct keyslot){ key, hash, value };
	if (++k->count * 2 > k->cap)
		grow(k);
	return 0;
}

ptrdiff_t keyindex_get(const struct keyindex *k, const char *key)
{
	const struct keyslot *s = find_slot(k, key, fnv1a(key));
	return s->key ? (ptrdiff_t)s->value : -1;
}

size_t keyindex_count(const struct keyindex *k)
{
	return k->count;
}

void keyindex_free(struct keyindex *k)
{
	if (!k)
		return;
	free(k->slot);
	free(k);
}

/* ---- keyed join ---- */

int join_mode_parse(const char *s, enum join_mode *mode)
{
	static const struct {
		const char *name;
		enum join_mode mode;
	} modes[] = { { "strict", JOIN_STRICT }, { "present", JOIN_PRESENT }, { "all", JOIN_ALL } };
	for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++)
		if (strcmp(s, modes[i].name) == 0) {
			*mode = modes[i].mode;
			return 0;
		}
	zerr_set("unknown mode '%s' (expected strict, present or all)", s);
	return -1;
}

/* "hyp: utterance 'u3' of ref is missing (and 2 more)" */
static void missing_error(const char *table, const char *key, const char *other, size_t count)
{
	if (count > 1)
		zerr_set("%s: utterance '%s' of %s is missing (and %zu more)", table, key, other, count - 1);
	else
		zerr_set("%s: utterance '%s' of %s is missing", table, key, other);
}

static struct keyindex *index_keys(const char *const *keys, size_t n, const char *name)
{
	struct keyindex *k = keyindex_new();
	for (size_t i = 0; i < n; i++)
		if (keyindex_put(k, keys[i], i, NULL) < 0) {
			zerr_set("%s: duplicate utterance id '%s'", name, keys[i]);
			keyindex_free(k);
			return NULL;
		}
	return k;
}

int join_keys(const char *const *left, size_t n_left, const char *left_name,
	      const char *const *right, size_t n_right, const char *right_name,
	      enum join_mode mode, struct join_result *out)
{
	memset(out, 0, sizeof *out);
	struct keyindex *lk = index_keys(left, n_left, left_name);
	struct keyindex *rk = lk ? index_keys(right, n_right, right_name) : NULL;
	if (!rk) {
		keyindex_free(lk);
		return -1;
	}
	out->left = xmallocarray(n_left ? n_left : 1, sizeof *out->left);
	out->right = xmallocarray(n_left ? n_left : 1, sizeof *out->right);
	const char *first_missing_right = NULL, *first_missing_left = NULL;
	for (size_t i = 0; i < n_left; i++) {
		ptrdiff_t j = keyindex_get(rk, left[i]);
		if (j < 0 && out->missing_right++ == 0)
			first_missing_right = left[i];
		if (j >= 0 || mode == JOIN_ALL) {
			out->left[out->n] = i;
			out->right[out->n++] = j;
		}
	}
	for (size_t j = 0; j < n_right; j++)
		if (keyindex_get(lk, right[j]) < 0 && out->missing_left++ == 0)
			first_missing_left = right[j];
	keyindex_free(lk);
	keyindex_free(rk);
	if (mode == JOIN_STRICT && (out->missing_right || out->missing_left)) {
		if (out->missing_right)
			missing_error(right_name, first_missing_right, left_name, out->missing_right);
		else
			missing_error(left_name, first_missing_left, right_name, out->missing_left);
		join_result_free(out);
		return -1;
	}
	return 0;
}

void join_result_free(struct join_result *r)
{
	free(r->left);
	free(r->right);
	memset(r, 0, sizeof *r);
}

/* ---- the set of ids a reader has seen, for duplicate checks ---- */

enum { IDSET_BLOCK = 1 << 16 };

void idset_init(struct idset *s)
{
	memset(s, 0, sizeof *s);
	s->index = keyindex_new();
}

void idset_free(struct idset *s)
{
	keyindex_free(s->index);
	for (size_t i = 0; i < s->nblock; i++)
		free(s->block[i]);
	free(s->block);
}

/* 0 if new, -1 if seen before (*first: where). */
int idset_add(struct idset *s, const char *id, size_t len, long where, long *first)
{
	if (s->nblock == 0 || s->cap - s->used < len + 1) {
		s->cap = len + 1 > IDSET_BLOCK ? len + 1 : IDSET_BLOCK;
		s->block = xreallocarray(s->block, s->nblock + 1, sizeof *s->block);
		s->block[s->nblock++] = xmalloc(s->cap);
		s->used = 0;
	}
	char *copy = s->block[s->nblock - 1] + s->used;
	memcpy(copy, id, len);
	copy[len] = '\0';
	size_t old;
	if (keyindex_put(s->index, copy, (size_t)where, &old) < 0) {
		*first = (long)old;
		return -1;
	}
	s->used += len + 1;
	return 0;
}
