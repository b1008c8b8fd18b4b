"""The offline draft writer: the ``local`` text provider.

A deterministic drafting tool, not a language model: for each text step it fills the step's output DTO from the
step's context with templates, seeded by the context itself (the same input gives the same draft; a different
input a different one). It names things with the prompt's own words. The result is validated against the same
schema a real model is given. It makes a plausible first draft to run the whole pipeline offline, nothing more.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from typing import Any

from storyreel.providers.local import words as W

Draft = Callable[[dict[str, Any], Any], dict[str, Any]]
DRAFTS: dict[str, Draft] = {}


def drafts(step: str):
    def register(fn: Draft) -> Draft:
        DRAFTS[step] = fn
        return fn

    return register


def draft(step: str, context: dict[str, Any]) -> dict[str, Any]:
    if step not in DRAFTS:
        raise KeyError(f"the offline draft writer has no draft for step {step!r}")
    rng = W.rng_for(step, json.dumps(context, sort_keys=True, default=str))
    return DRAFTS[step](context, rng)


# --- reading the idea ---------------------------------------------------------------------------------------


def idea(ctx: dict[str, Any]) -> dict[str, Any]:
    """Cast, place and things of the film, from the prompt's own words (or the screenplay's)."""
    prompt = " ".join(filter(None, [ctx.get("prompt", ""), ctx.get("plot", "")]))
    found = W.phrases(prompt)
    low_words = [w.lower() for w in W.words(prompt)]
    cast: list[str] = list(W.proper_names(prompt))
    place = next((w for w in low_words if w in W.PLACES), None)
    props = [w for w in low_words if w in W.PROPS]
    for ph in found:
        head = ph.split()[-1].lower()
        if head in W.PLACES and not place:
            place = head
        elif head in W.PROPS:
            props.append(head)
        elif head in W.ROLES or len(cast) < 2:
            name = W.title_case(head)
            if name not in cast and head not in W.PLACES:
                cast.append(name)
    if not cast:
        cast = ["Wanderer"]
    if len(cast) == 1:
        cast.append("Stranger")
    place = place or (found[0].split()[0].lower() if found else "home")
    props = list(dict.fromkeys(props + W.PROPS_BY_PLACE.get(place, W.PROPS_BY_PLACE["default"])))[:2]
    descr = {}
    for ph in found:
        head = W.title_case(ph.split()[-1])
        descr[head] = ph
    return {"cast": cast[:3], "place": W.title_case(place), "props": [W.title_case(p) for p in props],
            "phrase": descr, "premise": prompt.strip() or "an untold story"}


def screenplay_facts(text: str) -> dict[str, Any]:
    from storyreel.inputs import fountain

    sp = fountain.parse(text)
    return {"title": sp.title_page.get("title", "").replace("\n", " ") or "Untitled",
            "cast": sp.speaking_characters(), "scenes": [s.heading for s in sp.scenes],
            "actions": [W.sentences(s.action)[:1] for s in sp.scenes]}


def rules_note(ctx: dict[str, Any]) -> str:
    rules = ctx.get("story_rules") or []
    return (" Always: " + "; ".join(rules) + ".") if rules else ""


# --- story --------------------------------------------------------------------------------------------------


@drafts("lore")
def _lore(ctx, rng):
    if ctx.get("screenplay"):
        facts = screenplay_facts(ctx["screenplay"])
        subject = f"the world of '{facts['title']}', with {', '.join(facts['cast'][:3]) or 'its people'}"
    else:
        i = idea(ctx)
        subject = f"{i['premise'].rstrip('.')}"
    worlds = rng.sample(W.WORLDS, 3)
    tones = rng.sample(W.TONES, 3)
    options = []
    for n, (world, tone) in enumerate(zip(worlds, tones, strict=True)):
        themes = rng.sample(W.THEMES, 2)
        options.append({
            "title": ["Close and real", "A fable", "Dreamlike"][n] if n < 3 else f"Take {n + 1}",
            "world": f"{subject[:1].upper() + subject[1:]} — {world}.{rules_note(ctx)}",
            "tone": ", ".join(tone), "themes": themes,
        })
    return {"options": options}


@drafts("treatment")
def _treatment(ctx, rng):
    lore = ctx.get("lore") or {}
    tone = lore.get("tone", "quiet")
    if ctx.get("screenplay"):
        facts = screenplay_facts(ctx["screenplay"])
        beats = [a[0] for a in facts["actions"] if a][:6]
        lead = facts["cast"][0].title() if facts["cast"] else "The hero"
        base_title = facts["title"].title()
        synopsis = " ".join(beats) or f"{lead} goes through {len(facts['scenes'])} scenes."
        premise = f"{lead} in {base_title}"
    else:
        i = idea(ctx)
        lead, other = i["cast"][0], i["cast"][1]
        place = i["place"].lower()
        base_title = f"The {lead} and the {other}" if not W.proper_names(ctx.get("prompt", "")) else \
            f"{lead} and {other}"
        premise = i["premise"].rstrip(".")
        synopsis = None
    angles = [("wants to be left alone", "learns that company can be chosen"),
              ("is afraid of what is coming", "finds the nerve to face it"),
              ("keeps to an old routine", "breaks it for something new")]
    rng.shuffle(angles)
    options = []
    for n, (want, arc) in enumerate(angles):
        title = [base_title, f"{base_title}: A Night", f"After the {lead}"][n]
        if synopsis is None:
            syn = (f"At the {place}, {lead} {want}. The {other.lower()} arrives and nothing stays in its place. "
                   f"They clash, then listen. By the end, {lead} {arc}.")
        else:
            syn = synopsis
        options.append({"title": title, "logline": f"{premise[:1].upper() + premise[1:]}: {lead} {want} and "
                                                   f"{arc}.{rules_note(ctx)}",
                        "synopsis": syn, "tone": tone})
    return {"options": options}


@drafts("beats")
def _beats(ctx, rng):
    duration = float(ctx["duration"])
    limit = max(1, math.ceil(duration / 5.0))
    n = max(1, min(limit, round(duration / 8) or 1))
    syn = W.sentences((ctx.get("treatment") or {}).get("synopsis", "")) or ["The story begins."]
    names = ["Setup", "Disturbance", "Turn", "Confrontation", "Resolution", "Coda"]
    beats = []
    for k in range(n):
        line = syn[min(len(syn) - 1, k * len(syn) // n)]
        beats.append({"duration": round(duration / n, 3), "summary": f"{names[min(k, 5)]}: {line}"})
    return {"beats": beats}


@drafts("outline")
def _outline(ctx, rng):
    i = idea(ctx)
    beats = ctx.get("beats") or [{"summary": "The story.", "duration": ctx["duration"]}]
    duration = float(ctx["duration"])
    n = max(1, min(len(beats), math.ceil(duration / 12)))
    place = i["place"].upper()
    sub = ["", " - GALLERY", " - SHORE", " - STAIRWELL"]
    times = rng.choice([["NIGHT"] * 4, ["DUSK", "NIGHT", "NIGHT", "DAWN"], ["DAY", "DAY", "NIGHT", "DAWN"]])
    scenes = []
    per = len(beats) / n
    for k in range(n):
        chunk = beats[int(k * per): max(int((k + 1) * per), int(k * per) + 1)]
        loc = f"{place}{sub[k % len(sub)] if k else ''}".strip()
        inside = "INT." if k % 2 == 0 else "EXT."
        cast = i["cast"][:2] if k else i["cast"][:1] + ([i["cast"][1]] if n == 1 else [])
        scenes.append({
            "heading": f"{inside} {loc} - {times[k % 4]}", "location": W.title_case(loc.lower()),
            "time_of_day": times[k % 4], "summary": " ".join(b["summary"].split(": ", 1)[-1] for b in chunk),
            "characters": cast, "props": i["props"][:1] if k % 2 == 0 else i["props"][1:2],
            "beat": int(k * per), "duration": round(sum(b["duration"] for b in chunk), 3),
        })
    return {"scenes": scenes}


# --- breakdown and script -----------------------------------------------------------------------------------


@drafts("assets")
def _assets(ctx, rng):
    out = []
    for a in ctx.get("describe_these") or []:
        r = W.rng_for(a["kind"], a["name"])
        if a["kind"] == "character":
            d = (f"{r.choice(W.LOOKS['age'])}, {r.choice(W.LOOKS['build'])}, {r.choice(W.LOOKS['hair'])}, "
                 f"in {r.choice(W.LOOKS['costume'])}")
        elif a["kind"] == "location":
            d = (f"{a['name'].lower()}: {r.choice(['whitewashed stone', 'dark timber', 'rusted iron', 'worn brick'])} "
                 f"walls, {r.choice(['a single tall window', 'a spiral stair', 'an open horizon', 'low beams'])}, "
                 f"{r.choice(['cold blue light', 'warm lamplight', 'grey daylight', 'flickering light'])}")
        else:
            d = (f"a {r.choice(['small', 'heavy', 'old', 'dented', 'polished'])} "
                 f"{r.choice(['brass', 'wooden', 'leather', 'glass', 'iron'])} {a['name'].lower()}")
        out.append({"kind": a["kind"], "name": a["name"], "description": d + rules_note(ctx)})
    return {"assets": out}


LINES = [
    "You came back.", "I keep the light. That's all I do.", "Listen. Do you hear it?", "Not tonight.",
    "Then stay until it passes.", "I was wrong about you.", "Hold on to this.", "It's almost morning.",
    "Who are you?", "I never asked for company.", "Look — out there.", "We can wait it out together.",
]


@drafts("screenplay")
def _screenplay(ctx, rng):
    o = ctx["outline"]
    cast = o.get("characters") or []
    prop = (o.get("props") or [None])[0]
    action = [f"{o['location']}. {o['summary']}".strip()]
    if cast:
        action.append(f"{cast[0].upper()} " + rng.choice(["stands at the window, waiting.", "works in silence.",
                                                         "turns at a sound outside.", "crosses the room."]))
    if prop:
        action.append(f"The {prop.lower()} catches the light.")
    dialogue = []
    n_lines = min(len(cast) + 1, max(1, int((o.get("duration") or 10) // 6)))
    picks = rng.sample(LINES, min(len(LINES), n_lines))
    for k, text in enumerate(picks):
        if not cast:
            break
        speaker = cast[k % len(cast)]
        paren = "quietly" if ctx.get("dialogue_rules") and k == 0 else ""
        dialogue.append({"character": speaker.upper(), "extension": "", "parenthetical": paren, "text": text,
                         "dual": False})
    return {"action": "\n\n".join(action), "dialogue": dialogue, "transition": ""}


def _explicit(text: str, assets: list[dict]) -> str:
    """Replace the first mention of each character by what they look like."""
    for a in assets:
        if a["kind"] != "character":
            continue
        pat = re.compile(rf"\b{re.escape(a['name'])}\b", re.IGNORECASE)
        text = pat.sub(f"{a['name'].title()} ({a['description'].split('.')[0]})", text, count=1)
    return text


@drafts("visual_script")
def _visual(ctx, rng):
    assets = ctx.get("scene_assets") or []
    o, s = ctx["outline"], ctx.get("script") or {}
    loc = next((a for a in assets if a["kind"] == "location"), None)
    parts = [f"{o['time_of_day'].lower() or 'day'} at {o['location']}"
             + (f": {loc['description']}" if loc else "") + "."]
    parts += [_explicit(p, assets) for p in (s.get("action") or "").split("\n\n") if p.strip()]
    for d in s.get("dialogue", []):
        parts.append(_explicit(f"{d['character']} speaks: \"{d['text']}\"", assets))
    style = (ctx.get("style") or {}).get("description")
    if style:
        parts.append(f"Seen in this style: {style}.")
    return {"visual": " ".join(parts)}


CHANGES = [("put on", "wearing"), ("puts on", "wearing"), ("disguise", "in disguise:"), ("wears", "wearing"),
           ("takes off", "no longer wearing"), ("wounded", "wounded"), ("bleeding", "bleeding"),
           ("soaked", "soaked through"), ("wet", "wet")]


def _state_change(name: str, text: str) -> str | None:
    """A change of look for ``name`` written in the scene: 'BRICK puts on a fake beard' -> 'wearing a fake beard'."""
    for sentence in W.sentences(text.replace("\n", " ")):
        if name.lower() not in sentence.lower():
            continue
        low = sentence.lower()
        for cue, label in CHANGES:
            if cue in low:
                rest = sentence[low.index(cue) + len(cue):].strip(" .,:;")
                return f"{label} {rest}".strip() if rest else label
    return None


@drafts("instances")
def _instances(ctx, rng):
    latest: dict[str, str] = {}
    for insts in ctx.get("earlier_instances") or []:
        for i in insts or []:
            latest[i["asset_id"]] = i["state"]
    script = ctx.get("script") or {}
    text = " ".join([script.get("action", "")] + [d["text"] for d in script.get("dialogue", [])])
    out = []
    for a in ctx.get("scene_assets") or []:
        state = latest.get(a["id"], "")
        change = _state_change(a["name"], text)
        if change:
            state = change
        elif a["kind"] == "character" and (ctx["outline"].get("time_of_day") or "") in ("NIGHT",) \
                and "storm" in text.lower() and "wet" not in state:
            state = f"{state}; rain-soaked" if state else "rain-soaked, hair plastered down"
        out.append({"asset_id": a["id"], "state": state})
    return {"instances": out}


# --- shots --------------------------------------------------------------------------------------------------


@drafts("shot_list")
def _shot_list(ctx, rng):
    o, s = ctx["outline"], ctx.get("script") or {}
    cast = o.get("characters") or []
    props = o.get("props") or []
    lines = s.get("dialogue", [])
    shots = [{"framing": "wide", "camera_move": rng.choice(["push-in", "static", "pan-right"]),
              "action": f"{o['location']}, {o['time_of_day'].lower()}. " + (o.get("summary") or "")[:160],
              "characters": cast, "props": props, "dialogue": [], "duration": 3.0,
              "clip_strategy": "first-last-frame", "transition": "cut"}]
    for k, d in enumerate(lines):
        speaker = next((c for c in cast if c.upper() == d["character"].upper()), d["character"].title())
        framing = "close-up" if k % 2 else "medium"
        shots.append({"framing": framing, "camera_move": "push-in" if framing == "close-up" else "static",
                      "action": f"{speaker} speaks" + (f", {d['parenthetical']}" if d.get("parenthetical") else "")
                      + ", " + rng.choice(["eyes lowered", "turning towards the light", "holding very still",
                                          "leaning in", "glancing at the door", "half in shadow"]),
                      "characters": [speaker] if framing == "close-up" else cast,
                      "props": [], "dialogue": [d["id"]],
                      "duration": max(2.0, len(d["text"].split()) / 2.5 + 1.0),
                      "clip_strategy": "first-last-frame", "transition": "cut"})
    if props:
        shots.append({"framing": "insert", "camera_move": "push-in", "action": f"The {props[0].lower()}.",
                      "characters": [], "props": props[:1], "dialogue": [], "duration": 2.0,
                      "clip_strategy": "image-to-video", "transition": "cut"})
    if len(shots) > 1 and not lines and cast:
        shots.append({"framing": "pov", "camera_move": "pan-left", "action": f"What {cast[0]} sees.",
                      "characters": cast[1:] or [], "props": [], "dialogue": [], "duration": 2.5,
                      "clip_strategy": "first-last-frame", "transition": "cut"})
    # the wide opening runs on into the next shot when nothing is said over the cut
    if len(shots) > 2 and shots[1]["framing"] == "medium":
        shots[1]["clip_strategy"] = "continue"
    shots[-1]["transition"] = rng.choice(["crossfade", "fade-to-black", "cut"])
    return {"shots": shots}


@drafts("keyframe_prompts")
def _keyframe_prompts(ctx, rng):
    shot, o = ctx["shot"], ctx["outline"]
    who = ", ".join(shot["characters"]) or "no one"
    base = f"{shot['framing']} shot, {o['location']}, {o['time_of_day'].lower()}; {who}"
    return {"first_frame": f"{base}. Start: {shot['action']}",
            "last_frame": f"{base}. End: {shot['action']} — the moment completed",
            "clip": f"{shot['camera_move']} over {shot['duration']:.1f} s: {shot['action']}"}


@drafts("sound_cues")
def _sound_cues(ctx, rng):
    tone = " ".join([(ctx.get("treatment") or {}).get("tone", ""), (ctx.get("lore") or {}).get("tone", ""),
                     ctx.get("vibe") or ""]).lower()
    tone_words = set(re.findall(r"[a-z]+", tone))
    minor = bool(tone_words & W.MOODS_MINOR)
    fast = bool(tone_words & W.MOODS_FAST)
    night = (ctx["outline"].get("time_of_day") or "") == "NIGHT"
    tempo = (118 if fast else 84) - (8 if night else 0) + rng.randint(-4, 4)
    lines = {d["id"]: d for d in (ctx.get("script") or {}).get("dialogue", [])}
    cues = []
    for shot in ctx.get("scene_shots") or []:
        t = 0.3
        for lid in shot["dialogue"]:
            if lid not in lines:
                continue
            length = len(lines[lid]["text"].split()) / 2.5 + 0.4
            cues.append({"line_id": lid, "shot_id": shot["id"], "start": round(t, 2), "duration": round(length, 2)})
            t += length + 0.2
    mood = ", ".join(sorted(tone_words & (W.MOODS_MINOR | W.MOODS_FAST))[:2]) or "gentle, steady"
    return {"music_mood": mood, "tempo": int(tempo), "mode": "minor" if minor else "major", "dialogue": cues}
