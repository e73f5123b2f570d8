"""The pure parts of the one-machine guards: /proc/net/tcp parsing and the crash-loop policy."""

from __future__ import annotations

from roost.infra.local_guard import BusyPort, listening_inodes
from roost.platform import CrashLoop

PROC_NET_TCP = """\
  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F40 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4242 1
   1: 0100007F:1F40 0100007F:A1B2 01 00000000:00000000 00:00000000 00000000     0        0 5151 1
   2: 00000000:1538 00000000:0000 0A 00000000:00000000 00:00000000 00000000   108        0 777 1
"""


def test_listening_inodes_keeps_listen_sockets_only() -> None:
    # 0x1F40 = 8000 listening (the established connection on it is not a listener), 0x1538 = 5432
    assert listening_inodes(PROC_NET_TCP) == {8000: "4242", 5432: "777"}


def test_listening_inodes_of_an_empty_table_is_empty() -> None:
    assert listening_inodes(PROC_NET_TCP.splitlines()[0]) == {}


def test_busy_port_names_its_owner_when_known() -> None:
    owned = BusyPort(8000, "pid 12 (python3)")
    assert owned.describe() == "port 8000 is in use by pid 12 (python3)"
    assert BusyPort(8000, None).describe() == "port 8000 is in use"


def test_crash_loop_backs_off_exponentially_and_gives_up_at_the_limit() -> None:
    loop = CrashLoop(limit=5, window=60.0)
    delays = []
    for second in range(4):
        loop.record(float(second))
        delays.append(loop.backoff_seconds)
        assert not loop.exhausted
    assert delays == [0.5, 1.0, 2.0, 4.0]
    loop.record(4.0)
    assert loop.exhausted


def test_crash_loop_forgets_failures_older_than_the_window() -> None:
    loop = CrashLoop(limit=3, window=60.0)
    loop.record(0.0)
    loop.record(1.0)
    loop.record(100.0)  # the first two are more than a minute old
    assert not loop.exhausted
    assert loop.backoff_seconds == 0.5


def test_crash_loop_backoff_is_capped() -> None:
    loop = CrashLoop(limit=100, window=1e9)
    for second in range(20):
        loop.record(float(second))
    assert loop.backoff_seconds == 8.0
