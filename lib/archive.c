/* archive: utterance ids, the key index, the keyed join, and the readers and
 * writers of the line formats (audio lists, transcripts, token archives) and
 * of tensor archives. */
#include "config.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archive.h"
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

/* Ids are copied into blocks that never move, so the index can point at them. */
struct idset {
	struct keyindex *index; /* id -> where it was first seen (line or record) */
	char **block;
	size_t nblock, used, cap; /* used/cap: of the last block */
};

enum { IDSET_BLOCK = 1 << 16 };

static void idset_init(struct idset *s)
{
	memset(s, 0, sizeof *s);
	s->index = keyindex_new();
}

static void idset_free(struct idset *s)
{
	keyindex_free(s->index);
	for (size_t i = 0; i < s->nblock; i++)
		free(s->block[i]);
	free(s->block);
}

/* 0 if new, -1 if seen before (*first: where). */
static int idset_add(struct idset *s, const char *id, size_t len, long where, long *first)
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

/* ---- keyed lines ---- */

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* Split line into its id (NUL-terminated in place) and the rest after the
 * blanks that follow it; check the id and that it is new. */
static int split_line(struct zin *in, struct idset *seen, char *line, char **id, char **rest)
{
	const char *name = zin_name(in);
	long lineno = zin_lineno(in);
	while (is_blank(*line))
		line++;
	if (*line == '\0') {
		zerr_set("%s:%ld: empty line", name, lineno);
		return -1;
	}
	char *end = line;
	while (*end && !is_blank(*end))
		end++;
	size_t len = (size_t)(end - line);
	const char *why = archive_id_problem(line, len);
	if (why) {
		zerr_set("%s:%ld: %s", name, lineno, why);
		return -1;
	}
	long first;
	if (idset_add(seen, line, len, lineno, &first) < 0) {
		zerr_set("%s:%ld: duplicate utterance id '%.*s' (first at line %ld)", name, lineno,
			 (int)len, line, first);
		return -1;
	}
	while (is_blank(*end))
		*end++ = '\0';
	*id = line;
	*rest = end;
	return 0;
}

/* NULL at end of input (0) or on error (-1 in *rc). */
static char *next_line(struct zin *in, size_t *len, int *rc)
{
	char *line = zin_getline(in, len);
	*rc = line ? 1 : zin_failed(in) ? -1 : 0;
	return line;
}

struct kv_reader {
	struct zin *in;
	struct idset seen;
};

struct kv_reader *kv_open(const char *path)
{
	struct zin *in = zin_open(path);
	if (!in)
		return NULL;
	struct kv_reader *r = xmalloc(sizeof *r);
	r->in = in;
	idset_init(&r->seen);
	return r;
}

int kv_next(struct kv_reader *r, const char **id, const char **value)
{
	size_t len;
	int rc;
	char *line = next_line(r->in, &len, &rc), *key, *rest;
	if (!line)
		return rc;
	if (split_line(r->in, &r->seen, line, &key, &rest) < 0)
		return -1;
	char *end = line + len;
	while (end > rest && is_blank(end[-1]))
		*--end = '\0';
	*id = key;
	*value = rest;
	return 1;
}

long kv_lineno(const struct kv_reader *r)
{
	return zin_lineno(r->in);
}

const char *kv_name(const struct kv_reader *r)
{
	return zin_name(r->in);
}

void kv_close(struct kv_reader *r)
{
	if (!r)
		return;
	zin_close(r->in);
	idset_free(&r->seen);
	free(r);
}

/* ---- token archives ---- */

/* The "#! zipper tokens" header: fields "key=value" separated by blanks;
 * unknown keys are skipped so later versions can add some. */

static bool all_of(const char *s, size_t n, const char *set)
{
	for (size_t i = 0; i < n; i++)
		if (!s[i] || !strchr(set, s[i]))
			return false;
	return true;
}

/* Decimal digits only, value <= max; -1 if not. */
static long parse_count(const char *s, size_t n, long max)
{
	if (n == 0 || n > 10 || !all_of(s, n, "0123456789"))
		return -1;
	int64_t v = 0;
	for (size_t i = 0; i < n; i++)
		v = v * 10 + (s[i] - '0');
	return v <= max ? (long)v : -1;
}

#define LOWER "abcdefghijklmnopqrstuvwxyz"
#define HEX "0123456789abcdef"
#define VOCAB_MAX INT32_MAX /* ids are int32 */

static int header_field(struct tok_header *h, const char *f, size_t n, unsigned *seen)
{
	const char *eq = memchr(f, '=', n);
	if (!eq || eq == f) {
		zerr_set("malformed token header field '%.*s' (expected key=value)", (int)n, f);
		return -1;
	}
	size_t klen = (size_t)(eq - f), vlen = n - klen - 1;
	const char *v = eq + 1;
	static const char *const keys[] = { "modality", "vocab", "tokenizer" };
	unsigned k = 0;
	while (k < 3 && (strlen(keys[k]) != klen || memcmp(f, keys[k], klen) != 0))
		k++;
	if (k == 3)
		return 0;
	if (*seen & 1u << k) {
		zerr_set("token header repeats '%s'", keys[k]);
		return -1;
	}
	*seen |= 1u << k;
	if (k == 0 && vlen > 0 && vlen < sizeof h->modality && all_of(v, vlen, LOWER)) {
		memcpy(h->modality, v, vlen);
		h->modality[vlen] = '\0';
	} else if (k == 1 && (h->vocab = parse_count(v, vlen, VOCAB_MAX)) > 0) {
	} else if (k == 2 && vlen > 0 && vlen < sizeof h->tokenizer && all_of(v, vlen, HEX)) {
		memcpy(h->tokenizer, v, vlen);
		h->tokenizer[vlen] = '\0';
	} else {
		static const char *const want[] = { "lowercase letters", "a positive integer",
						    "1 to 64 lowercase hex digits" };
		zerr_set("bad %s '%.*s' in token header (expected %s)", keys[k], (int)vlen, v, want[k]);
		return -1;
	}
	return 0;
}

/* 1 if line is a token header (parsed into *h), 0 if not, -1 if malformed. */
static int parse_header(const char *line, struct tok_header *h)
{
	static const char magic[] = "#! zipper tokens";
	size_t m = sizeof magic - 1;
	if (strncmp(line, magic, m) != 0 || (line[m] && !is_blank(line[m])))
		return 0;
	memset(h, 0, sizeof *h);
	h->present = true;
	unsigned seen = 0;
	for (const char *p = line + m;;) {
		while (is_blank(*p))
			p++;
		if (!*p)
			return 1;
		size_t n = 0;
		while (p[n] && !is_blank(p[n]))
			n++;
		if (header_field(h, p, n, &seen) < 0)
			return -1;
		p += n;
	}
}

static bool same_header(const struct tok_header *a, const struct tok_header *b)
{
	return a->present == b->present && a->vocab == b->vocab &&
	       strcmp(a->modality, b->modality) == 0 && strcmp(a->tokenizer, b->tokenizer) == 0;
}

struct tok_reader {
	struct zin *in;
	struct idset seen;
	struct tok_header h;
	long bound;     /* ids must be < bound; 0: only int32 */
	char *pending;  /* first line when it was not a header (zin's buffer) */
	int32_t *ids;
	size_t cap;
};

struct tok_reader *tok_open(const char *path, long vocab_limit)
{
	struct zin *in = zin_open(path);
	if (!in)
		return NULL;
	struct tok_reader *r = xcalloc(1, sizeof *r);
	r->in = in;
	idset_init(&r->seen);
	int rc;
	char *line = next_line(in, NULL, &rc);
	if (rc < 0 || (line && (rc = parse_header(line, &r->h)) < 0)) {
		if (line)
			zerr_prefix("%s:1", zin_name(in));
		tok_close(r);
		return NULL;
	}
	if (line && rc == 0)
		r->pending = line;
	r->bound = r->h.vocab;
	if (vocab_limit > 0 && (r->bound == 0 || vocab_limit < r->bound))
		r->bound = vocab_limit;
	return r;
}

const struct tok_header *tok_header(const struct tok_reader *r)
{
	return &r->h;
}

/* Same fingerprint when one is a prefix of the other (both non-empty). */
static bool same_fingerprint(const char *a, const char *b)
{
	size_t n = strlen(a) < strlen(b) ? strlen(a) : strlen(b);
	return n > 0 && strncmp(a, b, n) == 0;
}

int tok_expect(const struct tok_reader *r, const char *modality, long vocab, const char *tokenizer)
{
	const struct tok_header *h = &r->h;
	const char *name = zin_name(r->in);
	if (modality && h->modality[0] && strcmp(modality, h->modality) != 0) {
		zerr_set("%s: tokens are for modality %s, expected %s", name, h->modality, modality);
		return -1;
	}
	if (vocab > 0 && h->vocab > 0 && vocab != h->vocab) {
		zerr_set("%s: tokens have a vocabulary of %ld, expected %ld", name, h->vocab, vocab);
		return -1;
	}
	if (tokenizer && tokenizer[0] && h->tokenizer[0] && !same_fingerprint(tokenizer, h->tokenizer)) {
		zerr_set("%s: tokens were made by tokenizer %s, expected %s", name, h->tokenizer, tokenizer);
		return -1;
	}
	return 0;
}

/* A '#' line after the first: a comment, or a repeated header (as left by
 * cat a.tok b.tok), which must agree with the first. */
static int comment_line(struct tok_reader *r, const char *line)
{
	struct tok_header h;
	int rc = parse_header(line, &h);
	if (rc == 0)
		return 0;
	const char *name = zin_name(r->in);
	long lineno = zin_lineno(r->in);
	if (rc < 0)
		zerr_prefix("%s:%ld", name, lineno);
	else if (!r->h.present)
		zerr_set("%s:%ld: token header after the first line", name, lineno);
	else if (!same_header(&h, &r->h))
		zerr_set("%s:%ld: token header differs from the one on line 1", name, lineno);
	else
		return 0;
	return -1;
}

static int bad_token(struct tok_reader *r, const char *tok, long bound)
{
	size_t n = 0;
	while (tok[n] && !is_blank(tok[n]))
		n++;
	const char *name = zin_name(r->in);
	long lineno = zin_lineno(r->in);
	int shown = n > 40 ? 40 : (int)n;
	const char *more = n > 40 ? "..." : "";
	bool integer = (tok[0] == '-' && n > 1) ? all_of(tok + 1, n - 1, "0123456789")
						 : all_of(tok, n, "0123456789");
	if (!integer)
		zerr_set("%s:%ld: token '%.*s%s' is not an integer", name, lineno, shown, tok, more);
	else if (bound > 0)
		zerr_set("%s:%ld: token %.*s%s is outside the vocabulary [0, %ld)", name, lineno, shown,
			 tok, more, bound);
	else if (tok[0] == '-')
		zerr_set("%s:%ld: token %.*s%s is negative", name, lineno, shown, tok, more);
	else
		zerr_set("%s:%ld: token %.*s%s is too large for an int32", name, lineno, shown, tok, more);
	return -1;
}

/* Decimal ids separated by blanks into r->ids; returns the count or -1. */
static ptrdiff_t parse_ids(struct tok_reader *r, const char *p)
{
	uint64_t limit = r->bound > 0 ? (uint64_t)r->bound : (uint64_t)INT32_MAX + 1;
	size_t n = 0;
	for (;;) {
		while (is_blank(*p))
			p++;
		if (!*p)
			return (ptrdiff_t)n;
		const char *start = p;
		uint64_t v = 0;
		while ((unsigned)(*p - '0') < 10) {
			if (v < limit)
				v = v * 10 + (uint64_t)(*p - '0');
			p++;
		}
		if (p == start || (*p && !is_blank(*p)) || v >= limit)
			return bad_token(r, start, r->bound);
		if (n == r->cap)
			xgrow(&r->ids, &r->cap, n + 1, sizeof *r->ids);
		r->ids[n++] = (int32_t)v;
	}
}

int tok_next(struct tok_reader *r, const char **id, const int32_t **ids, size_t *n)
{
	int rc = 1;
	char *line = r->pending;
	r->pending = NULL;
	while (line || (line = next_line(r->in, NULL, &rc))) {
		if (line[0] != '#')
			break;
		if (comment_line(r, line) < 0)
			return -1;
		line = NULL;
	}
	if (!line)
		return rc;
	char *key, *rest;
	if (split_line(r->in, &r->seen, line, &key, &rest) < 0)
		return -1;
	ptrdiff_t count = parse_ids(r, rest);
	if (count < 0)
		return -1;
	*id = key;
	*ids = r->ids;
	*n = (size_t)count;
	return 1;
}

long tok_lineno(const struct tok_reader *r)
{
	return zin_lineno(r->in);
}

const char *tok_name(const struct tok_reader *r)
{
	return zin_name(r->in);
}

void tok_close(struct tok_reader *r)
{
	if (!r)
		return;
	zin_close(r->in);
	idset_free(&r->seen);
	free(r->ids);
	free(r);
}

struct tok_writer {
	struct zout *out;
	struct idset seen;
	long vocab;  /* 0: only int32 */
	long lineno; /* of the last line written */
	char *buf;
	size_t cap;
};

/* The header line for h, or NULL (zerr set) when it would not read back as h. */
static char *header_line(const struct tok_header *h)
{
	char vocab[32] = "";
	if (h->vocab != 0)
		snprintf(vocab, sizeof vocab, " vocab=%ld", h->vocab);
	char *line = xasprintf("#! zipper tokens%s%s%s%s%s", h->modality[0] ? " modality=" : "",
			       h->modality, vocab, h->tokenizer[0] ? " tokenizer=" : "", h->tokenizer);
	struct tok_header back, want = *h;
	want.present = true;
	int rc = parse_header(line, &back);
	if (rc == 1 && !same_header(&back, &want))
		zerr_set("token header fields contain blanks");
	if (rc != 1 || !same_header(&back, &want)) {
		free(line);
		return NULL;
	}
	return line;
}

struct tok_writer *tok_create(const char *path, const struct tok_header *h)
{
	char *header = h ? header_line(h) : NULL;
	if (h && !header) {
		zerr_prefix("%s", path);
		return NULL;
	}
	struct zout *out = zout_open(path);
	if (!out || (header && zout_printf(out, "%s\n", header) < 0)) {
		if (out)
			zout_abort(out);
		free(header);
		return NULL;
	}
	free(header);
	struct tok_writer *w = xcalloc(1, sizeof *w);
	w->out = out;
	w->vocab = h ? h->vocab : 0;
	w->lineno = h != NULL;
	idset_init(&w->seen);
	return w;
}

/* Decimal digits of v at p; returns the end. */
static char *put_uint(char *p, uint32_t v)
{
	char tmp[10];
	int n = 0;
	do
		tmp[n++] = (char)('0' + v % 10);
	while ((v /= 10) > 0);
	while (n > 0)
		*p++ = tmp[--n];
	return p;
}

/* The line for a record into w->buf; returns its length or -1 (zerr set). */
static ptrdiff_t format_tokens(struct tok_writer *w, long lineno, const char *id, size_t len,
			       const int32_t *ids, size_t n)
{
	const char *name = zout_name(w->out);
	/* id, then " " and up to 10 digits per token, then "\n". */
	if (n > (SIZE_MAX - len - 1) / 11) {
		zerr_set("%s:%ld: too many tokens", name, lineno);
		return -1;
	}
	xgrow(&w->buf, &w->cap, len + 11 * n + 1, 1);
	char *p = w->buf;
	memcpy(p, id, len);
	p += len;
	for (size_t i = 0; i < n; i++) {
		if (ids[i] < 0 || (w->vocab > 0 && ids[i] >= w->vocab)) {
			if (w->vocab > 0)
				zerr_set("%s:%ld: token %" PRId32 " is outside the vocabulary [0, %ld)", name,
					 lineno, ids[i], w->vocab);
			else
				zerr_set("%s:%ld: token %" PRId32 " is negative", name, lineno, ids[i]);
			return -1;
		}
		*p++ = ' ';
		p = put_uint(p, (uint32_t)ids[i]);
	}
	*p++ = '\n';
	return p - w->buf;
}

/* A rejected record leaves the writer as it was, so a caller may skip it. */
int tok_write(struct tok_writer *w, const char *id, const int32_t *ids, size_t n)
{
	const char *name = zout_name(w->out);
	long lineno = w->lineno + 1, first;
	size_t len = strlen(id);
	const char *why = id[0] == '#' ? "utterance id starts with '#' (a comment in token archives)"
					: archive_id_problem(id, len);
	if (why) {
		zerr_set("%s:%ld: %s", name, lineno, why);
		return -1;
	}
	ptrdiff_t bytes = format_tokens(w, lineno, id, len, ids, n);
	if (bytes < 0)
		return -1;
	if (idset_add(&w->seen, id, len, lineno, &first) < 0) {
		zerr_set("%s:%ld: duplicate utterance id '%s' (first at line %ld)", name, lineno, id, first);
		return -1;
	}
	w->lineno = lineno;
	return zout_write(w->out, w->buf, (size_t)bytes);
}

static void tok_writer_free(struct tok_writer *w)
{
	idset_free(&w->seen);
	free(w->buf);
	free(w);
}

int tok_commit(struct tok_writer *w)
{
	int rc = zout_commit(w->out);
	tok_writer_free(w);
	return rc;
}

void tok_abort(struct tok_writer *w)
{
	if (!w)
		return;
	zout_abort(w->out);
	tok_writer_free(w);
}

/* ---- tensor archives: records "id" SP <NPY blob> ----
 *
 * An NPY blob (numpy.lib.format) is the magic "\x93NUMPY", a version (1.0:
 * 2-byte header length; 2.0: 4-byte), a Python dict literal with 'descr',
 * 'fortran_order' and 'shape', padded with spaces and ended by "\n" so the
 * data starts 64-byte aligned within the blob, then the raw data. */

enum {
	TENSOR_ID_MAX = 4096,      /* longer: not a tensor archive */
	NPY_HEADER_MAX = 1 << 16,  /* numpy's own limit for reading is 10000 */
	NPY_PREAMBLE_V1 = 10,      /* magic, version, 2-byte length */
};

static const char npy_magic[6] = "\x93NUMPY";

struct tensor_reader {
	struct zin *in;
	struct idset seen;
	long record;       /* of the record being read, from 1 */
	char id[TENSOR_ID_MAX + 1];
	char *header;      /* NPY header text */
	size_t header_cap;
	unsigned char *buf; /* the data, decoded in place into floats */
	size_t cap;
};

struct tensor_reader *tensor_open(const char *path)
{
	struct zin *in = zin_open(path);
	if (!in)
		return NULL;
	struct tensor_reader *r = xcalloc(1, sizeof *r);
	r->in = in;
	idset_init(&r->seen);
	return r;
}

const char *tensor_name(const struct tensor_reader *r)
{
	return zin_name(r->in);
}

void tensor_close(struct tensor_reader *r)
{
	if (!r)
		return;
	zin_close(r->in);
	idset_free(&r->seen);
	free(r->header);
	free(r->buf);
	free(r);
}

/* "file: record 3 (utt7): " + what, where the id is known. */
static int record_error(struct tensor_reader *r, const char *what)
{
	if (r->id[0])
		zerr_set("%s: record %ld (%s): %s", zin_name(r->in), r->record, r->id, what);
	else
		zerr_set("%s: record %ld: %s", zin_name(r->in), r->record, what);
	return -1;
}

/* Exactly n bytes, or -1 with "truncated ..." (or zin's read error). */
static int read_exact(struct tensor_reader *r, void *buf, size_t n, const char *what)
{
	ssize_t got = zin_read(r->in, buf, n);
	if (got < 0)
		return -1;
	if ((size_t)got < n) {
		char msg[128];
		snprintf(msg, sizeof msg, "truncated %s (%zd of %zu bytes)", what, got, n);
		return record_error(r, msg);
	}
	return 0;
}

/* The id up to its space: 1, 0 at a clean end of input, -1 on error. */
static int read_tensor_id(struct tensor_reader *r)
{
	size_t len = 0;
	r->id[0] = '\0';
	for (;;) {
		char c;
		ssize_t got = zin_read(r->in, &c, 1);
		if (got < 0)
			return -1;
		if (got == 0 && len == 0)
			return 0;
		if (got == 0 || (c != ' ' && len == TENSOR_ID_MAX)) {
			r->id[0] = '\0'; /* incomplete: not shown */
			return record_error(r, got == 0 ? "truncated record (no NPY data after the id)"
							: "no space after the utterance id in the first 4096 bytes");
		}
		if (c == ' ')
			break;
		r->id[len++] = c;
	}
	r->id[len] = '\0';
	const char *why = archive_id_problem(r->id, len);
	if (why) {
		r->id[0] = '\0'; /* not printable */
		return record_error(r, why);
	}
	long first;
	if (idset_add(&r->seen, r->id, len, r->record, &first) < 0) {
		char msg[TENSOR_ID_MAX + 64];
		snprintf(msg, sizeof msg, "duplicate utterance id '%s' (first at record %ld)", r->id, first);
		r->id[0] = '\0';
		return record_error(r, msg);
	}
	return 1;
}

/* What an NPY header says. */
struct npy_info {
	int elem_size; /* 4: '<f4', 8: '<f8' */
	int ndim;
	int64_t shape[TENSOR_MAX_DIMS];
};

/* A strict parser for the dict literal numpy writes, e.g.
 * {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }
 * Each function advances *p and returns 0, or -1 with msg filled in. */

typedef char npy_msg[160];

static void skip_space(const char **p)
{
	while (**p == ' ' || **p == '\t' || **p == '\n' || **p == '\r')
		(*p)++;
}

static int expect_char(const char **p, char c, const char *where, npy_msg msg)
{
	skip_space(p);
	if (**p != c) {
		snprintf(msg, sizeof(npy_msg), "expected '%c' %s", c, where);
		return -1;
	}
	(*p)++;
	return 0;
}

/* A quoted string without escapes into out (at most 31 bytes). */
static int parse_string(const char **p, char out[32], npy_msg msg)
{
	skip_space(p);
	char q = **p;
	const char *end = (q == '\'' || q == '"') ? strchr(*p + 1, q) : NULL;
	if (!end || memchr(*p + 1, '\\', (size_t)(end - *p - 1)) || end - *p - 1 > 31) {
		snprintf(msg, sizeof(npy_msg), "expected a short quoted string");
		return -1;
	}
	size_t n = (size_t)(end - *p - 1);
	memcpy(out, *p + 1, n);
	out[n] = '\0';
	*p = end + 1;
	return 0;
}

static int parse_descr(const char **p, struct npy_info *info, npy_msg msg)
{
	char descr[32];
	if (parse_string(p, descr, msg) < 0)
		return -1;
	if (strcmp(descr, "<f4") == 0)
		info->elem_size = 4;
	else if (strcmp(descr, "<f8") == 0)
		info->elem_size = 8;
	else {
		snprintf(msg, sizeof(npy_msg), "descr '%s' is not '<f4' or '<f8'", descr);
		return -1;
	}
	return 0;
}

static int parse_fortran_order(const char **p, npy_msg msg)
{
	skip_space(p);
	if (strncmp(*p, "False", 5) == 0) {
		*p += 5;
		return 0;
	}
	snprintf(msg, sizeof(npy_msg), strncmp(*p, "True", 4) == 0
		 ? "fortran_order True is not supported"
		 : "fortran_order is not True or False");
	return -1;
}

/* A tuple of non-negative ints: (), (5,), (3, 4) or (3, 4,). */
static int parse_shape(const char **p, struct npy_info *info, npy_msg msg)
{
	if (expect_char(p, '(', "for the shape", msg) < 0)
		return -1;
	info->ndim = 0;
	for (;;) {
		skip_space(p);
		if (**p == ')')
			break;
		const char *start = *p;
		int64_t v = 0;
		while ((unsigned)(**p - '0') < 10 && *p - start < 18)
			v = v * 10 + (*(*p)++ - '0');
		if (*p == start || (unsigned)(**p - '0') < 10) {
			snprintf(msg, sizeof(npy_msg), "shape is not a tuple of non-negative integers");
			return -1;
		}
		if (info->ndim == TENSOR_MAX_DIMS) {
			snprintf(msg, sizeof(npy_msg), "shape has more than %d dimensions", TENSOR_MAX_DIMS);
			return -1;
		}
		info->shape[info->ndim++] = v;
		skip_space(p);
		if (**p == ',')
			(*p)++;
		else if (**p != ')' || info->ndim == 1) { /* "(5)" is an int, not a tuple */
			snprintf(msg, sizeof(npy_msg), "shape is not a tuple of non-negative integers");
			return -1;
		}
	}
	(*p)++;
	return 0;
}

static int parse_npy_header(const char *h, struct npy_info *info, npy_msg msg)
{
	static const char *const keys[] = { "descr", "fortran_order", "shape" };
	unsigned seen = 0;
	const char *p = h;
	if (expect_char(&p, '{', "at the start", msg) < 0)
		return -1;
	for (;;) {
		skip_space(&p);
		if (*p == '}')
			break;
		char key[32];
		if (parse_string(&p, key, msg) < 0 || expect_char(&p, ':', "after a key", msg) < 0)
			return -1;
		unsigned k = 0;
		while (k < 3 && strcmp(key, keys[k]) != 0)
			k++;
		if (k == 3 || seen & 1u << k) {
			snprintf(msg, sizeof(npy_msg), k == 3 ? "unexpected key '%s'" : "repeated key '%s'", key);
			return -1;
		}
		seen |= 1u << k;
		int rc = k == 0 ? parse_descr(&p, info, msg)
		       : k == 1 ? parse_fortran_order(&p, msg)
				: parse_shape(&p, info, msg);
		if (rc < 0)
			return -1;
		skip_space(&p);
		if (*p == ',')
			p++;
		else if (*p != '}') {
			snprintf(msg, sizeof(npy_msg), "expected ',' or '}' after '%s'", key);
			return -1;
		}
	}
	p++;
	skip_space(&p);
	if (*p) {
		snprintf(msg, sizeof(npy_msg), "text after the closing '}'");
		return -1;
	}
	for (unsigned k = 0; k < 3; k++)
		if (!(seen & 1u << k)) {
			snprintf(msg, sizeof(npy_msg), "missing '%s'", keys[k]);
			return -1;
		}
	return 0;
}

static uint32_t le32(const unsigned char *b)
{
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

/* Reads the NPY preamble and header of the current record into *info. */
static int read_npy_header(struct tensor_reader *r, struct npy_info *info)
{
	unsigned char pre[12];
	if (read_exact(r, pre, 8, "NPY preamble") < 0)
		return -1;
	if (memcmp(pre, npy_magic, 6) != 0)
		return record_error(r, "not an NPY record (bad magic)");
	if ((pre[6] != 1 && pre[6] != 2) || pre[7] != 0) {
		char msg[64];
		snprintf(msg, sizeof msg, "unsupported NPY version %u.%u", pre[6], pre[7]);
		return record_error(r, msg);
	}
	size_t width = pre[6] == 1 ? 2 : 4;
	if (read_exact(r, pre + 8, width, "NPY preamble") < 0)
		return -1;
	size_t len = width == 2 ? (size_t)pre[8] | (size_t)pre[9] << 8 : le32(pre + 8);
	if (len > NPY_HEADER_MAX) {
		char msg[64];
		snprintf(msg, sizeof msg, "NPY header: %zu bytes is too long", len);
		return record_error(r, msg);
	}
	xgrow(&r->header, &r->header_cap, len + 1, 1);
	if (read_exact(r, r->header, len, "NPY header") < 0)
		return -1;
	r->header[len] = '\0';
	npy_msg why = "contains a NUL byte";
	if (memchr(r->header, '\0', len) || parse_npy_header(r->header, info, why) < 0) {
		char msg[sizeof why + 16];
		snprintf(msg, sizeof msg, "NPY header: %s", why);
		return record_error(r, msg);
	}
	return 0;
}

/* Element count of shape, or -1 when a dimension is negative or the size
 * in bytes would overflow. */
static ptrdiff_t shape_count(const int64_t *shape, int ndim, size_t elem_size)
{
	size_t count = 1;
	for (int i = 0; i < ndim; i++)
		if (shape[i] < 0)
			return -1;
	for (int i = 0; i < ndim && count > 0; i++) {
		if (shape[i] > 0 && (uint64_t)shape[i] > PTRDIFF_MAX / elem_size / count)
			return -1;
		count *= (size_t)shape[i];
	}
	return (ptrdiff_t)count;
}

/* Reads bytes of data into r->buf, growing it only as data arrives, so a
 * header claiming terabytes fails as truncated rather than out of memory. */
static int read_data(struct tensor_reader *r, size_t bytes)
{
	size_t got = 0;
	xgrow(&r->buf, &r->cap, 1, 1);
	while (got < bytes) {
		size_t step = got > (1u << 20) ? got : (1u << 20);
		size_t want = bytes - got < step ? bytes - got : step;
		xgrow(&r->buf, &r->cap, got + want, 1);
		ssize_t n = zin_read(r->in, r->buf + got, want);
		if (n < 0)
			return -1;
		got += (size_t)n;
		if ((size_t)n < want) {
			char msg[128];
			snprintf(msg, sizeof msg, "truncated data (%zu of %zu bytes)", got, bytes);
			return record_error(r, msg);
		}
	}
	return 0;
}

/* Little-endian '<f4' or '<f8' bytes to floats, in place (floats are no
 * wider than the elements, and each element is read before it is overwritten). */
static void decode_floats(unsigned char *buf, size_t count, int elem_size)
{
	float *out = (float *)buf;
	for (size_t i = 0; i < count; i++) {
		const unsigned char *b = buf + i * (size_t)elem_size;
		float f;
		if (elem_size == 4) {
			uint32_t u = le32(b);
			memcpy(&f, &u, 4);
		} else {
			uint64_t u = le32(b) | (uint64_t)le32(b + 4) << 32;
			double d;
			memcpy(&d, &u, 8);
			/* Out-of-range conversion is undefined in C; round to infinity as IEEE does. */
			f = !(fabs(d) >= 0x1.ffffffp127) ? (float)d : d > 0 ? INFINITY : -INFINITY;
		}
		out[i] = f;
	}
}

int tensor_next(struct tensor_reader *r, struct tensor_rec *rec)
{
	r->record++;
	int rc = read_tensor_id(r);
	if (rc <= 0) {
		r->record -= rc == 0;
		return rc;
	}
	struct npy_info info = { 0 };
	if (read_npy_header(r, &info) < 0)
		return -1;
	ptrdiff_t count = shape_count(info.shape, info.ndim, (size_t)info.elem_size);
	if (count < 0)
		return record_error(r, "NPY header: shape is too large");
	if (read_data(r, (size_t)count * (size_t)info.elem_size) < 0)
		return -1;
	decode_floats(r->buf, (size_t)count, info.elem_size);
	rec->id = r->id;
	rec->ndim = info.ndim;
	memcpy(rec->shape, info.shape, sizeof info.shape);
	rec->count = (size_t)count;
	rec->data = (const float *)r->buf;
	return 1;
}

struct tensor_writer {
	struct zout *out;
	struct idset seen;
	long record; /* of the last record written */
	unsigned char *buf;
	size_t cap;
};

struct tensor_writer *tensor_create(const char *path)
{
	struct zout *out = zout_open(path);
	if (!out)
		return NULL;
	struct tensor_writer *w = xcalloc(1, sizeof *w);
	w->out = out;
	idset_init(&w->seen);
	return w;
}

/* The record's id, preamble and header as numpy.lib.format writes them
 * (version 1.0), into w->buf; returns the length. */
static size_t npy_record_head(struct tensor_writer *w, const char *id, int ndim, const int64_t *shape)
{
	char dims[TENSOR_MAX_DIMS * 22 + 2] = "";
	size_t d = 0;
	for (int i = 0; i < ndim; i++)
		d += (size_t)snprintf(dims + d, sizeof dims - d, i ? ", %" PRId64 : "%" PRId64, shape[i]);
	if (ndim == 1)
		strcpy(dims + d, ",");
	char dict[sizeof dims + 64];
	size_t n = (size_t)snprintf(dict, sizeof dict,
				    "{'descr': '<f4', 'fortran_order': False, 'shape': (%s), }", dims);
	size_t padded = (NPY_PREAMBLE_V1 + n + 1 + 63) / 64 * 64 - NPY_PREAMBLE_V1;
	size_t idlen = strlen(id);
	xgrow(&w->buf, &w->cap, idlen + 1 + NPY_PREAMBLE_V1 + padded, 1);
	unsigned char *p = w->buf;
	memcpy(p, id, idlen);
	p[idlen] = ' ';
	p += idlen + 1;
	memcpy(p, npy_magic, 6);
	p[6] = 1, p[7] = 0;
	p[8] = (unsigned char)(padded & 0xff), p[9] = (unsigned char)(padded >> 8);
	memcpy(p + 10, dict, n);
	memset(p + 10 + n, ' ', padded - n - 1);
	p[10 + padded - 1] = '\n';
	return idlen + 1 + NPY_PREAMBLE_V1 + padded;
}

/* Floats as little-endian bytes, through w->buf a block at a time. */
static int write_floats(struct tensor_writer *w, const float *data, size_t count)
{
	enum { BLOCK = 4096 };
	xgrow(&w->buf, &w->cap, BLOCK * 4, 1);
	for (size_t i = 0; i < count; i += BLOCK) {
		size_t n = count - i < BLOCK ? count - i : BLOCK;
		for (size_t j = 0; j < n; j++) {
			uint32_t u;
			memcpy(&u, &data[i + j], 4);
			for (int b = 0; b < 4; b++)
				w->buf[4 * j + (size_t)b] = (unsigned char)(u >> 8 * b);
		}
		if (zout_write(w->out, w->buf, 4 * n) < 0)
			return -1;
	}
	return 0;
}

/* A rejected record leaves the writer as it was. */
int tensor_write(struct tensor_writer *w, const char *id, const float *data, int ndim, const int64_t *shape)
{
	const char *name = zout_name(w->out);
	long record = w->record + 1, first;
	size_t len = strlen(id);
	const char *why = archive_id_problem(id, len);
	if (why) {
		zerr_set("%s: record %ld: %s", name, record, why);
		return -1;
	}
	if (ndim < 0 || ndim > TENSOR_MAX_DIMS) {
		zerr_set("%s: record %ld (%s): %d dimensions (at most %d)", name, record, id, ndim,
			 TENSOR_MAX_DIMS);
		return -1;
	}
	ptrdiff_t count = shape_count(shape, ndim, 4);
	if (count < 0) {
		zerr_set("%s: record %ld (%s): shape has a negative dimension or is too large", name,
			 record, id);
		return -1;
	}
	if (idset_add(&w->seen, id, len, record, &first) < 0) {
		zerr_set("%s: record %ld: duplicate utterance id '%s' (first at record %ld)", name, record,
			 id, first);
		return -1;
	}
	w->record = record;
	size_t head = npy_record_head(w, id, ndim, shape);
	if (zout_write(w->out, w->buf, head) < 0)
		return -1;
	return write_floats(w, data, (size_t)count);
}

static void tensor_writer_free(struct tensor_writer *w)
{
	idset_free(&w->seen);
	free(w->buf);
	free(w);
}

int tensor_commit(struct tensor_writer *w)
{
	int rc = zout_commit(w->out);
	tensor_writer_free(w);
	return rc;
}

void tensor_abort(struct tensor_writer *w)
{
	if (!w)
		return;
	zout_abort(w->out);
	tensor_writer_free(w);
}
