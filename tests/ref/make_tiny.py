#!/usr/bin/python3
"""Writes tests/data/tiny.zpm: a tiny LLaMA-style tower in safetensors with
zipper metadata, made by an implementation independent of lib/safetensors.c
(plain struct + json + zlib, header padded to 8 bytes as Hugging Face does).
Weights are small seeded random numbers; only the container matters here."""
import json
import struct
import sys
import zlib

import numpy as np

config = {"vocab": 32, "d_model": 16, "n_layers": 1, "n_heads": 2, "n_kv_heads": 1,
          "d_ff": 24, "max_seq": 64, "rope_theta": 10000.0, "norm_eps": 1e-5,
          "tie_embeddings": True}
d, ff, kv = config["d_model"], config["d_ff"], config["d_model"] // 2
shapes = [
    ("text.model.embed_tokens.weight", (32, d)),
    ("text.model.layers.0.input_layernorm.weight", (d,)),
    ("text.model.layers.0.self_attn.q_proj.weight", (d, d)),
    ("text.model.layers.0.self_attn.k_proj.weight", (kv, d)),
    ("text.model.layers.0.self_attn.v_proj.weight", (kv, d)),
    ("text.model.layers.0.self_attn.o_proj.weight", (d, d)),
    ("text.model.layers.0.post_attention_layernorm.weight", (d,)),
    ("text.model.layers.0.mlp.gate_proj.weight", (ff, d)),
    ("text.model.layers.0.mlp.up_proj.weight", (ff, d)),
    ("text.model.layers.0.mlp.down_proj.weight", (d, ff)),
    ("text.model.norm.weight", (d,)),
]
rng = np.random.default_rng(20241204)
header, blobs, offset = {}, [], 0
crcs = {}
for name, shape in shapes:
    a = (rng.standard_normal(shape) * 0.02).astype("<f4")
    if name.endswith("norm.weight"):
        a[:] = 1
    b = a.tobytes()
    header[name] = {"dtype": "F32", "shape": list(shape), "data_offsets": [offset, offset + len(b)]}
    crcs[name] = "%08x" % zlib.crc32(b)
    blobs.append(b)
    offset += len(b)
header["__metadata__"] = {"zipper.kind": "tower", "zipper.version": "1",
                          "zipper.config": json.dumps(config, separators=(",", ":")),
                          "zipper.crc32": json.dumps(crcs, separators=(",", ":"))}
text = json.dumps(header, separators=(",", ":")).encode()
text += b" " * (-len(text) % 8)
out = sys.argv[1] if len(sys.argv) > 1 else "tests/data/tiny.zpm"
with open(out, "wb") as f:
    f.write(struct.pack("<Q", len(text)))
    f.write(text)
    for b in blobs:
        f.write(b)
