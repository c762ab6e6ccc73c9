/* Reading Kaldi text and sclite trn transcripts into a wer_set. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "archive.h"
#include "textnorm.h"
#include "wer.h"
#include "xalloc.h"
#include "zerr.h"
#include "zio.h"

int wer_format_parse(const char *s, enum wer_format *f)
{
	if (strcmp(s, "kaldi") == 0)
		*f = WER_FORMAT_KALDI;
	else if (strcmp(s, "trn") == 0)
		*f = WER_FORMAT_TRN;
	else if (strcmp(s, "auto") == 0)
		*f = WER_FORMAT_AUTO;
	else
		return -1;
	return 0;
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f' || c == '\n';
}

static void trim(const char **s, size_t *len)
{
	while (*len && is_blank(**s))
		(*s)++, (*len)--;
	while (*len && is_blank((*s)[*len - 1]))
		(*len)--;
}

enum wer_format wer_detect_format(const char *line)
{
	size_t len = strlen(line);
	trim(&line, &len);
	if (len < 3 || line[len - 1] != ')')
		return WER_FORMAT_KALDI;
	size_t k = len - 1;
	while (k > 0 && !is_blank(line[k - 1]))
		k--;
	return line[k] == '(' ? WER_FORMAT_TRN : WER_FORMAT_KALDI;
}

int wer_split_line(enum wer_format f, const char *line, size_t len, const char **id,
		   size_t *id_len, const char **text, size_t *text_len)
{
	trim(&line, &len);
	if (f == WER_FORMAT_KALDI) {
		size_t k = 0;
		while (k < len && !is_blank(line[k]))
			k++;
		*id = line, *id_len = k;
		*text = line + k, *text_len = len - k;
	} else {
		size_t k = len;
		while (k > 0 && !is_blank(line[k - 1]))
			k--;
		if (line[len - 1] != ')' || line[k] != '(') {
			zerr_set("expected a trn line ending in \"(utterance-id)\"");
			return -1;
		}
		*id = line + k + 1, *id_len = len - k - 2;
		*text = line, *text_len = k;
	}
	trim(text, text_len);
	if (!archive_valid_id(*id, *id_len)) {
		zerr_set("invalid utterance id '%.*s'", (int)*id_len, *id);
		return -1;
	}
	return 0;
}

static void push_tok(struct wer_set *s, int32_t t)
{
	if (s->ntok == s->tokcap)
		xgrow(&s->tok, &s->tokcap, s->ntok + 1, sizeof *s->tok);
	s->tok[s->ntok++] = t;
}

/* Words split at ASCII blanks; with chars, their code points, one space
 * between words when char_spaces. Returns -1 on invalid UTF-8. */
static int tokenize(struct wer_set *s, const char *text, size_t len, const struct wer_read_opts *o,
		    struct wer_vocab *v)
{
	size_t words = 0;
	for (size_t i = 0; i < len;) {
		while (i < len && is_blank(text[i]))
			i++;
		size_t start = i;
		while (i < len && !is_blank(text[i]))
			i++;
		if (i == start)
			break;
		if (!o->chars) {
			push_tok(s, wer_vocab_intern(v, text + start, i - start));
			continue;
		}
		if (words++ && o->char_spaces)
			push_tok(s, ' ');
		for (size_t k = start; k < i;) {
			uint32_t cp;
			int n = utf8_decode(text + k, i - k, &cp);
			if (n < 0) {
				zerr_set("invalid UTF-8 at byte %zu of the text", k + 1);
				return -1;
			}
			push_tok(s, (int32_t)cp);
			k += (size_t)n;
		}
	}
	return 0;
}

static int check_utf8(const char *s, size_t len)
{
	for (size_t i = 0; i < len;) {
		if ((unsigned char)s[i] < 0x80) { /* the common case, no call */
			i++;
			continue;
		}
		uint32_t cp;
		int n = utf8_decode(s + i, len - i, &cp);
		if (n < 0) {
			zerr_set("invalid UTF-8 at byte %zu of the text", i + 1);
			return -1;
		}
		i += (size_t)n;
	}
	return 0;
}

static size_t pool_add(struct wer_set *s, const char *str, size_t len)
{
	xgrow(&s->pool, &s->pool_cap, s->pool_len + len + 1, 1);
	size_t off = s->pool_len;
	memcpy(s->pool + off, str, len);
	s->pool[off + len] = 0;
	s->pool_len += len + 1;
	return off;
}

/* One line: the utterance, or nothing for a blank line. */
static int read_line(struct wer_set *s, const char *line, size_t len, long lineno,
		     const struct wer_read_opts *o, struct wer_vocab *v, char **nbuf, size_t *ncap)
{
	trim(&line, &len);
	if (len == 0)
		return 0;
	if (memchr(line, '\0', len)) {
		zerr_set("NUL byte in line");
		return -1;
	}
	if (s->format == WER_FORMAT_AUTO)
		s->format = wer_detect_format(line);
	const char *id, *text;
	size_t id_len, text_len;
	if (wer_split_line(s->format, line, len, &id, &id_len, &text, &text_len) < 0)
		return -1;
	if (o->norm) {
		ptrdiff_t n = textnorm_apply(nbuf, ncap, text, text_len, o->norm);
		if (n < 0)
			return -1;
		text = *nbuf, text_len = (size_t)n;
	} else if (!o->chars && check_utf8(text, text_len) < 0) {
		return -1;
	}
	if (s->n == s->cap)
		xgrow(&s->utt, &s->cap, s->n + 1, sizeof *s->utt);
	struct wer_utt *u = &s->utt[s->n++];
	u->id = pool_add(s, id, id_len);
	u->line = lineno;
	u->off = s->ntok;
	if (tokenize(s, text, text_len, o, v) < 0)
		return -1;
	u->len = s->ntok - u->off;
	return 0;
}

/* Fills s->ids and rejects a repeated id, naming both lines. */
static int index_ids(struct wer_set *s)
{
	s->ids = xmallocarray(s->n ? s->n : 1, sizeof *s->ids);
	struct keyindex *k = keyindex_new();
	int rc = 0;
	for (size_t i = 0; i < s->n; i++) {
		s->ids[i] = s->pool + s->utt[i].id;
		size_t first;
		if (keyindex_put(k, s->ids[i], i, &first) < 0) {
			zerr_set("%s:%ld: duplicate utterance id '%s' (first on line %ld)", s->name,
				 s->utt[i].line, s->ids[i], s->utt[first].line);
			rc = -1;
			break;
		}
	}
	keyindex_free(k);
	return rc;
}

int wer_read(struct wer_set *s, const char *path, const struct wer_read_opts *o,
	     struct wer_vocab *v)
{
	memset(s, 0, sizeof *s);
	s->format = o->format;
	s->chars = o->chars;
	struct zin *in = zin_open(path);
	if (!in)
		return -1;
	s->name = xstrdup(zin_name(in));
	char *nbuf = NULL;
	size_t ncap = 0, len;
	int rc = 0;
	for (char *line; (line = zin_getline(in, &len));)
		if (read_line(s, line, len, zin_lineno(in), o, v, &nbuf, &ncap) < 0) {
			zerr_prefix("%s:%ld", s->name, zin_lineno(in));
			rc = -1;
			break;
		}
	if (rc == 0 && zin_failed(in))
		rc = -1;
	zin_close(in);
	free(nbuf);
	if (s->format == WER_FORMAT_AUTO)
		s->format = WER_FORMAT_KALDI;
	if (rc == 0)
		rc = index_ids(s);
	return rc;
}

void wer_set_free(struct wer_set *s)
{
	free(s->name);
	free(s->utt);
	free(s->tok);
	free(s->pool);
	free(s->ids);
	memset(s, 0, sizeof *s);
}

const char *wer_token_text(const struct wer_set *s, const struct wer_vocab *v, int32_t t,
			   char *buf)
{
	if (!s->chars)
		return wer_vocab_word(v, t);
	buf[utf8_encode(buf, (uint32_t)t)] = 0;
	return buf;
}
