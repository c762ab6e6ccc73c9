#!/usr/bin/python3
"""Independent byte-level BPE, the slow obvious way, as a reference for
lib/bpe (rules in lib/bpe.h): recount every pair of every piece before each
merge; the next merge is the pair with the highest count, ties to the
smallest (left id, right id); merge left to right without overlap.
Encoding applies the merges one after another in the order learned (not
lib/bpe's lowest-rank-first loop, which must agree with it).

Writes two fixtures, each the corpus, the learned merges and the encodings
of some strings, every byte string in hex: tests/data/bpe_ref.txt (text
with some raw bytes) and tests/data/bpe_ref_ties.txt (a three-letter
alphabet, min count 1: ties and overlapping pairs everywhere).
    corpus N            then N lines of hex
    fit VOCAB MIN_COUNT
    merges M            then M lines "left right"
    encode K            then K lines "hex id id ..." ("-" for empty input)
Run from the top of the source tree: tests/ref/bpe.py tests/data
"""
import random
import sys
from collections import Counter

PAD, BOS, EOS, BYTE0 = 0, 1, 2, 3
BASE = BYTE0 + 256
MAX_PIECE = 256


def byte_class(c):
    if c == 0x20:
        return "space"
    if 0x61 <= c <= 0x7A or 0x41 <= c <= 0x5A or c >= 0x80:
        return "letter"
    if 0x30 <= c <= 0x39:
        return "digit"
    return "other"


def pieces(data):
    """An optional leading space + a run of one class, at most MAX_PIECE bytes."""
    out, i, n = [], 0, len(data)
    while i < n:
        limit = min(n, i + MAX_PIECE)
        j = i
        if data[j] == 0x20:
            j += 1
            if j == limit or data[j] == 0x20:
                out.append(data[i:j])
                i = j
                continue
        cls = byte_class(data[j])
        while j < limit and byte_class(data[j]) == cls:
            j += 1
        out.append(data[i:j])
        i = j
    return out


def merge_seq(seq, pair, new):
    out, i = [], 0
    while i < len(seq):
        if i + 1 < len(seq) and (seq[i], seq[i + 1]) == pair:
            out.append(new)
            i += 2
        else:
            out.append(seq[i])
            i += 1
    return out


def fit(lines, vocab, min_count):
    words = Counter()
    for line in lines:
        for p in pieces(line):
            words[tuple(BYTE0 + c for c in p)] += 1
    words = [[list(w), f] for w, f in words.items()]
    merges = []
    while BASE + len(merges) < vocab:
        counts = Counter()
        for seq, f in words:
            for pair in zip(seq, seq[1:]):
                counts[pair] += f
        if not counts:
            break
        best = min(counts, key=lambda p: (-counts[p], p))
        if counts[best] < min_count:
            break
        new = BASE + len(merges)
        merges.append(best)
        for w in words:
            w[0] = merge_seq(w[0], best, new)
    return merges


def encode(merges, data):
    ids = []
    for p in pieces(data):
        seq = [BYTE0 + c for c in p]
        for r, pair in enumerate(merges):
            seq = merge_seq(seq, pair, BASE + r)
        ids += seq
    return ids


def corpus(rng):
    words = ("the of and to a in is was he that it for on with as his at by "
             "had not be this but from they which or have one were all she "
             "there would their we him been has when who will more no if out "
             "so said what up its about into than them can only other new "
             "some could time these two may then do first any my now such "
             "like our over man me even most made after also did many before "
             "must through back years where much your way well down should "
             "because each just those people how too little state good very "
             "make world still own see men work long get here between both "
             "lower lowest newer newest wider widest café naïve 東京 München").split()
    punct = [",", ".", ";", "!", "?", " -", "...", "'s", "\"", "(", ")"]
    lines = []
    for _ in range(400):
        n = rng.randint(1, 14)
        text = ""
        for k in range(n):
            w = rng.choice(words)
            if rng.random() < 0.1:
                w = w.capitalize()
            text += ("" if k == 0 else " " * rng.choice([1, 1, 1, 1, 2])) + w
            if rng.random() < 0.15:
                text += rng.choice(punct)
            if rng.random() < 0.05:
                text += " " + str(rng.randint(0, 2027))
        lines.append(text.encode("utf-8"))
    for _ in range(20):  # bytes, not text: invalid UTF-8, NULs, tabs, newlines
        lines.append(bytes(rng.choice([0, 9, 10, 0x20, 0x41, 0x61, 0x80, 0xC3, 0xFF,
                                       rng.randrange(256)])
                           for _ in range(rng.randint(1, 40))))
    return lines


def probes(rng):
    out = [b"", b" ", b"  ", b"the lower world", b"Newest widest, naive cafe!",
           "naïve café in 東京 and München".encode("utf-8"), b"\x00\xff\xfe abc\n\t",
           b"1234567890 2026", b"a" * 300, b" " + b"x" * 257]
    for _ in range(10):
        out.append(bytes(rng.randrange(256) for _ in range(rng.randint(1, 60))))
    return out


def write_fixture(path, lines, vocab, min_count, ps):
    merges = fit(lines, vocab, min_count)
    with open(path, "w") as f:
        w = f.write
        w("corpus %d\n" % len(lines))
        for line in lines:
            w((line.hex() or "-") + "\n")
        w("fit %d %d\n" % (vocab, min_count))
        w("merges %d\n" % len(merges))
        for a, b in merges:
            w("%d %d\n" % (a, b))
        w("encode %d\n" % len(ps))
        for p in ps:
            w("%s %s\n" % (p.hex() or "-", " ".join(map(str, encode(merges, p)))))


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "tests/data"
    rng = random.Random(20261204)
    lines = corpus(rng)
    write_fixture(out + "/bpe_ref.txt", lines, 400, 2, probes(rng))
    def ties():
        return bytes(rng.choice(b"aab ") for _ in range(rng.randint(0, 24)))
    lines = [ties() for _ in range(60)]
    write_fixture(out + "/bpe_ref_ties.txt", lines, BASE + 150, 1, [ties() for _ in range(20)])


if __name__ == "__main__":
    main()
