"""Builds one sandbox from the inside, then execs the interpreter that runs the program.

Started by the harness as ``python -I -S _bootstrap.py CONFIG`` (CONFIG: hex
of a marshalled dict), as the first process of the sandbox, still privileged
so it can mount and change uid. In a fresh PID namespace it then forks: it
stays behind as PID 1 and the child becomes the program. It imports nothing
from evalkit and imports everything it needs up front, because once the
private mounts are in place the interpreter's own directory may be hidden.

A failure here is reported on the result pipe as ``SETUP:<message>`` so the
harness can tell "the sandbox broke" from "the program failed".
"""
import ctypes
import marshal
import os
import resource
import sys

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT = 1, 2, 4, 8, 32
MS_NOATIME, MS_NODIRATIME, MS_BIND, MS_REC, MS_RELATIME = 1024, 2048, 4096, 16384, 1 << 21
# Mount flags a remount must keep (in a user namespace they are locked)
_KEPT_FLAGS = {"nosuid": MS_NOSUID, "nodev": MS_NODEV, "noexec": MS_NOEXEC, "noatime": MS_NOATIME,
               "nodiratime": MS_NODIRATIME, "relatime": MS_RELATIME}
WRITABLE_MOUNTS = ("/tmp", "/var/tmp", "/dev/shm")
PR_SET_PDEATHSIG, PR_SET_NO_NEW_PRIVS = 1, 38
SMALL_TMPFS_MB = 16  # /var/tmp and /dev/shm: enough for multiprocessing semaphores

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]


def _mount(source, target, fstype, flags, data=None):
    enc = lambda s: s.encode() if s is not None else None  # noqa: E731
    if _libc.mount(enc(source), enc(target), enc(fstype), flags, enc(data)) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount {target}: {os.strerror(err)}")


def _prctl(option, value):
    if _libc.prctl(option, value, 0, 0, 0) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"prctl({option}): {os.strerror(err)}")


def _private_filesystem(cfg):
    """A fresh tmpfs as /tmp (the sandbox dir), private /var/tmp and /dev/shm,
    and empty tmpfs over home directories so no key or token there is readable.
    The interpreter's own directories are bound back in where they were hidden."""
    owner = f",uid={cfg['uid']},gid={cfg['uid']}" if cfg["uid"] is not None else ""
    keep = [(path, os.open(path, os.O_PATH)) for path in cfg["expose"]]
    flags = MS_NOSUID | MS_NODEV
    _mount("tmpfs", "/tmp", "tmpfs", flags, f"size={cfg['tmpfs_mb']}m,mode=0700{owner}")
    for shared in ("/var/tmp", "/dev/shm"):
        if os.path.isdir(shared):
            _mount("tmpfs", shared, "tmpfs", flags, f"size={SMALL_TMPFS_MB}m,mode=1777")
    for secret_dir in cfg["hide"]:
        if os.path.isdir(secret_dir):
            _mount("tmpfs", secret_dir, "tmpfs", flags, "size=1m,mode=0755")
    for path, fd in keep:
        os.makedirs(path, exist_ok=True)
        _mount(f"/proc/self/fd/{fd}", path, None, MS_BIND | MS_REC)
        os.close(fd)
    _read_only_elsewhere()


def _read_only_elsewhere():
    """Every other mount read-only in this namespace: world-writable dirs such
    as /run/lock exist outside /tmp, and a file the uid happens to own could
    be anywhere. /dev (device nodes such as /dev/null) and /proc stay as they are."""
    with open("/proc/self/mounts") as f:
        mounts = [line.split() for line in f]
    for _dev, where, _fstype, options, *_ in mounts:
        where = _unescape(where)
        if where in WRITABLE_MOUNTS or any(where == d or where.startswith(d + "/") for d in ("/proc", "/dev")):
            continue
        kept = sum(_KEPT_FLAGS.get(option, 0) for option in options.split(","))
        try:
            _mount(None, where, None, MS_REMOUNT | MS_BIND | MS_RDONLY | kept)
        except OSError:
            if where == "/":
                raise


def _unescape(path):
    """/proc/self/mounts writes space, tab, newline and backslash as octal escapes."""
    for code, char in (("\\040", " "), ("\\011", "\t"), ("\\012", "\n"), ("\\134", "\\")):
        path = path.replace(code, char)
    return path


def _prepare_workdir(cfg, source):
    """Writes the program and a HOME into the sandbox dir; returns its path."""
    workdir = "/tmp" if cfg["private_fs"] else cfg["workdir"]
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
    # a credential change clears the parent-death signal unshare set; set it again
    _prctl(PR_SET_PDEATHSIG, 9)


def _be_init(child, cfg):
    """PID 1 of the sandbox: reaps every orphan, and ends (taking the whole
    namespace with it) when the program's process ends. The program must not
    be PID 1 itself: the kernel drops signals a PID 1 sends itself, so abort()
    or os.kill(os.getpid(), ...) would not behave as they do elsewhere."""
    os.close(cfg["nonce_fd"])
    while True:
        pid, status = os.wait()
        if pid == child:
            break
    if os.WIFSIGNALED(status):
        # PID 1 cannot re-raise the signal on itself; the harness reads it here
        signum = os.WTERMSIG(status)
        os.write(cfg["result_fd"], f"SIGNAL:{signum}".encode())
        os._exit(128 + signum)
    os._exit(os.waitstatus_to_exitcode(status))


def main(cfg):
    for procs_file in cfg["cgroup_procs"]:
        with open(procs_file, "w") as f:
            f.write("0")  # cgroup v1: "0" moves the writer; children inherit it
    with open(cfg["program"], "rb") as f:
        source = f.read()
    if cfg["private_fs"]:
        _private_filesystem(cfg)
    workdir = _prepare_workdir(cfg, source)
    if cfg["pid_namespace"]:
        child = os.fork()
        if child:
            _be_init(child, cfg)
    for name, soft, hard in cfg["rlimits"]:
        resource.setrlimit(getattr(resource, name), (soft, hard))
    os.umask(0o022)
    _drop_privileges(cfg["uid"])
    os.chdir(workdir)
    env = dict(cfg["env"], HOME=os.path.join(workdir, "home"), TMPDIR=workdir)
    argv = [cfg["python"], *cfg["python_flags"], "-c", cfg["launcher"],
            str(cfg["nonce_fd"]), str(cfg["result_fd"]), os.path.join(workdir, "main.py")]
    os.execve(cfg["python"], argv, env)


if __name__ == "__main__":
    config = marshal.loads(bytes.fromhex(sys.argv[1]))
    try:
        main(config)
    except BaseException as exc:  # anything before exec is the sandbox's fault, not the program's
        os.write(config["result_fd"], f"SETUP:{type(exc).__name__}: {exc}".encode()[:500])
        os._exit(125)
