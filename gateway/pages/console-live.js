// The console's live channel: GET /v1/admin/live read with fetch (so the admin token stays in the
// Authorization header, never in a URL), Server-Sent Events parsed by hand, and a reconnect loop with
// exponential backoff and full jitter.
'use strict';
(() => {
  /** Calls onEvent(type, data) for every event; onState(state, text) as the stream comes and goes. */
  function open({ token, onEvent, onState, onRefused }) {
    let closed = false;
    let ctl = null;
    (async () => {
      let attempt = 0;
      while (!closed) {
        ctl = new AbortController();
        try {
          onState('connecting', 'Connecting…');
          const res = await fetch('/v1/admin/live', { headers: { authorization: 'Bearer ' + token }, signal: ctl.signal });
          if (res.status === 401) return onRefused();
          if (!res.ok || !res.body) throw new Error('live channel answered ' + res.status);
          attempt = 0;
          await readEvents(res.body.getReader(), onEvent);
        } catch {
          if (closed) return;
        }
        const delay = Math.min(15_000, 500 * 2 ** attempt++) * (0.5 + Math.random());
        onState('retrying', 'Live channel lost — retrying in ' + Math.ceil(delay / 1000) + ' s');
        await new Promise((r) => setTimeout(r, delay));
      }
    })();
    return { close: () => { closed = true; if (ctl) ctl.abort(); } };
  }

  async function readEvents(reader, onEvent) {
    const decoder = new TextDecoder();
    let buf = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buf += decoder.decode(value, { stream: true });
      let end;
      while ((end = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, end);
        buf = buf.slice(end + 2);
        const ev = /^event: (.*)$/m.exec(block);
        const data = /^data: (.*)$/m.exec(block);
        if (ev && data) onEvent(ev[1], JSON.parse(data[1]));
      }
    }
  }

  window.FlashSaleLive = { open };
})();
