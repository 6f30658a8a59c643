import { invalidParam, missingParam, unknownParam } from './errors.js';
import type { FormObject, FormValue } from './form.js';

/** Stripe rejects parameters an endpoint does not know; so do we, so typos fail here and not in production. */
export function allowOnly(form: FormObject, allowed: readonly string[]): void {
  for (const key of Object.keys(form)) if (!allowed.includes(key)) throw unknownParam(key);
}

export function optionalString(form: FormObject, name: string): string | undefined {
  const v = form[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw invalidParam(name, `Invalid ${name}: must be a string`);
  return v;
}

export function requiredString(form: FormObject, name: string): string {
  const v = optionalString(form, name);
  if (v === undefined || v === '') throw missingParam(name);
  return v;
}

export function optionalInt(form: FormObject, name: string, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
  const v = optionalString(form, name);
  if (v === undefined) return undefined;
  if (!/^-?\d+$/.test(v)) throw invalidParam(name, `Invalid integer: ${v}`, 'parameter_invalid_integer');
  const n = Number(v);
  if (n < min) throw invalidParam(name, `This value must be greater than or equal to ${min}.`, 'parameter_invalid_integer');
  if (n > max) throw invalidParam(name, `This value must be less than or equal to ${max}.`, 'parameter_invalid_integer');
  return n;
}

export function optionalBoolean(form: FormObject, name: string): boolean | undefined {
  const v = optionalString(form, name);
  if (v === undefined) return undefined;
  if (v !== 'true' && v !== 'false') throw invalidParam(name, `Invalid boolean: ${v}`);
  return v === 'true';
}

export function optionalEnum<T extends string>(form: FormObject, name: string, values: readonly T[]): T | undefined {
  const v = optionalString(form, name);
  if (v === undefined) return undefined;
  if (!(values as readonly string[]).includes(v)) throw invalidParam(name, `Invalid ${name}: must be one of ${values.join(', ')}`);
  return v as T;
}

export function optionalStringArray(form: FormObject, name: string): string[] | undefined {
  const v = form[name];
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || !v.every((x): x is string => typeof x === 'string')) {
    throw invalidParam(name, `Invalid array: ${name} must be a list of strings`, 'parameter_invalid_array');
  }
  return v;
}

/** Stripe's metadata rules: up to 50 string pairs, keys ≤ 40 chars, values ≤ 500; '' unsets a key. */
export function metadata(form: FormObject): Record<string, string> {
  const v: FormValue | undefined = form.metadata;
  if (v === undefined || v === '') return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw invalidParam('metadata', 'Invalid object: metadata must be a hash');
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(v)) {
    if (typeof value !== 'string') throw invalidParam(`metadata[${key}]`, 'Metadata values must be strings.');
    if (key.length > 40) throw invalidParam(`metadata[${key}]`, 'Metadata keys can be at most 40 characters long.');
    if (value.length > 500) throw invalidParam(`metadata[${key}]`, 'Metadata values can be at most 500 characters long.');
    if (value !== '') out[key] = value;
  }
  if (Object.keys(out).length > 50) throw invalidParam('metadata', 'Metadata can have at most 50 keys.');
  return out;
}

export function automaticPaymentMethods(form: FormObject): { enabled: boolean } | null {
  const v = form.automatic_payment_methods;
  if (v === undefined) return null;
  if (typeof v !== 'object' || Array.isArray(v)) throw invalidParam('automatic_payment_methods', 'Invalid object: automatic_payment_methods');
  allowOnly(v, ['enabled', 'allow_redirects']);
  const enabled = optionalBoolean(v, 'enabled');
  if (enabled === undefined) throw missingParam('automatic_payment_methods[enabled]');
  return { enabled };
}
