// Placeholder so the build works until the runtime lands; the lead replaces this file.
export function isInitialized(): boolean { return false; }
