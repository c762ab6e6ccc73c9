/* archive_lines: the keyed line formats of archive.h: audio lists,
 * transcripts and token archives. */
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

/* NULL at end of input (0) or on error (-1 in *rc). A NUL byte would cut
 * the line short unseen, so it is an error in these text formats. */
static char *next_line(struct zin *in, size_t *len, int *rc)
{
	size_t n;
	char *line = zin_getline(in, &n);
	*rc = line ? 1 : zin_failed(in) ? -1 : 0;
	if (line && memchr(line, '\0', n)) {
		zerr_set("%s:%ld: NUL byte in line", zin_name(in), zin_lineno(in));
		*rc = -1;
		return NULL;
	}
	if (len)
		*len = n;
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
	/* Never NULL, even for an utterance without tokens. */
	xgrow(&r->ids, &r->cap, 1, sizeof *r->ids);
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
