// The addresses the gateway serves this page at. Anything else shows "no such page" rather than a
// blank screen. `/v/{sha256}` is a digest's result, to share: the verifier opens on it at once.

export type Route =
  | { page: 'verify'; sha256?: string }
  | { page: 'certificate'; id: string }
  | { page: 'project'; id: string }
  | { page: 'workspace' }
  | { page: 'unknown' };

export function routeOf(pathname: string): Route {
  const path = pathname.replace(/\/+$/, '') || '/';
  if (path === '/' || path === '/index.html') return { page: 'verify' };
  // The inspector's workspace routes inside itself (workspace/view.ts).
  if (path === '/inspect' || path.startsWith('/inspect/')) return { page: 'workspace' };
  const m = /^\/(r|p|v)\/([^/]+)$/.exec(path);
  if (m) {
    let id: string;
    try {
      id = decodeURIComponent(m[2]!);
    } catch {
      return { page: 'unknown' };
    }
    if (m[1] === 'v') return { page: 'verify', sha256: id };
    return m[1] === 'r' ? { page: 'certificate', id } : { page: 'project', id };
  }
  return { page: 'unknown' };
}

/** The shareable address of a digest's result. */
export function resultPath(sha256: string): string {
  return `/v/${sha256}`;
}
