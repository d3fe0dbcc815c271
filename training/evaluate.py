"""Evaluate a model version on a labelled file: the same as `moderation evaluate`.

python training/evaluate.py --data FILE [--model DIR] [--json]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from moderation.cli import app

if __name__ == "__main__":
    app(["evaluate", *sys.argv[1:]])
