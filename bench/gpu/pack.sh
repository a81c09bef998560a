#!/usr/bin/env bash
# bench/gpu/pack.sh [BUILD] — prepares .gpu-carry/ for a GPU session (the
# device machine has CUDA but none of the project's libraries and cannot
# fetch any): the CUDA and engine test programs and gpu_bench built here
# with the CUDA kernels, the shared libraries they need beyond glibc, and the
# test models they read (the subset of ../shared/models the GPU runs that fits
# the 64 MiB a device call carries with the tree: gemma2 (62 MB) and gemma3
# F32 (19 MB) stay behind, as do the llama types the GPU leaves to the CPU).
# Then one device call runs bench/gpu/device.sh with carry [".gpu-carry"]:
# see docs/gpu.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build-gpu}
src_models=${GPURUN_TEST_MODELS:-../shared/models}
c=.gpu-carry
exclude=$(git rev-parse --git-path info/exclude)
mkdir -p "$(dirname "$exclude")"
grep -qx '/.gpu-carry/' "$exclude" 2>/dev/null || echo '/.gpu-carry/' >>"$exclude"
[ -x /usr/local/cuda/bin/nvcc ] || command -v nvcc >/dev/null || {
  echo "pack: no nvcc: the binaries would have no CUDA kernels"
  exit 1
}
make -j"$(nproc)" BUILD="$build" SRC_DIRS="src/base src/gguf src/engine" \
  TEST_DIRS=tests/unit/engine tests-build >/dev/null
rm -rf "$c" && mkdir -p "$c/bin" "$c/lib" "$c/models/ref" "$c/models/synth/ref"
tests="cuda_test cuda_host_test model_test arch_test arch_quant_test generate_test"
for t in $tests; do cp "$build/tests/engine/$t" "$c/bin/"; done
cc -std=c11 -O2 -D_GNU_SOURCE -Isrc bench/gpu/gpu_bench.c "$build/libgpurun.a" \
  -Wl,--as-needed -lcjson -lpcre2-8 -lm -ldl -pthread -o "$c/bin/gpu_bench"
strip --strip-debug "$c"/bin/*
# shared libraries beyond glibc (the device image is another distribution)
for b in "$c"/bin/*; do
  ldd "$b" | awk '/=> \// {print $3}'
done | sort -u | grep -Ev '/(libc|libm|libdl|libpthread|librt|ld-linux[^/]*)\.so' |
  while read -r l; do cp -L "$l" "$c/lib/"; done
for f in stories260K-F32 stories260K-F16 stories260K-Q8_0 stories260K-Q4_0; do
  cp "$src_models/$f.gguf" "$c/models/"
  cp "$src_models/ref/$f.gen.json" "$c/models/ref/"
done
cp "$src_models/ref/stories260K-F32.tok.json" "$c/models/ref/"
for f in llama-F32 llama-F16 llama-Q8_0 llama-Q6_K llama-Q4_K llama-Q4_0 qwen2-F32 gemma-F32 \
  phi3-F32 gemma3-Q8_0 gemma3-Q4_K; do
  cp "$src_models/synth/synth-$f.gguf" "$c/models/synth/"
  cp "$src_models/synth/ref/synth-$f.gen.json" "$c/models/synth/ref/"
done
kib=$(du -sk "$c" | cut -f1)
echo "pack: $c holds $((kib / 1024)) MiB (the tree travels too: 64 MiB in all)"
[ "$kib" -lt $((58 * 1024)) ] || { echo "pack: too large to carry"; exit 1; }
