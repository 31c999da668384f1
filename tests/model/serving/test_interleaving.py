"""Team-draft interleaving and the click credit rule, on lists small enough to work out by hand."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from model.serving.interleaving import (
    CANARY,
    STABLE,
    TIE,
    Coin,
    Pick,
    clicked_at,
    credit,
    request_coin,
    team_draft,
)


def coins(*flips: bool) -> Iterator[bool]:
    yield from flips
    raise AssertionError("the coin was flipped more often than worked out")


def scripted(*flips: bool) -> Coin:
    it = coins(*flips)
    return lambda: next(it)


def test_worked_example() -> None:
    # stable a b c d, canary b a d c.
    # round 1, coin stable: stable takes a, then canary (fewer picks) takes b.
    # round 2, coin canary: canary's a and b are shown, it takes d; stable skips b, takes c.
    out = team_draft(list("abcd"), list("badc"), scripted(True, False))
    assert out == [Pick("a", STABLE), Pick("b", CANARY), Pick("d", CANARY), Pick("c", STABLE)]


def test_identical_rankings_alternate_and_follow_the_coin() -> None:
    # Same list x y z: each pick takes the next item; the coin only decides who gets the odd ones.
    out = team_draft(list("xyz"), list("xyz"), scripted(False, True))
    assert [p.id for p in out] == ["x", "y", "z"]
    assert [p.team for p in out] == [CANARY, STABLE, STABLE]


def test_limit_cuts_and_the_coin_is_not_flipped_past_it() -> None:
    out = team_draft(list("abcd"), list("dcba"), scripted(True), limit=2)
    assert out == [Pick("a", STABLE), Pick("d", CANARY)]


def test_stops_when_either_ranking_has_nothing_new() -> None:
    # top_k cut differently: stable a b, canary c a b. Coin stable: a (S), c (C); coin canary:
    # canary's a is shown, b (C); stable has nothing new left -> stop.
    out = team_draft(list("ab"), list("cab"), scripted(True, False))
    assert out == [Pick("a", STABLE), Pick("c", CANARY), Pick("b", CANARY)]


def test_rejects_repeated_ids_and_bad_limit() -> None:
    with pytest.raises(ValueError, match="canary ranking repeats id 'a' at position 2"):
        team_draft(list("ab"), list("aba"), scripted())
    with pytest.raises(ValueError, match="limit must be >= 1, got 0"):
        team_draft(list("ab"), list("ab"), scripted(), limit=0)


def test_same_request_id_same_list_other_ids_differ() -> None:
    stable, canary = [f"p{i}" for i in range(20)], [f"p{i}" for i in reversed(range(20))]
    first = team_draft(stable, canary, request_coin("req-42"))
    assert team_draft(stable, canary, request_coin("req-42")) == first  # a retry shows the same list
    others = {tuple(p.team for p in team_draft(stable, canary, request_coin(f"req-{i}"))) for i in range(20)}
    assert len(others) > 10  # the coin depends on the id


def test_coin_is_fair_over_many_request_ids() -> None:
    heads = sum(request_coin(f"r{i}")() for i in range(4000))
    assert 1800 < heads < 2200  # 2000 +- ~6 sigma (sigma = sqrt(4000)/2 = 31.6)


def test_request_coin_needs_an_id() -> None:
    with pytest.raises(ValueError, match="non-empty request id"):
        request_coin("")


def test_credit_counts_clicks_per_team() -> None:
    teams = {"a": STABLE, "b": CANARY, "d": CANARY, "c": STABLE}
    assert credit(teams, ["b", "d", "a"]).winner == CANARY  # 1 vs 2
    assert credit(teams, ["a"]).winner == STABLE
    both = credit(teams, ["a", "b"])
    assert (both.stable_clicks, both.canary_clicks, both.winner) == (1, 1, TIE)
    assert credit(teams, []).winner == TIE  # no click: no preference
    assert credit(teams, ["b", "b", "a"]).winner == TIE  # a double click counts once


def test_credit_names_a_click_outside_the_answer() -> None:
    with pytest.raises(ValueError, match="clicked id 'zz' is not in the interleaved answer"):
        credit({"a": STABLE}, ["zz"])
    with pytest.raises(ValueError, match="result 'a' has team 'shadow'"):
        credit({"a": "shadow"}, ["a"])


def test_clicked_at_positions() -> None:
    assert clicked_at(["a", "b", "c"], {2, 0}) == ["a", "c"]
    with pytest.raises(ValueError, match="clicked position 3 is outside the 3 shown results"):
        clicked_at(["a", "b", "c"], [3])
