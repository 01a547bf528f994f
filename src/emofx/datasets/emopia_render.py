"""Render MIDI to WAV with the FluidSynth command line and a General-MIDI soundfont.

Dry renders (FluidSynth's own reverb and chorus off): the project measures what effects do, so
the clean condition must not already carry a reverb. Renders live in the project's cache, never
beside the dataset (which may be read-only): ``<cache>/<settings key>/<clip>-<MIDI digest>.wav``,
where the key covers the FluidSynth version, the soundfont's content, the sample rate and the
flags, so a changed MIDI, soundfont or renderer never serves a stale render.
"""

from __future__ import annotations

import functools
import hashlib
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
#: FluidSynth options after the sample rate: no interactive shell, quiet, reverb and chorus off
_FLAGS: tuple[str, ...] = ("-ni", "-q", "-R", "0", "-C", "0", "-g", "0.5")


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


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@functools.lru_cache(maxsize=4)
def _soundfont_digest(path: Path, size: int, mtime_ns: int) -> str:
    return _digest(path)


def render_key(renderer: Path, soundfont: Path, sample_rate: int) -> str:
    """The cache folder name for one renderer setup (what shapes a render besides the MIDI)."""
    done = subprocess.run([str(renderer), "--version"], capture_output=True, text=True)
    stat = soundfont.stat()
    settings = {
        "fluidsynth": (done.stdout or done.stderr).strip().splitlines()[:1],
        "soundfont": _soundfont_digest(soundfont.resolve(), stat.st_size, stat.st_mtime_ns),
        "sample_rate": int(sample_rate),
        "flags": _FLAGS,
    }
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]


def render_midis(
    midis: Sequence[Path],
    cache_dir: Path,
    soundfont: Path,
    sample_rate: int,
    workers: int = 2,
) -> dict[Path, Path | str]:
    """Render each MIDI into ``cache_dir``; map each MIDI to its WAV or an error message.

    A render already in the cache (same MIDI bytes, same renderer setup) is reused.
    """
    renderer = find_renderer()
    out_dir = cache_dir / render_key(renderer, soundfont, sample_rate)
    out_dir.mkdir(parents=True, exist_ok=True)

    def one(midi: Path) -> Path | str:
        target = out_dir / f"{midi.stem}-{_digest(midi)[:16]}.wav"
        if target.is_file():
            return target
        tmp = target.with_name(f".{target.name}.tmp.wav")
        command = [
            str(renderer),
            *_FLAGS,
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
