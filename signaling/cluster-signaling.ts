// The socket.io side of the signaling server: admits tabs to clusters, keeps each cluster's room,
// tells the coordinator who joins and everyone who leaves, and relays WebRTC signals (Ray's GCS
// node membership, without any task data). Every inbound event is validated; nothing a client
// sends can throw out of here, and a client that keeps sending garbage is disconnected.

import type { Server, Socket } from 'socket.io';
import * as v from 'valibot';
import {
  CLIENT_EVENTS,
  JoinRequestSchema,
  ResumeRequestSchema,
  type ClientToServer,
  type JoinReply,
  type NodeLeftReason,
  type ResumeReply,
  type ServerToClient,
} from '../runtime/protocol/signaling.ts';
import { ClusterRegistry } from './cluster-registry.ts';
import {
  DEPARTURE_ATTEMPTS,
  DEPARTURE_RETRY_MAX_MS,
  DEPARTURE_RETRY_MS,
  GARBAGE_ALLOWANCE,
  MAX_QUEUED_EVENTS,
  MAX_SIGNAL_BYTES_IN_FLIGHT,
} from './constants.ts';
import { JoinThrottle, newStrikeRecord, type StrikeRecord } from './join-throttle.ts';
import type { Departure, Registry } from './registry.ts';
import { checkSignal, relaySignal } from './signal-relay.ts';

export type SignalingServer = Server<ClientToServer, ServerToClient>;
type SignalingSocket = Socket<ClientToServer, ServerToClient>;

export interface ClusterSignalingOptions {
  /** One line per join, leave, refusal and dropped client; no tokens ever reach it. */
  log: (line: string) => void;
  /** Default: a fresh in-memory registry. */
  registry?: Registry;
  /** Invalid messages forgiven per socket before it is disconnected; default GARBAGE_ALLOWANCE. */
  garbageAllowance?: number;
  /** Strikes and backoff for failed joins; default a fresh one with the default limits. */
  throttle?: JoinThrottle;
  /** Milliseconds, for the throttle; default performance.now. Tests pass a fake clock. */
  now?: () => number;
}

export interface ClusterSignaling {
  readonly registry: Registry;
  readonly throttle: JoinThrottle;
  /**
   * From now on a socket that disconnects keeps its membership in the registry, for its tab to
   * `resume` through another process (or this one restarted); for a shared registry, before this
   * process shuts down.
   */
  suspend(): void;
  /** Tells a departure's cluster about it (a departure this process did not see happen: a sweep). */
  announce(d: Departure, reason: NodeLeftReason): void;
}

/** What every connection of one server shares. */
interface Shared {
  readonly registry: Registry;
  readonly throttle: JoinThrottle;
  readonly allowance: number;
  readonly now: () => number;
  readonly log: (line: string) => void;
  suspended: boolean;
}

/** Installs the cluster protocol on the default namespace of `io`. */
export function attachClusterSignaling(io: SignalingServer, options: ClusterSignalingOptions): ClusterSignaling {
  const registry = options.registry ?? new ClusterRegistry();
  const allowance = options.garbageAllowance ?? GARBAGE_ALLOWANCE;
  const log = (line: string): void => {
    try {
      options.log(`webray signaling: ${line}`);
    } catch {
      // A failing logger must not take the server down with it.
    }
  };
  const throttle = options.throttle ?? new JoinThrottle();
  const shared: Shared = { registry, throttle, allowance, now: options.now ?? (() => performance.now()), log, suspended: false };
  io.on('connection', (socket) => new Connection(socket, shared).start());
  return {
    registry,
    throttle,
    suspend: () => {
      shared.suspended = true;
    },
    announce: (d, reason) => announceDeparture(io, d, reason, log),
  };
}

/** Tells the rest of a departed member's cluster (through the adapter: on every server process). */
function announceDeparture(io: SignalingServer, d: Departure, reason: NodeLeftReason, log: (line: string) => void): void {
  const room = clusterRoom(d.cluster);
  if (d.kind === 'node_left') {
    io.to(room).emit('node_left', { nodeId: d.member.nodeId, reason });
    log(`cluster ${d.cluster}: node ${d.member.nodeId} left (${reason})`);
    return;
  }
  io.to(room).emit('cluster_closed', { reason: closedSentence(d, reason) });
  io.in(room).socketsLeave(room);
  log(`cluster ${d.cluster}: closed, its coordinator ${d.member.nodeId} left (${reason}); ${d.volunteers.length} node(s) released`);
}

const CLIENT_EVENT_NAMES: ReadonlySet<unknown> = new Set(CLIENT_EVENTS);

/** The room holding a cluster's member sockets. */
export function clusterRoom(cluster: string): string {
  return `cluster:${cluster}`;
}

/**
 * One client socket for its lifetime: at most one membership at a time, and a garbage count. Its
 * events are handled one at a time, in order (the registry may answer asynchronously), at most
 * MAX_QUEUED_EVENTS waiting.
 */
class Connection {
  private garbage = 0;
  private queue: Promise<void> = Promise.resolve();
  private queued = 0;
  /** Disconnected by this handler for misbehaving: nothing it sent after that is handled. */
  private dropped = false;
  /** Bytes of this socket's signals waiting for their route. */
  private signalBytesInFlight = 0;
  /** The latest signal's relay (they settle in order). */
  private lastSignal: Promise<void> = Promise.resolve();
  private overflowLogged = false;
  private relayFailureLogged = false;
  /** Failed joins of this socket (the address's are in the throttle). */
  private readonly joinStrikes: StrikeRecord = newStrikeRecord();
  private readonly registry: Registry;
  private readonly allowance: number;
  private readonly log: (line: string) => void;

  constructor(
    private readonly socket: SignalingSocket,
    private readonly shared: Shared,
  ) {
    this.registry = shared.registry;
    this.allowance = shared.allowance;
    this.log = shared.log;
  }

  start(): void {
    const s = this.socket;
    // When every event received so far has been handled (tests wait on it).
    (s.data as { settled?: () => Promise<unknown> }).settled = () => Promise.all([this.queue, this.lastSignal]);
    s.onAny((event: unknown) => {
      if (!CLIENT_EVENT_NAMES.has(event)) this.guard('unknown event', () => this.strike('an unknown event'));
    });
    s.on('join', (req: unknown, ack: unknown) => this.guard('join', () => this.onJoin(req, ack)));
    s.on('resume', (req: unknown, ack: unknown) => this.guard('resume', () => this.onResume(req, ack)));
    // Not queued behind other events: a tab may send hundreds of ICE candidates at once, and a
    // signal needs nothing of the events before it (a tab signals only once its join is answered).
    // Signals still go out in the order they came: route lookups answer in order.
    s.on('signal', (msg: unknown) => this.onSignal(msg));
    // Acked once its departure is recorded, so the tab closes its socket after it: a disconnect
    // that overtook the leave would count as going away (a reload), not as shutting down.
    s.on('leave', (ack: unknown) =>
      this.guard('leave', async () => {
        await this.depart('left');
        if (typeof ack === 'function') (ack as () => void)();
      }),
    );
    s.on('disconnect', (reason) =>
      this.guard(
        'disconnect',
        async () => {
          // A process shutting down leaves its sockets' memberships to be resumed elsewhere.
          if (!this.shared.suspended) await this.depart(leaveReason(reason));
        },
        true,
      ),
    );
  }

  private get who(): string {
    return `socket ${this.socket.id}, ${this.socket.handshake.address}`;
  }

  private async onJoin(req: unknown, ack: unknown): Promise<void> {
    if (typeof ack !== 'function') {
      this.strike('a join without an ack');
      return;
    }
    const reply = (r: JoinReply): void => {
      (ack as (r: JoinReply) => void)(r);
    };
    const parsed = v.safeParse(JoinRequestSchema, req);
    if (!parsed.success) {
      this.log(`refused a join: bad_request at ${v.getDotPath(parsed.issues[0]) ?? 'the request'} (${this.who})`);
      reply({ ok: false, code: 'bad_request', message: badRequest(parsed.issues) });
      this.strike('an invalid join');
      return;
    }
    const r = parsed.output;
    const now = this.shared.now();
    const address = guessKey(this.socket.handshake.address, r.cluster);
    // The coordinator taking back its held name (its secret is proof) is never held back by failed
    // joins from its network: others' guesses must not lock it out of its own cluster.
    const secret = r.coordinatorSecret;
    const returning =
      r.role === 'coordinator' && secret !== undefined
        ? await Promise.resolve()
            .then(() => this.registry.holdsFor(r.cluster, secret))
            .catch((err: unknown) => unavailable(err, this.log))
        : false;
    if (returning === 'unavailable') {
      reply({ ok: false, code: 'unavailable', message: UNAVAILABLE });
      return;
    }
    const waitMs = returning ? 0 : this.shared.throttle.waitMs(this.joinStrikes, address, now);
    if (waitMs > 0) {
      // Refused unexamined: guessing during the backoff learns nothing, and costs another strike.
      this.log(`refused a ${r.role} for cluster ${r.cluster}: too_many_attempts (${this.who})`);
      reply({
        ok: false,
        code: 'too_many_attempts',
        message: `too many failed joins from this tab or its network lately: wait ${Math.ceil(waitMs / 1000)} s before trying again`,
      });
      this.joinStrike(now, address, 'a join during its backoff');
      return;
    }
    const outcome = await Promise.resolve().then(() => this.registry.join(this.socket.id, r)).catch((err: unknown) => unavailable(err, this.log));
    if (outcome === 'unavailable') {
      reply({ ok: false, code: 'unavailable', message: UNAVAILABLE });
      return;
    }
    if (!outcome.ok) {
      this.log(`refused a ${r.role} for cluster ${r.cluster}: ${outcome.code} (${this.who})`);
      reply({ ok: false, code: outcome.code, message: outcome.message });
      if (outcome.strike) this.joinStrike(now, address, `a failed join (${outcome.code})`);
      return;
    }
    const { member, coordinator } = outcome;
    void this.socket.join(clusterRoom(outcome.cluster));
    reply(outcome.reply);
    const label = member.label === undefined ? '' : `, label ${JSON.stringify(member.label)}`;
    this.log(
      `cluster ${outcome.cluster}: ${member.role} ${member.nodeId} joined ` +
        `(resources ${JSON.stringify(member.resources)}${member.gpuFallback ? ', fallback GPU' : ''}${label}; ${this.who})`,
    );
    // After the reply, so the node knows its id before the coordinator's first signal reaches it.
    if (member.role === 'node') this.socket.nsp.to(coordinator.connection).emit('node_joined', member);
  }

  /** A reconnected tab taking back its membership: same node id, nobody told. */
  private async onResume(req: unknown, ack: unknown): Promise<void> {
    if (typeof ack !== 'function') {
      this.strike('a resume without an ack');
      return;
    }
    const reply = (r: ResumeReply): void => {
      (ack as (r: ResumeReply) => void)(r);
    };
    const parsed = v.safeParse(ResumeRequestSchema, req);
    if (!parsed.success) {
      reply({ ok: false, code: 'bad_request', message: badRequest(parsed.issues) });
      this.strike('an invalid resume');
      return;
    }
    const r = parsed.output;
    const now = this.shared.now();
    // Guessing a member's resume secret is guessing, as a token is: the same strikes and backoff.
    const address = guessKey(this.socket.handshake.address, r.cluster);
    const waitMs = this.shared.throttle.waitMs(this.joinStrikes, address, now);
    if (waitMs > 0) {
      reply({ ok: false, code: 'too_many_attempts', message: `too many failed joins from this tab or its network lately: wait ${Math.ceil(waitMs / 1000)} s` });
      this.joinStrike(now, address, 'a resume during its backoff');
      return;
    }
    const outcome = await Promise.resolve().then(() => this.registry.resume(this.socket.id, r)).catch((err: unknown) => unavailable(err, this.log));
    if (outcome === 'unavailable') {
      reply({ ok: false, code: 'unavailable', message: UNAVAILABLE });
      return;
    }
    if (!outcome.ok) {
      this.log(`refused to resume ${r.nodeId} in cluster ${r.cluster}: ${outcome.code} (${this.who})`);
      reply({ ok: false, code: outcome.code, message: outcome.message });
      if (outcome.strike) this.joinStrike(now, address, `a failed resume (${outcome.code})`);
      return;
    }
    void this.socket.join(clusterRoom(outcome.cluster));
    // The signals kept for it go in the answer: before any relayed to it from now on.
    reply({ ok: true, members: outcome.members, held: outcome.held });
    this.log(`cluster ${outcome.cluster}: ${outcome.member.role} ${outcome.member.nodeId} resumed (${this.who})`);
  }

  /**
   * Relays a signal. At most MAX_SIGNAL_BYTES_IN_FLIGHT of one socket's signals wait for their
   * route at once; past it a signal is dropped (not a strike: a burst is no misbehaviour), as a
   * network would drop it, and WebRTC's own retries cover it.
   */
  private onSignal(msg: unknown): void {
    try {
      if (this.dropped) return;
      const checked = checkSignal(msg);
      if (checked.kind === 'drop') {
        this.strike(checked.reason);
        return;
      }
      if (this.signalBytesInFlight + checked.bytes > MAX_SIGNAL_BYTES_IN_FLIGHT) {
        if (!this.overflowLogged) this.log(`dropping signals from ${this.who}: more than ${MAX_SIGNAL_BYTES_IN_FLIGHT} bytes wait for their route`);
        this.overflowLogged = true;
        return;
      }
      this.overflowLogged = false;
      this.signalBytesInFlight += checked.bytes;
      this.lastSignal = relaySignal(this.registry, this.socket.id, checked)
        .then((decision) => {
          if (decision.kind === 'relay') this.socket.nsp.to(decision.connection).emit('signal', decision.message);
          this.relayFailureLogged = false;
        })
        .catch((err: unknown) => {
          // The registry failed (Redis away or overloaded), or the encoder gave up on it (nesting
          // too deep): the signal is lost, as a network would lose it. Said once per run of failures.
          if (!this.relayFailureLogged) this.log(`could not relay signals from ${this.who}: ${err instanceof Error ? err.message : String(err)}`);
          this.relayFailureLogged = true;
        })
        .finally(() => {
          this.signalBytesInFlight -= checked.bytes;
        });
    } catch (err) {
      this.log(`internal error handling signal from ${this.who}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  /** Ends this socket's membership, telling the rest of its cluster. */
  private async depart(reason: NodeLeftReason): Promise<void> {
    const d = await this.leave(reason !== 'left');
    if (d === undefined) return;
    void this.socket.leave(clusterRoom(d.cluster));
    announceDeparture(this.socket.nsp.server, d, reason, this.log);
  }

  /**
   * Records this socket's departure, trying again while the registry fails (a shared one whose
   * Redis is away): a departure that was never recorded would leave a coordinator seated for good.
   */
  private async leave(away: boolean): Promise<Departure | undefined> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.registry.leave(this.socket.id, away);
      } catch (err) {
        const why = err instanceof Error ? err.message : String(err);
        if (attempt >= DEPARTURE_ATTEMPTS) {
          this.log(`gave up recording the departure of ${this.who} after ${attempt} attempts: ${why}`);
          return undefined;
        }
        if (attempt === 1) this.log(`could not record the departure of ${this.who} (${why}); trying again`);
        await new Promise((r) => setTimeout(r, Math.min(DEPARTURE_RETRY_MS * 2 ** (attempt - 1), DEPARTURE_RETRY_MAX_MS)));
      }
    }
  }

  /** Counts a failed join against this socket and its address's guesses at one cluster; drops a socket out of strikes. */
  private joinStrike(now: number, addressKey: string, what: string): void {
    const verdict = this.shared.throttle.strike(this.joinStrikes, addressKey, now);
    if (verdict !== 'disconnect' || !this.socket.connected) return;
    this.log(`dropped ${this.who} after ${this.joinStrikes.strikes} failed joins, the last one ${what}`);
    this.dropAfterDeparture();
  }

  /** Counts an invalid message; past the allowance, drops the client. */
  private strike(what: string): void {
    this.garbage++;
    if (this.garbage <= this.allowance || !this.socket.connected) return;
    this.log(`dropped ${this.who} after ${this.garbage} invalid messages, the last one ${what}`);
    this.dropAfterDeparture();
  }

  /** Disconnects this socket at once; its membership ends ('dropped') in turn, before anything queued after. */
  private dropAfterDeparture(): void {
    this.socket.disconnect(true);
    this.dropped = true;
  }

  /**
   * Runs `fn` after this socket's earlier events, catching what it throws. Past MAX_QUEUED_EVENTS
   * waiting, an event is dropped as garbage (`always`: the disconnect, which must run).
   */
  private guard(event: string, fn: () => void | Promise<void>, always = false): void {
    if (!always && this.queued >= MAX_QUEUED_EVENTS) {
      this.strike(`more than ${MAX_QUEUED_EVENTS} events waiting`);
      return;
    }
    this.queued++;
    this.queue = this.queue.then(async () => {
      try {
        // A socket dropped for misbehaving leaves as 'dropped' before its disconnect's turn.
        if (this.dropped && event !== 'disconnect') return;
        await fn();
      } catch (err) {
        this.log(`internal error handling ${event} from ${this.who}: ${err instanceof Error ? err.message : String(err)}`);
      } finally {
        this.queued--;
      }
    });
  }
}

/** What was wrong with a request that failed its schema: where, and why. */
function badRequest(issues: readonly [v.BaseIssue<unknown>, ...v.BaseIssue<unknown>[]]): string {
  const where = v.getDotPath(issues[0]);
  return `${where === null ? '' : `${where}: `}${issues[0].message}`;
}

const UNAVAILABLE = 'the server cannot reach its cluster registry right now: try again in a few seconds';

/** A registry that threw (a shared one that cannot reach Redis): logged, and answered as `unavailable`. */
function unavailable(err: unknown, log: (line: string) => void): 'unavailable' {
  log(`the cluster registry failed: ${err instanceof Error ? err.message : String(err)}`);
  return 'unavailable';
}

/** Maps socket.io's disconnect reasons onto the protocol's. */
function leaveReason(reason: string): NodeLeftReason {
  switch (reason) {
    case 'ping timeout':
      return 'timed_out';
    case 'server namespace disconnect': // this handler gave up on it
    case 'forced close': // socket.io gave up on it (an undecodable packet)
    case 'parse error':
      return 'dropped';
    default:
      return 'disconnected';
  }
}

function closedSentence(d: Extract<Departure, { kind: 'cluster_closed' }>, reason: NodeLeftReason): string {
  const how: Record<NodeLeftReason, string> = {
    left: 'shut it down',
    disconnected: 'went away (its tab closed or lost its connection)',
    timed_out: 'stopped responding',
    dropped: 'was disconnected by the server',
  };
  return `the coordinator of cluster ${d.cluster} ${how[reason]}; join again once it is started again`;
}

/**
 * What an address's failed joins are counted under: the address and the cluster it guesses at.
 * Guessing one cluster's token from one network is held back, while the other tabs of that
 * network (many people share one NAT or proxy address) keep joining other clusters.
 */
function guessKey(address: string, cluster: string): string {
  return `${address} ${cluster}`;
}
