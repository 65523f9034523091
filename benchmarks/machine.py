"""What machine a benchmark ran on: CPU model, usable cores, load average."""
from __future__ import annotations

import os
import platform


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def load_average() -> str:
    try:
        return "%.2f" % os.getloadavg()[0]
    except (AttributeError, OSError):  # not Unix
        return "n/a"
