"""Zero-cost proxies: how promising an untrained candidate looks from one batch at
initialisation, and how far that judgement can be trusted on a given space (:mod:`.correlation`).

One registry (:data:`PROXIES`), one function per proxy, each citing its paper; params and flops
are registered as the baselines. :func:`score_candidate` is what every caller uses.
"""

from . import activation, baselines, gradient, synflow  # noqa: F401  (register the proxies)
from .registry import (
    DEFAULT_BATCH_SIZE,
    PROXIES,
    Proxy,
    ProxyBatch,
    ProxyScores,
    check_proxy_names,
    proxy_batch,
    proxy_names,
    register_proxy,
    score_candidate,
)

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "PROXIES",
    "Proxy",
    "ProxyBatch",
    "ProxyScores",
    "check_proxy_names",
    "proxy_batch",
    "proxy_names",
    "register_proxy",
    "score_candidate",
]
