#!/usr/bin/python3
"""Reference log-mel for lib/mel.c, written independently with NumPy (float64).

Writes tests/data/mel_input.f32 (a 12345-sample test signal: a chirp, two
tones and noise, float32 little-endian) and tests/data/mel_ref.f32 (the
log-mel frames, (T, 80) float32 little-endian, T = 1 + 12345 // 160 = 78).

Analysis (see lib/mel.h): periodic Hann of 400, hop 160, centred frames with
zero padding, 512-point rFFT, power, 80 Slaney-scale filters 0..8000 Hz with
Slaney area normalisation, natural log of max(x, 1e-10).

Run from the source tree: /usr/bin/python3 tests/ref/mel.py
"""
import os
import numpy as np

SR, WIN, HOP, NFFT, NMELS = 16000, 400, 160, 512, 80


def slaney_hz_to_mel(f):
    f = np.asarray(f, dtype=np.float64)
    lin = f * 3.0 / 200.0
    logpart = 15.0 + np.log(np.maximum(f, 1e-9) / 1000.0) * 27.0 / np.log(6.4)
    return np.where(f >= 1000.0, logpart, lin)


def slaney_mel_to_hz(m):
    m = np.asarray(m, dtype=np.float64)
    lin = m * 200.0 / 3.0
    logpart = 1000.0 * np.exp((m - 15.0) * np.log(6.4) / 27.0)
    return np.where(m >= 15.0, logpart, lin)


def filterbank():
    pts = slaney_mel_to_hz(np.linspace(slaney_hz_to_mel(0.0), slaney_hz_to_mel(SR / 2), NMELS + 2))
    freqs = np.fft.rfftfreq(NFFT, 1.0 / SR)
    lower = (freqs[None, :] - pts[:-2, None]) / (pts[1:-1] - pts[:-2])[:, None]
    upper = (pts[2:, None] - freqs[None, :]) / (pts[2:] - pts[1:-1])[:, None]
    fb = np.clip(np.minimum(lower, upper), 0.0, None)
    return fb * (2.0 / (pts[2:] - pts[:-2]))[:, None]


def logmel(x):
    x = np.asarray(x, dtype=np.float64)
    T = 1 + len(x) // HOP
    padded = np.concatenate([np.zeros(WIN // 2), x, np.zeros(WIN)])
    win = np.hanning(WIN + 1)[:-1]  # periodic Hann
    idx = np.arange(T)[:, None] * HOP + np.arange(WIN)[None, :]
    frames = padded[idx] * win
    spec = np.fft.rfft(frames, n=NFFT, axis=1)
    power = spec.real ** 2 + spec.imag ** 2
    return np.log(np.maximum(power @ filterbank().T, 1e-10))


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out = os.path.join(here, "..", "data")
    rng = np.random.default_rng(5)
    n = 12345
    t = np.arange(n) / SR
    x = (0.3 * np.sin(2 * np.pi * (100 * t + 3000 * t * t))
         + 0.2 * np.sin(2 * np.pi * 440 * t) + 0.1 * np.sin(2 * np.pi * 5150 * t)
         + 0.05 * rng.standard_normal(n))
    x = x.astype("<f4")
    x.tofile(os.path.join(out, "mel_input.f32"))
    logmel(x).astype("<f4").tofile(os.path.join(out, "mel_ref.f32"))


if __name__ == "__main__":
    main()
