/* textnorm: transcript normalisation shared by zip-eval-wer and the data
 * recipes, so references and hypotheses are cleaned the same way
 * everywhere.
 *
 * A transcript is UTF-8 text. Each step is a flag; the steps always run in
 * this order, whatever order the flags were given in:
 *
 *   TN_LOWER    case folding: upper-case letters of Basic Latin, Latin-1,
 *               Latin Extended-A, Greek and Cyrillic become lower case
 *   TN_LOWER_ASCII  only A-Z become a-z (sclite's case-insensitive matching)
 *   TN_HYPHEN   hyphen splitting: "-", U+2010, U+2011, U+2013 and U+2014
 *               become a space
 *   TN_NUMBERS  digits become English words as espeak-ng (voice en) speaks
 *               them: "42" -> "forty two", "1999" -> "nineteen hundred and
 *               ninety nine", "3rd" -> "third", "3.14" -> "three point one
 *               four" (see zip-eval-wer(1) for the rules)
 *   TN_PUNCT    punctuation stripping: characters of Unicode category P
 *               are deleted (with TN_APOS, an apostrophe ' or U+2019 with a
 *               letter or digit on both sides is kept, as ')
 *   TN_SPACE    whitespace collapsing: each run of blanks becomes one space
 *
 * Leading and trailing blanks are always removed. */
#ifndef ZIPPER_TEXTNORM_H
#define ZIPPER_TEXTNORM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
	TN_LOWER = 1 << 0,
	TN_HYPHEN = 1 << 1,
	TN_NUMBERS = 1 << 2,
	TN_PUNCT = 1 << 3,
	TN_APOS = 1 << 4,
	TN_SPACE = 1 << 5,
	/* A-Z only (as sclite compares words); TN_LOWER includes it. */
	TN_LOWER_ASCII = 1 << 6,
	/* The --normalize english preset. */
	TN_ENGLISH = TN_LOWER | TN_HYPHEN | TN_NUMBERS | TN_PUNCT | TN_APOS | TN_SPACE,
};

/* "english" or "none" -> flags; -1 for an unknown name. */
int textnorm_preset(const char *name, unsigned *flags);

/* Normalises in[0..len) into *out (grown as needed, NUL-terminated).
 * Returns the output length, or -1 (zerr: "invalid UTF-8 at byte N") when
 * the input is not valid UTF-8. */
ptrdiff_t textnorm_apply(char **out, size_t *cap, const char *in, size_t len, unsigned flags);

/* Decodes one UTF-8 character from s[0..len): returns its byte length and
 * sets *cp, or returns -1 for an invalid or truncated sequence (overlong
 * forms and surrogates included). */
int utf8_decode(const char *s, size_t len, uint32_t *cp);
/* Encodes cp into buf (4 bytes at least); returns the byte length. */
int utf8_encode(char *buf, uint32_t cp);
/* Copies in[0..len) into *out (grown as needed, NUL-terminated) with every
 * byte that does not start a valid UTF-8 character replaced by U+FFFD, as a
 * byte-level tokenizer's output may hold half characters; returns the output
 * length. */
size_t utf8_repair(char **out, size_t *cap, const char *in, size_t len);

uint32_t textnorm_lower(uint32_t cp);
uint32_t textnorm_upper(uint32_t cp);
bool textnorm_is_space(uint32_t cp);
bool textnorm_is_punct(uint32_t cp);

/* Writes the English words for the decimal digit string d[0..n) into buf
 * (cap bytes) as espeak-ng speaks the number, ordinal when ordinal is set.
 * Returns the length written, or -1 when it does not fit. */
int textnorm_number_words(char *buf, size_t cap, const char *d, size_t n, bool ordinal);

#endif
