/**
 * A deliberately simple reference model of etcd's key space for property tests: the whole key space is
 * copied at every revision, so "range at revision r" is a map lookup. Slow and obviously right.
 */

export interface MKv {
  key: string;
  value: string;
  create: number;
  mod: number;
  version: number;
  lease: number;
}

export type State = Map<string, MKv>;

export interface MRange {
  key: string;
  end?: string | undefined;
  rev?: number;
  limit?: number;
  sortOrder?: number;
  sortTarget?: number;
  countOnly?: boolean;
  keysOnly?: boolean;
  minMod?: number;
  maxMod?: number;
  minCreate?: number;
  maxCreate?: number;
}

export interface MPut {
  key: string;
  value: string;
  lease: number;
  prevKv?: boolean;
  ignoreValue?: boolean;
  ignoreLease?: boolean;
}

export interface MDelete {
  key: string;
  end?: string | undefined;
  prevKv?: boolean;
}

export interface MCompare {
  key: string;
  end?: string | undefined;
  target: number; // VERSION CREATE MOD VALUE LEASE
  result: number; // EQUAL GREATER LESS NOT_EQUAL
  operand: number | string;
}

export type MOp = { range: MRange } | { put: MPut } | { del: MDelete } | { txn: MTxn };

export interface MTxn {
  compare: MCompare[];
  success: MOp[];
  failure: MOp[];
}

export class ModelError extends Error {}

export interface MRangeResult {
  kvs: MKv[];
  more: boolean;
  count: number;
}

function inRange(k: string, key: string, end: string | undefined): boolean {
  if (end === undefined) return k === key;
  if (end === '\0') return k >= key;
  return k >= key && k < end;
}

export class Model {
  rev = 1;
  compactRev = 0;
  private readonly states = new Map<number, State>([[1, new Map()]]);

  current(): State {
    return this.states.get(this.rev)!;
  }

  stateAt(rev: number): State {
    return this.states.get(rev)!;
  }

  private readRev(requested: number | undefined, cur: number): number {
    const r = requested ?? 0;
    if (r <= 0) return cur;
    if (r > cur) throw new ModelError('ErrFutureRev');
    if (r < this.compactRev) throw new ModelError('ErrCompacted');
    return r;
  }

  rangeIn(state: State, q: MRange): MRangeResult {
    const matches = [...state.values()]
      .filter((kv) => inRange(kv.key, q.key, q.end))
      .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    const count = matches.length;
    if (q.countOnly) return { kvs: [], more: false, count };
    const limit = q.limit ?? 0;
    const all = (q.sortOrder ?? 0) !== 0 || !!q.minMod || !!q.maxMod || !!q.minCreate || !!q.maxCreate;
    let kvs = all || limit <= 0 ? matches : matches.slice(0, limit + 1);
    kvs = kvs.filter(
      (kv) =>
        !(q.maxMod && kv.mod > q.maxMod) &&
        !(q.minMod && kv.mod < q.minMod) &&
        !(q.maxCreate && kv.create > q.maxCreate) &&
        !(q.minCreate && kv.create < q.minCreate),
    );
    const target = q.sortTarget ?? 0;
    let order = q.sortOrder ?? 0;
    if (target !== 0 && order === 0) order = 1;
    if (order !== 0) {
      const val = (kv: MKv): number | string => [kv.key, kv.version, kv.create, kv.mod, kv.value][target]!;
      kvs = kvs.slice().sort((a, b) => (val(a) < val(b) ? -1 : val(a) > val(b) ? 1 : 0));
      if (order === 2) kvs.reverse();
    }
    let more = false;
    if (limit > 0 && kvs.length > limit) {
      kvs = kvs.slice(0, limit);
      more = true;
    }
    if (q.keysOnly) kvs = kvs.map((kv) => ({ ...kv, value: '' }));
    return { kvs, more, count };
  }

  range(q: MRange): MRangeResult {
    return this.rangeIn(this.stateAt(this.readRev(q.rev, this.rev)), q);
  }

  private compareOne(c: MCompare, state: State): boolean {
    const kvs = [...state.values()].filter((kv) => inRange(kv.key, c.key, c.end));
    const cmp = (kv: MKv | undefined): boolean => {
      let r: number;
      if (c.target === 3) {
        const v = kv?.value ?? '';
        r = v < (c.operand as string) ? -1 : v > (c.operand as string) ? 1 : 0;
      } else {
        const field = kv ? [kv.version, kv.create, kv.mod, 0, kv.lease][c.target]! : 0;
        r = Math.sign(field - (c.operand as number));
      }
      return [r === 0, r > 0, r < 0, r !== 0][c.result]!;
    };
    if (kvs.length === 0) return c.target === 3 ? false : cmp(undefined);
    return kvs.every(cmp);
  }

  private path(t: MTxn, state: State, out: boolean[]): void {
    const ok = t.compare.every((c) => this.compareOne(c, state));
    out.push(ok);
    for (const op of ok ? t.success : t.failure) if ('txn' in op) this.path(op.txn, state, out);
  }

  private precheck(t: MTxn, path: boolean[], at: number, state: State): number {
    let next = at + 1;
    for (const op of path[at] ? t.success : t.failure) {
      if ('txn' in op) next = this.precheck(op.txn, path, next, state);
      else if ('put' in op && (op.put.ignoreLease || op.put.ignoreValue) && !state.has(op.put.key)) {
        throw new ModelError('ErrKeyNotFound');
      } else if ('range' in op && op.range.rev) {
        if (op.range.rev > this.rev) throw new ModelError('ErrFutureRev');
        if (op.range.rev < this.compactRev) throw new ModelError('ErrCompacted');
      }
    }
    return next;
  }

  /** etcd's duplicate-key rule (see txn-check.ts) restated over strings. */
  private dupCheck(ops: MOp[]): [Set<string>, MDelete[]] {
    const dels: MDelete[] = ops.flatMap((op) => ('del' in op ? [op.del] : []));
    const covered = (k: string) =>
      dels.some((d) => (d.end === undefined ? d.key === k : k >= d.key && k < d.end));
    const puts = new Set<string>();
    for (const op of ops) {
      if (!('txn' in op)) continue;
      const [pt, dt] = this.dupCheck(op.txn.success);
      const [pe, de] = this.dupCheck(op.txn.failure);
      for (const k of pt) {
        if (puts.has(k) || covered(k)) throw new ModelError('ErrDuplicateKey');
        puts.add(k);
      }
      for (const k of pe) {
        if ((puts.has(k) && !pt.has(k)) || covered(k)) throw new ModelError('ErrDuplicateKey');
        puts.add(k);
      }
      dels.push(...dt, ...de);
    }
    for (const op of ops) {
      if (!('put' in op)) continue;
      if (puts.has(op.put.key) || covered(op.put.key)) throw new ModelError('ErrDuplicateKey');
      puts.add(op.put.key);
    }
    return [puts, dels];
  }

  /** Applies a write txn (a bare put/delete is a txn of one op); returns the responses. */
  txn(t: MTxn): { succeeded: boolean; responses: unknown[]; changes: number } {
    this.dupCheck(t.success);
    this.dupCheck(t.failure);
    const pre = this.current();
    const path: boolean[] = [];
    this.path(t, pre, path);
    this.precheck(t, path, 0, pre);
    const work: State = new Map(pre);
    const next = this.rev + 1;
    let changes = 0;
    const cursor = { i: 0 };
    const run = (tx: MTxn): { succeeded: boolean; responses: unknown[] } => {
      const succeeded = path[cursor.i++]!;
      const responses: unknown[] = [];
      for (const op of succeeded ? tx.success : tx.failure) {
        if ('range' in op) {
          const q = op.range;
          const state = q.rev ? this.stateAt(q.rev) : work;
          responses.push({ range: this.rangeIn(state, q) });
        } else if ('put' in op) {
          const p = op.put;
          const prev = work.get(p.key);
          // Possible only after a "\0"-ranged delete in the same txn; the whole txn fails, nothing applies.
          if ((p.ignoreValue || p.ignoreLease) && !prev) throw new ModelError('ErrKeyNotFound');
          work.set(p.key, {
            key: p.key,
            value: p.ignoreValue ? prev!.value : p.value,
            lease: p.ignoreLease ? prev!.lease : p.lease,
            create: prev ? prev.create : next,
            mod: next,
            version: prev ? prev.version + 1 : 1,
          });
          changes++;
          responses.push({ put: p.prevKv && prev ? { prevKv: prev } : {} });
        } else if ('del' in op) {
          const d = op.del;
          const gone = [...work.values()]
            .filter((kv) => inRange(kv.key, d.key, d.end))
            .sort((a, b) => (a.key < b.key ? -1 : 1));
          for (const kv of gone) work.delete(kv.key);
          changes += gone.length;
          responses.push({ del: { deleted: gone.length, prevKvs: d.prevKv ? gone : [] } });
        } else {
          responses.push({ txn: run(op.txn) });
        }
      }
      return { succeeded, responses };
    };
    const result = run(t);
    if (changes > 0) {
      this.rev = next;
      this.states.set(next, work);
    }
    return { ...result, changes };
  }

  compact(rev: number): void {
    if (rev <= this.compactRev) throw new ModelError('ErrCompacted');
    if (rev > this.rev) throw new ModelError('ErrFutureRev');
    this.compactRev = rev;
  }
}
