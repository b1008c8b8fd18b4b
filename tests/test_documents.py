"""Notes documents: markdown sections, merging several documents, reading files safely."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import FIXTURES as SHARED_FIXTURES
from storyreel.errors import InputError
from storyreel.inputs.documents import DocumentError, Sections, merge, parse_sections, read_text_file
from storyreel.inputs.fountain import parse

FIXTURES = SHARED_FIXTURES / "screenplays"

FULL = """\
Some words before any section.

## Script

INT. KITCHEN - DAY

BRICK
Coffee?

## Plot
Two retired cops get one last case.

## Dialogue rules
Short lines. No swearing.

## Characters
Brick: tired, kind.
Steel: loud.

## Vibe
Warm 80s buddy-cop.

## Shot style
Wide lenses, slow pushes.

## Story rules
- Nobody dies.
- The dog survives.
"""


def test_all_sections():
    sections = parse_sections(FULL)
    assert sections == Sections(
        script="INT. KITCHEN - DAY\n\nBRICK\nCoffee?",
        plot="Two retired cops get one last case.",
        dialogue_rules="Short lines. No swearing.",
        characters="Brick: tired, kind.\nSteel: loud.",
        vibe="Warm 80s buddy-cop.",
        shot_style="Wide lenses, slow pushes.",
        story_rules=["Nobody dies.", "The dog survives."],
        other="Some words before any section.",
    )
    assert parse(sections.script).speaking_characters() == ["BRICK"]


@pytest.mark.parametrize(
    ("heading", "field"),
    [
        ("# Script", "script"),
        ("### SCREENPLAY:", "script"),
        ("## plot", "plot"),
        ("## Story", "plot"),
        ("## Synopsis:", "plot"),
        ("## DIALOGUE RULES", "dialogue_rules"),
        ("## Dialog rules", "dialogue_rules"),
        ("## Characters:", "characters"),
        ("## Vibe", "vibe"),
        ("## Tone", "vibe"),
        ("# mood", "vibe"),
        ("## Shot style", "shot_style"),
        ("## Style", "shot_style"),
        ("## Visual  Style", "shot_style"),
        ("## **Plot**", "plot"),
        ("## Plot ##", "plot"),
    ],
)
def test_heading_names_levels_and_synonyms(heading, field):
    sections = parse_sections(f"{heading}\nINT. A - DAY\n\nsome text\n")
    assert getattr(sections, field) == "INT. A - DAY\n\nsome text"
    assert sections.other == ""


@pytest.mark.parametrize("heading", ["## Story rules", "## Rules:", "# RULES"])
def test_story_rules_headings(heading):
    assert parse_sections(f"{heading}\n- one\n").story_rules == ["one"]


def test_level_four_heading_is_not_a_section():
    sections = parse_sections("## Plot\nIntro.\n#### Vibe\nStill plot.")
    assert sections.plot == "Intro.\n#### Vibe\nStill plot." and sections.vibe == ""


def test_hashtag_without_space_is_not_a_heading():
    assert parse_sections("#plot twist\ntext").other == "#plot twist\ntext"


def test_story_rules_bullets_numbers_and_plain_lines():
    sections = parse_sections(
        "## Story rules\n- Dash rule\n* Star rule\n+ Plus rule\n1. Numbered rule\n2) Other number\n"
        "Plain line rule\n\n- A long rule that\n  goes on here\n"
    )
    assert sections.story_rules == [
        "Dash rule",
        "Star rule",
        "Plus rule",
        "Numbered rule",
        "Other number",
        "Plain line rule",
        "A long rule that goes on here",
    ]


def test_unknown_sections_go_to_other_with_their_heading():
    sections = parse_sections("Intro.\n\n## Plot\nP.\n\n## References\nSee the 1987 film.\n\n## Vibe\nV.")
    assert sections.plot == "P." and sections.vibe == "V."
    assert sections.other == "Intro.\n\n## References\nSee the 1987 film."


def test_subheadings_stay_in_their_section():
    sections = parse_sections("## Characters\n### Brick\nTired.\n### Steel\nLoud.\n## Notes\nMisc.")
    assert sections.characters == "### Brick\nTired.\n### Steel\nLoud."
    assert sections.other == "## Notes\nMisc."


def test_fountain_sections_stay_in_the_script():
    text = "## Script\n# ACT ONE\n\nINT. A - DAY\n\n## Sequence\n\nEXT. B - DAY\n\nHi.\n\n## Plot\nP."
    sections = parse_sections(text)
    assert sections.script == "# ACT ONE\n\nINT. A - DAY\n\n## Sequence\n\nEXT. B - DAY\n\nHi."
    assert sections.plot == "P."
    assert [s.sections for s in parse(sections.script).scenes] == [["ACT ONE"], ["Sequence"]]


def test_fenced_script_loses_its_fence_and_headings_inside_fences_do_not_count():
    sections = parse_sections("## Script\n```fountain\nINT. A - DAY\n\n## Plot\n\nHi.\n```\n\n## Vibe\nCalm.")
    assert sections.script == "INT. A - DAY\n\n## Plot\n\nHi."
    assert sections.vibe == "Calm." and sections.plot == ""
    other = parse_sections("```\n## Plot\n```")
    assert other.plot == "" and other.other == "```\n## Plot\n```"


def test_repeated_section_is_joined():
    assert parse_sections("## Plot\nOne.\n## Vibe\nV.\n## Plot\nTwo.").plot == "One.\n\nTwo."


def test_empty_script_is_none_and_no_section_at_all():
    assert parse_sections("## Script\n\n## Plot\nP.").script is None
    sections = parse_sections("Just an idea about two cops.\n")
    assert sections == Sections(other="Just an idea about two cops.")
    assert parse_sections("") == Sections()


def test_crlf_and_bom():
    sections = parse_sections("\ufeff## Plot\r\nLine one.\r\nLine two.\r\n## Vibe\r\nV.\r\n")
    assert sections.plot == "Line one.\nLine two." and sections.vibe == "V."


def test_not_text():
    with pytest.raises(DocumentError, match="must be text"):
        parse_sections(b"## Plot")


def test_fixture_screenplay_inside_a_script_section():
    fountain = (FIXTURES / "brick_and_steel.fountain").read_text(encoding="utf-8")
    sections = parse_sections(f"## Plot\nRetired cops.\n\n## Script\n{fountain}\n## Vibe\nFun.")
    screenplay = parse(sections.script)
    assert len(screenplay.scenes) == 8 and screenplay.dialogue_count() == 20
    assert sections.plot == "Retired cops." and sections.vibe == "Fun."


# --- merge -----------------------------------------------------------------------------------------------


def test_merge():
    first = parse_sections(
        "## Script\nINT. A - DAY\n\nHi.\n## Plot\nP1.\n## Rules\n- One\n- Two\nIntro text?"
    )
    second = parse_sections("Loose notes.\n## Plot\nP2.\n## Story rules\n- two\n- Three\n## Vibe\nV2.")
    merged = merge([first, second])
    assert merged.script == "INT. A - DAY\n\nHi."
    assert merged.plot == "P1.\n\nP2."
    assert merged.vibe == "V2."
    assert merged.story_rules == ["One", "Two", "Intro text?", "Three"]
    assert merged.other == "Loose notes."


def test_merge_keeps_the_only_script_wherever_it_is():
    merged = merge([parse_sections("## Plot\nP."), parse_sections("## Script\nINT. A - DAY\n\nHi.")])
    assert merged.script == "INT. A - DAY\n\nHi."


def test_merge_of_nothing():
    assert merge([]) == Sections()


def test_merge_refuses_two_scripts():
    docs = [Sections(script="INT. A - DAY"), Sections(script="   "), Sections(script="INT. B - DAY")]
    with pytest.raises(DocumentError, match="^2 documents have a Script section") as info:
        merge(docs)
    assert "\n" not in str(info.value) and isinstance(info.value, InputError)


def test_merge_empty_script_does_not_count():
    assert merge([Sections(script=""), Sections(script="INT. A - DAY")]).script == "INT. A - DAY"


# --- read_text_file --------------------------------------------------------------------------------------


def test_read_text_file(tmp_path: Path):
    path = tmp_path / "notes.md"
    path.write_bytes("\ufeff## Plot\nCafé.\n".encode())
    assert read_text_file(path) == "## Plot\nCafé.\n"
    assert read_text_file(str(path)) == "## Plot\nCafé.\n"


def test_read_text_file_missing(tmp_path: Path):
    with pytest.raises(DocumentError, match="no such file"):
        read_text_file(tmp_path / "nope.md")


def test_read_text_file_directory(tmp_path: Path):
    with pytest.raises(DocumentError, match="is a directory"):
        read_text_file(tmp_path)


def test_read_text_file_too_big(tmp_path: Path):
    path = tmp_path / "big.md"
    path.write_text("x" * 101)
    with pytest.raises(DocumentError, match=r"is too big \(101 bytes; the limit is 100\)"):
        read_text_file(path, max_bytes=100)
    assert read_text_file(path, max_bytes=101) == "x" * 101


def test_read_text_file_not_utf8(tmp_path: Path):
    path = tmp_path / "latin1.md"
    path.write_bytes("Caf\u00e9".encode("latin-1"))
    with pytest.raises(DocumentError, match="is not UTF-8 text"):
        read_text_file(path)


def test_read_text_file_nul_bytes(tmp_path: Path):
    path = tmp_path / "binary.md"
    path.write_bytes(b"PK\x03\x04\x00\x00")
    with pytest.raises(DocumentError, match="NUL bytes"):
        read_text_file(path)


def test_read_text_file_errors_are_one_line(tmp_path: Path):
    for bad in (tmp_path / "missing", tmp_path):
        with pytest.raises(DocumentError) as info:
            read_text_file(bad)
        assert "\n" not in str(info.value) and isinstance(info.value, ValueError)
