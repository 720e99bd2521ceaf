"""``keras-sa web``: the in-browser separator, served on 127.0.0.1.

The page (``web_demo/`` in the source tree) separates audio in the
visitor's own browser with LiteRT.js: nothing is uploaded, and every file
it loads comes from this server. The server is the standard library's
``http.server``; it serves three things:

- ``/``: the page and its JavaScript modules (``web_demo/``);
- ``/node_modules/``: LiteRT.js, installed by ``npm ci`` in ``web_demo/``
  (its WebAssembly builds are about 9 MB each, so they are not in the wheel);
- ``/model/model.tflite`` and ``/model/model.json``: the model the page
  runs and its contract (:data:`DEFAULT_MODEL` unless ``--model`` says).

Responses carry the cross-origin-isolation headers (COOP/COEP), which
LiteRT.js's threaded build needs, and no request goes anywhere else.
"""

import functools
import http.server
import sys
from pathlib import Path

from keras_sa.cli.common import CommandError

#: The conversion the page runs: in the browser, LiteRT.js's float32 kernels give Python's
#: outputs within 1e-5 and were the fastest on one thread (``benchmarks/web.py``); its
#: dynamic-range kernels differ from Python's (0.033 on the masks).
DEFAULT_MODEL = "sa_shn_mobile_float32.tflite"

_REPO = Path(__file__).resolve().parents[2]
_MODEL_DIRS = (_REPO / "tflite" / "models", _REPO / "keras_sa" / "pretrained")

_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".wasm": "application/wasm",
    ".tflite": "application/octet-stream",
    ".png": "image/png",
    ".svg": "image/svg+xml",
}


def register(commands):
    """Add the ``web`` command to ``commands`` (an argparse subparsers object)."""
    web = commands.add_parser(
        "web", help="serve the in-browser separator on 127.0.0.1",
        description="Serve the web page that separates audio in your own browser (nothing is uploaded).",
    )
    web.add_argument("--port", type=int, default=8765, help="port on 127.0.0.1 (0: any free port; default 8765)")
    web.add_argument("--model", default=None, help=f"a .tflite file with its .json contract beside it (default: {DEFAULT_MODEL})")
    web.add_argument("--root", type=Path, default=None, help="the web_demo folder (default: the one in this checkout)")
    web.set_defaults(func=run)


def demo_root(root=None):
    """The ``web_demo`` folder, checked to hold the page and LiteRT.js.

    Raises:
        CommandError: it is missing, or ``npm ci`` has not been run in it.
    """
    root = Path(root) if root is not None else _REPO / "web_demo"
    if not (root / "index.html").is_file():
        raise CommandError(f"{root}: no web page here (the web demo is served from a source checkout)")
    if not (root / "node_modules" / "@litertjs" / "core" / "wasm").is_dir():
        raise CommandError(f"{root}: LiteRT.js is not installed: run `npm ci` in {root} first")
    return root


def model_files(model=None):
    """The ``.tflite`` model and its ``.json`` contract the page runs.

    Raises:
        CommandError: the model or its contract is missing.
    """
    if model is None:
        path = next((d / DEFAULT_MODEL for d in _MODEL_DIRS if (d / DEFAULT_MODEL).is_file()), _MODEL_DIRS[0] / DEFAULT_MODEL)
    else:
        path = Path(model)
    if path.suffix != ".tflite" or not path.is_file():
        raise CommandError(f"{path}: no such .tflite model")
    contract = path.with_suffix(".json")
    if not contract.is_file():
        raise CommandError(f"{contract}: the model's contract is missing")
    return path, contract


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Static files from the demo folder; ``/model/`` from the model's files; isolation headers."""

    # Keep-alive connections, and each response's header and body sent without waiting for the
    # client's delayed ACK (Nagle's algorithm held every file back 40 ms: the page loads a chain
    # of JavaScript modules, one after the other).
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def __init__(self, *args, model=None, contract=None, **kwargs):
        self._model_files = {"/model/model.tflite": model, "/model/model.json": contract}
        super().__init__(*args, **kwargs)

    def translate_path(self, path):
        route = path.split("?", 1)[0].split("#", 1)[0]
        if route in self._model_files:
            return str(self._model_files[route])
        return super().translate_path(path)

    def guess_type(self, path):
        return _TYPES.get(Path(path).suffix, "application/octet-stream")

    def end_headers(self):
        self.send_header("Cross-Origin-Opener-Policy", "same-origin")
        self.send_header("Cross-Origin-Embedder-Policy", "require-corp")
        self.send_header("Cache-Control", "no-cache")
        super().end_headers()

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass  # one line per request is noise on the terminal


def make_server(port=0, model=None, root=None):
    """A threading HTTP server on 127.0.0.1 serving the demo (not started).

    Args:
        port: the port (0: any free one; ``server.server_address[1]`` says which).
        model: a ``.tflite`` path (default :data:`DEFAULT_MODEL`).
        root: the ``web_demo`` folder (default: this checkout's).

    Raises:
        CommandError: the demo, LiteRT.js or the model is missing, or the port is taken.
    """
    root = demo_root(root)
    model, contract = model_files(model)
    handler = functools.partial(_Handler, directory=str(root), model=model, contract=contract)
    try:
        return http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    except OSError as error:
        raise CommandError(f"cannot listen on 127.0.0.1:{port}: {error.strerror}") from None


def run(args):
    """Serve until interrupted."""
    server = make_server(args.port, args.model, args.root)
    host, port = server.server_address[:2]
    print(f"web demo: http://{host}:{port}/  (Ctrl+C stops)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print(file=sys.stderr)
    finally:
        server.server_close()
