"""Uniform Phantom (rules-spec §4.1) and independent markets (§4.2–§4.3), exact and incremental.

``uniform_phantom`` aggregates numeric reports on a range [lo, hi] into one number: the
median of the reports and fixed phantoms lo + k(hi − lo)/W, k = 1..W−1, where W is the
number of reporters (integer weights count as that many identical reporters). It is
strategyproof for single-peaked preferences and proportional. ``independent_markets``
splits a budget: each candidate gets the median of the voters' shares and n+1 moving
phantoms min(t(n − k), 1), at the one t where the shares sum to exactly the budget.
Everything is exact (Fractions); floats in a numpy array mean their shortest decimal,
as :func:`aggregation.core.to_fraction` reads a JSON number.

Choices where the spec is silent: lo and hi default to 0 and 1, total defaults to 1;
normalized params keep numbers JSON-able (int or "p/q"); a result with an outcome or an
allocation has status "winner" and no winners; weights must be whole numbers (w = w
identical voters); the plain median of an even number of reports is the midpoint.
"""

from __future__ import annotations

import bisect
import itertools
import math
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from fractions import Fraction
from typing import Any

import numpy as np

from aggregation.core import Ballot, InvalidInput, Result, Round, to_fraction
from aggregation.registry import ParamSpec, RuleSpec, check_known_params, register

# ---------------------------------------------------------------------------------------
# Exact values of float arrays: a float stands for its shortest decimal (repr), e.g. 0.1 = 1/10.

_POW10 = np.array([float(10**k) for k in range(23)])  # exact in float64 up to 10**22
_SPLIT = 134217729.0  # 2**27 + 1: Veltkamp's splitter, for Dekker's exact product
_E_MIN, _E_MAX = -16, 50  # binary exponents (np.frexp) the vectorised path handles
_LOG10_2 = 0.30102999566398120
_MARGIN = 1e-6  # float estimates this close to a rounding boundary go to the exact slow path
_LIMB = (1 << 28) - 1
_CHUNK = 1 << 14  # elements per vectorised step: temporaries stay in cache
_PARALLEL_MIN = 1 << 17  # from this many reports, two threads share the exact sum


def _dec(x: float) -> Fraction:
    """The exact value a float stands for: its shortest round-tripping decimal."""
    return Fraction(repr(float(x)))


def _decimal_digits(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For finite floats: (D, k, slow) with shortest decimal of x == D / 10**k wherever not slow.

    K is the largest power with |x|·10**K < 2**50; there the one K-decimal in x's rounding
    interval is found exactly in float arithmetic. Longer decimals (16–17 digits) come from
    the exact product x·10**(K+2) (Dekker): the nearest K+1 decimal if it rounds back to x,
    else the nearest K+2 decimal (17 digits always do). Near-ties are flagged ``slow``.
    """
    mant, e2 = np.frexp(x)
    slow = (e2 < _E_MIN) | (e2 > _E_MAX)
    e2 = np.clip(e2, _E_MIN, _E_MAX)
    kk = ((50 - e2) * _LOG10_2).astype(np.int64)  # K or K − 1
    scale = _POW10.take(kk)
    up = np.abs(x) * (scale * 10) < 2.0**50
    kk += up
    scale *= 1 + 9 * up  # 10**K, exactly
    n_short = np.rint(x * scale)
    short = n_short / scale == x
    if short.all():
        return n_short.astype(np.int64), kk, slow
    k2 = kk + 2
    p = scale * 100  # 10**(K+2), exactly (K + 2 <= 22)
    big = x * _SPLIT
    xh = big - (big - x)
    xl = x - xh
    big = p * _SPLIT
    ph = big - (big - p)
    pl = p - ph
    hi = x * p
    lo = ((xh * ph - hi) + xh * pl + xl * ph) + xl * pl
    r = np.rint(hi)
    f = (hi - r) + lo
    d = np.rint(f)
    phi = f - d  # y − N17 where y = x·10**(K+2), up to ~1e-16
    n17 = r.astype(np.int64) + d.astype(np.int64)
    q = n17 // 10
    t16 = (n17 - q * 10) + phi
    step = (q + (t16 > 5)) * 10 - n17  # 10·N16 − N17: N16 is the nearest K+1 decimal
    off16 = np.abs(step - phi)
    half = np.ldexp(p, e2 - 54)  # half an ulp of x, times 10**(K+2)
    off17 = np.abs(phi)
    unsure = off17 > 0.5 - _MARGIN
    unsure |= off17 > half - _MARGIN  # N17 must round back to x (always, unless K came out one short)
    unsure |= np.abs(t16 - 5) < _MARGIN
    unsure |= np.abs(off16 - half) < _MARGIN
    unsure |= np.abs(mant) == 0.5  # a power of two has a narrower lower half-gap
    slow |= unsure & ~short
    digits = n17 + (off16 < half) * step
    if short.any():
        digits[short] = n_short[short].astype(np.int64) * 100
    return digits, k2, slow


def _decimal_sum(values: np.ndarray) -> Fraction:
    """Exact sum of a float64 array, each float read as its shortest decimal (vectorised).

    Large arrays are split between this thread and one short-lived helper thread (numpy
    releases the GIL in its loops); a fresh thread per call stays safe in forked workers.
    """
    if len(values) < _PARALLEL_MIN:
        return _decimal_sum_part(values)
    middle = len(values) // 2
    outcome: list[Fraction | BaseException] = []

    def run() -> None:
        try:
            outcome.append(_decimal_sum_part(values[middle:]))
        except BaseException as error:  # handed to the calling thread below
            outcome.append(error)

    helper = threading.Thread(target=run, name="plenum-decimal-sum", daemon=True)
    helper.start()
    first = _decimal_sum_part(values[:middle])
    helper.join()
    second = outcome[0]
    if isinstance(second, BaseException):
        raise second
    return first + second


def _decimal_sum_part(values: np.ndarray) -> Fraction:
    """Exact decimal sum of one slice, chunk by chunk."""
    total = Fraction(0)
    acc: Counter[int] = Counter()  # power of ten -> summed digits
    for start in range(0, len(values), _CHUNK):
        x = values[start : start + _CHUNK]
        with np.errstate(all="ignore"):  # out-of-range elements are flagged slow and recomputed
            digits, power, slow = _decimal_digits(x)
        if slow.any():
            whole = slow & (np.abs(x) <= 2.0**53) & (x == np.rint(x))  # an integer's decimal is itself
            digits[whole] = x[whole].astype(np.int64)
            power[whole] = 0
            slow &= ~whole
            for i in np.flatnonzero(slow):
                total += _dec(x[i])
            digits[slow] = 0
        top = int(power.max())
        high = np.bincount(power, weights=(digits >> 28).astype(np.float64), minlength=top + 1)
        low = np.bincount(power, weights=(digits & _LIMB).astype(np.float64), minlength=top + 1)
        for k in np.flatnonzero(high.astype(bool) | low.astype(bool)):
            acc[int(k)] += (int(high[k]) << 28) + int(low[k])
    if acc:
        top = max(acc)
        total += Fraction(sum(s * 10 ** (top - k) for k, s in acc.items()), 10**top)
    return total


def _as_float(value: Fraction) -> float | None:
    """The float whose shortest decimal is exactly ``value``, or None if there is none."""
    try:
        candidate = float(value)
    except OverflowError:
        return None
    return candidate + 0.0 if _dec(candidate) == value else None


def _show(value: Fraction) -> str:
    """A number for a message: exact decimal when it terminates, else p/q."""
    value = Fraction(value)
    if value.denominator == 1:
        return str(value.numerator)
    rest = value.denominator
    for prime in (2, 5):
        while rest % prime == 0:
            rest //= prime
    if rest == 1:
        text = repr(float(value))
        if _dec(float(value)) == value and "e" not in text:
            return text
    return f"{value.numerator}/{value.denominator}"


def _param(value: Fraction) -> int | str:
    """An exact number in the JSON-able form params use: an int, or a "p/q" string."""
    return value.numerator if value.denominator == 1 else f"{value.numerator}/{value.denominator}"


def _ordinal(number: int) -> str:
    """1st, 2nd, 3rd, 4th, ..., 11th, 12th, 13th, 21st, ..."""
    suffix = "th" if 10 <= number % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")
    return f"{number}{suffix}"


def _multiplicity(weight: Fraction, index: int | None = None) -> int:
    """A weight as a number of identical reporters; these rules define only whole weights."""
    if Fraction(weight).denominator != 1 or weight < 0:
        raise InvalidInput(
            f"weight {_show(weight)} is not a whole number; this rule counts a weight of w as w identical voters", index
        )
    return int(weight)


# ---------------------------------------------------------------------------------------
# Uniform Phantom (§4.1)

UPM = "uniform_phantom"
UPM_PARAMS = {
    "lo": ParamSpec(0, "Lower end of the range the outcome lies in (a number or 'p/q')."),
    "hi": ParamSpec(1, "Upper end of the range (at least lo). Phantoms sit at lo + k(hi − lo)/n."),
    "out_of_range": ParamSpec(
        "clamp",
        "What a report outside [lo, hi] does: 'clamp' (counts as the nearest end) or 'reject' (the ballot is refused).",
    ),
}


def normalize_upm_params(params: dict[str, Any], m: int) -> dict[str, Any]:
    """Fill defaults and check lo <= hi; numbers stay JSON-able (int or "p/q")."""
    filled = check_known_params(UPM, params, UPM_PARAMS)
    lo = to_fraction(filled["lo"], "parameter lo")
    hi = to_fraction(filled["hi"], "parameter hi")
    if hi < lo:
        raise InvalidInput(f"parameter hi ({_show(hi)}) must not be below lo ({_show(lo)})")
    mode = filled["out_of_range"]
    if mode not in ("clamp", "reject"):
        raise InvalidInput(f"parameter out_of_range must be 'clamp' or 'reject', not {mode!r}")
    return {"lo": _param(lo), "hi": _param(hi), "out_of_range": mode}


def check_upm_ballot(ballot: Ballot, m: int, params: dict[str, Any], index: int) -> None:
    """Refuse a fractional weight, and a value outside [lo, hi] when out_of_range is 'reject'."""
    _multiplicity(ballot.weight, index)
    value = ballot.value
    if value is None:
        raise InvalidInput("a value ballot has no value", index)
    lo, hi = Fraction(params["lo"]), Fraction(params["hi"])
    if params["out_of_range"] == "reject" and not lo <= value <= hi:
        raise InvalidInput(f"value {_show(value)} is outside the range [{_show(lo)}, {_show(hi)}]", index)


class ValueTally:
    """The multiset of reports, built for O(log n) updates and O(log² n) results.

    Reports that are floats' shortest decimals live in ``_base``, a sorted float64 array
    (float order is the order of those decimals). Other values and recent changes are
    pending: sorted exact ``_keys`` with net counts ``_counts`` (negative for reports taken
    out of the array) and their nearest floats ``_near`` for quick search; they are folded
    into the array every O(√n) changes. Exact clamped sums per (lo, hi) are cached and kept
    current, so the mean costs nothing per update.
    """

    def __init__(self) -> None:
        self._base = np.empty(0, dtype=np.float64)
        self._keys: list[Fraction] = []
        self._counts: list[int] = []
        self._near: list[float] = []
        self._total = 0
        self._ballots = 0
        self._sums: list[list[Fraction]] = []  # [lo, hi, clamped sum]
        self._next_fold = 64

    # -- building -------------------------------------------------------------------------

    @classmethod
    def from_values(cls, values: Any) -> ValueTally:
        """A tally of unit-weight reports from a 1-D numeric array (floats mean their shortest decimal)."""
        array = np.asarray(values)
        if array.ndim != 1:
            raise InvalidInput(f"reports must be a 1-D array, got {array.ndim} dimensions")
        tally = cls()
        if array.dtype.kind == "f":
            array = array.astype(np.float64, copy=False)
            finite = np.isfinite(array)
            if not finite.all():
                bad = int(np.argmin(finite))
                raise InvalidInput(f"value {array[bad]} is not a finite number", bad)
            tally._base = np.sort(array) + 0.0  # + 0.0 turns -0.0 into 0.0
        elif array.dtype.kind in "iu" and (array.size == 0 or max(-int(array.min()), int(array.max())) <= 2**53):
            tally._base = np.sort(array).astype(np.float64)
        elif array.dtype.kind in "iuO":
            counts = Counter(to_fraction(v, "value", i) for i, v in enumerate(array.tolist()))
            tally = cls._from_counts(counts)
        else:
            raise InvalidInput(f"reports must be numbers, not {array.dtype}")
        tally._total = tally._ballots = int(array.size)
        tally._next_fold = len(tally._keys) + tally._fold_step()
        return tally

    @classmethod
    def _from_counts(cls, counts: Counter[Fraction]) -> ValueTally:
        """A tally holding each value ``count`` times (batch build; no ballot count)."""
        tally = cls()
        floats: list[float] = []
        repeats: list[int] = []
        pending: dict[Fraction, int] = {}
        for value, count in counts.items():
            if count <= 0:
                continue
            as_float = _as_float(value)
            if as_float is None:
                pending[value] = count
            else:
                floats.append(as_float)
                repeats.append(count)
            tally._total += count
        tally._set_pending(pending)
        tally._base = np.sort(np.repeat(np.array(floats, dtype=np.float64), repeats))
        return tally

    @classmethod
    def from_ballots(cls, ballots: Iterable[Ballot]) -> ValueTally:
        """A tally of value ballots (batch)."""
        counts: Counter[Fraction] = Counter()
        n = 0
        for index, ballot in enumerate(ballots):
            n += 1
            weight = _multiplicity(ballot.weight, index)
            if ballot.value is None:
                raise InvalidInput("a value ballot has no value", index)
            if weight:
                counts[ballot.value] += weight
        tally = cls._from_counts(counts)
        tally._ballots = n
        tally._next_fold = len(tally._keys) + tally._fold_step()
        return tally

    # -- the Tally protocol ---------------------------------------------------------------

    def add(self, ballot: Ballot) -> None:
        """Count one more value ballot (weight w = w identical reports)."""
        weight = _multiplicity(ballot.weight)
        if ballot.value is None:
            raise InvalidInput("a value ballot has no value")
        self._change(ballot.value, weight)
        self._ballots += 1

    def remove(self, ballot: Ballot) -> None:
        """Take back a value ballot that was added before."""
        weight = _multiplicity(ballot.weight)
        if ballot.value is None:
            raise InvalidInput("a value ballot has no value")
        if self._ballots < 1:
            raise InvalidInput("cannot remove a ballot from an empty tally")
        self._change(ballot.value, -weight)
        self._ballots -= 1

    def merge(self, other: ValueTally) -> ValueTally:
        """A new tally holding the reports of both."""
        if not isinstance(other, ValueTally):
            raise TypeError("can only merge a uniform_phantom tally with another")
        merged = ValueTally()
        merged._base = np.sort(np.concatenate([self._base, other._base]))
        pending = self._pending()
        for value, count in other._pending().items():
            pending[value] = pending.get(value, 0) + count
        merged._set_pending({value: count for value, count in pending.items() if count})
        merged._total = self._total + other._total
        merged._ballots = self._ballots + other._ballots
        merged._next_fold = len(merged._keys) + merged._fold_step()
        return merged

    def to_state(self) -> dict[str, Any]:
        """JSON-able snapshot: the distinct float reports (standing for their shortest decimals) with their
        counts, and other exact values; its size follows the distinct values, not the reports."""
        self._fold(force=True)
        floats, counts = np.unique(self._base, return_counts=True)
        return {
            "rule": UPM,
            "ballots": self._ballots,
            "floats": floats.tolist(),
            "float_counts": counts.tolist(),
            "exact": [[str(value), count] for value, count in zip(self._keys, self._counts, strict=True)],
        }

    def distinct_reports(self) -> list[tuple[Fraction, int]]:
        """Each distinct report with how many times it is held (weights count as repeats), in value order."""
        state = self.to_state()
        held = Counter({Fraction(text): int(count) for text, count in state["exact"]})
        for value, count in zip(state["floats"], state["float_counts"], strict=True):
            held[Fraction(repr(value))] += int(count)
        return sorted(held.items())

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> ValueTally:
        """Restore a tally from :meth:`to_state`."""
        try:
            if state["rule"] != UPM:
                raise ValueError("wrong rule")
            distinct = np.array(state["floats"], dtype=np.float64).reshape(-1)
            repeats = np.array(state["float_counts"], dtype=np.int64).reshape(-1)
            if distinct.shape != repeats.shape or (repeats <= 0).any():
                raise ValueError("float counts do not match")
            floats = np.repeat(distinct, repeats)
            exact = {Fraction(text): int(count) for text, count in state["exact"]}
            ballots = int(state["ballots"])
        except (KeyError, TypeError, ValueError, ZeroDivisionError):
            raise InvalidInput("not a uniform_phantom tally state") from None
        if not np.isfinite(floats).all() or any(count <= 0 for count in exact.values()) or ballots < 0:
            raise InvalidInput("not a uniform_phantom tally state")
        tally = cls()
        tally._base = np.sort(floats) + 0.0
        tally._set_pending(exact)
        tally._total = len(floats) + sum(exact.values())
        tally._ballots = ballots
        tally._next_fold = len(tally._keys) + tally._fold_step()
        return tally

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ValueTally):
            return NotImplemented
        self._fold(force=True)
        other._fold(force=True)
        return (
            self._ballots == other._ballots
            and self._keys == other._keys
            and self._counts == other._counts
            and np.array_equal(self._base, other._base)
        )

    __hash__ = None  # type: ignore[assignment]

    def result(self, params: dict[str, Any]) -> Result:
        """The Uniform Phantom outcome on [lo, hi], with the plain median and mean beside it."""
        lo, hi = Fraction(params["lo"]), Fraction(params["hi"])
        total = self._total
        if total == 0:
            note = "No reports, so there is no outcome."
            details = {"reports": 0, "ballots": self._ballots}
            return Result(UPM, "no_reports", [], rounds=[Round("uniform phantom", note)], details=details)
        view = _Multiset(self)

        def clamp(value: Fraction) -> Fraction:
            return lo if value < lo else hi if value > hi else value

        span = hi - lo
        phantom_index = None
        if span == 0:
            outcome, source = lo, "range"
        else:
            # phantom j is (start + step·j) / scale; find the smallest j in 1..W-1 with
            # #(reports <= phantom j) + j >= W (W: none), then the outcome is
            # min(phantom j, report number W − j + 1).
            start = lo.numerator * span.denominator * total
            step = span.numerator * lo.denominator
            scale = lo.denominator * span.denominator * total
            low, high = 1, total
            while low < high:
                mid = (low + high) // 2
                if view.count(Fraction(start + step * mid, scale), True) + mid >= total:
                    high = mid
                else:
                    low = mid + 1
            report = clamp(view.kth(total - low + 1))
            phantom = Fraction(start + step * low, scale)
            if low < total and phantom < report:
                outcome, source, phantom_index = phantom, "phantom", low
            else:
                outcome, source = report, "report"
        if total % 2:
            median = clamp(view.kth(total // 2 + 1))
        else:
            median = (clamp(view.kth(total // 2)) + clamp(view.kth(total // 2 + 1))) / 2
        mean = self._clamped_sum(lo, hi, view) / total
        below = view.count(lo, False)
        above = total - view.count(hi, True)
        if source == "phantom":
            how = f"phantom number {phantom_index} of {total - 1}, at {_show(outcome)}"
        elif source == "report":
            how = f"a report, {_show(outcome)}"
        else:
            how = f"the range's only point, {_show(outcome)}"
        note = (
            f"{total} report{'s' if total != 1 else ''} and {total - 1} phantom{'s' if total != 2 else ''} "
            f"at {_show(lo)} + k·{_show(span)}/{total}; the outcome is the {_ordinal(total)} smallest of these "
            f"{2 * total - 1} numbers: {how}."
        )
        if below or above:
            note += (
                f" Reports outside [{_show(lo)}, {_show(hi)}] count as the nearest end ({below} below, {above} above)."
            )
        extra = {
            "reports": total,
            "phantoms": total - 1,
            "source": source,
            "phantom_index": phantom_index,
            "clamped_below": below,
            "clamped_above": above,
        }
        details = {
            "reports": total,
            "ballots": self._ballots,
            "lo": lo,
            "hi": hi,
            "median": median,
            "mean": mean,
            "source": source,
        }
        rounds = [Round("uniform phantom", note, extra=extra)]
        return Result(UPM, "winner", [], rounds=rounds, outcome=outcome, details=details)

    # -- internals ------------------------------------------------------------------------

    def _pending(self) -> dict[Fraction, int]:
        return dict(zip(self._keys, self._counts, strict=True))

    def _set_pending(self, pending: dict[Fraction, int]) -> None:
        self._keys = sorted(pending)
        self._counts = [pending[value] for value in self._keys]
        self._near = [_near(value) for value in self._keys]

    def _fold_step(self) -> int:
        """How many pending changes to collect before folding them into the sorted array."""
        return 64 + int(len(self._base) ** 0.5)

    def _count_of(self, value: Fraction) -> int:
        """How many reports equal ``value``."""
        at = bisect.bisect_left(self._keys, value)
        count = self._counts[at] if at < len(self._keys) and self._keys[at] == value else 0
        as_float = _as_float(value)
        if as_float is not None:
            count += int(self._base.searchsorted(as_float, "right") - self._base.searchsorted(as_float, "left"))
        return count

    def _change(self, value: Fraction, count: int) -> None:
        """Add ``count`` reports of ``value`` (negative: take them out)."""
        if count == 0:
            return
        if count < 0 and self._count_of(value) < -count:
            raise InvalidInput(f"cannot remove a report of {_show(value)}: the tally does not hold it")
        keys = self._keys
        at = bisect.bisect_left(keys, value)
        if at < len(keys) and keys[at] == value:
            self._counts[at] += count
            if not self._counts[at]:
                del keys[at], self._counts[at], self._near[at]
        else:
            keys.insert(at, value)
            self._counts.insert(at, count)
            self._near.insert(at, _near(value))
        self._total += count
        for entry in self._sums:
            lo, hi = entry[0], entry[1]
            entry[2] += count * (lo if value < lo else hi if value > hi else value)
        if len(keys) > self._next_fold:
            self._fold()

    def _fold(self, force: bool = False) -> None:
        """Move pending values that are floats' decimals into the sorted array (O(n))."""
        if not self._keys or (not force and len(self._keys) <= self._next_fold):
            return
        adds: list[float] = []
        add_counts: list[int] = []
        removals: list[np.ndarray] = []
        keep: dict[Fraction, int] = {}
        for value, count in zip(self._keys, self._counts, strict=True):
            as_float = _as_float(value)
            if as_float is None:
                keep[value] = count
            elif count > 0:
                adds.append(as_float)
                add_counts.append(count)
            else:
                start = int(self._base.searchsorted(as_float, "left"))
                removals.append(np.arange(start, start - count))
        base = self._base
        if removals:
            base = np.delete(base, np.concatenate(removals))
        if adds:
            inserted = np.repeat(np.array(adds, dtype=np.float64), add_counts)
            base = np.insert(base, base.searchsorted(inserted, "left"), inserted)
        self._base = base
        self._set_pending(keep)
        self._next_fold = len(self._keys) + self._fold_step()

    def _clamped_sum(self, lo: Fraction, hi: Fraction, view: _Multiset) -> Fraction:
        """Exact sum of the reports clamped to [lo, hi]; cached per range and kept current."""
        for entry in self._sums:
            if entry[0] == lo and entry[1] == hi:
                return entry[2]
        base = self._base
        below = view.base_count(lo, _near(lo), True)
        inside = view.base_count(hi, _near(hi), False)
        total = lo * below + hi * (len(base) - inside)
        if inside > below:
            total += _decimal_sum(base[below:inside])
        for value, count in zip(self._keys, self._counts, strict=True):
            total += count * (lo if value < lo else hi if value > hi else value)
        if len(self._sums) >= 4:
            self._sums.pop(0)
        self._sums.append([lo, hi, total])
        return total


def _near(value: Fraction) -> float:
    """The float nearest to an exact value (±inf beyond the float range); monotone in value."""
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf


class _Multiset:
    """Read-only queries on a ValueTally: counts below a value and order statistics."""

    def __init__(self, tally: ValueTally) -> None:
        self.base = tally._base
        self.keys = tally._keys
        self.near = tally._near
        self.prefix = list(itertools.accumulate(tally._counts))
        self.low = min(0, min(self.prefix, default=0))
        self.high = max(0, max(self.prefix, default=0))

    def base_count(self, y: Fraction, near: float, inclusive: bool) -> int:
        """How many array reports are <= y (inclusive) or < y; ``near`` is float(y)."""
        base = self.base
        left = int(base.searchsorted(near, "left"))
        right = int(base.searchsorted(near, "right"))
        if right > left:
            exact = _dec(near)
            if exact < y or (inclusive and exact == y):
                return right
        return left

    def pending(self, near: float, exact: Callable[[], Fraction], inclusive: bool) -> int:
        """Net pending count at values <= y (or < y); ``near`` is float(y), ``exact()`` gives y."""
        near_keys = self.near
        left = bisect.bisect_left(near_keys, near)
        right = bisect.bisect_right(near_keys, near)
        if right > left:  # keys with the same nearest float: compare exactly
            right = (bisect.bisect_right if inclusive else bisect.bisect_left)(self.keys, exact(), left, right)
        return self.prefix[right - 1] if right else 0

    def count(self, y: Fraction, inclusive: bool) -> int:
        """How many reports are <= y (inclusive) or < y."""
        near = _near(y)
        return self.base_count(y, near, inclusive) + (self.pending(near, lambda: y, inclusive) if self.keys else 0)

    def kth(self, k: int) -> Fraction:
        """The k-th smallest report (1-based), exact."""
        base = self.base
        if not self.keys:
            return _dec(base[k - 1])
        best: Fraction | None = None

        def base_ok(i: int) -> bool:
            value = float(base[i])
            return int(base.searchsorted(value, "right")) + self.pending(value, lambda: _dec(value), True) >= k

        low, high = max(0, k - 1 - self.high), min(len(base) - 1, k - 1 - self.low)
        if low <= high and base_ok(high):
            while low < high:
                mid = (low + high) // 2
                if base_ok(mid):
                    high = mid
                else:
                    low = mid + 1
            best = _dec(base[low])
        keys = self.keys

        def key_ok(t: int) -> bool:
            return self.base_count(keys[t], self.near[t], True) + self.prefix[t] >= k

        if key_ok(len(keys) - 1):
            low, high = 0, len(keys) - 1
            while low < high:
                mid = (low + high) // 2
                if key_ok(mid):
                    high = mid
                else:
                    low = mid + 1
            if best is None or keys[low] < best:
                best = keys[low]
        if best is None:
            raise ValueError(f"there is no report number {k}")
        return best


def compute_upm(m: int, ballots: Sequence[Ballot], params: dict[str, Any]) -> Result:
    """Batch Uniform Phantom over value ballots."""
    return ValueTally.from_ballots(ballots).result(params)


# ---------------------------------------------------------------------------------------
# Independent markets (§4.2, §4.3)

IM = "independent_markets"
IM_PARAMS = {
    "total": ParamSpec(1, "The budget (a positive number or 'p/q'); every allocation must sum to exactly this."),
}


def normalize_im_params(params: dict[str, Any], m: int) -> dict[str, Any]:
    """Fill the default total (1) and check it is positive."""
    filled = check_known_params(IM, params, IM_PARAMS)
    total = to_fraction(filled["total"], "parameter total")
    if total <= 0:
        raise InvalidInput(f"parameter total must be positive, got {_show(total)}")
    return {"total": _param(total)}


def check_allocation(ballot: Ballot, m: int, params: dict[str, Any], index: int) -> None:
    """Refuse a fractional weight and an allocation that does not sum to exactly the total."""
    _multiplicity(ballot.weight, index)
    amounts = ballot.allocation
    if amounts is None:
        raise InvalidInput("an allocation ballot has no allocation", index)
    spent, total = sum(amounts, Fraction(0)), Fraction(params["total"])
    if spent != total:
        raise InvalidInput(f"allocation sums to {_show(spent)}, not the total {_show(total)}", index)


class _Column:
    """One candidate's reported shares, sorted, with cumulative multiplicities."""

    def __init__(self, shares: Counter[Fraction]) -> None:
        self.values = sorted(shares)
        self.cumulative = list(itertools.accumulate(shares[value] for value in self.values))

    def share(self, a: int) -> Fraction:
        """The a-th smallest share (1-based)."""
        return self.values[bisect.bisect_left(self.cumulative, a)]

    def median(self, t: Fraction, n: int) -> tuple[Fraction, str]:
        """A_j(t): median of phantoms min(t·c, 1), c = 0..n, and the n shares; and where it comes from."""
        # A = min over a = 0..n of max(r_(a), phi(a)), phi(a) = min(t(n − a), 1), r_(0) = −∞:
        # the smallest a with r_(a) >= phi(a) splits it, A = min(phi(a − 1), r_(a)).
        low, high = 1, n
        while low < high:
            mid = (low + high) // 2
            if self.share(mid) >= min(t * (n - mid), 1):
                high = mid
            else:
                low = mid + 1
        report = self.share(low)
        phantom = min(t * (n - low + 1), Fraction(1))
        return (report, "report") if report <= phantom else (phantom, "phantom")


def _solve_markets(columns: list[_Column], n: int) -> Fraction:
    """The t in [0, 1] with sum_j A_j(t) = 1 exactly.

    The sum is continuous, non-decreasing and piecewise linear in t. Bisection keeps a
    bracket; each step also tries the secant of the bracket and the lines through the last
    two points on either side: once two points lie on the linear piece next to t*, that
    line meets 1 exactly at t*, and the exact check S(t) == 1 accepts it.
    """

    def total_at(t: Fraction) -> Fraction:
        return sum((column.median(t, n)[0] for column in columns), Fraction(0))

    below = [(Fraction(0), total_at(Fraction(0)))]
    above = [(Fraction(1), total_at(Fraction(1)))]
    if above[0][1] == 1:
        return Fraction(1)

    def crossing(first: tuple[Fraction, Fraction], second: tuple[Fraction, Fraction]) -> Fraction | None:
        (t1, s1), (t2, s2) = first, second
        if s1 == s2:
            return None
        return t1 + (1 - s1) * (t2 - t1) / (s2 - s1)

    for _ in range(10_000):
        tl, tr = below[-1][0], above[-1][0]
        guesses = [crossing(below[-1], above[-1])]
        if len(below) > 1:
            guesses.append(crossing(below[-2], below[-1]))
        if len(above) > 1:
            guesses.append(crossing(above[-2], above[-1]))
        for guess in guesses:
            if guess is not None and tl < guess < tr and total_at(guess) == 1:
                return guess
        mid = (tl + tr) / 2
        value = total_at(mid)
        if value == 1:
            return mid
        (below if value < 1 else above).append((mid, value))
    raise ArithmeticError("independent markets: no exact solution found")  # unreachable: pieces have positive width


class AllocationTally:
    """Allocation vectors with multiplicities (one Counter); the result is computed from the distinct vectors."""

    def __init__(self, m: int) -> None:
        self.m = m
        self._counts: Counter[tuple[Fraction, ...]] = Counter()
        self._ballots = 0

    def _vector(self, ballot: Ballot) -> tuple[tuple[Fraction, ...], int]:
        weight = _multiplicity(ballot.weight)
        amounts = ballot.allocation
        if amounts is None or len(amounts) != self.m:
            raise InvalidInput(f"an allocation must give one amount per candidate ({self.m})")
        if any(amount < 0 for amount in amounts):
            raise InvalidInput("allocation amounts must not be negative")
        return tuple(amounts), weight

    def add(self, ballot: Ballot) -> None:
        """Count one more allocation ballot (weight w = w identical voters)."""
        vector, weight = self._vector(ballot)
        if weight:
            self._counts[vector] += weight
        self._ballots += 1

    def remove(self, ballot: Ballot) -> None:
        """Take back an allocation ballot that was added before."""
        vector, weight = self._vector(ballot)
        if self._counts.get(vector, 0) < weight or self._ballots < 1:
            raise InvalidInput("cannot remove an allocation the tally does not hold")
        if weight:
            self._counts[vector] -= weight
            if not self._counts[vector]:
                del self._counts[vector]
        self._ballots -= 1

    def merge(self, other: AllocationTally) -> AllocationTally:
        """A new tally holding the allocations of both."""
        if not isinstance(other, AllocationTally) or other.m != self.m:
            raise TypeError("can only merge independent_markets tallies over the same candidates")
        merged = AllocationTally(self.m)
        merged._counts = self._counts + other._counts
        merged._ballots = self._ballots + other._ballots
        return merged

    def to_state(self) -> dict[str, Any]:
        """JSON-able snapshot: the distinct allocations (exact strings) and their multiplicities."""
        rows = sorted(self._counts.items())
        return {
            "rule": IM,
            "m": self.m,
            "ballots": self._ballots,
            "allocations": [[[str(amount) for amount in vector], count] for vector, count in rows],
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> AllocationTally:
        """Restore a tally from :meth:`to_state`."""
        try:
            if state["rule"] != IM:
                raise ValueError("wrong rule")
            tally = cls(int(state["m"]))
            tally._ballots = int(state["ballots"])
            for amounts, count in state["allocations"]:
                vector = tuple(Fraction(text) for text in amounts)
                if len(vector) != tally.m or int(count) <= 0 or any(a < 0 for a in vector):
                    raise ValueError("bad allocation")
                tally._counts[vector] += int(count)
        except (KeyError, TypeError, ValueError, ZeroDivisionError):
            raise InvalidInput("not an independent_markets tally state") from None
        return tally

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, AllocationTally):
            return NotImplemented
        return self.m == other.m and self._ballots == other._ballots and self._counts == other._counts

    __hash__ = None  # type: ignore[assignment]

    def result(self, params: dict[str, Any]) -> Result:
        """The independent-markets split of the total, exact, with t* and each share explained."""
        budget = Fraction(params["total"])
        n = sum(self._counts.values())
        if n == 0:
            note = "No allocations, so there is nothing to split."
            return Result(IM, "no_reports", [], rounds=[Round("independent markets", note)], details={"reports": 0})
        amounts: list[Counter[tuple[int, int]]] = [Counter() for _ in range(self.m)]  # (p, q) of p/q: cheap to hash
        for vector, count in self._counts.items():
            spent = sum(vector, Fraction(0))
            if spent != budget:
                raise InvalidInput(f"an allocation sums to {_show(spent)}, not the total {_show(budget)}")
            for j, amount in enumerate(vector):
                amounts[j][amount.numerator, amount.denominator] += count
        exact = [{Fraction(p, q): c for (p, q), c in column.items()} for column in amounts]
        means = [sum((amount * c for amount, c in column.items()), Fraction(0)) / n for column in exact]
        columns = [_Column(Counter({amount / budget: c for amount, c in column.items()})) for column in exact]
        t_star = _solve_markets(columns, n)
        medians = [column.median(t_star, n) for column in columns]
        shares = [share for share, _ in medians]
        if sum(shares) != 1:
            raise ArithmeticError("independent markets: shares do not sum to 1")
        allocation = [budget * share for share in shares]
        first = Round(
            "moving phantoms",
            f"{n} voter{'s' if n != 1 else ''}; phantoms f_k(t) = min(t·({n} − k), 1) for k = 0..{n}. "
            f"At t* = {_show(t_star)} the candidates' medians sum to exactly the total {_show(budget)}.",
            tallies=dict(enumerate(allocation)),
            extra={"t": t_star, "reports": n},
        )
        rounds = [first]
        for j, (share, source) in enumerate(medians):
            if source == "report":
                how = "a voter's reported share"
            else:
                how = "a phantom's value" if share < 1 else "the phantom ceiling 1"
            rounds.append(
                Round(
                    f"candidate {j}",
                    f"Median of the {n + 1} phantom values at t* and the {n} reported shares: "
                    f"{_show(share)} ({how}), so {_show(budget * share)} of {_show(budget)}.",
                    tallies={j: budget * share},
                    extra={"share": share, "source": source},
                )
            )
        details = {
            "t": t_star,
            "reports": n,
            "ballots": self._ballots,
            "total": budget,
            "mean": means,
        }
        return Result(IM, "winner", [], rounds=rounds, allocation=allocation, details=details)


def compute_im(m: int, ballots: Sequence[Ballot], params: dict[str, Any]) -> Result:
    """Batch independent markets over allocation ballots."""
    tally = AllocationTally(m)
    for index, ballot in enumerate(ballots):
        try:
            tally.add(ballot)
        except InvalidInput as error:
            raise InvalidInput(error.message, index) from None
    return tally.result(params)


def _state_loader(loader: Callable[[dict[str, Any]], Any]) -> Callable[[dict[str, Any]], Any]:
    """Refuse a state that is not a JSON object before the rule's loader reads it."""

    def load(state: dict[str, Any]) -> Any:
        if not isinstance(state, dict):
            raise InvalidInput("a tally state must be a JSON object")
        return loader(state)

    return load


register(
    RuleSpec(
        name=UPM,
        title="Uniform Phantom median",
        description=(
            "Each voter reports a number in a range; the outcome is the median of the reports and "
            "evenly spaced phantom reports. No voter can pull the outcome towards their own number by "
            "misreporting, and a group of voters gets a share of the range in proportion to its size."
        ),
        ballot_forms=("value",),
        params=UPM_PARAMS,
        normalize_params=normalize_upm_params,
        compute=compute_upm,
        new_tally=lambda m: ValueTally(),
        tally_from_state=_state_loader(ValueTally.from_state),
        check_ballot=check_upm_ballot,
        tally_from_values=ValueTally.from_values,
    )
)

register(
    RuleSpec(
        name=IM,
        title="Independent markets (moving phantoms)",
        description=(
            "Each voter splits a budget among the options; each option gets the median of the voters' "
            "amounts and moving phantom amounts, with the phantoms set so that the shares add up to "
            "exactly the budget. Misreporting cannot bring the split closer to a voter's own, and "
            "voters who each back one option get budget in proportion to their numbers."
        ),
        ballot_forms=("allocation",),
        params=IM_PARAMS,
        normalize_params=normalize_im_params,
        compute=compute_im,
        new_tally=AllocationTally,
        tally_from_state=_state_loader(AllocationTally.from_state),
        check_ballot=check_allocation,
    )
)
