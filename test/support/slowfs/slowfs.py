#!/usr/bin/python3
"""slowfs: a read-only FUSE passthrough filesystem that imitates a slow, failing
or dying disk, for rangeserve's tests and demos.

Usage (as root, with Debian's fuse3 + python3-fusepy; run with /usr/bin/python3):

    /usr/bin/python3 slowfs.py BACKING_DIR MOUNTPOINT CONTROL_FILE [--parent-pid PID]

The daemon stays in the foreground until it is unmounted or killed.

CONTROL_FILE lives outside the mount and is re-read on every read(). It holds
either a JSON object or `key=value` lines (`#` starts a comment):

    delay_ms=N      sleep N ms inside every FUSE read request (default 0)
    eio=0|1         every read fails with EIO (default 0)
    serialize=0|1   one global lock around each read, delay included: queue
                    depth 1, like a dying spindle (default 0)
    trace=0|1       write one line per read to stderr (default 0):
                    `read <offset> <size> <elapsed_ms> <ok|eio>`

A missing or unparsable control file keeps the last good settings.
A hung disk is imitated by SIGSTOP of this process (see slowfs.ts).

The mount uses direct_io, so the kernel page cache never answers a read: every
read(2) on a file of the mount becomes one or more FUSE read requests, each of
which is delayed. nothreads is False, so every request runs on its own libfuse
worker thread and a delayed request really blocks the caller's kernel request.
"""

import errno
import json
import os
import subprocess
import sys
import threading
import time

from fusepy import FUSE, FuseOSError, Operations

DEFAULTS = {"delay_ms": 0, "eio": 0, "serialize": 0, "trace": 0}


def parse_control(text):
    text = text.strip()
    if not text:
        return {}
    if text.startswith("{"):
        raw = json.loads(text)
        if not isinstance(raw, dict):
            raise ValueError("control JSON must be an object")
    else:
        raw = {}
        for line in text.splitlines():
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            key, sep, value = line.partition("=")
            if not sep:
                raise ValueError("bad control line: %r" % line)
            raw[key.strip()] = value.strip()
    out = {}
    for key in DEFAULTS:
        if key in raw:
            value = raw[key]
            if isinstance(value, bool):
                value = int(value)
            value = float(value)
            if value < 0:
                raise ValueError("%s must be >= 0" % key)
            out[key] = value
    return out


class SlowFs(Operations):
    def __init__(self, backing, control_path):
        self.backing = os.path.realpath(backing)
        self.control_path = control_path
        self.settings = dict(DEFAULTS)
        self.settings_lock = threading.Lock()
        self.disk_lock = threading.Lock()  # used when serialize=1
        self.load_control()

    # -- control -----------------------------------------------------------
    def load_control(self):
        try:
            with open(self.control_path, "r", encoding="utf-8") as f:
                parsed = parse_control(f.read())
        except (OSError, ValueError):
            with self.settings_lock:
                return dict(self.settings)
        with self.settings_lock:
            merged = dict(DEFAULTS)
            merged.update(parsed)
            self.settings = merged
            return dict(merged)

    # -- helpers -----------------------------------------------------------
    def real(self, path):
        return os.path.join(self.backing, path.lstrip("/"))

    # -- metadata ----------------------------------------------------------
    def getattr(self, path, fh=None):
        try:
            st = os.lstat(self.real(path))
        except OSError as e:
            raise FuseOSError(e.errno)
        return {
            key: getattr(st, key)
            for key in (
                "st_mode", "st_ino", "st_nlink", "st_uid", "st_gid", "st_size",
                "st_atime", "st_mtime", "st_ctime", "st_blocks",
            )
        }

    def readdir(self, path, fh):
        try:
            names = os.listdir(self.real(path))
        except OSError as e:
            raise FuseOSError(e.errno)
        return [".", ".."] + names

    def readlink(self, path):
        try:
            return os.readlink(self.real(path))
        except OSError as e:
            raise FuseOSError(e.errno)

    def statfs(self, path):
        sv = os.statvfs(self.real(path))
        return {
            key: getattr(sv, key)
            for key in (
                "f_bsize", "f_frsize", "f_blocks", "f_bfree", "f_bavail",
                "f_files", "f_ffree", "f_favail", "f_flag", "f_namemax",
            )
        }

    def access(self, path, amode):
        if amode & os.W_OK:
            raise FuseOSError(errno.EROFS)
        if not os.access(self.real(path), amode):
            raise FuseOSError(errno.EACCES)
        return 0

    # -- data --------------------------------------------------------------
    def open(self, path, flags):
        if flags & (os.O_WRONLY | os.O_RDWR | os.O_TRUNC | os.O_APPEND):
            raise FuseOSError(errno.EROFS)
        # O_DIRECT would need aligned buffers on the backing file system.
        flags &= ~getattr(os, "O_DIRECT", 0)
        try:
            return os.open(self.real(path), flags)
        except OSError as e:
            raise FuseOSError(e.errno)

    def read(self, path, size, offset, fh):
        settings = self.load_control()
        if settings["serialize"]:
            with self.disk_lock:
                return self._read(settings, size, offset, fh)
        return self._read(settings, size, offset, fh)

    def _read(self, settings, size, offset, fh):
        start = time.monotonic()
        delay = settings["delay_ms"] / 1000.0
        if delay > 0:
            time.sleep(delay)
        failed = bool(settings["eio"])
        try:
            if failed:
                raise FuseOSError(errno.EIO)
            try:
                return os.pread(fh, size, offset)
            except OSError as e:
                failed = True
                raise FuseOSError(e.errno)
        finally:
            if settings["trace"]:
                elapsed = (time.monotonic() - start) * 1000.0
                sys.stderr.write("read %d %d %.1f %s\n" % (
                    offset, size, elapsed, "eio" if failed else "ok"))
                sys.stderr.flush()

    def release(self, path, fh):
        try:
            os.close(fh)
        except OSError:
            pass
        return 0

    # No flush handler: libfuse answers FLUSH with ENOSYS and the kernel then
    # stops sending FLUSH on close(2) for the whole mount (slowfs.ts primes this
    # right after mounting). Otherwise every close of a descriptor on the mount
    # waits for the daemon, and a hung daemon would then also hang every
    # fork+exec of a process holding such a descriptor (execve closes O_CLOEXEC
    # descriptors, which flushes). A real local disk has no such flush on close.
    flush = None

    def opendir(self, path):
        return 0

    def releasedir(self, path, fh):
        return 0


def watch_parent(parent_pid, mountpoint):
    """If the process that started us dies, detach the mount and exit, so a
    crashed test run leaves no mount behind."""
    while True:
        time.sleep(0.5)
        try:
            os.kill(parent_pid, 0)
            alive = os.getppid() == parent_pid
        except OSError:
            alive = False
        if not alive:
            subprocess.run(["umount", "-l", mountpoint],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            os._exit(0)


def main(argv):
    args = list(argv[1:])
    parent_pid = None
    if "--parent-pid" in args:
        i = args.index("--parent-pid")
        parent_pid = int(args[i + 1])
        del args[i:i + 2]
    if len(args) != 3:
        sys.stderr.write(
            "usage: slowfs.py BACKING MOUNTPOINT CONTROL_FILE [--parent-pid PID]\n")
        return 2
    backing, mountpoint, control = args
    if not os.path.isdir(backing):
        sys.stderr.write("slowfs: backing directory %r does not exist\n" % backing)
        return 2
    if parent_pid is not None:
        t = threading.Thread(target=watch_parent, args=(parent_pid, mountpoint),
                             daemon=True)
        t.start()
    FUSE(
        SlowFs(backing, control),
        mountpoint,
        foreground=True,
        nothreads=False,
        ro=True,
        direct_io=True,
        use_ino=True,
        allow_other=True,
        fsname="slowfs",
        subtype="slowfs",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
