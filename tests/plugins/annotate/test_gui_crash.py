"""A crash for real: a window in another process paints strokes and is killed with SIGKILL in the
middle of one; the next start offers the autosave, restores it, and every finished stroke is back,
voxel for voxel, without the one being drawn."""

import select
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from usannotator.io.journal import list_recoveries
from usannotator.phantom import write_demo

pytestmark = [pytest.mark.gui, pytest.mark.slow]

SCRIPT = Path(__file__).with_name("crash_session.py")
STROKES = 12


def run_script(*args, log, timeout=180):
    return subprocess.run([sys.executable, str(SCRIPT), *map(str, args)], stdout=log, stderr=subprocess.STDOUT,
                          timeout=timeout)


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_killed_while_drawing_then_restored_at_the_next_start(tmp_path):
    demo = write_demo(tmp_path / "demo", size="small")
    out = tmp_path / "out"
    out.mkdir()
    with open(tmp_path / "paint.log", "w") as log:
        painter = subprocess.Popen([sys.executable, str(SCRIPT), "paint", demo["image"], demo["sparse"], out,
                                    str(STROKES)], stdout=subprocess.PIPE, stderr=log, text=True)
        try:
            ready, _, _ = select.select([painter.stdout], [], [], 180)
            line = painter.stdout.readline() if ready else ""
        finally:
            painter.send_signal(signal.SIGKILL)
            painter.wait(30)
    assert line == "PAINTING\n", (tmp_path / "paint.log").read_text()[-3000:]
    assert painter.returncode == -signal.SIGKILL
    assert len(list_recoveries()) == 1, "the killed session left no autosave"

    with open(tmp_path / "recover.log", "w") as log:
        result = run_script("recover", out, log=log)
    assert result.returncode == 0, (tmp_path / "recover.log").read_text()[-3000:]
    assert "image.nii.gz" in (out / "offer.txt").read_text()
    np.testing.assert_array_equal(np.load(out / "recovered.npy"), np.load(out / "expected.npy"))
    assert f"Recovered the labels with {STROKES} edit(s)" in (out / "report.txt").read_text()
    assert list_recoveries() == [], "a session closed normally must leave no autosave"
