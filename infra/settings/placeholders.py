"""Placeholder values in stack settings: found by rule, refused before anything reaches a cloud or a cluster.

A placeholder is a value copied from documentation that no real account has: AWS's documentation account ids
(111111111111, 123456789012, ...), the RFC 5737 documentation networks (192.0.2.0/24, 198.51.100.0/24,
203.0.113.0/24), a digest or bundle id of one repeated hex digit (`sha256:000...0`, how the examples mark an
image that does not exist yet), or a value that says so (`placeholder`, `change-me`, `fill-me`).

The committed example stacks carry `example: true`: `render` accepts them behind a banner, so CI can render,
validate and diff them; `pulumi preview`/`up` (infra/__main__.py) and the preview workflow refuse a stack that is
marked as an example or still holds a placeholder. How to fill each value: docs/gitops.md#fill-in-a-stack.

    python -m infra.settings.placeholders --stack NAME [--root DIR]   # exit 1 listing every placeholder
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterator, Sequence
from ipaddress import IPv4Network
from pathlib import Path
from typing import Any

from infra.settings.stack import SettingsError, StackSettings, load_stack_settings, stack_file

FILL_DOC = "docs/gitops.md#fill-in-a-stack"
# Account ids that AWS documentation uses in examples; a 12-digit run of one digit is never a real account.
DOC_ACCOUNT_IDS = frozenset({"123456789012", "111122223333", "444455556666", "777788889999", "012345678901"})
DOC_NETWORKS = tuple(IPv4Network(n) for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24"))
_ACCOUNT = re.compile(r"^\d{12}$")
_ARN_ACCOUNT = re.compile(r"^arn:aws[a-z-]*:[a-z0-9-]*:[a-z0-9-]*:(\d{12}):")
_HEX64 = re.compile(r"(?<![0-9a-f])([0-9a-f]{64})(?![0-9a-f])")
_NETWORK = re.compile(r"^\d{1,3}(\.\d{1,3}){3}(/\d{1,2})?$")
_WORDS = re.compile(r"placeholder|change[-_]?me|fill[-_]?me|replace[-_]?me", re.IGNORECASE)


def _leaves(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            yield from _leaves(item, f"{path}[{i}]")
    elif isinstance(value, str):
        yield path, value


def _account_problem(value: str) -> str | None:
    m = _ARN_ACCOUNT.match(value)
    account = m.group(1) if m else value if _ACCOUNT.fullmatch(value) else None
    if account is None or not (account in DOC_ACCOUNT_IDS or len(set(account)) == 1):
        return None
    return f"{account} is a documentation account id; use your AWS account's 12-digit id"


def _network_problem(value: str) -> str | None:
    if not _NETWORK.fullmatch(value):
        return None
    try:
        network = IPv4Network(value, strict=False)
    except ValueError:
        return None
    doc = next((d for d in DOC_NETWORKS if network.subnet_of(d)), None)
    if doc is None:
        return None
    return f"{value} is in the documentation network {doc} (RFC 5737); use the real address range"


def _value_problems(value: str) -> Iterator[str]:
    for problem in (_account_problem(value), _network_problem(value)):
        if problem:
            yield problem
    for hex64 in _HEX64.findall(value):
        if len(set(hex64)) == 1:
            yield f"{hex64[:12]}... (one repeated hex digit) marks a placeholder digest or id; use the real one"
    if _WORDS.search(value):
        yield f"{value!r} is marked as a placeholder"


def find_placeholders(settings: StackSettings) -> list[str]:
    """One line per placeholder, naming its key: `cluster.account_id: 111111111111 is ...`."""
    data = settings.model_dump(mode="json", exclude={"example"})
    return [f"{path}: {problem}" for path, value in _leaves(data) for problem in _value_problems(value)]


def refuse_to_deploy(settings: StackSettings, source: str) -> None:
    """For `pulumi preview`/`up`: an example stack, or any placeholder left, is a SettingsError."""
    problems = find_placeholders(settings)
    if settings.example:
        problems.insert(0, "example: true marks this stack as an example; fill it and remove the key")
    if problems:
        raise SettingsError(source, [*problems, f"how to fill each value: {FILL_DOC}"])


def check_render(settings: StackSettings, source: str) -> list[str]:
    """For `render`: placeholders pass only in a stack marked `example: true`; returns its banner lines."""
    problems = find_placeholders(settings)
    if not settings.example:
        if problems:
            raise SettingsError(source, [*problems, f"how to fill each value: {FILL_DOC}"])
        return []
    rule = "!" * 100
    return [
        rule,
        f"!! EXAMPLE STACK ({source}): {len(problems)} placeholder value(s); pulumi preview/up refuse it.",
        *(f"!!   {p}" for p in problems),
        f"!! Fill them ({FILL_DOC}) and remove `example: true` to deploy.",
        rule,
    ]


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m infra.settings.placeholders", description=__doc__.split("\n")[0]
    )
    p.add_argument("--stack", required=True, help="stack whose Pulumi.<stack>.yaml to check for deployment")
    p.add_argument(
        "--root", type=Path, default=Path.cwd(), help="repository root (default: current directory)"
    )
    args = p.parse_args(argv)
    try:
        refuse_to_deploy(load_stack_settings(args.stack, args.root), str(stack_file(args.stack, args.root)))
    except SettingsError as e:
        print(f"placeholders: {e}", file=sys.stderr)
        return 1
    print(f"placeholders: stack {args.stack}: none; ready to preview", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
