#!/usr/bin/python3
"""Hugging Face checkpoints in BF16 and F16, and the F16 -> F32 table, in
PyTorch and NumPy (Debian's python3-torch and python3-numpy).

Reads the F32 weights of tests/data/tower-hf.safetensors (tests/ref/tower.py),
rounds them to bfloat16 and to float16 with torch (round to nearest even),
and writes into tests/data/:

  tower-hf-bf16.safetensors, tower-hf-f16.safetensors  the same checkpoint
      with BF16 / F16 tensors, bare Hugging Face naming, no zipper metadata
      (the config is tower-hf.json); the header padded to 8 bytes only, as
      Hugging Face's writer does.
  tower-hf-ref.safetensors  ref.tokens (I32 [B,T]), ref.logits.bf16 and
      ref.logits.f16 [B,T,V]: tower.py's model run in fp32 on the rounded
      weights upcast to fp32 (what zipper computes after loading).
  f16-f32.sha256  the SHA-256 of NumPy's float16 -> float32 conversion of
      all 65,536 half bit patterns, in order, as little-endian float32 bits
      (NumPy keeps NaN payloads, not quieting them).

Run: tests/ref/tower_hf.py  (from the source tree; the fixtures are committed)."""
import hashlib
import json
import os
import struct
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tower  # noqa: E402  (the reference model, tests/ref/tower.py)

B, T = 2, 16
DTYPES = {"BF16": torch.bfloat16, "F16": torch.float16}


def st_read(path):
    with open(path, "rb") as f:
        raw = f.read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    header.pop("__metadata__", None)
    data = raw[8 + n:]
    out = {}
    for name, e in header.items():
        assert e["dtype"] == "F32", name
        b, end = e["data_offsets"]
        out[name] = torch.from_numpy(np.frombuffer(data[b:end], dtype="<f4").reshape(e["shape"]).copy())
    return out


def st_write(path, tensors, meta, align):
    header, blobs, off = {}, [], 0
    for name, t in tensors.items():
        t = t.detach().contiguous()
        if t.dtype in (torch.bfloat16, torch.float16):
            dt = "BF16" if t.dtype == torch.bfloat16 else "F16"
            raw = t.view(torch.int16).numpy().astype("<i2").tobytes()
        else:
            dt = {torch.float32: "F32", torch.int32: "I32"}[t.dtype]
            raw = t.numpy().astype("<f4" if dt == "F32" else "<i4").tobytes()
        header[name] = {"dtype": dt, "shape": list(t.shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    header["__metadata__"] = meta
    h = json.dumps(header).encode()
    h += b" " * ((-(8 + len(h))) % align)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    data = os.path.join(here, "..", "data")
    weights = st_read(os.path.join(data, "tower-hf.safetensors"))
    m = tower.Llama(tower.CONFIG)
    torch.manual_seed(4321)
    tokens = torch.randint(0, tower.CONFIG["vocab"], (B, T), dtype=torch.int32)
    ref = {"ref.tokens": tokens}
    for dt, torch_dt in DTYPES.items():
        rounded = {n: w.to(torch_dt) for n, w in weights.items()}
        st_write(os.path.join(data, "tower-hf-%s.safetensors" % dt.lower()), rounded, {"format": "pt"}, 8)
        m.load_state_dict({n: w.float() for n, w in rounded.items()})
        with torch.no_grad():
            ref["ref.logits.%s" % dt.lower()] = m(tokens.long())
    st_write(os.path.join(data, "tower-hf-ref.safetensors"), ref, {"format": "pt"}, 64)

    table = np.arange(65536, dtype=np.uint16).view(np.float16).astype(np.float32)
    digest = hashlib.sha256(table.astype("<f4").tobytes()).hexdigest()
    with open(os.path.join(data, "f16-f32.sha256"), "w") as f:
        f.write(digest + "\n")
    print("f16 table sha256", digest, "subnormal F16 weights",
          sum(int(((w.half().view(torch.int16) & 0x7c00) == 0).sum()) for w in weights.values()))


if __name__ == "__main__":
    main()
