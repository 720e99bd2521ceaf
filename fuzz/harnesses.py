"""Fuzz targets: one per keras_sa parser that reads outside data.

Each :class:`Harness` feeds one input (bytes) to a parser and accepts only
the error types that parser documents. A *crash* is, strictly:

- any other exception (a traceback a user would see);
- an input that takes more than :data:`TIME_LIMIT_S` seconds (libFuzzer's
  ``-timeout``; the regression tests time each input too);
- a warning (numpy's RuntimeWarning, ...): it would reach the user's
  terminal, so warnings are raised as errors while an input is parsed;
- memory beyond :func:`memory_bound`: the peak of Python and numpy
  allocations (``tracemalloc``) while one input is parsed may not exceed
  ``MEMORY_BASE_BYTES + MEMORY_PER_INPUT_BYTE * len(input)``, so a size
  field can never make a parser allocate what it claims; libFuzzer's
  ``-rss_limit_mb`` bounds the whole process as well.

``scripts/fuzz.py`` runs them under atheris (coverage-guided libFuzzer);
``tests/test_fuzz.py`` runs each briefly and replays ``fuzz/regressions``.
"""

import io
import os
import tempfile
import tracemalloc
import warnings

TIME_LIMIT_S = 1.0
MEMORY_BASE_BYTES = 24 << 20
MEMORY_PER_INPUT_BYTE = 64

#: Suffixes the decoding harness writes its input under (the first input byte picks one).
SUFFIXES = (".wav", ".flac", ".ogg", ".opus", ".mp3")

# Frames per decoded block: small, so that a block of the widest file
# libsndfile accepts (1024 channels) stays within the memory bound.
_BLOCK_FRAMES = 4096


class MemoryBoundExceeded(AssertionError):
    """One input made the parser allocate beyond :func:`memory_bound`."""


def memory_bound(data):
    """Bytes of Python and numpy allocations one input may peak at."""
    return MEMORY_BASE_BYTES + MEMORY_PER_INPUT_BYTE * len(data)


class Harness:
    """A parser under test.

    Args:
        name: the harness's name (``scripts/fuzz.py NAME``).
        parse: ``parse(data)`` feeds the bytes to the parser.
        errors: the exception types the parser documents; any other is a crash.
        modules: the keras_sa modules atheris instruments for coverage.
    """

    def __init__(self, name, parse, errors, modules):
        self.name, self.parse, self.errors, self.modules = name, parse, errors, modules

    def __call__(self, data, check_memory=True):
        """Parse one input; returns normally unless it crashed.

        Raises:
            MemoryBoundExceeded: the allocations peaked above the bound.
            Exception: anything else the parser raised beyond ``errors``.
        """
        tracing = check_memory and tracemalloc.is_tracing()
        if tracing:
            tracemalloc.reset_peak()
            start = tracemalloc.get_traced_memory()[0]
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            try:
                self.parse(data)
            except self.errors:
                pass
        if tracing:
            peak = tracemalloc.get_traced_memory()[1] - start
            if peak > memory_bound(data):
                raise MemoryBoundExceeded(
                    f"{self.name}: {len(data)}-byte input allocated {peak} bytes (bound {memory_bound(data)})"
                )


# ----------------------------------------------------------------------
# the parsers


def _wavstream(data):
    from keras_sa.audio.wavstream import WavStreamReader

    # stdin is a BufferedReader over a pipe: read(n) allocates n bytes first.
    reader = WavStreamReader(io.BufferedReader(io.BytesIO(data)), "stdin")
    for _ in reader.blocks(_BLOCK_FRAMES):
        pass


def _scratch_dir():
    # Memory-backed where there is one: a file per input.
    root = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
    return tempfile.mkdtemp(prefix="keras_sa_fuzz.", dir=root)


_SCRATCH = {}


def _scratch(name):
    """A path in this process's scratch folder (made once)."""
    if "dir" not in _SCRATCH:
        _SCRATCH["dir"] = _scratch_dir()
    return os.path.join(_SCRATCH["dir"], name)


def _decode(data):
    """The first byte picks the suffix (low 7 bits) and the reader: read_blocks, or load_audio (high bit)."""
    from keras_sa.audio.io import audio_info, load_audio, read_blocks

    if not data:
        return
    path = _scratch("input" + SUFFIXES[(data[0] & 0x7F) % len(SUFFIXES)])
    with open(path, "wb") as file:
        file.write(data[1:])
    try:
        audio_info(path)
        if data[0] & 0x80:
            load_audio(path)
        else:
            for _ in read_blocks(path, _BLOCK_FRAMES):
                pass
    finally:
        os.remove(path)


def _contract(data):
    from keras_sa import pretrained
    from keras_sa.predictors import read_contract

    path = _scratch("model.json")
    with open(path, "wb") as file:
        file.write(data)
    try:
        pretrained.passed_gate(path[: -len(".json")] + ".tflite")  # never raises: True or False
        read_contract(path[: -len(".json")] + ".tflite")
    finally:
        os.remove(path)


def _model_config(data):
    from keras_sa.models.config import ModelConfig

    # A .keras file's config member is decoded as UTF-8 first (models.saving).
    ModelConfig.from_json(data.decode())


def _serving_response(data):
    from keras_sa.serving.client import RestClient

    RestClient("http://127.0.0.1:1", "fuzz").parse_response(data)


def _errors():
    from keras_sa.audio.io import AudioError
    from keras_sa.predictors import TFLiteModelError
    from keras_sa.serving.client import ServingError

    return {
        "wavstream": (AudioError,),
        "decode": (AudioError,),
        "contract": (TFLiteModelError,),
        # bytes that are not UTF-8 are refused before the parser (UnicodeDecodeError is a ValueError)
        "model_config": (ValueError,),
        "serving_response": (ServingError,),
    }


#: name -> (parse, modules to instrument, what it covers)
_PARSERS = {
    "wavstream": (_wavstream, ["keras_sa.audio.wavstream"], "WAV stream reader (keras-sa stream's stdin)"),
    "decode": (_decode, ["keras_sa.audio.io", "keras_sa.audio.headers"],
               "audio_info + read_blocks or load_audio on a file under each accepted suffix"),
    "contract": (_contract, ["keras_sa.predictors", "keras_sa.pretrained", "keras_sa.models.config",
                             "keras_sa.audio.signal"], "TFLite contract JSON (read_contract, passed_gate)"),
    "model_config": (_model_config, ["keras_sa.models.config", "keras_sa.audio.signal"], "ModelConfig.from_json"),
    "serving_response": (_serving_response, ["keras_sa.serving.client"], "RestClient.parse_response"),
}

NAMES = tuple(_PARSERS)


def describe(name):
    """One line on what harness ``name`` covers."""
    return _PARSERS[name][2]


def modules(name):
    """The keras_sa modules harness ``name`` instruments."""
    return _PARSERS[name][1]


def get(name):
    """The :class:`Harness` called ``name`` (imports its parser's modules)."""
    parse, instrumented, _ = _PARSERS[name]
    return Harness(name, parse, _errors()[name], instrumented)
