/**
 * Credentials never reach a message or a log line: a `DATABASE_URL` (or `REDIS_URL`) that fails
 * to parse or to connect would otherwise print its password. No driver import: the config and
 * the logger use this too.
 */

/** `scheme://user:secret@host/...` anywhere in a text, up to the `@` that ends the credentials. */
const URL_CREDENTIALS = /\b([a-z][a-z0-9+.-]*:\/\/)([^\s/@:'"]*):([^\s@'"]*)@/gi;

/** The URL with its password (and a password-only userinfo) replaced by `***`; anything else as given. */
export function redactUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    // Not parseable (often why it is in a message at all): scrub it as text.
    return redactSecrets(url);
  }
  if (parsed.password === '') return url.includes('@') ? redactSecrets(url) : url;
  parsed.password = '***';
  // `password=` in the query string (libpq's form) is a secret too.
  if (parsed.searchParams.has('password')) parsed.searchParams.set('password', '***');
  return parsed.toString();
}

/** `text` with the credentials of every URL in it, and every `password=` parameter, replaced by `***`. */
export function redactSecrets(text: string): string {
  return text
    .replace(URL_CREDENTIALS, (_, scheme: string, user: string) => `${scheme}${user}:***@`)
    .replace(/\b(password=)[^\s&'"]*/gi, '$1***');
}
