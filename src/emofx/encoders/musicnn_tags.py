"""The 50 output tags of each Musicnn checkpoint, in model output order.

Tag vocabularies of MTG-Jamendo top-50 (alphabetical) and MagnaTagATune top-50 (order of the
upstream ``split/mtat/tags.npy``), as used by github.com/minzwon/sota-music-tagging-models.
"""

MTG_JAMENDO_TAGS: tuple[str, ...] = (
    "acousticguitar", "alternative", "ambient", "atmospheric", "bass", "chillout", "classical",
    "computer", "dance", "downtempo", "drummachine", "drums", "easylistening", "electricguitar",
    "electricpiano", "electronic", "emotional", "energetic", "experimental", "film", "folk", "funk",
    "guitar", "happy", "hiphop", "house", "indie", "instrumentalpop", "jazz", "keyboard", "lounge",
    "metal", "newage", "orchestral", "piano", "pop", "popfolk", "poprock", "reggae", "relaxing",
    "rock", "soundtrack", "strings", "synthesizer", "techno", "trance", "triphop", "violin", "voice",
    "world",
)  # fmt: skip

MTAT_TAGS: tuple[str, ...] = (
    "guitar", "classical", "slow", "techno", "strings", "drums", "electronic", "rock", "fast",
    "piano", "ambient", "beat", "violin", "vocal", "synth", "female", "indian", "opera", "male",
    "singing", "vocals", "no vocals", "harpsichord", "loud", "quiet", "flute", "woman",
    "male vocal", "no vocal", "pop", "soft", "sitar", "solo", "man", "classic", "choir", "voice",
    "new age", "dance", "male voice", "female vocal", "beats", "harp", "cello", "no voice", "weird",
    "country", "metal", "female voice", "choral",
)  # fmt: skip
