// Random cluster names and tokens for the start form, from crypto.getRandomValues (which, unlike
// crypto.randomUUID, also exists on pages that are not secure contexts).

const ALPHABET = 'abcdefghijkmnpqrstuvwxyz23456789'; // no l/1/o/0: easy to read aloud

export function randomString(length: number): string {
  const bytes = crypto.getRandomValues(new Uint8Array(length));
  let s = '';
  for (const b of bytes) s += ALPHABET[b % ALPHABET.length];
  return s;
}

export const randomClusterName = (): string => `lab-${randomString(5)}`;
export const randomToken = (): string => randomString(20);
