/* zip-eval-wer: word (or character) error rate of hypotheses against
 * references, as Kaldi compute-wer and NIST sclite report it. */
#include "config.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archive.h"
#include "cli.h"
#include "textnorm.h"
#include "wer.h"
#include "xalloc.h"
#include "zio.h"

static const struct cli_doc doc = {
	.name = "zip-eval-wer",
	.synopsis = "[-q] [--mode strict|present|all] [--format kaldi|trn] [--sclite] [--cer]\n"
		    "       [--normalize english|none] [--lower] [--split-hyphens] [--numbers]\n"
		    "       [--strip-punct] [--keep-apostrophes] [--collapse-space]\n"
		    "       [--json] [--per-utt] [--pra file] [--dtl file] ref hyp\n"
		    "       zip-eval-wer --normalize-only [normalisation options] file",
	.summary = "Score hypotheses against references: word error rate (WER) or, with --cer,\n"
		   "character error rate, from Kaldi text or sclite trn transcripts.",
	.options =
		"      --mode M          hypotheses missing for a reference: strict (error),\n"
		"                        present (score only ids in both), all (missing = empty);\n"
		"                        default strict\n"
		"      --format F        kaldi (id words...), trn (words... (id)) or auto (default:\n"
		"                        decided per file from its first line)\n"
		"      --sclite          sclite's costs: insertion 3, deletion 3, substitution 4;\n"
		"                        A-Z match a-z, as in sclite\n"
		"      --cer             character error rate over Unicode code points; the single\n"
		"                        space between two words counts as a character\n"
		"      --cer-no-space    with --cer, spaces do not count\n"
		"      --normalize P     preset: english (--lower --split-hyphens --numbers\n"
		"                        --strip-punct --keep-apostrophes --collapse-space) or none\n"
		"      --lower           fold upper case (Latin, Greek, Cyrillic) to lower case\n"
		"      --split-hyphens   hyphens and dashes become blanks\n"
		"      --numbers         digits become English words as espeak-ng says them\n"
		"      --strip-punct     delete punctuation (Unicode category P)\n"
		"      --keep-apostrophes  with --strip-punct, keep apostrophes inside words\n"
		"      --collapse-space  runs of blanks become one space\n"
		"      --normalize-only  write the normalised transcripts of one file to stdout\n"
		"      --json            the report as one JSON object\n"
		"      --per-utt         also report each utterance\n"
		"      --pra FILE        write sclite-style alignments to FILE\n"
		"      --dtl FILE        write confusion pairs, insertions and deletions to FILE\n"
		"      (-j: utterances are scored in parallel unless --pra or --dtl is given)\n",
	.example = "zip-eval-wer --normalize english data/test/text exp/asr/hyp.txt",
	.see_also = "zip-formats(5), zipper(7), compute-wer (Kaldi), sclite(1)",
};

enum {
	OPT_MODE = CLI_OPT_FIRST_FREE, OPT_FORMAT, OPT_SCLITE, OPT_CER, OPT_CER_NO_SPACE,
	OPT_NORMALIZE, OPT_LOWER, OPT_HYPHENS, OPT_NUMBERS, OPT_PUNCT, OPT_APOS, OPT_SPACE,
	OPT_NORMALIZE_ONLY, OPT_JSON, OPT_PER_UTT, OPT_PRA, OPT_DTL,
};

struct options {
	struct cli_common common;
	enum join_mode mode;
	enum wer_costs costs;
	struct wer_read_opts read;
	bool normalize_only, json, per_utt;
	const char *pra, *dtl;
	const char *ref, *hyp;
};

static void parse_options(struct options *o, int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_COMMON_LONGOPTS,
		{"mode", required_argument, NULL, OPT_MODE},
		{"format", required_argument, NULL, OPT_FORMAT},
		{"sclite", no_argument, NULL, OPT_SCLITE},
		{"cer", no_argument, NULL, OPT_CER},
		{"cer-no-space", no_argument, NULL, OPT_CER_NO_SPACE},
		{"normalize", required_argument, NULL, OPT_NORMALIZE},
		{"lower", no_argument, NULL, OPT_LOWER},
		{"split-hyphens", no_argument, NULL, OPT_HYPHENS},
		{"numbers", no_argument, NULL, OPT_NUMBERS},
		{"strip-punct", no_argument, NULL, OPT_PUNCT},
		{"keep-apostrophes", no_argument, NULL, OPT_APOS},
		{"collapse-space", no_argument, NULL, OPT_SPACE},
		{"normalize-only", no_argument, NULL, OPT_NORMALIZE_ONLY},
		{"json", no_argument, NULL, OPT_JSON},
		{"per-utt", no_argument, NULL, OPT_PER_UTT},
		{"pra", required_argument, NULL, OPT_PRA},
		{"dtl", required_argument, NULL, OPT_DTL},
		{NULL, 0, NULL, 0},
	};
	static const unsigned flag_of[] = {
		[OPT_LOWER - OPT_LOWER] = TN_LOWER, [OPT_HYPHENS - OPT_LOWER] = TN_HYPHEN,
		[OPT_NUMBERS - OPT_LOWER] = TN_NUMBERS, [OPT_PUNCT - OPT_LOWER] = TN_PUNCT,
		[OPT_APOS - OPT_LOWER] = TN_APOS, [OPT_SPACE - OPT_LOWER] = TN_SPACE,
	};
	bool cer_no_space = false;
	unsigned preset = 0;
	for (int c; (c = getopt_long(argc, argv, CLI_COMMON_SHORTOPTS, longopts, NULL)) != -1;) {
		if (cli_common_option(&o->common, c, optarg))
			continue;
		switch (c) {
		case OPT_MODE:
			if (join_mode_parse(optarg, &o->mode) < 0)
				cli_usage_error("--mode: %s", zerr_msg());
			break;
		case OPT_FORMAT:
			if (wer_format_parse(optarg, &o->read.format) < 0)
				cli_usage_error("--format: unknown format '%s' (expected kaldi, trn or auto)", optarg);
			break;
		case OPT_SCLITE: o->costs = WER_SCLITE; break;
		case OPT_CER: o->read.chars = true; break;
		case OPT_CER_NO_SPACE: cer_no_space = true; break;
		case OPT_NORMALIZE:
			if (textnorm_preset(optarg, &preset) < 0)
				cli_usage_error("--normalize: unknown preset '%s' (expected english or none)", optarg);
			o->read.norm |= preset;
			break;
		case OPT_LOWER: case OPT_HYPHENS: case OPT_NUMBERS:
		case OPT_PUNCT: case OPT_APOS: case OPT_SPACE:
			o->read.norm |= flag_of[c - OPT_LOWER];
			break;
		case OPT_NORMALIZE_ONLY: o->normalize_only = true; break;
		case OPT_JSON: o->json = true; break;
		case OPT_PER_UTT: o->per_utt = true; break;
		case OPT_PRA: o->pra = optarg; break;
		case OPT_DTL: o->dtl = optarg; break;
		default:
			cli_usage_error("unhandled option");
		}
	}
	if (cer_no_space && !o->read.chars)
		cli_usage_error("--cer-no-space needs --cer");
	o->read.char_spaces = !cer_no_space;
	/* sclite compares words without regard to the case of A-Z (unless
	 * its -s); other letters keep their case there. */
	if (o->costs == WER_SCLITE)
		o->read.norm |= TN_LOWER_ASCII;
	int want = o->normalize_only ? 1 : 2;
	if (argc - optind != want)
		cli_usage_error(o->normalize_only ? "expected one file" : "expected two files, ref and hyp");
	o->ref = argv[optind];
	o->hyp = o->normalize_only ? NULL : argv[optind + 1];
	cli_one_stdin((const char *[]){o->ref, o->hyp}, 2);
}

/* --normalize-only: each line, id kept, text normalised, same format out. */
static void normalize_file(const struct options *o)
{
	struct zin *in = zin_open(o->ref);
	if (!in)
		cli_die("%s", zerr_msg());
	struct zout *out = zout_open("-");
	enum wer_format f = o->read.format;
	char *buf = NULL;
	size_t cap = 0, len;
	for (char *line; (line = zin_getline(in, &len));) {
		char *p = line;
		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p)
			continue;
		if (memchr(line, '\0', len))
			cli_die("%s:%ld: NUL byte in line", zin_name(in), zin_lineno(in));
		if (f == WER_FORMAT_AUTO)
			f = wer_detect_format(p);
		const char *id, *text;
		size_t id_len, text_len;
		if (wer_split_line(f, p, strlen(p), &id, &id_len, &text, &text_len) < 0 ||
		    textnorm_apply(&buf, &cap, text, text_len, o->read.norm) < 0)
			cli_die("%s:%ld: %s", zin_name(in), zin_lineno(in), zerr_msg());
		int idn = (int)id_len;
		int rc = f == WER_FORMAT_KALDI
				 ? zout_printf(out, "%.*s%s%s\n", idn, id, *buf ? " " : "", buf)
				 : zout_printf(out, "%s%s(%.*s)\n", buf, *buf ? " " : "", idn, id);
		if (rc < 0)
			cli_die("%s", zerr_msg());
	}
	if (zin_failed(in))
		cli_die("%s", zerr_msg());
	zin_close(in);
	free(buf);
	if (zout_commit(out) < 0)
		cli_die("%s", zerr_msg());
}

/* ---- scoring ---- */

struct utt_score {
	size_t ref_index;
	struct wer_counts c;
};

struct run {
	struct wer_vocab *vocab;
	struct wer_set ref, hyp;
	struct join_result join;
	struct utt_score *utt; /* (join.n) */
	struct wer_counts total;
	long long sentence_errors;
};

static void load(struct run *r, const struct options *o)
{
	r->vocab = wer_vocab_new();
	if (wer_read(&r->ref, o->ref, &o->read, r->vocab) < 0 ||
	    wer_read(&r->hyp, o->hyp, &o->read, r->vocab) < 0)
		cli_die("%s", zerr_msg());
	if (join_keys(r->ref.ids, r->ref.n, r->ref.name, r->hyp.ids, r->hyp.n, r->hyp.name, o->mode,
		       &r->join) < 0)
		cli_die("%s", zerr_msg());
	if (r->join.n == 0)
		cli_die("%s: nothing to score: no utterance has both a reference and a hypothesis",
			r->ref.name);
	if (r->join.missing_left)
		cli_warn("warning: %zu hypothesis utterance%s not in the reference (not scored)",
			 r->join.missing_left, r->join.missing_left == 1 ? " is" : "s are");
}

static struct zout *open_report(const char *path)
{
	struct zout *out = path ? zout_open(path) : NULL;
	if (path && !out)
		cli_die("%s", zerr_msg());
	return out;
}

/* The tokens of the k-th joined pair (a missing hypothesis is empty). */
static void pair_tokens(const struct run *r, size_t k, const int32_t **ref, size_t *n,
			const int32_t **hyp, size_t *m)
{
	const struct wer_utt *ru = &r->ref.utt[r->join.left[k]];
	const struct wer_utt *hu = r->join.right[k] < 0 ? NULL : &r->hyp.utt[r->join.right[k]];
	*ref = r->ref.tok + ru->off, *n = ru->len;
	*hyp = hu ? r->hyp.tok + hu->off : NULL, *m = hu ? hu->len : 0;
}

/* Counts only: utterances are independent, so threads share them out. */
static void score_counts(struct run *r, const struct options *o)
{
	ptrdiff_t n_pairs = (ptrdiff_t)r->join.n;
#pragma omp parallel
	{
		struct wer_aligner *a = wer_aligner_new(o->costs);
#pragma omp for schedule(dynamic, 256)
		for (ptrdiff_t k = 0; k < n_pairs; k++) {
			const int32_t *ref, *hyp;
			size_t n, m;
			pair_tokens(r, (size_t)k, &ref, &n, &hyp, &m);
			wer_count(a, &r->utt[k].c, ref, n, hyp, m);
		}
		wer_aligner_free(a);
	}
}

/* With --pra or --dtl: alignments, in reference order. */
static void score_aligned(struct run *r, const struct options *o)
{
	struct wer_aligner *a = wer_aligner_new(o->costs);
	struct zout *pra = open_report(o->pra);
	struct wer_dtl *dtl = o->dtl ? wer_dtl_new() : NULL;
	char *ops = NULL;
	size_t ops_cap = 0;
	for (size_t k = 0; k < r->join.n; k++) {
		const int32_t *ref, *hyp;
		size_t n, m;
		pair_tokens(r, k, &ref, &n, &hyp, &m);
		struct utt_score *u = &r->utt[k];
		xgrow(&ops, &ops_cap, n + m + 1, 1);
		size_t nops = wer_align(a, &u->c, ops, ref, n, hyp, m);
		if (pra && wer_pra_write(pra, r->ref.ids[u->ref_index], &u->c, ops, nops, ref, hyp,
					 &r->ref, r->vocab) < 0)
			cli_die("%s", zerr_msg());
		if (dtl)
			wer_dtl_add(dtl, ops, nops, ref, hyp);
	}
	free(ops);
	wer_aligner_free(a);
	if (pra && zout_commit(pra) < 0)
		cli_die("%s", zerr_msg());
	if (dtl) {
		struct zout *out = open_report(o->dtl);
		if (wer_dtl_write(dtl, out, &r->ref, r->vocab) < 0 || zout_commit(out) < 0)
			cli_die("%s", zerr_msg());
		wer_dtl_free(dtl);
	}
}

static void score(struct run *r, const struct options *o)
{
	r->utt = xcalloc(r->join.n ? r->join.n : 1, sizeof *r->utt);
	for (size_t k = 0; k < r->join.n; k++)
		r->utt[k].ref_index = r->join.left[k];
	if (o->pra || o->dtl)
		score_aligned(r, o);
	else
		score_counts(r, o);
	for (size_t k = 0; k < r->join.n; k++) {
		const struct wer_counts *c = &r->utt[k].c;
		r->total.ref += c->ref, r->total.cor += c->cor, r->total.sub += c->sub;
		r->total.del += c->del, r->total.ins += c->ins;
		r->sentence_errors += wer_errors(c) > 0;
	}
}

static void add_counts_json(cJSON *obj, const struct wer_counts *c)
{
	cJSON_AddNumberToObject(obj, "ref_words", (double)c->ref);
	cJSON_AddNumberToObject(obj, "ins", (double)c->ins);
	cJSON_AddNumberToObject(obj, "del", (double)c->del);
	cJSON_AddNumberToObject(obj, "sub", (double)c->sub);
}

static char *report_json(const struct run *r, const struct options *o)
{
	cJSON *j = cJSON_CreateObject();
	long long err = wer_errors(&r->total), n = (long long)r->join.n;
	cJSON_AddStringToObject(j, "unit", o->read.chars ? "char" : "word");
	cJSON_AddNumberToObject(j, o->read.chars ? "cer" : "wer", wer_rate(err, r->total.ref));
	cJSON_AddNumberToObject(j, "errors", (double)err);
	add_counts_json(j, &r->total);
	cJSON_AddNumberToObject(j, "cor", (double)r->total.cor);
	cJSON_AddNumberToObject(j, "ser", wer_rate(r->sentence_errors, n));
	cJSON_AddNumberToObject(j, "sentence_errors", (double)r->sentence_errors);
	cJSON_AddNumberToObject(j, "scored", (double)n);
	cJSON_AddNumberToObject(j, "missing_hyp", (double)r->join.missing_right);
	cJSON_AddNumberToObject(j, "extra_hyp", (double)r->join.missing_left);
	if (o->per_utt) {
		cJSON *list = cJSON_AddArrayToObject(j, "utterances");
		for (size_t k = 0; k < r->join.n; k++) {
			const struct utt_score *u = &r->utt[k];
			cJSON *e = cJSON_CreateObject();
			cJSON_AddStringToObject(e, "id", r->ref.ids[u->ref_index]);
			add_counts_json(e, &u->c);
			cJSON_AddNumberToObject(e, o->read.chars ? "cer" : "wer",
						wer_rate(wer_errors(&u->c), u->c.ref));
			cJSON_AddItemToArray(list, e);
		}
	}
	char *s = cJSON_Print(j);
	cJSON_Delete(j);
	return s;
}

static int print_rate(struct zout *out, const char *prefix, const char *what,
		      const struct wer_counts *c)
{
	long long e = wer_errors(c);
	return zout_printf(out, "%s%%%s %.2f [ %lld / %lld, %lld ins, %lld del, %lld sub ]\n", prefix,
			   what, wer_rate(e, c->ref), e, c->ref, c->ins, c->del, c->sub);
}

static void report(const struct run *r, const struct options *o)
{
	struct zout *out = zout_open("-");
	const char *what = o->read.chars ? "CER" : "WER";
	int rc = 0;
	if (o->json) {
		char *s = report_json(r, o);
		rc = zout_printf(out, "%s\n", s);
		free(s);
	} else {
		for (size_t k = 0; o->per_utt && k < r->join.n && rc == 0; k++) {
			char *prefix = xasprintf("%s ", r->ref.ids[r->utt[k].ref_index]);
			rc = print_rate(out, prefix, what, &r->utt[k].c);
			free(prefix);
		}
		long long n = (long long)r->join.n;
		if (rc == 0)
			rc = print_rate(out, "", what, &r->total);
		if (rc == 0)
			rc = zout_printf(out, "%%SER %.2f [ %lld / %lld ]\n",
					 wer_rate(r->sentence_errors, n), r->sentence_errors, n);
		if (rc == 0)
			rc = zout_printf(out, "Scored %lld sentences, %zu not present in hyp.\n", n,
					 r->join.missing_right);
	}
	if (rc < 0 || zout_commit(out) < 0)
		cli_die("%s", zerr_msg());
}

static void run_free(struct run *r)
{
	wer_set_free(&r->ref);
	wer_set_free(&r->hyp);
	join_result_free(&r->join);
	wer_vocab_free(r->vocab);
	free(r->utt);
}

int main(int argc, char **argv)
{
	cli_init(&doc);
	struct options o = {.mode = JOIN_STRICT, .costs = WER_UNIT};
	cli_common_init(&o.common);
	parse_options(&o, argc, argv);
	cli_apply_threads(&o.common);
	if (o.normalize_only) {
		normalize_file(&o);
		return 0;
	}
	struct run r = {0};
	load(&r, &o);
	score(&r, &o);
	report(&r, &o);
	run_free(&r);
	return 0;
}
