/** Who is asking: from a bearer JWT, a partner API key, or nobody (`public`). */
export const ROLES = ['public', 'unit', 'partner', 'inspector', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export interface Principal {
  role: Role;
  /** The organisation a unit or partner acts for. */
  org?: string;
  /** The 6-digit administrative division code an inspector may read within. */
  region?: string;
  /** JWT `sub`, or `apikey:<id>` for a partner key. */
  subject?: string;
}

export const PUBLIC: Principal = Object.freeze({ role: 'public' }) as Principal;

/** The scope an Idempotency-Key is unique within: one caller's keys never collide with another's. */
export function idempotencyScope(p: Principal): string {
  return `${p.role}|${p.org ?? ''}|${p.subject ?? ''}`;
}
