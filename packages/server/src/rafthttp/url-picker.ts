/**
 * etcd's urlPicker: all requests to a peer go to one of its URLs until a request to it fails, then to
 * the next one, round robin.
 */
export class UrlPicker {
  private urls: URL[];
  private picked = 0;

  constructor(urls: readonly string[]) {
    this.urls = parseUrls(urls);
  }

  update(urls: readonly string[]): void {
    this.urls = parseUrls(urls);
    this.picked = 0;
  }

  pick(): URL {
    return this.urls[this.picked]!;
  }

  /** Moves on from `u` if it is still the picked URL (a concurrent failure may have moved already). */
  unreachable(u: URL): void {
    if (u.href === this.urls[this.picked]?.href) this.picked = (this.picked + 1) % this.urls.length;
  }
}

/** Parses peer URLs (etcd's types.NewURLs: http/https with a host:port, no path); throws on others. */
export function parseUrls(urls: readonly string[]): URL[] {
  if (urls.length === 0) throw new TypeError('no peer URLs given');
  return urls.map((s) => {
    const u = new URL(s);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') {
      throw new TypeError(`URL scheme must be http or https: ${s}`);
    }
    if (!u.port) throw new TypeError(`URL address does not have the form "host:port": ${s}`);
    return u;
  });
}
