// The demo page's webray session: idle until the person starts a cluster (this tab becomes its
// coordinator) or local mode; panels read its state and are told when it changes.
import { loadWebray, type Webray } from './load-webray.ts';

export interface StartOptions {
  readonly numCpus: number;
  /** 1 offers this tab's GPU (the fallback adapter too, since it is asked for explicitly), 0 none. */
  readonly numGpus: number;
}

export interface ClusterStartOptions extends StartOptions {
  readonly cluster: string;
  readonly token: string;
}

export type SessionState =
  | { readonly kind: 'idle' }
  | { readonly kind: 'starting' }
  | { readonly kind: 'local'; readonly nodeId: string }
  | { readonly kind: 'cluster'; readonly nodeId: string; readonly cluster: string; readonly token: string; readonly address: string };

export class Session {
  private current: SessionState = { kind: 'idle' };
  private readonly listeners = new Set<(s: SessionState) => void>();
  private lib: Webray | undefined;

  get state(): SessionState {
    return this.current;
  }

  get running(): boolean {
    return this.current.kind === 'local' || this.current.kind === 'cluster';
  }

  /** The library while a session runs; throws a message for the person otherwise. */
  get ray(): Webray {
    if (!this.running || !this.lib) throw new Error('Start a cluster or local mode first (the Cluster section at the top of the page).');
    return this.lib;
  }

  onChange(cb: (s: SessionState) => void): void {
    this.listeners.add(cb);
  }

  /** This tab becomes the coordinator of a cluster on this page's own server. */
  async startCluster(o: ClusterStartOptions): Promise<void> {
    const address = location.origin;
    await this.start(async (ray) => {
      const info = await ray.init({ address, cluster: o.cluster, token: o.token, numCpus: o.numCpus, numGpus: o.numGpus });
      return { kind: 'cluster', nodeId: info.nodeId, cluster: o.cluster, token: o.token, address };
    });
  }

  /** This tab alone, no server needed. */
  async startLocal(o: StartOptions): Promise<void> {
    await this.start(async (ray) => {
      const info = await ray.init({ numCpus: o.numCpus, numGpus: o.numGpus });
      return { kind: 'local', nodeId: info.nodeId };
    });
  }

  async stop(): Promise<void> {
    if (!this.running || !this.lib) return;
    await this.lib.shutdown();
    this.set({ kind: 'idle' });
  }

  private async start(run: (ray: Webray) => Promise<SessionState>): Promise<void> {
    if (this.current.kind !== 'idle') throw new Error('A session is already running; stop it first.');
    this.set({ kind: 'starting' });
    try {
      this.lib ??= await loadWebray();
      this.set(await run(this.lib));
    } catch (e) {
      this.set({ kind: 'idle' });
      throw e;
    }
  }

  private set(s: SessionState): void {
    this.current = s;
    for (const cb of this.listeners) cb(s);
  }
}
