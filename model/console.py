"""What a run prints: quiet by default, one progress display per long step, detail back with --verbose.

- `setup(verbose)` runs first, before TensorFlow is imported: the Python-side filters (warnings and log
  records of dependencies that we understand and cannot fix) and line-buffered stdout, so a CI log shows
  each step when it happens.
- `native_output()` wraps the calls whose *native* code writes to the process's stderr: the TensorFlow
  import, device discovery, the LiteRT converter. Environment variables cannot silence those any more
  (TF 2.21 logs through absl before `InitializeLog`, ignoring TF_CPP_MIN_LOG_LEVEL), so the block's fd 2 goes
  to a temporary file and, afterwards, every line that is not known noise (NOISE) is written out: a real
  native error still reaches the user, a banner about CPU instructions does not.
- `progress(...)` is the one progress display (tqdm): a bar on a terminal; on a pipe or a file (CI), a
  plain line every PLAIN_INTERVAL_S seconds with the count, elapsed time and ETA.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

from tqdm import tqdm

PLAIN_INTERVAL_S = 15.0
PLAIN_FORMAT = (
    "{desc}: {n_fmt}/{total_fmt} {unit} ({percentage:.0f} %), {elapsed} elapsed, ETA {remaining}{postfix}"
)
# Native stderr lines dropped when not verbose; each is informational on a CPU machine.
NOISE = tuple(
    re.compile(p)
    for p in (
        r"^WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR$",
        # absl INFO/WARNING records (I1202 ..., W0000 ...): what TF_CPP_MIN_LOG_LEVEL=2 used to hide.
        r"^[IW]\d{4} [\d:.]+ +\d+ \S+:\d+\] ",
        # cuInit fails on every machine without an NVIDIA driver: TensorFlow then runs on the CPU.
        r"^E\d{4} [\d:.]+ +\d+ cuda_(platform|executor|diagnostics)\.cc:\d+\] failed call to cuInit",
        r"^To enable the following instructions: .* rebuild TensorFlow with the appropriate compiler flags\.$",
        # The LiteRT quantizer prints its settings on every int8 conversion.
        r"^fully_quantize: \d+, inference_type: \d+, input_inference_type: \w+, output_inference_type: \w+$",
        r"^INFO: Created TensorFlow Lite XNNPACK delegate for CPU\.$",
    )
)
_VERBOSE = False


class _KnownNoise(logging.Filter):
    """tf_keras' legacy SavedModel writer tries to build the compile-time loss and metric containers of
    every model it saves and warns when there are none: ours train in a custom loop and are never
    compiled, so there is nothing to build."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "compiled metrics have yet to be built" not in record.getMessage()


def setup(verbose: bool = False) -> None:
    """Call once, first thing, before TensorFlow is imported."""
    global _VERBOSE
    _VERBOSE = verbose
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "0" if verbose else "2"
    if isinstance(sys.stdout, __import__("io").TextIOWrapper):
        sys.stdout.reconfigure(line_buffering=True)  # a CI log shows each step when it ends
    if verbose:
        return
    logging.getLogger("tensorflow").addFilter(_KnownNoise())
    # TFMOT and tf_keras import-time notices about APIs we do not call.
    warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"(tensorflow|tf_keras|tfmot)")
    warnings.filterwarnings("ignore", category=FutureWarning, module=r"(tensorflow|tf_keras)")


def verbose() -> bool:
    return _VERBOSE


def is_noise(line: str) -> bool:
    return any(p.search(line) for p in NOISE)


@contextmanager
def native_output() -> Iterator[None]:
    """Hold what native code writes to fd 2 inside the block; write out its non-noise lines afterwards."""
    if _VERBOSE:
        yield
        return
    sys.stderr.flush()
    with tempfile.TemporaryFile() as sink:
        saved = os.dup(2)
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            kept = [
                ln for ln in sink.read().decode("utf-8", "replace").splitlines() if ln and not is_noise(ln)
            ]
            if kept:
                sys.stderr.write("\n".join(kept) + "\n")
                sys.stderr.flush()


def import_tensorflow() -> Any:
    """Import TensorFlow (and look for GPUs, which logs the cuInit failure on CPU machines) quietly."""
    with native_output():
        import tensorflow as tf

        tf.config.list_physical_devices("GPU")
    return tf


class _Lines:
    """A tqdm file for logs: each refresh becomes one plain line (no carriage returns, no repeats)."""

    def __init__(self, out: TextIO):
        self.out, self.last = out, ""

    def write(self, text: str) -> None:
        line = text.replace("\r", "").strip()
        if line and line != self.last:
            self.out.write(line + "\n")
            self.last = line

    def flush(self) -> None:
        self.out.flush()


def progress(total: int, desc: str, unit: str = "it", enabled: bool = True) -> tqdm:
    """The progress display of one long step: a bar on a terminal, periodic plain lines otherwise."""
    if not enabled:
        return tqdm(total=total, disable=True)
    if sys.stderr.isatty():
        return tqdm(total=total, desc=desc, unit=unit, dynamic_ncols=True)
    return tqdm(
        total=total,
        desc=desc,
        unit=unit,
        file=_Lines(sys.stderr),
        mininterval=PLAIN_INTERVAL_S,
        # Every update may print once mininterval has passed (no adaptive miniters), and tqdm's monitor
        # thread, which would print between them, never fires: one line per interval.
        miniters=1,
        maxinterval=float("inf"),
        bar_format=PLAIN_FORMAT,
    )


def note(bar: tqdm, message: str) -> None:
    """A line of the step's story on stdout: above the bar on a terminal, between the periodic progress
    lines in a log; nothing when progress is disabled."""
    if bar.disable:
        return
    if sys.stderr.isatty():
        bar.write(message)  # to stdout, with the bar cleared and redrawn under it
    else:  # straight to the log: tqdm.write would repeat the status line after it
        print(message, flush=True)
