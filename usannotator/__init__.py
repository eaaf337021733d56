"""usannotator: 3D ultrasound annotation of lower-leg muscles."""

__version__ = "0.1.0"

import os as _os

# torch's OpenMP threads spin while waiting by default: on a 2-core lab PC running the GUI beside a
# model job that made inference 10-40x slower. Set before torch is first imported; a user's own
# setting wins.
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

# OpenBLAS starts one worker thread per core, and its idle workers spin. The confidence solver runs
# its BLAS on one thread (parallelism comes from solving slices side by side), and with spinning
# workers beside a busy core its first solve took 3.7 s instead of 0.9 s (512 x 476, 2-core
# machine). Set before numpy loads OpenBLAS; a user's own setting wins.
_os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
