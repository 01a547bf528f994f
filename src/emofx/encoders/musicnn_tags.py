"""The 50 output tags of each Musicnn checkpoint, in model output order.

MTG-Jamendo top-50: the upstream loader one-hot encodes ``category---tag`` names with sklearn's
``LabelBinarizer``, whose classes are sorted, so outputs run genre (a-z), instrument (a-z),
mood/theme (a-z) — not a plain a-z of the bare names. MagnaTagATune top-50: the standard list
(upstream ``split/mtat/tags.npy``). Source: github.com/minzwon/sota-music-tagging-models.
"""

MTG_JAMENDO_TAGS: tuple[str, ...] = (
    # genre
    "alternative", "ambient", "atmospheric", "chillout", "classical", "dance", "downtempo",
    "easylistening", "electronic", "experimental", "folk", "funk", "hiphop", "house", "indie",
    "instrumentalpop", "jazz", "lounge", "metal", "newage", "orchestral", "pop", "popfolk",
    "poprock", "reggae", "rock", "soundtrack", "techno", "trance", "triphop", "world",
    # instrument
    "acousticguitar", "bass", "computer", "drummachine", "drums", "electricguitar",
    "electricpiano", "guitar", "keyboard", "piano", "strings", "synthesizer", "violin", "voice",
    # mood/theme
    "emotional", "energetic", "film", "happy", "relaxing",
)  # fmt: skip

MTAT_TAGS: tuple[str, ...] = (
    "guitar", "classical", "slow", "techno", "strings", "drums", "electronic", "rock", "fast",
    "piano", "ambient", "beat", "violin", "vocal", "synth", "female", "indian", "opera", "male",
    "singing", "vocals", "no vocals", "harpsichord", "loud", "quiet", "flute", "woman",
    "male vocal", "no vocal", "pop", "soft", "sitar", "solo", "man", "classic", "choir", "voice",
    "new age", "dance", "male voice", "female vocal", "beats", "harp", "cello", "no voice", "weird",
    "country", "metal", "female voice", "choral",
)  # fmt: skip
