"""``keras-sa info``: versions, the Keras backend and the presets with their sizes."""

from keras_sa.cli.common import quiet_tensorflow


def register(commands):
    """Add the ``info`` command to ``commands`` (an argparse subparsers object)."""
    info = commands.add_parser("info", help="versions, backend and model presets")
    info.set_defaults(func=run)


# The rest of the stack, read from the installed metadata: importing them is not needed.
_STACK = ("ai-edge-litert", "tensorflow-serving-api", "jax", "soundfile", "soxr", "samplerate", "librosa",
          "mir_eval", "museval")


def _installed_version(package):
    from importlib import metadata

    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def run(args):
    """Print versions, the backend and the presets with their sizes."""
    quiet_tensorflow()
    import keras
    import numpy

    import keras_sa
    from keras_sa import models

    print(f"keras_sa {keras_sa.__version__}")
    print(f"keras {keras.__version__} (backend: {keras.backend.backend()})")
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        print(f"tensorflow {tf.__version__}")
    print(f"numpy {numpy.__version__}")
    for package in _STACK:
        print(f"{package} {_installed_version(package)}")
    print()
    print(f"{'preset':<16}{'params':>10}{'GMAC/s':>10}  {'rate':>6}  merge")
    for name, config in models.PRESETS.items():
        model = models.build(config)
        per_second = models.count_macs(model) * config.signal.frames_per_second
        per_second /= config.signal.window_hop
        print(
            f"{name:<16}{model.count_params() / 1e6:>9.2f}M{per_second / 1e9:>10.2f}"
            f"  {config.signal.sample_rate:>6}  {config.merge}"
        )
    print("\nGMAC/s: multiply-accumulates per second of audio, window overlap included.")
