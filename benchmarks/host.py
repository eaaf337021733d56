"""Host figures on a thesis-sized volume (1443 x 564 x 632 voxels, uint8, 0.277 mm).

Prints: load time and peak memory (ours vs SimpleITK's bare read, in separate processes);
slice-scroll latency in the real GUI (median and 95th percentile per new slice shown);
startup time to the window shown (ours vs a bare Qt window with one VTK view).
Run under a display (make bench uses Xvfb)."""

import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

SHAPE = (632, 564, 1443)     # numpy (z, y, x): 1443 x 564 x 632 in ITK order
SPACING = 0.277


def make_volume(folder):
    import SimpleITK as sitk

    path = os.path.join(folder, "thesis_sized.mha")
    rng = np.random.default_rng(0)
    arr = rng.integers(0, 255, size=SHAPE, dtype=np.uint8)
    img = sitk.GetImageFromArray(arr)
    img.SetSpacing((SPACING,) * 3)
    sitk.WriteImage(img, path)
    return path


LOADERS = {
    "usannotator read_volume": "from usannotator.io import read_volume; v = read_volume(p); a = v.array",
    "SimpleITK ReadImage + GetArrayFromImage (peer)":
        "import SimpleITK as sitk; a = sitk.GetArrayFromImage(sitk.ReadImage(p))",
}


def measure_load(path, code):
    script = (f"import time, resource; p = {path!r}; t = time.perf_counter(); {code}; "
              "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    seconds, peak_mb = map(float, out.split())
    return seconds, peak_mb


def scroll_latency(path, n=120):
    from usannotator.core import Document
    from usannotator.gui.app import create_app, create_window
    from usannotator.io import read_volume

    app = create_app()
    window = create_window(records=[])
    window.resize(1400, 900)
    window.show()
    doc = Document(read_volume(path))
    window.set_document(doc)
    doc.labels[::7, 100:300, 200:900] = 1    # labels present on the slices, as in real work
    for _ in range(10):
        app.processEvents()
    timings = {}
    for axis in range(3):
        shown, whole = [], []
        for _ in range(n):
            t = time.perf_counter()
            window.state.move_slice(axis, 1)   # what a wheel step does: new slice uploaded and rendered
            shown.append((time.perf_counter() - t) * 1000)
            app.processEvents()                # the other views' crosshairs follow
            whole.append((time.perf_counter() - t) * 1000)
        timings[axis] = shown, whole
    doc.modified = False
    window.close()
    return timings


STARTUP = {
    "usannotator window (all plugins)": (
        "from usannotator.gui.app import create_app, create_window; app = create_app(); "
        "w = create_window(); w.show(); app.processEvents(); w.render_all()"),
    "bare QMainWindow + one VTK view (peer)": (
        "from PySide6.QtWidgets import QApplication, QMainWindow; import vtkmodules.qt; "
        "vtkmodules.qt.PyQtImpl='PySide6'; import vtkmodules.vtkRenderingOpenGL2; "
        "from vtkmodules.qt.QVTKRenderWindowInteractor import QVTKRenderWindowInteractor; "
        "app = QApplication([]); w = QMainWindow(); v = QVTKRenderWindowInteractor(w); w.setCentralWidget(v); "
        "w.show(); app.processEvents(); v.GetRenderWindow().Render()"),
}


def measure_startup(code, repeats=3):
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
        times.append(time.perf_counter() - t)
    return min(times), statistics.median(times)


def main():
    with tempfile.TemporaryDirectory() as folder:
        print(f"thesis-sized volume {SHAPE[::-1]} (x, y, z), uint8, {SPACING} mm "
              f"({np.prod(SHAPE) / 1e6:.0f} MB)")
        path = make_volume(folder)
        print("\nload (.mha), separate processes, alternating, best of 3:")
        results = {name: [] for name in LOADERS}
        for _ in range(3):
            for name, code in LOADERS.items():
                results[name].append(measure_load(path, code))
        for name, runs in results.items():
            best = min(runs)
            print(f"  {name:<48} {best[0]:6.2f} s   peak RSS {max(r[1] for r in runs):7.0f} MB")

        print("\nslice scroll in the GUI (software OpenGL under Xvfb), ms: until the new slice is shown,")
        print("and the whole step including the other views' crosshairs:")
        for axis, (shown, whole) in scroll_latency(path).items():
            name = ("cross-section (sweep)", "coronal (depth)", "longitudinal (lateral)")[axis]
            print(f"  {name:<24} shown: median {statistics.median(shown):6.1f} p95 {np.percentile(shown, 95):6.1f}"
                  f"   whole step: median {statistics.median(whole):6.1f}   (aim: median < 16)")

    print("\nstartup to the window shown (process start to first render), best / median of 3:")
    for name, code in STARTUP.items():
        best, median = measure_startup(code)
        print(f"  {name:<40} {best:5.2f} s / {median:5.2f} s   (aim < 3 s)")
    check = subprocess.run([sys.executable, "-c", "import usannotator.gui.main_window, sys; "
                            "print('torch' in sys.modules)"], capture_output=True, text=True).stdout.strip()
    print(f"  torch imported at startup: {check}")


if __name__ == "__main__":
    main()
