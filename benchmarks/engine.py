"""Engine benchmark script: the same as ``python -m aggregation.bench`` (see docs/benchmarks.md)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aggregation.bench import main  # noqa: E402  (the repository root must be on the path first)

if __name__ == "__main__":
    sys.exit(main())
