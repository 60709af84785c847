"""``musegan studio``: its JSON API without a browser (every endpoint, bad uploads, bad
parameters, unknown runs, paths from the page), and the page itself in a headless
Chromium driven by Selenium (generate, see the roll, hear it, infill, download)."""
import http.client
import io
import json
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pretty_midi
import pytest
import soundfile as sf
import torch

import musegan
from musegan.errors import MuseganError
from musegan.studio import Studio, serve
from musegan.studio import server as studio_server

torch.set_num_threads(1)

ROOT = Path(__file__).resolve().parent.parent
TINY = ["model.hidden_size=32", "model.num_layers=1", "train.batch_size=8", "train.valid_batches=1",
        "train.samples=0", "data.window_bars=2", "train.checkpoint_every=20", "train.valid_every=20"]
COCONET = ["model.hidden_size=16", "model.num_layers=2", "model.iterations=8", "train.batch_size=8",
           "train.valid_batches=1", "train.samples=0", "data.window_bars=2", "train.checkpoint_every=20",
           "train.valid_every=20"]
AUDIO = ["model.hidden_size=16", "model.num_layers=1", "train.batch_size=4", "train.valid_batches=1",
         "train.samples=0", "data.window_frames=32", "data.n_mels=32", "train.checkpoint_every=6",
         "train.valid_every=6"]


def song_midi(seed: int, bars: int = 8) -> pretty_midi.PrettyMIDI:
    """Two tracks, a melody in eighths over a bass holding each bar: notes in every step."""
    rng = np.random.default_rng(seed)
    pm = pretty_midi.PrettyMIDI(initial_tempo=120)
    mel, bass = pretty_midi.Instrument(0, name="melody"), pretty_midi.Instrument(33, name="bass")
    for b in range(bars):
        bass.notes.append(pretty_midi.Note(80, 36 + int(rng.integers(0, 12)), b * 2.0, b * 2.0 + 2.0))
        for q in range(8):
            p = 60 + int(rng.choice([0, 2, 4, 5, 7, 9, 11, 12]))
            mel.notes.append(pretty_midi.Note(90, p, b * 2.0 + q * 0.25, b * 2.0 + q * 0.25 + 0.25))
    pm.instruments += [mel, bass]
    return pm


def midi_bytes(pm) -> bytes:
    buf = io.BytesIO()
    pm.write(buf)
    return buf.getvalue()


def melody_midi(bars: int = 4) -> bytes:
    pm = pretty_midi.PrettyMIDI(initial_tempo=120)
    mel = pretty_midi.Instrument(0, name="melody")
    for i, p in enumerate([60, 62, 64, 65, 67, 65, 64, 62] * (bars // 2)):
        mel.notes.append(pretty_midi.Note(90, p, i * 0.5, i * 0.5 + 0.5))
    pm.instruments.append(mel)
    return midi_bytes(pm)


@pytest.fixture(scope="session")
def runs(tmp_path_factory):
    """Tiny runs trained here: lstm on MIDI, lstm on WAV, and coconet."""
    root = tmp_path_factory.mktemp("studio")
    midi = root / "midi"
    midi.mkdir()
    for i in range(8):
        song_midi(i).write(str(midi / f"s{i}.mid"))
    wavs = root / "wavs"
    wavs.mkdir()
    t = np.arange(int(0.6 * 44100)) / 44100
    for i, f in enumerate((220.0, 330.0, 440.0)):
        sf.write(wavs / f"t{i}.wav", (0.4 * np.sin(2 * np.pi * f * t)).astype(np.float32), 44100)
    out = {}
    quiet = dict(progress=False, log=lambda *_: None)
    runs_dir = root / "runs"
    config = musegan.make_config("lstm", corpus=midi, overrides=TINY, steps=20)
    out["lstm"] = musegan.train(midi, runs_dir / "lstm", config, **quiet)
    config = musegan.make_config("lstm", corpus=wavs, overrides=AUDIO, steps=6)
    out["audio"] = musegan.train(wavs, runs_dir / "sound" / "audio", config, **quiet)
    config = musegan.make_config("coconet", corpus=midi, overrides=COCONET, steps=20)
    out["coconet"] = musegan.train(midi, runs_dir / "coconet", config, **quiet)
    out["root"], out["runs_dir"], out["midi"] = root, runs_dir, midi
    return out


@pytest.fixture(scope="session")
def app(runs):
    studio = Studio([runs["lstm"], runs["audio"], runs["coconet"]], port=0).start()
    yield studio
    studio.close()


# --------------------------------------------------------------------------- HTTP helpers

def request(app, method, path, body=None, headers=None):
    """(status, headers, body bytes)."""
    conn = http.client.HTTPConnection("127.0.0.1", app.port, timeout=60)
    try:
        h = dict(headers or {})
        if isinstance(body, (dict, list)) or body is None and method == "POST" and "Content-Type" not in h:
            body = json.dumps(body).encode()
            h.setdefault("Content-Type", "application/json")
        conn.request(method, path, body=body, headers=h)
        r = conn.getresponse()
        return r.status, dict(r.getheaders()), r.read()
    finally:
        conn.close()


def get_json(app, path, status=200):
    s, h, b = request(app, "GET", path)
    assert s == status, b
    assert h["Content-Type"] == "application/json"
    return json.loads(b)


def post_json(app, path, body, status=202, headers=None):
    s, h, b = request(app, "POST", path, body, headers)
    assert s == status, b
    return json.loads(b)


def error_of(app, method, path, body=None, headers=None) -> tuple[int, str]:
    s, h, b = request(app, method, path, body, headers)
    assert h.get("Content-Type") == "application/json", (s, b[:200])
    msg = json.loads(b)["error"]
    assert isinstance(msg, str) and "\n" not in msg and msg
    return s, msg


def wait_job(app, job_id, timeout=60):
    t0 = time.monotonic()
    stages = set()
    while time.monotonic() - t0 < timeout:
        j = get_json(app, f"/api/jobs/{job_id}")
        stages.add(j["stage"])
        if j["state"] in ("done", "error"):
            j["stages"] = stages
            return j
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} still running after {timeout} s")


def run_job(app, path, body):
    return wait_job(app, post_json(app, path, body)["job"])


def bars_of(data: bytes, spb_quarters: int = 4) -> int:
    """Bars of a MIDI file as symusic reads it: to the end of its last note, 4/4."""
    import symusic

    with tempfile.NamedTemporaryFile(suffix=".mid", delete=False) as f:
        f.write(data)
    try:
        score = symusic.Score(f.name)
    finally:
        os.unlink(f.name)
    return -(-score.end() // (score.ticks_per_quarter * spb_quarters))


# --------------------------------------------------------------------------- the API

def test_static_page_and_runs(app):
    s, h, page = request(app, "GET", "/")
    assert s == 200 and h["Content-Type"].startswith("text/html") and b"<canvas id=\"roll\"" in page
    for name, ctype in (("studio.js", "javascript"), ("studio.css", "text/css")):
        s, h, body = request(app, "GET", f"/static/{name}")
        assert s == 200 and ctype in h["Content-Type"] and body
    for name in ("index.html", "studio.js", "studio.css"):  # everything from this server: no CDN
        body = request(app, "GET", f"/static/{name}")[2]
        assert b"http://" not in body and b"https://" not in body and b"src=\"//" not in body
    listing = get_json(app, "/api/runs")
    assert {(r["id"], r["kind"]) for r in listing["runs"]} >= {("lstm", "midi"), ("audio", "audio")}
    assert listing["upload_limit"] == studio_server.MAX_UPLOAD
    run = get_json(app, "/api/run?id=lstm")
    assert run["kind"] == "midi" and run["family"] == "lstm" and run["steps_per_bar"] == 16
    assert run["tracks"] == [t.name for t in musegan.load(app.runs.path("lstm")).tracks]
    assert get_json(app, "/api/run?id=audio")["kind"] == "audio"
    assert run["pulls"] == ["hold", "key", "groove", "chord"] and get_json(app, "/api/run?id=coconet")["pulls"] == []


def test_generate_writes_midi_and_wav_and_is_repeatable(app):
    j = run_job(app, "/api/generate", {"run": "lstm", "bars": 4, "seed": 3, "temperature": 0.9, "top_p": 0.95})
    assert j["state"] == "done", j["error"]
    assert any(s.startswith("sampling 4 bars") for s in j["stages"]) or j["stages"] == {"done"}
    r = j["result"]
    assert r["roll"]["bars"] == 4 and r["roll"]["steps_per_bar"] == 16 and r["roll"]["notes"]
    s, h, mid = request(app, "GET", r["midi"])
    assert s == 200 and h["Content-Type"] == "audio/midi" and mid[:4] == b"MThd"
    assert bars_of(mid) == 4
    s, h, wav = request(app, "GET", r["wav"] + "?download=1")
    assert s == 200 and wav[:4] == b"RIFF" and h["Content-Type"] == "audio/wav"
    assert h["Content-Disposition"] == 'attachment; filename="lstm-seed3.wav"'
    y, sr = sf.read(io.BytesIO(wav))
    assert sr == 44100 and len(y) / sr == pytest.approx(r["seconds"], abs=0.01) and np.abs(y).max() > 0
    again = run_job(app, "/api/generate", {"run": "lstm", "bars": 4, "seed": 3, "temperature": 0.9, "top_p": 0.95})
    assert request(app, "GET", again["result"]["midi"])[2] == mid  # same seed, same music
    assert again["result"]["piece"] != r["piece"]


def outside_one_major_scale(mid: bytes, after_s: float = 2.0) -> float:
    """Share of the pitched notes starting after ``after_s`` seconds (past the first bar,
    where the key pull has counted its notes) outside the major scale that holds most."""
    pm = pretty_midi.PrettyMIDI(io.BytesIO(mid))
    pcs = [n.pitch % 12 for i in pm.instruments if not i.is_drum for n in i.notes if n.start >= after_s]
    counts = np.bincount(pcs, minlength=12)
    return 1 - max(sum(counts[(r + i) % 12] for i in (0, 2, 4, 5, 7, 9, 11)) for r in range(12)) / counts.sum()


def test_generate_takes_pulls_on_a_sequence_run_and_refuses_them_on_coconet(app):
    free = run_job(app, "/api/generate", {"run": "lstm", "bars": 8, "seed": 5})
    pulled = run_job(app, "/api/generate", {"run": "lstm", "bars": 8, "seed": 5, "pulls": {"key": 40}})
    assert free["state"] == pulled["state"] == "done", (free["error"], pulled["error"])
    assert outside_one_major_scale(request(app, "GET", free["result"]["midi"])[2]) > 0.1
    assert outside_one_major_scale(request(app, "GET", pulled["result"]["midi"])[2]) == 0.0
    refused = run_job(app, "/api/generate", {"run": "coconet", "bars": 2, "pulls": {"hold": 2}})
    assert refused["state"] == "error" and "coconet family draws no frame after frame" in refused["error"]


def test_concurrent_requests_take_turns_on_the_model(app):
    body = {"run": "lstm", "bars": 2, "seed": 11}
    jobs = [post_json(app, "/api/generate", body)["job"] for _ in range(4)]
    results = [wait_job(app, j) for j in jobs]
    assert all(r["state"] == "done" for r in results)
    files = {request(app, "GET", r["result"]["midi"])[2] for r in results}
    assert len(files) == 1


@pytest.mark.parametrize("body, field", [
    ({"bars": 0}, "bars"), ({"bars": "many"}, "bars"), ({"bars": True}, "bars"), ({"bars": 10_000}, "bars"),
    ({"seed": -1}, "seed"), ({"seed": 1.5}, "seed"), ({"temperature": -0.5}, "temperature"),
    ({"temperature": "hot"}, "temperature"), ({"temperature": float("nan")}, "temperature"),
    ({"top_p": 0}, "top_p"), ({"top_p": 1.5}, "top_p"),
    ({"pulls": {"swing": 1}}, "pulls"), ({"pulls": {"key": -1}}, "pulls"), ({"pulls": [4]}, "pulls"),
], ids=lambda v: json.dumps(v).replace(" ", "") if isinstance(v, dict) else None)
def test_bad_parameters_are_one_line_json_errors(app, body, field):
    s, msg = error_of(app, "POST", "/api/generate", {"run": "lstm", **body})
    assert s == 400 and msg.startswith(f"{field}:")


def test_bad_requests(app):
    assert error_of(app, "POST", "/api/generate", {"run": "nope"}) == (404, "unknown run 'nope'")
    assert error_of(app, "POST", "/api/generate", {"bars": 2})[0] == 400  # no run
    assert error_of(app, "POST", "/api/generate", [1, 2])[0] == 400
    assert error_of(app, "GET", "/api/run?id=nope")[0] == 404
    s, msg = error_of(app, "POST", "/api/generate", b"{not json", {"Content-Type": "application/json"})
    assert s == 400 and "not valid JSON" in msg
    s, msg = error_of(app, "POST", "/api/generate", b"run=lstm", {"Content-Type": "application/x-www-form-urlencoded"})
    assert s == 415  # a form on another site cannot start work here
    assert error_of(app, "POST", "/api/nothing", {})[0] == 404
    assert error_of(app, "GET", "/api/jobs/0123abcd")[0] == 404
    assert error_of(app, "DELETE", "/api/runs")[0] == 405
    s, msg = error_of(app, "POST", "/api/generate", {"run": "audio", "bars": 2, "primer": "x"})
    assert s == 400 and "audio model" in msg
    s, msg = error_of(app, "POST", "/api/infill", {"run": "lstm", "piece": "0" * 16, "bars": [1, 2]})
    assert s == 404 and "unknown piece" in msg
    s, msg = error_of(app, "POST", "/api/generate", {"run": "lstm", "primer": "../../etc/passwd"})
    assert s == 404 and "unknown piece" in msg


def test_paths_from_the_page_never_reach_the_disk(app, runs):
    secret = Path(studio_server.__file__)
    for path in ("/static/../server.py", "/static/%2e%2e/server.py", "/static/..%2fserver.py",
                 "/static//etc/passwd", "/static/", "/../../etc/passwd", "/files/../../etc/passwd",
                 "/files/0123456789abcdef.mid", f"/files/{secret}", "/api/run?id=../lstm",
                 f"/api/run?id={runs['lstm']}", "/api/run?id=/etc", "/files/..%2f..%2fetc%2fpasswd"):
        s, h, body = request(app, "GET", path)
        assert s == 404, path
        assert b"import" not in body and b"root:" not in body
    for run in (str(runs["lstm"]), "../lstm", "lstm/../audio", "/etc/passwd", str(runs["lstm"] / "best.pt")):
        assert error_of(app, "POST", "/api/generate", {"run": run})[0] == 404, run
    # another Host: a page elsewhere that rebinds its DNS name to 127.0.0.1
    s, msg = error_of(app, "GET", "/api/runs", headers={"Host": "evil.example:80"})
    assert s == 403


def test_upload_reads_midi_as_prepare_does_and_primes_generation(app):
    data = midi_bytes(song_midi(99, bars=3))
    r = post_json(app, "/api/upload", data, 200, {"Content-Type": "audio/midi", "X-Filename": "my%20tune.mid"})
    assert r["name"] == "my tune.mid" and r["roll"]["bars"] == 3 and len(r["roll"]["notes"]) == 3 * 9
    assert [t["name"] for t in r["roll"]["tracks"]] == ["melody", "bass"]
    assert request(app, "GET", r["midi"])[2] == data
    j = run_job(app, "/api/generate", {"run": "lstm", "bars": 2, "seed": 0, "primer": r["piece"]})
    assert j["state"] == "done", j["error"]
    assert j["result"]["roll"]["bars"] == 3 + 2  # the primer, then two bars


@pytest.mark.parametrize("data, headers, status, words", [
    (b"this is not a MIDI file at all", {}, 400, "junk.mid: "),
    (b"MThd\x00\x00\x00\x06\x00\x01\x00\x02", {}, 400, "junk.mid: "),  # truncated
    (b"", {}, 400, "junk.mid: empty file"),
    (midi_bytes(pretty_midi.PrettyMIDI()), {}, 400, "junk.mid: no notes"),
    (b"MThd" + b"\x00" * (studio_server.MAX_UPLOAD), {}, 413, "file too large"),
    (midi_bytes(song_midi(0)), {"Content-Type": "text/plain"}, 415, "expected a MIDI file"),
], ids=["not-midi", "truncated", "empty", "no-notes", "too-large", "not-a-midi-type"])
def test_bad_uploads_get_a_clear_message(app, data, headers, status, words):
    h = {"Content-Type": "audio/midi", "X-Filename": "../../junk.mid", **headers}
    s, msg = error_of(app, "POST", "/api/upload", data, h)
    assert s == status and words in msg
    if msg.startswith("junk"):
        assert msg.startswith("junk.mid: ")  # the name shown, never the path it claimed


def test_audio_run_generates_wav_and_spectrogram(app):
    j = run_job(app, "/api/generate", {"run": "audio", "seconds": 0.5, "seed": 1})
    assert j["state"] == "done", j["error"]
    r = j["result"]
    spec = r["spectrogram"]
    levels = np.frombuffer(__import__("base64").b64decode(spec["levels"]), np.uint8)
    assert spec["bins"] == 32 and levels.size == spec["bins"] * spec["frames"] and levels.max() > levels.min()
    y, sr = sf.read(io.BytesIO(request(app, "GET", r["wav"])[2]))
    assert sr == 44100 and len(y) == round(0.5 * 44100)
    assert "midi" not in r
    s, msg = error_of(app, "POST", "/api/infill", {"run": "audio", "piece": r["piece"], "bars": [1, 1]})
    assert s == 400 and "audio model" in msg
    assert error_of(app, "POST", "/api/generate", {"run": "audio", "seconds": 0})[1].startswith("seconds:")


def test_infill_errors_from_a_run_that_cannot(app):
    piece = run_job(app, "/api/generate", {"run": "lstm", "bars": 2})["result"]["piece"]
    j = run_job(app, "/api/infill", {"run": "lstm", "piece": piece, "bars": [1, 1], "tracks": ["Piano"]})
    assert j["state"] == "error" and "cannot infill" in j["error"] and "\n" not in j["error"]
    for bars in ([2, 1], [0, 1], [1], "1-2", [1, True]):
        assert error_of(app, "POST", "/api/infill", {"run": "lstm", "piece": piece, "bars": bars})[1].startswith("bars:")
    assert error_of(app, "POST", "/api/infill", {"run": "lstm", "piece": piece, "bars": [1, 1], "tracks": "Piano"}
                    )[1].startswith("tracks:")


def test_infill_two_bars_keeps_the_rest(app):
    run = "coconet"
    gen = run_job(app, "/api/generate", {"run": run, "bars": 4, "seed": 0})
    assert gen["state"] == "done", gen["error"]
    before = np.array(gen["result"]["roll"]["notes"]).reshape(-1, 5)
    j = run_job(app, "/api/infill", {"run": run, "piece": gen["result"]["piece"], "bars": [2, 3], "seed": 5})
    assert j["state"] == "done", j["error"]
    after = np.array(j["result"]["roll"]["notes"]).reshape(-1, 5)
    assert j["result"]["roll"]["bars"] == 4 and j["result"]["wav"]
    assert j["result"]["roll"]["tracks"] == gen["result"]["roll"]["tracks"]  # the same lanes, in order
    spb = gen["result"]["roll"]["steps_per_bar"]
    outside = lambda n: n[(n[:, 3] <= spb) | (n[:, 2] >= 3 * spb)]  # noqa: E731 - notes wholly outside bars 2-3
    key = lambda n: sorted(map(tuple, n[:, :4].tolist()))  # noqa: E731
    assert key(outside(after)) == key(outside(before))


@pytest.mark.parametrize("run", ["lstm", "coconet"])
def test_harmonize_an_uploaded_melody(app, run):
    up = post_json(app, "/api/upload", melody_midi(4), 200, {"Content-Type": "audio/midi", "X-Filename": "m.mid"})
    j = run_job(app, "/api/harmonize", {"run": run, "piece": up["piece"], "seed": 1, "as_track": "Piano"})
    assert j["state"] == "done", j["error"]
    roll = j["result"]["roll"]
    assert roll["bars"] == 4 and j["result"]["wav"]
    melody = [n for n in roll["notes"] if roll["tracks"][n[0]]["name"] == "melody"]  # its own name, as Piano
    assert sorted(n[1] for n in melody) == sorted([60, 62, 64, 65, 67, 65, 64, 62] * 2)  # the melody, kept
    assert len({n[0] for n in roll["notes"]}) >= 2  # and something around it
    j = run_job(app, "/api/harmonize", {"run": run, "piece": up["piece"], "as_track": "Kazoo"})
    assert j["state"] == "error" and "Kazoo" in j["error"] and "\n" not in j["error"]


def test_runs_dir_lists_runs_found_under_it(runs):
    with Studio(runs_dir=runs["runs_dir"], port=0) as studio:
        ids = {r["id"] for r in get_json(studio, "/api/runs")["runs"]}
        assert {"lstm", "sound/audio"} <= ids
        assert get_json(studio, "/api/run?id=sound/audio")["kind"] == "audio"
        assert error_of(studio, "GET", "/api/run?id=sound")[0] == 404


def test_close_removes_the_temporary_folder(runs):
    studio = Studio([runs["lstm"]], port=0).start()
    j = run_job(studio, "/api/generate", {"run": "lstm", "bars": 1})
    assert j["state"] == "done" and any(studio.tmp.iterdir())
    tmp = studio.tmp
    studio.close()
    assert not tmp.exists()


def test_serve_prints_the_url_and_warns_off_localhost(runs, monkeypatch, capsys):
    import signal

    monkeypatch.setattr(Studio, "serve_forever", lambda self: None)
    before = signal.getsignal(signal.SIGTERM)
    serve([runs["lstm"]], host="127.0.0.1", port=0)
    assert signal.getsignal(signal.SIGTERM) is before  # its Ctrl-C-like handler is not left behind
    out = capsys.readouterr()
    assert out.out.startswith("musegan studio: http://127.0.0.1:") and out.err == ""
    serve([runs["lstm"]], host="0.0.0.0", port=0)
    assert "warning: --host 0.0.0.0" in capsys.readouterr().err
    with pytest.raises(MuseganError, match="no such run"):
        serve(["/nonexistent/run"], port=0)
    with pytest.raises(MuseganError, match="name at least one run"):
        serve([], port=0)
    with Studio([runs["lstm"]], port=0) as busy, pytest.raises(MuseganError, match="cannot listen"):
        Studio([runs["lstm"]], port=busy.port)


def test_cli_serves_until_terminated_and_cleans_up(runs, tmp_path):
    import subprocess
    import sys

    from musegan.cli import main

    assert main(["studio", str(tmp_path / "nothing")]) == 2  # a one-line error, no server
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = {**os.environ, "TMPDIR": str(tmp), "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "musegan", "studio", str(runs["lstm"]), "--port",
                             str(free_port())], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env)
    try:
        line = proc.stdout.readline()
        assert line.startswith("musegan studio: http://127.0.0.1:"), (line, proc.stderr.read() if proc.poll() else "")
        port = int(line.split("http://127.0.0.1:")[1].split()[0])
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", "/api/runs")
        assert json.loads(conn.getresponse().read())["runs"][0]["id"] == "lstm"
        assert [p.name.startswith("musegan-studio-") for p in tmp.iterdir()] == [True]
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0 and "stopped" in out and err == ""
    assert not any(tmp.iterdir())  # its temporary folder is gone


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --------------------------------------------------------------------------- in a browser

@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install selenium)")
    binary = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    driver_path = shutil.which("chromedriver")
    if not binary or not driver_path:
        pytest.skip("no headless Chromium: apt-get install chromium chromium-driver")
    profile = tmp_path_factory.mktemp("chromium-profile")
    downloads = tmp_path_factory.mktemp("downloads")
    opts = webdriver.ChromeOptions()
    opts.binary_location = binary
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--no-first-run", "--disable-dev-shm-usage",
                "--autoplay-policy=no-user-gesture-required", "--window-size=1280,960",
                f"--user-data-dir={profile}"):
        opts.add_argument(arg)
    opts.add_experimental_option("prefs", {"download.default_directory": str(downloads),
                                           "download.prompt_for_download": False})
    from selenium.webdriver.chrome.service import Service

    try:
        driver = webdriver.Chrome(service=Service(driver_path), options=opts)
    except Exception as e:  # a driver that does not match the browser, no display libraries...
        pytest.skip(f"headless Chromium does not start: {str(e).splitlines()[0]}")
    driver.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
    driver.set_script_timeout(30)
    driver.downloads = downloads
    yield driver
    driver.quit()


def wait_for(driver, script, timeout=60, what="the page"):
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        value = driver.execute_script(script)
        if value:
            return value
        time.sleep(0.2)  # the page times itself: polling less leaves the one core to the work
    msg = driver.execute_script("return document.getElementById('message').textContent")
    raise AssertionError(f"timed out waiting for {what} ({script!r}); message on the page: {msg!r}")


def open_page(browser, app, run):
    browser.get(app.url)
    wait_for(browser, f"return document.querySelector('#run option[value=\"{run}\"]') !== null", 20, "the runs")
    browser.execute_script("const s = document.getElementById('run'); s.value = arguments[0];"
                           "s.dispatchEvent(new Event('change'));", run)
    wait_for(browser, f"return !document.getElementById('generate').disabled && window.studio && "
                      f"document.getElementById('run').value === '{run}' && window.studio.run === '{run}'", 30,
             "the run to load")


def set_value(browser, element_id, value):
    el = browser.find_element("id", element_id)
    el.clear()
    el.send_keys(str(value))


def coloured_pixels(browser, canvas_id) -> int:
    """Pixels of the canvas that are not its background nor grey (grid, labels): drawn notes."""
    return browser.execute_script("""
        const c = document.getElementById(arguments[0]);
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let n = 0;
        for (let i = 0; i < d.length; i += 4) {
            const mx = Math.max(d[i], d[i+1], d[i+2]), mn = Math.min(d[i], d[i+1], d[i+2]);
            if (mx > 90 && mx - mn > 60) n++;
        }
        return n;""", canvas_id)


def generate_in_page(browser, bars):
    set_value(browser, "bars", bars)
    set_value(browser, "seed", 0)
    before = browser.execute_script("return window.studio.piece")
    browser.find_element("id", "generate").click()
    wait_for(browser, "return window.studio.timing.canplay !== undefined && !window.studio.busy "
                      f"&& window.studio.piece !== {json.dumps(before)}", 60, "audio that can play")
    return browser.execute_script("return window.studio.timing")


def download(browser, before: set) -> bytes:
    """Click Download MIDI; the bytes of the new file in the download folder."""
    browser.find_element("id", "download").click()
    t0 = time.monotonic()
    while time.monotonic() - t0 < 20:
        new = [p for p in browser.downloads.iterdir() if p.suffix == ".mid" and p.name not in before]
        if new:
            time.sleep(0.2)  # Chromium writes a .crdownload and renames it when done
            return new[0].read_bytes()
        time.sleep(0.05)
    raise AssertionError("no MIDI file downloaded")


def select_bars(browser, first_bar, last_bar, bars, lanes=None):
    """Drag across the roll from the middle of ``first_bar`` to the middle of ``last_bar``
    (1-based), over all track lanes unless ``lanes`` = (first, last)."""
    from selenium.webdriver.common.action_chains import ActionChains

    canvas = browser.find_element("id", "roll")
    rect = browser.execute_script("const r = arguments[0].getBoundingClientRect();"
                                  "return [r.width, r.height, arguments[0].width, arguments[0].height];", canvas)
    css_w, css_h, w, h = rect
    n_lanes = browser.execute_script("return document.querySelectorAll('#tracks input').length")
    lanes = lanes or (0, n_lanes - 1)
    left, top = 96, 20
    bar_w = (w - left) / bars
    lane_h = (h - top) / n_lanes
    x = lambda b: (left + (b - 0.5) * bar_w) * css_w / w - css_w / 2  # noqa: E731 - from the canvas centre
    y = lambda k: (top + (k + 0.5) * lane_h) * css_h / h - css_h / 2  # noqa: E731
    (ActionChains(browser).move_to_element_with_offset(canvas, x(first_bar), y(lanes[0])).click_and_hold()
     .move_to_element_with_offset(canvas, x(last_bar), y(lanes[1])).release().perform())


def test_browser_generate_listen_download(browser, app, runs):
    open_page(browser, app, "lstm")
    assert coloured_pixels(browser, "roll") == 0  # nothing drawn yet
    timing = generate_in_page(browser, 16)
    notes = browser.execute_script("return window.studio.notesDrawn")
    assert notes > 0 and coloured_pixels(browser, "roll") > 500
    src = browser.execute_script("return document.getElementById('player').src")
    assert src.startswith(app.url + "/files/") and src.endswith(".wav")
    assert browser.execute_script("return document.getElementById('player').duration") > 16 * 2 * 0.9
    print(f"\nstudio: 16 bars, click on Generate -> roll drawn {timing['roll']:.0f} ms, "
          f"audio playable {timing['canplay']:.0f} ms"
          + (f", playing {timing['playing']:.0f} ms" if "playing" in timing else "")
          + "; on the server: " + ", ".join(f"{k} {v:.2f} s" for k, v in
                                             browser.execute_script("return window.studio.serverTimings").items()))
    data = download(browser, {p.name for p in browser.downloads.iterdir()})
    assert data[:4] == b"MThd" and bars_of(data) == 16
    select_bars(browser, 5, 6, 16, lanes=(1, 3))
    text = browser.find_element("id", "selection").text
    assert text.startswith("Selected: bars 5–6") and not browser.find_element("id", "infill").get_attribute("disabled")
    screenshot(browser)  # the infill test takes it again, after an infill
    browser.find_element("id", "infill").click()  # an lstm run cannot: its one-line message on the page
    wait_for(browser, "return document.getElementById('message').textContent.includes('cannot infill')", 30,
             "the lstm run's refusal")
    assert not browser.find_element("id", "message").get_attribute("hidden")


def test_browser_pulls_show_for_a_sequence_run_and_steer_what_it_generates(browser, app):
    open_page(browser, app, "audio")
    assert not browser.find_element("id", "pulls").is_displayed()
    open_page(browser, app, "lstm")
    assert browser.find_element("id", "pulls").is_displayed()
    set_value(browser, "pull-key", 40)
    generate_in_page(browser, 8)
    piece = browser.execute_script("return window.studio.piece")
    data = request(app, "GET", f"/files/{piece}.mid")[2]
    assert bars_of(data) == 8 and outside_one_major_scale(data) == 0.0
    set_value(browser, "pull-key", 0)


def test_browser_bad_upload_shows_its_message(browser, app, runs, tmp_path):
    open_page(browser, app, "lstm")
    bad = tmp_path / "notes.mid"
    bad.write_bytes(b"definitely not MIDI")
    browser.find_element("id", "upload").send_keys(str(bad))
    wait_for(browser, "return document.getElementById('message').textContent.startsWith('notes.mid: ')", 20,
             "the upload's message")
    good = tmp_path / "tune.mid"
    good.write_bytes(midi_bytes(song_midi(5, bars=2)))
    browser.find_element("id", "upload").send_keys(str(good))
    wait_for(browser, "return document.getElementById('upload-name').textContent.startsWith('tune.mid: 2 bars')", 20,
             "the upload")
    assert browser.find_element("id", "message").get_attribute("hidden")
    assert not browser.find_element("id", "use-primer").get_attribute("disabled")


def test_browser_audio_run_plays_and_draws_its_spectrogram(browser, app):
    open_page(browser, app, "audio")
    assert browser.find_element("id", "spectrogram").is_displayed()
    assert not browser.find_element("id", "roll").is_displayed()
    set_value(browser, "seconds", 1)
    browser.find_element("id", "generate").click()
    wait_for(browser, "return window.studio.timing.canplay !== undefined && !window.studio.busy", 60, "the audio")
    assert browser.execute_script("return window.studio.spectrogramDrawn") > 0
    assert coloured_pixels(browser, "spectrogram") > 1000
    assert browser.execute_script("return document.getElementById('player').src").endswith(".wav")


def test_browser_infill_two_bars_and_screenshot(browser, app):
    run = "coconet"
    open_page(browser, app, run)
    generate_in_page(browser, 8)
    first = browser.execute_script("return window.studio.piece")
    select_bars(browser, 3, 4, 8)
    assert browser.find_element("id", "selection").text.startswith("Selected: bars 3–4")
    browser.find_element("id", "infill").click()
    wait_for(browser, f"return window.studio.piece !== {json.dumps(first)} && !window.studio.busy", 60, "the infill")
    assert browser.find_element("id", "message").get_attribute("hidden"), browser.find_element("id", "message").text
    wait_for(browser, "return document.getElementById('player').readyState >= 3", 20, "the infilled audio")
    assert coloured_pixels(browser, "roll") > 500
    data = download(browser, {p.name for p in browser.downloads.iterdir()})
    assert bars_of(data) == 8
    screenshot(browser)


def screenshot(browser):
    """The README's picture of the page: docs/studio.png (the audio stopped at its start, so
    that the same music gives the same picture). Written only when MUSEGAN_UPDATE_DOCS is
    set, so that a test run leaves the tree as it was."""
    if not os.environ.get("MUSEGAN_UPDATE_DOCS"):
        return
    browser.execute_script("const p = document.getElementById('player'); p.pause(); p.currentTime = 0;")
    wait_for(browser, "return document.getElementById('player').currentTime === 0", 10, "the audio to rewind")
    time.sleep(0.3)
    (ROOT / "docs").mkdir(exist_ok=True)
    browser.save_screenshot(str(ROOT / "docs" / "studio.png"))
