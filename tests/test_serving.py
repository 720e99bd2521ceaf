"""TensorFlow Serving: the SavedModel export, its signatures, the clients and the CLI.

The TensorFlow Serving binary is not run here (it cannot be installed in
this environment). What stands in for it: the exported signatures loaded
with ``tf.saved_model.load`` (the same graph the server runs), a REST
server and a gRPC ``PredictionService`` in this process that decode
requests the way TensorFlow Serving documents and run them through those
signatures, and ``saved_model_cli`` for the signature the server reads.
"""

import json
import re
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
import soundfile as sf
import tensorflow as tf

from keras_sa import cli
from keras_sa.audio import load_audio
from keras_sa.models import read_config
from keras_sa.serving import (
    CONTRACT_FILE,
    GrpcClient,
    RestClient,
    ServingError,
    export_savedmodel,
    next_version,
    read_contract,
)
from keras_sa.serving.client import check_waveform

RATE = 16000


@pytest.fixture(scope="module")
def small_export(small_model_file, tmp_path_factory):
    """``(version folder, loaded SavedModel)`` of the small untrained model."""
    version_dir = export_savedmodel(small_model_file, tmp_path_factory.mktemp("serving") / "small")
    return version_dir, tf.saved_model.load(str(version_dir))


@pytest.fixture(scope="module")
def signature(small_export):
    return small_export[1].signatures["serving_default"]


@pytest.fixture(scope="module")
def song(shared_data):
    """A real 10.9 s stereo 44.1 kHz song (mp3)."""
    return shared_data / "songs" / "Steven_M_Bryant_-_Slow_Motion_Dream_excerpt.mp3"


@pytest.fixture(scope="module")
def mixture(mir1k_root):
    """A MIR-1K mixture, (vocals + accompaniment) / 2, mono 16 kHz, first 4 s."""
    clip = sorted(p for p in mir1k_root.iterdir() if p.is_dir())[0]
    vocals, _ = load_audio(clip / "vocals.opus", sample_rate=RATE, mono=True)
    accompaniment, _ = load_audio(clip / "accompaniment.opus", sample_rate=RATE, mono=True)
    return ((vocals + accompaniment) / 2)[0, : 4 * RATE]


def run_signature(signature, waveform):
    outputs = signature(waveform=tf.constant(np.asarray(waveform, np.float32)))
    return {name: value.numpy() for name, value in outputs.items()}


# ----------------------------------------------------------------------------
# the export


def test_saved_model_cli_shows_the_serving_signature(small_export):
    version_dir, _ = small_export
    result = subprocess.run(
        [sys.executable, "-m", "tensorflow.python.tools.saved_model_cli", "show", "--dir", str(version_dir),
         "--tag_set", "serve", "--signature_def", "serving_default"],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    found = re.findall(r"(inputs|outputs)\['(\w+)'\] tensor_info:\s+dtype: (\w+)\s+shape: (\([-\d, ]+\))",
                       result.stdout)
    tensors = {(kind, name): (dtype, shape) for kind, name, dtype, shape in found}
    assert tensors == {
        ("inputs", "waveform"): ("DT_FLOAT", "(-1, -1)"),
        ("outputs", "vocals"): ("DT_FLOAT", "(-1, -1)"),
        ("outputs", "accompaniment"): ("DT_FLOAT", "(-1, -1)"),
    }, result.stdout
    assert "tensorflow/serving/predict" in result.stdout


def test_layout_and_audio_contract(small_export, small_model_file):
    version_dir, loaded = small_export
    assert version_dir.name == "1"
    assert (version_dir / "saved_model.pb").is_file()
    assert (version_dir / "variables" / "variables.index").is_file()
    config = read_config(small_model_file)
    assert (version_dir / "assets.extra" / CONTRACT_FILE).read_text() == config.to_json()
    assert (version_dir / "assets" / CONTRACT_FILE).read_text() == config.to_json()
    assert loaded.audio_contract().numpy().decode() == config.to_json()
    assert read_contract(version_dir) == config
    assert read_contract(version_dir / "assets.extra" / CONTRACT_FILE) == config
    assert read_contract(small_model_file) == config
    assert set(loaded.signatures) == {"serving_default", "separate_padded", "separate_patches"}
    # Each model variable is saved once (plus the object graph entry).
    from keras_sa.models import load_model

    saved = tf.train.list_variables(str(version_dir / "variables" / "variables"))
    assert len(saved) == len(load_model(small_model_file)[0].weights) + 1
    # Nothing but the version is left in the base folder (no staging folders).
    assert [p.name for p in version_dir.parent.iterdir()] == ["1"]


def test_versions_are_numbered_and_never_overwritten(small_model_file, tmp_path):
    base = tmp_path / "model"
    assert next_version(base) == 1  # no folder yet
    for name in ("1", "3", "notes", ".5.partial"):
        (base / name).mkdir(parents=True)
    assert next_version(base) == 4
    assert export_savedmodel(small_model_file, base) == base / "4"
    (base / "3" / "keep").write_text("x")
    with pytest.raises(FileExistsError, match="version 3 exists already"):
        export_savedmodel(small_model_file, base, version=3)
    assert [p.name for p in (base / "3").iterdir()] == ["keep"]
    for bad in (0, -1, "2", 1.5, True):
        with pytest.raises(ValueError, match="positive integer"):
            export_savedmodel(small_model_file, base, version=bad)
    assert sorted(p.name for p in base.iterdir()) == [".5.partial", "1", "3", "4", "notes"]


def test_cli_export_savedmodel(small_model_file, tmp_path, capsys):
    base = tmp_path / "served"
    assert cli.main(["export", "savedmodel", "--model", small_model_file, "-o", str(base), "--version", "7"]) == 0
    assert str(base / "7") in capsys.readouterr().out
    assert (base / "7" / "saved_model.pb").is_file()
    assert cli.main(["export", "savedmodel", "--model", small_model_file, "-o", str(base), "--version", "7"]) == 1
    error = capsys.readouterr().err.strip()
    assert error.endswith("version 7 exists already (versions are never overwritten)") and "\n" not in error
    assert cli.main(["export", "savedmodel", "--model", "no_such_model", "-o", str(base)]) == 1
    assert "unknown model 'no_such_model'" in capsys.readouterr().err


# ----------------------------------------------------------------------------
# the signatures


def test_matches_the_separator_on_real_audio(mixture, tmp_path):
    """The bundled default model: the served graph separates as the Separator does.

    Tolerance: 1e-5 absolute on samples in [-1, 1] (measured: 1.8e-7; the
    STFTs are librosa's and tf.signal's, the model runs in another graph).
    """
    from keras_sa import pretrained
    from keras_sa.separation import Separator

    version_dir = export_savedmodel("default", tmp_path / "default")
    served = run_signature(tf.saved_model.load(str(version_dir)).signatures["serving_default"], mixture[None])
    expected = Separator.from_file(pretrained.resolve("default")).separate(mixture, RATE)
    for name in ("vocals", "accompaniment"):
        assert served[name].shape == (1, len(mixture))
        np.testing.assert_allclose(served[name][0], expected[name], atol=1e-5)
    np.testing.assert_allclose(served["vocals"] + served["accompaniment"], mixture[None], atol=1e-6)
    assert np.abs(served["vocals"]).max() > 0.01  # a trained model separates something


def test_batches_and_lengths(small_export, mixture):
    """Rows are separated independently; padding is content unless ``lengths`` says otherwise."""
    loaded = small_export[1]
    long, short = mixture, mixture[: 2 * RATE + 123]
    alone = {n: run_signature(loaded.signatures["serving_default"], x[None]) for n, x in
             (("long", long), ("short", short))}
    batch = np.stack([long, np.pad(short, (0, len(long) - len(short)))])

    padded = loaded.signatures["separate_padded"](
        waveform=tf.constant(batch), lengths=tf.constant([len(long), len(short)], tf.int32)
    )
    for name in ("vocals", "accompaniment"):
        out = padded[name].numpy()
        np.testing.assert_allclose(out[0], alone["long"][name][0], atol=1e-6)
        np.testing.assert_allclose(out[1, : len(short)], alone["short"][name][0], atol=1e-6)
        np.testing.assert_array_equal(out[1, len(short):], 0.0)

    # serving_default on a zero-padded row: the same except near the row's
    # end, where the model's last windows see the padding's STFT frames.
    plain = run_signature(loaded.signatures["serving_default"], batch)
    np.testing.assert_allclose(plain["vocals"][0], alone["long"]["vocals"][0], atol=1e-6)
    config = read_contract(small_export[0]).signal
    reach = config.patch_frames * config.hop_length + config.n_fft
    np.testing.assert_allclose(plain["vocals"][1, : len(short) - reach],
                               alone["short"]["vocals"][0, : len(short) - reach], atol=1e-6)


def test_separate_patches_is_the_model(small_export, small_model_file):
    import keras

    from keras_sa.models import load_model

    model, config = load_model(small_model_file)
    features = np.random.default_rng(0).random((3, config.signal.patch_frames, config.signal.n_bins, 1),
                                               np.float32)
    masks = small_export[1].signatures["separate_patches"](features=tf.constant(features))["masks"].numpy()
    outputs = model(features)
    expected = keras.ops.convert_to_numpy(outputs[-1] if isinstance(outputs, (list, tuple)) else outputs)
    np.testing.assert_allclose(masks, expected, atol=1e-5)


@pytest.mark.parametrize(
    "waveform, message",
    [
        (np.zeros((1, 2000), np.float64), "float"),
        (np.zeros((1, 2000), np.int32), "float"),
        (np.zeros(2000, np.float32), r"waveform \[2000\] is not compatible with expected shape \[\?,\?\]"),
        (np.zeros((1, 1, 2000), np.float32), r"waveform \[1,1,2000\] is not compatible"),
        (np.zeros((1, 0), np.float32), r"too short: it needs at least 1024 samples"),
        (np.zeros((1, 1023), np.float32), r"too short: it needs at least 1024 samples"),
        (np.zeros((0, 2000), np.float32), r"no rows"),
        (np.where(np.arange(2000) == 7, np.nan, 0).astype(np.float32)[None], "NaN or infinite"),
        (np.where(np.arange(2000) == 7, -np.inf, 0).astype(np.float32)[None], "NaN or infinite"),
    ],
    ids=["float64", "int32", "1-D", "3-D", "empty", "too-short", "no-rows", "nan", "inf"],
)
def test_bad_waveforms_are_invalid_argument(signature, waveform, message):
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        signature(waveform=tf.constant(waveform))


def test_minimum_length_is_accepted(signature):
    out = run_signature(signature, np.full((2, 1024), 0.1, np.float32))
    assert out["vocals"].shape == (2, 1024)
    np.testing.assert_allclose(out["vocals"] + out["accompaniment"], 0.1, atol=1e-6)


def test_session_run_as_tensorflow_serving_does(small_export, batch):
    """Load with the TF1 loader and run by tensor names, as the C++ server does.

    ``Session::Run`` in C++ checks a fed tensor's dtype but not its shape;
    Python's ``Session.run`` would refuse the wrong rank before the graph
    sees it, so the feeds go through the session's C call directly.
    """
    version_dir, loaded = small_export
    expected = run_signature(loaded.signatures["serving_default"], batch)
    with tf.Graph().as_default() as graph, tf.compat.v1.Session() as session:
        meta_graph = tf.compat.v1.saved_model.load(session, ["serve"], str(version_dir))
        signature = meta_graph.signature_def["serving_default"]
        assert signature.method_name == "tensorflow/serving/predict"
        waveform = graph.get_tensor_by_name(signature.inputs["waveform"].name)
        names = sorted(signature.outputs)
        fetches = [graph.get_tensor_by_name(signature.outputs[name].name) for name in names]

        def run(value):
            return dict(zip(names, session._call_tf_sessionrun(
                None, {waveform._as_tf_output(): value}, [f._as_tf_output() for f in fetches], [], None
            )))

        served = run(batch)
        for name in names:
            np.testing.assert_allclose(served[name], expected[name], atol=1e-6)
        for bad, message in [
            (np.zeros(3000, np.float32), r"\[3000\] is not compatible with expected shape \[\?,\?\]"),
            (np.zeros((1, 1, 3000), np.float32), r"\[1,1,3000\] is not compatible"),
            (np.zeros((1, 100), np.float32), "too short"),
            (np.full((1, 2000), np.inf, np.float32), "NaN or infinite"),
        ]:
            with pytest.raises(tf.errors.InvalidArgumentError, match=message):
                run(bad)


@pytest.mark.parametrize(
    "lengths, message",
    [([2000, 2000], "one value per waveform row"), ([2001], "must not exceed"), ([1000], "at least 1024")],
)
def test_bad_lengths_are_invalid_argument(small_export, lengths, message):
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        small_export[1].signatures["separate_padded"](
            waveform=tf.zeros((1, 2000)), lengths=tf.constant(lengths, tf.int32)
        )


# ----------------------------------------------------------------------------
# requests and responses, without a server


@pytest.fixture(scope="module")
def batch(mixture):
    """Two different 1.5 s rows of real audio."""
    return np.stack([mixture[: 24000], mixture[RATE : RATE + 24000]])


def decode_rest_request(payload):
    """The input tensors TensorFlow Serving builds from a REST payload, as numpy arrays.

    Row format: a list of instances, each the only input's value or an
    object keyed by input name, stacked on a new batch dimension. Columnar
    format: ``inputs`` is the only input's value or an object keyed by name.
    """
    if "instances" in payload:
        instances = payload["instances"]
        if not all(isinstance(row, dict) for row in instances):
            return {"waveform": np.asarray(instances)}, "predictions"
        return {name: np.asarray([row[name] for row in instances]) for name in instances[0]}, "predictions"
    inputs = payload["inputs"]
    if not isinstance(inputs, dict):
        return {"waveform": np.asarray(inputs)}, "outputs"
    return {name: np.asarray(value) for name, value in inputs.items()}, "outputs"


def run_named(signature, inputs):
    """Run a signature on numpy inputs, cast to its input dtypes as the server does."""
    specs = signature.structured_input_signature[1]
    outputs = signature(**{name: tf.constant(value, specs[name].dtype) for name, value in inputs.items()})
    return {name: value.numpy() for name, value in outputs.items()}


def rest_answer(outputs, form):
    """A TensorFlow Serving REST answer for the signature's ``outputs``."""
    if form == "predictions":
        count = len(next(iter(outputs.values())))
        return {"predictions": [{name: value[i].tolist() for name, value in outputs.items()}
                                for i in range(count)]}
    return {"outputs": {name: value.tolist() for name, value in outputs.items()}}


@pytest.mark.parametrize("fmt", ["instances", "inputs"])
def test_rest_request_round_trip(small_export, batch, fmt):
    loaded = small_export[1]
    client = RestClient("localhost:8501", "sa_shn", version=3, format=fmt)
    assert client.endpoint == "http://localhost:8501/v1/models/sa_shn/versions/3:predict"
    expected = run_signature(loaded.signatures["serving_default"], batch)
    for lengths in (None, np.array([24000, 20000], np.int32)):
        payload = json.loads(json.dumps(client.build_request(batch, lengths)))  # what goes over the wire
        name = "serving_default" if lengths is None else "separate_padded"
        assert payload["signature_name"] == name
        inputs, form = decode_rest_request(payload)
        np.testing.assert_array_equal(inputs["waveform"].astype(np.float32), batch)  # float32 survives JSON
        if lengths is not None:
            np.testing.assert_array_equal(inputs["lengths"], lengths)
        outputs = run_named(loaded.signatures[name], inputs)
        parsed = client.parse_response(json.dumps(rest_answer(outputs, form)).encode())
        for output in ("vocals", "accompaniment"):
            np.testing.assert_array_equal(parsed[output], outputs[output])
            if lengths is None:
                np.testing.assert_array_equal(parsed[output], expected[output])
            else:
                np.testing.assert_array_equal(parsed[output][0], expected[output][0])
                np.testing.assert_array_equal(parsed[output][1, 20000:], 0.0)


def test_warmup_requests_run_through_the_signature(small_export):
    from tensorflow_serving.apis import prediction_log_pb2

    version_dir, loaded = small_export
    records = list(tf.data.TFRecordDataset(str(version_dir / "assets.extra" / "tf_serving_warmup_requests")))
    assert len(records) == 2
    for record in records:
        request = prediction_log_pb2.PredictionLog.FromString(record.numpy()).predict_log.request
        assert request.model_spec.signature_name == "serving_default"
        waveform = tf.make_ndarray(request.inputs["waveform"])
        assert waveform.dtype == np.float32 and waveform.shape[0] == 1 and waveform.shape[1] >= 16000
        outputs = run_named(loaded.signatures["serving_default"], {"waveform": waveform})
        assert outputs["vocals"].shape == waveform.shape


def test_grpc_request_round_trip(small_export, batch):
    from tensorflow_serving.apis import predict_pb2

    loaded = small_export[1]
    client = GrpcClient("localhost:8500", "sa_shn", version=2)
    for lengths in (None, np.array([24000, 20000], np.int32)):
        request = predict_pb2.PredictRequest.FromString(client.build_request(batch, lengths).SerializeToString())
        name = "serving_default" if lengths is None else "separate_padded"
        assert (request.model_spec.name, request.model_spec.signature_name) == ("sa_shn", name)
        assert request.model_spec.version.value == 2
        inputs = {key: tf.make_ndarray(value) for key, value in request.inputs.items()}
        assert sorted(inputs) == (["waveform"] if lengths is None else ["lengths", "waveform"])
        assert inputs["waveform"].dtype == np.float32
        np.testing.assert_array_equal(inputs["waveform"], batch)
        if lengths is not None:
            assert inputs["lengths"].dtype == np.int32
            np.testing.assert_array_equal(inputs["lengths"], lengths)
        outputs = run_named(loaded.signatures[name], inputs)
        response = predict_pb2.PredictResponse()
        for output, value in outputs.items():
            response.outputs[output].CopyFrom(tf.make_tensor_proto(value))
        parsed = client.parse_response(predict_pb2.PredictResponse.FromString(response.SerializeToString()))
        for output in ("vocals", "accompaniment"):
            np.testing.assert_array_equal(parsed[output], outputs[output])


def test_response_errors():
    rest = RestClient("http://localhost:8501", "m")
    with pytest.raises(ServingError, match=r"m:predict: Servable not found"):
        rest.parse_response({"error": "Servable not found for request: Latest(m)"})
    for answer, message in [(b"<html>", "not JSON"), ({"predictions": [{"vocals": [0.0]}]}, "malformed"),
                            ({"result": 1}, "neither 'predictions' nor 'outputs'")]:
        with pytest.raises(ServingError, match=message):
            rest.parse_response(answer)
    from tensorflow_serving.apis import predict_pb2

    response = predict_pb2.PredictResponse()
    response.outputs["vocals"].CopyFrom(tf.make_tensor_proto(np.zeros((1, 4), np.float32)))
    with pytest.raises(ServingError, match="no 'accompaniment' output"):
        GrpcClient("localhost:8500", "m").parse_response(response)


@pytest.mark.parametrize(
    "waveform, message",
    [
        (np.zeros(2000, np.int16), "float samples"),
        (np.zeros((1, 1, 2000), np.float32), "1-D .* or 2-D"),
        (np.zeros(0, np.float32), "empty"),
        (np.array([0.0, np.nan] * 1000, np.float32), "NaN or infinite"),
    ],
)
def test_client_checks_the_waveform_before_sending(waveform, message):
    with pytest.raises(ValueError, match=message):
        check_waveform(waveform)
    # The port is never contacted: the check comes first.
    with pytest.raises(ValueError, match=message):
        RestClient("http://127.0.0.1:9", "m", timeout=1).separate(waveform)


# ----------------------------------------------------------------------------
# talking to servers


def closed_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_unreachable_servers_give_a_serving_error():
    port = closed_port()
    with pytest.raises(ServingError, match=rf"127.0.0.1:{port}/v1/models/m:predict: cannot reach the server"):
        RestClient(f"http://127.0.0.1:{port}", "m", timeout=5).separate(np.zeros(2000, np.float32))
    with GrpcClient(f"127.0.0.1:{port}", "m", timeout=5) as client:
        unreachable = rf"127.0.0.1:{port}: cannot reach the server \(UNAVAILABLE"
        with pytest.raises(ServingError, match=unreachable) as error:
            client.separate(np.zeros(2000, np.float32))
    assert error.value.status == "UNAVAILABLE" and "\n" not in str(error.value)


class _Server:
    """A ``ThreadingHTTPServer`` on a free local port, running in a thread."""

    def __init__(self, handler):
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


def _reply(handler, status, payload):
    body = json.dumps(payload).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


def test_http_errors_carry_the_server_message():
    class Rejecting(BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            _reply(self, 400, {"error": "assertion failed: [waveform is too short]\n\t [[{{node Assert}}]]"})

        def log_message(self, *args):
            pass

    with _Server(Rejecting) as server:
        with pytest.raises(ServingError) as error:
            RestClient(server.url, "m").separate(np.zeros(2000, np.float32))
    assert error.value.status == 400
    expected = f"{server.url}/v1/models/m:predict: HTTP 400: assertion failed: [waveform is too short]"
    assert str(error.value) == expected


def test_slow_servers_time_out():
    class Slow(BaseHTTPRequestHandler):
        def do_POST(self):
            time.sleep(3)

        def log_message(self, *args):
            pass

    with _Server(Slow) as server:
        with pytest.raises(ServingError, match=r"no answer within 0.5 s"):
            RestClient(server.url, "m", timeout=0.5).separate(np.zeros(2000, np.float32))


def serving_handler(loaded, model_name):
    """A request handler answering like TensorFlow Serving's REST API, with ``loaded``'s signatures."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            payload = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            match = re.fullmatch(r"/v1/models/([^/:]+)(?:/versions/(\d+))?:predict", self.path)
            if not match or match.group(1) != model_name:
                return _reply(self, 404, {"error": f"Servable not found for request: {self.path}"})
            inputs, form = decode_rest_request(payload)
            try:
                outputs = run_named(loaded.signatures[payload.get("signature_name", "serving_default")], inputs)
            except tf.errors.InvalidArgumentError as error:
                return _reply(self, 400, {"error": error.message})
            _reply(self, 200, rest_answer(outputs, form))

        def log_message(self, *args):
            pass

    return Handler


@pytest.mark.parametrize("fmt", ["instances", "inputs"])
def test_serve_request_writes_the_served_stems(small_export, song, tmp_path, capsys, fmt):
    version_dir, loaded = small_export
    out = tmp_path / "out"
    with _Server(serving_handler(loaded, "small")) as server:
        args = ["serve-request", str(song), "--url", server.url, "--model-name", "small",
                "--model-config", str(version_dir), "--format", fmt, "-o", str(out)]
        assert cli.main(args) == 0, capsys.readouterr().err
        # Outputs are never replaced without --overwrite.
        assert cli.main(args) == 1
        assert "vocals.wav: exists (use --overwrite)" in capsys.readouterr().err
        assert cli.main(args + ["--overwrite"]) == 0
        mono, _ = load_audio(song, sample_rate=RATE, mono=True)
        expected = run_signature(loaded.signatures["serving_default"], mono)  # 10.9 s: one request
        for name in ("vocals", "accompaniment"):
            path = out / song.stem / f"{name}.wav"
            info = sf.info(path)
            assert (info.samplerate, info.channels, info.frames) == (RATE, 1, mono.shape[1])
            written, _ = load_audio(path)
            np.testing.assert_array_equal(written, expected[name])
        # The same, padded to one 34 s request through separate_padded.
        assert cli.main(args + ["--overwrite", "--fixed-length"]) == 0
        for name in ("vocals", "accompaniment"):
            written, _ = load_audio(out / song.stem / f"{name}.wav")
            np.testing.assert_allclose(written, expected[name], atol=1e-6)


def test_serve_request_errors_are_one_line(small_export, tmp_path, capsys):
    short = tmp_path / "short.wav"
    sf.write(short, np.zeros(500, np.float32), RATE)
    with _Server(serving_handler(small_export[1], "small")) as server:
        assert cli.main(["serve-request", str(short), "--url", server.url, "--model-name", "small",
                         "-o", str(tmp_path / "out")]) == 1
        error = capsys.readouterr().err
        assert "HTTP 400" in error and "too short: it needs at least 1024 samples" in error
        assert error.count("\n") == 1
        assert cli.main(["serve-request", str(short), "--url", server.url, "--model-name", "other",
                         "-o", str(tmp_path / "out")]) == 1
        assert "HTTP 404: Servable not found" in capsys.readouterr().err
    assert cli.main(["serve-request", str(short), "--grpc", f"127.0.0.1:{closed_port()}", "--model-name", "m",
                     "-o", str(tmp_path / "out"), "--timeout", "5"]) == 1
    assert "cannot reach the server (UNAVAILABLE" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


@pytest.fixture(scope="module")
def grpc_server(small_export):
    """An in-process ``PredictionService`` that runs requests through the exported signatures."""
    from concurrent import futures

    import grpc
    from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

    loaded = small_export[1]

    class Service(prediction_service_pb2_grpc.PredictionServiceServicer):
        def Predict(self, request, context):
            signature = loaded.signatures[request.model_spec.signature_name or "serving_default"]
            try:
                outputs = run_named(signature, {k: tf.make_ndarray(v) for k, v in request.inputs.items()})
            except tf.errors.InvalidArgumentError as error:
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, error.message)
            response = predict_pb2.PredictResponse()
            for name, value in outputs.items():
                response.outputs[name].CopyFrom(tf.make_tensor_proto(value))
            return response

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2),
                         options=[("grpc.max_receive_message_length", 64 * 2**20)])
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(Service(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield f"127.0.0.1:{port}"
    server.stop(None)


def test_grpc_client_end_to_end_and_blocks(grpc_server, small_export, small_model_file, song):
    """Through a real gRPC channel; blocks joined as iter_blocks joins the Separator's segments."""
    from keras_sa.separation import Separator, iter_blocks

    mono, _ = load_audio(song, sample_rate=RATE, mono=True)
    mono = mono[0]
    with GrpcClient(grpc_server, "small") as client:
        whole = client.separate(mono)
        expected = run_signature(small_export[1].signatures["serving_default"], mono[None])
        np.testing.assert_array_equal(whole["vocals"], expected["vocals"][0])
        # 10.9 s in 4 s blocks with 1 s margins: three requests, joined by iter_blocks.
        blocks = client.separate_long(mono, RATE, block_seconds=4.0, margin_seconds=1.0)
        fixed = client.separate_long(mono, RATE, block_seconds=4.0, margin_seconds=1.0, fixed_length=True)
        with pytest.raises(ServingError, match=r"INVALID_ARGUMENT: .*too short") as error:
            client.separate(mono[:1000])
        assert error.value.status == "INVALID_ARGUMENT" and "[[" not in str(error.value)
    separator = Separator.from_file(small_model_file)
    pieces = iter_blocks(mono[None], RATE, lambda segment: separator.separate(segment, RATE)["vocals"], 4.0, 1.0)
    vocals = np.concatenate([piece for _, piece in pieces], axis=1)[0]
    reference = {"vocals": vocals, "accompaniment": mono - vocals}
    for name in ("vocals", "accompaniment"):
        np.testing.assert_allclose(blocks[name], reference[name], atol=1e-5)
        np.testing.assert_allclose(fixed[name], blocks[name], atol=1e-6)
    np.testing.assert_allclose(blocks["vocals"] + blocks["accompaniment"], mono, atol=1e-6)
