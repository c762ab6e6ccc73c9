#!/usr/bin/python3
"""Unit quality figures for bench/units-corpus.sh, from token archives.

usage: units_corpus.py K VOICES.ids SPLIT:A.ids:B.ids ...
A.ids are a held-out split's tokens, B.ids the tokens of the same audio after
zip-detokenize. VOICES.ids are the tokens of the same sentences in several
voices, ids SENTENCE-VOICE. Prints, tab-separated: the round-trip retention
(% of tokens kept) of each split, the unit perplexity over all held-out
splits, and xvoice, xtext and their ratio (see units.py) on VOICES.ids;
xvoice of each pair of voices goes to stderr.
"""
import math
import sys
from collections import Counter
from itertools import combinations

import os
sys.path.insert(0, os.path.dirname(__file__))
from units import collapse, ned, read  # noqa: E402


def kept(a, b):
    same = total = 0
    for u, s in a.items():
        t = b.get(u, [])
        total += len(s)
        same += sum(x == y for x, y in zip(s, t))
    return 100 * same / max(total, 1)


def main():
    k, voices = int(sys.argv[1]), read(sys.argv[2])
    out, c = [], Counter()
    for arg in sys.argv[3:]:
        _, pa, pb = arg.split(":")
        a = read(pa)
        out.append("%.1f" % kept(a, read(pb)))
        c.update(x for s in a.values() for x in s)
    n = sum(c.values())
    ppl = math.exp(-sum(v / n * math.log(v / n) for v in c.values()))
    by = {tuple(u.split("-", 1)): collapse(s) for u, s in voices.items()}
    sents = sorted({s for s, _ in by})
    vs = sorted({v for _, v in by})
    xv = [ned(by[(s, v1)], by[(s, v2)]) for s in sents for v1, v2 in combinations(vs, 2)]
    for v1, v2 in combinations(vs, 2):  # which voices differ most: on stderr
        d = [ned(by[(s, v1)], by[(s, v2)]) for s in sents]
        print("# xvoice %s %s %.3f" % (v1, v2, sum(d) / len(d)), file=sys.stderr)
    xt = [ned(by[(s1, v)], by[(s2, v)]) for v in vs for s1, s2 in combinations(sents, 2)]
    xvoice, xtext = sum(xv) / len(xv), sum(xt) / len(xt)
    out += ["%.0f/%d" % (ppl, k), "%.3f" % xvoice, "%.3f" % xtext, "%.3f" % (xvoice / xtext)]
    print("\t".join(out))


if __name__ == "__main__":
    main()
