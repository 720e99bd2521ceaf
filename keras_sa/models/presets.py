"""Named model configurations."""

from keras_sa.audio.signal import SignalConfig
from keras_sa.models.config import ModelConfig

# The SHN paper's setting (Park et al., ISMIR 2018): 8 kHz, n_fft 1024, hop 256,
# 512 bins x 64 frames divided by the patch maximum, ReLU masks.
_PAPER_SIGNAL = SignalConfig(sample_rate=8000, compression="none")

_PAPER = ModelConfig(
    name="shn_paper",
    signal=_PAPER_SIGNAL,
    stem_channels=(64, 128, 128, 128, 256),
    stem_kernel=7,
    num_stacks=4,
    depth=4,
    channels=256,
    merge="add",
    mask_activation="relu",
)

# Phone-sized: 16 kHz (vocals keep their band up to 8 kHz) with the SHN's 7.8 Hz
# bins (n_fft 2048: the oracle mask gains 1.1 dB over n_fft 1024 at the same
# MACs per second), narrow full-resolution layers that widen with depth, two
# stacks, skip attention where its F^2 score matrix is affordable (256 bins and
# fewer).
_MOBILE = ModelConfig(
    name="shn_mobile",
    # Each window keeps frames 24..59 of its 64: hop 36 is the largest that keeps
    # the streaming latency within 1.5 s at every common rate, and hops 32 to 48
    # scored the same on unseen singers (results/experiments.md, row 27).
    signal=SignalConfig(
        sample_rate=16000, n_fft=2048, hop_length=512, n_bins=1024,
        window_hop=36, window_margin=24, compression="log",
    ),
    stem_channels=(12,),
    stem_kernel=3,
    num_stacks=2,
    depth=4,
    channels=(12, 24, 40, 64, 96),
    merge="add",
    attention_levels=(2, 3),
    attention_key_dim=16,
    mask_activation="sigmoid",
)

PRESETS = {
    "shn_paper": _PAPER,
    "sa_shn_paper": _PAPER.replace(name="sa_shn_paper", merge="attention"),
    "shn_mobile": _MOBILE,
    "sa_shn_mobile": _MOBILE.replace(name="sa_shn_mobile", merge="attention"),
}


def get_preset(name):
    """The :class:`ModelConfig` of a named preset."""
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown preset {name!r}; known: {', '.join(PRESETS)}") from None
