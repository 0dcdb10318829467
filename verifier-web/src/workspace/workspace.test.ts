import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { routeOf } from '../router.ts';
import { asciiPunctuationBesideHan } from '../zh-punctuation.test.ts';
import { workspaceEn, workspaceZh } from './messages.ts';
import { type AuthConfig, challengeOf, endSessionUrl } from './oidc.ts';

describe("the inspector's workspace", () => {
  it('has every sentence in both languages, the Chinese with full-width punctuation', () => {
    expect(Object.keys(workspaceEn).sort()).toEqual(Object.keys(workspaceZh).sort());
    for (const [key, zh] of Object.entries(workspaceZh)) {
      expect(zh.trim(), key).not.toBe('');
      expect(asciiPunctuationBesideHan(zh), key).toEqual([]);
      // Placeholders agree, so neither language drops a fact.
      const names = (s: string) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
      expect(names(workspaceEn[key as keyof typeof workspaceEn]), key).toEqual(names(zh));
    }
  });

  it('makes the PKCE S256 challenge as RFC 7636 says (checked against node:crypto)', () => {
    for (let i = 0; i < 20; i++) {
      const verifier = randomBytes(48).toString('base64url');
      expect(challengeOf(verifier)).toBe(createHash('sha256').update(verifier).digest('base64url'));
    }
  });

  it('signs out at the provider only where it has an end-session endpoint, naming no token', () => {
    const config: AuthConfig = {
      signIn: true,
      authorizationEndpoint: 'https://idp.example/auth',
      tokenEndpoint: 'https://idp.example/token',
      clientId: 'lianzheng-workspace',
      scope: 'openid',
      development: false,
    };
    expect(endSessionUrl(config, 'https://gw.example')).toBeNull();
    const url = new URL(
      endSessionUrl(
        { ...config, endSessionEndpoint: 'https://idp.example/logout?ui=zh' },
        'https://gw.example',
      )!,
    );
    expect(url.origin + url.pathname).toBe('https://idp.example/logout');
    expect(Object.fromEntries(url.searchParams)).toEqual({
      ui: 'zh',
      client_id: 'lianzheng-workspace',
      post_logout_redirect_uri: 'https://gw.example/inspect',
    });
  });

  it('is served at /inspect and everything under it', () => {
    for (const path of ['/inspect', '/inspect/', '/inspect/callback', '/inspect/p/demo-620102-village-road'])
      expect(routeOf(path), path).toEqual({ page: 'workspace' });
    expect(routeOf('/inspector')).toEqual({ page: 'unknown' });
  });
});
