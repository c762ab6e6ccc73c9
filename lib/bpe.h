/* bpe: byte-level byte-pair encoding, the text tokenizer (text.tok).
 *
 * Token ids (fixed, the same in every text.tok):
 *   0 BPE_PAD, 1 BPE_BOS, 2 BPE_EOS   reserved; never produced by bpe_encode
 *   3 .. 258                          the 256 single bytes: byte b is 3 + b
 *   259 + i                           merge i (in the order learned), i < n_merges
 * so vocab_size = 259 + n_merges, and every byte sequence, UTF-8 or not,
 * NULs and newlines included, encodes and decodes back exactly.
 *
 * Pre-tokenisation (so merges never cross word boundaries, the GPT-2 idea
 * without a regex library): bytes fall into classes
 *   space   ' ' (0x20) only
 *   letter  A-Z, a-z and every byte >= 0x80 (so UTF-8 text stays whole)
 *   digit   0-9
 *   other   everything else (punctuation, tabs, controls, NUL, '\n')
 * and the input is cut into pieces, each an optional single leading space
 * followed by a maximal run of one class (letter, digit or other), at most
 * BPE_MAX_PIECE bytes (a longer run is cut every BPE_MAX_PIECE bytes). A
 * space followed by a space or by the end is a piece of its own. So
 * "Hi,  you 42" -> "Hi" "," " " " you" " 42". The space stays attached to
 * the following word, as GPT-2's "Ġ" does. Merges are learned and applied
 * within pieces only.
 *
 * Fitting (the standard fast algorithm): unique pieces are counted with
 * their frequencies in a hash map, pair counts are kept incrementally with
 * per-pair occurrence lists and a max-heap, so each merge touches only the
 * words containing the pair, never the whole corpus. The pair merged next
 * is the one with the highest count; ties go to the lexicographically
 * smallest (left id, right id). Within a word, occurrences are merged left
 * to right without overlap ("aaa" with (a,a) -> "Aa"), and a pair is
 * counted at every position it occurs (in "aaa", (a,a) counts twice). The
 * result depends only on the multiset of input lines, not on the thread
 * count. tests/ref/bpe.py is an independent naive implementation of the
 * same rules.
 *
 * Encoding applies, within each piece, the lowest-ranked merge present
 * (all its left-to-right occurrences) until none applies; on the training
 * corpus this reproduces the training segmentation exactly.
 *
 * Lines: bpe treats '\n' like any other byte; the token archives are
 * line-based, so programs pass each transcript without its newline, and a
 * corpus line is simply one unit of text to count.
 *
 * Typical use (errors: NULL/-1 with zerr_msg()):
 *   struct bpe *b = bpe_fit(lines, lens, n, 8000, NULL); bpe_save(b, "text.tok");
 *   struct bpe *b = bpe_load("text.tok");
 *   size_t n_ids = 0, cap = 0; int32_t *ids = NULL;
 *   bpe_encode(b, text, len, &ids, &n_ids, &cap);       // then frame with BOS/EOS
 *   bpe_decode(b, ids, n_ids, &out, &out_len, &out_cap); // skips PAD/BOS/EOS
 *
 * File (.tok): safetensors (lib/safetensors.h), zipper.kind
 * "text-tokenizer", zipper.version 1, one tensor "merges" I32
 * [n_merges, 2] (the left and right ids of merge i, both < 259 + i), and
 * zipper.config {"type": "byte-bpe", "vocab_size": N, "n_merges": M,
 * "pad_id": 0, "bos_id": 1, "eos_id": 2, "byte_offset": 3,
 * "pretokenizer": "zipper-1"}. bpe_load checks all of it. */
#ifndef ZIPPER_BPE_H
#define ZIPPER_BPE_H

#include <stddef.h>
#include <stdint.h>

enum {
	BPE_PAD = 0,
	BPE_BOS = 1,
	BPE_EOS = 2,
	BPE_BYTE0 = 3,                /* id of byte 0x00; byte b is BPE_BYTE0 + b */
	BPE_BASE_VOCAB = 3 + 256,     /* 259: ids below this are specials and bytes */
	BPE_MAX_PIECE = 256,          /* longest pre-tokenised piece, in bytes */
	BPE_MAX_VOCAB = 1 << 24,
};

struct bpe;

/* The pre-tokeniser: the end of the piece starting at byte i < n of s. */
size_t bpe_piece_end(const char *s, size_t n, size_t i);

struct bpe_fit_opts {
	/* Threads for counting pieces; 0: OpenMP's default (see cli_apply_threads). */
	int threads;
	/* Stop merging when the best pair occurs fewer times than this;
	 * 0 means the default 2 (a pair seen once is memorising, not learning). */
	long min_count;
	/* Called every 64 merges and once at the end with (ctx, merges done,
	 * merges wanted); the last done is less than wanted when min_count
	 * stopped the fit early. NULL for none (quiet). Called from the
	 * calling thread, so a struct progress (cli.h) can be ctx. */
	void (*progress)(void *ctx, long done, long total);
	void *ctx;
};

/* Learn merges from n lines (lines[i] has lens[i] bytes; any bytes) until
 * the vocabulary has vocab_size ids or no pair occurs min_count times, so
 * the result may be smaller than asked: check bpe_vocab_size(). opts may be
 * NULL for the defaults. vocab_size must be in [BPE_BASE_VOCAB,
 * BPE_MAX_VOCAB]; NULL with zerr otherwise. Deterministic. */
struct bpe *bpe_fit(const char *const *lines, const size_t *lens, size_t n, int vocab_size,
		    const struct bpe_fit_opts *opts);

/* Streaming alternative for corpora read line by line: count pieces as they
 * come, then fit. bpe_fit_counts() does not free the counts. */
struct bpe_counts;
struct bpe_counts *bpe_counts_new(void);
void bpe_counts_add(struct bpe_counts *c, const char *bytes, size_t n);
size_t bpe_counts_unique(const struct bpe_counts *c); /* distinct pieces so far */
struct bpe *bpe_fit_counts(struct bpe_counts *c, int vocab_size, const struct bpe_fit_opts *opts);
void bpe_counts_free(struct bpe_counts *c);

/* Append the ids of n bytes to *ids (holding *n_ids ids in *cap, grown with
 * xgrow; *ids may start NULL with *n_ids = *cap = 0). No BOS/EOS is added:
 * the caller frames sequences. Never fails on any bytes; returns 0.
 * Thread-safe: b is not modified. */
int bpe_encode(const struct bpe *b, const char *bytes, size_t n, int32_t **ids, size_t *n_ids,
	       size_t *cap);

/* Append the bytes of n ids to *bytes (holding *len bytes in *cap, grown
 * with xgrow; kept NUL-terminated for convenience, the NUL not counted in
 * *len). PAD, BOS and EOS carry no bytes and are skipped; an id < 0 or >=
 * bpe_vocab_size() is an error: -1 with zerr "token N: id X outside the
 * vocabulary (0..V-1)", *len unchanged. The exact inverse of bpe_encode. */
int bpe_decode(const struct bpe *b, const int32_t *ids, size_t n, char **bytes, size_t *len,
	       size_t *cap);

/* The bytes of one id (NULL with *len = 0 for a special or an invalid id).
 * The pointer is b's, valid until bpe_free. */
const char *bpe_token_bytes(const struct bpe *b, int32_t id, size_t *len);

int bpe_vocab_size(const struct bpe *b);
int bpe_n_merges(const struct bpe *b);
/* Merge i's left and right ids (i < bpe_n_merges); it makes id 259 + i. */
void bpe_merge(const struct bpe *b, int i, int32_t *left, int32_t *right);

/* A tokenizer from an explicit merge table ((n_merges, 2) ids, merge i's
 * parts both in [BPE_BYTE0, 259 + i), no pair twice): what bpe_load builds
 * from a file; also for tests. NULL with zerr when the table is invalid. */
struct bpe *bpe_from_merges(const int32_t *merges, int n_merges);

/* Save as safetensors (atomically). -1 with zerr on failure. */
int bpe_save(const struct bpe *b, const char *path);
/* Load and check a .tok; NULL with zerr "path: what is wrong" when it is not
 * a text tokenizer or is damaged. */
struct bpe *bpe_load(const char *path);
/* The text tokenizer a model carries (zip-fuse --text-tokenizer: the
 * tensor tokenizer.text.merges, which st_find() tells is there). NULL with
 * zerr when it carries none or the table is not valid. */
struct st_file;
struct bpe *bpe_from_model(const struct st_file *f);

void bpe_free(struct bpe *b);

#endif
