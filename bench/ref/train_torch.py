#!/usr/bin/python3
"""PyTorch reference for bench/tower.sh: training tokens/s of the same
LLaMA-style model (DESIGN 5's reference config) with AdamW, batch 8 x 256.

Uses the model of tests/ref/tower.py (an independent implementation of the
architecture). Usage: train_torch.py THREADS STEPS; prints one JSON line."""
import json
import os
import statistics
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "ref"))
from tower import Llama  # noqa: E402

threads, steps = int(sys.argv[1]), int(sys.argv[2])
torch.set_num_threads(threads)
torch.manual_seed(1)
c = dict(vocab=1024, d_model=384, n_layers=6, n_heads=6, n_kv_heads=6, d_ff=1024, max_seq=512,
         rope_theta=10000.0, norm_eps=1e-5, tie_embeddings=False)
B, T = 8, 256
m = Llama(c)
opt = torch.optim.AdamW(m.parameters(), lr=3e-4, betas=(0.9, 0.95), weight_decay=0.1)
data = torch.randint(0, c["vocab"], (B, T + 1))
x, y = data[:, :-1], data[:, 1:]
times = []
for s in range(steps + 2):
    t0 = time.perf_counter()
    opt.zero_grad(set_to_none=True)
    loss = F.cross_entropy(m(x).reshape(-1, c["vocab"]), y.reshape(-1))
    loss.backward()
    torch.nn.utils.clip_grad_norm_(m.parameters(), 1.0)
    opt.step()
    if s >= 2:
        times.append(time.perf_counter() - t0)
print(json.dumps({"threads": threads, "torch": torch.__version__, "loss": round(loss.item(), 4),
                  "train_tokens_per_s": round(B * T / statistics.median(times))}))
