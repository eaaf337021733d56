"""`usannotator propagate` and `usannotator train` end to end, through real files."""

import subprocess
import sys

import numpy as np
import pytest
import torch

from usannotator.cli import main


@pytest.fixture
def demo_files(tmp_path):
    from usannotator.phantom import write_demo

    return write_demo(tmp_path / "demo", seed=901, every=6, size="small")


def test_propagate_round_trip(demo_files, untrained_weights, tmp_path, capsys):
    from usannotator.io import read_labels, read_volume

    out = tmp_path / "out.nii.gz"
    code = main(["propagate", demo_files["image"], demo_files["sparse"], "-o", str(out),
                 "--weights", str(untrained_weights), "--device", "cpu"])
    assert code == 0, capsys.readouterr().err
    volume = read_volume(demo_files["image"])
    result, geometry, _ = read_labels(out, like=volume)
    sparse, _, _ = read_labels(demo_files["sparse"])
    for label in (1, 2, 3):
        # a slice holding L in the sparse file is a key slice of L: L stays as drawn there
        key = (sparse == label).reshape(sparse.shape[0], -1).any(axis=1)
        assert np.array_equal(result[key] == label, sparse[key] == label)
        first, last = np.flatnonzero(key)[[0, -1]]
        gaps = [z for z in range(first, last) if not key[z]]
        assert all((result[z] == label).any() for z in gaps)       # the gaps are filled
    assert geometry.matches(volume.geometry)
    assert "propagated" in capsys.readouterr().out


def test_bad_weights_exit_with_one_line_and_no_output(demo_files, tmp_path, capsys):
    out = tmp_path / "out.nii.gz"
    code = main(["propagate", demo_files["image"], demo_files["sparse"], "-o", str(out),
                 "--weights", str(tmp_path / "missing.pt")])
    err = capsys.readouterr().err
    assert code == 2 and "missing.pt: weights file not found" in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_requested_where_there_is_none(demo_files, untrained_weights, tmp_path, capsys):
    code = main(["propagate", demo_files["image"], demo_files["sparse"], "-o", str(tmp_path / "o.nii.gz"),
                 "--weights", str(untrained_weights), "--device", "cuda"])
    assert code == 2 and "CUDA" in capsys.readouterr().err


def test_empty_sparse_labels(demo_files, tmp_path, capsys):
    from usannotator.io import read_labels, write_labels

    labels, geometry, _ = read_labels(demo_files["sparse"])
    empty = tmp_path / "empty.nii.gz"
    write_labels(empty, np.zeros_like(labels), geometry)
    code = main(["propagate", demo_files["image"], str(empty), "-o", str(tmp_path / "o.nii.gz")])
    assert code == 2 and "holds no label" in capsys.readouterr().err


def test_train_command_writes_loadable_weights(tmp_path, capsys):
    from usannotator_plugins.ifss.weights import load_model

    out = tmp_path / "w.pt"
    code = main(["train", "-o", str(out), "--seeds", "1000", "--size", "small", "--steps", "2",
                 "--validation-seeds", "none", "--seed", "5"])
    assert code == 0, capsys.readouterr().err
    model, payload = load_model(out, "lite")
    assert payload["info"]["trained_steps"] == 2 and payload["info"]["seed"] == 5
    assert "trained 2 steps; kept the weights of step 2" in capsys.readouterr().out


def test_the_threshold_decides_how_much_is_muscle(demo_files, untrained_weights, tmp_path, capsys):
    from usannotator.io import read_labels

    counts = {}
    for threshold in ("0.25", "0.5"):
        out = tmp_path / f"out{threshold}.nii.gz"
        code = main(["propagate", demo_files["image"], demo_files["sparse"], "-o", str(out),
                     "--weights", str(untrained_weights), "--device", "cpu", "--threshold", threshold])
        assert code == 0, capsys.readouterr().err
        counts[threshold] = int((read_labels(out)[0] > 0).sum())
    assert counts["0.25"] > counts["0.5"]


@pytest.mark.parametrize("bad", ["0", "1.5", "x"])
def test_a_threshold_outside_0_1_is_refused(demo_files, tmp_path, capsys, bad):
    out = tmp_path / "o.nii.gz"
    with pytest.raises(SystemExit) as stop:
        main(["propagate", demo_files["image"], demo_files["sparse"], "-o", str(out), "--threshold", bad])
    assert stop.value.code == 2 and "threshold" in capsys.readouterr().err and not out.exists()


def test_train_refuses_bad_seeds(tmp_path, capsys):
    assert main(["train", "-o", str(tmp_path / "w.pt"), "--seeds", "a-b"]) == 2
    assert "seeds" in capsys.readouterr().err


def test_plugin_imports_without_torch():
    code = ("import sys, usannotator_plugins.ifss as p; p.plugin.segmenters(); "
            "assert 'torch' not in sys.modules, 'torch was imported'")
    subprocess.run([sys.executable, "-c", code], check=True)
