"""CrossGuard entry point: wraps each pure rule of `rules.py` as a mandatory policy.

Pulumi runs this file as a script from this directory (`pulumi preview --policy-pack infra/policy`). The
repository root goes on the path so the rules import as `infra.policy.*`, the way the validator imports them;
`infra/__init__.py` and `infra/policy/__init__.py` are empty, so nothing else of the package loads.
"""

import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from pulumi_policy import (
    EnforcementLevel,
    PolicyPack,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from infra.policy.rules import RULES, STACK_RULES, Resource, Rule, StackRule


def _validator(rule: Rule) -> Callable[[ResourceValidationArgs, ReportViolation], None]:
    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        for message in rule.check(Resource(args.resource_type, args.name, args.props)):
            report_violation(message, None)

    return validate


def _stack_validator(rule: StackRule) -> Callable[[StackValidationArgs, ReportViolation], None]:
    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        resources = [Resource(r.resource_type, r.name, r.props) for r in args.resources]
        for message in rule.check(resources):
            report_violation(message, None)

    return validate


PolicyPack(
    name="rankship-policies",
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=[
        *(
            ResourceValidationPolicy(name=r.name, description=r.description, validate=_validator(r))
            for r in RULES
        ),
        *(
            StackValidationPolicy(name=r.name, description=r.description, validate=_stack_validator(r))
            for r in STACK_RULES
        ),
    ],
)
