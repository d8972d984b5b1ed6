// checkIceServers refuses what RTCPeerConnection throws on, at init/join and at the server's start
// (WEBRAY_ICE_SERVERS, TURN_URL), so that a mistake does not surface only at the first link. Each
// entry below was given to `new RTCPeerConnection({ iceServers: [entry] })` in headless Chromium
// 156 on 2026-12-07; the browser's error is quoted.
import { describe, expect, it } from 'vitest';
import { diagnoseIce } from '../transport/ice-diagnosis.ts';
import { checkIceServers } from './rtc-config.ts';

const browserThrows: [unknown, string][] = [
  [{ urls: 'turn:h.example:3478', username: '', credential: '' }, 'InvalidAccessError: TURN server with empty username or password'],
  [{ urls: 'turn:h.example:3478', username: 'u', credential: '' }, 'InvalidAccessError: TURN server with empty username or password'],
  [{ urls: 'stun:h.example:3478?transport=udp' }, "SyntaxError: 'stun:h.example:3478?transport=udp' is not a valid stun or turn URL."],
  [{ urls: 'stun:h.example:99999' }, 'SyntaxError: Invalid port'],
  [{ urls: 'turn:h.example:3478?transport=foo', username: 'u', credential: 'c' }, 'SyntaxError: Transport parameter should always be udp or tcp.'],
  [{ urls: 'stun:user@h.example' }, 'SyntaxError: Invalid url with long deprecated user@host syntax'],
  [{ urls: 'stun:h.example#frag' }, 'SyntaxError: Invalid hostname format'],
  [{ urls: 'stun://h.example:3478' }, 'SyntaxError: Invalid hostname format'],
  [{ urls: 'turn:h.example?foo=bar', username: 'u', credential: 'c' }, "SyntaxError: 'turn:h.example?foo=bar' is not a valid stun or turn URL."],
];

describe('checkIceServers refuses what the browser throws on', () => {
  for (const [entry, browser] of browserThrows) {
    it(`refuses ${JSON.stringify(entry)} (Chromium: ${browser})`, () => {
      expect(() => checkIceServers([entry], 'rtcConfig.iceServers')).toThrow(TypeError);
    });
  }

  it('accepts an upper-case scheme the browser accepts (Chromium: OK for STUN:h.example)', () => {
    expect(() => checkIceServers([{ urls: 'STUN:h.example' }], 'rtcConfig.iceServers')).not.toThrow();
  });
});

describe('the advice for a link whose RTCPeerConnection could not be constructed', () => {
  it('blames the ICE server URL, not the network, when the browser threw SyntaxError', () => {
    const why = diagnoseIce({
      state: 'new',
      local: new Set(),
      remote: new Set(),
      error: "SyntaxError: Failed to construct 'RTCPeerConnection': ICE server parsing failed: Invalid port",
      relayOnly: false,
      iceServers: true,
      turnServers: false,
    });
    expect(why).not.toMatch(/no usable network interface/);
    expect(why).toMatch(/URL|iceServers/);
  });
});
