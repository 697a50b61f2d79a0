// MemoryChat chat UI: plain ES module, no build step.
// - The bearer token lives in localStorage['memorychat.token']; the session in the URL hash (#session=<id>).
// - User text is always rendered with textContent (never innerHTML): `<script>` stays text.
// - Replies stream over fetch + ReadableStream (SSE); the assistant bubble carries data-state
//   streaming → done | error, so tests can wait on it without sleeps.
// - Fault `slow-render` (set by the server in a meta tag) switches to a naive renderer that
//   rebuilds the whole list on every state change and measures every bubble (forced layout).

const TOKEN_KEY = 'memorychat.token';
const HISTORY_LIMIT = 200;
/** slow-render: messages per "state update" while opening a chat. */
const SLOW_RENDER_BATCH = 2;

const faults = (document.querySelector('meta[name="memorychat-faults"]')?.getAttribute('content') ?? '')
  .split(',')
  .map((s) => s.trim())
  .filter(Boolean);
const slowRender = faults.includes('slow-render');

const $ = (id) => document.getElementById(id);
const els = {
  app: $('app'),
  auth: $('auth-panel'),
  authForm: $('auth-form'),
  authEmail: $('auth-email'),
  authName: $('auth-name'),
  banner: $('error-banner'),
  bannerText: $('error-text'),
  bannerClose: $('error-close'),
  sessions: $('session-list'),
  newSession: $('new-session'),
  title: $('session-title'),
  list: $('message-list'),
  composer: $('composer'),
  input: $('message-input'),
  send: $('send'),
  memoryForm: $('memory-search'),
  memoryQuery: $('memory-query'),
  memoryStatus: $('memory-status'),
  memoryResults: $('memory-results'),
};

/**
 * @typedef {{ id: number | null, role: string, content: string, state: string, error: string | null,
 *   node?: HTMLElement, contentNode?: HTMLElement }} ChatMessage
 */
/**
 * @type {{ token: string | null, sessionId: number | null, messages: ChatMessage[], streaming: boolean,
 *   loadSeq: number }}
 */
const state = { token: localStorage.getItem(TOKEN_KEY), sessionId: null, messages: [], streaming: false, loadSeq: 0 };

// ------------------------------------------------------------------ errors

function showError(message) {
  els.bannerText.textContent = message;
  els.banner.hidden = false;
}
function clearError() {
  els.banner.hidden = true;
  els.bannerText.textContent = '';
}
els.bannerClose.addEventListener('click', clearError);

// ------------------------------------------------------------------ API

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function api(path, { method = 'GET', body, auth = true } = {}) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (auth && state.token) headers.Authorization = `Bearer ${state.token}`;
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    /* not JSON */
  }
  if (!res.ok) {
    const err = data && data.error ? data.error : { code: 'http_' + res.status, message: text || res.statusText };
    if (res.status === 401 && auth) signOut('Your token is not valid on this server; create a user to continue.');
    throw new ApiError(res.status, err.code, err.message);
  }
  return data;
}

// ------------------------------------------------------------------ auth

function signOut(message) {
  localStorage.removeItem(TOKEN_KEY);
  state.token = null;
  els.app.hidden = true;
  els.auth.hidden = false;
  if (message) showError(message);
}

els.authForm.addEventListener('submit', async (ev) => {
  ev.preventDefault();
  clearError();
  try {
    const out = await api('/api/users', {
      method: 'POST',
      auth: false,
      body: { email: els.authEmail.value.trim(), displayName: els.authName.value.trim() },
    });
    localStorage.setItem(TOKEN_KEY, out.token);
    state.token = out.token;
    await start();
  } catch (err) {
    showError(`Could not create the user: ${err.message}`);
  }
});

// ------------------------------------------------------------------ sessions

function sessionFromHash() {
  const m = /(?:^#|&)session=(\d+)/.exec(location.hash);
  return m ? Number(m[1]) : null;
}

async function loadSessions() {
  const page = await api('/api/sessions?limit=50');
  els.sessions.replaceChildren(...page.sessions.map(sessionItem));
  markCurrentSession();
}

function sessionItem(s) {
  const li = document.createElement('li');
  const b = document.createElement('button');
  b.type = 'button';
  b.className = 'session-item';
  b.dataset.testid = 'session-item';
  b.dataset.sessionId = String(s.id);
  b.textContent = s.title || `Chat ${s.id}`;
  b.title = b.textContent;
  b.addEventListener('click', () => {
    location.hash = `session=${s.id}`;
  });
  li.append(b);
  return li;
}

function markCurrentSession() {
  for (const b of els.sessions.querySelectorAll('.session-item')) {
    b.setAttribute('aria-current', String(Number(b.dataset.sessionId) === state.sessionId));
  }
}

/** Creates a chat and makes it the current one (empty: no need to load it). */
async function createSession() {
  const s = await api('/api/sessions', { method: 'POST', body: {} });
  els.sessions.prepend(sessionItem(s));
  state.loadSeq++;
  state.sessionId = s.id;
  if (!state.streaming) {
    state.messages = [];
    renderAll();
  }
  els.title.textContent = s.title || `Chat ${s.id}`;
  markCurrentSession();
  // hashchange will see the session is already current and not reload it.
  location.hash = `session=${s.id}`;
  return s;
}

els.newSession.addEventListener('click', () => {
  clearError();
  createSession().catch((err) => showError(`Could not create a chat: ${err.message}`));
});

async function openSession(id) {
  const seq = ++state.loadSeq;
  state.sessionId = id;
  markCurrentSession();
  if (id === null) {
    state.messages = [];
    els.title.textContent = 'MemoryChat';
    renderAll();
    return;
  }
  try {
    const [session, page] = await Promise.all([
      api(`/api/sessions/${id}`),
      api(`/api/sessions/${id}/messages?limit=${HISTORY_LIMIT}`),
    ]);
    if (seq !== state.loadSeq) return;
    els.title.textContent = session.title || `Chat ${session.id}`;
    const messages = page.messages.slice().reverse().map(fromApi);
    if (slowRender) {
      // The regression: messages are added in small "state updates", each one re-rendering and
      // re-measuring the whole list.
      state.messages = [];
      for (let i = 0; i < messages.length; i += SLOW_RENDER_BATCH) {
        state.messages.push(...messages.slice(i, i + SLOW_RENDER_BATCH));
        renderAllSlow(true);
      }
    } else {
      state.messages = messages;
      renderAll();
    }
    scrollToBottom(true);
  } catch (err) {
    if (seq !== state.loadSeq) return;
    state.messages = [];
    renderAll();
    showError(
      err.status === 404 ? `Chat ${id} does not exist (or is not yours).` : `Could not load the chat: ${err.message}`,
    );
  }
}

function fromApi(m) {
  return {
    id: m.id,
    role: m.role,
    content: m.content,
    error: m.error,
    state: m.status === 'complete' ? 'done' : m.status,
  };
}

window.addEventListener('hashchange', () => {
  const id = sessionFromHash();
  if (id !== state.sessionId) void openSession(id);
});

// ------------------------------------------------------------------ rendering

function messageNode(m) {
  const node = document.createElement('div');
  node.className = 'message';
  node.dataset.testid = 'message';
  node.dataset.role = m.role;
  node.dataset.state = m.state;
  if (m.id !== null) node.dataset.messageId = String(m.id);
  const content = document.createElement('div');
  content.className = 'message-content';
  content.dataset.testid = 'message-content';
  content.textContent = m.content;
  node.append(content);
  if (m.state === 'error' && m.error) {
    const e = document.createElement('div');
    e.className = 'message-error';
    e.textContent = m.error;
    node.append(e);
  }
  m.node = node;
  m.contentNode = content;
  return node;
}

/** Normal renderer: build once, then patch single bubbles. */
function renderAll() {
  const frag = document.createDocumentFragment();
  for (const m of state.messages) frag.append(messageNode(m));
  els.list.replaceChildren(frag);
}

/**
 * slow-render fault: rebuild the whole list from scratch; with `measureEach`, also measure every
 * bubble right after inserting it (a DOM write then a layout read: one forced synchronous layout
 * per message).
 */
function renderAllSlow(measureEach = false) {
  els.list.replaceChildren();
  for (const m of state.messages) {
    const node = messageNode(m);
    els.list.append(node);
    if (measureEach) {
      node.style.minHeight = '';
      const height = node.getBoundingClientRect().height;
      node.style.minHeight = `${Math.ceil(height)}px`;
    }
  }
  els.list.scrollTop = els.list.scrollHeight;
}

function update(m) {
  if (slowRender) {
    renderAllSlow();
    return;
  }
  if (!m.node) {
    els.list.append(messageNode(m));
    return;
  }
  m.node.dataset.state = m.state;
  if (m.id !== null) m.node.dataset.messageId = String(m.id);
  if (m.contentNode.textContent !== m.content) m.contentNode.textContent = m.content;
  if (m.state === 'error' && m.error && !m.node.querySelector('.message-error')) {
    const e = document.createElement('div');
    e.className = 'message-error';
    e.textContent = m.error;
    m.node.append(e);
  }
}

let scrollQueued = false;
function scrollToBottom(now = false) {
  if (now) {
    els.list.scrollTop = els.list.scrollHeight;
    return;
  }
  if (scrollQueued) return;
  scrollQueued = true;
  requestAnimationFrame(() => {
    scrollQueued = false;
    els.list.scrollTop = els.list.scrollHeight;
  });
}

// ------------------------------------------------------------------ chat

/** Parses an SSE byte stream into {event, data} objects. */
async function* sseEvents(body) {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let cut;
    while ((cut = buffer.indexOf('\n\n')) !== -1) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      let event = 'message';
      const data = [];
      for (const line of block.split('\n')) {
        if (line.startsWith('event:')) event = line.slice(6).trim();
        else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
      }
      if (data.length > 0) yield { event, data: JSON.parse(data.join('\n')) };
    }
  }
}

async function sendMessage(text) {
  if (state.streaming) return;
  clearError();
  state.streaming = true;
  els.send.disabled = true;
  const user = { id: null, role: 'user', content: text, state: 'done', error: null };
  const reply = { id: null, role: 'assistant', content: '', state: 'streaming', error: null };
  try {
    if (state.sessionId === null) await createSession();
    state.messages.push(user, reply);
    update(user);
    update(reply);
    scrollToBottom();
    const res = await fetch(`/api/sessions/${state.sessionId}/messages`, {
      method: 'POST',
      headers: {
        'Content-Type': 'application/json',
        Accept: 'text/event-stream',
        Authorization: `Bearer ${state.token}`,
      },
      body: JSON.stringify({ content: text, stream: true }),
    });
    if (!res.ok || !res.body) {
      let message = `${res.status} ${res.statusText}`;
      try {
        message = (await res.json()).error.message;
      } catch {
        /* keep status */
      }
      throw new Error(message);
    }
    let finished = false;
    for await (const ev of sseEvents(res.body)) {
      if (ev.event === 'meta') {
        user.id = ev.data.userMessageId;
        reply.id = ev.data.assistantMessageId;
        update(user);
        update(reply);
      } else if (ev.event === 'token') {
        reply.content += ev.data.delta;
        if (slowRender) update(reply);
        else reply.contentNode.append(ev.data.delta);
        scrollToBottom();
      } else if (ev.event === 'done') {
        reply.content = ev.data.message.content;
        reply.state = 'done';
        update(reply);
        finished = true;
      } else if (ev.event === 'error') {
        reply.state = 'error';
        reply.error = ev.data.error.message;
        update(reply);
        showError(`The reply failed: ${ev.data.error.message}`);
        finished = true;
      }
    }
    if (!finished) throw new Error('the connection closed before the reply finished');
  } catch (err) {
    reply.state = 'error';
    reply.error = err.message;
    if (state.messages.includes(reply)) update(reply);
    showError(`The reply failed: ${err.message}`);
  } finally {
    state.streaming = false;
    els.send.disabled = false;
    scrollToBottom();
  }
}

els.composer.addEventListener('submit', (ev) => {
  ev.preventDefault();
  const text = els.input.value;
  if (text.trim() === '' || state.streaming) return;
  els.input.value = '';
  void sendMessage(text);
});

els.input.addEventListener('keydown', (ev) => {
  if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) {
    ev.preventDefault();
    els.composer.requestSubmit();
  }
});

// ------------------------------------------------------------------ memories

els.memoryForm.addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const q = els.memoryQuery.value.trim();
  if (q === '') return;
  clearError();
  els.memoryStatus.textContent = 'Searching…';
  try {
    const out = await api(`/api/memories/search?q=${encodeURIComponent(q)}&limit=20`);
    const items = out.results.map((r) => {
      const li = document.createElement('li');
      li.className = 'memory-result';
      li.dataset.testid = 'memory-result';
      li.dataset.memoryId = String(r.memory.id);
      li.textContent = r.memory.content;
      const meta = document.createElement('small');
      meta.textContent = `score ${r.score.toFixed(3)} · ${new Date(r.memory.createdAt).toLocaleDateString()}`;
      li.append(meta);
      return li;
    });
    els.memoryResults.replaceChildren(...items);
    els.memoryStatus.textContent =
      items.length === 0
        ? 'No memories found.'
        : `${items.length} result${items.length === 1 ? '' : 's'} (${out.mode})`;
  } catch (err) {
    els.memoryResults.replaceChildren();
    els.memoryStatus.textContent = '';
    showError(`Memory search failed: ${err.message}`);
  }
});

// ------------------------------------------------------------------ start

async function start() {
  if (!state.token) {
    els.auth.hidden = false;
    els.app.hidden = true;
    return;
  }
  els.auth.hidden = true;
  els.app.hidden = false;
  const opening = openSession(sessionFromHash());
  try {
    await loadSessions();
  } catch (err) {
    if (err.status !== 401) showError(`Could not load your chats: ${err.message}`);
  }
  await opening;
  els.input.focus();
}

void start();
