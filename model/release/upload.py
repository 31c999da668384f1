"""Copy run outputs to object storage: `file://` (local folders; the tests) or `s3://` (the `aws` CLI
in the trainer image, credentials from IRSA or the environment).

URIs name folders when they end with "/" and files otherwise, as `aws s3 cp` reads them.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote, urlparse


class UploadError(RuntimeError):
    """A copy that failed; the message names the source and the destination."""


class Store(Protocol):
    def put_dir(self, local: Path, uri: str) -> None: ...
    def put_file(self, local: Path, uri: str) -> None: ...
    def get_dir(self, uri: str, local: Path) -> None: ...


class FileStore:
    """`file:///abs/path/` URIs: plain copies (a file is copied to a temporary name, then renamed)."""

    @staticmethod
    def _path(uri: str) -> Path:
        return Path(unquote(urlparse(uri).path))

    def put_dir(self, local: Path, uri: str) -> None:
        shutil.copytree(local, self._path(uri), dirs_exist_ok=True)

    def put_file(self, local: Path, uri: str) -> None:
        dest = self._path(uri)
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(dest.name + ".tmp")
        shutil.copyfile(local, tmp)
        tmp.replace(dest)

    def get_dir(self, uri: str, local: Path) -> None:
        source = self._path(uri)
        if not source.is_dir():
            raise UploadError(f"{uri}: no such folder")
        shutil.copytree(source, local, dirs_exist_ok=True)


class S3Store:
    """`s3://bucket/key/` URIs through the `aws` CLI (retries, multipart and credentials come with it)."""

    def __init__(self, aws: str = "aws"):
        found = shutil.which(aws)
        if found is None:
            raise UploadError(f"s3:// outputs need the `{aws}` CLI on PATH (pip install awscli)")
        self.aws = found

    def _run(self, *args: str) -> None:
        cmd = [self.aws, "s3", *args, "--only-show-errors"]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise UploadError(f"{' '.join(cmd[1:])} failed ({done.returncode}): {done.stderr.strip()}")

    def put_dir(self, local: Path, uri: str) -> None:
        self._run("cp", "--recursive", str(local), uri)

    def put_file(self, local: Path, uri: str) -> None:
        self._run("cp", str(local), uri)

    def get_dir(self, uri: str, local: Path) -> None:
        self._run("cp", "--recursive", uri, str(local))


def store_for(uri: str) -> Store:
    """The store for `uri`'s scheme; raises UploadError naming an unsupported one."""
    scheme = urlparse(uri).scheme
    if scheme == "file":
        return FileStore()
    if scheme == "s3":
        return S3Store()
    raise UploadError(f"{uri!r}: unsupported storage scheme {scheme!r}; use s3:// or file://")
