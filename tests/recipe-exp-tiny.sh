#!/bin/sh
# recipes/synth-en --tiny, the experiment stages (5-9) end to end through the
# real programs: tokenizers, towers, the 15 fused models (Zipper frozen and
# unfrozen, single decoder, at 5 aligned fractions), ASR/TTS/retention
# evaluation and the report. The models are far too small to be good; this
# checks that every number is made, parses and agrees with the files it came
# from, and that a rerun resumes instead of redoing.
. "$top_srcdir/tests/setup.sh"

for c in espeak-ng sox soxi bash gnuplot; do
	command -v "$c" >/dev/null || { echo "SKIP: $c not installed"; exit 77; }
done
[ -x /usr/bin/python3 ] || { echo "SKIP: python3 not installed"; exit 77; }

recipe="$top_srcdir/recipes/synth-en/run.sh"
out="$work/synth"
bash "$recipe" --tiny --dir "$out" -j 2 --bin "$top_builddir/cmd" >"$work/log" 2>&1 ||
	fail "run.sh --tiny failed: $(tail -5 "$work/log")"
e="$out/exp"

for f in text.tok speech.tok train.speech.tok train-1pct.text.tok text-only.text.tok; do
	[ -s "$e/tok/$f" ] || fail "exp/tok/$f missing"
done
for t in text speech; do
	[ -s "$e/towers/$t.zpm" ] || fail "$t tower missing"
	[ ! -e "$e/towers/$t.zpm.ckpt" ] || fail "$t tower checkpoint left behind"
done
# The 1% subset's archives hold exactly its utterances.
[ "$(grep -vc '^#!' "$e/tok/train-1pct.speech.tok")" -eq "$(wc -l <"$out/data/train-1pct/text")" ] ||
	fail "train-1pct speech archive has the wrong utterances"

n=0
for v in zipper-frozen zipper-unfrozen single; do
	for p in 1 3 10 30 100; do
		m="$e/fused/$v-${p}pct"
		[ -s "$m/model.zpm" ] || fail "$v $p%: no model"
		for s in dev test-seen test-unseen; do
			[ -s "$m/$s.asr.json" ] && [ -s "$m/$s.tts.json" ] || fail "$v $p% $s: no WER"
		done
		[ -s "$m/ppl.txt" ] || fail "$v $p%: no text perplexity"
		n=$((n + 1))
	done
done
[ "$n" = 15 ] || fail "expected 15 models"
# Zipper keeps the text tower frozen: its text tower alone scores exactly as
# the pretrained one.
assert_same "$e/eval/text-tower.ppl.txt" "$e/fused/zipper-unfrozen-10pct/ppl-tower.txt"
# The single decoder is trained whole: its text scores moved.
! cmp -s "$e/eval/text-tower.ppl.txt" "$e/fused/single-10pct/ppl.txt" || fail "single decoder's text side unchanged"

[ -s "$e/RESULTS.md" ] || fail "no RESULTS.md"
for png in wer-vs-aligned.png loss-curves.png; do
	head -c 8 "$e/$png" | od -An -c | grep -q 'P   N   G' || fail "$png is not a PNG"
done
for h in "## Targets" "## ASR WER" "## TTS WER" "## Unimodal retention" "## Wall time per stage"; do
	grep -q "^$h" "$e/RESULTS.md" || fail "RESULTS.md lacks '$h'"
done
# results.json agrees with the per-model scores it was made from.
/usr/bin/python3 - "$e" <<'PY' || fail "results.json disagrees with the scores"
import json, sys
e = sys.argv[1]
r = json.load(open(e + "/results.json"))
for v in ("zipper-frozen", "zipper-unfrozen", "single"):
    for p in ("1", "3", "10", "30", "100"):
        for s in ("dev", "test-seen", "test-unseen"):
            w = json.load(open("%s/fused/%s-%spct/%s.asr.json" % (e, v, p, s)))["wer"]
            assert r["models"][v][p]["asr_wer"][s] == w, (v, p, s)
assert len(r["targets"]) == 4 and all(isinstance(t["met"], bool) for i, t in enumerate(r["targets"]) if i != 2)
# the TTS comparison counts only if its judge reads the real speech tokens
judged = r["resynthesis_tts_wer"]["test-seen"] <= 50
assert isinstance(r["targets"][2]["met"], bool) if judged else r["targets"][2]["met"] is None
assert set(r["stage_seconds"]) >= {str(s) for s in range(5, 9)}  # 9 is being written
PY
# --render makes the same RESULTS.md from results.json alone.
cp "$e/RESULTS.md" "$work/RESULTS.md"
/usr/bin/python3 "$top_srcdir/recipes/synth-en/local/report.py" --render "$e/results.json" || fail "--render failed"
assert_same "$work/RESULTS.md" "$e/RESULTS.md"
for f in default.zpm speech.tok text.tok; do [ -s "$e/models/$f" ] || fail "exp/models/$f missing"; done
grep -q '^fused/zipper-' "$e/models/made-from.txt" || fail "the default model is not a Zipper model"
ls "$e/samples/"*.flac >/dev/null 2>&1 || fail "no samples picked"
[ "$(ls "$e/samples/"*.flac | wc -l)" -eq "$(wc -l <"$e/samples/text")" ] || fail "samples and their text disagree"

# Everything is done: a rerun skips every stage.
bash "$recipe" --tiny --dir "$out" -j 2 --bin "$top_builddir/cmd" >"$work/log2" 2>&1 || fail "rerun failed"
[ "$(grep -c 'already done' "$work/log2")" -eq 10 ] || fail "rerun redid stages: $(cat "$work/log2")"
# A lost fused model is trained again by its stage, and only it.
rm "$e/fused/single-3pct/model.zpm" "$e/stage7.done"
cp "$e/fused/single-1pct/model.zpm" "$work/keep.zpm"
bash "$recipe" --tiny --dir "$out" -j 2 --bin "$top_builddir/cmd" --stage 7 --stop-stage 7 >"$work/log3" 2>&1 ||
	fail "stage 7 rerun failed: $(tail -3 "$work/log3")"
[ -s "$e/fused/single-3pct/model.zpm" ] || fail "lost model not remade"
assert_same "$work/keep.zpm" "$e/fused/single-1pct/model.zpm"
# --xattn-rope reaches the Zipper models when stage 7 is redone: they are
# made again (their options changed), the single decoder is not.
bash "$recipe" --tiny --dir "$out" -j 2 --bin "$top_builddir/cmd" --stage 7 --stop-stage 7 --force \
	--xattn-rope auto >"$work/log4" 2>&1 || fail "stage 7 with --xattn-rope failed: $(tail -3 "$work/log4")"
zip-info "$e/fused/zipper-frozen-1pct/model.zpm" | grep -q '"xattn_rope_rate":' ||
	fail "--xattn-rope auto did not reach the Zipper models"
assert_same "$work/keep.zpm" "$e/fused/single-1pct/model.zpm"
expect_exit 2 bash "$recipe" --tiny --dir "$out" --xattn-rope fast
