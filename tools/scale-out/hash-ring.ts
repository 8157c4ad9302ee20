/**
 * A consistent-hash ring, the kind nginx builds for `hash $remote_addr consistent`: every
 * backend owns many points on a 32-bit circle and a key goes to the first point at or after
 * its hash. Adding a backend moves only the keys its new points take; removing one moves only
 * the keys it owned.
 */

/** Points per backend (nginx's ketama ring uses 160 per unit of weight). */
export const POINTS_PER_BACKEND = 160;

/** FNV-1a over the UTF-16 code units, then murmur3's finaliser to spread nearby keys. */
export function hash32(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

interface Point {
  at: number;
  backend: string;
}

export class HashRing {
  private points: Point[] = [];

  get backends(): string[] {
    return [...new Set(this.points.map((p) => p.backend))].sort();
  }

  add(backend: string): void {
    if (this.points.some((p) => p.backend === backend)) throw new RangeError(`${backend} is already on the ring`);
    for (let i = 0; i < POINTS_PER_BACKEND; i++) this.points.push({ at: hash32(`${backend}#${i}`), backend });
    // Ties broken by name so the ring does not depend on the order backends were added in.
    this.points.sort((a, b) => a.at - b.at || (a.backend < b.backend ? -1 : a.backend > b.backend ? 1 : 0));
  }

  remove(backend: string): void {
    const before = this.points.length;
    this.points = this.points.filter((p) => p.backend !== backend);
    if (this.points.length === before) throw new RangeError(`${backend} is not on the ring`);
  }

  /** The backend owning key, or null when the ring is empty. */
  lookup(key: string): string | null {
    if (this.points.length === 0) return null;
    const h = hash32(key);
    let lo = 0;
    let hi = this.points.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.points[mid]!.at < h) lo = mid + 1;
      else hi = mid;
    }
    return this.points[lo === this.points.length ? 0 : lo]!.backend;
  }
}
