"""Several worker processes on one socket: mail flows, and a dead worker is replaced."""

from __future__ import annotations

import os
import signal
import subprocess

from tests.support import STAFF, make_message, wait_until


def worker_pids(parent: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(parent)], capture_output=True,
                         text=True).stdout
    return [int(p) for p in out.split()]


def test_two_workers_share_the_socket_and_a_killed_one_is_replaced(gateway_factory, sink):
    gw = gateway_factory(**{"server.workers": 2})
    before = wait_until(lambda: len(worker_pids(gw.process.pid)) == 2 and
                        worker_pids(gw.process.pid))
    for i in range(6):
        with gw.smtp() as client:
            assert client.send_message(make_message("friend@example.org", [STAFF],
                                                    subject=f"w{i}")) == {}
    sink.wait_for(6)
    os.kill(before[0], signal.SIGKILL)
    after = wait_until(lambda: (pids := worker_pids(gw.process.pid)) and len(pids) == 2
                       and before[0] not in pids and pids, timeout=20)
    assert after and before[1] in after
    with gw.smtp() as client:
        assert client.send_message(make_message("friend@example.org", [STAFF])) == {}
    sink.wait_for(7)
