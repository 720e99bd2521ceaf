"""The small untrained model configs that several test files share.

Tests that need a variant derive it with ``.replace(...)``.
"""

from keras_sa.models import ModelConfig

SMALL_ONE_STACK = ModelConfig(
    name="small",
    signal={"patch_frames": 16, "window_hop": 8},
    stem_channels=(4,),
    stem_kernel=3,
    num_stacks=1,
    depth=2,
    channels=(4, 6, 8),
    merge="attention",
    attention_levels=(1,),
    mask_activation="sigmoid",
)
"""One stack, attention at level 1, default 16 kHz STFT: the model of conftest's ``small_model_file``."""

SMALL_TWO_STACKS = ModelConfig(
    name="small",
    signal={"patch_frames": 16, "window_hop": 8, "n_bins": 64, "n_fft": 128, "hop_length": 32},
    stem_channels=(4,),
    stem_kernel=3,
    num_stacks=2,
    depth=2,
    channels=(4, 6, 8),
    merge="attention",
    mask_activation="sigmoid",
)
"""Two stacks, attention at every level, 128-point STFT: cheap to build and train (models, training)."""
