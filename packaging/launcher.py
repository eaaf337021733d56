"""Entry point of the frozen application: the same `usannotator` command as `pip install` gives."""

import multiprocessing
import sys

if __name__ == "__main__":
    # A frozen program re-executes itself for multiprocessing children; this returns at once otherwise.
    multiprocessing.freeze_support()
    from usannotator.cli import main

    sys.exit(main())
