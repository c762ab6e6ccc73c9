# Sourced by every shell test: strict mode, a scratch directory removed on
# exit, the built programs first on PATH, and small assertion helpers.
set -eu
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
PATH="$top_builddir/cmd:$PATH"
export PATH LC_ALL=C
work=$(mktemp -d "${TMPDIR:-/tmp}/zipper-test.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"
data="$top_srcdir/tests/data"

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

# expect_exit CODE cmd args...: run cmd, require its exit status to be CODE.
expect_exit() {
	want=$1
	shift
	set +e
	"$@" >"$work/out" 2>"$work/err"
	got=$?
	set -e
	[ "$got" = "$want" ] || fail "$* exited $got, expected $want; stderr: $(cat "$work/err")"
}

# expect_stderr PATTERN: the last expect_exit's stderr matches an ERE.
expect_stderr() {
	grep -Eq -- "$1" "$work/err" || fail "stderr '$(cat "$work/err")' does not match '$1'"
}

# expect_one_line_stderr: errors are one clear line.
expect_one_line_stderr() {
	[ "$(wc -l <"$work/err")" -eq 1 ] || fail "expected one line on stderr, got: $(cat "$work/err")"
}

# assert_same FILE1 FILE2: byte-identical.
assert_same() {
	cmp -s "$1" "$2" || { diff -u "$1" "$2" >&2 || true; fail "$1 and $2 differ"; }
}
