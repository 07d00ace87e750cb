/**
 * The versions this process knows are stored, per item key, for one partition it owns exclusively.
 *
 * Invariants (why the exclusive path may trust it, docs/design.md "Apply"):
 * - An entry is set only after the write it records is durable (BatchWriteItem returned it processed) or after a
 *   read of the stored item; while the owner is the key's only writer, the stored version cannot change behind it.
 * - `complete` means "a key without an entry has no item": set only when the partition was never owned before, the
 *   group started on a target holding no item of its sources, and consumption began at the partition's first offset.
 *   Any eviction, error of unknown outcome, mode switch or lease change clears it (reset) — never the reverse.
 */

/** undefined = unknown; null = known absent; bigint = the stored _v (−1 for an item without _v). */
export type KnownVersion = bigint | null | undefined;

/** Known stored versions of one owned partition's keys; see the invariants above. */
export class VersionCache {
  private readonly map = new Map<string, bigint | null>();
  private completeFlag = false;
  constructor(private readonly maxEntries = 500_000) {}

  get complete(): boolean {
    return this.completeFlag;
  }

  get size(): number {
    return this.map.size;
  }

  /** Declares that every key without an entry is absent (see the invariants for when this is true). */
  markComplete(): void {
    this.completeFlag = true;
  }

  lookup(keyId: string): KnownVersion {
    const v = this.map.get(keyId);
    if (v !== undefined) return v;
    return this.completeFlag ? null : undefined;
  }

  set(keyId: string, version: bigint | null): void {
    this.map.delete(keyId);
    this.map.set(keyId, version);
    if (this.map.size > this.maxEntries) {
      const oldest = this.map.keys().next().value as string;
      this.map.delete(oldest);
      this.completeFlag = false; // an evicted key would otherwise read as absent
    }
  }

  /** Forgets everything (errors of unknown outcome, lease or mode changes). */
  reset(): void {
    this.map.clear();
    this.completeFlag = false;
  }
}
