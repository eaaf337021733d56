#!/usr/bin/env bash
# Builds the one-folder bundle and its archive:
#
#   bash packaging/build.sh            -> dist/usannotator-VERSION-linux-ARCH/ and .tar.gz
#   bash packaging/build.sh --no-torch -> dist/usannotator-VERSION-linux-ARCH-notorch/ and .tar.gz
#
# Uses the project's environment (.venv, made by scripts/setup.sh; or PYTHON=/path/to/python) and
# installs the build tools of packaging/requirements.txt into it. Whatever torch that environment
# holds goes into the bundle: the CPU build gives a CPU bundle, a CUDA build a CUDA one (see
# packaging/NOTES.md). Then run: bash packaging/smoke_test.sh
set -euo pipefail
SELF=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")
cd "$(dirname "$0")/.."
ROOT=$PWD

VARIANT=""
for arg in "$@"; do
  case "$arg" in
    --no-torch) VARIANT="-notorch" ;;
    -h|--help) sed -n '2,10p' "$SELF"; exit 0 ;;
    *) echo "build: unknown option $arg" >&2; exit 2 ;;
  esac
done

PYTHON=${PYTHON:-.venv/bin/python}
if [ ! -x "$PYTHON" ]; then
  echo "build: no $PYTHON; run 'bash scripts/setup.sh' first (or set PYTHON=...)" >&2
  exit 2
fi
VERSION=$(sed -n 's/^version *= *"\(.*\)"/\1/p' pyproject.toml | head -n1)
case "$(uname -s)" in
  Linux) OS=linux ;;
  Darwin) OS=macos ;;
  *) echo "build: this script builds on Linux; on Windows see packaging/windows/README.md" >&2; exit 2 ;;
esac
NAME="usannotator-$VERSION-$OS-$(uname -m)$VARIANT"
WORK="build/bundle$VARIANT"

echo "build: $NAME with $("$PYTHON" -c 'import sys; print(sys.version.split()[0])') ($PYTHON)"
"$PYTHON" -m pip install -q -r packaging/requirements.txt
if [ -z "$VARIANT" ] && ! "$PYTHON" -c "import torch" 2>/dev/null; then
  echo "build: torch does not import in $PYTHON (use --no-torch for a bundle without it)" >&2
  exit 2
fi
if [ -z "$VARIANT" ] && [ ! -f resources/ifss/ifss_lite.pt ]; then
  echo "build: warning: resources/ifss/ifss_lite.pt is missing; the bundle will ship no IFSS-Net weights" >&2
fi

# Icons for the launcher (PNG) and the Windows executable (ICO), from resources/icons/usannotator.svg.
QT_QPA_PLATFORM=offscreen "$PYTHON" packaging/make_icons.py build/icons

start=$(date +%s)
rm -rf "$WORK" "dist/$NAME" "dist/$NAME.tar.gz"
USANNOTATOR_BUNDLE_TORCH=$([ -z "$VARIANT" ] && echo 1 || echo 0) \
  "$PYTHON" -m PyInstaller --noconfirm --clean --log-level WARN \
  --distpath "$WORK/dist" --workpath "$WORK/work" packaging/usannotator.spec
mkdir -p dist
mv "$WORK/dist/usannotator" "dist/$NAME"
built=$(date +%s)

# What the IT person needs next to the program: a menu entry, its icon, and how to install it.
cp build/icons/usannotator.png resources/icons/usannotator.svg "dist/$NAME/"
cp packaging/linux/usannotator.desktop packaging/linux/install-desktop-entry.sh "dist/$NAME/"
chmod +x "dist/$NAME/install-desktop-entry.sh"
sed "s/@VERSION@/$VERSION/g" packaging/linux/README.txt > "dist/$NAME/README.txt"

tar -C dist -czf "dist/$NAME.tar.gz" "$NAME"
done_=$(date +%s)

echo "build: bundle  dist/$NAME/  $(du -sh "dist/$NAME" | cut -f1)"
echo "build: archive dist/$NAME.tar.gz  $(du -sh "dist/$NAME.tar.gz" | cut -f1)"
echo "build: PyInstaller $((built - start)) s, archive $((done_ - built)) s"
