/* fusedata: aligned utterances and ASR/TTS batches (see fusedata.h). */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "archive.h"
#include "fusedata.h"
#include "xalloc.h"
#include "zerr.h"

/* A whole token archive in memory. */
struct table {
	size_t n, cap;
	char **ids;
	int32_t **tok;
	size_t *len;
};

static void table_free(struct table *t)
{
	for (size_t i = 0; i < t->n; i++) {
		free(t->ids[i]);
		free(t->tok[i]);
	}
	free(t->ids);
	free(t->tok);
	free(t->len);
}

static int table_read(struct table *t, const char *path, long vocab, const char *modality)
{
	memset(t, 0, sizeof *t);
	struct tok_reader *r = tok_open(path, vocab);
	if (!r)
		return -1;
	if (tok_expect(r, modality, 0, NULL) < 0) {
		tok_close(r);
		return -1;
	}
	const char *id;
	const int32_t *ids;
	size_t n;
	int rc;
	while ((rc = tok_next(r, &id, &ids, &n)) > 0) {
		size_t cap = t->cap;
		xgrow(&t->ids, &cap, t->n + 1, sizeof *t->ids);
		cap = t->cap;
		xgrow(&t->tok, &cap, t->n + 1, sizeof *t->tok);
		xgrow(&t->len, &t->cap, t->n + 1, sizeof *t->len);
		t->ids[t->n] = xstrdup(id);
		t->tok[t->n] = xmallocarray(n + 1, sizeof *ids);
		memcpy(t->tok[t->n], ids, n * sizeof *ids);
		t->len[t->n++] = n;
	}
	tok_close(r);
	if (rc < 0)
		table_free(t);
	return rc;
}

int fuse_data_load(struct fuse_data *d, const char *speech_path, const char *text_path, const int vocab[2],
		   const int max_len[2])
{
	memset(d, 0, sizeof *d);
	struct table t[2];
	if (table_read(&t[ZM_SPEECH], speech_path, vocab[ZM_SPEECH] - 2, "speech") < 0)
		return -1;
	if (table_read(&t[ZM_TEXT], text_path, vocab[ZM_TEXT], "text") < 0) {
		table_free(&t[ZM_SPEECH]);
		return -1;
	}
	struct join_result j;
	int rc = join_keys((const char *const *)t[ZM_SPEECH].ids, t[ZM_SPEECH].n, speech_path,
			   (const char *const *)t[ZM_TEXT].ids, t[ZM_TEXT].n, text_path, JOIN_STRICT, &j);
	if (rc == 0) {
		d->ids = xcalloc(j.n + 1, sizeof *d->ids);
		for (int m = 0; m < 2; m++) {
			d->tok[m] = xcalloc(j.n + 1, sizeof *d->tok[m]);
			d->len[m] = xcalloc(j.n + 1, sizeof *d->len[m]);
		}
		for (size_t i = 0; i < j.n; i++) {
			size_t at[2] = {(size_t)j.right[i], j.left[i]}; /* text is the right table */
			if (t[ZM_TEXT].len[at[ZM_TEXT]] + 2 > (size_t)max_len[ZM_TEXT] ||
			    t[ZM_SPEECH].len[at[ZM_SPEECH]] + 2 > (size_t)max_len[ZM_SPEECH]) {
				d->skipped++;
				continue;
			}
			d->ids[d->n] = xstrdup(t[ZM_SPEECH].ids[at[ZM_SPEECH]]);
			for (int m = 0; m < 2; m++) { /* take the tokens over */
				d->tok[m][d->n] = t[m].tok[at[m]];
				d->len[m][d->n] = t[m].len[at[m]];
				t[m].tok[at[m]] = NULL;
			}
			d->n++;
		}
		join_result_free(&j);
		if (d->n == 0) {
			zerr_set("%s: no utterance fits the towers (%zu too long)", text_path, d->skipped);
			rc = -1;
		}
	}
	table_free(&t[0]);
	table_free(&t[1]);
	if (rc < 0)
		fuse_data_free(d);
	return rc;
}

void fuse_data_free(struct fuse_data *d)
{
	for (size_t i = 0; i < d->n; i++) {
		free(d->ids[i]);
		for (int m = 0; m < 2; m++)
			free(d->tok[m][i]);
	}
	free(d->ids);
	for (int m = 0; m < 2; m++) {
		free(d->tok[m]);
		free(d->len[m]);
	}
	memset(d, 0, sizeof *d);
}

int fuse_data_max_len(const struct fuse_data *d, int m)
{
	size_t mx = 0;
	for (size_t i = 0; i < d->n; i++)
		mx = d->len[m][i] > mx ? d->len[m][i] : mx;
	return (int)mx + 2;
}

void fuse_batch_alloc(struct zipper_batch *b, int B, const int T[2])
{
	b->B = B;
	for (int m = 0; m < 2; m++) {
		size_t n = (size_t)B * T[m];
		b->T[m] = T[m];
		b->tokens[m] = xcalloc(n, sizeof(int32_t));
		b->targets[m] = xcalloc(n, sizeof(int32_t));
		b->pos[m] = xcalloc(n, sizeof(int32_t));
	}
}

void fuse_batch_free(struct zipper_batch *b)
{
	for (int m = 0; m < 2; m++) {
		free(b->tokens[m]);
		free(b->targets[m]);
		free(b->pos[m]);
	}
}

/* Row r of modality m: bos, the tokens, then eos as a last input (the input
 * segment) or as the last target (the output segment); positions from p0. */
static int fill_segment(const struct zipper_batch *b, int m, int r, const int32_t *tok, size_t n, bool output,
			int p0, const struct zipper_config *c)
{
	int32_t *x = b->tokens[m] + (size_t)r * b->T[m], *y = b->targets[m] + (size_t)r * b->T[m];
	int32_t *p = b->pos[m] + (size_t)r * b->T[m];
	int len = (int)n + (output ? 1 : 2);
	x[0] = c->bos[m];
	memcpy(x + 1, tok, n * sizeof *tok);
	if (!output)
		x[n + 1] = c->eos[m];
	for (int i = 0; i < len; i++) {
		y[i] = !output ? -1 : (size_t)i < n ? tok[i] : c->eos[m];
		p[i] = p0 + i;
	}
	for (int i = len; i < b->T[m]; i++) {
		x[i] = 0;
		y[i] = -1;
		p[i] = INT32_MAX;
	}
	return len;
}

void fuse_batch_fill(struct zipper_batch *b, const struct fuse_data *d, const size_t *idx, const int *task, int B,
		     const struct zipper_config *c)
{
	int T[2] = {1, 1};
	for (int r = 0; r < B; r++)
		for (int m = 0; m < 2; m++) {
			int out = (task[r] == TASK_ASR) == (m == ZM_TEXT);
			int len = (int)d->len[m][idx[r]] + (out ? 1 : 2);
			T[m] = len > T[m] ? len : T[m];
		}
	b->B = B;
	b->T[0] = T[0];
	b->T[1] = T[1];
	for (int r = 0; r < B; r++) {
		int in = task[r] == TASK_ASR ? ZM_SPEECH : ZM_TEXT, out = 1 - in;
		int n = fill_segment(b, in, r, d->tok[in][idx[r]], d->len[in][idx[r]], false, 0, c);
		fill_segment(b, out, r, d->tok[out][idx[r]], d->len[out][idx[r]], true, n, c);
	}
}

int fuse_task_of(uint64_t seed, long step, int row, double tts_ratio)
{
	/* splitmix64 of the three: independent of any generator's state */
	uint64_t x = seed ^ ((uint64_t)step * 0x9e3779b97f4a7c15ULL) ^ ((uint64_t)row * 0xbf58476d1ce4e5b9ULL);
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return (double)(x >> 11) * 0x1.0p-53 < tts_ratio ? TASK_TTS : TASK_ASR;
}
