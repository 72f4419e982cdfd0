"""What one UDP datagram costs its sender's CPU when its receiver is another process on the same host.

bench.devserver runs the dev server and its clients on one machine: the kernel delivers each
datagram the server sends through ``lo`` inside the server's ``sendto`` (the receive path runs
in the sender's context) and wakes the receiving thread from there, so both are charged to the
server's CPU. On a deployment the receivers' hosts pay for that. This measures it, per datagram:

  to an idle socket     K sockets nobody waits on (drained between rounds): send + delivery
  to sleeping threads   K child processes, each blocked in recv on its socket: send + delivery
                        + waking the receiver (on a VM, often an inter-processor interrupt)

Every round sends one datagram of PAYLOAD bytes to each of K receivers, then sleeps 20 ms (one
Opus packet interval, so receivers go back to sleep). Sender CPU (user + system, from
getrusage) per datagram, less the same loop's CPU without sends:

    .venv/bin/python -m bench.loopback [--receivers 4,15,31] [--rounds 500]
"""

from __future__ import annotations

import argparse
import os
import resource
import signal
import socket
import time

PAYLOAD = 100  # bytes: about an Opus packet with its RTP header and SRTP tag
INTERVAL = 0.02


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _receivers(count: int) -> list[socket.socket]:
    sockets = []
    for _ in range(count):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.1", 0))
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        sockets.append(sock)
    return sockets


def _rounds(sender: socket.socket, targets: list[tuple[str, int]], rounds: int, drain: list[socket.socket]) -> float:
    """Sender CPU seconds for ``rounds`` rounds (drain: sockets emptied between rounds, unmeasured)."""
    data = bytes(PAYLOAD)
    spent = 0.0
    for _ in range(rounds):
        start = _cpu()
        for target in targets:
            sender.sendto(data, target)
        spent += _cpu() - start
        for sock in drain:
            while True:
                try:
                    sock.recv(2048, socket.MSG_DONTWAIT)
                except BlockingIOError:
                    break
        time.sleep(INTERVAL)
    return spent


def measure(count: int, rounds: int) -> tuple[float, float, float]:
    """(idle-socket µs, sleeping-receiver µs, the loop's own µs per round) for ``count`` receivers."""
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    empty = _rounds(sender, [], rounds, [])
    idle = _receivers(count)
    to_idle = _rounds(sender, [s.getsockname() for s in idle], rounds, idle) - empty
    for sock in idle:
        sock.close()
    sleeping = _receivers(count)
    children = []
    for sock in sleeping:
        pid = os.fork()
        if pid == 0:  # the receiver: block in recv until killed
            try:
                while True:
                    sock.recv(2048)
            finally:
                os._exit(0)
        children.append(pid)
    try:
        time.sleep(0.2)
        to_sleeping = _rounds(sender, [s.getsockname() for s in sleeping], rounds, []) - empty
    finally:
        for pid in children:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        for sock in sleeping:
            sock.close()
    per = 1e6 / (rounds * count)
    return to_idle * per, to_sleeping * per, empty * 1e6 / rounds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--receivers", type=lambda s: [int(x) for x in s.split(",")], default=[4, 15, 31])
    parser.add_argument("--rounds", type=int, default=500)
    args = parser.parse_args()
    print(f"{'receivers':>9} {'idle socket':>12} {'sleeping':>10} {'wake-up':>9}   (sender CPU per datagram, µs)")
    for count in args.receivers:
        to_idle, to_sleeping, _ = measure(count, args.rounds)
        print(f"{count:>9} {to_idle:>12.1f} {to_sleeping:>10.1f} {to_sleeping - to_idle:>9.1f}")


if __name__ == "__main__":
    main()
