"""IFSS-Net in PyTorch: siamese encoder, feature fusion, bidirectional ConvLSTM, UNet decoder.

One code path builds both configurations (config.FULL, config.LITE). Tensors are
(batch, channels, window depth D, height, width); depth is the sweep axis z.
Output logits have channel 0 = background, 1 = foreground (the authors' code uses the opposite).
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from usannotator_plugins.ifss.config import IFSSConfig

MASK_CLAMP = 0.02   # the mask skip reads logit(clamp(mask, 0.02, 0.98)): finite at 0 and 1


def norm(channels: int) -> nn.GroupNorm:
    """Layer norm over (C, D, H, W) with a per-channel affine, as the authors' layer norm."""
    return nn.GroupNorm(1, channels)


class StepDropout(nn.Module):
    """Dropout whose rate the training loop may redraw at every step (the published recipe)."""

    def __init__(self, rate: float, channelwise: bool):
        super().__init__()
        self.rate = float(rate)
        self.channelwise = channelwise

    def forward(self, x):
        if not self.training or self.rate <= 0:
            return x
        if self.channelwise:
            return F.dropout3d(x, self.rate, training=True)
        return F.dropout(x, self.rate, training=True)


class ASPP(nn.Module):
    """Atrous spatial pyramid pooling: image-level, 1x1x1 and one dilated 3x3x3 branch per rate,
    all linear, concatenated back to the input's channel count."""

    def __init__(self, channels: int, rates, depth_dilation: bool):
        super().__init__()
        n_branches = len(rates) + 2
        width = channels // n_branches
        self.image_level = nn.Conv3d(channels, width, 1, bias=False)
        # the remainder goes to the 1x1x1 branch so the output keeps `channels`
        self.pointwise = nn.Conv3d(channels, channels - width * (n_branches - 1), 1, bias=False)
        self.atrous = nn.ModuleList()
        for r in rates:
            dilation = (r, r, r) if depth_dilation else (1, r, r)
            self.atrous.append(nn.Conv3d(channels, width, 3, padding=dilation, dilation=dilation, bias=False))

    def forward(self, x):
        pooled = self.image_level(x.mean(dim=(3, 4), keepdim=True)).expand(-1, -1, -1, *x.shape[3:])
        return torch.cat([pooled, self.pointwise(x), *[conv(x) for conv in self.atrous]], dim=1)


class EncoderLevel(nn.Module):
    """Conv (no bias) -> norm -> ReLU -> max-pool halving H and W -> ASPP -> dropout."""

    def __init__(self, in_channels: int, channels: int, rates, config: IFSSConfig):
        super().__init__()
        self.conv = nn.Conv3d(in_channels, channels, 3, padding=1, bias=False)
        self.norm = norm(channels)
        self.pool = nn.MaxPool3d(3, stride=(1, 2, 2), padding=1)
        self.aspp = ASPP(channels, rates, config.aspp_depth_dilation)
        self.dropout = StepDropout(config.dropout, config.channel_dropout)

    def forward(self, x):
        return self.dropout(self.aspp(self.pool(F.relu(self.norm(self.conv(x))))))


class FeatureFusion(nn.Module):
    """FFM: u = ReLU(norm(conv(a ++ b))); u + u * channel attention computed per slice."""

    def __init__(self, a_channels: int, b_channels: int, channels: int, code_exact: bool = False):
        super().__init__()
        self.conv = nn.Conv3d(a_channels + b_channels, channels, 3, padding=1)
        self.norm = norm(channels)
        self.squeeze = nn.Conv3d(channels, channels, 1)
        self.excite = nn.Conv3d(channels, channels, 1)
        self.code_exact = code_exact

    def forward(self, a, b):
        u = F.relu(self.norm(self.conv(torch.cat([a, b], dim=1))))
        gate = self.excite(F.relu(self.squeeze(u.mean(dim=(3, 4), keepdim=True))))
        if self.code_exact:
            gate = F.relu(gate)  # the authors' code: keeps the gate in [0.5, 1)
        return u + u * torch.sigmoid(gate)


class BiConvLSTM(nn.Module):
    """One ConvLSTM cell run over the window's slices, then over them reversed (shared weights);
    output = forward states + re-reversed backward states. State starts at zero in every window."""

    def __init__(self, channels: int, kernel: int, recurrent_dropout: float = 0.0):
        super().__init__()
        self.hidden = channels
        self.gates = nn.Conv2d(2 * channels, 4 * channels, kernel, padding=kernel // 2)
        self.recurrent_dropout = recurrent_dropout

    def run(self, x):
        b, _, depth, height, width = x.shape
        h = x.new_zeros(b, self.hidden, height, width)
        c = torch.zeros_like(h)
        keep = self._recurrent_mask(h)
        states = []
        for t in range(depth):
            i, f, o, g = self.gates(torch.cat([x[:, :, t], h * keep], dim=1)).chunk(4, dim=1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            h = torch.sigmoid(o) * torch.tanh(c)
            states.append(h)
        return torch.stack(states, dim=2)

    def _recurrent_mask(self, h):
        # one mask for all time steps, as Keras' recurrent dropout
        p = self.recurrent_dropout
        if not self.training or p <= 0:
            return torch.ones_like(h)
        return torch.bernoulli(torch.full_like(h, 1 - p)) / (1 - p)

    def forward(self, x):
        return self.run(x) + self.run(x.flip(2)).flip(2)


class DecoderStage(nn.Module):
    """(conv -> norm -> ReLU) x 2 -> fusion with the skip -> nearest upsampling of H, W -> dropout."""

    def __init__(self, in_channels: int, skip_channels: int, channels: int, config: IFSSConfig):
        super().__init__()
        self.conv1 = nn.Conv3d(in_channels, channels, 3, padding=1)
        self.norm1 = norm(channels)
        self.conv2 = nn.Conv3d(channels, channels, 3, padding=1)
        self.norm2 = norm(channels)
        self.fusion = FeatureFusion(channels, skip_channels, channels, config.ffm_code_exact)
        self.dropout = StepDropout(config.dropout, config.channel_dropout)

    def forward(self, x, skip):
        x = F.relu(self.norm1(self.conv1(x)))
        x = F.relu(self.norm2(self.conv2(x)))
        x = self.fusion(x, skip)
        return self.dropout(F.interpolate(x, scale_factor=(1, 2, 2), mode="nearest"))


def final_block(in_channels: int, config: IFSSConfig) -> nn.Sequential:
    c = config.final_channels
    if config.final_block == "full":
        return nn.Sequential(nn.Conv3d(in_channels, c, 3, padding=1), norm(c), nn.ReLU(),
                             nn.Conv3d(c, c, 1), norm(c), nn.ReLU(),
                             StepDropout(config.dropout, config.channel_dropout))
    if config.final_block == "lite":
        return nn.Sequential(nn.Conv3d(in_channels, c, 1), norm(c), nn.ReLU())
    raise ValueError(f"unknown final block {config.final_block!r}")


class IFSSNet(nn.Module):
    """forward(image, mask) -> logits (B, 2, D, H, W); image z-scored, mask = foreground probability."""

    def __init__(self, config: IFSSConfig):
        super().__init__()
        self.config = config
        channels = config.encoder_channels
        self.encoder = nn.ModuleList(
            EncoderLevel(1 if i == 0 else channels[i - 1], c, config.aspp_rates[i], config)
            for i, c in enumerate(channels))
        bottleneck = channels[-1]
        self.fusion = FeatureFusion(bottleneck, bottleneck, bottleneck, config.ffm_code_exact)
        self.memory = BiConvLSTM(bottleneck, config.memory_kernel, config.memory_recurrent_dropout)
        # stage 1's skip is the memory's output; then the image encoder levels from deep to shallow
        skips = (bottleneck,) + tuple(reversed(channels[:-1]))
        ins = (bottleneck,) + tuple(config.decoder_channels[:-1])
        self.decoder = nn.ModuleList(DecoderStage(i, s, c, config)
                                     for i, s, c in zip(ins, skips, config.decoder_channels))
        self.final = final_block(config.decoder_channels[-1], config)
        self.head = nn.Conv3d(config.final_channels, 2, 1)
        self.skip_gain = nn.Parameter(torch.ones(())) if config.mask_skip else None
        self._initialise()

    def _initialise(self):
        for m in self.modules():
            if isinstance(m, (nn.Conv3d, nn.Conv2d)):
                nn.init.xavier_uniform_(m.weight)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
        # Keras' unit forget bias: the memory starts by keeping its state
        h = self.memory.hidden
        with torch.no_grad():
            self.memory.gates.bias[h:2 * h].fill_(1.0)
        if self.config.mask_skip:
            # a zero head plus the skip makes the untrained network copy its mask input
            nn.init.zeros_(self.head.weight)
            nn.init.zeros_(self.head.bias)

    def check_input(self, image, mask):
        if image.ndim != 5 or image.shape[1] != 1:
            raise ValueError(f"image must be (batch, 1, depth, height, width), got {tuple(image.shape)}")
        if mask.shape != image.shape:
            raise ValueError(f"mask shape {tuple(mask.shape)} differs from image shape {tuple(image.shape)}")
        step = 2 ** self.config.levels
        if image.shape[3] % step or image.shape[4] % step:
            raise ValueError(f"height and width must be multiples of {step} for {self.config.levels} "
                             f"levels, got {image.shape[3]} x {image.shape[4]}")

    def encode(self, x):
        """The encoder's level outputs, shallow to deep."""
        levels = []
        for level in self.encoder:
            x = level(x)
            levels.append(x)
        return levels

    def forward(self, image, mask):
        self.check_input(image, mask)
        # siamese: one encoder, both streams in one batch
        both = self.encode(torch.cat([image, mask], dim=0))
        n = image.shape[0]
        image_levels = [x[:n] for x in both]
        memory = self.memory(self.fusion(image_levels[-1], both[-1][n:]))
        x = memory
        for stage, skip in zip(self.decoder, [memory] + image_levels[-2::-1]):
            x = stage(x, skip)
        logits = self.head(self.final(x))
        if self.skip_gain is not None:
            logits = logits + self._mask_skip(mask)
        return logits

    def _mask_skip(self, mask):
        m = mask.clamp(MASK_CLAMP, 1 - MASK_CLAMP)
        foreground = self.skip_gain * torch.log(m / (1 - m))
        return torch.cat([torch.zeros_like(foreground), foreground], dim=1)

    def redraw_dropout(self, generator: torch.Generator | None = None) -> None:
        """Published recipe: a new dropout rate in [0, max] at every training step."""
        if not self.config.dropout_redrawn:
            return
        rate = float(torch.rand((), generator=generator)) * self.config.dropout
        for m in self.modules():
            if isinstance(m, StepDropout):
                m.rate = rate

    def gradcam_layers(self) -> dict:
        """Candidate layers for activation maps, default first: the penultimate decoder stage is
        separated from the logits by convolutions and non-linearities (border-analysis spec 5.3)."""
        n = len(self.decoder)
        layers = {"decoder, penultimate stage": self.decoder[n - 2],
                  "decoder, last stage": self.decoder[n - 1],
                  "bottleneck memory (BiConvLSTM)": self.memory,
                  "bottleneck fusion": self.fusion}
        for i in reversed(range(len(self.encoder))):
            layers[f"encoder level {i + 1}"] = self.encoder[i]
        return layers


def foreground_probability(logits):
    """Softmax foreground channel, (B, D, H, W)."""
    return torch.softmax(logits, dim=1)[:, 1]


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
