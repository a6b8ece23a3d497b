// Ports containerd 1.6 remotes/docker/auth/parse.go: the challenges of WWW-Authenticate headers
// (RFC 7235 auth-scheme with auth-params), strongest scheme first: Bearer, then Digest, then Basic.

export type AuthenticationScheme = "basic" | "digest" | "bearer";

/** One challenge: the scheme and its parameters, names lower-cased (realm, service, scope, error…). */
export interface Challenge {
  scheme: AuthenticationScheme;
  parameters: Record<string, string>;
}

const rank: Record<AuthenticationScheme, number> = { bearer: 0, digest: 1, basic: 2 };

// RFC 2616 token characters: any CHAR except CTLs and separators.
const separators = ' \t"(),/:;<=>?@[]\\{}';
const isToken = (c: number) => c > 31 && c < 127 && !separators.includes(String.fromCharCode(c));
const isSpace = (c: number) => c === 0x20 || c === 0x09 || c === 0x0d || c === 0x0a;

function skipSpace(s: string): string {
  let i = 0;
  while (i < s.length && isSpace(s.charCodeAt(i))) i++;
  return s.slice(i);
}

function expectToken(s: string): [string, string] {
  let i = 0;
  while (i < s.length && isToken(s.charCodeAt(i))) i++;
  return [s.slice(0, i), s.slice(i)];
}

/** A token or a quoted string with backslash escapes; ["", ""] when a quote is not closed. */
function expectTokenOrQuoted(s: string): [string, string] {
  if (!s.startsWith('"')) return expectToken(s);
  let out = "";
  for (let i = 1; i < s.length; i++) {
    const ch = s[i] as string;
    if (ch === '"') return [out, s.slice(i + 1)];
    if (ch === "\\") {
      i++;
      if (i >= s.length) break;
      out += s[i];
    } else {
      out += ch;
    }
  }
  return ["", ""];
}

function parseValueAndParams(header: string): [string, Record<string, string>] {
  const params: Record<string, string> = {};
  let [value, s] = expectToken(header);
  if (value === "") return [value, params];
  value = value.toLowerCase();
  for (;;) {
    let key: string;
    [key, s] = expectToken(skipSpace(s));
    if (key === "" || !s.startsWith("=")) return [value, params];
    let v: string;
    [v, s] = expectTokenOrQuoted(s.slice(1));
    params[key.toLowerCase()] = v;
    s = skipSpace(s);
    if (!s.startsWith(",")) return [value, params];
    s = s.slice(1);
  }
}

/** ParseAuthHeader: one challenge per WWW-Authenticate value whose scheme is known, strongest first. */
export function parseAuthHeader(values: readonly string[]): Challenge[] {
  const challenges: Challenge[] = [];
  for (const h of values) {
    const [scheme, parameters] = parseValueAndParams(h);
    if (scheme === "basic" || scheme === "digest" || scheme === "bearer")
      challenges.push({ scheme, parameters });
  }
  return challenges.sort((a, b) => rank[a.scheme] - rank[b.scheme]);
}
