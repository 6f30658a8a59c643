import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ApiError, ERRORS, httpErrorBody, wsErrorFrame, type ErrorCode } from './errors.js';

const doc = readFileSync(new URL('../docs/errors.md', import.meta.url), 'utf8');

/** The rows of the table in docs/errors.md: code -> documented HTTP status. */
function documented(): Map<string, number> {
  const rows = new Map<string, number>();
  for (const line of doc.split('\n')) {
    const m = /^\|\s*`([a-z_]+)`\s*\|\s*(\d{3})\s*\|[^|]*\|\s*\S.*\|\s*$/.exec(line);
    if (m) rows.set(m[1]!, Number(m[2]));
  }
  return rows;
}

describe('the error catalogue', () => {
  const codes = Object.keys(ERRORS) as ErrorCode[];

  it.each(codes)('%s is documented in docs/errors.md with its status and when it is sent', (code) => {
    const rows = documented();
    expect(rows.has(code), `docs/errors.md has no row for ${code}`).toBe(true);
    expect(rows.get(code)).toBe(ERRORS[code][0]);
  });

  it('docs/errors.md documents no code the gateway does not have', () => {
    expect([...documented().keys()].sort()).toEqual([...codes].sort());
  });

  it('codes are snake_case and statuses are the contract\'s', () => {
    for (const [code, [status, message]] of Object.entries(ERRORS)) {
      expect(code).toMatch(/^[a-z]+(_[a-z]+)*$/);
      expect([400, 401, 403, 404, 405, 409, 413, 429, 500, 503]).toContain(status);
      expect(message.length).toBeGreaterThan(0);
    }
  });

  it('an ApiError renders as the contract\'s HTTP body and WebSocket frame', () => {
    const e = new ApiError('invalid_request', 'stock: too small', [{ path: 'stock', message: 'too small' }]);
    expect(e.status).toBe(400);
    expect(JSON.parse(httpErrorBody(e))).toEqual({ error: { code: 'invalid_request', message: 'stock: too small', details: [{ path: 'stock', message: 'too small' }] } });
    expect(JSON.parse(httpErrorBody(new ApiError('not_found')))).toEqual({ error: { code: 'not_found', message: ERRORS.not_found[1] } });
    expect(JSON.parse(wsErrorFrame(e))).toEqual({ type: 'error', code: 'invalid_request', message: 'stock: too small' });
  });
});
