// The result pages' small "advanced / 高级" area: the reader's own EVM JSON-RPC endpoint, which the
// anchor step then reads the chain from instead of the operator's proxy. Closed by default (most
// readers never need it), open when an endpoint is in use or the address's `?rpc=` was refused, so
// the reader sees which way the chain was read. Choosing or clearing an endpoint re-runs the checks.

import { checkRpcUrl, currentRpcUrl, rpcFromAddress, rpcHost, setRpcUrl } from '../chain-rpc.ts';
import { h } from '../dom.ts';
import { t } from '../i18n.ts';

export function chainSettings(onChange: () => void): HTMLElement {
  const current = currentRpcUrl();
  const refused = current === undefined && rpcFromAddress() !== undefined;
  let error: string | null = refused ? t('settings.badAddress') : null;

  const input = h('input', {
    type: 'url',
    id: 'rpc-input',
    name: 'rpc',
    class: 'text-input mono',
    autocomplete: 'off',
    autocapitalize: 'off',
    spellcheck: 'false',
    maxlength: 2048,
    placeholder: 'https://…',
    'aria-describedby': 'rpc-hint',
    value: current ?? '',
  });
  const errorLine = h('p', { class: 'field-error', id: 'rpc-error', role: 'alert', hidden: !error }, error);
  const form = h(
    'form',
    { class: 'rpc-form', id: 'rpc-form', novalidate: true },
    h('label', { for: 'rpc-input', class: 'paste-label' }, t('settings.rpcLabel')),
    h(
      'div',
      { class: 'paste-row' },
      input,
      h('button', { type: 'submit', class: 'button', id: 'rpc-apply' }, t('settings.apply')),
    ),
    errorLine,
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const checked = checkRpcUrl(input.value);
    if (!checked.ok) {
      error = t(`settings.error.${checked.problem}`);
      errorLine.textContent = error;
      errorLine.hidden = false;
      input.setAttribute('aria-invalid', 'true');
      input.focus();
      return;
    }
    setRpcUrl(checked.url);
    onChange();
  });
  const clear = h(
    'button',
    { type: 'button', class: 'button', id: 'rpc-clear', hidden: current === undefined },
    t('settings.clear'),
  );
  clear.addEventListener('click', () => {
    setRpcUrl(undefined);
    onChange();
  });
  return h(
    'details',
    {
      class: 'chain-settings',
      id: 'chain-settings',
      open: current !== undefined || refused,
      'data-rpc': current ? 'node' : 'proxy',
    },
    h('summary', null, t('settings.summary')),
    h(
      'p',
      { class: 'note', id: 'rpc-current' },
      current ? t('settings.currentNode', { node: rpcHost(current) }) : t('settings.currentProxy'),
    ),
    form,
    clear,
    h('p', { class: 'hint', id: 'rpc-hint' }, t('settings.rpcHint')),
  );
}
