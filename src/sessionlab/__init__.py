"""The teaching labs about sessions and cookies, rebuilt on SessionKeeper, and the demo site.

Each lab is a module or package with a ``create_app(config=None)`` factory and
runs alone with ``python -m sessionlab.<lab>``; ``sessionkeeper demo`` mounts
them all on one site.
"""

from __future__ import annotations

__all__: list[str] = []
