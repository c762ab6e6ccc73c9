/* archive_tensor: tensor archives, records "utt-id" SP <NPY blob>. */
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
