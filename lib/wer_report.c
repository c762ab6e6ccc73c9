/* sclite-style alignment (pra) and confusion (dtl) reports. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "textnorm.h"
#include "wer.h"
#include "xalloc.h"
#include "zio.h"

/* ---- pra ---- */

static size_t count_cps(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		n += ((unsigned char)*s & 0xC0) != 0x80;
	return n;
}

/* Appends word (upper-cased when loud) or, for NULL, asterisks, padded to
 * width and followed by one blank. */
static void put_cell(char **line, size_t *len, size_t *cap, const char *word, bool loud,
		     size_t width)
{
	size_t shown = word ? count_cps(word) : 0;
	xgrow(line, cap, *len + (word ? 4 * strlen(word) : 0) + width + 2, 1);
	char *p = *line + *len;
	if (!word) {
		memset(p, '*', width);
		p += width;
	} else {
		for (size_t i = 0, n = strlen(word); i < n;) {
			uint32_t cp;
			int k = utf8_decode(word + i, n - i, &cp);
			if (k < 0) { /* words were checked on input; copy as is */
				*p++ = word[i++];
				continue;
			}
			p += utf8_encode(p, loud ? textnorm_upper(cp) : cp);
			i += (size_t)k;
		}
		memset(p, ' ', width - shown);
		p += width - shown;
	}
	*p++ = ' ';
	*len = (size_t)(p - *line);
}

int wer_pra_write(struct zout *out, const char *id, const struct wer_counts *c, const char *ops,
		  size_t nops, const int32_t *ref, const int32_t *hyp, const struct wer_set *s,
		  const struct wer_vocab *v)
{
	char *lines[3] = {NULL, NULL, NULL};
	size_t len[3] = {0, 0, 0}, cap[3] = {0, 0, 0};
	size_t i = 0, j = 0;
	for (size_t k = 0; k < nops; k++) {
		char op = ops[k], b1[8], b2[8];
		const char *r = op == WER_INS ? NULL : wer_token_text(s, v, ref[i++], b1);
		const char *h = op == WER_DEL ? NULL : wer_token_text(s, v, hyp[j++], b2);
		size_t w = r ? count_cps(r) : 0, wh = h ? count_cps(h) : 0;
		if (wh > w)
			w = wh;
		bool loud = op != WER_COR;
		put_cell(&lines[0], &len[0], &cap[0], r, loud, w);
		put_cell(&lines[1], &len[1], &cap[1], h, loud, w);
		char e[2] = {op == WER_COR ? ' ' : op, 0};
		put_cell(&lines[2], &len[2], &cap[2], e, false, w);
	}
	for (int k = 0; k < 3; k++) {
		xgrow(&lines[k], &cap[k], len[k] + 1, 1);
		lines[k][len[k]] = 0;
	}
	int rc = zout_printf(out, "id: (%s)\nScores: (#C #S #D #I) %lld %lld %lld %lld\n"
				  "REF:  %s\nHYP:  %s\nEval: %s\n\n",
			     id, c->cor, c->sub, c->del, c->ins, lines[0], lines[1], lines[2]);
	for (int k = 0; k < 3; k++)
		free(lines[k]);
	return rc;
}

/* ---- dtl ---- */

struct wer_dtl {
	uint64_t *sub; /* ref << 32 | hyp */
	int32_t *ins, *del;
	size_t nsub, nins, ndel, csub, cins, cdel;
};

struct wer_dtl *wer_dtl_new(void)
{
	return xcalloc(1, sizeof(struct wer_dtl));
}

void wer_dtl_free(struct wer_dtl *d)
{
	if (!d)
		return;
	free(d->sub);
	free(d->ins);
	free(d->del);
	free(d);
}

static void push32(int32_t **a, size_t *n, size_t *cap, int32_t x)
{
	if (*n == *cap)
		xgrow(a, cap, *n + 1, sizeof **a);
	(*a)[(*n)++] = x;
}

void wer_dtl_add(struct wer_dtl *d, const char *ops, size_t nops, const int32_t *ref,
		 const int32_t *hyp)
{
	size_t i = 0, j = 0;
	for (size_t k = 0; k < nops; k++) {
		switch (ops[k]) {
		case WER_COR:
			i++, j++;
			break;
		case WER_SUB:
			if (d->nsub == d->csub)
				xgrow(&d->sub, &d->csub, d->nsub + 1, sizeof *d->sub);
			d->sub[d->nsub++] = (uint64_t)(uint32_t)ref[i++] << 32 | (uint32_t)hyp[j++];
			break;
		case WER_DEL:
			push32(&d->del, &d->ndel, &d->cdel, ref[i++]);
			break;
		default:
			push32(&d->ins, &d->nins, &d->cins, hyp[j++]);
		}
	}
}

struct entry {
	long long count;
	char *a, *b;
};

static int cmp_u64(const void *x, const void *y)
{
	uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
	return (a > b) - (a < b);
}

/* Most frequent first; equal counts in byte order of the words. */
static int cmp_entry(const void *x, const void *y)
{
	const struct entry *a = x, *b = y;
	if (a->count != b->count)
		return a->count > b->count ? -1 : 1;
	int c = strcmp(a->a, b->a);
	return c ? c : strcmp(a->b ? a->b : "", b->b ? b->b : "");
}

/* Counts equal keys (keys: ref << 32 | hyp, or the word alone for
 * single-word tables) into sorted entries. */
static struct entry *tally(uint64_t *keys, size_t n, bool pairs, const struct wer_set *s,
			   const struct wer_vocab *v, size_t *nentries, long long *total)
{
	if (n > 0) /* keys is NULL for an empty table */
		qsort(keys, n, sizeof *keys, cmp_u64);
	struct entry *e = xmallocarray(n ? n : 1, sizeof *e);
	size_t m = 0;
	char buf[8];
	for (size_t i = 0; i < n;) {
		size_t k = i;
		while (k < n && keys[k] == keys[i])
			k++;
		int32_t a = (int32_t)(uint32_t)(pairs ? keys[i] >> 32 : keys[i]);
		e[m].count = (long long)(k - i);
		e[m].a = xstrdup(wer_token_text(s, v, a, buf));
		e[m].b = pairs ? xstrdup(wer_token_text(s, v, (int32_t)(uint32_t)keys[i], buf)) : NULL;
		m++;
		i = k;
	}
	qsort(e, m, sizeof *e, cmp_entry);
	*nentries = m;
	*total = (long long)n;
	return e;
}

static int write_table(struct zout *out, const char *title, struct entry *e, size_t n,
		       long long total)
{
	int rc = zout_printf(out, "%-32s Total (%lld)\n\n", title, total);
	for (size_t i = 0; i < n && rc == 0; i++) {
		if (e[i].b)
			rc = zout_printf(out, "%4zu: %4lld  ->  %s ==> %s\n", i + 1, e[i].count, e[i].a,
					 e[i].b);
		else
			rc = zout_printf(out, "%4zu: %4lld  ->  %s\n", i + 1, e[i].count, e[i].a);
	}
	if (rc == 0)
		rc = zout_puts(out, "\n");
	return rc;
}

static void free_entries(struct entry *e, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(e[i].a);
		free(e[i].b);
	}
	free(e);
}

static uint64_t *widen(const int32_t *a, size_t n)
{
	uint64_t *k = xmallocarray(n ? n : 1, sizeof *k);
	for (size_t i = 0; i < n; i++)
		k[i] = (uint32_t)a[i];
	return k;
}

int wer_dtl_write(struct wer_dtl *d, struct zout *out, const struct wer_set *s,
		  const struct wer_vocab *v)
{
	const char *titles[3] = {"CONFUSION PAIRS", "INSERTIONS", "DELETIONS"};
	uint64_t *keys[3] = {d->sub, widen(d->ins, d->nins), widen(d->del, d->ndel)};
	size_t counts[3] = {d->nsub, d->nins, d->ndel};
	int rc = 0;
	for (int t = 0; t < 3; t++) {
		size_t n;
		long long total;
		struct entry *e = tally(keys[t], counts[t], t == 0, s, v, &n, &total);
		if (rc == 0)
			rc = write_table(out, titles[t], e, n, total);
		free_entries(e, n);
	}
	free(keys[1]);
	free(keys[2]);
	return rc;
}
