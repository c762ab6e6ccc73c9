/* audio: libsndfile in, libsamplerate across, 16 kHz PCM16 WAV out. */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <samplerate.h>
#include <sndfile.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audio.h"
#include "xalloc.h"
#include "zerr.h"
#include "zio.h"

/* ---- a growable memory file for libsndfile's virtual I/O ---- */

struct memfile {
	unsigned char *buf;
	size_t len, cap, pos;
	bool writable;
};

static sf_count_t mem_len(void *user)
{
	return (sf_count_t)((struct memfile *)user)->len;
}

static sf_count_t mem_seek(sf_count_t offset, int whence, void *user)
{
	struct memfile *m = user;
	sf_count_t base = whence == SEEK_SET ? 0 : whence == SEEK_CUR ? (sf_count_t)m->pos : (sf_count_t)m->len;
	sf_count_t to = base + offset;
	if (to < 0)
		return -1;
	m->pos = (size_t)to;
	return to;
}

static sf_count_t mem_read(void *ptr, sf_count_t count, void *user)
{
	struct memfile *m = user;
	if (count <= 0 || m->pos >= m->len)
		return 0;
	size_t n = m->len - m->pos < (size_t)count ? m->len - m->pos : (size_t)count;
	memcpy(ptr, m->buf + m->pos, n);
	m->pos += n;
	return (sf_count_t)n;
}

static sf_count_t mem_write(const void *ptr, sf_count_t count, void *user)
{
	struct memfile *m = user;
	if (!m->writable || count <= 0)
		return 0;
	size_t end = m->pos + (size_t)count;
	if (end > m->cap)
		xgrow(&m->buf, &m->cap, end, 1);
	if (m->pos > m->len) /* a seek past the end leaves a zeroed hole */
		memset(m->buf + m->len, 0, m->pos - m->len);
	memcpy(m->buf + m->pos, ptr, (size_t)count);
	m->pos = end;
	if (end > m->len)
		m->len = end;
	return count;
}

static sf_count_t mem_tell(void *user)
{
	return (sf_count_t)((struct memfile *)user)->pos;
}

static SF_VIRTUAL_IO mem_io = {mem_len, mem_seek, mem_read, mem_write, mem_tell};

/* ---- reading ---- */

static void set_open_error(const char *name, int err)
{
	switch (err) {
	case SF_ERR_UNRECOGNISED_FORMAT:
		zerr_set("%s: unsupported or unrecognised audio format", name);
		break;
	case SF_ERR_MALFORMED_FILE:
		zerr_set("%s: malformed audio file", name);
		break;
	case SF_ERR_UNSUPPORTED_ENCODING:
		zerr_set("%s: unsupported audio encoding", name);
		break;
	default:
		zerr_set("%s: cannot read audio: %s", name, sf_error_number(err));
	}
}

/* Averages the interleaved channels of one block into out. */
static void mixdown(float *out, const float *in, sf_count_t frames, int channels)
{
	if (channels == 1) {
		memcpy(out, in, (size_t)frames * sizeof *out);
		return;
	}
	float scale = 1.0f / (float)channels;
	for (sf_count_t i = 0; i < frames; i++) {
		float s = 0;
		for (int c = 0; c < channels; c++)
			s += in[i * channels + c];
		out[i] = s * scale;
	}
}

/* Decodes every frame of an open file into mono floats at its own rate. */
static int read_mono(SNDFILE *sf, const SF_INFO *info, const char *name, float **out, size_t *n)
{
	enum { BLOCK = 16384 };
	float *block = xmallocarray((size_t)BLOCK * (size_t)info->channels, sizeof *block);
	size_t cap = info->frames > 0 ? (size_t)info->frames : BLOCK, len = 0;
	float *pcm = xmallocarray(cap, sizeof *pcm);
	for (;;) {
		sf_count_t got = sf_readf_float(sf, block, BLOCK);
		if (got <= 0)
			break;
		if (len + (size_t)got > cap)
			xgrow(&pcm, &cap, len + (size_t)got, sizeof *pcm);
		mixdown(pcm + len, block, got, info->channels);
		len += (size_t)got;
	}
	free(block);
	int err = sf_error(sf);
	if (err != SF_ERR_NO_ERROR) {
		zerr_set("%s: read error after %zu frames: %s", name, len, sf_strerror(sf));
		free(pcm);
		return -1;
	}
	for (size_t i = 0; i < len; i++)
		if (!isfinite(pcm[i])) {
			zerr_set("%s: sample %zu is not a finite number", name, i);
			free(pcm);
			return -1;
		}
	*out = pcm;
	*n = len;
	return 0;
}

/* ---- truncation ---- */

/* The first bytes and the total length of an input, for the header checks
 * libsndfile does not make. */
struct head {
	const unsigned char *bytes;
	size_t len;
	uint64_t total;
};

static uint32_t le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* WAVs written where no seek back was possible carry a placeholder data
 * size: sox and espeak-ng write 0x7ffff000, ffmpeg 0xffffffff, others 0.
 * Anything from 2 GiB - 64 KiB up is taken as "unknown" (18 hours of
 * 16-bit 16 kHz mono: far past --max-seconds' default). */
static bool wav_size_unknown(uint32_t size)
{
	return size == 0 || size >= 0x7fff0000u;
}

/* A RIFF WAV whose data chunk declares more bytes than the input holds was
 * cut short; libsndfile reads what is there (logging "should be"), so the
 * chunks are walked here. Inputs that are not RIFF WAV, or whose data
 * chunk lies beyond the head, are not judged. */
static int check_wav_length(const struct head *h, const char *name)
{
	const unsigned char *b = h->bytes;
	if (h->len < 12 || memcmp(b, "RIFF", 4) || memcmp(b + 8, "WAVE", 4))
		return 0;
	for (size_t at = 12; at + 8 <= h->len;) {
		uint32_t size = le32(b + at + 4);
		if (!memcmp(b + at, "data", 4)) {
			uint64_t present = h->total - (at + 8);
			if (wav_size_unknown(size) || size <= present)
				return 0;
			zerr_set("%s: truncated WAV: the data chunk declares %lu bytes, %llu are present",
				 name, (unsigned long)size, (unsigned long long)present);
			return -1;
		}
		at += 8 + (size_t)size + (size & 1);
	}
	return 0;
}

/* FLAC's STREAMINFO states the exact length (0 when unknown); a decoder that
 * stops early means the file was cut. Lossy formats' lengths can be
 * estimates, so only FLAC is judged this way. */
static int check_frames(const SF_INFO *info, size_t got, const char *name)
{
	if ((info->format & SF_FORMAT_TYPEMASK) != SF_FORMAT_FLAC || info->frames == SF_COUNT_MAX ||
	    info->frames <= 0 || (sf_count_t)got >= info->frames)
		return 0;
	zerr_set("%s: truncated audio: %zu of the %lld frames its header declares are present", name,
		 got, (long long)info->frames);
	return -1;
}

static int check_info(const SF_INFO *info, const char *name, double max_seconds)
{
	if (info->channels < 1 || info->samplerate < 1) {
		zerr_set("%s: malformed audio file (%d channels at %d Hz)", name, info->channels,
			 info->samplerate);
		return -1;
	}
	if (info->frames == 0) {
		zerr_set("%s: no audio samples (zero-length audio)", name);
		return -1;
	}
	double seconds = (double)info->frames / info->samplerate;
	if (max_seconds > 0 && info->frames != SF_COUNT_MAX && seconds > max_seconds) {
		zerr_set("%s: %.1f s of audio is longer than the limit of %g s", name, seconds,
			 max_seconds);
		return -1;
	}
	return 0;
}

/* Shared tail of both readers: decode, check, bring to 16 kHz mono. */
static int finish_read(struct audio *a, SNDFILE *sf, SF_INFO *info, const struct head *h,
		       const char *name, double max_seconds)
{
	float *pcm = NULL;
	size_t n = 0;
	int rc = check_info(info, name, max_seconds);
	if (rc == 0)
		rc = check_wav_length(h, name);
	if (rc == 0)
		rc = read_mono(sf, info, name, &pcm, &n);
	sf_close(sf);
	if (rc == 0 && (rc = check_frames(info, n, name)))
		free(pcm);
	if (rc)
		return -1;
	if (n == 0) {
		free(pcm);
		zerr_set("%s: no audio samples (zero-length audio)", name);
		return -1;
	}
	if (max_seconds > 0 && (double)n / info->samplerate > max_seconds) {
		free(pcm);
		zerr_set("%s: %.1f s of audio is longer than the limit of %g s", name,
			 (double)n / info->samplerate, max_seconds);
		return -1;
	}
	if (info->samplerate == AUDIO_RATE) {
		a->pcm = pcm;
		a->n = n;
		return 0;
	}
	rc = audio_resample(&a->pcm, &a->n, pcm, n, info->samplerate, AUDIO_RATE);
	free(pcm);
	if (rc)
		zerr_prefix("%s", name);
	return rc;
}

int audio_read_mem(struct audio *a, const void *buf, size_t len, const char *name,
		   double max_seconds)
{
	a->pcm = NULL;
	a->n = 0;
	if (len == 0) {
		zerr_set("%s: empty input (zero-length audio)", name);
		return -1;
	}
	struct memfile m = {(unsigned char *)buf, len, len, 0, false};
	SF_INFO info = {0};
	SNDFILE *sf = sf_open_virtual(&mem_io, SFM_READ, &info, &m);
	if (!sf) {
		set_open_error(name, sf_error(NULL));
		return -1;
	}
	struct head h = {buf, len, len};
	return finish_read(a, sf, &info, &h, name, max_seconds);
}

static int read_stdin(struct audio *a, double max_seconds)
{
	struct zin *in = zin_open("-");
	if (!in)
		return -1;
	size_t cap = 1 << 16, len = 0;
	unsigned char *buf = xmalloc(cap);
	for (;;) {
		if (len == cap)
			xgrow(&buf, &cap, cap + 1, 1);
		ssize_t got = zin_read(in, buf + len, cap - len);
		if (got < 0) {
			zin_close(in);
			free(buf);
			return -1;
		}
		if (got == 0)
			break;
		len += (size_t)got;
	}
	zin_close(in);
	int rc = audio_read_mem(a, buf, len, "stdin", max_seconds);
	free(buf);
	return rc;
}

int audio_read(struct audio *a, const char *path, double max_seconds)
{
	a->pcm = NULL;
	a->n = 0;
	if (!strcmp(path, "-"))
		return read_stdin(a, max_seconds);
	/* Open it ourselves first: errno gives a clearer reason than libsndfile. */
	FILE *probe = fopen(path, "rb");
	if (!probe) {
		zerr_set("%s: cannot open: %s", path, strerror(errno));
		return -1;
	}
	struct stat st;
	bool statted = fstat(fileno(probe), &st) == 0;
	bool regular = statted && S_ISREG(st.st_mode);
	if (statted && S_ISDIR(st.st_mode)) {
		fclose(probe);
		zerr_set("%s: is a directory, not audio", path);
		return -1;
	}
	/* The head for check_wav_length: the fmt and data chunk headers
	 * normally lie in the first few hundred bytes. A FIFO or device is not
	 * read here (it would lose those bytes) and not judged. */
	unsigned char bytes[4096];
	struct head h = {bytes, 0, 0};
	if (regular) {
		h.len = fread(bytes, 1, sizeof bytes, probe);
		h.total = (uint64_t)st.st_size;
	}
	int empty = regular && st.st_size == 0;
	fclose(probe);
	if (empty) {
		zerr_set("%s: empty file (zero-length audio)", path);
		return -1;
	}
	SF_INFO info = {0};
	SNDFILE *sf = sf_open(path, SFM_READ, &info);
	if (!sf) {
		set_open_error(path, sf_error(NULL));
		return -1;
	}
	return finish_read(a, sf, &info, &h, path, max_seconds);
}

void audio_free(struct audio *a)
{
	free(a->pcm);
	a->pcm = NULL;
	a->n = 0;
}

int audio_resample(float **out, size_t *n_out, const float *in, size_t n, double rate_in,
		   double rate_out)
{
	double ratio = rate_out / rate_in;
	size_t cap = (size_t)ceil((double)n * ratio) + 16;
	float *buf = xmallocarray(cap, sizeof *buf);
	SRC_DATA d = {0};
	d.data_in = in;
	d.input_frames = (long)n;
	d.data_out = buf;
	d.output_frames = (long)cap;
	d.src_ratio = ratio;
	int err = src_simple(&d, SRC_SINC_MEDIUM_QUALITY, 1);
	if (err) {
		free(buf);
		zerr_set("resampling %g Hz to %g Hz: %s", rate_in, rate_out, src_strerror(err));
		return -1;
	}
	*out = buf;
	*n_out = (size_t)d.output_frames_gen;
	return 0;
}

/* ---- writing ---- */

int audio_write_wav(const char *path, const float *pcm, size_t n)
{
	struct memfile m = {NULL, 0, 0, 0, true};
	SF_INFO info = {0};
	info.samplerate = AUDIO_RATE;
	info.channels = 1;
	info.format = SF_FORMAT_WAV | SF_FORMAT_PCM_16;
	SNDFILE *sf = sf_open_virtual(&mem_io, SFM_WRITE, &info, &m);
	if (!sf) {
		zerr_set("%s: cannot write WAV: %s", path, sf_strerror(NULL));
		return -1;
	}
	/* libsndfile clips float input to the 16-bit range when asked to. */
	sf_command(sf, SFC_SET_CLIPPING, NULL, SF_TRUE);
	sf_count_t wrote = sf_writef_float(sf, pcm, (sf_count_t)n);
	int rc = wrote == (sf_count_t)n ? 0 : -1;
	if (rc)
		zerr_set("%s: cannot write WAV: %s", path, sf_strerror(sf));
	sf_close(sf);
	if (rc == 0)
		rc = zio_write_file(path, m.buf, m.len);
	free(m.buf);
	return rc;
}

char *audio_id_from_path(const char *path)
{
	if (!strcmp(path, "-"))
		return xstrdup("stdin");
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	const char *dot = strrchr(base, '.');
	size_t len = dot && dot != base ? (size_t)(dot - base) : strlen(base);
	return xstrndup(base, len);
}
