"""usannotator: 3D ultrasound annotation of lower-leg muscles."""

__version__ = "0.1.0"
