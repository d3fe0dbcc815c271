"""Train a model version: the same as `moderation train`, runnable as a script.

python training/train.py [--data FILE ...] [--from-db [--site NAME]] [--out DIR]
                         [--promote [--force]] [--report FILE.html] [--json]

--from-db adds the labelled comments of the database (MODERATION_DATABASE_URL) to the seed
corpus; see training/README.md. Exit status 3: the candidate scored worse than the current
model and was saved but not promoted.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from moderation.cli import app

if __name__ == "__main__":
    app(["train", *sys.argv[1:]])
