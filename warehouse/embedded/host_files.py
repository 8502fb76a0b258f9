"""Host files a query may read: only those under the data directory's `user_files`.

A ClickHouse server resolves `file()` paths against `user_files_path` and refuses any other path
with DATABASE_ACCESS_DENIED; chDB (clickhouse-local) reads any path, and its `default` database
even reads host files named as tables. The endpoint runs the engine with `user_files` as its
working directory, so relative paths land there, and checks every path a `file()` call names
here: `..` components are refused, symlinks are resolved, and a glob may not reach a symlink
that leads outside. Host files named as tables are unknown tables, as on a server.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from funnelhouse.warehouse.embedded.errors import ClickHouseError

_GLOB_CHARS = re.compile(r"[*?{]")
_BRACES = re.compile(r"\{[^{}]*\}")
# `{1..9}` is a glob range, not a parent directory.
_NUMERIC_RANGE = re.compile(r"\{-?\d+\.\.-?\d+\}")


class UserFiles:
    """The directory the endpoint's users may read files from, as a server's user_files_path."""

    def __init__(self, root: Path):
        self.root = Path(os.path.realpath(root))

    def check(self, path: str, user: str) -> None:
        """Refuse `path` (as written in a query) unless every file it may name is inside."""
        if "\x00" in path or path.startswith("~"):
            raise self._outside(path, user)
        parts = path.split("/")
        if any(".." in _NUMERIC_RANGE.sub("", part) for part in parts):
            raise self._outside(path, user)
        # A dot inside braces can expand to `..` (`{.}{.}`) though no `..` is written.
        if any("." in group for group in _BRACES.findall(_NUMERIC_RANGE.sub("", path))):
            raise self._outside(path, user)
        globbed = [i for i, part in enumerate(parts) if _GLOB_CHARS.search(part)]
        fixed = "/".join(parts[: globbed[0]]) if globbed else path
        if not fixed and path.startswith("/"):
            fixed = "/"
        target = Path(os.path.realpath(self.root / fixed))  # absolute `fixed` replaces the root
        if not self._inside(target):
            raise self._outside(path, user)
        if globbed and target.is_dir() and self._escaping_link(target):
            raise self._outside(path, user)

    def names_host_file(self, name: str) -> bool:
        """Whether chDB's `default` database would read table `name` as a host file.

        A server has no such tables; names that are no existing file (every real table, CTE
        and alias) are not host files."""
        candidates = [name]
        if name.startswith("default."):
            candidates.append(name[len("default.") :])
        # A path or a glob reads files whatever exists now (`/etc/hostnam?`).
        return any(c and (os.path.lexists(self.root / c) or _path_like(c)) for c in candidates)

    def _inside(self, target: Path) -> bool:
        return target == self.root or target.is_relative_to(self.root)

    def _escaping_link(self, directory: Path) -> bool:
        for dirpath, dirnames, filenames in os.walk(directory, followlinks=False):
            for name in (*dirnames, *filenames):
                entry = Path(dirpath, name)
                if entry.is_symlink() and not self._inside(Path(os.path.realpath(entry))):
                    return True
        return False

    def _outside(self, path: str, user: str) -> ClickHouseError:
        return ClickHouseError(
            291,
            "DATABASE_ACCESS_DENIED",
            f"File `{path}` is not inside `{self.root}/`: user {user} may read files under the "
            "data directory's user_files only (no `..`, no symlinks leading out); copy the "
            "file there, or ask for a user with allow_external",
        )


def literal_string(text: str) -> str | None:
    """The value of a string `Literal` as `EXPLAIN AST` prints it (`'a\\'b'`), else None."""
    if len(text) < 2 or text[0] != "'" or text[-1] != "'":
        return None
    body, out, i = text[1:-1], [], 0
    while i < len(body):
        c = body[i]
        if c == "\\":
            if i + 1 >= len(body):
                return None
            nxt = body[i + 1]
            out.append({"n": "\n", "t": "\t", "r": "\r", "0": "\x00"}.get(nxt, nxt))
            i += 2
            continue
        if c == "'":
            return None  # an unescaped quote: not one literal
        out.append(c)
        i += 1
    return "".join(out)


def _path_like(name: str) -> bool:
    """A table name chDB's `default` database reads as files: a path or a glob."""
    return "/" in name or name.startswith(".") or _GLOB_CHARS.search(name) is not None
