"""docs/protocol.md is the page the code's comments cite: every cited section must be there."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "protocol.md"
HEADING = re.compile(r"^#{2,3} (\d+(?:\.\d+)*)\.? ", re.M)
# "§5.2", "§5.2/§5.3", "§3.2–3.3": a section number after "§", and the end of a range.
CITATION = re.compile(r"§(\d+(?:\.\d+)*)(?:[–-](\d+(?:\.\d+)*))?")
OTHER_DOCUMENT = re.compile(r"\b(RFC|PEP|ISO)\s*\d+\s*$")


def sections() -> set[str]:
    return set(HEADING.findall(PAGE.read_text(encoding="utf-8")))


def citations() -> dict[str, set[str]]:
    """Cited section → the files that cite it, over src/, bench/, tests/, docs/ and the README."""
    cited: dict[str, set[str]] = {}
    files = [ROOT / "README.md", *(ROOT / "docs").glob("*.md")]
    for folder in ("src", "bench", "tests"):
        files += (ROOT / folder).rglob("*.py")
    for path in files:
        if path == PAGE:
            continue
        text = path.read_text(encoding="utf-8")
        for match in CITATION.finditer(text):
            if OTHER_DOCUMENT.search(text[max(0, match.start() - 16):match.start()]):
                continue  # "RFC 1952 §2.3.1" and the like cite another document
            for number in filter(None, match.groups()):
                cited.setdefault(number.rstrip("."), set()).add(str(path.relative_to(ROOT)))
    return cited


def test_the_page_keeps_the_numbering_of_the_reference():
    # 0-10 with the sub-sections the code cites; §2, §8, §9 and §10 have no sub-sections.
    expected = {"0", "1", "1.1", "1.2", "1.3", "1.4", "1.5", "1.6", "2", "3", "3.1", "3.2", "3.3", "3.4",
                "4", "4.1", "4.2", "4.3", "4.4", "4.5", "5", "5.1", "5.2", "5.3", "5.4", "5.5", "5.6", "5.7",
                "6", "6.1", "6.2", "6.3", "7", "7.1", "7.2", "7.3", "7.4", "8", "9", "10"}
    assert sections() == expected


def test_every_cited_section_exists():
    cited = citations()
    assert len(cited) > 20  # the scan found the comments
    missing = {number: sorted(files) for number, files in cited.items() if number not in sections()}
    assert not missing, f"cited but not in docs/protocol.md: {missing}"


def test_nothing_cites_the_shared_copy():
    stale = [str(path.relative_to(ROOT)) for folder in ("src", "bench", "tests", "docs")
             for path in (ROOT / folder).rglob("*") if path.suffix in {".py", ".md"}
             and path != Path(__file__).resolve() and "PROTOCOL.md" in path.read_text(encoding="utf-8")]
    assert not stale
