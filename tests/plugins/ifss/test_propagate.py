"""The interactive protocol: write rules, one edit, cancel, corrections, bad input."""

import dataclasses
import math

import numpy as np
import pytest
import torch

from usannotator.core import Edit, Source
from usannotator.core.errors import UserError
from usannotator.jobs import Cancelled, Progress
from usannotator_plugins.ifss.config import LITE
from usannotator_plugins.ifss.propagate import (SPEC_THRESHOLD, THRESHOLD, Interval, Propagator, correction_job,
                                                intervals_around, propagation_job)


@pytest.fixture
def echo_propagator(echo_model):
    """A propagator whose 'network' copies its mask input, on 64-pixel slices (the small phantom's)."""
    model = echo_model(dataclasses.replace(LITE, slice_size=64))
    propagator = Propagator(device="cpu")
    propagator.use_model(model)
    return propagator, model


def _snapshot(doc):
    return doc.labels.copy(), {v: a.copy() for v, a in doc.provenance.snapshot().items()}


def test_result_is_one_edit_that_keeps_key_slices_and_locked_labels(leg_document, untrained_weights):
    doc = leg_document
    doc.label_table.update(3, locked=True)
    labels_before = doc.labels.copy()
    keys = {v: doc.key_slices(v).tolist() for v in (1, 2, 3)}
    result = propagation_job(doc, Propagator(untrained_weights, "cpu"))(Progress())
    assert set(result.slices_written) == {1, 2}            # the locked SOL is not in the run
    change = doc.apply_edit(result.to_edit())
    assert change is not None and len(doc.history._undo) == 1
    assert np.array_equal(doc.labels == 3, labels_before == 3)   # locked label: every voxel as it was
    for label, zs in keys.items():
        for z in zs:
            assert np.array_equal(doc.labels[z] == label, labels_before[z] == label)
    for label in (1, 2):
        written = result.slices_written[label]
        assert written and all(doc.provenance.of(label)[z] == Source.PROPAGATED for z in written)
        assert (doc.labels[written] == label).any()
    doc.undo()
    assert np.array_equal(doc.labels, labels_before)


def test_muscles_outside_the_run_stay_untouched(leg, echo_propagator):
    phantom, sparse, keys, _ = leg
    propagator, _ = echo_propagator
    result = propagator.propagate(Progress(), phantom.volume.array, sparse, keys, labels_to_run=[2], preview=False)
    out = result.applied_to(sparse)
    for other in (1, 3):
        assert np.array_equal(out == other, sparse == other)
    assert set(result.slices_written) == {2}
    lo, hi = keys[2][0], keys[2][-1]
    assert result.slices_written[2] == [z for z in range(lo + 1, hi) if z not in keys[2]]


@pytest.mark.parametrize("threshold, last", [(THRESHOLD, 10), (SPEC_THRESHOLD, 7)])
def test_blend_between_a_mask_and_an_empty_key(echo_propagator, threshold, last):
    propagator, _ = echo_propagator
    propagator.threshold = threshold
    image = np.random.default_rng(0).integers(1, 255, (20, 64, 64)).astype(np.uint8)
    labels = np.zeros(image.shape, np.uint16)
    labels[2, 20:40, 20:40] = 1                # slice 13 is a key slice where the muscle is absent
    result = propagator.propagate(Progress(), image, labels, {1: [2, 13]}, preview=False)
    out = result.applied_to(labels)
    present = [z for z in range(3, 13) if (out[z] == 1).any()]
    # P(z) = (13 - z) / 11 from the forward chain: at least 0.25 up to slice 10, at least 0.5 up to 7
    assert present == list(range(3, last + 1))


def test_default_threshold_and_the_specs():
    assert Propagator().threshold == THRESHOLD == 0.25
    assert Propagator(threshold=SPEC_THRESHOLD).threshold == 0.5
    for bad in (0.0, -0.1, 1.5):
        with pytest.raises(ValueError, match="threshold"):
            Propagator(threshold=bad)


def test_preview_streams_every_recomputed_slice_from_both_chains(leg, echo_propagator):
    phantom, sparse, keys, _ = leg
    propagator, _ = echo_propagator
    seen = {}

    def collect(payload):
        assert payload["probability"].shape == (len(payload["slices"]),) + sparse.shape[1:]
        for z in payload["slices"]:
            seen.setdefault((payload["label"], z), set()).add(payload["direction"])

    result = propagator.propagate(Progress(on_partial=collect), phantom.volume.array, sparse, keys)
    expected = {(l, z) for l, zs in result.slices_written.items() for z in zs}
    assert set(seen) == expected
    assert all(d == {"forward", "backward"} for d in seen.values())


def test_cancel_mid_run_leaves_the_document_unchanged(leg_document, echo_propagator):
    doc = leg_document
    propagator, model = echo_propagator
    before = _snapshot(doc)
    progress = Progress()
    progress._on_partial = lambda payload: progress.cancel()   # Cancel pressed at the first preview
    with pytest.raises(Cancelled):
        propagation_job(doc, propagator)(progress)
    assert 0 < model.windows
    labels, prov = _snapshot(doc)
    assert np.array_equal(labels, before[0])
    assert all(np.array_equal(prov[v], before[1][v]) for v in before[1])
    assert not doc.history.can_undo()


def test_cancel_stops_between_windows(leg, echo_propagator):
    phantom, sparse, keys, _ = leg
    propagator, model = echo_propagator
    progress = Progress()
    progress._on_partial = lambda payload: progress.cancel()
    with pytest.raises(Cancelled):
        propagator.propagate(progress, phantom.volume.array, sparse, keys)
    stopped_after = model.windows
    fresh = Propagator(device="cpu")
    fresh.use_model(type(model)(model.config))
    result = fresh.propagate(Progress(), phantom.volume.array, sparse, keys, preview=False)
    assert stopped_after < result.windows_evaluated


def test_a_correction_recomputes_only_its_two_intervals(leg_document, echo_propagator):
    doc = leg_document
    propagator, model = echo_propagator
    doc.apply_edit(propagation_job(doc, propagator)(Progress()).to_edit())
    keys = doc.key_slices(1).tolist()
    k_prev, k_next = keys[1], keys[2]
    j = k_prev + 2
    # the user redraws GM on slice j: a box instead of the propagated shape
    region = (slice(j, j + 1), slice(0, 64), slice(0, 64))
    drawn = np.where(doc.labels[region] == 1, 0, doc.labels[region])
    drawn[0, 20:30, 10:20] = 1
    doc.apply_edit(Edit(region, drawn, description="correction"))
    assert doc.provenance.of(1)[j] == Source.CORRECTED
    before = doc.labels.copy()
    windows_before = model.windows
    result = correction_job(doc, propagator, label=1, z=j)(Progress())
    expected = list(range(k_prev + 1, j)) + list(range(j + 1, k_next))
    assert result.slices_written == {1: expected}
    assert result.chains_computed == 2 and result.chains_reused == 2
    stride = model.config.stride
    assert result.windows_evaluated == math.ceil((j - k_prev - 1) / stride) + math.ceil((k_next - j - 1) / stride)
    assert model.windows - windows_before == result.windows_evaluated
    doc.apply_edit(result.to_edit())
    others = [z for z in range(doc.labels.shape[0]) if z not in expected]
    assert np.array_equal(doc.labels[others], before[others])          # byte-identical elsewhere
    box = (slice(20, 30), slice(10, 20))
    assert (doc.labels[j + 1][box] == 1).sum() > (before[j + 1][box] == 1).sum()   # the new key's box is carried


def test_intervals_around_a_new_key():
    assert intervals_around([10, 30], 1, 20, 50) == [Interval(1, 10, 20), Interval(1, 20, 30)]
    assert intervals_around([10, 30], 1, 40, 50) == [Interval(1, 30, 40)]     # beyond the last key
    assert intervals_around([10, 30], 1, 11, 50) == [Interval(1, 11, 30)]     # no gap on one side


def test_tails_continue_beyond_the_end_keys(echo_propagator):
    propagator, _ = echo_propagator
    image = np.full((24, 64, 64), 50, np.uint8)
    labels = np.zeros(image.shape, np.uint16)
    labels[[8, 14], 10:30, 10:30] = 1
    result = propagator.propagate(Progress(), image, labels, {1: [8, 14]}, extend_tails=True, preview=False)
    assert result.slices_written[1] == [z for z in range(24) if z not in (8, 14)]
    assert (result.applied_to(labels)[0] == 1).sum() == 400


def test_out_of_memory_falls_back_to_the_cpu(leg, echo_model):
    phantom, sparse, keys, _ = leg

    class FailsOnce(echo_model):
        def forward(self, image, mask):
            if image.device.type != "cpu":
                raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
            return super().forward(image, mask)

    propagator = Propagator(device="cpu")
    propagator.use_model(FailsOnce(dataclasses.replace(LITE, slice_size=64)))
    propagator.device = "meta"        # stands in for an accelerator on a CPU-only machine
    result = propagator.propagate(Progress(), phantom.volume.array, sparse, keys, preview=False)
    assert result.device == "cpu"
    assert any("ran out of memory" in m for m in result.messages)


# ----------------------------------------------------------------------------- bad input

def test_volume_smaller_than_a_window(echo_propagator):
    propagator, _ = echo_propagator
    labels = np.zeros((2, 64, 64), np.uint16)
    labels[0, :5, :5] = 1
    with pytest.raises(UserError, match="at least 3"):
        propagator.propagate(Progress(), np.ones((2, 64, 64)), labels, {1: [0, 1]})


def test_no_key_slice(leg, echo_propagator):
    phantom, _, _, _ = leg
    propagator, _ = echo_propagator
    empty = np.zeros(phantom.truth.shape, np.uint16)
    with pytest.raises(UserError, match="no key slice"):
        propagator.propagate(Progress(), phantom.volume.array, empty, {})


def test_single_key_slice_has_nothing_between(leg, echo_propagator):
    phantom, sparse, _, _ = leg
    propagator, _ = echo_propagator
    with pytest.raises(UserError, match="two key slices"):
        propagator.propagate(Progress(), phantom.volume.array, sparse, {1: [10]})


def test_locked_label_asked_for_explicitly(leg, echo_propagator):
    phantom, sparse, keys, _ = leg
    propagator, _ = echo_propagator
    with pytest.raises(UserError, match="locked"):
        propagator.propagate(Progress(), phantom.volume.array, sparse, keys, locked={1}, labels_to_run=[1])


def test_key_slice_outside_the_volume(leg, echo_propagator):
    phantom, sparse, _, _ = leg
    propagator, _ = echo_propagator
    with pytest.raises(UserError, match="outside"):
        propagator.propagate(Progress(), phantom.volume.array, sparse, {1: [3, 60]})


def test_interval_that_is_not_between_neighbouring_keys(leg, echo_propagator):
    phantom, sparse, keys, _ = leg
    propagator, _ = echo_propagator
    wrong = Interval(1, keys[1][0], keys[1][2])
    with pytest.raises(ValueError, match="neighbouring"):
        propagator.propagate(Progress(), phantom.volume.array, sparse, keys, intervals={1: [wrong]})


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_requested_where_there_is_none(leg, untrained_weights):
    phantom, sparse, keys, _ = leg
    with pytest.raises(UserError, match="CUDA"):
        Propagator(untrained_weights, "cuda").propagate(Progress(), phantom.volume.array, sparse, keys)


def test_weights_missing(leg, tmp_path):
    phantom, sparse, keys, _ = leg
    with pytest.raises(UserError, match="not found"):
        Propagator(tmp_path / "nowhere.pt", "cpu").propagate(Progress(), phantom.volume.array, sparse, keys)


def test_document_job_runs_as_the_host_model_thread_calls_it():
    """The host's model thread calls run(progress, device=...); the job must accept it and use it."""
    from usannotator.demo import demo_document
    from usannotator.jobs import Progress
    from usannotator_plugins.ifss.propagate import Propagator, propagation_job

    doc, _ = demo_document(seed=3, size="small")
    job = propagation_job(doc, Propagator(), labels_to_run=[1])
    result = job.run(Progress(), device="cpu", **job.kwargs)
    assert result.device == "cpu"
    assert doc.apply_edit(result.to_edit()) is not None
