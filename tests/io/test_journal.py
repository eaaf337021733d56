"""Autosave journal: recovery after N strokes, truncated and damaged files, a full disk, clean close.

Disk full is simulated two ways: an `opener` handed to the Journal whose files raise
OSError(ENOSPC) on write while a flag is set (so the disk can "fill" and "free" mid-test), and,
where the system has it, /dev/full, whose writes fail with a real ENOSPC from the kernel.
"""

import errno
import os
from pathlib import Path

import numpy as np
import pytest

from usannotator.core import Document, Edit, Volume
from usannotator.io.journal import (MAGIC, Journal, RecoveryError, RecoveryPendingError, decode, discard_recovery,
                                    document_key, encode, find_recovery, list_recoveries, read_records, recover,
                                    recovery_dir)

SHAPE = (12, 10, 11)


def new_doc(path="/data/leg.nii.gz"):
    return Document(Volume(np.zeros(SHAPE, np.uint8), path=path, name="leg"))


def stroke(doc, i):
    """A distinct small edit per i, through the Document's edit path (as a brush stroke would be)."""
    z, y, x = i % SHAPE[0], (3 * i) % 8, (5 * i) % 9
    return doc.apply_edit(Edit((slice(z, z + 1), slice(y, y + 2), slice(x, x + 2)), 1 + i % 3,
                               description=f"stroke {i}"))


def same_document(a, b):
    np.testing.assert_array_equal(a.labels, b.labels)
    for value in set(a.provenance.labels()) | set(b.provenance.labels()):
        np.testing.assert_array_equal(a.provenance.of(value), b.provenance.of(value))
    assert a.label_table.to_list() == b.label_table.to_list()


def recovered(folder, path="/data/leg.nii.gz"):
    fresh = new_doc(path)
    return fresh, recover(fresh, folder)


def test_strokes_undo_redo_and_table_changes_are_recovered(tmp_path):
    doc = new_doc()
    journal = Journal.start(doc, tmp_path)
    for i in range(25):
        stroke(doc, i)
    doc.undo(), doc.undo(), doc.redo()
    doc.label_table.update(2, name="Gastrocnemius lateralis", locked=True)
    doc.label_table.add("Tibia", 4)
    fresh, report = recovered(tmp_path)     # as after a crash: the journal was never closed
    same_document(fresh, doc)
    assert (report.edits_recovered, report.edits_lost, report.problem) == (28, 0, "")
    assert fresh.modified and not fresh.history.can_undo()
    journal.close()


def test_clean_close_leaves_nothing_and_unclean_exit_is_found(tmp_path):
    doc = new_doc()
    journal = Journal.start(doc, tmp_path)
    stroke(doc, 0)
    info = find_recovery(doc.volume, tmp_path)
    assert info.image == "/data/leg.nii.gz" and info.shape == SHAPE and info.pid == os.getpid()
    assert [i.key for i in list_recoveries(tmp_path)] == [document_key(doc.volume)]
    assert find_recovery(new_doc("/data/other.nii.gz").volume, tmp_path) is None
    with pytest.raises(RecoveryPendingError):
        Journal.start(new_doc(), tmp_path)           # a second start must not overwrite it
    journal.close()
    assert list(tmp_path.iterdir()) == []
    stroke(doc, 1)                                   # after closing, nothing is written
    assert list(tmp_path.iterdir()) == []


def test_discarding_an_autosave_lets_a_new_journal_start(tmp_path):
    doc = new_doc()
    Journal.start(doc, tmp_path)
    stroke(doc, 0)
    discard_recovery(doc.volume, tmp_path)
    assert find_recovery(doc.volume, tmp_path) is None
    Journal.start(new_doc(), tmp_path).close()


def snapshots_after_each_stroke(doc, n, first=0):
    states = [doc.labels.copy()]
    for i in range(first, first + n):
        stroke(doc, i)
        states.append(doc.labels.copy())
    return states


def test_a_journal_cut_mid_record_recovers_every_complete_record(tmp_path):
    doc = new_doc()
    journal = Journal.start(doc, tmp_path)
    states = snapshots_after_each_stroke(doc, 10)
    data = journal.journal_path.read_bytes()
    last_start = data.rindex(MAGIC)
    journal.journal_path.write_bytes(data[:last_start + (len(data) - last_start) // 2])
    fresh, report = recovered(tmp_path)
    np.testing.assert_array_equal(fresh.labels, states[9])
    assert (report.edits_recovered, report.edits_lost) == (9, 1)
    assert "cut short" in report.problem and "1 later edit" in report.message


def test_a_damaged_record_is_caught_by_its_checksum(tmp_path):
    doc = new_doc()
    journal = Journal.start(doc, tmp_path)
    states = snapshots_after_each_stroke(doc, 10)
    data = bytearray(journal.journal_path.read_bytes())
    starts = [i for i in range(len(data)) if data.startswith(MAGIC, i)]
    data[starts[4] + 40] ^= 0x01          # inside the 4th stroke's record (record 0 is the header)
    journal.journal_path.write_bytes(bytes(data))
    fresh, report = recovered(tmp_path)
    np.testing.assert_array_equal(fresh.labels, states[3])
    assert report.edits_recovered == 3 and report.edits_lost == 7 and "checksum" in report.problem


class FillableDisk:
    """An opener whose files fail like a full disk while `full` is set."""

    def __init__(self):
        self.full = False

    def __call__(self, path, mode):
        disk, real = self, open(path, mode)

        class File:
            def write(self, data):
                if disk.full:
                    real.write(data[: len(data) // 2])   # a full disk takes part of a write, then fails
                    real.flush()
                    raise OSError(errno.ENOSPC, "No space left on device")
                return real.write(data)

            def __getattr__(self, name):
                return getattr(real, name)

            def __enter__(self):
                return self

            def __exit__(self, *exc):
                real.close()

        return File()


def test_a_full_disk_warns_and_work_goes_on_in_memory(tmp_path):
    disk = FillableDisk()
    doc = new_doc()
    journal = Journal.start(doc, tmp_path, opener=disk, retry_after_s=0)
    messages = []
    journal.status_changed.connect(lambda message: messages.append(message))
    for i in range(3):
        stroke(doc, i)
    disk.full = True
    states = snapshots_after_each_stroke(doc, 6, first=3)
    assert not journal.healthy and "disk is full" in journal.warning and len(messages) == 1
    assert doc.labels.any() and len(doc.history) == 9   # editing went on in memory
    fresh, report = recovered(tmp_path)                 # the autosave still holds the state before the failure
    assert report.problem == "" and report.edits_recovered == 3
    assert np.array_equal(fresh.labels, states[0])
    disk.full = False
    stroke(doc, 9)                                      # space again: a full snapshot catches up
    assert journal.healthy and messages == [messages[0], ""]
    fresh, _ = recovered(tmp_path)
    same_document(fresh, doc)
    journal.close()


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full (Linux)")
def test_a_real_enospc_from_the_kernel(tmp_path):
    def opener(path, mode):   # the journal opened for appending is /dev/full; files written aside are real
        return open("/dev/full", "wb") if mode == "ab" else open(path, mode)

    doc = new_doc()
    journal = Journal.start(doc, tmp_path, opener=opener)
    assert journal.healthy
    assert stroke(doc, 0) is not None and doc.labels.any()
    assert not journal.healthy and "disk is full" in journal.warning
    assert stroke(doc, 1) is not None and len(doc.history) == 2
    journal.close()


def test_compaction_keeps_the_journal_short_and_recovery_exact(tmp_path):
    doc = new_doc()
    journal = Journal.start(doc, tmp_path, compact_after_bytes=3000)
    for i in range(40):
        stroke(doc, i)
    assert journal.generation > 3 and journal.journal_path.stat().st_size < 3000 + 2000
    fresh, _ = recovered(tmp_path)
    same_document(fresh, doc)
    # a whole-volume result (an algorithm's) is kept as a snapshot, not as a journal record
    before = journal.generation
    doc.apply_edit(Edit.whole_volume(np.full(SHAPE, 3, np.uint16), description="interpolate"))
    assert journal.generation == before + 1 and journal.records_since_snapshot == 0
    same_document(recovered(tmp_path)[0], doc)


def test_compaction_over_many_slabs_rewrites_what_edits_touched(tmp_path):
    # 50 slices span several snapshot slabs; compaction re-encodes only touched ones (and must not miss any)
    doc = Document(Volume(np.zeros((50, 6, 7), np.uint8), path="/data/long.nii.gz"))
    journal = Journal.start(doc, tmp_path, compact_after_bytes=1500)
    for i in range(30):
        z = (17 * i) % 50
        doc.apply_edit(Edit((slice(z, z + 2 + i % 3), slice(0, 3), slice(i % 5, 7)), 1 + i % 3))
        if i % 7 == 6:
            doc.undo()
    assert journal.generation > 5
    fresh = Document(Volume(np.zeros((50, 6, 7), np.uint8), path="/data/long.nii.gz"))
    recover(fresh, tmp_path)
    same_document(fresh, doc)
    labels = np.zeros((50, 6, 7), np.uint16)
    labels[:, 0, 0] = 300               # beyond uint8: stored as uint16
    doc.replace_labels(labels)
    fresh = Document(Volume(np.zeros((50, 6, 7), np.uint8), path="/data/long.nii.gz"))
    recover(fresh, tmp_path)
    same_document(fresh, doc)


def test_an_interrupted_compaction_recovers_from_the_new_snapshot(tmp_path):
    doc = new_doc()
    journal = Journal.start(doc, tmp_path)
    for i in range(5):
        stroke(doc, i)
    old_journal = journal.journal_path.read_bytes()
    journal.snapshot()                                  # snapshot g+1 written ...
    journal.journal_path.write_bytes(old_journal)       # ... but the crash came before the journal's rename
    fresh, report = recovered(tmp_path)
    same_document(fresh, doc)
    assert report.problem == "" and report.edits_recovered == 0


def test_a_journal_from_an_earlier_session_is_not_replayed(tmp_path):
    doc = new_doc()
    journal = Journal.start(doc, tmp_path)
    for i in range(4):
        stroke(doc, i)
    earlier = journal.journal_path.read_bytes()       # generation 1 of the earlier session
    journal.close()
    doc = new_doc()
    doc.replace_labels(np.full(SHAPE, 3, np.uint16))  # other labels to start from
    journal = Journal.start(doc, tmp_path)            # generation 1 again
    stroke(doc, 7)
    journal.journal_path.write_bytes(earlier)         # its snapshot renamed, the crash before the journal's
    fresh, report = recovered(tmp_path)
    assert report.edits_recovered == 0 and "does not follow" in report.problem and report.edits_lost == 4
    np.testing.assert_array_equal(fresh.labels, np.full(SHAPE, 3))   # the snapshot, untouched by wrong records


def test_loading_new_labels_takes_a_snapshot(tmp_path):
    doc = new_doc()
    journal = Journal.start(doc, tmp_path)
    stroke(doc, 0)
    labels = np.zeros(SHAPE, np.uint16)
    labels[4:8] = 2
    doc.replace_labels(labels)
    assert journal.generation == 2
    same_document(recovered(tmp_path)[0], doc)


def test_recovery_refuses_an_image_of_another_shape(tmp_path):
    doc = new_doc()
    Journal.start(doc, tmp_path)
    other = Document(Volume(np.zeros((3, 3, 3), np.uint8), path="/data/leg.nii.gz"))
    with pytest.raises(RecoveryError, match="shape"):
        recover(other, tmp_path)


def test_records_round_trip_and_the_default_folder_honours_xdg(tmp_path, monkeypatch):
    arrays = {"a": np.arange(5000, dtype=np.uint16).reshape(50, 100), "b": np.array([-1, 2], np.int8)}
    data = encode({"type": "x", "n": 3}, arrays)
    meta, back = decode(data[16:])
    assert meta == {"type": "x", "n": 3}
    for name in arrays:
        np.testing.assert_array_equal(back[name], arrays[name])
        assert back[name].dtype == arrays[name].dtype
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert recovery_dir() == tmp_path / "usannotator" / "recovery"
    doc = new_doc()
    Journal.start(doc).close(clean=False)
    assert find_recovery(doc.volume) is not None
    assert document_key(doc.volume) != document_key(new_doc("/data/other.nii.gz").volume)
