// Traffic: N concurrent clients, each a loop of random operations over a small key set, every request
// and answer recorded in the history (invoke before sending, ok/fail/info after). A client whose
// request ended with an unknown outcome continues as a new process, as in Jepsen: its old request may
// still take effect later, concurrently with whatever it does next.
import {
  Cmp,
  CompactedError,
  KvClient,
  LeaseNotFoundError,
  Op,
  prefixEnd,
  toBytes,
  toText,
} from '@kv/client';

export const PREFIX = 'rob/';
const LEASE_TTL = 3600; // longer than any run: the model does not expire leases

/** Wire KeyValue -> checker KeyValue. */
function kvOf(kv) {
  return {
    key: toText(kv.key),
    value: toText(kv.value),
    createRevision: kv.createRevision,
    modRevision: kv.modRevision,
    version: kv.version,
    lease: String(kv.lease ?? 0),
  };
}

/** Requests the model understands, and how to send them. */
function chooseRequest(rng, keys, leases, seenMod) {
  const key = rng.pick(keys);
  const value = String(rng.int(0, 1e6));
  const r = rng.next();
  if (r < 0.3) return { type: 'put', key, value };
  if (r < 0.45) return { type: 'get', key };
  if (r < 0.5) return { type: 'get', key, serializable: true };
  if (r < 0.56) return { type: 'delete', key };
  if (r < 0.9) {
    const other = rng.pick(keys.filter((k) => k !== key)) ?? key;
    const kind = rng.int(0, 3);
    if (kind === 0)
      return {
        type: 'txn',
        compare: [{ key, target: 'mod', result: '=', operand: seenMod.get(key) ?? 0 }],
        success: [{ type: 'put', key, value }],
        failure: [{ type: 'get', key }],
      };
    if (kind === 1)
      return {
        type: 'txn',
        compare: [{ key, target: 'create', result: '=', operand: 0 }],
        success: [{ type: 'put', key, value }],
        failure: [{ type: 'get', key }],
      };
    if (kind === 2)
      return {
        type: 'txn',
        compare: [{ key, target: 'version', result: '<', operand: rng.int(1, 6) }],
        success: [
          { type: 'put', key, value },
          { type: 'delete', key: other },
        ],
        failure: [
          { type: 'get', key },
          { type: 'get', key: other },
        ],
      };
    return {
      type: 'txn',
      compare: [{ key: other, target: 'value', result: '>', operand: String(rng.int(0, 1e6)) }],
      success: [{ type: 'get', key }],
      failure: [{ type: 'put', key: other, value }],
    };
  }
  if (r < 0.94 || leases.length === 0) return { type: 'leaseGrant', ttl: LEASE_TTL };
  if (r < 0.98) return { type: 'put', key, value, lease: rng.pick(leases) };
  return { type: 'leaseRevoke', id: rng.pick(leases) };
}

const txnOpOf = (o) =>
  o.type === 'put'
    ? Op.put(PREFIX + o.key, o.value, o.lease ? { lease: BigInt(o.lease) } : {})
    : o.type === 'get'
      ? Op.get(PREFIX + o.key)
      : Op.delete(PREFIX + o.key);

const CMP = { value: Cmp.value, version: Cmp.version, create: Cmp.create, mod: Cmp.mod };

/** Sends one request; returns the checker Response. Keys in the history omit PREFIX. */
async function send(client, req) {
  const strip = (kv) => ({ ...kvOf(kv), key: kvOf(kv).key.slice(PREFIX.length) });
  switch (req.type) {
    case 'put': {
      const res = await client.put(
        PREFIX + req.key,
        req.value,
        req.lease ? { lease: BigInt(req.lease) } : {},
      );
      return { type: 'put', revision: res.header.revision };
    }
    case 'get': {
      const res = await client.get(PREFIX + req.key, { serializable: req.serializable ?? false });
      return { type: 'get', revision: res.header.revision, kvs: res.kvs.map(strip) };
    }
    case 'delete': {
      const res = await client.delete(PREFIX + req.key);
      return { type: 'delete', revision: res.header.revision, deleted: res.deleted };
    }
    case 'txn': {
      const res = await client.txn({
        compare: req.compare.map((c) => CMP[c.target](PREFIX + c.key, c.result, c.operand)),
        success: req.success.map(txnOpOf),
        failure: req.failure.map(txnOpOf),
      });
      const ops = res.succeeded ? req.success : req.failure;
      const results = res.responses.map((r, i) =>
        ops[i].type === 'get'
          ? { type: 'get', kvs: r.responseRange.kvs.map(strip) }
          : ops[i].type === 'delete'
            ? { type: 'delete', deleted: r.responseDeleteRange.deleted }
            : { type: 'put' },
      );
      return { type: 'txn', revision: res.header.revision, succeeded: res.succeeded, results };
    }
    case 'leaseGrant': {
      const res = await client.grant(req.ttl);
      return { type: 'leaseGrant', revision: res.header.revision, id: String(res.ID) };
    }
    case 'leaseRevoke': {
      const res = await client.revoke(BigInt(req.id));
      return { type: 'leaseRevoke', revision: res.header.revision };
    }
  }
}

/** Whether an error proves the request had no effect (the server refused it as a whole). */
function definitelyFailed(req, err) {
  if (req.type === 'get') return true; // a read has no effect either way
  return err instanceof LeaseNotFoundError;
}

/**
 * Starts `clients` loops (client c on endpoint c mod N); resolves when `until()` says stop.
 * @param {{ endpoints: string[], clients: number, keys: string[], rng: any, recorder: any,
 *   until: () => boolean, timeoutMs: number, rate: number }} o  rate: requests/s per client, 0 = no pause
 */
export async function runClients(o) {
  let nextProcess = 0;
  const leases = []; // granted and not known revoked; shared so clients use each other's leases
  const stats = { ok: 0, fail: 0, info: 0 };
  const loops = [];
  for (let c = 0; c < o.clients; c++) {
    const rng = o.rng.fork();
    // Client c talks to member c mod N only (as etcd's robustness clients do), so a member that is cut
    // off, stale or restarting is seen by its own clients instead of being skipped by failover.
    const client = new KvClient({
      endpoints: [o.endpoints[c % o.endpoints.length]],
      dialTimeoutMs: o.timeoutMs,
      commandTimeoutMs: o.timeoutMs,
    });
    const seenMod = new Map();
    loops.push(
      (async () => {
        let process = nextProcess++;
        try {
          let nextAt = Date.now();
          while (!o.until()) {
            if (o.rate > 0) {
              // Open-loop pacing: the next request is due 1/rate after the previous one was due.
              nextAt += 1000 / o.rate;
              const wait = nextAt - Date.now();
              if (wait > 0) await new Promise((r) => setTimeout(r, wait));
            }
            const req = chooseRequest(rng, o.keys, leases, seenMod);
            o.recorder.invoke(process, req);
            try {
              const res = await send(client, req);
              o.recorder.ok(process, res);
              stats.ok++;
              if (res.type === 'leaseGrant') leases.push(res.id);
              if (res.type === 'leaseRevoke') leases.splice(leases.indexOf(req.id) >>> 0, 1);
              if (res.type === 'get') for (const kv of res.kvs) seenMod.set(kv.key, kv.modRevision);
              if (res.type === 'put') seenMod.set(req.key, res.revision);
            } catch (e) {
              if (definitelyFailed(req, e)) {
                o.recorder.fail(process, String(e?.message ?? e));
                stats.fail++;
                if (req.type === 'leaseRevoke' || (req.type === 'put' && req.lease)) {
                  const i = leases.indexOf(req.lease ?? req.id);
                  if (i >= 0) leases.splice(i, 1);
                }
              } else {
                o.recorder.info(process, String(e?.message ?? e));
                stats.info++;
                process = nextProcess++;
                await new Promise((r) => setTimeout(r, 50));
              }
            }
          }
        } finally {
          client.close();
        }
      })(),
    );
  }
  await Promise.all(loops);
  return stats;
}

/**
 * Opens the watches whose deliveries are checked: the whole key prefix and one single key, both with
 * prev_kv and progress notifications, from `startRevision`.
 */
export async function openWatches(endpoints, keys, startRevision) {
  const client = new KvClient({ endpoints, dialTimeoutMs: 2000, commandTimeoutMs: 5000 });
  const specs = [
    { id: 'prefix', key: '', rangeEnd: '\u0000', wireKey: PREFIX, opts: { prefix: true } },
    { id: `key-${keys[0]}`, key: keys[0], wireKey: PREFIX + keys[0], opts: {} },
  ];
  const watches = [];
  for (const s of specs) {
    const record = {
      id: s.id,
      key: s.key,
      ...(s.rangeEnd ? { rangeEnd: s.rangeEnd } : {}),
      startRevision,
      prevKv: true,
      responses: [],
    };
    const strip = (kv) => ({ ...kvOf(kv), key: kvOf(kv).key.slice(PREFIX.length) });
    const w = await client.watch(s.wireKey, { ...s.opts, startRevision, prevKv: true, progressNotify: true });
    w.on('response', (res) => {
      if (res.events.length === 0) {
        record.responses.push({ progressRevision: res.header.revision });
        return;
      }
      record.responses.push({
        events: res.events.map((e) => ({
          type: e.type === 1 ? 'delete' : 'put',
          kv: strip(e.kv),
          ...(e.prevKv ? { prevKv: strip(e.prevKv) } : {}),
        })),
      });
    });
    w.on('error', (e) => {
      record.canceled =
        e instanceof CompactedError ? { compactRevision: e.compactRevision } : { reason: String(e.message) };
    });
    watches.push({ record, watcher: w });
  }
  return {
    watches,
    /** Waits until every watch delivered up to `revision` (or `ms` passed); then closes them. */
    async drain(revision, ms) {
      const deadline = Date.now() + ms;
      while (
        Date.now() < deadline &&
        watches.some((w) => !w.record.canceled && w.watcher.nextRevision <= revision)
      ) {
        await new Promise((r) => setTimeout(r, 50));
      }
      for (const w of watches) {
        w.record.untilRevision = revision;
        w.watcher.cancel();
      }
      client.close();
      return watches.map((w) => w.record);
    },
  };
}

export { prefixEnd, toBytes };

/**
 * Compacts every `everyMs` to 50 revisions behind the head, until stopped; `stop()` answers the
 * revisions compacted (`done`) and all those requested (`requested`). Compaction is not part of the KV
 * model (no request reads a past revision); it matters to watches, which must answer ErrCompacted
 * instead of skipping revisions, and may leave an event's prev_kv out (see the checker's HistoryFile).
 */
export function runCompactor(endpoints, everyMs) {
  const client = new KvClient({ endpoints, dialTimeoutMs: 1000, commandTimeoutMs: 2000 });
  const done = [];
  // Every revision a compaction was requested at, answered or not (a request that timed out may still
  // have been applied): what the checker may take as compacted when it judges prev_kv.
  const requested = [];
  let stopping = false;
  const loop = (async () => {
    while (!stopping && everyMs > 0) {
      await new Promise((r) => setTimeout(r, everyMs));
      if (stopping) break;
      try {
        const head = (await client.get(PREFIX, { prefix: true, countOnly: true })).header.revision;
        if (head > 60) {
          requested.push(head - 50);
          await client.compact(head - 50);
          done.push(head - 50);
        }
      } catch {
        // Server down (nemesis) or already compacted there: try again next time.
      }
    }
  })();
  return {
    async stop() {
      stopping = true;
      await loop;
      client.close();
      return { done, requested };
    },
  };
}

/**
 * Opens a watch from `startRevision` after compaction passed it: the server must cancel it with
 * ErrCompacted (recorded as `canceled`), never deliver from a later revision as if nothing was missing.
 */
export async function lateWatch(endpoints, startRevision, untilRevision) {
  const client = new KvClient({ endpoints, dialTimeoutMs: 2000, commandTimeoutMs: 5000 });
  const record = {
    id: 'late',
    key: '',
    rangeEnd: '\u0000',
    startRevision,
    prevKv: true,
    responses: [],
    untilRevision,
  };
  try {
    const w = await client.watch(PREFIX, { prefix: true, startRevision, prevKv: true, reconnect: false });
    const timer = setTimeout(() => w.cancel(), 5000);
    try {
      for await (const res of w) {
        if (res.events.length === 0) continue;
        record.responses.push({
          events: res.events.map((e) => ({
            type: e.type === 1 ? 'delete' : 'put',
            kv: { ...kvOf(e.kv), key: kvOf(e.kv).key.slice(PREFIX.length) },
            ...(e.prevKv
              ? { prevKv: { ...kvOf(e.prevKv), key: kvOf(e.prevKv).key.slice(PREFIX.length) } }
              : {}),
          })),
        });
        if (w.nextRevision > untilRevision) w.cancel();
      }
    } finally {
      clearTimeout(timer);
    }
  } catch (e) {
    record.canceled =
      e instanceof CompactedError
        ? { compactRevision: e.compactRevision }
        : { reason: String(e?.message ?? e) };
  } finally {
    client.close();
  }
  if (record.canceled) delete record.untilRevision;
  return record;
}
