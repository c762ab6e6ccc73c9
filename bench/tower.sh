#!/bin/sh
# The decoder engine against PyTorch on DESIGN 5's reference config, in one
# run, at the same thread count, with OpenBLAS as the environment sets it
# and with its AVX-512 kernels allowed. Usage:
#   bench/tower.sh [THREADS] [STEPS] [ROUNDS]
# (from a built tree). Each half runs zipper and PyTorch ROUNDS times in
# turn (default 1) and prints every JSON line, then the ratio of the median
# training tokens/s: on a shared or virtual machine the speed drifts from
# minute to minute, and alternating runs spread the drift over both sides.
set -eu
threads=${1:-2}
steps=${2:-5}
rounds=${3:-1}
here=$(cd "$(dirname "$0")" && pwd)
bin=${BENCH_TOWER:-./bench/bench_tower}
train_rate() { # a JSON line's training tokens/s
	sed 's/.*"train_tokens_per_s": *//; s/[,}].*//'
}
median() { # of the numbers on stdin
	sort -n | awk '{ v[NR] = $1 } END { print NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
run() { # LABEL ENV...
	label=$1
	shift
	: >"$tmp/c" && : >"$tmp/p"
	i=0
	while [ "$i" -lt "$rounds" ]; do
		c=$(env "$@" OMP_NUM_THREADS="$threads" "$bin" "$steps")
		p=$(env "$@" OMP_NUM_THREADS="$threads" /usr/bin/python3 "$here/ref/train_torch.py" "$threads" "$steps")
		echo "$label zipper:  $c"
		echo "$label pytorch: $p"
		echo "$c" | train_rate >>"$tmp/c"
		echo "$p" | train_rate >>"$tmp/p"
		i=$((i + 1))
	done
	awk -v a="$(median <"$tmp/c")" -v b="$(median <"$tmp/p")" -v n="$rounds" 'BEGIN {
		printf "'"$label"' training speed ratio zipper/pytorch: %.2f (medians of %d: %.0f / %.0f tokens/s)\n",
			a / b, n, a, b }'
}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
run "as-is:"
run "avx512:" -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE
