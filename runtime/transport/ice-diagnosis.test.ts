import { describe, expect, it } from 'vitest';
import { candidateTypes, diagnoseIce, type CandidateType, type IceAttempt } from './ice-diagnosis.ts';

const set = (...t: CandidateType[]): Set<CandidateType> => new Set(t);
const attempt = (a: Partial<IceAttempt>): IceAttempt => ({ state: 'checking', local: set('host'), remote: set('host'), relayOnly: false, iceServers: false, turnServers: false, ...a });

describe('candidateTypes', () => {
  it('reads the type of a trickled candidate and of every candidate in an SDP', () => {
    expect(candidateTypes({ type: 'candidate', candidate: { candidate: 'candidate:1 1 udp 1677729535 203.0.113.5 50123 typ srflx raddr 10.0.0.2 rport 50123', sdpMid: '0' } })).toEqual(['srflx']);
    expect(candidateTypes({ type: 'offer', sdp: 'v=0\r\na=candidate:1 1 udp 2122260223 10.0.0.2 5000 typ host\r\na=candidate:2 1 udp 41885439 192.0.2.10 60000 typ relay raddr 203.0.113.5\r\n' })).toEqual(['host', 'relay']);
    expect(candidateTypes({ type: 'candidate', candidate: { candidate: '' } })).toEqual([]);
    expect(candidateTypes('garbage')).toEqual([]);
    expect(candidateTypes({ candidate: { candidate: 42 } })).toEqual([]);
  });
});

describe('diagnoseIce: what failed and what to do', () => {
  it('says TURN is needed when both sides had STUN addresses and no check got through (symmetric NAT)', () => {
    const d = diagnoseIce(attempt({ local: set('host', 'srflx'), remote: set('host', 'srflx'), iceServers: true }));
    expect(d).toContain('ICE state checking; candidates gathered here: host, srflx; from the other tab: host, srflx');
    expect(d).toMatch(/symmetric NAT.*need a TURN relay.*TURN_URL/);
  });

  it('names the missing TURN credentials from the browser error', () => {
    const d = diagnoseIce(attempt({ state: 'new', local: set(), remote: set(), error: 'InvalidAccessError: Both username and credential are required when the URL scheme is "turn" or "turns".' }));
    expect(d).toContain('the browser said: InvalidAccessError');
    expect(d).toContain('needs both username and credential');
  });

  it("explains relay-only without a relay address, with and without a TURN server configured", () => {
    expect(diagnoseIce(attempt({ relayOnly: true, local: set(), iceServers: false }))).toContain('no TURN server is configured');
    expect(diagnoseIce(attempt({ relayOnly: true, local: set(), iceServers: true, turnServers: true }))).toContain('no TURN server gave this tab a relay address');
  });

  it('asks for ICE servers when only host candidates were tried and none is configured', () => {
    expect(diagnoseIce(attempt({}))).toContain('no ICE server is configured');
    expect(diagnoseIce(attempt({ local: set() }))).toContain('gathered no ICE candidate');
    expect(diagnoseIce(attempt({ remote: set() }))).toContain('No candidate arrived from the other tab');
  });
});
