// The cluster registry kept in Redis, so that several signaling processes act as one (Ray's GCS
// with its Redis store): a coordinator on one process and a volunteer on another are members of
// one cluster, and a process that restarts loses no cluster — its tabs reconnect, `resume` their
// memberships, and P2P links run on meanwhile. Each operation is one Lua script, so it is atomic
// however many processes race (two coordinators seating the same name, a leave and a resume).
//
// Keys, under a prefix (default `webray:`):
//   c:<cluster>     hash   token, secret (SHA-256 hex of the join token, of the coordinator secret), coord (node id)
//   mm:<cluster>    zset   the members' node ids, in joining order (coordinator first)
//   clusters        set    running cluster names
//   h:<cluster>     hash   token, secret, away — a name held for a coordinator that left; expires (PEXPIRE)
//   mem:<nodeId>    hash   cluster, info (MemberInfo JSON), conn, server, resume (SHA-256 hex of its resume secret)
//   conn:<socketId> string the node id a socket speaks for
//   servers         set    the ids of server processes that have held sockets
//   srv:<serverId>  string a live process's heartbeat; expires 3 heartbeats after its last
//   sc:<serverId>   set    the sockets a process holds memberships through
//   dead:<serverId> string when a live process first saw that one's heartbeat gone (ms, Redis TIME)
//   held:<nodeId>   list   signals for a member whose process is gone, kept for its resume ('<from>\n<data JSON>')
//   heldb:<nodeId>  string the bytes held:<nodeId> holds
//
// One Redis (or a primary with replicas) only: the scripts touch keys they compute, which Redis
// Cluster does not allow.

import { randomBytes } from 'node:crypto';
import type { NodeId } from '../runtime/protocol/ids.ts';
import { tokenProblem, type JoinRequest, type MemberInfo, type ResumeRequest } from '../runtime/protocol/signaling.ts';
import { hashToken, randomCoordinatorSecret, randomNodeId } from './cluster-registry.ts';
import { COORDINATOR_HOLD_MS, MAX_HELD_BYTES, MAX_HELD_SIGNALS, RESUME_GRACE_MS, SERVER_HEARTBEAT_MS } from './constants.ts';
import {
  memberInfo,
  refusals,
  seatedCoordinator,
  type ConnectionId,
  type Departure,
  type HeldSignal,
  type JoinOutcome,
  type MemberEntry,
  type Registry,
  type ResumeOutcome,
  type Route,
} from './registry.ts';

/** What the registry needs of a Redis client (node-redis's `createClient()` has it). */
export interface RedisScripting {
  scriptLoad(script: string): Promise<string>;
  evalSha(sha: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
}

export interface RedisRegistryOptions {
  readonly redis: RedisScripting;
  /** Prepended to every key; default `webray:`. Several deployments may share one Redis under different prefixes. */
  readonly prefix?: string;
  /** How long a name is held after its coordinator left; default COORDINATOR_HOLD_MS. */
  readonly holdMs?: number;
  /** How long the memberships of a process that stopped wait for their tabs to resume them; default RESUME_GRACE_MS. */
  readonly resumeGraceMs?: number;
  /** How often this process renews its heartbeat and sweeps dead processes' memberships; default SERVER_HEARTBEAT_MS. */
  readonly heartbeatMs?: number;
  /** Mints node ids; default randomNodeId. */
  readonly newNodeId?: () => string;
  /** Mints coordinator secrets; default randomCoordinatorSecret. */
  readonly newSecret?: () => string;
}

const PREAMBLE = `
local P = ARGV[1]
local function joinedAs(conn)
  local cur = redis.call('GET', P .. 'conn:' .. conn)
  if cur then return redis.call('HGET', P .. 'mem:' .. cur, 'cluster') or '' end
  return nil
end
local function seat(name, nodeId, info, conn, server, resume)
  redis.call('HSET', P .. 'mem:' .. nodeId, 'cluster', name, 'info', info, 'conn', conn, 'server', server, 'resume', resume)
  redis.call('ZADD', P .. 'mm:' .. name, redis.call('INCR', P .. 'seq'), nodeId)
  redis.call('SET', P .. 'conn:' .. conn, nodeId)
  redis.call('SADD', P .. 'sc:' .. server, conn)
end
`;

const SCRIPTS = {
  // ARGV: P, conn, cluster, token hash, presented secret hash or '', fresh secret hash, node id, info, resume hash, server,
  // weak ('1': the token is too weak, refused once the socket is known not to be a member)
  seatCoordinator: `${PREAMBLE}
local conn, name, nodeId = ARGV[2], ARGV[3], ARGV[7]
local cur = joinedAs(conn)
if cur then return {'already_joined', cur} end
if ARGV[11] == '1' then return {'weak_token'} end
if redis.call('EXISTS', P .. 'c:' .. name) == 1 then return {'coordinator_exists'} end
local hk = P .. 'h:' .. name
local held = redis.call('HGET', hk, 'secret')
local secret, restored = ARGV[6], '0'
if held then
  local ttl = tostring(redis.call('PTTL', hk))
  if ARGV[5] == '' then return {'name_held', ttl, '0'} end
  if ARGV[5] ~= held then return {'name_held', ttl, '1'} end
  redis.call('DEL', hk)
  secret, restored = held, '1'
end
if redis.call('EXISTS', P .. 'mem:' .. nodeId) == 1 then return {'id_taken'} end
redis.call('HSET', P .. 'c:' .. name, 'token', ARGV[4], 'secret', secret, 'coord', nodeId)
redis.call('SADD', P .. 'clusters', name)
seat(name, nodeId, ARGV[8], conn, ARGV[10], ARGV[9])
return {'ok', restored}`,

  // ARGV: P, conn, cluster, token hash, node id, info, resume hash, server
  seatNode: `${PREAMBLE}
local conn, name, nodeId = ARGV[2], ARGV[3], ARGV[5]
local cur = joinedAs(conn)
if cur then return {'already_joined', cur} end
local c = P .. 'c:' .. name
local token = redis.call('HGET', c, 'token')
if not token then
  local hk = P .. 'h:' .. name
  local h = redis.call('HMGET', hk, 'token', 'away')
  if h[1] and h[2] == '1' and h[1] == ARGV[4] then return {'coordinator_away', tostring(redis.call('PTTL', hk))} end
  return {'wrong_token'}
end
if token ~= ARGV[4] then return {'wrong_token'} end
if redis.call('EXISTS', P .. 'mem:' .. nodeId) == 1 then return {'id_taken'} end
seat(name, nodeId, ARGV[6], conn, ARGV[8], ARGV[7])
local coord = redis.call('HGET', c, 'coord')
local cm = redis.call('HMGET', P .. 'mem:' .. coord, 'info', 'conn')
return {'ok', cm[1], cm[2]}`,

  // ARGV: P, conn, cluster, node id, resume hash, server
  resume: `${PREAMBLE}
local conn, nodeId = ARGV[2], ARGV[4]
local cur = joinedAs(conn)
if cur then return {'already_joined', cur} end
local mk = P .. 'mem:' .. nodeId
local m = redis.call('HMGET', mk, 'cluster', 'resume', 'conn', 'server', 'info')
if not m[1] or m[1] ~= ARGV[3] or m[2] ~= ARGV[5] then return {'unknown_member'} end
redis.call('DEL', P .. 'conn:' .. m[3])
redis.call('SREM', P .. 'sc:' .. m[4], m[3])
redis.call('HSET', mk, 'conn', conn, 'server', ARGV[6])
redis.call('SET', P .. 'conn:' .. conn, nodeId)
redis.call('SADD', P .. 'sc:' .. ARGV[6], conn)
local hk = P .. 'held:' .. nodeId
local out = {'ok', m[5]}
for _, h in ipairs(redis.call('LRANGE', hk, 0, -1)) do table.insert(out, h) end
redis.call('DEL', hk, P .. 'heldb:' .. nodeId)
return out`,

  // ARGV: P, conn, away ('1' or '0'), hold ms. Returns nil, {'node_left', cluster, info} or
  // {'cluster_closed', cluster, info, (volunteer info, volunteer conn)...}.
  leave: `${PREAMBLE}
local ck = P .. 'conn:' .. ARGV[2]
local nodeId = redis.call('GET', ck)
if not nodeId then return nil end
local mk = P .. 'mem:' .. nodeId
local m = redis.call('HMGET', mk, 'cluster', 'info', 'server')
redis.call('DEL', ck, mk, P .. 'held:' .. nodeId, P .. 'heldb:' .. nodeId)
if not m[1] then return nil end
local name = m[1]
redis.call('SREM', P .. 'sc:' .. m[3], ARGV[2])
local mm = P .. 'mm:' .. name
redis.call('ZREM', mm, nodeId)
local c = P .. 'c:' .. name
if redis.call('HGET', c, 'coord') ~= nodeId then return {'node_left', name, m[2]} end
local out = {'cluster_closed', name, m[2]}
for _, id in ipairs(redis.call('ZRANGE', mm, 0, -1)) do
  local vk = P .. 'mem:' .. id
  local v = redis.call('HMGET', vk, 'info', 'conn', 'server')
  redis.call('DEL', vk, P .. 'held:' .. id, P .. 'heldb:' .. id)
  if v[2] then
    redis.call('DEL', P .. 'conn:' .. v[2])
    redis.call('SREM', P .. 'sc:' .. v[3], v[2])
    table.insert(out, v[1])
    table.insert(out, v[2])
  end
end
redis.call('DEL', mm)
local cs = redis.call('HMGET', c, 'token', 'secret')
redis.call('DEL', c)
redis.call('SREM', P .. 'clusters', name)
local hk = P .. 'h:' .. name
redis.call('HSET', hk, 'token', cs[1], 'secret', cs[2], 'away', ARGV[3])
redis.call('PEXPIRE', hk, ARGV[4])
return out`,

  // ARGV: P, from conn, to node id, the signal's data as JSON ('' for none), how many signals and
  // bytes to keep at most, for how long (ms). Returns nil, {from node id, target conn}, or that and
  // 'held' when the target's process is gone (its heartbeat expired) and the signal was kept for
  // the target's resume — the first ones: an offer comes before its candidates — or 'dropped'.
  route: `${PREAMBLE}
local me = redis.call('GET', P .. 'conn:' .. ARGV[2])
if not me or me == ARGV[3] then return nil end
local mine = redis.call('HGET', P .. 'mem:' .. me, 'cluster')
local t = redis.call('HMGET', P .. 'mem:' .. ARGV[3], 'cluster', 'conn', 'server')
if not mine or t[1] ~= mine then return nil end
if redis.call('EXISTS', P .. 'srv:' .. t[3]) == 1 then return {me, t[2]} end
local hk, bk = P .. 'held:' .. ARGV[3], P .. 'heldb:' .. ARGV[3]
local entry = me .. '\\n' .. ARGV[4]
if redis.call('LLEN', hk) >= tonumber(ARGV[5]) or tonumber(redis.call('GET', bk) or '0') + #entry > tonumber(ARGV[6]) then
  return {me, t[2], 'dropped'}
end
redis.call('RPUSH', hk, entry)
redis.call('INCRBY', bk, #entry)
redis.call('PEXPIRE', hk, ARGV[7])
redis.call('PEXPIRE', bk, ARGV[7])
return {me, t[2], 'held'}`,

  // ARGV: P, cluster, secret hash. 1 when the name is held for that secret.
  holdsFor: `${PREAMBLE}
if redis.call('HGET', P .. 'h:' .. ARGV[2], 'secret') == ARGV[3] then return 1 end
return 0`,

  // ARGV: P, cluster. The members' infos, in joining order.
  members: `${PREAMBLE}
local out = {}
for _, id in ipairs(redis.call('ZRANGE', P .. 'mm:' .. ARGV[2], 0, -1)) do
  local info = redis.call('HGET', P .. 'mem:' .. id, 'info')
  if info then table.insert(out, info) end
end
return out`,

  // ARGV: P
  clusterCount: `${PREAMBLE}
return redis.call('SCARD', P .. 'clusters')`,

  // ARGV: P, server, ttl ms
  // Returns, when this process's heartbeat had lapsed (or this is its first), what was held for
  // its own sockets meanwhile: {conn, entry, conn, entry, ...}; signals to a live socket that
  // were taken for a gone process's are delivered late rather than never.
  heartbeat: `${PREAMBLE}
local was = redis.call('SET', P .. 'srv:' .. ARGV[2], '1', 'PX', ARGV[3], 'GET')
redis.call('SADD', P .. 'servers', ARGV[2])
local out = {}
if was then return out end
for _, c in ipairs(redis.call('SMEMBERS', P .. 'sc:' .. ARGV[2])) do
  local id = redis.call('GET', P .. 'conn:' .. c)
  if id then
    local hk = P .. 'held:' .. id
    for _, h in ipairs(redis.call('LRANGE', hk, 0, -1)) do
      table.insert(out, c)
      table.insert(out, h)
    end
    redis.call('DEL', hk, P .. 'heldb:' .. id)
  end
end
return out`,

  // ARGV: P, server
  stop: `${PREAMBLE}
redis.call('DEL', P .. 'srv:' .. ARGV[2])
return 1`,

  // ARGV: P, grace ms. The sockets of processes whose heartbeat has been gone for grace ms;
  // a process is forgotten once none is left.
  sweep: `${PREAMBLE}
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local out = {}
for _, id in ipairs(redis.call('SMEMBERS', P .. 'servers')) do
  if redis.call('EXISTS', P .. 'srv:' .. id) == 1 then
    -- Alive (again): a lapse it came back from is forgotten, so the next one gets its full grace.
    redis.call('DEL', P .. 'dead:' .. id)
  else
    local dk = P .. 'dead:' .. id
    local since = redis.call('GET', dk)
    local conns = redis.call('SMEMBERS', P .. 'sc:' .. id)
    if #conns == 0 then
      redis.call('SREM', P .. 'servers', id)
      redis.call('DEL', dk)
    elseif not since then
      redis.call('SET', dk, tostring(now))
    elseif now - tonumber(since) >= tonumber(ARGV[2]) then
      for _, c in ipairs(conns) do table.insert(out, c) end
    end
  end
end
return out`,
} as const;

type ScriptName = keyof typeof SCRIPTS;

export class RedisClusterRegistry implements Registry {
  /** This process's id among the servers sharing the Redis. */
  readonly serverId = `s-${randomBytes(8).toString('hex')}`;
  private readonly redis: RedisScripting;
  private readonly prefix: string;
  private readonly holdMs: number;
  private readonly resumeGraceMs: number;
  private readonly heartbeatMs: number;
  private readonly newNodeId: () => string;
  private readonly newSecret: () => string;
  private readonly shas = new Map<ScriptName, string>();
  private timer: ReturnType<typeof setInterval> | undefined;
  private ticking = false;

  constructor(options: RedisRegistryOptions) {
    this.redis = options.redis;
    this.prefix = options.prefix ?? 'webray:';
    this.holdMs = options.holdMs ?? COORDINATOR_HOLD_MS;
    this.resumeGraceMs = options.resumeGraceMs ?? RESUME_GRACE_MS;
    this.heartbeatMs = options.heartbeatMs ?? SERVER_HEARTBEAT_MS;
    this.newNodeId = options.newNodeId ?? randomNodeId;
    this.newSecret = options.newSecret ?? randomCoordinatorSecret;
  }

  /**
   * Loads the scripts, announces this process and starts its heartbeat, which also sweeps the
   * memberships of processes that stopped and were not resumed: `onSwept` is told each departure,
   * to announce it.
   */
  async start(onSwept: (d: Departure) => void, onHeld: (connection: ConnectionId, signal: HeldSignal) => void = () => {}): Promise<void> {
    for (const name of Object.keys(SCRIPTS) as ScriptName[]) this.shas.set(name, await this.redis.scriptLoad(SCRIPTS[name]));
    this.onHeld = onHeld;
    await this.heartbeat();
    this.timer = setInterval(() => {
      if (this.ticking) return;
      this.ticking = true;
      void this.tick(onSwept).finally(() => {
        this.ticking = false;
      });
    }, this.heartbeatMs);
    this.timer.unref();
  }

  /** Told of signals held for this process's own sockets while its heartbeat had lapsed (start's onHeld). */
  private onHeld: (connection: ConnectionId, signal: HeldSignal) => void = () => {};

  /**
   * Stops the heartbeat and says this process is gone: its sockets' memberships stay, for their
   * tabs to resume through another process (or this one restarted) within the grace period.
   */
  async stop(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    await this.run('stop', [this.serverId]);
  }

  private async tick(onSwept: (d: Departure) => void): Promise<void> {
    try {
      await this.heartbeat();
      for (const d of await this.sweep()) onSwept(d);
    } catch {
      // Redis unreachable for a moment: the next tick tries again (operations fail on their own).
    }
  }

  private async heartbeat(): Promise<void> {
    const r = strings(await this.run('heartbeat', [this.serverId, String(this.heartbeatMs * 3)]));
    for (let i = 0; i + 1 < r.length; i += 2) this.onHeld(r[i] ?? '', parseHeld(r[i + 1] ?? ''));
  }

  /** Ends the memberships of processes whose heartbeat has been gone for the grace period and that no tab resumed. */
  async sweep(): Promise<Departure[]> {
    const conns = strings(await this.run('sweep', [String(this.resumeGraceMs)]));
    const out: Departure[] = [];
    for (const c of conns) {
      const d = await this.leave(c, true);
      if (d !== undefined) out.push(d);
    }
    return out;
  }

  async join(connection: ConnectionId, req: JoinRequest): Promise<JoinOutcome> {
    for (;;) {
      const outcome = req.role === 'coordinator' ? await this.seatCoordinator(connection, req) : await this.seatNode(connection, req);
      if (outcome !== 'id_taken') return outcome;
    }
  }

  private async seatCoordinator(connection: ConnectionId, req: JoinRequest): Promise<JoinOutcome | 'id_taken'> {
    const weak = tokenProblem(req.token);
    const member = memberInfo(this.newNodeId() as NodeId, req);
    const fresh = this.newSecret();
    const resumeSecret = randomCoordinatorSecret();
    const r = strings(
      await this.run('seatCoordinator', [
        connection,
        req.cluster,
        hex(req.token),
        req.coordinatorSecret === undefined ? '' : hex(req.coordinatorSecret),
        hex(fresh),
        member.nodeId,
        JSON.stringify(member),
        hex(resumeSecret),
        this.serverId,
        weak === undefined ? '0' : '1',
      ]),
    );
    switch (r[0]) {
      case 'ok': {
        const secret = r[1] === '1' ? (req.coordinatorSecret ?? fresh) : fresh;
        return seatedCoordinator(req.cluster, member, connection, secret, resumeSecret);
      }
      case 'id_taken':
        return 'id_taken';
      case 'already_joined':
        return refusals.alreadyJoined(r[1] ?? '');
      case 'weak_token':
        return refusals.weakToken(req.cluster, weak ?? '');
      case 'coordinator_exists':
        return refusals.coordinatorExists(req.cluster);
      case 'name_held':
        return refusals.nameHeld(req.cluster, seconds(r[1]), r[2] === '1');
      default:
        throw new Error(`unexpected answer from the registry script: ${JSON.stringify(r)}`);
    }
  }

  private async seatNode(connection: ConnectionId, req: JoinRequest): Promise<JoinOutcome | 'id_taken'> {
    const member = memberInfo(this.newNodeId() as NodeId, req);
    const resumeSecret = randomCoordinatorSecret();
    const r = strings(
      await this.run('seatNode', [connection, req.cluster, hex(req.token), member.nodeId, JSON.stringify(member), hex(resumeSecret), this.serverId]),
    );
    switch (r[0]) {
      case 'ok': {
        const coordinator: MemberEntry = { info: parseInfo(r[1]), connection: r[2] ?? '' };
        return {
          ok: true,
          cluster: req.cluster,
          member,
          coordinator,
          reply: { ok: true, nodeId: member.nodeId, coordinatorId: coordinator.info.nodeId, members: [coordinator.info, member], resumeSecret },
        };
      }
      case 'id_taken':
        return 'id_taken';
      case 'already_joined':
        return refusals.alreadyJoined(r[1] ?? '');
      case 'coordinator_away':
        return refusals.coordinatorAway(req.cluster, seconds(r[1]));
      case 'wrong_token':
        return refusals.wrongToken(req.cluster);
      default:
        throw new Error(`unexpected answer from the registry script: ${JSON.stringify(r)}`);
    }
  }

  async resume(connection: ConnectionId, req: ResumeRequest): Promise<ResumeOutcome> {
    const r = strings(await this.run('resume', [connection, req.cluster, req.nodeId, hex(req.resumeSecret), this.serverId]));
    if (r[0] === 'ok') {
      const member = parseInfo(r[1]);
      const all = await this.members(req.cluster);
      const coordinator = all.find((m) => m.role === 'coordinator');
      const members = member.role === 'coordinator' || coordinator === undefined ? all : [coordinator, member];
      const held = r.slice(2).map(parseHeld);
      return { ok: true, cluster: req.cluster, member, members, held };
    }
    if (r[0] === 'already_joined') return refusals.resumeAlreadyJoined(r[1] ?? '');
    return refusals.unknownMember(req);
  }

  async leave(connection: ConnectionId, away = false): Promise<Departure | undefined> {
    const raw = await this.run('leave', [connection, away ? '1' : '0', String(this.holdMs)]);
    if (raw === null) return undefined;
    const r = strings(raw);
    const cluster = r[1] ?? '';
    const member = parseInfo(r[2]);
    if (r[0] === 'node_left') return { kind: 'node_left', cluster, member };
    const volunteers: MemberEntry[] = [];
    for (let i = 3; i + 1 < r.length; i += 2) volunteers.push({ info: parseInfo(r[i]), connection: r[i + 1] ?? '' });
    return { kind: 'cluster_closed', cluster, member, volunteers };
  }

  async holdsFor(name: string, secret: string): Promise<boolean> {
    return (await this.run('holdsFor', [name, hex(secret)])) === 1;
  }

  async route(from: ConnectionId, to: string, data: unknown): Promise<Route | undefined> {
    const raw = await this.run('route', [
      from,
      to,
      JSON.stringify(data) ?? '',
      String(MAX_HELD_SIGNALS),
      String(MAX_HELD_BYTES),
      String(this.resumeGraceMs + this.heartbeatMs * 3),
    ]);
    if (raw === null) return undefined;
    const [node, connection, held] = strings(raw);
    if (node === undefined || connection === undefined) return undefined;
    // Kept, or dropped past the bounds: either way not for the target's (gone) socket.
    return held === undefined ? { from: node as NodeId, connection } : { from: node as NodeId, connection, held: true };
  }

  async members(cluster: string): Promise<MemberInfo[]> {
    return strings(await this.run('members', [cluster])).map(parseInfo);
  }

  async clusterCount(): Promise<number> {
    return Number(await this.run('clusterCount', []));
  }

  /** Runs a loaded script; loads it again when Redis has forgotten it (a Redis restart). */
  private async run(name: ScriptName, args: string[]): Promise<unknown> {
    const options = { keys: [], arguments: [this.prefix, ...args] };
    const sha = this.shas.get(name) ?? (await this.load(name));
    try {
      return await this.redis.evalSha(sha, options);
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
      return this.redis.evalSha(await this.load(name), options);
    }
  }

  private async load(name: ScriptName): Promise<string> {
    const sha = await this.redis.scriptLoad(SCRIPTS[name]);
    this.shas.set(name, sha);
    return sha;
  }
}

/** A member's info as this registry stored it (JSON it wrote itself). */
function parseInfo(json: string | undefined): MemberInfo {
  if (json === undefined) throw new Error('the registry lost a member’s info');
  return JSON.parse(json) as MemberInfo;
}

/** A held signal as the route script stored it: the sender's node id, a newline, the data's JSON. */
function parseHeld(entry: string): HeldSignal {
  const cut = entry.indexOf('\n');
  const json = entry.slice(cut + 1);
  return { from: entry.slice(0, cut) as NodeId, data: json === '' ? undefined : (JSON.parse(json) as unknown) };
}

function strings(raw: unknown): string[] {
  if (!Array.isArray(raw)) throw new Error(`unexpected answer from the registry script: ${JSON.stringify(raw)}`);
  return raw.map((x) => String(x));
}

function hex(secret: string): string {
  return hashToken(secret).toString('hex');
}

function seconds(pttl: string | undefined): number {
  return Math.max(1, Math.ceil(Number(pttl ?? 0) / 1000));
}
