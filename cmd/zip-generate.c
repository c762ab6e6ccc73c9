/* zip-generate: continue or score the utterances of a token archive with a tower. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archive.h"
#include "cli.h"
#include "decode.h"
#include "fused-generate.h"
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
		    "       [sampling and beam options] [-o out] [inputs]\n"
		    "       zip-generate -m fused.zpm --output-modalities text,speech|speech,text\n"
		    "       --speech-out speech.tok [options] [-o out] [inputs]\n"
		    "       zip-generate -m fused.zpm --score [--tower-only] [-o out] [tokens]",
	.summary = "Continue every utterance of a token archive (default: stdin) with a decoder\n"
		   "tower and write the continuations as a token archive; or, with --score, print\n"
		   "each utterance's log-likelihood and perplexity. When the tower has an end\n"
		   "token (zip-train --eos), it starts every sequence, as in training, and\n"
		   "generation stops at it. With a fused model (zip-fuse), --task asr reads\n"
		   "a speech token archive and writes the text tokens of each transcript;\n"
		   "--task tts reads text tokens and writes speech tokens; --score scores text or\n"
		   "speech tokens (the archive's modality) with that side of the model alone.",
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
		   "      --output-modalities M  text (= --task asr), speech (= --task tts), or a\n"
		   "                        chain: text,speech (speech in) or speech,text (text in)\n"
		   "      --speech-out FILE  chains: the speech segments' token archive (the text\n"
		   "                        segments go to --output)\n"
		   "      --max-ratio X     at most X output tokens per input token, plus 10\n"
		   "                        (default 1 for asr, 20 for tts; --max-new caps it)\n"
		   "      --batch N         utterances decoded together, greedy only (default 16)\n"
		   "      --text-tokenizer FILE  text.tok (default: the one the model carries, if any);\n"
		   "                        with one, asr writes transcripts \"utt-id words\"\n"
		   "      --tokens          asr: write text tokens even with a tokenizer\n"
		   "      --transcripts     tts: the input is transcripts, encoded with the tokenizer\n"
		   "      --repeat-span N   end an output whose last N tokens loop with a period\n"
		   "                        of at most 8 (default 12 for text, 100 for speech; 0: off)\n"
		   "      --tower-only      --score: the fused model's tower without its\n"
		   "                        cross-attention blocks and input projection\n",
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
	bool tower_only;        /* --score, fused: the tower without its blocks */
	bool chain;             /* --output-modalities text,speech or speech,text */
	const char *speech_out; /* chains: the speech segment's archive */
};

enum {
	OPT_CONFIG = CLI_OPT_FIRST_FREE, OPT_MAX_NEW, OPT_EOS, OPT_TEMP, OPT_TOP_K, OPT_TOP_P, OPT_SEED,
	OPT_BEAM, OPT_LP, OPT_WITH_PROMPT, OPT_SCORE, OPT_TASK, OPT_OUT_MOD, OPT_MAX_RATIO, OPT_REPEAT_SPAN, OPT_BATCH, OPT_TEXT_TOK, OPT_TOKENS,
	OPT_TRANSCRIPTS, OPT_BF16, OPT_SPEECH_OUT, OPT_TOWER_ONLY
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
		{"speech-out", required_argument, NULL, OPT_SPEECH_OUT},
		{"tower-only", no_argument, NULL, OPT_TOWER_ONLY},
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
			o->chain = !strcmp(optarg, "text,speech") || !strcmp(optarg, "speech,text");
			if (strcmp(optarg, "text") && strcmp(optarg, "speech") && !o->chain)
				cli_usage_error("--output-modalities: '%s': give text, speech, text,speech "
						"or speech,text", optarg);
			o->task = strncmp(optarg, "text", 4) ? ZM_SPEECH : ZM_TEXT;
			break;
		case OPT_SPEECH_OUT: o->speech_out = optarg; break;
		case OPT_MAX_RATIO: o->max_ratio = cli_parse_double(optarg, "--max-ratio", 0, 1e6); break;
		case OPT_REPEAT_SPAN: o->repeat_span = cli_parse_long(optarg, "--repeat-span", 0, 1 << 20); break;
		case OPT_BATCH: o->batch = cli_parse_long(optarg, "--batch", 1, 4096); break;
		case OPT_TEXT_TOK: o->text_tokenizer = optarg; break;
		case OPT_TOKENS: o->tokens = true; break;
		case OPT_TRANSCRIPTS: o->transcripts = true; break;
		case OPT_BF16: o->bf16 = true; break;
		case OPT_TOWER_ONLY: o->tower_only = true; break;
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
	if (o->score && (o->dp.beam > 1 || o->dp.temperature > 0))
		cli_usage_error("--score scores the tokens given: --beam and --temperature are for generating");
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
	if (score_write(j->zo, id, decode_score(&j->dm, j->seq, len), len - 1) < 0)
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

/* ---- fused models (cmd/fused-generate.c) ---- */

static int run_fused(const struct options *o)
{
	if (o->with_prompt || o->eos_given || o->config)
		cli_usage_error("--with-prompt, --eos and --config are for towers");
	if (o->score && o->task >= 0)
		cli_usage_error("--score takes the modality from the archive's header, not --task");
	if (o->tower_only && !o->score)
		cli_usage_error("--tower-only is for --score");
	if (o->task < 0 && !o->score)
		cli_usage_error("a fused model needs --task asr or --task tts (or --score)");
	if (o->chain != (o->speech_out != NULL))
		cli_usage_error(o->chain ? "a chain of outputs needs --speech-out FILE for its speech"
					 : "--speech-out is for chains (--output-modalities text,speech)");
	if (o->chain && !strcmp(o->speech_out, o->output))
		cli_usage_error("--speech-out and --output must differ");
	struct fused_opts f = {
		.model = o->model, .prompts = o->prompts, .output = o->output,
		.text_tokenizer = o->text_tokenizer, .dp = o->dp, .seed = o->seed,
		.repeat_span = o->repeat_span, .batch = o->batch, .max_ratio = o->max_ratio,
		.task = o->task, .max_new_given = o->max_new_given, .tokens = o->tokens,
		.transcripts = o->transcripts, .bf16 = o->bf16, .quiet = o->common.quiet,
		.chain = o->chain, .speech_out = o->speech_out, .tower_only = o->tower_only,
	};
	return o->score ? fused_score(&f) : fused_generate(&f);
}

int main(int argc, char **argv)
{
	struct options o;
	cli_init(&doc);
	parse_options(&o, argc, argv);
	cli_apply_threads(&o.common);
	if (fused_model_file(o.model))
		return run_fused(&o);
	if (o.task >= 0)
		cli_usage_error("--task and --output-modalities need a fused model (zip-fuse)");
	if (o.tower_only)
		cli_usage_error("--tower-only is for a fused model's --score");
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
	if (j.bad == done) /* the output keeps what it had (exit removes the temporary file) */
		cli_die("%s: every utterance was skipped", tok_name(j.in));
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
