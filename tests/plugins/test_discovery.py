"""Plugins come from entry points; one that fails to import or start is reported, never fatal.

The third-party plugins here are real installed distributions (a .dist-info with entry points on
sys.path), found the same way as the built-in ones."""

import textwrap

import pytest

from usannotator.plugins import discover

GOOD = """
from usannotator.plugins import Plugin

class Hello(Plugin):
    name = "hello"
    title = "Hello"

    def add_commands(self, sub):
        p = sub.add_parser("hello", help="say hello")
        p.set_defaults(func=lambda args: print("hello from a third-party plugin") or 0)

plugin = Hello()
"""
BROKEN_IMPORT = "raise ImportError('needs a package that is not installed: leftpad')\n"
BROKEN_START = """
from usannotator.plugins import Plugin

class Crashes(Plugin):
    name = "crashes"
    title = "Crashes at start"

    def activate(self, host):
        raise RuntimeError("cannot find its model")

plugin = Crashes()
"""


@pytest.fixture
def third_party(tmp_path, monkeypatch):
    for module, source in (("tp_hello", GOOD), ("tp_broken", BROKEN_IMPORT), ("tp_crashes", BROKEN_START)):
        (tmp_path / f"{module}.py").write_text(textwrap.dedent(source))
    dist = tmp_path / "usannotator_thirdparty-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: usannotator-thirdparty\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        "[usannotator.plugins]\nhello = tp_hello:plugin\nbroken = tp_broken:plugin\ncrashes = tp_crashes:plugin\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def test_builtin_plugins_are_found_and_load():
    records = {r.name: r for r in discover()}
    for name in ("annotate", "zoi", "confidence", "ifss", "borders"):
        assert records[name].ok, f"{name}: {records[name].error}"


def test_a_plugin_that_fails_to_import_is_reported(third_party):
    records = {r.name: r for r in discover()}
    assert records["hello"].ok
    assert records["broken"].state == "failed to load"
    assert "leftpad" in records["broken"].error and "Traceback" in records["broken"].details
    assert records["annotate"].ok   # the others still load


def test_third_party_command_line_works(third_party, capsys):
    from usannotator.cli import main

    assert main(["hello"]) == 0
    assert "third-party plugin" in capsys.readouterr().out


@pytest.mark.gui
def test_the_window_starts_and_lists_failures(third_party, make_window, qtbot):
    from usannotator.gui.app import create_window

    window = create_window(discover())
    try:
        report = {r["name"]: r for r in window.plugins_report()}
        assert report["crashes"]["state"] == "failed to start"
        assert "cannot find its model" in report["crashes"]["error"]
        assert report["broken"]["state"] == "failed to load"
        assert report["hello"]["state"] == "active"
        from usannotator.gui.dialogs import PluginsDialog

        dialog = PluginsDialog(window.records, window)
        states = {dialog.table.item(r, 0).text(): dialog.table.item(r, 1).text() for r in range(dialog.table.rowCount())}
        assert states["Crashes at start"] == "failed to start"
        dialog.table.setCurrentCell(list(states).index("Crashes at start"), 0)
        assert "RuntimeError" in dialog.details.toPlainText()
    finally:
        window.close()
