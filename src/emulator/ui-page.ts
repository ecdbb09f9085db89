/**
 * The emulator's live page: one HTML document, one stylesheet, one script, all served by the
 * emulator itself (no build step, no CDN: the machine may be offline). The script reads only the
 * JSON inspection routes, polling (no long-lived connection to hold open or drop at close), and
 * builds every element with textContent / setAttribute, never innerHTML, because activities
 * carry user data (a connection string can hold anything).
 */

/** The page at `/`. */
export const PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>mpa-sync emulator</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/_emulator/ui.css">
</head>
<body>
<header>
  <div class="bar">
    <div class="brand"><span class="logo" aria-hidden="true"></span>mpa-sync emulator <span id="origin" class="muted"></span></div>
    <span id="conn" class="pill">connecting</span>
  </div>
  <div id="headline" class="headline" role="status" aria-live="polite">Waiting for the first request</div>
  <div id="summary" class="summary"></div>
</header>
<main>
  <section id="friends-section" aria-labelledby="friends-title">
    <h2 id="friends-title">Friends' view <small>each player as a friend sees them</small></h2>
    <div id="friends"><p class="empty">No activity on the service yet.</p></div>
  </section>
  <section id="side">
    <section id="faults-section" aria-labelledby="faults-title">
      <h2 id="faults-title">Inject a fault <small>into the next request</small></h2>
      <div class="faults">
        <button type="button" data-kind="429" class="f429">429 throttle</button>
        <label>Retry-After <input id="retry-after" type="number" min="0" max="3600" value="5"> s</label>
        <button type="button" data-kind="500" class="f500">500 server error</button>
        <button type="button" data-kind="reset" class="freset">Reset connection</button>
      </div>
      <div id="pending" class="muted">Nothing queued.</div>
    </section>
    <section id="budgets-section" aria-labelledby="budgets-title">
      <h2 id="budgets-title">Budgets <small>rate-limit windows, used / allowed</small></h2>
      <div id="budgets"><p class="empty">No requests counted.</p></div>
    </section>
  </section>
  <section id="requests-section" class="wide" aria-labelledby="requests-title">
    <h2 id="requests-title">Requests <small>last 60 s, one lane per player; shaded: waits still running</small></h2>
    <div id="totals" class="muted totals"></div>
    <div id="timeline"></div>
    <div class="legend">
      <span class="key ok">2xx</span><span class="key refused">4xx</span><span class="key throttled">429 throttled</span>
      <span class="key error">5xx</span><span class="key fault">injected fault</span><span class="key ra">Retry-After</span>
    </div>
    <table id="requests">
      <thead><tr><th>time</th><th>method</th><th>player</th><th>status</th><th>what</th><th></th></tr></thead>
      <tbody></tbody>
    </table>
  </section>
</main>
<script src="/_emulator/ui.js"></script>
</body>
</html>
`;

/** The page's stylesheet. */
export const PAGE_CSS = `
:root { --bg:#0f1115; --panel:#171a21; --line:#262b36; --text:#e6e8ee; --muted:#8a91a3; --green:#3fb950;
  --xbox:#107c10; --amber:#d29922; --red:#f85149; --purple:#a371f7; --blue:#58a6ff; }
* { box-sizing: border-box; }
body { margin:0; background:var(--bg); color:var(--text); font:14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
header { padding:14px 20px 10px; border-bottom:1px solid var(--line); background:#12151b; }
.bar { display:flex; align-items:center; justify-content:space-between; gap:12px; }
.brand { font-weight:600; font-size:16px; display:flex; align-items:center; gap:8px; }
.logo { width:14px; height:14px; border-radius:50%; background:var(--xbox); box-shadow:0 0 0 3px #107c1055; display:inline-block; }
.muted { color:var(--muted); font-weight:400; }
.pill { font-size:12px; padding:2px 10px; border-radius:999px; background:var(--line); color:var(--muted); }
.pill.live { background:#1f3a26; color:var(--green); }
.pill.offline { background:#3d1d20; color:var(--red); }
.headline { margin-top:10px; padding:8px 12px; border-radius:6px; background:#1b2a1e; color:#a6e3b0; font-weight:600; }
.headline.alert { background:#3d1d20; color:#ffb3ad; }
.headline.warn { background:#3a2f12; color:#f2cc60; }
.totals { font-size:12px; margin:-2px 0 6px; }
.summary { margin-top:6px; color:var(--muted); font-size:13px; }
main { display:grid; grid-template-columns:minmax(0,1.4fr) minmax(0,1fr); gap:16px; padding:16px 20px; }
section > h2 { font-size:13px; text-transform:uppercase; letter-spacing:.06em; color:var(--muted); margin:0 0 8px; }
section > h2 small { text-transform:none; letter-spacing:0; font-weight:400; margin-left:6px; }
#side { display:flex; flex-direction:column; gap:16px; }
.wide { grid-column:1 / -1; }
.empty { color:var(--muted); font-style:italic; }
.group { margin-bottom:12px; }
.group-title { font-size:12px; color:var(--muted); margin:0 0 6px; }
.friends { display:grid; grid-template-columns:repeat(auto-fill, minmax(260px, 1fr)); gap:8px; }
.friend { position:relative; display:flex; gap:10px; align-items:flex-start; background:var(--panel); border:1px solid var(--line); border-left:4px solid var(--xbox); border-radius:6px; padding:8px 10px; transition:opacity .3s; }
.friend .avatar { flex:none; width:34px; height:34px; border-radius:50%; background:var(--xbox); color:#fff; display:flex; align-items:center; justify-content:center; font-weight:700; font-size:12px; }
.friend .who { min-width:0; flex:1; }
.friend .name { font-weight:600; }
.friend .presence { color:#9be39f; }
.friend .conn { color:var(--muted); font-size:12px; overflow-wrap:anywhere; font-family:ui-monospace, Menlo, Consolas, monospace; }
.friend .badge { flex:none; font-size:11px; font-weight:700; padding:2px 6px; border-radius:4px; background:var(--line); color:var(--muted); text-transform:uppercase; }
.friend.blocked { opacity:.55; border-left-color:#555b66; }
.friend.blocked .badge { color:#c9ced8; }
.friend.blocked .presence { color:var(--muted); }
.friend.blocked .avatar { background:#555b66; }
.friend.changed { border-color:var(--blue); box-shadow:0 0 0 2px #58a6ff55; animation:pulse 1.2s ease-out 1; }
.friend.changed::after { content:"last change"; position:absolute; right:8px; bottom:5px; font-size:10px; color:var(--blue); }
@keyframes pulse { from { box-shadow:0 0 0 8px #58a6ff88; } to { box-shadow:0 0 0 2px #58a6ff55; } }
.panel { background:var(--panel); border:1px solid var(--line); border-radius:6px; padding:10px; }
.faults { display:flex; flex-wrap:wrap; gap:8px; align-items:center; background:var(--panel); border:1px solid var(--line); border-radius:6px; padding:10px; }
.faults button { font:inherit; font-size:13px; border:1px solid var(--line); color:var(--text); background:#222733; border-radius:5px; padding:5px 10px; cursor:pointer; }
.faults button:hover { background:#2b3140; }
.faults .f429 { border-color:var(--red); }
.faults .f500 { border-color:var(--purple); }
.faults .freset { border-color:var(--amber); }
.faults input { width:56px; font:inherit; background:#0f1115; color:var(--text); border:1px solid var(--line); border-radius:4px; padding:3px 5px; }
#pending { margin-top:6px; font-size:12px; }
.budget { display:grid; grid-template-columns:104px 58px 1fr 1fr; gap:4px 8px; align-items:center; padding:5px 0; border-bottom:1px solid var(--line); }
.budget .who { font-weight:600; white-space:nowrap; }
.budget .who.throttled { color:var(--red); }
.budget .cat { color:var(--muted); font-size:12px; }
.budget .wide-cell { grid-column:3 / -1; }
.meter { position:relative; height:18px; background:#0f1115; border:1px solid var(--line); border-radius:4px; overflow:hidden; }
.meter .fill { position:absolute; left:0; top:0; bottom:0; background:var(--green); }
.meter.high .fill { background:var(--amber); }
.meter.full .fill { background:var(--red); }
.meter .val { position:relative; font-size:11px; padding-left:6px; line-height:16px; white-space:nowrap; }
.budget-head { display:grid; grid-template-columns:104px 58px 1fr 1fr; gap:8px; color:var(--muted); font-size:11px; }
#timeline { background:var(--panel); border:1px solid var(--line); border-radius:6px; overflow:hidden; }
#timeline svg { display:block; width:100%; }
#timeline text { fill:var(--muted); font-size:11px; font-family:ui-monospace, Menlo, Consolas, monospace; }
#timeline .lane { stroke:var(--line); }
#timeline .now { stroke:var(--blue); stroke-width:1.5; }
#timeline .future { fill:#58a6ff0d; }
#timeline .ok { fill:var(--green); }
#timeline .refused { fill:var(--amber); }
#timeline .throttled { fill:var(--red); }
#timeline .error { fill:var(--purple); }
#timeline .fault { fill:#fff; stroke:var(--purple); stroke-width:2; }
#timeline .throttled.mark-fault { stroke:var(--purple); stroke-width:2; }
#timeline .ra { fill:#f8514933; stroke:var(--red); stroke-dasharray:3 2; }
.legend { display:flex; gap:14px; font-size:12px; color:var(--muted); margin:6px 0 10px; }
.key::before { content:""; display:inline-block; width:9px; height:9px; border-radius:50%; margin-right:5px; vertical-align:-1px; }
.key.ok::before { background:var(--green); } .key.refused::before { background:var(--amber); }
.key.throttled::before { background:var(--red); } .key.error::before { background:var(--purple); }
.key.fault::before { background:#fff; box-shadow:inset 0 0 0 2px var(--purple); }
.key.ra::before { width:22px; border-radius:2px; background:#f8514933; outline:1px dashed var(--red); }
table { width:100%; border-collapse:collapse; font-size:13px; }
th { text-align:left; color:var(--muted); font-weight:500; font-size:12px; border-bottom:1px solid var(--line); padding:4px 6px; }
td { padding:3px 6px; border-bottom:1px solid #1d212a; font-family:ui-monospace, Menlo, Consolas, monospace; font-size:12px; }
tr.throttled td { background:#2a1416; }
tr.fault td { background:#221a33; }
.status { display:inline-block; min-width:34px; text-align:center; border-radius:4px; padding:0 4px; font-weight:700; }
.status.ok { background:#1f3a26; color:var(--green); } .status.refused { background:#3a2f12; color:var(--amber); }
.status.throttled { background:#3d1d20; color:var(--red); } .status.error, .status.fault { background:#2c2140; color:var(--purple); }
.mark { font-weight:700; font-family:system-ui, sans-serif; }
.mark.throttle { color:var(--red); } .mark.injected { color:var(--purple); }
@media (max-width:900px) { main { grid-template-columns:1fr; } }
`;

/**
 * The page's model: pure functions from the JSON routes' answers to what is drawn, with no
 * DOM, so that a test runs them without a browser. Part of {@link PAGE_SCRIPT}, which calls them.
 */
export const PAGE_MODEL_SCRIPT = String.raw`
  // Live activities grouped by match, in the order given, at most max of them. A Map, not an
  // object: a group id is user data, and an object looks up 'constructor', '__proto__' or
  // 'toString' on Object.prototype instead of finding no group yet.
  function groupByMatch(list, max) {
    var groups = new Map();
    list.slice(0, max).forEach(function (a) {
      var id = a.groupId || '(no group)';
      var members = groups.get(id);
      if (!members) groups.set(id, (members = []));
      members.push(a);
    });
    return Array.from(groups, function (entry) { return { groupId: entry[0], members: entry[1] }; });
  }
`;

/** The page's script (plain ES2020, no modules, no dependencies). */
export const PAGE_SCRIPT = String.raw`
(function () {
  'use strict';
${PAGE_MODEL_SCRIPT}
  var POLL_MS = 700;
  var TIMELINE_MS = 60000;
  // A load test can send thousands of requests a second: the page keeps and draws a bounded
  // number, so the tab stays responsive; the JSON routes still have everything.
  var MAX_REQUESTS = 2000, MAX_CARDS = 120, MAX_BUDGET_ROWS = 60;
  var AHEAD_MS = 10000; // the timeline runs a little past now, so a Retry-After still running shows whole
  var SVG = 'http://www.w3.org/2000/svg';
  var state = { since: 0, requests: [], previous: null, lastChange: null, failures: 0 };

  function $(id) { return document.getElementById(id); }
  // Every element is built here: text goes in with textContent only, never parsed as HTML.
  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    setAttrs(node, attrs);
    append(node, children);
    return node;
  }
  function svg(tag, attrs, children) {
    var node = document.createElementNS(SVG, tag);
    setAttrs(node, attrs);
    append(node, children);
    return node;
  }
  function setAttrs(node, attrs) {
    for (var name in attrs || {}) {
      if (attrs[name] === undefined || attrs[name] === null || attrs[name] === false) continue;
      if (name === 'text') node.textContent = String(attrs[name]);
      else node.setAttribute(name, String(attrs[name]));
    }
  }
  function append(node, children) {
    (children || []).forEach(function (c) {
      if (c === null || c === undefined || c === false) return;
      node.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
    });
  }
  function replace(node, children) {
    while (node.firstChild) node.removeChild(node.firstChild);
    append(node, children);
  }
  function short(xuid) { return xuid ? '\u2026' + String(xuid).slice(-4) : '-'; }
  function playerName(xuid) { return 'Player ' + short(xuid); }
  function seconds(ms) { return (ms / 1000).toFixed(ms < 10000 ? 1 : 0) + ' s'; }
  function clockTime(t) { var d = new Date(t); return d.toISOString().slice(11, 23); }
  function plural(n, word) { return n + ' ' + word + (n === 1 ? '' : 's'); }

  function getJson(path) {
    return fetch(path, { headers: { accept: 'application/json' }, cache: 'no-store' }).then(function (r) {
      if (!r.ok) throw new Error(path + ' answered ' + r.status);
      return r.json();
    });
  }

  function poll() {
    Promise.all([getJson('/_emulator/activities'), getJson('/_emulator/budgets'), getJson('/_emulator/requests?since=' + state.since + '&limit=500'), getJson('/_emulator/faults')])
      .then(function (r) {
        state.failures = 0;
        render(r[0], r[1], r[2], r[3]);
        setConn(true);
      })
      .catch(function () {
        state.failures++;
        setConn(false);
      })
      .then(function () { setTimeout(poll, state.failures ? Math.min(5000, POLL_MS * state.failures) : POLL_MS); });
  }

  function setConn(live) {
    var c = $('conn');
    c.textContent = live ? 'live' : 'offline';
    c.className = 'pill ' + (live ? 'live' : 'offline');
  }

  function render(activities, budgets, requests, faults) {
    var now = requests.now;
    if (requests.last < state.since) state.requests = []; // the emulator was reset
    state.since = requests.last;
    state.requests = state.requests.concat(requests.requests).filter(function (q) { return now - q.time <= TIMELINE_MS; }).slice(-MAX_REQUESTS);
    trackChange(activities.activities, now);
    renderHeadline(activities.activities, budgets, now);
    renderFriends(activities.activities);
    renderBudgets(budgets);
    renderTimeline(now);
    renderTable();
    renderTotals(requests.totals);
    renderPending(faults.pending);
  }

  // The last change: the newest write among live activities, or a player who disappeared.
  function trackChange(list, now) {
    var current = {};
    list.forEach(function (a) { current[a.titleId + '/' + a.xuid] = a; });
    if (state.previous) {
      Object.keys(state.previous).forEach(function (key) {
        if (!current[key]) state.lastChange = { key: null, xuid: state.previous[key].xuid, text: 'left ' + (state.previous[key].groupId || 'the match'), at: now };
      });
    }
    list.forEach(function (a) {
      var key = a.titleId + '/' + a.xuid;
      var before = state.previous && state.previous[key];
      if (!before || before.sequenceNumber !== a.sequenceNumber) {
        if (!state.lastChange || a.updatedAt >= state.lastChange.at) state.lastChange = { key: key, xuid: a.xuid, text: (before ? 'now ' : 'joined \u00b7 ') + a.presence.text, at: a.updatedAt };
      }
    });
    state.previous = current;
  }

  function renderHeadline(list, budgets, now) {
    var h = $('headline');
    var waiting = budgets.throttledNow;
    var full = budgets.players.filter(function (p) { return p.full.length > 0; });
    if (waiting.length) {
      h.className = 'headline alert';
      h.textContent = 'Throttled now: ' + waiting.map(function (w) {
        return playerName(w.xuid) + ' waits ' + seconds(w.until - now) + ' (' + w.status + ' Retry-After)';
      }).join(', ');
    } else if (full.length) {
      h.className = 'headline warn';
      h.textContent = 'Budget full: ' + full.map(function (p) { return playerName(p.xuid) + ' (' + p.full.join(', ') + ')'; }).join(', ') + ': their next request would be throttled';
    } else {
      h.className = 'headline';
      h.textContent = 'Nobody is throttled';
    }
    var joinable = list.filter(function (a) { return a.presence.joinable; }).length;
    var throttles = state.requests.filter(function (q) { return q.outcome === 'throttled'; }).length;
    var faults = state.requests.filter(function (q) { return q.fault; }).length;
    var parts = [plural(list.length, 'activity').replace('activitys', 'activities'), joinable + ' joinable', plural(state.requests.length, 'request') + ' in the last 60 s', plural(throttles, 'throttle'), plural(faults, 'injected fault')];
    if (state.lastChange) parts.push('last change: ' + playerName(state.lastChange.xuid) + ' ' + state.lastChange.text + ' (' + seconds(Math.max(0, now - state.lastChange.at)) + ' ago)');
    $('summary').textContent = parts.join(' \u00b7 ');
  }

  function renderFriends(list) {
    var root = $('friends');
    if (!list.length) return replace(root, [el('p', { class: 'empty', text: 'No activity on the service yet.' })]);
    replace(root, groupByMatch(list, MAX_CARDS).map(function (g) {
      return el('div', { class: 'group', 'data-group': g.groupId }, [
        el('h3', { class: 'group-title', text: g.groupId + ' \u00b7 ' + plural(g.members.length, 'player') }),
        el('div', { class: 'friends' }, g.members.map(friendCard)),
      ]);
    }).concat(list.length > MAX_CARDS ? [el('p', { class: 'empty', text: (list.length - MAX_CARDS) + ' more: see /_emulator/activities' })] : []));
  }

  function friendCard(a) {
    var key = a.titleId + '/' + a.xuid;
    var blocked = !a.presence.joinable;
    var changed = state.lastChange && state.lastChange.key === key;
    var badge = a.presence.blockedBy === 'full' ? 'Full' : a.presence.blockedBy === 'invite-only' ? 'Invite only' : null;
    return el('article', { class: 'friend' + (blocked ? ' blocked' : '') + (changed ? ' changed' : ''), 'data-xuid': a.xuid, 'data-joinable': String(a.presence.joinable), 'aria-label': playerName(a.xuid) }, [
      el('div', { class: 'avatar', 'aria-hidden': 'true', text: String(a.xuid).slice(-2) }),
      el('div', { class: 'who' }, [
        el('div', { class: 'name', text: playerName(a.xuid) }),
        el('div', { class: 'presence', text: a.presence.text }),
        el('div', { class: 'conn', title: 'connection string', text: a.connectionString }),
        el('div', { class: 'conn muted', text: a.joinRestriction + (a.platform ? ' \u00b7 ' + a.platform + ' only' : '') + ' \u00b7 seq ' + a.sequenceNumber }),
      ]),
      badge ? el('span', { class: 'badge', text: badge }) : null,
    ]);
  }

  function renderBudgets(budgets) {
    var root = $('budgets');
    if (!budgets.limits) return replace(root, [el('p', { class: 'empty', text: 'Rate limits are off (--no-rate-limits).' })]);
    if (!budgets.players.length) return replace(root, [el('p', { class: 'empty', text: 'No requests counted.' })]);
    var l = budgets.limits;
    var rows = [el('div', { class: 'budget-head' }, [el('span', { text: 'player' }), el('span'), el('span', { text: 'burst (' + seconds(l.burstWindowMs) + ')' }), el('span', { text: 'sustain (' + seconds(l.sustainWindowMs) + ')' })])];
    // Whoever is waiting or out of budget first: that is who a person is looking for.
    var rank = function (p) { return p.throttledUntil ? 0 : p.full.length ? 1 : 2; };
    var ranked = budgets.players.slice().sort(function (a, b) { return rank(a) - rank(b); });
    ranked.slice(0, MAX_BUDGET_ROWS).forEach(function (p) {
      var cats = Object.keys(p.categories);
      if (!cats.length) {
        rows.push(el('div', { class: 'budget', 'data-xuid': p.xuid }, [
          el('span', { class: 'who throttled', text: playerName(p.xuid) }),
          el('span', { class: 'cat', text: '-' }),
          el('span', { class: 'cat wide-cell', text: 'waiting out a Retry-After; no request counted yet' }),
        ]));
      }
      cats.forEach(function (cat, i) {
        var c = p.categories[cat];
        rows.push(el('div', { class: 'budget', 'data-xuid': p.xuid, 'data-category': cat }, [
          el('span', { class: 'who' + (p.throttledUntil ? ' throttled' : ''), text: i === 0 ? playerName(p.xuid) : '' }),
          el('span', { class: 'cat', text: cat }),
          meter(p.xuid, cat, 'burst', c.burst),
          meter(p.xuid, cat, 'sustain', c.sustain),
        ]));
      });
    });
    if (ranked.length > MAX_BUDGET_ROWS) rows.push(el('p', { class: 'empty', text: (ranked.length - MAX_BUDGET_ROWS) + ' more players: see /_emulator/budgets' }));
    replace(root, rows);
  }

  function meter(xuid, cat, which, g) {
    var pct = g.allowed ? Math.min(100, (100 * g.used) / g.allowed) : 0;
    var fill = el('div', { class: 'fill' });
    fill.style.width = pct + '%';
    return el('div', {
      class: 'meter' + (g.used >= g.allowed ? ' full' : pct >= 70 ? ' high' : ''), role: 'meter', 'data-window': which,
      'aria-valuemin': 0, 'aria-valuemax': g.allowed, 'aria-valuenow': g.used,
      'aria-label': playerName(xuid) + ' ' + cat + ' ' + which + ': ' + g.used + ' of ' + g.allowed + ' per ' + seconds(g.windowMs),
    }, [fill, el('span', { class: 'val', text: g.used + ' / ' + g.allowed })]);
  }

  function renderTimeline(now) {
    var root = $('timeline');
    var width = Math.max(400, root.clientWidth || 900);
    var lanes = [];
    state.requests.forEach(function (q) { var x = q.xuid || '-'; if (lanes.indexOf(x) < 0) lanes.push(x); });
    lanes.sort();
    if (lanes.length > 16) lanes = lanes.slice(0, 15).concat(['more']);
    var laneH = 20, top = 8, left = 92, right = 12;
    var height = top + Math.max(1, lanes.length) * laneH + 22;
    var x = function (t) { return left + ((t - (now - TIMELINE_MS)) / (TIMELINE_MS + AHEAD_MS)) * (width - left - right); };
    var nodes = [svg('rect', { class: 'future', x: x(now), y: top, width: width - right - x(now), height: height - 18 - top })];
    for (var s = -10; s <= 60; s += 10) {
      var tx = x(now - s * 1000);
      nodes.push(svg('line', { class: s === 0 ? 'now' : 'lane', x1: tx, x2: tx, y1: top, y2: height - 18 }));
      nodes.push(svg('text', { x: tx, y: height - 5, 'text-anchor': s === -10 ? 'end' : 'middle', text: s === 0 ? 'now' : s < 0 ? '+' + -s + ' s' : '-' + s + ' s' }));
    }
    lanes.forEach(function (lane, i) {
      var y = top + i * laneH + laneH / 2;
      nodes.push(svg('line', { class: 'lane', x1: left, x2: width - right, y1: y, y2: y }));
      nodes.push(svg('text', { x: 6, y: y + 4, text: lane === 'more' ? 'others' : lane === '-' ? '(no user)' : short(lane) }));
    });
    state.requests.forEach(function (q) {
      var lane = lanes.indexOf(q.xuid || '-');
      if (lane < 0) lane = lanes.length - 1;
      var y = top + lane * laneH + laneH / 2;
      var label = q.method + ' ' + (q.status || 'no answer') + (q.fault ? ' (injected ' + q.fault + ')' : '') + (q.retryAfterMs !== undefined ? ' Retry-After ' + seconds(q.retryAfterMs) : '') + ' ' + q.detail;
      if (q.retryAfterMs !== undefined) {
        var x0 = x(q.time);
        var x1 = Math.min(width - right, x(q.time + q.retryAfterMs));
        nodes.push(svg('rect', { class: 'ra', x: x0, y: y - 7, width: Math.max(2, x1 - x0), height: 14, rx: 3, 'data-retry-after-ms': q.retryAfterMs }, [svg('title', { text: 'Retry-After ' + seconds(q.retryAfterMs) })]));
      }
      nodes.push(svg('circle', { class: q.outcome + (q.outcome === 'throttled' ? ' mark-throttle' : '') + (q.fault ? ' mark-fault' : ''), cx: x(q.time), cy: y, r: q.outcome === 'ok' ? 4 : 6, 'data-status': q.status }, [svg('title', { text: label })]));
    });
    replace(root, [svg('svg', { width: width, height: height, viewBox: '0 0 ' + width + ' ' + height, role: 'img', 'aria-label': 'requests in the last 60 seconds' }, nodes)]);
  }

  function renderTable() {
    var rows = state.requests.slice(-30).reverse().map(function (q) {
      var note = q.outcome === 'throttled' ? el('span', { class: 'mark throttle', text: 'THROTTLED' + (q.retryAfterMs !== undefined ? ' \u00b7 Retry-After ' + seconds(q.retryAfterMs) : '') + (q.fault ? ' \u00b7 injected' : '') })
        : q.fault ? el('span', { class: 'mark injected', text: 'INJECTED ' + q.fault + (q.retryAfterMs !== undefined ? ' \u00b7 Retry-After ' + seconds(q.retryAfterMs) : '') }) : null;
      return el('tr', { class: q.outcome, 'data-id': q.id }, [
        el('td', { text: clockTime(q.time) }),
        el('td', { text: q.method }),
        el('td', { text: short(q.xuid) }),
        el('td', {}, [el('span', { class: 'status ' + q.outcome, text: q.status || '-' })]),
        el('td', { text: q.detail }),
        el('td', {}, [note]),
      ]);
    });
    replace(document.querySelector('#requests tbody'), rows.length ? rows : [el('tr', {}, [el('td', { colspan: 6, class: 'empty', text: 'No requests in the last 60 s.' })])]);
  }

  function renderTotals(t) {
    var list = function (o, sep) { return Object.keys(o).sort().map(function (k) { return k + sep + o[k]; }).join(' · '); };
    $('totals').textContent = 'Since start: ' + plural(t.requests, 'request') + (t.requests ? ' (' + list(t.byMethod, ' ') + '; status ' + list(t.byStatus, ' ×') + ')' : '') +
      ' · ' + plural(t.throttled, 'throttle') + ' · ' + plural(t.faults, 'injected fault');
  }

  function renderPending(pending) {
    $('pending').textContent = pending.length
      ? 'Queued for the next ' + plural(pending.length, 'request') + ': ' + pending.map(function (f) { return f.kind + (f.kind === '429' || f.kind === '503-retry-after' ? ' (Retry-After ' + f.retryAfterSeconds + ' s)' : ''); }).join(', ')
      : 'Nothing queued.';
  }

  document.querySelectorAll('.faults button').forEach(function (button) {
    button.addEventListener('click', function () {
      var kind = button.getAttribute('data-kind');
      var body = { kind: kind };
      if (kind === '429') body.retryAfterSeconds = Math.max(0, Math.min(3600, Math.round(Number($('retry-after').value) || 0)));
      fetch('/_emulator/faults', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
        .then(function (r) { return r.json(); })
        .then(function (r) { if (r.pending) renderPending(r.pending); })
        .catch(function () { setConn(false); });
    });
  });
  $('origin').textContent = location.host;
  poll();
})();
`;
