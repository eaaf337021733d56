#!/usr/bin/env bash
# Smoke test of a built bundle, run the way a lab PC runs it: unpacked into a fresh folder, with an
# empty environment (no virtual environment, no PYTHONPATH, a fresh HOME), on a virtual screen.
#
#   bash packaging/smoke_test.sh                    the newest dist/usannotator-*.tar.gz (with torch)
#   bash packaging/smoke_test.sh ARCHIVE.tar.gz     that archive
#   bash packaging/smoke_test.sh BUNDLE_DIR         an unpacked bundle, as it is
#   --no-torch    for a bundle built with --no-torch: model commands must fail cleanly instead
#   --keep        keep the work folder (screenshot, reports, outputs) and print where it is
#
# Checks: the window on the demo renders (screenshot not blank), every built-in plugin is active,
# headless commands work, a confidence map of a small demo volume (the compiled solver kernels)
# and one model job (IFSS-Net propagation on a small demo) run inside the bundle. Needs xvfb-run
# and python3 (standard library only: it reads the PNG). Exit 0 when all pass.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")

TARGET=""; TORCH=1; KEEP=0
for arg in "$@"; do
  case "$arg" in
    --no-torch) TORCH=0 ;;
    --keep) KEEP=1 ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) TARGET=$arg ;;
  esac
done
if [ -z "$TARGET" ]; then
  pattern="usannotator-*-linux-*[0-9].tar.gz"; [ "$TORCH" = 0 ] && pattern="usannotator-*-notorch.tar.gz"
  TARGET=$(ls -t "$ROOT"/dist/$pattern 2>/dev/null | head -n1)
  [ -n "$TARGET" ] || { echo "smoke: no dist/$pattern; run packaging/build.sh first" >&2; exit 2; }
fi
command -v xvfb-run >/dev/null || { echo "smoke: xvfb-run is needed (apt-get install xvfb xauth)" >&2; exit 2; }
PY=$(command -v python3 || true)
[ -n "$PY" ] || PY="$ROOT/.venv/bin/python"

WORK=$(mktemp -d /tmp/usannotator-smoke.XXXXXX)
[ "$KEEP" = 1 ] || trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/home" "$WORK/out"

if [ -d "$TARGET" ]; then
  BUNDLE=$(cd "$TARGET" && pwd)
else
  echo "smoke: unpacking $(basename "$TARGET") into $WORK/unpacked"
  mkdir -p "$WORK/unpacked"
  tar -C "$WORK/unpacked" -xzf "$TARGET" || { echo "smoke: FAIL cannot unpack $TARGET"; exit 1; }
  BUNDLE=$(ls -d "$WORK"/unpacked/*/ | head -n1); BUNDLE=${BUNDLE%/}
fi
APP="$BUNDLE/usannotator"
OUT="$WORK/out"
echo "smoke: bundle $BUNDLE ($(du -sh "$BUNDLE" | cut -f1))"

failures=0
pass() { echo "smoke: PASS $*"; }
fail() { echo "smoke: FAIL $*"; failures=$((failures + 1)); }
# Nothing from this shell leaks in: only a minimal PATH and a fresh HOME.
clean() { env -i PATH=/usr/bin:/bin HOME="$WORK/home" LANG=C.UTF-8 "$@"; }
onscreen() { clean xvfb-run -a -s "-screen 0 1600x1000x24" "$@"; }

# 1. the program and its files
[ -x "$APP" ] && pass "executable present" || fail "no executable $APP"
for f in usannotator.desktop usannotator.png install-desktop-entry.sh; do
  [ -e "$BUNDLE/$f" ] || fail "launcher file $f missing"
done
ls "$BUNDLE"/_internal/usannotator-*.dist-info/entry_points.txt >/dev/null 2>&1 \
  && pass "package metadata with entry points" || fail "no usannotator .dist-info/entry_points.txt"
ls "$BUNDLE"/_internal/qtawesome/fonts/*.ttf >/dev/null 2>&1 && pass "icon fonts" || fail "qtawesome fonts missing"
if [ "$TORCH" = 1 ]; then
  [ -x "$BUNDLE/_internal/torch/bin/torch_shm_manager" ] && pass "torch_shm_manager kept" \
    || fail "torch/bin/torch_shm_manager missing (import torch fails without it)"
  [ -f "$BUNDLE/_internal/resources/ifss/ifss_lite.pt" ] && pass "IFSS-Net weights shipped" \
    || fail "resources/ifss/ifss_lite.pt not in the bundle"
fi
version=$(clean "$APP" --version 2>&1) && pass "--version: $version" || fail "--version: $version"

# 2. headless: plugins and their commands
if clean "$APP" plugins --json > "$OUT/plugins-cli.json" 2> "$OUT/plugins-cli.err"; then
  pass "usannotator plugins"
else
  fail "usannotator plugins: $(tail -n3 "$OUT/plugins-cli.err")"
fi
clean "$APP" help > "$OUT/help.txt" 2>&1 || fail "usannotator help"
for cmd in interpolate confidence propagate borders; do
  grep -qw "$cmd" "$OUT/help.txt" || fail "command '$cmd' missing from 'usannotator help'"
done

# 3. the window on the demo, rendered on a virtual screen
t0=$(date +%s.%N)
if onscreen "$APP" --demo --screenshot "$OUT/demo.png" --plugins-report "$OUT/plugins.json" \
     > "$OUT/gui.log" 2>&1; then
  t1=$(date +%s.%N)
  pass "window on the demo rendered and closed ($(echo "$t1 - $t0" | bc 2>/dev/null || echo "?") s)"
else
  fail "GUI run exited non-zero: $(tail -n5 "$OUT/gui.log")"
fi
if [ -f "$OUT/demo.png" ]; then
  "$PY" "$HERE/check_screenshot.py" "$OUT/demo.png" && pass "screenshot not blank" || fail "screenshot blank"
else
  fail "no screenshot written"
fi
if [ -f "$OUT/plugins.json" ]; then
  if "$PY" - "$OUT/plugins.json" <<'EOF'
import json, sys
states = {r["name"]: r for r in json.load(open(sys.argv[1]))}
bad = 0
for name in ("annotate", "zoi", "confidence", "ifss", "borders"):
    r = states.get(name)
    state = r["state"] if r else "absent"
    print(f"         plugin {name:<11} {state} {r.get('error', '') if r else ''}")
    bad += state != "active"
sys.exit(bad != 0)
EOF
  then pass "every built-in plugin active"; else fail "not every built-in plugin is active"; fi
else
  fail "no plugins report written"
fi

# 4. one model job inside the bundle: IFSS-Net propagation on a small demo
if clean "$APP" demo "$OUT/demo" --size small > "$OUT/demo.txt" 2>&1; then
  pass "usannotator demo --size small"
else
  fail "usannotator demo: $(tail -n3 "$OUT/demo.txt")"
fi
image=$(sed -n 's/^image: //p' "$OUT/demo.txt"); sparse=$(sed -n 's/^sparse: //p' "$OUT/demo.txt")
truth=$(sed -n 's/^\(truth\|labels\|ground_truth\): //p' "$OUT/demo.txt" | head -n1)
# the confidence solver's compiled kernels (numba) inside the bundle, with an empty user cache
t0=$(date +%s.%N)
if clean "$APP" confidence "$image" -o "$OUT/confidence.nii.gz" --no-cache > "$OUT/confidence.log" 2>&1 \
     && [ -s "$OUT/confidence.nii.gz" ]; then
  t1=$(date +%s.%N)
  pass "usannotator confidence on the small demo volume ($(echo "$t1 - $t0" | bc 2>/dev/null || echo "?") s)"
else
  fail "usannotator confidence: $(tail -n5 "$OUT/confidence.log")"
fi
t0=$(date +%s.%N)
clean "$APP" propagate "$image" "$sparse" -o "$OUT/propagated.nii.gz" > "$OUT/propagate.log" 2>&1
rc=$?
t1=$(date +%s.%N)
if [ "$TORCH" = 1 ]; then
  if [ $rc = 0 ] && [ -s "$OUT/propagated.nii.gz" ]; then
    pass "usannotator propagate ($(echo "$t1 - $t0" | bc 2>/dev/null || echo "?") s)"
    if [ -n "$truth" ] && clean "$APP" metrics "$truth" "$OUT/propagated.nii.gz" > "$OUT/metrics.txt" 2>&1; then
      sed 's/^/         /' "$OUT/metrics.txt"
    fi
  else
    fail "usannotator propagate exited $rc: $(tail -n5 "$OUT/propagate.log")"
  fi
else
  # without torch: a clean refusal (one line, non-zero status, no traceback, no output file)
  if [ $rc != 0 ] && ! grep -q Traceback "$OUT/propagate.log" && [ ! -e "$OUT/propagated.nii.gz" ]; then
    pass "propagate without torch refused cleanly (exit $rc: $(tail -n1 "$OUT/propagate.log"))"
  else
    fail "propagate without torch: exit $rc: $(tail -n5 "$OUT/propagate.log")"
  fi
fi

[ "$KEEP" = 1 ] && echo "smoke: outputs kept in $WORK"
if [ "$failures" = 0 ]; then echo "smoke: ALL PASSED"; exit 0; fi
echo "smoke: $failures FAILED"; exit 1
