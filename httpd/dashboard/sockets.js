// sockets.js: the live sockets view. It draws /-/sockets.json once, then follows the
// /-/sockets/events stream and updates the page in place: one box per server, one box per
// listening socket, one keyed row per connected socket (key: the peer's address:port).
// All data goes into the page through textContent or attributes, never as HTML.
// It is loaded as a module: strict mode, and nothing of it leaks into the page's globals.

const FADE_MS = 2000;     // how long a new row glows, and a closed row fades before removal
const MANY_ROWS = 12;     // above this many rows a listener switches to its compact layout
const RETRY_MS = 3000;    // when the event stream is closed for good, reopen it after this

const view = {
    servers: new Map(),   // server name -> server box (see serverBox)
    viewer: null,         // {local, peer, fd}: the connection this page's own updates come on
    snapshots: 0,         // snapshots applied, mirrored in body[data-snapshots] for tests
    drawn: false,         // false until the first draw: rows present then do not glow
};

// ---- Formatting -------------------------------------------------------------------------

const UNITS = ['B', 'KB', 'MB', 'GB', 'TB'];

// Bytes in binary steps (1 KB = 1024 B), three significant digits: 912 B, 12.3 KB, 4.0 MB.
function fmtBytes(n) {
    if (n == null) return '–';
    let i = 0;
    while (n >= 1024 && i < UNITS.length - 1) { n /= 1024; i++; }
    return i === 0 ? `${n} B` : `${n < 100 ? n.toFixed(1) : Math.round(n)} ${UNITS[i]}`;
}

// A duration, coarser as it grows: 7 s, 3 m 05 s, 2 h 04 m, 3 d 2 h.
function fmtDuration(ms) {
    if (ms == null) return '–';
    const s = Math.max(0, Math.floor(ms / 1000));
    const pad = (x) => String(x).padStart(2, '0');
    if (s < 60) return `${s} s`;
    if (s < 3600) return `${Math.floor(s / 60)} m ${pad(s % 60)} s`;
    if (s < 86400) return `${Math.floor(s / 3600)} h ${pad(Math.floor(s / 60) % 60)} m`;
    return `${Math.floor(s / 86400)} d ${Math.floor(s / 3600) % 24} h`;
}

// Round-trip time in ms with two significant digits: 0.052 ms, 1.2 ms, 37 ms, 120 ms.
function fmtRtt(tcp) {
    if (!tcp || tcp.rtt_us == null) return '–';
    return `${Number((tcp.rtt_us / 1000).toPrecision(2))} ms`;
}

// "[::ffff:127.0.0.1]:53422" -> ["[::ffff:127.0.0.1]", "53422"]. The port follows the last
// colon; IPv6 addresses keep their brackets, exactly as ss prints them. An address the view
// could not learn (null: say, a connection the kernel listed only after it was asked) is "?".
function splitHostPort(s) {
    if (s == null) return ['?', ''];
    const i = s.lastIndexOf(':');
    return i < 0 ? [s, ''] : [s.slice(0, i), s.slice(i + 1)];
}

// A command to try on an idle listener. A wildcard address ([::], 0.0.0.0) answers on every
// address of the host, so the name this page was loaded from will reach it.
function tryCommand(l) {
    let [host] = splitHostPort(l.addr);
    if (['[::]', '0.0.0.0', '', '*'].includes(host)) {
        host = location.hostname;
        if (host.includes(':') && !host.startsWith('[')) host = `[${host}]`;
    }
    const at = `${host}:${l.port}`, to = '--to you@localhost';
    return {
        http: `curl http://${at}/`,
        https: `curl -k https://${at}/`,
        smtp: `swaks --server ${at} ${to}`,
        smtps: `swaks --tls-on-connect --server ${at} ${to}`,
        submission: `swaks --tls --server ${at} ${to}`,
    }[l.service] || '';
}

// ---- DOM helpers ------------------------------------------------------------------------

// Make an element with a class and, optionally, text (always as text, never parsed as HTML).
function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text != null) e.textContent = text;
    return e;
}

// Change text only when it differs: with 200 rows most cells stay the same between
// snapshots, and untouched nodes cost the browser nothing to lay out again.
function setText(node, text) {
    const s = String(text);
    if (node.textContent !== s) node.textContent = s;
}

function setData(node, name, value) {
    const s = value == null ? '' : String(value);
    if (node.dataset[name] !== s) node.dataset[name] = s;
}

// A span holding a label and a bold value, "fd 3", or the value first, "3 open now".
// Returns the span and the value's node, which updates later change.
function labelled(cls, label, valueFirst = false) {
    const e = el('span', cls);
    const v = el('b');
    if (valueFirst) e.append(v, ` ${label}`);
    else e.append(el('span', 'lbl', `${label} `), v);
    return [e, v];
}

// ---- Servers ----------------------------------------------------------------------------

let headingSeq = 0;   // numbers the ids that label each server's and listener's section

function serverBox(name) {
    const s = { name, listeners: new Map(), uptime: null };
    s.box = el('section', 'server');
    s.box.dataset.server = name;
    const head = el('header', 'server-head');
    const h2 = el('h2', 'server-name', name);
    h2.id = `server-${++headingSeq}`;
    s.box.setAttribute('aria-labelledby', h2.id);
    s.meta = el('span', 'server-meta');
    s.up = el('span', 'server-up');
    head.append(h2, el('span', 'server-kind', 'process'), s.meta, s.up);
    s.error = el('p', 'server-error');
    s.list = el('div', 'listeners');
    s.box.append(head, s.error, s.list);
    return s;
}

function updateServer(s, data, at, timeMs) {
    const running = data.running !== false;
    s.box.classList.toggle('down', !running);
    setData(s.box, 'running', running);
    setText(s.error, running ? '' : (data.error || 'not running'));
    s.error.hidden = running;
    const parts = [];
    if (running && data.pid != null) parts.push(`pid ${data.pid}`);
    if (running && data.version) parts.push(`version ${data.version}`);
    setText(s.meta, parts.join(' · '));
    // Uptime ticks on the client: remember it as of the snapshot and when that arrived.
    s.uptime = running && data.started_ms != null && timeMs != null
        ? { base: timeMs - data.started_ms, at } : null;

    const seen = new Set();
    let cursor = s.list.firstChild;
    for (const l of running ? (data.listeners || []) : []) {
        seen.add(l.addr);
        let lv = s.listeners.get(l.addr);
        if (!lv) s.listeners.set(l.addr, lv = listenerBox(l));
        // Keep the listeners in the order the server reports them.
        if (lv.box !== cursor) s.list.insertBefore(lv.box, cursor);
        else cursor = cursor.nextSibling;
        updateListener(lv, l, at);
    }
    for (const [addr, lv] of s.listeners) {
        if (!seen.has(addr)) { lv.box.remove(); s.listeners.delete(addr); }
    }
}

// ---- Listeners --------------------------------------------------------------------------

// The table's columns: key, header text, and the label shown beside the value when the table
// is laid out as cards on a narrow screen. The groups head the columns in threes: who knows.
const COLUMNS = [
    ['client', 'client address : port', ''],
    ['local', 'server address : port', 'server'],
    ['fd', 'fd', 'fd'],
    ['age', 'age', 'age'],
    ['phase', 'phase', ''],
    ['bytes', 'in / out', 'in / out'],
    ['tls', 'TLS', ''],
    ['rtt', 'RTT', 'RTT'],
    ['state', 'state', ''],
];
const GROUPS = [
    ['the 4-tuple: unique for each connection', 2],
    ['the server: its fd and what it is doing', 5],
    ['the kernel', 2],
];

function listenerBox(l) {
    const lv = { rows: new Map() };
    lv.box = el('section', 'listener');
    lv.box.dataset.addr = l.addr;

    // The listening socket itself.
    const sock = el('div', 'listen-sock');
    const head = el('div', 'listen-head');
    const h3 = el('h3', 'listen-addr');
    h3.id = `listener-${++headingSeq}`;
    lv.box.setAttribute('aria-labelledby', h3.id);
    h3.append(addrPort(l.addr));
    lv.state = el('span', 'badge listen-state');
    lv.service = el('span', 'service');
    const [fdBox, fd] = labelled('fd-chip', 'fd');
    lv.fd = fd;
    head.append(lv.state, h3, lv.service, fdBox);

    const facts = el('p', 'listen-facts');
    facts.append(el('span', 'kind', 'listening socket'));
    const [open, openV] = labelled('count', 'open now', true);
    const [acc, accV] = labelled('count', 'accepted since start', true);
    lv.open = openV; lv.accepted = accV;
    lv.tw = el('span', 'count tw');
    lv.queue = el('span', 'queue');
    facts.append(open, acc, lv.tw, lv.queue);
    sock.append(head, facts);

    // accept(): the arrow from the listener down to the sockets it made.
    const arrow = el('div', 'accept');
    arrow.setAttribute('aria-hidden', 'true');
    arrow.append(el('span', null, 'accept()'));

    const conns = el('div', 'conns');
    lv.empty = el('p', 'empty', 'No connections. Try: ');
    lv.empty.append(lv.tryCmd = el('code'));

    lv.table = el('table');
    const caption = el('caption', 'sr-only', `Connected sockets accepted on ${l.addr}`);
    const cols = GROUPS.map(([, span]) => Object.assign(el('colgroup'), { span }));
    const thead = el('thead');
    const groups = el('tr', 'groups');
    GROUPS.forEach(([text, span], i) => {
        groups.append(Object.assign(el('th', `g${i}`, text), { colSpan: span, scope: 'colgroup' }));
    });
    const names = el('tr');
    for (const [key, text] of COLUMNS) {
        names.append(Object.assign(el('th', `c-${key}`, text), { scope: 'col' }));
    }
    thead.append(groups, names);
    lv.tbody = el('tbody');
    lv.table.append(caption, ...cols, thead, lv.tbody);
    conns.append(lv.empty, lv.table);

    lv.box.append(sock, arrow, conns);
    return lv;
}

function updateListener(lv, l, at) {
    setText(lv.state, l.state || 'LISTEN');
    setText(lv.service, l.tls ? `${l.service} · TLS` : l.service);
    setText(lv.fd, l.fd ?? '–');
    setText(lv.open, l.open ?? '–');
    setText(lv.accepted, l.accepted ?? '–');
    setText(lv.queue, l.backlog != null
        ? `accept queue ${l.accept_queue ?? 0} of ${l.backlog}` : '');

    const socks = l.sockets || [];
    const seen = new Set();
    let timeWait = 0;
    // Walk the rows in the server's order (oldest first), moving a row only when it is out of
    // place. Rows that are fading out stay where they are, so nothing jumps under the reader.
    let cursor = lv.tbody.firstChild;
    for (const sk of socks) {
        if (seen.has(sk.peer)) continue;      // one row per key, whatever the data says
        seen.add(sk.peer);
        if (sk.state === 'TIME-WAIT') timeWait++;
        let row = lv.rows.get(sk.peer);
        if (!row) {
            lv.rows.set(sk.peer, row = makeRow(sk));
            if (view.drawn) {   // a new connection glows for FADE_MS, as long as its CSS animation
                row.tr.classList.add('new');
                setTimeout(() => row.tr.classList.remove('new'), FADE_MS);
            }
        } else if (row.fading) {
            reviveRow(row);
        }
        while (cursor && cursor !== row.tr && cursor.classList.contains('vanishing')) {
            cursor = cursor.nextSibling;
        }
        if (row.tr !== cursor) lv.tbody.insertBefore(row.tr, cursor);
        else cursor = cursor.nextSibling;
        updateRow(row, sk, at);
    }
    for (const [peer, row] of lv.rows) {
        if (!seen.has(peer) && !row.fading) fadeOut(lv, peer, row);
    }
    setText(lv.tw, timeWait ? `${timeWait} in TIME-WAIT` : '');
    lv.tw.hidden = timeWait === 0;
    setText(lv.tryCmd, tryCommand(l));
    layoutListener(lv);
}

// The empty state, and the compact layout for busy listeners.
function layoutListener(lv) {
    const n = lv.rows.size;
    lv.empty.hidden = n > 0;
    lv.table.hidden = n === 0;
    lv.box.classList.toggle('many', n > MANY_ROWS);
    setData(lv.box, 'rows', n);
}

// ---- Connected sockets ------------------------------------------------------------------

// "address:port" as two spans: the address quiet, the port in bold (see the CSS).
function addrPort(s) {
    const [host, port] = splitHostPort(s);
    const e = el('span', 'ap');
    e.append(el('span', 'host', host), el('span', 'port', port ? `:${port}` : ''));
    return e;
}

function makeRow(sk) {
    const row = { peer: sk.peer, local: sk.local, c: {} };
    row.tr = el('tr', 'conn');
    row.tr.dataset.peer = sk.peer;
    row.tr.dataset.local = sk.local ?? '';
    for (const [key, , label] of COLUMNS) {
        const td = el('td', `c-${key}`);
        if (label) td.dataset.label = label;
        row.c[key] = td;
        row.tr.append(td);
    }
    // The client's end: its address quiet, its port loud, since the port is what differs.
    row.c.client.append(addrPort(sk.peer));
    row.you = el('span', 'you', 'this page');
    row.you.hidden = true;
    row.c.client.append(' ', row.you);    // the space lets the label wrap, not the address
    // The server's end: the same listener port on every row.
    row.c.local.append(addrPort(sk.local));
    // With it, the worker process whose fd it is: fd numbers repeat from one worker to the next.
    row.c.fd.append(row.fd = el('b'), row.worker = el('span', 'worker'));
    // The phase: its name and a count ("rcpt 3"); or, when the total is known, a second line
    // with a progress bar and "1.2 of 3.4 MB".
    row.phaseName = el('span', 'phase-name');
    row.count = el('span', 'phase-count');
    row.meter = el('span', 'meter');
    row.bar = el('progress');
    row.bar.max = 1;
    row.detail = el('span', 'phase-detail');
    row.meter.append(row.bar, row.detail);
    row.c.phase.append(row.phaseName, row.count, row.meter);
    row.c.state.append(row.state = el('span', 'badge'));
    return row;
}

function updateRow(row, sk, at) {
    const tr = row.tr;
    if (sk.local != null && sk.local !== row.local) { // learnt after the row was made
        row.local = sk.local;
        tr.dataset.local = sk.local;
        row.c.local.replaceChildren(addrPort(sk.local));
    }
    setData(tr, 'fd', sk.fd);
    setData(tr, 'state', sk.state);
    setData(tr, 'phase', sk.phase);
    // fd null: no process holds the socket any more (TIME-WAIT) or yet (not accepted).
    tr.classList.toggle('gone', sk.fd == null);
    setText(row.fd, sk.fd ?? '–');
    setData(tr, 'worker', sk.worker);
    setText(row.worker, sk.worker == null ? '' : `worker ${sk.worker}`);

    row.age = sk.age_ms;
    row.at = at;
    setText(row.c.age, fmtDuration(sk.age_ms));

    setText(row.phaseName, sk.phase || '–');
    const total = sk.total || 0, progress = sk.progress || 0;
    // The count means recipients in "rcpt" and bytes everywhere else (body, message).
    const count = (n) => (sk.phase === 'rcpt' ? String(n) : fmtBytes(n));
    let detail = '';
    if (total > 0) {
        row.bar.value = Math.min(progress / total, 1);
        const [p, t] = [count(progress), count(total)];
        // "1.2 of 3.4 MB" rather than "1.2 MB of 3.4 MB" when both have the same unit.
        const unit = (x) => x.replace(/^[\d.]+ ?/, '');
        detail = unit(p) === unit(t) && unit(p) ? `${p.split(' ')[0]} of ${t}` : `${p} of ${t}`;
    }
    row.meter.hidden = !(total > 0);
    setText(row.detail, detail);
    setText(row.count, total === 0 && (sk.phase === 'rcpt' || progress > 0) ? count(progress) : '');

    setText(row.c.bytes, sk.bytes_in == null && sk.bytes_out == null
        ? '–' : `${fmtBytes(sk.bytes_in)} / ${fmtBytes(sk.bytes_out)}`);
    setText(row.c.rtt, fmtRtt(sk.tcp));
    updateTls(row, sk.tls);
    setText(row.state, sk.state || '?');
    setData(row.state, 'state', sk.state);
    markViewer(row);
}

// The TLS badge: a padlock and the version; the cipher in its tooltip. Redrawn on change only.
function updateTls(row, tls) {
    const key = tls ? `${tls.version}|${tls.cipher}|${tls.ktls}` : '';
    if (row.tlsKey === key) return;
    row.tlsKey = key;
    if (!tls) return row.c.tls.replaceChildren(el('span', 'none', '–'));
    const badge = el('span', 'tls');
    badge.title = `${tls.cipher || ''}${tls.ktls ? ' (kernel TLS)' : ''}`;
    badge.append(document.getElementById('lock').content.cloneNode(true), tls.version || 'TLS');
    row.c.tls.replaceChildren(badge);
}

function markViewer(row) {
    const v = view.viewer;
    const mine = !!v && v.peer === row.peer && v.local === row.local;
    if (row.tr.classList.contains('viewer') !== mine) {
        row.tr.classList.toggle('viewer', mine);
        row.you.hidden = !mine;
    }
}

// A row whose socket left the data: say so, fade it, then take it out.
function fadeOut(lv, peer, row) {
    row.fading = setTimeout(() => {
        row.tr.remove();
        lv.rows.delete(peer);
        layoutListener(lv);
    }, FADE_MS);
    row.tr.classList.remove('new');
    row.tr.classList.add('vanishing');
    row.age = null;
    setText(row.state, 'closed');
    setData(row.state, 'state', 'closed');
}

// The same client address and port came back before the row had faded out.
function reviveRow(row) {
    clearTimeout(row.fading);
    row.fading = null;
    row.tr.classList.remove('vanishing');
}

// ---- Snapshots, the stream and the clock ------------------------------------------------

function apply(snap) {
    if (!snap || !Array.isArray(snap.servers)) return;
    const at = performance.now();
    if (snap.host) {
        setText(document.getElementById('host'), snap.host);
        document.title = `wellknown: sockets on ${snap.host}`;
    }
    const box = document.getElementById('servers');
    if (!view.drawn) box.replaceChildren();     // drop the "Loading" line
    const seen = new Set();
    let cursor = box.firstChild;
    for (const data of snap.servers) {
        seen.add(data.name);
        let s = view.servers.get(data.name);
        if (!s) view.servers.set(data.name, s = serverBox(data.name));
        if (s.box !== cursor) box.insertBefore(s.box, cursor);
        else cursor = cursor.nextSibling;
        updateServer(s, data, at, snap.time_ms);
    }
    for (const [name, s] of view.servers) {
        if (!seen.has(name)) { s.box.remove(); view.servers.delete(name); }
    }
    view.drawn = true;
    box.removeAttribute('aria-busy');
    view.snapshots++;
    document.body.dataset.snapshots = String(view.snapshots);
    const updated = document.getElementById('updated');
    if (snap.time_ms && updated) {
        setText(updated, new Date(snap.time_ms).toLocaleTimeString());
        updated.dateTime = new Date(snap.time_ms).toISOString();
    }
    tick();
}

function forEachRow(fn) {
    for (const s of view.servers.values()) {
        for (const lv of s.listeners.values()) lv.rows.forEach(fn);
    }
}

// Between snapshots, ages and uptimes go on counting here, from when the snapshot arrived.
function tick() {
    const now = performance.now();
    forEachRow((row) => {
        if (row.age != null) setText(row.c.age, fmtDuration(row.age + now - row.at));
    });
    for (const s of view.servers.values()) {
        setText(s.up, s.uptime ? `up ${fmtDuration(s.uptime.base + now - s.uptime.at)}` : '');
    }
}

// The status line is an aria-live region: it changes only when the state does, so a screen
// reader hears "live" or "reconnecting", not every snapshot.
function setStatus(state, text) {
    const p = document.getElementById('status');
    setData(p, 'state', state);
    setData(document.body, 'status', state);
    setText(document.getElementById('status-text'), text);
}

const parse = (data) => { try { return JSON.parse(data); } catch { return null; } };

function connect() {
    const es = new EventSource('/-/sockets/events');
    es.addEventListener('open', () => setStatus('live', 'live'));
    es.addEventListener('viewer', (e) => {
        const v = parse(e.data);
        if (!v) return;
        view.viewer = v;
        forEachRow(markViewer);
    });
    es.addEventListener('snapshot', (e) => {
        const snap = parse(e.data);
        if (!snap) return;
        apply(snap);
        setStatus('live', 'live');
    });
    es.addEventListener('error', () => {
        // The browser reconnects by itself unless the answer was not an event stream at all
        // (an error status, say); then the stream is closed and reopening it is up to us.
        // Before anything was drawn, the reason the first load failed stays on show.
        if (view.snapshots > 0 || document.body.dataset.status !== 'error') {
            setStatus('reconnecting', 'reconnecting…');
        }
        if (es.readyState === EventSource.CLOSED) {
            es.close();
            setTimeout(connect, RETRY_MS);
        }
    });
}

async function start() {
    try {
        const r = await fetch('/-/sockets.json', { cache: 'no-store' });
        if (!r.ok) throw new Error(`HTTP ${r.status}`);
        const snap = await r.json();
        if (view.snapshots === 0) {
            // Until the stream says which connection is ours, the one that fetched this is.
            view.viewer = view.viewer || snap.viewer || null;
            apply(snap);
        }
    } catch (err) {
        setStatus('error', `could not load /-/sockets.json (${err.message}); retrying…`);
    }
    connect();
    setInterval(tick, 1000);
}

start();
