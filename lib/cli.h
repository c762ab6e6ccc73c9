/* cli: the conventions every zipper program shares.
 *
 *   usage text in BSD bracket form with an "e.g." and a "See also" line;
 *   --help to stdout, exit 0; --version; a bad option to stderr, exit 2;
 *   a runtime error as "prog: context: message", exit 1;
 *   -j N threads (default: ZIPPER_THREADS, else every core);
 *   a progress bar on stderr only when stderr is a terminal; --quiet silences it.
 *
 * A program's main() fills a struct cli_doc, calls cli_init(), and passes
 * every getopt_long() result it does not handle itself to cli_common_option(). */
#ifndef ZIPPER_CLI_H
#define ZIPPER_CLI_H

#include <getopt.h>
#include <stdbool.h>
#include <stdnoreturn.h>

#include "zerr.h"

enum { EXIT_RUNTIME = 1, EXIT_USAGE = 2 };

struct cli_doc {
	const char *name;     /* "zip-info" */
	const char *synopsis; /* "[-q] [--json] [--verify] file ..." */
	const char *summary;  /* one sentence: what the program does */
	const char *options;  /* option lines, "  -x, --long ARG   text\n" each */
	const char *example;  /* shown after "e.g." */
	const char *see_also; /* "zip-formats(5), zipper(7)" */
};

void cli_init(const struct cli_doc *doc);
const char *cli_progname(void);

noreturn void cli_help(void);
noreturn void cli_version(void);
noreturn void cli_usage_error(const char *fmt, ...) ZIP_PRINTF(1, 2);
noreturn void cli_die(const char *fmt, ...) ZIP_PRINTF(1, 2);
void cli_warn(const char *fmt, ...) ZIP_PRINTF(1, 2);

/* Options every program takes: -h/--help, --version, -j/--threads N, -q/--quiet. */
struct cli_common {
	int threads;
	bool quiet;
};

enum { CLI_OPT_VERSION = 0x1000, CLI_OPT_FIRST_FREE = 0x1100 };
#define CLI_COMMON_SHORTOPTS "hj:q"
#define CLI_COMMON_LONGOPTS                                                    \
	{"help", no_argument, NULL, 'h'},                                      \
	{"version", no_argument, NULL, CLI_OPT_VERSION},                       \
	{"threads", required_argument, NULL, 'j'},                             \
	{"quiet", no_argument, NULL, 'q'}
#define CLI_COMMON_HELP                                                        \
	"  -j, --threads N   use N threads (default: $ZIPPER_THREADS, else all cores)\n" \
	"  -q, --quiet       no progress bar\n"                                    \
	"  -h, --help        show this help and exit\n"                           \
	"      --version     show the version and exit\n"

void cli_common_init(struct cli_common *c);
/* Handles the common options and getopt's '?' (exit 2). Returns false for
 * an option the program must handle itself. */
bool cli_common_option(struct cli_common *c, int opt, const char *arg);
/* Makes c->threads the count for OpenMP and OpenBLAS. Call after parsing. */
void cli_apply_threads(const struct cli_common *c);

/* Standard input can be read once: more than one of the n input paths
 * being "-" is a usage error (NULLs, absent inputs, are skipped). */
void cli_one_stdin(const char *const *inputs, int n);

/* Strict number parsing for option values; a bad value is a usage error
 * naming the option. */
long cli_parse_long(const char *arg, const char *option, long min, long max);
double cli_parse_double(const char *arg, const char *option, double min, double max);

/* Progress bar on stderr, drawn only when stderr is a terminal and not quiet,
 * at most ten times a second. total <= 0 means unknown (a counter). */
struct progress {
	const char *label;
	double total, start, last_draw;
	bool on, drawn;
};

void progress_start(struct progress *p, const char *label, double total, bool quiet);
/* extra: an optional short status ("loss 2.31"), or NULL. */
void progress_update(struct progress *p, double done, const char *extra);
void progress_end(struct progress *p);

/* Monotonic wall-clock seconds, for rates and ETAs. */
double cli_now(void);

#endif
