// One polite live region for the whole page: views announce a short sentence when something
// finishes (a verdict, an error), instead of making a large region live and having a screen reader
// read every card aloud.

let region: HTMLElement | null = null;

export function mountAnnouncer(parent: HTMLElement): void {
  region = document.createElement('div');
  region.id = 'announcer';
  region.className = 'visually-hidden';
  region.setAttribute('role', 'status');
  region.setAttribute('aria-live', 'polite');
  parent.append(region);
}

export function announce(text: string): void {
  if (!region) return;
  // Clearing first makes a repeated sentence be announced again.
  region.textContent = '';
  const r = region;
  setTimeout(() => {
    r.textContent = text;
  }, 50);
}
