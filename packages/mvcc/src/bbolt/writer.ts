/**
 * Writes a fresh, compact bbolt database bottom-up (what etcd's Maintenance.Snapshot streams and
 * `etcdctl snapshot restore` opens). kv never edits bbolt files in place, so the layout is the simplest
 * valid one: meta pages 0 and 1, an empty freelist on page 2, then each bucket's pages in post-order
 * (nested buckets first, then the bucket's own pages), the top-level bucket last. A bucket's own pages
 * are its leaves, each run of leaves followed by the branch page that points at them, then the higher
 * branch levels bottom-up. Leaves and branch pages are filled greedily to the page size; an item bigger
 * than a page gets overflow pages; a bucket without nested buckets whose single leaf fits in a quarter
 * page is stored inline, as bbolt does. bbolt finds pages by id, so their order in the file is free.
 *
 * Two passes over the sources keep memory bounded: the first only measures keys and values and plans
 * the pages, the second reads them again and emits pages one by one. Both apply the same split rules
 * ({@link Layout}) to the same items, so the plan keeps nothing per leaf: only the first key and counts
 * of each lowest branch page (one per ~100 leaves with etcd's 17-byte keys), which the higher levels
 * need. Sources must yield the same items both times (e.g. read from one consistent view).
 */
import { BboltWriteError } from './errors.js';
import {
  BRANCH_ELEMENT_SIZE,
  BRANCH_PAGE,
  BUCKET_HEADER_SIZE,
  BUCKET_LEAF_FLAG,
  compareBytes,
  DEFAULT_PAGE_SIZE,
  encodeMeta,
  FREELIST_PAGE,
  LEAF_ELEMENT_SIZE,
  LEAF_PAGE,
  META_PAGE,
  PAGE_HEADER_SIZE,
  viewOf,
  writePageHeader,
  writeU64,
} from './format.js';
import { PackedKeys } from './packed-keys.js';

/** A key/value pair. */
export type BboltEntry = [key: Uint8Array, value: Uint8Array];

/** One bucket to write: its own key/values and nested buckets. */
export interface BboltBucketSource {
  name: string | Uint8Array;
  /**
   * Key/values in strictly ascending key order. Called twice (plan, then write); both calls must yield
   * the same items.
   */
  entries?: () => AsyncIterable<BboltEntry> | Iterable<BboltEntry>;
  /** Nested buckets (any order; their names must differ from the entries' keys). */
  buckets?: BboltBucketSource[];
  /** The bucket's sequence number (bbolt's NextSequence counter); default 0. */
  sequence?: number;
}

/** Options of {@link BboltPlan.pages}. */
export interface BboltPagesOptions {
  /**
   * Write every data page into one reused buffer: a yielded page is valid only until the next one is
   * requested, so the consumer must copy or consume it at once (saves an allocation per page).
   */
  reuseBuffer?: boolean;
}

/** Options of {@link planBbolt}. */
export interface BboltWriteOptions {
  /** Page size in bytes, a power of two >= 512; default 4096 (etcd's on x86-64). */
  pageSize?: number;
}

/** bbolt's limits (bucket.go MaxKeySize, MaxValueSize). */
const MAX_KEY_SIZE = 32768;
const MAX_VALUE_SIZE = 2 ** 31 - 2;
/** Pages before the first bucket page: meta 0, meta 1, freelist. */
const FIRST_DATA_PAGE = 3;
const enc = new TextEncoder();

interface Item {
  key: Uint8Array;
  value?: Uint8Array;
  child?: BucketPlan;
}

/** Numbers kept per lowest branch page (BucketPlan.groups). */
const G_ID = 0;
const G_LEAVES = 1;
const G_ITEMS = 2;
const G_BYTES = 3;
/** Numbers kept per higher branch page (BucketPlan.levels); the page id is number 0 in both. */
const B_ID = 0;
const B_CHILDREN = 1;

/** The planned pages of one bucket. */
interface BucketPlan {
  src: BboltBucketSource;
  name: Uint8Array;
  sequence: number;
  /** Nested buckets, by name. */
  children: BucketPlan[];
  /** The whole bucket value (header + page) when inline. */
  inline?: Uint8Array;
  /**
   * The lowest branch pages in file order (each right after its leaves): first key; numbers: page id,
   * leaves, items in them, bytes of them. Empty when the bucket has a single leaf (its root).
   */
  groups: PackedKeys;
  /** Branch levels above `groups`, bottom-up: first key; numbers: page id, children. */
  levels: PackedKeys[];
  root: number;
  /** Leaves, items and leaf bytes in the bucket, to check the write pass against. */
  leaves: number;
  items: number;
  bytes: number;
}

/**
 * Whether a branch page holding `children` in `bytes` is full for one more child key of `keyLength`
 * bytes. It takes children while they fit, and always two (bbolt's minKeysPerPage, with overflow pages
 * for huge keys): with one, keys longer than a page would give every level as many pages as the one
 * below, and the tree would never reach a single root.
 */
function branchFull(children: number, bytes: number, keyLength: number, pageSize: number): boolean {
  return children >= 2 && bytes + BRANCH_ELEMENT_SIZE + keyLength > pageSize;
}

/**
 * Where leaves and lowest branch pages end, decided item by item: a leaf takes items while they fit,
 * and always one; a branch page takes leaves' first keys by {@link branchFull}. Pure arithmetic; both passes feed it the
 * same items in the same order, so they agree on every page.
 */
class Layout {
  /** The open leaf. */
  leafItems = 0;
  leafBytes = PAGE_HEADER_SIZE;
  /** The open lowest branch page: leaves, its size, and the items and bytes of its closed leaves. */
  groupLeaves = 0;
  groupBytes = PAGE_HEADER_SIZE;
  groupItems = 0;
  groupLeafBytes = 0;
  /** Closed leaves, their items and bytes, in the whole bucket. */
  leaves = 0;
  items = 0;
  bytes = 0;

  constructor(private readonly ps: number) {}

  /** Whether an item of `size` bytes belongs in a new leaf (the open one, if any, is then complete). */
  leafFullFor(size: number): boolean {
    return this.leafItems > 0 && this.leafBytes + size > this.ps;
  }

  /** Whether a leaf whose first key has `keyLength` bytes belongs under a new branch page. */
  groupFullFor(keyLength: number): boolean {
    return branchFull(this.groupLeaves, this.groupBytes, keyLength, this.ps);
  }

  openLeaf(keyLength: number): void {
    this.groupLeaves++;
    this.groupBytes += BRANCH_ELEMENT_SIZE + keyLength;
  }

  addItem(size: number): void {
    this.leafItems++;
    this.leafBytes += size;
  }

  /** Closes the open leaf; returns its length in pages. */
  closeLeaf(): number {
    const pages = Math.ceil(this.leafBytes / this.ps);
    this.groupItems += this.leafItems;
    this.groupLeafBytes += this.leafBytes;
    this.leaves++;
    this.items += this.leafItems;
    this.bytes += this.leafBytes;
    this.leafItems = 0;
    this.leafBytes = PAGE_HEADER_SIZE;
    return pages;
  }

  /** Closes the open branch page; returns its length in pages (overflow for huge keys, as a leaf). */
  closeGroup(): number {
    const pages = Math.ceil(this.groupBytes / this.ps);
    this.groupLeaves = 0;
    this.groupBytes = PAGE_HEADER_SIZE;
    this.groupItems = 0;
    this.groupLeafBytes = 0;
    return pages;
  }
}

/** Writes a branch page `id` of `pages` pages pointing at `children` [from, from + n) (key, page id). */
function branchPage(
  id: number,
  children: PackedKeys,
  from: number,
  n: number,
  pages: number,
  pageSize: number,
  alloc: Alloc,
): Uint8Array {
  const page = alloc(pages * pageSize);
  writePageHeader(page, { id, flags: BRANCH_PAGE, count: n, overflow: pages - 1 });
  const v = viewOf(page);
  let data = PAGE_HEADER_SIZE + n * BRANCH_ELEMENT_SIZE;
  for (let k = 0; k < n; k++) {
    const at = PAGE_HEADER_SIZE + k * BRANCH_ELEMENT_SIZE;
    const key = children.key(from + k);
    v.setUint32(at, data - at, true);
    v.setUint32(at + 4, key.length, true);
    writeU64(v, at + 8, children.num(from + k, B_ID));
    page.set(key, data);
    data += key.length;
  }
  return page;
}

/** Bytes of a nested bucket's value in its parent's leaf. */
const childValueSize = (c: BucketPlan) => c.inline?.length ?? BUCKET_HEADER_SIZE;

function childValue(c: BucketPlan): Uint8Array {
  if (c.inline) return c.inline;
  const out = new Uint8Array(BUCKET_HEADER_SIZE);
  writeU64(viewOf(out), 0, c.root);
  writeU64(viewOf(out), 8, c.sequence);
  return out;
}

const label = (name: Uint8Array) => JSON.stringify(new TextDecoder().decode(name));

/** The bucket's entries merged with its nested buckets, in key order, checked. */
async function* itemsOf(plan: BucketPlan): AsyncGenerator<Item> {
  const children = plan.children;
  let ci = 0;
  let last: Uint8Array | undefined;
  const check = (key: Uint8Array) => {
    if (key.length === 0 || key.length > MAX_KEY_SIZE) {
      throw new BboltWriteError(
        `bucket ${label(plan.name)}: key of ${key.length} bytes (1..${MAX_KEY_SIZE} allowed)`,
      );
    }
    if (last !== undefined && compareBytes(last, key) >= 0) {
      throw new BboltWriteError(`bucket ${label(plan.name)}: keys not in strictly ascending order`);
    }
    last = key;
  };
  for await (const [key, value] of plan.src.entries?.() ?? []) {
    while (ci < children.length && compareBytes(children[ci]!.name, key) < 0) {
      check(children[ci]!.name);
      yield { key: children[ci]!.name, child: children[ci++]! };
    }
    check(key);
    if (value.length > MAX_VALUE_SIZE)
      throw new BboltWriteError(`bucket ${label(plan.name)}: value too large`);
    yield { key, value };
  }
  for (; ci < children.length; ci++) {
    check(children[ci]!.name);
    yield { key: children[ci]!.name, child: children[ci]! };
  }
}

const itemValueSize = (it: Item) => (it.child ? childValueSize(it.child) : it.value!.length);

/** Returns a zeroed buffer of `size` bytes. */
type Alloc = (size: number) => Uint8Array;
const freshAlloc: Alloc = (size) => new Uint8Array(size);

/** Writes a leaf page (or an inline page when `id` is 0) holding `items`. */
function leafPage(
  id: number,
  items: Item[],
  values: Uint8Array[],
  bytes: number,
  pageSize: number,
  alloc: Alloc = freshAlloc,
): Uint8Array {
  const pages = Math.ceil(bytes / pageSize);
  const page = alloc(id === 0 ? bytes : pages * pageSize);
  writePageHeader(page, { id, flags: LEAF_PAGE, count: items.length, overflow: id === 0 ? 0 : pages - 1 });
  const v = viewOf(page);
  let data = PAGE_HEADER_SIZE + items.length * LEAF_ELEMENT_SIZE;
  items.forEach((it, i) => {
    const at = PAGE_HEADER_SIZE + i * LEAF_ELEMENT_SIZE;
    const value = values[i]!;
    v.setUint32(at, it.child ? BUCKET_LEAF_FLAG : 0, true);
    v.setUint32(at + 4, data - at, true);
    v.setUint32(at + 8, it.key.length, true);
    v.setUint32(at + 12, value.length, true);
    page.set(it.key, data);
    page.set(value, data + it.key.length);
    data += it.key.length + value.length;
  });
  return page;
}

class Planner {
  next = FIRST_DATA_PAGE;
  constructor(readonly pageSize: number) {}

  alloc(pages: number): number {
    const id = this.next;
    this.next += pages;
    return id;
  }

  async plan(src: BboltBucketSource, isRoot: boolean, depth: number): Promise<BucketPlan> {
    if (depth > 64) throw new BboltWriteError('buckets nested deeper than 64');
    const name = typeof src.name === 'string' ? enc.encode(src.name) : src.name;
    // Planned (so pages allocated) in name order, the order emit() writes them in.
    const nameOf = (b: BboltBucketSource) => (typeof b.name === 'string' ? enc.encode(b.name) : b.name);
    const sorted = [...(src.buckets ?? [])].sort((a, b) => compareBytes(nameOf(a), nameOf(b)));
    const children: BucketPlan[] = [];
    for (const c of sorted) children.push(await this.plan(c, false, depth + 1));
    const plan: BucketPlan = {
      src,
      name,
      sequence: src.sequence ?? 0,
      children,
      groups: new PackedKeys(4),
      levels: [],
      root: 0,
      leaves: 0,
      items: 0,
      bytes: 0,
    };
    const ps = this.pageSize;
    const inlineMax = ps / 4;
    // Items kept while the bucket may still turn out inline-able (never more than a quarter page).
    let small: { items: Item[]; values: Uint8Array[] } | undefined =
      isRoot || children.length > 0 ? undefined : { items: [], values: [] };
    let total = PAGE_HEADER_SIZE;
    const layout = new Layout(ps);
    const groups = plan.groups;
    // Page ids are handed out as pages close, in the order the write pass emits them. A leaf closes
    // when the next item does not fit, by then the bucket is over a page and so not inline.
    let lastLeaf = 0;
    const closeLeaf = () => {
      lastLeaf = this.alloc(layout.closeLeaf());
    };
    const closeGroup = () => {
      const g = groups.length - 1;
      groups.setNum(g, layout.groupLeaves, G_LEAVES);
      groups.setNum(g, layout.groupItems, G_ITEMS);
      groups.setNum(g, layout.groupLeafBytes, G_BYTES);
      groups.setNum(g, this.alloc(layout.closeGroup()), G_ID);
    };
    const openLeaf = (key: Uint8Array) => {
      if (layout.groupFullFor(key.length)) closeGroup();
      if (layout.groupLeaves === 0) groups.push(key);
      layout.openLeaf(key.length);
    };
    for await (const it of itemsOf(plan)) {
      const size = LEAF_ELEMENT_SIZE + it.key.length + itemValueSize(it);
      total += size;
      if (small) {
        if (total <= inlineMax) {
          small.items.push({ key: it.key.slice(), value: it.value?.slice() });
          small.values.push(it.value?.slice() ?? new Uint8Array(0));
        } else small = undefined;
      }
      if (layout.leafFullFor(size)) closeLeaf();
      if (layout.leafItems === 0) openLeaf(it.key);
      layout.addItem(size);
    }
    if (small) {
      // bbolt's inlineable(): one leaf, no nested buckets, at most a quarter page.
      const page = leafPage(0, small.items, small.values, total, ps);
      const value = new Uint8Array(BUCKET_HEADER_SIZE + page.length);
      writeU64(viewOf(value), 8, plan.sequence);
      value.set(page, BUCKET_HEADER_SIZE);
      plan.inline = value;
      groups.clear();
      return plan;
    }
    // A bucket with no items still has its (empty) root leaf.
    if (layout.leaves === 0 && layout.leafItems === 0) openLeaf(new Uint8Array(0));
    closeLeaf();
    plan.leaves = layout.leaves;
    plan.items = layout.items;
    plan.bytes = layout.bytes;
    if (layout.leaves === 1) {
      // The single leaf is the root: no branch page above it.
      groups.clear();
      plan.root = lastLeaf;
      return plan;
    }
    closeGroup();
    let level = groups;
    while (level.length > 1) {
      const up = new PackedKeys(2);
      let size = 0;
      for (let i = 0; i < level.length; i++) {
        const key = level.key(i);
        if (up.length === 0 || branchFull(up.num(up.length - 1, B_CHILDREN), size, key.length, ps)) {
          up.push(key);
          size = PAGE_HEADER_SIZE;
        }
        size += BRANCH_ELEMENT_SIZE + key.length;
        up.setNum(up.length - 1, up.num(up.length - 1, B_CHILDREN) + 1, B_CHILDREN);
      }
      // A branch page may hold huge keys; give it overflow pages like a leaf.
      for (let j = 0, c = 0; j < up.length; j++) {
        const n = up.num(j, B_CHILDREN);
        let bytes = PAGE_HEADER_SIZE;
        for (let k = 0; k < n; k++) bytes += BRANCH_ELEMENT_SIZE + level.key(c + k).length;
        c += n;
        up.setNum(j, this.alloc(Math.ceil(bytes / ps)), B_ID);
      }
      plan.levels.push(up);
      level = up;
    }
    plan.root = level.num(0, B_ID);
    return plan;
  }
}

/**
 * A planned database: its size is known before any page is written (etcd's snapshot stream and a
 * progress bar can use it), and {@link pages} emits it.
 *
 * @example
 * ```ts
 * const plan = await planBbolt([{ name: 'key', entries: () => rows }]);
 * for await (const page of plan.pages()) sink.write(page);
 * ```
 */
export class BboltPlan {
  /** @internal */
  constructor(
    private readonly root: BucketPlan,
    readonly pageSize: number,
    /** Pages in the file (the meta's high-water mark). */
    readonly pageCount: number,
  ) {}

  /** File size in bytes. */
  get size(): number {
    return this.pageCount * this.pageSize;
  }

  /** The file's pages in order (each a buffer of one or more pages; see {@link BboltPagesOptions}). */
  async *pages(opts: BboltPagesOptions = {}): AsyncGenerator<Uint8Array> {
    const ps = this.pageSize;
    let scratch = new Uint8Array(opts.reuseBuffer ? ps : 0);
    const alloc: Alloc = opts.reuseBuffer
      ? (size) => {
          if (scratch.length < size) scratch = new Uint8Array(size);
          return scratch.subarray(0, size).fill(0);
        }
      : freshAlloc;
    for (const txid of [0, 1]) {
      const page = new Uint8Array(ps);
      writePageHeader(page, { id: txid, flags: META_PAGE, count: 0, overflow: 0 });
      const meta = encodeMeta({
        pageSize: ps,
        flags: 0,
        root: this.root.root,
        sequence: this.root.sequence,
        freelist: 2,
        pgid: this.pageCount,
        txid,
      });
      page.set(meta, PAGE_HEADER_SIZE);
      yield page;
    }
    const freelist = new Uint8Array(ps);
    writePageHeader(freelist, { id: 2, flags: FREELIST_PAGE, count: 0, overflow: 0 });
    yield freelist;
    const state = { next: FIRST_DATA_PAGE };
    yield* this.emit(this.root, state, alloc);
    if (state.next !== this.pageCount) {
      throw new BboltWriteError(`wrote ${state.next} pages, planned ${this.pageCount}`);
    }
  }

  private async *emit(plan: BucketPlan, state: { next: number }, alloc: Alloc): AsyncGenerator<Uint8Array> {
    if (plan.inline) return;
    for (const c of plan.children) yield* this.emit(c, state, alloc);
    const ps = this.pageSize;
    const changed = () =>
      new BboltWriteError(`bucket ${label(plan.name)} changed between planning and writing`);
    const layout = new Layout(ps);
    const planned = plan.groups;
    // The open lowest branch page's children: each leaf's first key and page id.
    const group = new PackedKeys(1);
    let g = 0;
    // The open leaf's items (consumed by leafPage before the next item is read).
    const items: Item[] = [];
    const values: Uint8Array[] = [];
    const flushLeaf = (): Uint8Array => {
      const page = leafPage(state.next, items, values, layout.leafBytes, ps, alloc);
      state.next += layout.closeLeaf();
      items.length = 0;
      values.length = 0;
      return page;
    };
    const flushGroup = (): Uint8Array => {
      if (
        g >= planned.length ||
        planned.num(g, G_ID) !== state.next ||
        planned.num(g, G_LEAVES) !== layout.groupLeaves ||
        planned.num(g, G_ITEMS) !== layout.groupItems ||
        planned.num(g, G_BYTES) !== layout.groupLeafBytes ||
        compareBytes(planned.key(g), group.key(0)) !== 0
      ) {
        throw changed();
      }
      const id = state.next;
      const pages = layout.closeGroup();
      const page = branchPage(id, group, 0, group.length, pages, ps, alloc);
      state.next += pages;
      group.clear();
      g++;
      return page;
    };
    const openLeaf = function* (key: Uint8Array): Generator<Uint8Array> {
      if (layout.groupFullFor(key.length)) yield flushGroup();
      group.setNum(group.push(key), state.next, B_ID);
      layout.openLeaf(key.length);
    };
    for await (const it of itemsOf(plan)) {
      const value = it.child ? childValue(it.child) : it.value!;
      const size = LEAF_ELEMENT_SIZE + it.key.length + value.length;
      if (layout.leafFullFor(size)) yield flushLeaf();
      if (layout.leafItems === 0) yield* openLeaf(it.key);
      items.push(it);
      values.push(value);
      layout.addItem(size);
    }
    if (layout.leaves === 0 && layout.leafItems === 0) yield* openLeaf(new Uint8Array(0));
    yield flushLeaf();
    if (layout.leaves > 1) yield flushGroup();
    else if (plan.root !== group.num(0, B_ID)) throw changed();
    if (
      g !== planned.length ||
      layout.leaves !== plan.leaves ||
      layout.items !== plan.items ||
      layout.bytes !== plan.bytes
    ) {
      throw changed();
    }
    let below = planned;
    for (const level of plan.levels) {
      for (let j = 0, c = 0; j < level.length; j++) {
        const n = level.num(j, B_CHILDREN);
        let size = PAGE_HEADER_SIZE + n * BRANCH_ELEMENT_SIZE;
        for (let k = 0; k < n; k++) size += below.key(c + k).length;
        const id = level.num(j, B_ID);
        if (id !== state.next) throw changed();
        const pages = Math.ceil(size / ps);
        yield branchPage(id, below, c, n, pages, ps, alloc);
        c += n;
        state.next += pages;
      }
      below = level;
    }
  }
}

/**
 * Plans a database holding `buckets` (the top-level buckets) by reading every source once.
 *
 * @example
 * ```ts
 * const plan = await planBbolt([{ name: 'meta', entries: () => [[enc('k'), enc('v')]] }]);
 * console.log(plan.size); // 4 pages: 16384
 * ```
 */
export async function planBbolt(
  buckets: BboltBucketSource[],
  opts: BboltWriteOptions = {},
): Promise<BboltPlan> {
  const pageSize = opts.pageSize ?? DEFAULT_PAGE_SIZE;
  if (pageSize < 512 || (pageSize & (pageSize - 1)) !== 0 || pageSize > 1 << 20) {
    throw new BboltWriteError(`page size ${pageSize} is not a power of two between 512 and 1 MiB`);
  }
  const planner = new Planner(pageSize);
  const root = await planner.plan({ name: new Uint8Array(0), buckets }, true, 0);
  return new BboltPlan(root, pageSize, planner.next);
}

/**
 * The whole database in memory (tests and small databases; stream {@link BboltPlan.pages} otherwise).
 *
 * @example
 * ```ts
 * const bytes = await collectBbolt([{ name: 'b', entries: () => [[enc('a'), enc('1')]] }]);
 * BboltReader.fromBytes(bytes).bucket('b');
 * ```
 */
export async function collectBbolt(
  buckets: BboltBucketSource[],
  opts: BboltWriteOptions = {},
): Promise<Uint8Array> {
  const plan = await planBbolt(buckets, opts);
  const out = new Uint8Array(plan.size);
  let at = 0;
  for await (const page of plan.pages()) {
    out.set(page, at);
    at += page.length;
  }
  return out;
}
