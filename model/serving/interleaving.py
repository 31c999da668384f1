"""Team-draft interleaving (Radlinski, Kurup & Joachims, CIKM 2008) and its click credit rule. Pure Python.

Two rankers, `stable` and `canary`, rank the same candidates. Their lists are merged into one: in every round
the team with fewer picks so far picks next (a coin decides when both have picked equally often), and the
team that picks takes its highest-ranked result not yet shown. Every shown result remembers the team that
contributed it. A user's clicks are then credited to those teams: the team with more clicked results wins
the impression. Position bias hits both teams alike (each team gets the top slot half of the time), which is
why an interleaved comparison needs far fewer impressions than an A/B split of users (`make
bench-interleaving`).

The coin is a seeded RNG, seeded from a hash of the request id: a retry of the same request (same Seldon
`meta.puid`) shows the same list with the same teams.

Used by the serving combiner (`model.serving.combiner`), the local demo's simulated users and the benchmark;
imports only the standard library, so both virtualenvs can use it.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass

STABLE, CANARY = "stable", "canary"
TEAMS = (STABLE, CANARY)
TIE = "tie"
WINNERS = (STABLE, CANARY, TIE)
# `meta.tags.model_version` of an interleaved answer (no bundle has this version); infra/specs/naming.py
# keeps a copy for the platform (which imports no model code), tests/infra/specs/test_interleave.py compares.
INTERLEAVED_VERSION = "interleaved"

Coin = Callable[[], bool]  # True: stable picks first in this round


@dataclass(frozen=True)
class Pick:
    id: str
    team: str  # STABLE or CANARY


def request_coin(request_id: str) -> Coin:
    """The coin of one request: a Mersenne Twister seeded from the SHA-256 of the request id.

    `random.Random(int).random()` is reproducible across Python versions and platforms, and SHA-256 (unlike
    `hash()`) is not salted per process, so every serving replica flips the same coins for the same id.
    """
    if not request_id:
        raise ValueError("interleaving needs a non-empty request id (Seldon's meta.puid)")
    seed = int.from_bytes(hashlib.sha256(request_id.encode()).digest()[:8], "big")
    rng = random.Random(seed)
    return lambda: rng.random() < 0.5


def _check_ranking(name: str, ids: Sequence[str]) -> None:
    seen: set[str] = set()
    for i, cid in enumerate(ids):
        if cid in seen:
            raise ValueError(f"{name} ranking repeats id {cid!r} at position {i}")
        seen.add(cid)


def team_draft(
    stable: Sequence[str], canary: Sequence[str], coin: Coin, limit: int | None = None
) -> list[Pick]:
    """Interleave two rankings of ids with team draft.

    Args:
        stable, canary: the two rankers' ids, best first; each without repeats.
        coin: flipped only when both teams have picked equally often (see `request_coin`).
        limit: at most this many results; None: until either ranking has nothing new left (for two rankings
            of the same candidates that is all of them).
    Returns:
        The shown list, best first, each result with the team that contributed it.
    Raises:
        ValueError: a ranking repeats an id, or limit < 1.
    """
    _check_ranking(STABLE, stable)
    _check_ranking(CANARY, canary)
    if limit is not None and limit < 1:
        raise ValueError(f"limit must be >= 1, got {limit}")
    lists = {STABLE: stable, CANARY: canary}
    cursor = {STABLE: 0, CANARY: 0}
    picks = {STABLE: 0, CANARY: 0}
    shown: dict[str, str] = {}
    out: list[Pick] = []
    while limit is None or len(out) < limit:
        for team, ids in lists.items():  # skip what the other team already showed
            while cursor[team] < len(ids) and ids[cursor[team]] in shown:
                cursor[team] += 1
        if cursor[STABLE] == len(stable) or cursor[CANARY] == len(canary):
            break
        if picks[STABLE] == picks[CANARY]:
            team = STABLE if coin() else CANARY
        else:
            team = STABLE if picks[STABLE] < picks[CANARY] else CANARY
        cid = lists[team][cursor[team]]
        shown[cid] = team
        picks[team] += 1
        out.append(Pick(cid, team))
    return out


@dataclass(frozen=True)
class Outcome:
    """One impression's credit: clicked results per team and the winner (`tie` when equal, also 0 = 0)."""

    stable_clicks: int
    canary_clicks: int

    @property
    def winner(self) -> str:
        if self.stable_clicks == self.canary_clicks:
            return TIE
        return STABLE if self.stable_clicks > self.canary_clicks else CANARY


def credit(teams: Mapping[str, str], clicked: Iterable[str]) -> Outcome:
    """Credit each clicked result to the team that contributed it; a result clicked twice counts once.

    Args:
        teams: shown id -> team, from the interleaved answer.
        clicked: ids the user clicked.
    Raises:
        ValueError: a clicked id that the answer did not show, or a team other than stable/canary.
    """
    counts = {STABLE: 0, CANARY: 0}
    for cid in dict.fromkeys(clicked):
        team = teams.get(cid)
        if team is None:
            raise ValueError(f"clicked id {cid!r} is not in the interleaved answer")
        if team not in counts:
            raise ValueError(f"result {cid!r} has team {team!r}; expected one of {', '.join(TEAMS)}")
        counts[team] += 1
    return Outcome(counts[STABLE], counts[CANARY])


def clicked_at(shown: Sequence[str], positions: Collection[int]) -> list[str]:
    """The ids at 0-based `positions` of a shown list; ValueError naming a position outside it."""
    bad = [p for p in positions if not 0 <= p < len(shown)]
    if bad:
        raise ValueError(f"clicked position {bad[0]} is outside the {len(shown)} shown results")
    return [shown[p] for p in sorted(positions)]
