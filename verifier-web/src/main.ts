// The page's entry: builds the header (brand, language switch), picks the view for the address and
// draws it. Everything happens after DOMContentLoaded; nothing here is inline in the HTML, so the
// CSP can forbid inline scripts altogether.

import './styles.css';
import { mountAnnouncer } from './announce.ts';
import { createApi } from './api.ts';
import { readConfig } from './config.ts';
import { h, setChildren } from './dom.ts';
import { detectLang, getLang, type Lang, setLang, t } from './i18n.ts';
import { routeOf } from './router.ts';
import { CertificateView } from './views/certificate.ts';
import { ProjectPage } from './views/project.ts';
import { VerifyView } from './views/verify.ts';
import type { View, ViewContext } from './views/view.ts';
import { WorkspaceView } from './workspace/view.ts';

function storage(): Storage | null {
  try {
    return window.localStorage;
  } catch {
    return null;
  }
}

class NotFoundView implements View {
  title() {
    return t('app.title');
  }
  render(main: HTMLElement) {
    setChildren(
      main,
      h('h1', null, t('app.notFoundPage')),
      h('p', null, h('a', { href: '/' }, t('app.home'))),
    );
  }
}

function boot(): void {
  setLang(detectLang(location.search, storage()), null);
  const config = readConfig();
  const ctx: ViewContext = {
    api: createApi(config.timeoutMs),
    config,
    pageUrl: `${location.origin}${location.pathname}`,
  };
  const route = routeOf(location.pathname);
  const view: View =
    route.page === 'verify'
      ? new VerifyView(ctx, route.sha256)
      : route.page === 'certificate'
        ? new CertificateView(ctx, route.id)
        : route.page === 'project'
          ? new ProjectPage(ctx, route.id)
          : route.page === 'workspace'
            ? new WorkspaceView(ctx)
            : new NotFoundView();
  document.documentElement.dataset.page = route.page;

  const header = document.getElementById('site-header')!;
  const main = document.getElementById('main')!;
  const skip = document.querySelector<HTMLAnchorElement>('.skip-link');
  const footer = h('footer', { class: 'site-footer' });
  document.body.append(footer);
  mountAnnouncer(document.body);

  // A drop that misses the drop zone would make the browser open the file and leave the page.
  window.addEventListener('dragover', (e) => e.preventDefault());
  window.addEventListener('drop', (e) => e.preventDefault());

  const draw = (focusSwitch: boolean) => {
    const lang = getLang();
    document.documentElement.lang = lang;
    document.title = view.title();
    if (skip) skip.textContent = t('app.skip');
    const switchTo: Lang = lang === 'en' ? 'zh-CN' : 'en';
    const langButton = h(
      'button',
      {
        type: 'button',
        class: 'lang-switch',
        id: 'lang-switch',
        lang: switchTo,
        'aria-label': t('app.langSwitchLabel'),
      },
      t('app.langSwitch'),
    );
    langButton.addEventListener('click', () => {
      setLang(switchTo, storage());
      draw(true);
    });
    setChildren(
      header,
      h(
        'a',
        { href: '/', class: 'brand' },
        h('span', { class: 'brand-mark', 'aria-hidden': 'true' }, '链'),
        h(
          'span',
          { class: 'brand-text' },
          h('span', { class: 'brand-name' }, t('app.brand')),
          h('span', { class: 'brand-tagline' }, t('app.tagline')),
        ),
      ),
      langButton,
    );
    view.render(main);
    setChildren(
      footer,
      !window.isSecureContext ? h('p', { class: 'note note-warn' }, t('app.insecure')) : null,
      h('p', null, t('app.footer')),
    );
    if (focusSwitch) document.getElementById('lang-switch')?.focus();
  };
  draw(false);
  view.start?.();
  document.documentElement.dataset.ready = 'true';
  performance.mark('lianzheng-ready');
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', boot);
else boot();
