#!/usr/bin/env bash
# Sets up usannotator from nothing on Debian/Ubuntu: system libraries for Qt and VTK (and Xvfb for
# headless machines), a virtual environment in .venv, torch, then the project with its test tools.
set -euo pipefail
cd "$(dirname "$0")/.."

SYSTEM_PACKAGES=(xvfb xauth libgl1 libegl1 libglx-mesa0 libxrender1 libxkbcommon-x11-0 libxcb-cursor0
  libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-render-util0 libxcb-xinerama0 libxcb-xkb1
  libxcb-shape0 libxcb-randr0 libdbus-1-3 libfontconfig1)

missing=()
if command -v dpkg >/dev/null; then
  for p in "${SYSTEM_PACKAGES[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
fi
if ((${#missing[@]})); then
  echo "setup: installing system packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
PIP=".venv/bin/python -m pip"
$PIP install -q --upgrade pip >/dev/null

# torch: a CPU build on machines without an NVIDIA GPU (small, and what CI uses); on a GPU machine
# the registry's default build, which carries CUDA. Installed first so the project's torch>=2.2 is
# already satisfied and pulls nothing more.
if ! .venv/bin/python -c "import torch" 2>/dev/null; then
  if command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1; then
    $PIP install -q torch
  else
    $PIP install -q "torch==2.13.0"
  fi
fi
$PIP install -q -e ".[test]"
echo "setup: done (.venv ready)"
