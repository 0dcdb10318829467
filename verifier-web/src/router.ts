// The three addresses the gateway serves this page at. Anything else shows "no such page" rather
// than a blank screen.

export type Route =
  | { page: 'verify' }
  | { page: 'certificate'; id: string }
  | { page: 'project'; id: string }
  | { page: 'unknown' };

export function routeOf(pathname: string): Route {
  const path = pathname.replace(/\/+$/, '') || '/';
  if (path === '/' || path === '/index.html') return { page: 'verify' };
  const m = /^\/(r|p)\/([^/]+)$/.exec(path);
  if (m) {
    let id: string;
    try {
      id = decodeURIComponent(m[2]!);
    } catch {
      return { page: 'unknown' };
    }
    return m[1] === 'r' ? { page: 'certificate', id } : { page: 'project', id };
  }
  return { page: 'unknown' };
}
