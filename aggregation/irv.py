"""Instant run-off (IRV) over possibly truncated, weighted rankings, with three tie rules (rules-spec §3.1).

Each round every ballot counts for its highest-ranked continuing candidate; a candidate
with more than half of the *active* (non-exhausted) weight wins; otherwise the candidate(s)
with the fewest votes are eliminated. Ties for last place follow ``tie_rule``:

* ``simultaneous``: all tied-last candidates go together; if every continuing candidate
  is tied, they are all tied winners (status ``tie``);
* ``order``: the tied-last candidate that comes first in ``tb_order`` goes (default
  ``0..m-1``). Status ``winner_by_tiebreak`` (and ``tie_break = "order"``) exactly when
  the tie-break decided the winner, i.e. when parallel-universe tie-breaking would give
  more than one winner; a tie among candidates whose order cannot change the winner
  (say, several candidates with no votes) leaves the status ``winner``;
* ``put`` (parallel-universe tie-breaking, the platform default, [SPEC CHOICE]): the
  winners are every candidate that wins under some resolution of every elimination tie;
  more than one is status ``tie``. ``details["order_winner"]`` is then the single winner
  to use when one is mandatory: the ``order`` winner under ``tb_order``.

Reporting: ``tallies`` are the first-round (first-preference) votes; one ``Round`` per
count, following the ``order`` path for ``order`` and ``put`` (the simultaneous path for
``simultaneous``), with ``extra`` = active weight, exhausted weight (non-empty ballots with
no continuing candidate left) and the number of continuing candidates. A ``put`` tie adds a
last round naming the PUT set. ``details`` (candidate indices): ``tie_rule``; for order and
put ``tb_order`` and ``put_winners``; for put ``order_winner``. If the PUT search gives up
after PUT_STATE_LIMIT continuing sets, ``put_winners`` is absent and the tb_order winner is
reported as ``winner_by_tiebreak`` with a warning. Zero ballots, or none of weight > 0 that
ranks anyone, give ``no_ballots``. No certificate (the spec defines none).

The tally is the compressed profile (distinct ranking -> total weight), with numpy arrays
of the distinct rankings for vectorised counting and a cache of per-round counts (keyed by
the continuing set) that add/remove keep current, so a new ballot costs O(rounds x m)
unless it changes the elimination path.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from fractions import Fraction
from functools import lru_cache
from typing import Any

import numpy as np

from aggregation.core import Ballot, InvalidInput, Result, Round
from aggregation.registry import ParamSpec, RuleSpec, check_known_params, register

Weight = int | Fraction

TIE_RULES = ("simultaneous", "order", "put")
FORMS = ("ranking", "choice")
PUT_STATE_LIMIT = 20_000  # continuing sets PUT may visit before it gives up and reports the tb_order winner
CACHE_KEEP = 64  # cached counts kept current on add/remove; a larger cache is dropped instead
CACHE_STORE = 4096  # counts cached during one result() (PUT may visit many continuing sets)
SMALL_PROFILE = 32  # below this many distinct rankings, counting in Python beats numpy
FLOAT_EXACT = 2**53  # float64 sums of integers below this are exact
INT64_SAFE = 2**62
TABLE_MAX_M = 8  # up to this m, complete rankings are counted with one bincount over m! codes
LEHMER_MAX_M = 20  # 20! < 2**63: permutation codes fit in int64


def plain_weight(weight: Fraction) -> Weight:
    """An int when integral (the fast path), else the Fraction."""
    return weight.numerator if weight.denominator == 1 else weight


def weight_text(weight: Weight) -> str:
    """An exact weight as a string: "3" or "1/2"."""
    return str(weight)


def parse_weight_text(text: Any, what: str) -> Weight:
    """Read a weight written by :func:`weight_text`; InvalidInput on anything else or a negative value."""
    if not isinstance(text, str):
        raise InvalidInput(f"tally state: {what} must be a string, not {type(text).__name__}")
    if text.isascii() and text.isdigit():
        return int(text)
    try:
        value = Fraction(text)
    except (ValueError, ZeroDivisionError):
        raise InvalidInput(f"tally state: {what} {text!r} is not an exact number") from None
    if value < 0:
        raise InvalidInput(f"tally state: {what} must not be negative")
    return plain_weight(value)


def ranking_of(ballot: Ballot, m: int) -> tuple[int, ...]:
    """The ballot's ranking (a choice is a ranking of length one), checked against ``m`` candidates."""
    return checked_ranking(ballot.as_ranking(), m)


def checked_ranking(ranking: Sequence[Any], m: int) -> tuple[int, ...]:
    """A ranking as a tuple of candidate indices; InvalidInput unless it names distinct candidates of ``m``."""
    ranking = tuple(ranking)
    if all(type(c) is int for c in ranking) and len(set(ranking)) == len(ranking):
        if all(0 <= c < m for c in ranking):
            return ranking
    for candidate in ranking:
        if isinstance(candidate, bool) or not isinstance(candidate, (int, np.integer)) or not 0 <= candidate < m:
            raise InvalidInput(f"ranking names {candidate!r}, which is not a candidate")
    if len(set(ranking)) != len(ranking):
        raise InvalidInput("ranking names a candidate twice")
    return tuple(int(candidate) for candidate in ranking)


def _members(mask: int, m: int) -> list[int]:
    return [c for c in range(m) if mask >> c & 1]


def _number(value: Weight) -> str:
    return str(plain_weight(Fraction(value)))


def _votes(value: Weight) -> str:
    return f"{_number(value)} vote" + ("" if value == 1 else "s")


# --- complete rankings from a numpy array ---------------------------------------------------------


@lru_cache(maxsize=4)
def _permutation_table(m: int) -> np.ndarray:
    """All m! permutations of 0..m-1 in lexicographic order (row i has Lehmer code i)."""
    return np.array(list(itertools.permutations(range(m))), dtype=np.int8).reshape(-1, m)


def _lehmer_codes(array: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray]:
    """Each row's lexicographic permutation rank, and the bitmask of the values it holds."""
    n = array.shape[0]
    columns = np.ascontiguousarray(array.T).astype(np.int16 if m <= 15 else np.int32)
    used = np.zeros(n, columns.dtype)
    bits = np.empty(n, columns.dtype)
    lower = np.empty(n, columns.dtype)
    code = np.zeros(n, np.int32 if m <= 12 else np.int64)
    for i in range(m):
        column = columns[i]
        np.left_shift(1, column, out=bits)
        np.subtract(bits, 1, out=lower)
        np.bitwise_and(lower, used, out=lower)
        smaller_used = np.bitwise_count(lower)
        np.bitwise_or(used, bits, out=used)
        code *= m - i
        code += column
        code -= smaller_used
    return code, used


def compress_rankings(m: int, array: Any) -> tuple[np.ndarray, np.ndarray]:
    """The distinct rows of an (n, m) array of complete strict rankings, and how often each occurs.

    Every row must be a permutation of 0..m-1 (InvalidInput otherwise). Rows are encoded
    as permutation ranks (Lehmer codes) and counted with one bincount when m! is small.
    """
    rows = np.asarray(array)
    if rows.ndim != 2 or rows.shape[1] != m:
        raise InvalidInput(f"rankings must be an (n, {m}) array, got shape {rows.shape}")
    if rows.dtype.kind not in "iu":
        raise InvalidInput(f"rankings must be an integer array, got {rows.dtype}")
    if rows.shape[0] == 0:
        return np.empty((0, m), np.int16), np.empty(0, np.int64)
    if int(rows.min()) < 0 or int(rows.max()) >= m:
        raise InvalidInput(f"rankings must hold candidate indices 0..{m - 1}")
    complete = "rankings must be complete strict rankings: every row a permutation of the candidates"
    if m > LEHMER_MAX_M:
        distinct, counts = np.unique(rows, axis=0, return_counts=True)
        if not (np.sort(distinct, axis=1) == np.arange(m)).all():
            raise InvalidInput(complete)
        return distinct, counts.astype(np.int64)
    codes, used = _lehmer_codes(rows, m)
    if not (used == (1 << m) - 1).all():
        raise InvalidInput(complete)
    if m <= TABLE_MAX_M:
        counts = np.bincount(codes, minlength=math.factorial(m))
        present = np.flatnonzero(counts)
        return _permutation_table(m)[present], counts[present].astype(np.int64)
    _, first, counts = np.unique(codes, return_index=True, return_counts=True)
    return rows[first], counts.astype(np.int64)


def weighted_bincount(index: np.ndarray, weights: np.ndarray, total: int, bins: int) -> list[int]:
    """Exact integer sums of int64 ``weights`` per ``index`` value (float64 bincount while it is exact)."""
    if total < FLOAT_EXACT:
        sums = np.bincount(index, weights=weights, minlength=bins)
        return [int(x) for x in np.rint(sums).astype(np.int64)]
    return [int(weights[index == b].sum()) for b in range(bins)]


# --- the tally ---------------------------------------------------------------------------------------


class _Arrays:
    """The distinct rankings as a padded (u, m) array (sentinel m after the last ranked) with scaled counts."""

    __slots__ = ("rankings", "counts", "scale", "total", "rows")

    def __init__(self, rankings: np.ndarray, counts: np.ndarray, scale: int, total: int) -> None:
        self.rankings = rankings
        self.counts = counts
        self.scale = scale
        self.total = total
        self.rows: dict[tuple[int, ...], int] | None = None

    @classmethod
    def build(cls, profile: dict[tuple[int, ...], Weight], m: int) -> _Arrays | None:
        """Arrays of a profile, or None when scaled integer counts would not fit in int64."""
        keys = list(profile)
        scale = math.lcm(*(Fraction(w).denominator for w in profile.values())) if profile else 1
        scaled = [int(w * scale) for w in profile.values()]
        total = sum(scaled)
        if total >= INT64_SAFE:
            return None
        padding = [(m,) * (m - length) for length in range(m + 1)]
        rankings = np.array([key + padding[len(key)] for key in keys], dtype=np.int16).reshape(len(keys), m)
        arrays = cls(rankings, np.array(scaled, dtype=np.int64), scale, total)
        arrays.rows = {key: row for row, key in enumerate(keys)}
        return arrays

    def update(self, key: tuple[int, ...], change: Weight) -> bool:
        """Apply a weight change in place; False when the arrays cannot represent it (rebuild when next needed).

        Arrays made by the fast path have no row index (building one costs more than a rebuild
        that only a changed elimination path needs), so they are dropped on the first update.
        """
        scaled = change * self.scale
        if self.rows is None or Fraction(scaled).denominator != 1 or self.total + scaled >= INT64_SAFE:
            return False
        row = self.rows.get(key)
        if row is None:
            return False
        self.counts[row] += int(scaled)
        self.total += int(scaled)
        return True

    def count(self, mask: int, m: int) -> tuple[list[Weight], Weight]:
        """Votes per candidate and inactive weight when ``mask`` is the continuing set."""
        alive = np.zeros(m + 1, dtype=bool)
        alive[_members(mask, m)] = True
        positions = alive[self.rankings].argmax(axis=1)
        top = self.rankings[np.arange(len(positions)), positions]
        top = np.where(alive[top], top, m)
        sums = weighted_bincount(top, self.counts, self.total, m + 1)
        if self.scale == 1:
            return sums[:m], sums[m]
        return [plain_weight(Fraction(s, self.scale)) for s in sums[:m]], plain_weight(Fraction(sums[m], self.scale))


class IrvTally:
    """Incremental IRV tally: distinct ranking -> total weight, plus caches that add/remove keep current."""

    def __init__(self, m: int) -> None:
        self.m = m
        self.total: Weight = 0
        self._profile: dict[tuple[int, ...], Weight] = {}
        self._fast: tuple[np.ndarray, np.ndarray] | None = None  # from_rankings output, until the dict is needed
        self._cache: dict[int, list[Any]] = {}  # continuing mask -> [votes per candidate, active weight]
        self._arrays: _Arrays | None = None

    @property
    def profile(self) -> dict[tuple[int, ...], Weight]:
        """Distinct ranking -> total weight (built on first use after the fast path)."""
        if self._fast is not None:
            distinct, counts = self._fast
            self._profile = dict(zip(map(tuple, distinct.tolist()), counts.tolist(), strict=True))
            self._fast = None
        return self._profile

    @classmethod
    def from_rankings(cls, m: int, array: Any) -> IrvTally:
        """A tally of an (n, m) array of complete strict rankings with unit weights (the fast path).

        The ranking -> weight dict is only built when first needed (an add, a state, a merge):
        counting runs on the arrays, and 8! Python tuples would cost more than the whole count.
        """
        distinct, counts = compress_rankings(m, array)
        tally = cls(m)
        tally.total = int(counts.sum())
        if len(distinct):
            tally._fast = (distinct, counts)
            tally._arrays = _Arrays(distinct, counts, 1, tally.total)
        return tally

    def _distinct(self) -> int:
        return len(self._fast[0]) if self._fast is not None else len(self._profile)

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> IrvTally:
        """Restore a tally from :meth:`to_state` output; InvalidInput on a malformed state."""
        if not isinstance(state, dict) or not isinstance(state.get("m"), int) or state["m"] < 1:
            raise InvalidInput("tally state must be an object with a positive candidate count m")
        tally = cls(state["m"])
        entries = state.get("profile")
        if not isinstance(entries, list):
            raise InvalidInput("tally state: profile must be a list of [ranking, weight] pairs")
        for entry in entries:
            if not isinstance(entry, list) or len(entry) != 2 or not isinstance(entry[0], list):
                raise InvalidInput("tally state: profile must be a list of [ranking, weight] pairs")
            key = checked_ranking(entry[0], tally.m)
            weight = parse_weight_text(entry[1], "weight")
            if key in tally._profile:
                raise InvalidInput("tally state: a ranking is listed twice")
            if weight:
                tally._profile[key] = weight
                tally.total += weight
        return tally

    def to_state(self) -> dict[str, Any]:
        """JSON-able snapshot: m and [ranking, exact weight string] pairs in a canonical order."""
        pairs = sorted(self.profile.items())
        return {"m": self.m, "profile": [[list(key), weight_text(weight)] for key, weight in pairs]}

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, IrvTally):
            return NotImplemented
        return self.m == other.m and self.profile == other.profile

    __hash__ = None  # type: ignore[assignment]

    def add(self, ballot: Ballot) -> None:
        """Count one more ballot."""
        self._change(ranking_of(ballot, self.m), plain_weight(ballot.weight))

    def remove(self, ballot: Ballot) -> None:
        """Take back a ballot counted before (a replaced or withdrawn ballot)."""
        key = ranking_of(ballot, self.m)
        weight = plain_weight(ballot.weight)
        if weight and self.profile.get(key, 0) < weight:
            raise InvalidInput("cannot remove a ballot that this tally does not hold")
        self._change(key, -weight)

    def merge(self, other: IrvTally) -> IrvTally:
        """A new tally holding both tallies' ballots."""
        if not isinstance(other, IrvTally) or other.m != self.m:
            raise InvalidInput("can only merge IRV tallies over the same candidates")
        merged = IrvTally(self.m)
        merged._profile = dict(self.profile)
        for key, weight in other.profile.items():
            merged._profile[key] = merged._profile.get(key, 0) + weight
        merged.total = self.total + other.total
        return merged

    def _change(self, key: tuple[int, ...], change: Weight) -> None:
        if change == 0:
            return
        profile = self.profile
        weight = profile.get(key, 0) + change
        if weight:
            profile[key] = weight
        else:
            del profile[key]
        self.total += change
        if len(self._cache) > CACHE_KEEP:
            self._cache.clear()
        for mask, entry in self._cache.items():
            for candidate in key:
                if mask >> candidate & 1:
                    entry[0][candidate] += change
                    entry[1] += change
                    break
        if self._arrays is not None and not self._arrays.update(key, change):
            self._arrays = None

    def count(self, mask: int) -> list[Any]:
        """[votes per candidate, active weight] when ``mask`` (bit c = candidate c) is the continuing set."""
        entry = self._cache.get(mask)
        if entry is not None:
            return entry
        large = self._distinct() > SMALL_PROFILE
        if large and self._arrays is None:
            self._arrays = _Arrays.build(self.profile, self.m)
        if large and self._arrays is not None:
            votes, inactive = self._arrays.count(mask, self.m)
            entry = [votes, self.total - inactive]
        else:
            votes = [0] * self.m
            active: Weight = 0
            for key, weight in self.profile.items():
                for candidate in key:
                    if mask >> candidate & 1:
                        votes[candidate] += weight
                        active += weight
                        break
            entry = [votes, active]
        if len(self._cache) < CACHE_STORE:
            self._cache[mask] = entry
        return entry

    def result(self, params: dict[str, Any]) -> Result:
        """The IRV result of the ballots held, under (normalized or raw) ``params``."""
        empty = 0 if self._fast is not None else self._profile.get((), 0)
        return run_irv(self.m, self.count, empty, self.total, normalize_params(params, self.m))


# --- the rule ---------------------------------------------------------------------------------------


def _path(
    count: Callable[[int], list[Any]], m: int, simultaneous: bool, rank: list[int], nonempty: Weight
) -> tuple[list[int], list[Round], bool]:
    """Run the counts with one tie rule; returns winners, rounds and whether tb_order broke a tie."""
    alive = (1 << m) - 1
    rounds: list[Round] = []
    broke_tie = False
    while True:
        votes, active = count(alive)
        candidates = _members(alive, m)
        tallies = {c: Fraction(votes[c]) for c in candidates}
        extra = {"active": Fraction(active), "exhausted": Fraction(nonempty - active), "continuing": len(candidates)}
        name = f"Round {len(rounds) + 1}"
        standing = f" Active votes: {_number(active)}; on exhausted ballots: {_number(nonempty - active)}."
        leader = max(candidates, key=lambda c: tallies[c])
        if 2 * tallies[leader] > active:
            note = f"The leader has a majority: {_votes(tallies[leader])} of {_number(active)} active, and wins."
            rounds.append(Round(name, note, tallies, winners=[leader], extra=extra))
            return [leader], rounds, broke_tie
        if len(candidates) == 1:
            note = "One candidate is left, and wins." + standing
            rounds.append(Round(name, note, tallies, winners=candidates, extra=extra))
            return candidates, rounds, broke_tie
        fewest = min(tallies.values())
        tied = [c for c in candidates if tallies[c] == fewest]
        if simultaneous and len(tied) == len(candidates):
            note = f"All {len(candidates)} candidates left are tied with {_votes(fewest)} each: a tie." + standing
            rounds.append(Round(name, note, tallies, winners=candidates, extra=extra))
            return candidates, rounds, broke_tie
        if len(tied) == 1:
            out = tied
            note = f"The candidate with the fewest votes ({_number(fewest)}) is eliminated"
        elif simultaneous:
            out = tied
            note = f"{len(tied)} candidates tie for the fewest votes ({_number(fewest)}) and are eliminated together"
        else:
            out = [min(tied, key=rank.__getitem__)]
            broke_tie = True
            note = (
                f"{len(tied)} candidates tie for the fewest votes ({_number(fewest)}); "
                "the one that comes first in the tie-break order is eliminated"
            )
        rounds.append(Round(name, note + "." + standing, tallies, eliminated=out, extra=extra))
        for candidate in out:
            alive &= ~(1 << candidate)


class _TooManyStates(Exception):
    """Parallel-universe tie-breaking visited more continuing sets than PUT_STATE_LIMIT."""


def put_winners(count: Callable[[int], list[Any]], m: int, limit: int = PUT_STATE_LIMIT) -> int | None:
    """Bitmask of every candidate that wins under some resolution of the elimination ties, or None past ``limit``.

    As pref-voting's ``instant_runoff_put``: a majority of the active votes wins; candidates
    with no votes go first (every order eliminates them first); otherwise branch on each
    tied-last candidate. Continuing sets are memoized, and a set whose members have all
    been found winners already is skipped.

    One more shortcut keeps ties among many weak candidates tractable: when eliminating any
    one of the tied-last candidates moves none of its ballots to another of them, every
    order eliminates the whole group (their tallies stay at the minimum while everyone
    else's only grow), so the search jumps to the set without them. A majority reached on
    the way is the same in every order: tallies only grow and the active weight only
    shrinks, so it still holds once the whole group is gone, and two candidates cannot both
    hold one. If nobody else is left, each of them can be the last one standing.
    """
    found = 0
    seen: set[int] = set()

    def moves_within(tied: list[int], alive: int, fewest: Weight) -> bool:
        """Whether eliminating some tied candidate raises another tied candidate's tally."""
        for out in tied:
            votes = count(alive & ~(1 << out))[0]
            if any(votes[other] != fewest for other in tied if other != out):
                return True
        return False

    def visit(alive: int) -> None:
        nonlocal found
        if alive in seen or alive & ~found == 0:
            return
        seen.add(alive)
        if len(seen) > limit:
            raise _TooManyStates
        if alive & (alive - 1) == 0:
            found |= alive
            return
        votes, active = count(alive)
        candidates = _members(alive, m)
        leader = max(candidates, key=lambda c: votes[c])
        if 2 * votes[leader] > active:
            found |= 1 << leader
            return
        positive = [c for c in candidates if votes[c] > 0]
        if not positive:
            found |= alive
            return
        rest = sum(1 << c for c in positive)
        fewest = min(votes[c] for c in positive)
        tied = [c for c in positive if votes[c] == fewest]
        if len(tied) > 1 and not moves_within(tied, rest, fewest):
            group = sum(1 << c for c in tied)
            if rest == group:
                found |= group
            else:
                visit(rest & ~group)
            return
        for candidate in tied:
            visit(rest & ~(1 << candidate))

    try:
        visit((1 << m) - 1)
    except _TooManyStates:
        return None
    return found


def run_irv(m: int, count: Callable[[int], list[Any]], empty: Weight, total: Weight, params: dict[str, Any]) -> Result:
    """IRV from a counting function (continuing mask -> [votes, active]); ``params`` normalized."""
    tie_rule = params["tie_rule"]
    tb_order = list(params["tb_order"])
    first_votes, first_active = count((1 << m) - 1)
    details: dict[str, Any] = {"tie_rule": tie_rule}
    if tie_rule != "simultaneous":
        details["tb_order"] = tb_order
    if first_active == 0:
        note = "No ballot ranks any candidate." if total else "No ballots."
        return Result("irv", "no_ballots", [], rounds=[Round("No ballots", note)], details=details)
    first = {c: Fraction(first_votes[c]) for c in range(m)}
    nonempty = total - empty
    rank = [0] * m
    for position, candidate in enumerate(tb_order):
        rank[candidate] = position
    winners, rounds, broke_tie = _path(count, m, tie_rule == "simultaneous", rank, nonempty)
    if tie_rule == "simultaneous":
        status = "winner" if len(winners) == 1 else "tie"
        return Result("irv", status, winners, tallies=first, rounds=rounds, details=details)
    order_winner = winners[0]
    put = put_winners(count, m, PUT_STATE_LIMIT) if broke_tie else 1 << order_winner
    warnings: list[str] = []
    if put is None:
        warnings.append(
            f"Parallel-universe tie-breaking stopped after {PUT_STATE_LIMIT} elimination states; "
            "the result uses tb_order."
        )
    else:
        details["put_winners"] = _members(put, m)
    if tie_rule == "put":
        details["order_winner"] = order_winner
    if put is not None and put & (put - 1) == 0:
        return Result("irv", "winner", [order_winner], tallies=first, rounds=rounds, details=details)
    if tie_rule == "order" or put is None:
        return Result(
            "irv",
            "winner_by_tiebreak",
            [order_winner],
            tallies=first,
            rounds=rounds,
            tie_break="order",
            details=details,
            warnings=warnings,
        )
    tied = _members(put, m)
    note = (
        f"Parallel-universe tie-breaking: each of these {len(tied)} candidates wins under some order of "
        "eliminating the candidates tied for the fewest votes, so the result is a tie. Where one winner "
        "is required, the tie-break order decides: the rounds above follow it."
    )
    rounds.append(Round("Parallel universes", note, winners=tied))
    return Result("irv", "tie", tied, tallies=first, rounds=rounds, details=details)


PARAMS = {
    "tie_rule": ParamSpec(
        "put",
        "How a tie for last place is broken: 'put' (every candidate that wins under some order of "
        "eliminating the tied candidates; more than one is a tie), 'order' (eliminate the tied "
        "candidate that comes first in tb_order) or 'simultaneous' (eliminate all tied candidates together).",
    ),
    "tb_order": ParamSpec(
        None,
        "Elimination order for ties, every candidate once, first eliminated first; "
        "default: the candidates' order (the first candidate goes first).",
    ),
}


def normalize_params(params: dict[str, Any], m: int) -> dict[str, Any]:
    """Fill defaults and check tie_rule and tb_order; InvalidInput on an unknown or bad parameter."""
    filled = check_known_params("irv", params, PARAMS)
    tie_rule = filled["tie_rule"]
    if tie_rule not in TIE_RULES:
        raise InvalidInput(f"parameter tie_rule must be one of {', '.join(TIE_RULES)}; got {tie_rule!r}")
    order = filled["tb_order"]
    if order is None:
        order = list(range(m))
    if not isinstance(order, (list, tuple)) or any(
        isinstance(c, bool) or not isinstance(c, (int, np.integer)) for c in order
    ):
        raise InvalidInput("parameter tb_order must be a list of candidates")
    if sorted(int(c) for c in order) != list(range(m)):
        raise InvalidInput("parameter tb_order must name every candidate exactly once")
    return {"tie_rule": tie_rule, "tb_order": [int(c) for c in order]}


def compute(m: int, ballots: Sequence[Ballot], params: dict[str, Any]) -> Result:
    """Batch IRV: tally the ballots, then count."""
    tally = IrvTally(m)
    for ballot in ballots:
        tally.add(ballot)
    return tally.result(params)


SPEC = register(
    RuleSpec(
        name="irv",
        title="Instant run-off",
        description=(
            "Voters rank the options. Each round counts every ballot for its highest-ranked option "
            "still in the race; an option with more than half of these votes wins, otherwise the "
            "option with the fewest votes is eliminated and its ballots move on."
        ),
        ballot_forms=FORMS,
        params=PARAMS,
        normalize_params=normalize_params,
        compute=compute,
        new_tally=IrvTally,
        tally_from_state=IrvTally.from_state,
        tally_from_rankings=IrvTally.from_rankings,
    )
)
