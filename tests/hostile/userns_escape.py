# Become root in a new user namespace, then try the network and mounts from there.
import ctypes
import socket

CLONE_NEWUSER, CLONE_NEWNET, CLONE_NEWNS = 0x10000000, 0x40000000, 0x00020000
libc = ctypes.CDLL(None, use_errno=True)
print("unshare:", libc.unshare(CLONE_NEWUSER | CLONE_NEWNET | CLONE_NEWNS), ctypes.get_errno())
print("mount:", libc.mount(b"none", b"/", None, 1 << 14 | 1 << 18, None), ctypes.get_errno())
with socket.create_connection(("127.0.0.1", @@PORT@@), timeout=1) as s:
    s.sendall(b"escaped")
