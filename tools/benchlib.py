"""Helpers shared by the bench report scripts (imported, not run)."""
import subprocess


def sh(c):
    """A shell command's output, or "?" when it fails (reports never stop on a probe)."""
    try:
        return subprocess.check_output(c, shell=True, text=True, stderr=subprocess.DEVNULL).strip()
    except Exception:
        return "?"


def read(path, default=""):
    try:
        return open(path).read()
    except OSError:
        return default
