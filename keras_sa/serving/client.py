"""Clients for a separation model served by TensorFlow Serving.

Both clients send a mono waveform at the model's rate to the
``serving_default`` signature written by
:func:`keras_sa.serving.export_savedmodel` and return its ``vocals`` and
``accompaniment``:

- :class:`RestClient` posts JSON to ``/v1/models/<name>[/versions/<n>]:predict``
  with the standard library alone, in either of TensorFlow Serving's
  formats: ``"instances"`` (row format) or ``"inputs"`` (columnar format);
- :class:`GrpcClient` calls ``PredictionService.Predict`` with a
  ``PredictRequest`` (needs ``tensorflow-serving-api``; it sends the samples
  as raw float32 bytes, 4 bytes a sample against about 21 in the JSON the
  REST client sends).

Each step is a public method, so that requests and responses can be built
and read without a server: ``build_request(batch)``, ``send(request)``,
``parse_response(response)``, and ``separate(waveform)`` doing all three.
Whatever goes wrong on the way (connection refused, timeout, an HTTP error
status, a gRPC status, an unreadable answer) raises :class:`ServingError`
with a one-line message; a waveform that cannot be sent raises
``ValueError`` before anything is sent.
"""

import json
import re
import socket
import urllib.error
import urllib.parse
import urllib.request

import numpy as np

#: Output names of the ``serving_default`` signature.
OUTPUTS = ("vocals", "accompaniment")


class ServingError(RuntimeError):
    """A request that TensorFlow Serving did not answer with a separation.

    The message is one line; ``status`` is the HTTP status or gRPC status
    name when the server answered, ``None`` when it could not be reached.
    """

    def __init__(self, message, status=None):
        super().__init__(_one_line(message))
        self.status = status


def _one_line(text):
    """A server or library message on one line, without TensorFlow's node annotations."""
    text = re.sub(r"\s*\[\[(\{\{[^}]*\}\})+\]\]", "", str(text))
    return " ".join(text.split())


def check_waveform(waveform):
    """A waveform as the ``[batch, samples]`` float32 batch to send.

    Args:
        waveform: ``(samples,)`` mono samples, or ``(batch, samples)`` rows of
            equal length, floats at the model's rate (nominally in [-1, 1]).

    Returns:
        ``(batch, squeezed)``: a C-contiguous float32 ``(batch, samples)``
        array, and whether the input was 1-D.

    Raises:
        ValueError: the waveform is not 1-D or 2-D floats, is empty, or
            holds NaN or infinite values.
    """
    array = np.asarray(waveform)
    if array.dtype.kind != "f":
        raise ValueError(f"waveform must hold float samples in [-1, 1], got dtype {array.dtype}")
    if array.ndim not in (1, 2):
        raise ValueError(f"waveform must be 1-D (samples) or 2-D (batch, samples), got shape {array.shape}")
    if array.size == 0:
        raise ValueError(f"waveform is empty (shape {array.shape})")
    if not np.isfinite(array).all():
        raise ValueError("waveform contains NaN or infinite values")
    squeezed = array.ndim == 1
    batch = np.ascontiguousarray(array.reshape(1, -1) if squeezed else array, dtype=np.float32)
    return batch, squeezed


def check_lengths(lengths, batch):
    """``lengths`` for ``separate_padded`` as an int32 array, checked against ``batch``.

    Raises:
        ValueError: not one integer per row, or one outside ``[1, samples]``.
    """
    array = np.asarray(lengths)
    if array.dtype.kind not in "iu" or array.shape != batch.shape[:1]:
        raise ValueError(f"lengths must be {batch.shape[0]} integer(s), one per row, got {array!r}")
    if (array < 1).any() or (array > batch.shape[1]).any():
        raise ValueError(f"lengths must lie in [1, {batch.shape[1]}], got {array.tolist()}")
    return array.astype(np.int32)


class _Client:
    """What the REST and gRPC clients share: the request/response cycle and blocks."""

    def build_request(self, batch, lengths=None):
        raise NotImplementedError

    def send(self, request):
        raise NotImplementedError

    def parse_response(self, response):
        raise NotImplementedError

    @staticmethod
    def signature_for(lengths):
        """The signature a request goes to: ``separate_padded`` when it has lengths."""
        return "serving_default" if lengths is None else "separate_padded"

    def separate(self, waveform, lengths=None):
        """Separate a waveform in one request.

        Args:
            waveform: ``(samples,)`` or ``(batch, samples)`` float samples,
                mono, at the served model's rate (see
                :func:`check_waveform`). The server needs at least
                ``n_fft`` samples per row (1024 for the bundled models).
            lengths: ``None`` for the ``serving_default`` signature, or
                the number of real samples in each row (an int for 1-D
                input) for ``separate_padded``: rows zero-padded to a common
                length then separate exactly as they would alone, and their
                outputs are zero past their length.

        Returns:
            ``{"vocals": ..., "accompaniment": ...}``, float32 arrays shaped
            like ``waveform``.

        Raises:
            ValueError: the waveform or lengths cannot be sent.
            ServingError: the server could not be reached, refused the
                request, or answered with something else than two outputs
                of the waveform's shape.
        """
        batch, squeezed = check_waveform(waveform)
        if lengths is not None:
            lengths = check_lengths(np.reshape(lengths, -1) if squeezed else lengths, batch)
        outputs = self.parse_response(self.send(self.build_request(batch, lengths)))
        for name in OUTPUTS:
            if outputs[name].shape != batch.shape:
                raise ServingError(
                    f"the server answered {name} of shape {outputs[name].shape} "
                    f"for a waveform of shape {batch.shape}"
                )
        return {name: outputs[name][0] if squeezed else outputs[name] for name in OUTPUTS}

    def separate_long(
        self, waveform, sample_rate, block_seconds=30.0, margin_seconds=2.0, fixed_length=False, progress=None
    ):
        """Separate a long mono waveform in blocks, one request each.

        The blocks are those of :class:`keras_sa.separation.Separator`:
        ``block_seconds`` long with ``margin_seconds`` of context on each
        side, joined by a 50 ms linear cross-fade; an input no longer than
        one block is sent whole. Each request therefore carries at most
        ``block_seconds + 2 * margin_seconds`` of audio.

        Args:
            waveform: ``(samples,)`` float mono samples at ``sample_rate``,
                the served model's rate.
            sample_rate: their rate in Hz (sets the block lengths).
            block_seconds: audio per block.
            margin_seconds: context added on each side of a block.
            fixed_length: send every block zero-padded to exactly
                ``block_seconds + 2 * margin_seconds`` through
                ``separate_padded`` (same results): requests of one shape,
                which a server with ``--enable_batching`` can batch
                together. Costs the padding's compute on short inputs.
            progress: optional callable ``progress(done_samples, total)``.

        Returns:
            ``{"vocals": ..., "accompaniment": ...}``, ``(samples,)`` float32
            arrays; they sum to the input.

        Raises:
            ValueError, ServingError: as for :meth:`separate`.
        """
        samples, squeezed = check_waveform(waveform)
        if not squeezed:
            raise ValueError(f"separate_long takes 1-D mono samples, got shape {np.shape(waveform)}")
        from keras_sa.separation import iter_blocks

        samples = samples[0]
        total = len(samples)
        length = max(int(block_seconds * sample_rate), 1) + 2 * int(margin_seconds * sample_rate)

        def separate_segment(segment):
            if not fixed_length:
                return self.separate(segment[0])["vocals"][np.newaxis]
            padded = np.zeros(length, np.float32)
            padded[: segment.shape[1]] = segment[0]
            return self.separate(padded, lengths=segment.shape[1])["vocals"][np.newaxis, : segment.shape[1]]

        vocals = np.zeros(total, np.float32)
        for start, piece in iter_blocks(samples[np.newaxis], sample_rate, separate_segment, block_seconds, margin_seconds):
            vocals[start : start + piece.shape[1]] = piece[0]
            if progress is not None:
                progress(start + piece.shape[1], total)
        return {"vocals": vocals, "accompaniment": samples - vocals}


class RestClient(_Client):
    """TensorFlow Serving's REST API, with ``urllib`` and ``json`` alone.

    Args:
        url: the server's REST address, e.g. ``"http://localhost:8501"``
            (``http://`` is assumed when no scheme is given).
        model_name: the served model's name (``MODEL_NAME`` / models.config).
        version: a model version to ask for; the server's latest when
            ``None``.
        timeout: seconds to wait for the connection and for the answer.
        format: ``"instances"`` (row format: one JSON object per waveform
            row) or ``"inputs"`` (columnar format: the named input as one
            nested list).

    Example:

    >>> client = RestClient("http://localhost:8501", "sa_shn")   # doctest: +SKIP
    >>> stems = client.separate(samples_16k_mono)                # doctest: +SKIP
    """

    FORMATS = ("instances", "inputs")

    def __init__(self, url, model_name, version=None, timeout=60.0, format="instances"):
        if format not in self.FORMATS:
            raise ValueError(f"format must be one of {self.FORMATS}, got {format!r}")
        if "://" not in url:
            url = f"http://{url}"
        self.url = url.rstrip("/")
        self.model_name = model_name
        self.version = version
        self.timeout = timeout
        self.format = format

    @property
    def endpoint(self):
        """The ``:predict`` URL requests are posted to."""
        path = f"/v1/models/{urllib.parse.quote(self.model_name, safe='')}"
        if self.version is not None:
            path += f"/versions/{int(self.version)}"
        return f"{self.url}{path}:predict"

    def build_request(self, batch, lengths=None):
        """The JSON payload (a dict) for a ``(batch, samples)`` float32 array.

        Row format: ``{"signature_name": ..., "instances": [{"waveform":
        [...]}, ...]}``; columnar: ``{"signature_name": ..., "inputs":
        {"waveform": [[...], ...]}}``. With ``lengths`` (int32, one per
        row), each instance also has its ``"lengths"`` value, or ``inputs``
        its ``"lengths"`` list, for ``separate_padded``. ``tolist()`` gives
        Python floats that convert back to the same float32 values.
        """
        rows = np.asarray(batch, np.float32)
        if self.format == "instances":
            instances = [{"waveform": row.tolist()} for row in rows]
            if lengths is not None:
                for instance, length in zip(instances, np.asarray(lengths).tolist()):
                    instance["lengths"] = length
            body = {"instances": instances}
        else:
            inputs = {"waveform": rows.tolist()}
            if lengths is not None:
                inputs["lengths"] = np.asarray(lengths).tolist()
            body = {"inputs": inputs}
        return {"signature_name": self.signature_for(lengths), **body}

    def parse_response(self, response):
        """``{"vocals", "accompaniment"}`` float32 arrays from a predict answer.

        Args:
            response: the decoded JSON (a dict), or its text or bytes: row
                format ``{"predictions": [{"vocals": [...], ...}, ...]}`` or
                columnar ``{"outputs": {"vocals": [[...]], ...}}``.

        Raises:
            ServingError: the answer is an ``{"error": ...}``, is not JSON,
                has neither form, holds something else than numbers in
                them, or NaN or infinite values.
        """
        if isinstance(response, (bytes, str)):
            try:
                response = json.loads(response)
            except RecursionError:
                raise ServingError(f"{self.endpoint}: the answer is not JSON (it nests too deeply)") from None
            except ValueError as error:
                raise ServingError(f"{self.endpoint}: the answer is not JSON ({error})") from None
        if not isinstance(response, dict):
            raise ServingError(f"{self.endpoint}: unexpected answer (a JSON {type(response).__name__})")
        if "error" in response:
            raise ServingError(f"{self.endpoint}: {response['error']!s:.500}")
        try:
            # Numbers beyond float32's range become infinite (refused below), without a RuntimeWarning.
            with np.errstate(over="ignore"):
                outputs = self._outputs(response)
        # OverflowError: an integer beyond float range; RecursionError: lists
        # nested deeper than numpy (or Python) follows.
        except (KeyError, TypeError, ValueError, OverflowError, RecursionError) as error:
            raise ServingError(f"{self.endpoint}: malformed answer ({type(error).__name__}: {error!s:.200})") from None
        for name, values in outputs.items():
            if not np.isfinite(values).all():
                raise ServingError(f"{self.endpoint}: the answer's {name} holds NaN or infinite values")
        return outputs

    def _outputs(self, response):
        """The outputs of a decoded answer (a dict) in either format, as float32 arrays."""
        if "predictions" in response:
            rows = response["predictions"]
            if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
                raise TypeError("'predictions' is not a list of objects")
            return {name: np.asarray([row[name] for row in rows], np.float32) for name in OUTPUTS}
        if "outputs" in response:
            if not isinstance(response["outputs"], dict):
                raise TypeError("'outputs' is not an object")
            return {name: np.asarray(response["outputs"][name], np.float32) for name in OUTPUTS}
        raise ServingError(f"{self.endpoint}: the answer has neither 'predictions' nor 'outputs'")

    def send(self, request):
        """POST a payload; returns the decoded JSON answer.

        Raises:
            ServingError: connection refused, timeout, an HTTP error status
                (with the server's ``{"error": ...}`` message), or an
                answer that is not JSON.
        """
        data = json.dumps(request).encode()
        http_request = urllib.request.Request(
            self.endpoint, data=data, headers={"Content-Type": "application/json"}, method="POST"
        )
        try:
            with urllib.request.urlopen(http_request, timeout=self.timeout) as answer:
                body = answer.read()
        except urllib.error.HTTPError as error:
            raise ServingError(
                f"{self.endpoint}: HTTP {error.code}: {_error_message(error)}", status=error.code
            ) from None
        except urllib.error.URLError as error:
            reason = error.reason
            if isinstance(reason, (TimeoutError, socket.timeout)):
                raise ServingError(f"{self.endpoint}: no answer within {self.timeout:g} s") from None
            detail = getattr(reason, "strerror", None) or reason
            raise ServingError(f"{self.endpoint}: cannot reach the server ({detail})") from None
        except (TimeoutError, socket.timeout):
            raise ServingError(f"{self.endpoint}: no answer within {self.timeout:g} s") from None
        except (OSError, ValueError) as error:  # a reset connection, an invalid URL
            raise ServingError(f"{self.endpoint}: request failed ({error})") from None
        try:
            return json.loads(body)
        except ValueError as error:
            raise ServingError(f"{self.endpoint}: the answer is not JSON ({error})") from None


def _error_message(error):
    """The ``{"error": ...}`` text of an HTTP error answer, or its reason."""
    try:
        body = error.read()
    except OSError:
        body = b""
    try:
        message = json.loads(body)["error"]
    except (ValueError, KeyError, TypeError):
        message = body.decode(errors="replace").strip()[:200] or error.reason
    return message


class GrpcClient(_Client):
    """TensorFlow Serving's gRPC ``PredictionService``.

    Args:
        target: ``"host:port"`` of the gRPC port (8500 by default in the
            ``tensorflow/serving`` image).
        model_name: the served model's name.
        version: a model version to ask for; the server's latest when
            ``None``.
        timeout: seconds a request may take (its gRPC deadline).
        max_message_bytes: the channel's limit for a request or an answer.
            gRPC's own default (4 MB) is about 30 s of 16 kHz audio in and
            out; the default here (512 MB) is far above any block size.

    The channel is opened on first use; ``close()`` (or ``with``) closes it.
    """

    def __init__(self, target, model_name, version=None, timeout=60.0, max_message_bytes=512 * 2**20):
        self.target = target
        self.model_name = model_name
        self.version = version
        self.timeout = timeout
        self.max_message_bytes = max_message_bytes
        self._channel = None
        self._stub = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def close(self):
        """Close the channel (a later request opens a new one)."""
        if self._channel is not None:
            self._channel.close()
        self._channel = self._stub = None

    def build_request(self, batch, lengths=None):
        """A ``PredictRequest`` for a ``(batch, samples)`` float32 array.

        With ``lengths`` (int32, one per row) it goes to ``separate_padded``
        with a second input, ``lengths``.
        """
        import tensorflow as tf
        from tensorflow_serving.apis import predict_pb2

        request = predict_pb2.PredictRequest()
        request.model_spec.name = self.model_name
        request.model_spec.signature_name = self.signature_for(lengths)
        if self.version is not None:
            request.model_spec.version.value = int(self.version)
        request.inputs["waveform"].CopyFrom(tf.make_tensor_proto(np.asarray(batch, np.float32)))
        if lengths is not None:
            request.inputs["lengths"].CopyFrom(tf.make_tensor_proto(np.asarray(lengths, np.int32)))
        return request

    def parse_response(self, response):
        """``{"vocals", "accompaniment"}`` float32 arrays from a ``PredictResponse``.

        Raises:
            ServingError: an output is missing or not a float tensor.
        """
        import tensorflow as tf

        outputs = {}
        for name in OUTPUTS:
            if name not in response.outputs:
                raise ServingError(f"{self.target}: the answer has no {name!r} output")
            try:
                outputs[name] = np.asarray(tf.make_ndarray(response.outputs[name]), np.float32)
            except (TypeError, ValueError) as error:
                raise ServingError(f"{self.target}: unreadable {name!r} output ({error})") from None
        return outputs

    def send(self, request):
        """Call ``Predict``; returns the ``PredictResponse``.

        Raises:
            ServingError: any gRPC status other than OK (UNAVAILABLE when the
                server cannot be reached, DEADLINE_EXCEEDED after
                ``timeout``, INVALID_ARGUMENT with the server's message for
                a rejected waveform, ...).
        """
        import grpc

        try:
            return self._predict_stub().Predict(request, timeout=self.timeout)
        except grpc.RpcError as error:
            code = error.code() if hasattr(error, "code") else None
            name = code.name if code is not None else "UNKNOWN"
            details = error.details() if hasattr(error, "details") else str(error)
            if code == grpc.StatusCode.UNAVAILABLE:
                message = f"{self.target}: cannot reach the server (UNAVAILABLE: {details})"
            elif code == grpc.StatusCode.DEADLINE_EXCEEDED:
                message = f"{self.target}: no answer within {self.timeout:g} s (DEADLINE_EXCEEDED)"
            else:
                message = f"{self.target}: {name}: {details}"
            raise ServingError(message, status=name) from None

    def _predict_stub(self):
        if self._stub is None:
            import grpc
            from tensorflow_serving.apis import prediction_service_pb2_grpc

            options = [
                ("grpc.max_send_message_length", self.max_message_bytes),
                ("grpc.max_receive_message_length", self.max_message_bytes),
            ]
            self._channel = grpc.insecure_channel(self.target, options=options)
            self._stub = prediction_service_pb2_grpc.PredictionServiceStub(self._channel)
        return self._stub
