#!/bin/sh
# zip-info on a valid model, a truncated one and ones with a flipped byte.
. "$top_srcdir/tests/setup.sh"

model="$data/tiny.zpm"
expect_exit 0 zip-info "$model"
grep -qx "kind: tower" out || fail "kind not printed"
grep -qx "tensors: 11" out || fail "tensor count not printed"
grep -qx "parameters: 2480" out || fail "parameter count not printed"
grep -Eq '^  text\.model\.layers\.0\.self_attn\.k_proj\.weight +F32  \[8, 16\]$' out ||
	fail "tensor line missing"

expect_exit 0 zip-info --verify --json "$model" "$model"
[ "$(wc -l <out)" -eq 2 ] || fail "--json: expected one line per file"
grep -q '"verify":"ok"' out || fail "--json --verify: no verify field"
grep -q '"parameters":2480' out || fail "--json: no parameter count"

# Truncated: the header promises more than the file holds.
size=$(wc -c <"$model")
head -c 100 "$model" >trunc.zpm
expect_exit 1 zip-info trunc.zpm
expect_stderr "^zip-info: trunc\.zpm: header length [0-9]+ runs past the end of the file$"
expect_one_line_stderr

# Truncated in the data: offsets run past the end.
head -c $((size - 10)) "$model" >short.zpm
expect_exit 1 zip-info short.zpm
expect_stderr "^zip-info: short\.zpm: tensor text\.model\.norm\.weight: data_offsets run past the end of the file$"

# One flipped byte in the data: --verify names the tensor; without it, it opens.
cp "$model" flip.zpm
printf '\377' | dd of=flip.zpm bs=1 seek=$((size - 3)) conv=notrunc 2>/dev/null
expect_exit 0 zip-info flip.zpm
expect_exit 1 zip-info --verify flip.zpm
expect_stderr "^zip-info: flip\.zpm: tensor text\.model\.norm\.weight is corrupt \(crc32 mismatch\)$"
expect_one_line_stderr

# One flipped byte in the JSON header: a clear error, not a crash.
cp "$model" header.zpm
printf 'x' | dd of=header.zpm bs=1 seek=8 conv=notrunc 2>/dev/null
expect_exit 1 zip-info header.zpm
expect_stderr "^zip-info: header\.zpm: header is not valid JSON$"

# Files the programs would refuse (a newer version, a config no tower can
# have): printed, and reported as not loadable, exit 1.
sed 's/"zipper.version":"1"/"zipper.version":"9"/' "$model" >v9.zpm
expect_exit 1 zip-info v9.zpm
expect_stderr "^zip-info: v9\.zpm: tower version 9: this program reads version 1$"
expect_one_line_stderr
grep -qx "version: 9" out || fail "a file of another version was not printed"
expect_exit 1 zip-info --json v9.zpm
expect_one_line_stderr
expect_exit 1 zip-generate -m v9.zpm /dev/null
expect_stderr "^zip-generate: v9\.zpm: tower version 9: this program reads version 1$"
sed 's/n_heads\\":2/n_heads\\":3/' "$model" >heads.zpm
expect_exit 1 zip-info heads.zpm
expect_stderr "^zip-info: heads\.zpm: config: d_model 16 is not n_heads 3 times an even head size$"
expect_one_line_stderr

# A batch: the bad file is reported, the good one still printed, exit 1.
expect_exit 1 zip-info trunc.zpm "$model"
grep -qx "kind: tower" out || fail "good file after a bad one not printed"

expect_exit 1 zip-info /nonexistent.zpm
expect_stderr "^zip-info: /nonexistent\.zpm: No such file or directory$"
expect_exit 2 zip-info
expect_stderr "^zip-info: no file given$"
