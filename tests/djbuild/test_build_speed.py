"""What makes builds fast must not change what they produce: the shrink prefetch workers,
the listing resolver and the owners read from dist-info give the answers of the slow paths."""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

from djbuild import shrink, vendor
from djbuild.analysis.graph import Resolver
from djbuild.walkcache import FolderScanCache, ListingResolver

ROOT = Path(__file__).resolve().parents[2]


def test_prefetch_workers_fill_the_shrink_cache_with_what_shrink_python_gives(
    tmp_path: Path,
) -> None:
    sources = sorted((ROOT / "runtime").rglob("*.py"))[: shrink.PREFETCH_MIN + 2]
    cache = tmp_path / "shrink"
    assert shrink.prefetch(sources, cache) == len(sources)
    shrink.wait_for_prefetch()
    for path in sources:
        data = path.read_bytes()
        key = shrink._key(data)
        assert (cache / key[:2] / key[2:]).read_bytes() == shrink.shrink_bytes(data)
        assert shrink.shrink_cached(data, cache) == shrink.shrink_bytes(data)
    assert shrink.prefetch(sources, cache) == 0  # all cached: no worker starts


def test_a_few_misses_are_not_worth_a_worker(tmp_path: Path) -> None:
    sources = sorted((ROOT / "runtime").rglob("*.py"))[:3]
    assert shrink.prefetch(sources, tmp_path / "shrink") == 0


def test_the_listing_resolver_finds_what_the_resolver_finds(tmp_path: Path) -> None:
    (tmp_path / "app" / "sub").mkdir(parents=True)
    (tmp_path / "app" / "__init__.py").write_text("")
    (tmp_path / "app" / "sub" / "__init__.py").write_text("")
    (tmp_path / "app" / "mod.py").write_text("")
    (tmp_path / "app" / "data").mkdir()  # a folder that is no package
    (tmp_path / "single.py").write_text("")
    vendored = tmp_path / "vendor"
    (vendored / "lib" / "native_only").mkdir(parents=True)
    (vendored / "lib" / "__init__.py").write_text("")
    (vendored / "lib" / "_core.cpython-314-wasm32-emscripten.so").write_bytes(b"\0")
    (vendored / "lib" / "_plain.so").write_bytes(b"\0")
    (vendored / "lib" / "_odd.abi3.extra.so").write_bytes(b"\0")
    (vendored / "nsonly").mkdir()
    names = [
        "app", "app.sub", "app.mod", "app.data", "app.missing", "app.mod.Name", "single",
        "single.x", "lib", "lib._core", "lib._plain", "lib._odd", "lib.native_only",
        "nsonly", "nsonly.x", "absent", "runtime", "runtime.app", "runtime.nope",
    ]  # fmt: skip
    for vendor_dir in (None, vendored):
        slow = Resolver(tmp_path, vendor_dir, set())
        fast = ListingResolver(tmp_path, vendor_dir, set())
        assert [fast.find(n) for n in names] == [slow.find(n) for n in names]


def test_vendored_scans_are_kept_by_path_inside_the_vendor_set(tmp_path: Path) -> None:
    folder = tmp_path / "set"
    folder.mkdir()
    (folder / "m.py").write_text("import json\n")
    linked = tmp_path / "link"
    linked.symlink_to(folder)
    cache_file = tmp_path / "set.scans.json"
    first = FolderScanCache(cache_file, folder)
    first.scan(folder / "m.py", "m", False)
    first.save()
    again = FolderScanCache(cache_file, linked)  # the same set reached through a link
    assert again._entries and again._key(linked / "m.py", "m") in again._entries


def test_installed_owners_match_importlib_metadata() -> None:
    owners = metadata.packages_distributions()
    found = vendor.installed_owners(set(owners))
    assert set(found) == set(owners)
    for name, (dist, version) in found.items():
        assert dist == owners[name][0]
        assert version == metadata.version(dist)


def _app_with(*models: type) -> object:
    from runtime import App, Context, Router

    router = Router()
    for index, model in enumerate(models):

        async def handler(c: Context) -> None: ...

        router.get(f"/r{index}", responses={200: model})(handler)
    app = App(title="t", version="1")
    app.route("/api", router)
    return app


def test_route_checks_judge_models_together_and_still_name_the_one_that_fails() -> None:
    from pydantic import BaseModel, ConfigDict

    from djbuild.checks import _SERIALISABLE, check_routes

    class Good(BaseModel):
        count: int

    class AlsoGood(BaseModel):
        items: list[Good]

    class Weird(BaseModel):
        model_config = ConfigDict(arbitrary_types_allowed=True)
        handle: object
        fn: type

    assert check_routes(_app_with(Good, AlsoGood)) == []  # type: ignore[arg-type]
    assert _SERIALISABLE[Good] is None and _SERIALISABLE[AlsoGood] is None

    class Good2(BaseModel):
        count: int

    problems = check_routes(_app_with(Good2, Weird))  # type: ignore[arg-type]
    assert [p.route.path for p in problems] == ["/api/r1"]
    assert problems[0].message.startswith("response 200 model Weird cannot be serialised")
    assert _SERIALISABLE[Good2] is None
