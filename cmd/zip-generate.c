/* zip-generate: continue or score the utterances of a token archive with a tower. */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archive.h"
#include "bpe.h"
#include "cli.h"
#include "decode.h"
#include "fusegen.h"
#include "single.h"
#include "speechtok.h"
#include "safetensors.h"
#include "tower.h"
#include "xalloc.h"
#include "zio.h"

static const struct cli_doc doc = {
	.name = "zip-generate",
	.synopsis = "[-q] [-j n] -m model.zpm [--config hf.json] [--max-new n] [--eos id]\n"
		    "       [--temperature x] [--top-k n] [--top-p x] [--seed n] [--beam n]\n"
		    "       [--length-penalty x] [--bf16] [--with-prompt] [--score] [-o out] [prompts]\n"
		    "       zip-generate -m fused.zpm --task asr|tts [--max-ratio x] [--repeat-span n]\n"
		    "       [sampling and beam options] [-o out] [inputs]",
	.summary = "Continue every utterance of a token archive (default: stdin) with a decoder\n"
		   "tower and write the continuations as a token archive; or, with --score, print\n"
		   "each utterance's log-likelihood and perplexity. When the tower has an end\n"
		   "token (zip-train --eos), it starts every sequence, as in training, and\n"
		   "generation stops at it. With a fused model (zip-fuse), --task asr reads\n"
		   "a speech token archive and writes the text tokens of each transcript;\n"
		   "--task tts reads text tokens and writes speech tokens.",
	.options = "  -m, --model FILE      the tower (zip-train output, or a Hugging Face LLaMA\n"
		   "                        safetensors file with --config)\n"
		   "      --config FILE     Hugging Face config.json for a bare checkpoint\n"
		   "  -o, --output FILE     output archive (default: stdout)\n"
		   "      --max-new N       most tokens generated per utterance (default 100)\n"
		   "      --eos ID          end token (default: the model's; -1 for none)\n"
		   "      --temperature X   sample at this temperature (default 0: greedy)\n"
		   "      --top-k N         sample among the N most likely tokens\n"
		   "      --top-p X         sample among the most likely tokens holding mass X\n"
		   "      --seed N          random seed for sampling (default 1)\n"
		   "      --beam N          beam search with N beams\n"
		   "      --length-penalty X  beam scores are log p / length^X (default 1)\n"
		   "      --bf16            decode with bfloat16 copies of the weights (faster)\n"
		   "      --with-prompt     write the prompt before the continuation\n"
		   "      --score           print \"utt-id loglik perplexity tokens\" instead\n"
		   "fused models:\n"
		   "      --task T          asr (speech in, text out) or tts (text in, speech out)\n"
		   "      --output-modalities M  text (= --task asr) or speech (= --task tts)\n"
		   "      --max-ratio X     at most X output tokens per input token, plus 10\n"
		   "                        (default 1 for asr, 20 for tts; --max-new caps it)\n"
		   "      --batch N         utterances decoded together, greedy only (default 16)\n"
		   "      --text-tokenizer FILE  text.tok (default: the one the model carries, if any);\n"
		   "                        with one, asr writes transcripts \"utt-id words\"\n"
		   "      --tokens          asr: write text tokens even with a tokenizer\n"
		   "      --transcripts     tts: the input is transcripts, encoded with the tokenizer\n"
		   "      --repeat-span N   end an output whose last N tokens loop with a period\n"
		   "                        of at most 8 (default 12 for text, 100 for speech; 0: off)\n",
	.example = "zip-generate -m text.zpm --max-new 50 --top-p 0.9 --temperature 0.8 prompts.tok",
	.see_also = "zip-train(1), zip-info(1), zip-formats(5), zipper(7)",
};

struct options {
	struct cli_common common;
	const char *model, *config, *output, *prompts;
	struct decode_params dp;
	long eos, seed;
	bool eos_given, with_prompt, score, max_new_given;
	int task; /* fused: the output modality (ZM_TEXT for asr), or -1 */
	double max_ratio;
	long repeat_span, batch;
	const char *text_tokenizer;
	bool tokens, transcripts;
	bool bf16;
};

enum {
	OPT_CONFIG = CLI_OPT_FIRST_FREE, OPT_MAX_NEW, OPT_EOS, OPT_TEMP, OPT_TOP_K, OPT_TOP_P, OPT_SEED,
	OPT_BEAM, OPT_LP, OPT_WITH_PROMPT, OPT_SCORE, OPT_TASK, OPT_OUT_MOD, OPT_MAX_RATIO, OPT_REPEAT_SPAN, OPT_BATCH, OPT_TEXT_TOK, OPT_TOKENS,
	OPT_TRANSCRIPTS, OPT_BF16
};

static void parse_options(struct options *o, int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_COMMON_LONGOPTS,
		{"model", required_argument, NULL, 'm'},
		{"config", required_argument, NULL, OPT_CONFIG},
		{"output", required_argument, NULL, 'o'},
		{"max-new", required_argument, NULL, OPT_MAX_NEW},
		{"eos", required_argument, NULL, OPT_EOS},
		{"temperature", required_argument, NULL, OPT_TEMP},
		{"top-k", required_argument, NULL, OPT_TOP_K},
		{"top-p", required_argument, NULL, OPT_TOP_P},
		{"seed", required_argument, NULL, OPT_SEED},
		{"beam", required_argument, NULL, OPT_BEAM},
		{"length-penalty", required_argument, NULL, OPT_LP},
		{"with-prompt", no_argument, NULL, OPT_WITH_PROMPT},
		{"score", no_argument, NULL, OPT_SCORE},
		{"task", required_argument, NULL, OPT_TASK},
		{"output-modalities", required_argument, NULL, OPT_OUT_MOD},
		{"max-ratio", required_argument, NULL, OPT_MAX_RATIO},
		{"repeat-span", required_argument, NULL, OPT_REPEAT_SPAN},
		{"batch", required_argument, NULL, OPT_BATCH},
		{"text-tokenizer", required_argument, NULL, OPT_TEXT_TOK},
		{"tokens", no_argument, NULL, OPT_TOKENS},
		{"transcripts", no_argument, NULL, OPT_TRANSCRIPTS},
		{"bf16", no_argument, NULL, OPT_BF16},
		{NULL, 0, NULL, 0},
	};
	memset(o, 0, sizeof *o);
	decode_params_default(&o->dp);
	o->output = "-";
	o->prompts = "-";
	o->seed = 1;
	o->task = -1;
	o->max_ratio = -1;
	o->repeat_span = -1;
	o->batch = 16;
	cli_common_init(&o->common);
	for (int c; (c = getopt_long(argc, argv, CLI_COMMON_SHORTOPTS "m:o:", longopts, NULL)) != -1;) {
		switch (c) {
		case 'm': o->model = optarg; break;
		case OPT_CONFIG: o->config = optarg; break;
		case 'o': o->output = optarg; break;
		case OPT_MAX_NEW:
			o->dp.max_new = (int)cli_parse_long(optarg, "--max-new", 1, 1 << 24);
			o->max_new_given = true;
			break;
		case OPT_EOS:
			o->eos = cli_parse_long(optarg, "--eos", -1, 1L << 30);
			o->eos_given = true;
			break;
		case OPT_TEMP: o->dp.temperature = cli_parse_double(optarg, "--temperature", 0, 1e6); break;
		case OPT_TOP_K: o->dp.top_k = (int)cli_parse_long(optarg, "--top-k", 0, 1 << 30); break;
		case OPT_TOP_P: o->dp.top_p = cli_parse_double(optarg, "--top-p", 1e-9, 1); break;
		case OPT_SEED: o->seed = cli_parse_long(optarg, "--seed", 0, 1L << 62); break;
		case OPT_BEAM: o->dp.beam = (int)cli_parse_long(optarg, "--beam", 1, 1024); break;
		case OPT_LP: o->dp.length_penalty = cli_parse_double(optarg, "--length-penalty", 0, 100); break;
		case OPT_WITH_PROMPT: o->with_prompt = true; break;
		case OPT_SCORE: o->score = true; break;
		case OPT_TASK:
			if (strcmp(optarg, "asr") && strcmp(optarg, "tts"))
				cli_usage_error("--task: '%s' is not asr or tts", optarg);
			o->task = strcmp(optarg, "asr") ? ZM_SPEECH : ZM_TEXT;
			break;
		case OPT_OUT_MOD:
			if (strcmp(optarg, "text") && strcmp(optarg, "speech"))
				cli_usage_error("--output-modalities: '%s': give text or speech (chains are not "
						"supported yet)", optarg);
			o->task = strcmp(optarg, "text") ? ZM_SPEECH : ZM_TEXT;
			break;
		case OPT_MAX_RATIO: o->max_ratio = cli_parse_double(optarg, "--max-ratio", 0, 1e6); break;
		case OPT_REPEAT_SPAN: o->repeat_span = cli_parse_long(optarg, "--repeat-span", 0, 1 << 20); break;
		case OPT_BATCH: o->batch = cli_parse_long(optarg, "--batch", 1, 4096); break;
		case OPT_TEXT_TOK: o->text_tokenizer = optarg; break;
		case OPT_TOKENS: o->tokens = true; break;
		case OPT_TRANSCRIPTS: o->transcripts = true; break;
		case OPT_BF16: o->bf16 = true; break;
		default:
			if (!cli_common_option(&o->common, c, optarg))
				cli_usage_error("unexpected option");
		}
	}
	if (!o->model)
		cli_usage_error("no model (-m) given");
	if (argc - optind > 1)
		cli_usage_error("give at most one prompt archive");
	if (optind < argc)
		o->prompts = argv[optind];
	if (o->dp.beam > 1 && o->dp.temperature > 0)
		cli_usage_error("--beam searches; it does not sample (drop --temperature)");
}

static struct tower *load_model(const struct options *o, struct tower_meta *meta)
{
	struct st_file f;
	if (st_open(&f, o->model) < 0)
		cli_die("%s", zerr_msg());
	struct tower_config c;
	memset(meta, 0, sizeof *meta);
	meta->eos = -1;
	if (o->config) {
		if (tower_config_read(&c, o->config) < 0)
			cli_die("%s", zerr_msg());
	} else if (tower_file_config(&f, &c, meta) < 0) {
		cli_die("%s", zerr_msg());
	}
	struct tower *t = tower_load(&f, NULL, &c);
	if (!t)
		cli_die("%s", zerr_msg());
	st_close(&f);
	if (o->eos_given)
		meta->eos = (int)o->eos;
	if (meta->eos >= t->cfg.vocab)
		cli_usage_error("--eos %d is outside the vocabulary of %d", meta->eos, t->cfg.vocab);
	return t;
}

struct job {
	const struct options *o;
	struct tower *t;
	struct tower_meta meta;
	struct decode_model dm;
	struct decode_params dp;
	struct rng rng;
	int32_t *seq, *out; /* (max_seq + 2) (max_new + max_seq) */
	struct tok_reader *in;
	struct tok_writer *tw;
	struct zout *zo;
	long bad;
};

/* [eos] + ids (+ [eos] when scoring): the sequence the model saw in training. */
static int build_sequence(struct job *j, const int32_t *ids, size_t n, bool close)
{
	int len = 0, eos = j->meta.eos;
	if (eos >= 0)
		j->seq[len++] = eos;
	if (n + 2 > (size_t)j->t->cfg.max_seq + 2)
		return -1;
	memcpy(j->seq + len, ids, n * sizeof *ids);
	len += (int)n;
	if (close && eos >= 0)
		j->seq[len++] = eos;
	return len;
}

static void too_long(struct job *j, const char *id, int len)
{
	cli_warn("%s:%ld: utterance %s: %d tokens do not fit the model's max_seq %d%s; skipped",
		 tok_name(j->in), tok_lineno(j->in), id, len, j->t->cfg.max_seq,
		 j->o->score ? "" : " with room to continue");
	j->bad++;
}

static void score_one(struct job *j, const char *id, const int32_t *ids, size_t n)
{
	int len = build_sequence(j, ids, n, true);
	if (len < 0 || len > j->dm.max_len) {
		too_long(j, id, len < 0 ? (int)n : len);
		return;
	}
	if (len < 2) {
		cli_warn("%s:%ld: utterance %s: nothing to score without an end token", tok_name(j->in),
			 tok_lineno(j->in), id);
		j->bad++;
		return;
	}
	double ll = decode_score(&j->dm, j->seq, len);
	if (zout_printf(j->zo, "%s %.6f %.6f %d\n", id, ll, exp(-ll / (len - 1)), len - 1) < 0)
		cli_die("%s", zerr_msg());
}

static void generate_one(struct job *j, const char *id, const int32_t *ids, size_t n)
{
	int len = build_sequence(j, ids, n, false);
	if (len < 0 || len >= j->dm.max_len) {
		too_long(j, id, len < 0 ? (int)n : len);
		return;
	}
	if (len == 0) {
		cli_warn("%s:%ld: utterance %s: an empty prompt needs an end token (--eos)", tok_name(j->in),
			 tok_lineno(j->in), id);
		j->bad++;
		return;
	}
	int32_t *out = j->out;
	size_t k = 0;
	if (j->o->with_prompt) {
		memcpy(out, ids, n * sizeof *ids);
		k = n;
	}
	int made = decode_generate(&j->dm, j->seq, len, &j->dp, &j->rng, out + k);
	if (made > 0 && out[k + (size_t)made - 1] == j->meta.eos)
		made--; /* the end token ends the utterance; it is not part of it */
	if (tok_write(j->tw, id, out, k + (size_t)made) < 0)
		cli_die("%s", zerr_msg());
}

static void open_io(struct job *j)
{
	const struct options *o = j->o;
	if (!(j->in = tok_open(o->prompts, j->t->cfg.vocab)))
		cli_die("%s", zerr_msg());
	const struct tok_header *h = tok_header(j->in);
	if (h->modality[0] && j->meta.modality[0] && strcmp(h->modality, j->meta.modality))
		cli_die("%s: tokens are for modality %s, the model is a %s tower", tok_name(j->in), h->modality,
			j->meta.modality);
	if (o->score) {
		if (!(j->zo = zout_open(o->output)))
			cli_die("%s", zerr_msg());
		return;
	}
	/* Generate only what the prompts' tokenizer knows (and the end token). */
	if (h->present && h->vocab > 0)
		j->dp.vocab_limit = (int)h->vocab;
	struct tok_header oh = {.present = true, .vocab = h->present && h->vocab ? h->vocab : j->t->cfg.vocab};
	snprintf(oh.modality, sizeof oh.modality, "%s", j->meta.modality[0] ? j->meta.modality : h->modality);
	snprintf(oh.tokenizer, sizeof oh.tokenizer, "%s", h->present ? h->tokenizer : "");
	if (!oh.modality[0])
		snprintf(oh.modality, sizeof oh.modality, "text");
	if (!(j->tw = tok_create(o->output, &oh)))
		cli_die("%s", zerr_msg());
}

/* ---- fused models: speech -> text (asr) and text -> speech (tts) ---- */

static bool is_fused(const char *path)
{
	struct st_file f;
	if (st_open(&f, path) < 0)
		cli_die("%s", zerr_msg());
	bool fused = f.kind && (!strcmp(f.kind, "fused") || !strcmp(f.kind, "single-decoder"));
	st_close(&f);
	return fused;
}

/* A fused model or a single decoder behind one interface: the input is
 * given with prepare(), generation starts from prompt[0..n_prompt). */
struct speechtext {
	struct zipper *z;
	struct fusegen *g;
	struct tower *st;
	struct single_map map;
	struct decode_model dm;
	int in, out, vocab[2]; /* archive vocabularies: speech without begin/end of audio */
	int32_t bos, eos;      /* of the output, in the model's ids */
	int32_t *prompt;
	int n_prompt, max_in;
	bool batched; /* greedy over several utterances at once (fused) */
	struct bpe *bpe; /* the text tokenizer, or NULL */
	char fingerprint[2][17]; /* of each modality's tokenizer, when known */
};

/* The fingerprints recorded by zip-fuse --text-tokenizer/--speech-tokenizer. */
static void carried_fingerprints(struct speechtext *m, const struct st_file *f)
{
	static const char *const keys[2] = {"zipper.tokenizer.text", "zipper.tokenizer.speech"};
	for (int k = 0; k < 2; k++) {
		const char *meta = st_meta(f, keys[k]);
		cJSON *j = meta ? cJSON_Parse(meta) : NULL;
		const cJSON *fp = cJSON_GetObjectItemCaseSensitive(j, "fingerprint");
		if (cJSON_IsString(fp) && strlen(fp->valuestring) < sizeof m->fingerprint[k])
			snprintf(m->fingerprint[k], sizeof m->fingerprint[k], "%s", fp->valuestring);
		cJSON_Delete(j);
	}
}

/* --text-tokenizer, else the tokenizer.text.merges the model carries. */
static struct bpe *text_tokenizer(const struct options *o, const struct st_file *f)
{
	struct bpe *b = NULL;
	if (o->text_tokenizer) {
		b = bpe_load(o->text_tokenizer);
	} else {
		const struct st_tensor *t = st_find(f, "tokenizer.text.merges");
		if (!t)
			return NULL;
		if (t->dtype != ST_I32 || t->ndim != 2 || t->shape[1] != 2 || t->shape[0] > BPE_MAX_VOCAB)
			cli_die("%s: tokenizer.text.merges is not an (n, 2) I32 table", f->path);
		b = bpe_from_merges(t->data, (int)t->shape[0]);
	}
	if (!b)
		cli_die("%s", zerr_msg());
	return b;
}

static void speechtext_open(struct speechtext *m, const struct options *o)
{
	memset(m, 0, sizeof *m);
	struct st_file f;
	if (st_open(&f, o->model) < 0)
		cli_die("%s", zerr_msg());
	m->out = o->task;
	m->in = 1 - m->out;
	if (!strcmp(f.kind, "fused")) {
		if (!(m->z = zipper_load(&f)))
			cli_die("%s", zerr_msg());
		for (int k = 0; k < 2; k++)
			m->vocab[k] = m->z->cfg.tower[k].vocab - (k == ZM_SPEECH ? 2 : 0);
		m->max_in = m->z->cfg.tower[m->in].max_seq - 2;
		m->batched = o->dp.beam == 1 && o->dp.temperature == 0;
		m->g = fusegen_new(m->z, m->out, m->batched ? (int)o->batch : o->dp.beam, m->max_in);
		fusegen_set_repeat_span(m->g, o->repeat_span >= 0 ? (int)o->repeat_span : m->out == ZM_TEXT ? 12 : 100);
		fusegen_model(m->g, &m->dm);
		if (o->bf16)
			tower_use_bf16(m->z->tower[m->out]);
		m->bos = fusegen_bos(m->g);
		m->eos = fusegen_eos(m->g);
	} else {
		if (!(m->st = single_load(&f, &m->map)))
			cli_die("%s", zerr_msg());
		m->vocab[ZM_TEXT] = m->map.vocab[ZM_TEXT];
		m->vocab[ZM_SPEECH] = m->map.vocab[ZM_SPEECH] - 2;
		int max_seq = m->st->cfg.max_seq;
		m->max_in = max_seq / 2 - 3;
		if (o->bf16)
			tower_use_bf16(m->st);
		decode_model_tower(&m->dm, m->st, o->dp.beam, max_seq, max_seq < 256 ? max_seq : 256);
		m->bos = single_id(&m->map, m->out, m->map.bos[m->out]);
		m->eos = single_id(&m->map, m->out, m->map.eos[m->out]);
	}
	m->bpe = text_tokenizer(o, &f);
	carried_fingerprints(m, &f);
	if (o->text_tokenizer && speechtok_file_fingerprint(o->text_tokenizer, m->fingerprint[ZM_TEXT]) < 0)
		cli_die("%s", zerr_msg());
	st_close(&f);
	if (m->bpe && bpe_vocab_size(m->bpe) > m->vocab[ZM_TEXT])
		cli_die("%s: the text tokenizer's %d ids do not fit the model's text vocabulary of %d",
			o->text_tokenizer ? o->text_tokenizer : o->model, bpe_vocab_size(m->bpe), m->vocab[ZM_TEXT]);
	m->prompt = xmallocarray((size_t)m->max_in + 4, sizeof *m->prompt);
}

static void speechtext_close(struct speechtext *m)
{
	if (m->z) {
		fusegen_free(m->g);
		zipper_free(m->z);
	} else {
		decode_model_tower_free(&m->dm);
		tower_free(m->st);
	}
	free(m->prompt);
	bpe_free(m->bpe);
}

/* Takes one input utterance; -1 (zerr) when it does not fit. */
static int speechtext_prepare(struct speechtext *m, const int32_t *ids, size_t n)
{
	if (m->z) {
		m->prompt[0] = m->bos;
		m->n_prompt = 1;
		return fusegen_encode(m->g, ids, n);
	}
	if (n > (size_t)m->max_in) {
		zerr_set("%zu tokens: longer than the model allows (%d)", n, m->max_in);
		return -1;
	}
	int k = 0; /* [bos input eos][bos of the output], as in training */
	m->prompt[k++] = single_id(&m->map, m->in, m->map.bos[m->in]);
	for (size_t i = 0; i < n; i++)
		m->prompt[k++] = single_id(&m->map, m->in, ids[i]);
	m->prompt[k++] = single_id(&m->map, m->in, m->map.eos[m->in]);
	m->prompt[k++] = m->bos;
	m->n_prompt = k;
	return 0;
}

/* The generated ids that are output tokens, in the archive's ids. */
static size_t speechtext_output(const struct speechtext *m, int32_t *gen, int made)
{
	int32_t off = m->st ? single_id(&m->map, m->out, 0) : 0;
	size_t k = 0;
	for (int i = 0; i < made; i++) {
		int32_t id = gen[i] - off;
		if (gen[i] != m->eos && gen[i] != m->bos && id >= 0 && id < m->vocab[m->out])
			gen[k++] = id;
	}
	return k;
}

/* Inputs (token archive, or transcripts encoded with the tokenizer) and
 * outputs (token archive, or transcripts decoded with it). */
struct fused_io {
	const struct speechtext *m;
	struct tok_reader *tr;
	struct kv_reader *kr;
	struct tok_writer *tw;
	struct zout *zo;
	int32_t *ids;
	size_t n_ids, cap;
	char *bytes;
	size_t len, bcap;
};

static void io_open(struct fused_io *io, const struct speechtext *m, const struct options *o)
{
	static const char *const mods[2] = {"text", "speech"};
	memset(io, 0, sizeof *io);
	io->m = m;
	if (o->transcripts) {
		if (m->in != ZM_TEXT || !m->bpe)
			cli_usage_error("--transcripts: for tts, with a text tokenizer");
		if (!(io->kr = kv_open(o->prompts)))
			cli_die("%s", zerr_msg());
	} else if (!(io->tr = tok_open(o->prompts, m->vocab[m->in])) ||
		   tok_expect(io->tr, mods[m->in], 0, m->fingerprint[m->in][0] ? m->fingerprint[m->in] : NULL) < 0) {
		cli_die("%s", zerr_msg());
	}
	if (m->out == ZM_TEXT && m->bpe && !o->tokens) {
		if (!(io->zo = zout_open(o->output)))
			cli_die("%s", zerr_msg());
		return;
	}
	struct tok_header oh = {.present = true, .vocab = m->vocab[m->out]};
	snprintf(oh.modality, sizeof oh.modality, "%s", mods[m->out]);
	snprintf(oh.tokenizer, sizeof oh.tokenizer, "%s", m->fingerprint[m->out]);
	if (!(io->tw = tok_create(o->output, &oh)))
		cli_die("%s", zerr_msg());
}

static int io_next(struct fused_io *io, const char **id, const int32_t **ids, size_t *n)
{
	if (io->tr)
		return tok_next(io->tr, id, ids, n);
	const char *text;
	int rc = kv_next(io->kr, id, &text);
	if (rc <= 0)
		return rc;
	io->n_ids = 0;
	bpe_encode(io->m->bpe, text, strlen(text), &io->ids, &io->n_ids, &io->cap);
	*ids = io->ids;
	*n = io->n_ids;
	return 1;
}

static const char *io_where(const struct fused_io *io, long *line)
{
	*line = io->tr ? tok_lineno(io->tr) : kv_lineno(io->kr);
	return io->tr ? tok_name(io->tr) : kv_name(io->kr);
}

static void io_write(struct fused_io *io, const char *id, const int32_t *ids, size_t n)
{
	if (io->tw) {
		if (tok_write(io->tw, id, ids, n) < 0)
			cli_die("%s", zerr_msg());
		return;
	}
	io->len = 0;
	bpe_decode(io->m->bpe, ids, n, &io->bytes, &io->len, &io->bcap);
	for (size_t i = 0; i < io->len; i++) /* one line per utterance */
		if (io->bytes[i] == '\n' || io->bytes[i] == '\r')
			io->bytes[i] = ' ';
	if (zout_printf(io->zo, "%s %.*s\n", id, (int)io->len, io->bytes ? io->bytes : "") < 0)
		cli_die("%s", zerr_msg());
}

static void io_close(struct fused_io *io)
{
	if (io->tr)
		tok_close(io->tr);
	else
		kv_close(io->kr);
	if (io->tw ? tok_commit(io->tw) < 0 : zout_commit(io->zo) < 0)
		cli_die("%s", zerr_msg());
	free(io->ids);
	free(io->bytes);
}

/* Utterances waiting to be decoded together. */
struct group {
	int n, cap;
	char **id;
	int32_t **ids;
	size_t *len;
	int *max_new, *out_len;
	int32_t *out;
	int stride;
};

static void group_add(struct group *g, const char *id, const int32_t *ids, size_t n, int max_new)
{
	if (g->n == g->cap) {
		g->cap = g->cap ? 2 * g->cap : 16;
		g->id = xreallocarray(g->id, (size_t)g->cap, sizeof *g->id);
		g->ids = xreallocarray(g->ids, (size_t)g->cap, sizeof *g->ids);
		g->len = xreallocarray(g->len, (size_t)g->cap, sizeof *g->len);
		g->max_new = xreallocarray(g->max_new, (size_t)g->cap, sizeof *g->max_new);
		g->out_len = xreallocarray(g->out_len, (size_t)g->cap, sizeof *g->out_len);
	}
	g->id[g->n] = xstrdup(id);
	g->ids[g->n] = xmallocarray(n + 1, sizeof *ids);
	memcpy(g->ids[g->n], ids, n * sizeof *ids);
	g->len[g->n] = n;
	g->max_new[g->n++] = max_new;
}

static void group_run(struct group *g, struct speechtext *m, struct fused_io *io)
{
	int stride = 1;
	for (int b = 0; b < g->n; b++)
		stride = g->max_new[b] > stride ? g->max_new[b] : stride;
	if (stride > g->stride) {
		g->stride = stride;
		g->out = xreallocarray(g->out, (size_t)g->cap * stride, sizeof *g->out);
	}
	if (fusegen_encode_batch(m->g, (const int32_t *const *)g->ids, g->len, g->n) < 0)
		cli_die("%s", zerr_msg()); /* lengths were checked when added */
	fusegen_greedy(m->g, g->max_new, g->n, g->out, g->stride, g->out_len);
	for (int b = 0; b < g->n; b++) {
		int32_t *row = g->out + (size_t)b * g->stride;
		io_write(io, g->id[b], row, speechtext_output(m, row, g->out_len[b]));
		free(g->id[b]);
		free(g->ids[b]);
	}
	g->n = 0;
}

static void group_free(struct group *g)
{
	free(g->id), free(g->ids), free(g->len), free(g->max_new), free(g->out_len), free(g->out);
}

static int fused_main(const struct options *o)
{
	static const char *const mods[2] = {"text", "speech"};
	if (o->task < 0)
		cli_usage_error("a fused model needs --task asr or --task tts");
	if (o->score || o->with_prompt || o->eos_given || o->config)
		cli_usage_error("--score, --with-prompt, --eos and --config are for towers");
	struct speechtext m;
	speechtext_open(&m, o);
	int out = o->task;
	struct fused_io io;
	io_open(&io, &m, o);
	struct decode_params dp = o->dp;
	dp.eos = m.eos;
	double ratio = o->max_ratio >= 0 ? o->max_ratio : out == ZM_TEXT ? 1.0 : 20.0;
	int32_t *gen = xmallocarray((size_t)m.dm.max_len + 1, sizeof *gen);
	struct rng rng;
	rng_seed(&rng, (uint64_t)o->seed);
	struct progress bar;
	progress_start(&bar, mods[out], 0, o->common.quiet);
	const char *id;
	const int32_t *ids;
	size_t n;
	int rc;
	long done = 0, bad = 0;
	struct group grp = {0};
	long line;
	while ((rc = io_next(&io, &id, &ids, &n)) > 0) {
		progress_update(&bar, (double)++done, NULL);
		if (n > (size_t)m.max_in) {
			const char *where = io_where(&io, &line);
			cli_warn("%s:%ld: utterance %s: %zu tokens: longer than the model allows; skipped", where, line,
				 id, n);
			bad++;
			continue;
		}
		int room = m.dm.max_len - (m.z ? 1 : (int)n + 3);
		double want = ratio * (double)n + 10;
		int max_new = want < room ? (int)want : room;
		if (o->max_new_given && max_new > o->dp.max_new)
			max_new = o->dp.max_new;
		if (m.batched) {
			group_add(&grp, id, ids, n, max_new);
			if (grp.n == (int)o->batch)
				group_run(&grp, &m, &io);
			continue;
		}
		if (speechtext_prepare(&m, ids, n) < 0 || max_new < 1) {
			const char *where = io_where(&io, &line);
			cli_warn("%s:%ld: utterance %s: %s; skipped", where, line, id,
				 max_new < 1 ? "no room left to generate" : zerr_msg());
			bad++;
			continue;
		}
		dp.max_new = max_new;
		int made = decode_generate(&m.dm, m.prompt, m.n_prompt, &dp, &rng, gen);
		io_write(&io, id, gen, speechtext_output(&m, gen, made));
	}
	if (grp.n)
		group_run(&grp, &m, &io);
	group_free(&grp);
	progress_end(&bar);
	if (rc < 0)
		cli_die("%s", zerr_msg());
	if (done == 0)
		cli_die("%s: no utterances", io_where(&io, &line));
	io_close(&io);
	speechtext_close(&m);
	free(gen);
	if (bad)
		cli_die("%ld utterance(s) skipped", bad);
	return 0;
}

int main(int argc, char **argv)
{
	struct options o;
	cli_init(&doc);
	parse_options(&o, argc, argv);
	cli_apply_threads(&o.common);
	if (is_fused(o.model))
		return fused_main(&o);
	if (o.task >= 0)
		cli_usage_error("--task and --output-modalities need a fused model (zip-fuse)");
	struct job j = {.o = &o};
	j.t = load_model(&o, &j.meta);
	if (o.bf16)
		tower_use_bf16(j.t);
	j.dp = o.dp;
	j.dp.eos = j.meta.eos;
	rng_seed(&j.rng, (uint64_t)o.seed);
	int max_seq = j.t->cfg.max_seq, chunk = max_seq < 256 ? max_seq : 256;
	decode_model_tower(&j.dm, j.t, o.score ? 1 : o.dp.beam, max_seq, chunk);
	j.seq = xmallocarray((size_t)max_seq + 2, sizeof *j.seq);
	j.out = xmallocarray((size_t)o.dp.max_new + (size_t)max_seq, sizeof *j.out);
	open_io(&j);
	struct progress bar;
	progress_start(&bar, o.score ? "score" : "generate", 0, o.common.quiet);
	const char *id;
	const int32_t *ids;
	size_t n;
	int rc;
	long done = 0;
	while ((rc = tok_next(j.in, &id, &ids, &n)) > 0) {
		if (o.score)
			score_one(&j, id, ids, n);
		else
			generate_one(&j, id, ids, n);
		progress_update(&bar, (double)++done, NULL);
	}
	progress_end(&bar);
	if (rc < 0)
		cli_die("%s", zerr_msg());
	if (done == 0)
		cli_die("%s: no utterances", tok_name(j.in));
	tok_close(j.in);
	if (o.score ? zout_commit(j.zo) < 0 : tok_commit(j.tw) < 0)
		cli_die("%s", zerr_msg());
	decode_model_tower_free(&j.dm);
	tower_free(j.t);
	free(j.seq);
	free(j.out);
	if (j.bad)
		cli_die("%ld utterance(s) skipped", j.bad);
	return 0;
}
