#!/usr/bin/python3
"""Unit quality figures for bench/units.sh, from token archives.

usage: units.py TOKENS REBUILT_TOKENS K
Utterance ids are SENTENCE-VOICE. Prints, tab-separated:
  kept      % of tokens equal after audio -> tokens -> audio -> tokens
  ppl       perplexity of the unit distribution (how many units are really used)
  xvoice    mean normalised edit distance between the (run-length collapsed)
            unit strings of the same sentence in two voices
  xtext     the same between different sentences in the same voice
  ratio     xvoice / xtext: lower means the units follow the words more than
            the voice
"""
import math
import sys
from collections import Counter
from itertools import combinations


def read(path):
    out = {}
    for line in open(path):
        if line.startswith("#"):
            continue
        f = line.split()
        out[f[0]] = [int(x) for x in f[1:]]
    return out


def collapse(s):
    return [x for i, x in enumerate(s) if i == 0 or s[i - 1] != x]


def ned(a, b):
    prev = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        for j, y in enumerate(b, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x != y))
        prev = cur
    return prev[-1] / max(len(a), len(b), 1)


def main():
    a, b, k = read(sys.argv[1]), read(sys.argv[2]), int(sys.argv[3])
    same = total = 0
    for u, s in a.items():
        t = b.get(u, [])
        total += len(s)
        same += sum(x == y for x, y in zip(s, t))
    c = Counter(x for s in a.values() for x in s)
    n = sum(c.values())
    ppl = math.exp(-sum(v / n * math.log(v / n) for v in c.values()))
    by = {}
    for u, s in a.items():
        sent, voice = u.split("-", 1)
        by[(sent, voice)] = collapse(s)
    sents = sorted({s for s, _ in by})
    voices = sorted({v for _, v in by})
    xv = [ned(by[(s, v1)], by[(s, v2)]) for s in sents for v1, v2 in combinations(voices, 2)]
    xt = [ned(by[(s1, v)], by[(s2, v)]) for v in voices for s1, s2 in combinations(sents, 2)]
    xvoice, xtext = sum(xv) / len(xv), sum(xt) / len(xt)
    print("%.1f\t%.0f/%d\t%.3f\t%.3f\t%.3f" % (100 * same / total, ppl, k, xvoice, xtext, xvoice / xtext))


if __name__ == "__main__":
    main()
