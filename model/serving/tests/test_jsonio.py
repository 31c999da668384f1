"""The orjson codec keeps the standard library's verdict on every input orjson refuses."""

from __future__ import annotations

import json

import pytest

from model.serving import jsonio

# orjson refuses each of these; the standard library parses the first five and refuses the rest.
REFUSED_BY_ORJSON = [
    b"NaN",
    b'{"top_k": Infinity}',
    b"1e400",
    b'["\\ud800"]',
    '{"query": "shoe"}'.encode("utf-16"),
    b"[" * 5000,
    b"{",
    b'{"a": 1,}',
    b"\xff",
]


@pytest.mark.parametrize("raw", REFUSED_BY_ORJSON, ids=range(len(REFUSED_BY_ORJSON)))
def test_what_orjson_refuses_gets_the_standard_librarys_answer(raw: bytes) -> None:
    try:
        expected: object = json.loads(raw)
    except (ValueError, RecursionError) as e:
        with pytest.raises(type(e)) as caught:
            jsonio.loads(raw)
        assert str(caught.value) == str(e)
        return
    got = jsonio.loads(raw)
    assert repr(got) == repr(expected)  # repr: NaN != NaN


def test_valid_json_round_trips() -> None:
    doc = {"query": "café", "candidates": [{"id": "p1", "title": "Red shoe"}], "top_k": 3, "s": -0.25}
    assert jsonio.loads(jsonio.dumps(doc)) == doc
    assert jsonio.loads(jsonio.dumps(doc).decode()) == doc


def test_fallback_decides_for_refused_input() -> None:
    def refuse(raw: bytes | str) -> object:
        raise ValueError(f"refused {raw!r}")

    with pytest.raises(ValueError, match="refused b'NaN'"):
        jsonio.loads(b"NaN", fallback=refuse)
    assert jsonio.loads(b"[1]", fallback=refuse) == [1]  # orjson accepted: no fallback
