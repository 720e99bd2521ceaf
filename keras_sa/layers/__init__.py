"""Keras layers of keras_sa."""

from keras_sa.layers.skip_attention import SkipAttention

__all__ = ["SkipAttention"]
