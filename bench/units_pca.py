#!/usr/bin/python3
"""PCA whitening of the stacked log-mel vectors: does it make better units?

usage: units_pca.py FEATS.ark K [EVAL.ark]
FEATS.ark is a tensor archive from `zip-tokenize --emit features` whose ids
are SENTENCE-VOICE (bench/units.sh makes such a set). With EVAL.ark (ids
SENTENCE-VOICE; bench/units-corpus.sh), statistics, PCA and codebook are
fitted on FEATS.ark (any ids) and the figures measured on EVAL.ark. For each variant, the
same k-means (k-means++ then 20 Lloyd iterations, NumPy, seed 1) on the
stacked 4 x 80 vectors, and the figures of bench/units.py that need no
vocoder: perplexity, xvoice, xtext, ratio.
  global     per-bin mean/std normalisation (zip-tokenize's default)
  utterance  per-utterance per-bin normalisation (--norm utterance)
  pca-white  global normalisation, then PCA whitening (all 320 components,
             each scaled to unit variance)
  pca-64     global normalisation, then the top 64 principal components
             (not whitened)
  deltas     global normalisation of frames extended by their first-order
             deltas (x[t+1] - x[t-1]) / 2, so 4 x 160 dimensions
"""
import sys
from itertools import combinations

import numpy as np

sys.path.insert(0, __import__("os").path.dirname(__file__))
from units import collapse, ned  # noqa: E402


def read_archive(path):
    out = {}
    with open(path, "rb") as f:
        while True:
            ident = b""
            while True:
                c = f.read(1)
                if not c or c == b" ":
                    break
                ident += c
            if not ident:
                return out
            out[ident.decode()] = np.lib.format.read_array(f)


def stack(m, s=4):
    T = len(m)
    n = -(-T // s)
    idx = np.minimum(np.arange(n * s), T - 1)
    return m[idx].reshape(n, s * m.shape[1])


def kmeans(X, k, rng, iters=20):
    C = [X[rng.integers(len(X))]]
    d = ((X - C[0]) ** 2).sum(1)
    for _ in range(1, k):
        C.append(X[rng.choice(len(X), p=d / d.sum())])
        d = np.minimum(d, ((X - C[-1]) ** 2).sum(1))
    C = np.array(C)
    for _ in range(iters):
        lab = assign(X, C)
        for j in range(k):
            if (lab == j).any():
                C[j] = X[lab == j].mean(0)
    return C


def assign(X, C):
    return ((X ** 2).sum(1)[:, None] - 2 * X @ C.T + (C ** 2).sum(1)[None, :]).argmin(1)


def figures(units, k):
    allu = np.concatenate(list(units.values()))
    p = np.bincount(allu, minlength=k) / len(allu)
    p = p[p > 0]
    ppl = np.exp(-(p * np.log(p)).sum())
    by = {tuple(u.split("-", 1)): collapse(list(s)) for u, s in units.items()}
    sents = sorted({s for s, _ in by})
    voices = sorted({v for _, v in by})
    xv = np.mean([ned(by[(s, a)], by[(s, b)]) for s in sents for a, b in combinations(voices, 2)])
    xt = np.mean([ned(by[(a, v)], by[(b, v)]) for v in voices for a, b in combinations(sents, 2)])
    return ppl, xv, xt, xv / xt


def transforms(feats):
    """Each variant's feature map (an utterance's log-mel frames to its
    stacked vectors), with its statistics and PCA fitted on feats."""
    allf = np.concatenate(list(feats.values()))
    mu, sd = allf.mean(0), np.maximum(allf.std(0), 1e-3)

    def glob(m):
        return stack((m - mu) / sd)

    def utt(m):
        return stack((m - m.mean(0)) / np.maximum(m.std(0), 1e-3))

    X = np.concatenate([glob(m) for m in feats.values()])
    xm = X.mean(0)
    w, V = np.linalg.eigh(np.cov(X.T))
    w, V = w[::-1], V[:, ::-1]

    def white(m):
        return (glob(m) - xm) @ V / np.sqrt(np.maximum(w, 1e-6))

    def top(m):
        return (glob(m) - xm) @ V[:, :64]

    def ext(m):
        p = np.concatenate([m[:1], m, m[-1:]])
        return np.concatenate([m, (p[2:] - p[:-2]) / 2], axis=1)

    alle = np.concatenate([ext(m) for m in feats.values()])
    emu, esd = alle.mean(0), np.maximum(alle.std(0), 1e-3)

    def deltas(m):
        return stack((ext(m) - emu) / esd)

    return (("global", glob), ("utterance", utt), ("pca-white", white), ("pca-64", top), ("deltas", deltas))


def main():
    fit, k = read_archive(sys.argv[1]), int(sys.argv[2])
    ev = read_archive(sys.argv[3]) if len(sys.argv) > 3 else fit
    print("variant\tppl\txvoice\txtext\tratio")
    for name, f in transforms(fit):
        C = kmeans(np.concatenate([f(m) for m in fit.values()]), k, np.random.default_rng(1))
        units = {u: assign(f(m), C) for u, m in ev.items()}
        ppl, xv, xt, ratio = figures(units, k)
        print("%s\t%.0f/%d\t%.3f\t%.3f\t%.3f" % (name, ppl, k, xv, xt, ratio), flush=True)


if __name__ == "__main__":
    main()
