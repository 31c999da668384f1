"""Pulumi entry point (`main: infra/` in Pulumi.yaml): load the stack settings, build, export.

Pulumi runs this file as a script with `infra/` as the script directory, so the repository root is put on
sys.path to import the `infra` package the same way tests and the renderer do.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pulumi

from infra.program import build_stack
from infra.settings.placeholders import refuse_to_deploy
from infra.settings.stack import SettingsError, settings_from_pulumi_config

try:
    settings = settings_from_pulumi_config()
    # Example stacks and placeholder values (documentation account ids and networks, marked digests) never
    # reach a cloud: preview and up stop here with the list of keys to fill.
    refuse_to_deploy(settings, f"Pulumi.{pulumi.get_stack()}.yaml")
except SettingsError as e:
    # RunError prints the message alone: the list of bad keys, not a Python traceback.
    raise pulumi.RunError(str(e)) from e

for key, value in build_stack(settings).items():
    pulumi.export(key, value)
