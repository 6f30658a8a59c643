import { createHash, createHmac } from 'node:crypto';

/** k6's output encodings: hex, base64 (padded), base64url (padded), base64rawurl / base64raw (unpadded), binary. */
function encode(d: Buffer, enc: string): string | ArrayBuffer {
  switch (enc) {
    case 'hex': return d.toString('hex');
    case 'base64': return d.toString('base64');
    case 'base64raw': return d.toString('base64').replace(/=+$/, '');
    case 'base64rawurl': return d.toString('base64url');
    case 'base64url': {
      const s = d.toString('base64url');
      return s + '='.repeat((4 - (s.length % 4)) % 4);
    }
    case 'binary': return Uint8Array.prototype.slice.call(d).buffer;
    default: throw new Error(`the k6 shim's crypto has no output encoding ${enc}`);
  }
}

const input = (x: string | ArrayBuffer) => (typeof x === 'string' ? x : Buffer.from(x));

export function hmac(alg: string, secret: string | ArrayBuffer, data: string | ArrayBuffer, enc: string): string | ArrayBuffer {
  return encode(createHmac(alg, input(secret)).update(input(data)).digest(), enc);
}

export function sha256(data: string | ArrayBuffer, enc: string): string | ArrayBuffer {
  return encode(createHash('sha256').update(input(data)).digest(), enc);
}

export function sha1(data: string | ArrayBuffer, enc: string): string | ArrayBuffer {
  return encode(createHash('sha1').update(input(data)).digest(), enc);
}

export function md5(data: string | ArrayBuffer, enc: string): string | ArrayBuffer {
  return encode(createHash('md5').update(input(data)).digest(), enc);
}

export default { hmac, sha256, sha1, md5 };
