"""Messages between hullcheck and its jq worker: pickled objects over a socket pair, each after
its length (8 bytes, big-endian).

This is the part of `multiprocessing.connection.Connection` the two sides used (send, recv, poll,
close), without importing the multiprocessing package: that import cost ~12 ms of every worker
start and of every command that evaluates, more than a small snapshot takes to evaluate. Both
ends are hullcheck's own processes; nothing else writes to the socket.
"""

from __future__ import annotations

import pickle
import select
import socket
import struct
from typing import Any

_HEADER = struct.Struct("!Q")


class Channel:
    """One end of the socket pair. recv() raises EOFError once the other end is gone; send()
    raises OSError then (BrokenPipeError, ConnectionResetError)."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock

    @classmethod
    def from_fd(cls, fd: int) -> Channel:
        """The end whose file descriptor this process inherited."""
        return cls(socket.socket(fileno=fd))

    def send(self, message: Any) -> None:
        data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
        self._sock.sendall(_HEADER.pack(len(data)))
        self._sock.sendall(data)

    def recv(self) -> Any:
        (size,) = _HEADER.unpack(self._exactly(_HEADER.size))
        return pickle.loads(self._exactly(size))

    def poll(self, timeout: float) -> bool:
        """True when a message (or the end of the stream) is waiting, within `timeout` seconds."""
        poller = select.poll()  # not select.select: it cannot watch descriptors above 1023
        poller.register(self._sock, select.POLLIN | select.POLLHUP | select.POLLERR)
        return bool(poller.poll(max(0.0, timeout) * 1000))

    def close(self) -> None:
        self._sock.close()

    def _exactly(self, size: int) -> bytearray:
        buffer = bytearray(size)
        view = memoryview(buffer)
        got = 0
        while got < size:
            count = self._sock.recv_into(view[got:])
            if count == 0:
                raise EOFError("the other end closed the channel")
            got += count
        return buffer
