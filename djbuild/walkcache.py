"""What the import walk reads from disk, read once: folder listings and module scans.

`ListingResolver` answers `Resolver.find` from directory listings (one `scandir` per folder)
instead of a handful of `stat` calls per candidate name; the walk asks for thousands of names,
most of them `from pkg import Name` candidates that are not modules at all. A vendor set never
changes once installed, so its listings are kept for the life of the process (a `djbuild dev`
session pays for them once); project listings are read again by every build.

`scan_cache` keeps each scan-cache file loaded for the life of the process, with the scans it
has already turned back into objects, so a dev rebuild neither parses the JSON again nor
rebuilds the scans of files that did not change.
"""

from __future__ import annotations

import json
import os
from fnmatch import fnmatchcase
from pathlib import Path

from .analysis.cache import VERSION, ScanCache
from .analysis.graph import Resolver
from .analysis.scan import ModuleScan

DIR, FILE = "d", "f"


class Listings:
    """Folder path -> {entry name: DIR, FILE or None (anything else)}, read once each."""

    def __init__(self) -> None:
        self._seen: dict[str, dict[str, str | None] | None] = {}

    def get(self, folder: str) -> dict[str, str | None] | None:
        if folder in self._seen:
            return self._seen[folder]
        names: dict[str, str | None] | None
        try:
            with os.scandir(folder) as entries:
                names = {
                    e.name: DIR if e.is_dir() else FILE if e.is_file() else None for e in entries
                }
        except OSError:
            names = None
        self._seen[folder] = names
        return names


_VENDOR_LISTINGS: dict[str, Listings] = {}  # a complete vendor set never changes


class ListingResolver(Resolver):
    """`Resolver` with the same answers, looked up in folder listings."""

    def __init__(
        self,
        project_root: Path,
        vendor_dir: Path | None,
        generated: set[str],
        listings: Listings | None = None,
    ) -> None:
        super().__init__(project_root, vendor_dir, generated)
        self.listings = listings or Listings()
        self.vendor_listings = (
            _VENDOR_LISTINGS.setdefault(str(vendor_dir), Listings())
            if vendor_dir is not None
            else None
        )

    def find(self, name: str) -> tuple[str, Path, bool] | None:
        parts = name.split(".")
        top = parts[0]
        root = self.listings.get(str(self.project_root)) or {}
        if top in self.framework and not (root.get(top) == DIR or root.get(top + ".py") == FILE):
            return self._look("project", self.framework[top], parts, name)
        if top in self._project_tops:
            return self._look("project", self.project_root, parts, name)
        if self.vendor_dir is not None:
            return self._look("vendor", self.vendor_dir, parts, name)
        return None

    def _look(
        self, origin: str, base: Path, parts: list[str], name: str
    ) -> tuple[str, Path, bool] | None:
        vendored = origin == "vendor"
        listings = self.vendor_listings if vendored and self.vendor_listings else self.listings
        folder = os.path.join(str(base), *parts[:-1])
        names = listings.get(folder)
        if names is None:
            return None
        last = parts[-1]
        if names.get(last) == DIR:
            inner = listings.get(os.path.join(folder, last))
            if inner is not None and inner.get("__init__.py") == FILE:
                return origin, base.joinpath(*parts, "__init__.py"), True
        if names.get(last + ".py") == FILE:
            return origin, base.joinpath(*parts[:-1], last + ".py"), False
        if vendored:
            pattern = f"{last}.*so"
            for candidate in sorted(n for n in names if fnmatchcase(n, pattern)):
                if candidate == f"{last}.so" or candidate.count(".") == 2:
                    return origin, base.joinpath(*parts[:-1], candidate), False
            if names.get(last) == DIR and "." not in name:
                # A native-only or namespace package: shipped whole, nothing to scan.
                return origin, base.joinpath(*parts), True
        return None


class MemoScanCache(ScanCache):
    """A ScanCache that also keeps the scans it handed out, by the same key."""

    def __init__(self, path: Path | None = None) -> None:
        super().__init__(path)
        self._scans: dict[str, ModuleScan] = {}

    def scan(self, file: Path, module: str, is_package: bool) -> ModuleScan:
        key = self._key(file, module)
        hit = self._scans.get(key)
        if hit is None:
            hit = self._scans[key] = super().scan(file, module, is_package)
        return hit


class FolderScanCache(MemoScanCache):
    """Scans of the files under `folder` (a vendor set), keyed by their path inside it: the
    scans stay valid wherever the set is reached from (a cache root that links to it, say)."""

    def __init__(self, path: Path, folder: Path) -> None:
        super().__init__(path)
        self.folder = str(folder)

    def _key(self, file: Path, module: str) -> str:  # type: ignore[override]
        st = file.stat()
        rel = os.path.relpath(file, self.folder)
        return f"{rel}|{st.st_size}|{st.st_mtime_ns}|{module}"

    def save(self) -> None:
        if self.path is None or not self._dirty:
            return
        live = {}
        for key, value in self._entries.items():
            rel = key.split("|", 1)[0]
            if not os.path.isabs(rel) and os.path.exists(os.path.join(self.folder, rel)):
                live[key] = value
        tmp = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")
        try:
            tmp.write_text(json.dumps({"version": VERSION, "entries": live}))
            tmp.replace(self.path)
        except OSError:
            pass  # a cache that cannot be written only costs time
        self._dirty = False


_SCAN_CACHES: dict[str, MemoScanCache] = {}


def scan_cache(path: Path, folder: Path | None = None) -> MemoScanCache:
    """The scan cache kept in `path`, loaded once per process; with `folder`, one for the
    files under that folder, keyed by their path inside it."""
    key = f"{path}|{folder}"
    if key not in _SCAN_CACHES:
        _SCAN_CACHES[key] = MemoScanCache(path) if folder is None else FolderScanCache(path, folder)
    return _SCAN_CACHES[key]
