#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "xalloc.h"
#include "zio.h"

enum { CHUNK = 1 << 16 };

struct zin {
	gzFile gz;
	char *name;
	unsigned char *buf; /* bytes read from gz, not yet consumed: buf[pos..end) */
	size_t pos, end, cap;
	char *line;
	size_t line_cap;
	long lineno;
	bool eof, failed;
};

struct zin *zin_open(const char *path)
{
	bool std = strcmp(path, "-") == 0;
	int fd = std ? dup(STDIN_FILENO) : open(path, O_RDONLY);
	if (fd < 0) {
		zerr_set("%s: %s", path, strerror(errno));
		return NULL;
	}
	struct stat st;
	if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
		close(fd);
		zerr_set("%s: is a directory", path);
		return NULL;
	}
	gzFile gz = gzdopen(fd, "rb");
	if (!gz) {
		close(fd);
		zerr_set("%s: out of memory opening", path);
		return NULL;
	}
	gzbuffer(gz, CHUNK);
	struct zin *in = xcalloc(1, sizeof *in);
	in->gz = gz;
	in->name = xstrdup(std ? "stdin" : path);
	in->cap = CHUNK;
	in->buf = xmalloc(in->cap);
	return in;
}

static int fill(struct zin *in)
{
	if (in->eof)
		return 0;
	if (in->pos > 0) {
		memmove(in->buf, in->buf + in->pos, in->end - in->pos);
		in->end -= in->pos;
		in->pos = 0;
	}
	if (in->end == in->cap)
		xgrow(&in->buf, &in->cap, in->cap + 1, 1);
	int n = gzread(in->gz, in->buf + in->end, (unsigned)(in->cap - in->end));
	if (n < 0) {
		int code;
		const char *msg = gzerror(in->gz, &code);
		zerr_set("%s: read error: %s", in->name, code == Z_ERRNO ? strerror(errno) : msg);
		in->failed = true;
		return -1;
	}
	if (n == 0)
		in->eof = true;
	in->end += (size_t)n;
	return n;
}

char *zin_getline(struct zin *in, size_t *len)
{
	size_t scanned = 0;
	for (;;) {
		unsigned char *start = in->buf + in->pos;
		unsigned char *nl = memchr(start + scanned, '\n', in->end - in->pos - scanned);
		if (nl || (in->eof && in->end > in->pos)) {
			size_t n = nl ? (size_t)(nl - start) : in->end - in->pos;
			in->pos += n + (nl != NULL);
			if (n > 0 && start[n - 1] == '\r')
				n--;
			xgrow(&in->line, &in->line_cap, n + 1, 1);
			memcpy(in->line, start, n);
			in->line[n] = '\0';
			in->lineno++;
			if (len)
				*len = n;
			return in->line;
		}
		if (in->eof)
			break;
		scanned = in->end - in->pos;
		if (fill(in) < 0)
			return NULL;
	}
	zerr_clear();
	return NULL;
}

ssize_t zin_read(struct zin *in, void *buf, size_t n)
{
	size_t got = 0;
	while (got < n) {
		if (in->pos == in->end) {
			int r = fill(in);
			if (r < 0)
				return -1;
			if (r == 0)
				break;
		}
		size_t take = in->end - in->pos;
		if (take > n - got)
			take = n - got;
		memcpy((char *)buf + got, in->buf + in->pos, take);
		in->pos += take;
		got += take;
	}
	return (ssize_t)got;
}

bool zin_failed(const struct zin *in)
{
	return in->failed;
}

long zin_lineno(const struct zin *in)
{
	return in->lineno;
}

const char *zin_name(const struct zin *in)
{
	return in->name;
}

void zin_close(struct zin *in)
{
	if (!in)
		return;
	gzclose(in->gz);
	free(in->name);
	free(in->buf);
	free(in->line);
	free(in);
}

struct zout {
	gzFile gz;
	int fd; /* kept open past gzclose so we can fsync */
	char *path, *tmp;
	char *fmt_buf;
	size_t fmt_cap;
	bool failed;
	struct zout *next_pending;
};

/* Outputs not yet committed, so an exit() anywhere removes their temp files. */
static struct zout *pending;
static bool cleanup_registered;

static void remove_pending(void)
{
	for (struct zout *o = pending; o; o = o->next_pending)
		if (o->tmp)
			unlink(o->tmp);
}

static void unlink_pending(struct zout *out)
{
	for (struct zout **p = &pending; *p; p = &(*p)->next_pending)
		if (*p == out) {
			*p = out->next_pending;
			return;
		}
}

static int open_temp(struct zout *out)
{
	const char *slash = strrchr(out->path, '/');
	if (slash)
		out->tmp = xasprintf("%.*s/.%s.tmpXXXXXX", (int)(slash - out->path), out->path, slash + 1);
	else
		out->tmp = xasprintf(".%s.tmpXXXXXX", out->path);
	out->fd = mkstemp(out->tmp);
	if (out->fd < 0) {
		zerr_set("%s: cannot create: %s", out->path, strerror(errno));
		free(out->tmp);
		out->tmp = NULL;
		return -1;
	}
	/* mkstemp makes 0600; give the file the mode a plain create would. */
	mode_t mask = umask(0);
	umask(mask);
	fchmod(out->fd, 0666 & ~mask);
	if (!cleanup_registered) {
		atexit(remove_pending);
		cleanup_registered = true;
	}
	out->next_pending = pending;
	pending = out;
	return 0;
}

static bool has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && strcmp(s + n - m, suffix) == 0;
}

struct zout *zout_open(const char *path)
{
	struct zout *out = xcalloc(1, sizeof *out);
	out->path = xstrdup(path);
	struct stat st;
	if (strcmp(path, "-") == 0) {
		fflush(stdout);
		out->fd = dup(STDOUT_FILENO);
	} else if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
		/* Said now, not by the rename after all the work is done. */
		zerr_set("%s: is a directory", path);
		free(out->path);
		free(out);
		return NULL;
	} else if (open_temp(out) < 0) {
		free(out->path);
		free(out);
		return NULL;
	}
	bool compress = strcmp(path, "-") != 0 && has_suffix(path, ".gz");
	out->gz = gzdopen(dup(out->fd), compress ? "wb6" : "wbT");
	if (!out->gz) {
		zerr_set("%s: out of memory opening", path);
		zout_abort(out);
		return NULL;
	}
	gzbuffer(out->gz, CHUNK);
	return out;
}

int zout_write(struct zout *out, const void *buf, size_t n)
{
	const char *p = buf;
	while (n > 0 && !out->failed) {
		unsigned part = n > (1u << 30) ? 1u << 30 : (unsigned)n;
		if (gzwrite(out->gz, p, part) != (int)part) {
			int code;
			const char *msg = gzerror(out->gz, &code);
			zerr_set("%s: write error: %s", zout_name(out),
				 code == Z_ERRNO ? strerror(errno) : msg);
			out->failed = true;
		}
		p += part;
		n -= part;
	}
	return out->failed ? -1 : 0;
}

int zout_puts(struct zout *out, const char *s)
{
	return zout_write(out, s, strlen(s));
}

int zout_printf(struct zout *out, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(out->fmt_buf, out->fmt_cap, fmt, ap);
	va_end(ap);
	if (n < 0) {
		zerr_set("%s: formatting error", zout_name(out));
		return -1;
	}
	if ((size_t)n >= out->fmt_cap) {
		xgrow(&out->fmt_buf, &out->fmt_cap, (size_t)n + 1, 1);
		va_start(ap, fmt);
		vsnprintf(out->fmt_buf, out->fmt_cap, fmt, ap);
		va_end(ap);
	}
	return zout_write(out, out->fmt_buf, (size_t)n);
}

const char *zout_name(const struct zout *out)
{
	return strcmp(out->path, "-") == 0 ? "stdout" : out->path;
}

static void zout_free(struct zout *out)
{
	unlink_pending(out);
	free(out->path);
	free(out->tmp);
	free(out->fmt_buf);
	free(out);
}

int zout_commit(struct zout *out)
{
	int rc = out->failed ? -1 : 0;
	if (out->gz && gzclose(out->gz) != Z_OK && rc == 0) {
		zerr_set("%s: write error: %s", zout_name(out), strerror(errno));
		rc = -1;
	}
	out->gz = NULL;
	bool is_file = out->tmp != NULL;
	if (rc == 0 && is_file && fsync(out->fd) != 0) {
		zerr_set("%s: fsync: %s", out->path, strerror(errno));
		rc = -1;
	}
	if (close(out->fd) != 0 && rc == 0 && is_file) {
		zerr_set("%s: close: %s", out->path, strerror(errno));
		rc = -1;
	}
	if (rc == 0 && is_file && rename(out->tmp, out->path) != 0) {
		zerr_set("%s: cannot rename into place: %s", out->path, strerror(errno));
		rc = -1;
	}
	if (rc != 0 && is_file)
		unlink(out->tmp);
	zout_free(out);
	return rc;
}

void zout_abort(struct zout *out)
{
	if (out->gz)
		gzclose(out->gz);
	close(out->fd);
	if (out->tmp)
		unlink(out->tmp);
	zout_free(out);
}

int zout_check(const char *path)
{
	struct zout *out = zout_open(path);
	if (!out)
		return -1;
	zout_abort(out);
	return 0;
}

int zio_write_file(const char *path, const void *buf, size_t n)
{
	struct zout *out = zout_open(path);
	if (!out)
		return -1;
	if (zout_write(out, buf, n) < 0) {
		zout_abort(out);
		return -1;
	}
	return zout_commit(out);
}
