#!/usr/bin/env bash
# The engine capped to the AVX2 kernel set (GPURUN_ISA=avx2: what a CPU
# without AVX-512 runs, matmuls, attention and row operations alike) passes
# the engine's end-to-end unit tests as the default set does: model_test
# (stories260K in F32, F16, Q8_0 and Q4_0 against llama.cpp's logits and
# tokens), pack_test (packed weights give the file layout's logits bit
# for bit, 1, 2 and 4 threads, while the matrices switch over) and
# arch_quant_test (synthetic models of every quantized type and mix against
# llama.cpp's tokens: each type's avx2 gemm kernel in a whole model).
set -u
build=${GPURUN_BUILD:?}
grep -qw avx2 /proc/cpuinfo || { echo "SKIP: this CPU has no AVX2"; exit 77; }
for t in model_test pack_test arch_quant_test; do
  bin=$build/tests/engine/$t
  [ -x "$bin" ] || { echo "SKIP: $bin is not built (make tests-build)"; exit 77; }
  if ! out=$(GPURUN_ISA=avx2 "$bin" 2>&1); then
    echo "$out" | tail -30
    echo "FAIL: $t with GPURUN_ISA=avx2"
    exit 1
  fi
  echo "$t (avx2): $(echo "$out" | grep -E 'PASSED|SKIP' | tr '\n' ' ')"
done
echo "ok: model_test, pack_test and arch_quant_test pass on the AVX2 set"
