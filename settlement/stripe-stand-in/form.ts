import qs from 'qs';
import { invalidRequest } from './errors.js';

export type FormValue = string | FormValue[] | { [key: string]: FormValue };
export type FormObject = { [key: string]: FormValue };

// The SDK numbers array items; a huge index would turn one short key into a giant sparse array.
const MAX_INDEX = 999;

/**
 * Decoding as stripe-node encodes (`qs.stringify` with its default indexed arrays, brackets left
 * unescaped): `a[0]=`, `a[]=`, nesting to Stripe's depth. Past any limit the request is refused, never
 * silently reshaped (qs's defaults would turn `a[100000]` into an object key and cut deep keys short).
 */
const QS_OPTIONS: qs.IParseOptions & { decoder: NonNullable<qs.IParseOptions['decoder']> } = {
  depth: 5,
  strictDepth: true,
  arrayLimit: MAX_INDEX + 1,
  parameterLimit: 1000,
  throwOnLimitExceeded: true,
  allowDots: false,
  // A repeated key keeps its last value, as Stripe does.
  duplicates: 'last',
  decoder: (text, decode, charset, type) => {
    const decoded = decode(text, decode, charset);
    if (type === 'key') checkName(decoded);
    return decoded;
  },
};

// A name, then bracketed segments and nothing else.
const KEY_SHAPE = /^[^[\]]+(?:\[[^[\]]*\])*$/;
// Segments that would reach Object.prototype (`a[__proto__][x]=1`); qs drops some of them silently.
const PROTOTYPE_SEGMENT = /(?:^|\[)(?:__proto__|prototype|constructor)(?:\]|$)/;

function checkName(key: string): void {
  if (!KEY_SHAPE.test(key) || PROTOTYPE_SEGMENT.test(key)) throw invalidRequest(`Invalid parameter name: ${key}`);
}

/**
 * Parses an `application/x-www-form-urlencoded` body (or query string) the way Stripe does:
 * `metadata[holdId]=h1` → `{metadata: {holdId: 'h1'}}`, `types[0]=card` → `{types: ['card']}`.
 */
export function parseForm(text: string): FormObject {
  let parsed: FormObject;
  try {
    parsed = qs.parse(text, QS_OPTIONS) as FormObject;
  } catch (err) {
    if (!(err instanceof RangeError)) throw err;
    throw invalidRequest(/Array limit/.test(err.message) ? `Array index too large (at most ${MAX_INDEX})` : `Invalid parameters: ${err.message}`);
  }
  checkConflicts(parsed, '');
  return parsed;
}

/**
 * `a=1&a[b]=2` gives one name a value and children at once: qs keeps both as an array of mixed items,
 * Stripe refuses the request.
 */
function checkConflicts(node: FormValue, path: string): void {
  if (typeof node === 'string') return;
  if (Array.isArray(node)) {
    if (node.some((v) => typeof v === 'string') && node.some((v) => typeof v !== 'string')) throw invalidRequest(`Conflicting values for ${path}`);
    node.forEach((v, i) => checkConflicts(v, `${path}[${i}]`));
    return;
  }
  for (const [k, v] of Object.entries(node)) checkConflicts(v, path ? `${path}[${k}]` : k);
}
