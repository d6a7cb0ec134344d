// Long-lived maps that must not grow with the life of a node: insertion order is age, the oldest go first.

/** Sets `key` to `value` as the newest entry, then drops the oldest entries beyond `max`. */
export function setNewest<K, V> (map: Map<K, V>, key: K, value: V, max: number): void {
  map.delete(key)
  map.set(key, value)
  while (map.size > max) map.delete(map.keys().next().value as K)
}

/** Notes `key` as seen at `now` (the newest entry), then drops entries older than `ttlMs` and the oldest beyond `max`. */
export function noteRecent<K> (map: Map<K, number>, key: K, now: number, ttlMs: number, max: number): void {
  setNewest(map, key, now, max)
  for (const [k, at] of map) {
    if (at > now - ttlMs) break
    map.delete(k)
  }
}
