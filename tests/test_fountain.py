"""The Fountain reader and writer: the Brick & Steel fixture, one small test per rule, errors, fuzzing."""

from __future__ import annotations

import random
import time

import pytest

from conftest import FIXTURES as SHARED_FIXTURES
from storyreel.errors import InputError
from storyreel.inputs.fountain import FountainError, Line, Scene, Screenplay, parse, write

FIXTURES = SHARED_FIXTURES / "screenplays"
BRICK = FIXTURES / "brick_and_steel.fountain"


@pytest.fixture(scope="module")
def brick_text() -> str:
    return BRICK.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def brick(brick_text: str) -> Screenplay:
    return parse(brick_text)


def one_scene(body: str) -> Scene:
    screenplay = parse("INT. ROOM - DAY\n\n" + body)
    assert len(screenplay.scenes) == 1
    return screenplay.scenes[0]


def same_after_round_trip(screenplay: Screenplay) -> bool:
    return parse(write(screenplay)) == screenplay


# --- the fixture -------------------------------------------------------------------------------------


def test_fixture_scenes(brick: Screenplay):
    assert [s.heading for s in brick.scenes] == [
        "EXT. BRICK'S PATIO - DAY",
        "INT. TRAILER HOME - DAY",
        "EXT. BRICK'S POOL - DAY",
        "SNIPER SCOPE POV",
        "OPENING TITLES",
        "EXT. WOODEN SHACK - DAY",
        "INT. GARAGE - DAY",
        "EXT. PALATIAL MANSION - DAY",
    ]
    assert len(brick.scenes) == 8
    assert sum(not s.forced and s.interior in ("INT", "EXT") for s in brick.scenes) == 6
    assert [s.heading for s in brick.scenes if s.forced] == ["SNIPER SCOPE POV", "OPENING TITLES"]
    assert [s.interior for s in brick.scenes] == ["EXT", "INT", "EXT", "", "", "EXT", "INT", "EXT"]
    assert brick.scenes[0].location == "BRICK'S PATIO"
    assert brick.scenes[3].location == "SNIPER SCOPE POV"
    assert [s.time_of_day for s in brick.scenes] == ["DAY"] * 3 + [""] * 2 + ["DAY"] * 3
    assert brick.preamble == ""


def test_fixture_characters_and_dialogue(brick: Screenplay):
    assert brick.speaking_characters() == [
        "STEEL",
        "BRICK",
        "JACK",
        "DAN",
        "COGNITO",
        "MINION",
        "HANDSOME MAN",
    ]
    assert brick.dialogue_count() == 20
    duals = [line for scene in brick.scenes for line in scene.dialogue if line.dual]
    assert duals == [Line("BRICK", "", "", "Screw retirement.", True)]
    assert [len(s.dialogue) for s in brick.scenes] == [7, 2, 1, 2, 0, 4, 2, 2]


def test_fixture_title_page(brick: Screenplay):
    assert brick.title_page == {
        "title": "BRICK & STEEL\nFULL RETIRED",
        "credit": "Written by",
        "author": "Stu Maschwitz",
        "source": "Story by KTM",
        "draft date": "1/27/2012",
        "contact": "Next Level Productions\n1588 Mission Dr.\nSolvang, CA 93463",
    }


def test_fixture_transitions(brick: Screenplay):
    assert [s.transition for s in brick.scenes] == [
        "SMASH CUT TO:",
        "CUT TO:",  # indented with tabs in the file
        "",
        "CUT TO:",
        "SMASH CUT TO:",
        "CUT TO:",
        "CUT TO:",
        "BURN TO PINK.",  # forced with '>'
    ]


def test_fixture_emphasis_parentheticals_and_indentation(brick: Screenplay):
    jack, dan = brick.scenes[1].dialogue
    assert jack == Line("JACK", "", "in Vietnamese, subtitled", "Did you know Brick and Steel are retired?")
    assert dan.text == "Then let's retire them.\nPermanently."
    assert "Steel's face FILLS the Leupold Mark 4 scope." in brick.scenes[3].action
    assert brick.scenes[2].dialogue[0].parenthetical == "pause pause"
    assert brick.scenes[0].dialogue[3].parenthetical == "beer raised"
    every_text = "\n".join(
        [s.action for s in brick.scenes]
        + [line.text for s in brick.scenes for line in s.dialogue]
        + list(brick.title_page.values())
    )
    assert "*" not in every_text and "_" not in every_text


def test_fixture_centered_text_is_action(brick: Screenplay):
    assert brick.scenes[4].action == "BRICK BRADDOCK\n& DICK STEEL IN\n\nBRICK & STEEL\nFULL RETIRED"
    assert brick.scenes[-1].action.endswith("Beer flies.\n\nTHE END")


def test_fixture_round_trip(brick: Screenplay):
    text = write(brick)
    again = parse(text)
    assert again == brick
    assert again.title_page == brick.title_page
    assert [s.dialogue for s in again.scenes] == [s.dialogue for s in brick.scenes]
    assert write(again) == text


def test_fixture_with_crlf_and_bom(brick_text: str, brick: Screenplay):
    assert parse("\ufeff" + brick_text.replace("\n", "\r\n")) == brick


# --- scene headings -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("heading", "interior", "location", "time"),
    [
        ("INT. HOUSE - DAY", "INT", "HOUSE", "DAY"),
        ("EXT. BEACH - NIGHT", "EXT", "BEACH", "NIGHT"),
        ("EST. CITY SKYLINE - DAWN", "EXT", "CITY SKYLINE", "DAWN"),
        ("INT./EXT. CAR - MOVING - CONTINUOUS", "INT/EXT", "CAR - MOVING", "CONTINUOUS"),
        ("INT/EXT CAR - DAY", "INT/EXT", "CAR", "DAY"),
        ("I/E CAR - NIGHT", "INT/EXT", "CAR", "NIGHT"),
        ("int. kitchen - day", "INT", "kitchen", "day"),
        ("INT HOUSE - KITCHEN", "INT", "HOUSE - KITCHEN", ""),
        ("EXT. FIELD", "EXT", "FIELD", ""),
    ],
)
def test_scene_heading_prefixes(heading, interior, location, time):
    scene = parse(f"{heading}\n\nSomething happens.").scenes[0]
    assert (scene.heading, scene.interior, scene.location, scene.time_of_day) == (
        heading,
        interior,
        location,
        time,
    )
    assert not scene.forced


def test_scene_heading_needs_blank_line_before_and_dot_or_space_after():
    screenplay = parse("INT. A - DAY\n\nHe looks.\nINT. B - DAY\n\nINTERIOR DESIGN is fun.\n\nEXTRA time.")
    assert len(screenplay.scenes) == 1
    assert "INT. B - DAY" in screenplay.scenes[0].action
    assert "INTERIOR DESIGN is fun." in screenplay.scenes[0].action


def test_forced_scene_heading_but_not_ellipsis():
    screenplay = parse(".FLASHBACK\n\nThey run.\n\n...and then nothing.\n\n.INT. CAR - NIGHT\n\nQuiet.")
    assert [(s.heading, s.forced, s.interior) for s in screenplay.scenes] == [
        ("FLASHBACK", True, ""),
        ("INT. CAR - NIGHT", True, "INT"),
    ]
    assert screenplay.scenes[0].action == "They run.\n\n...and then nothing."


def test_scene_numbers_are_removed_from_heading():
    scene = parse("INT. HOUSE - DAY #1A#\n\nHe sits.").scenes[0]
    assert (scene.heading, scene.time_of_day, scene.number) == ("INT. HOUSE - DAY", "DAY", "1A")


# --- action, cues, dialogue -----------------------------------------------------------------------------


def test_action_paragraphs():
    scene = one_scene("First line.\nSecond line.\n\nNew paragraph.")
    assert scene.action == "First line.\nSecond line.\n\nNew paragraph."


def test_character_cue_rules():
    scene = one_scene(
        "R2D2\nBeep.\n\nMcCLANE\nNot a cue, mixed case.\n\n@McCLANE\nYippee.\n\n"
        "BOOM\n\n123\nNo letter.\n\nSTEEL (V.O.) (CONT'D)\nBack again."
    )
    assert [(line.character, line.extension) for line in scene.dialogue] == [
        ("R2D2", ""),
        ("McCLANE", ""),
        ("STEEL", "V.O. CONT'D"),
    ]
    assert "McCLANE\nNot a cue, mixed case." in scene.action
    assert "BOOM" in scene.action and "123\nNo letter." in scene.action


def test_cue_needs_blank_line_before():
    scene = one_scene("He yells.\nSTOP\nThey stop.")
    assert scene.dialogue == []


def test_extension_in_lower_case_and_dual_dialogue():
    scene = one_scene("BRICK (cont'd)\nHi.\n\nSTEEL (O.S.) ^\nHi!")
    assert scene.dialogue == [Line("BRICK", "cont'd", "", "Hi."), Line("STEEL", "O.S.", "", "Hi!", True)]


def test_parentheticals_and_multiline_dialogue():
    scene = one_scene(
        "DAN\n(quietly)\nThen let's go.\n(beat)\nNow.\n\nJACK\n(in Vietnamese,\nsubtitled)\nOK."
    )
    dan, jack = scene.dialogue
    assert (dan.parenthetical, dan.text) == ("quietly beat", "Then let's go.\nNow.")
    assert (jack.parenthetical, jack.text) == ("in Vietnamese, subtitled", "OK.")


def test_two_space_line_continues_dialogue():
    scene = one_scene("DEALER\nTen.\nFour.\n  \nDealer gets a seven.\n\nHe leaves.")
    assert scene.dialogue[0].text == "Ten.\nFour.\n\nDealer gets a seven."
    assert scene.action == "He leaves."


def test_indentation_before_cue_and_dialogue_is_ignored():
    scene = one_scene("\t\t\tJACK\n\t\t(softly)\n\tHello.\n\n        CUT TO:\n\nEnd.")
    assert scene.dialogue == [Line("JACK", "", "softly", "Hello.")]
    assert scene.transition == "CUT TO:"


# --- transitions, centered, lyrics, forced action -------------------------------------------------------


def test_transitions():
    screenplay = parse(
        "INT. A - DAY\n\nAction.\n\nCUT TO:\n\nEXT. B - DAY\n\nMore.\nFADE TO:\nStill action.\n\n"
        "> FADE TO BLACK.\n\nEXT. C - DAY\n\nEnd."
    )
    assert [s.transition for s in screenplay.scenes] == ["CUT TO:", "FADE TO BLACK.", ""]
    assert "FADE TO:" in screenplay.scenes[1].action


def test_transition_needs_blank_line_after():
    scene = one_scene("Action.\n\nCUT TO:\nnot a transition")
    assert scene.transition == ""
    assert scene.action == "Action.\n\nCUT TO:\nnot a transition"


def test_centered_text():
    scene = one_scene("> THE END <\n\n>  *Centered*  <")
    assert scene.action == "THE END\n\nCentered"
    assert scene.transition == ""


def test_lyrics():
    scene = one_scene("~Willy Wonka! Willy Wonka!\n~The amazing chocolatier!")
    assert scene.action == "Willy Wonka! Willy Wonka!\nThe amazing chocolatier!"


def test_forced_action():
    scene = one_scene("!SCANNING THE AISLES...\nWhere is he?\n\n!INT. NOT A HEADING\n\n!CUT TO:")
    assert scene.dialogue == [] and scene.transition == ""
    assert scene.action == "SCANNING THE AISLES...\nWhere is he?\n\nINT. NOT A HEADING\n\nCUT TO:"


def test_page_breaks_are_ignored():
    screenplay = parse("INT. A - DAY\n\nOne.\n\n===\n\nTwo.")
    assert screenplay.scenes[0].action == "One.\n\nTwo."


# --- notes, boneyard, sections, synopses ----------------------------------------------------------------


def test_notes_are_removed_from_text_and_kept():
    screenplay = parse(
        "INT. A - DAY\n\nHe enters. [[check the lamp]]\n\n[[a note\nover two lines]]\n\n"
        "STEEL\nHello [[louder?]]\nthere.\n\nEXT. B - DAY [[night?]]\n\nOut."
    )
    first, second = screenplay.scenes
    assert first.action == "He enters."
    assert first.dialogue[0].text == "Hello\nthere."
    assert first.notes == ["check the lamp", "a note\nover two lines", "louder?"]
    assert second.heading == "EXT. B - DAY" and second.notes == ["night?"]


def test_note_on_its_own_line_does_not_break_dialogue():
    scene = one_scene("STEEL\n[[whisper]]\nHi.")
    assert scene.dialogue == [Line("STEEL", "", "", "Hi.")]
    assert scene.notes == ["whisper"]


def test_boneyard_is_ignored():
    screenplay = parse(
        "INT. A - DAY\n\nKept. /* cut */ Too.\n\n/*\nINT. GONE - DAY\n\nGONE\nBye.\n*/\n\nEnd."
    )
    assert len(screenplay.scenes) == 1
    assert screenplay.scenes[0].action == "Kept.  Too.\n\nEnd."
    assert screenplay.dialogue_count() == 0


def test_unclosed_boneyard_and_note_run_to_the_end():
    screenplay = parse("INT. A - DAY\n\nKept.\n\n/* cut from here\n\nSTEEL\nHi.")
    assert screenplay.scenes[0].action == "Kept." and screenplay.dialogue_count() == 0
    screenplay = parse("INT. A - DAY\n\nKept. [[ to do\n\nSTEEL\nHi.")
    assert screenplay.scenes[0].action == "Kept." and screenplay.scenes[0].notes == ["to do\n\nSTEEL\nHi."]


def test_removing_boneyard_or_a_note_does_not_make_new_markup():
    scene = one_scene("A [/* x */[b]] and a/[[y]]*z.")
    assert scene.action == "A [ [b]] and a/ *z." and scene.notes == ["y"]
    assert same_after_round_trip(parse("INT. A - DAY\n\nA [/* x */[b]] and a/[[y]]*z."))


def test_sections_and_synopses():
    screenplay = parse(
        "# ACT ONE\n\n= The setup.\n\nINT. A - DAY\n\n= Brick is bored.\n\nHe sits.\n\n"
        "## Sequence two\n\nEXT. B - DAY\n\nOut.\n\n# THE END"
    )
    first, second = screenplay.scenes
    assert first.sections == ["ACT ONE"] and first.synopses == ["The setup.", "Brick is bored."]
    assert second.sections == ["Sequence two", "THE END"]
    assert first.action == "He sits." and screenplay.preamble == ""
    assert same_after_round_trip(screenplay)


# --- emphasis -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "plain"),
    [
        ("It is *italic* here.", "It is italic here."),
        ("It is **bold** here.", "It is bold here."),
        ("It is ***both*** here.", "It is both here."),
        ("It is _underlined_ here.", "It is underlined here."),
        ("_**Nested**_ and _*mixed* words_.", "Nested and mixed words."),
        ("Escaped \\*stars\\* stay.", "Escaped *stars* stay."),
        ("A snake_case_name stays.", "A snake_case_name stays."),
        ("A lone * star.", "A lone * star."),
    ],
)
def test_emphasis_is_stripped(source, plain):
    assert one_scene(source).action == plain


# --- title page -----------------------------------------------------------------------------------------


def test_title_page():
    screenplay = parse(
        "Title: **Big Fish**\nCredit: written by\nAuthors: John August\n   and a friend\n"
        "Draft date: 2024\n\nINT. A - DAY\n\nHi."
    )
    assert screenplay.title_page == {
        "title": "Big Fish",
        "credit": "written by",
        "authors": "John August\nand a friend",
        "draft date": "2024",
    }


def test_no_title_page_when_first_block_is_not_key_lines():
    screenplay = parse("Note: this is action.\nNot a key line.\n\nINT. A - DAY\n\nHi.")
    assert screenplay.title_page == {}
    assert screenplay.preamble == "Note: this is action.\nNot a key line."


def test_heading_with_colon_is_not_a_title_page():
    screenplay = parse("INT. HOUSE: KITCHEN - DAY\n\nHi.")
    assert screenplay.title_page == {} and screenplay.scenes[0].location == "HOUSE: KITCHEN"


# --- content before the first scene heading -----------------------------------------------------------


def test_preamble_without_dialogue():
    screenplay = parse("Title: X\n\nFADE IN:\n\nA dark night.\n\nINT. A - DAY\n\nHi.")
    assert screenplay.preamble == "FADE IN:\n\nA dark night."
    assert len(screenplay.scenes) == 1
    assert same_after_round_trip(screenplay)


def test_dialogue_before_first_heading_makes_an_implicit_scene():
    screenplay = parse("A dark room.\n\nBRICK\nWho's there?\n\nINT. A - DAY\n\nHi.")
    implicit, real = screenplay.scenes
    assert (implicit.heading, implicit.location, implicit.forced) == ("", "", False)
    assert implicit.action == "A dark room." and implicit.dialogue == [Line("BRICK", "", "", "Who's there?")]
    assert screenplay.preamble == "" and real.heading == "INT. A - DAY"
    assert same_after_round_trip(screenplay)


def test_speaking_characters_are_unique_in_order_of_first_line():
    screenplay = parse("INT. A - DAY\n\nDAN\nA.\n\nJACK (V.O.)\nB.\n\nDAN (CONT'D)\nC.\n\n@Jack\nD.")
    assert screenplay.speaking_characters() == ["DAN", "JACK"]
    assert screenplay.dialogue_count() == 4


def test_dialogue_only_script():
    screenplay = parse("BRICK\nHi.\n\nSTEEL\nHey.")
    assert screenplay.speaking_characters() == ["BRICK", "STEEL"]
    assert same_after_round_trip(screenplay)


# --- errors ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "   \n\t\n", "\r\n\r\n"])
def test_empty(text):
    with pytest.raises(FountainError, match="^the screenplay is empty$"):
        parse(text)


@pytest.mark.parametrize(
    "text", ["Just some prose.\n\nNo headings here.", "Title: Only a title page", "/* all gone */"]
)
def test_not_a_screenplay(text):
    with pytest.raises(FountainError, match=r"^no scene headings or dialogue found: is this a Fountain"):
        parse(text)


@pytest.mark.parametrize("value", [b"INT. A - DAY\n\nHi.", None, 42, ["INT. A"]])
def test_not_text(value):
    with pytest.raises(FountainError, match="must be text"):
        parse(value)


def test_nul_bytes():
    with pytest.raises(FountainError, match="NUL"):
        parse("INT. A - DAY\n\nHi.\x00")


def test_error_is_one_line_and_an_input_error():
    with pytest.raises(InputError) as info:
        parse("")
    assert isinstance(info.value, ValueError) and "\n" not in str(info.value)


# --- writing ---------------------------------------------------------------------------------------------


def test_write_keeps_tricky_text_as_it_was():
    screenplay = Screenplay(
        {"title": "A *star* and snake_case"},
        [
            Scene(
                "INT. A - DAY",
                "A",
                "DAY",
                "INT",
                action="BOOM\n\nINT. LOOKS LIKE A HEADING\n\n> arrow\n\n#hash\n\n!bang\n\n2 * 3 * 4",
                dialogue=[
                    Line("McCLANE", "V.O.", "a *sigh*", "(not a parenthetical)\n~tilde\n\n_under_"),
                    Line("STEEL", "", "", "Hi.", dual=True),
                ],
                transition="fade out",
            )
        ],
    )
    assert parse(write(screenplay)) == Screenplay(
        screenplay.title_page,
        [Scene(**{**vars(screenplay.scenes[0]), "layout": ["action"] * 6 + ["dialogue"] * 2})],
    )


def test_write_refuses_a_headless_scene_after_the_first():
    screenplay = Screenplay({}, [Scene("INT. A - DAY", action="x"), Scene("", action="y")])
    with pytest.raises(FountainError, match="scene 2 has no heading"):
        write(screenplay)


def test_write_without_title_page_protects_a_key_like_first_line():
    screenplay = Screenplay({}, [Scene("INT. A - DAY", action="x")], preamble="Note: keep me")
    again = parse(write(screenplay))
    assert again.title_page == {} and again.preamble == "Note: keep me"
    assert [s.action for s in again.scenes] == ["x"]


# --- fuzzing ---------------------------------------------------------------------------------------------


def _parse_or_fountain_error(text: str) -> Screenplay | None:
    try:
        return parse(text)
    except FountainError:
        return None


@pytest.mark.parametrize(
    "text",
    [
        "INT. X\n\n" + "*a " * 200_000,
        "INT. X\n\n" + "_a " * 200_000,
        "INT. X\n\n" + "[[" * 200_000,
        "INT. X\n\n" + "/*" * 200_000,
        "INT. " + " " * 300_000 + "x - " + " " * 300_000 + "DAY",
        "\nSTEEL " + "(a) " * 100_000 + "\nhi",
        "INT. X\n\n" + "*" * 100_000 + "a" + "*" * 100_000,
    ],
)
def test_pathological_input_is_fast(text):
    started = time.monotonic()
    _parse_or_fountain_error(text)
    assert time.monotonic() - started < 5


def test_fuzz_random_bytes():
    rng = random.Random(1234)
    for _ in range(300):
        data = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 400)))
        for text in (data.decode("utf-8", errors="replace"), data.decode("latin-1")):
            _parse_or_fountain_error(text)


def test_fuzz_random_markup_parses_and_round_trips():
    rng = random.Random(99)
    pieces = [
        "INT. ", "EXT ", ".", "..", "@", "^", "(", ")", ">", "<", "~", "!", "#", "=", "===", "[[", "]]",
        "/*", "*/", "*", "**", "_", "\\", ":", " TO:", "\n", "\n\n", "  \n", "\t", "\r\n", "STEEL", "Hi",
        "Title: x\n", "#1#", "CUT TO:",
    ]  # fmt: skip
    for _ in range(2000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randrange(1, 60)))
        screenplay = _parse_or_fountain_error(text)
        if screenplay is not None:
            assert parse(write(screenplay)) == screenplay, text


def test_fuzz_fragments_of_the_fixture_round_trip(brick_text: str):
    rng = random.Random(7)
    lines = brick_text.split("\n")
    parsed = 0
    for _ in range(300):
        start = rng.randrange(len(lines))
        fragment = lines[start : start + rng.randrange(1, 60)]
        if rng.random() < 0.5:
            fragment = [line for line in fragment if rng.random() < 0.8]
        text = "\n".join(fragment)
        screenplay = _parse_or_fountain_error(text)
        if screenplay is not None:
            parsed += 1
            assert parse(write(screenplay)) == screenplay, text
    assert parsed > 100
