"""Path helpers, as in Algorithmia's client."""

import re

_BASE = re.compile(r"/([^/]+)$")
_PREFIX = re.compile(r"([^:]+://)(/)?(.+)")


def getParentAndBase(path):
    """Splits a data path or URI into (parent, base name): "data://a/b/c" → ("data://a/b", "c"),
    "a/b/c/" → ("a/b", "c"). Raises ValueError for a path with a single segment and no scheme."""
    m = _PREFIX.match(path)
    if m is None:
        stripped = path[:-1] if path.endswith("/") else path
        base = _BASE.search(stripped)
        if base is None:
            raise ValueError("Invalid path: " + path)
        return _BASE.sub("", stripped), base.group(1)
    prefix, slash, rest = m.groups()
    parts = rest.rstrip("/").split("/")
    return prefix + (slash or "") + "/".join(parts[:-1]), parts[-1]


def pathJoin(parent, base):
    """Joins a parent path and a name with one "/"."""
    if parent.endswith("/"):
        return parent + base
    return parent + "/" + base
