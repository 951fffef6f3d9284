/**
 * A small memo for parsed versions. Matching compares the same few strings (an installed
 * version, the events of its advisories) many times; parsing them once saves most of the work.
 * The cache forgets everything when it is full, which keeps memory bounded without LRU upkeep.
 */
export class ParseCache<V> {
  private readonly map = new Map<string, V>();
  private readonly limit: number;

  constructor(limit = 50_000) {
    this.limit = limit;
  }

  get(key: string, parse: (key: string) => V): V {
    const hit = this.map.get(key);
    if (hit !== undefined || this.map.has(key)) return hit as V;
    const value = parse(key);
    if (this.map.size >= this.limit) this.map.clear();
    this.map.set(key, value);
    return value;
  }
}
