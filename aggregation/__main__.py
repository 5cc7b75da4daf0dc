"""Command line of the engine: ``python -m aggregation tally | rules | bench``.

``tally`` reads one JSON case on stdin and writes the JSON result on stdout; bad input
exits with status 2 and one line on stderr (naming the ballot at fault), nothing on stdout.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

from aggregation import jsonio
from aggregation.core import InvalidInput
from aggregation.registry import RULES

EXIT_BAD_INPUT = 2


def _fail(message: str) -> int:
    """Report bad input as exactly one line on stderr and return the exit status."""
    line = " ".join(str(message).split())
    sys.stderr.write(f"error: {line}\n")
    return EXIT_BAD_INPUT


def command_tally(args: argparse.Namespace) -> int:
    """Tally one JSON case from stdin; print the JSON result."""
    try:
        text = sys.stdin.buffer.read().decode("utf-8")
    except UnicodeDecodeError as exc:
        return _fail(f"invalid JSON: the input is not UTF-8 ({exc.reason} at byte {exc.start})")
    try:
        case = jsonio.loads(text)
    except json.JSONDecodeError as exc:
        return _fail(f"invalid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})")
    except (ValueError, RecursionError) as exc:
        return _fail(f"invalid JSON: {exc}")
    try:
        result = jsonio.run_case(case)
    except InvalidInput as exc:
        return _fail(str(exc))
    sys.stdout.write(jsonio.dumps(result) + "\n")
    return 0


def rules_table() -> list[dict[str, Any]]:
    """Every registered rule with its ballot forms and parameters, in JSON-able form."""
    return [
        {
            "name": spec.name,
            "title": spec.title,
            "description": spec.description,
            "ballot_forms": list(spec.ballot_forms),
            "params": {
                name: {"default": jsonio.plain(param.default), "help": param.help}
                for name, param in spec.params.items()
            },
        }
        for spec in sorted(RULES.values(), key=lambda spec: spec.name)
    ]


def command_rules(args: argparse.Namespace) -> int:
    """List the rules, for people or (with --json) for programs."""
    table = rules_table()
    if args.json:
        sys.stdout.write(json.dumps(table, indent=2, ensure_ascii=False) + "\n")
        return 0
    lines: list[str] = []
    for entry in table:
        lines.append(f"{entry['name']} — {entry['title']}")
        lines.append(f"  {entry['description']}")
        lines.append(f"  ballots: {', '.join(entry['ballot_forms'])}")
        if not entry["params"]:
            lines.append("  parameters: none")
        for name, param in entry["params"].items():
            lines.append(f"  param {name} (default {json.dumps(param['default'])}): {param['help']}")
        lines.append("")
    sys.stdout.write("\n".join(lines) if lines else "no rules are registered\n")
    return 0


def command_bench(args: argparse.Namespace) -> int:
    """Run the engine benchmark (``aggregation.bench``) with the remaining arguments."""
    from aggregation import bench

    return bench.main(args.bench_args)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with its three sub-commands."""
    parser = argparse.ArgumentParser(
        prog="python -m aggregation",
        description="Plenum's aggregation engine: exact social-choice rules over JSON cases.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    tally = commands.add_parser(
        "tally",
        help="tally one JSON case read on stdin; write the JSON result on stdout",
        description=(
            'Reads {"rule", "candidates", "ballots", "params"} on stdin and writes the result as one JSON '
            "document. Bad input: exit status 2, one line on stderr."
        ),
    )
    tally.set_defaults(handler=command_tally)
    rules = commands.add_parser("rules", help="list the rules, their ballot forms and parameters")
    rules.add_argument("--json", action="store_true", help="machine-readable output")
    rules.set_defaults(handler=command_rules)
    bench = commands.add_parser(
        "bench", help="run the engine benchmark (see python -m aggregation.bench --help)", add_help=False
    )
    bench.add_argument("bench_args", nargs=argparse.REMAINDER)
    bench.set_defaults(handler=command_bench)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line and run the chosen sub-command; returns the exit status."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] == ["bench"]:
        # Forwarded before parsing so that the benchmark's own options (and --help) reach it intact.
        return command_bench(argparse.Namespace(bench_args=arguments[1:]))
    args = build_parser().parse_args(arguments)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
