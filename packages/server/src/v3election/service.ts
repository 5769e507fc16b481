/**
 * Handlers for v3electionpb.Election:
 * `server.addService(ElectionService, createElectionService(facade))`.
 */
import type {
  CampaignRequest,
  CampaignResponse,
  LeaderRequest,
  LeaderResponse,
  ProclaimRequest,
  ProclaimResponse,
  ResignRequest,
  ResignResponse,
} from '@kv/client/api';
import type { ServerCall } from '../transport/grpc/call.js';
import {
  callSignal,
  type FacadeSource,
  facadeFor,
  toServiceError,
  type UnaryCallback,
} from '../v3lock/service.js';
import { campaign, leader, observe, proclaim, resign } from './election.js';

function unary<Req, Res>(
  src: FacadeSource,
  fn: (f: ReturnType<typeof facadeFor>, req: Req, signal: AbortSignal) => Promise<Res>,
) {
  return (call: ServerCall<Req, Res>, callback: UnaryCallback<Res>): void => {
    fn(facadeFor(src, call), call.request, callSignal(call)).then(
      (r) => callback(null, r),
      (err) => callback(toServiceError(err)),
    );
  };
}

/** Handlers of v3electionpb.Election. */
export function createElectionService(src: FacadeSource) {
  return {
    campaign: unary<CampaignRequest, CampaignResponse>(src, campaign),
    proclaim: unary<ProclaimRequest, ProclaimResponse>(src, (f, r) => proclaim(f, r)),
    leader: unary<LeaderRequest, LeaderResponse>(src, (f, r) => leader(f, r)),
    resign: unary<ResignRequest, ResignResponse>(src, (f, r) => resign(f, r)),
    observe(call: ServerCall<LeaderRequest, LeaderResponse>): void {
      const signal = callSignal(call);
      // Honour back-pressure: wait for 'drain' when the stream's buffer is full.
      const send = (r: LeaderResponse) =>
        call.write(r) ? undefined : new Promise<void>((resolve) => call.once('drain', () => resolve()));
      observe(facadeFor(src, call), call.request, send, signal).then(
        () => call.end(),
        (err) => call.fail(toServiceError(err)),
      );
    },
  };
}
