#!/bin/sh
# The decoder engine against PyTorch on DESIGN 5's reference config, in one
# run, at the same thread count, with OpenBLAS as the environment sets it
# and with its AVX-512 kernels allowed. Usage: bench/tower.sh [THREADS] [STEPS]
# (from a built tree). Prints JSON lines and the ratio of training tokens/s.
set -eu
threads=${1:-2}
steps=${2:-5}
here=$(cd "$(dirname "$0")" && pwd)
bin=${BENCH_TOWER:-./bench/bench_tower}
run() { # LABEL ENV...
	label=$1
	shift
	c=$(env "$@" OMP_NUM_THREADS="$threads" "$bin" "$steps")
	p=$(env "$@" OMP_NUM_THREADS="$threads" /usr/bin/python3 "$here/ref/train_torch.py" "$threads" "$steps")
	echo "$label zipper:  $c"
	echo "$label pytorch: $p"
	awk -v a="$c" -v b="$p" 'BEGIN {
		sub(/.*"train_tokens_per_s":/, "", a); sub(/[,}].*/, "", a)
		sub(/.*"train_tokens_per_s": /, "", b); sub(/[,}].*/, "", b)
		printf "'"$label"' training speed ratio zipper/pytorch: %.2f\n", a / b }'
}
run "as-is:" OPENBLAS_CORETYPE="${OPENBLAS_CORETYPE:-}"
run "avx512:" -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE
