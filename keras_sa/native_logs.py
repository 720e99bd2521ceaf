"""Start-up lines of the native libraries, kept off the user's terminal.

TensorFlow's and LiteRT's C++ code write to file descriptor 2 directly, past
Python's ``sys.stderr``: TensorFlow's lines from before absl logging is set
up (``WARNING: All log messages before absl::InitializeLog() ...``, the
oneDNN and CUDA notices) ignore ``TF_CPP_MIN_LOG_LEVEL``, and LiteRT prints
``INFO: Created TensorFlow Lite XNNPACK delegate for CPU.`` for every
interpreter, with no option to turn it off short of losing XNNPACK.

:func:`filtered_stderr` redirects descriptor 2 into a temporary file while
such a library starts up, restores it (also on error), and writes back every
line that is not one of those notices, so a real diagnostic still reaches
the terminal. Only start-up, and the MP3 decoder's calls (libmpg123 reports
every damaged frame it skips), are wrapped: while a block runs, a line that
another thread writes to descriptor 2 is delayed until the block ends, so
what must not wait (progress bars) writes to a copy of descriptor 2
(:func:`terminal_stream`).
"""

import contextlib
import os
import re
import sys
import tempfile

#: Lines that say nothing to a user on a working setup.
STARTUP_NOTICES = re.compile(
    r"WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    r"|[IW]\d{4} [\d:. ]+\d+ \S+:\d+\] "                      # absl INFO / WARNING lines
    r"|E\d{4} [\d:. ]+\d+ cuda_\w+\.cc:\d+\] "               # no GPU on this host (cuInit, cuDNN...)
    r"|To enable the following instructions: "                # TensorFlow's CPU-feature notice
    r"|INFO: Created TensorFlow Lite XNNPACK delegate for CPU\.$"
)

#: The TFLite converter's quantizer prints its settings on every int8
#: conversion ("fully_quantize: 0, inference_type: 6, ..."), besides the
#: notices above.
CONVERTER_NOTICES = re.compile(STARTUP_NOTICES.pattern + r"|fully_quantize: \d+, inference_type: \d+, ")

#: libmpg123's diagnostics (through libsndfile) on a file that is not MP3 or
#: is damaged: "Note: Illegal Audio-MPEG-Header ...", "Note: Trying to
#: resync...", "[src/libmpg123/parse.c:...] error: ...". keras_sa reports
#: the problem itself, in one line.
DECODER_NOTICES = re.compile(r"(Note|Warning|Error): |\[[^\]]*mpg123[^\]]*\] ")


class Captured:
    """What a :func:`filtered_stderr` block wrote to descriptor 2.

    Attributes:
        lines: every line written, notices included.
        kept: the lines that are not :data:`STARTUP_NOTICES`.
    """

    def __init__(self):
        self.lines = []
        self.kept = []


@contextlib.contextmanager
def filtered_stderr(notices=STARTUP_NOTICES, replay_on_error=True):
    """Hold back the native libraries' notices written to descriptor 2 inside the block.

    Args:
        notices: a compiled pattern; lines it matches at their start are dropped.
        replay_on_error: when the block raises, write the kept lines back as
            well; ``False`` leaves them to the caller (in the
            :class:`Captured`), to fold into a one-line error.

    Yields:
        A :class:`Captured`, filled when the block ends.

    Example:

    >>> with filtered_stderr():                       # doctest: +SKIP
    ...     import tensorflow
    """
    captured = Captured()
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no descriptor 2 to redirect: nothing would be shown anyway
        yield captured
        return
    failed = False
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield captured
        except BaseException:
            failed = True
            raise
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            captured.lines = capture.read().decode("utf-8", "replace").splitlines()
            captured.kept = [line for line in captured.lines if line.strip() and not notices.match(line)]
            if captured.kept and (replay_on_error or not failed):
                sys.stderr.write("\n".join(captured.kept) + "\n")
                sys.stderr.flush()


def terminal_stream(stream=None):
    """A text stream on a copy of ``stream``'s descriptor, which :func:`filtered_stderr` does not hold.

    Args:
        stream: a text stream (default: ``sys.stderr``).

    Returns:
        A line-buffered text stream writing to a duplicate of the stream's
        descriptor, or ``stream`` itself when it has none (a test's capture).
        The caller closes a duplicate (it is not ``stream``) when done.
    """
    stream = stream or sys.stderr
    try:
        descriptor = os.dup(stream.fileno())
    except (AttributeError, OSError, ValueError):  # io.UnsupportedOperation is both
        return stream
    stream.flush()
    return os.fdopen(descriptor, "w", buffering=1, encoding=getattr(stream, "encoding", None) or "utf-8",
                     errors="replace")


def import_tensorflow():
    """Import TensorFlow with its start-up notices held back; ``None`` if it is not installed.

    ``TF_CPP_MIN_LOG_LEVEL`` is set to 2 (unless the user set it) for the
    log lines after start-up. The physical devices are listed inside the
    block because that is when TensorFlow reports a missing CUDA driver; it
    leaves the runtime unconfigured (thread counts can still be set).
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with filtered_stderr():
        try:
            import tensorflow as tf
        except ImportError:
            return None
        tf.config.list_physical_devices()
    return tf
