"""Engine benchmark: time each rule from a raw ballot array to its result, beside pref-voting.

Run ``python -m aggregation.bench`` (or ``python benchmarks/engine.py``). Ballots are uniformly
random strict rankings of 8 candidates (numpy int8) and uniform numeric reports in [0, 1],
drawn from a fixed seed so every run times the same profiles. pref-voting is optional:
without it the engine figures are still printed.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np

import aggregation
from aggregation.core import Ballot, ranked, valued
from aggregation.registry import RULES

CANDIDATES = 8
DEFAULT_SEED = 12345
DEFAULT_SIZES = (100_000, 1_000_000)
QUICK_SIZES = (10_000, 100_000)
TARGET_SIZE = 1_000_000
SPEEDUP_TARGET = 20.0
INCREMENTAL_TARGET_MS = 1.0


@dataclass(frozen=True)
class Case:
    """One benchmarked configuration: engine rule and params, and the pref-voting counterpart."""

    label: str
    rule: str
    params: dict[str, Any]
    target_ms: float
    pref_voting: str | None  # "module.function" inside pref_voting
    agreement: str = "equal"  # "equal": same winner set; "member": ours is among theirs; "majority"
    values: bool = False  # numeric reports instead of rankings


CASES = (
    Case("plurality", "plurality", {}, 5, "scoring_methods.plurality"),
    Case("majority", "majority", {}, 5, "other_methods.absolute_majority", agreement="majority"),
    Case("runoff", "runoff", {}, 30, "iterative_methods.plurality_with_runoff_put", agreement="member"),
    Case("irv simultaneous", "irv", {"tie_rule": "simultaneous"}, 300, "iterative_methods.instant_runoff"),
    Case("irv order", "irv", {"tie_rule": "order"}, 300, "iterative_methods.instant_runoff_tb"),
    Case("irv put", "irv", {"tie_rule": "put"}, 300, "iterative_methods.instant_runoff_put"),
    Case("borda", "borda", {}, 30, "scoring_methods.borda"),
    Case("schulze", "schulze", {}, 50, "margin_based_methods.beat_path"),
    Case("uniform_phantom", "uniform_phantom", {}, 50, None, values=True),
)


@dataclass
class Row:
    """The measured figures of one case at one size."""

    case: Case
    n: int
    available: bool = True
    engine_ms: float | None = None
    pref_ms: float | None = None
    agree: str = "-"
    first_call_ms: float | None = None
    incremental_ms: float | None = None
    first_update_ms: float | None = None
    winners: list[int] = field(default_factory=list)
    note: str = ""


def random_rankings(n: int, seed: int, m: int = CANDIDATES) -> np.ndarray:
    """n uniformly random strict rankings of m candidates as an (n, m) int8 array."""
    rng = np.random.default_rng(seed)
    return rng.permuted(np.tile(np.arange(m, dtype=np.int8), (n, 1)), axis=1)


def random_values(n: int, seed: int) -> np.ndarray:
    """n uniformly random reports in [0, 1) as float64."""
    return np.random.default_rng(seed).random(n)


def median_ms(run: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    """Median wall time of ``repeats`` calls in milliseconds, and the last call's return value."""
    times = []
    value = None
    for _ in range(repeats):
        start = time.perf_counter()
        value = run()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), value


def upm_reference(values: np.ndarray) -> float:
    """Uniform Phantom outcome on [0, 1] by brute force: n-th smallest of reports and phantoms k/n."""
    n = len(values)
    pool = np.concatenate([values, np.arange(1, n) / n])
    return float(np.partition(pool, n - 1)[n - 1])


class PrefVoting:
    """pref-voting's end-to-end path: anonymise, build a Profile, run the rule (numba warmed up first)."""

    def __init__(self) -> None:
        import importlib

        import pref_voting
        from pref_voting.profiles import Profile

        self.version = getattr(pref_voting, "__version__", "?")
        self.Profile = Profile
        self.functions: dict[str, Callable[..., list[int]]] = {}
        for case in CASES:
            if case.pref_voting:
                module_name, function_name = case.pref_voting.rsplit(".", 1)
                module = importlib.import_module(f"pref_voting.{module_name}")
                self.functions[case.label] = getattr(module, function_name)
        start = time.perf_counter()
        profile = self.profile(random_rankings(500, 1))
        for function in self.functions.values():
            function(profile)
        self.warmup_s = time.perf_counter() - start

    def anonymise(self, rankings: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Distinct rankings and their counts."""
        return np.unique(rankings, axis=0, return_counts=True)

    def profile(self, rankings: np.ndarray) -> Any:
        """An anonymous Profile of the raw rankings."""
        unique, counts = self.anonymise(rankings)
        return self.Profile(unique, rcounts=counts)


def engine_run(case: Case, spec: Any, data: np.ndarray, params: dict[str, Any]) -> Any:
    """The engine's path from the raw array to the result, through the rule's fast tally builder."""
    if case.values:
        return spec.tally_from_values(data).result(params)
    return spec.tally_from_rankings(CANDIDATES, data).result(params)


def agreement(case: Case, result: Any, theirs: list[int]) -> str:
    """Whether our result and pref-voting's winners agree, as the table shows it."""
    ours = set(result.winners)
    if case.agreement == "majority":
        same = (result.status == "winner" and ours == set(theirs)) or (result.status != "winner" and not theirs)
    elif case.agreement == "member":
        same = len(ours) == 1 and ours <= set(theirs)
    else:
        same = ours == set(theirs)
    return "yes" if same else f"NO (pref-voting {sorted(theirs)})"


def incremental_ms(
    case: Case, spec: Any, data: np.ndarray, params: dict[str, Any], repeats: int, seed: int
) -> tuple[float, float]:
    """Time of one add() plus result() on a tally that already holds all of ``data``.

    Returns the median over ``repeats`` updates and, separately, the first update (which
    may pay a one-off conversion of the fast-path tally into its incremental form).
    """
    tally = spec.tally_from_values(data) if case.values else spec.tally_from_rankings(CANDIDATES, data)
    if case.values:
        extra: list[Ballot] = [valued(float(x)) for x in random_values(repeats + 1, seed + 1)]
    else:
        extra = [ranked([int(c) for c in row]) for row in random_rankings(repeats + 1, seed + 1)]
    times = []
    for ballot in extra:
        start = time.perf_counter()
        tally.add(ballot)
        tally.result(params)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times[1:]), times[0]


def measure(
    sizes: Sequence[int], seed: int, repeats: int, updates: int, pv: PrefVoting | None, log: Callable[[str], None]
) -> tuple[list[Row], dict[int, dict[str, float]]]:
    """Run every case at every size; returns the rows and pref-voting's shared preparation times."""
    rows: list[Row] = []
    prep: dict[int, dict[str, float]] = {}
    for n in sizes:
        rankings = random_rankings(n, seed)
        values = random_values(n, seed)
        profile = None
        if pv is not None:
            log(f"n={n:,}: anonymising and building the pref-voting Profile ...")
            anonymise_ms, (unique, counts) = median_ms(partial(pv.anonymise, rankings), max(1, repeats // 2))
            profile_ms, profile = median_ms(partial(pv.Profile, unique, rcounts=counts), max(1, repeats // 2))
            prep[n] = {"anonymise_ms": anonymise_ms, "profile_ms": profile_ms, "distinct": float(len(unique))}
        for case in CASES:
            row = Row(case, n)
            rows.append(row)
            spec = RULES.get(case.rule)
            builder = None if spec is None else (spec.tally_from_values if case.values else spec.tally_from_rankings)
            if builder is None:
                row.available = False
                row.note = "not available" if spec is None else "no fast path"
                continue
            log(f"n={n:,}: {case.label} ...")
            params = aggregation.normalize(case.rule, CANDIDATES, case.params)
            data = values if case.values else rankings
            # The first call is reported apart: it may pay one-off costs (tables built once per process).
            row.first_call_ms, _ = median_ms(partial(engine_run, case, spec, data, params), 1)
            row.engine_ms, result = median_ms(partial(engine_run, case, spec, data, params), repeats)
            row.winners = list(result.winners)
            if case.values:
                expected = upm_reference(values)
                ours = float(result.outcome) if result.outcome is not None else float("nan")
                row.agree = "yes (numpy)" if abs(ours - expected) <= 1e-12 else f"NO (numpy {expected})"
            elif pv is not None and profile is not None and case.label in pv.functions:
                function = pv.functions[case.label]
                rule_ms, theirs = median_ms(partial(function, profile), repeats)
                row.pref_ms = prep[n]["anonymise_ms"] + prep[n]["profile_ms"] + rule_ms
                row.agree = agreement(case, result, list(theirs))
            row.incremental_ms, row.first_update_ms = incremental_ms(case, spec, data, params, updates, seed)
    return rows, prep


def _fmt(ms: float | None) -> str:
    if ms is None:
        return "-"
    return f"{ms:,.3f}" if ms < 1 else f"{ms:,.1f}"


def table_cells(row: Row) -> list[str]:
    """The table cells of one row; targets apply at n = 10^6, misses are marked MISS."""
    at_target = row.n == TARGET_SIZE
    if not row.available:
        return [row.case.label, f"{row.n:,}", row.note] + [""] * (len(HEADERS) - 3)
    target = f"<= {row.case.target_ms:g}"
    engine = _fmt(row.engine_ms)
    if at_target and row.engine_ms is not None and row.engine_ms > row.case.target_ms:
        engine += " MISS"
    speedup = "-"
    if row.pref_ms is not None and row.engine_ms:
        factor = row.pref_ms / row.engine_ms
        speedup = f"{factor:,.0f}x"
        if at_target and factor < SPEEDUP_TARGET:
            speedup += " MISS"
    incremental = _fmt(row.incremental_ms)
    if at_target and row.incremental_ms is not None and row.incremental_ms > INCREMENTAL_TARGET_MS:
        incremental += " MISS"
    return [
        row.case.label,
        f"{row.n:,}",
        engine,
        target if at_target else "",
        _fmt(row.first_call_ms),
        _fmt(row.pref_ms),
        speedup,
        row.agree,
        incremental,
        _fmt(row.first_update_ms),
    ]


HEADERS = [
    "rule",
    "ballots",
    "engine ms",
    "target ms",
    "1st call ms",
    "pref-voting ms",
    "speed-up",
    "winners agree",
    "add+result ms",
    "1st add ms",
]


def render(rows: list[Row], markdown: bool) -> str:
    """The result table, aligned text or markdown."""
    cells = [table_cells(row) for row in rows]
    if markdown:
        lines = ["| " + " | ".join(HEADERS) + " |", "|" + "|".join(" --- " for _ in HEADERS) + "|"]
        lines += ["| " + " | ".join(row) + " |" for row in cells]
        return "\n".join(lines)
    widths = [max(len(h), *(len(row[i]) for row in cells)) for i, h in enumerate(HEADERS)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(HEADERS, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells]
    return "\n".join(lines)


def machine_description() -> str:
    """CPU, core count and library versions, for the record next to the figures."""
    cpu = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            models = [line.split(":", 1)[1].strip() for line in info if line.startswith("model name")]
        if models:
            cpu = models[0]
    except OSError:
        pass
    return f"{os.cpu_count()} CPUs ({cpu}), Python {platform.python_version()}, numpy {np.__version__}"


def build_parser() -> argparse.ArgumentParser:
    """Command-line options of the benchmark."""
    parser = argparse.ArgumentParser(prog="python -m aggregation.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", help="comma-separated ballot counts (default 100000,1000000)")
    parser.add_argument(
        "--quick", action="store_true", help="small sizes (10^4, 10^5) and fewer repeats, for a smoke run"
    )
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"random seed (default {DEFAULT_SEED})")
    parser.add_argument("--repeats", type=int, help="timed runs per figure, median reported (default 5; --quick 3)")
    parser.add_argument(
        "--updates", type=int, default=20, help="timed incremental updates, median reported (default 20)"
    )
    parser.add_argument("--no-pref-voting", action="store_true", help="time the engine only")
    parser.add_argument("--markdown", action="store_true", help="print the table as markdown (for docs/benchmarks.md)")
    return parser


def parse_sizes(text: str) -> list[int]:
    """Read "100000,1000000" (underscores allowed) into positive ints."""
    sizes = [int(part.replace("_", "")) for part in text.split(",") if part.strip()]
    if not sizes or any(size < 1 for size in sizes):
        raise ValueError("sizes must be positive integers")
    return sizes


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print the table; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        sizes = parse_sizes(args.sizes) if args.sizes else list(QUICK_SIZES if args.quick else DEFAULT_SIZES)
    except ValueError as exc:
        parser.error(str(exc))
    repeats = args.repeats or (3 if args.quick else 5)

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    pv = None
    if not args.no_pref_voting:
        try:
            log("warming up pref-voting (numba JIT) ...")
            pv = PrefVoting()
        except ImportError:
            log("pref-voting is not installed: engine figures only")
    missing = sorted({case.rule for case in CASES} - set(RULES))
    rows, prep = measure(sizes, args.seed, repeats, args.updates, pv, log)

    command = "python -m aggregation.bench " + " ".join(argv if argv is not None else sys.argv[1:])
    print(f"Engine benchmark: {command.strip()}")
    print(f"Machine: {machine_description()}")
    print(
        f"Ballots: uniformly random strict rankings of {CANDIDATES} candidates (int8) and uniform reports in [0, 1), seed {args.seed}"
    )
    print(f"Engine: median of {repeats} runs from the raw array to the result, after a first call shown apart;")
    print(
        f"  add+result: median of {args.updates} single-ballot updates of a tally already holding all ballots, "
        "after a first update shown apart (it may convert the fast-path tally to its incremental form)"
    )
    if pv is not None:
        print(f"pref-voting {pv.version}: numba JIT warm-up {pv.warmup_s:.2f} s (once, excluded from the figures)")
        for n, figures in prep.items():
            print(
                f"  n={n:,}: anonymise {figures['anonymise_ms']:,.0f} ms ({figures['distinct']:,.0f} distinct rankings), "
                f"Profile {figures['profile_ms']:,.0f} ms; end-to-end = anonymise + Profile + rule"
            )
    print(
        f"Targets at n={TARGET_SIZE:,}; speed-up target >= {SPEEDUP_TARGET:g}x, add+result <= {INCREMENTAL_TARGET_MS:g} ms"
    )
    if missing:
        print(f"Rules not registered (not available): {', '.join(missing)}")
    print()
    print(render(rows, args.markdown))
    return 0


if __name__ == "__main__":
    sys.exit(main())
