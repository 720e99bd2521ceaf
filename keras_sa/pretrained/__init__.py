"""Models bundled with the package, loaded by name (nothing is downloaded).

Each bundled model is one ``.keras`` file that carries its config and audio
contract (``keras_sa.models.save_model``), and may have TFLite conversions
beside it, ``<name>_<quantization>.tflite`` with their contracts
``<name>_<quantization>.json`` (copies of ``tflite/models/`` in the source
tree). ``MODEL_CARD.md`` beside them says how each was trained, what it
scores, and which file the tools run by default.

Which file runs (:func:`locate`): without a backend, a bundled name runs its
fastest TFLite conversion that passed the verification gate against the
float model (:data:`TFLITE_BY_SPEED`, :func:`passed_gate`), and the float
``.keras`` model if none did; a file runs on the backend its suffix says.

Nothing here imports more than the standard library, so that choosing a
model costs nothing on the TFLite path.
"""

import json
from pathlib import Path

HERE = Path(__file__).parent

#: Bundled model names and their files; "default" is what the tools use.
MODELS = {
    "sa_shn_mobile": "sa_shn_mobile.keras",
    "shn_mobile": "shn_mobile.keras",
}
DEFAULT = "sa_shn_mobile"

#: TFLite quantizations in the order the default is chosen from, fastest first
#: where speed is tightest: on an AVX2 CPU one window of the dynamic-range model
#: takes 47 ms and of int8_float_attention 52 ms (one thread); with AVX-512 the
#: latter is 5-18 % faster but loses more (MODEL_CARD.md). float32 and float16
#: take 1.7 times as long; the full-integer int8 model's attention runs in
#: LiteRT's built-in kernels, not XNNPACK, and is the slowest.
TFLITE_BY_SPEED = ("dynamic", "int8_float_attention", "float32", "float16", "int8")

BACKENDS = ("keras", "tflite")


class UnknownModelError(ValueError):
    """A model name that is neither bundled nor an existing file."""


def available():
    """Names of the bundled models present in this installation."""
    return [name for name, file in MODELS.items() if (HERE / file).is_file()]


def _bundled_name(name_or_path):
    return DEFAULT if name_or_path in (None, "default") else str(name_or_path)


def resolve(name_or_path="default"):
    """The ``.keras`` file of a bundled model name, or ``name_or_path`` if it is a file.

    Raises:
        UnknownModelError: with the bundled names, if nothing matches.
    """
    name = _bundled_name(name_or_path)
    if name in MODELS and (HERE / MODELS[name]).is_file():
        return HERE / MODELS[name]
    path = Path(name).expanduser()
    if path.is_file():
        return path
    known = ", ".join(["default"] + available()) or "none installed"
    raise UnknownModelError(f"unknown model {name_or_path!r}: not a file, and not one of: {known}")


def tflite_file(name, quantization):
    """Where the bundled ``quantization`` TFLite conversion of a bundled model is (it may be absent)."""
    return HERE / f"{name}_{quantization}.tflite"


def passed_gate(tflite_path):
    """Whether a ``.tflite`` file's contract records a pass of the verification gate.

    ``keras_sa.export.tflite`` writes a model verified against its float
    model only when it passes, and stores the figures in the contract
    (``verification``): the GNSDR difference of each source and the mask SNR,
    with the tolerance and floor they were held to. They are checked again
    here, so that a contract without figures (``--no-verify``) or with
    failing ones never makes a model the default.

    Args:
        tflite_path: the ``.tflite`` file; its contract is ``<stem>.json`` beside it.

    Returns:
        ``True`` when the recorded figures are within their tolerances.
    """
    try:
        figures = json.loads(Path(tflite_path).with_suffix(".json").read_text())["verification"]
        deltas = [value for key, value in figures.items() if str(key).endswith("_gnsdr_delta")]
        return bool(deltas) and bool(figures["mask_snr_db"] >= figures["mask_snr_floor_db"]) and all(
            abs(delta) <= figures["gnsdr_tolerance_db"] for delta in deltas
        )
    # A contract that is not a JSON object of figures (a list, a string, a
    # nesting too deep to parse) records no pass either.
    except (OSError, ValueError, KeyError, TypeError, AttributeError, RecursionError):
        return False


def fastest_tflite(name="default"):
    """The bundled model's fastest TFLite conversion that passed the gate, or ``None``.

    Args:
        name: a bundled model name (or ``"default"``).
    """
    name = _bundled_name(name)
    for quantization in TFLITE_BY_SPEED:
        path = tflite_file(name, quantization)
        if path.is_file() and passed_gate(path):
            return path
    return None


def _bundled_tflite(name):
    """The bundled file of a name ``<model>_<quantization>`` (or a bundled model name), or ``None``."""
    if name in MODELS:
        return fastest_tflite(name)
    for model in MODELS:
        quantization = name[len(model) + 1 :] if name.startswith(model + "_") else None
        if quantization and tflite_file(model, quantization).is_file():
            return tflite_file(model, quantization)
    return None


def _tflite_names():
    names = [path.stem for model in MODELS for path in sorted(HERE.glob(f"{model}_*.tflite"))]
    return [name for name in MODELS if fastest_tflite(name)] + names


def resolve_tflite(name_or_path="default"):
    """The ``.tflite`` file of a bundled name, or ``name_or_path`` if it is a file.

    A bundled model name (or ``"default"``) gives its fastest conversion
    that passed the gate (:func:`fastest_tflite`); ``<model>_<quantization>``
    (``sa_shn_mobile_int8``) gives that conversion.

    Raises:
        UnknownModelError: with the names that have a bundled TFLite model.
    """
    name = _bundled_name(name_or_path)
    path = _bundled_tflite(name)
    if path is not None:
        return path
    path = Path(name).expanduser()
    if path.is_file():
        return path
    names = _tflite_names()
    known = ", ".join((["default"] if DEFAULT in names else []) + names) or "none installed"
    raise UnknownModelError(
        f"unknown TFLite model {name_or_path!r}: not a file, and not one of: {known}"
    )


def locate(name_or_path="default", backend=None):
    """The file to run for a model name or path, and the backend that runs it.

    Args:
        name_or_path: a bundled model name, ``"default"``,
            ``<model>_<quantization>`` for a bundled TFLite conversion, or a
            ``.keras`` / ``.tflite`` file.
        backend: ``"keras"`` (the float model), ``"tflite"``, or ``None``:
            a bundled name runs its fastest verified TFLite conversion if it
            has one, the ``.keras`` model otherwise; a file runs on the
            backend of its suffix.

    Returns:
        ``(path, backend)``.

    Raises:
        UnknownModelError: nothing matches.
        ValueError: an unknown backend.
    """
    if backend not in (None,) + BACKENDS:
        raise ValueError(f"unknown backend {backend!r} (expected one of: {', '.join(BACKENDS)})")
    if backend == "keras":
        return resolve(name_or_path), "keras"
    if backend == "tflite":
        return resolve_tflite(name_or_path), "tflite"
    name = _bundled_name(name_or_path)
    if name in MODELS:
        fastest = fastest_tflite(name)
        return (fastest, "tflite") if fastest is not None else (resolve(name), "keras")
    bundled = _bundled_tflite(name)
    if bundled is not None:
        return bundled, "tflite"
    path = Path(name).expanduser()
    if not path.is_file():
        names = ["default"] + available() + [n for n in _tflite_names() if n not in MODELS]
        raise UnknownModelError(f"unknown model {name_or_path!r}: not a file, and not one of: {', '.join(names)}")
    return path, "tflite" if path.suffix == ".tflite" else "keras"
