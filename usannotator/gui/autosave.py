"""Autosave for the window: a journal for every document it opens, and recovery after an unclean exit.

- Opening an image that has an autosave left by a session that did not close normally offers to
  restore it (Restore / Discard / Later); at start-up `offer_pending` does the same for every such image.
- Every finished edit is appended to the journal (usannotator.io.journal) and made durable by a writer
  thread, in order, so that a slow disk never freezes the window. Tools wait for it when a gesture
  starts (host.wait_for_autosave), so a crash still loses at most the gesture in progress.
- When autosave fails (a full disk) the status bar says so until it works again; editing goes on.
- A document closed normally (saved, or its changes discarded) leaves no autosave behind.
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal, Slot
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QApplication, QLabel, QMessageBox

from usannotator.gui.icons import icon
from usannotator.io.journal import (Journal, RecoveryError, RecoveryPendingError, discard_recovery, find_recovery,
                                    list_recoveries, recover)

RESTORE, DISCARD, LATER = "restore", "discard", "later"


class _FailureRelay(QObject):
    """Carries a write failure from the writer thread to the GUI thread, where the journal reacts to it
    (its status signal reaches widgets)."""

    failed = Signal(object, int)

    def __init__(self, journal):
        super().__init__()
        self.journal = journal
        self.failed.connect(self._deliver, Qt.ConnectionType.QueuedConnection)

    @Slot(object, int)
    def _deliver(self, exc, generation):
        self.journal.writer_failed(exc, generation)


class BackgroundJournal(Journal):
    """A Journal whose appends (write + fsync: a few ms, 100 ms and more on a busy disk) run in a writer
    thread, one after the other. Records are still encoded here: a Change's arrays never change after."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._pending = deque()          # (generation, record) not yet on disk; the one being written first
        self._pending_changed = threading.Condition()
        self._stopping = False
        self._broken_generation = None   # its later records are dropped: only a new snapshot can help
        self._relay = _FailureRelay(self)
        self._writer = threading.Thread(target=self._write_loop, name="autosave-writer", daemon=True)
        self._writer.start()

    def wait(self, timeout_s: float | None = None) -> bool:
        """True once every record handed over is on disk (or dropped after a failure)."""
        with self._pending_changed:
            return self._pending_changed.wait_for(lambda: not self._pending, timeout_s)

    # Journal._append is where io.journal makes a record durable: here it is handed to the writer.
    def _append(self, record: bytes) -> None:
        with self._pending_changed:
            self._pending.append((self.generation, record))
            self._pending_changed.notify_all()
        self.records_since_snapshot += 1

    def snapshot(self) -> None:
        self.wait()   # the journal file is about to be replaced: nothing may still be on its way into it
        super().snapshot()

    def close(self, clean: bool = True) -> None:
        self.wait()
        with self._pending_changed:
            self._stopping = True
            self._pending_changed.notify_all()
        self._writer.join()
        super().close(clean)

    def writer_failed(self, exc: OSError, generation: int) -> None:
        """(GUI thread) A write failed; unless a snapshot has replaced that journal since, report it."""
        if generation == self.generation and not self._closed:
            self._fail(exc)

    # ----- the writer thread -----
    def _write_loop(self) -> None:
        while True:
            with self._pending_changed:
                self._pending_changed.wait_for(lambda: self._pending or self._stopping)
                if not self._pending:
                    return
                generation, record = self._pending[0]
            self._write(generation, record)
            with self._pending_changed:
                self._pending.popleft()
                self._pending_changed.notify_all()

    def _write(self, generation: int, record: bytes) -> None:
        if generation == self._broken_generation:
            return
        try:
            self._file.write(record)
            self._file.flush()
            os.fsync(self._file.fileno())
        except OSError as exc:
            self._broken_generation = generation
            self._relay.failed.emit(exc, generation)
            return
        self._size += len(record)


class RecoveryOffer(QMessageBox):
    """Restore / Discard / Later for one autosave; `answered(answer)` when the user has chosen."""

    answered = Signal(str)

    def __init__(self, info, parent=None):
        super().__init__(parent)
        self.info = info
        self.setObjectName("recoveryOffer")
        self.setIcon(QMessageBox.Icon.Question)
        self.setWindowTitle("Restore autosaved labels?")
        what = info.image or info.name or "an image"
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(info.saved_at))
        self.setText(f"usannotator did not close normally while {Path(what).name} was being edited.")
        self.setInformativeText(f"Its labels were autosaved at {when}. Restore them?\n{what}")
        self.buttons_by_answer = {}
        for answer, text, role, tip in (
                (RESTORE, "Restore", QMessageBox.ButtonRole.AcceptRole, "Put the autosaved labels back"),
                (DISCARD, "Discard", QMessageBox.ButtonRole.DestructiveRole,
                 "Delete the autosave; the labels stay as they were saved"),
                (LATER, "Later", QMessageBox.ButtonRole.RejectRole,
                 "Keep the autosave and ask again next time (no autosave of this image until then)")):
            button = self.addButton(text, role)
            button.setToolTip(tip)
            self.buttons_by_answer[answer] = button
        self.setDefaultButton(self.buttons_by_answer[RESTORE])
        self.buttonClicked.connect(self._on_clicked)

    def _on_clicked(self, button) -> None:
        answer = next((a for a, b in self.buttons_by_answer.items() if b is button), LATER)
        self.answered.emit(answer)

    def choose(self, answer: str) -> None:
        """Press the button of an answer (scripts and tests)."""
        self.buttons_by_answer[answer].click()


class Autosave(QObject):
    """The window's autosave: one journal for the open document."""

    def __init__(self, window, directory=None):
        super().__init__(window)
        self.window = window
        self.directory = directory           # None: io.journal.recovery_dir()
        self.journal_options = {}            # for the journal (tests pass an opener that fails like a full disk)
        self.journal = None
        self.offer = None                    # the question on screen, if any
        self._restore_when_opened = set()    # keys the user chose to restore before their image was open
        self.warning = QLabel("")
        self.warning.setObjectName("autosaveWarning")
        self.warning.setStyleSheet("color: #d9822b")
        self.warning.hide()
        window.statusBar().addPermanentWidget(self.warning)
        action = QAction(icon("fa5s.history"), "Restore autosave…", window)
        action.setToolTip("Offer again the autosaves left by sessions that did not close normally")
        action.triggered.connect(self._offer_from_menu)
        window.menus["File"].insertAction(window.recent_menu.menuAction(), action)
        window.host.document_opened.connect(self._on_document_opened)
        window.host.document_closed.connect(self.stop)

    # ----- the open document -----
    def _on_document_opened(self, document) -> None:
        self._withdraw_offer()
        info = find_recovery(document.volume, self.directory)
        if info is None:
            self._start(document)
        elif info.key in self._restore_when_opened:
            self._restore_when_opened.discard(info.key)
            self.restore(document)
        else:
            self._ask(info, lambda answer: self._answered_for(document, answer))

    def _answered_for(self, document, answer: str) -> None:
        if document is not self.window.document:
            return
        if answer == RESTORE:
            self.restore(document)
        elif answer == DISCARD:
            discard_recovery(document.volume, self.directory)
            self._start(document)
        else:
            self._set_warning("Autosave is off for this image until its earlier autosave is restored or "
                              "discarded (File > Restore autosave…).")

    def restore(self, document) -> None:
        """Put the autosaved labels into the document, say what could not be recovered, autosave again."""
        QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)   # seconds on a thesis-sized volume
        try:
            report = recover(document, self.directory)
        except RecoveryError as exc:
            self.window.host.show_error("Could not restore the autosave", str(exc))
            self._set_warning("Autosave is off for this image: its earlier autosave cannot be read.")
            return
        finally:
            QApplication.restoreOverrideCursor()
        self._start(document, replace_existing=True)
        self.window.host.status(report.message, 15000)
        if report.problem:
            box = QMessageBox(QMessageBox.Icon.Warning, "Some edits could not be recovered", report.message,
                              QMessageBox.StandardButton.Ok, self.window)
            box.setObjectName("recoveryReport")
            box.open()

    def _start(self, document, replace_existing: bool = False) -> None:
        try:
            self.journal = BackgroundJournal.start(document, self.directory, replace_existing=replace_existing,
                                                   **self.journal_options)
        except RecoveryPendingError:
            self._set_aside_unreadable(document)
            return
        except OSError as exc:
            self._set_warning(f"Autosave is off: {exc.strerror or exc}. Save your work elsewhere.")
            return
        self.journal.status_changed.connect(self._set_warning)
        self._set_warning(self.journal.warning)

    def _set_aside_unreadable(self, document) -> None:
        """find_recovery saw no autosave, yet its snapshot is there: so damaged that not even its header
        reads. It is renamed (kept for a closer look), and autosave starts afresh."""
        snapshot = Journal(document, self.directory).snapshot_path
        damaged = snapshot.with_name(snapshot.name + ".damaged")
        os.replace(snapshot, damaged)
        self.window.host.show_error("An autosave could not be read",
                                    f"The autosave of this image is damaged and cannot be restored. It was set "
                                    f"aside as {damaged}.")
        self._start(document)

    def stop(self, clean: bool = True) -> None:
        """The document closes: after a save or a discard (`clean`), its autosave is removed."""
        self._withdraw_offer()
        if self.journal is not None:
            self.journal.close(clean)
            self.journal = None
        self._set_warning("")

    def wait(self, timeout_s: float | None = None) -> bool:
        """True once every finished edit is on disk."""
        return self.journal.wait(timeout_s) if self.journal is not None else True

    # ----- start-up -----
    def offer_pending(self) -> bool:
        """Offer, one after the other and the newest first, every autosave left by an unclean exit."""
        own = self.journal.key if self.journal is not None else None
        pending = [i for i in list_recoveries(self.directory) if i.key != own]
        self._offer_next(sorted(pending, key=lambda i: -i.saved_at))
        return bool(pending)

    def _offer_from_menu(self) -> None:
        if not self.offer_pending():
            self.window.host.status("No autosave is waiting to be restored")

    def _offer_next(self, pending: list) -> None:
        if not pending:
            return
        info, rest = pending[0], pending[1:]
        document = self.window.document
        if document is not None and find_recovery(document.volume, self.directory) == info:
            self._ask(info, lambda answer: self._answered_for(document, answer))
            return
        self._ask(info, lambda answer: self._answered_at_start(info, answer, rest))

    def _answered_at_start(self, info, answer: str, rest: list) -> None:
        if answer == RESTORE:
            if info.image and os.path.exists(info.image):
                self._restore_when_opened.add(info.key)
                self.window.open_path(info.image)
            else:
                self.window.host.show_error(
                    "Open the image to restore its labels",
                    f"The image of this autosave ({info.image or info.name}) cannot be opened from here: open "
                    "it, and usannotator offers to restore its labels.")
            return
        if answer == DISCARD:
            for path in (info.snapshot_path, info.journal_path):
                path.unlink(missing_ok=True)
        self._offer_next(rest)

    # ----- inside -----
    def _ask(self, info, then) -> None:
        self._withdraw_offer()
        self.offer = RecoveryOffer(info, self.window)
        self.offer.setWindowModality(Qt.WindowModality.WindowModal)
        self.offer.answered.connect(lambda answer: self._answered(then, answer))
        self.offer.open()

    def _answered(self, then, answer: str) -> None:
        self.offer = None
        then(answer)

    def _withdraw_offer(self) -> None:
        """A question about a document that is no longer open is closed unanswered (as Later)."""
        if self.offer is not None:
            offer, self.offer = self.offer, None
            offer.answered.disconnect()
            offer.close()

    def _set_warning(self, message: str) -> None:
        self.warning.setText(f"⚠ {message}" if message else "")
        self.warning.setToolTip(message)
        self.warning.setVisible(bool(message))
        if message:
            self.window.host.status(message, 15000)
