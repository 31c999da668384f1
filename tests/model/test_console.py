"""model/console.py: which native lines count as noise, plain progress lines for logs, native capture."""

from __future__ import annotations

import io
import os
import re
from itertools import pairwise

import pytest

from model import console

# Lines copied from a real `make demo PRESET=tiny 2>&1 | cat` on a CPU machine (TF 2.21).
NOISE = [
    "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
    "I0000 00:00:1796196110.925388    2975 port.cc:153] oneDNN custom operations are on. You may see "
    "slightly different numerical results due to floating-point round-off errors.",
    "I0000 00:00:1796196110.926210    2975 cudart_stub.cc:31] Could not find cuda drivers on your machine, "
    "GPU will not be used.",
    "E0000 00:00:1796196155.790667    2975 cuda_platform.cc:52] failed call to cuInit: INTERNAL: CUDA error: "
    "Failed call to cuInit: UNKNOWN ERROR (303)",
    "fully_quantize: 0, inference_type: 6, input_inference_type: FLOAT32, output_inference_type: FLOAT32",
    "INFO: Created TensorFlow Lite XNNPACK delegate for CPU.",
]
KEPT = [
    "E0000 00:00:1796196155.790667    2975 op_kernel.cc:1830] OP_REQUIRES failed: out of memory",
    "Traceback (most recent call last):",
    "error: --baseline /tmp/x: no such file or directory",
]


@pytest.mark.parametrize("line", NOISE)
def test_known_noise_is_dropped(line: str) -> None:
    assert console.is_noise(line)


@pytest.mark.parametrize("line", KEPT)
def test_real_errors_are_kept(line: str) -> None:
    assert not console.is_noise(line)


def test_native_output_keeps_what_is_not_noise(capfd: pytest.CaptureFixture[str]) -> None:
    console.setup(verbose=False)
    with console.native_output():
        os.write(2, (NOISE[1] + "\n" + KEPT[0] + "\n").encode())
    err = capfd.readouterr().err
    assert err == KEPT[0] + "\n"


def test_native_output_replays_even_when_the_block_raises(capfd: pytest.CaptureFixture[str]) -> None:
    console.setup(verbose=False)
    with pytest.raises(RuntimeError), console.native_output():
        os.write(2, b"converter: unsupported op FOO\n")
        raise RuntimeError("conversion failed")
    assert "converter: unsupported op FOO" in capfd.readouterr().err


def test_plain_progress_writes_whole_lines_with_eta(monkeypatch: pytest.MonkeyPatch) -> None:
    log = io.StringIO()  # not a terminal: plain lines, no carriage returns
    monkeypatch.setattr("sys.stderr", log)
    with console.progress(4, "export", "model") as bar:
        for _ in range(4):
            bar.update()
    lines = log.getvalue().splitlines()
    assert "\r" not in log.getvalue()
    assert lines[0].startswith("export: 0/4 model (0 %), 00:00 elapsed, ETA ?")
    assert lines[-1].startswith("export: 4/4 model (100 %)") and "ETA 00:00" in lines[-1]
    # mininterval (PLAIN_INTERVAL_S) holds back the intermediate refreshes of a fast loop.
    assert len(lines) == 2


def test_disabled_progress_writes_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    log = io.StringIO()
    monkeypatch.setattr("sys.stderr", log)
    with console.progress(3, "evaluate", "variant", enabled=False) as bar:
        bar.update(3)
        console.note(bar, "hidden")
    assert log.getvalue() == ""


def test_plain_progress_prints_once_per_interval(monkeypatch: pytest.MonkeyPatch) -> None:
    """A slow loop (fake clock: 4 s per update) logs one line per PLAIN_INTERVAL_S, not one per update."""
    log = io.StringIO()
    monkeypatch.setattr("sys.stderr", log)
    clock = iter(float(t) for t in range(0, 10_000, 4))
    monkeypatch.setattr("tqdm.std.time", lambda: next(clock))
    with console.progress(40, "train", "batch") as bar:
        # tqdm's monitor thread would add a line between two intervals (seen in a real CI log): it is off.
        assert bar.maxinterval == float("inf") and not bar.dynamic_miniters
        for _ in range(40):
            bar.update()
    lines = log.getvalue().splitlines()
    elapsed = [int(m) * 60 + int(s) for m, s in re.findall(r"(\d\d):(\d\d) elapsed", log.getvalue())]
    assert len(elapsed) == len(lines) > 3
    # Between the first and the closing line, every line is at least one interval after the one before.
    assert all(b - a >= console.PLAIN_INTERVAL_S for a, b in pairwise(elapsed[:-1]))
    assert lines[-1].startswith("train: 40/40 batch (100 %)")
