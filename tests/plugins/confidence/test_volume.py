"""Maps for volumes and sequences: per slice along the sweep, Cancel between slices, disk cache."""

import numpy as np
import pytest

from usannotator.core import Volume
from usannotator.jobs.job import Cancelled, Job, Progress
from usannotator_plugins.confidence import volume as volume_module
from usannotator_plugins.confidence.algorithm import ConfidenceSolver, confidence_map
from usannotator_plugins.confidence.volume import confidence_volume, user_cache_dir


@pytest.fixture
def stack(bone_crops):
    """Three real 96 x 128 slices, as uint8 like the file."""
    return bone_crops.astype(np.uint8)


def cached_files(folder):
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_one_map_per_slice(stack, tmp_path):
    maps = confidence_volume(Progress(), stack, gamma=0.06, cache_dir=tmp_path)
    assert maps.dtype == np.float32 and maps.shape == stack.shape
    for z in range(len(stack)):
        assert np.abs(maps[z] - confidence_map(stack[z], gamma=0.06)).max() < 1e-6


def test_progress_reports_every_slice(stack, tmp_path):
    seen, partial = [], []
    progress = Progress(on_update=lambda f, m: seen.append(f), on_partial=partial.append)
    confidence_volume(progress, stack, cache_dir=tmp_path)
    assert seen == pytest.approx([0, 1 / 3, 2 / 3, 1])
    assert [p["slice"] for p in partial] == [0, 1, 2]


def test_a_cancelled_job_leaves_no_cache_entry(stack, tmp_path):
    done = []

    def cancel_after_first_slice(fraction, message):
        if fraction > 0:
            progress.cancel()          # as the Cancel button does, from any thread

    progress = Progress(on_update=cancel_after_first_slice, on_partial=done.append)
    with pytest.raises(Cancelled):
        confidence_volume(progress, stack, cache_dir=tmp_path)
    assert len(done) == 1              # stopped between slices, not at the end
    assert cached_files(tmp_path) == []


def test_a_finished_job_is_reused(stack, tmp_path, monkeypatch):
    first = confidence_volume(Progress(), stack, cache_dir=tmp_path)
    assert len(cached_files(tmp_path)) == 1

    def must_not_run(self, *args, **kwargs):
        raise AssertionError("the cached maps should have been used")

    monkeypatch.setattr(ConfidenceSolver, "__call__", must_not_run)
    messages = []
    again = confidence_volume(Progress(on_update=lambda f, m: messages.append(m)), stack,
                              cache_dir=tmp_path)
    assert np.array_equal(again, first)
    assert "cache" in messages[-1]
    with pytest.raises(AssertionError, match="cached maps"):     # other settings: not reused
        confidence_volume(Progress(), stack, gamma=0.07, cache_dir=tmp_path)


def test_other_pixels_are_not_served_from_the_cache(stack, tmp_path):
    confidence_volume(Progress(), stack, cache_dir=tmp_path)
    changed = stack.copy()
    changed[1, 50, 60] ^= 1
    confidence_volume(Progress(), changed, cache_dir=tmp_path)
    assert len(cached_files(tmp_path)) == 2


def test_a_damaged_cache_entry_is_computed_again(stack, tmp_path):
    first = confidence_volume(Progress(), stack, cache_dir=tmp_path)
    (entry,) = tmp_path.iterdir()
    entry.write_bytes(b"not an array")
    assert np.array_equal(confidence_volume(Progress(), stack, cache_dir=tmp_path), first)


def test_default_cache_folder_honours_xdg(stack, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert user_cache_dir() == tmp_path / "xdg" / "usannotator" / "confidence"
    confidence_volume(Progress(), stack[:1])
    assert len(cached_files(user_cache_dir())) == 1


def test_sweep_along_another_axis(stack, tmp_path):
    """A volume swept along its last numpy axis: slices are [:, :, z], depth still along rows."""
    maps = confidence_volume(Progress(), stack, use_cache=False)
    turned = Volume(np.ascontiguousarray(np.moveaxis(stack, 0, 2)), sweep_axis=2, depth_axis=0)
    turned_maps = confidence_volume(Progress(), turned, use_cache=False)
    assert np.array_equal(np.moveaxis(turned_maps, 2, 0), maps)


def test_plus_frames_from_far_to_near_are_flipped(stack):
    """UltrasoundImageOrientation ?N?: row 0 is far from the probe; the map follows the pixels."""
    near_first = confidence_volume(Progress(), stack, use_cache=False)
    far_first = Volume(stack[:, ::-1].copy(), metadata={"header": {"UltrasoundImageOrientation": "MN"}})
    maps = confidence_volume(Progress(), far_first, use_cache=False)
    assert np.array_equal(maps[:, ::-1], near_first)
    assert (maps[:, -1] == 1).all()             # the transducer is at the bottom row here


def test_two_workers_solve_in_worker_processes_and_give_the_same_maps(stack):
    messages = []
    one = confidence_volume(Progress(), stack, use_cache=False)
    two = confidence_volume(Progress(on_update=lambda f, m: messages.append(m)), stack, use_cache=False, workers=2)
    assert np.array_equal(one, two)
    assert not any("no worker processes" in m for m in messages)


def test_cancel_with_worker_processes_stops_within_one_slice_each(stack, tmp_path):
    done = []

    def cancel_after_first_slice(fraction, message):
        if fraction > 0:
            progress.cancel()

    progress = Progress(on_update=cancel_after_first_slice, on_partial=done.append)
    with pytest.raises(Cancelled):
        confidence_volume(progress, stack, cache_dir=tmp_path, workers=2)
    assert 1 <= len(done) <= 2 < stack.shape[0]
    assert cached_files(tmp_path) == []


def test_worker_processes_that_cannot_start_leave_the_work_to_this_one(stack, monkeypatch):
    from concurrent.futures.process import BrokenProcessPool

    import usannotator_plugins.confidence.volume as volume

    class Broken:
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def submit(self, *args):
            raise BrokenProcessPool("no processes here")

    real = volume._slice_pool
    monkeypatch.setattr(volume, "_slice_pool", lambda shape, params, workers:
                        (Broken(), None) if workers > 1 else real(shape, params, workers))
    messages = []
    maps = confidence_volume(Progress(on_update=lambda f, m: messages.append(m)), stack, use_cache=False, workers=2)
    assert np.array_equal(maps, confidence_volume(Progress(), stack, use_cache=False))
    assert any("no worker processes" in m for m in messages)


def test_runs_as_a_job(stack, tmp_path):
    job = Job("Confidence map", confidence_volume, kwargs={"volume": stack, "cache_dir": tmp_path})
    assert job(Progress()).shape == stack.shape


def test_mask_sinks_per_slice(stack):
    mask = np.zeros(stack.shape, bool)
    mask[:, 60:70, 40:90] = True
    maps = confidence_volume(Progress(), stack, sink="mask", sink_mask=mask, use_cache=False)
    assert (maps[mask] == 0).all()
    assert (maps[:, -1] > 0).all()


def test_a_bad_slice_stops_before_any_work(stack, monkeypatch):
    bad = stack.astype(float)
    bad[2, 5, 5] = np.nan
    calls = []
    monkeypatch.setattr(volume_module.ConfidenceSolver, "__call__", lambda *a: calls.append(1))
    with pytest.raises(ValueError, match="NaN"):
        confidence_volume(Progress(), bad, use_cache=False)
    assert calls == []


def test_the_cache_keeps_to_its_size_limit(stack, tmp_path, monkeypatch):
    """Room for two one-slice maps: the least recently used one goes."""
    one_map = stack[0].size * 4 + 128
    monkeypatch.setattr(volume_module, "CACHE_LIMIT_BYTES", int(2.5 * one_map))
    for z in (0, 1, 2):
        confidence_volume(Progress(), stack[z:z + 1], cache_dir=tmp_path)
    assert len(cached_files(tmp_path)) == 2
    confidence_volume(Progress(), stack[1:2], cache_dir=tmp_path)      # used again: kept
    confidence_volume(Progress(), stack[0:1], cache_dir=tmp_path)      # computed, stored

    def must_not_run(self, *args, **kwargs):
        raise AssertionError("not from the cache")

    monkeypatch.setattr(ConfidenceSolver, "__call__", must_not_run)
    confidence_volume(Progress(), stack[0:1], cache_dir=tmp_path)
    confidence_volume(Progress(), stack[1:2], cache_dir=tmp_path)
    with pytest.raises(AssertionError, match="not from the cache"):
        confidence_volume(Progress(), stack[2:3], cache_dir=tmp_path)


def test_worker_processes_are_limited_by_free_memory(monkeypatch):
    import usannotator_plugins.confidence.volume as volume

    monkeypatch.setattr(volume, "available_memory", lambda: 2 * 1e9)      # 1 GB for workers
    assert volume.workers_that_fit(8, (512, 476)) == 2                    # ~0.49 GB each
    assert volume.workers_that_fit(8, (2000, 2000)) == 1                  # 3.9 GB each: in this process
    monkeypatch.setattr(volume, "available_memory", lambda: 64 * 1e9)
    assert volume.workers_that_fit(8, (512, 476)) == 8
