#!/usr/bin/env bash
# Compiles every GPU kernel for the architectures CI checks: nvcc for sm_80 and sm_90 (a build of
# quipu with -DQUIPU_CUDA=ON into build-cuda/, then test_backend_ops, which runs the CPU cases and
# says "skipped: no GPU" where there is none), and hipcc for gfx90a (the kernel files alone, as
# objects: the HIP runtime and BLAS are linked on the cluster). A missing compiler is said, not
# hidden; QUIPU_REQUIRE_KERNELS=1 makes it an error (CI sets it for nvcc, which CI has).
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)
status=0
if command -v nvcc >/dev/null 2>&1 || [ -x /usr/local/cuda/bin/nvcc ]; then
  export PATH="$PATH:/usr/local/cuda/bin"
  cmake -S . -B build-cuda -DCMAKE_BUILD_TYPE=Release -DQUIPU_MPI=OFF -DQUIPU_CUDA=ON \
        -DCMAKE_CUDA_ARCHITECTURES="${QUIPU_CUDA_ARCHS:-80;90}" >/dev/null
  cmake --build build-cuda -j"$jobs" --target quipu test_backend_ops bench_attention
  echo "kernels: nvcc $(nvcc --version | sed -n 's/.*release \([0-9.]*\).*/\1/p'): built for sm_${QUIPU_CUDA_ARCHS:-80;90}"
  # this build has no MPI: its guard against mpirun copies is tested here
  ctest --test-dir build-cuda -R 'test_backend_ops|test_first_day' --output-on-failure | tail -4
else
  echo "kernels: nvcc: skipped: no CUDA compiler on this machine"
  [ "${QUIPU_REQUIRE_KERNELS:-0}" = 1 ] && status=1
fi
hip=$(command -v hipcc || true)
if [ -n "$hip" ]; then
  out=$(mktemp -d)
  trap 'rm -rf "$out"' EXIT
  ok=1
  for f in kernels/*.cu; do
    if ! "$hip" -x hip --offload-arch=gfx90a -O2 -std=c++17 -Isrc -Ikernels -DQUIPU_HIP_BUILD=1 -c "$f" -o "$out/$(basename "$f").o" \
         2>"$out/err"; then
      echo "kernels: hipcc: $f does not build for gfx90a:"; head -20 "$out/err"; ok=0; status=1
    fi
  done
  [ "$ok" = 1 ] && echo "kernels: hipcc: every kernel file built for gfx90a"
else
  echo "kernels: hipcc: skipped: no HIP compiler on this machine (apt-get install hipcc)"
fi
exit $status
