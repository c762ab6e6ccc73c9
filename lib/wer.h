/* wer: word and character error rates, as Kaldi compute-wer and NIST
 * sclite compute them.
 *
 * Transcripts are read into a wer_set: each utterance's words (or code
 * points) become int32 tokens, so alignment compares integers. Words are
 * interned in a wer_vocab shared by the reference and hypothesis sets.
 *
 * Alignment is a minimum-cost edit distance. With WER_UNIT every error
 * costs 1 (Kaldi, jiwer); with WER_SCLITE insertions and deletions cost 3
 * and substitutions 4 (sclite). Among equally cheap alignments the one
 * chosen is found by tracing back from the end of both sequences,
 * preferring at every step a match or substitution, then an insertion,
 * then a deletion: this is the choice sclite makes, so the counts of
 * insertions, deletions and substitutions equal sclite's.
 *
 * wer_count() needs O(m) memory for a hypothesis of m tokens. wer_align(),
 * which also returns the alignment itself, keeps 2 bits per pair of tokens
 * up to 2^26 pairs (16 MB) and beyond that switches to a divide-and-conquer
 * method in O((n + m) log n) memory that finds the same alignment. */
#ifndef ZIPPER_WER_H
#define ZIPPER_WER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- interned words ---- */

struct wer_vocab;

struct wer_vocab *wer_vocab_new(void);
/* The id of s[0..len), added when new. Ids count from 0. */
int32_t wer_vocab_intern(struct wer_vocab *v, const char *s, size_t len);
/* NUL-terminated; valid until the next wer_vocab_intern(). */
const char *wer_vocab_word(const struct wer_vocab *v, int32_t id);
size_t wer_vocab_count(const struct wer_vocab *v);
void wer_vocab_free(struct wer_vocab *v);

/* ---- alignment ---- */

enum wer_costs { WER_UNIT, WER_SCLITE };

struct wer_counts {
	long long ref, cor, sub, del, ins;
};

/* Edit operations of an alignment, in order. */
enum wer_op { WER_COR = 'C', WER_SUB = 'S', WER_DEL = 'D', WER_INS = 'I' };

struct wer_aligner;

struct wer_aligner *wer_aligner_new(enum wer_costs costs);
void wer_aligner_free(struct wer_aligner *a);

/* Adds the counts of aligning ref (n) with hyp (m) to *acc. */
void wer_count(struct wer_aligner *a, struct wer_counts *acc, const int32_t *ref, size_t n,
	       const int32_t *hyp, size_t m);
/* As wer_count, also writing the operations to ops (at least n+m) and
 * returning how many there are. */
size_t wer_align(struct wer_aligner *a, struct wer_counts *acc, char *ops, const int32_t *ref,
		 size_t n, const int32_t *hyp, size_t m);

/* Alignments of more than cells pairs of tokens use the low-memory method
 * (tests set 0 to use it always). */
void wer_aligner_matrix_limit(struct wer_aligner *a, size_t cells);

long long wer_errors(const struct wer_counts *c);
/* 100 * errors / reference tokens. With no reference tokens at all the
 * rate is 0 when there are no errors and 100 when there are some. */
double wer_rate(long long errors, long long ref);

/* ---- transcript files ---- */

enum wer_format { WER_FORMAT_AUTO, WER_FORMAT_KALDI, WER_FORMAT_TRN };
int wer_format_parse(const char *s, enum wer_format *f);

struct wer_utt {
	size_t id;       /* offset of the id in the set's string pool */
	long line;       /* in the file, from 1 */
	size_t off, len; /* tokens tok[off..off+len) */
};

struct wer_set {
	char *name;          /* the file, as zin names it */
	enum wer_format format; /* as detected */
	bool chars;          /* tokens are code points, not vocab ids */
	struct wer_utt *utt;
	size_t n, cap;
	int32_t *tok;
	size_t ntok, tokcap;
	char *pool; /* ids, NUL-terminated */
	size_t pool_len, pool_cap;
	const char **ids; /* (n) filled by wer_read */
};

struct wer_read_opts {
	enum wer_format format;
	unsigned norm;    /* TN_* flags from textnorm.h */
	bool chars;       /* --cer */
	bool char_spaces; /* with chars: one space between words counts */
};

/* Reads a Kaldi text or sclite trn file. Errors ("file:line: what") for
 * bad or duplicate ids, a trn line without "(id)", invalid UTF-8. */
int wer_read(struct wer_set *s, const char *path, const struct wer_read_opts *o,
	     struct wer_vocab *v);
void wer_set_free(struct wer_set *s);
/* Writes the text of token t (a word, or an encoded code point) into buf
 * (cap >= 5); returns it, or the vocab's own string. */
const char *wer_token_text(const struct wer_set *s, const struct wer_vocab *v, int32_t t,
			   char *buf);

/* Splits a non-blank line of format f (not AUTO) into the utterance id and
 * the text (without surrounding blanks), pointing into line; -1 (zerr
 * set) for a trn line without "(id)" or an invalid id. */
int wer_split_line(enum wer_format f, const char *line, size_t len, const char **id,
		   size_t *id_len, const char **text, size_t *text_len);

/* Decides the format of a file from its first non-blank line: sclite trn
 * when its last blank-separated field is "(...)". */
enum wer_format wer_detect_format(const char *line);

/* ---- reports ---- */

struct zout;

/* One sclite-style alignment block: "id: (ID)", "Scores: (#C #S #D #I) c s d i",
 * REF/HYP lines with the words of errors upper-cased and asterisks filling
 * gaps, and an Eval line, each column as wide as its longer word. */
int wer_pra_write(struct zout *out, const char *id, const struct wer_counts *c, const char *ops,
		  size_t nops, const int32_t *ref, const int32_t *hyp, const struct wer_set *s,
		  const struct wer_vocab *v);

/* Confusion pairs, insertions and deletions, most frequent first. */
struct wer_dtl;

struct wer_dtl *wer_dtl_new(void);
void wer_dtl_add(struct wer_dtl *d, const char *ops, size_t nops, const int32_t *ref,
		 const int32_t *hyp);
int wer_dtl_write(struct wer_dtl *d, struct zout *out, const struct wer_set *s,
		  const struct wer_vocab *v);
void wer_dtl_free(struct wer_dtl *d);

#endif
