/** k6's b64encode: 'std' (padded), 'rawstd', 'url' (padded), 'rawurl'. */
export function b64encode(input: string | ArrayBuffer, encoding: string = 'std'): string {
  const b = typeof input === 'string' ? Buffer.from(input, 'utf8') : Buffer.from(input);
  const std = b.toString('base64');
  switch (encoding) {
    case 'std': return std;
    case 'rawstd': return std.replace(/=+$/, '');
    case 'url': return std.replace(/\+/g, '-').replace(/\//g, '_');
    case 'rawurl': return b.toString('base64url');
    default: throw new Error(`the k6 shim's b64encode has no encoding ${encoding}`);
  }
}

export function b64decode(input: string, encoding: string = 'std', format?: 's'): string | ArrayBuffer {
  const b = Buffer.from(input, encoding.includes('url') ? 'base64url' : 'base64');
  return format === 's' ? b.toString('utf8') : (Uint8Array.prototype.slice.call(b).buffer);
}

export default { b64encode, b64decode };
