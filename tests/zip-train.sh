#!/bin/sh
# zip-train: training runs, exact resumption, signals, bad input.
. "$top_srcdir/tests/setup.sh"
. "$top_srcdir/tests/tower-corpus.sh"

corpus 8 15 >train.tok
corpus 3 15 >dev.tok
common="-q -j2 --config tower.json --eos 0 -T 16 --lr 3e-3 --warmup 5 --steps 30 --eval-every 10"

# An uninterrupted run, and one stopped after step 13 then resumed, write
# the same loss curve (to the last bit) and the same model.
zip-train $common --log a.jsonl train.tok dev.tok -o a.zpm
[ "$(grep -c '"loss"' a.jsonl)" = 30 ] || fail "expected 30 step lines in the log"
[ "$(grep -c '"dev_loss"' a.jsonl)" = 3 ] || fail "expected 3 evaluations in the log"
zip-train $common --log b.jsonl --stop-after 13 train.tok dev.tok -o b.zpm
[ -f b.zpm.ckpt ] && [ ! -f b.zpm ] || fail "--stop-after: expected a checkpoint and no model"
zip-train $common --log b.jsonl --resume train.tok dev.tok -o b.zpm
sed 's/,"tokens_per_s".*/}/' a.jsonl >a.curve
sed 's/,"tokens_per_s".*/}/' b.jsonl >b.curve
assert_same a.curve b.curve
assert_same a.zpm b.zpm
zip-info --verify b.zpm.ckpt >/dev/null

# Resuming with other options is refused.
expect_exit 1 zip-train $common --batch 4 --resume train.tok -o b.zpm
expect_stderr "different options"
expect_one_line_stderr

# SIGTERM and SIGINT: a checkpoint, exit 143 and 130; the run resumes
# where it stopped.
endless="-q -j1 --config tower.json --eos 0 -T 16 --steps 1000000 --log s.jsonl"
stop_when_logged() { # SIG PID LINES: wait for the log to pass LINES lines, send SIG
	i=0
	while [ "$(cat s.jsonl 2>/dev/null | wc -l)" -le "$3" ] && [ $i -lt 300 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	kill -"$1" "$2"
	set +e
	wait "$2"
	rc=$?
	set -e
}
rm -f s.jsonl
zip-train $endless train.tok -o s.zpm &
stop_when_logged TERM $! 0
[ $rc = 143 ] || fail "SIGTERM: exit $rc, expected 143"
[ -f s.zpm.ckpt ] || fail "SIGTERM: no checkpoint"
last=$(wc -l <s.jsonl)
zip-train $endless --resume train.tok -o s.zpm &
stop_when_logged INT $! "$last"
[ $rc = 130 ] || fail "SIGINT: exit $rc, expected 130"
line=$(sed -n "$((last + 1))p" s.jsonl)
case $line in
"{\"step\":$((last + 1)),"*) ;;
*) fail "the resumed run did not continue at step $((last + 1)): $line" ;;
esac

# Bad input: one clear line, the right exit status, nothing written.
expect_exit 2 zip-train train.tok -o x.zpm
expect_stderr "give --config or --init"
expect_exit 2 zip-train --config tower.json train.tok
expect_exit 2 zip-train --config tower.json -o x.zpm - - <train.tok
expect_stderr "^zip-train: only one input may be -"
expect_exit 2 zip-train --config tower.json -T 100 train.tok -o x.zpm
expect_stderr "max_seq"
echo '{"vocab": 32, "d_model": 30, "n_layers": 1, "n_heads": 4, "d_ff": 8}' >bad.json
expect_exit 1 zip-train --config bad.json train.tok -o x.zpm
expect_stderr "bad.json: config: d_model 30 is not n_heads 4"
expect_one_line_stderr
# A key given twice is refused, not the first taken.
echo '{"vocab": 32, "d_model": 32, "n_layers": 1, "n_heads": 4, "d_ff": 8, "n_layers": 2}' >dup.json
expect_exit 1 zip-train -q --config dup.json -T 2 train.tok -o x.zpm
expect_stderr '^zip-train: dup.json: config: duplicate key "n_layers"$'
expect_one_line_stderr
# A second object after the config is refused, not ignored.
{ cat tower.json; echo '{"vocab": 8}'; } >two.json
expect_exit 1 zip-train -q --config two.json -T 2 train.tok -o x.zpm
expect_stderr "two.json: data after the JSON object"
# A max_seq whose rotary tables would not fit memory is refused, not filled.
echo '{"vocab": 32, "d_model": 32, "n_layers": 1, "n_heads": 4, "d_ff": 8, "max_seq": 1000000000}' >long.json
expect_exit 1 zip-train -q --config long.json -T 2 train.tok -o x.zpm
expect_stderr "long.json: config: max_seq 1000000000 is too long"
echo '{"vocab": 32, "d_model": 32, "n_layers": 1, "n_heads": 4, "d_ff": 8, "max_seq": 5000000000}' >huge.json
expect_exit 1 zip-train -q --config huge.json -T 2 train.tok -o x.zpm
expect_stderr '^zip-train: huge.json: config: "max_seq" 5000000000 is out of range \(at most 1000000000\)$'
expect_one_line_stderr
expect_exit 2 zip-train -q --config tower.json --steps 99999999999999999999 train.tok -o x.zpm
expect_stderr "^zip-train: --steps: 99999999999999999999 is outside 1\.\."
printf 'u1 1 2 3\nu2 4 99 5\n' >oov.tok
expect_exit 1 zip-train -q --config tower.json -T 2 oov.tok -o x.zpm
expect_stderr "oov.tok:2: token 99 is outside the vocabulary"
expect_one_line_stderr
printf 'u1 1 2 3\n' >short.tok
expect_exit 1 zip-train -q --config tower.json -T 16 short.tok -o x.zpm
expect_stderr "fewer than one sequence"
printf '#! zipper tokens modality=speech vocab=30\nu1 1 2 3 4 5\n' >speech.tok
expect_exit 1 zip-train -q --init a.zpm -T 2 speech.tok -o x.zpm
expect_stderr "modality speech"
expect_exit 1 zip-train -q --config tower.json --resume -T 2 train.tok -o nockpt.zpm
expect_stderr "nockpt.zpm.ckpt"
[ ! -e x.zpm ] || fail "a failed run wrote its output"
# An output that cannot be written is refused before training, not after.
expect_exit 1 zip-train -q --config tower.json -T 2 --steps 2 --log lost.jsonl train.tok -o nodir/x.zpm
expect_stderr "nodir/x.zpm: cannot create"
[ ! -e lost.jsonl ] || fail "trained for an output that could not be written"
mkdir outdir
expect_exit 1 zip-train -q --config tower.json -T 2 --steps 2 --log lost.jsonl train.tok -o outdir
expect_stderr "^zip-train: outdir: is a directory"
[ ! -e lost.jsonl ] || fail "trained for an output that is a directory"

# --init continues from a model: its loss starts where the first run ended.
zip-train -q -j1 --init a.zpm -T 16 --steps 1 --lr 1e-9 --warmup 0 --log c.jsonl train.tok -o c.zpm
loss() { grep '"loss"' "$1" | sed 's/.*"loss":\([^,]*\),.*/\1/'; }
first=$(loss a.jsonl | head -1)
last=$(loss a.jsonl | tail -1)
init=$(loss c.jsonl)
[ -n "$first" ] && [ -n "$last" ] && [ -n "$init" ] || fail "no losses in the logs"
awk -v first="$first" -v last="$last" -v init="$init" \
	'BEGIN { exit !(init < first - 0.5 && init - last < 0.2 && last - init < 0.2) }' ||
	fail "--init did not start from the trained weights: $(head -1 c.jsonl)"
