"""Adapt to this volume: a few fine-tuning steps on the key slices; Cancel keeps the weights."""

import pytest

from usannotator.core.errors import UserError
from usannotator.jobs import Cancelled, Progress
from usannotator_plugins.ifss.adapt import adapt, adaptation_job
from usannotator_plugins.ifss.propagate import Propagator


def test_adapting_changes_only_this_propagators_weights(leg_document, untrained_weights):
    propagator = Propagator(untrained_weights, "cpu")
    original = propagator.ensure_model()
    fingerprint = propagator.fingerprint
    result = adaptation_job(leg_document, propagator, steps=2)(Progress())
    # two window steps; the losses are those of the windows that met a key slice and updated
    assert result.steps_done == 2 and 1 <= len(result.losses) <= 2
    assert propagator.model is not original and propagator.fingerprint != fingerprint
    # the loaded weights themselves are untouched: another document's propagator starts from them
    assert Propagator(untrained_weights, "cpu").ensure_model().head.weight.abs().sum() == 0
    assert 0.3 <= result.alpha <= 0.7


def test_cancel_keeps_the_weights(leg, untrained_weights):
    phantom, sparse, keys, _ = leg
    propagator = Propagator(untrained_weights, "cpu")
    model = propagator.ensure_model()
    fingerprint = propagator.fingerprint
    progress = Progress()
    progress.cancel()
    with pytest.raises(Cancelled):
        adapt(progress, propagator, phantom.volume.array, sparse, keys, steps=3)
    assert propagator.model is model and propagator.fingerprint == fingerprint


def test_adapting_needs_two_key_slices(leg, untrained_weights):
    phantom, sparse, _, _ = leg
    with pytest.raises(UserError, match="two key slices"):
        adapt(Progress(), Propagator(untrained_weights, "cpu"), phantom.volume.array, sparse, {1: [5]}, steps=2)
