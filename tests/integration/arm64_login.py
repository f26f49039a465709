#!/usr/bin/python3
"""The login of test_aarch64.py's aarch64 fleet host: sshd runs this as its
ForceCommand; it runs $SSH_ORIGINAL_COMMAND with busybox:arm64's sh, in a
userland where every command is an aarch64 binary.

    arm64_login.py ROOT QEMU

ROOT holds Debian's busybox for arm64 (ROOT/bin/busybox), ROOT/xbin, one
symlink to it per applet, which is the session's whole PATH, and
ROOT/sysroot, what busybox loads (ld-linux-aarch64.so.1 and
aarch64-linux-gnu/{libc.so.6,libresolv.so.2}, links to Debian's
libc6-arm64-cross).  aarch64 ELF files are handed to QEMU
(qemu-aarch64-static) by binfmt_misc, registered in a binfmt_misc instance
of this session's own: a new user namespace (uids and gids mapped one to
one, so root stays root and the agent's network process can still drop to
nobody) with its own mount namespace, where binfmt_misc is mounted afresh
(Linux >= 6.7) and ROOT/sysroot is laid over /usr/lib (a read-only overlay:
/lib/ld-linux-aarch64.so.1 exists there, as on an arm64 Debian).  The machine's own binfmt_misc registrations,
if any, are neither seen as changed nor touched.  So `uname -m` prints
aarch64 because qemu-user answers the uname system call for an aarch64
program, not because anything was told to say so.

The session's environment: HOME, USER, LOGNAME from sshd;
CERTFLEET_TEST_QEMU=1 (only the aarch64-test agent reads it: under
qemu-user, which refuses seccomp filters, it runs its network process
without one; release agents fail closed).  Not QEMU_LD_PREFIX: qemu-user
then looks every absolute path up under that prefix first, "/" included,
and the agent's files would land there.
"""
import ctypes
import os
import sys

CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
MS_RDONLY = 1
MS_REC = 0x4000
MS_PRIVATE = 1 << 18
# qemu's own qemu-binfmt-conf.sh values for aarch64, escaped as binfmt_misc
# reads them; F: qemu is opened now, so the registration works whatever the
# session later sees at that path
MAGIC = rb"\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xb7\x00"
MASK = rb"\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff"


def die(msg):
    sys.stderr.write("arm64_login: %s\n" % msg)
    os._exit(126)


def main():
    root, qemu = sys.argv[1], sys.argv[2]
    cmd = os.environ.get("SSH_ORIGINAL_COMMAND", "")
    libc = ctypes.CDLL(None, use_errno=True)
    go_r, go_w = os.pipe()
    ready_r, ready_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(go_w)
        os.close(ready_r)
        if libc.unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0:
            die("unshare: %s" % os.strerror(ctypes.get_errno()))
        os.write(ready_w, b"x")
        if os.read(go_r, 1) != b"x":        # the parent wrote our uid/gid maps
            die("no uid map")
        if libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None) != 0:
            die("mount --make-rprivate /: %s" % os.strerror(ctypes.get_errno()))
        mnt = b"/proc/sys/fs/binfmt_misc"
        if libc.mount(b"binfmt_misc", mnt, b"binfmt_misc", 0, None) != 0:
            die("mount binfmt_misc: %s" % os.strerror(ctypes.get_errno()))
        with open("/proc/sys/fs/binfmt_misc/register", "wb") as f:
            f.write(b":qemu-aarch64:M::" + MAGIC + b":" + MASK + b":" + qemu.encode() + b":F")
        opts = b"lowerdir=" + root.encode() + b"/sysroot:/usr/lib"
        if libc.mount(b"overlay", b"/usr/lib", b"overlay", MS_RDONLY, opts) != 0:
            die("mount overlay on /usr/lib: %s" % os.strerror(ctypes.get_errno()))
        env = {k: os.environ[k] for k in ("HOME", "USER", "LOGNAME") if k in os.environ}
        env.update(PATH=root + "/xbin", CERTFLEET_TEST_QEMU="1")
        # the applet's symlink: busybox picks the applet by the file's name
        # (binfmt_misc without the P flag hands qemu the path, not argv[0])
        os.execve(root + "/xbin/sh", ["sh", "-c", cmd], env)
    os.close(go_r)
    os.close(ready_w)
    if os.read(ready_r, 1) != b"x":
        _, st = os.waitpid(pid, 0)
        sys.exit(os.waitstatus_to_exitcode(st) or 126)
    for f, line in (("uid_map", "0 0 4294967295\n"), ("gid_map", "0 0 4294967295\n")):
        with open("/proc/%d/%s" % (pid, f), "w") as fh:
            fh.write(line)
    os.write(go_w, b"x")
    _, st = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(st)
    sys.exit(code if code >= 0 else 128 - code)


if __name__ == "__main__":
    main()
