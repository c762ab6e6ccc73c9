# Sourced by run.sh: small helpers shared by the stages.

die() {
	echo "run.sh: $*" >&2
	exit 1
}

# is_installed PKG: the Debian package is installed (dpkg's view).
is_installed() {
	dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "ok installed"
}

# require_pkgs PKG...: stop with one line naming the first missing package.
# Without dpkg (not Debian) only the programs are checked, by require_cmds.
require_pkgs() {
	local p
	command -v dpkg-query >/dev/null || return 0
	for p in "$@"; do
		is_installed "$p" ||
			die "missing Debian package $p (as root: ./run.sh --stage 0 --stop-stage 0, or apt-get install $p)"
	done
}

# require_cmds CMD...: each program is on PATH.
require_cmds() {
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null || die "missing program $c (see README: install step)"
	done
}

# normalize IN OUT: the ASR transcript normaliser on Kaldi text, the very code
# zip-eval-wer scores with, so transcripts and scoring never disagree.
normalize() {
	zip-eval-wer --normalize english --normalize-only "$1" >"$2.tmp" ||
		die "zip-eval-wer --normalize english failed on $1"
	mv "$2.tmp" "$2"
}

# shuffle SEED SALT: stdin lines in an order that depends only on SEED and
# SALT (a seeded key per line, see rng.awk, then a stable sort on it).
shuffle() {
	awk -v seed="$1" -v salt="$2" -f "$local_dir/rng.awk" -f "$local_dir/shuffle.awk" |
		sort -s -t "$(printf '\t')" -k1,1 | cut -f2-
}

# run_parallel NJ CMD ARG...: run CMD once per line of stdin (appended as the
# last argument), at most NJ at a time; fails when any run fails.
run_parallel() {
	local n=$1
	shift
	xargs -d '\n' -r -n 1 -P "$n" "$@"
}

# hours_of UTT2DUR: total hours, 3 decimals.
hours_of() {
	awk '{ s += $2 } END { printf "%.3f\n", s / 3600 }' "$1"
}
