"""``keras-sa info``: versions, the Keras backend and the presets with their sizes."""

from keras_sa.cli.common import CommandError, quiet_tensorflow


def register(commands):
    """Add the ``info`` command to ``commands`` (an argparse subparsers object)."""
    info = commands.add_parser("info", help="versions, backend and model presets")
    info.add_argument(
        "--config", action="append", default=[], metavar="FILE",
        help="also size this model config JSON (repeatable)",
    )
    info.set_defaults(func=run)


# The phone-size budget a model must fit: multiply-accumulates per second of
# audio (window overlap included) and parameters.
PHONE_GMAC_PER_SECOND = 2.0
PHONE_PARAMS = 4e6


# The rest of the stack, read from the installed metadata: importing them is not needed.
_STACK = ("ai-edge-litert", "tensorflow-serving-api", "jax", "soundfile", "soxr", "samplerate", "librosa",
          "mir_eval", "museval", "praat-parselmouth")


def _installed_version(package):
    from importlib import metadata

    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def run(args):
    """Print versions, the backend and the presets (and configs) with their sizes."""
    from keras_sa.models.config import ModelConfig

    configs = []
    for path in args.config:
        try:
            with open(path) as handle:
                config = ModelConfig.from_json(handle.read())
            configs.append((config.name, config))
        except (OSError, ValueError, TypeError) as error:
            raise CommandError(f"{path}: {error}") from None
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
    print(f"{'model':<24}{'params':>10}{'GMAC/s':>10}  {'rate':>6}  {'n_fft':>5}  {'merge':<9}  phone")
    for name, config in [*models.PRESETS.items(), *configs]:
        model = models.build(config)
        per_second = models.count_macs(model) * config.signal.frames_per_second
        per_second /= config.signal.window_hop
        params = model.count_params()
        fits = per_second / 1e9 <= PHONE_GMAC_PER_SECOND and params <= PHONE_PARAMS
        print(
            f"{name:<24}{params / 1e6:>9.2f}M{per_second / 1e9:>10.2f}"
            f"  {config.signal.sample_rate:>6}  {config.signal.n_fft:>5}  {config.merge:<9}"
            f"  {'yes' if fits else 'no'}"
        )
    print("\nGMAC/s: multiply-accumulates per second of audio, window overlap included.")
    print(f"phone: within {PHONE_GMAC_PER_SECOND:g} GMAC/s and {PHONE_PARAMS / 1e6:g} M parameters.")
