/** Small HTTP helpers that reproduce Go net/http's answers byte for byte where peers compare them. */
import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * Go's http.Error: text/plain body with a trailing newline, nosniff. Headers already set on `res`
 * (X-Etcd-Cluster-ID) are kept.
 */
export function writeGoError(res: ServerResponse, status: number, text: string): void {
  const body = `${text}\n`;
  res.writeHead(status, {
    'Content-Type': 'text/plain; charset=utf-8',
    'X-Content-Type-Options': 'nosniff',
    'Content-Length': Buffer.byteLength(body),
  });
  res.end(body);
}

/** etcd's httptypes.HTTPError.WriteTo: `{"message":"..."}` as application/json. */
export function writeJsonError(res: ServerResponse, status: number, message: string): void {
  const body = JSON.stringify({ message });
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

/** A single request header as a string ('' when absent), like Go's Header.Get. */
export function header(req: IncomingMessage, name: string): string {
  const v = req.headers[name.toLowerCase()];
  return Array.isArray(v) ? (v[0] ?? '') : (v ?? '');
}

/**
 * Parses a member id in etcd's hex form (types.IDFromString): any uint64, exact. Returns undefined when
 * it is not 1-16 hex digits.
 */
export function parseIdHex(s: string): bigint | undefined {
  return /^[0-9a-fA-F]{1,16}$/.test(s) ? BigInt(`0x${s}`) : undefined;
}

/** Reads a whole body up to `limit` bytes; rejects past it. */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let n = 0;
    req.on('data', (c: Buffer) => {
      n += c.length;
      if (n > limit) {
        req.destroy();
        reject(new Error(`body larger than ${limit} bytes`));
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
    req.on('aborted', () => reject(new Error('request aborted')));
  });
}
