"""Helpers shared by the engine tests: repeated ballots, comparable JSON results, sub-multisets."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from fractions import Fraction
from typing import Any

from aggregation.core import Ballot, ranked
from aggregation.jsonio import result_to_json


def many(count: int, order: list[int], weight: Fraction | int = 1) -> list[Ballot]:
    """``count`` identical ranked ballots."""
    return [ranked(order, weight) for _ in range(count)]


def as_json(result: Any, m: int) -> dict[str, Any]:
    """A result in comparable form (candidate ids c0..c{m-1})."""
    return result_to_json(result, [f"c{i}" for i in range(m)])


def sub_multisets(counter: Counter[Ballot], k: int) -> Iterator[list[Ballot]]:
    """Every multiset of exactly k ballots drawn from ``counter``."""
    items = sorted(counter.items(), key=repr)

    def pick(start: int, left: int) -> Iterator[list[Ballot]]:
        if left == 0:
            yield []
            return
        for index in range(start, len(items)):
            ballot, count = items[index]
            for take in range(min(count, left), 0, -1):
                for rest in pick(index + 1, left - take):
                    yield [ballot] * take + rest

    yield from pick(0, k)
