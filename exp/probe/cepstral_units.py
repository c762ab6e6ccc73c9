#!/usr/bin/env python3
"""Prototype speech units from truncated cepstra, for ctc_probe.py.

A diagnostic for exp/README.md, not part of the toolkit. The recipe's units
are k-means codes of four stacked 80-bin log-mel frames. Low mel bins
resolve the harmonics of the voice's pitch, so the codes may spend their
budget on the voice; keeping only the first N coefficients of each frame's
DCT (the spectral envelope, as MFCCs do) and removing the utterance's mean
(cepstral mean normalisation) should leave more of the words. Writes
NAME.train.stok and NAME.dev.stok (token archives without the header line,
which ctc_probe.py does not need).

  python3 cepstral_units.py 20 cep20 train.ark dev.ark
"""
import sys

import numpy as np
import torch

from ctc_probe import read_frames  # this directory

STACK, N_MELS, K, ITERS, FIT_UTTS = 4, 80, 512, 15, 1500


def main():
    n_cep, name, train_ark, dev_ark = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
    torch.manual_seed(1)
    torch.set_num_threads(1)
    n, k = np.arange(N_MELS), np.arange(n_cep)[:, None]
    dct = np.sqrt(2 / N_MELS) * np.cos(np.pi * k * (2 * n + 1) / (2 * N_MELS))  # orthonormal DCT-II rows
    dct[0] /= np.sqrt(2)

    def stacked_cepstra(logmel):
        c = logmel @ dct.T
        c = c - c.mean(0)
        T = len(c) // STACK * STACK
        return c[:T].reshape(T // STACK, STACK * n_cep)

    train, dev = read_frames(train_ark), read_frames(dev_ark)
    fit = np.concatenate([stacked_cepstra(v) for v in list(train.values())[:FIT_UTTS]])
    mu, sd = fit.mean(0), fit.std(0) + 1e-5
    x = torch.tensor((fit - mu) / sd, dtype=torch.float32)
    codebook = x[torch.randperm(len(x))[:K]].clone()
    for _ in range(ITERS):  # Lloyd
        nearest = torch.cdist(x, codebook).argmin(1)
        for j in range(K):
            members = nearest == j
            if members.any():
                codebook[j] = x[members].mean(0)
    for split, feats in (('train', train), ('dev', dev)):
        with open(f'{name}.{split}.stok', 'w') as f:
            for key, v in feats.items():
                z = torch.tensor((stacked_cepstra(v) - mu) / sd, dtype=torch.float32)
                f.write(key + ' ' + ' '.join(map(str, torch.cdist(z, codebook).argmin(1).tolist())) + '\n')


if __name__ == '__main__':
    main()
