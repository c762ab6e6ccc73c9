#!/usr/bin/python3
"""Reference numerics for the decoder tower, in PyTorch (Debian's python3-torch).

An independent implementation of the architecture lib/tower.c implements
(LLaMA: RMSNorm, RoPE in Hugging Face's rotate-half form, grouped kv heads,
SwiGLU, untied head), written the way a PyTorch user would write it:
nn.Linear modules, F.scaled-free explicit softmax attention with a boolean
mask, F.cross_entropy with ignore_index, torch.optim.AdamW and
clip_grad_norm_. Writes two safetensors files into tests/data/:

  tower-ref.safetensors  kind "tower", weights under "text.", and
      ref.tokens, ref.targets (I32 [B,T]), ref.logits [B,T,V], ref.loss [1],
      grad.<param name> for every parameter,
      step3.<param name>: the parameters after 3 AdamW steps on the batch
      (zipper's schedule: linear warmup over `warmup` steps to lr, then
      cosine to lr*min_lr_ratio, reached by the last of `steps` steps;
      global-norm clipping; no weight
      decay on norms and embeddings), ref.lr [3] the rates used.
  tower-hf.safetensors + tower-hf.json  the same weights in bare Hugging
      Face naming and a Hugging Face config.json, with no zipper metadata.

Run: tests/ref/tower.py  (from the source tree; the fixtures are committed)."""
import json
import math
import os
import struct

import torch
import torch.nn as nn
import torch.nn.functional as F

CONFIG = dict(vocab=61, d_model=32, n_layers=2, n_heads=4, n_kv_heads=2, d_ff=48,
              max_seq=64, rope_theta=10000.0, norm_eps=1e-5, tie_embeddings=False)
B, T = 2, 16
OPT = dict(lr=1e-2, warmup=2, steps=4, run_steps=3, min_lr_ratio=0.1, weight_decay=0.1,
           beta1=0.9, beta2=0.95, eps=1e-5, clip=0.5)
# eps 1e-5, not 1e-8: with a tiny eps Adam turns a gradient of 1e-8 (float
# noise in either implementation) into a full step of +-lr, so the two
# would differ by chance, not by a bug.


class RMSNorm(nn.Module):
    def __init__(self, dim, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x):
        var = x.pow(2).mean(-1, keepdim=True)
        return x * torch.rsqrt(var + self.eps) * self.weight


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def rope_cos_sin(seq, dim, theta):
    inv = 1.0 / (theta ** (torch.arange(0, dim, 2, dtype=torch.float64) / dim))
    ang = torch.outer(torch.arange(seq, dtype=torch.float64), inv)
    ang = torch.cat((ang, ang), dim=-1)
    return ang.cos().float(), ang.sin().float()


class Attention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.h, self.kv = c["n_heads"], c["n_kv_heads"]
        self.d = c["d_model"] // self.h
        self.q_proj = nn.Linear(c["d_model"], self.h * self.d, bias=False)
        self.k_proj = nn.Linear(c["d_model"], self.kv * self.d, bias=False)
        self.v_proj = nn.Linear(c["d_model"], self.kv * self.d, bias=False)
        self.o_proj = nn.Linear(self.h * self.d, c["d_model"], bias=False)

    def forward(self, x, cos, sin):
        b, t, _ = x.shape
        q = self.q_proj(x).view(b, t, self.h, self.d).transpose(1, 2)
        k = self.k_proj(x).view(b, t, self.kv, self.d).transpose(1, 2)
        v = self.v_proj(x).view(b, t, self.kv, self.d).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        rep = self.h // self.kv
        k = k.repeat_interleave(rep, dim=1)
        v = v.repeat_interleave(rep, dim=1)
        s = (q @ k.transpose(-1, -2)) / math.sqrt(self.d)
        mask = torch.ones(t, t, dtype=torch.bool).tril()
        s = s.masked_fill(~mask, float("-inf"))
        y = F.softmax(s, dim=-1) @ v
        return self.o_proj(y.transpose(1, 2).reshape(b, t, self.h * self.d))


class MLP(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.gate_proj = nn.Linear(c["d_model"], c["d_ff"], bias=False)
        self.up_proj = nn.Linear(c["d_model"], c["d_ff"], bias=False)
        self.down_proj = nn.Linear(c["d_ff"], c["d_model"], bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class Layer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.input_layernorm = RMSNorm(c["d_model"], c["norm_eps"])
        self.self_attn = Attention(c)
        self.post_attention_layernorm = RMSNorm(c["d_model"], c["norm_eps"])
        self.mlp = MLP(c)

    def forward(self, x, cos, sin):
        x = x + self.self_attn(self.input_layernorm(x), cos, sin)
        return x + self.mlp(self.post_attention_layernorm(x))


class Body(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.embed_tokens = nn.Embedding(c["vocab"], c["d_model"])
        self.layers = nn.ModuleList(Layer(c) for _ in range(c["n_layers"]))
        self.norm = RMSNorm(c["d_model"], c["norm_eps"])


class Llama(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.model = Body(c)
        self.lm_head = nn.Linear(c["d_model"], c["vocab"], bias=False)
        d = c["d_model"] // c["n_heads"]
        self.cos, self.sin = rope_cos_sin(c["max_seq"], d, c["rope_theta"])

    def forward(self, tokens):
        t = tokens.shape[1]
        cos, sin = self.cos[:t], self.sin[:t]
        x = self.model.embed_tokens(tokens)
        for layer in self.model.layers:
            x = layer(x, cos, sin)
        return self.lm_head(self.model.norm(x))


def lr_at(step):
    o = OPT
    if step < o["warmup"]:
        return o["lr"] * (step + 1) / o["warmup"]
    prog = (step + 1 - o["warmup"]) / max(1, o["steps"] - o["warmup"])
    lo = o["lr"] * o["min_lr_ratio"]
    return lo + 0.5 * (o["lr"] - lo) * (1 + math.cos(math.pi * prog))


def st_write(path, tensors, meta=None):
    header, blobs, off = {}, [], 0
    for name, t in tensors.items():
        t = t.detach().contiguous()
        dt = {torch.float32: "F32", torch.int32: "I32"}[t.dtype]
        raw = t.numpy().astype("<f4" if dt == "F32" else "<i4").tobytes()
        header[name] = {"dtype": dt, "shape": list(t.shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    if meta:
        header["__metadata__"] = meta
    h = json.dumps(header).encode()
    h += b" " * ((-(8 + len(h))) % 64)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def main():
    torch.manual_seed(1234)
    c = CONFIG
    m = Llama(c)
    with torch.no_grad():  # non-trivial norms, so their gradients matter
        for name, p in m.named_parameters():
            if "norm" in name:
                p.uniform_(0.5, 1.5)
            else:
                p.normal_(0.0, 0.2)
    tokens = torch.randint(0, c["vocab"], (B, T), dtype=torch.int32)
    targets = torch.roll(tokens, -1, dims=1)
    targets[:, -1] = -1
    targets[1, 3] = -1  # an ignored position in the middle
    weights0 = {n: p.detach().clone() for n, p in m.named_parameters()}

    logits = m(tokens.long())
    loss = F.cross_entropy(logits.reshape(-1, c["vocab"]), targets.reshape(-1).long(), ignore_index=-1)
    loss.backward()
    grads = {n: p.grad.detach().clone() for n, p in m.named_parameters()}

    decay = [p for n, p in m.named_parameters() if "norm" not in n and "embed" not in n]
    nodecay = [p for n, p in m.named_parameters() if "norm" in n or "embed" in n]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": OPT["weight_decay"]},
                             {"params": nodecay, "weight_decay": 0.0}],
                            lr=OPT["lr"], betas=(OPT["beta1"], OPT["beta2"]), eps=OPT["eps"])
    lrs = []
    norms = []
    for step in range(OPT["run_steps"]):
        opt.zero_grad()
        out = m(tokens.long())
        l = F.cross_entropy(out.reshape(-1, c["vocab"]), targets.reshape(-1).long(), ignore_index=-1)
        l.backward()
        norms.append(float(torch.nn.utils.clip_grad_norm_(m.parameters(), OPT["clip"])))
        lr = lr_at(step)
        lrs.append(lr)
        for g in opt.param_groups:
            g["lr"] = lr
        opt.step()

    here = os.path.dirname(os.path.abspath(__file__))
    data = os.path.join(here, "..", "data")
    out = {"text." + n: w for n, w in weights0.items()}
    out["ref.tokens"] = tokens
    out["ref.targets"] = targets
    out["ref.logits"] = logits.detach()
    out["ref.loss"] = loss.detach().reshape(1)
    out["ref.lr"] = torch.tensor(lrs, dtype=torch.float32)
    for n, g in grads.items():
        out["grad." + n] = g
    for n, p in m.named_parameters():
        out["step3." + n] = p.detach()
    cfg = dict(c, modality="text", opt=OPT)
    st_write(os.path.join(data, "tower-ref.safetensors"), out,
             {"zipper.kind": "tower", "zipper.version": "1", "zipper.config": json.dumps(cfg)})
    st_write(os.path.join(data, "tower-hf.safetensors"), weights0, {"format": "pt"})
    hf = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": c["vocab"],
          "hidden_size": c["d_model"], "num_hidden_layers": c["n_layers"],
          "num_attention_heads": c["n_heads"], "num_key_value_heads": c["n_kv_heads"],
          "intermediate_size": c["d_ff"], "max_position_embeddings": c["max_seq"],
          "rope_theta": c["rope_theta"], "rms_norm_eps": c["norm_eps"],
          "tie_word_embeddings": False, "hidden_act": "silu"}
    with open(os.path.join(data, "tower-hf.json"), "w") as f:
        json.dump(hf, f, indent=1)
        f.write("\n")
    print("loss %.6f lrs %s grad norms %s" % (loss.item(), lrs, norms))


if __name__ == "__main__":
    main()
