/**
 * The Election methods as plain `async (request) => response` functions keyed like the server's unary
 * handler table (`<service>/<method key>`), for the JSON gateway. Observe is a stream: the gateway calls
 * {@link observe} with a `send` that writes one JSON line per response.
 */
import type { CampaignRequest, LeaderRequest, ProclaimRequest, ResignRequest } from '@kv/client/api';
import type { KvFacade } from '../v3lock/facade.js';
import type { ConcurrencyUnaryHandler } from '../v3lock/handlers.js';
import { campaign, leader, proclaim, resign } from './election.js';

/** `[key, handler]` pairs for the unary methods of `v3electionpb.Election`. */
export function electionUnaryHandlers(facade: KvFacade): [string, ConcurrencyUnaryHandler][] {
  return [
    [
      'v3electionpb.Election/campaign',
      (req: CampaignRequest, signal?: AbortSignal) => campaign(facade, req, signal),
    ],
    ['v3electionpb.Election/proclaim', (req: ProclaimRequest) => proclaim(facade, req)],
    ['v3electionpb.Election/leader', (req: LeaderRequest) => leader(facade, req)],
    ['v3electionpb.Election/resign', (req: ResignRequest) => resign(facade, req)],
  ];
}
