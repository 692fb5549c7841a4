/**
 * The status page itself: one HTML document, its style sheet and its
 * script, served from the monitor (no external assets). The script builds
 * the page from /api/state and then from the server-sent events of
 * /api/stream, with DOM text nodes only (never HTML from data: node
 * names are user input), and shows ages from the monitor's clock.
 *
 * The script is plain ES2017 for any browser; it must not contain
 * backticks or dollar-brace sequences (it lives in a template literal).
 */

export const STATUS_PAGE_HTML = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>pg_auto_failover monitor</title>
<link rel="icon" type="image/svg+xml" href="favicon.svg">
<link rel="stylesheet" href="status.css">
<script src="status.js" defer></script>
</head>
<body data-updates="0">
<header>
  <h1>pg_auto_failover monitor</h1>
  <p id="conn" class="conn conn-connecting" role="status">connecting…</p>
</header>
<p id="error" class="banner" hidden></p>
<main>
  <section id="formations" aria-label="Formations"><p class="muted">Loading…</p></section>
  <section id="events-section" aria-labelledby="events-title">
    <h2 id="events-title">Latest events</h2>
    <ol id="events" class="events"></ol>
  </section>
</main>
<footer><p class="muted">Read-only view, updated live. <a href="api/state">JSON</a></p></footer>
</body>
</html>
`;

export const STATUS_PAGE_ICON = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><circle cx="8" cy="8" r="7" fill="#17803d"/><path d="M4 8.5l2.5 2.5L12 5.5" stroke="#fff" stroke-width="2" fill="none"/></svg>
`;

export const STATUS_PAGE_CSS = `
:root {
  --bg: #f6f7f9; --fg: #1d2329; --muted: #5d6873; --card: #fff; --line: #d9dee3;
  --ok: #17803d; --warn: #a65e00; --bad: #c0262d; --info: #1f5fb8;
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  font-size: 15px; line-height: 1.4;
}
@media (prefers-color-scheme: dark) {
  :root { --bg: #14171a; --fg: #e3e7eb; --muted: #9aa5b0; --card: #1d2226; --line: #323a41;
    --ok: #4cc27a; --warn: #e0a040; --bad: #f0646a; --info: #6ea8ff; }
}
* { box-sizing: border-box; }
html, body { margin: 0; padding: 0; background: var(--bg); color: var(--fg); }
body { max-width: 80rem; margin: 0 auto; padding: 0.75rem; overflow-wrap: anywhere; }
header { display: flex; flex-wrap: wrap; align-items: baseline; justify-content: space-between; gap: 0.5rem; }
h1 { font-size: 1.3rem; margin: 0.25rem 0; }
h2 { font-size: 1.1rem; margin: 1.25rem 0 0.5rem; }
h3 { font-size: 0.95rem; margin: 0.75rem 0 0.4rem; color: var(--muted); font-weight: 600; }
.muted { color: var(--muted); }
.conn { margin: 0; padding: 0.15rem 0.6rem; border-radius: 1rem; font-size: 0.85rem; border: 1px solid var(--line); }
.conn-live { color: var(--ok); border-color: var(--ok); }
.conn-connecting { color: var(--warn); border-color: var(--warn); }
.conn-down { color: var(--bad); border-color: var(--bad); }
.banner { background: var(--card); border-left: 4px solid var(--bad); padding: 0.5rem 0.75rem; margin: 0.5rem 0; }
.formation-meta { margin: 0 0 0.25rem; font-size: 0.85rem; }
.nodes { display: grid; grid-template-columns: repeat(auto-fill, minmax(min(100%, 17rem), 1fr)); gap: 0.6rem; }
.node { background: var(--card); border: 1px solid var(--line); border-radius: 0.5rem; padding: 0.6rem 0.75rem; min-width: 0; }
.node-head { display: flex; justify-content: space-between; gap: 0.5rem; align-items: baseline; }
.node-name { font-weight: 700; font-size: 1.05rem; }
.node-addr { font-size: 0.8rem; color: var(--muted); margin: 0 0 0.4rem; }
.node dl { display: grid; grid-template-columns: auto 1fr; gap: 0.1rem 0.75rem; margin: 0; font-size: 0.88rem; }
.node dt { color: var(--muted); }
.node dd { margin: 0; min-width: 0; }
.state { font-weight: 600; }
.st-ok { color: var(--ok); }
.st-standby { color: var(--info); }
.st-moving { color: var(--warn); }
.st-bad { color: var(--bad); }
.pending { font-size: 0.8rem; color: var(--warn); }
.badge { font-size: 0.78rem; padding: 0 0.45rem; border-radius: 1rem; border: 1px solid currentColor; white-space: nowrap; }
.h-good { color: var(--ok); } .h-bad { color: var(--bad); } .h-unknown { color: var(--muted); }
.events { list-style: none; margin: 0; padding: 0; background: var(--card); border: 1px solid var(--line); border-radius: 0.5rem; }
.events li { padding: 0.4rem 0.75rem; border-top: 1px solid var(--line); font-size: 0.88rem; }
.events li:first-child { border-top: 0; }
.ev-time { color: var(--muted); font-variant-numeric: tabular-nums; margin-right: 0.5rem; }
.ev-node { font-weight: 600; margin-right: 0.5rem; }
.ev-desc { display: block; }
footer { margin: 1.5rem 0 0.5rem; font-size: 0.8rem; }
a { color: var(--info); }
`;

export const STATUS_PAGE_JS = `'use strict';
(function () {
  var snapshot = null;
  var receivedAt = 0;
  var updates = 0;
  var source = null;

  var GOOD = ['single', 'primary'];
  var STANDBY = ['secondary'];
  var BAD = ['demoted', 'demote_timeout', 'draining', 'report_lsn', 'dropped', 'maintenance', 'wait_maintenance'];

  function stateClass(state) {
    if (GOOD.indexOf(state) >= 0) return 'st-ok';
    if (STANDBY.indexOf(state) >= 0) return 'st-standby';
    if (BAD.indexOf(state) >= 0) return 'st-bad';
    return 'st-moving';
  }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function byId(id) { return document.getElementById(id); }

  /** The monitor's clock now: its time at the read plus the time since we got it. */
  function monitorNow() {
    if (!snapshot || !snapshot.data) return Date.now();
    return snapshot.data.nowMs + (performance.now() - receivedAt);
  }

  function ago(ms) {
    var s = Math.max(0, (monitorNow() - ms) / 1000);
    if (s < 10) return s.toFixed(1) + ' s ago';
    if (s < 120) return Math.round(s) + ' s ago';
    if (s < 7200) return Math.round(s / 60) + ' min ago';
    return Math.round(s / 3600) + ' h ago';
  }

  function bytes(n) {
    if (n === null || n === undefined) return '—';
    var units = ['B', 'kB', 'MB', 'GB', 'TB'];
    var i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i += 1; }
    return (i === 0 ? String(Math.round(n)) : n.toFixed(1)) + ' ' + units[i];
  }

  function leaseUntil(end) {
    var left = end - monitorNow();
    if (left > 0) return (left / 1000).toFixed(1) + ' s left';
    return 'expired ' + ago(end);
  }

  function lease(node, timeoutMs) {
    if (node.leaseGrantTimeMs === null) return '—';
    return leaseUntil(node.leaseGrantTimeMs + timeoutMs);
  }

  /** Between updates, only the ages and leases move. */
  function tick() {
    var i;
    var since = document.querySelectorAll('[data-since]');
    for (i = 0; i < since.length; i += 1) since[i].textContent = ago(Number(since[i].getAttribute('data-since')));
    var leases = document.querySelectorAll('[data-lease]');
    for (i = 0; i < leases.length; i += 1) leases[i].textContent = leaseUntil(Number(leases[i].getAttribute('data-lease')));
  }

  var HEALTH = { '-1': 'unknown', '0': 'bad', '1': 'good' };

  function row(dl, label, value, className) {
    dl.appendChild(el('dt', '', label));
    var dd = el('dd', className || '', value);
    dl.appendChild(dd);
    return dd;
  }

  function renderNode(node, timeoutMs) {
    var card = el('article', 'node');
    card.setAttribute('data-node-id', String(node.nodeId));
    card.setAttribute('data-reported', node.reportedState);
    card.setAttribute('data-assigned', node.goalState);
    var head = el('div', 'node-head');
    head.appendChild(el('span', 'node-name', node.name));
    var health = HEALTH[String(node.health)] || 'unknown';
    head.appendChild(el('span', 'badge h-' + health, health));
    card.appendChild(head);
    card.appendChild(el('p', 'node-addr', 'node ' + node.nodeId + ' · ' + node.host + ':' + node.port));
    var dl = el('dl');
    row(dl, 'reported', node.reportedState, 'state reported ' + stateClass(node.reportedState));
    var assigned = row(dl, 'assigned', node.goalState, 'state assigned ' + stateClass(node.goalState));
    if (node.goalState !== node.reportedState) assigned.appendChild(el('span', 'pending', ' (in progress)'));
    row(dl, 'lag', bytes(node.lagBytes), 'lag');
    var leaseCell = row(dl, 'lease', lease(node, timeoutMs), 'lease');
    if (node.leaseGrantTimeMs !== null) leaseCell.setAttribute('data-lease', String(node.leaseGrantTimeMs + timeoutMs));
    row(dl, 'last report', ago(node.reportTimeMs), 'report-age').setAttribute('data-since', String(node.reportTimeMs));
    row(dl, 'health check', ago(node.healthCheckTimeMs), 'check-age').setAttribute('data-since', String(node.healthCheckTimeMs));
    row(dl, 'tli / LSN', node.timeline + ' / ' + node.lsn, 'lsn');
    row(dl, 'sync', (node.replicationState || 'unknown') + ', priority ' + node.candidatePriority +
      (node.replicationQuorum ? ', quorum' : ', no quorum'), 'sync');
    if (node.pgIsRunning === false) row(dl, 'postgres', 'not running', 'st-bad');
    card.appendChild(dl);
    return card;
  }

  function renderFormations(data) {
    var root = byId('formations');
    var fragment = document.createDocumentFragment();
    if (data.formations.length === 0) fragment.appendChild(el('p', 'muted', 'No formation.'));
    data.formations.forEach(function (f) {
      var section = el('section', 'formation');
      section.setAttribute('data-formation', f.formationId);
      section.appendChild(el('h2', '', 'Formation ' + f.formationId));
      section.appendChild(el('p', 'formation-meta muted', f.kind + ', database ' + f.dbname +
        ', number_sync_standbys ' + f.numberSyncStandbys + ', ' + f.nodes.length + (f.nodes.length === 1 ? ' node' : ' nodes')));
      var groups = [];
      f.nodes.forEach(function (n) {
        var last = groups[groups.length - 1];
        if (!last || last.id !== n.groupId) groups.push(last = { id: n.groupId, nodes: [] });
        last.nodes.push(n);
      });
      groups.forEach(function (g) {
        var gs = el('div', 'group');
        gs.setAttribute('data-group', String(g.id));
        gs.appendChild(el('h3', '', 'Group ' + g.id));
        var grid = el('div', 'nodes');
        g.nodes.forEach(function (n) { grid.appendChild(renderNode(n, data.leaseTimeoutMs)); });
        gs.appendChild(grid);
        section.appendChild(gs);
      });
      fragment.appendChild(section);
    });
    root.replaceChildren(fragment);
  }

  function pad(n) { return (n < 10 ? '0' : '') + n; }

  function clock(ms) {
    var d = new Date(ms);
    return d.getFullYear() + '-' + pad(d.getMonth() + 1) + '-' + pad(d.getDate()) + ' ' +
      pad(d.getHours()) + ':' + pad(d.getMinutes()) + ':' + pad(d.getSeconds());
  }

  function renderEvents(data) {
    var list = byId('events');
    var fragment = document.createDocumentFragment();
    if (data.events.length === 0) fragment.appendChild(el('li', 'muted', 'No event yet.'));
    data.events.forEach(function (e) {
      var li = el('li');
      li.setAttribute('data-event-id', e.id);
      li.appendChild(el('span', 'ev-time', clock(e.timeMs)));
      li.appendChild(el('span', 'ev-node', e.formationId + '/' + e.groupId + ' ' + e.name));
      li.appendChild(el('span', 'state ' + stateClass(e.reportedState), e.reportedState));
      li.appendChild(document.createTextNode(' → '));
      li.appendChild(el('span', 'state ' + stateClass(e.goalState), e.goalState));
      if (e.description) li.appendChild(el('span', 'ev-desc', e.description));
      fragment.appendChild(li);
    });
    list.replaceChildren(fragment);
  }

  function render() {
    if (!snapshot) return;
    var banner = byId('error');
    if (snapshot.error) {
      banner.textContent = 'The monitor database could not be read: ' + snapshot.error +
        (snapshot.data ? ' (showing the last known state)' : '');
      banner.hidden = false;
    } else {
      banner.hidden = true;
    }
    if (snapshot.data) {
      renderFormations(snapshot.data);
      renderEvents(snapshot.data);
    }
  }

  function apply(next) {
    snapshot = next;
    receivedAt = performance.now();
    updates += 1;
    document.body.setAttribute('data-updates', String(updates));
    document.body.setAttribute('data-version', String(next.version));
    render();
  }

  function setConn(kind, text) {
    var c = byId('conn');
    c.className = 'conn conn-' + kind;
    c.textContent = text;
  }

  function connect() {
    if (!window.EventSource) {
      setConn('down', 'no live updates in this browser');
      return;
    }
    source = new EventSource('api/stream');
    source.addEventListener('open', function () { setConn('live', 'live'); });
    source.addEventListener('state', function (ev) {
      try { apply(JSON.parse(ev.data)); } catch (e) { setConn('down', 'bad update'); }
    });
    source.addEventListener('error', function () {
      setConn(source.readyState === EventSource.CLOSED ? 'down' : 'connecting',
        source.readyState === EventSource.CLOSED ? 'disconnected' : 'reconnecting…');
      if (source.readyState === EventSource.CLOSED) setTimeout(connect, 3000);
    });
  }

  document.addEventListener('DOMContentLoaded', function () {
    connect();
    setInterval(tick, 500);
  });
})();
`;
