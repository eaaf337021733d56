"""The two IFSS-Net configurations: the published one ("full") and our CPU one ("lite").

Torch-free on purpose: the plugin, the command line and the weights checker read configurations
without loading torch.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields


@dataclass(frozen=True)
class IFSSConfig:
    name: str
    slice_size: int                  # network slices are slice_size x slice_size
    window: int                      # w: slices per window
    stride: int                      # S: slices the chain advances per window
    encoder_channels: tuple
    aspp_rates: tuple                # one tuple of dilation rates per encoder level
    aspp_depth_dilation: bool        # dilate along z too (published); in-plane only (lite)
    memory_kernel: int               # BiConvLSTM kernel size (in-plane)
    memory_recurrent_dropout: float
    decoder_channels: tuple
    final_block: str                 # "full": 3x3x3 + 1x1x1 convs; "lite": one 1x1x1 conv
    final_channels: int
    dropout: float                   # rate, or the upper bound of the redrawn rate
    dropout_redrawn: bool            # published: rate drawn in [0, dropout] at every step
    channel_dropout: bool
    mask_skip: bool                  # the network starts as zero-order copying of its mask input
    ffm_code_exact: bool             # the authors' extra ReLU in the fusion attention
    alpha_range: tuple | None        # clamp of the Tversky alpha (lite) or None (published)
    tversky_lr: float | None         # own learning rate of the Tversky weights, None = the network's
    fit: str                         # how slices reach slice_size: "resize" or "crop"

    @property
    def levels(self) -> int:
        return len(self.encoder_channels)

    def to_dict(self) -> dict:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, d: dict) -> "IFSSConfig":
        names = {f.name for f in fields(cls)}
        missing = names - set(d)
        if missing:
            raise ValueError(f"configuration lacks {sorted(missing)}")
        return cls(**{k: _tuplify(d[k]) for k in names})

    def differences(self, other: "IFSSConfig") -> list:
        """Names of the settings in which two configurations differ."""
        return [f.name for f in fields(self) if getattr(self, f.name) != getattr(other, f.name)]


def _tuplify(value):
    if isinstance(value, list):
        return tuple(_tuplify(v) for v in value)
    return value


FULL = IFSSConfig(
    name="full", slice_size=512, window=3, stride=1,
    encoder_channels=(30, 30, 60, 120, 120),
    aspp_rates=((6, 12, 18), (6, 12, 18), (4, 6, 8), (2, 4, 6), (2, 4, 6)),
    aspp_depth_dilation=True,
    memory_kernel=1, memory_recurrent_dropout=0.3,
    decoder_channels=(120, 120, 60, 60, 16), final_block="full", final_channels=8,
    dropout=0.25, dropout_redrawn=True, channel_dropout=False,
    mask_skip=False, ffm_code_exact=False, alpha_range=None, tversky_lr=None, fit="crop",
)

LITE = IFSSConfig(
    name="lite", slice_size=128, window=3, stride=3,
    encoder_channels=(8, 16, 24, 32),
    aspp_rates=((2, 4), (2, 4), (2, 4), (1, 2)),
    aspp_depth_dilation=False,
    memory_kernel=3, memory_recurrent_dropout=0.0,
    decoder_channels=(32, 24, 16, 8), final_block="lite", final_channels=8,
    dropout=0.1, dropout_redrawn=False, channel_dropout=True,
    mask_skip=True, ffm_code_exact=False, alpha_range=(0.3, 0.7), tversky_lr=1e-4, fit="resize",
)

CONFIGS = {"full": FULL, "lite": LITE}


def config_named(name: str) -> IFSSConfig:
    try:
        return CONFIGS[name]
    except KeyError:
        raise ValueError(f"unknown IFSS-Net configuration {name!r}: use one of {sorted(CONFIGS)}") from None


# A blended probability at or above THRESHOLD becomes the muscle. The spec (8.3 and section 10)
# says 0.5; that stays available as Propagator(threshold=SPEC_THRESHOLD).
# Why lower: the lite chains' outputs are near-binary (0.003 or 0.997) and each chain shrinks slice
# by slice (forward chains of phantom 950: 96 % of the true area one slice from the key, 72 % after
# 19), so at 0.5 the linear blend keeps only the nearer chain's shrunken mask and the muscles come out
# 11 % too small. At 0.25 the nearer chain alone decides within a quarter of the gap from a key, and
# in the middle half a pixel either chain holds is kept.
# Measured with the shipped lite weights, keys every 20, mean Dice of GM/GL/SOL: validation phantoms
# 950-959 (where it was chosen) 0.916 at 0.5, 0.933 at 0.4, 0.939 at 0.3, 0.941 at 0.25, 0.940 at 0.2;
# held-out 900-904: 0.918 at 0.5, 0.940 at 0.25 (GM 0.952, GL 0.921, SOL 0.947; volume error 11 % -> 3 %).
# Also better with keys every 10 (0.956 -> 0.959) and every 30 (0.872 -> 0.921) on 950-954.
THRESHOLD = 0.25
SPEC_THRESHOLD = 0.5

# "Adapt to this volume": window steps when the user asks for it (measured, see adapt.py).
ADAPT_STEPS = 40
