"""Weights files: round trip, clear refusals, and the shipped lite weights."""

import dataclasses

import numpy as np
import pytest
import torch

from usannotator.core.errors import UserError
from usannotator_plugins.ifss.config import FULL, LITE
from usannotator_plugins.ifss.model import IFSSNet
from usannotator_plugins.ifss.weights import (FORMAT, FORMAT_VERSION, load_model, read_weights_file, save_weights,
                                              shipped_weights)

# Mean Dice on the held-out small phantom below (seed 901, keys every 6), see TRAINING.md;
# the zero-order copy of the untrained network scores lower (checked in the test).
# Measured 0.911 at the default threshold 0.25 (0.888 at the spec's 0.5, untrained copy 0.869 there).
SHIPPED_DICE_AT_LEAST = 0.90


def test_round_trip_keeps_weights_configuration_and_notes(tmp_path):
    torch.manual_seed(1)
    model = IFSSNet(LITE)
    path = save_weights(tmp_path / "w.pt", model, info={"seed": 7, "note": "x"})
    loaded, payload = load_model(path, "lite")
    assert payload["config"] == LITE and payload["info"] == {"seed": 7, "note": "x"}
    assert payload["format_version"] == FORMAT_VERSION
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), loaded.state_dict().values()))
    assert not loaded.training
    assert not (tmp_path / "w.pt.part").exists()


def test_corrupt_file(tmp_path):
    path = tmp_path / "broken.pt"
    path.write_bytes(np.random.default_rng(0).bytes(2000))
    with pytest.raises(UserError, match="broken.pt: is not a readable IFSS-Net weights file"):
        load_model(path)


def test_some_other_torch_file(tmp_path):
    torch.save({"weights": torch.zeros(3)}, tmp_path / "other.pt")
    with pytest.raises(UserError, match="not an IFSS-Net weights file"):
        load_model(tmp_path / "other.pt")


def _payload(config, state=None, version=FORMAT_VERSION):
    return {"format": FORMAT, "format_version": version, "config": config.to_dict(),
            "state_dict": state or {}, "tversky_omega": None, "info": {}}


def test_weights_of_the_other_configuration_are_refused(tmp_path):
    torch.save(_payload(FULL), tmp_path / "full.pt")
    with pytest.raises(UserError, match="'full' IFSS-Net configuration, but the 'lite'"):
        load_model(tmp_path / "full.pt", "lite")


def test_a_changed_lite_configuration_is_refused(tmp_path):
    save_weights(tmp_path / "tiny.pt", IFSSNet(dataclasses.replace(LITE, slice_size=32)))
    with pytest.raises(UserError, match="differs in slice_size"):
        load_model(tmp_path / "tiny.pt", "lite")
    model, _ = load_model(tmp_path / "tiny.pt", None)     # without a required configuration it loads
    assert model.config.slice_size == 32


def test_newer_format_and_mismatched_tensors(tmp_path):
    torch.save(_payload(LITE, version=FORMAT_VERSION + 1), tmp_path / "new.pt")
    with pytest.raises(UserError, match="format version"):
        read_weights_file(tmp_path / "new.pt")
    torch.save(_payload(LITE, state={"head.weight": torch.zeros(1)}), tmp_path / "odd.pt")
    with pytest.raises(UserError, match="does not fit"):
        load_model(tmp_path / "odd.pt")


def test_shipped_lite_weights_load_with_their_record():
    model, payload = load_model(shipped_weights("lite"), "lite")
    info = payload["info"]
    assert model.config == LITE
    assert info["command"].startswith("usannotator train") and info["trained_steps"] > 0
    assert 0.3 <= info["alpha"] <= 0.7 and abs(info["alpha"] + info["beta"] - 1) < 1e-6
    assert shipped_weights("lite").stat().st_size < 4 * 1024 * 1024


@pytest.mark.slow
def test_shipped_lite_weights_segment_a_held_out_phantom(leg, untrained_weights):
    from usannotator.jobs import Progress
    from usannotator.metrics import label_metrics
    from usannotator_plugins.ifss.propagate import Propagator

    phantom, sparse, keys, _ = leg     # seed 901: never used in training

    def dice(weights):
        result = Propagator(weights, "cpu").propagate(Progress(), phantom.volume.array, sparse, keys, preview=False)
        return label_metrics(phantom.truth, result.applied_to(sparse), phantom.geometry.spacing_zyx)["mean"]["dice"]

    trained = dice(shipped_weights("lite"))
    assert trained >= SHIPPED_DICE_AT_LEAST
    assert trained > dice(untrained_weights)
