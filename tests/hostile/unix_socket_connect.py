# Connect to a world-writable unix socket in a host folder and talk to it.
import socket

s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect("@@SOCKET@@")
s.sendall(b"GET /secrets")
print("connected")
