"""How long one live recompute takes when many ballots are already counted.

For each size N it builds a question with N current ballots (bulk-inserted, then folded once
into the live tallies), casts one more ballot through ``cast_ballot`` and times
``recompute_result``: folding that change, the results of every rule of the kind, and storing
the new version, then rendering and publishing its fragments (on commit; in-memory channel
layer, nobody watching). The figure should stay flat as N grows (design §3). Runs on a fresh database of its own: a temporary SQLite file by default, or
``--postgres URL`` (a server URL; the script creates and drops the database ``plenum_bench_recompute``).

    python benchmarks/recompute.py --sizes 1000 10000 100000 --repeat 20
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH_DATABASE = "plenum_bench_recompute"
KINDS = {
    "single": ("plurality", {}, lambda rng: {"choice": rng.choice(["a", "b", "c", "d"])}),
    "ranking": ("schulze", {}, lambda rng: {"ranking": rng.sample(["a", "b", "c", "d"], 4)}),
    "number": ("uniform_phantom", {"lo": 0, "hi": 100}, lambda rng: {"value": rng.randint(0, 100)}),
}


def parse_args(argv: list[str]) -> argparse.Namespace:
    """Command-line options; a bad one exits with status 2 and one line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    parser.add_argument("--kinds", nargs="+", choices=sorted(KINDS), default=sorted(KINDS))
    parser.add_argument("--repeat", type=int, default=20, help="timed recomputes per size")
    parser.add_argument("--postgres", metavar="URL", help="e.g. postgres://postgres@127.0.0.1:5432/")
    args = parser.parse_args(argv)
    if min(args.sizes) < 0 or args.repeat < 1:
        parser.error("sizes must be >= 0 and --repeat >= 1")
    return args


def configure(args: argparse.Namespace) -> None:
    """Point Django at a fresh database for this run and migrate it."""
    os.environ.setdefault("DJANGO_SECRET_KEY", "benchmark-only-" + "x" * 40)
    os.environ.pop("REDIS_URL", None)  # eager tasks, in-memory layer: only the recompute is measured
    if args.postgres:
        import psycopg

        base = args.postgres.rstrip("/")
        with psycopg.connect(f"{base}/postgres", autocommit=True) as connection:
            connection.execute(f"DROP DATABASE IF EXISTS {BENCH_DATABASE}")
            connection.execute(f"CREATE DATABASE {BENCH_DATABASE}")
        os.environ["DATABASE_URL"] = f"{base}/{BENCH_DATABASE}"
    else:
        os.environ.pop("DATABASE_URL", None)
        os.environ["SQLITE_PATH"] = str(Path(tempfile.mkdtemp()) / "recompute.sqlite3")
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    sys.path.insert(0, str(ROOT))
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def drop(args: argparse.Namespace) -> None:
    """Remove the PostgreSQL database this run created."""
    if args.postgres:
        import psycopg
        from django.db import connections

        connections.close_all()
        with psycopg.connect(f"{args.postgres.rstrip('/')}/postgres", autocommit=True) as connection:
            connection.execute(f"DROP DATABASE IF EXISTS {BENCH_DATABASE}")


def measure(kind: str, size: int, repeat: int) -> list[float]:
    """Seconds per recompute after one new ballot, with ``size`` ballots already folded in."""
    from django.contrib.auth.models import User

    from deliberation.models import Participant
    from deliberation.services import create_session, mint_participants
    from voting.models import Ballot, BallotRevision, TallyChange
    from voting.services import cast_ballot, create_question, open_question, recompute_result

    rng = random.Random(f"{kind}-{size}")
    rule, params, make_ballot = KINDS[kind]
    organizer = User.objects.create_user(f"bench-{kind}-{size}")
    session = create_session(organizer, title=f"bench {kind} {size}")
    labels = [] if kind == "number" else ["a", "b", "c", "d"]
    question = open_question(
        create_question(session, text="bench", kind=kind, rule=rule, params=params, option_labels=labels)
    )
    voters = Participant.objects.bulk_create(
        Participant(session=session, display_name=f"v{n}", api_token=f"{kind}-{size}-{n}") for n in range(size)
    )
    contents = [make_ballot(rng) for _ in voters]
    Ballot.objects.bulk_create(
        Ballot(question=question, participant=p, content=c) for p, c in zip(voters, contents, strict=True)
    )
    revisions = BallotRevision.objects.bulk_create(
        BallotRevision(question=question, participant=p, revision=1, content=c)
        for p, c in zip(voters, contents, strict=True)
    )
    TallyChange.objects.bulk_create(TallyChange(question=question, revision=r) for r in revisions)
    recompute_result(question.pk)  # folds the bulk ballots (in batches), not timed
    newcomers = mint_participants(session, repeat, prefix="new")
    timings = []
    for person in newcomers:
        cast_ballot(question, person, make_ballot(rng), tally=False)
        start = time.perf_counter()
        result = recompute_result(question.pk)
        timings.append(time.perf_counter() - start)
    assert result.ballot_count == size + repeat
    return timings


def main(argv: list[str]) -> None:
    """Print a markdown table: kind, ballots already counted, median and max time of one recompute."""
    args = parse_args(argv)
    configure(args)
    try:
        print("| ballot kind (rules) | ballots already counted | recompute median | max |")
        print("|---|---:|---:|---:|")
        for kind in args.kinds:
            for size in args.sizes:
                timings = measure(kind, size, args.repeat)
                print(
                    f"| {kind} | {size:,} | {statistics.median(timings) * 1000:.1f} ms | {max(timings) * 1000:.1f} ms |",
                    flush=True,
                )
    finally:
        drop(args)


if __name__ == "__main__":
    main(sys.argv[1:])
