// musegan studio: the page. Plain JavaScript, no libraries; it speaks the JSON API of server.py.
"use strict";

const $ = (id) => document.getElementById(id);
const COLOURS = ["#ff8a3d", "#4f9dff", "#5ad17a", "#f25c8a", "#b98cff", "#ffd24a", "#3fd0d4", "#ff6b6b",
                 "#a3d65c", "#e58cff", "#7fb2ff", "#ffa07a"];
const BG = "#101216";
const LEFT = 96, TOP = 20;  // roll margins: track names, bar numbers

// What the tests read: the last piece, and how long from a click on Generate to a playable <audio>.
const studio = window.studio = { piece: null, notesDrawn: 0, timing: {}, busy: false };
const state = { limit: 2 << 20, run: null, piece: null, upload: null, selection: null, lanes: [] };

// --------------------------------------------------------------------------- messages, progress

function message(text) {
  const m = $("message");
  m.textContent = text || "";
  m.hidden = !text;
}

function progress(stage) {
  $("status").hidden = !stage;
  $("stage").textContent = stage || "";
}

function setBusy(busy) {
  if (busy) $("player").pause();  // new music is coming; the old stops (and its playhead with it)
  studio.busy = busy;
  refreshButtons();
}

// Work that makes the page busy: its error becomes the message, and the page is free again after.
async function busyWith(work) {
  setBusy(true);
  try {
    await work();
  } catch (e) {
    message(e.message);
  } finally {
    progress("");
    setBusy(false);
  }
}

function refreshButtons() {
  const busy = studio.busy, run = state.run, midi = run && run.kind === "midi";
  $("generate").disabled = busy || !run;
  $("infill").disabled = busy || !midi || !state.piece || !state.selection;
  $("harmonize").disabled = busy || !midi || !state.upload;
  $("use-primer").disabled = !state.upload;
  if (!state.upload) $("use-primer").checked = false;
}

async function api(method, url, body, headers) {
  const init = { method, headers: headers || {} };
  if (body !== undefined) {
    if (body instanceof Blob) init.body = body;
    else { init.body = JSON.stringify(body); init.headers["Content-Type"] = "application/json"; }
  }
  let res;
  try { res = await fetch(url, init); } catch (e) { throw new Error("the studio server cannot be reached"); }
  let data = null;
  try { data = await res.json(); } catch (e) { /* not JSON */ }
  if (!res.ok) throw new Error((data && data.error) || `${res.status} ${res.statusText}`);
  return data;
}

// Submit a job and poll it; onPartial sees the result as it grows (the roll before the audio).
async function runJob(url, body, onPartial) {
  const { job } = await api("POST", url, body);
  for (;;) {
    const j = await api("GET", `/api/jobs/${job}`);
    progress(`${j.stage}… ${j.elapsed.toFixed(1)} s`);
    if (j.result && onPartial) onPartial(j.result);
    if (j.state === "done") { studio.serverTimings = j.timings; return j.result; }
    if (j.state === "error") throw new Error(j.error);
    await new Promise((r) => setTimeout(r, 150));
  }
}

function params() {
  const num = (id) => $(id).value.trim();
  const p = { run: state.run.id, seed: num("seed"), temperature: num("temperature"), top_p: num("top_p") };
  for (const k of ["temperature", "top_p"]) if (p[k] !== "" && !isNaN(+p[k])) p[k] = +p[k];
  return p;
}

// --------------------------------------------------------------------------- runs

async function loadRuns() {
  const data = await api("GET", "/api/runs");
  state.limit = data.upload_limit;
  $("synth").textContent = data.synth === "fluidsynth" ? "audio: FluidSynth" : "audio: built-in synthesizer";
  const sel = $("run");
  sel.innerHTML = "";
  for (const r of data.runs) {
    const o = document.createElement("option");
    o.value = r.id;
    o.textContent = `${r.id}  (${r.family}, ${r.kind})`;
    sel.appendChild(o);
  }
  if (!data.runs.length) { message("no runs found"); return; }
  await chooseRun(sel.value);
}

async function chooseRun(id) {
  state.run = null;
  refreshButtons();
  progress("loading the run…");
  try {
    const run = await api("GET", `/api/run?id=${encodeURIComponent(id)}`);
    if ($("run").value !== id) return;  // another run was chosen while this one loaded: that one stands
    state.run = run;
    studio.run = run.id;
    document.body.classList.toggle("kind-audio", run.kind === "audio");
    document.body.classList.toggle("no-pulls", !(run.pulls && run.pulls.length));
    $("run-info").textContent = run.kind === "audio" ? `audio, ${run.sr} Hz`
      : `${run.tracks.length} track${run.tracks.length > 1 ? "s" : ""}, ${run.steps_per_bar} steps a bar` +
        (run.can_infill ? ", can infill" : "");
    if (run.temperature !== undefined) $("temperature").value = run.temperature;  // the family's default
    const as = $("as-track");
    as.innerHTML = '<option value="">(auto)</option>';
    for (const t of run.tracks || []) {
      const o = document.createElement("option");
      o.value = o.textContent = t;
      as.appendChild(o);
    }
    message("");
  } catch (e) {
    message(e.message);
  } finally {
    progress("");
    refreshButtons();
  }
}

// --------------------------------------------------------------------------- actions

async function generate() {
  const t0 = performance.now();
  studio.timing = { clicked: t0 };
  message("");
  const body = params();
  const audioRun = state.run.kind === "audio";
  if (audioRun) body.seconds = $("seconds").value.trim();
  else {
    body.bars = $("bars").value.trim();
    if ($("use-primer").checked && state.upload) body.primer = state.upload.piece;
    const pulls = {};
    for (const name of state.run.pulls || []) {
      const v = $(`pull-${name}`).value.trim();
      if (v !== "" && +v !== 0) pulls[name] = isNaN(+v) ? v : +v;  // the server says what is wrong
    }
    if (Object.keys(pulls).length) body.pulls = pulls;
  }
  await busyWith(async () => {
    let shown = null;
    const result = await runJob("/api/generate", body, (r) => {
      if (r.roll && shown !== r.piece) { shown = r.piece; showPiece(r); studio.timing.roll = performance.now() - t0; }
      if (r.spectrogram && !shown) { shown = "spec"; drawSpectrogram(r.spectrogram); }
    });
    if (audioRun) { drawSpectrogram(result.spectrogram); showAudioPiece(result); } else showPiece(result);
    play(result.wav, t0);
  });
}

async function infill() {
  const s = state.selection;
  const names = checkedTracks();
  if (!names.length) { message("select at least one track to infill"); return; }
  const body = params();
  body.piece = state.piece.piece;
  body.bars = [s.bar0 + 1, s.bar1 + 1];
  body.tracks = names.length === state.piece.roll.tracks.length ? null : names;
  await transform("/api/infill", body);
}

async function harmonize() {
  const body = params();
  body.piece = state.upload.piece;
  body.as_track = $("as-track").value || null;
  await transform("/api/harmonize", body);
}

async function transform(url, body) {
  const t0 = performance.now();
  message("");
  const keep = state.selection;
  await busyWith(async () => {
    const result = await runJob(url, body);
    showPiece(result, keep);
    play(result.wav, t0);
  });
}

async function upload(file) {
  message("");
  if (!file) return;
  if (file.size > state.limit) {
    message(`${file.name}: file too large: ${(file.size / 1e6).toFixed(1)} MB (the limit is ${(state.limit / 1e6).toFixed(1)} MB)`);
    return;
  }
  await busyWith(async () => {
    progress("reading the file…");
    const r = await api("POST", "/api/upload", file, { "Content-Type": "audio/midi", "X-Filename": encodeURIComponent(file.name) });
    state.upload = r;
    $("upload-name").textContent = `${r.name}: ${r.roll.bars} bars, ${r.roll.notes.length} notes`;
    showPiece(r);
    $("player").removeAttribute("src");
  });
  $("upload").value = "";
}

function play(wav, t0) {
  const player = $("player");
  if (!wav) return;
  const stamp = (name) => () => { if (studio.timing[name] === undefined) studio.timing[name] = performance.now() - t0; };
  player.addEventListener("canplay", stamp("canplay"), { once: true });
  player.addEventListener("playing", stamp("playing"), { once: true });
  player.src = wav;
  player.play().catch(() => { /* the browser may refuse to autoplay; the controls are there */ });
  const dl = $("download-wav");
  dl.href = wav + "?download=1";
  dl.hidden = false;
}

// --------------------------------------------------------------------------- piano-roll

function showPiece(piece, keepSelection) {
  state.piece = piece;
  studio.piece = piece.piece;
  const dl = $("download");
  dl.href = piece.midi + "?download=1";
  dl.hidden = false;
  $("download-wav").hidden = true;
  const tracks = piece.roll.tracks;
  state.selection = keepSelection && keepSelection.bar1 < piece.roll.bars && keepSelection.lane1 < tracks.length
    ? keepSelection : null;
  const box = $("tracks");
  box.innerHTML = "";
  tracks.forEach((t, k) => {
    const label = document.createElement("label");
    label.innerHTML = `<input type="checkbox" data-lane="${k}"><span class="swatch"></span>`;
    label.querySelector(".swatch").style.background = COLOURS[k % COLOURS.length];
    label.appendChild(document.createTextNode(t.name || `track ${k + 1}`));
    label.querySelector("input").addEventListener("change", () => { describeSelection(); });
    box.appendChild(label);
  });
  syncTrackBoxes();
  renderRoll();
  refreshButtons();
}

function showAudioPiece(result) {
  state.piece = null;
  studio.piece = result.piece;
  $("download").hidden = true;
}

function renderRoll() {
  const canvas = $("roll"), ctx = canvas.getContext("2d");
  const roll = state.piece && state.piece.roll;
  ctx.fillStyle = BG;
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  if (!roll) return;
  const W = canvas.width - LEFT, H = canvas.height - TOP;
  const n = roll.tracks.length, laneH = H / Math.max(n, 1), sx = W / roll.n_steps;
  state.lanes = [];
  // lanes
  for (let k = 0; k < n; k++) {
    const y0 = TOP + k * laneH;
    ctx.fillStyle = k % 2 ? "#14171d" : "#181b22";
    ctx.fillRect(LEFT, y0, W, laneH);
    ctx.fillStyle = COLOURS[k % COLOURS.length];
    ctx.font = "12px system-ui, sans-serif";
    ctx.textBaseline = "middle";
    ctx.fillText(roll.tracks[k].name || `track ${k + 1}`, 8, y0 + laneH / 2, LEFT - 14);
  }
  // bar lines and numbers
  ctx.textBaseline = "alphabetic";
  for (let b = 0; b <= roll.bars; b++) {
    const x = LEFT + b * roll.steps_per_bar * sx;
    ctx.fillStyle = "#2c313c";
    ctx.fillRect(Math.round(x), TOP, 1, H);
    if (b < roll.bars && (roll.bars <= 32 || b % 4 === 0)) {
      ctx.fillStyle = "#9aa0ab";
      ctx.font = "11px system-ui, sans-serif";
      ctx.fillText(String(b + 1), x + 3, TOP - 6);
    }
  }
  // notes, each track in its lane over its own pitch range
  let drawn = 0;
  for (let k = 0; k < n; k++) {
    const mine = roll.notes.filter((nt) => nt[0] === k);
    let lo = 127, hi = 0;
    for (const nt of mine) { lo = Math.min(lo, nt[1]); hi = Math.max(hi, nt[1]); }
    if (!mine.length) { lo = 60; hi = 72; }
    const pad = Math.max(1, Math.ceil((12 - (hi - lo)) / 2));
    lo -= pad; hi += pad;
    const y0 = TOP + k * laneH, ph = (laneH - 4) / (hi - lo + 1);
    state.lanes.push({ y0, h: laneH });
    ctx.fillStyle = COLOURS[k % COLOURS.length];
    for (const [, pitch, start, end, vel] of mine) {
      ctx.globalAlpha = 0.55 + 0.45 * Math.min(1, vel / 127);
      const y = y0 + 2 + (hi - pitch) * ph;
      ctx.fillRect(LEFT + start * sx, y, Math.max(1.5, (end - start) * sx - 1), Math.max(1.5, ph - 0.5));
      drawn++;
    }
    ctx.globalAlpha = 1;
  }
  studio.notesDrawn = drawn;
  drawOverlay();
}

// The playhead's x on the overlay for the player's time.
function playheadAt(roll, width) {
  return Math.round(LEFT + ($("player").currentTime / roll.seconds_per_step) * (width - LEFT) / roll.n_steps);
}

// The selection and the playhead, on a canvas over the roll: the roll itself is drawn once.
let playheadX = -1;
function drawOverlay() {
  const canvas = $("overlay"), ctx = canvas.getContext("2d"), roll = state.piece && state.piece.roll;
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  playheadX = -1;
  if (!roll) return;
  const W = canvas.width - LEFT, sx = W / roll.n_steps, barW = roll.steps_per_bar * sx;
  const s = state.selection;
  if (s && state.lanes.length) {
    const lane0 = state.lanes[s.lane0], lane1 = state.lanes[s.lane1];
    const x = LEFT + s.bar0 * barW, w = (s.bar1 - s.bar0 + 1) * barW;
    const y = lane0.y0, h = lane1.y0 + lane1.h - lane0.y0;
    ctx.fillStyle = "rgba(255,255,255,0.13)";
    ctx.fillRect(x, y, w, h);
    ctx.strokeStyle = "#ffffff";
    ctx.lineWidth = 2;
    ctx.strokeRect(x + 1, y + 1, w - 2, h - 2);
  }
  const player = $("player");
  if (!player.paused && state.piece.wav && player.src.endsWith(state.piece.wav)) {
    const x = playheadAt(roll, canvas.width);
    if (x <= canvas.width) { ctx.fillStyle = "#ffffff"; ctx.fillRect(x, TOP, 2, canvas.height - TOP); playheadX = x; }
  }
}

// The playhead: frames are asked for only while the audio plays, and a redraw is only due
// when the playhead moved a pixel.
let animating = false;
function animate() {
  const player = $("player"), roll = state.piece && state.piece.roll;
  if (player.paused || !roll) { animating = false; return; }
  if (playheadAt(roll, $("overlay").width) !== playheadX) drawOverlay();
  requestAnimationFrame(animate);
}
function startPlayhead() {
  if (!animating) { animating = true; requestAnimationFrame(animate); }
}

function cellAt(ev) {
  const canvas = $("overlay"), rect = canvas.getBoundingClientRect(), roll = state.piece && state.piece.roll;
  if (!roll) return null;
  const x = (ev.clientX - rect.left) * canvas.width / rect.width;
  const y = (ev.clientY - rect.top) * canvas.height / rect.height;
  const W = canvas.width - LEFT, barW = roll.steps_per_bar * W / roll.n_steps;
  const bar = Math.min(roll.bars - 1, Math.max(0, Math.floor((x - LEFT) / barW)));
  const H = canvas.height - TOP, laneH = H / roll.tracks.length;
  const lane = Math.min(roll.tracks.length - 1, Math.max(0, Math.floor((y - TOP) / laneH)));
  return { bar, lane };
}

let dragFrom = null;
function onDown(ev) {
  const c = cellAt(ev);
  if (!c) return;
  dragFrom = c;
  select(c, c);
  ev.preventDefault();
}
function onMove(ev) {
  if (!dragFrom) return;
  const c = cellAt(ev);
  if (c) select(dragFrom, c);
}
function onUp() { dragFrom = null; }

function select(a, b) {
  state.selection = { bar0: Math.min(a.bar, b.bar), bar1: Math.max(a.bar, b.bar),
                      lane0: Math.min(a.lane, b.lane), lane1: Math.max(a.lane, b.lane) };
  syncTrackBoxes();
  drawOverlay();
  refreshButtons();
}

function syncTrackBoxes() {
  const s = state.selection;
  for (const box of document.querySelectorAll("#tracks input")) {
    const k = +box.dataset.lane;
    box.checked = !!s && k >= s.lane0 && k <= s.lane1;
  }
  describeSelection();
}

function checkedTracks() {
  const names = [];
  for (const box of document.querySelectorAll("#tracks input")) {
    if (box.checked) names.push(state.piece.roll.tracks[+box.dataset.lane].name);
  }
  return names;
}

function describeSelection() {
  const s = state.selection, el = $("selection");
  if (!s) { el.textContent = "Drag across the roll to select bars and tracks."; return; }
  const names = checkedTracks();
  el.textContent = `Selected: bar${s.bar0 === s.bar1 ? ` ${s.bar0 + 1}` : `s ${s.bar0 + 1}–${s.bar1 + 1}`}` +
    `, ${names.length ? names.join(", ") : "no track"}`;
}

// --------------------------------------------------------------------------- spectrogram

const RAMP = [[0, 0, 4], [40, 11, 84], [101, 21, 110], [159, 42, 99], [212, 72, 66], [245, 125, 21],
              [250, 193, 39], [252, 255, 164]];

function drawSpectrogram(spec) {
  const canvas = $("spectrogram"), ctx = canvas.getContext("2d");
  ctx.fillStyle = BG;
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  if (!spec) return;
  const raw = atob(spec.levels), F = spec.frames, B = spec.bins;
  const img = new ImageData(F, B);
  for (let f = 0; f < F; f++) {
    for (let b = 0; b < B; b++) {
      const v = raw.charCodeAt(f * B + b) / 255 * (RAMP.length - 1);
      const i = Math.min(RAMP.length - 2, Math.floor(v)), t = v - i;
      const o = ((B - 1 - b) * F + f) * 4;  // low frequencies at the bottom
      for (let c = 0; c < 3; c++) img.data[o + c] = RAMP[i][c] + t * (RAMP[i + 1][c] - RAMP[i][c]);
      img.data[o + 3] = 255;
    }
  }
  const tmp = document.createElement("canvas");
  tmp.width = F; tmp.height = B;
  tmp.getContext("2d").putImageData(img, 0, 0);
  ctx.imageSmoothingEnabled = true;
  ctx.drawImage(tmp, 0, 0, canvas.width, canvas.height);
  studio.spectrogramDrawn = F * B;
}

// --------------------------------------------------------------------------- wiring

window.addEventListener("DOMContentLoaded", () => {
  $("run").addEventListener("change", (e) => chooseRun(e.target.value));
  $("generate").addEventListener("click", generate);
  $("infill").addEventListener("click", infill);
  $("harmonize").addEventListener("click", harmonize);
  $("upload").addEventListener("change", (e) => upload(e.target.files[0]));
  const roll = $("overlay");
  $("player").addEventListener("pause", drawOverlay);
  $("player").addEventListener("ended", drawOverlay);
  roll.addEventListener("mousedown", onDown);
  window.addEventListener("mousemove", onMove);
  window.addEventListener("mouseup", onUp);
  $("player").addEventListener("play", startPlayhead);
  renderRoll();
  drawSpectrogram(null);
  loadRuns().catch((e) => message(e.message));
});
