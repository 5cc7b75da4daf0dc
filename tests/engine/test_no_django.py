"""The engine in aggregation/ never imports Django (design §2): by source text and at run time."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ENGINE = ROOT / "aggregation"


def imported_modules(path: Path) -> set[str]:
    """Top-level names of every module a source file imports, wherever the import statement is."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) in (
            "import_module",
            "__import__",
        ):
            names.update(
                arg.value.split(".")[0]
                for arg in node.args
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str)
            )
    return names


def test_no_engine_source_imports_django():
    sources = sorted(ENGINE.rglob("*.py"))
    assert sources, "no engine sources found"
    offenders = [str(path.relative_to(ROOT)) for path in sources if "django" in imported_modules(path)]
    assert offenders == []
    # also no textual mention in an import line (covers strings the AST walk cannot see)
    for path in sources:
        for line in path.read_text(encoding="utf-8").splitlines():
            stripped = line.strip()
            if stripped.startswith(("import ", "from ")):
                assert "django" not in stripped.lower(), f"{path}: {line}"


def test_importing_and_running_the_engine_loads_no_django():
    # A fresh interpreter: import the engine, run every rule on a small case, then list what got imported.
    script = """
import json, sys
import aggregation
from aggregation import jsonio
from aggregation.registry import RULES
from aggregation.core import choice, ranked, scored, valued, allocated
samples = {"choice": choice(0), "ranking": ranked([1, 0]), "scores": scored([1, 2]),
           "value": valued(1), "allocation": allocated(["1/2", "1/2"])}
ran = []
for name, spec in RULES.items():
    params = aggregation.normalize(name, 2, {})
    for form in spec.ballot_forms:
        try:
            aggregation.check_ballots(name, 2, [samples[form]], params)
        except aggregation.InvalidInput:
            continue
        jsonio.result_to_json(aggregation.tally(name, 2, [samples[form]], params), ["a", "b"])
        ran.append(name)
        break
print(json.dumps({"ran": sorted(set(ran)), "rules": sorted(RULES),
                  "django": sorted(m for m in sys.modules if m == "django" or m.startswith("django."))}))
"""
    process = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert process.returncode == 0, process.stderr
    report = json.loads(process.stdout)
    assert report["django"] == []
    assert report["ran"] == report["rules"]


def test_command_line_loads_no_django():
    # -X importtime lists every module the command line imports, on stderr.
    process = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "aggregation", "rules", "--json"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert process.returncode == 0, process.stderr
    imported = [
        line.rsplit("|", 1)[-1].strip() for line in process.stderr.splitlines() if line.startswith("import time:")
    ]
    assert "aggregation.registry" in imported
    assert not [name for name in imported if name == "django" or name.startswith("django.")]
