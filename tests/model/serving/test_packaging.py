"""The serving image installs exactly the locked requirements the tests run against (no Docker here)."""

from __future__ import annotations

import json
import re
import subprocess

import pytest

from tests.model.serving.serving_process import REPO, SERVING_PYTHON

SERVING = REPO / "model" / "serving"
DOCKERFILE = SERVING / "Dockerfile"
LOCK = SERVING / "requirements.txt"
PIN = re.compile(r"^([A-Za-z0-9_.\-]+)==([^\s;\\]+)", re.MULTILINE)


def _stages() -> list[list[str]]:
    """Dockerfile instructions (continuations joined, comments dropped), split at each FROM."""
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text())
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    stages: list[list[str]] = []
    for line in lines:
        if line.upper().startswith("FROM "):
            stages.append([])
        if stages:
            stages[-1].append(line)
    return stages


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_lock_pins_every_package_with_hashes_and_the_licensed_seldon() -> None:
    text = LOCK.read_text()
    pins = dict(PIN.findall(text))
    assert pins["seldon-core"] == "1.17.1"  # 1.18+ is BSL
    assert int(pins["numpy"].split(".")[0]) < 2 and int(pins["protobuf"].split(".")[0]) < 4
    assert int(pins["setuptools"].split(".")[0]) < 81  # gunicorn 20.1 needs pkg_resources
    blocks = re.split(r"\n(?=[A-Za-z0-9])", text.split("\n", 1)[1])
    for block in blocks:
        if PIN.match(block):
            assert "--hash=sha256:" in block, f"{block.split()[0]} has no hash in {LOCK.name}"


def test_image_installs_that_lock_file_with_hashes_in_a_build_stage() -> None:
    build, runtime = _stages()
    args = DOCKERFILE.read_text()
    assert re.search(r"ARG PYTHON_IMAGE=python:3\.11-slim[\w-]*@sha256:[0-9a-f]{64}\n", args), (
        "base not pinned by digest"
    )
    assert all(stage[0].startswith("FROM ${PYTHON_IMAGE}") for stage in (build, runtime))
    assert "COPY model/serving/requirements.txt /tmp/requirements.txt" in build
    assert any(re.search(r"pip install --require-hashes -r /tmp/requirements\.txt$", i) for i in build)
    # The runtime stage installs nothing: it copies the built virtualenv and the app.
    assert not any(re.search(r"pip |apt-get|gcc|build-essential", i) for i in runtime)
    assert "COPY --from=build /opt/venv /opt/venv" in runtime


def test_runtime_is_non_root_read_only_friendly_and_exposes_seldon_ports() -> None:
    runtime = _stages()[-1]
    user = next(i for i in runtime if i.startswith("USER "))
    assert user.split()[1].split(":")[0] not in ("0", "root")
    env = " ".join(i for i in runtime if i.startswith("ENV "))
    assert "PYTHONDONTWRITEBYTECODE=1" in env and "INCLUDE_METRICS_IN_CLIENT_RESPONSE=false" in env
    assert "RANKSHIP_BUNDLE=/mnt/models" in env
    assert any(i.split()[1:] == ["9000", "5000", "6000"] for i in runtime if i.startswith("EXPOSE "))
    assert any("compileall" in i for i in _stages()[0])  # bytecode made at build time
    cmd = next(i for i in runtime if i.startswith("CMD "))
    # seldon-core-microservice's main under the entry point that drains on SIGTERM (entrypoint.py).
    assert json.loads(cmd[4:])[:4] == [
        "python",
        "-m",
        "model.serving.entrypoint",
        "model.serving.seldon_model.RankshipRanker",
    ]


def test_image_copies_what_the_runtime_imports() -> None:
    build = " ".join(_stages()[0])
    for needed in (
        "model/__init__.py",
        "model/release/bundle.py",
        "model/text/tokenizer.py",
        "model/serving/*.py",
    ):
        assert needed in build
    # The tokenizer's and the lexical index's own imports from `model` are copied too.
    tokenizer_imports = {
        m
        for path in (
            REPO / "model/text/tokenizer.py",
            REPO / "model/text/fastpath.py",
            REPO / "model/text/lexical.py",
        )
        for m in re.findall(r"^\s*(?:from|import) (model(?:\.\w+)+)", path.read_text(), re.MULTILINE)
    }
    assert tokenizer_imports
    for module in tokenizer_imports:
        assert module.replace(".", "/") + ".py" in build, module
    # And the serving package imports nothing else from `model` (TensorFlow-free by construction).
    imported = set()
    for source in SERVING.glob("*.py"):
        imported |= set(
            re.findall(r"^\s*(?:from|import) (model(?:\.\w+)*)", source.read_text(), re.MULTILINE)
        )
    outside = {m for m in imported if not m.startswith("model.serving")}
    assert outside <= {
        "model.release.bundle",
        "model.text.tokenizer",
        "model.text.fastpath",
        "model.text.lexical",
    }
    for module in outside:  # and each of them is in the image
        assert module.replace(".", "/") + ".py" in build, module


def test_serving_virtualenv_matches_the_lock_file() -> None:
    if not SERVING_PYTHON.exists():
        pytest.skip(f"{SERVING_PYTHON} missing: run `make serving-venv` first")
    script = (
        "import json, importlib.metadata as m\n"
        "print(json.dumps({d.metadata['Name']: d.version for d in m.distributions()}))"
    )
    installed = {
        _norm(k): v
        for k, v in json.loads(subprocess.check_output([str(SERVING_PYTHON), "-c", script])).items()
    }
    pins = {_norm(k): v for k, v in PIN.findall(LOCK.read_text())}
    mismatched = {
        name: (version, installed.get(name))
        for name, version in pins.items()
        if installed.get(name) != version
    }
    assert not mismatched, f".venv-serving differs from {LOCK.name} (name: (locked, installed)): {mismatched}"
