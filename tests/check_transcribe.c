/* Unit tests for what zip-transcribe is built from: audiolist (audio
 * inputs), and the tokenizers a model carries (speechtok_from_model,
 * bpe_from_model) against the same tokenizers loaded from their files. */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audiolist.h"
#include "bpe.h"
#include "rng.h"
#include "safetensors.h"
#include "sha256.h"
#include "speechtok.h"
#include "xalloc.h"
#include "zerr.h"
#include "zio.h"

#include "workdir.h"

static void write_text(const char *path, const char *text)
{
	ck_assert_int_eq(zio_write_file(path, text, strlen(text)), 0);
}

/* ---- audiolist ---- */

START_TEST(test_audiolist_files_lists_stdin)
{
	char *scp = path_in_work("wav.scp"), *arg = xasprintf("scp:%s", scp);
	write_text(scp, "spk1-a /data/a.wav\nspk1-b b b.flac\n");
	struct audiolist l;
	audiolist_init(&l);
	ck_assert_int_eq(audiolist_add_arg(&l, "/x/y/utt1.flac"), 0);
	ck_assert_int_eq(audiolist_add_arg(&l, arg), 0);
	ck_assert_int_eq(audiolist_add_arg(&l, "-"), 0);
	ck_assert_uint_eq(l.n, 4);
	ck_assert_str_eq(l.items[0].id, "utt1");
	ck_assert_str_eq(l.items[0].path, "/x/y/utt1.flac");
	ck_assert_str_eq(l.items[1].id, "spk1-a");
	ck_assert_str_eq(l.items[1].path, "/data/a.wav");
	ck_assert_str_eq(l.items[2].path, "b b.flac"); /* the rest of the line */
	ck_assert_str_eq(l.items[3].id, "stdin");
	ck_assert_str_eq(l.items[3].path, "-");
	/* the same list again: its first id is a duplicate, named with its line */
	ck_assert_int_eq(audiolist_add_arg(&l, scp), -1);
	ck_assert_ptr_nonnull(strstr(zerr_msg(), "wav.scp:1: utterance id 'spk1-a' appears twice"));
	audiolist_free(&l);
	free(scp), free(arg);
}
END_TEST

START_TEST(test_audiolist_bad_lines)
{
	char *pipe = path_in_work("pipe.scp"), *empty = path_in_work("empty.scp"), *none = path_in_work("none.scp");
	char *nolines = path_in_work("nolines.scp");
	write_text(pipe, "a a.wav\nb sox b.flac -t wav - |\n");
	write_text(empty, "a\n");
	write_text(nolines, "");
	struct audiolist l;
	audiolist_init(&l);
	ck_assert_int_eq(audiolist_add_arg(&l, pipe), -1);
	ck_assert_ptr_nonnull(strstr(zerr_msg(), "pipe.scp:2: commands ending in '|' are not supported"));
	ck_assert_int_eq(audiolist_add_arg(&l, empty), -1);
	ck_assert_ptr_nonnull(strstr(zerr_msg(), "empty.scp:1: no audio path after the id"));
	ck_assert_int_eq(audiolist_add_arg(&l, none), -1);
	ck_assert_ptr_nonnull(strstr(zerr_msg(), "none.scp"));
	ck_assert_int_eq(audiolist_add_arg(&l, nolines), -1);
	ck_assert_ptr_nonnull(strstr(zerr_msg(), "nolines.scp: no utterances in the list"));
	audiolist_free(&l);
	free(pipe), free(empty), free(none), free(nolines);
}
END_TEST

/* ---- carried tokenizers ---- */

/* A speech tokenizer fitted on random frames, saved to path. */
static struct speechtok *small_speechtok(const char *path, bool utt_norm)
{
	struct rng r;
	rng_seed(&r, 3);
	struct speechtok_fitter *f = speechtok_fitter_new(25, utt_norm);
	size_t T = 400;
	float *mel = xmallocarray(T * MEL_NMELS, sizeof *mel);
	for (size_t i = 0; i < T * MEL_NMELS; i++)
		mel[i] = (float)rng_normal(&r) + (float)(i / MEL_NMELS % 7);
	speechtok_fitter_add(f, mel, T);
	free(mel);
	struct speechtok_fit_opts o;
	speechtok_fit_opts_default(&o);
	o.k = 8;
	o.quiet = true;
	struct speechtok *t = speechtok_fit(f, &o);
	speechtok_fitter_free(f);
	ck_assert_ptr_nonnull(t);
	ck_assert_int_eq(speechtok_save(t, path), 0);
	return t;
}

/* A "model" carrying the tokenizer file tok as zip-fuse writes it: its
 * tensors under tokenizer.MOD. and zipper.tokenizer.MOD metadata. */
static void carry(const char *model, const char *tok, const char *mod, const char *kind)
{
	struct st_file f;
	ck_assert_int_eq(st_open(&f, tok), 0);
	struct st_writer *w = st_writer_new("fused", 1, NULL);
	char **names = xcalloc(f.n_tensors, sizeof *names);
	for (size_t i = 0; i < f.n_tensors; i++) {
		const struct st_tensor *x = &f.tensors[i];
		names[i] = xasprintf("tokenizer.%s.%s", mod, x->name);
		st_writer_add(w, names[i], x->dtype, x->ndim, x->shape, x->data);
	}
	char fp[SHA256_FINGERPRINT_LEN + 1];
	sha256_fingerprint(f.map, f.map_size, fp);
	cJSON *j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "kind", kind);
	cJSON_AddStringToObject(j, "fingerprint", fp);
	cJSON_AddItemToObject(j, "config", cJSON_Duplicate(f.config, true));
	char *meta = cJSON_PrintUnformatted(j), *key = xasprintf("zipper.tokenizer.%s", mod);
	st_writer_meta(w, key, meta);
	ck_assert_int_eq(st_writer_write(w, model), 0);
	st_writer_free(w);
	cJSON_Delete(j);
	free(meta), free(key);
	for (size_t i = 0; i < f.n_tensors; i++)
		free(names[i]);
	free(names);
	st_close(&f);
}

static void check_speech_carried(bool utt_norm)
{
	char *tok = path_in_work("speech.tok"), *model = path_in_work("m.zpm");
	struct speechtok *fitted = small_speechtok(tok, utt_norm);
	carry(model, tok, "speech", "speech-tokenizer");
	struct speechtok *a = speechtok_load(tok);
	ck_assert_ptr_nonnull(a);
	struct st_file f;
	ck_assert_int_eq(st_open(&f, model), 0);
	struct speechtok *b = speechtok_from_model(&f);
	st_close(&f); /* b holds copies */
	ck_assert_ptr_nonnull(b);
	ck_assert_int_eq(b->k, a->k);
	ck_assert_int_eq(b->rate, a->rate);
	ck_assert_int_eq(b->stack, a->stack);
	ck_assert(b->utt_norm == utt_norm);
	ck_assert_str_eq(b->fingerprint, a->fingerprint);
	ck_assert_mem_eq(b->mean, a->mean, sizeof a->mean);
	ck_assert_mem_eq(b->std, a->std, sizeof a->std);
	ck_assert_mem_eq(b->codebook, a->codebook, (size_t)a->k * (size_t)a->dim * sizeof(float));
	/* the same tokens */
	struct rng r;
	rng_seed(&r, 9);
	size_t T = 37, n = speechtok_n_tokens(a, T);
	float *mel = xmallocarray(T * MEL_NMELS, sizeof *mel);
	for (size_t i = 0; i < T * MEL_NMELS; i++)
		mel[i] = (float)rng_normal(&r) * 3;
	int32_t *ia = xmallocarray(n, sizeof *ia), *ib = xmallocarray(n, sizeof *ib);
	speechtok_encode(a, ia, mel, T);
	speechtok_encode(b, ib, mel, T);
	ck_assert_mem_eq(ia, ib, n * sizeof *ia);
	free(mel), free(ia), free(ib);
	speechtok_free(a);
	speechtok_free(b);
	speechtok_free(fitted);
	free(tok), free(model);
}

START_TEST(test_speechtok_from_model_is_the_file)
{
	check_speech_carried(false);
	check_speech_carried(true);
}
END_TEST

START_TEST(test_speechtok_from_model_refuses)
{
	char *tok = path_in_work("speech.tok"), *model = path_in_work("m.zpm");
	speechtok_free(small_speechtok(tok, false));
	struct st_file f;
	/* none carried */
	ck_assert_int_eq(st_open(&f, tok), 0);
	ck_assert_ptr_null(speechtok_from_model(&f));
	ck_assert_ptr_nonnull(strstr(zerr_msg(), "carries no speech tokenizer"));
	st_close(&f);
	/* described as something else */
	carry(model, tok, "speech", "text-tokenizer");
	ck_assert_int_eq(st_open(&f, model), 0);
	ck_assert_ptr_null(speechtok_from_model(&f));
	ck_assert_ptr_nonnull(strstr(zerr_msg(), "not describe a speech tokenizer"));
	st_close(&f);
	free(tok), free(model);
}
END_TEST

START_TEST(test_bpe_from_model_is_the_file)
{
	static const char *const lines[] = {"the cat sat on the mat", "the cat ran", "a dog sat"};
	size_t lens[3];
	for (int i = 0; i < 3; i++)
		lens[i] = strlen(lines[i]);
	char *tok = path_in_work("text.tok"), *model = path_in_work("m.zpm");
	struct bpe *fitted = bpe_fit(lines, lens, 3, 270, NULL);
	ck_assert_ptr_nonnull(fitted);
	ck_assert_int_eq(bpe_save(fitted, tok), 0);
	carry(model, tok, "text", "text-tokenizer");
	struct st_file f;
	ck_assert_int_eq(st_open(&f, model), 0);
	struct bpe *b = bpe_from_model(&f);
	st_close(&f);
	ck_assert_ptr_nonnull(b);
	ck_assert_int_eq(bpe_vocab_size(b), bpe_vocab_size(fitted));
	int32_t *x = NULL, *y = NULL;
	size_t nx = 0, ny = 0, cx = 0, cy = 0;
	const char *s = "the cat sat on a dog";
	bpe_encode(fitted, s, strlen(s), &x, &nx, &cx);
	bpe_encode(b, s, strlen(s), &y, &ny, &cy);
	ck_assert_uint_eq(nx, ny);
	ck_assert_mem_eq(x, y, nx * sizeof *x);
	ck_assert_uint_lt(nx, strlen(s)); /* merges were used */
	free(x), free(y);
	bpe_free(b);
	/* a model without one */
	ck_assert_int_eq(st_open(&f, tok), 0);
	ck_assert_ptr_null(bpe_from_model(&f));
	ck_assert_ptr_nonnull(strstr(zerr_msg(), "carries no text tokenizer"));
	st_close(&f);
	bpe_free(fitted);
	free(tok), free(model);
}
END_TEST

static Suite *transcribe_suite(void)
{
	Suite *s = suite_create("transcribe");
	TCase *tc = tcase_create("transcribe");
	tcase_add_checked_fixture(tc, make_workdir, remove_workdir);
	tcase_add_test(tc, test_audiolist_files_lists_stdin);
	tcase_add_test(tc, test_audiolist_bad_lines);
	tcase_add_test(tc, test_speechtok_from_model_is_the_file);
	tcase_add_test(tc, test_speechtok_from_model_refuses);
	tcase_add_test(tc, test_bpe_from_model_is_the_file);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(transcribe_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
