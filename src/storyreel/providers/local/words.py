"""Word lists and small text helpers for the offline draft writer. Plain data: no model, no network."""

from __future__ import annotations

import hashlib
import random
import re

STOP = {"a", "an", "the", "and", "or", "but", "who", "that", "which", "in", "on", "at", "of", "to", "into", "from",
        "with", "by", "for", "as", "is", "are", "was", "were", "be", "his", "her", "their", "its", "my", "our",
        "your", "this", "these", "those", "when", "while", "after", "before", "until", "where", "about", "over",
        "under", "through", "across", "he", "she", "they", "it", "we", "i", "you", "one", "two", "not", "no"}
ARTICLES = {"a", "an", "the", "his", "her", "their", "its", "my", "our", "your", "some", "one", "two"}

PLACES = {
    "lighthouse", "forest", "city", "town", "village", "ship", "boat", "house", "home", "kitchen", "beach", "shore",
    "island", "mountain", "desert", "station", "train", "school", "library", "castle", "palace", "garden", "farm",
    "street", "alley", "bar", "cafe", "diner", "office", "hospital", "church", "temple", "cave", "sea", "ocean",
    "river", "lake", "bridge", "tower", "attic", "basement", "market", "museum", "theatre", "theater", "studio",
    "planet", "moon", "spaceship", "laboratory", "lab", "harbour", "harbor", "field", "meadow", "jungle", "swamp",
    "apartment", "hotel", "motel", "warehouse", "factory", "prison", "court", "park", "rooftop", "subway", "airport",
}
ROLES = {
    "keeper", "girl", "boy", "woman", "man", "child", "detective", "robot", "king", "queen", "prince", "princess",
    "dragon", "witch", "wizard", "knight", "sailor", "pilot", "doctor", "nurse", "teacher", "student", "farmer",
    "soldier", "thief", "baker", "painter", "musician", "singer", "dancer", "writer", "poet", "mother", "father",
    "sister", "brother", "daughter", "son", "grandmother", "grandfather", "friend", "stranger", "ghost", "alien",
    "cat", "dog", "fox", "wolf", "bear", "bird", "owl", "mouse", "fisherman", "astronaut", "scientist", "chef",
    "monk", "nun", "priest", "spy", "hunter", "giant", "storm", "cloud", "wind", "tree", "machine", "android",
    "clockmaker", "inventor", "captain", "mermaid", "orphan", "widow", "courier", "guard", "mayor", "clown",
}
PROPS = {"lamp", "lantern", "letter", "key", "book", "map", "phone", "camera", "sword", "gun", "cup", "clock",
         "watch", "ring", "umbrella", "radio", "bell", "compass", "bottle", "box", "knife", "coin", "photograph",
         "notebook", "logbook", "hat", "coat", "violin", "guitar", "bicycle", "car", "rope", "candle", "mirror"}
PROPS_BY_PLACE = {"lighthouse": ["lamp", "logbook"], "ship": ["compass", "rope"], "forest": ["lantern", "map"],
                  "kitchen": ["cup", "knife"], "library": ["book", "candle"], "city": ["phone", "umbrella"],
                  "space": ["radio", "helmet"], "default": ["lantern", "letter"]}

TONES = [("wistful", "quiet", "hopeful"), ("tense", "stormy", "defiant"), ("playful", "bright", "warm"),
         ("eerie", "hushed", "strange"), ("melancholy", "tender", "slow"), ("bold", "brisk", "funny")]
THEMES = ["loneliness and connection", "duty against desire", "the cost of change", "trust earned slowly",
          "home and leaving it", "fear turned into courage", "what we owe strangers", "time and memory",
          "the wildness we cannot own", "small kindnesses"]
WORLDS = ["grounded and real: weather, wood, salt and work", "a fable where nature listens and answers",
          "a slightly uncanny version of our world, lit like a dream", "a storybook world with its own gentle rules"]
LOOKS = {
    "age": ["young", "middle-aged", "weathered older", "teenage", "elderly"],
    "build": ["tall thin", "short sturdy", "broad-shouldered", "slight", "stocky"],
    "hair": ["cropped grey hair", "long dark braid", "wild red curls", "close-shaved head", "tied-back fair hair"],
    "costume": ["a navy wool coat", "a yellow oilskin", "a patched green sweater", "a long brown duster",
                "a white shirt with rolled sleeves", "a faded red scarf and boots"],
}
MOODS_MINOR = {"wistful", "tense", "stormy", "eerie", "melancholy", "dark", "sad", "hushed", "strange", "grim",
               "lonely", "tender", "slow", "noir", "defiant"}
MOODS_FAST = {"tense", "stormy", "bold", "brisk", "funny", "playful", "bright", "defiant", "urgent", "action"}


def rng_for(*parts: object) -> random.Random:
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()
    return random.Random(int(digest[:16], 16))


def words(text: str) -> list[str]:
    return re.findall(r"[A-Za-z][A-Za-z'-]*", text or "")


def title_case(s: str) -> str:
    return " ".join(w[:1].upper() + w[1:] for w in s.split())


def sentences(text: str) -> list[str]:
    return [s.strip() for s in re.split(r"(?<=[.!?])\s+", (text or "").strip()) if s.strip()]


def phrases(prompt: str) -> list[str]:
    """Noun phrases introduced by an article: 'A lighthouse keeper befriends a storm' -> [lighthouse keeper, storm]."""
    toks = words(prompt)
    low = [t.lower() for t in toks]
    out: list[str] = []
    i = 0
    while i < len(toks):
        if low[i] in ARTICLES:
            j, taken = i + 1, []
            while j < len(toks) and len(taken) < 3 and low[j] not in STOP:
                # a word followed by an article is the verb of the clause, not part of the phrase
                if taken and j + 1 < len(toks) and low[j + 1] in ARTICLES:
                    break
                taken.append(toks[j])
                j += 1
            if taken:
                out.append(" ".join(taken))
            i = max(j, i + 1)
        else:
            i += 1
    return out


def proper_names(prompt: str) -> list[str]:
    toks = re.findall(r"(?<![.!?]\s)(?<!^)\b[A-Z][a-z]{2,}\b", prompt or "")
    return [t for t in dict.fromkeys(toks) if t.lower() not in STOP and t.lower() not in PLACES]
