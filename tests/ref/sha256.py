#!/usr/bin/python3
"""Write tests/data/sha256.txt: "length digest" of SHA-256 (hashlib) over the
deterministic byte pattern that tests/check_sha256.c rebuilds:
byte i = ((i * 2654435761) mod 2^32) >> 13, low 8 bits."""
import hashlib
import os

lengths = list(range(0, 130)) + [1000, 4095, 4096, 65537]
out = os.path.join(os.path.dirname(__file__), "..", "data", "sha256.txt")
with open(out, "w") as f:
    for n in lengths:
        data = bytes((((i * 2654435761) & 0xFFFFFFFF) >> 13) & 0xFF for i in range(n))
        f.write("%d %s\n" % (n, hashlib.sha256(data).hexdigest()))
