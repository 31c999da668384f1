"""Checks of every input a run needs, made before the first step so a bad one costs seconds, not a training.

Each check is cheap (no data set is read in full, no model is loaded) and raises the error the step itself
would raise later, with the same wording: ConfigError for the output folder, DataError for the data path,
BundleError for the production baseline.
"""

from __future__ import annotations

import os
from pathlib import Path

from model.config import ConfigError, PipelineConfig

# Steps that read the configured data set (the others read the run's own work/ folder).
READS_DATA = ("data", "pipeline", "tune")
_KIND = {"csv": "file", "esci": "directory", "wands": "directory"}


def check_out_dir(out: Path) -> None:
    """`out` is a writable folder, or can be created as one (nothing is created here)."""
    probe = Path(out).absolute()
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        raise ConfigError(f"--out {out}: {probe} is a file, not a folder")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise ConfigError(f"--out {out}: {probe} is not writable by this user")


def check_data_path(cfg: PipelineConfig) -> None:
    from model.data.schema import DataError

    source, path = cfg.data.source, cfg.data.path
    if source == "synthetic" or path is None:
        return
    kind = _KIND[source]
    if not path.exists():
        raise DataError(str(path), f"no such {kind} (data.path for data.source {source!r})")
    if kind == "file" and not path.is_file():
        raise DataError(str(path), f"data.source {source!r} reads one file; this is a directory")
    if kind == "directory" and not path.is_dir():
        raise DataError(str(path), f"data.source {source!r} reads a directory of files; this is a file")


def check_inputs(step: str, cfg: PipelineConfig, out: Path, baseline: Path | None) -> None:
    """Raise ConfigError, DataError or BundleError for the first bad input of `step`."""
    check_out_dir(out)
    if step in READS_DATA:
        check_data_path(cfg)
    if baseline is not None:
        from model.release.bundle import verify_bundle

        verify_bundle(baseline)  # a folder that is not a bundle, or one whose files changed
