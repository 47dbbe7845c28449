import { ConfigError } from '../config/yaml-file.js';

/**
 * A base URL may carry `user:password@` (a gateway or proxy behind HTTP Basic auth). fetch refuses to
 * send such a URL, and every message quoting the URL would print the password, so the credentials are
 * taken out here, at the provider boundary: the URL goes on without them, the credentials become an
 * `Authorization: Basic` header, and every form of them is handed to the redactor.
 */
export interface BasicCredentials {
  username: string;
  password: string;
}

export interface SplitBaseUrl {
  /** The base URL without user info: the only form that reaches the SDK, a message or a screen. */
  url: string;
  basic: BasicCredentials | undefined;
  /**
   * Every form in which the credentials could be echoed back: password and user:password as written
   * in the URL (percent-encoded) and decoded, and the Basic token.
   */
  secrets: string[];
}

export function splitBaseUrl(raw: string, setting: string): SplitBaseUrl {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    // The value is not quoted: it may hold a password the parser could not find the end of.
    throw new ConfigError(`${setting}: expected an http(s) URL such as https://host/v1`);
  }
  if (url.username === '' && url.password === '') return { url: raw, basic: undefined, secrets: [] };
  const encoded = { username: url.username, password: url.password };
  const basic = { username: decoded(url.username), password: decoded(url.password) };
  url.username = '';
  url.password = '';
  const userinfo = (c: BasicCredentials) => (c.password === '' ? c.username : `${c.username}:${c.password}`);
  // Without a password the user name is the credential (`https://TOKEN@host`).
  const secrets = [encoded.password, basic.password, userinfo(encoded), userinfo(basic), basicToken(basic)];
  return { url: url.toString(), basic, secrets: [...new Set(secrets.filter((s) => s !== ''))] };
}

/** The value of the Authorization header (RFC 7617): base64 of user:password, UTF-8. */
export function basicAuthorization(credentials: BasicCredentials): string {
  return `Basic ${basicToken(credentials)}`;
}

function basicToken({ username, password }: BasicCredentials): string {
  return Buffer.from(`${username}:${password}`, 'utf8').toString('base64');
}

/** URL user info is percent-encoded; the header carries the characters themselves. */
function decoded(component: string): string {
  try {
    return decodeURIComponent(component);
  } catch {
    return component;
  }
}
