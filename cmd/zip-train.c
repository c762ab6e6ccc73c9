/* zip-train: train a decoder tower on a token archive. */
#include "config.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archive.h"
#include "cli.h"
#include "safetensors.h"
#include "tower.h"
#include "train.h"
#include "xalloc.h"
#include "zio.h"

static const struct cli_doc doc = {
	.name = "zip-train",
	.synopsis = "[-q] [-j n] [--steps n | --epochs n] [-b n] [-T n] [--lr x] [--warmup n]\n"
		    "       [--weight-decay x] [--clip x] [--seed n] [--eos id] [--eval-every n]\n"
		    "       [--ckpt-every n] [--ckpt file] [--resume] [--log file.jsonl]\n"
		    "       (--config file.json | --init model [--config config.json]) train [dev]\n"
		    "       -o model.zpm",
	.summary = "Train a LLaMA-style decoder tower on a token archive (utterances packed\n"
		   "into windows of -T tokens, shuffled each epoch), with AdamW, warmup and a\n"
		   "cosine schedule, evaluation on dev, checkpoints and exact resumption.\n"
		   "SIGINT/SIGTERM write a checkpoint and exit 130/143.",
	.options = "      --config FILE     the tower's configuration (JSON); weights start random\n"
		   "      --init MODEL      start from this tower's weights (and configuration), or\n"
		   "                        a Hugging Face LLaMA checkpoint's (F32, F16 or BF16;\n"
		   "                        its config.json as --config)\n"
		   "  -o, --output MODEL    the trained tower (written at the end)\n"
		   "      --steps N         optimizer steps (default: one epoch)\n"
		   "      --epochs N        passes over the training windows instead of --steps\n"
		   "  -b, --batch N         sequences per step (default 8)\n"
		   "  -T, --seq-len N       tokens per sequence (default 256, at most max_seq)\n"
		   "      --lr X            peak learning rate (default 3e-4)\n"
		   "      --min-lr-ratio X  the cosine ends at lr*X (default 0.1)\n"
		   "      --warmup N        linear warmup steps (default: a tenth of the steps, at most 100)\n"
		   "      --weight-decay X  AdamW decay, not on norms and embeddings (default 0.1)\n"
		   "      --clip X          max global gradient norm, 0 for none (default 1)\n"
		   "      --seed N          initialisation and shuffling (default 1)\n"
		   "      --eos ID          token appended to every utterance when packing\n"
		   "      --modality M      tensor prefix M. when the archive has no header (default text)\n"
		   "      --eval-every N    dev loss every N steps (default: at the end only)\n"
		   "      --ckpt-every N    checkpoint every N steps (default: only when stopped)\n"
		   "      --ckpt FILE       checkpoint file (default: MODEL.ckpt)\n"
		   "      --resume          continue from the checkpoint\n"
		   "      --stop-after N    write a checkpoint and stop after step N (exit 0)\n"
		   "      --log FILE        JSON lines: step, loss, lr, grad_norm, tokens_per_s;\n"
		   "                        dev_loss and dev_ppl at evaluations (appended on --resume)\n",
	.example = "zip-train --config tower.json -T 128 --steps 2000 --log log.jsonl train.tok dev.tok -o text.zpm",
	.see_also = "zip-generate(1), zip-info(1), zip-formats(5), zipper(7)",
};

struct options {
	struct cli_common common;
	const char *config, *init, *output, *train, *dev, *ckpt, *log, *modality;
	long steps, epochs, batch, seq_len, warmup, eos, seed, eval_every, ckpt_every, stop_after;
	double lr, min_lr_ratio, weight_decay, clip;
	bool resume;
};

enum {
	OPT_CONFIG = CLI_OPT_FIRST_FREE, OPT_INIT, OPT_STEPS, OPT_EPOCHS, OPT_LR, OPT_MIN_LR, OPT_WARMUP,
	OPT_WD, OPT_CLIP, OPT_SEED, OPT_EOS, OPT_MODALITY, OPT_EVAL_EVERY, OPT_CKPT_EVERY, OPT_CKPT,
	OPT_RESUME, OPT_STOP_AFTER, OPT_LOG
};

static void parse_options(struct options *o, int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_COMMON_LONGOPTS,
		{"config", required_argument, NULL, OPT_CONFIG},
		{"init", required_argument, NULL, OPT_INIT},
		{"output", required_argument, NULL, 'o'},
		{"steps", required_argument, NULL, OPT_STEPS},
		{"epochs", required_argument, NULL, OPT_EPOCHS},
		{"batch", required_argument, NULL, 'b'},
		{"seq-len", required_argument, NULL, 'T'},
		{"lr", required_argument, NULL, OPT_LR},
		{"min-lr-ratio", required_argument, NULL, OPT_MIN_LR},
		{"warmup", required_argument, NULL, OPT_WARMUP},
		{"weight-decay", required_argument, NULL, OPT_WD},
		{"clip", required_argument, NULL, OPT_CLIP},
		{"seed", required_argument, NULL, OPT_SEED},
		{"eos", required_argument, NULL, OPT_EOS},
		{"modality", required_argument, NULL, OPT_MODALITY},
		{"eval-every", required_argument, NULL, OPT_EVAL_EVERY},
		{"ckpt-every", required_argument, NULL, OPT_CKPT_EVERY},
		{"ckpt", required_argument, NULL, OPT_CKPT},
		{"resume", no_argument, NULL, OPT_RESUME},
		{"stop-after", required_argument, NULL, OPT_STOP_AFTER},
		{"log", required_argument, NULL, OPT_LOG},
		{NULL, 0, NULL, 0},
	};
	*o = (struct options){.batch = 8, .seq_len = 256, .warmup = -1, .eos = -1, .seed = 1, .lr = 3e-4,
			      .min_lr_ratio = 0.1, .weight_decay = 0.1, .clip = 1.0};
	cli_common_init(&o->common);
	for (int c; (c = getopt_long(argc, argv, CLI_COMMON_SHORTOPTS "o:b:T:", longopts, NULL)) != -1;) {
		switch (c) {
		case OPT_CONFIG: o->config = optarg; break;
		case OPT_INIT: o->init = optarg; break;
		case 'o': o->output = optarg; break;
		case OPT_STEPS: o->steps = cli_parse_long(optarg, "--steps", 1, 1L << 40); break;
		case OPT_EPOCHS: o->epochs = cli_parse_long(optarg, "--epochs", 1, 1L << 20); break;
		case 'b': o->batch = cli_parse_long(optarg, "--batch", 1, 1 << 16); break;
		case 'T': o->seq_len = cli_parse_long(optarg, "--seq-len", 1, 1 << 20); break;
		case OPT_LR: o->lr = cli_parse_double(optarg, "--lr", 0, 10); break;
		case OPT_MIN_LR: o->min_lr_ratio = cli_parse_double(optarg, "--min-lr-ratio", 0, 1); break;
		case OPT_WARMUP: o->warmup = cli_parse_long(optarg, "--warmup", 0, 1L << 40); break;
		case OPT_WD: o->weight_decay = cli_parse_double(optarg, "--weight-decay", 0, 10); break;
		case OPT_CLIP: o->clip = cli_parse_double(optarg, "--clip", 0, 1e9); break;
		case OPT_SEED: o->seed = cli_parse_long(optarg, "--seed", 0, 1L << 62); break;
		case OPT_EOS: o->eos = cli_parse_long(optarg, "--eos", 0, 1L << 30); break;
		case OPT_MODALITY: o->modality = optarg; break;
		case OPT_EVAL_EVERY: o->eval_every = cli_parse_long(optarg, "--eval-every", 0, 1L << 40); break;
		case OPT_CKPT_EVERY: o->ckpt_every = cli_parse_long(optarg, "--ckpt-every", 0, 1L << 40); break;
		case OPT_CKPT: o->ckpt = optarg; break;
		case OPT_RESUME: o->resume = true; break;
		case OPT_STOP_AFTER: o->stop_after = cli_parse_long(optarg, "--stop-after", 1, 1L << 40); break;
		case OPT_LOG: o->log = optarg; break;
		default:
			if (!cli_common_option(&o->common, c, optarg))
				cli_usage_error("unexpected option");
		}
	}
	if (!o->config && !o->init)
		cli_usage_error("give --config or --init (or both for a Hugging Face checkpoint)");
	if (!o->output)
		cli_usage_error("no output model (-o) given");
	if (o->steps && o->epochs)
		cli_usage_error("give --steps or --epochs, not both");
	if (optind == argc || argc - optind > 2)
		cli_usage_error("give a training archive and at most one dev archive");
	o->train = argv[optind];
	o->dev = argc - optind == 2 ? argv[optind + 1] : NULL;
	cli_one_stdin((const char *[]){o->train, o->dev}, 2);
}

/* ---- the model ---- */

/* A tower model file's weights and configuration, or a bare Hugging Face
 * checkpoint's with its config.json (--config); the HF tensors are renamed
 * under the modality's prefix, so the output is a tower file like any other. */
static struct tower *init_tower(const struct options *o, const char *modality, struct tower_meta *m)
{
	struct st_file f;
	if (st_open(&f, o->init) < 0)
		cli_die("%s", zerr_msg());
	struct tower_config c;
	memset(m, 0, sizeof *m);
	m->eos = -1;
	if (o->config && f.config)
		cli_die("%s: a tower file carries its configuration: drop --config", o->init);
	if (o->config ? tower_config_read(&c, o->config) < 0 : tower_file_config(&f, &c, m) < 0)
		cli_die("%s", zerr_msg());
	struct tower *t = tower_load(&f, NULL, &c);
	if (!t)
		cli_die("%s", zerr_msg());
	st_close(&f);
	if (!*t->prefix) {
		char *prefix = xasprintf("%s.", modality);
		tower_set_prefix(t, prefix);
		free(prefix);
		snprintf(m->modality, sizeof m->modality, "%s", modality);
	}
	if (o->eos >= 0)
		m->eos = (int)o->eos;
	return t;
}

/* A configuration file's tower with random weights, or a model file's. */
static struct tower *make_tower(const struct options *o, const char *modality, struct tower_meta *m)
{
	if (o->init)
		return init_tower(o, modality, m);
	struct tower_config c;
	if (tower_config_read(&c, o->config) < 0)
		cli_die("%s", zerr_msg());
	char *prefix = xasprintf("%s.", modality);
	struct tower *t = tower_new(&c, prefix);
	free(prefix);
	struct rng r;
	rng_seed(&r, (uint64_t)o->seed);
	tower_init_random(t, &r);
	snprintf(m->modality, sizeof m->modality, "%s", modality);
	m->eos = (int)o->eos;
	return t;
}

/* ---- the run ---- */

/* What a resumed run must share with the run that wrote the checkpoint. */
static char *resume_options(const struct options *o, const struct optim_config *oc,
			    const struct train_data *d, int eos)
{
	return xasprintf("{\"batch\":%ld,\"seq_len\":%ld,\"seed\":%ld,\"eos\":%ld,\"steps\":%ld,"
			 "\"warmup\":%ld,\"lr\":%.17g,\"min_lr_ratio\":%.17g,\"weight_decay\":%.17g,"
			 "\"clip\":%.17g,\"windows\":%zu}",
			 o->batch, o->seq_len, o->seed, (long)eos, oc->steps, oc->warmup, oc->lr, oc->min_lr_ratio,
			 oc->weight_decay, oc->clip, d->n_windows);
}

struct run {
	const struct options *o;
	struct tower *t;
	struct train_data train, dev;
	bool has_dev;
	struct optim_config oc;
	struct adamw opt;
	struct optim_group *groups;
	struct train_state state;
	int32_t *inputs, *targets; /* (B,T) */
	struct tower_meta meta;
	char *ckpt, *resume_json;
	FILE *log;
	struct progress bar;
};

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
	if (train_checkpoint_save(r->ckpt, r->t, &r->opt, &r->state, &r->meta, r->resume_json) < 0)
		cli_die("%s", zerr_msg());
}

static void evaluate(struct run *r)
{
	double loss = train_evaluate(r->t, &r->dev, (int)r->o->batch, r->inputs, r->targets);
	log_line(r, "{\"step\":%ld,\"dev_loss\":%.9g,\"dev_ppl\":%.9g}\n", r->state.step, loss, exp(loss));
	if (r->o->common.quiet)
		return;
	progress_end(&r->bar); /* a line of its own, below the bar */
	fprintf(stderr, "%s: step %ld: dev loss %.4f, perplexity %.3f\n", cli_progname(), r->state.step, loss,
		exp(loss));
}

static void one_step(struct run *r)
{
	const struct options *o = r->o;
	double t0 = cli_now();
	train_next_batch(&r->state, &r->train, (int)o->batch, r->inputs, r->targets);
	double loss = tower_forward(r->t, r->inputs, r->targets, (int)o->batch, (int)o->seq_len);
	tower_zero_grad(r->t);
	tower_backward(r->t);
	double lr = optim_lr(&r->oc, r->state.step), norm;
	adamw_step(&r->opt, &r->oc, r->t->params, r->t->grads, r->groups, r->t->n_tensors, lr, &norm);
	r->state.step++;
	double tps = (double)(o->batch * o->seq_len) / (cli_now() - t0);
	log_line(r, "{\"step\":%ld,\"loss\":%.9g,\"lr\":%.9g,\"grad_norm\":%.9g,\"tokens_per_s\":%.1f}\n",
		 r->state.step, loss, lr, norm, tps);
	char extra[64];
	snprintf(extra, sizeof extra, "loss %.3f  %.0f tok/s", loss, tps);
	progress_update(&r->bar, (double)r->state.step, extra);
}

static void setup(struct run *r, const struct options *o)
{
	memset(r, 0, sizeof *r);
	r->o = o;
	/* The archive's header names the modality (and so the tensor prefix). */
	struct tok_reader *peek = tok_open(o->train, 0);
	if (!peek)
		cli_die("%s", zerr_msg());
	char want[16];
	snprintf(want, sizeof want, "%s",
		 tok_header(peek)->present ? tok_header(peek)->modality : o->modality ? o->modality : "text");
	tok_close(peek);
	r->t = make_tower(o, want, &r->meta);
	if (o->seq_len > r->t->cfg.max_seq)
		cli_usage_error("--seq-len %ld is longer than the model's max_seq %d", o->seq_len, r->t->cfg.max_seq);
	if (o->eos >= r->t->cfg.vocab)
		cli_usage_error("--eos %ld is outside the vocabulary of %d", o->eos, r->t->cfg.vocab);
	if (train_data_load(&r->train, o->train, r->t->cfg.vocab, r->meta.eos, (int)o->seq_len) < 0)
		cli_die("%s", zerr_msg());
	if (r->meta.modality[0] && r->train.modality[0] && strcmp(r->meta.modality, r->train.modality))
		cli_die("%s: tokens are for modality %s, the model is a %s tower", o->train, r->train.modality,
			r->meta.modality);
	if (o->dev) {
		if (train_data_load(&r->dev, o->dev, r->t->cfg.vocab, r->meta.eos, (int)o->seq_len) < 0)
			cli_die("%s", zerr_msg());
		r->has_dev = true;
	}
	optim_config_default(&r->oc);
	long per_epoch = (long)((r->train.n_windows + (size_t)o->batch - 1) / (size_t)o->batch);
	r->oc.steps = o->steps ? o->steps : per_epoch * (o->epochs ? o->epochs : 1);
	r->oc.warmup = o->warmup >= 0 ? o->warmup : (r->oc.steps / 10 < 100 ? r->oc.steps / 10 : 100);
	r->oc.lr = o->lr;
	r->oc.min_lr_ratio = o->min_lr_ratio;
	r->oc.weight_decay = o->weight_decay;
	r->oc.clip = o->clip;
	adamw_init(&r->opt, r->t->n_params);
	r->groups = train_groups(r->t);
	train_state_init(&r->state, &r->train, (uint64_t)o->seed ^ 0x7a69707065725f74ULL);
	tower_alloc_train(r->t, (int)o->batch, (int)o->seq_len);
	r->inputs = xmallocarray((size_t)(o->batch * o->seq_len), sizeof(int32_t));
	r->targets = xmallocarray((size_t)(o->batch * o->seq_len), sizeof(int32_t));
	r->ckpt = o->ckpt ? xstrdup(o->ckpt) : xasprintf("%s.ckpt", o->output);
	r->resume_json = resume_options(o, &r->oc, &r->train, r->meta.eos);
	if (o->resume &&
	    train_checkpoint_load(r->ckpt, r->t, &r->opt, &r->state, r->resume_json) < 0)
		cli_die("%s", zerr_msg());
	/* A log that grows line by line (tail -f), appended to when resuming:
	 * not an atomic zout file. */
	if (o->log && !(r->log = fopen(o->log, o->resume ? "a" : "w")))
		cli_die("%s: cannot open for writing", o->log);
}

static void finish(struct run *r)
{
	if (r->log && fclose(r->log) != 0)
		cli_die("%s: write error", r->o->log);
	free(r->inputs);
	free(r->targets);
	free(r->groups);
	free(r->ckpt);
	free(r->resume_json);
	adamw_free(&r->opt);
	train_state_free(&r->state);
	train_data_free(&r->train);
	if (r->has_dev)
		train_data_free(&r->dev);
	tower_free(r->t);
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
	progress_start(&r.bar, "train", (double)r.oc.steps, o.common.quiet);
	bool evaluated = false;
	while (r.state.step < r.oc.steps) {
		one_step(&r);
		evaluated = false;
		if (r.has_dev && o.eval_every && r.state.step % o.eval_every == 0) {
			evaluate(&r);
			evaluated = true;
		}
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
	if (r.has_dev && !evaluated)
		evaluate(&r);
	if (tower_save(r.t, o.output, &r.meta) < 0)
		cli_die("%s", zerr_msg());
	finish(&r);
	return 0;
}
