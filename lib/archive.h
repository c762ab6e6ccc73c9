/* archive: the line-oriented formats of zip-formats(5).
 *
 *   audio list (wav.scp)  utt-id path
 *   transcripts (text)    utt-id word word ...
 *   token archive         [#! zipper tokens modality=M vocab=V tokenizer=FP]
 *                         utt-id id id id ...
 *   tensor archive        records "utt-id" SP <NPY v1 blob>
 *
 * Readers stream records one at a time and reject, with "file:line: what",
 * duplicate ids, ids that are not valid UTF-8 (or are empty), token ids that
 * are not integers or are outside [0, vocab), and NPY records with bad
 * headers. A returned record is valid until the next call on its reader.
 * Every path may be "-" and may be gzip-compressed (see zio.h). */
#ifndef ZIPPER_ARCHIVE_H
#define ZIPPER_ARCHIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- keyed lines: audio lists and transcripts ----
 *
 * A line is "id value": the id is the first field (blanks, i.e. spaces and
 * tabs, before it are skipped), the value is the rest of the line after the
 * blanks that follow the id, with trailing blanks removed; it may be empty.
 * As in Kaldi, an empty (or all-blank) line is an error ("file:3: empty
 * line"), and so are an invalid id ("file:3: utterance id is not valid
 * UTF-8") and a repeated one ("file:9: duplicate utterance id 'u1' (first at
 * line 2)"). '#' has no special meaning here. */

struct kv_reader;

struct kv_reader *kv_open(const char *path);
/* 1 with *id and *value set (value: the rest of the line after the id and
 * its separating blanks, possibly ""), 0 at end, -1 on error. */
int kv_next(struct kv_reader *r, const char **id, const char **value);
long kv_lineno(const struct kv_reader *r);
const char *kv_name(const struct kv_reader *r);
void kv_close(struct kv_reader *r);

/* ---- token archives ----
 *
 * Lines "id id id ..." (decimal token ids, possibly none) keyed as above.
 * The first line may be a header: "#! zipper tokens" followed by key=value
 * fields in any order: modality (lowercase letters), vocab (a positive
 * integer < 2^31), tokenizer (1-64 lowercase hex digits); each at most once, all
 * optional; unknown keys are ignored (forward compatibility); a malformed one
 * fails tok_open ("file:1: bad vocab 'x' in token header (expected a positive
 * integer)"). Other lines starting with '#' are comments, except a later
 * header line (as cat a.tok b.tok leaves), which must equal the first (so
 * ids starting with '#' cannot be used in token archives; tok_write rejects them).
 * Token errors: "file:4: token 'x' is not an integer", "file:4: token 1030
 * is outside the vocabulary [0, 1026)"; with no bound at all, "... is
 * negative" and "... is too large for an int32". */

struct tok_header {
	bool present;       /* a "#! zipper tokens" line was there */
	char modality[16];  /* "speech" or "text" */
	long vocab;         /* ids are in [0, vocab) */
	char tokenizer[65]; /* fingerprint: hex prefix of the tokenizer's sha256, or "" */
};

struct tok_reader;

/* Reads the header, if any. Ids must be below the header's vocab and below
 * vocab_limit when that is > 0 (so it bounds headerless files too). */
struct tok_reader *tok_open(const char *path, long vocab_limit);
const struct tok_header *tok_header(const struct tok_reader *r);
/* Checks the header against what the caller expects: "file: tokens are
 * for modality text, expected speech", "file: tokens have a vocabulary of
 * 1026, expected 1024", "file: tokens were made by tokenizer 0123abcd,
 * expected 4567ef01". NULL or 0 expectations, and fields the file does not
 * carry, are not checked. Fingerprints match when one is a prefix of the
 * other (files may carry a shorter prefix). */
int tok_expect(const struct tok_reader *r, const char *modality, long vocab, const char *tokenizer);
int tok_next(struct tok_reader *r, const char **id, const int32_t **ids, size_t *n);
long tok_lineno(const struct tok_reader *r);
const char *tok_name(const struct tok_reader *r);
void tok_close(struct tok_reader *r);

struct tok_writer;

/* Writes h as the header line (its empty/0 fields left out); NULL: none.
 * Then ids are checked against h->vocab when it is > 0. */
struct tok_writer *tok_create(const char *path, const struct tok_header *h /* NULL: no header */);
/* Rejects (-1, "file:LINE: ...", nothing written) invalid or repeated ids and
 * token ids that are negative or outside the vocabulary. */
int tok_write(struct tok_writer *w, const char *id, const int32_t *ids, size_t n);
int tok_commit(struct tok_writer *w); /* frees w */
void tok_abort(struct tok_writer *w); /* frees w */

/* ---- tensor archives (float32, C order) ----
 *
 * Records "id" SP <NPY blob>, back to back, as numpy.lib.format.write_array
 * writes them after the id and a space (tests/ref/npy_fixture.py reads and
 * writes them with NumPy). Errors name the record, counted from 1:
 * "file: record 3 (utt7): NPY header: fortran_order True is not supported",
 * "file: record 3 (utt7): truncated data (20 of 48 bytes)",
 * "file: record 4: duplicate utterance id 'utt7' (first at record 3)". */

enum { TENSOR_MAX_DIMS = 8 };

struct tensor_rec {
	const char *id;
	int ndim;
	int64_t shape[TENSOR_MAX_DIMS];
	size_t count; /* product of shape */
	const float *data;
};

struct tensor_reader;

struct tensor_reader *tensor_open(const char *path);
/* Accepts NPY v1.0/2.0 with descr '<f4' (also '<f8', converted) and
 * fortran_order False; the header dict must hold exactly 'descr',
 * 'fortran_order' and 'shape' (a tuple of non-negative ints, at most
 * TENSOR_MAX_DIMS). 1 with *rec filled in, 0 at end, -1 on error. rec->data
 * is never NULL (even when count is 0) and is valid until the next call. */
int tensor_next(struct tensor_reader *r, struct tensor_rec *rec);
const char *tensor_name(const struct tensor_reader *r);
void tensor_close(struct tensor_reader *r);

struct tensor_writer;

struct tensor_writer *tensor_create(const char *path);
/* Writes '<f4' NPY v1.0 records byte for byte as NumPy does. data: (shape),
 * C order; ndim 0 is a scalar. Rejects (-1, nothing written) invalid or
 * repeated ids and bad shapes. */
int tensor_write(struct tensor_writer *w, const char *id, const float *data, int ndim, const int64_t *shape);
int tensor_commit(struct tensor_writer *w);
void tensor_abort(struct tensor_writer *w);

/* ---- utterance ids ---- */

/* A valid id: non-empty, valid UTF-8 (shortest form, no surrogates, at most
 * U+10FFFF), no blanks (space, tab) and no control characters (C0, DEL, C1).
 * Ids are compared byte for byte (no Unicode normalisation). */
bool archive_valid_id(const char *id, size_t len);
/* Why an id is not valid ("utterance id is not valid UTF-8", "... is empty",
 * "... contains a blank", "... contains a control character"), or NULL. */
const char *archive_id_problem(const char *id, size_t len);

/* ---- keyed join of two archives by utt-id ----
 *
 * As Kaldi's compute-wer --mode: for every key of the left table, in its
 * order, find the right table's entry.
 *   JOIN_STRICT   a left key missing on the right is an error naming it;
 *                 a right key missing on the left is an error too.
 *   JOIN_PRESENT  left keys missing on the right are skipped.
 *   JOIN_ALL      left keys missing on the right are kept, paired with -1.
 * In the last two modes right-only keys are counted, not errors. */
enum join_mode { JOIN_STRICT, JOIN_PRESENT, JOIN_ALL };

int join_mode_parse(const char *s, enum join_mode *mode);

/* id -> index map over a set of strings (the caller owns the strings). */
struct keyindex;

struct keyindex *keyindex_new(void);
/* 0 if added, -1 if the key was already there (*existing set when not NULL). */
int keyindex_put(struct keyindex *k, const char *key, size_t value, size_t *existing);
/* Index, or -1 when absent. */
ptrdiff_t keyindex_get(const struct keyindex *k, const char *key);
size_t keyindex_count(const struct keyindex *k);
void keyindex_free(struct keyindex *k);

struct join_result {
	size_t n;          /* pairs */
	size_t *left;      /* (n) index into the left keys */
	ptrdiff_t *right;  /* (n) index into the right keys, -1 when missing (JOIN_ALL) */
	size_t missing_right; /* left keys not found on the right */
	size_t missing_left;  /* right keys not found on the left */
};

/* left_name/right_name name the tables in error messages. Returns -1 (zerr
 * set) in strict mode when a key is missing on either side. */
int join_keys(const char *const *left, size_t n_left, const char *left_name,
	      const char *const *right, size_t n_right, const char *right_name,
	      enum join_mode mode, struct join_result *out);
void join_result_free(struct join_result *r);

#endif
