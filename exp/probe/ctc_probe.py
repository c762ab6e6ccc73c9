#!/usr/bin/env python3
"""How much of the transcript can a small model read from the audio?

A diagnostic for exp/README.md, not part of the toolkit (CI does not run it;
it needs PyTorch, e.g. Debian's python3-torch). It trains a small
bidirectional Transformer encoder with a CTC loss over characters, either
on speech units (a zipper token archive) or on log-mel features
(`zip-tokenize --emit features`, stacked four frames to the units' 25/s),
and prints greedy dev WER and CER every --eval-every steps. Same model,
same optimiser, same batches for both inputs: the difference measures what
the units lose, and the curve says how much training reading speech takes
here at all.

  python3 ctc_probe.py --units train.speech.tok --dev-units dev.speech.tok \\
      --text data/train/text --dev-text data/dev/text --steps 3000
  python3 ctc_probe.py --features train.ark --dev-features dev.ark ...
"""
import argparse
import random
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

CHARS = " abcdefghijklmnopqrstuvwxyz'"
STACK = 4      # log-mel frames per unit (100/s -> 25/s)
N_MELS = 80
D = 192        # model width
UPSAMPLE = 2   # CTC needs room for blanks: two outputs per input position


def read_units(path):
    """{id: list of ints} from a zipper token archive."""
    out = {}
    for line in open(path):
        if line.startswith('#!'):
            continue
        f = line.split()
        out[f[0]] = [int(x) for x in f[1:]]
    return out


def read_frames(path):
    """{id: (T, 80) log-mel frames} from a tensor archive."""
    out = {}
    with open(path, 'rb') as f:
        while (key := f.read(1)):
            while not key.endswith(b' '):
                key += f.read(1)
            out[key.decode().strip()] = np.lib.format.read_array(f)
    return out


def read_features(path):
    """{id: (T/4, 320) array}: the frames stacked four at a time, as the units are."""
    out = {}
    for key, a in read_frames(path).items():
        T = len(a) // STACK * STACK
        out[key] = a[:T].reshape(T // STACK, STACK * N_MELS)
    return out


def normalise(train, dev):
    """Global per-bin mean/variance from (a sample of) the training frames."""
    sample = np.concatenate([v.reshape(-1, N_MELS) for v in list(train.values())[:500]])
    mu = np.tile(sample.mean(0), STACK)
    sd = np.tile(sample.std(0) + 1e-5, STACK)
    conv = lambda d: {k: torch.tensor((v - mu) / sd, dtype=torch.float32) for k, v in d.items()}
    return conv(train), conv(dev)


def read_text(path):
    out = {}
    for line in open(path):
        k, _, t = line.rstrip('\n').partition(' ')
        out[k] = t
    return out


class Probe(nn.Module):
    def __init__(self, features, vocab):
        super().__init__()
        self.features = features
        self.inp = nn.Linear(STACK * N_MELS, D) if features else nn.Embedding(vocab, D)
        self.conv = nn.Conv1d(D, D, 5, padding=2)
        layer = nn.TransformerEncoderLayer(D, 4, 4 * D, 0.1, batch_first=True, norm_first=True)
        self.enc = nn.TransformerEncoder(layer, 4)
        self.out = nn.Linear(D, len(CHARS) + 1)  # 0 is the blank

    def forward(self, x, pad):
        h = self.inp(x).repeat_interleave(UPSAMPLE, dim=1)
        T = h.shape[1]
        h = self.conv(h.transpose(1, 2)).transpose(1, 2)
        pos = torch.arange(T)[:, None] / torch.pow(10000, torch.arange(0, D, 2) / D)
        pe = torch.zeros(T, D)
        pe[:, 0::2], pe[:, 1::2] = torch.sin(pos), torch.cos(pos)
        h = self.enc(h + pe, src_key_padding_mask=pad.repeat_interleave(UPSAMPLE, dim=1))
        return self.out(h).log_softmax(-1)


def collate(rows, features):
    T = max(len(x) for x, _, _ in rows)
    x = torch.zeros(len(rows), T, STACK * N_MELS) if features else torch.zeros(len(rows), T, dtype=torch.long)
    pad = torch.ones(len(rows), T, dtype=torch.bool)
    for i, (u, _, _) in enumerate(rows):
        x[i, :len(u)] = u if features else torch.tensor(u)
        pad[i, :len(u)] = False
    return x, pad


def edits(ref, hyp):
    d = list(range(len(hyp) + 1))
    for i in range(1, len(ref) + 1):
        prev, d[0] = d[0], i
        for j in range(1, len(hyp) + 1):
            prev, d[j] = d[j], min(d[j] + 1, d[j - 1] + 1, prev + (ref[i - 1] != hyp[j - 1]))
    return d[len(hyp)]


def error_rate(refs, hyps):
    return 100 * sum(edits(r, h) for r, h in zip(refs, hyps)) / sum(len(r) for r in refs)


def evaluate(model, dev, features):
    model.eval()
    refs, hyps = [], []
    with torch.no_grad():
        for i in range(0, len(dev), 32):
            rows = dev[i:i + 32]
            lp = model(*collate(rows, features))
            for b, (u, _, text) in enumerate(rows):
                best, prev, s = lp[b, :UPSAMPLE * len(u)].argmax(-1).tolist(), 0, []
                for k in best:
                    if k != prev and k != 0:
                        s.append(CHARS[k - 1])
                    prev = k
                hyps.append(''.join(s))
                refs.append(text)
    model.train()
    wer = error_rate([r.split() for r in refs], [h.split() for h in hyps])
    cer = error_rate(refs, hyps)
    return wer, cer, hyps[0], refs[0]


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--units'), p.add_argument('--dev-units')
    p.add_argument('--features'), p.add_argument('--dev-features')
    p.add_argument('--text', required=True), p.add_argument('--dev-text', required=True)
    p.add_argument('--steps', type=int, default=3000)
    p.add_argument('--eval-every', type=int, default=500)
    p.add_argument('--batch', type=int, default=16)
    p.add_argument('--lr', type=float, default=1e-3)
    p.add_argument('--seed', type=int, default=1)
    a = p.parse_args()
    torch.manual_seed(a.seed)
    random.seed(a.seed)
    torch.set_num_threads(1)
    features = a.features is not None
    if features:
        train, dev = normalise(read_features(a.features), read_features(a.dev_features))
    else:
        train, dev = read_units(a.units), read_units(a.dev_units)
    vocab = 1 + max(max(v) for v in train.values()) if not features else 0
    ttext, dtext = read_text(a.text), read_text(a.dev_text)
    cid = {c: i + 1 for i, c in enumerate(CHARS)}
    pairs = lambda u, t: [(u[k], [cid[c] for c in t[k] if c in cid], t[k]) for k in sorted(u) if k in t]
    tr, dv = pairs(train, ttext), pairs(dev, dtext)
    model = Probe(features, max(vocab, 1030))
    opt = torch.optim.AdamW(model.parameters(), a.lr, weight_decay=0.01)
    print(f'# {len(tr)} training and {len(dv)} dev utterances, '
          f'{sum(p.numel() for p in model.parameters())} parameters', flush=True)
    # batches of similar length (padding would cost more than the model)
    by_len = sorted(range(len(tr)), key=lambda k: len(tr[k][0]))
    batches = [by_len[i:i + a.batch] for i in range(0, len(by_len) - a.batch + 1, a.batch)]
    t0, step = time.time(), 0
    while step < a.steps:
        random.shuffle(batches)
        for ks in batches:
            rows = [tr[k] for k in ks]
            lp = model(*collate(rows, features))
            lens = torch.tensor([UPSAMPLE * len(u) for u, _, _ in rows])
            y = torch.cat([torch.tensor(yy) for _, yy, _ in rows])
            ylens = torch.tensor([len(yy) for _, yy, _ in rows])
            loss = F.ctc_loss(lp.transpose(0, 1), y, lens, ylens, zero_infinity=True)
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            step += 1
            if step % a.eval_every == 0:
                wer, cer, h, r = evaluate(model, dv, features)
                print(f'step {step} {time.time() - t0:.0f}s train_loss {loss.item():.3f} '
                      f'dev WER {wer:.1f} CER {cer:.1f} | {h} | {r}', flush=True)
            if step >= a.steps:
                break


if __name__ == '__main__':
    sys.exit(main())
