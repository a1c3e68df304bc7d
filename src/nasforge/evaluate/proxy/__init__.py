"""Zero-cost proxies: cheap scores that guide a search.

Built-ins register on import: ``nb201_table`` (:class:`TableProxy`, scores read from the
NAS-Bench-201 table).
"""

from nasforge.evaluate.proxy.base import PROXIES, Proxy
from nasforge.evaluate.proxy.table import TableProxy

__all__ = ["PROXIES", "Proxy", "TableProxy"]
