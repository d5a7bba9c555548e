"""The classifier's benchmark runs and prints every row the README quotes; its real-mail
corpus is 5 KB bodies that never repeat a mail (a repeated mail halved the cost)."""

from __future__ import annotations

import os
import subprocess
import sys

from bench import classifier as bench
from tests.support import ROOT


def test_the_benchmark_prints_its_table():
    out = subprocess.run([sys.executable, "-m", "bench.classifier", "--n", "4", "--synthetic"],
                         cwd=ROOT, capture_output=True, text=True, timeout=120,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 0, out.stderr
    for row in ("| single message (mail split + score), mean |", "| single message, p99 |",
                "| batched x16, per message |", "| batched x64, per message |",
                "| n-gram scoring inside the single messages above, per message |",
                "| model load |", "| RSS growth on load |",
                "| RSS growth once scoring (remembered words, count tables) |",
                "| this machine: sum(range(1,000,000)) in Python |"):
        assert row in out.stdout


def test_real_mail_bodies_are_5kb_and_distinct():
    bodies, others = bench.corpus(20, synthetic=False)
    assert len(bodies) == 20 + sum(bench.BATCHES) and others
    assert all(len(b) == bench.BODY_CHARS for b in bodies)
    assert len(set(bodies)) == len(bodies)
    # a mail repeated to fill a body would leave a fraction of its lines distinct
    # (mailing-list footers repeat within a body, so not every line is)
    for body in bodies:
        lines = [line for line in body.split("\n") if line.strip()]
        assert len(set(lines)) > 0.6 * len(lines)
