/**
 * Sets `key` in `map`, a cache of at most `max` entries: when it is full the oldest entry (the
 * first inserted) goes first, one at a time — clearing it all at once would make every lookup
 * miss together.
 */
export function setBounded<K, V>(map: Map<K, V>, key: K, value: V, max: number): void {
  if (map.size >= max) {
    const oldest = map.keys().next();
    if (!oldest.done) map.delete(oldest.value);
  }
  map.set(key, value);
}
