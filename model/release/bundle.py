"""The model bundle: a content-addressed directory that training writes and serving verifies.

Layout (all paths relative to the bundle directory):

    model.tflite        the shipped LiteRT model (input int32 tokens [N, L, K], output float32 scores [N])
    tokenizer.json      tokenizer settings, read by `model.text.tokenizer.Tokenizer.from_json`
    config.json         the pipeline settings the bundle was built with
    golden.json         golden requests with the scores offline evaluation produced (serving replays them)
    score_histogram.json  the shipped model's offline score histogram, edges from its own quantiles
                        (`model/release/score_histogram.py`; optional: older bundles have none)
    lineage.json        data fingerprint and split membership (query hashes) of the training run
    lexical.json        the catalog's BM25 statistics and the weight w of served score = model + w * BM25
                        (`model/text/lexical.py`; optional: without it the model's score is served)
    MANIFEST            `sha256sum` format: "<hex>  <path>" per file, sorted by path

The bundle id is the sha256 of MANIFEST, so equal content means an equal id and `sha256sum -c MANIFEST`
checks a bundle with stock tools. Only what is served (and what it was built from) is inside: measured
figures (latencies, intervals, verdicts: metrics.json, MODEL_CARD.md) live beside the bundle in
`<bundle_id>.run/` (model/release/package.py), so the same trained model gets the same id on any machine.
The *version* (Kubernetes `labels.version`, Seldon responses, metric labels) is the first 12 hex
characters: label values are limited to 63 characters.

This module is stdlib-only on purpose: the serving virtualenv imports it to verify a bundle before it
reports ready.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

MANIFEST = "MANIFEST"
MODEL_FILE = "model.tflite"
TOKENIZER_FILE = "tokenizer.json"
GOLDEN_FILE = "golden.json"
SCORES_FILE = "score_histogram.json"
LINEAGE_FILE = "lineage.json"
LEXICAL_FILE = "lexical.json"
VERSION_CHARS = 12
# A bundle's measured figures (metrics.json, MODEL_CARD.md) live in `<bundle>.run/` beside it, outside
# its hash, so measuring again does not change what is served.
RUN_SUFFIX = ".run"
_CHUNK = 1 << 20


class BundleError(ValueError):
    """A bundle that cannot be trusted; the message names the offending file."""


@dataclass(frozen=True)
class BundleInfo:
    path: Path
    bundle_id: str
    files: tuple[str, ...]

    @property
    def version(self) -> str:
        return version_of(self.bundle_id)


def version_of(bundle_id: str) -> str:
    return bundle_id[:VERSION_CHARS]


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _manifest_text(directory: Path) -> str:
    files = sorted(
        p.relative_to(directory).as_posix()
        for p in directory.rglob("*")
        if p.is_file() and p.name != MANIFEST
    )
    return "".join(f"{sha256_file(directory / name)}  {name}\n" for name in files)


def write_bundle(contents: Mapping[str, bytes | Path], root: Path) -> BundleInfo:
    """Write a bundle under `root/<bundle_id>/` atomically and return it.

    The files are assembled in a temporary directory inside `root` (same filesystem), hashed, and the
    directory is renamed into place only when complete: an interrupted run leaves no bundle, only a
    `.tmp-*` directory that the next run ignores. Writing identical content twice is a no-op.
    """
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=root))
    try:
        for name, content in contents.items():
            if name == MANIFEST or name.startswith("/") or ".." in Path(name).parts:
                raise BundleError(f"{name}: not a valid bundle file name")
            target = tmp / name
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, Path):
                shutil.copyfile(content, target)
            else:
                target.write_bytes(content)
        manifest = _manifest_text(tmp)
        (tmp / MANIFEST).write_text(manifest, encoding="utf-8")
        bundle_id = verify_bundle(tmp).bundle_id  # an incomplete bundle never gets a name
        final = root / bundle_id
        if final.exists():
            shutil.rmtree(tmp)
        else:
            os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return verify_bundle(final)


def _parse_manifest(path: Path) -> dict[str, str]:
    entries: dict[str, str] = {}
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        digest, sep, name = line.partition("  ")
        if not sep or len(digest) != 64 or not name:
            raise BundleError(f"{path}: line {lineno} is not '<sha256>  <path>'")
        entries[name] = digest
    return entries


def verify_bundle(directory: Path) -> BundleInfo:
    """Check every file against MANIFEST; raise BundleError naming the first file that fails.

    Files present but not listed fail too: a bundle is exactly what its MANIFEST says.
    """
    directory = Path(directory)
    manifest_path = directory / MANIFEST
    if not manifest_path.is_file():
        raise BundleError(f"{manifest_path}: missing; not a rankship bundle")
    entries = _parse_manifest(manifest_path)
    for name in (MODEL_FILE, TOKENIZER_FILE, GOLDEN_FILE):
        if name not in entries:
            raise BundleError(f"{manifest_path}: does not list required file {name}")
    for name, expected in sorted(entries.items()):
        path = directory / name
        if not path.is_file():
            raise BundleError(f"{path}: listed in MANIFEST but missing")
        if sha256_file(path) != expected:
            raise BundleError(f"{path}: sha256 does not match MANIFEST (file changed or corrupted)")
    present = {
        p.relative_to(directory).as_posix()
        for p in directory.rglob("*")
        if p.is_file() and p.name != MANIFEST and not p.name.startswith("..")
    }
    unlisted = sorted(present - set(entries))
    if unlisted:
        raise BundleError(f"{directory / unlisted[0]}: present but not listed in MANIFEST")
    bundle_id = sha256_file(manifest_path)
    return BundleInfo(path=directory, bundle_id=bundle_id, files=tuple(sorted(entries)))


def run_dir(directory: Path) -> Path:
    """Where the figures measured for the bundle at `directory` live: beside it, outside its hash."""
    return directory.with_name(directory.name + RUN_SUFFIX)


def bundles_newest_first(root: Path) -> list[Path]:
    """The bundles under `root` (folders with a MANIFEST), most recently written first; none if absent."""
    if not Path(root).is_dir():
        return []
    found = [p for p in Path(root).iterdir() if p.is_dir() and (p / MANIFEST).is_file()]
    return sorted(found, key=lambda p: (p / MANIFEST).stat().st_mtime, reverse=True)


def latest_bundle(root: Path) -> Path:
    """The most recently written bundle under `root` (used by `make serve`)."""
    found = bundles_newest_first(root)
    if not found:
        raise BundleError(f"{root}: no bundle found; run `make demo` first")
    return found[0]
