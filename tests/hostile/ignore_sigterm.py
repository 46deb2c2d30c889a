# Ignore the polite signals, then hang.
import signal
import time

for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT):
    signal.signal(sig, signal.SIG_IGN)
while True:
    time.sleep(0.1)
