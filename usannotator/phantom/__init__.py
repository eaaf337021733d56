"""Seeded synthetic 3D ultrasound phantoms of the lower leg (GM, GL, SOL) with ground truth.

For the demo, the tests and training data: `generate_phantom(seed)` gives the B-mode volume,
its labels and a fascia map that says which muscle borders are visible and which are faint or
missing; `sparse_key_slices` keeps every K-th slice of each label, as an annotator would draw;
`write_demo` writes all of it to files.
"""

from usannotator.phantom.anatomy import GL, GM, LABEL_NAMES, SOL, Tissue
from usannotator.phantom.demo import write_demo
from usannotator.phantom.generator import Phantom, generate_phantom
from usannotator.phantom.keyslices import key_slice_indices, label_extent, sparse_key_slices
from usannotator.phantom.options import OPTIONS, SIZES

__all__ = [
    "generate_phantom", "Phantom", "sparse_key_slices", "key_slice_indices", "label_extent",
    "write_demo", "Tissue", "OPTIONS", "SIZES", "LABEL_NAMES", "GM", "GL", "SOL",
]
