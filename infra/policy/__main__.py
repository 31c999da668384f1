"""CrossGuard entry point: wraps each pure rule of `rules.py` as a mandatory resource policy.

Pulumi runs this file as a script from this directory (`pulumi preview --policy-pack infra/policy`), so the
rules module is imported by its file name rather than as `infra.policy.rules`.
"""

from collections.abc import Callable

from pulumi_policy import (
    EnforcementLevel,
    PolicyPack,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
)
from rules import RULES, Resource, Rule


def _validator(rule: Rule) -> Callable[[ResourceValidationArgs, ReportViolation], None]:
    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        for message in rule.check(Resource(args.resource_type, args.name, args.props)):
            report_violation(message, None)

    return validate


PolicyPack(
    name="rankship-policies",
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=[
        ResourceValidationPolicy(name=rule.name, description=rule.description, validate=_validator(rule))
        for rule in RULES
    ],
)
