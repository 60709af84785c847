"""`musegan --help` and argument errors must not import the heavy libraries: a command
imports what it needs when it runs."""
import json
import subprocess
import sys

HEAVY = ("torch", "numpy", "music21", "pretty_midi", "symusic", "librosa", "soundfile", "scipy")

SCRIPT = """
import contextlib, io, json, sys
import musegan.cli
codes = []
for argv in (["--help"], ["train", "--bogus"], ["generate"], ["train", "--steps", "zero"]):
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        try:
            codes.append(musegan.cli.main(argv))
        except SystemExit as e:
            codes.append(e.code)
print(json.dumps({"codes": codes, "modules": sorted(sys.modules)}))
"""


def test_help_and_argument_errors_import_no_heavy_library():
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True).stdout
    result = json.loads(out)
    assert result["codes"] == [0, 2, 2, 2]
    loaded = {name.split(".")[0] for name in result["modules"]}
    assert not loaded & set(HEAVY), f"imported at startup: {sorted(loaded & set(HEAVY))}"


def test_public_names_still_import_on_first_use():
    script = ("import musegan, sys; before = 'torch' in sys.modules; musegan.load; musegan.Song; "
              "print(before, 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "True"]
    import musegan
    from musegan.errors import MuseganError

    assert set(musegan.__all__) <= set(dir(musegan))
    assert all(getattr(musegan, name) is not None for name in musegan.__all__)
    assert musegan.MuseganError is MuseganError
