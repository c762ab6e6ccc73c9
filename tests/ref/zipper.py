#!/usr/bin/python3
"""Reference numerics for the fused model (lib/zipper.c), in PyTorch.

An independent implementation of DESIGN §1 as a PyTorch user would write
it: the two towers are tests/ref/tower.py's Llama modules run layer by
layer; cross-attention is nn.Linear modules with an explicit boolean mask
built from linear positions (kpos < qpos), softmax over the visible keys
and a zero output where none is visible; the loss is F.cross_entropy over
both towers' targets together. Writes tests/data/zipper-ref.safetensors
(the paper's blocks) and tests/data/zipper-rope-ref.safetensors (ours, with
rotary positions in the blocks: xattn_rope_rate ROPE_RATE), each
kind "fused" with the weights (so zipper_load reads it as a model), and
  ref.{text,speech}.{tokens,targets,pos} (I32 [B,T]),
  ref.{text,speech}.logits [B,T,V], ref.loss [1],
  grad.<param name> for every parameter.
The batch has an ASR row [speech][text], a TTS row [text][speech] and a
[text][speech][text] row, with padding (tokens 0, targets -1, position
INT32_MAX). Gates and the residual projection's last layer are non-zero,
so every gradient is exercised.

Run: tests/ref/zipper.py  (from the source tree; the fixture is committed)."""
import json
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tower import Llama, RMSNorm, st_write  # noqa: E402

TEXT = dict(vocab=37, d_model=32, n_layers=4, n_heads=4, n_kv_heads=2, d_ff=48,
            max_seq=64, rope_theta=10000.0, norm_eps=1e-5, tie_embeddings=True)
SPEECH = dict(vocab=29, d_model=24, n_layers=3, n_heads=3, n_kv_heads=3, d_ff=40,
              max_seq=64, rope_theta=10000.0, norm_eps=1e-5, tie_embeddings=True)
EVERY = dict(text=2, speech=1)
STAGES = 2
PROJ = dict(text="paper", speech="residual")
PAD_POS = 2147483647
ROPE_RATE = 2.5  # speech tokens per text token: not an integer, so the scaling is tested
ROPE_THETA = 10000.0


def rotate(x, pos):
    """Rotary positions, rotate-half pairs (k, k + d/2), at real-valued pos (T,) on x (B,H,T,d)."""
    d = x.shape[-1]
    inv = ROPE_THETA ** (-torch.arange(0, d, 2, dtype=torch.float64) / d)
    angle = pos.double()[:, None] * inv[None, :]
    cos = torch.cat([angle.cos(), angle.cos()], -1).float()
    sin = torch.cat([angle.sin(), angle.sin()], -1).float()
    rot = torch.cat([-x[..., d // 2:], x[..., :d // 2]], -1)
    return x * cos + rot * sin


class XAttn(nn.Module):
    """Gated xattn-dense in a tower of width c reading a stream of width co."""

    def __init__(self, c, co, heads, ff, eps, qscale=0.0, kscale=0.0):
        super().__init__()
        self.h, self.d = heads, c // heads
        self.qscale, self.kscale = qscale, kscale  # positions: own index times scale; 0: none
        self.kv_norm = RMSNorm(co, eps)
        self.proj = nn.ModuleList([nn.Linear(co, c, bias=False), nn.Linear(c, c, bias=False)])
        self.attn_norm = RMSNorm(c, eps)
        self.q_proj = nn.Linear(c, c, bias=False)
        self.k_proj = nn.Linear(c, c, bias=False)
        self.v_proj = nn.Linear(c, c, bias=False)
        self.o_proj = nn.Linear(c, c, bias=False)
        self.attn_gate = nn.Parameter(torch.zeros(1))
        self.ff_norm = RMSNorm(c, eps)
        self.mlp = nn.Module()
        self.mlp.gate_proj = nn.Linear(c, ff, bias=False)
        self.mlp.up_proj = nn.Linear(c, ff, bias=False)
        self.mlp.down_proj = nn.Linear(ff, c, bias=False)
        self.ff_gate = nn.Parameter(torch.zeros(1))

    def forward(self, y, qpos, other, kpos):
        b, tq, c = y.shape
        tk = other.shape[1]
        g = self.proj[1](F.relu(self.proj[0](self.kv_norm(other))))
        q = self.q_proj(self.attn_norm(y)).view(b, tq, self.h, self.d).transpose(1, 2)
        k = self.k_proj(g).view(b, tk, self.h, self.d).transpose(1, 2)
        v = self.v_proj(g).view(b, tk, self.h, self.d).transpose(1, 2)
        if self.qscale:
            q = rotate(q, torch.arange(tq) * self.qscale)
            k = rotate(k, torch.arange(tk) * self.kscale)
        visible = (kpos[:, None, :] < qpos[:, :, None])[:, None]  # (B,1,Tq,Tk)
        s = (q @ k.transpose(-1, -2)) / (self.d ** 0.5)
        p = F.softmax(s.masked_fill(~visible, -1e9), dim=-1) * visible  # none visible: 0
        a = (p @ v).transpose(1, 2).reshape(b, tq, c)
        y = y + torch.tanh(self.attn_gate) * self.o_proj(a)
        n = self.ff_norm(y)
        f = self.mlp.down_proj(F.silu(self.mlp.gate_proj(n)) * self.mlp.up_proj(n))
        return y + torch.tanh(self.ff_gate) * f


class InProj(nn.Module):
    def __init__(self, c, mode):
        super().__init__()
        self.mode = mode
        self.layers = nn.ModuleList([nn.Linear(c, c, bias=False) for _ in range(3)])

    def forward(self, e):
        h = self.layers[2](F.relu(self.layers[1](F.relu(self.layers[0](e)))))
        return F.relu(h) if self.mode == "paper" else e + h


class Zipper(nn.Module):
    def __init__(self, rope_rate):
        super().__init__()
        self.cfg = dict(text=TEXT, speech=SPEECH)
        # positions in speech tokens: a text position counts rope_rate of them
        scale = dict(text=rope_rate, speech=1.0)
        self.towers = nn.ModuleDict({m: Llama(c) for m, c in self.cfg.items()})
        for t in self.towers.values():  # tied heads
            t.lm_head.weight = t.model.embed_tokens.weight
        self.proj = nn.ModuleDict({m: InProj(self.cfg[m]["d_model"], PROJ[m]) for m in self.cfg})
        other = dict(text="speech", speech="text")
        self.xattn = nn.ModuleDict({
            m: nn.ModuleList(XAttn(c["d_model"], self.cfg[other[m]]["d_model"], c["n_heads"], c["d_ff"],
                                   c["norm_eps"], scale[m] if rope_rate else 0.0,
                                   scale[other[m]] if rope_rate else 0.0) for _ in range(STAGES))
            for m, c in self.cfg.items()})

    def forward(self, tokens, pos):
        x, rope = {}, {}
        for m, t in self.towers.items():
            n = tokens[m].shape[1]
            rope[m] = (t.cos[:n], t.sin[:n])
            x[m] = self.proj[m](t.model.embed_tokens(tokens[m]))
        done = dict(text=0, speech=0)
        for n in range(STAGES):
            for m, t in self.towers.items():
                for layer in t.model.layers[done[m]:(n + 1) * EVERY[m]]:
                    x[m] = layer(x[m], *rope[m])
                done[m] = (n + 1) * EVERY[m]
            before = dict(x)  # both blocks read the other stream from before the stage
            x["text"] = self.xattn["text"][n](before["text"], pos["text"], before["speech"], pos["speech"])
            x["speech"] = self.xattn["speech"][n](before["speech"], pos["speech"], before["text"], pos["text"])
        logits = {}
        for m, t in self.towers.items():
            for layer in t.model.layers[done[m]:]:
                x[m] = layer(x[m], *rope[m])
            logits[m] = t.lm_head(t.model.norm(x[m]))
        return logits


def batch():
    """Rows: ASR [speech 7][text 5], TTS [text 4][speech 8], [text 3][speech 5][text 3]."""
    g = torch.Generator().manual_seed(7)
    rows = [[("speech", 7, False), ("text", 5, True)],
            [("text", 4, False), ("speech", 8, True)],
            [("text", 3, True), ("speech", 5, True), ("text", 3, True)]]
    seqs = {m: [] for m in ("text", "speech")}
    for r in rows:
        per = {m: ([], [], []) for m in seqs}
        p = 0
        for m, n, scored in r:
            v = (TEXT if m == "text" else SPEECH)["vocab"]
            toks = torch.randint(0, v, (n + 1,), generator=g).tolist()
            tk, tg, ps = per[m]
            tk += toks[:n]
            tg += toks[1:] if scored else [-1] * n
            ps += list(range(p, p + n))
            p += n
        for m in seqs:
            seqs[m].append(per[m])
    out = {}
    for m, rs in seqs.items():
        T = max(len(r[0]) for r in rs)
        pad = [(r[0] + [0] * (T - len(r[0])), r[1] + [-1] * (T - len(r[1])),
                r[2] + [PAD_POS] * (T - len(r[2]))) for r in rs]
        out[m] = tuple(torch.tensor([p[i] for p in pad], dtype=torch.int32) for i in range(3))
    return out


def main():
    write("zipper-ref.safetensors", 0.0)
    write("zipper-rope-ref.safetensors", ROPE_RATE)


def write(fixture, rope_rate):
    torch.manual_seed(4321)
    z = Zipper(rope_rate)
    with torch.no_grad():
        for name, p in z.named_parameters():
            if "norm" in name:
                p.uniform_(0.5, 1.5)
            elif "gate" in name and p.numel() == 1:
                p.uniform_(-0.8, 0.8)
            else:
                p.normal_(0.0, 0.2)
    b = batch()
    tokens = {m: v[0].long() for m, v in b.items()}
    pos = {m: v[2].long() for m, v in b.items()}
    logits = z(tokens, pos)
    total, count = 0.0, 0
    for m in logits:
        tg = b[m][1].reshape(-1).long()
        total = total + F.cross_entropy(logits[m].reshape(-1, logits[m].shape[-1]), tg, ignore_index=-1,
                                        reduction="sum")
        count += int((tg >= 0).sum())
    loss = total / count
    loss.backward()

    out = {}
    for name, p in z.named_parameters():  # tied heads appear once, as the embeddings
        out[zname(name)] = p.detach()
        out["grad." + zname(name)] = p.grad.detach()
    for m, (tk, tg, ps) in b.items():
        out["ref.%s.tokens" % m] = tk
        out["ref.%s.targets" % m] = tg
        out["ref.%s.pos" % m] = ps
        out["ref.%s.logits" % m] = logits[m].detach()
    out["ref.loss"] = loss.detach().reshape(1)
    cfg = {"text": dict(TEXT, modality="text"), "speech": dict(SPEECH, modality="speech"),
           "xattn_every_text": EVERY["text"], "xattn_every_speech": EVERY["speech"],
           "xattn_stages": STAGES, "input_proj_text": PROJ["text"], "input_proj_speech": PROJ["speech"],
           "text_bos": 1, "text_eos": 2, "speech_bos": SPEECH["vocab"] - 2, "speech_eos": SPEECH["vocab"] - 1,
           "gate_init": 0.0}
    if rope_rate:
        cfg["xattn_rope_rate"] = rope_rate
    here = os.path.dirname(os.path.abspath(__file__))
    st_write(os.path.join(here, "..", "data", fixture), out,
             {"zipper.kind": "fused", "zipper.version": "1", "zipper.config": json.dumps(cfg)})
    print("%s: loss %.6f over %d targets" % (fixture, loss.item(), count))


def zname(name):
    """PyTorch module path -> zipper tensor name."""
    parts = name.split(".")
    if parts[0] == "towers":
        return ".".join(parts[1:])
    if parts[0] == "proj":  # proj.text.layers.0.weight
        return "proj.%s.%s.weight" % (parts[1], parts[3])
    return name  # xattn.text.0.... already zipper's


if __name__ == "__main__":
    main()
