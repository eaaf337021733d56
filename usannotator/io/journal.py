"""Autosave journal: each finished edit reaches the disk before the next one starts, so a crash loses
at most the stroke being drawn.

Files, in `recovery_dir()`, one pair per image (KEY = a hash of the image's path, `document_key`):
  KEY.snapshot   labels, provenance and label table at one moment, generation g
  KEY.journal    the changes made since (header: generation g), appended and fsync'ed one by one
Both are sequences of records: b"USAJ", payload length (uint64 LE), CRC-32 of length and payload
(uint32 LE), payload. A payload is a JSON part saying what the record is, then raw arrays (zlib
when large). A record cut short or failing its checksum ends what can be read; everything before it
is recovered and the report says what was lost.

Compaction: a new snapshot (generation g+1) is written aside and renamed, then a fresh journal for
g+1 replaces the old one. A crash between the two renames leaves a journal of generation g beside a
snapshot of g+1: its edits are already in the snapshot and are skipped.

The app: `find_recovery(volume)` when an image is opened (an autosave there means the last session
did not close normally) -> offer `recover(document)` or `discard_recovery(volume)`; then
`Journal.start(document)`; `journal.close()` on a normal close removes both files. When writing
fails (disk full), `journal.warning` says so, `journal.status_changed(message)` fires, editing goes
on in memory, and a full snapshot is retried now and then; "" is emitted when it works again.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import socket
import struct
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from usannotator.core.errors import UserError
from usannotator.core.events import Signal
from usannotator.core.labels import Label
from usannotator.core.provenance import Provenance
from usannotator.io.files import user_folder

MAGIC = b"USAJ"
_FRAME = struct.Struct("<4sQI")
_JSON_LENGTH = struct.Struct("<I")
FORMAT_VERSION = 1
SLAB = 4                   # slices per snapshot record: what one edit makes compaction re-encode
COMPRESS_FROM = 4096       # bytes; smaller arrays are stored raw (zlib would not pay for itself)


class RecoveryPendingError(UserError):
    """Journal.start found an autosave left by a session that did not close: recover or discard it first."""


class RecoveryError(UserError):
    """Nothing can be recovered (the snapshot is unreadable or belongs to another image)."""


# ----- where -----

def recovery_dir() -> Path:
    return user_folder("data", "recovery")


def document_key(volume) -> str:
    """The name of an image's autosave files: a hash of its real path, or, for a volume that came
    from no file (a phantom), of its name and shape."""
    if volume.path:
        what = os.path.normcase(os.path.realpath(volume.path))
    else:
        what = f"unsaved:{volume.name}:{tuple(volume.shape)}"
    return hashlib.sha256(what.encode("utf-8")).hexdigest()[:20]


def _paths(directory, key: str) -> tuple:
    folder = Path(directory) if directory is not None else recovery_dir()
    return folder / f"{key}.snapshot", folder / f"{key}.journal"


# ----- records -----

def encode(meta: dict, arrays: dict | None = None) -> bytes:
    """One framed record: JSON `meta` plus named arrays."""
    index, blobs = [], []
    for name, array in (arrays or {}).items():
        array = np.ascontiguousarray(array)
        raw = array.tobytes()
        packed = zlib.compress(raw, 1) if len(raw) >= COMPRESS_FROM else raw
        index.append([name, array.dtype.str, list(array.shape), len(packed), packed is not raw])
        blobs.append(packed)
    head = json.dumps({**meta, "arrays": index}).encode("utf-8")
    payload = _JSON_LENGTH.pack(len(head)) + head + b"".join(blobs)
    length = struct.pack("<Q", len(payload))
    return _FRAME.pack(MAGIC, len(payload), zlib.crc32(payload, zlib.crc32(length))) + payload


def decode(payload: bytes) -> tuple:
    """(meta, arrays) of a record's payload."""
    (n,) = _JSON_LENGTH.unpack_from(payload)
    meta = json.loads(payload[_JSON_LENGTH.size:_JSON_LENGTH.size + n])
    offset, arrays = _JSON_LENGTH.size + n, {}
    for name, dtype, shape, size, compressed in meta.pop("arrays"):
        blob = payload[offset:offset + size]
        offset += size
        raw = zlib.decompress(blob) if compressed else blob
        arrays[name] = np.frombuffer(raw, dtype=np.dtype(dtype)).reshape(shape).copy()
    return meta, arrays


@dataclass
class ReadResult:
    records: list            # (meta, arrays) of every complete, intact record, in order
    problem: str = ""        # why reading stopped early; "" when the file ended cleanly
    lost_bytes: int = 0
    lost_records: int = 0    # records after the problem, counted by their markers (an estimate)


def read_records(path) -> ReadResult:
    """Every valid record up to the first one cut short or damaged."""
    data = Path(path).read_bytes()
    result, offset = ReadResult([]), 0
    while offset < len(data):
        problem = _check_frame(data, offset)
        if not problem:
            _, length, _ = _FRAME.unpack_from(data, offset)
            try:
                result.records.append(decode(data[offset + _FRAME.size:offset + _FRAME.size + length]))
            except (ValueError, KeyError, zlib.error, struct.error) as exc:
                problem = f"record {len(result.records) + 1} cannot be decoded ({exc})"
        if problem:
            result.problem = problem
            result.lost_bytes = len(data) - offset
            result.lost_records = 1 + data.count(MAGIC, offset + 1)
            break
        offset += _FRAME.size + length
    return result


def _check_frame(data: bytes, offset: int) -> str:
    n = len(data) - offset
    if n < _FRAME.size:
        return "the file ends in the middle of a record (it was cut short while being written)"
    magic, length, crc = _FRAME.unpack_from(data, offset)
    if magic != MAGIC:
        return f"no record starts at byte {offset} (the file is damaged)"
    if length > n - _FRAME.size:
        return "the file ends in the middle of a record (it was cut short while being written)"
    payload = data[offset + _FRAME.size:offset + _FRAME.size + length]
    if zlib.crc32(payload, zlib.crc32(struct.pack("<Q", length))) != crc:
        return f"the record at byte {offset} is damaged (its checksum does not match)"
    return ""


# ----- writing -----

class Journal:
    """The autosave of one open Document. Create it with `Journal.start(document)`."""

    def __init__(self, document, directory=None, *, opener=open, snapshot_every_s: float = 600.0,
                 compact_after_bytes: int = 64 * 1024 ** 2, retry_after_s: float = 30.0):
        """opener(path, mode) opens files for writing; tests pass one that fails like a full disk."""
        self.document = document
        self.key = document_key(document.volume)
        self.snapshot_path, self.journal_path = _paths(directory, self.key)
        self.snapshot_every_s = snapshot_every_s
        self.compact_after_bytes = compact_after_bytes
        self.retry_after_s = retry_after_s
        self.status_changed = Signal()   # (message): a warning, or "" once autosave works again
        self.warning = ""
        self.generation = 0
        self.records_since_snapshot = 0
        self._opener = opener
        self._file = None
        self._size = 0                   # bytes of the journal known to be on disk
        self._snapshot_time = time.monotonic()
        self._failed_at = None
        self._closed = False
        # Each slab's encoded snapshot record, kept until an edit touches the slab: compaction then
        # re-encodes only what changed instead of compressing the whole label map again.
        self._slab_records: dict[int, bytes | None] = {}

    @classmethod
    def start(cls, document, directory=None, *, replace_existing: bool = False, **options) -> "Journal":
        """Write the base snapshot and listen to the document. Refuses to overwrite an autosave left
        by an unclean exit unless `replace_existing` (after the user chose to discard it)."""
        journal = cls(document, directory, **options)
        # only a snapshot makes an autosave recoverable: a journal alone is replaced
        if not replace_existing and journal.snapshot_path.exists():
            raise RecoveryPendingError("an autosave of this image is left from a session that did not close "
                                       "normally: recover it or discard it first", document.volume.path)
        journal.snapshot_path.parent.mkdir(parents=True, exist_ok=True)
        journal.snapshot()
        document.edit_applied.connect(journal.record)
        document.labels_changed.connect(journal._on_labels_changed)
        document.label_table.changed.connect(journal._on_table_changed)
        return journal

    @property
    def healthy(self) -> bool:
        return not self.warning

    def record(self, change, kind: str) -> None:
        """Append one change (the Document's edit_applied slot). Never raises for a disk problem."""
        if self._closed:
            return
        rows = change.region[0]
        for start in range(rows.start // SLAB * SLAB, rows.stop, SLAB):
            self._slab_records.pop(start, None)
        if not self.healthy:
            self._retry()
            return
        if change.nbytes > self.compact_after_bytes // 2:
            self.snapshot()   # an algorithm's whole-volume result: cheaper as a snapshot
            return
        self._append(encode(_change_meta(change, kind), _change_arrays(change)))
        if self._due():
            self.snapshot()

    def snapshot(self) -> None:
        """Write labels, provenance and table as a new generation and start an empty journal."""
        generation = self.generation + 1
        try:
            self._write_aside(self.snapshot_path, self._snapshot_records(generation))
            self._write_aside(self.journal_path, [encode(self._header("journal", generation))])
            self._size = self.journal_path.stat().st_size
            self._reopen()
        except OSError as exc:
            self._fail(exc)
            return
        self.generation = generation
        self.records_since_snapshot = 0
        self._snapshot_time = time.monotonic()
        if self.warning:
            self.warning = ""
            self.status_changed.emit("")

    def close(self, clean: bool = True) -> None:
        """Stop listening; a normal close (`clean`) removes the autosave files."""
        if self._closed:
            return
        self._closed = True
        self.document.edit_applied.disconnect(self.record)
        self.document.labels_changed.disconnect(self._on_labels_changed)
        self.document.label_table.changed.disconnect(self._on_table_changed)
        self._close_file()
        if clean:
            for path in (self.snapshot_path, self.journal_path, _aside(self.snapshot_path), _aside(self.journal_path)):
                path.unlink(missing_ok=True)

    # ----- inside -----
    def _on_labels_changed(self, region) -> None:
        if region is None and not self._closed:   # the whole label map was replaced (loaded)
            self._slab_records.clear()
            self.snapshot()

    def _on_table_changed(self, value) -> None:
        if not self._closed and self.healthy:
            self._append(encode({"type": "table", "table": self.document.label_table.to_list()}))

    def _due(self) -> bool:
        overdue = time.monotonic() - self._snapshot_time > self.snapshot_every_s
        return self._size > self.compact_after_bytes or (overdue and self.records_since_snapshot > 0)

    def _append(self, record: bytes) -> None:
        try:
            self._file.write(record)
            self._file.flush()
            os.fsync(self._file.fileno())
        except OSError as exc:
            self._fail(exc)
            return
        self._size += len(record)
        self.records_since_snapshot += 1

    def _header(self, kind: str, generation: int) -> dict:
        volume = self.document.volume
        return {"type": kind, "version": FORMAT_VERSION, "generation": generation, "key": self.key,
                "image": volume.path, "name": volume.name, "shape": list(self.document.labels.shape),
                "pid": os.getpid(), "host": socket.gethostname(), "time": time.time()}

    def _snapshot_records(self, generation: int):
        doc = self.document
        meta = self._header("snapshot", generation)
        meta.update(table=doc.label_table.to_list(), provenance=doc.provenance.to_dict())
        yield encode(meta)
        for start in range(0, doc.labels.shape[0], SLAB):
            if start not in self._slab_records:
                self._slab_records[start] = _slab_record(doc.labels, start)
            if self._slab_records[start] is not None:   # empty slabs are left out: recovery starts from zeros
                yield self._slab_records[start]

    def _write_aside(self, path: Path, records) -> None:
        """Write a whole file beside `path`, make it durable, then rename it into place."""
        tmp = _aside(path)
        try:
            with self._opener(tmp, "wb") as f:
                for record in records:
                    f.write(record)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        _fsync_folder(path.parent)

    def _reopen(self) -> None:
        self._close_file()
        self._file = self._opener(self.journal_path, "ab")

    def _close_file(self) -> None:
        """Close the journal; bytes still buffered after a failed write are dropped, not raised."""
        if self._file is not None:
            try:
                self._file.close()
            except OSError:
                pass
            self._file = None

    def _fail(self, exc: OSError) -> None:
        self._failed_at = time.monotonic()
        self._close_file()   # only a new snapshot reopens it (see _retry)
        # A half-written record would end recovery there: cut the journal back to its last whole one
        # (only ever shorter: truncate would pad a shorter file with zeros).
        try:
            if self.journal_path.stat().st_size > self._size:
                os.truncate(self.journal_path, self._size)
        except OSError:
            pass
        why = "the disk is full" if exc.errno == errno.ENOSPC else (exc.strerror or str(exc))
        message = (f"Autosave stopped: {why} ({self.journal_path.parent}). Your work is kept in memory; "
                   "save it elsewhere or free some space.")
        changed = message != self.warning
        self.warning = message
        if changed:
            self.status_changed.emit(message)

    def _retry(self) -> None:
        """After a failure the journal misses edits: only a full snapshot can put it right."""
        if time.monotonic() - self._failed_at >= self.retry_after_s:
            self.snapshot()


def _slab_record(labels: np.ndarray, start: int) -> bytes | None:
    """The snapshot record of SLAB slices (None when empty), in uint8 when the values fit: half the
    bytes to compress and to decompress."""
    slab = labels[start:start + SLAB]
    top = int(slab.max())
    if top == 0:
        return None
    if top < 256:
        slab = slab.astype(np.uint8)
    return encode({"type": "slab", "start": start}, {"labels": slab})


def _aside(path: Path) -> Path:
    return path.with_name(path.name + ".tmp")


def _fsync_folder(folder: Path) -> None:
    """Make a rename durable (POSIX); Windows cannot open folders and does not need it."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _change_meta(change, kind: str) -> dict:
    return {"type": "change", "kind": kind, "description": change.description,
            "region": [[s.start, s.stop] for s in change.region]}


def _change_arrays(change) -> dict:
    arrays = {"before": change.before, "after": change.after}
    arrays.update({f"provenance_before:{v}": a for v, a in change.provenance_before.items()})
    arrays.update({f"provenance_after:{v}": a for v, a in change.provenance_after.items()})
    return arrays


# ----- recovering -----

@dataclass
class RecoveryInfo:
    """An autosave found on disk, for the dialog that offers to restore it."""

    key: str
    image: str | None        # the image's path when it was saved
    name: str
    shape: tuple
    saved_at: float          # time of the last write (seconds since the epoch)
    pid: int
    host: str
    snapshot_path: Path
    journal_path: Path


@dataclass
class RecoveryReport:
    edits_recovered: int
    edits_lost: int = 0
    problem: str = ""

    @property
    def message(self) -> str:
        text = f"Recovered the labels with {self.edits_recovered} edit(s) made after the last autosave snapshot."
        if self.problem:
            text += f" About {self.edits_lost} later edit(s) could not be recovered: {self.problem}."
        return text


def find_recovery(volume, directory=None) -> RecoveryInfo | None:
    """The autosave left for this image by a session that did not close normally, if any."""
    snapshot_path, _ = _paths(directory, document_key(volume))
    return _info(snapshot_path) if snapshot_path.exists() else None


def list_recoveries(directory=None) -> list:
    """Every autosave in the folder (at start-up: images whose session did not close normally)."""
    folder = Path(directory) if directory is not None else recovery_dir()
    found = [_info(p) for p in sorted(folder.glob("*.snapshot"))] if folder.is_dir() else []
    return [info for info in found if info is not None]


def discard_recovery(volume, directory=None) -> None:
    """Delete the autosave of this image (the user chose not to restore it)."""
    for path in _paths(directory, document_key(volume)):
        path.unlink(missing_ok=True)
        _aside(path).unlink(missing_ok=True)


def recover(document, directory=None) -> RecoveryReport:
    """Put the autosaved labels, provenance and table of the document's image into `document`
    (replacing its labels; its undo history starts afresh) and say what could not be recovered."""
    snapshot_path, journal_path = _paths(directory, document_key(document.volume))
    labels, provenance, table, generation = _read_snapshot(snapshot_path, document)
    report = RecoveryReport(0)
    if journal_path.exists():
        table = _replay(read_records(journal_path), generation, labels, provenance, table, report)
    _set_table(document.label_table, table)
    document.replace_labels(labels, provenance)
    document.modified = True
    return report


def _info(snapshot_path: Path) -> RecoveryInfo | None:
    first = _first_record(snapshot_path)
    if first is None:
        return None
    meta = first[0]
    journal_path = snapshot_path.with_suffix(".journal")
    saved = max(p.stat().st_mtime for p in (snapshot_path, journal_path) if p.exists())
    return RecoveryInfo(meta["key"], meta.get("image"), meta.get("name", ""), tuple(meta["shape"]), saved,
                        meta.get("pid", 0), meta.get("host", ""), snapshot_path, journal_path)


def _first_record(path: Path):
    """The header of a file without reading the rest of it; None when unreadable."""
    try:
        with open(path, "rb") as f:
            frame = f.read(_FRAME.size)
            if len(frame) < _FRAME.size:
                return None
            _, length, _ = _FRAME.unpack(frame)
            data = frame + f.read(length)
    except OSError:
        return None
    if _check_frame(data, 0):
        return None
    return decode(data[_FRAME.size:])


def _read_snapshot(path: Path, document) -> tuple:
    if not path.exists():
        raise RecoveryError("there is no autosave of this image", document.volume.path)
    result = read_records(path)
    if result.problem or not result.records or result.records[0][0].get("type") != "snapshot":
        raise RecoveryError(f"the autosave snapshot cannot be read: {result.problem or 'it has no header'}", path)
    meta = result.records[0][0]
    if tuple(meta["shape"]) != document.labels.shape:
        raise RecoveryError(f"the autosave was made for an image of shape {tuple(meta['shape'])}, "
                            f"this one has {document.labels.shape}", path)
    labels = np.zeros(document.labels.shape, dtype=document.labels.dtype)
    for slab_meta, arrays in result.records[1:]:
        start = slab_meta["start"]
        labels[start:start + arrays["labels"].shape[0]] = arrays["labels"]
    provenance = Provenance.from_dict(document.provenance.n_slices, meta["provenance"])
    return labels, provenance, meta["table"], meta["generation"]


def _replay(result: ReadResult, generation: int, labels, provenance, table, report: RecoveryReport):
    """Apply the journal's changes in order; stop at the first that does not follow from the state
    before it (so a wrong or stale record can never scramble the labels). Returns the label table."""
    records = result.records
    if not records or records[0][0].get("type") != "journal":
        report.problem = result.problem or "the journal has no header"
        report.edits_lost = result.lost_records
        return table
    if records[0][0]["generation"] != generation:
        # An older journal beside a newer snapshot: compaction was interrupted; it is all in the snapshot.
        return table
    for i, (meta, arrays) in enumerate(records[1:], start=1):
        if meta["type"] == "table":
            table = meta["table"]
            continue
        region = tuple(slice(a, b) for a, b in meta["region"])
        side_from, side_to = ("after", "before") if meta["kind"] == "undo" else ("before", "after")
        if not np.array_equal(labels[region], arrays[side_from]):
            report.problem = f"the edit \"{meta['description']}\" does not follow from the ones before it"
            report.edits_lost = len(records) - i + result.lost_records
            return table
        labels[region] = arrays[side_to]
        prefix = "provenance_after:" if side_to == "after" else "provenance_before:"
        for name, array in arrays.items():
            if name.startswith(prefix):
                provenance.of(int(name[len(prefix):]))[:] = array
        report.edits_recovered += 1
    report.problem = result.problem
    report.edits_lost = result.lost_records
    return table


def _set_table(table, items) -> None:
    """Make `table` hold `items` in place, so that views subscribed to it stay connected."""
    wanted = {d["value"]: Label.from_dict(d) for d in items}
    for value in [v for v in table.values() if v not in wanted]:
        table.remove(value)
    for value, label in wanted.items():
        if value in table:
            table.update(value, name=label.name, color=label.color, visible=label.visible, locked=label.locked)
        else:
            table.add(label.name, value, label.color)
            table.update(value, visible=label.visible, locked=label.locked)
