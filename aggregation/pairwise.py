"""The tally shared by the run-off and Schulze rules: first choices and head-to-head wins.

Every ranking, choice or score ballot is read as a score vector (rules-spec §2.1): a ranking
gives ``s[c] = m - position`` to ranked candidates and 0 to the unranked ones (tied at the
bottom), a choice is a ranking of length one, and an empty ranking or a null choice is an
empty ballot (no top choice, no preference). From those the tally keeps, exactly:

* ``first[c]``: total weight of ballots whose top choice is ``c`` (argmax of ``s``, lowest
  index on equal scores; empty ballots have none);
* ``index_tops``: weight of score ballots whose top choice was decided that way, by index
  among equal top scores (the result then rests partly on the index order);
* ``wins[a][b]``: total weight of ballots with ``s[a] > s[b]``;
* ``weights``: how many ballots carry each weight (total weight, ballot count, and whether
  all weights are equal, which the certificates need).

Integer weights live in numpy int64 arrays; the first weight that is not a (small) integer
switches the tally to exact ``Fraction`` arithmetic, so nothing is ever rounded.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from fractions import Fraction
from typing import Any, Self

import numpy as np

from aggregation.core import Ballot, InvalidInput, common_weight, to_fraction, validate_ballot

PAIRWISE_FORMS = ("ranking", "choice", "scores")

# Integer weights above this switch the tally to exact arithmetic, keeping int64 sums safe.
_MAX_INT_WEIGHT = 2**31

# Up to this many candidates a ranking row is encoded as one int64 (m**m < 2**63).
_MAX_ENCODED_M = 15


def exact_number(value: Any) -> int | str:
    """An exact number in JSON form: an int when integral, else a "p/q" string."""
    number = Fraction(value)
    return number.numerator if number.denominator == 1 else f"{number.numerator}/{number.denominator}"


def ballot_preference(ballot: Ballot, m: int) -> tuple[int | None, bool, np.ndarray]:
    """A ballot's top choice (None for an empty ballot), whether the index picked it among equal
    top scores, and its ``s[a] > s[b]`` boolean matrix."""
    if ballot.scores is not None:
        distinct = sorted(set(ballot.scores))
        level = {value: rank for rank, value in enumerate(distinct)}
        scores = np.array([level[value] for value in ballot.scores], dtype=np.int64)
        top: int | None = int(np.argmax(scores))
        by_index = ballot.scores.count(distinct[-1]) > 1
    else:
        order = ballot.as_ranking()
        scores = np.zeros(m, dtype=np.int64)
        scores[list(order)] = np.arange(m, m - len(order), -1, dtype=np.int64)
        top = order[0] if order else None
        by_index = False
    return top, by_index, scores[:, None] > scores[None, :]


class PairwiseTally:
    """Incremental, mergeable first-choice and head-to-head tally over ``m`` candidates.

    Subclasses add ``result(params)`` (the run-off and Schulze rules) and may narrow
    ``forms``, the ballot forms ``add`` accepts; this class only counts.
    """

    forms: tuple[str, ...] = PAIRWISE_FORMS

    def __init__(self, m: int) -> None:
        if m < 1:
            raise InvalidInput("there are no candidates")
        self.m = m
        self.first: np.ndarray = np.zeros(m, dtype=np.int64)
        self.wins: np.ndarray = np.zeros((m, m), dtype=np.int64)
        self.weights: Counter[Fraction] = Counter()
        self.index_tops = Fraction(0)

    # -- reading the tally -------------------------------------------------------------

    @property
    def exact(self) -> bool:
        """True once the tally holds Fractions (some weight was not a small integer)."""
        return self.wins.dtype == object

    @property
    def ballot_count(self) -> int:
        """Number of ballots held (zero-weight and empty ballots included)."""
        return sum(self.weights.values())

    @property
    def total_weight(self) -> Fraction:
        """Total weight of all ballots held."""
        return sum((weight * count for weight, count in self.weights.items()), Fraction(0))

    @property
    def common_weight(self) -> Fraction | None:
        """The weight every ballot carries when all weights are equal and positive, else None."""
        return common_weight(self.weights)

    def first_counts(self) -> list[Fraction]:
        """First-choice weight per candidate, exact."""
        return [Fraction(value) for value in self.first.tolist()]

    def win_matrix(self) -> list[list[Fraction]]:
        """``W[a][b]``: weight of ballots scoring ``a`` above ``b``, exact."""
        return [[Fraction(value) for value in row] for row in self.wins.tolist()]

    # -- changing the tally ------------------------------------------------------------

    def add(self, ballot: Ballot) -> None:
        """Count one ballot."""
        self._apply(ballot, 1)

    def remove(self, ballot: Ballot) -> None:
        """Take back one ballot counted earlier (a replaced or withdrawn ballot)."""
        self._apply(ballot, -1)

    def add_many(self, ballot: Ballot, times: int) -> None:
        """Count ``times`` copies of one ballot at once (batch tallies group equal ballots)."""
        self._apply(ballot, times)

    def _apply(self, ballot: Ballot, times: int) -> None:
        validate_ballot(ballot, self.m, self.forms, None)  # type: ignore[arg-type]
        weight = ballot.weight
        if times < 0 and self.weights[weight] < -times:
            raise InvalidInput("cannot remove a ballot that is not in the tally")
        if not self.exact and (weight.denominator != 1 or weight > _MAX_INT_WEIGHT):
            self._make_exact()
        delta: int | Fraction = weight * times if self.exact else int(weight) * times
        top, by_index, better = ballot_preference(ballot, self.m)
        first = self.first.copy()
        if top is not None:
            first[top] += delta
        if self.exact:
            wins = self.wins + np.where(better, delta, 0).astype(object)
        else:
            wins = self.wins + better * delta
        if times < 0 and ((first < 0).any() or (wins < 0).any()):
            raise InvalidInput("cannot remove a ballot that is not in the tally")
        self.first, self.wins = first, wins
        if by_index:
            self.index_tops += weight * times
        self.weights[weight] += times
        if self.weights[weight] == 0:
            del self.weights[weight]

    def _make_exact(self) -> None:
        self.first = self.first.astype(object)
        self.wins = self.wins.astype(object)

    def merge(self, other: PairwiseTally) -> Self:
        """A new tally holding the ballots of both (shards counted apart, e.g. per worker)."""
        if not isinstance(other, PairwiseTally) or other.m != self.m:
            raise InvalidInput("can only merge tallies of the same kind over the same candidates")
        merged = type(self)(self.m)
        if self.exact or other.exact:
            merged._make_exact()
            merged.first = self.first.astype(object) + other.first.astype(object)
            merged.wins = self.wins.astype(object) + other.wins.astype(object)
        else:
            merged.first = self.first + other.first
            merged.wins = self.wins + other.wins
        merged.weights = self.weights + other.weights
        merged.index_tops = self.index_tops + other.index_tops
        return merged

    # -- storage -----------------------------------------------------------------------

    def to_state(self) -> dict[str, Any]:
        """A JSON-able snapshot; equal ballots give equal snapshots whatever the order."""
        return {
            "m": self.m,
            "weights": [[exact_number(weight), count] for weight, count in sorted(self.weights.items())],
            "first": [exact_number(value) for value in self.first.tolist()],
            "wins": [[exact_number(value) for value in row] for row in self.wins.tolist()],
            "index_tops": exact_number(self.index_tops),
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Self:
        """Restore a tally from :meth:`to_state`'s snapshot."""
        try:
            m = int(state["m"])
            tally = cls(m)
            weights = Counter({to_fraction(weight, "weight"): int(count) for weight, count in state["weights"]})
            first = [to_fraction(value, "tally") for value in state["first"]]
            wins = [[to_fraction(value, "tally") for value in row] for row in state["wins"]]
            tally.index_tops = to_fraction(state["index_tops"], "tally")
        except (KeyError, TypeError, ValueError) as error:
            raise InvalidInput(f"not a pairwise tally snapshot: {error}") from None
        if len(first) != m or len(wins) != m or any(len(row) != m for row in wins):
            raise InvalidInput("not a pairwise tally snapshot: sizes do not match m")
        if all(weight.denominator == 1 and weight <= _MAX_INT_WEIGHT for weight in weights):
            tally.first = np.array([int(value) for value in first], dtype=np.int64)
            tally.wins = np.array([[int(value) for value in row] for row in wins], dtype=np.int64).reshape(m, m)
        else:
            tally.first = np.array(first, dtype=object)
            tally.wins = np.array(wins, dtype=object).reshape(m, m)
        tally.weights = weights
        return tally

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PairwiseTally):
            return NotImplemented
        return self.to_state() == other.to_state()

    __hash__ = None  # type: ignore[assignment]

    # -- batch and fast paths ----------------------------------------------------------

    @classmethod
    def from_ballots(cls, m: int, ballots: Iterable[Ballot]) -> Self:
        """Tally a batch of ballots, counting equal ballots together (one numpy update each)."""
        tally = cls(m)
        for ballot, times in Counter(ballots).items():
            tally.add_many(ballot, times)
        return tally

    @classmethod
    def from_rankings(cls, m: int, rankings: Any) -> Self:
        """Tally an (n, m) integer array of complete strict rankings (best first), unit weights.

        Rows are encoded as one 64-bit number each (their bytes up to 8 candidates, base m up
        to 15) and counted with ``np.unique``, so the pairwise matrix is built from at most
        ``m!`` distinct rankings; past 15 candidates the positions are compared row by row
        instead. Raises InvalidInput on a bad array.
        """
        array = np.asarray(rankings)
        if array.ndim != 2 or array.shape[1] != m:
            raise InvalidInput(f"rankings must be an (n, {m}) array, got shape {array.shape}")
        if array.shape[0] and not np.issubdtype(array.dtype, np.integer):
            raise InvalidInput(f"rankings must hold candidate indices (integers), got {array.dtype}")
        tally = cls(m)
        n = array.shape[0]
        if n == 0:
            return tally
        check_indices(array, m)
        if m <= 8:
            rows, counts = _distinct_rows_bytes(array, m)
        elif m <= _MAX_ENCODED_M:
            powers = m ** np.arange(m - 1, -1, -1, dtype=np.int64)
            codes, counts = np.unique(array.astype(np.int64, copy=False) @ powers, return_counts=True)
            rows = (codes[:, None] // powers[None, :]) % m
        else:
            rows, counts = array, None
        positions = np.full(rows.shape, -1, dtype=np.int16)
        positions[np.arange(rows.shape[0])[:, None], rows] = np.arange(m, dtype=np.int16)
        if (positions < 0).any():
            raise InvalidInput("every row of rankings must list each candidate exactly once")
        if counts is None:
            tally.first = np.bincount(rows[:, 0], minlength=m).astype(np.int64)
            for a in range(m):
                tally.wins[a] = np.count_nonzero(positions[:, a, None] < positions, axis=0)
        else:
            np.add.at(tally.first, rows[:, 0], counts)
            for a in range(m):
                tally.wins[a] = counts @ (positions[:, a, None] < positions)
        tally.weights = Counter({Fraction(1): n})
        return tally


def check_indices(array: np.ndarray, m: int) -> None:
    """Raise InvalidInput unless every entry of an integer array lies in 0..m-1 (one pass:
    signed entries are read as unsigned, so negatives become huge)."""
    unsigned = array.view(f"u{array.dtype.itemsize}") if np.issubdtype(array.dtype, np.signedinteger) else array
    if int(unsigned.max()) >= m:
        raise InvalidInput(f"rankings must hold candidate indices 0..{m - 1}")


def _distinct_rows_bytes(array: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray]:
    """Distinct rows of an (n, m <= 8) array of indices 0..m-1 and their counts, via 8-byte codes."""
    if m == 8:
        packed = np.ascontiguousarray(array, dtype=np.uint8)
    else:
        packed = np.zeros((array.shape[0], 8), dtype=np.uint8)
        packed[:, :m] = array
    codes, counts = np.unique(packed.view(np.uint64).ravel(), return_counts=True)
    rows = codes.view(np.uint8).reshape(-1, 8)[:, :m].astype(np.int64)
    return rows, counts
