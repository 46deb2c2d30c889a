# Ignore SIGXCPU and spin, past the soft CPU limit.
import signal

signal.signal(signal.SIGXCPU, signal.SIG_IGN)
while True:
    pass
