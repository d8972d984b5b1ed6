import { describe, expect, it } from 'vitest';
import { checkIceServers, checkRtcConfig, rtcConfigFromOptions } from './rtc-config.ts';

describe('checkIceServers: what RTCPeerConnection would take, or a clear error', () => {
  it('takes STUN and TURN entries as RTCIceServer, copying only their fields', () => {
    expect(
      checkIceServers(
        [{ urls: 'stun:stun.example.org:3478' }, { urls: ['turn:turn.example.org:3478?transport=udp', 'turns:turn.example.org:5349'], username: 'u', credential: 'c' }],
        'iceServers',
      ),
    ).toEqual([{ urls: 'stun:stun.example.org:3478' }, { urls: ['turn:turn.example.org:3478?transport=udp', 'turns:turn.example.org:5349'], username: 'u', credential: 'c' }]);
  });

  it.each([
    [{ urls: 'stun:a' }, 'must be an array'],
    [['stun:a'], 'is a bare string "stun:a"; write { urls: "stun:a" }'],
    [[{ url: 'stun:a' }], 'has "url", the old name: write "urls"'],
    [[{ urls: 'stun:a', foo: 1 }], 'unknown field "foo"'],
    [[{}], 'has no urls'],
    [[{ urls: [] }], 'must be a URL or an array of 1 to 16 URLs'],
    [[{ urls: 'http://stun.example.org' }], 'with scheme stun:, stuns:, turn: or turns:'],
    [[{ urls: 'turn:turn.example.org' }], 'TURN server (turn:turn.example.org) without username'],
    [[{ urls: 'turns:t', username: 'u' }], 'without credential'],
    [[{ urls: 'stun:a', username: 7 }], 'username must be a string'],
    [Array.from({ length: 17 }, () => ({ urls: 'stun:a' })), 'at most 16'],
  ])('refuses %j: %s', (input, message) => {
    expect(() => checkIceServers(input, 'ray.init: iceServers')).toThrow(message);
    expect(() => checkIceServers(input, 'ray.init: iceServers')).toThrow(/^ray\.init: iceServers/);
  });
});

describe('checkRtcConfig and rtcConfigFromOptions', () => {
  it('passes on the fields webray knows, checked', () => {
    expect(checkRtcConfig({ iceTransportPolicy: 'relay', iceCandidatePoolSize: 2, bundlePolicy: 'max-bundle', iceServers: [] }, 'rtcConfig')).toEqual({
      iceTransportPolicy: 'relay',
      iceCandidatePoolSize: 2,
      bundlePolicy: 'max-bundle',
      iceServers: [],
    });
  });

  it.each([
    [[], 'must be an object'],
    [{ iceTransportPolicy: 'none' }, "iceTransportPolicy must be 'all' or 'relay'"],
    [{ iceCandidatePoolSize: 1.5 }, 'iceCandidatePoolSize must be a whole number from 0 to 255'],
    [{ bundlePolicy: 'x' }, 'bundlePolicy must be'],
    [{ certificates: [] }, 'unknown field "certificates"; webray passes on iceServers, iceTransportPolicy'],
    [{ iceServers: [{ urls: 'turn:t' }] }, 'rtcConfig.iceServers[0] is a TURN server'],
  ])('refuses %j: %s', (input, message) => {
    expect(() => checkRtcConfig(input, 'rtcConfig')).toThrow(message);
  });

  it('takes iceServers as a shorthand for rtcConfig.iceServers, but not both', () => {
    expect(rtcConfigFromOptions(undefined, undefined, 'ray.join')).toBeUndefined();
    expect(rtcConfigFromOptions({ iceTransportPolicy: 'relay' }, [{ urls: 'stun:a' }], 'ray.join')).toEqual({ iceTransportPolicy: 'relay', iceServers: [{ urls: 'stun:a' }] });
    expect(() => rtcConfigFromOptions({ iceServers: [] }, [], 'ray.join')).toThrow('ray.join: iceServers is a shorthand for rtcConfig.iceServers');
  });
});
