// The hooks every NAT spec needs: skip without namespaces or coturn, build the topology with
// coturn and the webray server in it before the spec's tests, close each test's browsers after
// it, and tear everything down at the end.
import { test, type Browser } from '@playwright/test';
import { coturnUnavailable, startCoturn, startWebrayServer, type Coturn, type WebrayServerInNs } from './services.ts';
import { buildTopology, topologyUnavailable, type NatMode, type Topology } from './topology.ts';

export interface NatSuite {
  readonly topo: Topology;
  readonly coturn: Coturn;
  readonly server: WebrayServerInNs;
  /** Browsers the tests launch: closed after each test. */
  readonly browsers: Browser[];
}

/** Registers the spec's hooks; the returned suite's parts exist once `beforeAll` has run. */
export function natSuite(opts: { natA: NatMode; natB: NatMode; server?: (coturn: Coturn) => Parameters<typeof startWebrayServer>[1] }): NatSuite {
  const unavailable = topologyUnavailable() ?? coturnUnavailable();
  test.skip(unavailable !== undefined, `two machines behind NAT need network namespaces and coturn: ${unavailable}`);
  let topo: Topology | undefined;
  let coturn: Coturn | undefined;
  let server: WebrayServerInNs | undefined;
  const browsers: Browser[] = [];
  const closeBrowsers = () => Promise.all(browsers.splice(0).map((b) => b.close().catch(() => {})));

  test.beforeAll(async () => {
    const t0 = Date.now();
    topo = await buildTopology({ natA: opts.natA, natB: opts.natB });
    coturn = await startCoturn(topo);
    server = await startWebrayServer(topo, opts.server?.(coturn));
    test.info().annotations.push({ type: 'setup', description: `topology, coturn and server ready in ${Date.now() - t0} ms` });
  });
  test.afterEach(closeBrowsers);
  test.afterAll(async () => {
    await closeBrowsers();
    await Promise.all([coturn?.stop(), server?.stop()]);
    topo?.down();
  });

  const ready = <T>(x: T | undefined, what: string): T => {
    if (x === undefined) throw new Error(`the NAT suite's ${what} is not up (beforeAll failed or has not run)`);
    return x;
  };
  return {
    get topo() {
      return ready(topo, 'topology');
    },
    get coturn() {
      return ready(coturn, 'coturn');
    },
    get server() {
      return ready(server, 'webray server');
    },
    browsers,
  };
}
