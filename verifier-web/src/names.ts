// Display names (issue #21): a villager reads 城关镇五星村村民委员会 and 路基, not
// demo-village-committee and m1-subgrade. Names come with the project (GET /v1/projects/{id});
// where there is none the id stands alone. The id stays on the page in small type beside a name,
// because an inspector quotes it.

import type { DisplayName, ProjectView } from './api.ts';
import { h } from './dom.ts';
import { getLang, t } from './i18n.ts';

/** The name in the page's language: English on the English page where one was given. */
export function pick(name: DisplayName | undefined): string | undefined {
  if (!name) return undefined;
  return getLang() === 'en' && name.en ? name.en : name.zh;
}

/** A name with its id beside it in small type; the id alone when there is no name. */
export function named(name: string | undefined, id: string, lang?: string): HTMLElement {
  if (!name || name === id) return h('span', { class: 'mono' }, id);
  return h(
    'span',
    { class: 'named' },
    h('span', { class: 'named-name', ...(lang ? { lang } : {}) }, name),
    ' ',
    h('small', { class: 'id-note mono', 'data-id': id }, t('names.idNote', { id })),
  );
}

function langOf(name: DisplayName | undefined, shown: string | undefined): string | undefined {
  if (!name || !shown) return undefined;
  return shown === name.en && shown !== name.zh ? 'en' : 'zh-CN';
}

/** An organisation by its display name (from the project's answer), with its id. */
export function orgNamed(project: ProjectView | undefined, org: string): HTMLElement {
  const name =
    project?.organisations?.[org] ?? (project?.ownerOrg === org ? project.ownerOrgName : undefined);
  const shown = pick(name);
  return named(shown, org, langOf(name, shown));
}

/** A milestone of the project by its display name, with its id; the id alone if unknown. */
export function milestoneNamed(project: ProjectView | undefined, id: string): HTMLElement {
  const m = project?.milestones?.find((x) => x.id === id);
  const name = m ? { zh: m.name, ...(m.nameEn ? { en: m.nameEn } : {}) } : undefined;
  const shown = pick(name);
  return named(shown, id, langOf(name, shown));
}

/** A milestone's display name in the page's language, for sentences (a flag's facts). */
export function milestoneNameOf(project: ProjectView | undefined): (id: string) => string | undefined {
  return (id) => {
    const m = project?.milestones?.find((x) => x.id === id);
    return m ? pick({ zh: m.name, ...(m.nameEn ? { en: m.nameEn } : {}) }) : undefined;
  };
}

/** The project's name in the page's language (Chinese when no English one was given). */
export function projectTitle(project: ProjectView): string {
  return pick({ zh: project.name, ...(project.nameEn ? { en: project.nameEn } : {}) }) ?? project.id;
}

/** The project's name in the other language, for a subtitle; undefined when there is none. */
export function projectSubtitle(project: ProjectView): { text: string; lang: string } | undefined {
  if (getLang() === 'en') return project.nameEn ? { text: project.name, lang: 'zh-CN' } : undefined;
  return project.nameEn ? { text: project.nameEn, lang: 'en' } : undefined;
}
