"""Render MIDI to WAV with the FluidSynth command line and a General-MIDI soundfont.

Dry renders (FluidSynth's own reverb and chorus off): the project measures what effects do, so
the clean condition must not already carry a reverb. A ``render.json`` stamp in the output folder
records the soundfont and sample rate; a change re-renders everything, otherwise existing WAVs
newer than their MIDI are kept.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from emofx.errors import EmofxError

DEFAULT_SOUNDFONTS: tuple[Path, ...] = (
    Path("/usr/share/sounds/sf2/FluidR3_GM.sf2"),  # Debian/Ubuntu fluid-soundfont-gm
    Path("/usr/share/sounds/sf2/default-GM.sf2"),
    Path("/usr/share/soundfonts/FluidR3_GM.sf2"),  # Fedora/Arch
    Path("/usr/share/soundfonts/default.sf2"),
    Path("/opt/homebrew/share/soundfonts/default.sf2"),
)
INSTALL_HINT = (
    "run scripts/install_system_deps.sh (Debian: apt-get install fluidsynth fluid-soundfont-gm)"
)
STAMP_FILE = "render.json"


class RendererMissingError(EmofxError, RuntimeError):
    """The MIDI renderer or the soundfont is not installed; the message names which."""


def find_renderer() -> Path:
    found = shutil.which("fluidsynth")
    if found is None:
        raise RendererMissingError(
            f"FluidSynth executable 'fluidsynth' not found on PATH, needed to render EMOPIA MIDI; "
            f"{INSTALL_HINT}, or set the emopia option audio_dir to a folder of crawled clips"
        )
    return Path(found)


def find_soundfont(soundfont: str | Path | None) -> Path:
    """The given soundfont, else the first installed default; a clear error if there is none."""
    if soundfont is not None:
        path = Path(soundfont).expanduser()
        if not path.is_file():
            raise RendererMissingError(f"soundfont not found: {path} (emopia option soundfont)")
        return path
    for path in DEFAULT_SOUNDFONTS:
        if path.is_file():
            return path.resolve()
    raise RendererMissingError(
        f"no General-MIDI soundfont found (looked in {[str(p) for p in DEFAULT_SOUNDFONTS]}); "
        f"{INSTALL_HINT}, or set the emopia option soundfont to an .sf2 file"
    )


def render_midis(
    midis: Sequence[Path],
    out_dir: Path,
    soundfont: Path,
    sample_rate: int,
    workers: int = 2,
) -> dict[Path, Path | str]:
    """Render each MIDI to ``out_dir/<stem>.wav``; map each MIDI to its WAV or an error message."""
    renderer = find_renderer()
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = {
        "soundfont": str(soundfont),
        "soundfont_bytes": soundfont.stat().st_size,
        "sample_rate": int(sample_rate),
        "reverb": False,
        "chorus": False,
    }
    stamp_path = out_dir / STAMP_FILE
    fresh_stamp = not stamp_path.is_file() or json.loads(stamp_path.read_text()) != stamp
    if fresh_stamp:
        for old in out_dir.glob("*.wav"):
            old.unlink()
        stamp_path.write_text(json.dumps(stamp, indent=2))

    def one(midi: Path) -> Path | str:
        target = out_dir / f"{midi.stem}.wav"
        if target.is_file() and target.stat().st_mtime >= midi.stat().st_mtime:
            return target
        tmp = target.with_name(f".{target.name}.tmp.wav")
        command = [
            str(renderer),
            "-ni",
            "-q",
            "-R",
            "0",
            "-C",
            "0",
            "-g",
            "0.5",
            "-r",
            str(int(sample_rate)),
            "-T",
            "wav",
            "-F",
            str(tmp),
            str(soundfont),
            str(midi),
        ]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0 or not tmp.is_file() or tmp.stat().st_size <= 44:
            tmp.unlink(missing_ok=True)
            detail = "; ".join((done.stderr or done.stdout).split("\n")).strip("; ")[:300]
            return (
                f"MIDI render failed (fluidsynth exit {done.returncode}: {detail or 'no output'})"
            )
        tmp.replace(target)
        return target

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return dict(zip(midis, pool.map(one, midis), strict=True))
