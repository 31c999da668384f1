"""`no_privileged_or_host_access`: every host namespace flag and privilege escalation, one at a time.

Each flag is its own branch of the rule; a test per flag is what notices one of them going missing.
"""

from __future__ import annotations

import pytest

from infra.policy import rules
from tests.infra.policy.test_policy import container, predictor, sdep


@pytest.mark.parametrize("flag", ["hostNetwork", "hostPID", "hostIPC"])
def test_each_host_namespace_flag_is_refused(flag: str) -> None:
    (error,) = rules.no_privileged_or_host_access(sdep(predictor("stable", 100, **{flag: True})))
    assert (
        error
        == f"SeldonDeployment 'serving/search-ranker' predictor 'stable' componentSpecs[0]: {flag} is not allowed"
    )


@pytest.mark.parametrize("flag", ["hostNetwork", "hostPID", "hostIPC"])
def test_host_namespace_flags_set_false_pass(flag: str) -> None:
    assert rules.no_privileged_or_host_access(sdep(predictor("stable", 100, **{flag: False}))) == []


def test_privilege_escalation_is_refused_per_container() -> None:
    escalating = container(name="sidecar", securityContext={"allowPrivilegeEscalation": True})
    pod = predictor("stable", 100, containers=[container(), escalating])
    (error,) = rules.no_privileged_or_host_access(sdep(pod))
    assert "container 'sidecar' allows privilege escalation" in error
