'use strict';
// stairkv dashboard: vanilla ES2020, no dependencies, embedded in the binary.
// Data comes from two WebSockets, /v1/stats (one tick a second) and /v1/events
// (pub/sub), and from the REST keys API. The charts are drawn on <canvas> by one
// requestAnimationFrame loop so their time axis slides smoothly between ticks;
// everything else is plain DOM, updated when a message arrives (so it keeps up
// in a background tab too, where animation frames stop).

// ------------------------------------------------------------------ constants
// One colour per core (core i -> PALETTE[i % 16]): bright enough on near-black,
// neighbours far apart in hue so a handful of cores never look alike.
const PALETTE = [
  '#4ea1ff', '#ff9f43', '#4cd964', '#ff5c5c', '#b48cff', '#2ed3c6', '#ffd93d', '#ff7eb6',
  '#c8a27a', '#a8b3c4', '#b8e65a', '#7fdcff', '#e05cf0', '#ffb3a0', '#7b83ff', '#9aa040',
];
const HISTORY_MS = 5 * 60 * 1000; // chart window
const GAP_MS = 2500;              // a hole this long between ticks breaks a line
const STALE_MS = 5000;            // socket open but no tick for this long: "stalled"
const MAX_EVENTS = 200;
const FLASH_MS = 1100;            // how long a staircase change stays highlighted
const TOKEN_KEY = 'stairkv.token';

// ------------------------------------------------------------------ helpers
const $ = (id) => document.getElementById(id);
function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text != null) e.textContent = text;
  return e;
}
const num = (v) => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const coreColor = (c) => PALETTE[(((c | 0) % 16) + 16) % 16];
const hex2 = (b) => b.toString(16).padStart(2, '0');
function swatch(core) {
  const i = el('i', 'sw');
  i.style.background = coreColor(core);
  return i;
}

// 1234567 -> "1.23M": three significant digits, SI suffix.
function fmtSI(v) {
  v = num(v);
  if (v == null) return '–';
  const a = Math.abs(v), [d, suffix] = a >= 1e9 ? [1e9, 'G'] : a >= 1e6 ? [1e6, 'M'] : a >= 1e3 ? [1e3, 'k'] : [1, ''];
  if (d === 1 && (Number.isInteger(v) || a >= 100)) return String(Math.round(v));
  return (a / d >= 100 ? (v / d).toFixed(0) : a / d >= 10 ? (v / d).toFixed(1) : (v / d).toFixed(2)) + suffix;
}
const fmtInt = (v) => (num(v) == null ? '–' : Math.round(v).toLocaleString('en-US'));
function fmtBytes(n) {
  n = num(n);
  if (n == null) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i === 0 ? String(Math.round(n)) : n.toFixed(n >= 100 ? 0 : n >= 10 ? 1 : 2)) + ' ' + units[i];
}
// Latencies arrive in µs; past a millisecond they read better in ms.
function fmtUs(v) {
  if (v == null) return '–';
  if (v >= 1e6) return (v / 1e6).toFixed(2) + 's';
  if (v >= 1000) return (v / 1000).toFixed(v >= 1e4 ? 1 : 2) + 'ms';
  return v >= 100 ? v.toFixed(0) : v.toFixed(1);
}
function fmtUptime(s) {
  s = num(s);
  if (s == null) return '–';
  s = Math.floor(s);
  const d = Math.floor(s / 86400), h = Math.floor(s / 3600) % 24, m = Math.floor(s / 60) % 60;
  const p = (x) => String(x).padStart(2, '0');
  if (d) return `${d}d ${p(h)}h${p(m)}m`;
  if (h) return `${h}h${p(m)}m${p(s % 60)}s`;
  return m ? `${m}m${p(s % 60)}s` : `${s}s`;
}
function fmtClock(ms, withMs = true) {
  const d = new Date(ms), p = (x, n = 2) => String(x).padStart(n, '0');
  const hm = `${p(d.getHours())}:${p(d.getMinutes())}`;
  return withMs ? `${hm}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}` : hm;
}
const pct = (f) => (f * 100 >= 10 ? Math.round(f * 100) : (f * 100).toFixed(1)) + '%';
// Axis labels: "50.0k" -> "50k", "2.50k" -> "2.5k", "0.0" -> "0".
const trimZeros = (t) => t.replace(/(\.\d*[1-9])0+(?=\D*$)|\.0+(?=\D*$)/, '$1');
const levelClass = (v, warn, bad) => (v >= bad ? 'bad' : v >= warn ? 'warn' : 'ok');

// Bytes: UTF-8 when valid, else an escaped rendering (\xNN) that stays on one line.
const utf8 = new TextDecoder('utf-8', { fatal: true });
function tryUtf8(bytes) {
  try { return utf8.decode(bytes); } catch { return null; }
}
function escBytes(bytes) {
  let s = '';
  for (const b of bytes) s += b >= 0x20 && b < 0x7f && b !== 0x5c ? String.fromCharCode(b) : '\\x' + hex2(b);
  return s;
}
// A key/channel/payload on the wire: a JSON string, or {"base64": "..."} when it
// is not valid UTF-8. Returns {label, str} or {label, bytes} (bytes for URLs).
function wireKey(v) {
  if (v && typeof v === 'object' && typeof v.base64 === 'string') {
    try {
      const bytes = Uint8Array.from(atob(v.base64), (c) => c.charCodeAt(0));
      return { label: escBytes(bytes), bytes };
    } catch { return { label: '?', str: '' }; }
  }
  const str = v == null ? '' : String(v);
  return { label: str, str };
}
// Path segment for a key: encodeURIComponent for text, every byte %XX for binary.
const keyPath = (k) => '/v1/keys/' + (k.bytes ? Array.from(k.bytes, (b) => '%' + hex2(b)).join('') : encodeURIComponent(k.str));

// Round up to 1, 2 or 5 times a power of ten: readable axis steps.
function niceCeil(v) {
  if (!(v > 0)) return 1;
  const e = 10 ** Math.floor(Math.log10(v)), f = v / e;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * e;
}

// Keep a container's children one per id, in order; rebuilt only when the set of
// ids changes (a core appears or goes), otherwise callers update in place.
function keyedRows(box, ids, make) {
  const sig = ids.join(',');
  if (box.dataset.sig !== sig) {
    box.dataset.sig = sig;
    box.replaceChildren(...ids.map(make));
  }
  return box.children;
}

// ------------------------------------------------------------------ auth + HTTP
const auth = { token: '' };
try { auth.token = sessionStorage.getItem(TOKEN_KEY) || ''; } catch { /* storage disabled */ }
const authHeaders = () => (auth.token ? { Authorization: 'Bearer ' + auth.token } : {});
// A 401 with a password already sent means that password is wrong.
const authMessage = () => (auth.token ? 'wrong password' : '');

function showAuth(msg) {
  const d = $('auth-dialog');
  if (d.hidden) { d.hidden = false; $('auth-password').value = ''; }
  $('auth-error').textContent = msg || '';
  $('auth-password').focus();
  statsState = 'auth';
  renderStatus();
}

const httpError = (status, msg) => Object.assign(new Error(msg), { status });
async function api(method, path, opts = {}) {
  const res = await fetch(path, { method, body: opts.body, cache: 'no-store', headers: { ...authHeaders(), ...opts.headers } });
  if (res.status === 401) {
    showAuth(authMessage());
    throw httpError(401, 'password required');
  }
  return res;
}
async function errorOf(res) {
  let msg = res.statusText || 'error';
  try { const j = await res.json(); if (j && j.error) msg = j.error; } catch { /* not JSON */ }
  return httpError(res.status, `${res.status} ${msg}`);
}
async function apiJson(method, path, opts) {
  const res = await api(method, path, opts);
  if (!res.ok) throw await errorOf(res);
  return res.json();
}

// /v1/info answers 200 either way (a 401 would be a console error on every
// load): `authenticated: false` means the password is missing or wrong.
async function fetchInfo(headers) {
  const res = await fetch('/v1/info', { headers, cache: 'no-store' });
  if (res.status === 401) return { denied: true };
  if (!res.ok) throw await errorOf(res);
  const info = await res.json();
  return { denied: info.authenticated === false, info };
}

function applyInfo(info) {
  if (!info || typeof info !== 'object') return;
  S.info = info;
  if (info.version) $('h-version').textContent = 'v' + info.version;
  const parts = [info.resp_port && 'resp :' + info.resp_port, info.http_port && 'http :' + info.http_port, info.auth_required && 'auth'];
  $('h-ports').textContent = parts.filter(Boolean).join(' · ');
}

async function submitPassword(ev) {
  ev.preventDefault();
  const pw = $('auth-password').value;
  // fetch refuses header values outside ISO-8859-1
  if (/[^\x20-\xff]/.test(pw)) { $('auth-error').textContent = 'the dashboard can only send a password of printable Latin-1 characters'; return; }
  $('auth-submit').disabled = true;
  try {
    const { denied, info } = await fetchInfo({ Authorization: 'Bearer ' + pw });
    if (denied) {
      $('auth-error').textContent = 'wrong password';
      return $('auth-password').select();
    }
    auth.token = pw;
    try { sessionStorage.setItem(TOKEN_KEY, pw); } catch { /* storage disabled */ }
    $('auth-dialog').hidden = true;
    applyInfo(info);
    if (!$('kb-list').childElementCount) kbSearch(false, true);
    statsState = 'connecting';
    stats.start();
    events.start();
  } catch (e) {
    $('auth-error').textContent = 'cannot check: ' + e.message;
  } finally {
    $('auth-submit').disabled = false;
  }
}

// ------------------------------------------------------------------ reconnecting WebSocket
// Browsers cannot set headers on a WebSocket, so the password rides in ?token=.
// Reconnects with backoff 1 s, 2 s, 4 s, 8 s, then every 10 s.
class LiveSocket {
  constructor(path, onMessage, onState) {
    Object.assign(this, { path, onMessage, onState, ws: null, timer: 0, attempt: 0, retryAt: 0, opened: false });
  }
  start() { // now, whatever the backoff says
    clearTimeout(this.timer);
    this.timer = 0;
    if (!this.ws) this.connect();
  }
  connect() {
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const q = auth.token ? '?token=' + encodeURIComponent(auth.token) : '';
    let ws;
    try { ws = new WebSocket(`${proto}//${location.host}${this.path}${q}`); } catch { this.retry(); return; }
    Object.assign(this, { ws, opened: false });
    this.onState('connecting');
    ws.onopen = () => { this.opened = true; this.attempt = 0; this.onState('open'); };
    ws.onmessage = (e) => {
      let m;
      try { m = JSON.parse(e.data); } catch { return; } // text frames of JSON only
      this.onMessage(m);
    };
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.ws = null;
      // A socket refused before the upgrade (e.g. HTTP 401) never opens, and the
      // browser does not say why: ask /v1/info whether a password is needed.
      if (this.opened) this.retry(); else this.checkAuth();
    };
  }
  async checkAuth() {
    try {
      const { denied } = await fetchInfo(authHeaders());
      if (denied) { this.onState('auth'); showAuth(authMessage()); return; }
    } catch { /* server down: retry below */ }
    this.retry();
  }
  retry() {
    if (this.ws || this.timer) return;
    const delay = Math.min(10000, 1000 * 2 ** Math.min(this.attempt++, 4));
    this.retryAt = performance.now() + delay;
    this.onState('retry');
    this.timer = setTimeout(() => { this.timer = 0; if (!this.ws) this.connect(); }, delay);
  }
  send(obj) { if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(obj)); }
}

// ------------------------------------------------------------------ stats
// hist: one point per tick, {t, ops, p99, mem}, each an array indexed by core id.
const S = { info: null, last: null, tickAt: 0, openAt: 0, hist: [], coreIds: [], hl: null };
let statsState = 'connecting';

const stats = new LiveSocket('/v1/stats', onStats, (st) => {
  statsState = st;
  if (st === 'open') S.openAt = performance.now();
  renderStatus();
});

function onStats(m) {
  if (!m || m.type !== 'stats') return;
  statsState = 'open'; // a tick proves it (even if a 401 elsewhere opened the dialog)
  const cores = (Array.isArray(m.cores) ? m.cores : []).filter((c) => c && num(c.core) != null);
  const t = num(m.time_ms) ?? Date.now();
  const prev = S.hist[S.hist.length - 1];
  if (prev && t <= prev.t) S.hist.length = 0; // server restarted or its clock stepped back
  const pt = { t, ops: [], p99: [], mem: [] };
  for (const c of cores) [pt.ops[c.core], pt.p99[c.core], pt.mem[c.core]] = [num(c.ops_per_sec), num(c.p99_us), num(c.used_memory)];
  S.hist.push(pt);
  while (S.hist[0].t < t - HISTORY_MS - 5000) S.hist.shift();
  Object.assign(S, { last: m, tickAt: performance.now(), coreIds: cores.map((c) => c.core) });
  const totals = m.totals && typeof m.totals === 'object' ? m.totals : {};
  renderHeader(m, cores, totals);
  renderLegend(cores);
  renderLatency(cores);
  renderMemory(cores, totals);
  renderStaircase(m.staircase && typeof m.staircase === 'object' ? m.staircase : {}, totals);
  renderStatus();
}

function renderStatus() {
  const now = performance.now();
  let text = 'connecting', cls = 'warn';
  if (statsState === 'auth') [text, cls] = ['password required', 'bad'];
  else if (statsState === 'retry') [text, cls] = [`reconnecting in ${Math.max(1, Math.ceil((stats.retryAt - now) / 1000))}s`, 'bad'];
  else if (statsState === 'connecting') text = S.last ? 'reconnecting' : 'connecting';
  else if (S.tickAt < S.openAt) text = 'connected, waiting';
  else if (now - S.tickAt > STALE_MS) text = 'stalled';
  else [text, cls] = ['live', 'ok'];
  const st = $('status');
  if (st.textContent !== text) st.textContent = text;
  st.className = 'status ' + cls;
}

function renderHeader(m, cores, tot) {
  const sum = (f) => cores.reduce((a, c) => a + (num(c[f]) || 0), 0);
  $('h-version').textContent = 'v' + (m.version || S.info?.version || '?');
  $('h-uptime').textContent = fmtUptime(m.uptime_s);
  $('h-ops').textContent = fmtSI(num(tot.ops_per_sec) ?? sum('ops_per_sec'));
  $('h-keys').textContent = fmtInt(num(tot.keys) ?? sum('keys'));
  const used = num(tot.used_memory) ?? sum('used_memory'), max = num(tot.maxmemory) || 0;
  $('h-mem').textContent = fmtBytes(used) + (max > 0 ? ` / ${fmtBytes(max)}` : '');
  $('h-mem').className = max > 0 ? levelClass(used / max, 0.8, 0.95) : '';
  $('h-cores').textContent = cores.length;
  const hits = sum('hits'), misses = sum('misses');
  $('h-hit').textContent = hits + misses > 0 ? pct(hits / (hits + misses)) : '–';
  $('h-expired').textContent = fmtSI(num(tot.expired) ?? sum('expired'));
  $('h-evicted').textContent = fmtSI(num(tot.evicted) ?? sum('evicted'));
}

// Hovering a core anywhere (legend, tables, shards) highlights its lines and shards.
function setHighlight(core) {
  if (S.hl === core) return;
  S.hl = core;
  for (const c of stair.cells.values()) c.el.classList.toggle('dim', core != null && c.core !== core);
}

// ------------------------------------------------------------------ charts
// A y step giving at most one gridline per 22 px: 1, 2 or 5 times a power of
// ten, or for byte axes a power of two (256K, 512K, 1M...) so labels stay round.
function axisStep(max, ph, bytes) {
  const raw = max / Math.max(2, Math.floor(ph / 22));
  return bytes ? 2 ** Math.ceil(Math.log2(raw)) : niceCeil(raw);
}

class Chart {
  // opts: key (field of a history point), fmt (axis labels), floor (smallest y max), bytes
  constructor(canvas, opts) {
    Object.assign(this, { cv: canvas, ctx: canvas.getContext('2d'), o: opts, ymax: opts.floor, lastDraw: 0 });
  }
  draw(now) {
    const { cv, ctx, o } = this;
    const dpr = window.devicePixelRatio || 1, W = cv.clientWidth, H = cv.clientHeight;
    if (W < 60 || H < 30) return;
    const bw = Math.round(W * dpr), bh = Math.round(H * dpr);
    if (cv.width !== bw || cv.height !== bh) Object.assign(cv, { width: bw, height: bh });
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, W, H);
    const L = 44, R = 8, T = 7, B = 15, pw = W - L - R, ph = H - T - B;
    const t0 = now - HISTORY_MS, ids = S.coreIds, key = o.key;

    // y scale: the largest visible value rounded up to a whole step, eased toward
    // so a new peak grows the axis over a quarter second instead of a jump.
    let vmax = 0;
    for (const p of S.hist) {
      if (p.t < t0) continue;
      for (const id of ids) { const v = p[key][id]; if (v > vmax) vmax = v; }
    }
    const want = Math.max(o.floor, vmax * 1.08), wantStep = axisStep(want, ph, o.bytes);
    const target = Math.ceil(want / wantStep) * wantStep;
    const ts = performance.now(), dt = this.lastDraw ? Math.min(1000, ts - this.lastDraw) : 1000;
    this.lastDraw = ts;
    this.ymax += (target - this.ymax) * (1 - Math.exp(-dt / 250));
    if (Math.abs(this.ymax - target) < target * 1e-3) this.ymax = target;
    const ymax = this.ymax, step = ymax > target ? axisStep(ymax, ph, o.bytes) : wantStep;
    const X = (t) => L + ((t - t0) / HISTORY_MS) * pw, Y = (v) => T + ph - (v / ymax) * ph;

    // grid: horizontal lines at the steps, vertical ones at every wall-clock minute
    Object.assign(ctx, { font: chartFont, strokeStyle: '#1e242c', fillStyle: '#6b7685', lineWidth: 1, textAlign: 'right', textBaseline: 'middle' });
    ctx.beginPath();
    for (let i = 0; i * step <= ymax * 1.0001; i++) {
      const y = Math.round(Y(i * step)) + 0.5;
      ctx.moveTo(L, y);
      ctx.lineTo(L + pw, y);
      ctx.fillText(trimZeros(o.fmt(i * step)), L - 5, y);
    }
    Object.assign(ctx, { textAlign: 'center', textBaseline: 'top' });
    for (let t = Math.ceil(t0 / 60000) * 60000; t <= now; t += 60000) {
      const x = Math.round(X(t)) + 0.5;
      ctx.moveTo(x, T);
      ctx.lineTo(x, T + ph);
      if (x > L + 16 && x < L + pw - 16) ctx.fillText(fmtClock(t, false), x, T + ph + 3);
    }
    ctx.stroke();
    ctx.strokeStyle = '#2a313a';
    ctx.strokeRect(L + 0.5, T + 0.5, pw - 1, ph - 1);
    if (!S.hist.length) { ctx.fillText('waiting for stats…', L + pw / 2, T + ph / 2 - 6); return; }

    // one line per core, the highlighted one drawn last (on top), clipped to the plot
    ctx.save();
    ctx.beginPath();
    ctx.rect(L, T, pw, ph);
    ctx.clip();
    const hl = ids.includes(S.hl) ? S.hl : null, last = S.hist[S.hist.length - 1];
    const order = hl == null ? ids : ids.filter((i) => i !== hl).concat(hl);
    for (const id of order) {
      const color = coreColor(id);
      Object.assign(ctx, { globalAlpha: hl == null || hl === id ? 1 : 0.15, strokeStyle: color, fillStyle: color });
      Object.assign(ctx, { lineWidth: hl === id ? 2.2 : ids.length > 16 ? 1 : 1.4, lineJoin: 'round' });
      ctx.beginPath();
      let pen = false, pt = -Infinity, lx = 0, ly = 0;
      for (const p of S.hist) {
        if (p.t < t0 - GAP_MS) continue;
        const v = p[key][id];
        if (v == null || p.t - pt > GAP_MS) pen = false;
        pt = p.t;
        if (v == null) continue;
        [lx, ly] = [X(p.t), Y(v)];
        if (pen) ctx.lineTo(lx, ly); else ctx.moveTo(lx, ly);
        pen = true;
      }
      ctx.stroke();
      if (last[key][id] != null) { // a dot on the latest value
        ctx.beginPath();
        ctx.arc(lx, ly, hl === id ? 3 : 2, 0, Math.PI * 2);
        ctx.fill();
      }
    }
    ctx.restore();
  }
}

const charts = [
  new Chart($('c-ops'), { key: 'ops', fmt: fmtSI, floor: 10 }),
  new Chart($('c-p99'), { key: 'p99', fmt: fmtUs, floor: 10 }),
  new Chart($('c-mem'), { key: 'mem', fmt: (v) => fmtBytes(v).replace(/ |iB/g, ''), floor: 1024, bytes: true }),
];

// The charts trail the newest tick by one second: the newest point then slides
// in from the right edge just as the next one arrives, so motion is continuous.
let lastFrame = 0, chartFont = '';
function frame(ts) {
  requestAnimationFrame(frame);
  if (ts - lastFrame < 40) return; // ~25 fps is plenty for a 5-minute window
  lastFrame = ts;
  // chart text follows the page's font size (bigger on big screens), 2 px smaller
  const size = parseFloat(getComputedStyle(document.body).fontSize) || 12;
  chartFont = `${size - 2}px ui-monospace, "DejaVu Sans Mono", monospace`;
  const now = S.last ? S.last.time_ms + (performance.now() - S.tickAt) - 1000 : Date.now();
  for (const c of charts) c.draw(now);
}

function renderLegend(cores) {
  const items = keyedRows($('ops-legend'), cores.map((c) => c.core), (id) => {
    const s = el('span', 'lg');
    s.dataset.core = id;
    s.append(swatch(id), 'c' + id + ' ', el('b'));
    return s;
  });
  cores.forEach((c, i) => { items[i].lastChild.textContent = fmtSI(c.ops_per_sec); });
}

// ------------------------------------------------------------------ latency + memory
function renderLatency(cores) {
  const rows = keyedRows($('cores'), cores.map((c) => c.core), (id) => {
    const tr = el('tr', 'core'), td = el('td');
    tr.dataset.core = id;
    td.append(swatch(id), 'c' + id);
    tr.append(td);
    for (let i = 0; i < 5; i++) tr.append(el('td', 'n'));
    return tr;
  });
  cores.forEach((c, i) => {
    const td = rows[i].children;
    [c.p50_us, c.p99_us, c.p999_us].forEach((v, j) => {
      v = num(v); // null: no commands in the last second
      td[j + 1].textContent = fmtUs(v);
      td[j + 1].className = 'n ' + (v == null ? 'dim' : levelClass(v, 1000, 10000));
    });
    td[4].textContent = fmtSI(c.clients);
    const h = num(c.hits) || 0, mi = num(c.misses) || 0;
    td[5].textContent = h + mi > 0 ? pct(h / (h + mi)) : '–';
  });
}

function renderMemory(cores, tot) {
  const rows = keyedRows($('mem'), cores.map((c) => c.core), (id) => {
    const r = el('div', 'mem-row'), bar = el('div', 'bar'), fill = el('i');
    r.dataset.core = id;
    fill.style.background = coreColor(id);
    bar.append(fill);
    r.append(el('span', 'mc', 'c' + id), bar, el('span', 'mv'), el('span', 'mp'), el('span', 'md'));
    return r;
  });
  // With no per-core limit the bars compare the cores with each other.
  const biggest = cores.reduce((a, c) => Math.max(a, num(c.used_memory) || 0), 1);
  cores.forEach((c, i) => {
    const [, bar, mv, mp, md] = rows[i].children;
    const used = num(c.used_memory) || 0, lim = num(c.memory_limit) || 0;
    const frac = lim > 0 ? used / lim : used / biggest;
    bar.firstChild.style.width = Math.min(100, frac * 100).toFixed(2) + '%';
    bar.classList.toggle('limited', lim > 0);
    mv.textContent = lim > 0 ? `${fmtBytes(used)} / ${fmtBytes(lim)}` : fmtBytes(used);
    mp.textContent = lim > 0 ? pct(frac) : '';
    mp.className = 'mp ' + (lim > 0 ? levelClass(frac, 0.8, 0.95) : '');
    md.textContent = `${fmtSI(c.keys)} keys · ${fmtInt(c.shards)} shards · expired ${fmtSI(c.expired)} · evicted ${fmtSI(c.evicted)}`;
    md.classList.toggle('bad', (num(c.evicted) || 0) > 0);
    rows[i].title = `core ${c.core}: ${fmtBytes(used)}` + (lim > 0 ? ` of its ${fmtBytes(lim)} share` : ' (no per-core limit)') +
      `\nnet in ${fmtBytes(c.net_in_per_sec)}/s · out ${fmtBytes(c.net_out_per_sec)}/s · ${fmtInt(c.clients)} clients`;
  });
  const used = num(tot.used_memory) ?? cores.reduce((a, c) => a + (num(c.used_memory) || 0), 0);
  const max = num(tot.maxmemory) || 0;
  $('mem-total').textContent = max > 0 ? `${fmtBytes(used)} / ${fmtBytes(max)} (${pct(used / max)})` : `${fmtBytes(used)} · no maxmemory`;
}

// ------------------------------------------------------------------ staircase
// cells: shard id -> {el, core, data}. Cells are absolutely placed divs; CSS
// transitions on left/top/width/height animate every re-layout.
const stair = { cells: new Map(), first: true, log: [] };
const CELL_GAP = 2;
const BOX = ['left', 'top', 'width', 'height'];

// The parent of shard r in linear hashing is r without its top bit: a split of
// p creates p + 2^level, and a merge folds that shard back into p.
const parentOf = (r) => (r > 0 ? r - 2 ** Math.floor(Math.log2(r)) : -1);

function renderStaircase(sc, tot) {
  const box = $('staircase');
  const shards = (Array.isArray(sc.shards) ? sc.shards : []).filter((s) => s && num(s.shard) != null);
  const meta = [['level', sc.level], ['split', sc.split], ['epoch', sc.epoch], ['shards', shards.length],
    ['keys', shards.reduce((a, s) => a + (num(s.keys) || 0), 0)]];
  const metaEls = keyedRows($('stair-meta'), meta.map((m) => m[0]), (name) => {
    const s = el('span', 'hv');
    s.append(el('small', '', name), el('b'));
    return s;
  });
  meta.forEach(([, v], i) => { metaEls[i].lastChild.textContent = fmtInt(v); });
  $('stair-totals').textContent = `splits ${fmtInt(tot.splits ?? 0)} · merges ${fmtInt(tot.merges ?? 0)} · ` +
    `migrations ${fmtInt(tot.migrations ?? 0)} (${fmtSI(tot.keys_migrated ?? 0)} keys moved)`;
  const maxOps = shards.reduce((a, s) => Math.max(a, num(s.ops_per_sec) || 0), 1e-9);
  const seen = new Set(), born = [];
  for (const s of shards) {
    const id = s.shard, state = typeof s.state === 'string' ? s.state : 'stable';
    seen.add(id);
    let c = stair.cells.get(id);
    if (!c) {
      c = { el: el('div', 'shard'), core: s.core, data: s };
      c.el.append(el('b'), el('span'));
      stair.cells.set(id, c);
      if (!stair.first) born.push(c);
      box.append(c.el);
    } else if (c.core !== s.core) { // a migration
      logChange('move', `shard ${id} c${c.core}→c${s.core}`);
      flash(c.el, 'moved');
      c.core = s.core;
    }
    c.data = s;
    const e = c.el, color = coreColor(s.core);
    Object.assign(e.dataset, { shard: id, core: s.core, state });
    e.classList.toggle('busy', state !== 'stable');
    e.classList.toggle('dim', S.hl != null && S.hl !== s.core);
    // hot shards glow brighter: fill alpha from 0.15 to 0.65 with ops/s
    const heat = Math.min(1, (num(s.ops_per_sec) || 0) / maxOps);
    e.style.backgroundColor = color + hex2(Math.round(255 * (0.15 + 0.5 * heat)));
    e.style.borderColor = color;
    e.firstChild.textContent = id;
    e.lastChild.textContent = `c${s.core} · ${fmtSI(num(s.keys) ?? 0)} keys`;
    e.title = `shard ${id} · core ${s.core} · ${state}\n${fmtInt(s.keys)} keys · ${fmtBytes(s.bytes)} · ${fmtSI(s.ops_per_sec)} ops/s`;
  }
  // A new shard starts where its parent is and grows out of it (a split); a
  // vanished one shrinks into its parent (a merge) and fades out.
  for (const c of born) {
    const parent = stair.cells.get(parentOf(c.data.shard));
    if (parent) {
      for (const p of BOX) c.el.style[p] = parent.el.style[p];
      flash(parent.el, 'moved');
    }
    flash(c.el, 'born');
    logChange('split', `+shard ${c.data.shard}` + (parent ? ` from ${parent.data.shard}` : '') + ` on c${c.core}`);
  }
  const gone = [];
  for (const [id, c] of stair.cells) {
    if (seen.has(id)) continue;
    stair.cells.delete(id);
    gone.push(c);
    logChange('merge', `−shard ${id}` + (seen.has(parentOf(id)) ? ` into ${parentOf(id)}` : ''));
  }
  if (born.length) void box.offsetWidth; // commit the start positions so the growth animates
  stair.first = false;
  layoutStaircase();
  for (const c of gone) retire(c);
}

function retire(c) {
  const e = c.el, parent = stair.cells.get(parentOf(c.data.shard));
  e.className = 'ghost'; // no longer a .shard: the hooks count live shards only
  delete e.dataset.shard;
  if (parent) {
    flash(parent.el, 'moved');
    for (const p of BOX) e.style[p] = parent.el.style[p];
  }
  setTimeout(() => e.remove(), 900);
}

function flash(e, cls) {
  e.classList.remove(cls);
  void e.offsetWidth; // restart the CSS animation if it is still running
  e.classList.add(cls);
  clearTimeout(e['t_' + cls]);
  e['t_' + cls] = setTimeout(() => e.classList.remove(cls), FLASH_MS);
}

function logChange(kind, text) {
  stair.log.unshift(el('span', 'chg ' + kind, `${fmtClock(Date.now()).slice(0, 8)} ${text}`));
  stair.log.length = Math.min(stair.log.length, 2);
  $('stair-log').replaceChildren(...stair.log);
}

// Ordered binary-split treemap: cut the shard list (in id order) where the
// weight halves, cut the rectangle across its longer side in that ratio, and
// recurse. Areas are proportional to weight, cells stay near square, and a
// small change in one shard moves its neighbours only a little.
function splitLayout(ws, x, y, w, h, out = []) {
  if (ws.length <= 1) {
    if (ws.length) out.push({ x, y, w, h });
    return out;
  }
  const total = ws.reduce((a, b) => a + b, 0) || 1;
  let k = 1, acc = ws[0];
  while (k < ws.length - 1 && acc + ws[k] / 2 < total / 2) acc += ws[k++];
  const f = acc / total, wide = w >= h;
  splitLayout(ws.slice(0, k), x, y, wide ? w * f : w, wide ? h : h * f, out);
  splitLayout(ws.slice(k), wide ? x + w * f : x, wide ? y : y + h * f, wide ? w * (1 - f) : w, wide ? h : h * (1 - f), out);
  return out;
}

function layoutStaircase() {
  const box = $('staircase'), W = box.clientWidth, H = box.clientHeight;
  const cells = [...stair.cells.values()].sort((a, b) => a.data.shard - b.data.shard);
  if (!W || !H || !cells.length) return;
  const keys = cells.map((c) => Math.max(0, num(c.data.keys) || 0));
  // an empty shard still gets 12% of an average cell, so it stays visible
  const floor = Math.max(1, (keys.reduce((a, b) => a + b, 0) / cells.length) * 0.12);
  const rects = splitLayout(keys.map((k) => Math.max(floor, k)), 0, 0, W + CELL_GAP, H + CELL_GAP);
  cells.forEach((c, i) => {
    const r = rects[i], px = (v) => Math.max(1, v).toFixed(1) + 'px';
    Object.assign(c.el.style, { left: px(r.x), top: px(r.y), width: px(r.w - CELL_GAP), height: px(r.h - CELL_GAP) });
    c.el.classList.toggle('tiny', r.w < 22 || r.h < 14);
    c.el.classList.toggle('big', r.w >= 42 && r.h >= 30);
  });
}

// ------------------------------------------------------------------ events
// subs: what the events socket subscribes to (sent again after every reconnect).
const EV = { subs: [{ pattern: true, name: '__keyevent@0__:*' }], queue: [], flushTimer: 0, paused: false, count: 0, lastCount: 0 };
const KIND_CLASS = new Map(Object.entries({
  expired: 'k-exp', evicted: 'k-bad', del: 'k-bad', unlink: 'k-bad', error: 'k-bad', message: 'k-msg',
  set: 'k-set', setex: 'k-set', incrby: 'k-set', incr: 'k-set', append: 'k-set', setrange: 'k-set',
}));

const events = new LiveSocket('/v1/events', onEventMsg, (st) => {
  const e = $('ev-state');
  e.textContent = { open: 'live', retry: 'reconnecting', auth: 'password required' }[st] || 'connecting';
  e.className = 'sub ' + (st === 'open' ? 'ok' : 'warn');
  if (st !== 'open') return;
  const names = (pattern) => EV.subs.filter((s) => s.pattern === pattern).map((s) => s.name);
  if (names(true).length) events.send({ psubscribe: names(true) });
  if (names(false).length) events.send({ subscribe: names(false) });
});

function onEventMsg(m) {
  if (!m || typeof m !== 'object') return;
  const t = num(m.time_ms) ?? Date.now(); // the contract has no time: receive time
  if (m.type === 'message' || m.type === 'pmessage') {
    const ch = wireKey(m.channel).label, data = wireKey(m.data);
    let kind = 'message', key = ch, payload = data.label, ref = null, r;
    // keyevent channels carry the key as payload; keyspace channels the event
    if ((r = /^__keyevent@\d+__:(.*)$/s.exec(ch))) [kind, key, payload, ref] = [r[1], data.label, '', data];
    else if ((r = /^__keyspace@\d+__:(.*)$/s.exec(ch))) {
      [kind, key, payload] = [data.label, r[1], ''];
      if (typeof m.channel === 'string') ref = { label: key, str: key };
    }
    EV.count++;
    queueEvent({ t, kind, key, payload, ref });
  } else if (/^p?(un)?subscribe$/.test(m.type)) {
    queueEvent({ t, kind: m.type, key: wireKey(m.channel ?? m.pattern).label, payload: `(${m.count ?? '?'} active)`, sys: true });
  } else if (m.type === 'error') {
    queueEvent({ t, kind: 'error', key: String(m.error ?? 'unknown error'), payload: '' });
  }
}

// Events are batched: a burst of thousands becomes one DOM update of <= 200 lines.
function queueEvent(ev) {
  EV.queue.push(ev);
  if (EV.queue.length > MAX_EVENTS * 2) EV.queue.splice(0, EV.queue.length - MAX_EVENTS);
  if (!EV.flushTimer && !EV.paused) EV.flushTimer = setTimeout(flushEvents, 50);
}

function flushEvents() {
  EV.flushTimer = 0;
  if (EV.paused || !EV.queue.length) return;
  const list = $('events'), batch = EV.queue.splice(0).slice(-MAX_EVENTS), frag = document.createDocumentFragment();
  for (let i = batch.length - 1; i >= 0; i--) frag.append(eventLine(batch[i]));
  list.prepend(frag);
  while (list.childElementCount > MAX_EVENTS) list.lastElementChild.remove();
}

// textContent reads "HH:MM:SS.mmm kind key payload" (the spaces are text nodes).
function eventLine(ev) {
  const d = el('div', 'event' + (ev.sys ? ' sys' : ''));
  const kindCls = ev.sys ? 'k-sys' : KIND_CLASS.get(ev.kind) || 'k-other';
  d.append(el('span', 't', fmtClock(ev.t)), ' ', el('span', 'k ' + kindCls, ev.kind), ' ', el('span', 'key', ev.key));
  if (ev.payload) d.append(' ', el('span', 'p', ev.payload));
  if (ev.ref) Object.assign(d, { ref: ev.ref, title: 'open in the key browser' }).classList.add('link');
  return d;
}

function renderSubs() {
  $('ev-subs').replaceChildren(...EV.subs.map((s, i) => {
    const chip = el('span', 'chip', (s.pattern ? 'psub ' : 'sub ') + s.name + ' ');
    const x = Object.assign(el('button', 'x', '×'), { type: 'button', title: 'unsubscribe' });
    x.dataset.i = i;
    chip.append(x);
    return chip;
  }));
}

function addSub(ev) {
  ev.preventDefault();
  const name = $('ev-input').value.trim(), pattern = /[*?[]/.test(name);
  if (name && !EV.subs.some((s) => s.name === name && s.pattern === pattern)) {
    EV.subs.push({ pattern, name });
    events.send(pattern ? { psubscribe: [name] } : { subscribe: [name] });
    renderSubs();
  }
  $('ev-input').value = '';
}

function removeSub(i) {
  const [s] = EV.subs.splice(i, 1);
  if (!s) return;
  events.send(s.pattern ? { punsubscribe: [s.name] } : { unsubscribe: [s.name] });
  renderSubs();
}

function renderPause() {
  $('ev-pause').textContent = EV.paused ? `resume${EV.queue.length ? ' (' + EV.queue.length + ')' : ''}` : 'pause';
  $('ev-pause').classList.toggle('on', EV.paused);
}

// ------------------------------------------------------------------ key browser
// A key is {label, str} or {label, bytes} (bytes: a key that is not UTF-8).
const KB = { match: '*', cursor: '0', page: 0, seq: 0, selected: null, ttlAt: null, ttlNone: false };

const kbStatus = (text, cls = '') => Object.assign($('kb-status'), { textContent: text, className: cls });
const kbFail = (e) => kbStatus(e.status === 401 ? 'password required' : 'error: ' + e.message, 'bad');
const plural = (n, w) => `${n} ${w}${n === 1 ? '' : 's'}`;

// next: follow the cursor; quiet: the automatic first page leaves the status line alone.
async function kbSearch(next, quiet = false) {
  if (!next) Object.assign(KB, { match: $('kb-match').value || '*', cursor: '0', page: 0 });
  // buttons stay enabled: a newer search simply wins over one still in flight
  const seq = ++KB.seq;
  try {
    // SCAN may return empty pages with a live cursor: follow a few of those
    let cursor = KB.cursor, keys = [], hops = 0;
    do {
      const j = await apiJson('GET', `/v1/keys?match=${encodeURIComponent(KB.match)}&cursor=${encodeURIComponent(cursor)}&count=100`);
      cursor = String(j.cursor ?? '0');
      keys.push(...(Array.isArray(j.keys) ? j.keys : []).map(wireKey));
    } while (!keys.length && cursor !== '0' && ++hops < 16 && seq === KB.seq);
    if (seq !== KB.seq) return;
    KB.cursor = cursor;
    KB.page++;
    keys.sort((a, b) => (a.label < b.label ? -1 : a.label > b.label ? 1 : 0));
    $('kb-list').replaceChildren(...keys.map((k) => {
      const d = Object.assign(el('div', 'kb-item' + (k.bytes ? ' bin' : ''), k.label), { key: k });
      d.dataset.key = k.label;
      d.classList.toggle('sel', KB.selected?.label === k.label);
      return d;
    }));
    $('kb-page').textContent = `page ${KB.page} · ${plural(keys.length, 'key')} · ${cursor === '0' ? 'end of scan' : 'more: next ›'}`;
    if (!quiet) kbStatus(`found ${plural(keys.length, 'key')} matching ${KB.match}`, 'ok');
    $('kb-next').disabled = cursor === '0';
  } catch (e) {
    if (seq === KB.seq && !quiet) kbFail(e);
  }
}

// Show a key's value and TTL. quiet: leave the status line alone (after a set).
async function kbOpen(k, quiet = false) {
  KB.selected = k;
  for (const d of $('kb-list').children) d.classList.toggle('sel', d.dataset.key === k.label);
  $('kb-key').value = k.label;
  Object.assign($('kb-sel'), { textContent: k.label, className: 'hi' });
  try {
    const vr = await api('GET', keyPath(k));
    if (KB.selected !== k) return; // another key was clicked meanwhile
    if (vr.status === 404) {
      kbShow('', '(not found)', null);
      if (!quiet) kbStatus(`not found: ${k.label}`, 'warn');
      return;
    }
    if (!vr.ok) throw await errorOf(vr);
    const bytes = new Uint8Array(await vr.arrayBuffer()), text = tryUtf8(bytes);
    const tr = await api('GET', keyPath(k) + '/ttl'), ttl = tr.ok ? await tr.json() : null;
    if (KB.selected !== k) return;
    $('kb-value').value = text ?? '';
    if (text != null) kbShow(text.length > 65536 ? text.slice(0, 65536) + '\n…' : text, `${fmtInt(bytes.length)} bytes, UTF-8 text`, ttl);
    else kbShow(hexDump(bytes), `${fmtInt(bytes.length)} bytes, not UTF-8: shown as hex`, ttl, true);
    if (!quiet) kbStatus(`loaded ${k.label}`, 'ok');
  } catch (e) {
    kbFail(e);
  }
}

function kbShow(value, note, ttl, hex = false) {
  $('kb-value-view').textContent = value;
  $('kb-value-view').classList.toggle('hex', hex);
  $('kb-note').textContent = note;
  const ms = ttl ? num(ttl.pttl) ?? (num(ttl.ttl) != null ? ttl.ttl * 1000 : null) : null;
  KB.ttlNone = !!ttl && (ttl.ttl === -1 || ms === -1);
  KB.ttlAt = ms != null && ms >= 0 ? performance.now() + ms : null;
  renderTtl();
}

// The TTL counts down locally between fetches.
function renderTtl() {
  const left = KB.ttlAt == null ? null : KB.ttlAt - performance.now();
  $('kb-sel-ttl').textContent = KB.ttlNone ? 'no expiry' : left == null ? '' :
    left > 0 ? `ttl ${(left / 1000).toFixed(left < 10000 ? 1 : 0)}s` : 'expired';
}

// 8 bytes a line so a dump fits the narrow panel: offset, hex, ASCII.
function hexDump(bytes) {
  const lines = [], n = Math.min(bytes.length, 4096);
  for (let off = 0; off < n; off += 8) {
    const row = bytes.subarray(off, Math.min(off + 8, n));
    const ascii = Array.from(row, (b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.')).join('');
    lines.push(`${off.toString(16).padStart(4, '0')}  ${Array.from(row, hex2).join(' ').padEnd(23)}  ${ascii}`);
  }
  if (bytes.length > n) lines.push(`… ${fmtInt(bytes.length - n)} more bytes`);
  return lines.join('\n');
}

// The key field names the selected key while it still shows its label (that is
// how a non-UTF-8 key keeps its exact bytes); otherwise it is the typed text.
function kbKeyFromInput() {
  const v = $('kb-key').value;
  if (KB.selected && KB.selected.label === v) return KB.selected;
  return v ? { label: v, str: v } : null;
}

async function kbSet(ev) {
  ev.preventDefault();
  const k = kbKeyFromInput(), ttl = $('kb-ttl').value.trim(), mode = $('kb-mode').value, q = [];
  if (!k) return kbStatus('key is empty', 'bad');
  if (ttl && !/^[1-9]\d*$/.test(ttl)) return kbStatus('ttl must be a whole number of seconds ≥ 1', 'bad');
  if (ttl) q.push('ttl=' + ttl);
  if (mode) q.push(mode);
  try {
    const res = await api('PUT', keyPath(k) + (q.length ? '?' + q.join('&') : ''), {
      body: new TextEncoder().encode($('kb-value').value),
      headers: { 'Content-Type': 'application/octet-stream' },
    });
    if (res.status === 409) return kbStatus(`not set: ${k.label} ${mode === 'nx' ? 'already exists (nx)' : 'does not exist (xx)'}`, 'warn');
    if (!res.ok) throw await errorOf(res);
    kbStatus(`saved ${k.label}` + (ttl ? ` (ttl ${ttl}s)` : ''), 'ok');
    kbOpen(k, true);
  } catch (e) {
    kbFail(e);
  }
}

async function kbDelete() {
  const k = kbKeyFromInput() || KB.selected;
  if (!k) return kbStatus('no key selected', 'bad');
  try {
    const res = await api('DELETE', keyPath(k));
    if (res.status === 404) return kbStatus(`not found: ${k.label}`, 'warn');
    if (!res.ok) throw await errorOf(res);
    kbStatus(`deleted ${k.label}`, 'ok');
    for (const d of [...$('kb-list').children]) if (d.dataset.key === k.label) d.remove();
    if (KB.selected?.label === k.label) {
      KB.selected = null;
      Object.assign($('kb-sel'), { textContent: 'no key selected', className: 'dim' });
      kbShow('', '', null);
    }
  } catch (e) {
    kbFail(e);
  }
}

// ------------------------------------------------------------------ wiring
function wire() {
  const on = (id, type, fn) => $(id).addEventListener(type, fn);
  on('auth-form', 'submit', submitPassword);
  on('kb-search-form', 'submit', (e) => { e.preventDefault(); kbSearch(false); });
  on('kb-next', 'click', () => kbSearch(true));
  on('kb-list', 'click', (e) => { const d = e.target.closest('.kb-item'); if (d && d.key) kbOpen(d.key); });
  on('kb-form', 'submit', kbSet);
  on('kb-delete', 'click', kbDelete);
  on('ev-form', 'submit', addSub);
  on('ev-subs', 'click', (e) => { const x = e.target.closest('button.x'); if (x) removeSub(+x.dataset.i); });
  on('ev-pause', 'click', () => { EV.paused = !EV.paused; flushEvents(); renderPause(); });
  on('ev-clear', 'click', () => { $('events').replaceChildren(); EV.queue.length = 0; renderPause(); });
  on('events', 'click', (e) => { const d = e.target.closest('.event.link'); if (d && d.ref) kbOpen(d.ref); });
  // hovering anything that names a core highlights that core everywhere
  for (const id of ['ops-legend', 'cores', 'mem', 'staircase']) {
    on(id, 'mouseover', (e) => { const t = e.target.closest('[data-core]'); setHighlight(t ? +t.dataset.core : null); });
    on(id, 'mouseleave', () => setHighlight(null));
  }
  new ResizeObserver(() => layoutStaircase()).observe($('staircase'));
  renderSubs();
  // once a second: staleness, the reconnect countdown, the TTL, the event rate
  setInterval(() => {
    renderStatus();
    renderTtl();
    $('ev-rate').textContent = `${fmtSI(EV.count - EV.lastCount)}/s`;
    EV.lastCount = EV.count;
    if (EV.paused) renderPause();
  }, 1000);
  requestAnimationFrame(frame);
}

// Ask /v1/info first: it tells whether a password is needed without a failed
// WebSocket (which the browser would log as an error) on every page load.
async function boot() {
  wire();
  try {
    const { denied, info } = await fetchInfo(authHeaders());
    if (denied) return showAuth(authMessage());
    applyInfo(info);
    kbSearch(false, true);
  } catch { /* unreachable: the sockets retry with backoff */ }
  stats.start();
  events.start();
}

boot();
