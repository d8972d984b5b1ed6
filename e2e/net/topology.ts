// Two "machines" behind NAT routers and an "internet" between them, on one Linux box, built from
// network namespaces (`ip netns`) linked only by veth pairs, so browser tests can take the path
// real volunteers take: ICE through NAT with STUN (and TURN), no loopback shortcuts.
//
//   host A  198.51.100.2 ─ lan 198.51.100.1 [router A: NAT] wan 203.0.113.21 ─┐
//                                                                             ├─ br0 203.0.113.10
//   host B  192.0.2.2    ─ lan 192.0.2.1    [router B: NAT] wan 203.0.113.22 ─┘  "internet": the
//                                                     webray server and coturn; default route into
//                                                     a blackhole veth pair (nothing leaves)
//
// Documentation address ranges only (RFC 5737). No namespace has a link to any namespace this
// module did not make (checkIsolation() proves it after every build), so no packet can reach the
// machine's real interfaces: the only way out of a host is its router, the only way out of a
// router is the bridge, and the bridge's default route ends in a veth pair that leads nowhere.
//
// NAT (docs/browser-facts.md, "Two machines behind NAT"): MASQUERADE on each router's WAN side; 'cone'
// keeps a flow's source port when it can (endpoint-independent mapping, what STUN needs),
// 'symmetric' adds --random-fully (a new port per destination: STUN alone cannot connect, TURN
// must relay). Pitfall 1: a peer's check that reaches a router before this side sent anything
// must not create a conntrack entry that clashes with the later outbound flow, hence the
// `INPUT -i wan ctstate NEW,INVALID DROP`. Pitfall 2: coturn's relay needs *some* route for any
// peer address it is asked to reach (ENETUNREACH closes the allocation), hence the blackhole.
//
// Namespace names are machine-wide: every topology gets a prefix `wr<pid>-<n>` of its own. It is
// torn down by down() (call it in afterAll), by a process 'exit' handler, and, should the process
// be killed outright, by the next build on this machine, which removes namespaces whose creating
// process is gone. Needs root (or CAP_SYS_ADMIN + CAP_NET_ADMIN), iproute2 and iptables; works
// inside scripts/e2e.sh's `unshare -n` namespace too (the names live in the shared mount
// namespace, the new network namespaces are linked to nothing).
import { execFile, spawn, spawnSync, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

export type NatMode = 'cone' | 'symmetric';

/** The "internet": one bridge, one address for the servers on it. */
export const INTERNET_SUBNET = '203.0.113.0/24';
export const INTERNET_RANGE = '203.0.113.0-203.0.113.255';
export const SERVER_IP = '203.0.113.10';

/** One machine behind its own NAT router. */
export interface Machine {
  /** 'a' or 'b'. */
  readonly id: 'a' | 'b';
  /** The host's namespace: where its browser runs. */
  readonly ns: string;
  /** The host's private address (what a host candidate would reveal). */
  readonly ip: string;
  /** The router's namespace. */
  readonly routerNs: string;
  /** The router's public address: every flow from the host leaves with it (the srflx address). */
  readonly publicIp: string;
  readonly nat: NatMode;
}

export interface TopologyOptions {
  /** NAT of router A / B; default 'cone'. */
  readonly natA?: NatMode;
  readonly natB?: NatMode;
}

export interface Topology {
  /** `wr<pid>-<n>`: every namespace name starts with it. */
  readonly prefix: string;
  /** The "internet" namespace, where servers run, on SERVER_IP. */
  readonly internetNs: string;
  readonly a: Machine;
  readonly b: Machine;
  /** Every namespace of this topology. */
  readonly namespaces: readonly string[];
  /** Runs `cmd args` inside `ns` to completion; rejects (with its stderr) when it fails. */
  run(ns: string, cmd: string, args?: readonly string[], opts?: { timeoutMs?: number }): Promise<{ stdout: string; stderr: string }>;
  /**
   * Starts `cmd args` inside `ns`; it is killed (SIGKILL) if this process dies, and by down().
   */
  spawn(ns: string, cmd: string, args?: readonly string[], opts?: SpawnOptions): ChildProcess;
  /** Throws unless every link of every namespace is lo, the bridge or a veth whose peer is in this topology. */
  checkIsolation(): Promise<void>;
  /** Kills what still runs inside the namespaces and deletes them. Synchronous, idempotent. */
  down(): void;
}

/** Why this machine cannot build a topology, or undefined when it can (for test.skip). */
export function topologyUnavailable(): string | undefined {
  if (process.platform !== 'linux') return 'network namespaces need Linux';
  if (process.getuid?.() !== 0) return 'building network namespaces needs root (run the e2e suite as root, e.g. in CI)';
  // Root of a user namespace (scripts/e2e.sh's `unshare -rn` for a normal user) cannot name
  // namespaces in the machine's /var/run/netns: only the initial user namespace maps all ids.
  const uidMap = readFileSync('/proc/self/uid_map', 'utf8').trim().split(/\s+/);
  if (uidMap.join(' ') !== '0 0 4294967295') return 'building network namespaces needs real root, not root of a user namespace (unshare -r)';
  for (const [cmd, args, pkg] of [
    ['ip', ['netns', 'list'], 'iproute2'],
    ['iptables', ['--version'], 'iptables'],
    ['setpriv', ['--version'], 'util-linux'],
  ] as const) {
    const r = spawnSync(cmd, args, { stdio: 'ignore' });
    if (r.error || r.status !== 0) return `\`${cmd} ${args.join(' ')}\` failed: install ${pkg}`;
  }
  return undefined;
}

const PLAN = {
  a: { id: 'a', lan: '198.51.100', publicIp: '203.0.113.21' },
  b: { id: 'b', lan: '192.0.2', publicIp: '203.0.113.22' },
} as const;

const live = new Set<Topology>();
let topologyCount = 0;
let exitHooked = false;

/** Builds the topology (≈0.5–2 s); tears down whatever it made if any step fails. */
export async function buildTopology(opts: TopologyOptions = {}): Promise<Topology> {
  sweepStale();
  if (!exitHooked) {
    exitHooked = true;
    // Last resort when afterAll did not run (a thrown hook, process.exit): 'exit' handlers must be synchronous.
    process.on('exit', () => {
      for (const t of live) t.down();
    });
  }
  topologyCount++;
  const prefix = `wr${process.pid}-${topologyCount}`;
  const internetNs = `${prefix}-net`;
  const machine = (p: (typeof PLAN)['a' | 'b'], nat: NatMode): Machine => ({
    id: p.id,
    ns: `${prefix}-${p.id}`,
    ip: `${p.lan}.2`,
    routerNs: `${prefix}-r${p.id}`,
    publicIp: p.publicIp,
    nat,
  });
  const a = machine(PLAN.a, opts.natA ?? 'cone');
  const b = machine(PLAN.b, opts.natB ?? 'cone');
  const namespaces = [internetNs, a.routerNs, a.ns, b.routerNs, b.ns];
  const children = new Set<ChildProcess>();

  let isDown = false;
  const topology: Topology = {
    prefix,
    internetNs,
    a,
    b,
    namespaces,
    async run(ns, cmd, args = [], runOpts = {}) {
      const { stdout, stderr } = await execFileAsync('ip', ['netns', 'exec', ns, cmd, ...args], {
        timeout: runOpts.timeoutMs ?? 10_000,
        encoding: 'utf8',
      });
      return { stdout, stderr };
    },
    spawn(ns, cmd, args = [], spawnOpts = {}) {
      // setpriv --pdeathsig: the child dies with this process even when it is SIGKILLed.
      const child = spawn('ip', ['netns', 'exec', ns, 'setpriv', '--pdeathsig', 'KILL', '--', cmd, ...args], spawnOpts);
      children.add(child);
      child.once('exit', () => children.delete(child));
      return child;
    },
    checkIsolation: () => checkIsolation(namespaces),
    down() {
      if (isDown) return;
      isDown = true;
      live.delete(topology);
      for (const c of children) c.kill('SIGKILL');
      removeNamespaces(namespaces);
    },
  };
  live.add(topology);
  try {
    await execFileAsync('bash', ['-euo', 'pipefail', '-c', buildScript(internetNs, [a, b])], { timeout: 30_000 });
    await topology.checkIsolation();
  } catch (e) {
    topology.down();
    throw e;
  }
  return topology;
}

/**
 * The shell script that makes the namespaces, links, addresses, routes and NAT rules. Commands
 * are batched (`ip -b`), one process per namespace, and the two machines are built in parallel:
 * a process start costs ~50–200 ms on a loaded 2-core machine, and one by one they took ~4 s.
 * IPv6 is off on every link (`addrgenmode none`: no link-local addresses): the topology is IPv4.
 */
function buildScript(inet: string, machines: readonly Machine[]): string {
  const batch = (ns: string | undefined, cmds: readonly string[]) =>
    `ip ${ns ? `-n ${ns} ` : ''}-b - <<'EOF'\n${cmds.join('\n')}\nEOF`;
  const lines: string[] = [
    batch(undefined, [inet, ...machines.flatMap((m) => [m.routerNs, m.ns])].map((ns) => `netns add ${ns}`)),
    batch(inet, [
      'link set lo up',
      'link add br0 type bridge',
      'link set br0 addrgenmode none',
      `addr add ${SERVER_IP}/24 dev br0`,
      'link set br0 up',
      // Pitfall 2: a default route that leads nowhere (both ends of the pair stay here, no ARP).
      'link add bh0 type veth peer name bh1',
      'link set bh0 addrgenmode none arp off up',
      'link set bh1 addrgenmode none arp off up',
      'route add default dev bh0',
    ]),
  ];
  const jobs = machines.map((m) => {
    const r = m.routerNs;
    const lan = m.ip.replace(/\.2$/, '');
    return [
      batch(r, [
        'link set lo up',
        `link add wan type veth peer name wan-${m.id} netns ${inet}`,
        'link set wan addrgenmode none',
        `addr add ${m.publicIp}/24 dev wan`,
        'link set wan up',
        `link add lan type veth peer name eth0 netns ${m.ns}`,
        'link set lan addrgenmode none',
        `addr add ${lan}.1/24 dev lan`,
        'link set lan up',
      ]),
      batch(m.ns, [
        'link set lo up',
        'link set eth0 addrgenmode none',
        `addr add ${m.ip}/24 dev eth0`,
        'link set eth0 up',
        // A default route, as a home network has: Chromium picks its "default local address" by
        // routing towards a public address, and gathers no candidate without one.
        `route add default via ${lan}.1`,
      ]),
      `ip netns exec ${r} sh -c 'echo 1 > /proc/sys/net/ipv4/ip_forward && exec iptables-restore' <<'EOF'`,
      '*nat',
      ':PREROUTING ACCEPT [0:0]',
      ':INPUT ACCEPT [0:0]',
      ':OUTPUT ACCEPT [0:0]',
      ':POSTROUTING ACCEPT [0:0]',
      `-A POSTROUTING -o wan -j MASQUERADE${m.nat === 'symmetric' ? ' --random-fully' : ''}`,
      'COMMIT',
      '*filter',
      ':INPUT ACCEPT [0:0]',
      ':FORWARD ACCEPT [0:0]',
      ':OUTPUT ACCEPT [0:0]',
      // Pitfall 1: nothing from the internet opens a flow to the router itself.
      '-A INPUT -i wan -m conntrack --ctstate NEW,INVALID -j DROP',
      'COMMIT',
      'EOF',
    ].join('\n');
  });
  // The machines in parallel; `wait <pid>` fails the script (set -e) when a job failed.
  jobs.forEach((job, i) => lines.push(`(\n${job}\n) &\njob${i}=$!`));
  jobs.forEach((_, i) => lines.push(`wait "$job${i}"`));
  lines.push(batch(inet, machines.map((m) => `link set wan-${m.id} addrgenmode none master br0 up`)));
  return lines.join('\n') + '\n';
}

interface LinkInfo {
  ifname: string;
  link_type: string;
  link_netnsid?: number;
  linkinfo?: { info_kind?: string };
}

/**
 * Every link of every namespace must be loopback, a bridge, or a veth whose peer is in one of
 * `namespaces` (or in the same namespace: the blackhole pair). A veth into any other namespace,
 * or a physical, tunnel or macvlan link, would be a way out.
 */
async function checkIsolation(namespaces: readonly string[]): Promise<void> {
  const ours = new Set(namespaces);
  const problems: string[] = [];
  await Promise.all(
    namespaces.map(async (ns) => {
      // One process: two commands, one JSON array per line.
      const out = await execFileInput('ip', ['-n', ns, '-j', '-d', '-b', '-'], 'link show\nnetns list-id\n');
      const [links, ids] = out.trim().split('\n');
      const nsById = new Map<number, string | undefined>(
        (JSON.parse(ids || '[]') as { nsid: number; name?: string }[]).map((e) => [e.nsid, e.name]),
      );
      for (const l of JSON.parse(links!) as LinkInfo[]) {
        const kind = l.link_type === 'loopback' ? 'loopback' : l.linkinfo?.info_kind;
        if (kind === 'loopback' || kind === 'bridge') continue;
        if (kind !== 'veth') {
          problems.push(`${ns}: link ${l.ifname} is a ${kind ?? l.link_type}, not a veth`);
          continue;
        }
        if (l.link_netnsid === undefined) continue; // peer in the same namespace
        const peerNs = nsById.get(l.link_netnsid);
        if (peerNs === undefined || !ours.has(peerNs)) {
          problems.push(`${ns}: veth ${l.ifname} leads to namespace ${peerNs ?? `#${l.link_netnsid} (unnamed)`}, not one of this topology`);
        }
      }
    }),
  );
  if (problems.length > 0) throw new Error(`network topology is not isolated:\n  ${problems.join('\n  ')}`);
}

/** Runs `cmd args` with `input` on stdin; resolves with its stdout. */
function execFileInput(cmd: string, args: readonly string[], input: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(cmd, args, { encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')}: ${err.message}\n${stderr}`));
      else resolve(stdout);
    });
    child.stdin?.end(input);
  });
}

/** Where iproute2 keeps the names of network namespaces (bind mounts of their nsfs files). */
const NETNS_DIR = '/var/run/netns';

/**
 * Kills every process inside `namespaces` (ours: started in them by a test) and deletes them.
 * Without spawning a process per namespace: a namespace's file has the inode that
 * /proc/<pid>/ns/net names.
 */
function removeNamespaces(namespaces: readonly string[]): void {
  const inodes = new Set<number>();
  for (const ns of namespaces) {
    try {
      inodes.add(statSync(path.join(NETNS_DIR, ns)).ino);
    } catch {
      // Not there (never made, or already deleted).
    }
  }
  if (inodes.size === 0) return;
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    let link: string;
    try {
      link = readlinkSync(`/proc/${pid}/ns/net`);
    } catch {
      continue; // gone, or a kernel thread
    }
    const ino = /^net:\[(\d+)\]$/.exec(link)?.[1];
    if (ino !== undefined && inodes.has(Number(ino))) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
  }
  spawnSync('ip', ['-b', '-'], { input: namespaces.map((ns) => `netns del ${ns}`).join('\n') + '\n', stdio: ['pipe', 'ignore', 'ignore'] });
}

/** Removes topologies left by a process that died without tearing down (killed outright). */
function sweepStale(): void {
  let names: string[];
  try {
    names = readdirSync(NETNS_DIR);
  } catch {
    return; // no namespace was ever named on this machine
  }
  const stale = names.filter((name) => {
    const m = /^wr(\d+)-\d+-[a-z]+$/.exec(name);
    return m !== null && !processAlive(Number(m[1]));
  });
  if (stale.length > 0) removeNamespaces(stale);
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
