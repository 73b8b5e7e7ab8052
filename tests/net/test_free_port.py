"""`free_port`: a port a child process can bind later, out of the way of outgoing connections."""

from __future__ import annotations

import socket

from rolloutctl.net.sockets import LOWEST_PICK, free_port

HOST = "127.0.0.1"


def bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
    return True


def test_a_port_is_picked_below_the_ephemeral_range_and_is_free():
    ports = {free_port(HOST, ephemeral_start=32768) for _ in range(20)}
    assert all(LOWEST_PICK <= port < 32768 for port in ports)
    assert all(bindable(port) for port in ports)
    assert len(ports) > 1  # random: two pickers rarely meet


def test_without_room_below_the_range_the_kernel_picks():
    port = free_port(HOST, ephemeral_start=LOWEST_PICK + 10)
    assert port >= LOWEST_PICK + 10  # the kernel's pick, from its ephemeral range
    assert bindable(port)


def test_the_machines_range_is_read_and_respected():
    with open("/proc/sys/net/ipv4/ip_local_port_range") as ranges:
        start = int(ranges.read().split()[0])
    port = free_port(HOST)
    assert port < start or start - LOWEST_PICK < 1000
