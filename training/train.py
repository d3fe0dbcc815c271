"""Train a model version: the same as `moderation train`, runnable as a script.

python training/train.py [--data FILE ...] [--out DIR] [--promote]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from moderation.cli import app

if __name__ == "__main__":
    app(["train", *sys.argv[1:]])
