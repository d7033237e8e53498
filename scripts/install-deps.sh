#!/usr/bin/env bash
# Installs everything nibble needs to build, test and cross-test, from Debian 12's
# own packages. Safe to run again: it does nothing when all are present.
set -euo pipefail

packages=(
  build-essential cmake pkg-config git
  libxsimd-dev xtl-dev libfmt-dev catch2 libbenchmark-dev libpcre2-dev libcli11-dev nlohmann-json3-dev libcpp-httplib-dev haproxy
  # LLVM's OpenMP runtime: GCC builds use libgomp, but clang's -fopenmp (the fuzz and
  # ThreadSanitizer builds of issue 13) links libomp and needs its omp.h.
  libomp-dev
  g++-aarch64-linux-gnu qemu-user
  python3 python3-matplotlib
  clang libclang-rt-14-dev
  libpcre2-dev:arm64
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
# The aarch64 cross build links Debian's arm64 PCRE2 (multiarch).
if ! dpkg --print-foreign-architectures | grep -qx arm64; then $sudo dpkg --add-architecture arm64; fi
echo "install-deps: installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
