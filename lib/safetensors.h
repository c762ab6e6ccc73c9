/* safetensors: the container of every model (*.zpm) and tokenizer (*.tok).
 *
 * Layout (https://huggingface.co/docs/safetensors): 8-byte little-endian
 * header length N, N bytes of JSON, then raw little-endian tensor data.
 * The JSON maps each tensor name to {"dtype", "shape", "data_offsets":
 * [begin, end)} relative to the data section, and "__metadata__" to a
 * string -> string map. zipper's metadata keys:
 *   zipper.kind     "tower", "fused", "speech-tokenizer", "text-tokenizer", ...
 *   zipper.version  format version of that kind, decimal
 *   zipper.config   JSON text (hyper-parameters)
 *   zipper.crc32    JSON text: {"tensor name": "8 hex digits", ...} (zlib crc32)
 * so PyTorch and NumPy users can open our files, and Hugging Face
 * LLaMA-architecture checkpoints (no zipper metadata) open as they are.
 *
 * st_open() maps the file and checks everything before anyone uses it:
 * header length beyond the file, a header that is not JSON, unknown
 * dtypes, shapes whose products overflow, dtype x shape disagreeing with
 * the byte range, ranges outside the data or overlapping each other, crc32
 * entries naming unknown tensors. Each failure is one zerr line naming the
 * file and the tensor. */
#ifndef ZIPPER_SAFETENSORS_H
#define ZIPPER_SAFETENSORS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

enum st_dtype { ST_F32, ST_F16, ST_BF16, ST_F64, ST_I8, ST_U8, ST_I16, ST_I32, ST_I64, ST_BOOL };
enum { ST_MAX_DIMS = 8 };

const char *st_dtype_name(enum st_dtype t); /* "F32", ... */
size_t st_dtype_size(enum st_dtype t);

struct st_tensor {
	char *name;
	enum st_dtype dtype;
	int ndim;
	int64_t shape[ST_MAX_DIMS];
	size_t count;  /* elements */
	size_t nbytes;
	size_t offset; /* in the data section */
	const void *data;
	bool has_crc;
	uint32_t crc;
};

struct st_file {
	char *path;
	void *map;      /* the whole file */
	size_t map_size;
	void *buffer;   /* internal: a realigned copy instead of a map, or NULL */
	size_t n_tensors;
	struct st_tensor *tensors; /* in file-offset order */
	cJSON *metadata;           /* "__metadata__" object, or NULL */
	const char *kind;          /* zipper.kind, or NULL (e.g. a plain HF file) */
	int version;               /* zipper.version, 0 when absent */
	cJSON *config;             /* parsed zipper.config, or NULL */
};

int st_open(struct st_file *f, const char *path);
void st_close(struct st_file *f);

const struct st_tensor *st_find(const struct st_file *f, const char *name);
/* The named tensor as float32 of exactly this shape; NULL with zerr
 * ("file: tensor NAME: expected F32 [4, 8], found F16 [4, 8]") otherwise. */
const float *st_get_f32(const struct st_file *f, const char *name, int ndim, const int64_t *shape);
/* The named tensor as float32 of exactly this shape, into out (count
 * floats): F32 copied, F16 and BF16 widened (exactly: every 16-bit value
 * is an fp32 value). -1 with zerr ("file: tensor NAME: expected F32, F16
 * or BF16 [4, 8], found I32 [4, 8]") otherwise. */
int st_read_f32(const struct st_file *f, const char *name, int ndim, const int64_t *shape, float *out);
/* One bfloat16 or IEEE 754 binary16 value (its bits) as float32: exact for
 * every pattern; subnormals become normal floats, infinities stay
 * infinite, NaNs keep their sign and payload (not quieted, as NumPy does). */
float st_bf16_to_f32(uint16_t h);
float st_f16_to_f32(uint16_t h);
/* A __metadata__ string, or NULL. */
const char *st_meta(const struct st_file *f, const char *key);
/* Every tensor's crc32 against zipper.crc32; names the first that differs.
 * Tensors without a recorded crc are not an error (HF files have none). */
int st_verify(const struct st_file *f);
/* The file must hold exactly these tensor names (prefix filters both sides
 * when not NULL): names the first missing and the first unknown one. */
int st_check_names(const struct st_file *f, const char *prefix, const char *const *names, size_t n);
size_t st_param_count(const struct st_file *f);
/* The file's zipper.version is one a reader of version can read (absent
 * counts as any): else -1 with zerr ("file: tower version 99: this program
 * reads version 1"). */
int st_check_version(const struct st_file *f, int version);

struct st_writer;

struct st_writer *st_writer_new(const char *kind, int version, const cJSON *config);
void st_writer_meta(struct st_writer *w, const char *key, const char *value);
/* data is not copied: it must stay valid until st_writer_write(). */
void st_writer_add(struct st_writer *w, const char *name, enum st_dtype dtype, int ndim,
		   const int64_t *shape, const void *data);
/* Atomically (temporary file, fsync, rename). Tensors are laid out
 * contiguously in the order added (the spec forbids holes); the JSON header
 * is padded with spaces so the data section starts 64-byte aligned and
 * float tensors can be used in place from the map. */
int st_writer_write(struct st_writer *w, const char *path);
void st_writer_free(struct st_writer *w);

#endif
