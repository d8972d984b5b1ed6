// Why a WebRTC link did not connect, in words a person can act on: the ICE state it reached, the
// candidate types each side gathered (host: a local address; srflx: the address a NAT gave it,
// learnt from STUN; relay: an address on a TURN server), the browser's own error, and what to
// change. Without it a failed link says only that it closed.

export type CandidateType = 'host' | 'srflx' | 'prflx' | 'relay';

export interface IceAttempt {
  /** RTCPeerConnection.iceConnectionState when it ended ('new' when no check ever ran). */
  readonly state: string;
  readonly local: ReadonlySet<CandidateType>;
  readonly remote: ReadonlySet<CandidateType>;
  /** The browser's error, when it gave one (e.g. InvalidAccessError for a TURN server without credentials). */
  readonly error?: string;
  readonly relayOnly: boolean;
  /** Whether any ICE server was configured at all. */
  readonly iceServers: boolean;
  readonly turnServers: boolean;
}

const TYP = /\btyp (host|srflx|prflx|relay)\b/g;

/** The candidate types in a signal (a trickled candidate, or an offer/answer's SDP). */
export function candidateTypes(signal: unknown): CandidateType[] {
  if (typeof signal !== 'object' || signal === null) return [];
  const s = signal as { candidate?: { candidate?: unknown }; sdp?: unknown };
  const text = typeof s.candidate?.candidate === 'string' ? s.candidate.candidate : typeof s.sdp === 'string' ? s.sdp : '';
  return [...text.matchAll(TYP)].map((m) => m[1] as CandidateType);
}

const list = (types: ReadonlySet<CandidateType>): string => (types.size === 0 ? 'none' : [...types].sort().join(', '));

/** One sentence on what happened, one on what to do. */
export function diagnoseIce(a: IceAttempt): string {
  const facts = `ICE state ${a.state}; candidates gathered here: ${list(a.local)}; from the other tab: ${list(a.remote)}`;
  const browser = a.error ? `; the browser said: ${a.error}` : '';
  return `${facts}${browser}. ${advice(a)}`;
}

function advice(a: IceAttempt): string {
  if (a.error && /SyntaxError|parsing failed|is not a valid (stun|turn)|Invalid (port|url|hostname)/i.test(a.error)) {
    return 'The browser refused an ICE server of the configuration: check each URL (stun:/turn:host:port, and for TURN only ?transport=udp or ?transport=tcp).';
  }
  if (a.error && /username|credential|InvalidAccessError/i.test(a.error)) {
    return 'A TURN server needs both username and credential: give them in rtcConfig.iceServers, or let the webray server mint them (TURN_URL, TURN_SECRET).';
  }
  if (a.relayOnly && !a.local.has('relay')) {
    return a.turnServers
      ? "iceTransportPolicy is 'relay' but no TURN server gave this tab a relay address: check the TURN URL, that its port is reachable, and the credentials."
      : "iceTransportPolicy is 'relay' but no TURN server is configured: add one to rtcConfig.iceServers (turn: URL, username, credential) or to the server (TURN_URL, TURN_SECRET).";
  }
  if (a.local.size === 0) {
    return 'This tab gathered no ICE candidate at all: the browser may have no usable network interface here (Firefox on a loopback-only network needs media.peerconnection.ice.loopback).';
  }
  if (a.remote.size === 0) return 'No candidate arrived from the other tab: it may have left, or its signals did not reach the server.';
  const direct = !a.local.has('relay') && !a.remote.has('relay');
  if (direct && (a.local.has('srflx') || a.remote.has('srflx'))) {
    return (
      'Both tabs learnt their public addresses from STUN, yet no connectivity check got through: NATs that map every destination to a new port (symmetric NAT, common on mobile and corporate networks) need a TURN relay — ' +
      (a.turnServers ? 'the TURN server configured gave no relay address; check it is reachable and its credentials.' : 'configure one in rtcConfig.iceServers or on the server (TURN_URL, TURN_SECRET).')
    );
  }
  if (direct && !a.iceServers) {
    return 'Only local addresses were tried and no ICE server is configured: tabs on different networks need STUN, and behind strict NATs TURN (rtcConfig.iceServers, or WEBRAY_ICE_SERVERS / TURN_URL on the server).';
  }
  return 'The network between the two tabs blocks the addresses both offered (a firewall dropping UDP?); a TURN server over TCP or TLS (turn:…?transport=tcp, turns:) gets through most firewalls.';
}
