// Display names for `lianzheng verify` (issue #21): the summary says which project, organisation and
// milestone a record belongs to by name — 城关镇五星村村道硬化工程 [demo-620102-village-road] —
// with the id in brackets, as the page shows it in small type. Names come from the gateway's
// GET /v1/projects/{id}; without it (offline, an older gateway) the ids stand alone.

export interface Named {
  zh: string;
  en?: string;
}

export interface ProjectNames {
  id: string;
  name: Named;
  organisations: Record<string, Named>;
  milestones: Record<string, Named>;
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function named(zh: unknown, en: unknown): Named | undefined {
  if (typeof zh !== 'string' || zh === '') return undefined;
  return typeof en === 'string' && en !== '' ? { zh, en } : { zh };
}

/** The names in a GET /v1/projects/{id} answer; undefined when it is not one. */
export function parseProjectNames(body: unknown): ProjectNames | undefined {
  if (!isObj(body) || !isObj(body.project) || typeof body.project.id !== 'string') return undefined;
  const p = body.project;
  const name = named(p.name, p.nameEn);
  if (!name) return undefined;
  const organisations: Record<string, Named> = {};
  if (isObj(body.organisations)) {
    for (const [id, v] of Object.entries(body.organisations)) {
      const n = isObj(v) ? named(v.zh, v.en) : undefined;
      if (n) organisations[id] = n;
    }
  }
  const owner = isObj(p.ownerOrgName) ? named(p.ownerOrgName.zh, p.ownerOrgName.en) : undefined;
  if (typeof p.ownerOrg === 'string' && owner) organisations[p.ownerOrg] ??= owner;
  const milestones: Record<string, Named> = {};
  for (const m of Array.isArray(p.milestones) ? p.milestones : []) {
    const n = isObj(m) && typeof m.id === 'string' ? named(m.name, m.nameEn) : undefined;
    if (n && isObj(m)) milestones[m.id as string] = n;
  }
  return { id: body.project.id, name, organisations, milestones };
}

/** `中文名 / English name [id]`, or the id alone when there is no name. */
export function nameWithId(name: Named | undefined, id: string): string {
  if (!name) return id;
  return `${name.zh}${name.en ? ` / ${name.en}` : ''} [${id}]`;
}

/** The line under a verdict: the record's kind, project, submitter and milestone by name. */
export function recordLine(bundle: unknown, names: ProjectNames | undefined): string | undefined {
  if (!isObj(bundle) || !isObj(bundle.record)) return undefined;
  const r = bundle.record;
  if (typeof r.projectId !== 'string' || typeof r.kind !== 'string') return undefined;
  const org = isObj(r.submitter) && typeof r.submitter.org === 'string' ? r.submitter.org : undefined;
  const milestone =
    isObj(bundle.details) && typeof bundle.details.milestone === 'string'
      ? bundle.details.milestone
      : undefined;
  const parts = [
    `${r.kind} in ${nameWithId(names?.name, r.projectId)}`,
    ...(org ? [`submitted by ${nameWithId(names?.organisations[org], org)}`] : []),
    ...(milestone ? [`milestone ${nameWithId(names?.milestones[milestone], milestone)}`] : []),
  ];
  return `  record: ${parts.join(', ')}`;
}
