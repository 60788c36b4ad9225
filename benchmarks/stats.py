"""Timing and the two statistics every figure uses."""

import math
import statistics
import time


def median(samples):
    return statistics.median(samples)


def p99(samples):
    """Nearest-rank 99th percentile: the value 99 % of the samples do not exceed."""
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(0.99 * len(ordered)) - 1)]


def timed(fn, *args, **kwargs):
    """(seconds, result) of one call."""
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    return time.perf_counter() - start, result


def ms(seconds):
    return seconds * 1000
