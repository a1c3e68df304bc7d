"""Zero-cost proxies."""

from nasforge.evaluate.proxy.base import PROXIES, Proxy

__all__ = ["PROXIES", "Proxy"]
