"""Atomic file replacement, shared by everything in infra/ that writes a file a reader may be reading."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_text_atomic(path: Path, text: str) -> Path:
    """Write `path` through a temporary file in the same directory and a rename.

    Readers (`kubectl apply -f`, a GitOps controller, the next CI step) see the old content or the new,
    never half a file. An existing file keeps its permission bits; a new one gets 0644 (mkstemp's 0600
    would hide a settings file from the other users of a checkout).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
