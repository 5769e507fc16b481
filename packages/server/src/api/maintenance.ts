/**
 * The Maintenance service: Status, Defragment, Hash, HashKV, Snapshot (the backend as an etcd-layout
 * bbolt file with a trailing SHA-256 like etcd's), Alarm, MoveLeader.
 */

import type {
  AlarmRequest,
  AlarmResponse,
  DeepPartial,
  DefragmentResponse,
  HashKVRequest,
  HashKVResponse,
  HashResponse,
  MoveLeaderRequest,
  MoveLeaderResponse,
  SnapshotResponse,
  StatusResponse,
} from '@kv/client/api';
import { checkAdmin } from '../auth/permissions.js';
import { formatAlarm } from '../etcdserver/apply.js';
import { Errors, EtcdError, toEtcdError } from '../etcdserver/errors.js';
import { openEtcdSnapshot } from '../etcdserver/etcd-snapshot-stream.js';
import { CLUSTER_VERSION, type EtcdServer, SERVER_VERSION } from '../etcdserver/server.js';
import { Status } from '../transport/grpc/status.js';
import { header } from './context.js';
import { ANONYMOUS, type CallContext } from './identity.js';

type Resp<T> = DeepPartial<T>;

/** Snapshot chunk size (etcd sends 32 KiB chunks). */
export const SNAPSHOT_CHUNK = 32 * 1024;

/** Handlers of etcdserverpb.Maintenance. */
export class MaintenanceApi {
  constructor(private readonly etcd: EtcdServer) {}

  async status(): Promise<Resp<StatusResponse>> {
    const st = this.etcd.raftStatus();
    // Sizes of what the engine has committed, without forcing the pending batch out: monitoring polls
    // Status, and etcd too reports its backend's size as of the last batch commit (every 100 ms).
    const [dbSize, inUse] = await Promise.all([
      this.etcd.store.backend.size(),
      this.etcd.store.backend.sizeInUse(),
    ]);
    // Some engines only know the in-use size after a compaction; never report less than 1 page.
    const dbSizeInUse = inUse > 0 ? inUse : dbSize;
    const errors = this.etcd.applier.alarms.map(formatAlarm);
    return {
      header: header(this.etcd),
      version: SERVER_VERSION,
      dbSize,
      leader: st.lead,
      raftIndex: st.commit,
      raftTerm: st.term,
      raftAppliedIndex: st.applied,
      errors: this.etcd.leaderId === 0n ? ['etcdserver: no leader', ...errors] : errors,
      dbSizeInUse,
      isLearner: this.etcd.membership.get(this.etcd.memberId)?.isLearner ?? false,
    };
  }

  /**
   * Root only while auth is enabled. etcd 3.4's maintenance wrapper returns the auth store's own error
   * unconverted, so clients see status UNKNOWN and "auth: permission denied" / "auth: user name is
   * empty" (checked against etcd 3.4.23 + etcdctl snapshot save/defrag/endpoint hashkv).
   */
  private admin(ctx: CallContext): void {
    if (!this.etcd.auth.isEnabled()) return;
    try {
      checkAdmin(this.etcd.auth, ctx.authInfo);
    } catch (err) {
      throw new EtcdError(Status.UNKNOWN, (err as Error).message.replace(/^etcdserver: /, 'auth: '));
    }
  }

  async defragment(ctx: CallContext = ANONYMOUS): Promise<Resp<DefragmentResponse>> {
    this.admin(ctx);
    await this.etcd.store.flush();
    const m = this.etcd.metrics;
    const started = performance.now();
    m.defragInflight.set(1);
    try {
      await this.etcd.store.backend.defragment();
    } finally {
      m.defragInflight.set(0);
    }
    m.defragSeconds.observe((performance.now() - started) / 1000);
    return { header: header(this.etcd) };
  }

  async hash(ctx: CallContext = ANONYMOUS): Promise<Resp<HashResponse>> {
    this.admin(ctx);
    const started = performance.now();
    const hash = await this.etcd.store.mvcc.hash();
    this.etcd.metrics.hashSeconds.observe((performance.now() - started) / 1000);
    return { header: header(this.etcd), hash };
  }

  async hashKV(req: HashKVRequest, ctx: CallContext = ANONYMOUS): Promise<Resp<HashKVResponse>> {
    this.admin(ctx);
    try {
      const started = performance.now();
      const r = await this.etcd.store.mvcc.hashKV(req.revision);
      this.etcd.metrics.hashRevSeconds.observe((performance.now() - started) / 1000);
      // etcd reports -1 when nothing was ever compacted.
      return {
        header: header(this.etcd, r.revision),
        hash: r.hash,
        compactRevision: r.compactRevision || -1,
      };
    } catch (err) {
      throw toEtcdError(err);
    }
  }

  /**
   * Streams the backend as etcd 3.4 would: a bbolt file in etcd's backend layout followed by the
   * SHA-256 of the file, in 32 KiB chunks, whatever engine kv runs on (so `etcdctl snapshot status` and
   * `snapshot restore` accept it). The file is planned first, so remainingBytes is exact from the start.
   */
  async *snapshot(ctx: CallContext = ANONYMOUS): AsyncGenerator<Resp<SnapshotResponse>> {
    this.admin(ctx);
    await this.etcd.store.flush();
    const snap = await openEtcdSnapshot(this.etcd.store.backend, {
      members: this.etcd.membership.list(),
      removed: this.etcd.membership.removed,
      clusterVersion: CLUSTER_VERSION,
    });
    const hdr = header(this.etcd);
    let remaining = snap.size;
    const started = performance.now();
    try {
      // One chunk buffer for the whole stream: both consumers (the gRPC handler and the gateway) encode
      // each response before they ask for the next one.
      for await (const blob of snap.chunks(SNAPSHOT_CHUNK, { reuseBuffer: true })) {
        remaining -= blob.length;
        yield { header: hdr, remainingBytes: remaining, blob, version: SERVER_VERSION };
      }
      // etcd's snapshotTransferSec: the whole transfer, observed once the last byte went out.
      this.etcd.metrics.backendSnapshotSeconds.observe((performance.now() - started) / 1000);
    } finally {
      snap.close();
    }
  }

  /** Not admin-only: etcd 3.4.23 lets any user list and disarm alarms. */
  async alarm(req: AlarmRequest): Promise<Resp<AlarmResponse>> {
    if (req.action === 0) {
      return { header: header(this.etcd), alarms: [...this.etcd.applier.alarms] };
    }
    const r = await this.etcd.propose({
      alarm: { action: req.action, memberID: req.memberID, alarm: req.alarm },
    });
    const res = r.response as { alarms: AlarmResponse['alarms'] };
    return { header: header(this.etcd), alarms: res.alarms };
  }

  /** Not admin-only in etcd 3.4.23 either. */
  async moveLeader(req: MoveLeaderRequest): Promise<Resp<MoveLeaderResponse>> {
    if (!this.etcd.isLeader) throw Errors.notLeader();
    const target = this.etcd.membership.get(req.targetID);
    if (!target || target.isLearner) throw Errors.badLeaderTransferee();
    if (req.targetID !== this.etcd.memberId) await this.etcd.moveLeader(req.targetID);
    return { header: header(this.etcd) };
  }
}
