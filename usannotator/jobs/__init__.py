"""Qt-free background work: a job is a callable taking a Progress; the runner (GUI thread pool or
the command line) reports progress, offers Cancel and delivers the result."""

from usannotator.jobs.job import Cancelled, Job, Progress, run_inline
from usannotator.jobs.device import choose_device, is_out_of_memory

__all__ = ["Cancelled", "Job", "Progress", "run_inline", "choose_device", "is_out_of_memory"]
