"""musegan studio: the time from a click on Generate to an <audio> element that can play,
in a headless Chromium, for one run and a number of bars.

    python benchmarks/studio_latency.py runs/mine --bars 16 --repeats 3

Prints each try (the roll drawn, the audio playable, and the server's stages) and the
median. Needs selenium and Debian's chromium + chromium-driver.
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from musegan.studio import Studio  # noqa: E402


def chromium(profile: str):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = shutil.which("chromium") or shutil.which("chromium-browser")
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--no-first-run", "--disable-dev-shm-usage",
                "--autoplay-policy=no-user-gesture-required", "--window-size=1280,960", f"--user-data-dir={profile}"):
        opts.add_argument(arg)
    return webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=opts)


def wait(driver, script, timeout=300):
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if driver.execute_script(script):
            return
        time.sleep(0.25)  # the timing is taken in the page; polling less leaves the CPU to the work
    message = driver.execute_script("return document.getElementById('message').textContent")
    raise SystemExit(f"timed out: {script}; the page says {message!r}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run")
    ap.add_argument("--bars", type=int, default=16)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    with Studio([args.run], port=0) as app, tempfile.TemporaryDirectory() as profile:
        run_id = app.list_runs()["runs"][0]["id"]
        driver = chromium(profile)
        try:
            driver.get(app.url)
            wait(driver, "return window.studio && !document.getElementById('generate').disabled")
            driver.execute_script(f"document.getElementById('bars').value = {args.bars}")
            playable = []
            for i in range(args.repeats):
                driver.execute_script(f"document.getElementById('seed').value = {i}")
                before = driver.execute_script("return window.studio.piece")
                driver.find_element("id", "generate").click()
                wait(driver, "return window.studio.timing.canplay !== undefined && !window.studio.busy && "
                             f"window.studio.piece !== {'null' if before is None else repr(before)}")
                t = driver.execute_script("return window.studio.timing")
                server = driver.execute_script("return window.studio.serverTimings")
                playable.append(t["canplay"])
                print(f"{run_id}, {args.bars} bars, seed {i}: roll drawn {t['roll'] / 1000:.2f} s, audio playable "
                      f"{t['canplay'] / 1000:.2f} s (server: "
                      + ", ".join(f"{k} {v:.2f} s" for k, v in server.items() if v >= 0.005) + ")", flush=True)
            print(f"median click -> playable: {statistics.median(playable) / 1000:.2f} s over {len(playable)}")
        finally:
            driver.quit()


if __name__ == "__main__":
    main()
