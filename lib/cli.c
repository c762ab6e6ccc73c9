#include "config.h"

#include <errno.h>
#include <math.h>
#include <omp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cblas.h>

#include "cli.h"

static const struct cli_doc *program;

void cli_init(const struct cli_doc *doc)
{
	program = doc;
}

const char *cli_progname(void)
{
	return program ? program->name : "zipper";
}

static void print_usage_line(FILE *out)
{
	fprintf(out, "usage: %s %s\n", program->name, program->synopsis);
}

noreturn void cli_help(void)
{
	print_usage_line(stdout);
	printf("\n%s\n\n", program->summary);
	if (program->options && *program->options)
		printf("options:\n%s", program->options);
	printf("%s", CLI_COMMON_HELP);
	if (program->example)
		printf("\ne.g. %s\n", program->example);
	if (program->see_also)
		printf("See also: %s\n", program->see_also);
	exit(0);
}

noreturn void cli_version(void)
{
	printf("%s (%s) %s\n", program->name, PACKAGE_NAME, PACKAGE_VERSION);
	exit(0);
}

static void vreport(const char *fmt, va_list ap)
{
	fflush(stdout);
	fprintf(stderr, "%s: ", cli_progname());
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

noreturn void cli_usage_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vreport(fmt, ap);
	va_end(ap);
	print_usage_line(stderr);
	fprintf(stderr, "Try '%s --help' for more information.\n", program->name);
	exit(EXIT_USAGE);
}

noreturn void cli_die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vreport(fmt, ap);
	va_end(ap);
	exit(EXIT_RUNTIME);
}

void cli_warn(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vreport(fmt, ap);
	va_end(ap);
}

void cli_one_stdin(const char *const *inputs, int n)
{
	int dashes = 0;
	for (int i = 0; i < n; i++)
		dashes += inputs[i] && !strcmp(inputs[i], "-");
	if (dashes > 1)
		cli_usage_error("only one input may be - (standard input can be read once)");
}

long cli_parse_long(const char *arg, const char *option, long min, long max)
{
	char *end;
	errno = 0;
	long v = strtol(arg, &end, 10);
	if (end == arg || *end)
		cli_usage_error("%s: '%s' is not an integer", option, arg);
	if (errno == ERANGE) /* beyond a long: outside any range below */
		cli_usage_error("%s: %s is outside %ld..%ld", option, arg, min, max);
	if (v < min || v > max)
		cli_usage_error("%s: %ld is outside %ld..%ld", option, v, min, max);
	return v;
}

double cli_parse_double(const char *arg, const char *option, double min, double max)
{
	char *end;
	errno = 0;
	double v = strtod(arg, &end);
	if (end == arg || *end || isnan(v) || (errno && !isinf(v)))
		cli_usage_error("%s: '%s' is not a number", option, arg);
	if (!(v >= min && v <= max)) /* an infinity too, written or overflowed */
		cli_usage_error("%s: %s is outside %g..%g", option, arg, min, max);
	return v;
}

void cli_common_init(struct cli_common *c)
{
	c->quiet = false;
	c->threads = omp_get_num_procs();
	const char *env = getenv("ZIPPER_THREADS");
	if (env && *env) {
		char *end;
		long n = strtol(env, &end, 10);
		if (*end || n < 1 || n > 1024)
			cli_usage_error("ZIPPER_THREADS: '%s' is not a thread count", env);
		c->threads = (int)n;
	}
}

bool cli_common_option(struct cli_common *c, int opt, const char *arg)
{
	switch (opt) {
	case 'h':
		cli_help();
	case CLI_OPT_VERSION:
		cli_version();
	case 'j':
		c->threads = (int)cli_parse_long(arg, "-j", 1, 1024);
		return true;
	case 'q':
		c->quiet = true;
		return true;
	case '?':
	case ':':
		/* getopt_long has already said what was wrong. */
		print_usage_line(stderr);
		fprintf(stderr, "Try '%s --help' for more information.\n", program->name);
		exit(EXIT_USAGE);
	default:
		return false;
	}
}

void cli_apply_threads(const struct cli_common *c)
{
	/* OpenBLAS's threaded sgemm waits forever for threads a team was asked
	 * for but not given (seen as a hang in k-means inside our loops). Teams
	 * get fewer when OMP_DYNAMIC=true meets a busy machine, or when
	 * OMP_THREAD_LIMIT is below -j: turn the one off, respect the other. */
	int n = c->threads < omp_get_thread_limit() ? c->threads : omp_get_thread_limit();
	omp_set_dynamic(0);
	omp_set_num_threads(n);
	openblas_set_num_threads(n);
}

double cli_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

void progress_start(struct progress *p, const char *label, double total, bool quiet)
{
	p->label = label;
	p->total = total;
	p->start = cli_now();
	p->last_draw = 0;
	p->on = !quiet && isatty(STDERR_FILENO);
	p->drawn = false;
}

static void format_duration(char *buf, size_t n, double s)
{
	if (!isfinite(s) || s < 0)
		snprintf(buf, n, "--:--");
	else if (s >= 3600)
		snprintf(buf, n, "%d:%02d:%02d", (int)s / 3600, (int)s / 60 % 60, (int)s % 60);
	else
		snprintf(buf, n, "%d:%02d", (int)s / 60, (int)s % 60);
}

void progress_update(struct progress *p, double done, const char *extra)
{
	if (!p->on)
		return;
	double now = cli_now();
	if (p->drawn && now - p->last_draw < 0.1 && !(p->total > 0 && done >= p->total))
		return;
	p->last_draw = now;
	p->drawn = true;
	double elapsed = now - p->start;
	char eta[32];
	if (p->total > 0) {
		double frac = done / p->total;
		if (frac > 1)
			frac = 1;
		enum { WIDTH = 24 };
		char bar[WIDTH + 1];
		int fill = (int)(frac * WIDTH);
		memset(bar, '#', (size_t)fill);
		memset(bar + fill, '.', (size_t)(WIDTH - fill));
		bar[WIDTH] = '\0';
		format_duration(eta, sizeof eta, frac > 0 ? elapsed * (1 - frac) / frac : NAN);
		fprintf(stderr, "\r%s [%s] %3.0f%% %.0f/%.0f ETA %s %s\033[K", p->label, bar,
			frac * 100, done, p->total, eta, extra ? extra : "");
	} else {
		format_duration(eta, sizeof eta, elapsed);
		fprintf(stderr, "\r%s %.0f (%s) %s\033[K", p->label, done, eta, extra ? extra : "");
	}
	fflush(stderr);
}

void progress_end(struct progress *p)
{
	if (p->on && p->drawn) {
		fputc('\n', stderr);
		fflush(stderr);
	}
	p->drawn = false;
}
