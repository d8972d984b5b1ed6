// Baselines for cluster mode: raw RTCDataChannels between pages of this browser, the least a
// webray link can cost. Page 0 (this one, the coordinator in webray-cluster) ↔ page 1 (volunteer
// A): small-message round trips, one at a time and many in flight. Page 1 → page 2 (volunteers A
// and B): bulk throughput of random bytes in 256 KiB messages under bufferedAmount backpressure.
// The connections are built directly (RTCPeerConnection, one ordered channel, as simple-peer
// opens in webray), with the SDP (ICE candidates inside, gathered before it is handed over)
// carried by Playwright: no signaling server. webray-cluster runs its rows on the same pages.
(() => {
  /** Largest data-channel message (docs/browser-facts.md: Chromium's SCTP max message size). */
  const MESSAGE_BYTES = 256 * 1024;
  /** Stop sending while this much is queued (the queue overflows near 16 MiB). */
  const HIGH_WATER_BYTES = 8 * 1024 * 1024;
  /** Resume when the queue has drained to this (the `bufferedamountlow` threshold). */
  const LOW_WATER_BYTES = 1024 * 1024;
  const PING_BYTES = 16;
  const OPEN_TIMEOUT_MS = 15_000;

  function timeout(ms, what) {
    return new Promise((_, reject) => setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms));
  }

  async function gathered(pc) {
    if (pc.iceGatheringState !== 'complete') {
      await Promise.race([
        new Promise((resolve) => {
          pc.addEventListener('icegatheringstatechange', () => pc.iceGatheringState === 'complete' && resolve());
        }),
        timeout(OPEN_TIMEOUT_MS, 'ICE gathering'),
      ]);
    }
    return pc.localDescription.toJSON();
  }

  function opened(ch) {
    if (ch.readyState === 'open') return Promise.resolve();
    return Promise.race([
      new Promise((resolve, reject) => {
        ch.addEventListener('open', () => resolve(), { once: true });
        ch.addEventListener('close', () => reject(new Error('data channel closed before opening')), { once: true });
      }),
      timeout(OPEN_TIMEOUT_MS, 'data channel open'),
    ]);
  }

  /** One end of a link, kept in `links` under `key`; `role` says what it does with messages. */
  function endpoint(links, key) {
    const pc = new RTCPeerConnection({ iceServers: [] });
    const link = { pc, ch: null, channel: null };
    link.channel = new Promise((resolve) => {
      link.setChannel = (ch) => {
        ch.binaryType = 'arraybuffer';
        ch.bufferedAmountLowThreshold = LOW_WATER_BYTES;
        link.ch = ch;
        resolve(ch);
      };
    });
    links.set(key, link);
    return link;
  }

  async function offer(links, key) {
    const link = endpoint(links, key);
    link.setChannel(link.pc.createDataChannel('bench', { ordered: true }));
    await link.pc.setLocalDescription(await link.pc.createOffer());
    return gathered(link.pc);
  }

  async function answer(links, key, remote) {
    const link = endpoint(links, key);
    link.pc.addEventListener('datachannel', (e) => link.setChannel(e.channel), { once: true });
    await link.pc.setRemoteDescription(remote);
    await link.pc.setLocalDescription(await link.pc.createAnswer());
    return gathered(link.pc);
  }

  async function accept(links, key, remote) {
    await links.get(key).pc.setRemoteDescription(remote);
  }

  /** Waits for the channel to open, then gives it its role. */
  async function ready(links, key, role) {
    const link = links.get(key);
    const ch = await Promise.race([link.channel, timeout(OPEN_TIMEOUT_MS, 'data channel')]);
    await opened(ch);
    if (role === 'echo') {
      ch.onmessage = (e) => ch.send(e.data);
    } else if (role === 'sink') {
      // Counts the bytes of a transfer announced by `start:<bytes>`, says `done` when all came.
      let expected = 0;
      let received = 0;
      ch.onmessage = (e) => {
        if (typeof e.data === 'string') {
          expected = Number(e.data.slice('start:'.length));
          received = 0;
          return;
        }
        received += e.data.byteLength;
        if (received === expected) ch.send(`done:${received}`);
      };
    } else if (role === 'source') {
      ch.onmessage = (e) => link.onReply?.(e.data);
    }
  }

  /** Random bytes (crypto.getRandomValues fills at most 64 KiB a call): nothing compresses. */
  function randomBytes(n) {
    const bytes = new Uint8Array(n);
    for (let o = 0; o < n; o += 65536) crypto.getRandomValues(bytes.subarray(o, Math.min(n, o + 65536)));
    return bytes;
  }

  /** Sends `bytes` bytes as 256 KiB messages with backpressure; resolves when the sink has all. */
  async function blast(link, data, bytes) {
    const { ch } = link;
    const done = new Promise((resolve) => {
      link.onReply = resolve;
    });
    const t0 = performance.now();
    ch.send(`start:${bytes}`);
    let offset = 0;
    while (offset < bytes) {
      while (offset < bytes && ch.bufferedAmount < HIGH_WATER_BYTES) {
        const end = Math.min(bytes, offset + MESSAGE_BYTES);
        ch.send(data.subarray(offset, end));
        offset = end;
      }
      if (offset < bytes) await new Promise((resolve) => ch.addEventListener('bufferedamountlow', resolve, { once: true }));
    }
    const reply = await Promise.race([done, timeout(120_000, 'raw transfer')]);
    if (reply !== `done:${bytes}`) throw new Error(`sink answered ${reply}`);
    return { timedMs: performance.now() - t0 };
  }

  function close(links) {
    for (const { pc } of links.values()) pc.close();
    links.clear();
  }

  const linksOf = (state) => (state.links ??= new Map());

  webrayBench.group({
    name: 'raw-datachannel',
    description: 'raw RTCDataChannels between pages of this browser: ping, messages in flight, 256 KiB-message throughput',
    pages: 3,
    pageHelpers: {
      offer: (state, { key }) => offer(linksOf(state), key),
      answer: (state, { key, sdp }) => answer(linksOf(state), key, sdp),
      accept: (state, { key, sdp }) => accept(linksOf(state), key, sdp),
      ready: (state, { key, role }) => ready(linksOf(state), key, role),
      prepareBlast: (state, { bytes }) => {
        if (state.data?.length !== bytes) state.data = randomBytes(bytes);
      },
      blast: (state, { key, bytes }) => blast(linksOf(state).get(key), state.data, bytes),
      close: (state) => {
        close(linksOf(state));
        state.data = undefined;
      },
    },

    async setup() {
      if (typeof RTCPeerConnection === 'undefined') throw new Error('no RTCPeerConnection in this browser');
      const links = new Map();
      // Page 0 ↔ page 1: this page offers, page 1 answers and echoes.
      const sdp01 = await offer(links, 'ping');
      const answer01 = await webrayBench.onPage(1, 'raw-datachannel', 'answer', { key: 'ping', sdp: sdp01 });
      await accept(links, 'ping', answer01);
      await Promise.all([ready(links, 'ping', 'source'), webrayBench.onPage(1, 'raw-datachannel', 'ready', { key: 'ping', role: 'echo' })]);
      // Page 1 → page 2: page 1 offers and sends, page 2 answers and counts.
      const sdp12 = await webrayBench.onPage(1, 'raw-datachannel', 'offer', { key: 'bulk' });
      const answer12 = await webrayBench.onPage(2, 'raw-datachannel', 'answer', { key: 'bulk', sdp: sdp12 });
      await webrayBench.onPage(1, 'raw-datachannel', 'accept', { key: 'bulk', sdp: answer12 });
      await Promise.all([
        webrayBench.onPage(1, 'raw-datachannel', 'ready', { key: 'bulk', role: 'source' }),
        webrayBench.onPage(2, 'raw-datachannel', 'ready', { key: 'bulk', role: 'sink' }),
      ]);
      return { links, ping: links.get('ping') };
    },

    async teardown({ links }) {
      close(links);
      await Promise.all([webrayBench.onPage(1, 'raw-datachannel', 'close'), webrayBench.onPage(2, 'raw-datachannel', 'close')]);
    },

    benchmarks: [
      {
        name: 'raw_datachannel_ping',
        description: `page 0 → page 1 → page 0: a ${PING_BYTES}-byte message echoed, one at a time`,
        prepare: ({ ping }) => {
          const msg = new Uint8Array(PING_BYTES);
          return () =>
            new Promise((resolve) => {
              ping.onReply = resolve;
              ping.ch.send(msg);
            });
        },
      },
      {
        name: 'raw_datachannel_msgs_async',
        description: `page 0 → page 1 → page 0: a batch of ${PING_BYTES}-byte messages sent, then all echoes awaited`,
        multiplier: (ctx) => ctx.batch,
        prepare: ({ ping }, ctx) => {
          const msg = new Uint8Array(PING_BYTES);
          return () =>
            new Promise((resolve) => {
              let left = ctx.batch;
              ping.onReply = () => {
                if (--left === 0) resolve();
              };
              for (let i = 0; i < ctx.batch; i++) ping.ch.send(msg);
            });
        },
      },
      {
        name: 'raw_datachannel_throughput',
        unit: 'MB/s',
        description:
          'page 1 → page 2: 64 MiB of random bytes as 256 KiB messages, bufferedAmount kept under 8 MiB ' +
          '(resumed at bufferedamountlow, 1 MiB), timed from the first send to the receiver saying it has all; MB = 10^6 bytes',
        multiplier: (ctx) => ctx.transferBytes / 1e6,
        selfTimed: true,
        timeoutMs: 180_000,
        prepare: async (_state, ctx) => {
          await webrayBench.onPage(1, 'raw-datachannel', 'prepareBlast', { bytes: ctx.transferBytes });
          return () => webrayBench.onPage(1, 'raw-datachannel', 'blast', { key: 'bulk', bytes: ctx.transferBytes });
        },
      },
    ],
  });
})();
