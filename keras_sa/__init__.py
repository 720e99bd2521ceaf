"""keras_sa: singing voice separation with skip attention, in Keras.

The public API is imported lazily, so that ``import keras_sa`` (and the
command line's ``--help``) does not pay for TensorFlow.
"""

__version__ = "0.2.0"

_LAZY = {
    "SkipAttention": ("keras_sa.layers", "SkipAttention"),
    "ModelConfig": ("keras_sa.models", "ModelConfig"),
    "build_model": ("keras_sa.models", "build"),
    "SignalConfig": ("keras_sa.audio", "SignalConfig"),
    "Separator": ("keras_sa.separation", "Separator"),
    "StreamingSeparator": ("keras_sa.streaming", "StreamingSeparator"),
    "load_model": ("keras_sa.models", "load_model"),
}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        module, attribute = _LAZY[name]
        return getattr(importlib.import_module(module), attribute)
    raise AttributeError(f"module 'keras_sa' has no attribute {name!r}")


__all__ = list(_LAZY) + ["__version__"]
