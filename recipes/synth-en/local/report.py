#!/usr/bin/python3
"""report.py EXP RECIPE-ARGS: stage 9 of recipes/synth-en: gather what stages
5-8 wrote under EXP into EXP/results.json and EXP/RESULTS.md, and draw the
plots (EXP/*.png) with gnuplot.
report.py --render DIR/results.json: write DIR/RESULTS.md again from the
JSON alone (targets re-judged), when the corpus is gone.
Python's standard library only."""

import glob
import json
import math
import os
import subprocess
import sys

VARIANTS = ["zipper-frozen", "zipper-unfrozen", "single"]
NAMES = {
    "zipper-frozen": "Zipper, both towers frozen",
    "zipper-unfrozen": "Zipper, speech tower unfrozen",
    "single": "Single decoder (vocabulary expansion)",
}
SPLITS = ["dev", "test-seen", "test-unseen"]
# A TTS WER says how well the speech reads only if the ASR model that judges
# it reads real speech: above this WER on the resynthesised real speech
# tokens, a TTS comparison is not measurable.
JUDGE_MAX_WER = 50.0
STAGES = {
    0: "install packages", 1: "text corpus", 2: "aligned speech",
    3: "speech-only corpus", 4: "subsets", 5: "tokenizers, token archives",
    6: "tower pretraining", 7: "fused models", 8: "evaluation", 9: "report",
}


def read_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def read_log(path):
    rows = []
    try:
        with open(path) as f:
            for line in f:
                line = line.strip()
                if line:
                    rows.append(json.loads(line))
    except (OSError, ValueError):
        pass
    return rows


def corpus_ppl(path):
    """Perplexity over all tokens of a zip-generate --score listing."""
    ll = n = 0
    try:
        with open(path) as f:
            for line in f:
                p = line.split()
                ll += float(p[1])
                n += int(p[3])
    except (OSError, ValueError, IndexError):
        return None
    return math.exp(-ll / n) if n else None


def stage_seconds(exp):
    out = {}
    for s in range(10):
        try:
            with open(os.path.join(exp, "stage%d.done" % s)) as f:
                kv = dict(x.split("=", 1) for x in f.read().split())
            out[s] = int(kv["seconds"])
        except (OSError, KeyError, ValueError):
            pass
    return out


def model_results(exp, variant, pct):
    d = os.path.join(exp, "fused", "%s-%spct" % (variant, pct))
    r = {"asr_wer": {}, "tts_wer": {}}
    for s in SPLITS:
        for task in ("asr", "tts"):
            j = read_json(os.path.join(d, "%s.%s.json" % (s, task)))
            if j:
                r[task + "_wer"][s] = j["wer"]
    r["text_ppl_after"] = corpus_ppl(os.path.join(d, "ppl.txt"))
    r["text_ppl_tower_after"] = corpus_ppl(os.path.join(d, "ppl-tower.txt"))
    log = read_log(os.path.join(d, "log.jsonl"))
    steps = [x for x in log if "loss" in x]
    devs = [x for x in log if "dev_asr_loss" in x]
    if steps:
        r["steps"] = steps[-1]["step"]
        r["final_loss"] = steps[-1]["loss"]
        r["final_gate"] = steps[-1].get("gate_attn")
        r["tokens_per_s"] = sum(x["tokens_per_s"] for x in steps) / len(steps)
    if devs:
        r["dev_asr_loss"] = devs[-1]["dev_asr_loss"]
        r["dev_tts_loss"] = devs[-1]["dev_tts_loss"]
    return r


def fmt(x, digits=1):
    return "–" if x is None else ("%.*f" % (digits, x))


def ratio(a, b):
    return None if a is None or b in (None, 0) else a / b


def targets(res, pcts):
    m = res["models"]
    lo, hi = pcts[0], pcts[-1]

    def wer(v, p, task="asr", split="test-seen"):
        return m.get(v, {}).get(p, {}).get(task + "_wer", {}).get(split)

    best_z = lambda p, task="asr": min(  # noqa: E731 - one line is clearer here
        [w for w in (wer("zipper-frozen", p, task), wer("zipper-unfrozen", p, task)) if w is not None],
        default=None)
    t = []
    r1 = ratio(best_z(lo), wer("single", lo))
    t.append(("ASR WER at %s%% aligned: Zipper <= 0.5x single decoder" % lo,
              "%s vs %s (%sx)" % (fmt(best_z(lo)), fmt(wer("single", lo)), fmt(r1, 2)),
              r1 is not None and r1 <= 0.5))
    r2 = ratio(best_z(hi), wer("single", hi))
    t.append(("ASR WER at %s%%: Zipper within 10%% relative of single decoder" % hi,
              "%s vs %s (%sx)" % (fmt(best_z(hi)), fmt(wer("single", hi)), fmt(r2, 2)),
              r2 is not None and r2 <= 1.1))
    tz, ts = best_z(hi, "tts"), wer("single", hi, "tts")
    judge = res.get("resynthesis_tts_wer", {}).get("test-seen")
    met = tz is not None and ts is not None and tz < ts
    measured = "%s vs %s" % (fmt(tz), fmt(ts))
    if judge is not None and judge > JUDGE_MAX_WER:
        met = None
        measured += " (the judge's WER on real speech: %s)" % fmt(judge)
    t.append(("TTS WER at %s%%: Zipper below single decoder" % hi, measured, met))
    best = min([w for v in m for p in m[v] for w in [wer(v, p)] if w is not None], default=None)
    t.append(("best ASR WER on test-seen <= 5%", fmt(best), best is not None and best <= 5))
    return t


def table(res, pcts, task):
    lines = ["| model | aligned | " + " | ".join(SPLITS) + " |",
             "|---|---:|" + "---:|" * len(SPLITS)]
    for v in VARIANTS:
        for p in pcts:
            w = res["models"].get(v, {}).get(p, {}).get(task + "_wer", {})
            lines.append("| %s | %s%% | %s |" % (NAMES[v], p, " | ".join(fmt(w.get(s)) for s in SPLITS)))
    return "\n".join(lines)


def plot(exp, res, pcts):
    """WER against aligned fraction (the shape of the paper's Fig. 3) and the
    training loss curves, as PNG through gnuplot."""
    dat = os.path.join(exp, "plot-wer.dat")
    with open(dat, "w") as f:
        for task in ("asr", "tts"):
            for v in VARIANTS:
                f.write("# %s %s\n" % (task, v))
                for p in pcts:
                    w = res["models"].get(v, {}).get(p, {}).get(task + "_wer", {}).get("test-seen")
                    if w is not None:
                        f.write("%s %g\n" % (p, w))
                f.write("\n\n")
    loss = os.path.join(exp, "plot-loss.dat")
    curves = []
    with open(loss, "w") as f:
        for name, path in [("text tower", "towers/text.log.jsonl"), ("speech tower", "towers/speech.log.jsonl")] + \
                [("%s %s%%" % (v, pcts[-1]), "fused/%s-%spct/log.jsonl" % (v, pcts[-1])) for v in VARIANTS]:
            rows = [x for x in read_log(os.path.join(exp, path)) if "loss" in x]
            if not rows:
                continue
            curves.append(name)
            f.write("# %s\n" % name)
            for x in rows:
                f.write("%d %g\n" % (x["step"], x["loss"]))
            f.write("\n\n")
    script = ["set terminal pngcairo size 900,600 noenhanced" if has_cairo() else "set terminal png size 900,600",
              "set datafile separator whitespace", "set key below", "set grid"]
    script += ["set output '%s'" % os.path.join(exp, "wer-vs-aligned.png"),
               "set multiplot layout 1,2 title 'WER on test-seen voices against aligned data (log scale)'",
               "set logscale x", "set xlabel 'aligned data (%% of %s h)'" % res.get("aligned_hours", "?"),
               "set ylabel 'WER (%)'", "set title 'ASR'",
               "plot " + ", ".join("'%s' index %d with linespoints title '%s'" % (dat, i, NAMES[v])
                                   for i, v in enumerate(VARIANTS)),
               "set title 'TTS (judged by the best ASR model)'",
               "plot " + ", ".join("'%s' index %d with linespoints title '%s'" % (dat, i + 3, NAMES[v])
                                   for i, v in enumerate(VARIANTS)),
               "unset multiplot", "unset logscale x"]
    if curves:
        script += ["set output '%s'" % os.path.join(exp, "loss-curves.png"),
                   "set title 'training loss (towers; fused models at %s%%)'" % pcts[-1],
                   "set xlabel 'step'", "set ylabel 'loss (nats/token)'",
                   "plot " + ", ".join("'%s' index %d with lines title '%s'" % (loss, i, c)
                                       for i, c in enumerate(curves))]
    try:
        subprocess.run(["gnuplot"], input="\n".join(script) + "\n", text=True, check=True)
    except (OSError, subprocess.CalledProcessError) as e:
        sys.stderr.write("report.py: gnuplot failed: %s\n" % e)
        return False
    return True


def has_cairo():
    try:
        out = subprocess.run(["gnuplot", "-e", "set terminal"], capture_output=True, text=True).stderr
        return "pngcairo" in out
    except OSError:
        return False


def render(path):
    """RESULTS.md again from results.json alone (keys come back as strings)."""
    with open(path) as f:
        res = json.load(f)
    exp = os.path.dirname(path) or "."
    res["stage_seconds"] = {int(k): v for k, v in res["stage_seconds"].items()}
    pcts = sorted({p for v in res["models"].values() for p in v}, key=float)
    res["targets"] = [{"target": a, "measured": b, "met": c} for a, b, c in targets(res, pcts)]
    with open(path + ".tmp", "w") as f:
        json.dump(res, f, indent=1, sort_keys=True)
        f.write("\n")
    os.replace(path + ".tmp", path)
    plotted = all(os.path.exists(os.path.join(exp, p)) for p in ("wer-vs-aligned.png", "loss-curves.png"))
    write_markdown(exp, res, pcts, plotted)


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--render":
        render(sys.argv[2])
        return
    exp = sys.argv[1]
    command = sys.argv[2] if len(sys.argv) > 2 else "recipes/synth-en/run.sh"
    data = os.path.join(os.path.dirname(exp.rstrip("/")), "data")
    summary = read_json(os.path.join(data, "summary.json")) or {}
    pcts = sorted({d.rsplit("-", 1)[1][:-3] for d in os.listdir(os.path.join(exp, "fused"))
                   if d.rsplit("-", 1)[0] in VARIANTS}, key=float)
    res = {"command": command, "data": summary, "stage_seconds": stage_seconds(exp), "models": {},
           "aligned_hours": summary.get("splits", {}).get("train", {}).get("hours")}
    res["towers"] = {}
    for t in ("text", "speech"):
        log = read_log(os.path.join(exp, "towers", t + ".log.jsonl"))
        steps = [x for x in log if "loss" in x]
        devs = [x for x in log if "dev_ppl" in x]
        res["towers"][t] = {
            "config": read_json(os.path.join(exp, "towers", t + ".json")),
            "steps": steps[-1]["step"] if steps else None,
            "final_loss": steps[-1]["loss"] if steps else None,
            "tokens_per_s": sum(x["tokens_per_s"] for x in steps) / len(steps) if steps else None,
            "dev_ppl": corpus_ppl(os.path.join(exp, "eval", t + "-tower.ppl.txt")),
            "dev_ppl_log": devs[-1]["dev_ppl"] if devs else None,
        }
    for v in VARIANTS:
        res["models"][v] = {p: model_results(exp, v, p) for p in pcts}
    res["resynthesis_tts_wer"] = {}
    for s in SPLITS:
        j = read_json(os.path.join(exp, "eval", "resynth", s + ".tts.json"))
        if j:
            res["resynthesis_tts_wer"][s] = j["wer"]
    try:
        with open(os.path.join(exp, "eval", "best-asr.txt")) as f:
            res["best_asr_model"] = os.path.relpath(f.read().strip(), exp)
    except OSError:
        res["best_asr_model"] = None
    res["targets"] = [{"target": a, "measured": b, "met": c} for a, b, c in targets(res, pcts)]
    plotted = plot(exp, res, pcts)

    with open(os.path.join(exp, "results.json.tmp"), "w") as f:
        json.dump(res, f, indent=1, sort_keys=True)
        f.write("\n")
    os.replace(os.path.join(exp, "results.json.tmp"), os.path.join(exp, "results.json"))
    write_markdown(exp, res, pcts, plotted)


def write_markdown(exp, res, pcts, plotted):
    tw = res["towers"]
    sec = res["stage_seconds"]
    md = ["# recipes/synth-en: results", "",
          "Made by `%s` (stage 9 writes this file; numbers are %% WER unless said)." % res["command"],
          "Word error rates are scored by `zip-eval-wer` (unit costs, the recipe's English normaliser) on a",
          "random sample of each split (see stage 8 in local/exp.sh for the sizes); TTS output is turned into",
          "audio (zip-detokenize), tokenized again and transcribed by the best ASR model (`%s`)." % res["best_asr_model"],
          "", "## Targets (issue 8)", "", "| target | measured | met |", "|---|---|---|"]
    verdict = {True: "yes", False: "**no**", None: "not measurable (judge above %g %% WER)" % JUDGE_MAX_WER}
    md += ["| %s | %s | %s |" % (t["target"], t["measured"], verdict[t["met"]]) for t in res["targets"]]
    md += ["", "## Towers (stage 6)", "", "| tower | config | steps | final train loss | dev perplexity | tokens/s |",
           "|---|---|---:|---:|---:|---:|"]
    for t in ("text", "speech"):
        c = tw[t]["config"] or {}
        md.append("| %s | d_model %s, %s layers, %s heads, d_ff %s, vocab %s | %s | %s | %s | %s |" % (
            t, c.get("d_model"), c.get("n_layers"), c.get("n_heads"), c.get("d_ff"), c.get("vocab"),
            tw[t]["steps"], fmt(tw[t]["final_loss"], 3), fmt(tw[t]["dev_ppl"], 2), fmt(tw[t]["tokens_per_s"], 0)))
    md += ["", "## ASR WER (the shape of the paper's Table 1)", "", table(res, pcts, "asr"), "",
           "## TTS WER (the shape of the paper's Table 2)", "", table(res, pcts, "tts"), "",
           "Resynthesis ceiling (the real speech tokens of the same sentences through the same vocoder,",
           "re-tokenization and ASR): " + ", ".join("%s %s" % (s, fmt(w)) for s, w in res["resynthesis_tts_wer"].items()),
           "", "## Unimodal retention: text perplexity on dev transcripts", "",
           "The pretrained text tower: %s. After fusion training, `zip-generate --score` of the whole model on" % fmt(
               tw["text"]["dev_ppl"], 2),
           "text alone (its cross-attention blocks see nothing but still add their gated FFN), and of its",
           "text tower alone (`--tower-only`; Zipper keeps the text tower frozen, so this equals the tower):", "",
           "| model | " + " | ".join("%s%%" % p for p in pcts) + " |", "|---|" + "---:|" * len(pcts)]
    for v in VARIANTS:
        md.append("| %s | %s |" % (NAMES[v], " | ".join(
            fmt(res["models"][v][p].get("text_ppl_after"), 2) for p in pcts)))
        if v != "single":
            md.append("| %s, text tower alone | %s |" % (NAMES[v], " | ".join(
                fmt(res["models"][v][p].get("text_ppl_tower_after"), 2) for p in pcts)))
    md += ["", "## Training of the fused models (stage 7)", "",
           "| model | aligned | steps | final loss | dev ASR loss | dev TTS loss | gate (mean tanh) | tokens/s |",
           "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for v in VARIANTS:
        for p in pcts:
            r = res["models"][v][p]
            md.append("| %s | %s%% | %s | %s | %s | %s | %s | %s |" % (
                NAMES[v], p, r.get("steps"), fmt(r.get("final_loss"), 3), fmt(r.get("dev_asr_loss"), 3),
                fmt(r.get("dev_tts_loss"), 3), fmt(r.get("final_gate"), 4), fmt(r.get("tokens_per_s"), 0)))
    if plotted:
        md += ["", "## Plots", "", "![WER against aligned data](wer-vs-aligned.png)", "",
               "![training loss](loss-curves.png)"]
    md += ["", "## Wall time per stage", "", "| stage | what | seconds |", "|---:|---|---:|"]
    # a stage whose outputs were already there (from an earlier run) records 0 s
    md += ["| %d | %s | %s |" % (s, STAGES[s], sec[s] or "not timed: outputs reused") for s in sorted(sec)]
    md += ["| | total (stages timed) | %d |" % sum(sec.values())]
    md.append("")
    with open(os.path.join(exp, "RESULTS.md.tmp"), "w") as f:
        f.write("\n".join(md))
    os.replace(os.path.join(exp, "RESULTS.md.tmp"), os.path.join(exp, "RESULTS.md"))


if __name__ == "__main__":
    main()
