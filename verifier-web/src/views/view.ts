import type { Api } from '../api.ts';
import type { PageConfig } from '../config.ts';

/** A page. `render` draws everything from the view's own state, so a language switch can redraw. */
export interface View {
  title(): string;
  render(main: HTMLElement): void;
  /** Called once after the first render: start loading. */
  start?(): void;
}

export interface ViewContext {
  api: Api;
  config: PageConfig;
  /** Absolute address of the current page, for QR codes. */
  pageUrl: string;
}
