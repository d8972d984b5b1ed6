import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { checkIceConfig, iceConfigFromEnv, iceServersFor, mintTurnCredentials } from './ice-servers.ts';

const SECRET = 'a-long-shared-secret-for-coturn';

describe('TURN credentials as coturn use-auth-secret checks them', () => {
  it('mints "<expiry>:webray" and base64(HMAC-SHA1(secret, username)), valid for the TTL', () => {
    const now = Date.UTC(2026, 11, 7, 12, 0, 0);
    const { username, credential } = mintTurnCredentials({ urls: ['turn:t:3478'], secret: SECRET, ttlSeconds: 3600 }, now);
    expect(username).toBe(`${now / 1000 + 3600}:webray`);
    // coturn computes the same: base64(hmac-sha1(static-auth-secret, username))
    expect(credential).toBe(createHmac('sha1', SECRET).update(username).digest('base64'));
    expect(Buffer.from(credential, 'base64')).toHaveLength(20);
  });

  it('advertises the fixed servers and a freshly minted TURN entry', () => {
    const config = checkIceConfig([{ urls: 'stun:stun.example.org:3478' }], { urls: ['turn:turn.example.org:3478'], secret: SECRET });
    const [stun, turn] = iceServersFor(config, 1_000_000);
    expect(stun).toEqual({ urls: 'stun:stun.example.org:3478' });
    expect(turn).toMatchObject({ urls: ['turn:turn.example.org:3478'], username: `${1000 + 86_400}:webray` });
    expect(iceServersFor(checkIceConfig(undefined, undefined), 0)).toEqual([]);
  });
});

describe('iceConfigFromEnv: the settings, or an error naming the one that is wrong', () => {
  it('reads WEBRAY_ICE_SERVERS, TURN_URL (comma-separated), TURN_SECRET and TURN_TTL', () => {
    const c = iceConfigFromEnv({ WEBRAY_ICE_SERVERS: '[{"urls":"stun:s:3478"}]', TURN_URL: 'turn:t:3478?transport=udp, turns:t:5349', TURN_SECRET: SECRET, TURN_TTL: '600' });
    expect(c).toEqual({ fixed: [{ urls: 'stun:s:3478' }], turn: { urls: ['turn:t:3478?transport=udp', 'turns:t:5349'], secret: SECRET, ttlSeconds: 600 } });
    expect(iceConfigFromEnv({})).toEqual({ fixed: [] });
  });

  it.each([
    [{ WEBRAY_ICE_SERVERS: '[{urls:' }, 'WEBRAY_ICE_SERVERS is not JSON'],
    [{ WEBRAY_ICE_SERVERS: '[{"url":"stun:s"}]' }, 'iceServers (WEBRAY_ICE_SERVERS)[0] has "url", the old name'],
    [{ TURN_URL: 'turn:t' }, 'TURN_URL and TURN_SECRET go together'],
    [{ TURN_URL: 'stun:t', TURN_SECRET: SECRET }, 'not a turn: or turns: URL'],
    [{ TURN_URL: 'turn:t', TURN_SECRET: 'short' }, 'TURN_SECRET must be at least 16 characters'],
    [{ TURN_URL: 'turn:t', TURN_SECRET: SECRET, TURN_TTL: '5' }, 'TURN_TTL must be a whole number of seconds from 60'],
    // Chromium: "Transport parameter should always be udp or tcp": every link of every page would fail.
    [{ TURN_URL: 'turns:turn.example.org:5349?transport=tls', TURN_SECRET: SECRET }, 'only ?transport=udp or ?transport=tcp'],
  ])('refuses %j: %s', (env, message) => {
    expect(() => iceConfigFromEnv(env)).toThrow(message);
  });
});
