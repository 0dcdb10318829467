import { describe, expect, it } from 'vitest';
import { resultPath, routeOf } from './router.ts';

describe('routeOf', () => {
  it('maps the four addresses the gateway serves', () => {
    expect(routeOf('/')).toEqual({ page: 'verify' });
    expect(routeOf('/index.html')).toEqual({ page: 'verify' });
    expect(routeOf('/r/0190d3c2-7b1e-7c3a-8f00-000000000001')).toEqual({
      page: 'certificate',
      id: '0190d3c2-7b1e-7c3a-8f00-000000000001',
    });
    expect(routeOf('/p/demo-road-1/')).toEqual({ page: 'project', id: 'demo-road-1' });
    expect(routeOf('/p/%E6%9D%91')).toEqual({ page: 'project', id: '村' });
    const sha = 'ab'.repeat(32);
    expect(routeOf(resultPath(sha))).toEqual({ page: 'verify', sha256: sha });
    expect(routeOf(`/v/${sha.toUpperCase()}/`)).toEqual({ page: 'verify', sha256: sha.toUpperCase() });
  });

  it('says unknown for anything else', () => {
    expect(routeOf('/x')).toEqual({ page: 'unknown' });
    expect(routeOf('/r/a/b')).toEqual({ page: 'unknown' });
    expect(routeOf('/v/a/b')).toEqual({ page: 'unknown' });
    expect(routeOf('/p/%E0%A4%A')).toEqual({ page: 'unknown' });
  });
});
