#!/usr/bin/env python
"""Summarise a py-spy raw (collapsed-stack) profile: each function's inclusive and own share of the samples.

    .venv/bin/py-spy record -p PID -d 15 -f raw -o web.raw   # a web worker while `make bench` loads it
    .venv/bin/python scripts/profile_summary.py web.raw [--top 40] > bench/profiles/http_wallet.txt
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("raw", type=Path)
    parser.add_argument("--top", type=int, default=45)
    args = parser.parse_args()
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in args.raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        n = int(count)
        total += n
        frames = [re.sub(r" \(/.*?/(site-packages|wt-[a-z-]+|lib/python3\.\d+)/", " (", f) for f in stack.split(";")]
        for frame in set(frames):
            inclusive[frame] += n
        own[frames[-1]] += n
    print(f"# {args.raw.name}: {total} samples (CPU only). inclusive% own%  function (file:line)")
    for frame, n in inclusive.most_common(args.top):
        print(f"{100 * n / total:6.1f} {100 * own[frame] / total:6.1f}  {frame}")
    print("\n# Most own time")
    for frame, n in own.most_common(20):
        print(f"{100 * n / total:6.1f}  {frame}")


if __name__ == "__main__":
    main()
