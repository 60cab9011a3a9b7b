// The dashboard's live parts: the list follows /events (server-sent events from the one TestJob
// watch the server shares between all browsers), ages tick, the job page follows its log and the
// queue view refreshes when the queue changes. Everything a runner or a user wrote is untrusted:
// the DOM is built with createElement and textContent only, never innerHTML.
'use strict';

(function () {
  // apimachinery's HumanDuration, as kubectl's AGE column (same rules as format.rs).
  function humanDuration(s) {
    if (s < -1) return '<invalid>';
    if (s < 0) s = 0;
    if (s < 120) return s + 's';
    const m = Math.floor(s / 60);
    if (m < 10) return s % 60 === 0 ? m + 'm' : m + 'm' + (s % 60) + 's';
    if (m < 180) return m + 'm';
    const h = Math.floor(s / 3600);
    if (h < 8) return m % 60 === 0 ? h + 'h' : h + 'h' + (m % 60) + 'm';
    if (h < 48) return h + 'h';
    if (h < 192) return h % 24 === 0 ? Math.floor(h / 24) + 'd' : Math.floor(h / 24) + 'd' + (h % 24) + 'h';
    if (h < 24 * 365 * 2) return Math.floor(h / 24) + 'd';
    const y = Math.floor(h / 24 / 365);
    if (h < 24 * 365 * 8) {
      const d = Math.floor(h / 24) % 365;
      return d === 0 ? y + 'y' : y + 'y' + d + 'd';
    }
    return y + 'y';
  }

  // status.duration's format (Go's time.Duration to whole seconds): 42s, 1m23s, 2h0m5s.
  function runTime(s) {
    s = Math.max(0, s);
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
    if (h > 0) return h + 'h' + m + 'm' + sec + 's';
    if (m > 0) return m + 'm' + sec + 's';
    return sec + 's';
  }

  function nowSeconds() { return Math.floor(Date.now() / 1000); }

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function tick() {
    const now = nowSeconds();
    document.querySelectorAll('[data-ts]').forEach(function (node) {
      const age = humanDuration(now - Number(node.dataset.ts));
      node.textContent = node.tagName === 'TIME' ? age + ' ago' : age;
    });
    document.querySelectorAll('[data-start]').forEach(function (node) {
      node.textContent = runTime(now - Number(node.dataset.start));
    });
  }

  function jobHref(ns, name) {
    return '/jobs/' + encodeURIComponent(ns) + '/' + encodeURIComponent(name);
  }

  function badge(phase) {
    return el('span', 'phase phase-' + phase.toLowerCase(), phase);
  }

  // Opens the shared change stream and keeps the live indicator. With `since` (the number of the
  // last change the page was rendered with) the server first replays what happened after it, and
  // on a reconnect the browser's Last-Event-ID does the same: no change is lost or applied twice.
  // Without it, a reconnect calls `handlers.resync` (changes made meanwhile were missed).
  function connect(handlers, since) {
    const live = document.getElementById('live');
    const tracked = since !== undefined;
    let last = tracked ? since : 0;
    const source = new EventSource(tracked ? '/events?since=' + since : '/events');
    let dropped = false;
    source.addEventListener('hello', function () {
      if (dropped && !tracked && handlers.resync) handlers.resync();
      dropped = false;
      if (live) { live.textContent = 'live'; live.className = 'live on'; }
    });
    source.onerror = function () {
      dropped = true;
      if (live) { live.textContent = 'reconnecting'; live.className = 'live off'; }
    };
    // The server no longer has the changes this page lacks (it fell behind): start over.
    source.addEventListener('reload', function () { source.close(); window.location.reload(); });
    ['upsert', 'delete'].forEach(function (kind) {
      source.addEventListener(kind, function (event) {
        const seq = Number(event.lastEventId);
        if (tracked) {
          if (seq <= last) return;
          last = seq;
        }
        const change = JSON.parse(event.data);
        if (handlers[kind]) handlers[kind](change);
      });
    });
    return source;
  }

  // --- the list -------------------------------------------------------------------------------

  function listPage() {
    const table = document.getElementById('jobs');
    if (!table) return;
    const tbody = table.tBodies[0];
    const f = table.dataset;
    const page = Number(f.page || 1), pageSize = Number(f.pageSize || 100);
    const q = (f.q || '').toLowerCase();

    function matchesExceptPhase(row) {
      return (!f.namespace || f.namespace === row.namespace) &&
        (!f.test || f.test === row.testId) &&
        (!q || row.name.toLowerCase().indexOf(q) >= 0);
    }
    function matches(row) { return matchesExceptPhase(row) && (!f.phase || f.phase === row.phase); }

    function bump(phase, by) {
      const sel = 'nav.counts a[data-phase="' + phase + '"] b';
      const node = document.querySelector(sel);
      if (node) node.textContent = String(Math.max(0, Number(node.textContent) + by));
    }
    function bumpId(id, by) {
      const node = document.getElementById(id);
      if (node) node.textContent = String(Math.max(0, Number(node.textContent) + by));
    }

    function fill(tr, row) {
      tr.dataset.uid = row.uid;
      tr.dataset.namespace = row.namespace;
      tr.dataset.name = row.name;
      tr.dataset.test = row.testId;
      tr.dataset.phase = row.phase;
      tr.dataset.created = String(row.created);
      tr.replaceChildren();
      const cell = function (cls, label) {
        const td = el('td', cls);
        td.dataset.label = label;
        tr.appendChild(td);
        return td;
      };
      cell('ns', 'Namespace').textContent = row.namespace;
      const name = cell('name', 'Name');
      const link = el('a', null, row.name);
      link.href = jobHref(row.namespace, row.name);
      name.appendChild(link);
      if (row.message) name.appendChild(el('div', 'msg', row.message));
      cell('test', 'Test').textContent = row.testId;
      cell('status', 'Status').appendChild(badge(row.phase));
      cell('result', 'Result').textContent = row.result || '';
      const duration = cell('duration', 'Duration');
      if (row.duration) {
        duration.textContent = row.duration;
      } else if (row.phase === 'Running' && row.started) {
        duration.dataset.start = String(row.started);
        duration.textContent = runTime(nowSeconds() - row.started);
      }
      const age = cell('age', 'Age');
      age.dataset.ts = String(row.created);
      age.textContent = humanDuration(nowSeconds() - row.created);
    }

    function find(uid) {
      for (const tr of tbody.rows) if (tr.dataset.uid === uid) return tr;
      return null;
    }

    // Newest first, as the server sorts: creation time desc, then namespace, name.
    function before(row, tr) {
      const created = Number(tr.dataset.created);
      if (row.created !== created) return row.created > created;
      if (row.namespace !== tr.dataset.namespace) return row.namespace < tr.dataset.namespace;
      return row.name < tr.dataset.name;
    }

    function insert(row) {
      const tr = el('tr');
      fill(tr, row);
      let next = null;
      for (const other of tbody.rows) { if (before(row, other)) { next = other; break; } }
      // A row older than the whole page belongs to a later page, unless the page has room.
      if (!next && tbody.rows.length >= pageSize) return;
      tbody.insertBefore(tr, next);
      while (tbody.rows.length > pageSize) tbody.deleteRow(-1);
      const empty = document.getElementById('empty');
      if (empty) empty.remove();
    }

    function globalCounts(change, removed) {
      const row = change.row;
      const was = change.was, wasWaiting = change.wasWaiting;
      const running = removed ? 0 : (row.phase === 'Running' ? 1 : 0);
      bumpId('q-running', running - (was === 'Running' ? 1 : 0));
      bumpId('q-waiting', (removed ? 0 : (row.waiting ? 1 : 0)) - (wasWaiting ? 1 : 0));
    }

    connect({
      upsert: function (change) {
        const row = change.row, was = change.was;
        globalCounts(change, false);
        if (matchesExceptPhase(row)) {
          if (was === null) bump('', 1);
          if (was !== row.phase) {
            if (was !== null) bump(was, -1);
            bump(row.phase, 1);
          }
        }
        const tr = find(row.uid);
        if (matches(row)) {
          if (tr) fill(tr, row);
          else if (page === 1) insert(row);
        } else if (tr) {
          tr.remove();
        }
      },
      delete: function (change) {
        const row = change.row;
        globalCounts(change, true);
        if (matchesExceptPhase(row)) { bump('', -1); bump(row.phase, -1); }
        const tr = find(row.uid);
        if (tr) tr.remove();
      },
    }, Number(f.seq || 0));
  }

  // --- the job page ---------------------------------------------------------------------------

  function jobPage() {
    const title = document.getElementById('job-title');
    if (!title) return;
    let reloading = false;
    connect({
      // When the job changes phase the page is read again: it shows the new status, results,
      // Pods and events as the API has them.
      upsert: function (change) {
        if (change.row.uid === title.dataset.uid && change.row.phase !== title.dataset.phase && !reloading) {
          reloading = true;
          window.setTimeout(function () { window.location.reload(); }, 300);
        }
      },
      delete: function (change) {
        if (change.row.uid === title.dataset.uid) {
          title.appendChild(el('span', 'phase phase-cancelled', 'deleted'));
        }
      },
      resync: function () { window.location.reload(); },
    });

    const filter = document.getElementById('results-filter');
    const results = document.getElementById('results');
    if (filter && results) {
      filter.addEventListener('input', function () {
        const text = filter.value.toLowerCase();
        for (const tr of results.tBodies[0].rows) {
          tr.hidden = text !== '' && tr.textContent.toLowerCase().indexOf(text) < 0;
        }
      });
    }

    const log = document.getElementById('log');
    if (log && log.dataset.stream) followLog(log);
  }

  function followLog(log) {
    const state = document.getElementById('log-state');
    const limit = 4 * 1024 * 1024;
    let size = 0;
    const source = new EventSource(log.dataset.stream);
    const done = function (text) {
      source.close();
      if (state) state.textContent = text;
    };
    source.addEventListener('line', function (event) {
      const atBottom = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
      const line = JSON.parse(event.data) + '\n';
      log.appendChild(document.createTextNode(line));
      size += line.length;
      // Bounded like the server's stream: drop the oldest lines.
      while (size > limit && log.firstChild) {
        size -= log.firstChild.textContent.length;
        log.removeChild(log.firstChild);
      }
      if (atBottom) log.scrollTop = log.scrollHeight;
    });
    source.addEventListener('waiting', function () {
      if (state) state.textContent = 'waiting for the container to start';
    });
    source.addEventListener('line', function () {
      if (state && state.textContent !== 'following') state.textContent = 'following';
    });
    source.addEventListener('end', function () { done('ended'); });
    source.addEventListener('truncated', function () { done('stopped: log too large, use kubectl logs'); });
    source.addEventListener('failed', function (event) { done('cannot read the log: ' + JSON.parse(event.data)); });
    // A reconnect would send the tail again: stop instead; reloading the page resumes.
    source.onerror = function () { done('disconnected (reload to resume)'); };
  }

  // --- the queue ------------------------------------------------------------------------------

  function queuePage() {
    const waiting = document.getElementById('queue-waiting');
    const running = document.getElementById('queue-running');
    if (!waiting || !running) return;
    let pending = null;

    function link(row) {
      const a = el('a', null, row.name);
      a.href = jobHref(row.namespace, row.name);
      return a;
    }
    function ageCell(ts) {
      const td = el('td', null, humanDuration(nowSeconds() - ts));
      td.dataset.ts = String(ts);
      return td;
    }
    function render(view) {
      const wbody = waiting.tBodies[0], rbody = running.tBodies[0];
      wbody.replaceChildren();
      view.waiting.forEach(function (row, i) {
        const tr = el('tr');
        tr.appendChild(el('td', null, i + 1));
        tr.appendChild(el('td', null, row.namespace));
        tr.appendChild(el('td')).appendChild(link(row));
        tr.appendChild(el('td', null, row.testId));
        tr.appendChild(el('td', null, row.priority === null ? view.defaultPriority : row.priority));
        tr.appendChild(ageCell(row.created));
        wbody.appendChild(tr);
      });
      rbody.replaceChildren();
      view.running.forEach(function (row) {
        const tr = el('tr');
        tr.appendChild(el('td', null, row.namespace));
        tr.appendChild(el('td')).appendChild(link(row));
        tr.appendChild(el('td', null, row.testId));
        tr.appendChild(el('td')).appendChild(badge(row.phase));
        tr.appendChild(ageCell(row.started || row.created));
        rbody.appendChild(tr);
      });
      document.getElementById('q-running').textContent = String(view.running.length);
      document.getElementById('q-waiting').textContent = String(view.waiting.length);
    }
    // Refreshed once per burst of changes that touch the queue, not on a timer.
    function refresh() {
      if (pending) return;
      pending = window.setTimeout(function () {
        pending = null;
        fetch('/api/queue').then(function (r) { return r.json(); }).then(render);
      }, 250);
    }
    function touches(change) {
      const row = change.row;
      return row.waiting || change.wasWaiting || row.phase === 'Running' || change.was === 'Running';
    }
    connect({
      upsert: function (change) { if (touches(change)) refresh(); },
      delete: function (change) { if (touches(change)) refresh(); },
      resync: refresh,
    });
  }

  function start() {
    const page = document.body.dataset.page;
    if (page === 'list') listPage();
    else if (page === 'job') jobPage();
    else if (page === 'queue') queuePage();
    tick();
    window.setInterval(tick, 1000);
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
