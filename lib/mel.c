/* mel: framing, FFTW3f, Slaney filterbank, log. See mel.h for the numbers. */
#include "config.h"

#include <fftw3.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "mel.h"
#include "xalloc.h"

/* ---- plans: made once per process, executed on per-object buffers ---- */

static pthread_once_t plans_once = PTHREAD_ONCE_INIT;
static fftwf_plan plan_r2c, plan_c2r;

static void make_plans(void)
{
	/* FFTW's planner is not thread-safe; pthread_once serialises it and the
	 * new-array execute functions used below are safe to call concurrently. */
	float *in = fftwf_malloc(sizeof(float) * MEL_NFFT);
	fftwf_complex *out = fftwf_malloc(sizeof(fftwf_complex) * MEL_NBINS);
	plan_r2c = fftwf_plan_dft_r2c_1d(MEL_NFFT, in, out, FFTW_ESTIMATE);
	plan_c2r = fftwf_plan_dft_c2r_1d(MEL_NFFT, out, in, FFTW_ESTIMATE);
	fftwf_free(in);
	fftwf_free(out);
}

size_t mel_frames(size_t n)
{
	return 1 + n / MEL_HOP;
}

void mel_window(float *w)
{
	for (int i = 0; i < MEL_WIN; i++)
		w[i] = (float)(0.5 - 0.5 * cos(2 * M_PI * i / MEL_WIN));
}

/* ---- the Slaney mel scale ---- */

static double hz_to_mel(double hz)
{
	const double f_sp = 200.0 / 3, min_log_hz = 1000, logstep = log(6.4) / 27;
	return hz < min_log_hz ? hz / f_sp : min_log_hz / f_sp + log(hz / min_log_hz) / logstep;
}

static double mel_to_hz(double mel)
{
	const double f_sp = 200.0 / 3, min_log_mel = 15, logstep = log(6.4) / 27;
	return mel < min_log_mel ? mel * f_sp : 1000 * exp(logstep * (mel - min_log_mel));
}

void mel_filterbank(float *fb)
{
	double edges[MEL_NMELS + 2];
	double lo = hz_to_mel(0), hi = hz_to_mel(MEL_RATE / 2);
	for (int i = 0; i < MEL_NMELS + 2; i++)
		edges[i] = mel_to_hz(lo + (hi - lo) * i / (MEL_NMELS + 1));
	for (int m = 0; m < MEL_NMELS; m++) {
		double left = edges[m], centre = edges[m + 1], right = edges[m + 2];
		double norm = 2.0 / (right - left);
		for (int k = 0; k < MEL_NBINS; k++) {
			double f = (double)k * MEL_RATE / MEL_NFFT;
			double up = (f - left) / (centre - left), down = (right - f) / (right - centre);
			double w = fmax(0.0, fmin(up, down));
			fb[m * MEL_NBINS + k] = (float)(w * norm);
		}
	}
}

/* ---- struct mel ---- */

struct mel {
	float window[MEL_WIN];
	/* The filterbank kept sparse: filter m is nonzero on bins [first[m], first[m] + len[m]). */
	int first[MEL_NMELS], len[MEL_NMELS];
	float *weights[MEL_NMELS];
	float *frame;        /* (MEL_NFFT) fftw-aligned */
	fftwf_complex *spec; /* (MEL_NBINS) fftw-aligned */
	float power[MEL_NBINS];
};

struct mel *mel_new(void)
{
	pthread_once(&plans_once, make_plans);
	struct mel *m = xcalloc(1, sizeof *m);
	mel_window(m->window);
	float *fb = xmallocarray((size_t)MEL_NMELS * MEL_NBINS, sizeof *fb);
	mel_filterbank(fb);
	for (int i = 0; i < MEL_NMELS; i++) {
		const float *row = fb + (size_t)i * MEL_NBINS;
		int a = 0, b = MEL_NBINS;
		while (a < MEL_NBINS && row[a] == 0)
			a++;
		while (b > a && row[b - 1] == 0)
			b--;
		m->first[i] = a;
		m->len[i] = b - a;
		m->weights[i] = xmallocarray((size_t)(b - a) + 1, sizeof(float));
		memcpy(m->weights[i], row + a, (size_t)(b - a) * sizeof(float));
	}
	free(fb);
	m->frame = fftwf_malloc(sizeof(float) * MEL_NFFT);
	m->spec = fftwf_malloc(sizeof(fftwf_complex) * MEL_NBINS);
	if (!m->frame || !m->spec)
		xmalloc((size_t)-1); /* reports out of memory and exits */
	return m;
}

void mel_free(struct mel *m)
{
	if (!m)
		return;
	for (int i = 0; i < MEL_NMELS; i++)
		free(m->weights[i]);
	fftwf_free(m->frame);
	fftwf_free(m->spec);
	free(m);
}

/* frame (MEL_NFFT) = window * pcm[start, start + MEL_WIN), zeros elsewhere. */
static void load_frame(float *frame, const float *window, const float *pcm, size_t n, long start)
{
	for (int i = 0; i < MEL_WIN; i++) {
		long j = start + i;
		frame[i] = j >= 0 && (size_t)j < n ? window[i] * pcm[j] : 0.0f;
	}
	memset(frame + MEL_WIN, 0, (MEL_NFFT - MEL_WIN) * sizeof *frame);
}

void mel_compute(struct mel *m, float *out, const float *pcm, size_t n)
{
	size_t T = mel_frames(n);
	for (size_t t = 0; t < T; t++) {
		load_frame(m->frame, m->window, pcm, n, (long)(t * MEL_HOP) - MEL_WIN / 2);
		fftwf_execute_dft_r2c(plan_r2c, m->frame, m->spec);
		for (int k = 0; k < MEL_NBINS; k++)
			m->power[k] = m->spec[k][0] * m->spec[k][0] + m->spec[k][1] * m->spec[k][1];
		float *o = out + t * MEL_NMELS;
		for (int i = 0; i < MEL_NMELS; i++) {
			const float *w = m->weights[i], *p = m->power + m->first[i];
			float s = 0;
			for (int k = 0; k < m->len[i]; k++)
				s += w[k] * p[k];
			o[i] = logf(s > MEL_FLOOR ? s : MEL_FLOOR);
		}
	}
}

/* ---- STFT for the vocoder ---- */

struct stft {
	float window[MEL_WIN];
	float *frame;
	fftwf_complex *spec;
};

struct stft *stft_new(void)
{
	pthread_once(&plans_once, make_plans);
	struct stft *s = xcalloc(1, sizeof *s);
	mel_window(s->window);
	s->frame = fftwf_malloc(sizeof(float) * MEL_NFFT);
	s->spec = fftwf_malloc(sizeof(fftwf_complex) * MEL_NBINS);
	if (!s->frame || !s->spec)
		xmalloc((size_t)-1);
	return s;
}

void stft_free(struct stft *s)
{
	if (!s)
		return;
	fftwf_free(s->frame);
	fftwf_free(s->spec);
	free(s);
}

void stft_forward(struct stft *s, float *spec, const float *pcm, size_t n)
{
	size_t T = mel_frames(n);
	for (size_t t = 0; t < T; t++) {
		load_frame(s->frame, s->window, pcm, n, (long)(t * MEL_HOP) - MEL_WIN / 2);
		fftwf_execute_dft_r2c(plan_r2c, s->frame, s->spec);
		memcpy(spec + t * 2 * MEL_NBINS, s->spec, sizeof(fftwf_complex) * MEL_NBINS);
	}
}

void stft_inverse(struct stft *s, float *pcm, const float *spec, size_t T)
{
	size_t n = (T - 1) * MEL_HOP;
	float *wsum = xcalloc(n + 1, sizeof *wsum);
	memset(pcm, 0, n * sizeof *pcm);
	for (size_t t = 0; t < T; t++) {
		memcpy(s->spec, spec + t * 2 * MEL_NBINS, sizeof(fftwf_complex) * MEL_NBINS);
		fftwf_execute_dft_c2r(plan_c2r, s->spec, s->frame); /* unnormalised */
		long start = (long)(t * MEL_HOP) - MEL_WIN / 2;
		for (int i = 0; i < MEL_WIN; i++) {
			long j = start + i;
			if (j < 0 || (size_t)j >= n)
				continue;
			pcm[j] += s->window[i] * s->frame[i] * (1.0f / MEL_NFFT);
			wsum[j] += s->window[i] * s->window[i];
		}
	}
	for (size_t j = 0; j < n; j++)
		if (wsum[j] > 1e-6f)
			pcm[j] /= wsum[j];
	free(wsum);
}
