"""emofx's embedded synthetic corpus: procedurally composed music with planted emotion cues.

``generate_corpus`` writes audio in DEAM's layout (read by the DEAM loader; ``write_placeholder``
writes the synth stage's one-file output when the pipeline runs on another dataset);
``write_emopia_layout`` writes MIDI from the same composer in EMOPIA 2.2's layout.
See ``docs/synthetic_corpus.md`` for the cues, the emotion model and its rationale.
"""

from emofx.datasets.synth.deam_layout import PLACEHOLDER_FILE, generate_corpus, write_placeholder
from emofx.datasets.synth.emopia_layout import write_emopia_layout

__all__ = ["PLACEHOLDER_FILE", "generate_corpus", "write_emopia_layout", "write_placeholder"]
