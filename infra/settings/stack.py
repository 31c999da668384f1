"""The stack settings: one structured key (`rankship:settings`) per `Pulumi.<stack>.yaml`, parsed once.

Two readers share one parse: the Pulumi program reads the key through `pulumi.Config`
(`settings_from_pulumi_config`), the manifest renderer and the canary analyzer read the YAML file directly
(`load_stack_settings`). Both end in `parse_settings`, which either returns frozen, validated models or raises
`SettingsError` listing every bad key with its rule — before any resource is declared.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator

from infra.gitops.atomic import write_text_atomic
from infra.settings.cluster import (
    ChartVersions,
    EksCluster,
    ExistingCluster,
    Frozen,
    NodePool,
    ServingSettings,
)
from infra.settings.platform import NoAuth, PlatformSettings
from infra.settings.serving import ModelSettings
from infra.settings.training import TrainingSettings, training_problems

PROJECT = "rankship"
SETTINGS_KEY = f"{PROJECT}:settings"
_CLUSTER_TAGS = ("existing", "aws-eks")


class SettingsError(ValueError):
    """Stack settings that cannot be deployed; the message names the source, each key and its rule."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: invalid settings\n" + "\n".join(f"  - {p}" for p in problems))


class StackSettings(Frozen):
    """Everything one stack deploys: cluster, node pools, platform add-ons, served models, training."""

    # The committed stacks are examples with placeholder values (infra/settings/placeholders.py): they render
    # for review and CI, behind a banner, but `pulumi preview`/`up` refuse them until filled and unmarked.
    example: bool = False
    cluster: Annotated[ExistingCluster | EksCluster, Field(discriminator="provider")]
    node_pools: tuple[NodePool, ...] = ()
    platform: PlatformSettings
    serving: ServingSettings = ServingSettings()
    models: tuple[ModelSettings, ...]
    training: TrainingSettings = TrainingSettings()

    @field_validator("models")
    @classmethod
    def _serves_something(cls, models: tuple[ModelSettings, ...]) -> tuple[ModelSettings, ...]:
        # Not min_length: that would also fire, confusingly, when the only model is invalid.
        if not models:
            raise ValueError("a stack serves at least one model")
        return models

    @property
    def is_eks(self) -> bool:
        return isinstance(self.cluster, EksCluster)

    @property
    def gpu_pools(self) -> tuple[NodePool, ...]:
        return tuple(p for p in self.node_pools if p.gpu is not None)

    @model_validator(mode="after")
    def _stack_rules(self) -> StackSettings:
        problems = [
            *_duplicates("node_pools", [p.name for p in self.node_pools]),
            *_duplicates("models", [m.name for m in self.models]),
            *_platform_problems(self),
            *_gpu_problems(self),
            *_pool_problems(self),
            *training_problems(self.training, self.gpu_pools, self.is_eks),
        ]
        if problems:
            # One line per problem; parse_settings splits them back into separate entries.
            raise ValueError("\n".join(problems))
        return self


def _duplicates(key: str, names: list[str]) -> list[str]:
    return [f"{key}: name {n!r} is used {count} times" for n, count in Counter(names).items() if count > 1]


def _platform_problems(s: StackSettings) -> list[str]:
    charts: ChartVersions = s.platform.charts
    problems = []
    if s.is_eks and not any(p.gpu is None for p in s.node_pools):
        problems.append("node_pools: aws-eks needs a pool without GPUs for the system add-ons")
    if s.is_eks and charts.cluster_autoscaler is None:
        problems.append("platform.charts.cluster_autoscaler: required for aws-eks (node pools autoscale)")
    if not s.is_eks and charts.cluster_autoscaler is not None:
        problems.append("platform.charts.cluster_autoscaler: only installed on aws-eks; remove it")
    if s.gpu_pools and charts.nvidia_device_plugin is None:
        problems.append("platform.charts.nvidia_device_plugin: required when a node pool has GPUs")
    if s.is_eks and isinstance(s.platform.auth, NoAuth):
        problems.append("platform.auth: mode none is only for existing clusters; use jwt or mtls on aws-eks")
    if s.is_eks and s.platform.tls is None:
        problems.append("platform.tls: required on aws-eks (the gateway serves HTTPS only)")
    if s.is_eks and s.platform.seldon_images is None:
        problems.append("platform.seldon_images: required on aws-eks (the operator's defaults are tags)")
    return problems


def _pool_problems(s: StackSettings) -> list[str]:
    """A model pinned to a pool needs that pool, and a CPU model must not be pinned to a GPU pool."""
    pools = {p.name: p for p in s.node_pools}
    problems = []
    for i, model in enumerate(s.models):
        if model.node_pool is None:
            continue
        pool, key = pools.get(model.node_pool), f"models[{i}].node_pool"
        if pool is None:
            problems.append(f"{key}: no node pool named {model.node_pool!r} (have {sorted(pools)})")
        elif pool.gpu is not None and model.resources.gpu == 0:
            problems.append(f"{key}: {model.node_pool!r} is a GPU pool; model {model.name!r} requests no GPU")
        elif pool.gpu is None and model.resources.gpu > 0:
            problems.append(f"{key}: model {model.name!r} requests GPUs but {model.node_pool!r} has none")
    return problems


def _gpu_problems(s: StackSettings) -> list[str]:
    problems = []
    for i, model in enumerate(s.models):
        wanted, gpu_type = model.resources.gpu, model.resources.gpu_type
        if wanted == 0:
            continue
        pools = [p for p in s.gpu_pools if gpu_type in (None, p.gpu.type if p.gpu else None)]
        key = f"models[{i}].resources.gpu"
        if not s.gpu_pools:
            problems.append(f"{key}: model {model.name!r} requests {wanted} GPU(s) but no node pool has GPUs")
        elif not pools:
            problems.append(f"{key}: model {model.name!r} wants gpu_type {gpu_type!r}; no GPU pool has it")
        elif all(p.gpu is not None and p.gpu.count < wanted for p in pools):
            problems.append(
                f"{key}: model {model.name!r} requests {wanted} GPUs; no matching node has that many"
            )
    return problems


def _key(loc: tuple[str | int, ...]) -> str:
    parts: list[str] = []
    for i, part in enumerate(loc):
        if i > 0 and loc[i - 1] == "cluster" and part in _CLUSTER_TAGS:
            continue  # pydantic puts the union tag in the location; the YAML has no such level
        if isinstance(part, int):
            parts.append(f"[{part}]")
        else:
            parts.append(f".{part}" if parts else str(part))
    return "".join(parts)


def _describe(error: Any) -> str:
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        message = "unknown key (not part of the settings schema; check its spelling and level)"
    key = _key(tuple(error["loc"]))
    return f"{key}: {message}" if key else message


def parse_settings(raw: Any, source: str) -> StackSettings:
    """Validate raw settings (a mapping from YAML or Pulumi config); `source` names them in errors."""
    if not isinstance(raw, Mapping):
        raise SettingsError(source, [f"{SETTINGS_KEY} must be a mapping, got {type(raw).__name__}"])
    try:
        return StackSettings.model_validate(raw)
    except ValidationError as e:
        problems = [line for err in e.errors() for line in _describe(err).splitlines()]
        raise SettingsError(source, problems) from e


def stack_file(stack: str, root: Path) -> Path:
    return root / f"Pulumi.{stack}.yaml"


def _read_stack_file(path: Path) -> dict[str, Any]:
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as e:
        raise SettingsError(str(path), ["stack file not found"]) from e
    except yaml.YAMLError as e:
        raise SettingsError(str(path), [f"not valid YAML: {e}"]) from e
    if not isinstance(document, dict):
        raise SettingsError(str(path), ["expected a mapping with a `config:` key"])
    return document


def load_stack_settings(stack: str, root: Path) -> StackSettings:
    """Read `Pulumi.<stack>.yaml` under `root` with PyYAML and parse its `rankship:settings` key."""
    path = stack_file(stack, root)
    config = _read_stack_file(path).get("config") or {}
    if SETTINGS_KEY not in config:
        raise SettingsError(str(path), [f"config.{SETTINGS_KEY}: missing"])
    return parse_settings(config[SETTINGS_KEY], f"{path} {SETTINGS_KEY}")


def settings_from_pulumi_config() -> StackSettings:
    """Inside the Pulumi program: the same parse, fed by the engine's view of the stack config."""
    import pulumi  # imported here so that renderer and canary analyzer never load the Pulumi SDK

    raw = pulumi.Config(PROJECT).get_object("settings")
    source = f"Pulumi.{pulumi.get_stack()}.yaml {SETTINGS_KEY}"
    if raw is None:
        raise SettingsError(source, [f"config.{SETTINGS_KEY}: missing"])
    return parse_settings(raw, source)


def settings_to_config(settings: StackSettings) -> dict[str, Any]:
    """Plain data for `rankship:settings`: the keys that were set, in schema order (JSON types only)."""
    return settings.model_dump(mode="json", exclude_unset=True)


def dump_stack_settings(settings: StackSettings, stack: str, root: Path) -> Path:
    """Write `settings` into `Pulumi.<stack>.yaml`, keeping the file's other keys; atomic replace."""
    path = stack_file(stack, root)
    document = _read_stack_file(path) if path.exists() else {}
    config = dict(document.get("config") or {})
    config[SETTINGS_KEY] = settings_to_config(settings)
    document["config"] = config
    text = yaml.safe_dump(document, sort_keys=False, default_flow_style=False, width=110)
    write_text_atomic(path, text)
    return path


def stack_names(root: Path) -> list[str]:
    """Stacks declared under `root`, from their `Pulumi.<stack>.yaml` files, sorted."""
    return sorted(p.name.removeprefix("Pulumi.").removesuffix(".yaml") for p in root.glob("Pulumi.*.yaml"))
