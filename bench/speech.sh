#!/bin/sh
# Speech tokenizer speed: bench_speech as the environment sets OpenBLAS up
# and with OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE unset (AVX-512 kernels; see
# DESIGN 5). Arguments go to bench_speech, e.g. --frames 1000000.
set -eu
bench=${BENCH_SPEECH:-$(dirname "$0")/bench_speech}
echo "== as configured (OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset})"
"$bench" "$@"
echo "== env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE"
env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$bench" "$@"
