"""The documentation: generated pages match their sources, and relative links resolve.

The environment table, the benchmarks page and the configuration page are written by
`python docs/generate.py` and committed; a change to the registry, to
`benchmarks/results/*.json` or to `TrainConfig` must come with the regenerated pages.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


def _generator():
    spec = importlib.util.spec_from_file_location("docs_generate", DOCS / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generated_pages_are_up_to_date(tmp_path):
    # A fresh interpreter: tests in this process may have registered environments or
    # models of their own (experiments.contextual_rooms registers itself on import).
    subprocess.run([sys.executable, str(DOCS / "generate.py"), "--out", str(tmp_path)], cwd=ROOT, check=True,
                   capture_output=True)
    stale = [f"docs/{name}" for name in _generator().PAGES
             if not (DOCS / name).exists() or (DOCS / name).read_text() != (tmp_path / name).read_text()]
    assert not stale, f"{', '.join(stale)} differ from their sources: run `python docs/generate.py` and commit the result"


def test_generator_writes_every_page_it_lists(tmp_path):
    generate = _generator()
    written = {p.name for p in generate.generate(tmp_path)}
    assert written == set(generate.PAGES)
    env_page = (tmp_path / "environments.md").read_text()
    # A row per built-in environment, with sizes read from the objects.
    assert "| `pendulum` ([frame](frames/pendulum.png)) | classic | pure JAX | 3 | 1 (continuous) | 200 |" in env_page
    assert "| `cartpole` ([frame](frames/cartpole.png)) | classic | pure JAX | 4 | 2 (discrete) | 500 |" in env_page


_LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
_FENCE = re.compile(r"^(```|~~~).*?^\1", re.M | re.S)


def _pages() -> list[Path]:
    pages = [ROOT / "README.md"]
    pages += sorted(p for p in DOCS.rglob("*.md") if "benchmark-results" not in p.relative_to(DOCS).parts)
    return pages


def _relative_links(page: Path) -> list[str]:
    text = _FENCE.sub("", page.read_text())
    text = re.sub(r"`[^`\n]*`", "", text)  # inline code
    links = []
    for target in _LINK.findall(text):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
            continue  # http(s):, mailto: and anchors within the page
        links.append(target.split("#", 1)[0])
    return links


@pytest.mark.parametrize("page", _pages(), ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_point_to_existing_files(page):
    missing = [t for t in _relative_links(page) if not (page.parent / t).exists()]
    assert not missing, f"{page.relative_to(ROOT)} links to missing files: {missing}"


def test_the_link_check_sees_links():
    # Guard against a regex that silently matches nothing.
    assert "docs/getting-started.md" in _relative_links(ROOT / "README.md")
    assert "frames/gallery.png" in _relative_links(DOCS / "index.md")
