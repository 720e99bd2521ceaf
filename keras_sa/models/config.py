"""The configuration object that a stacked hourglass network is built from."""

import dataclasses
import json

from keras_sa.audio.signal import SignalConfig, check_fields, check_integer

MERGES = ("attention", "add", "none")


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """Everything needed to build (and feed) one SA-SHN / SHN model.

    Args:
        name: the preset or model name, stored with the model.
        signal: the audio contract (sample rate, STFT, patch, input
            normalization, source order).
        stem_channels: output channels of the stem's convolutions, applied at
            full resolution before the first hourglass.
        stem_kernel: kernel size of the stem's first convolution (the rest are
            3x3).
        num_stacks: number of hourglass stacks; each one predicts masks.
        depth: number of 2x2 down-samplings in each hourglass.
        channels: feature channels per hourglass level, ``depth + 1`` values
            from full resolution (level 0) to the bottleneck, or one int for
            all levels.
        merge: how each hourglass level merges its skip branch ``E`` with the
            up-sampled decoder ``D``: ``"attention"`` (``SkipAttention``),
            ``"add"`` (``E + D``, the SHN skip) or ``"none"`` (``D`` alone).
        attention_levels: levels (0 = full resolution) that use
            ``SkipAttention`` when ``merge == "attention"``; the others add.
            ``None`` means every level.
        attention_key_dim: key width of ``SkipAttention``; ``None`` = channels.
        attention_heads: heads of ``SkipAttention``.
        mask_activation: ``"sigmoid"`` (masks in ``[0, 1]``) or ``"relu"``
            (non-negative, unbounded, as in the SHN).
    """

    name: str = "custom"
    signal: SignalConfig = dataclasses.field(default_factory=SignalConfig)
    stem_channels: tuple = (64, 128, 128, 128, 256)
    stem_kernel: int = 7
    num_stacks: int = 4
    depth: int = 4
    channels: object = 256
    merge: str = "attention"
    attention_levels: object = None
    attention_key_dim: object = None
    attention_heads: int = 1
    mask_activation: str = "relu"

    def __post_init__(self):
        if not isinstance(self.name, str):
            raise ValueError(f"name must be a string, got {self.name!r:.80}")
        if not isinstance(self.merge, str) or not isinstance(self.mask_activation, str):
            raise ValueError(f"merge and mask_activation must be strings, got {self.merge!r:.40} and {self.mask_activation!r:.40}")
        check_integer("num_stacks", self.num_stacks, 1, 64)
        check_integer("depth", self.depth, 1, 16)
        check_integer("stem_kernel", self.stem_kernel, 1, 64)
        check_integer("attention_heads", self.attention_heads, 1, 64)
        if self.attention_key_dim is not None:
            check_integer("attention_key_dim", self.attention_key_dim, 1, 1 << 16)
        _check_widths("stem_channels", self.stem_channels, 0)
        if not isinstance(self.channels, int):
            _check_widths("channels", self.channels, 1)
        else:
            check_integer("channels", self.channels, 1, 1 << 16)
        if self.attention_levels is not None:
            if not isinstance(self.attention_levels, (list, tuple)):
                raise ValueError(f"attention_levels must be a list of levels, got {self.attention_levels!r:.80}")
            for level in self.attention_levels:
                check_integer("attention_levels", level, 0, 15)
        if not isinstance(self.signal, (SignalConfig, dict)):
            raise ValueError(f"signal must be a JSON object, got {type(self.signal).__name__}")
        if self.merge not in MERGES:
            raise ValueError(f"merge must be one of {MERGES}, got {self.merge!r}")
        if self.mask_activation not in ("sigmoid", "relu"):
            raise ValueError(f"unknown mask_activation {self.mask_activation!r}")
        if self.num_stacks < 1 or self.depth < 1:
            raise ValueError("num_stacks and depth must be at least 1")
        if isinstance(self.signal, dict):
            object.__setattr__(self, "signal", SignalConfig.from_dict(self.signal))
        object.__setattr__(self, "stem_channels", tuple(self.stem_channels))
        if isinstance(self.channels, int):
            object.__setattr__(self, "channels", (self.channels,) * (self.depth + 1))
        object.__setattr__(self, "channels", tuple(self.channels))
        if len(self.channels) != self.depth + 1:
            raise ValueError(
                f"channels needs depth + 1 = {self.depth + 1} values, got {self.channels}"
            )
        if self.attention_levels is not None:
            levels = tuple(sorted(set(self.attention_levels)))
            if any(not 0 <= level < self.depth for level in levels):
                raise ValueError(f"attention_levels must lie in [0, {self.depth})")
            object.__setattr__(self, "attention_levels", levels)
        stride = 2**self.depth
        if self.signal.patch_frames % stride or self.signal.n_bins % stride:
            raise ValueError(
                f"patch_frames and n_bins must be multiples of 2**depth = {stride}"
            )

    def uses_attention(self, level):
        """Whether hourglass level ``level`` merges with ``SkipAttention``."""
        if self.merge != "attention":
            return False
        return self.attention_levels is None or level in self.attention_levels

    def replace(self, **changes):
        """A copy with some fields changed (``signal`` may be a dict of changes)."""
        if isinstance(changes.get("signal"), dict):
            changes["signal"] = dataclasses.replace(self.signal, **changes["signal"])
        return dataclasses.replace(self, **changes)

    def to_dict(self):
        values = dataclasses.asdict(self)
        values["signal"] = self.signal.to_dict()
        for key in ("stem_channels", "channels", "attention_levels"):
            if values[key] is not None:
                values[key] = list(values[key])
        return values

    @classmethod
    def from_dict(cls, values):
        """A ModelConfig from :meth:`to_dict`'s output.

        Raises:
            ValueError: ``values`` is not such a dict: an unknown key, a
                value of the wrong type or out of range (in one line).
        """
        return cls(**check_fields(cls, values, "model config"))

    def to_json(self):
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_json(cls, text):
        """A ModelConfig from :meth:`to_json`'s text.

        Raises:
            ValueError: the text is not JSON (or nests too deeply to parse),
                or not a model configuration (see :meth:`from_dict`).
        """
        try:
            values = json.loads(text)
        except RecursionError:
            raise ValueError("model configuration JSON nests too deeply") from None
        return cls.from_dict(values)


def _check_widths(name, widths, shortest):
    """Raises ValueError unless ``widths`` is a list of 1..64 layer widths (``shortest`` may make it 0)."""
    if not isinstance(widths, (list, tuple)) or not shortest <= len(widths) <= 64:
        raise ValueError(f"{name} must be a list of {shortest} to 64 widths, got {widths!r:.80}")
    for width in widths:
        check_integer(name, width, 1, 1 << 16)
