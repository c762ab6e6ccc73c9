/* zip-fuse: zip a text tower and a speech tower with gated cross-attention
 * and train the fused model on aligned data (ASR and TTS). */
#include "config.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archive.h"
#include "cli.h"
#include "fusedata.h"
#include "safetensors.h"
#include "sha256.h"
#include "single.h"
#include "tower.h"
#include "train.h"
#include "xalloc.h"
#include "zipper.h"
#include "zio.h"

static const struct cli_doc doc = {
	.name = "zip-fuse",
	.synopsis = "[-q] [-j n] [--single-decoder] --text-tower T.zpm --speech-tower S.zpm [--task asr,tts]\n"
		    "       [--tts-ratio x] [--freeze text|speech|none|text,speech]\n"
		    "       [--input-proj paper|residual|none] [--xattn-layers n |\n"
		    "       --xattn-every-text i --xattn-every-speech j] [--gate-init x]\n"
		    "       [--xattn-rope auto|rate|none]\n"
		    "       [--steps n | --epochs n] [-b n] [--lr x] [--warmup n] [--weight-decay x]\n"
		    "       [--clip x] [--seed n] [--ckpt-every n] [--ckpt file] [--resume]\n"
		    "       [--stop-after n] [--log file.jsonl] [--text-tokenizer text.tok]\n"
		    "       [--speech-tokenizer speech.tok] speech-tokens text-tokens -o fused.zpm",
	.summary = "Join a pretrained text tower and speech tower with gated cross-attention\n"
		   "blocks (Zipper) and train the fused model on aligned speech and text token\n"
		   "archives, joined by utterance id: ASR ([speech][text], loss on the text) and\n"
		   "TTS ([text][speech], loss on the speech) rows mixed in every batch. The text\n"
		   "tower is frozen by default. AdamW with warmup and a cosine schedule, global\n"
		   "clipping, checkpoints with exact resumption; SIGINT/SIGTERM write a\n"
		   "checkpoint and exit 130/143. --single-decoder trains the baseline instead:\n"
		   "the text tower with its vocabulary extended by the speech vocabulary, fully\n"
		   "fine-tuned on the same data (kind \"single-decoder\").",
	.options = "      --text-tower FILE     the text tower (zip-train output)\n"
		   "      --speech-tower FILE   the speech tower; its vocabulary is the codebook + 2\n"
		   "      --text-config FILE, --speech-config FILE   Hugging Face config.json of a\n"
		   "                            tower given as a bare LLaMA safetensors checkpoint\n"
		   "      --single-decoder      the baseline: text tower + speech vocabulary (from\n"
		   "                            --speech-tower, else the speech archive's header)\n"
		   "  -o, --output FILE         the fused model (kind \"fused\")\n"
		   "      --task LIST           asr, tts or asr,tts (default asr,tts)\n"
		   "      --tts-ratio X         share of TTS rows with both tasks (default 0.5)\n"
		   "      --freeze LIST         towers that do not train: text (default), speech,\n"
		   "                            text,speech or none\n"
		   "      --input-proj MODE     after each tower's embeddings: residual (default;\n"
		   "                            a fresh model is the towers exactly), paper, none\n"
		   "      --input-proj-text MODE, --input-proj-speech MODE   per tower\n"
		   "      --xattn-layers N      N cross-attention stages spread evenly (default 2)\n"
		   "      --xattn-every-text I, --xattn-every-speech J   a stage after every I-th\n"
		   "                            text layer and J-th speech layer\n"
		   "      --gate-init X         the tanh gates' start (default 0, the paper's)\n"
		   "      --xattn-rope RATE     rotary positions in the blocks, counted in speech\n"
		   "                            tokens: text positions times RATE; auto: the\n"
		   "                            training pairs' speech tokens per text token;\n"
		   "                            none (default, the paper's): no positions\n"
		   "      --dev-speech FILE, --dev-text FILE   held-out pairs: ASR and TTS dev loss\n"
		   "                            at the end and every --eval-every N steps\n"
		   "      --steps N             optimizer steps (default: one epoch)\n"
		   "      --epochs N            passes over the utterances instead of --steps\n"
		   "  -b, --batch N             utterances per step (default 8)\n"
		   "      --lr X                peak learning rate (default 3e-4)\n"
		   "      --min-lr-ratio X      the cosine ends at lr*X (default 0.1)\n"
		   "      --warmup N            warmup steps (default: a tenth of the steps, at most 100)\n"
		   "      --weight-decay X      AdamW decay, not on norms, gates, embeddings (default 0.1)\n"
		   "      --clip X              max global gradient norm, 0 for none (default 1)\n"
		   "      --seed N              initialisation, shuffling and task draws (default 1)\n"
		   "      --ckpt-every N        checkpoint every N steps (default: only when stopped)\n"
		   "      --ckpt FILE           checkpoint file (default: OUTPUT.ckpt)\n"
		   "      --resume              continue from the checkpoint\n"
		   "      --stop-after N        write a checkpoint and stop after step N (exit 0)\n"
		   "      --log FILE            JSON lines: step, loss, asr_loss, tts_loss, lr,\n"
		   "                            grad_norm, gate_attn, tokens_per_s\n"
		   "      --text-tokenizer FILE, --speech-tokenizer FILE   carried in the output\n"
		   "                            (tokenizer.text.*, tokenizer.speech.*)\n",
	.example = "zip-fuse --text-tower text.zpm --speech-tower speech.zpm --steps 2000 "
		   "speech.tok text.tok -o fused.zpm",
	.see_also = "zip-train(1), zip-generate(1), zip-info(1), zip-formats(5), zipper(7)",
};

struct options {
	struct cli_common common;
	const char *tower[2], *hf_config[2], *tokenizer[2], *dev[2], *output, *speech, *text, *ckpt, *log;
	int proj[2], every[2], xattn_layers;
	bool tasks[2], freeze[2], resume, single;
	long steps, epochs, batch, warmup, seed, ckpt_every, stop_after, eval_every;
	double lr, min_lr_ratio, weight_decay, clip, tts_ratio, gate_init, rope_rate; /* rope_rate -1: auto */
};

enum {
	OPT_TEXT_TOWER = CLI_OPT_FIRST_FREE, OPT_SPEECH_TOWER, OPT_TASK, OPT_TTS_RATIO, OPT_FREEZE, OPT_PROJ,
	OPT_PROJ_TEXT, OPT_PROJ_SPEECH, OPT_XLAYERS, OPT_EVERY_TEXT, OPT_EVERY_SPEECH, OPT_GATE_INIT, OPT_ROPE, OPT_STEPS,
	OPT_EPOCHS, OPT_LR, OPT_MIN_LR, OPT_WARMUP, OPT_WD, OPT_CLIP, OPT_SEED, OPT_CKPT_EVERY, OPT_CKPT,
	OPT_RESUME, OPT_STOP_AFTER, OPT_LOG, OPT_TEXT_TOK, OPT_SPEECH_TOK, OPT_SINGLE, OPT_TEXT_CFG,
	OPT_SPEECH_CFG, OPT_DEV_SPEECH, OPT_DEV_TEXT, OPT_EVAL_EVERY
};

static int parse_proj(const char *arg, const char *option)
{
	int m = inproj_mode(arg);
	if (m < 0)
		cli_usage_error("%s: '%s' is not paper, residual or none", option, arg);
	return m;
}

/* "text", "speech", "text,speech", "none" (or "asr,tts" with names asr/tts) */
static void parse_pair(bool out[2], const char *arg, const char *a, const char *b, const char *option)
{
	out[0] = out[1] = false;
	if (!strcmp(arg, "none"))
		return;
	char *copy = xstrdup(arg), *save = NULL;
	for (char *w = strtok_r(copy, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
		if (!strcmp(w, a))
			out[0] = true;
		else if (!strcmp(w, b))
			out[1] = true;
		else
			cli_usage_error("%s: '%s' is not %s or %s", option, w, a, b);
	}
	free(copy);
}

static void parse_options(struct options *o, int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_COMMON_LONGOPTS,
		{"text-tower", required_argument, NULL, OPT_TEXT_TOWER},
		{"speech-tower", required_argument, NULL, OPT_SPEECH_TOWER},
		{"output", required_argument, NULL, 'o'},
		{"task", required_argument, NULL, OPT_TASK},
		{"tts-ratio", required_argument, NULL, OPT_TTS_RATIO},
		{"freeze", required_argument, NULL, OPT_FREEZE},
		{"input-proj", required_argument, NULL, OPT_PROJ},
		{"input-proj-text", required_argument, NULL, OPT_PROJ_TEXT},
		{"input-proj-speech", required_argument, NULL, OPT_PROJ_SPEECH},
		{"xattn-layers", required_argument, NULL, OPT_XLAYERS},
		{"xattn-every-text", required_argument, NULL, OPT_EVERY_TEXT},
		{"xattn-every-speech", required_argument, NULL, OPT_EVERY_SPEECH},
		{"gate-init", required_argument, NULL, OPT_GATE_INIT},
		{"xattn-rope", required_argument, NULL, OPT_ROPE},
		{"steps", required_argument, NULL, OPT_STEPS},
		{"epochs", required_argument, NULL, OPT_EPOCHS},
		{"batch", required_argument, NULL, 'b'},
		{"lr", required_argument, NULL, OPT_LR},
		{"min-lr-ratio", required_argument, NULL, OPT_MIN_LR},
		{"warmup", required_argument, NULL, OPT_WARMUP},
		{"weight-decay", required_argument, NULL, OPT_WD},
		{"clip", required_argument, NULL, OPT_CLIP},
		{"seed", required_argument, NULL, OPT_SEED},
		{"ckpt-every", required_argument, NULL, OPT_CKPT_EVERY},
		{"ckpt", required_argument, NULL, OPT_CKPT},
		{"resume", no_argument, NULL, OPT_RESUME},
		{"stop-after", required_argument, NULL, OPT_STOP_AFTER},
		{"log", required_argument, NULL, OPT_LOG},
		{"text-tokenizer", required_argument, NULL, OPT_TEXT_TOK},
		{"speech-tokenizer", required_argument, NULL, OPT_SPEECH_TOK},
		{"single-decoder", no_argument, NULL, OPT_SINGLE},
		{"text-config", required_argument, NULL, OPT_TEXT_CFG},
		{"speech-config", required_argument, NULL, OPT_SPEECH_CFG},
		{"dev-speech", required_argument, NULL, OPT_DEV_SPEECH},
		{"dev-text", required_argument, NULL, OPT_DEV_TEXT},
		{"eval-every", required_argument, NULL, OPT_EVAL_EVERY},
		{NULL, 0, NULL, 0},
	};
	*o = (struct options){.proj = {INPROJ_RESIDUAL, INPROJ_RESIDUAL}, .tasks = {true, true},
			      .freeze = {true, false}, .batch = 8, .warmup = -1, .seed = 1, .lr = 3e-4,
			      .min_lr_ratio = 0.1, .weight_decay = 0.1, .clip = 1.0, .tts_ratio = 0.5};
	cli_common_init(&o->common);
	for (int c; (c = getopt_long(argc, argv, CLI_COMMON_SHORTOPTS "o:b:", longopts, NULL)) != -1;) {
		switch (c) {
		case OPT_TEXT_TOWER: o->tower[ZM_TEXT] = optarg; break;
		case OPT_SPEECH_TOWER: o->tower[ZM_SPEECH] = optarg; break;
		case 'o': o->output = optarg; break;
		case OPT_TASK: parse_pair(o->tasks, optarg, "asr", "tts", "--task"); break;
		case OPT_TTS_RATIO: o->tts_ratio = cli_parse_double(optarg, "--tts-ratio", 0, 1); break;
		case OPT_FREEZE: parse_pair(o->freeze, optarg, "text", "speech", "--freeze"); break;
		case OPT_PROJ: o->proj[0] = o->proj[1] = parse_proj(optarg, "--input-proj"); break;
		case OPT_PROJ_TEXT: o->proj[ZM_TEXT] = parse_proj(optarg, "--input-proj-text"); break;
		case OPT_PROJ_SPEECH: o->proj[ZM_SPEECH] = parse_proj(optarg, "--input-proj-speech"); break;
		case OPT_XLAYERS: o->xattn_layers = (int)cli_parse_long(optarg, "--xattn-layers", 1, 4096); break;
		case OPT_EVERY_TEXT: o->every[ZM_TEXT] = (int)cli_parse_long(optarg, "--xattn-every-text", 1, 4096); break;
		case OPT_EVERY_SPEECH:
			o->every[ZM_SPEECH] = (int)cli_parse_long(optarg, "--xattn-every-speech", 1, 4096);
			break;
		case OPT_GATE_INIT: o->gate_init = cli_parse_double(optarg, "--gate-init", -10, 10); break;
		case OPT_ROPE:
			o->rope_rate = !strcmp(optarg, "auto")   ? -1.0
				       : !strcmp(optarg, "none") ? 0.0
								 : cli_parse_double(optarg, "--xattn-rope", 0, 1000);
			break;
		case OPT_STEPS: o->steps = cli_parse_long(optarg, "--steps", 1, 1L << 40); break;
		case OPT_EPOCHS: o->epochs = cli_parse_long(optarg, "--epochs", 1, 1L << 20); break;
		case 'b': o->batch = cli_parse_long(optarg, "--batch", 1, 1 << 16); break;
		case OPT_LR: o->lr = cli_parse_double(optarg, "--lr", 0, 10); break;
		case OPT_MIN_LR: o->min_lr_ratio = cli_parse_double(optarg, "--min-lr-ratio", 0, 1); break;
		case OPT_WARMUP: o->warmup = cli_parse_long(optarg, "--warmup", 0, 1L << 40); break;
		case OPT_WD: o->weight_decay = cli_parse_double(optarg, "--weight-decay", 0, 10); break;
		case OPT_CLIP: o->clip = cli_parse_double(optarg, "--clip", 0, 1e9); break;
		case OPT_SEED: o->seed = cli_parse_long(optarg, "--seed", 0, 1L << 62); break;
		case OPT_CKPT_EVERY: o->ckpt_every = cli_parse_long(optarg, "--ckpt-every", 0, 1L << 40); break;
		case OPT_CKPT: o->ckpt = optarg; break;
		case OPT_RESUME: o->resume = true; break;
		case OPT_STOP_AFTER: o->stop_after = cli_parse_long(optarg, "--stop-after", 1, 1L << 40); break;
		case OPT_LOG: o->log = optarg; break;
		case OPT_TEXT_TOK: o->tokenizer[ZM_TEXT] = optarg; break;
		case OPT_SPEECH_TOK: o->tokenizer[ZM_SPEECH] = optarg; break;
		case OPT_SINGLE: o->single = true; break;
		case OPT_TEXT_CFG: o->hf_config[ZM_TEXT] = optarg; break;
		case OPT_SPEECH_CFG: o->hf_config[ZM_SPEECH] = optarg; break;
		case OPT_DEV_SPEECH: o->dev[ZM_SPEECH] = optarg; break;
		case OPT_DEV_TEXT: o->dev[ZM_TEXT] = optarg; break;
		case OPT_EVAL_EVERY: o->eval_every = cli_parse_long(optarg, "--eval-every", 0, 1L << 40); break;
		default:
			if (!cli_common_option(&o->common, c, optarg))
				cli_usage_error("unexpected option");
		}
	}
	if (!o->tower[ZM_TEXT] || (!o->tower[ZM_SPEECH] && !o->single))
		cli_usage_error("give both --text-tower and --speech-tower");
	if (!o->output)
		cli_usage_error("no output model (-o) given");
	if (o->steps && o->epochs)
		cli_usage_error("give --steps or --epochs, not both");
	if (!o->tasks[0] && !o->tasks[1])
		cli_usage_error("--task: give asr, tts or both");
	if (o->xattn_layers && (o->every[0] || o->every[1]))
		cli_usage_error("give --xattn-layers or --xattn-every-text/--xattn-every-speech, not both");
	if (!o->every[0] != !o->every[1])
		cli_usage_error("give both --xattn-every-text and --xattn-every-speech");
	if (!o->dev[0] != !o->dev[1])
		cli_usage_error("give both --dev-speech and --dev-text");
	if (o->single && o->rope_rate != 0.0)
		cli_usage_error("--xattn-rope: the single decoder has no cross-attention");
	if (argc - optind != 2)
		cli_usage_error("give a speech token archive and a text token archive");
	o->speech = argv[optind];
	o->text = argv[optind + 1];
	cli_one_stdin((const char *[]){o->speech, o->text, o->dev[0], o->dev[1]}, 4);
}

/* ---- the model ---- */

struct loaded_tower {
	struct tower *t;
	struct tower_meta meta;
};

/* A tower file, or a bare Hugging Face checkpoint with its config.json. */
static struct loaded_tower load_tower(const char *path, const char *hf_config, const char *modality)
{
	struct loaded_tower lt = {.meta = {"", -1}};
	struct st_file f;
	struct tower_config c;
	if (st_open(&f, path) < 0)
		cli_die("%s", zerr_msg());
	if (hf_config) {
		if (tower_config_read(&c, hf_config) < 0)
			cli_die("%s", zerr_msg());
	} else if (tower_file_config(&f, &c, &lt.meta) < 0) {
		cli_die("%s", zerr_msg());
	}
	if (!(lt.t = tower_load(&f, NULL, &c)))
		cli_die("%s", zerr_msg());
	st_close(&f);
	if (lt.meta.modality[0] && strcmp(lt.meta.modality, modality))
		cli_die("%s: a %s tower, given as the %s tower", path, lt.meta.modality, modality);
	return lt;
}

/* The fused config: the towers', the stages, the start/end tokens. A tower
 * trained with an end token (zip-train --eos) saw it start and end every
 * utterance, so it is both; otherwise BPE's 1/2 for text and the speech
 * tokenizer's begin/end-of-audio (the last two ids) for speech. */
static struct zipper *make_model(const struct options *o)
{
	struct zipper_config c;
	memset(&c, 0, sizeof c);
	struct loaded_tower lt[2] = {load_tower(o->tower[ZM_TEXT], o->hf_config[ZM_TEXT], "text"),
				     load_tower(o->tower[ZM_SPEECH], o->hf_config[ZM_SPEECH], "speech")};
	for (int m = 0; m < 2; m++) {
		c.tower[m] = lt[m].t->cfg;
		c.proj[m] = o->proj[m];
		int V = c.tower[m].vocab;
		c.bos[m] = lt[m].meta.eos >= 0 ? lt[m].meta.eos : m == ZM_TEXT ? 1 : V - 2;
		c.eos[m] = lt[m].meta.eos >= 0 ? lt[m].meta.eos : m == ZM_TEXT ? 2 : V - 1;
	}
	/* Said here in the options' terms: the config check would see 0 stages,
	 * or stages every 0 layers. */
	if (o->every[0]) {
		for (int m = 0; m < 2; m++)
			if (o->every[m] > c.tower[m].n_layers)
				cli_die("--xattn-every-%s %d: the %s tower has only %d layers", zm_names[m], o->every[m],
					zm_names[m], c.tower[m].n_layers);
		c.every[0] = o->every[0];
		c.every[1] = o->every[1];
		c.stages = c.tower[0].n_layers / c.every[0] < c.tower[1].n_layers / c.every[1]
				   ? c.tower[0].n_layers / c.every[0]
				   : c.tower[1].n_layers / c.every[1];
	} else {
		c.stages = o->xattn_layers ? o->xattn_layers : 2;
		for (int m = 0; m < 2; m++) {
			if (c.stages > c.tower[m].n_layers)
				cli_die("--xattn-layers %d%s: more stages than the %s tower's %d layers", c.stages,
					o->xattn_layers ? "" : " (the default)", zm_names[m], c.tower[m].n_layers);
			c.every[m] = c.tower[m].n_layers / c.stages;
		}
	}
	c.gate_init = o->gate_init;
	if (zipper_config_check(&c) < 0)
		cli_die("%s", zerr_msg());
	struct rng r;
	rng_seed(&r, (uint64_t)o->seed);
	struct zipper *z = zipper_new(&c, &r);
	for (int m = 0; m < 2; m++) {
		memcpy(z->tower[m]->params, lt[m].t->params, lt[m].t->n_params * sizeof(float));
		tower_free(lt[m].t);
	}
	return z;
}

/* ---- the run ---- */

struct run {
	const struct options *o;
	struct zipper *z;        /* the fused model, or */
	struct tower *st;        /* the single decoder, */
	struct single_map map;   /* its ids, */
	struct optim_group *sgroups;
	int32_t *stok, *stgt;    /* and its batch (B, T[0]+T[1]) */
	struct zipper_config fcfg; /* start/end tokens for the batches */
	struct fuse_data data, dev;
	struct optim_config oc;
	struct zipper_part parts[3];
	int n_parts;
	struct adamw opt[3];
	struct train_state state;
	struct train_data order; /* only n_windows: the utterance count, for the shuffled order */
	struct zipper_batch batch;
	size_t *idx;
	int *task;
	char *ckpt, *resume_json;
	FILE *log;
	struct progress bar;
};

/* What a resumed run must share with the run that wrote the checkpoint. */
static char *resume_options(const struct run *r)
{
	const struct options *o = r->o;
	const struct optim_config *oc = &r->oc;
	return xasprintf("{\"batch\":%ld,\"seed\":%ld,\"steps\":%ld,\"warmup\":%ld,\"lr\":%.17g,"
			 "\"min_lr_ratio\":%.17g,\"weight_decay\":%.17g,\"clip\":%.17g,\"utterances\":%zu,"
			 "\"asr\":%d,\"tts\":%d,\"tts_ratio\":%.17g,\"freeze_text\":%d,\"freeze_speech\":%d}",
			 o->batch, o->seed, oc->steps, oc->warmup, oc->lr, oc->min_lr_ratio, oc->weight_decay,
			 oc->clip, r->data.n, o->tasks[TASK_ASR], o->tasks[TASK_TTS], o->tts_ratio,
			 o->freeze[ZM_TEXT], o->freeze[ZM_SPEECH]);
}

static void log_line(struct run *r, const char *fmt, ...) ZIP_PRINTF(2, 3);

static void log_line(struct run *r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = train_log_vprintf(r->log, r->o->log, fmt, ap);
	va_end(ap);
	if (rc < 0)
		cli_die("%s", zerr_msg());
}

static void checkpoint(struct run *r)
{
	struct tower_meta meta = {"text", -1};
	if (r->st) {
		if (train_checkpoint_save(r->ckpt, r->st, &r->opt[0], &r->state, &meta, r->resume_json) < 0)
			cli_die("%s", zerr_msg());
		return;
	}
	if (zipper_checkpoint_save(r->ckpt, r->z, r->parts, r->n_parts, r->opt, &r->state, r->resume_json) < 0)
		cli_die("%s", zerr_msg());
}

static int row_task(const struct run *r, int row)
{
	const struct options *o = r->o;
	if (!o->tasks[TASK_TTS])
		return TASK_ASR;
	if (!o->tasks[TASK_ASR])
		return TASK_TTS;
	return fuse_task_of((uint64_t)o->seed, r->state.step, row, o->tts_ratio);
}

static void single_step(struct run *r, double t0)
{
	int B = (int)r->o->batch, T = r->batch.T[0] + r->batch.T[1];
	single_flatten(r->stok, r->stgt, T, &r->batch, &r->map);
	double loss = tower_forward(r->st, r->stok, r->stgt, B, T);
	tower_zero_grad(r->st);
	tower_backward(r->st);
	double lr = optim_lr(&r->oc, r->state.step), norm;
	adamw_step(&r->opt[0], &r->oc, r->st->params, r->st->grads, r->sgroups, r->st->n_tensors, lr, &norm);
	r->state.step++;
	double tps = (double)B * T / (cli_now() - t0);
	log_line(r, "{\"step\":%ld,\"loss\":%.9g,\"lr\":%.9g,\"grad_norm\":%.9g,\"tokens_per_s\":%.1f}\n",
		 r->state.step, loss, lr, norm, tps);
	char extra[64];
	snprintf(extra, sizeof extra, "loss %.3f  %.0f tok/s", loss, tps);
	progress_update(&r->bar, (double)r->state.step, extra);
}

static void one_step(struct run *r)
{
	const struct options *o = r->o;
	struct zipper *z = r->z;
	double t0 = cli_now();
	int B = (int)o->batch;
	for (int b = 0; b < B; b++) {
		r->idx[b] = train_next_index(&r->state);
		r->task[b] = row_task(r, b);
	}
	fuse_batch_fill(&r->batch, &r->data, r->idx, r->task, B, &r->fcfg);
	if (r->st) {
		single_step(r, t0);
		return;
	}
	double loss = zipper_forward(z, &r->batch);
	zipper_zero_grad(z);
	zipper_backward(z);
	double lr = optim_lr(&r->oc, r->state.step);
	double norm = zipper_adamw_step(r->parts, r->n_parts, r->opt, &r->oc, lr);
	r->state.step++;
	size_t tokens = (size_t)B * (size_t)(r->batch.T[0] + r->batch.T[1]);
	double tps = (double)tokens / (cli_now() - t0);
	/* the text tower's loss is ASR's, the speech tower's TTS's */
	log_line(r,
		 "{\"step\":%ld,\"loss\":%.9g,\"asr_loss\":%.9g,\"tts_loss\":%.9g,\"lr\":%.9g,\"grad_norm\":%.9g,"
		 "\"gate_attn\":%.6g,\"tokens_per_s\":%.1f}\n",
		 r->state.step, loss, z->count[ZM_TEXT] ? z->loss[ZM_TEXT] : 0.0,
		 z->count[ZM_SPEECH] ? z->loss[ZM_SPEECH] : 0.0, lr, norm, tanh(z->xa[ZM_TEXT][0].w.attn_gate[0]),
		 tps);
	char extra[64];
	snprintf(extra, sizeof extra, "loss %.3f  %.0f tok/s", loss, tps);
	progress_update(&r->bar, (double)r->state.step, extra);
}

/* The single decoder: the text tower extended by the speech vocabulary. */
static void make_single(struct run *r)
{
	const struct options *o = r->o;
	struct loaded_tower lt = load_tower(o->tower[ZM_TEXT], o->hf_config[ZM_TEXT], "text");
	int Vs;
	if (o->tower[ZM_SPEECH]) {
		struct loaded_tower ls = load_tower(o->tower[ZM_SPEECH], o->hf_config[ZM_SPEECH], "speech");
		Vs = ls.t->cfg.vocab;
		tower_free(ls.t);
	} else {
		struct tok_reader *peek = tok_open(o->speech, 0);
		if (!peek)
			cli_die("%s", zerr_msg());
		if (!tok_header(peek)->present || !tok_header(peek)->vocab)
			cli_die("%s: no vocabulary in the header: give --speech-tower", o->speech);
		Vs = (int)tok_header(peek)->vocab; /* the codebook + 2, as zip-tokenize writes */
		tok_close(peek);
	}
	struct single_map *s = &r->map;
	s->vocab[ZM_TEXT] = lt.t->cfg.vocab;
	s->vocab[ZM_SPEECH] = Vs;
	s->bos[ZM_TEXT] = lt.meta.eos >= 0 ? lt.meta.eos : 1;
	s->eos[ZM_TEXT] = lt.meta.eos >= 0 ? lt.meta.eos : 2;
	s->bos[ZM_SPEECH] = Vs - 2;
	s->eos[ZM_SPEECH] = Vs - 1;
	struct rng rng;
	rng_seed(&rng, (uint64_t)o->seed);
	r->st = single_extend(lt.t, s, &rng);
	tower_free(lt.t);
	single_fill_config(s, &r->fcfg);
}

/* Speech tokens per text token over all pairs (--xattn-rope auto). */
static double speech_per_text(const struct fuse_data *d)
{
	double n[2] = {0.0, 0.0};
	for (size_t i = 0; i < d->n; i++)
		for (int m = 0; m < 2; m++)
			n[m] += (double)d->len[m][i];
	if (n[ZM_TEXT] == 0.0 || n[ZM_SPEECH] == 0.0)
		cli_die("--xattn-rope auto: the training pairs hold no text or no speech tokens");
	return n[ZM_SPEECH] / n[ZM_TEXT];
}

static void setup(struct run *r, const struct options *o)
{
	memset(r, 0, sizeof *r);
	r->o = o;
	int vocab[2], max_len[2];
	if (o->single) {
		make_single(r);
		for (int m = 0; m < 2; m++) {
			vocab[m] = r->map.vocab[m];
			max_len[m] = r->st->cfg.max_seq / 2; /* both segments share the positions */
		}
	} else {
		r->z = make_model(o);
		r->fcfg = r->z->cfg;
		for (int m = 0; m < 2; m++) {
			vocab[m] = r->z->cfg.tower[m].vocab;
			max_len[m] = r->z->cfg.tower[m].max_seq;
		}
	}
	struct zipper *z = r->z;
	if (fuse_data_load(&r->data, o->speech, o->text, vocab, max_len) < 0)
		cli_die("%s", zerr_msg());
	if (z)
		zipper_set_rope_rate(z, o->rope_rate < 0.0 ? speech_per_text(&r->data) : o->rope_rate);
	if (r->data.skipped && !o->common.quiet)
		cli_warn("%zu utterances skipped: longer than a tower's max_seq", r->data.skipped);
	optim_config_default(&r->oc);
	long per_epoch = (long)((r->data.n + (size_t)o->batch - 1) / (size_t)o->batch);
	r->oc.steps = o->steps ? o->steps : per_epoch * (o->epochs ? o->epochs : 1);
	r->oc.warmup = o->warmup >= 0 ? o->warmup : (r->oc.steps / 10 < 100 ? r->oc.steps / 10 : 100);
	r->oc.lr = o->lr;
	r->oc.min_lr_ratio = o->min_lr_ratio;
	r->oc.weight_decay = o->weight_decay;
	r->oc.clip = o->clip;
	int T[2] = {fuse_data_max_len(&r->data, 0), fuse_data_max_len(&r->data, 1)};
	if (o->dev[0]) {
		if (fuse_data_load(&r->dev, o->dev[ZM_SPEECH], o->dev[ZM_TEXT], vocab, max_len) < 0)
			cli_die("%s", zerr_msg());
		for (int m = 0; m < 2; m++)
			T[m] = fuse_data_max_len(&r->dev, m) > T[m] ? fuse_data_max_len(&r->dev, m) : T[m];
	}
	if (r->st) {
		tower_alloc_train(r->st, (int)o->batch, T[0] + T[1]);
		adamw_init(&r->opt[0], r->st->n_params);
		r->sgroups = train_groups(r->st);
		r->stok = xcalloc((size_t)o->batch * (T[0] + T[1]), sizeof *r->stok);
		r->stgt = xcalloc((size_t)o->batch * (T[0] + T[1]), sizeof *r->stgt);
	} else {
		zipper_alloc_train(z, o->freeze, (int)o->batch, T);
		r->n_parts = zipper_parts(z, r->parts);
		for (int i = 0; i < r->n_parts; i++)
			adamw_init(&r->opt[i], r->parts[i].n);
	}
	r->order.n_windows = r->data.n;
	train_state_init(&r->state, &r->order, (uint64_t)o->seed ^ 0x7a69707065725f66ULL);
	fuse_batch_alloc(&r->batch, (int)o->batch, T);
	r->idx = xcalloc((size_t)o->batch, sizeof *r->idx);
	r->task = xcalloc((size_t)o->batch, sizeof *r->task);
	r->ckpt = o->ckpt ? xstrdup(o->ckpt) : xasprintf("%s.ckpt", o->output);
	r->resume_json = resume_options(r);
	if (o->resume && (r->st ? train_checkpoint_load(r->ckpt, r->st, &r->opt[0], &r->state, r->resume_json)
				: zipper_checkpoint_load(r->ckpt, z, r->parts, r->n_parts, r->opt, &r->state,
							 r->resume_json)) < 0)
		cli_die("%s", zerr_msg());
	if (o->log && !(r->log = fopen(o->log, o->resume ? "a" : "w")))
		cli_die("%s: cannot open for writing", o->log);
}

/* The fused model with the tokenizers' tensors (tokenizer.M.<name>) and
 * metadata (zipper.tokenizer.M: kind and config), so generation needs no
 * other file. */
static void save_model(const struct run *r)
{
	const struct options *o = r->o;
	struct st_writer *w = r->st ? single_writer(r->st, &r->map) : zipper_writer(r->z);
	struct st_file tf[2];
	char **names[2] = {NULL, NULL};
	for (int m = 0; m < 2; m++) {
		if (!o->tokenizer[m])
			continue;
		if (st_open(&tf[m], o->tokenizer[m]) < 0)
			cli_die("%s", zerr_msg());
		names[m] = xcalloc(tf[m].n_tensors + 1, sizeof *names[m]);
		for (size_t i = 0; i < tf[m].n_tensors; i++) {
			const struct st_tensor *x = &tf[m].tensors[i];
			names[m][i] = xasprintf("tokenizer.%s.%s", zm_names[m], x->name);
			st_writer_add(w, names[m][i], x->dtype, x->ndim, x->shape, x->data);
		}
		cJSON *j = cJSON_CreateObject();
		char hex[SHA256_FINGERPRINT_LEN + 1];
		sha256_fingerprint(tf[m].map, tf[m].map_size, hex);
		cJSON_AddStringToObject(j, "kind", tf[m].kind ? tf[m].kind : "");
		cJSON_AddStringToObject(j, "fingerprint", hex);
		cJSON_AddItemToObject(j, "config", tf[m].config ? cJSON_Duplicate(tf[m].config, true) : cJSON_CreateNull());
		char *text = cJSON_PrintUnformatted(j), key[64];
		cJSON_Delete(j);
		snprintf(key, sizeof key, "zipper.tokenizer.%s", zm_names[m]);
		st_writer_meta(w, key, text);
		free(text);
	}
	if (st_writer_write(w, o->output) < 0)
		cli_die("%s", zerr_msg());
	st_writer_free(w);
	for (int m = 0; m < 2; m++) {
		if (!names[m])
			continue;
		for (size_t i = 0; i < tf[m].n_tensors; i++)
			free(names[m][i]);
		free(names[m]);
		st_close(&tf[m]);
	}
}

/* Mean loss per output token of one task over the dev pairs. */
static double dev_loss(struct run *r, int task)
{
	int B = (int)r->o->batch;
	double sum = 0.0;
	long count = 0;
	for (size_t i0 = 0; i0 < r->dev.n; i0 += (size_t)B) {
		int nb = r->dev.n - i0 < (size_t)B ? (int)(r->dev.n - i0) : B;
		for (int b = 0; b < nb; b++) {
			r->idx[b] = i0 + (size_t)b;
			r->task[b] = task;
		}
		fuse_batch_fill(&r->batch, &r->dev, r->idx, r->task, nb, &r->fcfg);
		if (r->st) {
			int T = r->batch.T[0] + r->batch.T[1];
			single_flatten(r->stok, r->stgt, T, &r->batch, &r->map);
			double loss = tower_forward(r->st, r->stok, r->stgt, nb, T);
			long n = 0;
			for (size_t k = 0; k < (size_t)nb * T; k++)
				n += r->stgt[k] >= 0;
			sum += loss * n, count += n;
		} else {
			zipper_forward(r->z, &r->batch);
			int out = task == TASK_ASR ? ZM_TEXT : ZM_SPEECH;
			sum += r->z->loss[out] * r->z->count[out], count += r->z->count[out];
		}
	}
	return count ? sum / count : 0.0;
}

static void evaluate(struct run *r)
{
	double asr = r->o->tasks[TASK_ASR] ? dev_loss(r, TASK_ASR) : 0.0;
	double tts = r->o->tasks[TASK_TTS] ? dev_loss(r, TASK_TTS) : 0.0;
	log_line(r, "{\"step\":%ld,\"dev_asr_loss\":%.9g,\"dev_tts_loss\":%.9g}\n", r->state.step, asr, tts);
	if (r->o->common.quiet)
		return;
	progress_end(&r->bar);
	fprintf(stderr, "%s: step %ld: dev loss asr %.4f, tts %.4f\n", cli_progname(), r->state.step, asr, tts);
}

static void finish(struct run *r)
{
	if (r->log && fclose(r->log) != 0)
		cli_die("%s: write error", r->o->log);
	for (int i = 0; i < (r->st ? 1 : r->n_parts); i++)
		adamw_free(&r->opt[i]);
	tower_free(r->st);
	free(r->sgroups);
	free(r->stok);
	free(r->stgt);
	zipper_parts_free(r->parts, r->n_parts);
	train_state_free(&r->state);
	fuse_batch_free(&r->batch);
	fuse_data_free(&r->data);
	fuse_data_free(&r->dev);
	free(r->idx);
	free(r->task);
	free(r->ckpt);
	free(r->resume_json);
	zipper_free(r->z);
}

int main(int argc, char **argv)
{
	struct options o;
	cli_init(&doc);
	parse_options(&o, argc, argv);
	cli_apply_threads(&o.common);
	if (zout_check(o.output) < 0) /* before the training, not after */
		cli_die("%s", zerr_msg());
	struct run r;
	setup(&r, &o);
	train_catch_signals();
	progress_start(&r.bar, "fuse", (double)r.oc.steps, o.common.quiet);
	while (r.state.step < r.oc.steps) {
		one_step(&r);
		if (o.dev[0] && o.eval_every && r.state.step % o.eval_every == 0)
			evaluate(&r);
		if (o.ckpt_every && r.state.step % o.ckpt_every == 0)
			checkpoint(&r);
		if (train_caught_signal() || (o.stop_after && r.state.step == o.stop_after && r.state.step < r.oc.steps)) {
			progress_end(&r.bar);
			checkpoint(&r);
			int sig = train_caught_signal();
			finish(&r);
			return sig ? 128 + sig : 0;
		}
	}
	progress_end(&r.bar);
	if (o.dev[0] && !(o.eval_every && r.state.step % o.eval_every == 0))
		evaluate(&r);
	save_model(&r);
	finish(&r);
	return 0;
}
