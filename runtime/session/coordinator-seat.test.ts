import { afterEach, describe, expect, it, vi } from 'vitest';
import { loadCoordinatorSecret, saveCoordinatorSecret } from './coordinator-seat.ts';

/** A Map-backed Storage, as sessionStorage is in a tab. */
function memoryStorage(): Storage {
  const m = new Map<string, string>();
  return {
    get length() {
      return m.size;
    },
    clear: () => m.clear(),
    getItem: (k) => m.get(k) ?? null,
    key: (i) => [...m.keys()][i] ?? null,
    removeItem: (k) => void m.delete(k),
    setItem: (k, v) => void m.set(k, v),
  };
}

afterEach(() => {
  vi.unstubAllGlobals();
});

describe('coordinator seat', () => {
  it('keeps the secret per server and cluster name in sessionStorage', () => {
    vi.stubGlobal('sessionStorage', memoryStorage());
    expect(loadCoordinatorSecret('http://127.0.0.1:8080', 'lab')).toBeUndefined();
    saveCoordinatorSecret('http://127.0.0.1:8080', 'lab', 'secret-a');
    saveCoordinatorSecret('http://127.0.0.1:8080', 'other', 'secret-b');
    expect(loadCoordinatorSecret('http://127.0.0.1:8080', 'lab')).toBe('secret-a');
    expect(loadCoordinatorSecret('http://127.0.0.1:8080', 'other')).toBe('secret-b');
    expect(loadCoordinatorSecret('http://localhost:8080', 'lab')).toBeUndefined();
  });

  it('does without storage: none at all, or one that throws', () => {
    expect(loadCoordinatorSecret('a', 'lab')).toBeUndefined();
    saveCoordinatorSecret('a', 'lab', 's'); // no throw
    const denied = memoryStorage();
    denied.getItem = () => {
      throw new Error('SecurityError');
    };
    denied.setItem = () => {
      throw new Error('QuotaExceededError');
    };
    vi.stubGlobal('sessionStorage', denied);
    saveCoordinatorSecret('a', 'lab', 's');
    expect(loadCoordinatorSecret('a', 'lab')).toBeUndefined();
  });
});
