# Send a datagram to a port the harness listens on.
import socket

s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.sendto(b"escaped", ("127.0.0.1", @@UDP_PORT@@))
raise SystemExit("sent, but this would still be a wrong answer")
