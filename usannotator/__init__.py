"""usannotator: 3D ultrasound annotation of lower-leg muscles."""

__version__ = "0.1.0"

import os as _os

# torch's OpenMP threads spin while waiting by default: on a 2-core lab PC running the GUI beside a
# model job that made inference 10-40x slower. Set before torch is first imported; a user's own
# setting wins.
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
