"""Activation maps on border pixels, on a small U-Net trained here (tiny_segmenter.py)."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from usannotator.core.errors import UserError
from usannotator.jobs import Cancelled, Job, Progress, run_inline
from usannotator.plugins import PluginRecord, Segmenter
from usannotator.plugins.api import Plugin
from usannotator_plugins.borders import activation as act
from usannotator_plugins.borders.split import split_borders

from tests.plugins.borders.tiny_segmenter import band_slice

TEST_SEED = 100


@pytest.fixture(scope="module")
def slices():
    """Three slices whose superficial fascia is missing all along: (image, labels) volumes."""
    rng = np.random.default_rng(TEST_SEED)
    images, bands = zip(*[band_slice(rng, fascia_until=0) for _ in range(3)])
    return np.stack(images), np.stack(bands).astype(np.uint8)


def top_and_bottom(band):
    """(deep border under the bright fascia, superficial border where the fascia is missing)."""
    above = np.vstack([np.zeros((1, band.shape[1]), bool), band[:-1]])
    below = np.vstack([band[1:], np.zeros((1, band.shape[1]), bool)])
    return band & ~below, band & ~above


def maps_at(segmenter, slices, layer, z=0, weights="global", target="muscle"):
    image, labels = slices
    deep, superficial = top_and_bottom(labels[z] == 1)
    return act.slice_activation(segmenter, segmenter.net, image, labels, z, 1, deep, superficial, layer,
                                target, weights)


def difference(result):
    a, b = act.per_map_normalise(result.distinct), act.per_map_normalise(result.completed)
    return float(np.abs(a - b).max()), float(np.corrcoef(a.ravel(), b.ravel())[0, 1])


def test_the_test_network_really_segments(net, slices):
    image, labels = slices
    with torch.no_grad():
        predicted = net(torch.tensor(image[:, None]))[:, 0].numpy() > 0
    truth = labels == 1
    dice = 2 * np.count_nonzero(predicted & truth) / (predicted.sum() + truth.sum())
    assert dice > 0.85


def test_hooked_score_is_the_sum_of_logits_over_the_border_pixels(segmenter, slices):
    image, labels = slices
    deep, superficial = top_and_bottom(labels[1] == 1)
    result = maps_at(segmenter, slices, "dec2", z=1)
    with torch.no_grad():
        logits = segmenter.slice_logits(segmenter.net, image, labels, 1, 1).numpy()
    assert result.scores["distinct"] == pytest.approx(float(logits[deep].sum()), rel=1e-5)
    assert result.scores["completed"] == pytest.approx(float(logits[superficial].sum()), rel=1e-5)
    background = maps_at(segmenter, slices, "dec2", z=1, target="background")
    assert background.scores["distinct"] == pytest.approx(-result.scores["distinct"], rel=1e-5)


def test_maps_are_non_negative_float_maps_of_the_slice_grid(segmenter, slices):
    result = maps_at(segmenter, slices, None)
    for heat in (result.distinct, result.completed):
        assert heat.shape == slices[0].shape[1:] and heat.dtype == np.float32
        assert heat.min() >= 0 and heat.max() > 0
    joint = result.normalised()
    assert min(m.min() for m in joint) == pytest.approx(0.0, abs=1e-6)
    assert max(m.max() for m in joint) == pytest.approx(1.0)


def test_maps_differ_at_the_default_layer(segmenter, slices):
    for z in range(3):
        result = maps_at(segmenter, slices, None, z=z)
        largest, correlation = difference(result)
        assert largest > 0.05 and correlation < 0.99, (z, largest, correlation)
        assert not result.coincide


@pytest.mark.parametrize("layer", ["out", "dec1"])
def test_maps_coincide_at_the_output_and_where_only_a_1x1_convolution_follows(segmenter, slices, layer):
    result = maps_at(segmenter, slices, layer)
    a, b = act.per_map_normalise(result.distinct), act.per_map_normalise(result.completed)
    assert np.abs(a - b).max() < 1e-5
    assert result.coincide


def test_at_the_output_the_map_is_the_rectified_logit(segmenter, slices):
    image, labels = slices
    result = maps_at(segmenter, slices, "out")
    with torch.no_grad():
        logits = segmenter.slice_logits(segmenter.net, image, labels, 0, 1).numpy()
    expected = act.per_map_normalise(np.maximum(logits, 0))
    assert np.abs(act.per_map_normalise(result.distinct) - expected).max() < 1e-5


def test_a_layer_followed_by_an_in_place_relu_works(segmenter, slices):
    result = maps_at(segmenter, slices, "dec2 first convolution")
    assert result.distinct.min() >= 0 and result.distinct.max() > 0 and not result.coincide


def test_output_layer_is_flagged_before_computing(segmenter, net):
    layers = segmenter.layers(net)
    assert act.layer_caveat(net, layers["out"]) == act.COINCIDE_MESSAGE
    assert act.layer_caveat(net, net) == act.COINCIDE_MESSAGE
    assert act.layer_caveat(net, layers["dec2"]) == ""


def test_per_pixel_weights_keep_each_map_near_its_own_border(segmenter, slices):
    result = maps_at(segmenter, slices, None, weights="per-pixel")
    largest, correlation = difference(result)
    assert largest > 0.5 and correlation < 0.9
    rows = np.arange(slices[0].shape[1])
    deep, superficial = top_and_bottom(slices[1][0] == 1)
    # the evidence for the deep border sits deeper than the evidence for the superficial one
    centre = [float((m.sum(axis=1) * rows).sum() / m.sum()) for m in (result.distinct, result.completed)]
    assert centre[0] > centre[1]


def test_bad_requests_are_one_line_errors(segmenter, slices):
    image, labels = slices
    empty = np.zeros(image.shape[1:], bool)
    with pytest.raises(UserError, match="no border pixel"):
        act.slice_activation(segmenter, segmenter.net, image, labels, 0, 1, empty, empty)
    with pytest.raises(UserError, match="no layer 'nope'.*dec2"):
        maps_at(segmenter, slices, "nope")
    with pytest.raises(UserError, match="target"):
        maps_at(segmenter, slices, None, target="fat")


def test_works_inside_the_model_threads_inference_mode(segmenter, slices):
    outside = maps_at(segmenter, slices, None)
    with torch.inference_mode():
        inside = maps_at(segmenter, slices, None)
    np.testing.assert_allclose(inside.distinct, outside.distinct, rtol=1e-5, atol=1e-6)


def test_job_over_the_volume_with_progress_and_cancel(segmenter, slices):
    image, labels = slices
    split = split_borders(image, labels)
    job = Job("activation", act.border_activation_maps, uses_model=True,
              kwargs=dict(segmenter=segmenter, image=image, labels=labels, distinct=split.distinct,
                          completed=split.completed, label=1))
    result = run_inline(job)
    assert sorted(result.slices) == [0, 1, 2] and result.layer == "dec2" and result.message == ""
    distinct, completed = result.volumes(image.shape)
    assert distinct.shape == image.shape and distinct.dtype == np.float32
    np.testing.assert_allclose(distinct[1], result.slices[1].normalised()[0])

    seen = []
    progress = Progress(on_update=lambda fraction, message: seen.append(fraction))
    progress.cancel()
    with pytest.raises(Cancelled):
        job(progress)
    assert len(seen) == 1   # stopped after the first slice


def test_job_at_the_output_layer_says_the_maps_coincide(segmenter, slices):
    image, labels = slices
    split = split_borders(image, labels)
    result = act.border_activation_maps(Progress(), segmenter, image, labels, split.distinct, split.completed,
                                        1, layer="out")
    assert result.message == act.COINCIDE_MESSAGE
    assert result.coinciding_slices == [z for z, s in result.slices.items()
                                        if s.distinct is not None and s.completed is not None]


def test_an_all_negative_map_is_reported_empty():
    blank = act.SliceActivation(4, np.zeros((3, 3), np.float32), np.eye(3, dtype=np.float32), {})
    assert blank.empty == ["distinct"] and not blank.coincide
    result = act.BorderActivation(1, "dec2", "muscle", slices={4: blank})
    assert result.empty_maps == {4: ["distinct"]}


def test_normalisations_and_guard():
    rng = np.random.default_rng(0)
    a = rng.random((8, 8)).astype(np.float32)
    joint = act.joint_normalise(a, 3 * a)
    low = a.min()                                    # the common minimum, then the larger maximum
    assert joint[1].max() == pytest.approx(1.0)
    assert joint[0].max() == pytest.approx((a.max() - low) / (3 * a.max() - low), rel=1e-5)
    assert joint[0].min() == pytest.approx(0.0)
    assert act.maps_coincide(a, 3 * a + 2)           # same map up to scale and offset
    assert not act.maps_coincide(a, rng.random((8, 8)))
    assert act.maps_coincide(np.zeros((4, 4)), np.zeros((4, 4)))


class _OffersSegmenters(Plugin):
    name = "offers"

    def __init__(self, offered):
        self.offered = offered

    def segmenters(self):
        return self.offered


class _NoWeights(Segmenter):
    title = "Untrained model"

    def available(self):
        return False, "no weights file"


def test_available_segmenters_come_from_plugins_and_say_why_none(segmenter):
    record = PluginRecord("offers", "x:plugin", plugin=_OffersSegmenters([_NoWeights(), segmenter]))
    usable, why = act.available_segmenters([record])
    assert usable == [segmenter] and why == ""
    usable, why = act.available_segmenters([PluginRecord("offers", "x:plugin", plugin=_OffersSegmenters([_NoWeights()]))])
    assert usable == [] and "no weights file" in why and act.NO_MODEL_MESSAGE in why
    assert act.available_segmenters([])[1].endswith("(no loaded plugin offers one)")
