#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "safetensors.h"
#include "xalloc.h"
#include "zerr.h"
#include "zio.h"

static const struct {
	const char *name;
	size_t size;
} dtypes[] = {
	[ST_F32] = {"F32", 4}, [ST_F16] = {"F16", 2}, [ST_BF16] = {"BF16", 2},
	[ST_F64] = {"F64", 8}, [ST_I8] = {"I8", 1},   [ST_U8] = {"U8", 1},
	[ST_I16] = {"I16", 2}, [ST_I32] = {"I32", 4}, [ST_I64] = {"I64", 8},
	[ST_BOOL] = {"BOOL", 1},
};
enum { N_DTYPES = sizeof dtypes / sizeof dtypes[0] };

/* The data section starts at a multiple of this, so tensors of every
 * dtype are aligned for use in place. */
enum { DATA_ALIGN = 64 };

const char *st_dtype_name(enum st_dtype t)
{
	return dtypes[t].name;
}

size_t st_dtype_size(enum st_dtype t)
{
	return dtypes[t].size;
}

static int parse_dtype(const char *s, enum st_dtype *t)
{
	for (int i = 0; i < N_DTYPES; i++)
		if (strcmp(s, dtypes[i].name) == 0) {
			*t = (enum st_dtype)i;
			return 0;
		}
	return -1;
}

/* A JSON number that is an exact non-negative integer below 2^53. */
static int json_uint(const cJSON *v, uint64_t *out)
{
	if (!cJSON_IsNumber(v))
		return -1;
	double d = v->valuedouble;
	if (!(d >= 0 && d < 9007199254740992.0) || floor(d) != d)
		return -1;
	*out = (uint64_t)d;
	return 0;
}

static int fail(const struct st_file *f, const char *fmt, ...) ZIP_PRINTF(2, 3);

/* Records "path: message" and returns -1. */
static int fail(const struct st_file *f, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	zerr_set("%s: %s", f->path, msg);
	return -1;
}

static int parse_shape(struct st_file *f, struct st_tensor *t, const cJSON *shape)
{
	if (!cJSON_IsArray(shape))
		return fail(f, "tensor %s: shape is not an array", t->name);
	int ndim = cJSON_GetArraySize(shape);
	if (ndim > ST_MAX_DIMS)
		return fail(f, "tensor %s: more than 8 dimensions", t->name);
	t->ndim = ndim;
	size_t count = 1;
	for (int i = 0; i < ndim; i++) {
		uint64_t d;
		if (json_uint(cJSON_GetArrayItem(shape, i), &d) < 0)
			return fail(f, "tensor %s: shape entries must be non-negative integers", t->name);
		t->shape[i] = (int64_t)d;
		if (d != 0 && count > SIZE_MAX / d)
			return fail(f, "tensor %s: shape product overflows", t->name);
		count *= (size_t)d;
	}
	size_t size = dtypes[t->dtype].size;
	if (count > SIZE_MAX / size)
		return fail(f, "tensor %s: byte size overflows", t->name);
	t->count = count;
	t->nbytes = count * size;
	return 0;
}

static int parse_tensor(struct st_file *f, struct st_tensor *t, const cJSON *entry, size_t data_size)
{
	t->name = xstrdup(entry->string);
	if (!*t->name)
		return fail(f, "a tensor has an empty name");
	if (!cJSON_IsObject(entry))
		return fail(f, "tensor %s: entry is not an object", t->name);
	const cJSON *dtype = cJSON_GetObjectItemCaseSensitive(entry, "dtype");
	if (!cJSON_IsString(dtype) || parse_dtype(dtype->valuestring, &t->dtype) < 0)
		return fail(f, "tensor %s: missing or unknown dtype", t->name);
	if (parse_shape(f, t, cJSON_GetObjectItemCaseSensitive(entry, "shape")) < 0)
		return -1;
	const cJSON *offs = cJSON_GetObjectItemCaseSensitive(entry, "data_offsets");
	uint64_t begin, end;
	if (!cJSON_IsArray(offs) || cJSON_GetArraySize(offs) != 2 ||
	    json_uint(cJSON_GetArrayItem(offs, 0), &begin) < 0 ||
	    json_uint(cJSON_GetArrayItem(offs, 1), &end) < 0 || end < begin)
		return fail(f, "tensor %s: data_offsets must be [begin, end] with begin <= end", t->name);
	if (end > data_size)
		return fail(f, "tensor %s: data_offsets run past the end of the file", t->name);
	if (end - begin != t->nbytes)
		return fail(f, "tensor %s: dtype and shape disagree with data_offsets", t->name);
	t->offset = (size_t)begin;
	return 0;
}

static int by_offset(const void *a, const void *b)
{
	const struct st_tensor *x = a, *y = b;
	if (x->offset != y->offset)
		return x->offset < y->offset ? -1 : 1;
	return x->nbytes < y->nbytes ? -1 : x->nbytes > y->nbytes;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int check_layout(struct st_file *f)
{
	qsort(f->tensors, f->n_tensors, sizeof *f->tensors, by_offset);
	for (size_t i = 1; i < f->n_tensors; i++) {
		const struct st_tensor *a = &f->tensors[i - 1], *b = &f->tensors[i];
		if (a->offset + a->nbytes > b->offset && a->nbytes && b->nbytes)
			return fail(f, "tensor %s overlaps another tensor's data", b->name);
	}
	char **names = xmallocarray(f->n_tensors, sizeof *names);
	for (size_t i = 0; i < f->n_tensors; i++)
		names[i] = f->tensors[i].name;
	qsort(names, f->n_tensors, sizeof *names, by_name);
	int rc = 0;
	for (size_t i = 1; i < f->n_tensors && rc == 0; i++)
		if (strcmp(names[i - 1], names[i]) == 0)
			rc = fail(f, "tensor %s appears twice", names[i]);
	free(names);
	return rc;
}

static int parse_crcs(struct st_file *f)
{
	const char *text = st_meta(f, "zipper.crc32");
	if (!text)
		return 0;
	cJSON *crcs = cJSON_Parse(text);
	int rc = 0;
	if (!cJSON_IsObject(crcs))
		rc = fail(f, "metadata zipper.crc32 is not a JSON object");
	for (const cJSON *c = crcs ? crcs->child : NULL; c && rc == 0; c = c->next) {
		struct st_tensor *t = (struct st_tensor *)st_find(f, c->string);
		char *end = NULL;
		unsigned long v = cJSON_IsString(c) ? strtoul(c->valuestring, &end, 16) : 0;
		if (!t)
			rc = fail(f, "metadata zipper.crc32 names unknown tensor %s", c->string);
		else if (!end || *end || strlen(c->valuestring) != 8)
			rc = fail(f, "metadata zipper.crc32: bad checksum for %s", c->string);
		else {
			t->has_crc = true;
			t->crc = (uint32_t)v;
		}
	}
	cJSON_Delete(crcs);
	return rc;
}

static int parse_metadata(struct st_file *f)
{
	for (const cJSON *m = f->metadata->child; m; m = m->next)
		if (!cJSON_IsString(m))
			return fail(f, "metadata %s is not a string", m->string);
	f->kind = st_meta(f, "zipper.kind");
	const char *version = st_meta(f, "zipper.version");
	if (version) {
		char *end;
		long v = strtol(version, &end, 10);
		if (*end || end == version || v < 1 || v > 1000000)
			return fail(f, "metadata zipper.version '%s' is not a version number", version);
		f->version = (int)v;
	}
	const char *config = st_meta(f, "zipper.config");
	if (config) {
		f->config = cJSON_Parse(config);
		if (!cJSON_IsObject(f->config))
			return fail(f, "metadata zipper.config is not a JSON object");
	}
	return 0;
}

static int parse_header(struct st_file *f, const char *json, size_t len, size_t data_size)
{
	const char *end = NULL;
	cJSON *root = cJSON_ParseWithLengthOpts(json, len, &end, 0);
	if (!root)
		return fail(f, "header is not valid JSON");
	/* The spec allows trailing spaces as padding; nothing else. */
	for (const char *p = end; p < json + len; p++)
		if (*p != ' ' && *p != '\0') {
			cJSON_Delete(root);
			return fail(f, "header has data after its JSON");
		}
	if (!cJSON_IsObject(root)) {
		cJSON_Delete(root);
		return fail(f, "header is not a JSON object");
	}
	cJSON *meta = cJSON_DetachItemFromObjectCaseSensitive(root, "__metadata__");
	int rc = 0;
	if (meta && !cJSON_IsObject(meta)) {
		cJSON_Delete(meta);
		rc = fail(f, "__metadata__ is not an object");
	} else {
		f->metadata = meta;
	}
	f->tensors = xcalloc((size_t)cJSON_GetArraySize(root), sizeof *f->tensors);
	for (const cJSON *e = root->child; e && rc == 0; e = e->next)
		rc = parse_tensor(f, &f->tensors[f->n_tensors++], e, data_size);
	cJSON_Delete(root);
	return rc;
}

/* Maps the file, or reads it into an aligned buffer when the data section
 * is not aligned for in-place use (files from other writers). */
static int load(struct st_file *f, int fd, size_t size)
{
	unsigned char *map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (map == MAP_FAILED)
		return fail(f, "cannot map: %s", strerror(errno));
	uint64_t n = 0;
	for (int i = 7; i >= 0; i--)
		n = n << 8 | map[i];
	if (n > size - 8) {
		munmap(map, size);
		return fail(f, "header length %" PRIu64 " runs past the end of the file", n);
	}
	f->map = map;
	f->map_size = size;
	if ((8 + n) % 8 != 0) {
		/* Copy, shifted so the data section lands on an aligned address. */
		unsigned char *copy = xmalloc(size + DATA_ALIGN);
		size_t shift = (DATA_ALIGN - ((uintptr_t)copy + 8 + n) % DATA_ALIGN) % DATA_ALIGN;
		memcpy(copy + shift, map, size);
		munmap(map, size);
		f->buffer = copy;
		f->map = copy + shift;
	}
	return 0;
}

static size_t header_len(const struct st_file *f)
{
	const unsigned char *p = f->map;
	uint64_t n = 0;
	for (int i = 7; i >= 0; i--)
		n = n << 8 | p[i];
	return (size_t)n;
}

int st_open(struct st_file *f, const char *path)
{
	memset(f, 0, sizeof *f);
	f->path = xstrdup(path);
	int fd = open(path, O_RDONLY);
	if (fd < 0) {
		zerr_set("%s: %s", path, strerror(errno));
		goto fail;
	}
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		zerr_set("%s: not a regular file", path);
		close(fd);
		goto fail;
	}
	if (st.st_size < 8) {
		zerr_set("%s: too short to be a safetensors file (%lld bytes)", path, (long long)st.st_size);
		close(fd);
		goto fail;
	}
	int rc = load(f, fd, (size_t)st.st_size);
	close(fd);
	if (rc < 0)
		goto fail;
	size_t n = header_len(f), size = (size_t)st.st_size;
	const char *json = (const char *)f->map + 8;
	if (parse_header(f, json, n, size - 8 - n) < 0 || check_layout(f) < 0 ||
	    (f->metadata && parse_metadata(f) < 0) || parse_crcs(f) < 0)
		goto fail;
	const unsigned char *data = (const unsigned char *)f->map + 8 + n;
	for (size_t i = 0; i < f->n_tensors; i++)
		f->tensors[i].data = data + f->tensors[i].offset;
	return 0;
fail:
	st_close(f);
	return -1;
}

void st_close(struct st_file *f)
{
	if (f->buffer)
		free(f->buffer);
	else if (f->map)
		munmap(f->map, f->map_size);
	for (size_t i = 0; i < f->n_tensors; i++)
		free(f->tensors[i].name);
	free(f->tensors);
	cJSON_Delete(f->metadata);
	cJSON_Delete(f->config);
	free(f->path);
	memset(f, 0, sizeof *f);
}

const struct st_tensor *st_find(const struct st_file *f, const char *name)
{
	for (size_t i = 0; i < f->n_tensors; i++)
		if (strcmp(f->tensors[i].name, name) == 0)
			return &f->tensors[i];
	return NULL;
}

static void format_shape(char *buf, size_t n, int ndim, const int64_t *shape)
{
	size_t used = (size_t)snprintf(buf, n, "[");
	for (int i = 0; i < ndim && used < n; i++)
		used += (size_t)snprintf(buf + used, n - used, "%s%lld", i ? ", " : "", (long long)shape[i]);
	if (used < n)
		snprintf(buf + used, n - used, "]");
}

/* The named tensor, when its dtype is one of accept (a bit set) and its
 * shape is shape; NULL with zerr naming what was expected otherwise. */
static const struct st_tensor *typed_tensor(const struct st_file *f, const char *name, unsigned accept,
					    const char *want_dtype, int ndim, const int64_t *shape)
{
	const struct st_tensor *t = st_find(f, name);
	if (!t) {
		fail(f, "tensor %s is missing", name);
		return NULL;
	}
	bool same = (accept >> t->dtype & 1) && t->ndim == ndim;
	for (int i = 0; same && i < ndim; i++)
		same = t->shape[i] == shape[i];
	if (!same) {
		char want[160], have[160];
		format_shape(want, sizeof want, ndim, shape);
		format_shape(have, sizeof have, t->ndim, t->shape);
		fail(f, "tensor %s: expected %s %s, found %s %s", name, want_dtype, want,
		     st_dtype_name(t->dtype), have);
		return NULL;
	}
	return t;
}

const float *st_get_f32(const struct st_file *f, const char *name, int ndim, const int64_t *shape)
{
	const struct st_tensor *t = typed_tensor(f, name, 1u << ST_F32, "F32", ndim, shape);
	return t ? t->data : NULL;
}

static float f32_of_bits(uint32_t bits)
{
	float x;
	memcpy(&x, &bits, sizeof x);
	return x;
}

/* bfloat16 is the top half of a float32. */
float st_bf16_to_f32(uint16_t h)
{
	return f32_of_bits((uint32_t)h << 16);
}

/* binary16: 1 sign, 5 exponent (bias 15), 10 fraction bits. */
float st_f16_to_f32(uint16_t h)
{
	uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = h >> 10 & 0x1f, frac = h & 0x3ff;
	if (exp == 0x1f) /* infinity or NaN: all-ones exponent, the payload moved up */
		return f32_of_bits(sign | 0x7f800000u | frac << 13);
	if (exp)         /* normal: rebias 15 -> 127 */
		return f32_of_bits(sign | (exp + 112) << 23 | frac << 13);
	if (!frac)
		return f32_of_bits(sign);
	/* subnormal, frac * 2^-24: normal in float32 once the leading 1 is
	 * shifted up to the implicit bit */
	uint32_t e = 113;
	while (!(frac & 0x400)) {
		frac <<= 1;
		e--;
	}
	return f32_of_bits(sign | e << 23 | (frac & 0x3ff) << 13);
}

int st_read_f32(const struct st_file *f, const char *name, int ndim, const int64_t *shape, float *out)
{
	unsigned accept = 1u << ST_F32 | 1u << ST_F16 | 1u << ST_BF16;
	const struct st_tensor *t = typed_tensor(f, name, accept, "F32, F16 or BF16", ndim, shape);
	if (!t)
		return -1;
	if (t->dtype == ST_F32) {
		memcpy(out, t->data, t->nbytes);
		return 0;
	}
	/* Little-endian 16-bit values at any alignment. */
	const unsigned char *p = t->data;
	float (*widen)(uint16_t) = t->dtype == ST_F16 ? st_f16_to_f32 : st_bf16_to_f32;
	for (size_t i = 0; i < t->count; i++)
		out[i] = widen((uint16_t)(p[2 * i] | p[2 * i + 1] << 8));
	return 0;
}

const char *st_meta(const struct st_file *f, const char *key)
{
	const cJSON *v = f->metadata ? cJSON_GetObjectItemCaseSensitive(f->metadata, key) : NULL;
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static uint32_t crc32_of(const void *data, size_t n)
{
	uLong crc = crc32(0L, Z_NULL, 0);
	const Bytef *p = data;
	while (n > 0) {
		uInt part = n > (1u << 30) ? 1u << 30 : (uInt)n;
		crc = crc32(crc, p, part);
		p += part;
		n -= part;
	}
	return (uint32_t)crc;
}

int st_verify(const struct st_file *f)
{
	for (size_t i = 0; i < f->n_tensors; i++) {
		const struct st_tensor *t = &f->tensors[i];
		if (t->has_crc && crc32_of(t->data, t->nbytes) != t->crc)
			return fail(f, "tensor %s is corrupt (crc32 mismatch)", t->name);
	}
	return 0;
}

int st_check_version(const struct st_file *f, int version)
{
	if (f->version <= version)
		return 0;
	return fail(f, "%s version %d: this program reads version %d", f->kind ? f->kind : "file", f->version,
		    version);
}

static bool has_prefix(const char *s, const char *prefix)
{
	return !prefix || strncmp(s, prefix, strlen(prefix)) == 0;
}

int st_check_names(const struct st_file *f, const char *prefix, const char *const *names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (has_prefix(names[i], prefix) && !st_find(f, names[i]))
			return fail(f, "tensor %s is missing", names[i]);
	for (size_t i = 0; i < f->n_tensors; i++) {
		const char *name = f->tensors[i].name;
		if (!has_prefix(name, prefix))
			continue;
		bool known = false;
		for (size_t j = 0; j < n && !known; j++)
			known = strcmp(names[j], name) == 0;
		if (!known)
			return fail(f, "unknown tensor %s for a %s file", name, f->kind ? f->kind : "model");
	}
	return 0;
}

size_t st_param_count(const struct st_file *f)
{
	size_t n = 0;
	for (size_t i = 0; i < f->n_tensors; i++)
		n += f->tensors[i].count;
	return n;
}

struct st_entry {
	char *name;
	enum st_dtype dtype;
	int ndim;
	int64_t shape[ST_MAX_DIMS];
	const void *data;
	size_t nbytes;
};

struct st_writer {
	cJSON *metadata;
	struct st_entry *entries;
	size_t n, cap;
};

struct st_writer *st_writer_new(const char *kind, int version, const cJSON *config)
{
	struct st_writer *w = xcalloc(1, sizeof *w);
	w->metadata = cJSON_CreateObject();
	if (kind)
		st_writer_meta(w, "zipper.kind", kind);
	if (version > 0) {
		char v[16];
		snprintf(v, sizeof v, "%d", version);
		st_writer_meta(w, "zipper.version", v);
	}
	if (config) {
		char *text = cJSON_PrintUnformatted(config);
		st_writer_meta(w, "zipper.config", text);
		cJSON_free(text);
	}
	return w;
}

void st_writer_meta(struct st_writer *w, const char *key, const char *value)
{
	cJSON_DeleteItemFromObjectCaseSensitive(w->metadata, key);
	cJSON_AddStringToObject(w->metadata, key, value);
}

void st_writer_add(struct st_writer *w, const char *name, enum st_dtype dtype, int ndim,
		   const int64_t *shape, const void *data)
{
	xgrow(&w->entries, &w->cap, w->n + 1, sizeof *w->entries);
	struct st_entry *e = &w->entries[w->n++];
	e->name = xstrdup(name);
	e->dtype = dtype;
	e->ndim = ndim;
	size_t count = 1;
	for (int i = 0; i < ndim; i++) {
		e->shape[i] = shape[i];
		count *= (size_t)shape[i];
	}
	e->data = data;
	e->nbytes = count * st_dtype_size(dtype);
}

static cJSON *entry_json(const struct st_entry *e, size_t begin)
{
	cJSON *j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "dtype", st_dtype_name(e->dtype));
	cJSON *shape = cJSON_AddArrayToObject(j, "shape");
	for (int i = 0; i < e->ndim; i++)
		cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)e->shape[i]));
	cJSON *offs = cJSON_AddArrayToObject(j, "data_offsets");
	cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)begin));
	cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)(begin + e->nbytes)));
	return j;
}

/* The JSON header, padded with spaces so 8 + its length is DATA_ALIGN-aligned. */
static char *build_header(struct st_writer *w, size_t *len)
{
	cJSON *crcs = cJSON_CreateObject();
	for (size_t i = 0; i < w->n; i++) {
		char hex[9];
		snprintf(hex, sizeof hex, "%08x", crc32_of(w->entries[i].data, w->entries[i].nbytes));
		cJSON_AddStringToObject(crcs, w->entries[i].name, hex);
	}
	char *crc_text = cJSON_PrintUnformatted(crcs);
	cJSON_Delete(crcs);
	st_writer_meta(w, "zipper.crc32", crc_text);
	cJSON_free(crc_text);

	cJSON *root = cJSON_CreateObject();
	cJSON_AddItemReferenceToObject(root, "__metadata__", w->metadata);
	size_t offset = 0;
	for (size_t i = 0; i < w->n; i++) {
		cJSON_AddItemToObject(root, w->entries[i].name, entry_json(&w->entries[i], offset));
		offset += w->entries[i].nbytes;
	}
	char *json = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	size_t n = strlen(json);
	size_t padded = (8 + n + DATA_ALIGN - 1) / DATA_ALIGN * DATA_ALIGN - 8;
	char *header = xmalloc(padded);
	memcpy(header, json, n);
	memset(header + n, ' ', padded - n);
	cJSON_free(json);
	*len = padded;
	return header;
}

int st_writer_write(struct st_writer *w, const char *path)
{
	size_t n;
	char *header = build_header(w, &n);
	unsigned char len[8];
	for (int i = 0; i < 8; i++)
		len[i] = (unsigned char)((uint64_t)n >> (8 * i));
	struct zout *out = zout_open(path);
	int rc = out ? 0 : -1;
	if (rc == 0)
		rc = zout_write(out, len, 8) < 0 || zout_write(out, header, n) < 0 ? -1 : 0;
	for (size_t i = 0; i < w->n && rc == 0; i++)
		rc = zout_write(out, w->entries[i].data, w->entries[i].nbytes);
	free(header);
	if (!out)
		return -1;
	if (rc < 0) {
		zout_abort(out);
		return -1;
	}
	return zout_commit(out);
}

void st_writer_free(struct st_writer *w)
{
	if (!w)
		return;
	for (size_t i = 0; i < w->n; i++)
		free(w->entries[i].name);
	free(w->entries);
	cJSON_Delete(w->metadata);
	free(w);
}
