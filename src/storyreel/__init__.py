"""storyreel: from an idea, notes or a screenplay to a storyboard, a story reel and a final cut."""

from storyreel.errors import StoryreelError
from storyreel.film.models import Film
from storyreel.studio import Studio

__all__ = ["Film", "Studio", "StoryreelError"]
__version__ = "0.1.0"
