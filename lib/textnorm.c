#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "textnorm.h"
#include "xalloc.h"
#include "zerr.h"

int textnorm_preset(const char *name, unsigned *flags)
{
	if (strcmp(name, "english") == 0)
		*flags = TN_ENGLISH;
	else if (strcmp(name, "none") == 0)
		*flags = 0;
	else
		return -1;
	return 0;
}

/* ---- UTF-8 ---- */

int utf8_decode(const char *s, size_t len, uint32_t *cp)
{
	const unsigned char *u = (const unsigned char *)s;
	if (len == 0)
		return -1;
	if (u[0] < 0x80) {
		*cp = u[0];
		return 1;
	}
	int n;
	uint32_t c, min;
	if ((u[0] & 0xE0) == 0xC0)
		n = 2, c = u[0] & 0x1F, min = 0x80;
	else if ((u[0] & 0xF0) == 0xE0)
		n = 3, c = u[0] & 0x0F, min = 0x800;
	else if ((u[0] & 0xF8) == 0xF0)
		n = 4, c = u[0] & 0x07, min = 0x10000;
	else
		return -1;
	if (len < (size_t)n)
		return -1;
	for (int i = 1; i < n; i++) {
		if ((u[i] & 0xC0) != 0x80)
			return -1;
		c = c << 6 | (u[i] & 0x3F);
	}
	if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
		return -1;
	*cp = c;
	return n;
}

int utf8_encode(char *buf, uint32_t cp)
{
	unsigned char *b = (unsigned char *)buf;
	if (cp < 0x80) {
		b[0] = (unsigned char)cp;
		return 1;
	}
	if (cp < 0x800) {
		b[0] = (unsigned char)(0xC0 | cp >> 6);
		b[1] = (unsigned char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		b[0] = (unsigned char)(0xE0 | cp >> 12);
		b[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
		b[2] = (unsigned char)(0x80 | (cp & 0x3F));
		return 3;
	}
	b[0] = (unsigned char)(0xF0 | cp >> 18);
	b[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3F));
	b[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
	b[3] = (unsigned char)(0x80 | (cp & 0x3F));
	return 4;
}

size_t utf8_repair(char **out, size_t *cap, const char *in, size_t len)
{
	xgrow(out, cap, 3 * len + 1, 1); /* at worst every byte becomes U+FFFD */
	size_t n = 0;
	for (size_t i = 0; i < len;) {
		uint32_t cp;
		int k = utf8_decode(in + i, len - i, &cp);
		if (k < 0) {
			n += (size_t)utf8_encode(*out + n, 0xFFFD);
			i++;
		} else {
			memcpy(*out + n, in + i, (size_t)k);
			n += (size_t)k;
			i += (size_t)k;
		}
	}
	(*out)[n] = 0;
	return n;
}

/* ---- character classes ---- */

uint32_t textnorm_lower(uint32_t c)
{
	if (c < 0x80)
		return c >= 'A' && c <= 'Z' ? c + 32 : c;
	if (c >= 0xC0 && c <= 0xDE && c != 0xD7)
		return c + 32;
	if (c == 0x130)
		return 'i';
	/* Latin Extended-A pairs: upper case on even code points up to
	 * U+0137 and from U+014A, on odd ones in U+0139..U+0148 and U+0179.. */
	if ((c >= 0x100 && c <= 0x137) || (c >= 0x14A && c <= 0x177))
		return c % 2 == 0 ? c + 1 : c;
	if ((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E))
		return c % 2 == 1 ? c + 1 : c;
	if (c == 0x178)
		return 0xFF;
	if (c >= 0x391 && c <= 0x3A9 && c != 0x3A2)
		return c + 32;
	if (c == 0x386)
		return 0x3AC;
	if (c >= 0x388 && c <= 0x38A)
		return c + 37;
	if (c == 0x38C)
		return 0x3CC;
	if (c == 0x38E || c == 0x38F)
		return c + 63;
	if (c >= 0x410 && c <= 0x42F)
		return c + 32;
	if (c >= 0x400 && c <= 0x40F)
		return c + 80;
	return c;
}

uint32_t textnorm_upper(uint32_t c)
{
	if (c < 0x80)
		return c >= 'a' && c <= 'z' ? c - 32 : c;
	if (c >= 0xE0 && c <= 0xFE && c != 0xF7)
		return c - 32;
	if (c == 0xFF)
		return 0x178;
	if (c == 0x131)
		return 'I';
	if ((c >= 0x100 && c <= 0x137) || (c >= 0x14A && c <= 0x177))
		return c % 2 == 1 ? c - 1 : c;
	if ((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E))
		return c % 2 == 0 ? c - 1 : c;
	if (c == 0x3C2)
		return 0x3A3;
	if (c >= 0x3B1 && c <= 0x3C9)
		return c - 32;
	if (c == 0x3AC)
		return 0x386;
	if (c >= 0x3AD && c <= 0x3AF)
		return c - 37;
	if (c == 0x3CC)
		return 0x38C;
	if (c == 0x3CD || c == 0x3CE)
		return c - 63;
	if (c >= 0x430 && c <= 0x44F)
		return c - 32;
	if (c >= 0x450 && c <= 0x45F)
		return c - 80;
	return c;
}

bool textnorm_is_space(uint32_t c)
{
	return c == ' ' || (c >= '\t' && c <= '\r') || c == 0x85 || c == 0xA0 ||
	       c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 ||
	       c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

static bool is_hyphen(uint32_t c)
{
	return c == '-' || c == 0x2010 || c == 0x2011 || c == 0x2013 || c == 0x2014;
}

/* Unicode general category P (Pc Pd Ps Pe Pi Pf Po) in the blocks a
 * transcript is likely to use. Symbols ($ + < = > ^ ` | ~) are category S
 * and are kept. */
bool textnorm_is_punct(uint32_t c)
{
	if (c < 0x80)
		return c != 0 && strchr("!\"#%&'()*,-./:;?@[\\]_{}", (int)c) != NULL;
	static const uint32_t ranges[][2] = {
		{0xA1, 0xA1}, {0xA7, 0xA7}, {0xAB, 0xAB}, {0xB6, 0xB7}, {0xBB, 0xBB},
		{0xBF, 0xBF}, {0x37E, 0x37E}, {0x387, 0x387}, {0x55A, 0x55F},
		{0x589, 0x58A}, {0x5BE, 0x5BE}, {0x5C0, 0x5C0}, {0x5C3, 0x5C3},
		{0x5C6, 0x5C6}, {0x5F3, 0x5F4}, {0x60C, 0x60D}, {0x61B, 0x61B},
		{0x61E, 0x61F}, {0x66A, 0x66D}, {0x6D4, 0x6D4}, {0x964, 0x965},
		{0x970, 0x970}, {0x2010, 0x2027}, {0x2030, 0x2043}, {0x2045, 0x2051},
		{0x2053, 0x205E}, {0x3001, 0x3003}, {0x3008, 0x3011}, {0x3014, 0x301F},
		{0xFF01, 0xFF03}, {0xFF05, 0xFF0A}, {0xFF0C, 0xFF0F}, {0xFF1A, 0xFF1B},
		{0xFF1F, 0xFF20}, {0xFF3B, 0xFF3D}, {0xFF3F, 0xFF3F}, {0xFF5B, 0xFF5B},
		{0xFF5D, 0xFF5D}, {0xFF5F, 0xFF65},
	};
	for (size_t i = 0; i < sizeof ranges / sizeof ranges[0]; i++)
		if (c >= ranges[i][0] && c <= ranges[i][1])
			return true;
	return false;
}

/* ---- numbers as espeak-ng (en) speaks them ---- */

struct sbuf {
	char *p;
	size_t len, cap;
	bool overflow;
};

static void sb_word(struct sbuf *b, const char *w)
{
	size_t n = strlen(w), sep = b->len > 0;
	if (b->len + sep + n + 1 > b->cap) {
		b->overflow = true;
		return;
	}
	if (sep)
		b->p[b->len++] = ' ';
	memcpy(b->p + b->len, w, n + 1);
	b->len += n;
}

static const char *const ones[20] = {
	"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
	"eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen",
	"nineteen",
};
static const char *const tens[10] = {
	"", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety",
};
static const char *const scales[] = {"", "thousand", "million", "billion", "trillion", "quadrillion"};
enum { MAX_CARDINAL_DIGITS = 18 };

static void say_below100(struct sbuf *b, unsigned n)
{
	if (n < 20) {
		sb_word(b, ones[n]);
		return;
	}
	sb_word(b, tens[n / 10]);
	if (n % 10)
		sb_word(b, ones[n % 10]);
}

static void say_below1000(struct sbuf *b, unsigned n)
{
	if (n >= 100) {
		sb_word(b, ones[n / 100]);
		sb_word(b, "hundred");
		if (n % 100 == 0)
			return;
		sb_word(b, "and");
	}
	say_below100(b, n % 100);
}

/* espeak-ng: groups of three with their scale word; "and" before a last
 * group below 100 that follows a larger one ("one thousand and one"), and
 * 1900..1999 read in hundreds ("nineteen hundred and five"). */
static void say_cardinal(struct sbuf *b, unsigned long long n)
{
	if (n == 0) {
		sb_word(b, "zero");
		return;
	}
	if (n >= 1900 && n <= 1999) {
		sb_word(b, "nineteen");
		sb_word(b, "hundred");
		if (n % 100) {
			sb_word(b, "and");
			say_below100(b, (unsigned)(n % 100));
		}
		return;
	}
	unsigned group[6];
	int ngroups = 0;
	for (unsigned long long m = n; m; m /= 1000)
		group[ngroups++] = (unsigned)(m % 1000);
	for (int s = ngroups - 1; s >= 1; s--)
		if (group[s]) {
			say_below1000(b, group[s]);
			sb_word(b, scales[s]);
		}
	if (group[0] == 0)
		return;
	if (ngroups > 1 && group[0] < 100)
		sb_word(b, "and");
	say_below1000(b, group[0]);
}

/* Turns the last word of b into its ordinal. */
static void ordinalise(struct sbuf *b)
{
	static const char *const irregular[][2] = {
		{"one", "first"}, {"two", "second"}, {"three", "third"}, {"five", "fifth"},
		{"eight", "eighth"}, {"nine", "ninth"}, {"twelve", "twelfth"},
	};
	char *last = strrchr(b->p, ' ');
	last = last ? last + 1 : b->p;
	size_t start = (size_t)(last - b->p);
	char word[16];
	snprintf(word, sizeof word, "%s", last);
	b->len = start;
	b->p[start] = 0;
	bool sep = start > 0;
	if (sep)
		b->p[--b->len] = 0; /* sb_word adds the blank back */
	for (size_t i = 0; i < sizeof irregular / sizeof irregular[0]; i++)
		if (strcmp(word, irregular[i][0]) == 0) {
			sb_word(b, irregular[i][1]);
			return;
		}
	char out[24];
	size_t n = strlen(word);
	if (n > 0 && word[n - 1] == 'y')
		snprintf(out, sizeof out, "%.*sieth", (int)(n - 1), word);
	else
		snprintf(out, sizeof out, "%sth", word);
	sb_word(b, out);
}

int textnorm_number_words(char *buf, size_t cap, const char *d, size_t n, bool ordinal)
{
	struct sbuf b = {buf, 0, cap, false};
	if (cap == 0)
		return -1;
	buf[0] = 0;
	if (n == 0)
		return 0;
	/* espeak-ng reads a leading zero, or a number too long to name,
	 * digit by digit. */
	if ((n > 1 && d[0] == '0') || n > MAX_CARDINAL_DIGITS) {
		for (size_t i = 0; i < n; i++)
			sb_word(&b, ones[d[i] - '0']);
	} else {
		unsigned long long v = 0;
		for (size_t i = 0; i < n; i++)
			v = v * 10 + (unsigned)(d[i] - '0');
		say_cardinal(&b, v);
	}
	if (ordinal && !b.overflow)
		ordinalise(&b);
	return b.overflow ? -1 : (int)b.len;
}

/* ---- the pipeline, over code points ---- */

struct cps {
	uint32_t *p;
	size_t n, cap;
};

static void cps_push(struct cps *v, uint32_t c)
{
	if (v->n == v->cap)
		xgrow(&v->p, &v->cap, v->n + 1, sizeof *v->p);
	v->p[v->n++] = c;
}

static bool is_digit(uint32_t c)
{
	return c >= '0' && c <= '9';
}

static bool is_ascii_alpha(uint32_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static size_t digits_at(const struct cps *v, size_t i)
{
	size_t j = i;
	while (j < v->n && is_digit(v->p[j]))
		j++;
	return j - i;
}

/* A "1,234,567" grouping: 1-3 digits then groups of exactly three after
 * commas. Returns the end of the number (i + first when not grouped). */
static size_t grouped_end(const struct cps *v, size_t i, size_t first)
{
	size_t end = i + first;
	if (first > 3 || v->p[i] == '0')
		return end;
	while (end + 4 <= v->n && v->p[end] == ',' && digits_at(v, end + 1) == 3)
		end += 4;
	return end;
}

static void push_words(struct cps *out, const char *w)
{
	cps_push(out, ' ');
	for (; *w; w++)
		cps_push(out, (unsigned char)*w);
	cps_push(out, ' ');
}

/* Replaces one number starting at in->p[*i] with words; advances *i. */
static void expand_number(struct cps *out, const struct cps *in, size_t *i)
{
	size_t start = *i, first = digits_at(in, start);
	size_t end = grouped_end(in, start, first);
	char digits[64], words[512];
	size_t nd = 0;
	bool too_long = false;
	for (size_t k = start; k < end; k++)
		if (in->p[k] != ',') {
			if (nd + 1 >= sizeof digits) {
				too_long = true;
				break;
			}
			digits[nd++] = (char)in->p[k];
		}
	if (too_long) {
		/* Very long digit strings: one digit word each. */
		for (size_t k = start; k < end; k++)
			if (in->p[k] != ',')
				push_words(out, ones[in->p[k] - '0']);
		*i = end;
		return;
	}
	size_t frac = 0;
	if (end + 1 < in->n && in->p[end] == '.' && is_digit(in->p[end + 1]))
		frac = digits_at(in, end + 1);
	bool ordinal = false;
	if (!frac && end + 2 <= in->n) {
		static const char *const suffix[] = {"st", "nd", "rd", "th"};
		for (int s = 0; s < 4; s++)
			if ((in->p[end] | 32) == (uint32_t)suffix[s][0] &&
			    (in->p[end + 1] | 32) == (uint32_t)suffix[s][1] &&
			    (end + 2 == in->n || !is_ascii_alpha(in->p[end + 2])))
				ordinal = true;
	}
	if (textnorm_number_words(words, sizeof words, digits, nd, ordinal) >= 0)
		push_words(out, words);
	*i = end + (ordinal ? 2 : 0);
	if (frac) {
		push_words(out, "point");
		for (size_t k = end + 1; k < end + 1 + frac; k++)
			push_words(out, ones[in->p[k] - '0']);
		*i = end + 1 + frac;
	}
	/* "1990's" keeps its apostrophe inside the word: "ninety's". */
	if (*i < in->n && (in->p[*i] == '\'' || in->p[*i] == 0x2019) && out->n && out->p[out->n - 1] == ' ')
		out->n--;
}

static void step_numbers(struct cps *out, const struct cps *in)
{
	out->n = 0;
	for (size_t i = 0; i < in->n;) {
		if (is_digit(in->p[i]))
			expand_number(out, in, &i);
		else
			cps_push(out, in->p[i++]);
	}
}

static bool is_word_char(uint32_t c)
{
	return !textnorm_is_space(c) && !textnorm_is_punct(c);
}

static void step_punct(struct cps *out, const struct cps *in, bool keep_apos)
{
	out->n = 0;
	for (size_t i = 0; i < in->n; i++) {
		uint32_t c = in->p[i];
		if (!textnorm_is_punct(c)) {
			cps_push(out, c);
			continue;
		}
		if (keep_apos && (c == '\'' || c == 0x2019) && i > 0 && i + 1 < in->n &&
		    is_word_char(in->p[i - 1]) && is_word_char(in->p[i + 1]))
			cps_push(out, '\'');
	}
}

static int decode_all(struct cps *v, const char *in, size_t len)
{
	v->n = 0;
	for (size_t i = 0; i < len;) {
		uint32_t c;
		int k = utf8_decode(in + i, len - i, &c);
		if (k < 0) {
			zerr_set("invalid UTF-8 at byte %zu", i + 1);
			return -1;
		}
		cps_push(v, c);
		i += (size_t)k;
	}
	return 0;
}

/* Trims the ends, collapses inner blank runs when asked, and encodes. */
static size_t encode_all(char **out, size_t *cap, const struct cps *v, bool collapse)
{
	size_t a = 0, b = v->n;
	while (a < b && textnorm_is_space(v->p[a]))
		a++;
	while (b > a && textnorm_is_space(v->p[b - 1]))
		b--;
	xgrow(out, cap, 4 * (b - a) + 1, 1);
	size_t n = 0;
	for (size_t i = a; i < b; i++) {
		uint32_t c = v->p[i];
		if (collapse && textnorm_is_space(c)) {
			if (textnorm_is_space(v->p[i - 1]))
				continue;
			c = ' ';
		}
		n += (size_t)utf8_encode(*out + n, c);
	}
	(*out)[n] = 0;
	return n;
}

ptrdiff_t textnorm_apply(char **out, size_t *cap, const char *in, size_t len, unsigned flags)
{
	struct cps a = {0}, b = {0};
	ptrdiff_t n = -1;
	if (decode_all(&a, in, len) < 0)
		goto done;
	for (size_t i = 0; i < a.n; i++) {
		if (flags & TN_LOWER)
			a.p[i] = textnorm_lower(a.p[i]);
		else if ((flags & TN_LOWER_ASCII) && a.p[i] >= 'A' && a.p[i] <= 'Z')
			a.p[i] += 32;
		if ((flags & TN_HYPHEN) && is_hyphen(a.p[i]))
			a.p[i] = ' ';
	}
	if (flags & TN_NUMBERS) {
		step_numbers(&b, &a);
		struct cps t = a;
		a = b, b = t;
	}
	if (flags & TN_PUNCT) {
		step_punct(&b, &a, flags & TN_APOS);
		struct cps t = a;
		a = b, b = t;
	}
	n = (ptrdiff_t)encode_all(out, cap, &a, flags & TN_SPACE);
done:
	free(a.p);
	free(b.p);
	return n;
}
