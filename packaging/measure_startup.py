"""Time from launch to the window shown, for the bundle and for running from source, in one run.

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python packaging/measure_startup.py BUNDLE_DIR [BUNDLE_DIR...]

Each program is started with `--screenshot` (the window is created, shown, rendered, grabbed and
closed: an upper bound of the time to a usable window), then with `--demo --screenshot` (plus
generating and showing the demo), and `plugins` (the headless command line). Runs alternate
between the programs; best of 3 (--repeat N). Prints a table; figures, not assertions.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def timed(cmd, env) -> float:
    start = time.perf_counter()
    done = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"measure: {' '.join(cmd)} exited {done.returncode}: {done.stderr.strip()[-400:]}")
    return elapsed


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("bundles", nargs="*", help="unpacked bundle folders (holding the usannotator program)")
    p.add_argument("--repeat", type=int, default=3)
    args = p.parse_args()
    if not os.environ.get("DISPLAY"):
        raise SystemExit("measure: needs a screen; run under xvfb-run")

    source = str(Path(sys.executable).with_name("usannotator"))
    programs = {"source (.venv)": source}
    for b in args.bundles:
        variant = Path(b).name.rsplit("-", 1)[-1]    # x86_64, or notorch
        programs[f"bundle ({variant})" if variant == "notorch" else "bundle"] = str(Path(b) / "usannotator")

    with tempfile.TemporaryDirectory() as tmp:
        env = {"PATH": "/usr/bin:/bin", "HOME": tmp, "DISPLAY": os.environ["DISPLAY"], "LANG": "C.UTF-8"}
        if "XAUTHORITY" in os.environ:
            env["XAUTHORITY"] = os.environ["XAUTHORITY"]
        shot = str(Path(tmp) / "shot.png")
        cases = {
            "window (--screenshot)": ["--screenshot", shot],
            "demo window (--demo --screenshot)": ["--demo", "--screenshot", shot],
            "headless (plugins)": ["plugins"],
        }
        best = {(c, n): float("inf") for c in cases for n in programs}
        for _ in range(args.repeat):
            for case, extra in cases.items():
                for name, program in programs.items():
                    best[case, name] = min(best[case, name], timed([program, *extra], env))

    width = max(len(n) for n in programs)
    print(f"{'best of ' + str(args.repeat) + ', seconds':<36}" + "".join(f"{n:>{width + 2}}" for n in programs))
    for case in cases:
        print(f"{case:<36}" + "".join(f"{best[case, n]:>{width + 2}.2f}" for n in programs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
