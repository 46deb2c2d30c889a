# Connect to a port the harness listens on and talk.
import socket

with socket.create_connection(("127.0.0.1", @@PORT@@), timeout=1) as s:
    s.sendall(b"escaped")
