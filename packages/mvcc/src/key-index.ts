/**
 * The in-memory key index: for each key, its generations of revisions (a generation runs from a create
 * to a delete). Mirrors etcd's keyIndex/treeIndex so lookups at any revision, compaction and "keep" sets
 * behave exactly alike.
 *
 * Why the encoding below: with one object graph per key (a KeyIndex, an array of Generation objects, a
 * revision array each, boxed numbers) the index cost ~300 bytes per key, most of the V8 heap after a
 * 200k-key load (docs/benchmarks.md "Memory and restart"). A key's whole history is now one value in
 * the tree's leaf, a {@link KeyHistory}:
 * - a plain number `m` for the common case "created by a put at revision {m, 0} and never changed
 *   since" (version 1); V8 stores it inline in the leaf's value array (a small integer), so such a key
 *   costs only its tree slot and its key string;
 * - otherwise one flat number array of generation records `[ver, createdMain, n, main0, sub0, ...]`
 *   (n revision pairs, ascending), oldest generation first. The last record is the current generation;
 *   n = 0 there means the key is deleted at the head.
 * Reads work on the encoding directly; the rare whole-history operations (compaction, undo) decode it
 * to {@link Generation} records, apply etcd's rules and encode the result again (arrays sized to their
 * length rounded up to {@link ROOM_STEP} numbers, so compaction also returns memory).
 */
import { BTree, bytesToKey, keyToBytes, type WalkRange } from './btree.js';

/** A revision pair as a map key: `${main}_${sub}`. */
export function revId(main: number, sub: number): string {
  return `${main}_${sub}`;
}

/** One key's history as stored in the tree (see the module comment for the layout). */
export type KeyHistory = number | number[];

/** A run of revisions from a key's creation to its deletion (or the head), decoded. */
export interface Generation {
  /** Number of puts (and the closing tombstone) since creation, counting compacted ones. */
  ver: number;
  createdMain: number;
  /** Flat [main, sub] pairs, ascending. */
  revs: number[];
}

/** What a key looked like at a revision. */
export interface IndexHit {
  modMain: number;
  modSub: number;
  createdMain: number;
  version: number;
}

/**
 * A key looked up for the put that follows ({@link TreeIndex.lookupForPut}): what a put needs to know
 * (the key's current revision) and where to record it, so the put searches the tree once, not twice.
 */
export interface PutLookup {
  /** The key's live revision at the revision asked about, or undefined. */
  readonly hit: IndexHit | undefined;
  readonly treeKey: string;
  readonly history: KeyHistory | undefined;
}

const HEADER = 3; // ver, createdMain, n

/**
 * History arrays are allocated with room for their length rounded up to a multiple of this, and
 * appends (2 numbers per revision, 3 per tombstone) fill that room in place: a key gets a new array
 * only every few revisions, not at every put. Readers are unaffected: an append only adds revisions
 * above every revision a reader can ask for (and raises the version count with the revision count).
 * Why: the "exact-size" copy per put that this replaced was not exact (`slice()` then `push()` let V8
 * reserve half the length again plus 16 numbers), and the new array of every put lived until the
 * key's next put, so young-generation collections copied and promoted one per put. Measured with
 * 100 000 keys (heap per key including the key string and tree slot): 3 revisions 352 -> 248 bytes,
 * 5 revisions 400 -> 248, 9 revisions 496 -> 312 (docs/benchmarks.md "Session 10").
 */
const ROOM_STEP = 8;

function roomFor(len: number): number {
  return Math.ceil(len / ROOM_STEP) * ROOM_STEP;
}

/** A history array of `len` numbers (to be filled by the caller) with room for `room` in place. */
export function allocHistory(len: number, room = roomFor(len)): number[] {
  const out = new Array<number>(room);
  // Shortening keeps the allocation (V8 trims only below half of it).
  out.length = len;
  return out;
}

/** `h` itself when `extra` more numbers fit its room, else a copy with enough room. */
function withRoom(h: number[], extra: number): number[] {
  if (h.length + extra <= roomFor(h.length)) return h;
  const out = allocHistory(h.length, roomFor(h.length + extra));
  for (let i = 0; i < h.length; i++) out[i] = h[i]!;
  return out;
}

/** A fresh history array holding `nums`. */
function historyOf(...nums: number[]): number[] {
  const out = allocHistory(nums.length);
  for (let i = 0; i < nums.length; i++) out[i] = nums[i]!;
  return out;
}

/** Decodes a history into generation records (fresh arrays: the caller may change them). */
export function decodeHistory(h: KeyHistory): Generation[] {
  if (typeof h === 'number') return [{ ver: 1, createdMain: h, revs: [h, 0] }];
  const out: Generation[] = [];
  for (let p = 0; p < h.length; ) {
    const n = h[p + 2]!;
    out.push({ ver: h[p]!, createdMain: h[p + 1]!, revs: h.slice(p + HEADER, p + HEADER + 2 * n) });
    p += HEADER + 2 * n;
  }
  return out;
}

/** Encodes generation records, choosing the plain-number form when it applies. */
export function encodeHistory(gens: Generation[]): KeyHistory {
  if (gens.length === 1) {
    const g = gens[0]!;
    if (g.ver === 1 && g.revs.length === 2 && g.revs[1] === 0 && g.createdMain === g.revs[0])
      return g.revs[0]!;
  }
  let len = 0;
  for (const g of gens) len += HEADER + g.revs.length;
  const out = allocHistory(len);
  let p = 0;
  for (const g of gens) {
    out[p++] = g.ver;
    out[p++] = g.createdMain;
    out[p++] = g.revs.length / 2;
    for (const r of g.revs) out[p++] = r;
  }
  return out;
}

/** Offset of the last (current) generation record. */
function lastGenAt(h: number[]): number {
  let p = 0;
  for (;;) {
    const next = p + HEADER + 2 * h[p + 2]!;
    if (next >= h.length) return p;
    p = next;
  }
}

/** Appends a revision to the current generation (starting it if empty); returns the new history. */
function appendRev(
  h: KeyHistory | undefined,
  main: number,
  sub: number,
  created: number,
  ver: number,
): KeyHistory {
  if (h === undefined)
    return ver === 1 && sub === 0 && created === main ? main : historyOf(ver, created, 1, main, sub);
  if (typeof h === 'number') return historyOf(2, h, 2, h, 0, main, sub);
  const p = lastGenAt(h);
  const empty = h[p + 2] === 0;
  const out = withRoom(h, 2);
  out.push(main, sub);
  out[p] = empty ? ver : out[p]! + 1;
  if (empty) out[p + 1] = created;
  out[p + 2]!++;
  // A re-created key whose older generations were compacted away is a plain number again.
  if (out.length === HEADER + 2 && out[0] === 1 && out[4] === 0 && out[1] === main) return main;
  return out;
}

/** Appends a tombstone at {main, sub} and opens a new, empty current generation after it. */
function appendTombstone(h: KeyHistory | undefined, main: number, sub: number): number[] {
  const withRev = appendRev(h, main, sub, main, 1);
  const arr = typeof withRev === 'number' ? historyOf(1, withRev, 1, withRev, 0) : withRev;
  const next = withRoom(arr, HEADER);
  next.push(0, 0, 0);
  return next;
}

/** True if the key exists (is not deleted) at the head. */
export function historyIsLive(h: KeyHistory): boolean {
  return typeof h === 'number' || h[lastGenAt(h) + 2]! > 0;
}

/** True if nothing is left (the key can leave the tree). */
function historyIsEmpty(h: KeyHistory): boolean {
  return typeof h !== 'number' && h.length === HEADER && h[2] === 0;
}

/** The key's live revision at `atRev`, or undefined if it did not exist then. */
export function historyGet(h: KeyHistory, atRev: number): IndexHit | undefined {
  if (typeof h === 'number') {
    return h <= atRev ? { modMain: h, modSub: 0, createdMain: h, version: 1 } : undefined;
  }
  // The newest non-empty generation that began at or before atRev (etcd's findGeneration).
  let g = -1;
  let p = 0;
  let last = false;
  while (p < h.length) {
    const n = h[p + 2]!;
    const next = p + HEADER + 2 * n;
    if (n > 0 && h[p + HEADER]! <= atRev) {
      g = p;
      last = next >= h.length;
    } else if (n > 0) break;
    p = next;
  }
  if (g < 0) return undefined;
  const n = h[g + 2]!;
  const revs = g + HEADER;
  // A closed generation whose tombstone is at or below atRev: the key was deleted then.
  if (!last && h[revs + 2 * (n - 1)]! <= atRev) return undefined;
  for (let i = n - 1; i >= 0; i--) {
    if (h[revs + 2 * i]! <= atRev) {
      return {
        modMain: h[revs + 2 * i]!,
        modSub: h[revs + 2 * i + 1]!,
        createdMain: h[g + 1]!,
        version: h[g]! - (n - i - 1),
      };
    }
  }
  return undefined;
}

/** Index (in pairs) of the newest revision with main <= atRev, or -1. */
function newestAtOrBelow(g: Generation, atRev: number): number {
  for (let i = g.revs.length - 2; i >= 0; i -= 2) if (g.revs[i]! <= atRev) return i / 2;
  return -1;
}

function lastMain(g: Generation): number {
  return g.revs[g.revs.length - 2]!;
}

/** etcd's doCompact: the generation and pair index compaction at atRev starts from. */
function compactPoint(gens: Generation[], atRev: number, available: Set<string>): [number, number] {
  let gi = 0;
  while (gi < gens.length - 1 && lastMain(gens[gi]!) <= atRev) gi++;
  const g = gens[gi]!;
  const n = newestAtOrBelow(g, atRev);
  if (n >= 0) available.add(revId(g.revs[n * 2]!, g.revs[n * 2 + 1]!));
  return [gi, n];
}

/** Drops history older than atRev, adding the revisions that must stay on disk to `available`. */
function historyCompact(h: KeyHistory, atRev: number, available: Set<string>): KeyHistory {
  if (typeof h === 'number') {
    // One live generation with one revision: nothing to drop, and it stays on disk if visible at atRev.
    if (h <= atRev) available.add(revId(h, 0));
    return h;
  }
  let gens = decodeHistory(h);
  let [gi, n] = compactPoint(gens, atRev, available);
  const g = gens[gi]!;
  if (g.revs.length > 0) {
    if (n > 0) g.revs = g.revs.slice(n * 2);
    // A generation reduced to its tombstone is gone entirely.
    if (g.revs.length === 2 && gi !== gens.length - 1) {
      available.delete(revId(g.revs[0]!, g.revs[1]!));
      gi++;
    }
  }
  if (gi > 0) gens = gens.slice(gi);
  return encodeHistory(gens);
}

/** The revisions compaction at atRev would keep (etcd's keep), without changing anything. */
function historyKeep(h: KeyHistory, atRev: number, available: Set<string>): void {
  if (typeof h === 'number') {
    if (h <= atRev) available.add(revId(h, 0));
    return;
  }
  if (historyIsEmpty(h)) return;
  const gens = decodeHistory(h);
  const [gi, n] = compactPoint(gens, atRev, available);
  const g = gens[gi]!;
  if (g.revs.length > 0 && n === g.revs.length / 2 - 1 && gi !== gens.length - 1) {
    available.delete(revId(g.revs[n * 2]!, g.revs[n * 2 + 1]!));
  }
}

/** Reverts the newest put (or tombstone) of a key (a write transaction failed halfway). */
function historyUndo(h: KeyHistory, tombstone: boolean): KeyHistory {
  const gens = decodeHistory(h);
  if (tombstone) gens.pop();
  const g = gens[gens.length - 1]!;
  g.revs.length -= 2;
  g.ver--;
  if (g.revs.length === 0) {
    g.ver = 0;
    g.createdMain = 0;
  }
  return encodeHistory(gens);
}

/** The ordered map key -> {@link KeyHistory}; keys are latin1 strings (one char per byte). */
export class TreeIndex {
  private readonly tree: BTree<KeyHistory>;

  constructor(tree: BTree<KeyHistory> = new BTree<KeyHistory>()) {
    this.tree = tree;
  }

  /**
   * An index holding exactly these keys (latin1 tree keys, strictly ascending) and histories, as
   * {@link TreeIndex.entries} listed them (a saved index being loaded).
   */
  static fromSorted(keys: string[], histories: KeyHistory[]): TreeIndex {
    return new TreeIndex(BTree.fromSorted(keys, histories));
  }

  /** Every key (latin1 tree key) in ascending order with its history as stored (saving the index). */
  entries(visit: (k: string, h: KeyHistory) => void): void {
    this.tree.forEach({}, (k, h) => {
      visit(k, h);
    });
  }

  get keyCount(): number {
    return this.tree.size;
  }

  get(key: Uint8Array, atRev: number): IndexHit | undefined {
    const h = this.tree.get(bytesToKey(key));
    return h === undefined ? undefined : historyGet(h, atRev);
  }

  /** Records a put of `key` at {main, sub}. */
  put(key: Uint8Array, main: number, sub: number): void {
    this.putLooked(this.lookupForPut(key, main), main, sub);
  }

  /**
   * `get(key, atRev)` for a put of the same key that {@link putLooked} records next, with nothing else
   * changing the index in between. Why: a put reads the key's revision (for version and
   * create_revision) and then records its own; the B-tree search was ~2 % of a member's CPU under
   * kvbench's put load, done twice per put (docs/benchmarks.md "Session 13").
   * @example
   * const l = index.lookupForPut(key, rev);
   * const version = l.hit ? l.hit.version + 1 : 1;
   * index.putLooked(l, rev, 0);
   */
  lookupForPut(key: Uint8Array, atRev: number): PutLookup {
    const treeKey = bytesToKey(key);
    const history = this.tree.get(treeKey);
    return { hit: history === undefined ? undefined : historyGet(history, atRev), treeKey, history };
  }

  /** Records a put at {main, sub} of the key `l` looked up (see {@link lookupForPut}). */
  putLooked(l: PutLookup, main: number, sub: number): void {
    const next = appendRev(l.history, main, sub, main, 1);
    if (next !== l.history) this.tree.set(l.treeKey, next);
  }

  /** Records a delete of a tree key (latin1 string, as handed out by range()) at {main, sub}. */
  tombstoneByTreeKey(k: string, main: number, sub: number): void {
    const h = this.tree.get(k);
    const next = appendTombstone(h, main, sub);
    if (next !== h) this.tree.set(k, next);
  }

  /** Reverts the newest put()/tombstone of a key; drops the key if nothing is left. */
  undo(key: Uint8Array, tombstone: boolean): void {
    const k = bytesToKey(key);
    const h = this.tree.get(k);
    if (h === undefined) return;
    const next = historyUndo(h, tombstone);
    if (historyIsEmpty(next)) this.tree.delete(k);
    else this.tree.set(k, next);
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
      const h = this.tree.get(k);
      const hit = h === undefined ? undefined : historyGet(h, atRev);
      if (hit) visit(hit, k);
      return;
    }
    const walk: WalkRange = { start: bytesToKey(key), end: end.length === 0 ? undefined : bytesToKey(end) };
    this.tree.forEach(walk, (k, h) => {
      const hit = historyGet(h, atRev);
      if (!hit) return true;
      return visit(hit, k) !== false;
    });
  }

  /** Every key in order with its decoded generations (any state; diagnostics). */
  forEach(visit: (key: Uint8Array, generations: Generation[]) => void): void {
    this.tree.forEach({}, (k, h) => {
      visit(keyToBytes(k), decodeHistory(h));
    });
  }

  /** Compacts every key at atRev; returns the revisions that must be kept on disk. */
  compact(atRev: number): Set<string> {
    const available = new Set<string>();
    const emptied: string[] = [];
    const changed: [string, KeyHistory][] = [];
    this.tree.forEach({}, (k, h) => {
      const next = historyCompact(h, atRev, available);
      if (historyIsEmpty(next)) emptied.push(k);
      else if (next !== h) changed.push([k, next]);
    });
    for (const [k, h] of changed) this.tree.set(k, h);
    for (const k of emptied) this.tree.delete(k);
    return available;
  }

  keep(atRev: number): Set<string> {
    const available = new Set<string>();
    this.tree.forEach({}, (_k, h) => {
      historyKeep(h, atRev, available);
    });
    return available;
  }
}

/**
 * Builds a {@link TreeIndex} from the key bucket's revisions in revision order (a start without a saved
 * index scans them all). Histories collect in a hash map and the tree is built once from the sorted
 * keys: inserting into the tree as revisions arrive took two B-tree searches per revision (one to read
 * the key's history, one to store the new one), most of a crash restart's rebuild (docs/benchmarks.md,
 * "Session 18").
 *
 * @example
 * const b = new TreeIndexBuilder();
 * b.put('k', 2, 0, 2, 1); // put of k at revision 2: created at 2, version 1
 * b.tombstone('k', 3, 0);
 * const index = b.build();
 */
export class TreeIndexBuilder {
  private readonly histories = new Map<string, KeyHistory>();

  /**
   * A put found in the key bucket. When the key has no live generation, the stored KeyValue says
   * where the generation began and its version, since older revisions may be compacted.
   */
  put(k: string, main: number, sub: number, createdMain: number, version: number): void {
    const h = this.histories.get(k);
    const next = appendRev(h, main, sub, createdMain, version);
    if (next !== h) this.histories.set(k, next);
  }

  /** A tombstone found in the key bucket (ignored unless the key is live). */
  tombstone(k: string, main: number, sub: number): void {
    const h = this.histories.get(k);
    if (h !== undefined && historyIsLive(h)) this.histories.set(k, appendTombstone(h, main, sub));
  }

  /** The index of everything added (latin1 keys sort by their bytes with the default string order). */
  build(): TreeIndex {
    const keys = [...this.histories.keys()].sort();
    const histories = new Array<KeyHistory>(keys.length);
    for (let i = 0; i < keys.length; i++) histories[i] = this.histories.get(keys[i]!)!;
    return TreeIndex.fromSorted(keys, histories);
  }
}
