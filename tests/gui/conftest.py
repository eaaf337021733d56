import pytest

pytestmark = pytest.mark.gui


@pytest.fixture
def window(make_window):
    """A main window with no plugins (the host alone)."""
    return make_window()
