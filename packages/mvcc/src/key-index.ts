/**
 * The in-memory key index: for each key, its generations of revisions (a generation runs from a create
 * to a delete). Mirrors etcd's keyIndex/treeIndex so lookups at any revision, compaction and "keep" sets
 * behave exactly alike. Revisions are kept as flat `[main, sub, main, sub, ...]` number arrays to keep
 * memory per key small.
 */
import { BTree, bytesToKey, keyToBytes, type WalkRange } from './btree.js';

/** A revision pair as a map key: `${main}_${sub}`. */
export function revId(main: number, sub: number): string {
  return `${main}_${sub}`;
}

/** A run of revisions from a key's creation to its deletion (or the head). */
export class Generation {
  constructor(
    /** Number of puts (and the closing tombstone) since creation, counting compacted ones. */
    public ver: number,
    public createdMain: number,
    /** Flat [main, sub] pairs, ascending. */
    public revs: number[],
  ) {}

  get empty(): boolean {
    return this.revs.length === 0;
  }

  /** Index (in pairs) of the newest revision with main <= atRev, or -1. */
  newestAtOrBelow(atRev: number): number {
    for (let i = this.revs.length - 2; i >= 0; i -= 2) if (this.revs[i]! <= atRev) return i / 2;
    return -1;
  }

  lastMain(): number {
    return this.revs[this.revs.length - 2]!;
  }
}

/** What a key looked like at a revision. */
export interface IndexHit {
  modMain: number;
  modSub: number;
  createdMain: number;
  version: number;
}

/** One key's history (the key itself is the tree key, stored once as a latin1 string). */
export class KeyIndex {
  generations: Generation[] = [new Generation(0, 0, [])];
  modMain = 0;
  modSub = 0;

  /** Re-creates the state of a key whose older revisions were compacted away (used when rebuilding). */
  restore(createdMain: number, main: number, sub: number, ver: number): void {
    this.generations = [new Generation(ver, createdMain, [main, sub])];
    this.modMain = main;
    this.modSub = sub;
  }

  put(main: number, sub: number): void {
    const g = this.generations[this.generations.length - 1]!;
    if (g.empty) {
      g.createdMain = main;
      // An exact-size literal: push() on an empty array reserves room for 17 numbers, ~130 bytes per key
      // that most keys (written once or a few times) never use.
      g.revs = [main, sub];
    } else g.revs.push(main, sub);
    g.ver++;
    this.modMain = main;
    this.modSub = sub;
  }

  /**
   * put() while rebuilding from disk: when the key has no live generation the stored KeyValue says where
   * the generation began and its version, since older revisions may have been compacted away.
   */
  putRestored(main: number, sub: number, createdMain: number, version: number): void {
    const g = this.generations[this.generations.length - 1]!;
    if (g.empty) {
      g.createdMain = createdMain;
      g.ver = version - 1;
      g.revs = [main, sub];
      g.ver++;
      this.modMain = main;
      this.modSub = sub;
      return;
    }
    this.put(main, sub);
  }

  tombstone(main: number, sub: number): void {
    this.put(main, sub);
    this.generations.push(new Generation(0, 0, []));
  }

  /** Reverts the newest put() or tombstone() (a write transaction failed halfway). */
  undo(tombstone: boolean): void {
    if (tombstone) this.generations.pop();
    const g = this.generations[this.generations.length - 1]!;
    g.revs.length -= 2;
    g.ver--;
    if (g.empty) {
      g.ver = 0;
      g.createdMain = 0;
    }
    const last = [...this.generations].reverse().find((x) => !x.empty);
    this.modMain = last ? last.revs[last.revs.length - 2]! : 0;
    this.modSub = last ? last.revs[last.revs.length - 1]! : 0;
  }

  isEmpty(): boolean {
    return this.generations.length === 1 && this.generations[0]!.empty;
  }

  /** True if the key exists (is not deleted) at the current head. */
  isLive(): boolean {
    return !this.generations[this.generations.length - 1]!.empty;
  }

  private findGeneration(rev: number): Generation | undefined {
    const last = this.generations.length - 1;
    for (let i = last; i >= 0; i--) {
      const g = this.generations[i]!;
      if (g.empty) continue;
      if (i !== last && g.lastMain() <= rev) return undefined;
      if (g.revs[0]! <= rev) return g;
    }
    return undefined;
  }

  /** The key's live revision at `atRev`, or undefined if it did not exist then. */
  get(atRev: number): IndexHit | undefined {
    const g = this.findGeneration(atRev);
    if (!g) return undefined;
    const n = g.newestAtOrBelow(atRev);
    if (n < 0) return undefined;
    return {
      modMain: g.revs[n * 2]!,
      modSub: g.revs[n * 2 + 1]!,
      createdMain: g.createdMain,
      version: g.ver - (g.revs.length / 2 - n - 1),
    };
  }

  /** etcd's doCompact: the generation and pair index compaction at atRev starts from. */
  private compactPoint(atRev: number, available: Set<string>): [number, number] {
    let gi = 0;
    while (gi < this.generations.length - 1 && this.generations[gi]!.lastMain() <= atRev) gi++;
    const g = this.generations[gi]!;
    const n = g.newestAtOrBelow(atRev);
    if (n >= 0) available.add(revId(g.revs[n * 2]!, g.revs[n * 2 + 1]!));
    return [gi, n];
  }

  /** Drops history older than atRev, adding the revisions that must stay on disk to `available`. */
  compact(atRev: number, available: Set<string>): void {
    let [gi, n] = this.compactPoint(atRev, available);
    const g = this.generations[gi]!;
    if (!g.empty) {
      if (n > 0) g.revs = g.revs.slice(n * 2);
      // A generation reduced to its tombstone is gone entirely.
      if (g.revs.length === 2 && gi !== this.generations.length - 1) {
        available.delete(revId(g.revs[0]!, g.revs[1]!));
        gi++;
      }
    }
    if (gi > 0) this.generations = this.generations.slice(gi);
  }

  /** The revisions compaction at atRev would keep (etcd's keep), without changing anything. */
  keep(atRev: number, available: Set<string>): void {
    if (this.isEmpty()) return;
    const [gi, n] = this.compactPoint(atRev, available);
    const g = this.generations[gi]!;
    if (!g.empty && n === g.revs.length / 2 - 1 && gi !== this.generations.length - 1) {
      available.delete(revId(g.revs[n * 2]!, g.revs[n * 2 + 1]!));
    }
  }

  /** Revision pairs with main >= rev, ascending (for history). */
  since(rev: number): number[] {
    const out: number[] = [];
    for (const g of this.generations) {
      for (let i = 0; i < g.revs.length; i += 2) if (g.revs[i]! >= rev) out.push(g.revs[i]!, g.revs[i + 1]!);
    }
    return out;
  }
}

/** The ordered map key -> KeyIndex. */
export class TreeIndex {
  private readonly tree = new BTree<KeyIndex>();

  get keyCount(): number {
    return this.tree.size;
  }

  getKeyIndex(key: Uint8Array): KeyIndex | undefined {
    return this.tree.get(bytesToKey(key));
  }

  /** Returns the key's index, creating an empty one. */
  ensure(key: Uint8Array): KeyIndex {
    const k = bytesToKey(key);
    let ki = this.tree.get(k);
    if (!ki) {
      ki = new KeyIndex();
      this.tree.set(k, ki);
    }
    return ki;
  }

  get(key: Uint8Array, atRev: number): IndexHit | undefined {
    return this.tree.get(bytesToKey(key))?.get(atRev);
  }

  /**
   * Keys live at atRev within [key, end) (end undefined: single key; empty: unbounded), ascending.
   * `visit` gets the hit and the key as its latin1 tree string (convert with keyToBytes only when the
   * bytes are needed: most reads take the key from the stored KeyValue); returning false stops.
   */
  range(
    key: Uint8Array,
    end: Uint8Array | undefined,
    atRev: number,
    visit: (hit: IndexHit, k: string) => unknown,
  ): void {
    if (end === undefined) {
      const k = bytesToKey(key);
      const hit = this.tree.get(k)?.get(atRev);
      if (hit) visit(hit, k);
      return;
    }
    const walk: WalkRange = { start: bytesToKey(key), end: end.length === 0 ? undefined : bytesToKey(end) };
    this.tree.forEach(walk, (k, ki) => {
      const hit = ki.get(atRev);
      if (!hit) return true;
      return visit(hit, k) !== false;
    });
  }

  /** The key index for a latin1 tree key. */
  getByTreeKey(k: string): KeyIndex | undefined {
    return this.tree.get(k);
  }

  /** Drops a key whose index became empty (after undo()). */
  dropIfEmpty(key: Uint8Array): void {
    const k = bytesToKey(key);
    if (this.tree.get(k)?.isEmpty()) this.tree.delete(k);
  }

  /** Like ensure() for a latin1 tree key. */
  ensureByTreeKey(k: string): KeyIndex {
    let ki = this.tree.get(k);
    if (!ki) {
      ki = new KeyIndex();
      this.tree.set(k, ki);
    }
    return ki;
  }

  /** Every key index in order (any state). */
  forEach(visit: (key: Uint8Array, ki: KeyIndex) => void): void {
    this.tree.forEach({}, (k, ki) => {
      visit(keyToBytes(k), ki);
    });
  }

  /** Compacts every key at atRev; returns the revisions that must be kept on disk. */
  compact(atRev: number): Set<string> {
    const available = new Set<string>();
    const emptied: string[] = [];
    this.tree.forEach({}, (k, ki) => {
      ki.compact(atRev, available);
      if (ki.isEmpty()) emptied.push(k);
    });
    for (const k of emptied) this.tree.delete(k);
    return available;
  }

  keep(atRev: number): Set<string> {
    const available = new Set<string>();
    this.tree.forEach({}, (_k, ki) => {
      ki.keep(atRev, available);
    });
    return available;
  }
}
