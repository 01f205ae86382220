// The dashboard page (GET /dashboard): polls the gateway's /dashboard/api/* and the order service's API
// through the gateway, with an administrator's bearer token kept in this tab's sessionStorage. Every value
// from the server is put on the page as text (textContent), never as markup.
'use strict';

(function () {
  const TOKEN_KEY = 'mercato.dashboard.token';
  const ORDERS_EVERY_MS = 2000;
  const LETTERS_EVERY_MS = 5000;
  const state = {
    token: sessionStorage.getItem(TOKEN_KEY),
    refreshMs: 1000,
    traceUrl: '',
    cards: new Map(),   // service name -> {root, figures, instances, chart, health}
    selected: null,     // order id whose saga is shown
    timers: new Map(),  // loop name -> its pending timer (one per loop)
  };

  const $ = (id) => document.getElementById(id);

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === 'text') node.textContent = v;
      else if (k === 'class') node.className = v;
      else node.setAttribute(k, v);
    }
    for (const c of children) if (c != null) node.append(c);
    return node;
  }

  function badge(kind, value) {
    return el('span', { class: 'badge', ['data-' + kind]: value, text: value.replace('_', ' ') });
  }

  function showProblem(text) { $('problem').textContent = text || ''; }

  class HttpError extends Error {
    constructor(status, message) { super(message); this.status = status; }
  }

  async function api(method, path, body) {
    const headers = { Accept: 'application/json' };
    if (state.token) headers.Authorization = 'Bearer ' + state.token;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: 'no-store' });
    let data = null;
    try { data = await res.json(); } catch (_) { /* not JSON: the status says enough */ }
    if (!res.ok) {
      const message = data && data.error && data.error.message ? data.error.message : res.statusText;
      if (res.status === 401 && path !== '/api/auth/login') signOut('Signed out: ' + message);
      throw new HttpError(res.status, message);
    }
    return data;
  }

  // ---- signing in ------------------------------------------------------------------------------------

  function signOut(why) {
    state.token = null;
    sessionStorage.removeItem(TOKEN_KEY);
    for (const t of state.timers.values()) clearTimeout(t);
    state.timers.clear();
    $('board').hidden = true;
    $('sign-out').hidden = true;
    $('login').hidden = false;
    $('login-error').textContent = why || '';
  }

  async function signIn(event) {
    event.preventDefault();
    $('login-error').textContent = '';
    try {
      const answer = await api('POST', '/api/auth/login', { email: $('email').value, password: $('password').value });
      state.token = answer.access_token;
      sessionStorage.setItem(TOKEN_KEY, state.token);
      $('password').value = '';
      start();
    } catch (e) {
      $('login-error').textContent = e.message;
    }
  }

  // ---- services, instances, rates, circuits -----------------------------------------------------------

  const fmt = {
    rate: (v) => (v >= 100 ? v.toFixed(0) : v.toFixed(1)),
    ms: (v) => (v == null ? '–' : v >= 100 ? v.toFixed(0) : v.toFixed(1)),
    pct: (v) => (v * 100).toFixed(v > 0 && v < 0.01 ? 2 : 1) + '%',
    mb: (v) => (v / 1048576).toFixed(1) + ' MiB',
    money: (cents) => (cents / 100).toFixed(2),
    time: (iso) => { const d = new Date(iso); return isNaN(d) ? iso : d.toLocaleTimeString([], { hour12: false }); },
  };

  function figure(label) {
    const value = el('b', { text: '–' });
    return { root: el('div', null, value, el('span', { text: label })), value };
  }

  function card(name) {
    let c = state.cards.get(name);
    if (c) return c;
    const health = el('span', { class: 'badge' });
    const figures = { rate: figure('req/s'), errors: figure('5xx'), p50: figure('p50 ms'), p99: figure('p99 ms') };
    const root = el('div', { class: 'card', 'data-service': name },
      el('h3', null, el('span', { text: name }), health),
      el('div', { class: 'routes muted' }),
      el('div', { class: 'figures' }, ...Object.values(figures).map((f) => f.root)),
      el('ul', { class: 'instances' }),
      el('div', { class: 'chart' }));
    c = { root, health, figures, routes: root.querySelector('.routes'), instances: root.querySelector('.instances'),
      chartBox: root.querySelector('.chart'), chart: null };
    state.cards.set(name, c);
    $('services').append(root);
    return c;
  }

  function drawChart(c, series) {
    if (typeof uPlot === 'undefined' || series.t.length < 2) return;
    const data = [series.t.map((t) => t / 1000), series.per_second, series.p99_ms];
    if (!c.chart) {
      c.chart = new uPlot({
        width: Math.max(260, c.root.clientWidth - 24), height: 100, legend: { show: false },
        scales: { x: { time: true }, ms: { range: (u, min, max) => [0, Math.max(1, max || 1)] } },
        series: [{}, { label: 'req/s', stroke: '#0969da', width: 1.5 }, { label: 'p99 ms', stroke: '#cf222e', width: 1, scale: 'ms' }],
        axes: [{ size: 24 }, { size: 40 }, { scale: 'ms', side: 1, size: 40, grid: { show: false } }],
      }, data, c.chartBox);
    } else {
      c.chart.setData(data);
    }
  }

  function renderServices(overview) {
    const seen = new Set();
    for (const s of overview.services) {
      seen.add(s.name);
      const c = card(s.name);
      c.root.dataset.health = s.health;
      c.health.dataset.health = s.health;
      c.health.textContent = s.health;
      c.routes.textContent = s.routes.length ? 'routes: ' + s.routes.map((r) => '/api/' + r).join(' ') : 'the gateway itself';
      c.figures.rate.value.textContent = fmt.rate(s.rate.per_second);
      c.figures.errors.value.textContent = fmt.pct(s.rate.error_ratio);
      c.figures.p50.value.textContent = fmt.ms(s.rate.p50_ms);
      c.figures.p99.value.textContent = fmt.ms(s.rate.p99_ms);
      c.instances.replaceChildren(...s.instances.map((i) => {
        const li = el('li', { 'data-instance': i.address, 'data-health': i.health },
          el('span', { class: 'mono', text: i.address }), badge('health', i.health));
        if (i.resident_bytes) li.append(el('span', { class: 'muted', text: fmt.mb(i.resident_bytes) }));
        if (i.dead_letters) li.append(el('span', { class: 'muted', text: i.dead_letters + ' dead letters' }));
        if (i.outbox_lag_seconds) li.append(el('span', { class: 'muted', text: 'outbox lag ' + i.outbox_lag_seconds.toFixed(1) + ' s' }));
        if (i.detail) li.append(el('span', { class: 'muted', text: i.detail }));
        return li;
      }));
      drawChart(c, s.series);
    }
    for (const [name, c] of state.cards) {
      if (!seen.has(name)) { c.root.remove(); state.cards.delete(name); }
    }
    const body = $('circuits').tBodies[0];
    body.replaceChildren(...overview.circuits.map((k) => el('tr', { 'data-circuit': k.from + '>' + k.to },
      el('td', { text: k.from }), el('td', { text: k.to }), el('td', null, badge('state', k.state)))));
  }

  async function pollOverview() {
    try {
      const overview = await api('GET', '/dashboard/api/overview');
      state.refreshMs = Math.max(250, overview.refresh_ms || 1000);
      state.traceUrl = overview.trace_url || '';
      renderServices(overview);
      $('updated').textContent = 'updated ' + new Date().toLocaleTimeString();
      showProblem('');
    } catch (e) {
      if (e.status === 403) { signOut('This account is not an administrator.'); return; }
      showProblem('overview: ' + e.message);
    }
    schedule('overview', pollOverview, state.refreshMs);
  }

  // ---- orders and their sagas -------------------------------------------------------------------------

  async function pollOrders() {
    try {
      const page = await api('GET', '/api/orders?limit=15');
      const body = $('orders').tBodies[0];
      body.replaceChildren(...page.orders.map((o) => {
        const tr = el('tr', { 'data-order': o.id, 'aria-selected': String(o.id === state.selected) },
          el('td', { class: 'mono', text: o.id }), el('td', null, badge('status', o.status)),
          el('td', { text: fmt.money(o.total_cents) }), el('td', { text: String(o.item_count) }),
          el('td', { text: fmt.time(o.created_at) }));
        tr.addEventListener('click', () => select(o.id));
        return tr;
      }));
    } catch (e) {
      showProblem('orders: ' + e.message);
    }
    if (state.selected) await showSaga(state.selected);
    schedule('orders', pollOrders, ORDERS_EVERY_MS);
  }

  // The trace id as a link when gateway.dashboard.trace_url names a trace viewer, else as text; `short`
  // shows its first 8 digits (the whole id in the tooltip), as each timeline step does.
  function traceLink(traceId, short) {
    if (!traceId) return el('span', { class: 'muted', text: 'no trace' });
    const text = el('code', { text: short ? traceId.slice(0, 8) + '…' : traceId, title: 'trace ' + traceId });
    if (!state.traceUrl) return text;
    const a = el('a', { href: state.traceUrl.replace('{trace_id}', encodeURIComponent(traceId)), target: '_blank', rel: 'noopener noreferrer' });
    a.append(text);
    return a;
  }

  // Each timeline entry with how long its step had run: from the step's last start (or resend) to it.
  function timeline(saga, traceId) {
    const began = new Map();
    return saga.timeline.map((e) => {
      const at = Date.parse(e.at);
      let took = '';
      if (e.status === 'started' || e.status === 'resent') began.set(e.step, at);
      else if (began.has(e.step)) took = (at - began.get(e.step)) + ' ms';
      return el('li', { 'data-step': e.step, 'data-status': e.status },
        el('span', { text: e.step + (e.kind === 'compensation' ? ' (undo)' : '') }), badge('status', e.status),
        el('span', { class: 'muted', text: took || fmt.time(e.at) }),
        el('span', { class: 'detail' }, traceLink(traceId, true), e.detail ? ' ' + e.detail : null));
    });
  }

  async function showSaga(id) {
    const panel = $('saga');
    try {
      const [saga, events] = await Promise.all([
        api('GET', '/api/orders/' + encodeURIComponent(id) + '/saga'),
        api('GET', '/api/orders/' + encodeURIComponent(id) + '/events'),
      ]);
      if (state.selected !== id) return;
      const first = events.events.find((e) => e.trace_id);
      const traceId = first ? first.trace_id : '';
      panel.dataset.order = id;
      panel.replaceChildren(
        el('h3', null, el('span', { class: 'mono', text: id })),
        el('p', null, badge('status', saga.state), el('span', { text: ' ' + saga.mode + (saga.failure ? ' — ' + saga.failure : '') })),
        el('p', null, el('span', { class: 'muted', text: 'trace ' }), traceLink(traceId)),
        el('ul', { class: 'timeline' }, ...timeline(saga, traceId)),
        el('p', { class: 'muted', text: events.events.length + ' events, version ' + events.version }));
    } catch (e) {
      if (state.selected !== id) return;
      panel.dataset.order = id;
      panel.replaceChildren(el('p', { class: 'muted', text: e.status === 404 ? 'No order ' + id : id + ': ' + e.message }));
    }
  }

  function select(id) {
    state.selected = id;
    for (const tr of $('orders').tBodies[0].rows) tr.setAttribute('aria-selected', String(tr.dataset.order === id));
    showSaga(id);
  }

  // ---- dead letters ---------------------------------------------------------------------------------

  async function pollLetters() {
    try {
      const answer = await api('GET', '/dashboard/api/dead-letters');
      const rows = [];
      for (const s of answer.services) {
        if (s.error) {
          rows.push(el('tr', null, el('td', { text: s.service }), el('td', { colspan: '6', class: 'muted', text: s.error.message })));
          continue;
        }
        if (s.total > s.dead_letters.length) {
          rows.push(el('tr', null, el('td', { text: s.service }), el('td', { colspan: '6', class: 'muted', text: 'showing ' + s.dead_letters.length + ' of ' + s.total })));
        }
        for (const d of s.dead_letters) {
          const replay = el('button', { type: 'button', text: 'Replay' });
          replay.addEventListener('click', async () => {
            replay.disabled = true;
            try {
              await api('POST', '/dashboard/api/dead-letters/' + encodeURIComponent(s.service) + '/' + encodeURIComponent(d.id) + '/redrive');
            } catch (e) {
              showProblem('replay ' + d.id + ': ' + e.message);
            }
            pollLetters();
          });
          rows.push(el('tr', { 'data-letter': d.id },
            el('td', { text: s.service }), el('td', { text: d.type || '' }), el('td', { class: 'mono', text: d.subject || '' }),
            el('td', { text: String(d.attempts ?? '') }), el('td', { text: d.failed_at ? fmt.time(d.failed_at) : '' }),
            el('td', { text: d.error || '' }), el('td', null, replay)));
        }
      }
      if (!rows.length) rows.push(el('tr', null, el('td', { colspan: '7', class: 'muted', text: 'none' })));
      $('dead-letters').tBodies[0].replaceChildren(...rows);
    } catch (e) {
      showProblem('dead letters: ' + e.message);
    }
  }

  // ---- the loops ----------------------------------------------------------------------------------------

  function schedule(name, fn, ms) {
    if (!state.token) return;
    clearTimeout(state.timers.get(name));
    state.timers.set(name, setTimeout(fn, ms));
  }

  function start() {
    $('login').hidden = true;
    $('board').hidden = false;
    $('sign-out').hidden = false;
    pollOverview();
    pollOrders();
    const letters = () => { pollLetters().finally(() => schedule('letters', letters, LETTERS_EVERY_MS)); };
    letters();
  }

  $('login-form').addEventListener('submit', signIn);
  $('sign-out').addEventListener('click', () => signOut(''));
  $('order-search').addEventListener('submit', (event) => {
    event.preventDefault();
    const id = $('order-id').value.trim();
    if (id) select(id);
  });
  if (state.token) start(); else signOut('');
})();
