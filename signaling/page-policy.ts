// The Content-Security-Policy of the main origin's pages (/ and /join), built per request because
// it names the task origin the page will frame. What each directive lets through, and why:
// - scripts: only this origin's files; 'unsafe-eval' because the demo's playground compiles the
//   program typed into it and webray's same-origin task workers (Blob-URL module workers, which
//   inherit this policy) compile shipped task code with `new Function`; no inline scripts;
// - workers: this origin and Blob URLs (webray.js inlines its workers as Blob URLs);
// - styles, fonts: this origin's files (no inline <style> or style attributes);
// - connections: anywhere (socket.io to this or another webray server, `fetch` from tasks run in
//   same-origin workers); WebRTC is not governed by CSP;
// - frames: the task origin only (the hidden task-runner iframe);
// - frame-ancestors 'none' (and X-Frame-Options for older browsers): no other page may frame these
//   pages, so a site cannot dress up `/join?…&autojoin=1` and have its visitors lend their tabs.
export function pageSecurityHeaders(taskOrigin: string): Record<string, string> {
  return {
    'Content-Security-Policy': [
      "default-src 'self'",
      "script-src 'self' 'unsafe-eval' blob:",
      "worker-src 'self' blob:",
      "style-src 'self'",
      "img-src 'self' data: blob:",
      "font-src 'self'",
      'connect-src * ws: wss: data: blob:',
      `frame-src ${taskOrigin}`,
      "object-src 'none'",
      "base-uri 'none'",
      "form-action 'none'",
      "frame-ancestors 'none'",
    ].join('; '),
    'X-Frame-Options': 'DENY',
    'Referrer-Policy': 'no-referrer',
  };
}
