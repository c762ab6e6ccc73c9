#!/usr/bin/python3
"""Tensor archive fixtures written by NumPy itself (numpy.lib.format):

  tests/data/feats.ark    float32 records of shapes (3, 4), (0, 80), (5,), (),
                          (2, 3, 2); tests/check_archive.c reads them, and its
                          writer must reproduce the file byte for byte.
  tests/data/feats64.ark  float64 records, which the reader converts to float32.

Each record is the utterance id, one space, then an NPY blob. With a file
argument, reads that tensor archive back with NumPy and prints each record,
e.g. to check an archive written by zipper:  npy_fixture.py out.ark
"""
import os
import sys

import numpy as np

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data")


def records32():
    return [
        ("utt1", np.arange(12, dtype=np.float64).reshape(3, 4) / 7),
        ("utt2", np.zeros((0, 80))),
        ("utt3", np.array([-1.5, 0.0, 1e-3, 3.25e10, 65504.0])),
        ("utt4", np.array(2.5)),
        ("sp\u00e9aker-5", np.sin(np.arange(12, dtype=np.float64)).reshape(2, 3, 2)),
    ]


def records64():
    return [
        ("a", np.array([[0.1, 1 / 3, -2.5], [1e300, 1e-50, 7.0]])),
        ("b", np.zeros((0,))),
    ]


def write(path, records, dtype):
    with open(path, "wb") as f:
        for key, a in records:
            f.write(key.encode("utf-8") + b" ")
            np.lib.format.write_array(f, np.asarray(a, dtype=dtype, order="C"), allow_pickle=False)


def read(path):
    """Yields (id, array) from a tensor archive."""
    with open(path, "rb") as f:
        while True:
            key = b""
            while True:
                c = f.read(1)
                if not c:
                    if key:
                        raise ValueError("truncated record after id %r" % key)
                    return
                if c == b" ":
                    break
                key += c
            yield key.decode("utf-8"), np.lib.format.read_array(f, allow_pickle=False)


def main():
    if len(sys.argv) > 1:
        for key, a in read(sys.argv[1]):
            print(key, a.dtype, a.shape, a.ravel()[:6].tolist())
        return
    with np.errstate(over="ignore"):
        write(os.path.join(DATA, "feats.ark"), records32(), np.float32)
    write(os.path.join(DATA, "feats64.ark"), records64(), np.float64)
    for name in ("feats.ark", "feats64.ark"):
        got = list(read(os.path.join(DATA, name)))
        assert [k for k, _ in got] == [k for k, _ in (records32() if name == "feats.ark" else records64())]


if __name__ == "__main__":
    main()
