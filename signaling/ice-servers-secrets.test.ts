// Configuration errors are printed at start (server.ts main → console): they never carry the
// static TURN password of WEBRAY_ICE_SERVERS.
import { describe, expect, it } from 'vitest';
import { iceConfigFromEnv } from './ice-servers.ts';

const PASSWORD = 'hunter2-static-turn-password';

function messageOf(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    return (e as Error).message;
  }
  return '(no error)';
}

describe('WEBRAY_ICE_SERVERS errors do not echo the credential', () => {
  it('a JSON typo next to the credential (unquoted)', () => {
    const msg = messageOf(() => iceConfigFromEnv({ WEBRAY_ICE_SERVERS: `[{"urls":"turn:t.example:3478","username":"webray","credential":${PASSWORD}}]` }));
    expect(msg).toMatch(/not JSON/);
    expect(msg).not.toContain('hunter2');
  });

  it('a credential over the length cap', () => {
    const long = PASSWORD + 'x'.repeat(600);
    const msg = messageOf(() => iceConfigFromEnv({ WEBRAY_ICE_SERVERS: JSON.stringify([{ urls: 'turn:t.example:3478', username: 'webray', credential: long }]) }));
    expect(msg).toMatch(/credential/);
    expect(msg).not.toContain('hunter2');
  });
});
