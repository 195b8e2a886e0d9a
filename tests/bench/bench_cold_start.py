"""Cold start: `llmproc-prompt` on an example versus `python -c "import anthropic, openai"`.

Printing a prompt needs no SDK, so the ratio should be well under 1. Both commands run
alternately in one process tree, so machine noise hits both alike.

    python tests/bench/bench_cold_start.py [--runs 15]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def timed(cmd: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    prompt_cmd = [shutil.which("llmproc-prompt", path=str(Path(sys.executable).parent)) or "llmproc-prompt",
                  str(ROOT / "examples" / "features" / "preload.toml"), "-C"]
    sdk_cmd = [sys.executable, "-c", "import anthropic, openai"]
    timed(prompt_cmd), timed(sdk_cmd)  # warm the file cache for both
    ours, sdks = [], []
    for _ in range(args.runs):
        ours.append(timed(prompt_cmd))
        sdks.append(timed(sdk_cmd))
    a, b = statistics.median(ours), statistics.median(sdks)
    print(f"llmproc-prompt          median {a * 1000:7.1f} ms")
    print(f"import anthropic,openai median {b * 1000:7.1f} ms")
    print(f"ratio {a / b:.2f} (target: well under 1)")


if __name__ == "__main__":
    main()
