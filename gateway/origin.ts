/**
 * Which page origins may open a buyer WebSocket or call the operator API (contract: `ALLOWED_ORIGINS`).
 *
 * Browsers put `Origin` on every WebSocket upgrade and on cross-origin (and non-GET) fetches, and a page
 * cannot forge it; apps, k6 and curl send none. So a request without `Origin` is allowed (it is not a
 * page acting with a visitor's browser), and one with an `Origin` is allowed only from a trusted page.
 *
 * - `ALLOWED_ORIGINS` set: exactly the listed origins (compared case-insensitively). The gateway's own
 *   origin is not added: list it if the gateway's own buyer page and console are used. A strict list
 *   also shuts out DNS rebinding (a hostile name pointed at the gateway makes `Origin` and `Host` agree).
 * - Unset: only the gateway's own origin, i.e. `http://<Host>` or `https://<Host>` with the request's
 *   `Host` header. Either scheme is accepted because behind a TLS-terminating proxy the gateway cannot
 *   know which one the browser used. `X-Forwarded-Proto` is deliberately not read: without a proxy any
 *   client sets it, and accepting both schemes already covers what it would tell.
 */
export type OriginCheck = (origin: string, host: string) => boolean;

/** `http://a:80` and `http://a` are one origin (browsers send the latter); likewise `https://a:443`. */
function withoutDefaultPort(origin: string): string {
  if (origin.startsWith('http://') && origin.endsWith(':80')) return origin.slice(0, -3);
  if (origin.startsWith('https://') && origin.endsWith(':443')) return origin.slice(0, -4);
  return origin;
}

/** `origin` and `host` are the raw header values, `''` when absent (as uWS's getHeader gives them). */
export function originCheck(allowed: readonly string[] | undefined): OriginCheck {
  if (allowed !== undefined) {
    const listed = new Set(allowed.map((o) => withoutDefaultPort(o.toLowerCase())));
    return (origin) => origin === '' || listed.has(withoutDefaultPort(origin.toLowerCase()));
  }
  return (origin, host) => {
    if (origin === '') return true;
    // No Host (HTTP/1.0) or an odd one: nothing to be the same origin as.
    if (host === '' || /[\s/@]/.test(host)) return false;
    const o = withoutDefaultPort(origin.toLowerCase());
    const h = host.toLowerCase();
    return o === withoutDefaultPort(`http://${h}`) || o === withoutDefaultPort(`https://${h}`);
  };
}
