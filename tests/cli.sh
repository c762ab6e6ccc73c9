#!/bin/sh
# Every program follows the CLI conventions of cli.h: --help to stdout with
# exit 0 and the BSD usage, e.g. and See also lines; --version; a bad option
# or bad -j to stderr with exit 2.
. "$top_srcdir/tests/setup.sh"

programs=$(cd "$top_builddir/cmd" && ls zip-* | grep -v '\.' || true)
[ -n "$programs" ] || fail "no programs built"
for p in $programs; do
	expect_exit 0 "$p" --help
	grep -q "^usage: $p " out || fail "$p --help: no usage line"
	grep -q "^e\.g\. $p" out || fail "$p --help: no e.g. line"
	grep -q "^See also: " out || fail "$p --help: no See also line"
	[ ! -s err ] || fail "$p --help wrote to stderr"

	expect_exit 0 "$p" --version
	grep -q "^$p (zipper) " out || fail "$p --version: $(cat out)"

	expect_exit 2 "$p" --no-such-option
	expect_stderr "^usage: $p "
	[ ! -s out ] || fail "$p with a bad option wrote to stdout"

	expect_exit 2 "$p" -j 0
	expect_stderr "^$p: -j: 0 is outside 1\.\.1024"
	expect_exit 2 "$p" -j 99999999999999999999
	expect_stderr "^$p: -j: 99999999999999999999 is outside 1\.\.1024$"

	ZIPPER_THREADS=many expect_exit 2 "$p" --help
	expect_stderr "ZIPPER_THREADS: 'many' is not a thread count"
done
