import pytest


@pytest.fixture
def annotator(make_window, small_document, qtbot):
    """A main window with the annotation plugin, showing the small 3-label document."""
    from tests.gui.pixels import show
    from usannotator_plugins import annotate

    window = make_window(plugins=[annotate.plugin])
    show(window, small_document, qtbot)
    return window
