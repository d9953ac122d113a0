"""The documentation that ships with zonewall is held to the code (issue 13).

- Every diagnostic code of `zonewall.diagnostics.CODES` has an entry in the language reference
  (`docs/language.md`, section 11), headed `### CODE: summary` with the table's own summary, and
  the reference documents no code the table lacks: a new code cannot ship undocumented.
- Every fenced block in README.md and docs/*.md names its language, so a policy snippet cannot
  hide in an untagged block, and every ```zw block parses.  The info string says how much more:
  ```zw             statements that parse (no E1xx syntax or token error; names need not
                    resolve, includes need not exist);
  ```zw policy      a whole policy that `check` passes with no error and no warning;
  ```zw expect=C,D  a whole policy whose diagnostics have exactly the codes C, D.
- No file in the repository refers to a path outside it: not to the original language contract
  or the project's working notes (which users never see), not to an absolute path on the
  development machine, and no `../` path that leaves the repository.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from zonewall.diagnostics import CODES
from zonewall.report import run_check

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "docs" / "language.md"
DOCS = sorted([ROOT / "README.md", *(ROOT / "docs").glob("*.md")])

# ---------------------------------------------------------------------------------------------
# (a) every diagnostic code is documented, under its summary
# ---------------------------------------------------------------------------------------------

_CODE_HEADING = re.compile(r"^### ([EW]\d{3}): (.*)$", re.MULTILINE)


def _documented_codes() -> dict[str, str]:
    found: dict[str, str] = {}
    for code, summary in _CODE_HEADING.findall(REFERENCE.read_text(encoding="utf-8")):
        assert code not in found, f"{code} is documented twice in docs/language.md"
        found[code] = summary
    return found


def test_every_code_is_documented() -> None:
    missing = sorted(set(CODES) - set(_documented_codes()))
    assert missing == [], (
        f"document {', '.join(missing)} in docs/language.md, section 11 "
        "('### CODE: summary', then its meaning and fix)"
    )


def test_no_documented_code_is_unknown() -> None:
    stale = sorted(set(_documented_codes()) - set(CODES))
    assert stale == [], f"docs/language.md documents codes the table lacks: {stale}"


def test_documented_summaries_are_the_table_s() -> None:
    documented = _documented_codes()
    wrong = {
        c: (documented[c], CODES[c]) for c in documented if c in CODES and documented[c] != CODES[c]
    }
    assert wrong == {}, "headings must repeat the summary in zonewall.diagnostics.CODES"


def test_codes_are_documented_in_order() -> None:
    codes = list(_documented_codes())
    assert codes == sorted(codes, key=lambda c: (c[0], c))


def test_every_code_entry_says_more_than_its_summary() -> None:
    text = REFERENCE.read_text(encoding="utf-8")
    for match in _CODE_HEADING.finditer(text):
        body = text[match.end() :].split("\n### ", 1)[0].split("\n## ", 1)[0].strip()
        assert len(body) >= 20, f"{match.group(1)}: say what it means and how to fix it"


# ---------------------------------------------------------------------------------------------
# the reference names every subcommand, platform and ICMP type the code knows
# ---------------------------------------------------------------------------------------------


def _subcommands(capsys: pytest.CaptureFixture[str]) -> list[str]:
    from zonewall.cli import main

    with pytest.raises(SystemExit):
        main(["--help"])
    listing = capsys.readouterr().out.split("positional arguments:", 1)[1]
    listing = listing.split("options:", 1)[0]
    return re.findall(r"^ {4}([a-z][a-z-]*)(?: |$)", listing, re.MULTILINE)


def test_every_subcommand_is_in_the_reference(capsys: pytest.CaptureFixture[str]) -> None:
    commands = _subcommands(capsys)
    assert "check" in commands and "fmt" in commands
    section = REFERENCE.read_text(encoding="utf-8").split("## 10. The command line", 1)[1]
    section = section.split("\n## 11.", 1)[0]
    missing = [c for c in commands if f"| `{c}` |" not in section or f"- **{c}**" not in section]
    assert missing == [], (
        f"docs/language.md, section 10: add a table row and a paragraph for {missing}"
    )


def test_every_platform_and_icmp_type_is_in_the_reference() -> None:
    from zonewall.compiler.gateways import PLATFORMS
    from zonewall.packets import ICMP_TYPES

    text = REFERENCE.read_text(encoding="utf-8")
    headings = re.findall(r"^### 8\.\d+ (.*)$", text, re.MULTILINE)
    missing = [
        f"platform {p}" for p in PLATFORMS if not any(f"`platform {p}`" in h for h in headings)
    ]
    missing += [f"icmp/{t}" for t, n in ICMP_TYPES.items() if f"`{t}` ({n})" not in text]
    assert missing == []


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to '-'."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


_LINK = re.compile(r"\]\(([\w./-]*\.md)?#([^)\s]+)\)")


def test_links_to_sections_resolve() -> None:
    anchors = {
        doc: {_slug(h) for h in re.findall(r"^#{1,6} (.*)$", doc.read_text(encoding="utf-8"), re.M)}
        for doc in DOCS
    }
    broken = []
    for doc in DOCS:
        for target, anchor in _LINK.findall(doc.read_text(encoding="utf-8")):
            where = (doc.parent / target).resolve() if target else doc
            if anchor not in anchors.get(where, set()):
                broken.append(f"{doc.name}: {target}#{anchor}")
    assert broken == []


# ---------------------------------------------------------------------------------------------
# (b) snippets parse, and whole policies check as they say
# ---------------------------------------------------------------------------------------------

_FENCE = re.compile(r"^( *)(`{3,})(.*)$")


@dataclass(frozen=True)
class Snippet:
    file: str
    line: int  # of the opening fence
    info: str
    text: str

    @property
    def id(self) -> str:
        return f"{self.file}:{self.line}"


def fenced_blocks(path: Path) -> list[Snippet]:
    """Every fenced block of a Markdown file, dedented by its fence's indent."""
    lines = path.read_text(encoding="utf-8").split("\n")
    out: list[Snippet] = []
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        indent, ticks, info = len(m.group(1)), m.group(2), m.group(3).strip()
        body: list[str] = []
        j = i + 1
        while j < len(lines) and lines[j].strip() != ticks:
            body.append(lines[j][indent:] if lines[j][:indent].strip() == "" else lines[j])
            j += 1
        assert j < len(lines), f"{path.name}:{i + 1}: unclosed code fence"
        out.append(Snippet(str(path.relative_to(ROOT)), i + 1, info, "\n".join(body) + "\n"))
        i = j + 1
    return out


ALL_BLOCKS = [b for doc in DOCS for b in fenced_blocks(doc)]
ZW_BLOCKS = [b for b in ALL_BLOCKS if b.info.split()[:1] == ["zw"]]


def test_snippets_are_found() -> None:
    assert len([b for b in ZW_BLOCKS if b.file == "docs/language.md"]) >= 20
    assert any(b.file == "README.md" for b in ZW_BLOCKS)
    assert any(b.info == "zw policy" for b in ZW_BLOCKS)
    assert any(b.info.startswith("zw expect=") for b in ZW_BLOCKS)


@pytest.mark.parametrize("block", ALL_BLOCKS, ids=[b.id for b in ALL_BLOCKS])
def test_every_fence_names_its_language(block: Snippet) -> None:
    assert block.info, (
        f"{block.id}: name the block's language (```zw for a policy, ```sh, "
        "```text, ...) so that policy snippets are tested"
    )


def _codes(block: Snippet, tmp_path: Path) -> tuple[list[str], list[str]]:
    """The codes `check` gives for the snippet, and the statuses of its assertions."""
    path = tmp_path / "snippet.zw"
    path.write_text(block.text, encoding="utf-8")
    report = run_check(str(path))
    return [d.code for d in report.diagnostics], [a.status for a in report.assertions]


@pytest.mark.parametrize("block", ZW_BLOCKS, ids=[b.id for b in ZW_BLOCKS])
def test_zw_snippet(block: Snippet, tmp_path: Path) -> None:
    words = block.info.split()
    codes, statuses = _codes(block, tmp_path)
    if words == ["zw"]:
        # Statements out of context: they must parse, names need not resolve.  File access
        # codes (E107, E108, E111) are about the includes' targets, which a snippet lacks.
        syntax = [c for c in codes if c.startswith("E1") and c not in ("E107", "E108", "E111")]
        assert syntax == [], f"{block.id}: the snippet does not parse: {syntax}"
    elif words == ["zw", "policy"]:
        assert codes == [], f"{block.id}: a whole policy must check clean, got {codes}"
        assert statuses and set(statuses) == {"pass"}, f"{block.id}: {statuses}"
    else:
        assert len(words) == 2 and words[1].startswith("expect="), (
            f"{block.id}: unknown info string {block.info!r}"
        )
        expected = set(words[1].removeprefix("expect=").split(","))
        assert expected <= set(CODES), f"{block.id}: unknown code in {sorted(expected)}"
        assert set(codes) == expected, f"{block.id}: expected {sorted(expected)}, got {codes}"


# ---------------------------------------------------------------------------------------------
# (c) nothing points outside the repository
# ---------------------------------------------------------------------------------------------

# Documents that are not part of this repository: the original language contract and the
# working notes it was built from, and any path of the machine it was developed on.
_OUTSIDE = re.compile(
    r"shared/(?:spec|reference|STYLE)|LANGUAGE\.md|\b(?:STYLE|FORMATS|DOMAIN|VERIFY)\.md"
    r"|\bspec(?:ification)? sections?\b|\blanguage spec\b|(?<![\w.])/work/"
)
# A relative path that climbs: resolved from the file's folder, it must stay in the repository.
_CLIMB = re.compile(r"(?<![\w.])((?:\.\./)+[\w.-][\w./-]*)")
# Files that hold a hostile path on purpose (include and output-folder safety tests).
_CLIMB_ALLOWED = frozenset(
    {
        "tests/unit/dsl/test_include_safety.py",
        "tests/e2e/test_outdir_safety.py",
    }
)


def _tracked_text_files() -> list[Path]:
    try:
        out = subprocess.run(
            ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
        ).stdout
        names = [n for n in out.decode("utf-8", "replace").split("\0") if n]
    except (OSError, subprocess.CalledProcessError):  # not a git checkout: walk the folder
        names = [
            str(p.relative_to(ROOT))
            for p in ROOT.rglob("*")
            if p.is_file()
            and not any(
                part.startswith(".") and part not in (".ci", ".github")
                for part in p.relative_to(ROOT).parts
            )
        ]
    files = []
    for name in names:
        path = ROOT / name
        if path.is_file() and not path.is_symlink():
            data = path.read_bytes()
            if b"\0" not in data[:8192]:
                files.append(path)
    return files


def test_nothing_refers_to_a_path_outside_the_repository() -> None:
    problems: list[str] = []
    this = Path(__file__).resolve()
    for path in _tracked_text_files():
        rel = str(path.relative_to(ROOT))
        text = path.read_bytes().decode("utf-8", "replace")
        for n, line in enumerate(text.split("\n"), 1):
            if path.resolve() != this and _OUTSIDE.search(line):
                problems.append(f"{rel}:{n}: {line.strip()[:120]}")
            if rel in _CLIMB_ALLOWED:
                continue
            for target in _CLIMB.findall(line):
                resolved = (path.parent / target).resolve()
                if not resolved.is_relative_to(ROOT.resolve()):
                    problems.append(f"{rel}:{n}: '{target}' leaves the repository")
    assert problems == [], "references to paths outside the repository:\n" + "\n".join(problems)


@pytest.mark.parametrize(
    "line, bad",
    [
        ("zonewall implements `shared/spec/LANGUAGE.md`.", True),
        ("How gateways enforce the policy (spec section 4):", True),
        ("the report of the language spec (section 7)", True),
        ("see /work/main/README.md", True),
        ("checked as STYLE.md section 6 asks", True),
        ("see docs/language.md, section 8", False),
        ("the spec's stateless reply", False),
    ],
)
def test_the_outside_pattern(line: str, bad: bool) -> None:
    assert bool(_OUTSIDE.search(line)) is bad
