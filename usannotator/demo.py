"""The bundled demo: a seeded phantom opened with its sparse key slices as manual annotations."""

from __future__ import annotations

from usannotator.core import Document, Provenance


def demo_document(seed: int = 0, every: int = 10, size: str = "demo") -> tuple[Document, object]:
    """A Document holding a demo phantom and its key-slice labels; also returns the Phantom
    (its ground truth lets a user compare what they or a plugin produce)."""
    from usannotator.phantom import generate_phantom, sparse_key_slices

    phantom = generate_phantom(seed=seed, size=size)
    sparse = sparse_key_slices(phantom.truth, every=every)
    volume = phantom.volume
    volume.name = volume.name or f"Demo phantom (seed {seed})"
    doc = Document(volume, sparse, provenance=Provenance.from_sparse_labels(sparse, volume.sweep_axis))
    return doc, phantom
